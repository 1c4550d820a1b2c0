"""The leading-group briefing pack: a PPTX with native, editable charts and an XLSX of every table.

Both are made from the store alone (no browser, no internet) and open in WPS/Office and
LibreOffice. Text cells of the XLSX are neutralised against formula injection.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from pathlib import Path

import pandas as pd
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.enum.text import PP_ALIGN
from pptx.oxml.ns import qn
from pptx.util import Emu, Inches, Pt
from sqlalchemy import Engine

from data_access.engines.rules import evaluate, units_behind
from data_access.figures.alerts import open_warnings
from data_access.figures.outlets import exit_candidates
from data_access.figures.overview import (
    amount_by_channel,
    briefing_cards,
    changes_since,
    data_as_of,
    money_text,
    monthly_amounts,
    overview_kpis,
)
from data_access.query.export import neutralise, safe_frame, stamp_pptx, stamp_workbook
from data_access.query.filters import Filters, year_filters
from data_access.query.text import filters_in_words
from data_access.reference.labels import (
    BUYER_KINDS,
    CHANNELS,
    OUTLET_KINDS,
    OUTLET_STATUSES,
    WARNING_LEVELS,
    WARNING_STATUSES,
)
from data_access.reference.regions import region_table

FONT = "Microsoft YaHei"
RAG_LABELS = {"green": "绿", "yellow": "黄", "red": "红", None: "暂无数据"}
RAG_RGB = {
    "green": RGBColor(0x2C, 0xA0, 0x2C),
    "yellow": RGBColor(0xE6, 0xB8, 0x00),
    "red": RGBColor(0xD6, 0x27, 0x28),
    None: RGBColor(0x99, 0x99, 0x99),
}
LEVEL_RGB = {
    "red": RGBColor(0xD6, 0x27, 0x28),
    "orange": RGBColor(0xFF, 0x7F, 0x0E),
    "yellow": RGBColor(0xE6, 0xC2, 0x29),
    "blue": RGBColor(0x1F, 0x77, 0xB4),
}
XLSX_FILL = {"绿": "C6EFCE", "黄": "FFEB9C", "红": "FFC7CE"}
NOTICE_ROWS = 12
WARNING_ROWS = 10


def briefing_data(engine: Engine, f: Filters, since: date | None = None) -> dict:
    """Every figure and table of the pack for filters ``f``: ``cards`` (see ``overview.briefing_cards``),
    ``kpis``, ``monthly``, ``channels``, ``behind``, ``evaluation``, ``warnings``, ``exits``,
    ``changes`` (None without ``since``), ``as_of``, ``since`` and ``scope`` (the filters in words)."""
    return dict(
        filters=f,
        as_of=data_as_of(engine),
        since=since,
        scope=filters_in_words(f, region_table(engine), document=True),
        cards=briefing_cards(engine, f),
        kpis=overview_kpis(engine, f),
        monthly=monthly_amounts(engine, f),
        channels=amount_by_channel(engine, f),
        behind=units_behind(engine, f, f.end),
        evaluation=evaluate(engine, f, f.end),
        warnings=open_warnings(engine, f),
        exits=exit_candidates(engine, f, f.end),
        changes=changes_since(engine, f, since) if since else None,
    )


def notice_table(behind: pd.DataFrame) -> pd.DataFrame:
    """通报 list: one row per unit behind, with its worst rule, amounts in yuan and the rule's clause."""
    return pd.DataFrame(
        {
            "序号": range(1, len(behind) + 1),
            "单位": behind.unit_name.to_list(),
            "单位类型": behind.unit_kind.map(lambda k: BUYER_KINDS.get(k, k)).to_list(),
            "未达标规则": behind.rule_title.to_list(),
            "状态": behind.status.map(RAG_LABELS).to_list(),
            "实际（元）": behind.actual_yuan.astype(float).round(2).to_list(),
            "应达（元）": behind.expected_yuan.astype(float).round(2).to_list(),
            "差额（元）": behind.gap_yuan.astype(float).round(2).to_list(),
            "依据条款": behind.clause.to_list(),
        }
    )


def warning_table(warnings: pd.DataFrame) -> pd.DataFrame:
    """Open 滞销 warnings, most severe first: product, place, level, score, reason, status, owner."""
    order = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}
    w = warnings.assign(_o=warnings.level.map(order)).sort_values(["_o", "score"], ascending=[True, False])
    return pd.DataFrame(
        {
            "编号": w.id.to_list(),
            "产品": w.product_name.to_list(),
            "地区": w.region_name.to_list(),
            "等级": w.level.map(lambda v: WARNING_LEVELS.get(v, v)).to_list(),
            "分值": w.score.astype(float).round(2).to_list(),
            "触发原因": w.reason.to_list(),
            "状态": w.status.map(lambda v: WARNING_STATUSES.get(v, v)).to_list(),
            "责任专班": w.owner_group.to_list(),
            "首次预警": w.first_date.to_list(),
        }
    )


def outlet_table(outlets: pd.DataFrame) -> pd.DataFrame:
    """Outlets in words: 网点, 类型, 地区, 状态."""
    return pd.DataFrame(
        {
            "网点": outlets.name.to_list(),
            "类型": outlets.kind.map(lambda k: OUTLET_KINDS.get(k, k)).to_list(),
            "地区": outlets.region_name.to_list(),
            "状态": outlets.status.map(lambda s: OUTLET_STATUSES.get(s, s)).to_list(),
        }
    )


def card_table(cards: list[dict]) -> pd.DataFrame:
    """The KPI strip as a table: 指标, 数值, 状态 (绿/黄/红), 说明, 判定标准."""
    return pd.DataFrame(
        {
            "指标": [c["label"] for c in cards],
            "数值": [c["value"] for c in cards],
            "状态": [RAG_LABELS[c["status"]] for c in cards],
            "说明": [c["detail"] for c in cards],
            "判定标准": [c["rule"] for c in cards],
        }
    )


def pack_tables(data: dict) -> dict[str, pd.DataFrame]:
    """Every table of the pack, by XLSX sheet name (Chinese, ≤31 characters)."""
    m = data["monthly"]
    ev = data["evaluation"]
    tables = {
        "简报指标": card_table(data["cards"]),
        "月度采购": pd.DataFrame(
            {
                "月份": m.month.to_list(),
                "当月（元）": m.amount.round(2).to_list(),
                "累计（元）": m.cumulative.round(2).to_list(),
                "上年当月（元）": m.amount_last_year.round(2).to_list(),
                "上年累计（元）": m.cumulative_last_year.round(2).to_list(),
            }
        ),
        "按渠道": pd.DataFrame(
            {
                "渠道": data["channels"].channel.map(lambda c: CHANNELS.get(c, c)).to_list(),
                "金额（元）": data["channels"].amount.round(2).to_list(),
                "笔数": data["channels"].purchases.to_list(),
            }
        ),
        "通报（落后单位）": notice_table(data["behind"]),
        "规则评价": pd.DataFrame(
            {
                "规则": ev.rule_title.to_list(),
                "单位": ev.unit_name.to_list(),
                "单位类型": ev.unit_kind.map(lambda k: BUYER_KINDS.get(k, k)).to_list(),
                "指标值": ev.value.to_list(),
                "阈值": ev.threshold.to_list(),
                "实际（元）": ev.actual_yuan.to_list(),
                "应达（元）": ev.expected_yuan.to_list(),
                "差额（元）": ev.gap_yuan.to_list(),
                "状态": ev.status.map(RAG_LABELS).to_list(),
                "依据条款": ev.clause.to_list(),
            }
        ),
        "未关闭预警": warning_table(data["warnings"]),
        "拟退出网点": pd.DataFrame(
            {
                "网点": data["exits"].name.to_list(),
                "类型": data["exits"].kind.map(lambda k: OUTLET_KINDS.get(k, k)).to_list(),
                "地区": data["exits"].region_name.to_list(),
                "状态": data["exits"].status.map(lambda s: OUTLET_STATUSES.get(s, s)).to_list(),
                "低销售月数": data["exits"].months_low.to_list(),
                "销售额（元）": data["exits"].sales_yuan.to_list(),
                "原因": data["exits"].reason.to_list(),
            }
        ),
    }
    ch = data["changes"]
    if ch is not None:
        tables["新增预警"] = warning_table(ch["new_warnings"])
        tables["新落后单位"] = notice_table(ch["fell_behind"])
        tables["已追上单位"] = notice_table(ch["caught_up"])
        tables["新增网点"] = outlet_table(ch["new_outlets"])
    return tables


def xlsx_pack(data: dict, stamp: str | None = None) -> bytes:
    """The XLSX of every table: a sheet each, a heading line with scope and date, 绿/黄/红 cells filled;
    ``stamp`` (who exported it, when: ``query.export.stamp_line``) above the heading and in the footer."""
    heading = f"消费帮扶工作简报 ｜ {data['scope']} ｜ 数据截至 {_day(data['as_of'])}"
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        for name, df in pack_tables(data).items():
            safe_frame(df).to_excel(writer, sheet_name=name, index=False, startrow=2)
            ws = writer.sheets[name]
            ws.cell(row=1, column=1, value=neutralise(heading)).font = Font(bold=True)
            for i, col in enumerate(df.columns, start=1):
                width = max([len(str(col))] + [len(str(v)) for v in df[col].head(200)]) + 2
                ws.column_dimensions[get_column_letter(i)].width = min(60, max(8, width * 1.6))
                ws.cell(row=3, column=i).alignment = Alignment(wrap_text=True)
            if "状态" in df.columns:
                col = list(df.columns).index("状态") + 1
                for r in range(4, len(df) + 4):
                    fill = XLSX_FILL.get(ws.cell(row=r, column=col).value)
                    if fill:
                        ws.cell(row=r, column=col).fill = PatternFill("solid", fgColor=fill)
            ws.freeze_panes = "A4"
        if stamp:
            stamp_workbook(writer.book, stamp, shift=True)
    return buf.getvalue()


def _day(d: date | None) -> str:
    return f"{d:%Y年%m月%d日}" if d else "暂无数据"


def _font(run, size: float, bold: bool = False, color: RGBColor | None = None) -> None:
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.name = FONT
    if color is not None:
        run.font.color.rgb = color
    rpr = run._r.get_or_add_rPr()
    ea = rpr.find(qn("a:ea"))
    if ea is None:
        ea = rpr.makeelement(qn("a:ea"), {})
        rpr.append(ea)
    ea.set("typeface", FONT)


def _text(
    slide,
    x,
    y,
    w,
    h,
    text: str,
    size: float = 14,
    bold: bool = False,
    color: RGBColor | None = None,
    align=PP_ALIGN.LEFT,
    name: str | None = None,
):
    box = slide.shapes.add_textbox(x, y, w, h)
    if name:
        box.name = name
    tf = box.text_frame
    tf.word_wrap = True
    for i, line in enumerate(text.split("\n")):
        p = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
        p.alignment = align
        _font(p.add_run(), size, bold, color)
        p.runs[0].text = line
    return box


def _title(slide, text: str, sub: str | None = None) -> None:
    _text(
        slide,
        Inches(0.5),
        Inches(0.25),
        Inches(12.3),
        Inches(0.7),
        text,
        size=26,
        bold=True,
        color=RGBColor(0xA0, 0x1D, 0x1D),
    )
    if sub:
        _text(
            slide, Inches(0.5), Inches(0.9), Inches(12.3), Inches(0.4), sub, size=12, color=RGBColor(0x59, 0x59, 0x59)
        )


def _table(slide, df: pd.DataFrame, x, y, w, h, name: str, size: float = 10, widths: list[float] | None = None):
    shape = slide.shapes.add_table(len(df) + 1, len(df.columns), x, y, w, h)
    shape.name = name
    table = shape.table
    for j, col in enumerate(df.columns):
        if widths:
            table.columns[j].width = Emu(int(w * widths[j] / sum(widths)))
        cell = table.cell(0, j)
        cell.text_frame.paragraphs[0].text = ""
        _font(cell.text_frame.paragraphs[0].add_run(), size, bold=True)
        cell.text_frame.paragraphs[0].runs[0].text = str(col)
    for i, row in enumerate(df.itertuples(index=False), start=1):
        for j, value in enumerate(row):
            cell = table.cell(i, j)
            cell.text_frame.word_wrap = True
            run = cell.text_frame.paragraphs[0].add_run()
            _font(run, size)
            run.text = _cell_text(value)
            if df.columns[j] in ("状态", "等级") and str(value) in ("红", "红色"):
                run.font.color.rgb = RAG_RGB["red"]
    return table


def _cell_text(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _kpi_strip(slide, cards: list[dict], top) -> None:
    width, gap = Inches(2.0), Inches(0.08)
    for i, card in enumerate(cards):
        x = Inches(0.5) + i * (width + gap)
        bar = slide.shapes.add_shape(1, x, top, width, Inches(0.12))
        bar.name = f"kpi_{card['key']}_status"
        bar.fill.solid()
        bar.fill.fore_color.rgb = RAG_RGB[card["status"]]
        bar.line.fill.background()
        _text(
            slide,
            x,
            top + Inches(0.15),
            width,
            Inches(0.4),
            f"{card['label']}（{RAG_LABELS[card['status']]}）",
            size=11,
            bold=True,
        )
        _text(
            slide,
            x,
            top + Inches(0.55),
            width,
            Inches(0.55),
            card["value"],
            size=16,
            bold=True,
            color=RAG_RGB[card["status"]],
            name=f"kpi_{card['key']}",
        )
        _text(slide, x, top + Inches(1.1), width, Inches(0.9), card["detail"], size=9, color=RGBColor(0x40, 0x40, 0x40))


def _line_chart(slide, monthly: pd.DataFrame, plan: float, year: int, x, y, w, h):
    cd = CategoryChartData(number_format="#,##0.0")
    cd.categories = [f"{m}月" for m in monthly.month]
    cd.add_series(f"{year}年累计（万元）", [None if pd.isna(v) else round(v / 1e4, 2) for v in monthly.cumulative])
    cd.add_series(f"{year - 1}年累计（万元）", [round(v / 1e4, 2) for v in monthly.cumulative_last_year])
    if plan:
        cd.add_series("时间进度线（计划×月份/12，万元）", [round(plan / 1e4 * m / 12, 2) for m in monthly.month])
    frame = slide.shapes.add_chart(XL_CHART_TYPE.LINE_MARKERS, x, y, w, h, cd)
    frame.name = "chart_cumulative"
    chart = frame.chart
    colours = [RGBColor(0xC0, 0x39, 0x2B), RGBColor(0x7F, 0x8C, 0x8D), RGBColor(0x27, 0xAE, 0x60)]
    for series, colour in zip(chart.plots[0].series, colours, strict=False):
        series.format.line.color.rgb = colour
        series.smooth = False
    _chart_style(chart)
    return chart


def _bar_chart(
    slide,
    categories: list[str],
    values: list[float],
    series_name: str,
    name: str,
    x,
    y,
    w,
    h,
    colours: list[RGBColor] | None = None,
    horizontal: bool = True,
):
    cd = CategoryChartData(number_format="#,##0.0")
    cd.categories = categories
    cd.add_series(series_name, values)
    kind = XL_CHART_TYPE.BAR_CLUSTERED if horizontal else XL_CHART_TYPE.COLUMN_CLUSTERED
    frame = slide.shapes.add_chart(kind, x, y, w, h, cd)
    frame.name = name
    chart = frame.chart
    plot = chart.plots[0]
    plot.has_data_labels = True
    plot.data_labels.number_format = "#,##0.0" if not colours else "0"
    plot.data_labels.number_format_is_linked = False
    for i, colour in enumerate(colours or []):
        point = plot.series[0].points[i]
        point.format.fill.solid()
        point.format.fill.fore_color.rgb = colour
    _chart_style(chart, legend=False)
    return chart


def _chart_style(chart, legend: bool = True) -> None:
    chart.font.size = Pt(10)
    chart.font.name = FONT
    chart.has_legend = legend
    if legend:
        chart.legend.position = XL_LEGEND_POSITION.BOTTOM
        chart.legend.include_in_layout = False


def pptx_pack(data: dict, demo: bool = False, stamp: str | None = None) -> bytes:
    """The briefing deck: title, KPI strip with the cumulative chart, channels, warnings, 通报 list,
    changes since the chosen date, sources and thresholds. Charts are native and editable.
    ``stamp`` (who exported it, when) at the foot of every slide and in the deck's properties."""
    f: Filters = data["filters"]
    k = data["kpis"]
    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
    blank = prs.slide_layouts[6]
    grey = RGBColor(0x59, 0x59, 0x59)

    s = prs.slides.add_slide(blank)
    _text(
        s,
        Inches(0.8),
        Inches(2.3),
        Inches(11.7),
        Inches(1.0),
        "消费帮扶工作简报",
        size=40,
        bold=True,
        color=RGBColor(0xA0, 0x1D, 0x1D),
        align=PP_ALIGN.CENTER,
    )
    _text(
        s,
        Inches(0.8),
        Inches(3.5),
        Inches(11.7),
        Inches(1.5),
        f"{data['scope']}\n数据截至 {_day(data['as_of'])} ｜ 生成于 {datetime.now():%Y年%m月%d日 %H:%M}"
        + ("\n演示数据：人员与单位均为虚构" if demo else ""),
        size=16,
        color=grey,
        align=PP_ALIGN.CENTER,
    )

    s = prs.slides.add_slide(blank)
    _title(s, "一、总体进度", data["scope"])
    _kpi_strip(s, data["cards"], Inches(1.4))
    _line_chart(s, data["monthly"], k["plan"], f.year, Inches(0.5), Inches(3.5), Inches(12.3), Inches(3.6))
    _text(
        s,
        Inches(0.5),
        Inches(7.05),
        Inches(12.3),
        Inches(0.35),
        "状态：绿=达到或好于标准，黄=需关注，红=落后，暂无数据=没有可判断的数据；判定标准见末页。",
        size=9,
        color=grey,
    )

    s = prs.slides.add_slide(blank)
    _title(s, "二、采购结构", "按渠道的采购额（万元）")
    ch = data["channels"]
    _bar_chart(
        s,
        [CHANNELS.get(c, c) for c in ch.channel][::-1],
        [round(v / 1e4, 2) for v in ch.amount][::-1],
        "采购额（万元）",
        "chart_channels",
        Inches(0.5),
        Inches(1.4),
        Inches(12.3),
        Inches(5.6),
    )

    s = prs.slides.add_slide(blank)
    counts = data["cards"][4]["figures"]
    _title(
        s,
        "三、滞销预警",
        f"未关闭预警 {sum(counts.values())} 条："
        + "、".join(f"{WARNING_LEVELS[lv]}{counts[lv]}" for lv in ("red", "orange", "yellow", "blue")),
    )
    levels = ["red", "orange", "yellow", "blue"]
    _bar_chart(
        s,
        [WARNING_LEVELS[lv] for lv in levels],
        [counts[lv] for lv in levels],
        "未关闭预警（条）",
        "chart_warnings",
        Inches(0.5),
        Inches(1.4),
        Inches(4.0),
        Inches(5.4),
        colours=[LEVEL_RGB[lv] for lv in levels],
        horizontal=False,
    )
    wt = warning_table(data["warnings"]).head(WARNING_ROWS)
    if wt.empty:
        # No warning on no series is no judgement: the card has no status then (overview.warning_rag).
        monitored = next(c for c in data["cards"] if c["key"] == "warnings")["status"] is not None
        empty = "当前没有未关闭的滞销预警。" if monitored else "暂无数据：未监测任何价格序列。"
        _text(s, Inches(4.8), Inches(1.5), Inches(8.0), Inches(0.5), empty, size=14)
    else:
        _table(
            s,
            wt[["产品", "地区", "等级", "触发原因", "状态", "责任专班"]],
            Inches(4.8),
            Inches(1.4),
            Inches(8.0),
            Inches(0.3) * (len(wt) + 1),
            "table_warnings",
            size=9,
            widths=[1.4, 1.2, 0.7, 3.6, 0.9, 1.2],
        )

    s = prs.slides.add_slide(blank)
    behind = data["behind"]
    _title(
        s,
        "四、通报：进度落后单位",
        f"共 {len(behind)} 个单位未达标，按差额排序列前 {min(NOTICE_ROWS, len(behind))} 个；"
        "全部名单见 XLSX「通报（落后单位）」",
    )
    nt = notice_table(behind).head(NOTICE_ROWS)
    if nt.empty:
        judged = next(c for c in data["cards"] if c["key"] == "rules")["figures"]["total"]
        empty = "所有单位均达到规则要求。" if judged else "暂无数据：没有可评价的单位（请先导入单位名录与年度预算）。"
        _text(s, Inches(0.5), Inches(1.5), Inches(12.3), Inches(0.5), empty, size=14)
    else:
        shown = nt.assign(**{c: nt[c].map(money_text) for c in ("实际（元）", "应达（元）", "差额（元）")}).rename(
            columns={"实际（元）": "实际", "应达（元）": "应达", "差额（元）": "差额"}
        )
        _table(
            s,
            shown,
            Inches(0.5),
            Inches(1.4),
            Inches(12.3),
            Inches(0.38) * (len(shown) + 1),
            "table_notice",
            size=9,
            widths=[0.5, 2.6, 0.9, 2.0, 0.5, 1.1, 1.1, 1.1, 3.2],
        )

    changes = data["changes"]
    if changes is not None:
        s = prs.slides.add_slide(blank)
        _title(s, f"五、{_day(data['since'])}以来的变化")
        lines = [
            f"新增滞销预警 {len(changes['new_warnings'])} 条"
            + ("：" + "、".join(changes["new_warnings"].product_name.head(8)) if len(changes["new_warnings"]) else ""),
            f"新落后单位 {len(changes['fell_behind'])} 个"
            + ("：" + "、".join(changes["fell_behind"].unit_name.head(8)) if len(changes["fell_behind"]) else ""),
            f"已追上单位 {len(changes['caught_up'])} 个"
            + ("：" + "、".join(changes["caught_up"].unit_name.head(8)) if len(changes["caught_up"]) else ""),
            f"新增网点 {len(changes['new_outlets'])} 个"
            + ("：" + "、".join(changes["new_outlets"].name.head(8)) if len(changes["new_outlets"]) else ""),
        ]
        _text(s, Inches(0.5), Inches(1.4), Inches(12.3), Inches(5.5), "\n".join(lines), size=16, name="changes")

    s = prs.slides.add_slide(blank)
    _title(s, "附：判定标准与数据来源")
    rules = "\n".join(f"{c['label']}：{c['rule']}" for c in data["cards"])
    _text(s, Inches(0.5), Inches(1.3), Inches(12.3), Inches(3.0), rules, size=13)
    _text(
        s,
        Inches(0.5),
        Inches(4.4),
        Inches(12.3),
        Inches(2.8),
        "采购额：采购明细（purchase）汇总；年度计划：单位年度预算表（unit_budget）的指导计划；"
        "时间进度：截至期末全年已过天数占比。\n规则达标与落后单位：政策规则（policy_rule）逐单位评价，条款见通报名单。\n"
        "滞销预警：价格/销量监测序列的季节性异常（warning）。网点：五专网点与示范点（outlet）。",
        size=12,
        color=grey,
    )

    if stamp:
        stamp_pptx(prs, stamp)
    buf = io.BytesIO()
    prs.save(buf)
    return buf.getvalue()


def pack_file_stem(data: dict) -> str:
    """File name without extension: 消费帮扶简报_<period end as yyyymmdd>."""
    return f"消费帮扶简报_{data['filters'].end:%Y%m%d}"


def write_pack(
    engine: Engine,
    out_dir: str | Path,
    as_of: date | None = None,
    since: date | None = None,
    demo: bool = False,
    stamp: str | None = None,
) -> tuple[Path, Path]:
    """Write the PPTX and XLSX for the year to ``as_of`` (default: the store's latest date) into ``out_dir``."""
    as_of = as_of or data_as_of(engine) or date.today()
    data = briefing_data(engine, year_filters(as_of.year, as_of), since)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = pack_file_stem(data)
    pptx_path, xlsx_path = out / f"{stem}.pptx", out / f"{stem}.xlsx"
    pptx_path.write_bytes(pptx_pack(data, demo=demo, stamp=stamp))
    xlsx_path.write_bytes(xlsx_pack(data, stamp=stamp))
    return pptx_path, xlsx_path


def zip_pack(data: dict, demo: bool = False, stamp: str | None = None) -> bytes:
    """The PPTX and the XLSX in one ZIP, named by ``pack_file_stem``, each with ``stamp``."""

    stem = pack_file_stem(data)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{stem}.pptx", pptx_pack(data, demo=demo, stamp=stamp))
        z.writestr(f"{stem}.xlsx", xlsx_pack(data, stamp=stamp))
    return buf.getvalue()
