"""Downloads that are safe to open in Excel/WPS: CSV (UTF-8 with BOM) and XLSX.

Text cells starting with = + - @ (or a tab/CR, or the full-width forms that WPS also runs)
would run as formulas when opened; they are prefixed with an apostrophe so they show as the
text they are. ``ingest`` uses the same ``neutralise`` for its templates and re-exports it as
``safe_cell``.
"""

from __future__ import annotations

import io

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def neutralise(value):
    """``value`` unchanged unless it is text that a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and headers cannot run as formulas."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV with a BOM so Excel and WPS read the Chinese correctly."""
    return safe_frame(df).to_csv(index=False).encode("utf-8-sig")


def xlsx_bytes(sheets: dict[str, pd.DataFrame], notes: dict[str, str] | None = None) -> bytes:
    """One XLSX with a sheet per table; an optional note line above a sheet's header."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        for name, df in sheets.items():
            note = (notes or {}).get(name)
            safe_frame(df).to_excel(writer, sheet_name=name[:31], index=False, startrow=2 if note else 0)
            if note:
                writer.sheets[name[:31]].cell(row=1, column=1, value=neutralise(note))
    return buf.getvalue()
