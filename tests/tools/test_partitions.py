"""purchase partitioned by year on PostgreSQL: the store converts in place, every page call and an
import give the same answers as on the plain table, and the bench measures both."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from data_access.store import schema as s
from data_access.tools import partitions


@pytest.fixture
def pg_demo(writable_demo_engine):
    if writable_demo_engine.dialect.name != "postgresql":
        pytest.skip("分区表仅支持 PostgreSQL")
    return writable_demo_engine


def test_purchase_partitioned_by_year_answers_the_same(pg_demo):
    from data_access.figures import overview
    from data_access.tools import bench

    engine = pg_demo
    filters = bench.bench_filters(engine)
    before = [overview.overview_kpis(engine, f) for _label, f in filters]
    with engine.connect() as conn:
        n, total = conn.execute(select(func.count(), func.sum(s.purchase.c.amount))).one()
    names = partitions.partition_purchase(engine, progress=lambda _m: None)
    assert partitions.is_partitioned(engine) and "purchase_default" in names
    assert partitions.partition_purchase(engine, progress=lambda _m: None) == []  # once
    with engine.connect() as conn:
        assert conn.execute(select(func.count(), func.sum(s.purchase.c.amount))).one() == (n, total)
        assert conn.execute(text("SELECT count(*) FROM purchase_default")).scalar() == 0
        plan = "\n".join(
            r[0]
            for r in conn.execute(text("EXPLAIN SELECT sum(amount) FROM purchase WHERE purchase_date >= '2026-01-01'"))
        )
    assert "purchase_y2026" in plan and "purchase_y2025" not in plan  # pruned to one year
    assert [overview.overview_kpis(engine, f) for _label, f in filters] == before
    out = partitions.measure(engine, 2_000, progress=lambda _m: None)
    assert out["import"]["committed"] and out["partitioned"]
    assert any(k.startswith("DETACH") for k in out["retire_s"])
    assert partitions.table_text(out, out).count("\n") > 8
