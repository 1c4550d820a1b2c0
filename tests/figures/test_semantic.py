"""趋势分析's semantic layer: figures recomputed with plain SQL, on both backends."""

from datetime import date

import pandas as pd
import pytest
from sqlalchemy import text

from data_access.figures.semantic import (
    DIMENSIONS,
    MEASURES,
    UnknownName,
    compatible,
    display_table,
    period_keys,
    trend,
    trend_query,
)
from data_access.query.filters import Filters

F = Filters(start=date(2025, 1, 1), end=date(2025, 12, 31))
F26 = Filters(start=date(2026, 1, 1), end=date(2026, 9, 30))


def sql(engine, query: str, **params) -> pd.DataFrame:
    with engine.connect() as conn:
        result = conn.execute(text(query), params)
        return pd.DataFrame(result.all(), columns=list(result.keys()))


def as_map(result) -> dict:
    return {(int(r.period_key), r.member): r.value for r in result.table.itertuples()}


def test_amount_by_channel_and_month_matches_plain_sql(demo_engine):
    got = as_map(trend(demo_engine, F, "amount", "channel", "month", top_n=50))
    want = sql(
        demo_engine,
        "SELECT month, channel, SUM(amount) AS v FROM purchase "
        "WHERE month BETWEEN 202501 AND 202512 GROUP BY month, channel",
    )
    assert len(want) > 12
    for r in want.itertuples():
        assert got[(r.month, r.channel)] == pytest.approx(float(r.v), abs=0.01)
    assert sum(got.values()) == pytest.approx(float(want.v.sum()), abs=0.5)


def test_quantity_by_origin_province_and_quarter_matches_plain_sql(demo_engine):
    got = as_map(trend(demo_engine, F26, "quantity", "origin_province", "quarter", top_n=50))
    want = sql(
        demo_engine,
        "SELECT r.province_code AS prov, (p.month % 100 + 2) / 3 AS q, SUM(p.quantity) AS v "
        "FROM purchase p JOIN region r ON r.code = p.origin_code "
        "WHERE p.month BETWEEN 202601 AND 202609 GROUP BY r.province_code, (p.month % 100 + 2) / 3",
    )
    assert set(want.q) == {1, 2, 3}
    for r in want.itertuples():
        assert got[(20260 + r.q, r.prov)] == pytest.approx(float(r.v), rel=1e-9)


def test_purchase_count_by_buyer_kind_and_year_with_last_year(demo_engine):
    res = trend(demo_engine, F26, "purchases", "buyer_kind", "year", compare=True)
    want = sql(
        demo_engine,
        "SELECT u.kind, p.month / 100 AS y, COUNT(*) AS n FROM purchase p "
        "JOIN buyer_unit u ON u.id = p.buyer_unit_id "
        "WHERE p.month BETWEEN 202601 AND 202609 OR p.month BETWEEN 202501 AND 202509 "
        "GROUP BY u.kind, p.month / 100",
    )
    n = {(r.y, r.kind): r.n for r in want.itertuples()}
    assert len(res.table) == 5  # one year, five buyer kinds
    for r in res.table.itertuples():
        assert r.period == "2026"
        assert r.value == n[(2026, r.member)]
        assert r.value_last_year == n[(2025, r.member)]
        assert r.yoy == pytest.approx(n[(2026, r.member)] / n[(2025, r.member)] - 1)


def test_canteen_share_by_helper_and_year_matches_plain_sql(demo_engine):
    got = as_map(trend(demo_engine, F, "canteen_share", "helper", "year", top_n=50))
    num = sql(
        demo_engine,
        "SELECT u.jurisdiction_code AS j, SUM(p.amount) AS v FROM purchase p "
        "JOIN buyer_unit u ON u.id = p.buyer_unit_id WHERE p.purpose = 'canteen' "
        "AND u.kind = 'budget_unit' AND p.month BETWEEN 202501 AND 202512 GROUP BY u.jurisdiction_code",
    )
    base = sql(
        demo_engine,
        "SELECT u.jurisdiction_code AS j, SUM(b.canteen_food_budget) AS b FROM unit_budget b "
        "JOIN buyer_unit u ON u.id = b.unit_id WHERE b.year = 2025 AND u.kind = 'budget_unit' "
        "GROUP BY u.jurisdiction_code",
    )
    want = num.merge(base, on="j")
    assert len(want) == 7
    for r in want.itertuples():
        share = float(r.v) / float(r.b)
        assert 0.02 < share < 0.8
        assert got[(2025, r.j)] == pytest.approx(share, rel=1e-9)


def test_canteen_share_by_channel_sums_to_the_total_share(demo_engine):
    by_channel = trend(demo_engine, F, "canteen_share", "channel", "year", top_n=50).table
    total = trend(demo_engine, F, "canteen_share", "total", "year").table
    assert by_channel.value.sum() == pytest.approx(total.value.iloc[0], rel=1e-9)


def test_beneficiaries_by_category_and_quarter_matches_plain_sql(demo_engine):
    got = as_map(trend(demo_engine, F, "beneficiaries", "category", "quarter", top_n=50))
    rows = sql(
        demo_engine,
        "SELECT DISTINCT pr.category AS cat, "
        "(CAST(SUBSTR(b.period, 6, 2) AS INTEGER) + 2) / 3 AS q, b.beneficiary_id AS who "
        "FROM benefit b JOIN product pr ON pr.id = b.product_id "
        "WHERE b.period >= '2025-01' AND b.period <= '2025-12'",
    )
    want = rows.groupby(["q", "cat"]).who.nunique()
    assert want.sum() > 50
    for (q, cat), n in want.items():
        assert got[(20250 + q, cat)] == n


def test_month_grid_is_complete_and_top_n_keeps_the_largest(demo_engine):
    res = trend(demo_engine, F26, "amount", "origin_county", "month", top_n=3)
    assert res.members_total > 3 and res.table.member.nunique() == 3
    assert sorted(res.table.period_key.unique()) == period_keys(F26.start, F26.end, "month")
    totals = sql(
        demo_engine,
        "SELECT origin_code, SUM(amount) AS v FROM purchase "
        "WHERE month BETWEEN 202601 AND 202609 GROUP BY origin_code ORDER BY v DESC",
    )
    assert list(res.table.member.unique()) == list(totals.origin_code[:3])
    assert any("仅显示" in n for n in res.notes)


def test_filters_apply_to_the_trend(demo_engine):
    f = Filters(start=F.start, end=F.end, channels=("p832",), region_code="520000")
    res = trend(demo_engine, f, "amount", "total", "year")
    want = sql(
        demo_engine,
        "SELECT SUM(amount) AS v FROM purchase WHERE channel = 'p832' "
        "AND origin_code LIKE '52%' AND month BETWEEN 202501 AND 202512",
    )
    assert res.table.value.iloc[0] == pytest.approx(float(want.v.iloc[0]), abs=0.01)


@pytest.mark.parametrize(
    "measure, dimension, grain",
    [
        ("amount; DROP TABLE purchase", "channel", "month"),
        ("amount", "buyer_unit.name", "month"),
        ("amount", "channel", "week"),
        ("beneficiaries", "channel", "month"),
    ],
)
def test_unknown_or_incompatible_names_are_rejected(measure, dimension, grain):
    with pytest.raises(UnknownName):
        trend_query(F, measure, dimension, grain)


def test_every_listed_combination_builds_on_both_dialects():
    from sqlalchemy.dialects import postgresql, sqlite

    for m in MEASURES:
        for d in DIMENSIONS:
            if compatible(m, d):
                q = trend_query(F, m, d, "quarter")
                for dialect in (sqlite.dialect(), postgresql.dialect()):
                    assert "GROUP BY" in str(q.compile(dialect=dialect))


def test_display_table_shows_shares_in_percent_with_last_year(demo_engine):
    res = trend(demo_engine, F, "canteen_share", "total", "year", compare=True)
    shown = display_table(res)
    assert list(shown.columns) == ["年", "合计", "食堂食材采购占预算比例（%）", "上年同期（%）", "同比（%）"]
    assert shown.iloc[0, 2] == pytest.approx(res.table.value.iloc[0] * 100, abs=0.01)


def test_amount_by_helper_and_quarter_with_last_year_matches_plain_sql(demo_engine):
    res = trend(demo_engine, F26, "amount", "helper", "quarter", top_n=50, compare=True)
    want = sql(
        demo_engine,
        "SELECT u.jurisdiction_code AS j, p.month / 100 AS y, (p.month % 100 + 2) / 3 AS q, "
        "SUM(p.amount) AS v FROM purchase p JOIN buyer_unit u ON u.id = p.buyer_unit_id "
        "WHERE p.month BETWEEN 202601 AND 202609 OR p.month BETWEEN 202501 AND 202509 "
        "GROUP BY u.jurisdiction_code, p.month / 100, (p.month % 100 + 2) / 3",
    )
    v = {(r.y, r.q, r.j): float(r.v) for r in want.itertuples()}
    assert res.members_total == len({r.j for r in want.itertuples() if r.y == 2026}) > 3
    assert set(res.table.period) == {"2026-Q1", "2026-Q2", "2026-Q3"}
    for r in res.table.itertuples():
        q = r.period_key % 10
        assert r.value == pytest.approx(v.get((2026, q, r.member), 0.0), abs=0.01)
        assert r.value_last_year == pytest.approx(v.get((2025, q, r.member), 0.0), abs=0.01)
    names = sql(demo_engine, "SELECT code, name FROM region WHERE code IN ('440400', '430900')")
    assert set(names.name) & set(res.table.member_name)  # helpers are named, not coded


def test_gift_share_by_quarter_divides_by_the_annual_gift_budget(demo_engine):
    got = as_map(trend(demo_engine, F, "gift_share", "total", "quarter"))
    num = sql(
        demo_engine,
        "SELECT (p.month % 100 + 2) / 3 AS q, SUM(p.amount) AS v FROM purchase p "
        "JOIN buyer_unit u ON u.id = p.buyer_unit_id WHERE p.purpose = 'holiday_gift' "
        "AND u.kind = 'union' AND p.month BETWEEN 202501 AND 202512 GROUP BY (p.month % 100 + 2) / 3",
    )
    base = sql(
        demo_engine,
        "SELECT SUM(b.gift_budget) AS b FROM unit_budget b JOIN buyer_unit u ON u.id = b.unit_id "
        "WHERE b.year = 2025 AND u.kind = 'union'",
    )
    assert len(num) >= 2
    for r in num.itertuples():
        assert got[(20250 + r.q, "all")] == pytest.approx(float(r.v) / float(base.b.iloc[0]), rel=1e-9)
    assert sum(got.values()) == pytest.approx(float(num.v.sum()) / float(base.b.iloc[0]), rel=1e-9)


def test_beneficiaries_by_origin_city_and_month_matches_plain_sql(demo_engine):
    got = as_map(trend(demo_engine, F26, "beneficiaries", "origin_city", "month", top_n=50))
    rows = sql(
        demo_engine,
        "SELECT DISTINCT COALESCE(r.city_code, r.code) AS city, "
        "CAST(SUBSTR(b.period, 1, 4) AS INTEGER) * 100 + CAST(SUBSTR(b.period, 6, 2) AS INTEGER) AS m, "
        "b.beneficiary_id AS who FROM benefit b JOIN beneficiary p ON p.id = b.beneficiary_id "
        "JOIN region r ON r.code = p.region_code "
        "WHERE b.period >= '2026-01' AND b.period <= '2026-09'",
    )
    want = rows.groupby(["m", "city"]).who.nunique()
    assert want.sum() > 20 and rows.city.nunique() > 1
    for (m, city), n in want.items():
        assert got[(m, city)] == n
    assert sum(got.values()) == want.sum()


def test_purchases_by_origin_city_and_year_under_a_buyer_region_filter(demo_engine):
    f = Filters(start=F.start, end=F.end, region_code="440400", region_side="buyer", buyer_kinds=("union",))
    got = as_map(trend(demo_engine, f, "purchases", "origin_city", "year", top_n=50))
    want = sql(
        demo_engine,
        "SELECT COALESCE(r.city_code, r.code) AS city, COUNT(*) AS n FROM purchase p "
        "JOIN buyer_unit u ON u.id = p.buyer_unit_id JOIN region r ON r.code = p.origin_code "
        "WHERE u.region_code LIKE '4404%' AND u.kind = 'union' "
        "AND p.month BETWEEN 202501 AND 202512 GROUP BY COALESCE(r.city_code, r.code)",
    )
    assert len(want) > 1
    assert got == {(2025, r.city): r.n for r in want.itertuples()}


def test_quantity_by_category_and_year_with_last_year_matches_plain_sql(demo_engine):
    res = trend(demo_engine, F26, "quantity", "category", "year", top_n=50, compare=True)
    want = sql(
        demo_engine,
        "SELECT pr.category AS cat, p.month / 100 AS y, SUM(p.quantity) AS v FROM purchase p "
        "JOIN product pr ON pr.id = p.product_id "
        "WHERE p.month BETWEEN 202601 AND 202609 OR p.month BETWEEN 202501 AND 202509 "
        "GROUP BY pr.category, p.month / 100",
    )
    v = {(r.y, r.cat): float(r.v) for r in want.itertuples()}
    assert len(res.table) == len([k for k in v if k[0] == 2026])
    for r in res.table.itertuples():
        assert r.value == pytest.approx(v[(2026, r.member)], rel=1e-9)
        assert r.value_last_year == pytest.approx(v[(2025, r.member)], rel=1e-9)
        assert r.yoy == pytest.approx(v[(2026, r.member)] / v[(2025, r.member)] - 1, rel=1e-9)


def test_incomplete_periods_are_named(demo_engine):
    res = trend(demo_engine, Filters(start=date(2026, 1, 1), end=date(2026, 10, 31)), "amount", "total", "quarter")
    assert any("2026-Q4 只含 10月1日至10月31日" in n for n in res.notes)
    full = trend(demo_engine, F, "amount", "total", "quarter")
    assert not any("不完整期" in n for n in full.notes)
