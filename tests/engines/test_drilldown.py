"""地区下钻 logic as pure functions: clicks, breadcrumbs, URL — no browser needed."""

from datetime import date

import pytest

from data_access.engines.drilldown import (
    DrillState,
    apply,
    breadcrumbs,
    drill,
    picked_code,
    state_from_filters,
    state_from_params,
    state_to_params,
    up_to,
    with_side,
)
from data_access.query.filters import Filters
from data_access.reference.regions import region_table


@pytest.fixture(scope="module")
def regions(demo_engine):
    return region_table(demo_engine)


@pytest.mark.parametrize(
    "start, picked, expected",
    [
        (None, "520000", "520000"),  # 全国 → 贵州省
        ("520000", "520300", "520300"),  # 贵州省 → 遵义市
        ("520300", "520302", "520302"),  # 遵义市 → 红花岗区
        ("520000", "520302", "520302"),  # a county picked straight from the province view
        (None, "110000", "110100"),  # 北京市 has one child: passed through to 市辖区
        ("520000", "530100", "520000"),  # outside the current region: ignored
        ("520300", "520000", "520300"),  # upwards is the breadcrumbs' job
        ("520300", None, "520300"),  # nothing picked
        ("520300", "999999", "520300"),  # unknown code
        ("520302", "520302", "520302"),  # at the bottom, the same county again
    ],
)
def test_drill_goes_down_only_inside_the_current_region(regions, start, picked, expected):
    assert drill(DrillState("origin", start), picked, regions) == DrillState("origin", expected)


def test_drill_from_country_to_county_and_back_by_breadcrumbs(regions):
    state = DrillState("origin")
    for code in ("520000", "520300", "520302"):
        state = drill(state, code, regions)
    assert state.level == "county" and state.at_bottom
    crumbs = breadcrumbs(regions, state)
    assert [name for _, name in crumbs] == ["全国", "贵州省", "遵义市", "红花岗区"]
    back = up_to(state, crumbs[1][0], regions)
    assert back == DrillState("origin", "520000") and back.level == "province"
    assert up_to(state, None, regions) == DrillState("origin", None)
    assert up_to(state, "530000", regions) == state  # not an ancestor


def test_breadcrumbs_skip_a_region_passed_through(regions):
    state = drill(DrillState("buyer"), "110000", regions)
    state = drill(state, "110101", regions)
    assert [name for _, name in breadcrumbs(regions, state)] == ["全国", "北京市市辖区", "东城区"]


def test_switching_side_starts_again_from_the_country():
    state = DrillState("origin", "520300")
    assert with_side(state, "buyer") == DrillState("buyer", None)
    assert with_side(state, "origin") is state
    assert with_side(state, "sideways") is state


def test_state_round_trips_through_the_url(regions):
    state = DrillState("buyer", "440400")
    params = state_to_params(state)
    assert params == {"side": "buyer", "level": "city", "region": "440400"}
    assert state_from_params(params, regions) == state
    assert state_to_params(DrillState()) == {"side": "origin", "level": "country"}
    assert state_from_params({"side": "x", "region": "'; drop"}, regions) == DrillState("origin", None)


def test_the_state_is_the_shared_filters_region():
    f = Filters(start=date(2026, 1, 1), end=date(2026, 6, 30), channels=("p832",))
    moved = apply(f, DrillState("buyer", "440400"))
    assert (moved.region_code, moved.region_side, moved.channels, moved.start) == (
        "440400",
        "buyer",
        ("p832",),
        f.start,
    )
    assert state_from_filters(moved) == DrillState("buyer", "440400")


@pytest.mark.parametrize(
    "selection, code",
    [
        ({"points": [{"point_index": 2, "customdata": ["520300"]}]}, "520300"),
        ({"points": []}, None),
        (
            {
                "indices": {"choropleth": [3]},
                "objects": {"choropleth": [{"type": "Feature", "properties": {"code": "520302", "name": "红花岗区"}}]},
            },
            "520302",
        ),
        ({"indices": {}, "objects": {}}, None),
        ({"objects": {"outlets": [{"code": "440402"}]}}, "440402"),
        (None, None),
    ],
)
def test_picked_code_reads_plotly_and_pydeck_selections(selection, code):
    assert picked_code(selection) == code
