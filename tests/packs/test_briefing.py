"""The briefing pack read back with python-pptx and openpyxl, its figures checked against the store."""

import re
import shutil
import subprocess
import zipfile
from datetime import date, datetime
from io import BytesIO

import openpyxl
import pytest
from pptx import Presentation
from pptx.enum.chart import XL_CHART_TYPE
from pptx.enum.shapes import MSO_SHAPE_TYPE
from sqlalchemy import text

from data_access import cli
from data_access.engines.rules import rules_summary, units_behind
from data_access.figures.overview import THRESHOLDS, rag, warning_rag
from data_access.packs.briefing import briefing_data, pptx_pack, write_pack, xlsx_pack, zip_pack
from data_access.query.filters import year_filters
from data_access.query.text import money_text

AS_OF = date(2026, 10, 31)
SINCE = date(2026, 9, 30)
INJECTION = '=HYPERLINK("http://example.invalid","点我")'


def _add_warnings(engine) -> dict[str, int]:
    """Four warnings on the first series (one closed, one with a formula-looking reason); open counts by level."""
    now = datetime(2026, 10, 20, 9, 0)
    with engine.begin() as conn:
        sid, pid, code = conn.execute(text("SELECT id, product_id, region_code FROM price_series ORDER BY id")).first()
        for i, (level, status, reason) in enumerate(
            [
                ("red", "new", INJECTION),
                ("orange", "acknowledged", "价跌量减"),
                ("blue", "absorbing", "价格低于季节常态"),
                ("yellow", "closed", "已消纳"),
            ]
        ):
            conn.execute(
                text(
                    "INSERT INTO warning (series_id, product_id, region_code, "
                    "first_date, last_date, level, score, reason, "
                    "status, owner_group, absorbed_volume, version, created_at, updated_at) VALUES "
                    "(:s, :p, :r, :d, :d, :lv, :sc, :re, :st, '产销对接专班', 0, 1, :now, :now)"
                ),
                dict(
                    s=sid,
                    p=pid,
                    r=code,
                    d=date(2019, 10, 7 + 7 * i),
                    lv=level,
                    sc=99.0 - i,
                    re=reason,
                    st=status,
                    now=now,
                ),
            )
        rows = conn.execute(text("SELECT level, COUNT(*) FROM warning WHERE status <> 'closed' GROUP BY level")).all()
    return {lv: int(n) for lv, n in rows}


def _amount(conn, start: date, end: date) -> float:
    return float(
        conn.execute(
            text("SELECT COALESCE(SUM(amount), 0) FROM purchase WHERE purchase_date BETWEEN :s AND :e"),
            {"s": start, "e": end},
        ).scalar()
    )


def test_pack_figures_match_the_store(writable_demo_engine, tmp_path):
    engine = writable_demo_engine
    open_counts = _add_warnings(engine)
    pptx_path, xlsx_path = write_pack(engine, tmp_path, as_of=AS_OF, since=SINCE)
    f = year_filters(2026, AS_OF)
    with engine.connect() as conn:
        amount = _amount(conn, f.start, f.end)
        amount_ly = _amount(conn, date(2025, 1, 1), date(2025, 10, 31))
        by_month = dict(
            conn.execute(
                text("SELECT month, SUM(amount) FROM purchase WHERE month BETWEEN 202601 AND 202610 GROUP BY month")
            ).all()
        )
        outlets = dict(conn.execute(text("SELECT status, COUNT(*) FROM outlet GROUP BY status")).all())
    behind = units_behind(engine, f, AS_OF)
    summary = rules_summary(engine, f, AS_OF)

    prs = Presentation(pptx_path)
    shapes = {sh.name: sh for slide in prs.slides for sh in slide.shapes}
    assert shapes["kpi_amount"].text_frame.text == money_text(amount)
    assert shapes["kpi_rules"].text_frame.text == f"{summary['met']} / {summary['total']}"
    assert shapes["kpi_units"].text_frame.text == f"{summary['units_behind']} 个"
    assert shapes["kpi_warnings"].text_frame.text == f"{sum(open_counts.values())} 条"
    assert shapes["kpi_outlets"].text_frame.text == f"{outlets.get('operating', 0)} / {outlets.get('exit_proposed', 0)}"
    yoy_status = rag("yoy", amount / amount_ly - 1)
    assert (
        shapes["kpi_amount_status"].fill.fore_color.rgb
        == {"green": (0x2C, 0xA0, 0x2C), "yellow": (0xE6, 0xB8, 0), "red": (0xD6, 0x27, 0x28)}[yoy_status]
    )

    cumulative = shapes["chart_cumulative"].chart
    assert cumulative.chart_type == XL_CHART_TYPE.LINE_MARKERS
    running, expected = 0.0, []
    for m in range(1, 13):
        running += float(by_month.get(202600 + m, 0))
        expected.append(round(running / 1e4, 2) if m <= 10 else None)
    values = list(cumulative.plots[0].series[0].values)
    assert values[10:] == [None, None]
    assert values[:10] == pytest.approx(expected[:10], abs=0.011)
    assert sum(shapes["chart_channels"].chart.plots[0].series[0].values) == pytest.approx(amount / 1e4, abs=0.1)
    levels = shapes["chart_warnings"].chart
    assert list(levels.plots[0].categories) == ["红色", "橙色", "黄色", "蓝色"]
    assert list(levels.plots[0].series[0].values) == [
        open_counts.get(lv, 0) for lv in ("red", "orange", "yellow", "blue")
    ]
    pictures = [sh for slide in prs.slides for sh in slide.shapes if sh.shape_type == MSO_SHAPE_TYPE.PICTURE]
    assert not pictures, "charts must be native, not pictures"

    notice = shapes["table_notice"].table
    names = [notice.cell(i, 1).text for i in range(1, len(notice.rows))]
    assert names == behind.unit_name.head(len(names)).tolist() and names
    clauses = [notice.cell(i, 8).text for i in range(1, len(notice.rows))]
    assert clauses == behind.clause.head(len(names)).tolist()
    warning_names = [
        shapes["table_warnings"].table.cell(i, 3).text for i in range(1, len(shapes["table_warnings"].table.rows))
    ]
    assert INJECTION in warning_names

    wb = openpyxl.load_workbook(xlsx_path)
    assert {
        "简报指标",
        "月度采购",
        "按渠道",
        "通报（落后单位）",
        "规则评价",
        "未关闭预警",
        "拟退出网点",
        "新增预警",
        "新落后单位",
        "已追上单位",
        "新增网点",
    } <= set(wb.sheetnames)
    monthly = wb["月度采购"]
    assert sum(r[1] or 0 for r in monthly.iter_rows(min_row=4, values_only=True)) == pytest.approx(amount, abs=0.05)
    assert wb["通报（落后单位）"].max_row - 3 == len(behind)
    channel_total = sum(r[1] for r in wb["按渠道"].iter_rows(min_row=4, values_only=True))
    assert channel_total == pytest.approx(amount, abs=0.05)
    reasons = [r[5] for r in wb["未关闭预警"].iter_rows(min_row=4, values_only=True)]
    assert "'" + INJECTION in reasons and INJECTION not in reasons
    assert len(reasons) == sum(open_counts.values())
    formulas = [c.coordinate for ws in wb for row in ws.iter_rows() for c in row if c.data_type == "f"]
    assert not formulas
    assert [r[2] for r in wb["简报指标"].iter_rows(min_row=4, values_only=True)][0] == {
        "green": "绿",
        "yellow": "黄",
        "red": "红",
    }[yoy_status]


def test_zip_holds_both_files_and_cli_writes_them(demo_engine, tmp_path):
    data = briefing_data(demo_engine, year_filters(2026, AS_OF))
    with zipfile.ZipFile(BytesIO(zip_pack(data))) as z:
        names = z.namelist()
        assert names == ["消费帮扶简报_20261031.pptx", "消费帮扶简报_20261031.xlsx"]
        Presentation(BytesIO(z.read(names[0])))
        openpyxl.load_workbook(BytesIO(z.read(names[1])))
    url = demo_engine.url.render_as_string(hide_password=False)
    assert cli.main(["briefing", "--out", str(tmp_path), "--url", url, "--as-of", "2026-06-30"]) == 0
    assert (tmp_path / "消费帮扶简报_20260630.pptx").stat().st_size > 20_000
    wb = openpyxl.load_workbook(tmp_path / "消费帮扶简报_20260630.xlsx")
    # Row 1: who exported it and when (the export stamp); row 2: the heading with the date.
    assert wb["简报指标"]["A1"].value.startswith("导出：命令行（cli:")
    assert "2026年06月30日" in wb["简报指标"]["A2"].value
    assert "新增预警" not in wb.sheetnames


def test_thresholds_are_graded():
    assert [rag("plan", v) for v in (0.01, 0.0, -0.05, -0.1, -0.11)] == ["green", "green", "yellow", "yellow", "red"]
    assert rag("rules", 0.95) == "green" and rag("rules", 0.8) == "yellow" and rag("rules", 0.5) == "red"
    assert rag("yoy", None) is None and set(THRESHOLDS) == {"plan", "yoy", "rules", "units", "outlets"}
    assert warning_rag({"red": 1}) == "red" and warning_rag({"yellow": 2}) == "yellow"
    assert warning_rag({"blue": 5}) == "green"


def test_libreoffice_converts_the_pptx_to_pdf(demo_engine, tmp_path):
    office = shutil.which("libreoffice") or shutil.which("soffice")
    if office is None:
        pytest.skip("LibreOffice is not installed (apt-get install libreoffice-impress); the PDF check needs it")
    data = briefing_data(demo_engine, year_filters(2026, AS_OF), SINCE)
    deck = tmp_path / "简报.pptx"
    deck.write_bytes(pptx_pack(data, demo=True))
    (tmp_path / "简报.xlsx").write_bytes(xlsx_pack(data))
    profile = (tmp_path / "lo-profile").as_uri()
    done = subprocess.run(
        [
            office,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(deck),
        ],
        capture_output=True,
        timeout=240,
    )
    pdf = tmp_path / "简报.pdf"
    assert done.returncode == 0 and pdf.exists(), done.stderr.decode(errors="replace")
    body = pdf.read_bytes()
    assert body.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page[^s]", body)) == len(Presentation(deck).slides)
    assert len(Presentation(deck).slides) == 7  # title, progress, channels, warnings, 通报, changes, sources
