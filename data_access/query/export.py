"""Downloads that are safe to open in Excel/WPS: CSV (UTF-8 with BOM) and XLSX.

Text cells starting with = + - @ (or a tab/CR, or the full-width forms that WPS also runs)
would run as formulas when opened; they are prefixed with an apostrophe so they show as the
text they are. ``ingest`` uses the same ``neutralise`` for its templates and re-exports it as
``safe_cell``.

Every file that leaves through a download carries who made it and when — the **export stamp**
(``stamp_line``: 「导出：张三（zhangsan），2026-12-03 21:00，筛选：…」):

- CSV: the stamp is the first line (one cell), the table's header the second; the importer's header
  search reads past it, so a stamped CSV re-imports like an unstamped one.
- XLSX: the stamp is row 1 of every sheet (above the note, if any, and the table), the printed
  page's footer, and the workbook's properties (creator, description); the importer reads past it,
  so a register export still re-imports unchanged.
- PPTX: a grey line at the foot of every slide and the deck's properties (``stamp_pptx``).
- ZIP: each file inside stamped as above (``stamp_file``).
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime

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


STAMP_PREFIX = "导出："


def stamp_line(who: str, at: datetime, filters: str | None = None) -> str:
    """The export stamp: who made the file, when, under which filters."""
    line = f"{STAMP_PREFIX}{who}，{at:%Y-%m-%d %H:%M}"
    return line + (f"，筛选：{filters}" if filters else "")


def _stamp_row(stamp: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([neutralise(stamp)])
    return out.getvalue()


def csv_bytes(df: pd.DataFrame, stamp: str | None = None) -> bytes:
    """CSV with a BOM so Excel and WPS read the Chinese correctly; ``stamp`` as its first line."""
    text = safe_frame(df).to_csv(index=False, lineterminator="\n")
    return ((_stamp_row(stamp) if stamp else "") + text).encode("utf-8-sig")


def stamp_workbook(wb, stamp: str, shift: bool = False) -> None:
    """The stamp in an openpyxl workbook's properties and every sheet's printed footer; with
    ``shift`` also as a new row 1 of every sheet (frozen panes, merged cells and filters move down)."""
    wb.properties.creator = wb.properties.lastModifiedBy = stamp.removeprefix(STAMP_PREFIX).split("，")[0][:255]
    wb.properties.description = stamp
    wb.properties.keywords = "导出水印"
    for ws in wb.worksheets:
        ws.oddFooter.center.text = stamp.replace("&", "&&")
        ws.evenFooter.center.text = stamp.replace("&", "&&")
        if shift:
            _insert_stamp_row(ws, stamp)


def _insert_stamp_row(ws, stamp: str) -> None:
    # Deferred: openpyxl is needed only to write a workbook.
    from openpyxl.utils.cell import coordinate_from_string

    frozen = ws.freeze_panes
    merged = list(ws.merged_cells.ranges)
    for rng in merged:
        ws.merged_cells.remove(rng)
    ws.insert_rows(1)
    for rng in merged:
        rng.shift(row_shift=1)
        ws.merged_cells.add(rng)
    if frozen:
        col, row = coordinate_from_string(frozen)
        ws.freeze_panes = f"{col}{row + 1}"
    if ws.auto_filter.ref:
        ws.auto_filter.ref = None
    ws.cell(row=1, column=1, value=neutralise(stamp))


def xlsx_bytes(sheets: dict[str, pd.DataFrame], notes: dict[str, str] | None = None, stamp: str | None = None) -> bytes:
    """One XLSX with a sheet per table; ``stamp`` (row 1), then an optional note line, above a sheet's header."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        for name, df in sheets.items():
            note = (notes or {}).get(name)
            lines = [line for line in (stamp, note) if line]
            safe_frame(df).to_excel(writer, sheet_name=name[:31], index=False, startrow=len(lines) + 1 if lines else 0)
            for row, line in enumerate(lines, start=1):
                writer.sheets[name[:31]].cell(row=row, column=1, value=neutralise(line))
        if stamp:
            stamp_workbook(writer.book, stamp)
    return buf.getvalue()


def stamp_pptx(prs, stamp: str) -> None:
    """The stamp in a python-pptx presentation: a grey line at the foot of every slide and the
    deck's properties (author, comments)."""
    # Deferred: python-pptx is needed only to write a deck.
    from pptx.dml.color import RGBColor
    from pptx.util import Emu, Pt

    who = stamp.removeprefix(STAMP_PREFIX).split("，")[0][:255]
    prs.core_properties.author = prs.core_properties.last_modified_by = who
    prs.core_properties.comments = stamp
    prs.core_properties.keywords = "导出水印"
    height = Emu(int(prs.slide_height * 0.04))
    for slide in prs.slides:
        box = slide.shapes.add_textbox(
            Emu(int(prs.slide_width * 0.03)), prs.slide_height - height, Emu(int(prs.slide_width * 0.94)), height
        )
        box.name = "导出水印"
        run = box.text_frame.paragraphs[0].add_run()
        run.text = stamp
        run.font.size = Pt(9)
        run.font.color.rgb = RGBColor(0x80, 0x80, 0x80)


def stamp_file(data: bytes, name: str, stamp: str) -> bytes:
    """``data`` (a file named ``name``, made without a stamp) with ``stamp`` added: CSV, XLSX and
    PPTX as the module says, each member of a ZIP likewise; any other file unchanged."""
    kind = name.rsplit(".", 1)[-1].lower()
    if kind == "csv":
        return (_stamp_row(stamp)).encode("utf-8-sig") + data.removeprefix("\ufeff".encode())
    if kind == "xlsx":
        # Deferred: openpyxl is needed only to rewrite a workbook.
        import openpyxl

        wb = openpyxl.load_workbook(io.BytesIO(data))
        stamp_workbook(wb, stamp, shift=True)
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()
    if kind == "pptx":
        # Deferred: python-pptx is needed only to rewrite a deck.
        from pptx import Presentation

        prs = Presentation(io.BytesIO(data))
        stamp_pptx(prs, stamp)
        buf = io.BytesIO()
        prs.save(buf)
        return buf.getvalue()
    if kind == "zip":
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                zout.writestr(info.filename, stamp_file(zin.read(info), info.filename, stamp))
        return out.getvalue()
    return data
