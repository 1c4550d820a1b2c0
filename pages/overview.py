"""总览 — the year to date at a glance: amount vs plan and last year, time progress, state."""

import streamlit as st

from data_access import cache
from data_access.labels import CHANNELS, WARNING_LEVELS
from data_access.overview import amount_by_channel, monthly_amounts, overview_kpis
from pages.common import charts, tables, ui

f = ui.current_filters()
st.title("总览")
ui.freshness("采购明细（purchase）汇总；计划取单位年度预算表（unit_budget）的指导计划")
st.caption(ui.describe_filters(f))

try:
    k = cache.query(overview_kpis, f)
    monthly = cache.query(monthly_amounts, f)
    by_channel = cache.query(amount_by_channel, f)
except cache.StoreUnavailable as exc:
    ui.stop_if_unavailable(exc)

c = st.columns(4)
c[0].metric("年度累计采购额", ui.fmt_money(k["amount"]),
            delta=f"{ui.fmt_pct(k['yoy'], signed=True)} 同比" if k["yoy"] is not None else None,
            help="所选期间采购明细金额合计；同比为上年同期")
gap = (k["plan_share"] - k["time_progress"]) if k["plan_share"] is not None else None
c[1].metric("完成年度计划", ui.fmt_pct(k["plan_share"]),
            delta=f"{ui.fmt_pct(gap, signed=True)} 较时间进度" if gap is not None else None,
            help=f"年度指导计划 {ui.fmt_money(k['plan'])}；时间进度 {ui.fmt_pct(k['time_progress'])}")
c[2].metric("时间进度", ui.fmt_pct(k["time_progress"]), help="截至所选期末，全年已过天数占比")
c[3].metric("上年同期", ui.fmt_money(k["amount_last_year"]))
c = st.columns(4)
c[0].metric("有采购的单位", f"{k['units_reporting']} / {k['units_total']}", help="所选期间有采购记录的单位数 / 单位总数")
c[1].metric("运营中网点", f"{k['outlets_operating']} / {k['outlets_total']}",
            help=f"五专网点与示范点；拟退出 {k['outlets_exiting']} 个")
open_total = sum(k["open_warnings"].values())
c[2].metric("未关闭滞销预警", open_total,
            help="、".join(f"{WARNING_LEVELS[lv]}{n}" for lv, n in k["open_warnings"].items()))
c[3].metric("采购笔数", f"{k['purchases']:,}")

st.subheader("累计采购额与时间进度")
table = monthly.rename(columns={"month": "月份", "amount": "当月（元）", "amount_last_year": "上年当月（元）",
                                "cumulative": "累计（元）", "cumulative_last_year": "上年累计（元）"})
tables.chart_and_table(charts.cumulative_vs_progress(monthly, k["plan"], f.year), table,
                       f"{f.year}年月度采购额", key="overview_monthly")

st.subheader("按渠道")
by_channel["渠道"] = by_channel.channel.map(CHANNELS)
tables.chart_and_table(charts.amount_bars(by_channel, "渠道"),
                       by_channel[["渠道", "amount", "purchases"]].rename(columns={"amount": "金额（元）", "purchases": "笔数"}),
                       f"{f.year}年按渠道采购额", key="overview_channel")
