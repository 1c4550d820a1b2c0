"""The dashboard in a real headless Chromium, with the network cut to localhost."""

import urllib.request

import pytest

from tests.browser_support import (
    browser_page,
    demo_store,
    screenshot,
    streamlit_server,
    wait_for_app,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url, engine = demo_store(tmp_path_factory, "browser")
    engine.dispose()
    with streamlit_server(url) as base:
        yield base


def test_health_endpoint(server):
    assert urllib.request.urlopen(f"{server}/_stcore/health", timeout=5).read() == b"ok"


def test_overview_draws_figures_offline(server):
    with browser_page() as page:
        page.goto(f"{server}/overview")
        wait_for_app(page)
        # The first view of a fresh server may still be finishing its run on a loaded machine:
        # wait for the amounts themselves, not only for the metric elements.
        amounts = """() => [...document.querySelectorAll('[data-testid="stMetricValue"]')]
                          .some(e => /(万元|亿元)$/.test(e.innerText.trim()))"""
        try:
            page.wait_for_function(amounts, timeout=120_000)
        except Exception as exc:
            values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
            raise AssertionError(f"no amount in 万元/亿元 among the metrics: {values}") from exc
        page.wait_for_selector(".js-plotly-plot")
        assert page.get_by_text("演示数据").count() > 0
        screenshot(page, "overview")
        # Filters live in the URL so a view can be sent as a link.
        assert "from=" in page.url and "to=" in page.url
        assert not [u for u in page.blocked if "googleapis" not in u and "gstatic" not in u], page.blocked
