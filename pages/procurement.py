"""采购进度 — who is behind, by how much, under which clause; progress by month, channel, kind, origin."""

from functools import partial

import pandas as pd
import streamlit as st

from data_access import cache
from data_access.engines import rules
from data_access.figures.overview import monthly_amounts
from data_access.figures.procurement import (
    amount_by,
    notice_frame,
    origin_group_level,
    procurement_kpis,
    rule_progress,
    unit_profile,
    unit_purchase_totals,
    unit_purchases,
)
from data_access.query.export import csv_bytes, xlsx_bytes
from data_access.query.filters import Filters
from data_access.query.text import CSV_MIME, XLSX_MIME, money_text, pct_text
from data_access.reference.labels import BUYER_KINDS, CATEGORIES, CHANNELS, PURPOSES
from data_access.reference.regions import region_name, region_table
from pages.common import charts, progress_charts, tables, ui

STATUS_COLORS = {"红": "#d62728", "黄": "#d4a017", "绿": "#2ca02c"}


def _wan(values: pd.Series) -> list[str]:
    """Yuan as 万元 text; "—" where a rule has no money (reporting rules), not the grid's "None"."""
    return ["—" if pd.isna(v) else f"{float(v) / 1e4:,.2f}" for v in values]


def _badged(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with its 状态 as a coloured label (see ``STATUS_COLUMN``); a pandas Styler did the
    same by rendering every cell of the table as HTML on every rerun (0.2 s for 300 units)."""
    return df.assign(状态=[[v] if v in STATUS_COLORS else [] for v in df["状态"]])


STATUS_COLUMN = st.column_config.MultiselectColumn(
    "状态", options=list(STATUS_COLORS), color=list(STATUS_COLORS.values()), width=48
)


def _region_names(codes: pd.Series, names: dict) -> pd.Series:
    """Region codes as names (the code itself where the name is unknown)."""
    return codes.map(partial(_name_or_code, names))


def _name_or_code(names: dict, code):
    return names.get(code, code)


def _notice_xlsx(behind: pd.DataFrame, region_names: dict, note: str, stamp: str | None = None) -> bytes:
    return xlsx_bytes({"通报": notice_frame(behind, region_names)}, notes={"通报": note}, stamp=stamp)


def _kpis(k: dict, summary: dict, n_red: int) -> None:
    """Amount, plan share, rules met, units behind."""
    c = st.columns(4)
    c[0].metric(
        "累计采购额",
        money_text(k["amount"], 0),
        delta=f"{pct_text(k['yoy'], signed=True)} 同比" if k["yoy"] is not None else None,
        help=f"所选期间采购明细金额合计；上年同期 {money_text(k['amount_last_year'], 1)}",
    )
    gap = (k["plan_share"] - k["time_progress"]) if k["plan_share"] is not None else None
    c[1].metric(
        "完成年度计划",
        pct_text(k["plan_share"]),
        delta=f"{pct_text(gap, signed=True)} 较时间进度" if gap is not None else None,
        help=f"年度指导计划 {money_text(k['plan'])}（范围内单位的计划合计）；时间进度 {pct_text(k['time_progress'])}",
    )
    judged = bool(summary["total"])  # no (rule, unit) pair evaluated: nothing met, nothing behind
    c[2].metric(
        "规则达标",
        f"{summary['met']} / {summary['total']}" if judged else "暂无数据",
        help=f"政策规则 × 适用对象的评价项中按时间进度达标的项数；{summary['rules']} 条规则中"
        f"{summary['rules_all_met']} 条全部达标。红 {summary['by_status']['red']} "
        f"项，黄 {summary['by_status']['yellow']} 项",
    )
    c[3].metric(
        "落后单位",
        summary["units_behind"] if judged else "暂无数据",
        delta=f"其中红色 {n_red} 个" if n_red else None,
        delta_color="inverse",
        delta_arrow="off",
        help="至少一条规则未达时间进度要求的采购单位数（不含产地区县）",
    )


def _ranking(f: Filters, k: dict, progress: dict, region_names: dict, n_red: int) -> int | None:
    """The unit ranking (one row per unit, its worst rule) with the notice downloads; returns the
    unit picked in the table (kept in the URL as ``unit``), or None."""
    ranking, behind, summary = progress["ranking"], progress["behind"], progress["summary"]
    st.subheader("单位排名：谁落后、差多少、依据哪条")
    if not summary["total"]:
        ui.no_data(
            "没有可评价的单位：规则按单位名录与年度预算评价，所选范围内还没有适用规则的单位。",
            (("registers", "units"), ("registers", "budgets")),
        )
    elif behind.empty:
        st.success("所有适用规则的单位均达到时间进度要求。")
    else:
        top = behind.iloc[0]
        st.warning(
            f"**{summary['units_behind']} 个单位未达时间进度要求**（红 "
            f"{n_red}、黄 {summary['units_behind'] - n_red}），"
            f"合计落后 {money_text(behind.gap_yuan.sum())}。落后最多：**{top.unit_name}** "
            f"差 {money_text(top.gap_yuan)}，"
            f"{top.rule_title}（{top.citation}）。",
            icon=":material/campaign:",
        )
    st.caption(
        f"每个单位取其最落后的一条规则。绿：达到时间进度要求；黄：落后不足年度目标的{rules.YELLOW_BAND:.0%}；"
        f"红：落后达{rules.YELLOW_BAND:.0%}及以上或未填报/未报送。差额为按时间进度应达与实际之差。点选一行查看该单位的采购明细和预算。"
    )
    shown = pd.DataFrame(
        {
            "排名": ranking["rank"],
            "状态": ranking.status_label,
            "单位": ranking.unit_name,
            "差额（万元）": _wan(ranking.gap_yuan),
            "最落后的规则": ranking.rule_title,
            "当前": ranking.value_text,
            "依据条款": ranking.citation,
            "要求": ranking.requirement_text,
            "达标规则": ranking.rules_met.astype(str) + "/" + ranking.rules.astype(str),
            "类型": ranking.unit_kind.map(BUYER_KINDS),
            "辖区": _region_names(ranking.jurisdiction_code, region_names),
        }
    )
    url_unit = st.query_params.get("unit")
    preselect = ranking.index[ranking.unit_id.astype(str) == url_unit].tolist()[:1]
    event = st.dataframe(
        _badged(shown),
        hide_index=True,
        width="stretch",
        height=420,
        key="proc_rank",
        on_select="rerun",
        selection_mode="single-row",
        selection_default={"selection": {"rows": preselect}} if preselect else None,
        column_config={
            "排名": st.column_config.NumberColumn(width=40),
            "状态": STATUS_COLUMN,
            "单位": st.column_config.TextColumn(width=150),
            "差额（万元）": st.column_config.TextColumn(
                width=90, alignment="right", help="按时间进度应达与实际之差；报送类规则无金额，记为「—」"
            ),
            "最落后的规则": st.column_config.TextColumn(width=300),
            "当前": st.column_config.TextColumn(width=160),
            "依据条款": st.column_config.TextColumn(width=330),
        },
    )
    rows = event.selection.rows
    unit_id = int(ranking.unit_id.iloc[rows[0]]) if rows else None
    if unit_id is None and "unit" in st.query_params:
        del st.query_params["unit"]
    elif unit_id is not None:
        st.query_params["unit"] = str(unit_id)
    _downloads(f, k, behind, shown, region_names)
    return unit_id


def _downloads(f: Filters, k: dict, behind: pd.DataFrame, shown: pd.DataFrame, region_names: dict) -> None:
    """The notice list (XLSX, with the rule and clause of each unit) and the ranking as shown (CSV)."""
    note = (
        f"消费帮扶采购进度通报（截至{f.end:%Y年%m月%d日}，时间进度{pct_text(k['time_progress'])}）："
        f"{len(behind)}个单位未达时间进度要求，先红后黄、按落后金额排序（序号即页面排名）；每行注明最落后的规则及其政策依据。"
    )
    d1, d2, _ = st.columns([1, 1, 2])
    d1.download_button(
        "下载通报名单（XLSX）",
        tables.audited(
            partial(_notice_xlsx, behind, region_names, note), f"采购进度通报_{f.end:%Y%m%d}.xlsx", len(behind), note
        ),
        file_name=f"采购进度通报_{f.end:%Y%m%d}.xlsx",
        mime=XLSX_MIME,
        key="proc_notice",
        width="stretch",
        type="primary",
        disabled=behind.empty,
        on_click="ignore",
    )
    d2.download_button(
        "下载单位排名（CSV）",
        tables.audited(partial(csv_bytes, shown), f"单位排名_{f.end:%Y%m%d}.csv", len(shown), tables.filters_words()),
        file_name=f"单位排名_{f.end:%Y%m%d}.csv",
        mime=CSV_MIME,
        key="proc_rank_csv",
        width="stretch",
        on_click="ignore",
    )


def _unit_detail(f: Filters, unit_id: int, evaluated: pd.DataFrame, regions: pd.DataFrame) -> None:
    """The picked unit: its budget figures, the rules that apply to it, its purchases."""
    profile = cache.query(unit_profile, unit_id, f.end.year)
    unit_rows = cache.query(unit_purchases, f, unit_id)
    totals = cache.query(unit_purchase_totals, f, unit_id)
    with st.container(border=True):
        st.subheader(
            f"{profile['name']}（{BUYER_KINDS.get(profile['kind'], profile['kind'])}，"
            f"{region_name(regions, profile['region_code'])}）"
        )
        budget = [("年度计划", money_text(profile["plan_amount"], 1))]
        if profile["canteen_food_budget"] is not None:
            budget += [
                ("食堂食材采购预算", money_text(profile["canteen_food_budget"], 1)),
                (
                    "预留份额",
                    pct_text(profile["reserved_share"]) if profile["reserved_share"] is not None else "未填报",
                ),
                ("预留金额", money_text(profile["reserved_amount"], 1)),
            ]
        if profile["union_members"] is not None:
            budget += [
                ("工会会员", f"{profile['union_members']:,}人"),
                ("节日慰问品经费", money_text(profile["gift_budget"], 1)),
                ("集体福利额度", money_text(profile["welfare_budget"], 1)),
            ]
        budget.append((f"本期采购（{totals['purchases']:,}笔）", money_text(totals["amount"], 1)))
        cols = st.columns(len(budget))
        for col, (label, value) in zip(cols, budget, strict=True):
            col.metric(label if label.startswith("本期") else f"{f.end.year}年{label}", value)
        mine = evaluated[evaluated.unit_id == unit_id]
        st.markdown("**适用规则**")
        # Who is behind, by how much, under which clause first; the arithmetic after.
        st.dataframe(
            _badged(
                pd.DataFrame(
                    {
                        "状态": mine.status.map(rules.STATUS_LABELS),
                        "规则": mine.rule_title,
                        "差额（万元）": _wan(mine.gap_yuan),
                        "当前": mine.value_text,
                        "要求": mine.requirement_text,
                        "政策依据": mine.clause,
                        "实际（万元）": _wan(mine.actual_yuan),
                        "按进度应达（万元）": _wan(mine.expected_yuan),
                        "全年目标（万元）": _wan(mine.target_yuan),
                    }
                )
            ),
            hide_index=True,
            width="stretch",
            column_config={"状态": STATUS_COLUMN},
        )
        st.markdown(
            f"**采购明细**（本期 {totals['purchases']:,} 笔"
            + (f"，显示最近 {len(unit_rows)} 笔" if len(unit_rows) < totals["purchases"] else "")
            + "）"
        )
        detail = pd.DataFrame(
            {
                "日期": unit_rows.purchase_date,
                "产品": unit_rows["product"],
                "品类": unit_rows.category.map(CATEGORIES),
                "产地": unit_rows.origin,
                "渠道": unit_rows.channel.map(CHANNELS),
                "用途": unit_rows.purpose.map(PURPOSES),
                "数量（kg）": unit_rows.quantity,
                "金额（元）": unit_rows.amount,
                "凭证号": unit_rows.voucher_no,
            }
        )
        st.dataframe(
            detail,
            hide_index=True,
            width="stretch",
            height=300,
            key="proc_unit_rows",
            column_config={"金额（元）": st.column_config.NumberColumn(format="%.2f")},
        )
        tables.download_buttons(detail, f"{profile['name']}_采购明细", key="proc_unit_dl")


def _by_rule(f: Filters, progress: dict, region_names: dict) -> None:
    st.subheader("按规则")
    overview = progress["overview"]
    rule_table = pd.DataFrame(
        {
            "规则": overview.rule_title,
            "辖区": _region_names(overview.jurisdiction_code, region_names),
            "评价对象": overview.subjects,
            "绿": overview.green,
            "黄": overview.yellow,
            "红": overview.red,
            "落后合计（元）": overview.gap_yuan,
            "政策依据": overview.clause,
        }
    )
    tables.chart_and_table(
        progress_charts.rule_status_bars(overview), rule_table, f"{f.year}年规则达标情况", key="proc_rules"
    )


def _monthly(f: Filters, k: dict, monthly: pd.DataFrame) -> None:
    st.subheader("累计采购额与时间进度")
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
        charts.cumulative_vs_progress(monthly, k["plan"], f.year), table, f"{f.year}年月度采购额", key="proc_monthly"
    )


def _composition(f: Filters) -> None:
    """Amounts beside last year by channel, buyer kind and origin (at the level the filters allow)."""
    st.subheader("采购构成")
    origin_title = {"province": "产地（省）", "city": "产地（市）", "county": "产地（县）"}[origin_group_level(f)]
    parts = st.columns(3)
    for col, (dimension, title) in zip(
        parts, (("channel", "渠道"), ("buyer_kind", "单位类型"), ("origin", origin_title)), strict=True
    ):
        with col:
            st.markdown(f"**按{title}**")
            df = cache.query(amount_by, f, dimension)
            table = pd.DataFrame(
                {
                    title: df.label,
                    "金额（元）": df.amount,
                    "上年同期（元）": df.amount_last_year,
                    "笔数": df.purchases,
                    "占比": df.share.round(4),
                }
            )
            tables.chart_and_table(
                progress_charts.amount_vs_last_year(df, "label", f.year),
                table,
                f"{f.year}年按{title}采购额",
                key=f"proc_by_{dimension}",
            )


def render() -> None:
    """采购进度: KPIs, unit ranking and the picked unit, by rule, by month, composition."""
    f = ui.current_filters()
    st.title("采购进度")
    ui.freshness(
        "采购明细（purchase）汇总；目标取单位年度预算（unit_budget）与政策规则表（policy_rule），每条规则注明文件与条款"
    )

    k = cache.query(procurement_kpis, f)
    progress = cache.query(rule_progress, f)
    monthly = cache.query(monthly_amounts, f)
    regions = cache.shared(region_table)

    st.caption(
        f"{ui.describe_filters(f)} ｜ 规则按自然年累计至 {f.end:%Y年%m月%d日} "
        f"评价，时间进度 {pct_text(k['time_progress'])}"
    )
    region_names = dict(zip(regions.code, regions.name, strict=True))
    n_red = int((progress["behind"].status == "red").sum())

    _kpis(k, progress["summary"], n_red)
    unit_id = _ranking(f, k, progress, region_names, n_red)
    if unit_id is not None:
        _unit_detail(f, unit_id, progress["evaluated"], regions)
    _by_rule(f, progress, region_names)
    _monthly(f, k, monthly)
    _composition(f)


render()
