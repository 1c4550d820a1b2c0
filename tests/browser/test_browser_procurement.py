"""采购进度 in a real headless Chromium: the ranking answers who is behind, and a click opens a unit."""

import shutil
from datetime import date
from pathlib import Path

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


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url, engine = demo_store(tmp_path_factory, "browser")
    engine.dispose()
    with streamlit_server(url) as base:
        yield base, url


def _worst_unit(url: str):
    from data_access.engines import rules
    from data_access.figures.procurement import unit_ranking
    from data_access.query.filters import Filters
    from data_access.store.db import make_engine

    engine = make_engine(url)
    ranking = unit_ranking(rules.evaluate(engine, Filters(start=date(2026, 1, 1), end=date(2026, 10, 31))))
    engine.dispose()
    return ranking.iloc[0]


def _behind(url: str):
    from data_access.engines import rules
    from data_access.figures.procurement import unit_ranking
    from data_access.query.filters import Filters
    from data_access.store.db import make_engine

    engine = make_engine(url)
    evaluated = rules.evaluate(engine, Filters(start=date(2026, 1, 1), end=date(2026, 10, 31)))
    engine.dispose()
    ranking = unit_ranking(evaluated)
    return ranking[ranking.status != "green"], rules.worst_per_unit(evaluated)


def test_select_a_unit_and_see_its_purchases(server, tmp_path):
    base, url = server
    worst = _worst_unit(url)
    ranked, behind = _behind(url)
    # Tall enough that the screenshot holds the ranking and the opened unit below it.
    with browser_page(height=2100) as page:
        page.goto(f"{base}/procurement")
        wait_for_app(page)
        page.wait_for_selector('[data-testid="stMetricValue"]')
        assert page.get_by_text("单位排名：谁落后、差多少、依据哪条").count() == 1
        lead = page.locator('[data-testid="stAlert"]', has_text="未达时间进度要求").inner_text()
        assert f"{len(behind)} 个单位未达时间进度要求" in lead and str(worst.unit_name) in lead and "《" in lead
        # The 通报 a leading group circulates: who, how far behind, under which clause.
        with page.expect_download() as got:
            page.get_by_role("button", name="下载通报名单（XLSX）").click()
        path = tmp_path / got.value.suggested_filename
        got.value.save_as(path)
        assert path.name == "采购进度通报_20261031.xlsx"
        book = openpyxl.load_workbook(path)
        assert "时间进度" in book["通报"].cell(row=1, column=1).value
        notice = pd.read_excel(path, sheet_name="通报", skiprows=3)  # the export stamp, the note, a blank line
        assert len(notice) == len(behind) == len(ranked)
        assert notice["政策依据"].str.startswith("《").all() and notice["政策依据"].str.contains("》").all()
        assert set(notice["状态"]) <= {"红", "黄"}
        # Same order as the ranking on the page: 序号 is the 排名 shown.
        assert list(notice["单位"]) == list(ranked.unit_name) and notice["单位"].iloc[0] == worst.unit_name
        assert list(notice["未达标规则"]) == list(ranked.rule_title)
        assert notice["落后时间进度（元）"].iloc[0] == pytest.approx(round(float(worst.gap_yuan), 2))
        grid = page.locator('[data-testid="stDataFrame"]').first
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        # The row-selection marker sits at the left edge of the first data row (rows are 35 px).
        grid.hover()
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
        wait_for_app(page)
        page.wait_for_selector("text=采购明细", timeout=30_000)
        assert f"unit={int(worst.unit_id)}" in page.url
        assert page.get_by_text(str(worst.unit_name)).count() >= 1
        assert page.get_by_text("适用规则").count() == 1
        frames = page.locator('[data-testid="stDataFrame"]')
        assert frames.count() >= 3  # ranking, the unit's rules, its purchases
        page.wait_for_selector(".js-plotly-plot")
        shot = screenshot(page, "procurement")
        (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, ROOT / "docs" / "img" / "procurement.png")
        assert not [u for u in page.blocked if "googleapis" not in u and "gstatic" not in u], page.blocked


def test_deep_link_opens_the_unit(server):
    base, url = server
    worst = _worst_unit(url)
    with browser_page() as page:
        page.goto(f"{base}/procurement?unit={int(worst.unit_id)}")
        wait_for_app(page)
        page.wait_for_selector("text=采购明细", timeout=30_000)
        assert page.get_by_text("适用规则").count() == 1
