"""Keeping the rollups exact: ``rebuild`` from the raw facts, ``add_batch`` / ``remove_batch`` inside
an import's transaction, the watermark (the largest purchase id they cover) and whether they are
current."""

from __future__ import annotations

import time
import weakref
from datetime import date, timedelta

from sqlalchemy import (
    Engine,
    Integer,
    Table,
    and_,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from data_access.store import schema as s
from data_access.store.rollup.tables import (
    MEASURES,
    ORIGIN_PREFIXES,
    RAW_DIMS,
    ROLLUPS,
    WATERMARK_KEY,
    Rollup,
)


def _aggregate(r: Rollup, where, year_ends: dict[int, int] | None = None) -> object:
    """The rows ``r`` holds for the purchases matching ``where``: their monthly sums, carried into
    every later month up to the year end (``year_ends``: yyyy00 → last yyyymm) when ``r`` is
    cumulative."""
    monthly = _raw_aggregate(r, where)
    return _carried_forward(monthly, r, year_ends or {}) if r.cumulative else monthly


def _months_of_year():
    """The month numbers 1–12 as a one-column relation ``m`` (portable: no VALUES list)."""
    return union_all(*[select(literal(m, Integer).label("m")) for m in range(1, 13)]).subquery("months_of_year")


def _carried_forward(monthly, r: Rollup, year_ends: dict[int, int]):
    """Monthly sums by ``r.dims`` (a SELECT) summed into each month from theirs to the year end
    (``year_ends``: yyyy00 → last yyyymm; December for a year not in it): the year-to-date sums a
    cumulative rollup holds."""
    a = monthly.subquery("monthly")
    k = _months_of_year()
    year = a.c.month - a.c.month % 100
    last = case({y: m % 100 for y, m in year_ends.items()}, value=year, else_=12) if year_ends else 12
    to_month = year + k.c.m
    keys = [to_month if d == "month" else a.c[d] for d in r.dims]
    return (
        select(
            *[to_month.label("month") if d == "month" else a.c[d] for d in r.dims],
            func.sum(a.c.amount).label("amount"),
            func.sum(a.c.quantity).label("quantity"),
            func.sum(a.c.n).label("n"),
        )
        .select_from(a.join(k, and_(k.c.m >= a.c.month % 100, k.c.m <= last)))
        .group_by(*keys)
    )


def _year_ends(conn, table: Table, where=None) -> dict[int, int]:
    """yyyy00 → the last month (yyyymm) ``table`` has a row for in that year (rows matching ``where``)."""
    year = table.c.month - table.c.month % 100
    q = select(year, func.max(table.c.month)).group_by(year)
    if where is not None:
        q = q.where(where)
    return {int(y): int(m) for y, m in conn.execute(q).all()}


def _year_end(conn, table: Table, year: int) -> int | None:
    """The last month (yyyymm) ``table`` has a row for in ``year`` (yyyy00), None when none."""
    return conn.execute(
        select(func.max(table.c.month)).where(table.c.month > year, table.c.month <= year + 12)
    ).scalar()


def _extend(conn, r: Rollup, old_end: int, new_end: int) -> None:
    """Carry every combination of a cumulative rollup from its year end ``old_end`` to each month
    up to ``new_end`` (same year): purchases arrived in a later month than any before."""
    t = r.table
    for month in range(old_end + 1, new_end + 1):
        rows = select(
            *[literal(month, Integer).label("month") if d == "month" else t.c[d] for d in r.dims],
            *[t.c[m] for m in MEASURES],
        ).where(t.c.month == old_end)
        conn.execute(t.insert().from_select([*r.dims, *MEASURES], rows))


def _raw_aggregate(r: Rollup, where) -> object:
    """``SELECT dims, sum(amount), sum(quantity), count(*)`` of the purchases matching ``where``, by month."""
    from_ = s.purchase
    if {"buyer_kind", "buyer_region_code", "buyer_jurisdiction"} & set(r.dims):
        from_ = from_.join(s.buyer_unit, s.buyer_unit.c.id == s.purchase.c.buyer_unit_id)
    if "product_id" in r.dims:
        from_ = from_.join(s.product, s.product.c.id == s.purchase.c.product_id)
    elif "category" in r.dims:
        from_ = from_.outerjoin(s.product, s.product.c.id == s.purchase.c.product_id)
    dims = [RAW_DIMS[d].label(d) for d in r.dims]
    return (
        select(
            *dims,
            func.sum(s.purchase.c.amount).label("amount"),
            func.sum(s.purchase.c.quantity).label("quantity"),
            func.count().label("n"),
        )
        .select_from(from_)
        .where(where)
        .group_by(*[RAW_DIMS[d] for d in r.dims])
    )


def _set_watermark(conn, value: int | None) -> None:
    conn.execute(delete(s.store_meta).where(s.store_meta.c.key == WATERMARK_KEY))
    if value is not None:
        conn.execute(s.store_meta.insert().values(key=WATERMARK_KEY, value=str(value)))


def _watermark(conn) -> int | None:
    value = conn.execute(select(s.store_meta.c.value).where(s.store_meta.c.key == WATERMARK_KEY)).scalar()
    return int(value) if value is not None else None


def rebuild(conn, progress=None) -> dict[str, int]:
    """Refill every rollup from the raw facts inside the caller's transaction; rows per rollup."""
    counts = {}
    max_id = conn.execute(select(func.max(s.purchase.c.id))).scalar() or 0
    # From the raw facts first, then those summed from another rollup (a cumulative one is carried
    # forward from its monthly twin). Rows go in in key order, so one month's rows sit together on
    # disk (a month is what the pages read).
    for r in sorted(ROLLUPS, key=lambda r: (r.cumulative, r.base is not None)):
        conn.execute(delete(r.table))
        if r.base is not None:
            b = r.base
            keys = [
                b.c[d] if d in b.c else func.substr(b.c.origin_code, 1, ORIGIN_PREFIXES[d]).label(d) for d in r.dims
            ]
            agg = select(*keys, *[func.sum(b.c[m]).label(m) for m in MEASURES]).group_by(*keys)
            if r.cumulative:
                agg = _carried_forward(agg, r, _year_ends(conn, b))
            agg = agg.order_by(*agg.selected_columns[: len(r.dims)])
        else:
            agg = _raw_aggregate(r, true()).order_by(*[RAW_DIMS[d] for d in r.dims])
        conn.execute(r.table.insert().from_select([*r.dims, *MEASURES], agg))
        counts[r.table.name] = conn.execute(select(func.count()).select_from(r.table)).scalar()
        if progress:
            progress(f"汇总表 {r.table.name}：{counts[r.table.name]:,} 行")
    _set_watermark(conn, max_id)
    return counts


def is_current(conn) -> bool:
    """True when the rollups cover every purchase in the store."""
    max_id, mark = conn.execute(
        select(
            select(func.max(s.purchase.c.id)).scalar_subquery(),
            select(s.store_meta.c.value).where(s.store_meta.c.key == WATERMARK_KEY).scalar_subquery(),
        )
    ).one()
    return mark is not None and (max_id or 0) <= int(mark)


def _upsert(conn, r: Rollup, agg) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(r.table).from_select([*r.dims, *MEASURES], agg)
    ex, t = stmt.excluded, r.table.c
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=list(r.dims),
            set_=dict(
                amount=t.amount + ex.amount,
                n=t.n + ex.n,
                quantity=func.coalesce(t.quantity + ex.quantity, t.quantity, ex.quantity),
            ),
        )
    )


def add_batch(conn, batch_id: int) -> bool:
    """Add the purchases of one committed batch to every rollup, inside the caller's transaction.

    Returns False (and leaves the rollups for the next rebuild) when they were not current
    before this batch; figures then come from the raw facts, exact but slower.
    """
    p = s.purchase.c
    others = conn.execute(select(func.max(p.id)).where(or_(p.batch_id.is_(None), p.batch_id != batch_id))).scalar()
    mark = _watermark(conn)
    if mark is None or (others or 0) > mark:
        return False
    _put_in(conn, p.batch_id == batch_id)
    batch_max = conn.execute(select(func.max(p.id)).where(p.batch_id == batch_id)).scalar()
    _set_watermark(conn, max(mark, batch_max or 0))
    return True


def _put_in(conn, where) -> None:
    """Add the purchases matching ``where`` to every rollup (their months carried forward where cumulative)."""
    batch_ends = _year_ends(conn, s.purchase, where)
    for r in ROLLUPS:
        ends = None
        if r.cumulative:
            ends = {}
            for year, batch_end in batch_ends.items():
                old_end = _year_end(conn, r.table, year)
                ends[year] = max(old_end or 0, batch_end)
                if old_end is not None and old_end < batch_end:
                    _extend(conn, r, old_end, batch_end)
        _upsert(conn, r, _aggregate(r, where, ends))


def remove_batch(conn, batch_id: int) -> None:
    """Take one batch's purchases out of every rollup; call it before deleting them, same transaction."""
    _take_out(conn, s.purchase.c.batch_id == batch_id)


def reassign(conn, ids: list[int], **values) -> None:
    """Set ``values`` on the purchases ``ids`` (a merge moves them to another unit or product), the
    rollups kept exact inside the caller's transaction: the purchases' sums leave the rows of their
    old unit or product (its kind, region, category …) and join those of the new one."""
    p = s.purchase
    current = is_current(conn)
    for start in range(0, len(ids), 5000):
        where = p.c.id.in_(ids[start : start + 5000])
        if current:
            _take_out(conn, where)
        conn.execute(update(p).where(where).values(**values))
        if current:
            _put_in(conn, where)


def _take_out(conn, where) -> None:
    """Subtract the purchases matching ``where`` from every rollup (rows left empty are deleted)."""
    years = _year_ends(conn, s.purchase, where)
    for r in ROLLUPS:
        ends = {y: _year_end(conn, r.table, y) or 0 for y in years} if r.cumulative else None
        agg = _aggregate(r, where, ends).subquery()
        t = r.table.c
        match = and_(*[t[d] == agg.c[d] for d in r.dims])
        conn.execute(
            update(r.table)
            .where(match)
            .values(
                amount=t.amount - agg.c.amount, n=t.n - agg.c.n, quantity=t.quantity - func.coalesce(agg.c.quantity, 0)
            )
        )
        conn.execute(delete(r.table).where(t.n <= 0))


def _month_int(d: date) -> int:
    return d.year * 100 + d.month


def _month_end(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def month_split(start: date, end: date) -> tuple[int, int, list[tuple[date, date]]] | None:
    """Whole months (first, last as yyyymm) inside [start, end] and the raw day ranges left at the edges."""
    first = start if start.day == 1 else _month_end(start) + timedelta(days=1)
    last = end if end == _month_end(end) else end.replace(day=1) - timedelta(days=1)
    if first > last:
        return None
    edges = []
    if start < first:
        edges.append((start, first - timedelta(days=1)))
    if end > last:
        edges.append((last + timedelta(days=1), end))
    return _month_int(first), _month_int(last), edges


# A "current" answer is trusted for CURRENT_SECONDS per connection pool (one store), so a page
# call of several statements checks once, not once a statement. Any write through a connection of
# that pool forgets it at once (a write in this process can leave the rollups behind the facts
# only inside its own transaction, and the next check sees that); a writer in another process
# that bypasses the import is seen within CURRENT_SECONDS — as long as the pages' own result cache
# is a hundred times longer. A "not current" answer is never kept.
CURRENT_SECONDS = 2.0
_seen_current: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _current(conn) -> bool:
    pool = conn.engine.pool
    seen = _seen_current.get(pool)
    if seen is not None and time.monotonic() - seen < CURRENT_SECONDS:
        return True
    if is_current(conn):
        _seen_current[pool] = time.monotonic()
        return True
    return False


def forget_current(conn) -> None:
    """Check the watermark again before the next routed statement on this store."""
    _seen_current.pop(conn.engine.pool, None)


def settle(engine: Engine) -> None:
    """After a rebuild on PostgreSQL: VACUUM (ANALYZE) every rollup — fresh statistics, and the
    visibility map that lets a region drill read the covering index alone (index-only scan) rather
    than visit the table's pages too. Autovacuum does the same after imports, in its own time."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for r in ROLLUPS:
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {r.table.name}")
