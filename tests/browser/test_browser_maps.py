"""网点地图 and 地区下钻 in a real headless Chromium with the internet cut off.

地区下钻: an analyst clicks bars from 全国 down to a county and comes back by the breadcrumb.
网点地图: the deck.gl map draws (read back from its pixels) with no request leaving localhost,
and an exit candidate beside it can be picked.
"""

import io
import shutil
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlparse

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
CRUMBS = ".st-key-dd_breadcrumbs"
DECK = '[data-testid="stDeckGlJsonChart"]'


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    url, engine = demo_store(tmp_path_factory, "browser_maps")
    yield url, engine
    engine.dispose()


@pytest.fixture(scope="module")
def app(store):
    url, engine = store
    with streamlit_server(url) as base:
        yield base, engine


def _open(page, base: str, path: str) -> None:
    # The first request after a start runs Streamlit's pages/ folder mode; once the router has
    # run, deep links resolve.
    page.goto(base)
    wait_for_app(page)
    page.goto(f"{base}/{path}")
    wait_for_app(page)


def _params(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def _bar_boxes(page) -> dict[str, dict]:
    plot = page.locator(".js-plotly-plot").first
    bars = [b.bounding_box() for b in plot.locator("g.point path").all()]
    out = {}
    for tick in plot.locator("g.ytick text").all():
        box = tick.bounding_box()
        mid = box["y"] + box["height"] / 2
        out[tick.text_content()] = min(bars, key=lambda b: abs(b["y"] + b["height"] / 2 - mid))
    return out


def _bars(page) -> dict[str, dict]:
    """The region bars of the drilldown chart: label → bounding box of its bar, once the chart
    has stopped moving (the maps and tables around it settle after the script finishes)."""
    page.wait_for_selector(".js-plotly-plot g.point path", timeout=30_000)
    boxes = _bar_boxes(page)
    for _ in range(20):
        page.wait_for_timeout(500)
        again = _bar_boxes(page)
        if again == boxes:
            break
        boxes = again
    return boxes


def _click_bar(page, box: dict) -> None:
    """Click a bar as a user would and wait for the page the click leads to."""
    before = page.url
    page.mouse.move(box["x"] + min(12, box["width"] / 2), box["y"] + box["height"] / 2)
    page.wait_for_timeout(300)
    page.mouse.click(box["x"] + min(12, box["width"] / 2), box["y"] + box["height"] / 2)
    page.wait_for_function("url => window.location.href !== url", arg=before, timeout=30_000)
    wait_for_app(page)


def _crumbs(page, expected: list[str]) -> list[str]:
    """The breadcrumb path once it shows ``expected`` (stale buttons of the previous run can
    linger for a moment after the script finishes), or what it shows after 15 s."""
    for _ in range(30):
        shown = [t.strip() for t in page.locator(f"{CRUMBS} button >> visible=true").all_inner_texts()]
        if shown == expected:
            break
        page.wait_for_timeout(500)
    return shown


def _deck_pixels(page) -> tuple[int, float, float]:
    """Read the visible deck.gl canvas back from a screenshot of it: the number of distinct
    colours, the share of pixels that are not the blank (white) page, and the share that are
    neither blank nor the land fill of the base map (borders, county shades, outlet dots)."""
    import numpy as np
    from PIL import Image

    from pages.common.maps import LAND

    canvas = page.locator(f"{DECK} canvas >> visible=true").first
    pixels = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB"), dtype=int).reshape(-1, 3)
    blank = (pixels >= 250).all(axis=1)
    land = (np.abs(pixels - np.array(LAND[:3])) <= 3).all(axis=1)
    return len(np.unique(pixels, axis=0)), float((~blank).mean()), float((~blank & ~land).mean())


def test_drill_from_the_country_to_a_county_by_clicking_and_back(app):
    from data_access.reference.regions import region_table

    base, engine = app
    regions = region_table(engine)
    name_of = dict(zip(regions.code, regions.name, strict=True))
    with browser_page(height=1600) as page:
        _open(page, base, "drilldown")
        assert _params(page)["level"] == "country" and "region" not in _params(page)
        assert _crumbs(page, ["全国"]) == ["全国"]

        # 全国 → the largest province that has cities (a municipality would pass through).
        bars = _bars(page)
        assert len(bars) >= 3, bars
        province = next(
            n for n in sorted(bars, key=lambda n: bars[n]["width"], reverse=True) if n.endswith(("省", "自治区"))
        )
        _click_bar(page, bars[province])
        params = _params(page)
        assert params["level"] == "province" and name_of[params["region"]] == province, page.url
        assert _crumbs(page, ["全国", province]) == ["全国", province]
        province_code = params["region"]

        # province → its largest city (the top bar, right under Plotly's toolbar).
        bars = _bars(page)
        city = max(bars, key=lambda n: bars[n]["width"])
        _click_bar(page, bars[city])
        params = _params(page)
        assert params["level"] == "city" and name_of[params["region"]] == city, page.url
        assert params["region"].startswith(province_code[:2])
        assert _crumbs(page, ["全国", province, city]) == ["全国", province, city]
        assert page.locator(DECK).count() >= 1

        # city → a county.
        bars = _bars(page)
        county = max(bars, key=lambda n: bars[n]["width"])
        _click_bar(page, bars[county])
        params = _params(page)
        assert params["level"] == "county" and name_of[params["region"]] == county, page.url
        assert _crumbs(page, ["全国", province, city, county]) == ["全国", province, city, county]
        main = page.locator('[data-testid="stMain"]')
        page.wait_for_selector(f"{DECK} canvas", timeout=30_000)
        for label in ("产品", "采购单位", "经手网点"):
            metric = main.locator('[data-testid="stMetric"]', has_text=label).first
            value = metric.locator('[data-testid="stMetricValue"]').inner_text()
            assert int(value.replace(",", "")) > 0, (label, value)
        for tab in ("产品", "网点", "单位"):
            assert main.get_by_role("tab", name=tab).count() == 1
        assert "按采购额排前" in main.inner_text()
        # The pairing flows: a Sankey from helpers to this county.
        sankey = page.locator(".js-plotly-plot g.sankey-node")
        assert sankey.count() >= 2
        assert "帮扶方" in page.locator(".js-plotly-plot").last.text_content()
        page.wait_for_timeout(1500)
        shot = screenshot(page, "drilldown")

        # Back up by the breadcrumb: first the province, then the country.
        page.locator(f"{CRUMBS} button >> visible=true", has_text=province).click()
        page.wait_for_function("() => location.search.includes('level=province')", timeout=30_000)
        wait_for_app(page)
        params = _params(page)
        assert params["level"] == "province" and params["region"] == province_code, page.url
        assert _crumbs(page, ["全国", province]) == ["全国", province]
        assert city in _bars(page)
        page.locator(f"{CRUMBS} button >> visible=true", has_text="全国").click()
        page.wait_for_function("() => location.search.includes('level=country')", timeout=30_000)
        wait_for_app(page)
        assert _params(page)["level"] == "country" and "region" not in _params(page), page.url
        assert _crumbs(page, ["全国"]) == ["全国"] and province in _bars(page)
        assert not page.blocked, page.blocked
    shutil.copy(shot, ROOT / "docs" / "img" / "drilldown.png")


def test_outlet_map_draws_offline_and_picks_an_exit_candidate(app):
    from data_access.figures.outlets import exit_candidates
    from data_access.figures.overview import data_as_of
    from data_access.query.filters import Filters

    base, engine = app
    received = []
    with browser_page(height=1400) as page:
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.append(len(payload))))
        page.goto(base)
        wait_for_app(page)
        received.clear()  # count only what the outlet map page itself brings
        page.goto(f"{base}/outlet_map")
        wait_for_app(page)
        page.wait_for_selector(f"{DECK} canvas", timeout=30_000)
        page.wait_for_timeout(3000)
        colours, drawn, features = _deck_pixels(page)
        # Our own province land, county shades and outlet dots: a drawn map, not a blank canvas.
        assert colours > 200 and drawn > 0.3 and features > 0.03, (colours, drawn, features)
        main = page.locator('[data-testid="stMain"]')
        assert "退出候选网点" in main.inner_text() and "专柜" in main.inner_text()
        shot = screenshot(page, "outlet_map")
        page_bytes = sum(received)

        # Pick the first exit candidate beside the map: the map frames it and says why.
        as_of = data_as_of(engine)
        first = exit_candidates(engine, Filters(start=date(as_of.year, 1, 1), end=as_of)).iloc[0]
        grid = page.locator('[data-testid="stDataFrame"] >> visible=true').first
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 15, box["y"] + 35 * 1.5)
        wait_for_app(page)
        page.wait_for_timeout(2000)
        info = main.locator('[data-testid="stAlert"]', has_text=first["name"])
        assert info.count() == 1 and "近6个月销售额" in info.inner_text()
        colours, drawn, features = _deck_pixels(page)
        assert colours > 50 and drawn > 0.3 and features > 0.005, (colours, drawn, features)
        assert not page.blocked, page.blocked
    # Bounded: the whole page — base map, county shades, points, tables — in about a megabyte.
    assert page_bytes < 2_000_000, page_bytes
    print(f"outlet map page: {page_bytes / 1e6:.2f} MB over the websocket")
    shutil.copy(shot, ROOT / "docs" / "img" / "outlet_map.png")
