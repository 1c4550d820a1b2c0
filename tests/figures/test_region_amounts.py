"""Purchase amounts by region on both backends: roll-ups add up, flows know their pairings."""

from dataclasses import replace
from datetime import date

import pytest

from data_access.figures.overview import amount_total
from data_access.figures.region_amounts import (
    amount_by_child,
    county_amounts,
    flow_level,
    involved_counts,
    pairing_flows,
    top_products,
    top_units,
)
from data_access.query.filters import Filters

YEAR = Filters(start=date(2026, 1, 1), end=date(2026, 10, 31))


@pytest.mark.parametrize("side", ["origin", "buyer"])
def test_children_of_the_country_add_up_to_the_total(demo_engine, side):
    f = replace(YEAR, region_side=side)
    children = amount_by_child(demo_engine, f)
    assert len(children) == 34 and (children.level == "province").all()
    assert children.amount.sum() == pytest.approx(amount_total(demo_engine, f))
    assert children.share.sum() == pytest.approx(1.0)
    assert children.amount.is_monotonic_decreasing


@pytest.mark.parametrize("code", ["520000", "520300", "500000"])
def test_children_of_an_origin_region_add_up_to_its_total(demo_engine, code):
    f = YEAR.with_region(code)
    children = amount_by_child(demo_engine, f)
    assert len(children) > 0 and children.code.str.startswith(code[:2]).all()
    assert children.amount.sum() == pytest.approx(amount_total(demo_engine, f))


def test_buyer_side_has_money_where_origin_side_has_none(demo_engine):
    zhuhai = Filters(start=YEAR.start, end=YEAR.end, region_code="440400", region_side="buyer")
    assert amount_by_child(demo_engine, zhuhai).amount.sum() > 0
    assert amount_by_child(demo_engine, replace(zhuhai, region_side="origin")).amount.sum() == 0


def test_pairing_flows_mark_the_seeds_pairings(demo_engine):
    flows = pairing_flows(demo_engine, YEAR)
    assert flow_level(YEAR) == "province"
    zhuhai_guizhou = flows[(flows.helper_name == "珠海市") & (flows.origin_code == "520000")]
    assert len(zhuhai_guizhou) == 1 and bool(zhuhai_guizhou.paired.iloc[0])
    assert zhuhai_guizhou.pairing_kind.iloc[0] == "east_west"
    assert flows.amount.is_monotonic_decreasing and len(flows) <= 30
    zunyi = YEAR.with_region("520300")
    county_flows = pairing_flows(demo_engine, zunyi)
    assert flow_level(zunyi) == "county" and county_flows.origin_code.str.startswith("5203").all()
    assert county_flows.amount.sum() == pytest.approx(amount_total(demo_engine, zunyi))


def test_top_products_and_units_of_a_county(demo_engine):
    f = YEAR.with_region("520302")
    products = top_products(demo_engine, f, limit=5)
    assert 0 < len(products) <= 5 and (products.origin_code == "520302").all()
    units = top_units(demo_engine, f)
    assert units.amount.sum() == pytest.approx(amount_total(demo_engine, f))


@pytest.mark.parametrize("side", ["origin", "buyer"])
def test_involved_counts_are_not_capped_by_the_top_lists(demo_engine, side):
    f = replace(YEAR, region_side=side)
    counts = involved_counts(demo_engine, f)
    assert counts["units"] > 20 and counts["products"] > 20 and counts["outlets"] > 0
    assert len(top_units(demo_engine, f)) == 20
    county = involved_counts(demo_engine, YEAR.with_region("520302"))
    assert 0 < county["products"] <= counts["products"] and 0 < county["units"] <= counts["units"]
    assert len(top_units(demo_engine, YEAR.with_region("520302"), limit=1000)) == county["units"]


@pytest.mark.parametrize("side", ["origin", "buyer"])
def test_county_amounts_add_up(demo_engine, side):
    f = replace(YEAR, region_side=side)
    df = county_amounts(demo_engine, f, side)
    assert df.amount.sum() == pytest.approx(amount_total(demo_engine, f))
    assert df.name.notna().all()
