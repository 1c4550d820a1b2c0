"""Rollups stay exact: after an import, every page figure answered from the rollups equals the same
figure computed on the raw purchase table, on both backends."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import delete, event, func, insert, select, text

from data_access.desks import imports
from data_access.desks.ingest import parse_upload
from data_access.engines import rules
from data_access.figures import catalogue, outlets, overview, procurement, region_amounts, semantic
from data_access.query.facts import scoped_select
from data_access.query.filters import Filters
from data_access.store import rollup, schema
from data_access.store.bulk import bulk_insert
from data_access.store.migrate import alembic_config
from data_access.store.schema import purchase, region
from data_access.tools import bench
from data_access.trust.auth import Principal

ADMIN = Principal(username="tester", role="admin")
YEAR = Filters(start=date(2025, 1, 1), end=date(2025, 12, 31))
FILTERS = {
    "year": YEAR,
    "ytd": replace(YEAR, end=date(2025, 9, 30)),
    "ytd to a mid-month day": replace(YEAR, end=date(2025, 9, 17)),
    "partial months": Filters(start=date(2025, 2, 10), end=date(2025, 7, 20)),
    "province": YEAR.with_region("520000"),
    "city, buyer side": replace(YEAR, region_code="440400", region_side="buyer"),
    "kinds and channels": replace(YEAR, buyer_kinds=("union", "budget_unit"), channels=("p832", "canteen")),
    "category": replace(YEAR, categories=("grain_oil",)),
}
CALLS = {
    "overview_kpis": overview.overview_kpis,
    "monthly_amounts": overview.monthly_amounts,
    "amount_by_channel": overview.amount_by_channel,
    "amount_by origin": lambda e, f: procurement.amount_by(e, f, "origin"),
    "amount_by buyer_kind": lambda e, f: procurement.amount_by(e, f, "buyer_kind"),
    "rules.evaluate": rules.evaluate,
    "county_amounts": lambda e, f: region_amounts.county_amounts(e, f, "origin"),
    "pairing_flows": region_amounts.pairing_flows,
    "top_products": region_amounts.top_products,
    "top_units": region_amounts.top_units,
    "involved_counts": region_amounts.involved_counts,
    "outlet_sales": lambda e, f: outlets.outlet_sales(e, f).sort_values("outlet_id"),  # unordered by contract
    "exit_candidates": outlets.exit_candidates,
    "trend channel": lambda e, f: semantic.trend(e, f, "amount", "channel", "month", 10, True).table,
    "trend origin": lambda e, f: semantic.trend(e, f, "purchases", "origin_province", "quarter").table,
    "catalogue": catalogue.product_catalogue,
}


def _same(a, b) -> None:
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(
            a.reset_index(drop=True), b.reset_index(drop=True), check_exact=False, rtol=1e-12, check_dtype=False
        )
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            if isinstance(a[k], float):
                assert a[k] == pytest.approx(b[k], rel=1e-12), k
            else:
                assert a[k] == b[k], k
    else:
        assert a == b


@pytest.fixture(scope="module")
def imported(databases, tmp_path_factory):
    """A demo store with a purchase ledger imported on top of it; the raw-fact twin of its engine."""
    from data_access.reference.setup import init_store
    from data_access.tools.demo import generate_demo

    engine = databases.new_engine()
    init_store(engine)
    generate_demo(engine, scale=4000)
    before = overview.amount_total(engine, YEAR)
    path = bench.write_bench_ledger(engine, tmp_path_factory.mktemp("ledger") / "ledger.csv", 400, seed=7)
    outcome = imports.commit_upload(engine, parse_upload(path, "purchases", None), principal=ADMIN)
    assert outcome.committed, outcome.message
    assert overview.amount_total(engine, YEAR) > before
    yield engine, engine.execution_options(rollup=False)
    engine.dispose()


def test_import_keeps_rollups_current(imported):
    engine, _ = imported
    with engine.connect() as conn:
        assert rollup.is_current(conn)


@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("call", list(CALLS))
def test_rollup_figures_equal_raw_figures_after_import(imported, call, name):
    engine, raw = imported
    f = FILTERS[name]
    _same(CALLS[call](engine, f), CALLS[call](raw, f))


def test_statements_with_region_joins_are_answered_from_rollups():
    q = (
        scoped_select(YEAR, region.c.province_code, func.sum(purchase.c.amount))
        .join(region, region.c.code == purchase.c.origin_code)
        .group_by(region.c.province_code)
    )
    routed = rollup.routed(q, q.get_execution_options()["purchase_scope"])
    assert routed is not None and "purchase_rollup" in str(routed)


@pytest.mark.parametrize("call", list(CALLS))
def test_page_calls_read_the_rollups(imported, call):
    engine, _ = imported
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        CALLS[call](engine, FILTERS["year"])
    finally:
        event.remove(engine, "before_cursor_execute", record)
    # Every statement on purchases goes to a rollup; the raw table is read only for the watermark check.
    raw = [q for q in seen if re.search(r"(FROM|JOIN) purchase\b", q) and "max(purchase.id)" not in q]
    assert any("purchase_rollup" in q for q in seen)
    assert not raw, raw


@pytest.mark.parametrize(
    "prefix, start, table",
    [
        ("52", date(2025, 1, 1), "purchase_rollup_unit_province_ytd"),
        ("52", date(2025, 3, 1), "purchase_rollup_unit_province"),
        ("5203", date(2025, 1, 1), "purchase_rollup"),
        ("520302", date(2025, 1, 1), "purchase_rollup"),
    ],
)
def test_origin_drill_goes_to_the_smallest_rollup_that_keeps_that_prefix(prefix, start, table):
    # Unit × channel × purpose under an origin filter (the rule engine's statement, drilled): a
    # province prefix fits origin_province (year to date or by month); a city or county needs more
    # of the code than it keeps.
    f = replace(YEAR, start=start).with_region(prefix.ljust(6, "0"))
    q = scoped_select(
        f, purchase.c.buyer_unit_id, purchase.c.channel, purchase.c.purpose, func.sum(purchase.c.amount)
    ).group_by(purchase.c.buyer_unit_id, purchase.c.channel, purchase.c.purpose)
    routed = str(rollup.routed(q, q.get_execution_options()["purchase_scope"]))
    assert re.search(rf"FROM {table}\b", routed), routed


@pytest.mark.parametrize(
    "start, end, table",
    [
        (date(2025, 1, 1), date(2025, 9, 30), "purchase_rollup_unit_ytd"),
        (date(2025, 1, 1), date(2025, 9, 17), "purchase_rollup_unit_ytd"),  # September 1–17 from the raw facts
        (date(2025, 1, 1), date(2025, 12, 31), "purchase_rollup_unit_ytd"),
        (date(2025, 2, 1), date(2025, 6, 30), "purchase_rollup_unit"),  # not from 1 January
        (date(2024, 1, 1), date(2025, 6, 30), "purchase_rollup_unit"),  # over a year end
    ],
)
def test_a_period_from_1_january_reads_one_month_of_a_cumulative_rollup(start, end, table):
    q = scoped_select(
        Filters(start=start, end=end), purchase.c.buyer_unit_id, purchase.c.channel, func.sum(purchase.c.amount)
    ).group_by(purchase.c.buyer_unit_id, purchase.c.channel)
    routed = str(rollup.routed(q, q.get_execution_options()["purchase_scope"]))
    assert re.search(rf"FROM {table}\b", routed), routed
    if table.endswith("_ytd"):
        assert "max(held.month)" in routed


def test_figures_by_month_never_read_a_cumulative_rollup():
    q = scoped_select(YEAR, purchase.c.month, purchase.c.channel, func.sum(purchase.c.amount)).group_by(
        purchase.c.month, purchase.c.channel
    )
    routed = str(rollup.routed(q, q.get_execution_options()["purchase_scope"]))
    assert "_ytd" not in routed and "FROM purchase_rollup_kind" in routed


@pytest.fixture
def private(databases, tmp_path):
    """A small demo store of its own with one imported ledger: (engine, its raw-fact twin, batch id)."""
    from data_access.reference.setup import init_store
    from data_access.tools.demo import generate_demo

    engine = databases.new_engine()
    init_store(engine)
    generate_demo(engine, scale=3000)
    path = bench.write_bench_ledger(engine, tmp_path / "ledger.csv", 300, seed=11)
    outcome = imports.commit_upload(engine, parse_upload(path, "purchases", None), principal=ADMIN)
    assert outcome.committed, outcome.message
    yield engine, engine.execution_options(rollup=False), outcome.batch_id
    engine.dispose()


def _rollup_rows(engine) -> dict[str, list[tuple]]:
    out = {}
    with engine.connect() as conn:
        for r in rollup.ROLLUPS:
            t = r.table
            rows = conn.execute(select(t).order_by(*[t.c[d] for d in r.dims])).all()
            out[t.name] = [(*row[: len(r.dims)], round(float(row.amount), 2), row.n) for row in rows]
    return out


def _assert_same_figures(engine, raw) -> None:
    for name in ("ytd to a mid-month day", "year", "partial months"):
        for call in ("overview_kpis", "rules.evaluate", "top_units", "trend channel", "catalogue"):
            _same(CALLS[call](engine, FILTERS[name]), CALLS[call](raw, FILTERS[name]))


def test_the_migration_fills_the_new_rollups_as_rebuild_and_imports_keep_them(private):
    from alembic import command

    engine, _raw, _batch = private
    kept = _rollup_rows(engine)  # a rebuild (the demo) plus an import (add_batch)
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "scale_0004")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
    assert _rollup_rows(engine) == kept
    _assert_store_indexes_cover(engine)
    with engine.begin() as conn:
        rollup.rebuild(conn)
    assert _rollup_rows(engine) == kept


def _covering_indexes() -> list[tuple[str, str, list[str], list[str]]]:
    """(rollup, index, leading columns, carried columns) for every covering rollup index in the schema."""
    return [
        (r.table.name, ix.name, [c.name for c in ix.columns], list(ix.dialect_options["postgresql"]["include"]))
        for r in rollup.ROLLUPS
        for ix in r.table.indexes
        if ix.dialect_options["postgresql"]["include"]
    ]


def _assert_store_indexes_cover(engine) -> None:
    from sqlalchemy import inspect

    found = {(t, ix["name"]): ix for t in {c[0] for c in _covering_indexes()} for ix in inspect(engine).get_indexes(t)}
    for table, name, lead, rest in _covering_indexes():
        ix = found[(table, name)]
        if engine.dialect.name == "postgresql":
            assert (ix["column_names"], ix["dialect_options"]["postgresql_include"]) == (lead, rest), name
        else:  # no INCLUDE in SQLite: the carried columns trail the key
            assert ix["column_names"] == lead + rest, name


def test_a_county_drill_reads_the_rollup_index_alone(imported):
    engine, _ = imported
    assert {c[1] for c in _covering_indexes()} >= {
        "ix_purchase_rollup_origin_code_month",
        "ix_purchase_rollup_outlet_origin_origin_code_month",
    }
    _assert_store_indexes_cover(engine)
    with engine.begin() as conn:
        county = conn.execute(select(purchase.c.origin_code).limit(1)).scalar()
        sql = (
            "SELECT buyer_unit_id, purpose, SUM(amount), SUM(n) FROM purchase_rollup "
            "WHERE origin_code = :c AND month BETWEEN 202501 AND 202512 GROUP BY buyer_unit_id, purpose"
        )
        if engine.dialect.name == "postgresql":
            # The test store is small enough for a table scan to win; take that choice away to see
            # which index path the planner has.
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
            plan = " ".join(r[0] for r in conn.execute(text("EXPLAIN " + sql), {"c": county}))
            assert "Index Only Scan using ix_purchase_rollup_origin_code_month" in plan, plan
        else:
            plan = " ".join(str(r[-1]) for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql), {"c": county}))
            assert "COVERING INDEX ix_purchase_rollup_origin_code_month" in plan, plan


def test_removing_a_batch_takes_it_out_of_every_rollup(private):
    engine, raw, batch = private
    with engine.begin() as conn:
        rollup.remove_batch(conn, batch)
        conn.execute(delete(purchase).where(purchase.c.batch_id == batch))
    with engine.connect() as conn:
        assert rollup.is_current(conn)
    _assert_same_figures(engine, raw)


def test_purchases_written_past_the_import_send_figures_to_the_raw_facts_at_once(private):
    engine, raw, _batch = private
    f = FILTERS["ytd"]
    before = overview.amount_total(engine, f)  # answered from the rollups: their watermark is now trusted
    with engine.connect() as conn:
        unit, origin = conn.execute(select(purchase.c.buyer_unit_id, purchase.c.origin_code).limit(1)).one()
    row = dict(
        purchase_date=date(2025, 3, 3),
        month=202503,
        buyer_unit_id=unit,
        origin_code=origin,
        channel="p832",
        purpose="canteen",
        amount=1234.5,
    )
    with engine.begin() as conn:
        conn.execute(insert(purchase).values(**row))
    assert overview.amount_total(engine, f) == pytest.approx(before + 1234.5)
    with engine.begin() as conn:
        bulk_insert(conn, schema.purchase, pd.DataFrame([{**row, "amount": 100.0}]))
    assert overview.amount_total(engine, f) == pytest.approx(before + 1334.5)
    _assert_same_figures(engine, raw)


def test_purchases_in_a_month_after_the_latest_extend_the_year_to_date(private, tmp_path):
    engine, raw, _batch = private
    with engine.connect() as conn:
        latest = conn.execute(select(func.max(purchase.c.purchase_date))).scalar()
    latest = latest if isinstance(latest, date) else date.fromisoformat(str(latest)[:10])
    # A day of the next month (imports refuse dates after today).
    later = min(latest + timedelta(days=20), date.today())
    assert (later.year, later.month) > (latest.year, latest.month)
    source = bench.write_bench_ledger(engine, tmp_path / "base.csv", 200, seed=5)
    lines = source.read_text(encoding="utf-8").splitlines()
    # The same rows, dated after every purchase in the store (the first column is the date).
    moved = lines[:2] + [later.isoformat() + line[line.index(",") :] for line in lines[2:]]
    path = tmp_path / "later.csv"
    path.write_text("\n".join(moved) + "\n", encoding="utf-8")
    outcome = imports.commit_upload(engine, parse_upload(path, "purchases", None), principal=ADMIN)
    assert outcome.committed, outcome.message
    year = Filters(start=date(later.year, 1, 1), end=date(later.year, 12, 31))
    for f in (year, replace(year, end=latest), replace(year, end=later), year.with_region("520000")):
        for call in ("overview_kpis", "rules.evaluate", "top_units", "catalogue", "involved_counts"):
            _same(CALLS[call](engine, f), CALLS[call](raw, f))
    with engine.begin() as conn:
        rollup.remove_batch(conn, outcome.batch_id)
        conn.execute(delete(purchase).where(purchase.c.batch_id == outcome.batch_id))
    for call in ("overview_kpis", "rules.evaluate", "top_units"):
        _same(CALLS[call](engine, year), CALLS[call](raw, year))


def test_source_of_names_the_rollup_a_statement_reads():
    ytd = replace(YEAR, end=date(2025, 9, 30))
    by_unit = scoped_select(ytd, purchase.c.buyer_unit_id, func.sum(purchase.c.amount)).group_by(
        purchase.c.buyer_unit_id
    )
    assert rollup.source_of(by_unit) == "purchase_rollup_unit_ytd"
    by_day = scoped_select(ytd, purchase.c.purchase_date, func.sum(purchase.c.amount)).group_by(
        purchase.c.purchase_date
    )
    assert rollup.source_of(by_day) is None
