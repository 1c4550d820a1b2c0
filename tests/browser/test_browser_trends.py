"""趋势分析 in a real headless Chromium: an analyst changes measure, dimension and grain through the
widgets, sees chart, table and URL follow, and downloads exactly the rows shown (CSV and XLSX)."""

import shutil
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import openpyxl
import pandas as pd
import pytest

from tests.browser_support import (
    browser_page,
    demo_store,
    screenshot,
    streamlit_server,
    wait_for_app,
)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
AS_OF = date(2026, 10, 31)  # the demo data's last day


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    url, engine = demo_store(tmp_path_factory, "browser_trends")
    yield url, engine
    engine.dispose()


def url_state(page_url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page_url).query).items()}


def expected_table(engine, page_url: str) -> pd.DataFrame:
    """What data_access.figures.semantic gives for the state the URL carries (filters and trend choices)."""
    from data_access.figures.semantic import display_table, trend
    from data_access.query.filters import Filters

    q = url_state(page_url)
    f = Filters.from_query_params(q, date(AS_OF.year, 1, 1), AS_OF)
    res = trend(engine, f, q["t_measure"], q["t_dim"], q["t_grain"], int(q["t_top"]), q["t_yoy"] == "1")
    return display_table(res)


def pick(page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)


def chart_texts(page) -> tuple[str, list[str]]:
    """The y-axis title and legend entries of the trend chart (SVG text)."""
    page.wait_for_selector(".js-plotly-plot .legendtext")
    plot = page.locator('[data-testid="stPlotlyChart"]').first
    return (plot.locator(".ytitle").first.text_content(), [t.text_content() for t in plot.locator(".legendtext").all()])


def grid(page):
    """The accessible table glide-data-grid keeps inside its canvas."""
    return page.locator('[data-testid="stDataFrame"] table[role="grid"]').first


def same_rows(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for col in want.columns:
        if pd.api.types.is_numeric_dtype(want[col]):
            assert got[col].astype(float).tolist() == pytest.approx(want[col].astype(float).tolist(), nan_ok=True), col
        else:
            assert got[col].astype(str).tolist() == want[col].astype(str).tolist(), col


def test_change_measure_and_dimension_then_download_what_is_shown(store, tmp_path):
    from data_access.reference.labels import CATEGORIES, CHANNELS

    url, engine = store
    with streamlit_server(url) as base, browser_page(height=1500) as page:
        # The first request runs the router; deep links resolve once it has.
        page.goto(base)
        wait_for_app(page)
        page.goto(f"{base}/trends")
        wait_for_app(page)
        y_title, legend = chart_texts(page)
        assert y_title == "采购金额（万元）"
        assert "832平台" in legend and "832平台（上年同期）" in legend
        assert url_state(page.url)["t_measure"] == "amount" and url_state(page.url)["t_dim"] == "channel"

        pick(page, "指标", "采购笔数")
        assert url_state(page.url)["t_measure"] == "purchases"
        y_title, legend = chart_texts(page)
        assert y_title == "采购笔数（笔）" and "832平台" in legend

        pick(page, "维度", "产品品类")
        q = url_state(page.url)
        assert (q["t_measure"], q["t_dim"]) == ("purchases", "category")
        y_title, legend = chart_texts(page)
        assert y_title == "采购笔数（笔）"
        assert set(legend) & set(CATEGORIES.values()) and not set(legend) & set(CHANNELS.values())

        page.get_by_role("radiogroup", name="时间粒度").get_by_role("radio", name="季度", exact=True).click()
        wait_for_app(page)
        assert url_state(page.url)["t_grain"] == "quarter"
        assert page.get_by_text("口径：采购明细条数").count() == 1

        want = expected_table(engine, page.url)
        assert list(want.columns) == ["季度", "产品品类", "采购笔数（笔）", "上年同期（笔）", "同比（%）"]
        assert set(want["季度"]) == {"2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"}
        assert want["采购笔数（笔）"].sum() > 0

        page.get_by_role("tab", name="数据表").click()
        page.wait_for_selector('[data-testid="stDataFrame"] table[role="grid"]', state="attached")
        table = grid(page)
        assert int(table.get_attribute("aria-rowcount")) == len(want) + 1  # header row + data rows
        # The grid fills its accessible table as it paints; wait for the last header.
        table.locator('[role="columnheader"]', has_text="同比（%）").wait_for(state="attached")
        headers = [h.text_content() for h in table.locator('[role="columnheader"]').all()]
        assert headers == list(want.columns)
        first = [c.text_content() for c in table.locator("tbody tr").first.locator('[role="gridcell"]').all()]
        assert first[:3] == [want.iloc[0, 0], want.iloc[0, 1], f"{want.iloc[0, 2]:g}"]

        with page.expect_download() as got_csv:
            page.get_by_role("button", name="下载 CSV").click()
        csv_path = tmp_path / got_csv.value.suggested_filename
        got_csv.value.save_as(csv_path)
        assert csv_path.name.startswith("采购笔数_按产品品类_季度_20260101-20261031")
        assert csv_path.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel/WPS read the Chinese
        # The first line is the export stamp (who, when, the filters), then the table.
        assert csv_path.read_bytes().decode("utf-8-sig").startswith("导出：演示用户（demo），")
        same_rows(pd.read_csv(csv_path, encoding="utf-8-sig", dtype={"季度": str}, skiprows=1), want)

        with page.expect_download() as got_xlsx:
            page.get_by_role("button", name="下载 XLSX").click()
        xlsx_path = tmp_path / got_xlsx.value.suggested_filename
        got_xlsx.value.save_as(xlsx_path)
        assert xlsx_path.suffix == ".xlsx"
        # The sheet says who exported it and when (row 1), then what it holds above the rows:
        # measure, its definition, the filters.
        sheet = openpyxl.load_workbook(xlsx_path).active
        assert sheet.cell(row=1, column=1).value.startswith("导出：演示用户（demo），")
        head = sheet.cell(row=2, column=1).value
        assert "采购笔数（口径：采购明细条数）" in head and "2026年01月01日至10月31日" in head
        assert "不完整期：2026-Q4" in head and "数据截至 2026-10-31" in head
        same_rows(pd.read_excel(xlsx_path, dtype={"季度": str}, skiprows=3), want)

        # A colleague opening the link sees the same view.
        shared = page.url
        page.goto(shared)
        wait_for_app(page)
        assert page.get_by_role("combobox", name="指标").input_value() == "采购笔数"
        assert page.get_by_role("combobox", name="维度").input_value() == "产品品类"
        y_title, legend = chart_texts(page)
        assert y_title == "采购笔数（笔）" and set(legend) & set(CATEGORIES.values())
        shot = screenshot(page, "trends")
        assert not [u for u in page.blocked if "googleapis" not in u and "gstatic" not in u], page.blocked
    shutil.copy(shot, ROOT / "docs" / "img" / "trends.png")
