"""总览 — the leading group's briefing: on track or not, what is at risk, who is behind, what changed."""

from datetime import date, timedelta
from functools import partial

import pandas as pd
import streamlit as st

from data_access import cache
from data_access.figures.overview import (
    amount_by_channel,
    briefing_cards,
    changes_since,
    data_as_of,
    headline_status,
    monthly_amounts,
    overview_kpis,
)
from data_access.packs.briefing import (
    briefing_data,
    notice_table,
    outlet_table,
    pack_file_stem,
    pptx_pack,
    warning_table,
    xlsx_pack,
    zip_pack,
)
from data_access.query.filters import Filters
from data_access.query.text import PPTX_MIME, XLSX_MIME, ZIP_MIME, money_text, pct_text
from data_access.reference.labels import CHANNELS
from pages import registry
from pages.common import charts, tables, ui

BADGES = {
    "green": ("green", "绿 · 正常"),
    "yellow": ("orange", "黄 · 关注"),
    "red": ("red", "红 · 落后"),
    None: ("gray", "— · 暂无数据"),
}


def _zip_file(f: Filters, since: date, demo: bool, stamp: str | None = None) -> bytes:
    """The briefing pack (PPTX + XLSX in a ZIP), made when the button is clicked, with the export stamp."""
    return zip_pack(cache.query(briefing_data, f, since), demo, stamp=stamp)


def _pptx_file(f: Filters, since: date, demo: bool, stamp: str | None = None) -> bytes:
    return pptx_pack(cache.query(briefing_data, f, since), demo, stamp=stamp)


def _xlsx_file(f: Filters, since: date, stamp: str | None = None) -> bytes:
    return xlsx_pack(cache.query(briefing_data, f, since), stamp=stamp)


def _headline(f: Filters, cards: list[dict], k: dict, data: dict) -> None:
    """The one-paragraph briefing under a traffic-light badge: the worst status of the cards."""
    by_key = {c["key"]: c for c in cards}
    plan = by_key["plan"]["figures"]
    gap = plan["plan_share"] - plan["time_progress"] if plan["plan_share"] is not None else None
    pace = (
        "暂无年度计划"
        if gap is None
        else f"领先时间进度 {gap * 100:.1f} 个百分点"
        if gap >= 0
        else f"落后时间进度 {-gap * 100:.1f} 个百分点"
    )
    warn = by_key["warnings"]["figures"]
    top = data["behind"].head(3)
    behind_names = (
        "，差额最大的是"
        + "、".join(f"{n}（差{money_text(g)}）" for n, g in zip(top.unit_name, top.gap_yuan, strict=True))
        if len(top)
        else ""
    )
    risky = warning_table(data["warnings"]).head(3)
    risk_names = (
        "，最需关注："
        + "、".join(f"{p}（{r}，{lv}）" for p, r, lv in zip(risky["产品"], risky["地区"], risky["等级"], strict=True))
        if len(risky)
        else ""
    )
    headline = (
        f"截至 {f.end:%Y年%m月%d日}，累计采购 **{by_key['amount']['value']}**（同比 "
        f"{pct_text(k['yoy'], signed=True)}），完成年度计划 **{pct_text(plan['plan_share'])}**，"
        f"时间进度 {pct_text(plan['time_progress'])}，{pace}；"
        + (
            f"**{by_key['units']['figures']['units_behind']} 个单位落后**{behind_names}；"
            if by_key["rules"]["figures"]["total"]
            else "规则暂无数据（没有可评价的单位）；"
        )
        + (
            f"未关闭滞销预警 {sum(warn.values())} 条（红色 {warn['red']} 条）{risk_names}。"
            if by_key["warnings"]["status"] is not None
            else "滞销预警暂无数据（未监测价格序列）。"
        )
    )
    text, status = headline_status(cards)
    with st.container(border=True):
        st.badge(text, color=BADGES[status][0], icon=":material/flag:")
        if status is None:  # nothing to judge: no paragraph of zeros, the way to load data instead
            ui.no_data(
                "库中还没有可评价的单位、预算、采购记录、网点或价格序列。",
                (("registers", "units"), ("reporting", "purchases")),
            )
        else:
            st.markdown(headline)


def _cards(cards: list[dict]) -> None:
    """Six cards in two rows: status badge, figure, the rule it is judged by, a link to its page."""
    for row in (cards[:3], cards[3:]):
        cols = st.columns(3)
        for col, card in zip(cols, row, strict=True):
            with col.container(border=True):
                color, text = BADGES[card["status"]]
                st.badge(text, color=color)
                st.metric(card["label"], card["value"], help=f"判定标准：{card['rule']}")
                st.caption(card["detail"])
                ui.page_link(registry.BY_FILE[card["page"]].url_path, "查看明细", icon=":material/arrow_forward:")
                if card["status"] is None:
                    _load_link(*card["load"])


def _load_link(url_path: str | None, form: str) -> None:
    """Under a card with nothing to judge: where its data is loaded (上线准备 when no form exists yet)."""
    if url_path is not None and registry.can_view(ui.current_principal(), url_path):
        ui.load_link(url_path, form)
    elif registry.can_view(ui.current_principal(), "golive"):
        ui.page_link("golive", "查看上线准备清单", icon=":material/checklist:")


def _pack_downloads(f: Filters, data: dict, as_of: date) -> date:
    """The 变化对比起点 (kept in the URL as ``since``) and the briefing pack downloads; returns the start."""
    params_since = st.query_params.get("since", "")
    try:
        default_since = date.fromisoformat(params_since)
    except ValueError:
        default_since = as_of - timedelta(days=30)
    demo = bool(st.session_state.get("store_status", {}).get("demo"))
    stem = pack_file_stem(data)
    d = st.columns([1.3, 1.6, 1, 1], vertical_alignment="bottom")
    since = d[0].date_input(
        "变化对比起点",
        value=min(default_since, as_of),
        max_value=as_of,
        key="overview_since",
        help="下方「变化」与简报包中的变化页都从这一天算起",
    )
    if since.isoformat() != params_since:
        st.query_params["since"] = since.isoformat()
    words = f"简报包：{tables.filters_words() or ''}；变化对比起点 {since:%Y-%m-%d}"
    d[1].download_button(
        "下载简报包（PPTX + XLSX）",
        tables.audited(partial(_zip_file, f, since, demo), f"{stem}.zip", None, words),
        file_name=f"{stem}.zip",
        mime=ZIP_MIME,
        type="primary",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
        key="pack_zip",
        help="PPTX 含可编辑的原生图表、指标条、预警与通报名单；XLSX 含全部表格；无需看板即可在 WPS/Office 打开",
    )
    d[2].download_button(
        "仅 PPTX",
        tables.audited(partial(_pptx_file, f, since, demo), f"{stem}.pptx", None, words),
        file_name=f"{stem}.pptx",
        mime=PPTX_MIME,
        on_click="ignore",
        width="stretch",
        key="pack_pptx",
    )
    d[3].download_button(
        "仅 XLSX",
        tables.audited(partial(_xlsx_file, f, since), f"{stem}.xlsx", None, words),
        file_name=f"{stem}.xlsx",
        mime=XLSX_MIME,
        on_click="ignore",
        width="stretch",
        key="pack_xlsx",
    )
    return since


def _notice_and_risk(data: dict, cards: list[dict]) -> None:
    """Units behind (the notice list) beside the open unsold-produce warnings and exiting outlets;
    暂无数据 where no rule had a unit to judge or no price series is monitored."""
    by_key = {c["key"]: c for c in cards}
    left, right = st.columns(2)
    with left:
        st.subheader("通报：进度落后单位")
        if not by_key["rules"]["figures"]["total"]:
            ui.no_data(
                "没有可评价的单位：先导入单位名录与年度预算。",
                (("registers", "units"), ("registers", "budgets")),
            )
        else:
            _notice(data)
    with right:
        st.subheader("风险：未关闭滞销预警")
        wt = warning_table(data["warnings"])
        if wt.empty and by_key["warnings"]["status"] is None:
            ui.no_data("未监测任何价格序列，滞销无从判断。", (("reporting", "prices"),))
        elif wt.empty:
            st.success("当前没有未关闭的滞销预警。")
        else:
            st.caption(f"共 {len(wt)} 条，按等级与分值排序。")
            st.dataframe(wt.head(10)[["产品", "地区", "等级", "状态", "触发原因"]], hide_index=True, width="stretch")
            tables.download_buttons(wt, "未关闭滞销预警", key="overview_warnings")
        exits = data["exits"]
        if not exits.empty:
            st.caption(
                f"拟退出网点 {len(exits)} 个：" + "、".join(exits.name.head(6)) + ("等" if len(exits) > 6 else "")
            )


def _notice(data: dict) -> None:
    """The notice list: units behind, worst first, with the clause."""
    notice = notice_table(data["behind"])
    st.caption(f"共 {len(notice)} 个单位未达标，按差额从大到小；每行为该单位最落后的一条规则及其依据条款。")
    st.dataframe(
        notice.head(10)[["单位", "未达标规则", "状态", "差额（元）", "依据条款"]],
        hide_index=True,
        width="stretch",
        column_config={"差额（元）": st.column_config.NumberColumn(format="localized")},
    )
    tables.download_buttons(notice, "通报_落后单位", key="overview_notice")


def _changes(f: Filters, since: date) -> None:
    """What changed since ``since``: counts, then one tab per kind of change."""
    st.subheader(f"变化：{since:%Y年%m月%d日}以来")
    changes = cache.query(changes_since, f, since)
    m = st.columns(4)
    m[0].metric("新增滞销预警", len(changes["new_warnings"]))
    m[1].metric("新落后单位", len(changes["fell_behind"]))
    m[2].metric("已追上单位", len(changes["caught_up"]))
    m[3].metric("新增网点", len(changes["new_outlets"]))
    tabs = st.tabs(["新增预警", "新落后单位", "已追上单位", "新增网点"])
    with tabs[0]:
        st.dataframe(warning_table(changes["new_warnings"]), hide_index=True, width="stretch")
    with tabs[1]:
        st.dataframe(notice_table(changes["fell_behind"]), hide_index=True, width="stretch")
    with tabs[2]:
        st.dataframe(notice_table(changes["caught_up"]), hide_index=True, width="stretch")
    with tabs[3]:
        st.dataframe(outlet_table(changes["new_outlets"]), hide_index=True, width="stretch")


def _monthly(f: Filters, k: dict) -> None:
    st.subheader("累计采购额与时间进度")
    monthly: pd.DataFrame = cache.query(monthly_amounts, f)
    table = monthly.rename(
        columns={
            "month": "月份",
            "amount": "当月（元）",
            "amount_last_year": "上年当月（元）",
            "cumulative": "累计（元）",
            "cumulative_last_year": "上年累计（元）",
        }
    )
    tables.chart_and_table(
        charts.cumulative_vs_progress(monthly, k["plan"], f.year),
        table,
        f"{f.year}年月度采购额",
        key="overview_monthly",
    )


def _by_channel(f: Filters) -> None:
    st.subheader("按渠道")
    by_channel = cache.query(amount_by_channel, f)
    by_channel["渠道"] = by_channel.channel.map(CHANNELS)
    tables.chart_and_table(
        charts.amount_bars(by_channel, "渠道"),
        by_channel[["渠道", "amount", "purchases"]].rename(columns={"amount": "金额（元）", "purchases": "笔数"}),
        f"{f.year}年按渠道采购额",
        key="overview_channel",
    )


def render() -> None:
    """总览: headline, cards, briefing pack, notice and risk lists, changes, monthly and channel charts."""
    f = ui.current_filters()
    st.title("总览 · 简报")
    ui.freshness(
        "采购明细（purchase）；计划取单位年度预算（unit_budget）；规则评价（policy_rule）；"
        "滞销预警（warning）；网点（outlet）"
    )
    st.caption(ui.describe_filters(f))

    cards = cache.query(briefing_cards, f)
    k = cache.query(overview_kpis, f)
    as_of = cache.query(data_as_of) or f.end
    data = cache.query(briefing_data, f, None)

    _headline(f, cards, k, data)
    _cards(cards)
    since = _pack_downloads(f, data, as_of)
    _notice_and_risk(data, cards)
    _changes(f, since)
    _monthly(f, k)
    _by_channel(f)


render()
