"""Boundaries for the browser and the offline map builders (pure: no server, no browser)."""

import json
from datetime import date

import pandas as pd
import pydeck as pdk
import pytest

from data_access.reference import boundaries
from data_access.reference.regions import region_table
from pages.common import maps, region_charts


@pytest.fixture(scope="module")
def regions(demo_engine):
    return region_table(demo_engine)


def _size(features) -> int:
    return len(json.dumps(features, ensure_ascii=False, separators=(",", ":")).encode())


def test_country_view_draws_every_province_within_a_small_payload(regions):
    shapes = boundaries.region_shapes(regions, None)
    assert {f["properties"]["code"] for f in shapes} == set(regions.code[regions.level == "province"])
    assert _size(shapes) < 400_000


@pytest.mark.parametrize(
    "parent, children",
    [
        ("520000", 9),  # 贵州省: its cities
        ("520300", 14),  # 遵义市: its counties
        ("110000", 1),  # 北京市: 市辖区, drawn by its county polygons
        ("420000", 17),  # 湖北省: cities and the counties directly under the province (仙桃市)
        ("540400", 7),  # 林芝市: 米林市 matched by name (540422 in the boundaries, 540481 in the store)
    ],
)
def test_each_child_region_gets_a_shape(regions, parent, children):
    shapes = boundaries.region_shapes(regions, parent)
    codes = {f["properties"]["code"] for f in shapes}
    assert len(codes) == children
    assert codes == set(regions.code[regions.parent_code == parent])


def test_all_china_county_view_stays_bounded(demo_engine, regions):
    counties = set(regions.code[regions.level == "county"])
    shapes = boundaries.shapes_for(demo_engine, tuple(sorted(counties)))
    assert len(shapes) > 2800
    assert _size(shapes) < 4_500_000


def test_simplified_boundaries_are_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("BANGFU_DATA_DIR", str(tmp_path))
    boundaries.simplified_features.cache_clear()
    try:
        first = boundaries.simplified_features("province")
        files = list((tmp_path / "boundaries").glob("province-*.json"))
        assert len(files) == 1
        boundaries.simplified_features.cache_clear()
        assert boundaries.simplified_features("province") == first
    finally:
        boundaries.simplified_features.cache_clear()


def test_deck_asks_the_internet_for_nothing():
    deck = maps.deck([maps.base_layer(boundaries.base_features("province"))], maps.view_for([], []))
    spec = json.loads(deck.to_json())
    assert "mapProvider" not in spec and "http" not in deck.to_json()
    # Streamlit only skips its Carto basemap for pydeck's sentinel style (None fetches one).
    assert spec["mapStyle"] == "__MAP_STYLE__"


def test_deck_json_is_compact_on_the_wire():
    deck = maps.deck([maps.base_layer(boundaries.base_features("province"))], maps.view_for([], []))
    pretty = pdk.Deck.to_json(deck)  # pydeck's own: indented, every Chinese character escaped
    assert json.loads(deck.to_json()) == json.loads(pretty)
    assert len(deck.to_json().encode()) < len(pretty.encode()) / 4 and len(deck.to_json().encode()) < 300_000


def test_outlet_layer_sizes_by_sales_and_shows_status():
    points = pd.DataFrame(
        dict(
            id=[1, 2],
            name=["甲专柜", "乙专馆"],
            kind=["counter", "hall"],
            operator=["某集团", None],
            region_code=["440402", "440403"],
            lng=[113.5, 113.4],
            lat=[22.2, 22.1],
            opened_on=[date(2021, 5, 1), None],
            status=["operating", "exit_proposed"],
            status_reason=[None, "食品抽检不合格"],
            status_since=[None, date(2026, 11, 20)],
            sales_yuan=[200_000.0, 0.0],
            purchases=[30, 0],
        )
    )
    frame = maps.outlet_frame(points)
    assert frame.radius.iloc[0] > frame.radius.iloc[1]
    assert frame.outline_width.iloc[1] > frame.outline_width.iloc[0]
    assert frame.line1.iloc[1] == "类型：专馆 ｜ 运营方：—" and frame.line4.iloc[0] == "期间销售额：20.00万元（30笔）"
    # The tooltip says what the status is, since when and why.
    assert list(frame.line2) == ["状态：运营中", "状态：拟退出（2026-11-20起：食品抽检不合格）"]
    spec = json.loads(maps.deck([maps.outlet_layer(points)], maps.view_for(points.lng, points.lat)).to_json())
    layer = spec["layers"][0]
    assert layer["radiusUnits"] == "pixels" and layer["pickable"] is True


def test_choropleth_carries_amounts_and_tooltips(regions):
    shapes = boundaries.region_shapes(regions, "520300")
    amounts = pd.DataFrame(
        {"code": ["520302", "520303"], "amount": [50_000.0, 0.0], "purchases": [3, 0], "share": [1.0, 0.0]}
    )
    feats = maps.choropleth_features(shapes, amounts, "产地采购额")
    by_code = {f["properties"]["code"]: f["properties"] for f in feats}
    assert by_code["520302"]["line1"] == "产地采购额：5.00万元"
    assert by_code["520302"]["color"] != by_code["520303"]["color"]


def test_region_bars_carry_the_code_a_click_drills_into():
    children = pd.DataFrame(
        {
            "code": ["520300", "520500", "520100"],
            "name": ["遵义市", "毕节市", "贵阳市"],
            "amount": [3e6, 1e6, 0.0],
            "share": [0.75, 0.25, 0.0],
        }
    )
    fig = region_charts.region_bars(children)
    bar = fig.data[0]
    assert list(bar.y) == ["毕节市", "遵义市"]  # empty regions left out, largest on top
    assert [c[0] for c in bar.customdata] == ["520500", "520300"]
    # Plotly's toolbar sits in the top margin, so a click on the largest bar drills, not downloads.
    assert fig.layout.margin.t >= 36


def test_the_country_fits_a_half_page_map_and_a_county_is_close_up(regions):
    lngs, lats = maps.features_bounds(boundaries.region_shapes(regions, None))
    country = maps.view_for(lngs, lats, width_px=560)
    # At zoom z the world is 512·2^z px wide: 73°E–135°E must fit in 560 px.
    assert (max(lngs) - min(lngs)) / 360 * 512 * 2**country.zoom <= 560
    lngs, lats = maps.features_bounds(boundaries.region_shapes(regions, "522700"))
    assert maps.view_for(lngs, lats).zoom > country.zoom + 2.5


def test_flow_sankey_links_helpers_to_origins():
    flows = pd.DataFrame(
        {
            "helper_code": ["440400", "440400"],
            "helper_name": ["珠海市", "珠海市"],
            "origin_code": ["520000", "440000"],
            "origin_name": ["贵州省", "广东省"],
            "amount": [1e7, 2e6],
            "paired": [True, False],
            "pairing_kind": ["east_west", None],
        }
    )
    sankey = region_charts.flows_sankey(flows).data[0]
    assert list(sankey.node.label) == ["珠海市（帮扶方）", "贵州省", "广东省"]
    assert list(sankey.link.value) == [1000.0, 200.0]
    assert list(sankey.link.customdata) == ["东西部协作", "非结对采购"]
