"""总览 and 产品名库 in headless Chromium, offline: the briefing pack downloads and opens."""

import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
from pptx import Presentation

from tests.browser_support import (
    ROOT,
    browser_page,
    demo_store,
    screenshot,
    streamlit_server,
    wait_for_app,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url, engine = demo_store(tmp_path_factory, "browser_briefing")
    engine.dispose()
    with streamlit_server(url) as base:
        yield base


def _keep(shot: Path, name: str) -> None:
    (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ROOT / "docs" / "img" / f"{name}.png")


def texts_of(slide) -> str:
    return " ".join(sh.text_frame.text for sh in slide.shapes if sh.has_text_frame and sh.name == "导出水印")


def test_briefing_pack_downloads_and_opens(server, tmp_path):
    with browser_page() as page:
        page.goto(f"{server}/overview")
        wait_for_app(page)
        page.wait_for_selector('[data-testid="stMetricValue"]')
        # The page draws section by section; on a loaded machine the cards may follow the first metric.
        page.get_by_text("政策规则达标").first.wait_for(timeout=60_000)
        assert page.get_by_text("政策规则达标").count() > 0
        assert page.get_by_text("通报：进度落后单位").count() > 0
        _keep(screenshot(page, "overview"), "overview")
        with page.expect_download(timeout=120_000) as info:
            page.get_by_role("button", name="下载简报包（PPTX + XLSX）").click()
        download = info.value
        assert download.suggested_filename.endswith(".zip")
        path = tmp_path / download.suggested_filename
        download.save_as(path)
        assert not [u for u in page.blocked if "googleapis" not in u and "gstatic" not in u], page.blocked
    with zipfile.ZipFile(path) as z:
        z.extractall(tmp_path)
        names = sorted(z.namelist())
    deck = Presentation(tmp_path / names[0])
    charts = [sh for slide in deck.slides for sh in slide.shapes if sh.has_chart]
    assert len(charts) == 3
    texts = {sh.name: sh.text_frame.text for slide in deck.slides for sh in slide.shapes if sh.has_text_frame}
    assert texts["kpi_amount"].endswith(("万元", "亿元"))
    wb = openpyxl.load_workbook(tmp_path / names[1])
    # The export stamp (who, when) heads every sheet and every slide.
    assert "通报（落后单位）" in wb.sheetnames and wb["月度采购"].max_row == 4 + 12
    assert all(ws.cell(row=1, column=1).value.startswith("导出：演示用户（demo），") for ws in wb.worksheets)
    assert all(texts_of(slide).count("导出：演示用户（demo），") == 1 for slide in deck.slides)


def test_catalogue_opens_a_product(server):
    with browser_page() as page:
        page.goto(f"{server}/catalogue?q=%E8%8C%B6&product=1")
        wait_for_app(page)
        page.wait_for_selector('[data-testid="stMetricValue"]')
        page.wait_for_selector(".js-plotly-plot")
        assert page.get_by_text("重点产品认定").count() > 0
        assert "q=" in page.url and "product=1" in page.url
        _keep(screenshot(page, "catalogue"), "catalogue")
        assert not [u for u in page.blocked if "googleapis" not in u and "gstatic" not in u], page.blocked
