"""Every CSV / XLSX / PPTX export carries who made it and when (the export stamp), on both stores:
the plain table downloads, the register exports (which still re-import unchanged), the briefing and
meeting packs, the audit log export, the command line, and the page's one download path
(``pages.common.tables.audited``), which also writes the download to the audit log."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from functools import partial

import openpyxl
import pandas as pd
import pytest
from pptx import Presentation

from data_access import cli
from data_access.desks.ingest import parse_upload
from data_access.desks.registers import commit_register, register_export, register_frame
from data_access.packs.briefing import briefing_data, pptx_pack, xlsx_pack, zip_pack
from data_access.packs.meeting import meeting_pack
from data_access.query.export import STAMP_PREFIX, csv_bytes, stamp_file, stamp_line, xlsx_bytes
from data_access.query.filters import year_filters
from data_access.reference.setup import init_store
from data_access.store.config import ENV_URL
from data_access.trust import audit, auth
from data_access.trust.stamps import export_stamp, who_text
from tests.principals import ADMIN

AT = datetime(2026, 12, 3, 21, 0)
STAMP = stamp_line("张三（zhangsan）", AT, "2026年1—10月；全国")
LINE = "导出：张三（zhangsan），2026-12-03 21:00，筛选：2026年1—10月；全国"
TABLE = pd.DataFrame({"单位": ["珠海市第一中学", "=cmd|' /C calc'!A0"], "采购额（元）": [1200.5, 300.0]})


def _sheet_rows(data: bytes, sheet: str | None = None) -> list[tuple]:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb[sheet] if sheet else wb.worksheets[0]
    return [tuple(r) for r in ws.iter_rows(values_only=True)]


def _assert_stamped_book(data: bytes, line: str = LINE) -> openpyxl.Workbook:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.properties.description == line and wb.properties.creator
    for ws in wb.worksheets:
        assert ws.cell(row=1, column=1).value == line, ws.title
        assert ws.oddFooter.center.text == line
    return wb


def _assert_stamped_deck(data: bytes, line: str = LINE) -> None:
    prs = Presentation(io.BytesIO(data))
    assert prs.core_properties.comments == line
    for slide in prs.slides:
        marks = [sh for sh in slide.shapes if sh.name == "导出水印"]
        assert len(marks) == 1 and marks[0].text_frame.text == line
        assert marks[0].top + marks[0].height <= prs.slide_height


# ---------------------------------------------------------------- the line and the plain tables


def test_the_stamp_line_names_who_when_and_the_filters():
    assert STAMP == LINE
    assert stamp_line("zhangsan", AT) == "导出：zhangsan，2026-12-03 21:00"
    assert who_text(ADMIN).endswith(f"（{ADMIN.username}）") or who_text(ADMIN) == ADMIN.username
    assert export_stamp(ADMIN, "全国", AT).startswith(STAMP_PREFIX + who_text(ADMIN) + "，2026-12-03 21:00")


def test_csv_first_line_is_the_stamp_then_the_table():
    data = csv_bytes(TABLE, stamp=STAMP)
    assert data.startswith("\ufeff".encode()) and data.count("\ufeff".encode()) == 1
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0] == LINE and lines[1] == "单位,采购额（元）"
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", skiprows=1)
    assert back["单位"].tolist() == ["珠海市第一中学", "'=cmd|' /C calc'!A0"]  # still formula-safe
    assert csv_bytes(TABLE).decode("utf-8-sig").splitlines()[0] == "单位,采购额（元）"  # unstamped: as before


def test_xlsx_stamp_heads_every_sheet_above_the_note_and_sits_in_footer_and_properties():
    data = xlsx_bytes({"甲": TABLE, "乙": TABLE}, notes={"甲": "说明行"}, stamp=STAMP)
    _assert_stamped_book(data)
    rows = _sheet_rows(data, "甲")
    assert rows[1][0] == "说明行" and rows[3] == ("单位", "采购额（元）")
    assert _sheet_rows(data, "乙")[2] == ("单位", "采购额（元）")
    assert pd.read_excel(io.BytesIO(data), sheet_name="乙", skiprows=2)["采购额（元）"].sum() == 1500.5


def test_files_made_beforehand_are_stamped_after(tmp_path):
    csv = stamp_file(csv_bytes(TABLE), "x.csv", STAMP)
    assert csv == csv_bytes(TABLE, stamp=STAMP)
    book = stamp_file(xlsx_bytes({"甲": TABLE}, notes={"甲": "说明行"}), "x.xlsx", STAMP)
    _assert_stamped_book(book)
    assert _sheet_rows(book)[1][0] == "说明行"
    inner = zipfile.ZipFile(io.BytesIO(stamp_file(_zip({"a.csv": csv_bytes(TABLE)}), "p.zip", STAMP)))
    assert inner.read("a.csv").decode("utf-8-sig").splitlines()[0] == LINE
    assert stamp_file(b"%PDF", "x.pdf", STAMP) == b"%PDF"


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


# ---------------------------------------------------------------- registers: stamped, still re-importable


@pytest.fixture
def store(fresh_engine):
    init_store(fresh_engine)
    return fresh_engine


def _load(engine, form, data, name):
    return commit_register(engine, ADMIN, parse_upload(data, form, name, date(2026, 6, 30)))


@pytest.mark.parametrize("form", ["units", "rules"])
def test_a_stamped_register_export_re_imports_unchanged(store, form):
    if form == "units":
        frame = pd.DataFrame(
            {
                "单位名称": ["珠海市总工会", "珠海市教育局"],
                "单位类型": ["工会", "机关"],
                "所在地": ["440402", "440402"],
                "帮扶辖区": ["440400", "440400"],
            }
        )
        first = _load(store, "units", csv_bytes(frame, stamp=STAMP), "单位.csv")  # a stamped CSV loads too
        assert first.committed and first.created == 2, first.errors
    data = register_export(store, form, stamp=STAMP)
    assert _sheet_rows(data)[0][0] == LINE
    _assert_stamped_book(data)
    out = _load(store, form, data, f"{form}-导出.xlsx")
    assert out.committed and (out.created, out.updated) == (0, 0) and out.unchanged > 0, out.errors
    again = _load(store, form, csv_bytes(register_frame(store, form), stamp=STAMP), f"{form}-导出.csv")
    assert (again.created, again.updated) == (0, 0), again.errors


# ---------------------------------------------------------------- packs, audit export, command line


@pytest.fixture(scope="module")
def briefing(demo_engine):
    return briefing_data(demo_engine, year_filters(2026, date(2026, 10, 31)), date(2026, 9, 30))


def test_briefing_xlsx_pptx_and_zip_are_stamped(briefing):
    book = xlsx_pack(briefing, stamp=STAMP)
    wb = _assert_stamped_book(book)
    for ws in wb.worksheets:
        assert ws.cell(row=2, column=1).value.startswith("消费帮扶工作简报")
        assert ws.freeze_panes == "A5"  # the heading, the table's header: still frozen above the rows
    _assert_stamped_deck(pptx_pack(briefing, stamp=STAMP))
    pack = zipfile.ZipFile(io.BytesIO(zip_pack(briefing, stamp=STAMP)))
    for name in pack.namelist():
        (_assert_stamped_book if name.endswith(".xlsx") else _assert_stamped_deck)(pack.read(name))
    plain = Presentation(io.BytesIO(pptx_pack(briefing)))
    assert not [sh for s in plain.slides for sh in s.shapes if sh.name == "导出水印"]


def test_meeting_pack_is_stamped(demo_engine):
    data = meeting_pack(demo_engine, date(2026, 9, 30), date(2026, 10, 31), stamp=STAMP)
    wb = _assert_stamped_book(data)
    assert wb["全部在办"].cell(row=2, column=1).value.startswith("截至 2026-10-31")


def test_audit_export_is_stamped_with_the_admin(store):
    data = audit.audit_export(store, ADMIN)
    first = _sheet_rows(data)[0][0]
    assert first.startswith(f"{STAMP_PREFIX}{who_text(ADMIN)}，{datetime.now():%Y-%m-%d}")


def test_command_line_exports_are_stamped(demo_engine, tmp_path):
    url = demo_engine.url.render_as_string(hide_password=False)
    out = tmp_path / "pack"
    assert cli.main(["briefing", "--url", url, "--out", str(out), "--as-of", "2026-10-31"]) == 0
    cli_who = who_text(auth.cli_principal())
    for path in out.iterdir():
        data = path.read_bytes()
        line = (
            _sheet_rows(data)[0][0]
            if path.suffix == ".xlsx"
            else Presentation(io.BytesIO(data)).core_properties.comments
        )
        assert line.startswith(f"{STAMP_PREFIX}{cli_who}，"), path
    ledger_out = tmp_path / "台账.xlsx"
    assert cli.main(["ledger", "export", "--url", url, "--out", str(ledger_out)]) == 0
    assert _sheet_rows(ledger_out.read_bytes())[0][0].startswith(f"{STAMP_PREFIX}{cli_who}，")


# ---------------------------------------------------------------- the page's download path


def test_every_page_download_goes_through_audited_with_the_stamp(writable_demo_engine, monkeypatch):
    """``tables.audited`` makes the file with the stamp of the signed-in user, or stamps bytes made
    before, and writes the download (file, filters, rows) to the audit log."""
    monkeypatch.setenv(ENV_URL, writable_demo_engine.url.render_as_string(hide_password=False))
    from data_access import cache
    from pages.common import tables

    cache.clear()
    build = tables.audited(partial(csv_bytes, TABLE), "单位排名.csv", len(TABLE), "2026年；全国")
    data = build()
    who = who_text(cache.principal())
    first = data.decode("utf-8-sig").splitlines()[0]
    assert first.startswith(f"{STAMP_PREFIX}{who}，") and first.endswith("，筛选：2026年；全国")
    made_before = tables.audited(xlsx_bytes({"表": TABLE}), "表.xlsx", len(TABLE), "2026年")()
    assert _sheet_rows(made_before)[0][0].startswith(f"{STAMP_PREFIX}{who}，")
    log = auth.audit_entries(writable_demo_engine, ADMIN, limit=None)
    downloads = log[log.action == "download"]
    assert {"单位排名.csv", "表.xlsx"} <= set(downloads.subject)


def test_no_page_offers_a_download_outside_the_audited_path():
    """Every ``st.download_button`` of the pages takes its data from ``tables.audited`` (or, for
    the audit log, from ``audit_export``, which stamps and audits itself); blank templates carry
    no data."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for path in sorted((root / "pages").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"\.download_button\(\s*\n?\s*([^\n]*\n[^\n]*)", text):
            call = m.group(1)
            ok = "audited(" in call or "audit_export" in call or "template_bytes" in call
            assert ok, f"{path.name}: {call.strip()[:120]}"
