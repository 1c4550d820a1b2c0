"""Outlet figures on both backends: status counts, map payload, dynamic exit, outlets since."""

from datetime import date

import pytest
from sqlalchemy import func, insert, select

from data_access.figures.outlets import (
    LOW_MONTHS,
    WINDOW_MONTHS,
    exit_candidates,
    outlet_map_payload,
    outlet_points,
    outlet_status_counts,
    outlets_since,
)
from data_access.query.filters import Filters
from data_access.store.schema import outlet, purchase

YEAR = Filters(start=date(2026, 1, 1), end=date(2026, 10, 31))


def _count(engine, *where):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(outlet).where(*where)).scalar()


def test_status_counts_cover_every_outlet(demo_engine):
    counts = outlet_status_counts(demo_engine, YEAR)
    assert sum(counts.values()) == _count(demo_engine) > 0
    assert counts["operating"] > counts.get("exited", 0)


def test_buyer_side_region_picks_outlets_by_location(demo_engine):
    zhuhai = Filters(start=YEAR.start, end=YEAR.end, region_code="440400", region_side="buyer")
    counts = outlet_status_counts(demo_engine, zhuhai)
    assert 0 < sum(counts.values()) < _count(demo_engine)
    points = outlet_points(demo_engine, zhuhai)
    assert len(points) == sum(counts.values()) and points.region_code.str.startswith("4404").all()


def test_outlet_sales_are_the_purchases_through_the_outlet(demo_engine):
    points = outlet_points(demo_engine, YEAR)
    with demo_engine.connect() as conn:
        total = conn.execute(
            select(func.sum(purchase.c.amount)).where(
                purchase.c.outlet_id.is_not(None),
                purchase.c.purchase_date >= YEAR.start,
                purchase.c.purchase_date <= YEAR.end,
            )
        ).scalar()
    assert points.sales_yuan.sum() == pytest.approx(float(total), rel=1e-9)
    assert points.sales_yuan.is_monotonic_decreasing
    assert {"id", "name", "kind", "operator", "lng", "lat", "opened_on", "status", "sales_yuan"} <= set(points)


def test_origin_side_region_keeps_outlets_selling_its_produce(demo_engine):
    guizhou = Filters(start=YEAR.start, end=YEAR.end, region_code="520000")
    points = outlet_points(demo_engine, guizhou)
    assert len(points) > 0 and (points.sales_yuan > 0).all()
    assert points.sales_yuan.sum() < outlet_points(demo_engine, YEAR).sales_yuan.sum()


def test_large_maps_get_a_density_grid_and_bounded_points(demo_engine):
    small = outlet_map_payload(demo_engine, YEAR)
    assert small["density"] is None and len(small["points"]) == small["total"]
    big = outlet_map_payload(demo_engine, YEAR, limit=10)
    assert len(big["points"]) == 10
    assert big["density"].outlets.sum() == big["total"] == small["total"]
    assert len(big["density"]) < big["total"]
    assert big["density"].lng.between(73, 136).all() and big["density"].lat.between(3, 54).all()


def test_exit_candidates_follow_the_dynamic_exit_rule(demo_engine):
    cands = exit_candidates(demo_engine, YEAR)
    assert list(cands.columns) == [
        "id",
        "name",
        "kind",
        "region_code",
        "region_name",
        "status",
        "months_low",
        "sales_yuan",
        "reason",
    ]
    assert "exited" not in set(cands.status)
    with demo_engine.connect() as conn:
        flagged = {
            r[0]
            for r in conn.execute(select(outlet.c.id).where(outlet.c.status.in_(["suspended", "exit_proposed"]))).all()
        }
    assert flagged <= set(cands.id)
    low = cands[cands.status == "operating"]
    assert (low.months_low >= LOW_MONTHS).all() and low.reason.str.contains("连续").all()
    assert cands.months_low.is_monotonic_decreasing


def test_an_outlet_with_no_sales_for_months_becomes_a_candidate(writable_demo_engine):
    eng = writable_demo_engine
    with eng.begin() as conn:
        new_id = conn.execute(select(func.max(outlet.c.id))).scalar() + 1
        conn.execute(
            insert(outlet).values(
                id=new_id,
                name="测试网点（无销售）",
                kind="counter",
                operator="测试",
                region_code="440402",
                lng=113.55,
                lat=22.25,
                opened_on=date(2024, 1, 1),
                status="operating",
            )
        )
    cands = exit_candidates(eng, YEAR)
    row = cands[cands.id == new_id]
    assert len(row) == 1 and int(row.months_low.iloc[0]) == WINDOW_MONTHS and row.sales_yuan.iloc[0] == 0
    assert f"连续{WINDOW_MONTHS}个月" in row.reason.iloc[0]
    # Opened last month: too new to judge.
    with eng.begin() as conn:
        conn.execute(outlet.update().where(outlet.c.id == new_id).values(opened_on=date(2026, 10, 1)))
    assert new_id not in set(exit_candidates(eng, YEAR).id)


def test_outlets_since_lists_newly_opened_outlets(demo_engine):
    since = date(2025, 1, 1)
    df = outlets_since(demo_engine, since)
    assert len(df) == _count(demo_engine, outlet.c.opened_on >= since) > 0
    assert (df.opened_on >= since).all() and df.opened_on.is_monotonic_decreasing
    assert df.kind_label.notna().all() and df.status_label.notna().all()
