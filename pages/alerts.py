"""滞销预警 — open warnings by level and region; one warning's series, reason, 消纳 lifecycle and buyers."""

from functools import partial

import pandas as pd
import streamlit as st

from data_access import cache
from data_access.desks.prices import GRAIN_LABELS
from data_access.desks.warnings import StaleWarning, WarningActionError, apply_action
from data_access.engines.rules import units_behind
from data_access.figures import alerts
from data_access.figures.readiness import missing
from data_access.query.text import money_text
from data_access.reference.labels import BUYER_KINDS, CATEGORIES, WARNING_LEVELS, WARNING_STATUSES
from data_access.trust.auth import DESK_ROLES, AccessDenied, Principal
from pages.common import alert_charts, tables, ui

# The action forms' inputs and their empty values, reset after an action is saved (a comment: a bare
# string in a page is drawn by Streamlit's magic).
ACTION_INPUTS = (("in_volume", 0.0), ("in_buyer", None), ("in_absorb_note", ""), ("in_close_note", ""), ("in_note", ""))


def _level_badge(level: str) -> str:
    colour = "red" if level in ("red", "orange") else "orange" if level == "yellow" else "blue"
    return f":{colour}-badge[{WARNING_LEVELS[level]}预警]"


def _act(wid: int, action: str, **fields) -> None:
    """Button callback: apply an action as of the version this desk saw; the outcome shows on rerun."""
    seen = st.session_state.get("warning_seen", {}).get(wid)
    values = {k: st.session_state.get(v) for k, v in fields.items()}
    try:
        cache.act(apply_action, wid, seen, action, **values)
    except StaleWarning as exc:
        st.session_state["warning_msg"] = ("error", str(exc))
    except WarningActionError as exc:
        st.session_state["warning_msg"] = ("warning", str(exc))
    except (AccessDenied, cache.StoreUnavailable) as exc:
        # A callback runs before the page, outside the router's handler: its message shows on the rerun.
        st.session_state["warning_msg"] = ("error", str(exc))
    else:
        st.session_state["warning_msg"] = ("success", f"已{alerts.ACTIONS[action][0]}（预警 #{wid}）")
        for key, empty in ACTION_INPUTS:
            st.session_state[key] = empty


def _pick_to_url() -> None:
    """Selectbox callback: keep the picked warning in the URL."""
    st.query_params["warning"] = str(st.session_state["alerts_pick"])


def _warning_label(labels: dict, wid: int) -> str:
    return labels.get(wid, f"#{wid}")


def _buyer_label(unit_names: dict, candidate_ids: set, unit_id: int) -> str:
    return unit_names[unit_id] + ("（候选）" if unit_id in candidate_ids else "")


def _kpis(counts: dict) -> None:
    cols = st.columns(4)
    for col, level in zip(cols, ("red", "orange", "yellow", "blue"), strict=True):
        col.metric(f"{WARNING_LEVELS[level]}预警", counts[level], help="未关闭（新发、已确认、消纳中）的预警条数")


def _open_warnings(open_df: pd.DataFrame, by_region: pd.DataFrame, group_names: dict) -> None:
    """Open warnings by region and level, and the listing (a picked row goes to the URL)."""
    st.subheader("未关闭预警：按产地与等级")
    if open_df.empty:
        st.info("所选范围内没有未关闭的滞销预警。")
        return
    region_table = by_region.assign(level=by_region.level.map(WARNING_LEVELS)).rename(
        columns={"region_code": "地区代码", "region_name": "地区", "level": "等级", "warnings": "预警条数"}
    )
    tables.chart_and_table(
        alert_charts.warnings_by_region_bars(by_region), region_table, "滞销预警_按地区", key="alerts_by_region"
    )

    st.subheader("预警清单")
    listing = pd.DataFrame(
        {
            "编号": open_df.id,
            "等级": open_df.level.map(WARNING_LEVELS),
            "产品": open_df.product_name,
            "品类": open_df.category.map(CATEGORIES),
            "产地": open_df.region_name,
            "评分": open_df.score,
            "状态": open_df.status.map(WARNING_STATUSES),
            "责任专班": open_df.owner_group.map(group_names).fillna("—"),
            "首次预警": open_df.first_date,
            "最近预警": open_df.last_date,
            "已消纳（kg）": open_df.absorbed_volume,
            "原因": open_df.reason,
        }
    )
    picked = st.dataframe(
        listing,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="alerts_listing",
        height=min(420, 38 + 35 * len(listing)),
    )
    tables.download_buttons(listing, "滞销预警清单", key="alerts_listing_dl")
    rows = picked.selection.rows if picked else []
    if rows and st.session_state.get("alerts_listing_last") != rows[0]:
        st.session_state["alerts_listing_last"] = rows[0]
        st.query_params["warning"] = str(int(open_df.id.iloc[rows[0]]))


def _monitored_series(status: pd.DataFrame) -> None:
    """监测序列: when each series last received data, and which are out of date."""
    st.subheader("监测序列")
    if status.empty:
        st.caption("所选范围内没有价格监测序列。")
        return
    shown = pd.DataFrame(
        {
            "序列": status.series_id,
            "产品": status.product_name,
            "监测点所在县": status.region_name,
            "市场/监测点": status.market,
            "粒度": status.grain.map(GRAIN_LABELS).fillna(status.grain),
            "原始单位": status.source_unit.fillna("—"),
            "来源": status.source.fillna("—"),
            "最近数据": status.last_date,
            "期数": status.observations,
            "最近导入": status.received_at.dt.strftime("%Y-%m-%d %H:%M").fillna("—"),
            "状态": status.state,
        }
    )
    st.caption(
        f"共 {len(shown)} 个序列（最近导入的在前），其中 {int(status.stale.sum())} 个数据过期"
        f"（最近一期早于两个粒度周期，其预警不再更新）、{int((status.state == '数据不足').sum())} 个数据不足"
        "（周序列不足8期、月序列不足4期，尚不能给出预警等级）。"
        "价格监测数据在“数据报送”导入，导入后即刷新这些序列的预警。"
    )
    st.dataframe(shown, hide_index=True, width="stretch", key="alerts_monitored", height=min(360, 38 + 35 * len(shown)))


def _pick_warning(open_df: pd.DataFrame) -> int | None:
    """The warning to show: the URL's (a deep link may name a closed one), else the first open one."""
    options = open_df.id.astype(int).tolist()
    wanted = str(st.query_params.get("warning", ""))
    wanted = int(wanted) if wanted.isdigit() else None
    if wanted is not None and wanted not in options:
        options = [wanted] + options  # a deep link may name a closed warning
    if not options:
        return None
    labels = {
        int(r.id): f"#{r.id} {WARNING_LEVELS[r.level]} {r.product_name}（{r.region_name}）{WARNING_STATUSES[r.status]}"
        for r in open_df.itertuples()
    }
    st.session_state["alerts_pick"] = wanted if wanted is not None else options[0]
    st.query_params["warning"] = str(st.session_state["alerts_pick"])

    st.divider()
    return st.selectbox(
        "查看预警", options, key="alerts_pick", format_func=partial(_warning_label, labels), on_change=_pick_to_url
    )


def _warning_header(wid: int, detail: dict, series: pd.DataFrame) -> None:
    """Title, the last action's outcome, status line, reason and the price/volume series."""
    st.subheader(f"#{wid} {detail['product_name']}（{detail['region_name']}）")
    msg = st.session_state.pop("warning_msg", None)
    if msg:
        getattr(st, msg[0])(msg[1])
    st.markdown(
        f"{_level_badge(detail['level'])} :gray-badge[{WARNING_STATUSES[detail['status']]}] "
        f"责任专班：**{detail['owner_group_name'] or '未指派'}** ｜ 已消纳 **{detail['absorbed_volume']:,.0f}** "
        f"{detail['unit']} ｜ 监测点：{detail['market']} ｜ 预警期 {detail['first_date']} 至 {detail['last_date']}"
        f" ｜ 第 {detail['version']} 版"
    )
    st.markdown(f"**预警原因**（峰值时）：{detail['reason']}")

    if len(series):
        chart_table = series.assign(level=series.level.map({"none": "", **WARNING_LEVELS})).rename(
            columns={
                "date": "日期",
                "price": "价格（元）",
                "baseline": "季节常态价格",
                "band_low": "常态下限",
                "band_high": "常态上限",
                "volume": "销量",
                "volume_last_year": "上年同期销量",
                "level": "预警等级",
                "score": "评分",
            }
        )
        tables.chart_and_table(
            alert_charts.warning_series_chart(series, detail["first_date"], detail["last_date"], detail["unit"]),
            chart_table,
            f"预警{wid}_价格销量序列",
            key="alerts_series",
        )


def _acknowledge_and_assign(wid: int, detail: dict, groups: pd.DataFrame, group_names: dict) -> None:
    if detail["status"] == "new":
        st.button("确认预警", type="primary", key="act_ack", on_click=_act, args=(wid, "acknowledge"))
    with st.form("form_assign", border=True):
        st.selectbox(
            "责任专班",
            groups.code.tolist(),
            key="in_owner_group",
            index=groups.code.tolist().index(detail["owner_group"])
            if detail["owner_group"] in groups.code.tolist()
            else 0,
            format_func=group_names.get,
        )
        st.form_submit_button(
            "指派专班", on_click=_act, args=(wid, "assign"), kwargs=dict(owner_group="in_owner_group")
        )


def _absorb_and_close(wid: int, detail: dict, buyers: pd.DataFrame) -> None:
    if detail["status"] not in ("acknowledged", "absorbing"):
        st.caption("确认预警后可记录消纳和关闭。")
        return
    units = cache.query(alerts.buyer_choices)
    # Candidate buyers first, in their ranking order.
    unit_options = buyers.unit_id.astype(int).tolist()
    candidate_ids = set(unit_options)
    unit_options += [u for u in units.id.tolist() if u not in candidate_ids]
    unit_names = dict(zip(units.id, units.name, strict=True))
    with st.form("form_absorb", border=True):
        st.number_input(f"本次消纳量（{detail['unit']}）", min_value=0.0, step=100.0, key="in_volume")
        st.selectbox(
            "消纳单位",
            unit_options,
            key="in_buyer",
            index=None,
            placeholder="选择采购单位",
            format_func=partial(_buyer_label, unit_names, candidate_ids),
        )
        st.text_input("说明", key="in_absorb_note", placeholder="如：组织结对单位食堂集中采购")
        st.form_submit_button(
            "记录消纳",
            on_click=_act,
            args=(wid, "absorb"),
            kwargs=dict(absorbed_volume="in_volume", buyer_unit_id="in_buyer", note="in_absorb_note"),
        )
    with st.form("form_close", border=True):
        st.text_input("关闭说明", key="in_close_note", placeholder="如：价格回到季节常态，消纳完成")
        st.form_submit_button("关闭预警", on_click=_act, args=(wid, "close"), kwargs=dict(note="in_close_note"))


def _actions(
    wid: int, detail: dict, groups: pd.DataFrame, group_names: dict, buyers: pd.DataFrame, principal: Principal
) -> None:
    """The 消纳 lifecycle forms for desks and admins; others read only."""
    st.subheader("处置")
    may_act = principal.role in DESK_ROLES
    if not may_act:
        st.info(f"当前角色（{principal.role_label}）只能查看；处置预警需专班或管理员角色。")
    elif detail["status"] == "closed":
        st.caption("该预警已关闭；仍可添加跟进备注。")
    else:
        c1, c2 = st.columns(2)
        with c1:
            _acknowledge_and_assign(wid, detail, groups, group_names)
        with c2:
            _absorb_and_close(wid, detail, buyers)
    if may_act:
        with st.form("form_note", border=False):
            st.text_input("跟进备注", key="in_note")
            st.form_submit_button("添加备注", on_click=_act, args=(wid, "note"), kwargs=dict(note="in_note"))


def _history(wid: int, history: pd.DataFrame) -> None:
    st.markdown("**处置记录**（只追加，不覆盖）")
    log = pd.DataFrame(
        {
            "时间": history["at"].dt.strftime("%Y-%m-%d %H:%M"),
            "操作人": history.actor,
            "操作": history.action_label,
            "状态": [
                WARNING_STATUSES.get(b, "")
                if pd.isna(a) or a == b
                else f"{WARNING_STATUSES[a]} → {WARNING_STATUSES[b]}"
                for a, b in zip(history.from_status, history.to_status, strict=True)
            ],
            "消纳量": history.absorbed_volume.map(lambda v: "" if pd.isna(v) else f"{v:,.0f}"),
            "消纳单位": history.buyer_name.fillna(""),
            "说明": history.note.fillna(""),
        }
    )
    st.table(log, hide_index=True, border="horizontal")
    tables.download_buttons(log, f"预警{wid}_处置记录", key="alerts_history_dl")


def _candidate_buyers(buyers: pd.DataFrame) -> None:
    st.subheader("候选消纳单位")
    st.caption(
        "仍未达到其规则要求的采购单位：与产地有结对关系的在前，再按差额从大到小；距离为单位所在地与产地的直线距离。"
    )
    if buyers.empty:
        st.info("所选范围内没有未达标的采购单位。")
        return
    st.dataframe(
        pd.DataFrame(
            {
                "单位": buyers.unit_name,
                "类型": buyers.unit_kind.map(BUYER_KINDS),
                "所在地": buyers.unit_region_name,
                "结对关系": buyers.pairing_kind.fillna("—"),
                "距离（公里）": buyers.distance_km,
                "未达标规则": buyers.rule_title,
                "差额": buyers.gap_yuan.map(money_text),
                "依据": buyers.clause,
            }
        ),
        hide_index=True,
        width="stretch",
        key="alerts_buyers",
    )


def render() -> None:
    """The 滞销预警 page."""
    f = ui.current_filters()
    principal = ui.current_principal()
    st.title("滞销预警")
    ui.freshness(
        "价格监测序列（price_observation）经预警引擎计算（方法与实测质量见 docs/warnings.md），"
        "写入预警表（warning）；处置记录取 warning_action"
    )
    st.caption(ui.describe_filters(f) + " ｜ 预警按产地筛选，渠道与单位类型不适用")

    if cache.query(missing, f.year)["prices"]:
        ui.no_data(
            "库中没有价格监测序列，滞销无从判断（没有预警不等于没有滞销）。请在数据报送导入价格监测数据。",
            (("reporting", "prices"),),
        )
        return
    counts = cache.query(alerts.warning_counts, f)
    by_region = cache.query(alerts.warnings_by_region, f)
    open_df = cache.query(alerts.open_warnings, f)
    groups = cache.query(alerts.task_groups)
    group_names = dict(zip(groups.code, groups.name, strict=True))

    _kpis(counts)
    _open_warnings(open_df, by_region, group_names)
    _monitored_series(cache.query(alerts.series_status, f))
    wid = _pick_warning(open_df)
    if wid is None:
        return

    detail = cache.run(alerts.warning_detail, wid)
    if detail is None:
        st.warning(f"预警 #{wid} 不存在。")
        return
    history = cache.run(alerts.warning_history, wid)
    series = cache.query(alerts.warning_series, wid)
    st.session_state.setdefault("warning_seen", {})[wid] = detail["version"]
    buyers = cache.query(alerts.candidate_buyers, wid, f, behind=cache.query(units_behind, f))

    _warning_header(wid, detail, series)
    _actions(wid, detail, groups, group_names, buyers, principal)
    _history(wid, history)
    _candidate_buyers(buyers)


render()
