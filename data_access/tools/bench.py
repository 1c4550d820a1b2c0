"""The page benchmark (性能基准): every page's data calls timed against the raw-fact SQL floor and DuckDB.

``python -m data_access bench --url URL --scale N`` builds (or reuses) a demo store of N purchases,
then times each call the pages make — the real ``data_access`` function, no result cache — under
the default filters (this year to date) and two drilled ones (a province, a county). Beside it: the
same aggregate as one hand-written SQL statement on the raw purchase table of the same store
(the "floor") and in DuckDB over the same rows exported once to Parquet. Optional: headless
Chromium page loads, a warm AppTest rerun and the Streamlit server's peak memory.
"""

from __future__ import annotations

import csv
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, func, select, text

from data_access.desks.ingest import FORMS, parse_upload
from data_access.desks.registers import commit_register
from data_access.figures import (
    alerts,
    catalogue,
    outlets,
    overview,
    procurement,
    region_amounts,
    semantic,
)
from data_access.figures.outlets import WINDOW_MONTHS, _month_index
from data_access.figures.overview import data_as_of
from data_access.figures.procurement import origin_group_level
from data_access.figures.region_amounts import amount_by_region, flow_level
from data_access.query.filters import Filters, region_level, region_prefix
from data_access.reference.labels import CHANNELS, PURPOSES
from data_access.reference.setup import init_store
from data_access.store import schema as s
from data_access.store.db import READERS
from data_access.store.runtime import settle_heap
from data_access.tools.demo import generate_demo
from data_access.trust.auth import cli_principal

# Tables the floor statements read; DuckDB gets each as a Parquet file.
EXPORTED = {
    "purchase": [
        "id",
        "purchase_date",
        "month",
        "buyer_unit_id",
        "product_id",
        "origin_code",
        "channel",
        "purpose",
        "outlet_id",
        "quantity",
        "amount",
    ],
    "buyer_unit": ["id", "kind", "region_code", "jurisdiction_code"],
    "product": ["id", "category", "origin_code"],
    "region": ["code", "province_code", "city_code", "level"],
    "warning": ["id", "product_id", "region_code", "level", "status", "first_date"],
    "outlet": ["id", "region_code", "status"],
}
CHUNK_ROWS = 500_000


def say(msg: str) -> None:
    """Progress on stderr (the table goes to stdout)."""
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Call:
    """One page's data call: the real function and its floor as one SQL statement."""

    name: str
    page: str
    run: Callable[[Engine, Filters], object]
    floor: Callable[[Filters], str]


@dataclass
class Timing:
    """One call under one filter: seconds cold (first call) and warm, the floor's, DuckDB's, ratios."""

    call: str
    page: str
    filters: str
    rows: int
    seconds: float
    warm_seconds: float
    floor_seconds: float | None
    duckdb_seconds: float | None
    ratio: float | None = None
    duckdb_ratio: float | None = None
    extra: dict = field(default_factory=dict)


# The floor statements: plain SQL text that SQLite, PostgreSQL and DuckDB all run.


def _lit(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _month(d: date) -> int:
    return d.year * 100 + d.month


def _month_end(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def period_sql(f: Filters, alias: str = "p") -> str:
    """The period as a condition: on ``month`` when it is whole months (as a hand-written query would)."""
    if f.start.day == 1 and f.end == _month_end(f.end):
        return f"{alias}.month BETWEEN {_month(f.start)} AND {_month(f.end)}"
    return f"{alias}.purchase_date BETWEEN {_lit(f.start)} AND {_lit(f.end)}"


def region_sql(f: Filters, column: str = "p.origin_code") -> str:
    """The origin-side region of ``f`` as a range (or equality) on ``column``."""
    if not f.region_code:
        return "1=1"
    if region_level(f.region_code) == "county":
        return f"{column} = {_lit(f.region_code)}"
    prefix = region_prefix(f.region_code)
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return f"{column} >= {_lit(prefix)} AND {column} < {_lit(upper)}"


def where_sql(f: Filters) -> str:
    """Period and (origin-side) region of ``f`` on ``purchase p``; the bench's filters use nothing else."""
    return f"({period_sql(f)} AND {region_sql(f)})"


def _both_years(f: Filters) -> tuple[str, str, str]:
    this, last = where_sql(f), where_sql(f.last_year())
    return this, last, f"({this} OR {last})"


def _kpis_sql(f: Filters) -> str:
    this, last, either = _both_years(f)
    return (
        f"SELECT SUM(CASE WHEN {this} THEN p.amount END), COUNT(CASE WHEN {this} THEN 1 END), "
        f"COUNT(DISTINCT CASE WHEN {this} THEN p.buyer_unit_id END), SUM(CASE WHEN {last} THEN p.amount END) "
        f"FROM purchase p WHERE {either}"
    )


def _monthly_sql(f: Filters) -> str:
    return f"SELECT p.month, SUM(p.amount) FROM purchase p WHERE {_both_years(f)[2]} GROUP BY p.month"


def _channel_sql(f: Filters) -> str:
    return (
        f"SELECT p.channel, SUM(p.amount), COUNT(*) FROM purchase p WHERE {where_sql(f)} "
        "GROUP BY p.channel ORDER BY 2 DESC"
    )


def _rules_sql(f: Filters) -> str:
    y, m = f.end.year, f.end.month
    this = f"p.month >= {y * 100 + 1}"
    span = replace(f, start=date(y - 1, 1, 1))

    def total(cond):
        return f"SUM(CASE WHEN {cond} THEN p.amount ELSE 0 END)"

    outlet_channels = _lit("hall") + ", " + _lit("zone")
    return (
        f"SELECT p.buyer_unit_id, {total(this)}, "
        f"{total(this + ' AND p.purpose = ' + _lit('canteen') + ' AND p.channel = ' + _lit('p832'))}, "
        f"{total(this + ' AND p.purpose = ' + _lit('holiday_gift'))}, "
        f"{total(this + ' AND p.purpose = ' + _lit('welfare') + ' AND p.channel IN (' + outlet_channels + ')')}, "
        f"{total(f'p.month < {y * 100 + 1} AND p.month <= {(y - 1) * 100 + m}')}, "
        f"{total(f'p.month < {y * 100 + 1}')} "
        f"FROM purchase p WHERE {where_sql(span)} GROUP BY p.buyer_unit_id"
    )


def _by_channel_sql(f: Filters) -> str:
    this, last, either = _both_years(f)
    return (
        f"SELECT p.channel, SUM(CASE WHEN {this} THEN p.amount END), SUM(CASE WHEN {last} THEN p.amount END), "
        f"COUNT(CASE WHEN {this} THEN 1 END) FROM purchase p WHERE {either} GROUP BY p.channel"
    )


def _by_kind_sql(f: Filters) -> str:
    this, last, either = _both_years(f)
    return (
        f"SELECT u.kind, SUM(CASE WHEN {this} THEN p.amount END), SUM(CASE WHEN {last} THEN p.amount END), "
        f"COUNT(CASE WHEN {this} THEN 1 END) FROM purchase p JOIN buyer_unit u ON u.id = p.buyer_unit_id "
        f"WHERE {either} GROUP BY u.kind"
    )


def _origin_key_sql(f: Filters) -> str:

    return {"province": "r.province_code", "city": "COALESCE(r.city_code, r.code)", "county": "p.origin_code"}[
        origin_group_level(f)
    ]


def _by_origin_sql(f: Filters) -> str:
    this, last, either = _both_years(f)
    key = _origin_key_sql(f)
    return (
        f"SELECT {key}, SUM(CASE WHEN {this} THEN p.amount END), SUM(CASE WHEN {last} THEN p.amount END), "
        f"COUNT(CASE WHEN {this} THEN 1 END) FROM purchase p JOIN region r ON r.code = p.origin_code "
        f"WHERE {either} GROUP BY {key}"
    )


def _warnings_sql(f: Filters) -> str:
    return (
        f"SELECT w.level, COUNT(*) FROM warning w JOIN product pr ON pr.id = w.product_id "
        f"WHERE w.status <> 'closed' AND w.first_date <= {_lit(f.end)} AND {region_sql(f, 'w.region_code')} "
        "GROUP BY w.level"
    )


def _outlet_sales_sql(f: Filters) -> str:
    return (
        f"SELECT p.outlet_id, SUM(p.amount), COUNT(*) FROM purchase p WHERE {where_sql(f)} "
        "AND p.outlet_id IS NOT NULL GROUP BY p.outlet_id"
    )


def _exit_sql(f: Filters) -> str:

    last = _month(f.end)
    i = _month_index(last) - WINDOW_MONTHS + 1
    first = (i // 12) * 100 + i % 12 + 1
    return (
        f"SELECT p.outlet_id, p.month, SUM(p.amount) FROM purchase p WHERE p.outlet_id IS NOT NULL "
        f"AND p.month BETWEEN {first} AND {last} AND p.purchase_date <= {_lit(f.end)} GROUP BY p.outlet_id, p.month"
    )


def _by_county_sql(f: Filters) -> str:
    return f"SELECT p.origin_code, SUM(p.amount), COUNT(*) FROM purchase p WHERE {where_sql(f)} GROUP BY p.origin_code"


def _flows_sql(f: Filters) -> str:

    key = {"province": "r.province_code", "city": "COALESCE(r.city_code, r.code)", "county": "r.code"}[flow_level(f)]
    return (
        f"SELECT u.jurisdiction_code, {key}, SUM(p.amount) FROM purchase p "
        f"JOIN buyer_unit u ON u.id = p.buyer_unit_id JOIN region r ON r.code = p.origin_code "
        f"WHERE {where_sql(f)} GROUP BY u.jurisdiction_code, {key} ORDER BY 3 DESC LIMIT 30"
    )


def _top_products_sql(f: Filters) -> str:
    return (
        f"SELECT pr.id, SUM(p.amount), SUM(p.quantity), COUNT(*) FROM purchase p "
        f"JOIN product pr ON pr.id = p.product_id WHERE {where_sql(f)} GROUP BY pr.id ORDER BY 2 DESC, pr.id LIMIT 20"
    )


def _top_units_sql(f: Filters) -> str:
    return (
        f"SELECT p.buyer_unit_id, SUM(p.amount), COUNT(*) FROM purchase p WHERE {where_sql(f)} "
        "GROUP BY p.buyer_unit_id ORDER BY 2 DESC, p.buyer_unit_id LIMIT 20"
    )


def _involved_sql(f: Filters) -> str:
    return (
        f"SELECT COUNT(DISTINCT p.product_id), COUNT(DISTINCT p.buyer_unit_id), COUNT(DISTINCT p.outlet_id) "
        f"FROM purchase p WHERE {where_sql(f)}"
    )


def _trend_sql(f: Filters) -> str:
    return (
        "SELECT p.month, p.channel, SUM(p.amount) FROM purchase p "
        f"WHERE {_both_years(f)[2]} GROUP BY p.month, p.channel"
    )


def _catalogue_sql(f: Filters) -> str:
    return f"SELECT p.product_id, SUM(p.amount) FROM purchase p WHERE {where_sql(f)} GROUP BY p.product_id"


def calls() -> list[Call]:
    """The data calls of every page that reads purchases (and the warning counts), in page order."""

    return [
        Call("overview.overview_kpis", "总览", overview.overview_kpis, _kpis_sql),
        Call("overview.monthly_amounts", "总览", overview.monthly_amounts, _monthly_sql),
        Call("overview.amount_by_channel", "总览", overview.amount_by_channel, _channel_sql),
        Call("procurement.procurement_kpis", "采购进度", procurement.procurement_kpis, _kpis_sql),
        Call("procurement.rule_progress", "采购进度", procurement.rule_progress, _rules_sql),
        Call(
            "procurement.amount_by(channel)",
            "采购进度",
            lambda e, f: procurement.amount_by(e, f, "channel"),
            _by_channel_sql,
        ),
        Call(
            "procurement.amount_by(buyer_kind)",
            "采购进度",
            lambda e, f: procurement.amount_by(e, f, "buyer_kind"),
            _by_kind_sql,
        ),
        Call(
            "procurement.amount_by(origin)",
            "采购进度",
            lambda e, f: procurement.amount_by(e, f, "origin"),
            _by_origin_sql,
        ),
        Call("alerts.warning_counts", "滞销预警", alerts.warning_counts, _warnings_sql),
        Call("outlets.outlet_map_payload", "网点地图", outlets.outlet_map_payload, _outlet_sales_sql),
        Call("outlets.exit_candidates", "网点地图", outlets.exit_candidates, _exit_sql),
        Call(
            "region_amounts.county_amounts",
            "网点地图",
            lambda e, f: region_amounts.county_amounts(e, f, "origin"),
            _by_county_sql,
        ),
        Call("region_amounts.amount_by_child", "地区下钻", region_amounts.amount_by_child, _by_county_sql),
        Call("region_amounts.pairing_flows", "地区下钻", region_amounts.pairing_flows, _flows_sql),
        Call("region_amounts.top_products", "地区下钻", region_amounts.top_products, _top_products_sql),
        Call("region_amounts.top_units", "地区下钻", region_amounts.top_units, _top_units_sql),
        Call("region_amounts.involved_counts", "地区下钻", region_amounts.involved_counts, _involved_sql),
        Call(
            "semantic.trend(amount×channel×month, 同比)",
            "趋势分析",
            lambda e, f: semantic.trend(e, f, "amount", "channel", "month", 10, True),
            _trend_sql,
        ),
        Call("catalogue.product_catalogue", "产品名库", catalogue.product_catalogue, _catalogue_sql),
    ]


def rows_of(result) -> int:
    """Rows a call returned (1 for a dict of figures)."""
    if hasattr(result, "table"):
        return len(result.table)
    if isinstance(result, dict) and "points" in result:
        return len(result["points"])
    if isinstance(result, dict) and "evaluated" in result:
        return len(result["evaluated"])
    if isinstance(result, dict):
        return 1
    return len(result)


# The store.


def purchase_count(engine: Engine) -> int:
    """Purchases in the store."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(s.purchase)).scalar() or 0)


def ensure_scale(engine: Engine, scale: int) -> bool:
    """Build the demo store at ``scale`` purchases unless it already holds that many; True when built."""

    init_store(engine)
    n = purchase_count(engine)
    if n == scale:
        say(f"复用现有数据库：采购 {n:,} 行")
        return False
    say(f"数据库有 {n:,} 行采购，生成 {scale:,} 行演示数据…")
    # Millions of rows: the registers are bulk loaded too (the default demo loads them from office files).
    generate_demo(engine, scale=scale, progress=say, front_door=False)
    return True


def bench_filters(engine: Engine) -> list[tuple[str, Filters]]:
    """Default filters (this year to date, as the pages open) and two drilled ones: the province and
    the county of origin with the largest amount this year."""

    as_of = data_as_of(engine) or date.today()
    default = Filters(start=date(as_of.year, 1, 1), end=as_of)
    counties = amount_by_region(engine, default, "origin").sort_values(["amount", "code"], ascending=[False, True])
    county = str(counties.code.iloc[0]) if len(counties) else "520000"
    province = county[:2] + "0000"
    return [
        ("默认（本年累计）", default),
        (f"省 {province}", default.with_region(province)),
        (f"县 {county}", default.with_region(county)),
    ]


# DuckDB over Parquet.


def _cache_key(engine: Engine) -> str:
    with engine.connect() as conn:
        n, max_id = conn.execute(select(func.count(), func.max(s.purchase.c.id)).select_from(s.purchase)).one()
        stamp = conn.execute(select(s.store_meta.c.value).where(s.store_meta.c.key == "demo_generated_at")).scalar()
    url = engine.url.render_as_string(hide_password=True)
    return hashlib.sha1(f"{url}|{n}|{max_id}|{stamp}".encode()).hexdigest()[:16]


def export_parquet(engine: Engine, folder: Path) -> Path:
    """The tables the floors read, as Parquet under ``folder/<store key>/`` (written once per store state)."""
    # Deferred: pyarrow and duckdb come with the test extras; only the DuckDB comparison needs them.
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = folder / _cache_key(engine)
    if (target / "done").exists():
        say(f"复用 Parquet 缓存 {target}")
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name, columns in EXPORTED.items():
        table = s.metadata.tables[name]
        q = select(*[table.c[c] for c in columns])
        if name == "purchase":
            q = q.order_by(table.c.id)
        t0 = time.perf_counter()
        writer, n = None, 0
        with engine.connect().execution_options(stream_results=True, yield_per=CHUNK_ROWS) as conn:
            result = conn.execute(q)
            for part in result.partitions():
                arrays = _arrow_columns(part, columns, name)
                batch = pa.table(arrays)
                if writer is None:
                    writer = pq.ParquetWriter(target / f"{name}.parquet", batch.schema)
                writer.write_table(batch)
                n += len(part)
                if name == "purchase":
                    say(f"导出 Parquet：purchase {n:,} 行")
        if writer is None:
            pq.write_table(pa.table(_arrow_columns([], columns, name)), target / f"{name}.parquet")
        else:
            writer.close()
        say(f"导出 {name}：{n:,} 行，{time.perf_counter() - t0:.1f} 秒")
    (target / "done").write_text("ok")
    return target


def _arrow_columns(rows, columns: list[str], table_name: str) -> dict:
    # Deferred: pyarrow and duckdb come with the test extras; only the DuckDB comparison needs them.
    import pyarrow as pa

    table = s.metadata.tables[table_name]
    out = {}
    for i, c in enumerate(columns):
        values = [r[i] for r in rows]
        col = table.c[c]
        type_name = type(col.type).__name__
        if c in ("purchase_date", "first_date"):
            values = [v if isinstance(v, date) or v is None else date.fromisoformat(str(v)[:10]) for v in values]
            out[c] = pa.array(values, type=pa.date32())
        elif c in ("amount", "quantity"):
            out[c] = pa.array([None if v is None else float(v) for v in values], type=pa.float64())
        elif type_name in ("Integer", "BigInteger") or c in ("id", "month", "buyer_unit_id", "product_id", "outlet_id"):
            out[c] = pa.array(values, type=pa.int64())
        else:
            out[c] = pa.array(values, type=pa.string())
    return out


def duckdb_connection(folder: Path):
    """An in-memory DuckDB with a view per exported table over its Parquet file."""
    # Deferred: pyarrow and duckdb come with the test extras; only the DuckDB comparison needs them.
    import duckdb

    con = duckdb.connect()
    for name in EXPORTED:
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{(folder / f'{name}.parquet').as_posix()}')")
    return con


def _timed(fn, *args) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def _fetch_all(conn, statement) -> list:
    return list(conn.execute(statement).fetchall())


def _fetch_floor(engine: Engine, statement) -> list:
    with engine.connect() as conn:
        return _fetch_all(conn, statement)


def run_bench(
    engine: Engine, *, cache_dir: Path | None = None, duckdb: bool = True, only: list[str] | None = None
) -> list[Timing]:
    """Time every call under every bench filter: cold (first call), warm (second), floor, DuckDB."""
    # The app's engine is pooled and long-lived: open the pool (as many connections as a page call
    # uses at once, see db.read_concurrently) before timing anything.
    with ExitStack() as stack:
        for _ in range(READERS + 1):
            stack.enter_context(engine.connect()).execute(text("SELECT 1"))
    filters = bench_filters(engine)
    con = duckdb_connection(export_parquet(engine, cache_dir or default_cache_dir())) if duckdb else None
    # As the dashboard server does once its store is ready (cache.prepared_store).
    settle_heap()
    out: list[Timing] = []
    selected = [c for c in calls() if not only or any(o in c.name for o in only)]
    for label, f in filters:
        for c in selected:
            cold, result = _timed(c.run, engine, f)
            warm, _ = _timed(c.run, engine, f)
            sql = c.floor(f)
            # Timed as the calls are: a connection from the pool, the statement, its rows.
            floor, _ = _timed(_fetch_floor, engine, text(sql))
            duck = _timed(_fetch_all, con, sql)[0] if con is not None else None
            t = Timing(
                call=c.name,
                page=c.page,
                filters=label,
                rows=rows_of(result),
                seconds=cold,
                warm_seconds=warm,
                floor_seconds=floor,
                duckdb_seconds=duck,
                ratio=cold / floor if floor else None,
                duckdb_ratio=cold / duck if duck else None,
            )
            out.append(t)
            say(
                f"{label:<16} {c.name:<44} {cold * 1000:8.1f} ms  底线 {floor * 1000:8.1f} ms"
                + (f"  DuckDB {duck * 1000:7.1f} ms" if duck is not None else "")
            )
    return out


def default_cache_dir() -> Path:
    """Where Parquet exports are kept: ``BANGFU_BENCH_CACHE`` or ``$TMPDIR/bangfu-bench``."""
    return Path(os.environ.get("BANGFU_BENCH_CACHE", Path(tempfile.gettempdir()) / "bangfu-bench"))


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x * 1000:,.1f}"


def _x(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}×"


def table_text(timings: list[Timing]) -> str:
    """The results as a Markdown table (ms)."""
    lines = [
        "| 页面 | 调用 | 筛选 | 行数 | 冷 ms | 热 ms | 原表 SQL ms | DuckDB ms | 冷/原表 | 冷/DuckDB |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in timings:
        lines.append(
            f"| {t.page} | {t.call} | {t.filters} | {t.rows} | {_ms(t.seconds)} | {_ms(t.warm_seconds)} | "
            f"{_ms(t.floor_seconds)} | {_ms(t.duckdb_seconds)} | {_x(t.ratio)} | {_x(t.duckdb_ratio)} |"
        )
    return "\n".join(lines)


def write_bench_ledger(engine: Engine, path: Path, n_rows: int, seed: int | None = None) -> Path:
    """A purchase-ledger CSV of ``n_rows`` rows naming the store's own units, suppliers and products.

    Vouchers carry a time stamp, so each file is new to the store (a different file hash).
    """
    with engine.connect() as conn:
        units = [n for (n,) in conn.execute(select(s.buyer_unit.c.name))]
        goods = conn.execute(
            select(s.product.c.name, s.supplier.c.name, s.product.c.origin_code).join(
                s.supplier, s.supplier.c.id == s.product.c.supplier_id
            )
        ).all()
    rng = np.random.default_rng(seed)
    stamp = datetime.now().strftime("%Y%m%d%H%M%S%f")
    header = [f.label for f in FORMS["purchases"].fields]
    channels, purposes = list(CHANNELS.values()), list(PURPOSES.values())
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["消费帮扶采购台账"])
        writer.writerow(header)
        for start in range(0, n_rows, 100_000):
            n = min(100_000, n_rows - start)
            day = rng.integers(0, 365, n)
            unit = rng.integers(0, len(units), n)
            good = rng.integers(0, len(goods), n)
            chan = rng.integers(0, len(channels), n)
            purp = rng.integers(0, len(purposes), n)
            kg = rng.integers(1, 2000, n)
            cents = rng.integers(10_000, 50_000_000, n)
            dates = (np.datetime64("2025-01-01") + day).astype(str)
            writer.writerows(
                [
                    d,
                    units[u],
                    goods[g][1],
                    goods[g][0],
                    goods[g][2],
                    channels[c],
                    purposes[p],
                    f"{q}kg",
                    f"{m / 100:.2f}",
                    f"B{stamp}-{start + i}",
                ]
                for i, (d, u, g, c, p, q, m) in enumerate(zip(dates, unit, good, chan, purp, kg, cents, strict=True))
            )
    return path


def register_bench(engine: Engine, n_units: int = 5000, years: int = 4, progress=None) -> list[dict]:
    """Time loading the 基础数据 registers as an office sends them (GBK CSV): ``n_units`` units, then
    their budgets for ``years`` years (``n_units × years`` rows), then the same budget rows again in a
    new file (every row compared, nothing written). One dict per step: ``step, rows, parse_seconds,
    commit_seconds, created, updated, unchanged, backend``."""
    init_store(engine)
    with engine.connect() as conn:
        counties = [c for (c,) in conn.execute(select(s.region.c.code).where(s.region.c.level == "county").limit(500))]
    kinds = ["预算单位", "工会", "国有企业"]
    units = ["单位名称,单位类型,所在地区,帮扶辖区"] + [
        f"基准单位{i:05d},{kinds[i % 3]},{counties[i % len(counties)]},440400" for i in range(n_units)
    ]
    first = date.today().year - years + 1
    budgets = ["单位,年度,食堂食材采购预算（万元）,预留比例,年度计划采购额（万元）"] + [
        f"基准单位{i:05d},{y},{100 + i % 50},30%,40" for y in range(first, first + years) for i in range(n_units)
    ]
    steps = [
        ("units", units, "单位名录"),
        ("budgets", budgets, "年度预算"),
        ("budgets", budgets + [""], "年度预算（再次导入）"),
    ]
    out = []
    for form, lines, step in steps:
        data = "\r\n".join(lines).encode("gbk")
        t0 = time.perf_counter()
        result = parse_upload(data, form, f"{step}.csv")
        t1 = time.perf_counter()
        outcome = commit_register(engine, cli_principal("register-bench"), result)
        t2 = time.perf_counter()
        if outcome.errors:
            raise RuntimeError(outcome.message + " " + outcome.errors[0].message)
        row = dict(
            step=step,
            rows=len(result.rows),
            parse_seconds=round(t1 - t0, 3),
            commit_seconds=round(t2 - t1, 3),
            created=outcome.created,
            updated=outcome.updated,
            unchanged=outcome.unchanged,
            backend=engine.dialect.name,
        )
        out.append(row)
        if progress:
            progress(
                f"{step}：{row['rows']:,} 行，解析 {row['parse_seconds']:.2f} 秒，"
                f"校验并写入 {row['commit_seconds']:.2f} 秒"
                f"（新增 {row['created']}，更新 {row['updated']}，未变 {row['unchanged']}）"
            )
    return out


__all__ = [
    "Call",
    "Timing",
    "bench_filters",
    "calls",
    "ensure_scale",
    "export_parquet",
    "run_bench",
    "table_text",
    "register_bench",
    "write_bench_ledger",
]
