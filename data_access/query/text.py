"""Figures as the briefings write them: money in 万元/亿元, percent, and the filters in words.

Used by pages, the briefing pack, map tooltips and exports alike, so a figure reads the same everywhere.
"""

from __future__ import annotations

import math

import pandas as pd

from data_access.query.filters import Filters
from data_access.reference.labels import BUYER_KINDS, CATEGORIES, CHANNELS
from data_access.reference.regions import region_name

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
CSV_MIME = "text/csv"
ZIP_MIME = "application/zip"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def money_text(yuan: float | None, digits: int = 2) -> str:
    """Yuan as 亿元 / 万元 / 元 text (— when unknown), the way briefings write money."""
    if _missing(yuan):
        return "—"
    if abs(yuan) >= 1e8:
        return f"{yuan / 1e8:,.{digits}f}亿元"
    if abs(yuan) >= 1e4:
        return f"{yuan / 1e4:,.{digits}f}万元"
    return f"{yuan:,.0f}元"


def pct_text(ratio: float | None, digits: int = 1, signed: bool = False) -> str:
    """A ratio as percent text (0.123 → 12.3%; — when unknown); ``signed`` adds the sign."""
    if _missing(ratio):
        return "—"
    return f"{ratio * 100:+.{digits}f}%" if signed else f"{ratio * 100:.{digits}f}%"


def filters_in_words(f: Filters, regions: pd.DataFrame, unit_name: str = "", *, document: bool = False) -> str:
    """The scope of a view in words — period, region and its side, channel, buyer kind, category,
    a reporter's own unit — for page captions, the briefing pack and export headers. A page caption
    leaves the year out of the period's end when it is the start's; a ``document`` (a file that
    leaves the dashboard) always writes it."""
    same_year = f.end.year == f.start.year and not document
    end = f"{f.end:%m月%d日}" if same_year else f"{f.end:%Y年%m月%d日}"
    parts = [
        f"{f.start:%Y年%m月%d日}至{end}",
        f"{'产地' if f.region_side == 'origin' else '采购方'}：{region_name(regions, f.region_code)}",
    ]
    if f.channels:
        parts.append("渠道：" + "、".join(CHANNELS.get(c, c) for c in f.channels))
    if f.buyer_kinds:
        parts.append("单位：" + "、".join(BUYER_KINDS.get(c, c) for c in f.buyer_kinds))
    if f.categories:
        parts.append("品类：" + "、".join(CATEGORIES.get(c, c) for c in f.categories))
    if f.own_unit_id is not None:
        parts.append(f"仅本单位：{unit_name or f.own_unit_id}")
    return " ｜ ".join(parts)
