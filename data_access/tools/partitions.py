"""``purchase`` partitioned by year (PostgreSQL declarative partitioning), and its bench.

``partition_purchase(engine)`` turns a store's ``purchase`` into ``PARTITION BY RANGE
(purchase_date)`` with one partition a year (from the first purchase's year to two years after
the last, and a DEFAULT one), in one transaction: same columns, same sequence, same index names
(created on the parent, so every partition has them), same foreign keys; the primary key becomes
``(id, purchase_date)`` as PostgreSQL requires the partition key in it. Nothing in the app
changes: the rollups, the importer and the figures use the parent table.

``bench(plain, partitioned)`` times the same work on two stores holding the same purchases
(``python -m data_access partition-bench``): the page calls (as ``bench``, without DuckDB), the
raw aggregates a rollup rebuild runs (all years, and the latest year alone), raw-fact statements
that name a year, an import of N purchases, and retiring the oldest year (DELETE against DETACH,
rolled back).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, and_, func, select, text, true

from data_access.desks import imports
from data_access.store import schema as s
from data_access.store.rollup.maintain import _raw_aggregate
from data_access.store.rollup.tables import ROLLUPS
from data_access.tools import bench as page_bench
from data_access.trust import auth

REBUILD_TIMED = ("purchase_rollup_county", "purchase_rollup_outlet_month", "purchase_rollup_buyer")


def is_partitioned(engine: Engine) -> bool:
    """Whether ``purchase`` is a partitioned table (False on SQLite)."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT relkind = 'p' FROM pg_class WHERE oid = 'purchase'::regclass")).scalar())


def partition_purchase(engine: Engine, progress=print) -> list[str]:
    """Make ``purchase`` partitioned by year; returns the partitions' names. PostgreSQL only."""
    if engine.dialect.name != "postgresql":
        raise ValueError("分区表仅支持 PostgreSQL")
    if is_partitioned(engine):
        progress("purchase 已是分区表")
        return []
    with engine.connect() as conn:
        first, last = conn.execute(
            select(func.min(s.purchase.c.purchase_date), func.max(s.purchase.c.purchase_date))
        ).one()
    today = date.today()
    y0 = (first or today).year
    y1 = max((last or today).year, today.year) + 2
    indexes = [ix for ix in s.purchase.indexes]
    fks = []
    with engine.connect() as conn:
        fks = conn.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'purchase'::regclass AND contype = 'f'"
            )
        ).all()
    names = []
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE purchase RENAME TO purchase_plain"))
        conn.execute(text("ALTER TABLE purchase_plain RENAME CONSTRAINT pk_purchase TO pk_purchase_plain"))
        for ix in indexes:
            conn.execute(text(f'ALTER INDEX IF EXISTS "{ix.name}" RENAME TO "{ix.name}_plain"'))
        for name, _ in fks:
            conn.execute(text(f'ALTER TABLE purchase_plain RENAME CONSTRAINT "{name}" TO "{name}_plain"'))
        conn.execute(
            text(
                "CREATE TABLE purchase (LIKE purchase_plain INCLUDING DEFAULTS INCLUDING COMMENTS) "
                "PARTITION BY RANGE (purchase_date)"
            )
        )
        conn.execute(text("ALTER TABLE purchase ADD CONSTRAINT pk_purchase PRIMARY KEY (id, purchase_date)"))
        for year in range(y0, y1 + 1):
            name = f"purchase_y{year}"
            conn.execute(
                text(
                    f"CREATE TABLE {name} PARTITION OF purchase "
                    f"FOR VALUES FROM ('{year}-01-01') TO ('{year + 1}-01-01')"
                )
            )
            names.append(name)
        conn.execute(text("CREATE TABLE purchase_default PARTITION OF purchase DEFAULT"))
        names.append("purchase_default")
        progress(f"分区 {names[0]} … {names[-2]} 与 purchase_default；复制数据…")
        conn.execute(text("INSERT INTO purchase SELECT * FROM purchase_plain"))
        progress(f"复制完成 {time.perf_counter() - t0:.0f} 秒；建索引…")
        for ix in indexes:
            cols = ", ".join(c.name for c in ix.columns)
            conn.execute(text(f'CREATE INDEX "{ix.name}" ON purchase ({cols})'))
        for name, definition in fks:
            conn.execute(text(f'ALTER TABLE purchase ADD CONSTRAINT "{name}" {definition}'))
        conn.execute(text("ALTER SEQUENCE purchase_id_seq OWNED BY purchase.id"))
        conn.execute(text("DROP TABLE purchase_plain"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE purchase"))
    progress(f"purchase 已按年分区：{len(names)} 个分区，{time.perf_counter() - t0:.0f} 秒")
    return names


def _timed(engine: Engine, statement, params=None) -> float:
    t0 = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(statement, params or {}).all()
    return time.perf_counter() - t0


def _year_where(year: int):
    return and_(s.purchase.c.purchase_date >= date(year, 1, 1), s.purchase.c.purchase_date < date(year + 1, 1, 1))


def measure(engine: Engine, import_rows: int, progress=print) -> dict:
    """Everything ``bench`` compares, on one store (the import writes to it)."""
    out: dict = {"partitioned": is_partitioned(engine), "purchases": page_bench.purchase_count(engine)}
    with engine.connect() as conn:
        last = conn.execute(select(func.max(s.purchase.c.purchase_date))).scalar()
        first = conn.execute(select(func.min(s.purchase.c.purchase_date))).scalar()
    progress("页面数据调用…")
    timings = page_bench.run_bench(engine, duckdb=False)
    colds = [t.seconds * 1000 for t in timings]
    floors = [t.floor_seconds * 1000 for t in timings if t.floor_seconds is not None]
    out["page_calls"] = {
        "n": len(colds),
        "median_ms": statistics.median(colds),
        "max_ms": max(colds),
        "floor_median_ms": statistics.median(floors) if floors else None,
    }
    progress("汇总表重建所用的明细聚合…")
    rollups = {r.table.name: r for r in ROLLUPS}
    rebuild = {}
    for name in REBUILD_TIMED:
        agg = _raw_aggregate(rollups[name], true()).subquery()
        rebuild[f"{name}（全部年份）"] = _timed(engine, select(func.count()).select_from(agg))
        agg = _raw_aggregate(rollups[name], _year_where(last.year)).subquery()
        rebuild[f"{name}（{last.year} 年）"] = _timed(engine, select(func.count()).select_from(agg))
    out["rollup_aggregates_s"] = rebuild
    progress("按年的明细语句…")
    p = s.purchase.c
    out["raw_s"] = {
        f"{last.year} 年合计": _timed(engine, select(func.count(), func.sum(p.amount)).where(_year_where(last.year))),
        f"{last.year} 年按渠道": _timed(
            engine, select(p.channel, func.sum(p.amount)).where(_year_where(last.year)).group_by(p.channel)
        ),
        "全部合计": _timed(engine, select(func.count(), func.sum(p.amount))),
    }
    progress("淘汰最早一年（回滚）…")
    retire = {}
    with engine.connect() as conn:
        tx = conn.begin()
        t0 = time.perf_counter()
        deleted = conn.execute(s.purchase.delete().where(_year_where(first.year))).rowcount
        retire[f"DELETE {first.year} 年（{deleted:,} 行）"] = time.perf_counter() - t0
        tx.rollback()
        if out["partitioned"]:
            tx = conn.begin()
            t0 = time.perf_counter()
            conn.execute(text(f"ALTER TABLE purchase DETACH PARTITION purchase_y{first.year}"))
            retire[f"DETACH PARTITION purchase_y{first.year}"] = time.perf_counter() - t0
            tx.rollback()
    out["retire_s"] = retire
    progress(f"导入 {import_rows:,} 行…")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.csv"
        page_bench.write_bench_ledger(engine, path, import_rows)
        result = imports.parse_upload(path, "purchases", None, limits=imports.Limits(max_bytes=None))
        outcome = imports.commit_upload(engine, result, principal=auth.cli_principal("partition-bench"))
    out["import"] = {"rows": import_rows, "seconds": outcome.seconds, "committed": outcome.committed}
    return out


def table_text(plain: dict, part: dict) -> str:
    """The two stores side by side (Markdown)."""
    lines = [
        f"| 测量 | 普通表（{plain['purchases']:,} 行） | 按年分区（{part['purchases']:,} 行） |",
        "|---|---:|---:|",
        f"| 页面数据调用 冷 中位数 / 最慢 (ms，{plain['page_calls']['n']} 次) | "
        f"{plain['page_calls']['median_ms']:.0f} / {plain['page_calls']['max_ms']:.0f} | "
        f"{part['page_calls']['median_ms']:.0f} / {part['page_calls']['max_ms']:.0f} |",
        f"| 同一聚合的原表 SQL 中位数 (ms) | {plain['page_calls']['floor_median_ms']:.0f} | "
        f"{part['page_calls']['floor_median_ms']:.0f} |",
    ]
    for key in plain["rollup_aggregates_s"]:
        lines.append(
            f"| 汇总表重建的明细聚合 {key} (s) | {plain['rollup_aggregates_s'][key]:.1f} | "
            f"{part['rollup_aggregates_s'][key]:.1f} |"
        )
    for key in plain["raw_s"]:
        lines.append(f"| 明细语句 {key} (s) | {plain['raw_s'][key]:.2f} | {part['raw_s'][key]:.2f} |")
    for key, value in plain["retire_s"].items():
        lines.append(f"| 淘汰最早一年：{key} (s) | {value:.1f} | — |")
    for key, value in part["retire_s"].items():
        lines.append(f"| 淘汰最早一年：{key} (s) | — | {value:.2f} |")
    lines.append(
        f"| 导入 {plain['import']['rows']:,} 行（校验并入库，含汇总表）(s) | {plain['import']['seconds']:.1f} | "
        f"{part['import']['seconds']:.1f} |"
    )
    return "\n".join(lines)
