"""督办台账 — what the 专班 follow up: since the last meeting, every open item, reporting compliance."""

from datetime import date
from functools import partial

import pandas as pd
import streamlit as st

from data_access import cache
from data_access.desks.ledger import StaleItem, add_meeting, sync_ledger, update_item
from data_access.figures.compliance import COMPLIANCE_STATUSES, compliance_view
from data_access.figures.ledger import (
    ITEM_KINDS,
    ITEM_STATUSES,
    group_summary,
    group_table,
    item_history,
    ledger_view,
    meetings,
    since_meeting_view,
)
from data_access.figures.overview import data_as_of
from data_access.figures.readiness import missing
from data_access.packs.meeting import meeting_pack
from data_access.query.filters import Filters
from data_access.query.text import XLSX_MIME
from data_access.reference.seeds import TASK_GROUPS
from data_access.trust.auth import DESK_ROLES, AccessDenied, Principal
from pages.common import tables, ui
from pages.common.ledger_charts import compliance_figure

GROUPS = {code: name for code, name, _ in TASK_GROUPS}


def _group_label(group: str) -> str:
    return GROUPS.get(group, "全部专班")


def _meeting_label(past_meetings: pd.DataFrame, held_on: date | None) -> str:
    if held_on is None:
        return "暂无会议记录"
    return f"{held_on:%Y-%m-%d} " + past_meetings.loc[past_meetings.held_on == held_on, "title"].iloc[0]


def _scope(past_meetings: pd.DataFrame, as_of: date) -> tuple[str | None, list[str], date | None]:
    """专班, sources and the meeting to compare with, kept in the URL; returns (group, kinds, since)."""
    group_param = st.query_params.get("group", "")
    st.session_state.setdefault("ledger_group", group_param if group_param in GROUPS else "")
    kinds_param = [k for k in str(st.query_params.get("lk", "")).split(",") if k in ITEM_KINDS]
    st.session_state.setdefault("ledger_kinds", kinds_param)
    held = [d for d in past_meetings.held_on if d <= as_of]
    since_param = st.query_params.get("since", "")
    st.session_state.setdefault(
        "ledger_since", next((d for d in held if d.isoformat() == since_param), held[0] if held else None)
    )

    c = st.columns([3, 3, 3])
    group = c[0].selectbox("责任专班", ["", *GROUPS], format_func=_group_label, key="ledger_group") or None
    kinds = c[1].multiselect(
        "来源", list(ITEM_KINDS), format_func=ITEM_KINDS.get, key="ledger_kinds", placeholder="全部来源"
    )
    since = c[2].selectbox(
        "对比的联席会议", held or [None], key="ledger_since", format_func=partial(_meeting_label, past_meetings)
    )
    for key, value in (("group", group or ""), ("lk", ",".join(kinds)), ("since", since.isoformat() if since else "")):
        if value and st.query_params.get(key) != value:
            st.query_params[key] = value
        elif not value and key in st.query_params:
            del st.query_params[key]
    return group, kinds, since


# What feeds the ledger, by the readiness item it needs (a bare string here would be drawn: page magic).
LEDGER_SOURCES = {
    "units": "规则评价与报送情况（单位名录）",
    "prices": "滞销预警（价格监测序列）",
    "outlets": "网点退出候选（网点名录）",
}


def _sources(as_of: date) -> bool:
    """Say which sources of the ledger have no data; True when none has any (nothing to judge)."""
    gaps = cache.query(missing, as_of.year)
    absent = [label for key, label in LEDGER_SOURCES.items() if gaps[key]]
    if len(absent) == len(LEDGER_SOURCES):
        ui.no_data(
            "台账事项来自规则评价、报送情况、滞销预警与网点退出候选，这些来源都还没有数据；“0 项逾期”不代表已办结。",
            (("registers", "units"), ("registers", "outlets")),
        )
        return True
    if absent:
        st.caption("暂无数据的来源（其事项不会列入台账）：" + "、".join(absent))
    return False


def _kpis(items: pd.DataFrame, changed: dict | None, since: date | None, as_of: date, empty: bool) -> None:
    m = st.columns(4)
    none = empty and items.empty  # nothing feeds the ledger: no count reads as a judgement
    m[0].metric(
        "在办事项", "暂无数据" if none else len(items), help=f"截至 {as_of:%Y-%m-%d}（数据日期）未办结的台账事项"
    )
    m[1].metric("逾期未办结", "暂无数据" if none else int(items.overdue.sum()), help="超过办结时限仍未办结")
    if changed is not None:
        m[2].metric("会后新增", len(changed["new"]), help=f"{since:%Y-%m-%d} 联席会议之后列入（含重新列入）台账")
        m[3].metric("会后办结", len(changed["closed"]), help="专班办结或来源已消除（自动销号）")


def _meeting_pack(since: date | None, as_of: date, group: str | None, kinds: list[str]) -> None:
    scope = GROUPS.get(group, "全部专班")
    st.download_button(
        "导出会议材料（XLSX）",
        tables.audited(
            partial(cache.run, meeting_pack, since, as_of, group, tuple(kinds)),
            f"督办台账_{scope}_{as_of:%Y%m%d}.xlsx",
            None,
            f"会议材料：{scope}；截至 {as_of:%Y-%m-%d}；对比 {since or '无'}；{'、'.join(kinds)}",
        ),
        file_name=f"督办台账_{scope}_{as_of:%Y%m%d}.xlsx",
        mime=XLSX_MIME,
        icon=":material/download:",
        key="ledger_pack",
        on_click="ignore",
    )


def _since_meeting(changed: dict | None, by_group: pd.DataFrame | None, since: date | None, as_of: date) -> None:
    """What changed since the last joint meeting: the talking points, by 专班, and each list."""
    if changed is None:
        st.info("还没有登记联席会议。在「联席会议」页登记后，这里显示会后的变化。")
        return
    st.caption(f"上次联席会议：{since:%Y年%m月%d日}；统计至 {as_of:%Y年%m月%d日}")
    overdue = changed["overdue"]
    if len(overdue):
        worst = overdue.sort_values("days_overdue", ascending=False).iloc[0]
        st.warning(
            f"**上会要点**：逾期未办结 {len(overdue)} 项（其中会后到期 {int(overdue.newly_overdue.sum())} 项），"
            f"会后新增 {len(changed['new'])} 项、办结 {len(changed['closed'])} 项。"
            f"逾期最久：**{worst.title}**（{worst.owner_name}，逾期 {worst.days_overdue} 天）。",
            icon=":material/campaign:",
        )
    if by_group is not None:
        st.markdown("**按专班** — 每个专班在办、逾期与会后变化；在上方「责任专班」中选一个专班即只看该专班")
        st.dataframe(group_table(by_group), hide_index=True, width="stretch")
    for key, label, hint in (
        ("overdue", "逾期事项", "超过办结时限仍未办结；「会后到期」为上次会议后才到期的"),
        ("new", "新增事项", "会后新列入或重新列入台账"),
        ("closed", "已办结", "会后专班办结或来源已消除"),
        ("progress", "有进展", "会后专班有办理记录、尚未办结"),
    ):
        frame = changed[key]
        st.markdown(f"**{label}（{len(frame)}）** — {hint}")
        if frame.empty:
            st.caption("无")
            continue
        shown = changed[f"{key}_table"]
        st.dataframe(shown, hide_index=True, width="stretch", height=min(38 + 35 * len(shown), 320))
        tables.download_buttons(shown, f"督办台账_{label}_{as_of:%Y%m%d}", key=f"ledger_{key}")


def _item_form(item, as_of: date) -> None:
    """A desk's action on one item: status, 专班, due date and a note."""
    with st.form(f"act_{item.id}"):
        f1, f2, f3 = st.columns(3)
        status = f1.selectbox(
            "状态", list(ITEM_STATUSES), index=list(ITEM_STATUSES).index(item.status), format_func=ITEM_STATUSES.get
        )
        owner = f2.selectbox(
            "责任专班", list(GROUPS), index=list(GROUPS).index(item.owner_group), format_func=GROUPS.get
        )
        due = f3.date_input("办结时限", value=item.due_date)
        note = st.text_input("督办备注", max_chars=500)
        if st.form_submit_button("保存", type="primary"):
            try:
                cache.act(
                    update_item,
                    int(item.id),
                    int(item.version),
                    as_of,
                    status=status,
                    note=note.strip() or None,
                    owner_group=owner,
                    due_date=due,
                )
            except StaleItem as exc:
                st.warning(str(exc))
            except ValueError as exc:
                st.warning(str(exc))
            except AccessDenied as exc:
                st.error(str(exc))
            else:
                st.rerun()


def _open_items(view: dict, as_of: date, principal: Principal) -> None:
    """Every open item; a picked row shows its history and, for desks, the action form."""
    items = view["items"]
    listing = view["table"]
    picked = st.dataframe(
        listing, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="ledger_listing"
    )
    tables.download_buttons(listing, f"督办台账_在办_{as_of:%Y%m%d}", key="ledger_open")
    rows = picked.selection.rows if picked else []
    if not rows:
        st.caption("选中一行查看督办记录并办理。")
        return
    item = items.iloc[rows[0]]
    st.subheader(f"#{item.id} {item.title}")
    st.caption(
        f"{item.kind_label} ｜ 责任专班：{item.owner_name} ｜ 办结时限：{item.due_date:%Y-%m-%d} ｜ "
        f"状态：{item.status_label}" + (f" ｜ 逾期 {item.days_overdue} 天" if item.overdue else "")
    )
    st.write(item.detail or "")
    history = cache.run(item_history, int(item.id))
    st.dataframe(
        history.rename(
            columns={"at": "记录时间", "on_date": "业务日期", "actor": "办理人", "action_label": "动作", "note": "说明"}
        )[["业务日期", "记录时间", "办理人", "动作", "说明"]],
        hide_index=True,
        width="stretch",
    )
    if principal.role in DESK_ROLES:
        _item_form(item, as_of)
    else:
        st.caption(f"当前角色「{principal.role_label}」只读；专班与管理员可办理。")


def _reports(as_of: date) -> None:
    """Reporting compliance of the year: per jurisdiction and period, then unit by unit."""
    year_window = Filters(start=date(as_of.year, 1, 1), end=as_of)
    reports = cache.query(compliance_view, year_window, as_of)
    detail, summary = reports["detail"], reports["summary"]
    st.caption(
        "报送规则：大通湖区每月29日前报送（带贫人员名册与证明材料）；广州市每季度报送，"
        "措施未定具体日期，按季后次月15日前计。"
    )
    shown = summary.assign(on_time_rate=(summary.on_time_rate * 100).round(1)).rename(
        columns={
            "jurisdiction_name": "辖区",
            "period": "报送期",
            "due_date": "截止日期",
            **COMPLIANCE_STATUSES,
            "on_time_rate": "按时率（%）",
        }
    )
    tables.chart_and_table(compliance_figure(summary), shown, f"报送情况_{as_of.year}", key="ledger_compliance")
    st.markdown("**各单位逐期报送情况**")
    if not detail.empty:
        matrix = reports["matrix"]
        st.dataframe(matrix, hide_index=True, width="stretch", height=360)
        tables.download_buttons(matrix, f"报送情况_逐单位_{as_of.year}", key="ledger_matrix")


def _meetings(past_meetings: pd.DataFrame, as_of: date, principal: Principal) -> None:
    """The joint meetings; desks record one and bring the ledger up to date."""
    st.dataframe(
        past_meetings.rename(columns={"held_on": "会议日期", "title": "会议", "note": "备注"})[
            ["会议日期", "会议", "备注"]
        ],
        hide_index=True,
        width="stretch",
    )
    if principal.role not in DESK_ROLES:
        return
    with st.form("meeting_add"):
        f1, f2 = st.columns([1, 3])
        held_on = f1.date_input("会议日期", value=as_of)
        title = f2.text_input("会议名称", value="消费帮扶工作联席会议")
        if st.form_submit_button("登记会议"):
            if held_on in set(past_meetings.held_on):
                st.warning("该日期已登记会议。")
            else:
                try:
                    cache.act(add_meeting, held_on, title.strip() or "消费帮扶工作联席会议")
                except AccessDenied as exc:
                    st.error(str(exc))
                else:
                    st.rerun()
    if st.button("按最新数据同步台账", help="重新读取预警、规则评估、网点退出候选和报送情况；重复同步不会产生重复事项"):
        try:
            counts = cache.act(sync_ledger, as_of)
        except AccessDenied as exc:
            st.error(str(exc))
        else:
            st.toast(
                f"新增 {counts['opened']}，重新列入 {counts['reopened']}，更新 {counts['updated']}，"
                f"自动销号 {counts['resolved']}"
            )


def render() -> None:
    """The 督办台账 page."""
    principal = ui.current_principal()
    st.title("督办台账")
    ui.freshness(
        "滞销预警（warning）、规则评估（policy_rule × 采购明细）、网点退出候选（outlet）、报送批次（report_batch）；"
        "台账事项与督办记录（supervision_item / supervision_event）"
    )

    as_of = cache.query(data_as_of) or date.today()
    past_meetings = cache.query(meetings)
    group, kinds, since = _scope(past_meetings, as_of)

    view = cache.query(ledger_view, as_of, group, tuple(kinds))
    changed = cache.query(since_meeting_view, since, as_of, group, tuple(kinds)) if since else None
    by_group = cache.query(group_summary, since, as_of, tuple(kinds)) if group is None else None

    empty = _sources(as_of)
    _kpis(view["items"], changed, since, as_of, empty)
    _meeting_pack(since, as_of, group, kinds)

    tab_since, tab_open, tab_reports, tab_meetings = st.tabs(["自上次会议以来", "全部在办", "报送情况", "联席会议"])
    with tab_since:
        _since_meeting(changed, by_group, since, as_of)
    with tab_open:
        _open_items(view, as_of, principal)
    with tab_reports:
        _reports(as_of)
    with tab_meetings:
        _meetings(past_meetings, as_of, principal)


render()
