"""A chart that can also be read as a table and downloaded (CSV / XLSX, formula-safe)."""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from data_access.desks.ingest import template_bytes
from data_access.query.export import csv_bytes, xlsx_bytes
from data_access.query.text import CSV_MIME, XLSX_MIME


def download_buttons(df: pd.DataFrame, name: str, key: str, note: str | None = None) -> None:
    """CSV and XLSX of ``df``; ``note`` (what the figures are, under which filters) heads the XLSX sheet.

    The files are made when the button is clicked (a callable ``data``), not on every rerun:
    writing an XLSX costs tens of milliseconds per table, more than the page's cached data."""
    c1, c2 = st.columns(2)
    c1.download_button(
        "下载 CSV",
        partial(csv_bytes, df),
        file_name=f"{name}.csv",
        mime=CSV_MIME,
        key=f"{key}_csv",
        width="stretch",
        on_click="ignore",
    )
    c2.download_button(
        "下载 XLSX",
        partial(xlsx_bytes, {name: df}, notes={name: note} if note else None),
        file_name=f"{name}.xlsx",
        key=f"{key}_xlsx",
        mime=XLSX_MIME,
        width="stretch",
        on_click="ignore",
    )


def chart_and_table(fig, table: pd.DataFrame, name: str, key: str, note: str | None = None, **chart_kwargs):
    """Tabs 图表 / 数据表 with downloads of exactly the table shown (``note`` heads the XLSX).
    Returns the chart event."""
    tab_chart, tab_table = st.tabs(["图表", "数据表"])
    with tab_chart:
        event = st.plotly_chart(fig, width="stretch", key=key, **chart_kwargs)
    with tab_table:
        st.dataframe(table, hide_index=True, width="stretch")
        download_buttons(table, name, key, note)
    return event


def template_buttons(form: str, title: str, key: str, columns: list) -> None:
    """The blank template of an upload form as XLSX and CSV, in two given columns (files made on click)."""
    for col, kind, mime in ((columns[0], "xlsx", XLSX_MIME), (columns[1], "csv", CSV_MIME)):
        col.download_button(
            f"下载模板（{kind.upper()}）",
            partial(template_bytes, form, kind),
            file_name=f"{title}模板.{kind}",
            mime=mime,
            key=f"{key}_{kind}_{form}",
            width="stretch",
            on_click="ignore",
        )
