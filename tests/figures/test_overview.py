"""Every figure of 总览 recomputed with one plain SQL statement and compared."""

from datetime import date

import pytest
from sqlalchemy import text

from data_access.figures.overview import (
    amount_by_channel,
    data_as_of,
    monthly_amounts,
    overview_kpis,
)
from data_access.query.filters import Filters
from data_access.query.periods import time_progress

CASES = [
    Filters(start=date(2026, 1, 1), end=date(2026, 10, 31)),
    Filters(start=date(2025, 3, 1), end=date(2025, 8, 31), channels=("p832", "hall")),
    Filters(start=date(2026, 1, 1), end=date(2026, 10, 31), region_code="520000"),
    Filters(
        start=date(2026, 1, 1),
        end=date(2026, 10, 31),
        region_code="440400",
        region_side="buyer",
        buyer_kinds=("union",),
    ),
    Filters(start=date(2024, 1, 1), end=date(2024, 12, 31), categories=("fruit", "tea_drink")),
]


def _sql_amount(conn, f: Filters) -> float:
    where = ["p.purchase_date BETWEEN :start AND :end"]
    params = {"start": f.start, "end": f.end}
    if f.channels:
        where.append("p.channel IN (" + ",".join(f"'{c}'" for c in f.channels) + ")")
    if f.buyer_kinds:
        where.append("u.kind IN (" + ",".join(f"'{k}'" for k in f.buyer_kinds) + ")")
    if f.categories:
        where.append("pr.category IN (" + ",".join(f"'{c}'" for c in f.categories) + ")")
    if f.region_code:
        col = "u.region_code" if f.region_side == "buyer" else "p.origin_code"
        prefix = f.region_code[:2] if f.region_code.endswith("0000") else f.region_code[:4]
        where.append(f"{col} LIKE '{prefix}%'")
    sql = (
        "SELECT COALESCE(SUM(p.amount), 0) FROM purchase p JOIN buyer_unit u ON u.id = p.buyer_unit_id "
        "JOIN product pr ON pr.id = p.product_id WHERE " + " AND ".join(where)
    )
    return float(conn.execute(text(sql), params).scalar())


@pytest.mark.parametrize("f", CASES)
def test_kpis_match_plain_sql(demo_engine, f):
    k = overview_kpis(demo_engine, f)
    with demo_engine.connect() as conn:
        assert k["amount"] == pytest.approx(_sql_amount(conn, f), abs=0.01)
        assert k["amount_last_year"] == pytest.approx(_sql_amount(conn, f.last_year()), abs=0.01)
        n = conn.execute(
            text("SELECT COUNT(*) FROM purchase WHERE purchase_date BETWEEN :s AND :e"), {"s": f.start, "e": f.end}
        ).scalar()
        if not (f.channels or f.region_code or f.buyer_kinds or f.categories):
            assert k["purchases"] == n
        operating = conn.execute(text("SELECT COUNT(*) FROM outlet WHERE status = 'operating'")).scalar()
        assert k["outlets_operating"] == operating


@pytest.mark.parametrize("f", CASES[:3])
def test_monthly_and_channel_sum_to_the_total(demo_engine, f):
    total = overview_kpis(demo_engine, f)["amount"]
    monthly = monthly_amounts(demo_engine, f)
    assert monthly.amount.sum() == pytest.approx(total, abs=0.05)
    assert amount_by_channel(demo_engine, f).amount.sum() == pytest.approx(total, abs=0.05)


def test_as_of_and_time_progress(demo_engine):
    assert data_as_of(demo_engine) == date(2026, 10, 31)
    assert time_progress(date(2026, 12, 31)) == 1.0
    assert time_progress(date(2026, 7, 2)) == pytest.approx(183 / 365)
