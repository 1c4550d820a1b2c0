"""The map rules (地图管理条例; 公开地图内容表示规范): every map that shows the country at country scale
shows the whole territory — 南海诸岛 in the frame, 钓鱼岛, 台湾省 as a province — with the 境界线 of the
shipped boundaries, and says where its boundaries come from.

Checked twice: on the pure deck builders (``pages.common.maps``), and on the payload every map page
actually sends to the browser (AppTest, both stores): each deck.gl chart of every page of the
registry whose frame spans the country must pass ``assert_whole_territory``.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from shapely.geometry import Point, shape
from streamlit.testing.v1 import AppTest

from data_access.reference import boundaries
from data_access.store.config import ENV_URL
from pages import registry
from pages.common import maps
from tests.pages.test_pages import DASHBOARD

MAP_WIDTHS = (maps.MIN_WIDTH_PX, 780, 1200)  # the narrowest map, a 3/5 column at 1400 px, a wide one


def _features(layer: dict) -> list[dict]:
    data = layer.get("data")
    return data.get("features", []) if isinstance(data, dict) else []


def assert_whole_territory(payload: dict, height: int) -> None:
    """The deck's JSON (as Streamlit sends it) shows the whole territory at country scale."""
    view = payload["initialViewState"]
    layers = {layer["id"]: layer for layer in payload["layers"]}
    for width in MAP_WIDTHS:
        frame = maps.frame_bounds(view, width, height)
        assert maps.covers(frame, maps.TERRITORY), (width, frame)
        assert maps.covers(frame, maps.NANHAI), (width, frame)
        assert maps.covers(frame, (*maps.DIAOYU, *maps.DIAOYU)), (width, frame)
    # The base draws every province, 台湾省 and 海南省 (with the 南海诸岛) among them.
    base = _features(layers["base"])
    names = {f["properties"]["name"] for f in base}
    assert {"台湾省", "海南省", "北京市", "新疆维吾尔自治区", "西藏自治区", "香港特别行政区", "澳门特别行政区"} <= names
    taiwan = next(shape(f["geometry"]) for f in base if f["properties"]["name"] == "台湾省")
    assert taiwan.buffer(0.02).contains(Point(*maps.DIAOYU)), "钓鱼岛 is drawn as part of 台湾省"
    hainan = next(shape(f["geometry"]) for f in base if f["properties"]["name"] == "海南省")
    assert hainan.bounds[1] < 4.5 and hainan.bounds[2] > 117, "海南省 with the 南沙群岛 and 黄岩岛"
    # The 境界线 on top of everything else, the 南海 line among them, and the 南海诸岛 label.
    ids = [layer["id"] for layer in payload["layers"]]
    assert "boundary_lines" in ids and "nanhai_label" in ids
    assert ids.index("boundary_lines") > max(ids.index(i) for i in ids if i not in ("boundary_lines", "nanhai_label"))
    lines = _features(layers["boundary_lines"])
    assert lines and all(f["properties"]["name"] == "境界线" for f in lines)
    south = min(shape(f["geometry"]).bounds[1] for f in lines)
    assert south < 4.0, "the 南海 line reaches the 曾母暗沙"
    assert not payload.get("mapProvider") and not str(payload.get("mapStyle", "")).startswith("http")  # offline


def _payload(deck) -> dict:
    return json.loads(deck.to_json())


# ---------------------------------------------------------------- the shipped boundaries


def test_the_shipped_boundaries_hold_the_whole_territory():
    lines = boundaries.boundary_line_features()
    assert lines, "境界线 features in the province file"
    nanhai_line = [shape(f["geometry"]) for f in lines if shape(f["geometry"]).bounds[1] < 5]
    assert nanhai_line, "the 南海 line"
    w, s, e, n = nanhai_line[0].bounds
    assert maps.covers(maps.NANHAI, (w, s, e, n)) or (s >= maps.NANHAI[1] - 0.1 and w >= maps.NANHAI[0])
    names = {f["properties"]["name"] for f in boundaries.base_features("province")}
    assert "台湾省" in names and "海南省" in names


# ---------------------------------------------------------------- the pure builders


def test_national_view_frames_the_whole_territory_at_every_map_height():
    for height in (480, 520, 560):
        view = maps.national_view(height)
        assert maps.is_country_scale(view, height)
        for width in MAP_WIDTHS:
            assert maps.covers(maps.frame_bounds(view, width, height), maps.TERRITORY)


def test_a_country_scale_view_becomes_the_national_view_with_lines_and_label():
    # Framed on outlets spread over the mainland: 南海 cut off (the old 网点地图 default).
    outlets = pd.DataFrame({"lng": [87.6, 126.6, 121.5, 102.7, 108.3], "lat": [43.8, 45.8, 31.2, 25.0, 22.8]})
    view = maps.view_for(outlets.lng, outlets.lat)
    assert maps.is_country_scale(view, 560)
    assert not maps.covers(maps.frame_bounds(view, 780, 560), maps.NANHAI)
    deck = maps.deck([maps.base_layer(boundaries.base_features("province"), fill=maps.LAND)], view)
    assert_whole_territory(_payload(deck), 560)


def test_a_deck_without_a_base_gets_one_at_country_scale():
    deck = maps.deck([], pdk_view(maps.CHINA_VIEW))
    assert_whole_territory(_payload(deck), 560)


def test_a_regional_map_keeps_its_frame():
    view = maps.view_for([106.6, 107.0], [26.5, 27.7])  # 贵阳 → 遵义
    assert not maps.is_country_scale(view, 480)
    deck = maps.deck([maps.base_layer(boundaries.base_features("province"), fill=maps.LAND)], view, height=480)
    payload = _payload(deck)
    assert payload["initialViewState"]["zoom"] == pytest.approx(view.zoom)
    assert "boundary_lines" not in {layer["id"] for layer in payload["layers"]}


def pdk_view(d: dict):
    import pydeck as pdk

    return pdk.ViewState(**d)


# ---------------------------------------------------------------- every page's payload


@pytest.fixture
def app_env(demo_engine, monkeypatch):
    monkeypatch.setenv(ENV_URL, demo_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BANGFU_DEMO", "1")
    return demo_engine


MAP_HEIGHTS = (480, 520, 560)  # the pages' map heights (st.pydeck_chart(height=…))


def _decks(at: AppTest) -> list[tuple[dict, int]]:
    """Each deck.gl payload of the run with its map height: the height whose national view it is
    (a national map), else the tallest (so a view that spans the country is never missed)."""
    out = []
    for el in at.get("deck_gl_json_chart"):
        payload = json.loads(el.proto.json)
        view = payload["initialViewState"]
        height = next(
            (h for h in MAP_HEIGHTS if view.get("zoom") == pytest.approx(maps.national_view(h).zoom)), MAP_HEIGHTS[-1]
        )
        out.append((payload, height))
    return out


def _captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


MAP_RUNS = [
    ("pages/outlet_map.py", {}),  # the default view: the whole country
    ("pages/outlet_map.py", {"shade": "buyer"}),
    ("pages/outlet_map.py", {"shade": "none", "exited": "1"}),
    ("pages/drilldown.py", {"side": "origin"}),  # 全国
    ("pages/drilldown.py", {"side": "buyer"}),
    ("pages/drilldown.py", {"region": "520302", "side": "origin"}),  # a county with its flows
    ("pages/drilldown.py", {"region": "460000", "side": "origin"}),  # 海南省 (三沙市)
]


@pytest.mark.parametrize(("page", "params"), MAP_RUNS, ids=[f"{p.split('/')[-1]}-{q}" for p, q in MAP_RUNS])
def test_every_country_scale_map_of_the_map_pages_shows_the_whole_territory(app_env, page, params):
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.query_params.update(params)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    decks = _decks(at)
    assert decks, "the page draws a map"
    national = [(p, h) for p, h in decks if maps.is_country_scale(p["initialViewState"], h)]
    if not params or params in ({"side": "origin"}, {"side": "buyer"}) or params.get("shade"):
        assert national, "the page's country view is at country scale"
    for payload, height in national:
        assert_whole_territory(payload, height)
    assert maps.SOURCE_CAPTION in _captions(at), "each map notes its data source"


@pytest.mark.parametrize("page", [p.file for p in registry.PAGES])
def test_no_page_draws_a_country_scale_map_that_breaks_the_rules(app_env, page):
    """Every page of the registry, as it first opens: any map at country scale passes the rules."""
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.run()
    if page != registry.PAGES[0].file:
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    decks = _decks(at)
    for payload, height in decks:
        if maps.is_country_scale(payload["initialViewState"], height):
            assert_whole_territory(payload, height)
    if decks:
        assert maps.SOURCE_CAPTION in _captions(at)
