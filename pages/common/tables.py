"""A chart that can also be read as a table and downloaded (CSV / XLSX, formula-safe, stamped with
who exported it and when).

Every download of the dashboard goes through ``audited``: the file is made on the click with the
export stamp (``trust.stamps.export_stamp``) and the download is written to the audit log. The
grids' own CSV download and copy are off (``client.disableDataExport`` in .streamlit/config.toml)."""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from data_access import cache
from data_access.desks.ingest import template_bytes
from data_access.query.export import csv_bytes, stamp_file, xlsx_bytes
from data_access.query.text import CSV_MIME, XLSX_MIME, filters_in_words
from data_access.reference.regions import region_table
from data_access.trust.audit import record_download
from data_access.trust.stamps import export_stamp


def filters_words() -> str | None:
    """The sidebar filters of this run in words (None before the router drew them)."""
    f = st.session_state.get("filters")
    return filters_in_words(f, cache.shared(region_table), cache.principal().unit_name) if f is not None else None


def audited(make, what: str, rows: int | None, filters: str | None = None):
    """A download button's ``data``: builds the file when clicked and writes the download to the
    audit log — the file, under which filters, how many rows.

    The file carries the export stamp (who, when, the filters): ``make(stamp=…)`` writes it in its
    place; bytes made beforehand are stamped afterwards (``query.export.stamp_file``, by the
    extension of ``what``). Streamlit runs the callable off the script thread (no session), so the
    principal is taken now."""
    principal = cache.principal()

    def build():
        stamp = export_stamp(principal, filters)
        data = make(stamp=stamp) if callable(make) else stamp_file(make, what, stamp)
        cache.run(record_download, principal, what, rows, filters)
        return data

    return build


def download_buttons(df: pd.DataFrame, name: str, key: str, note: str | None = None) -> None:
    """CSV and XLSX of ``df``; ``note`` (what the figures are, under which filters) heads the XLSX sheet.

    The files are made when the button is clicked (a callable ``data``), not on every rerun:
    writing an XLSX costs tens of milliseconds per table, more than the page's cached data."""
    c1, c2 = st.columns(2)
    words = note or filters_words()
    c1.download_button(
        "下载 CSV",
        audited(partial(csv_bytes, df), f"{name}.csv", len(df), words),
        file_name=f"{name}.csv",
        mime=CSV_MIME,
        key=f"{key}_csv",
        width="stretch",
        on_click="ignore",
    )
    c2.download_button(
        "下载 XLSX",
        audited(partial(xlsx_bytes, {name: df}, notes={name: note} if note else None), f"{name}.xlsx", len(df), words),
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
