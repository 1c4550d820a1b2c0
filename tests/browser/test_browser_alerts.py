"""滞销预警 in a real headless Chromium: a desk acknowledges a warning and sees state and history change."""

import shutil
from datetime import date
from pathlib import Path

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
def store(tmp_path_factory):
    url, engine = demo_store(tmp_path_factory, "browser_alerts")
    yield url, engine
    engine.dispose()


def test_acknowledge_a_warning_in_the_browser(store):
    from data_access.figures import alerts
    from data_access.query.filters import Filters

    url, engine = store
    listed = alerts.open_warnings(engine, Filters(start=date(2020, 1, 1), end=date(2026, 12, 31)))
    new = listed[listed.status == "new"]
    assert len(new), "the demo store should hold new warnings"
    wid = int(new.id.iloc[0])
    with streamlit_server(url) as base, browser_page(height=2400) as page:
        # The first request after a start runs Streamlit's pages/ folder mode, where /warnings
        # is unknown (the file is alerts.py); once the router has run, deep links resolve.
        page.goto(base)
        wait_for_app(page)
        page.goto(f"{base}/warnings?warning={wid}")
        wait_for_app(page)
        page.wait_for_selector(".js-plotly-plot")
        assert page.get_by_text(f"#{wid} ", exact=False).count() > 0
        state = page.locator('[data-testid="stMarkdown"]', has_text="责任专班：").first
        assert "新发" in state.inner_text() and "第 1 版" in state.inner_text()
        page.get_by_role("button", name="确认预警").click()
        wait_for_app(page)
        page.wait_for_selector("text=已确认（预警", timeout=30_000)
        state = page.locator('[data-testid="stMarkdown"]', has_text="责任专班：").first
        assert "已确认" in state.inner_text() and "新发" not in state.inner_text() and "第 2 版" in state.inner_text()
        history = page.locator('[data-testid="stTable"]').last
        assert "新发 → 已确认" in history.inner_text() and "确认" in history.inner_text()
        assert f"warning={wid}" in page.url
        shot = screenshot(page, "warnings")
        assert not [u for u in page.blocked if "googleapis" not in u and "gstatic" not in u], page.blocked
    d = alerts.warning_detail(engine, wid)
    assert d["status"] == "acknowledged" and d["version"] == 2
    assert alerts.warning_history(engine, wid).action.tolist()[-1] == "acknowledge"
    shutil.copy(shot, ROOT / "docs" / "img" / "warnings.png")
