"""Purchase rollups (汇总表): monthly sums at several grains, kept exact, and the router that
answers purchase aggregates from them.

Every statement built by ``facts.scoped_select`` carries its scope. When it is executed, the
router looks for the smallest rollup whose dimensions cover every column the statement and
its filters touch, and rewrites the statement onto it: whole months come from the rollup,
the days of a partial first or last month from the raw facts (UNION ALL). A period from
1 January (本年累计, how every page opens) can be answered by a cumulative rollup, which holds
the year-to-date sums under each month: one month of rows instead of one per month elapsed. ``count()`` becomes
the sum of the rollup's counts; ``sum(amount)`` the sum of its sums. A statement that needs
anything else (a purchase date, a supplier, an average of amounts) runs on the raw facts.

The rollups are current when the store says so: ``rebuild`` (the demo generator, the
``rollup`` command) and ``add_batch`` (each import, in its own transaction) move a watermark,
the largest purchase id they cover. Purchases written any other way leave the watermark
behind and every figure falls back to the raw facts until the next rebuild — slower, never wrong.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import (
    Engine,
    Integer,
    Select,
    Table,
    and_,
    case,
    delete,
    event,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import functions, operators, visitors
from sqlalchemy.sql.elements import (
    BinaryExpression,
    BindParameter,
    Case,
    ColumnClause,
    ColumnElement,
    FunctionFilter,
    Label,
    Null,
    UnaryExpression,
)
from sqlalchemy.sql.operators import distinct_op

from data_access import schema as s

WATERMARK_KEY = "rollup_max_purchase_id"
MEASURES = ("amount", "quantity", "n")


@dataclass(frozen=True)
class Rollup:
    """One rollup table and the purchase dimensions it keeps.

    A ``cumulative`` rollup (本年累计) holds, under month M, the sums from 1 January of M's year
    to the end of M, for every month from a combination's first purchase in the year to the last
    month of that year the rollup holds any row for (its "year end": December for a past year,
    the latest month with purchases for the current one). A period from 1 January to month M reads
    the rollup's last month up to M — one month of rows instead of each month's.
    """

    table: Table
    cumulative: bool = False
    base: Table | None = None  # a monthly rollup keeping at least these dimensions: rebuilt from it

    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.table.primary_key.columns)


# The order the router tries them in: roughly smallest read first (rows at 10 million demo
# purchases in docs/scale.md). The cumulative ones answer only periods from 1 January and come
# before the monthly rollups they would otherwise fall to.
ROLLUPS = [Rollup(s.purchase_rollup_county), Rollup(s.purchase_rollup_outlet_month),
           Rollup(s.purchase_rollup_kind_ytd, True, s.purchase_rollup_kind),
           Rollup(s.purchase_rollup_kind, base=s.purchase_rollup_buyer),
           Rollup(s.purchase_rollup_kind_province, base=s.purchase_rollup_origin),
           Rollup(s.purchase_rollup_helper_origin),
           Rollup(s.purchase_rollup_buyer_ytd, True, s.purchase_rollup_buyer),
           Rollup(s.purchase_rollup_unit_ytd, True, s.purchase_rollup_unit),
           Rollup(s.purchase_rollup_product_ytd, True, s.purchase_rollup_product),
           Rollup(s.purchase_rollup_unit_city_ytd, True, s.purchase_rollup_unit_city),
           Rollup(s.purchase_rollup_unit_province_ytd, True, s.purchase_rollup_unit_province),
           *[Rollup(t) for t in (s.purchase_rollup_buyer, s.purchase_rollup_product, s.purchase_rollup_outlet_origin,
                                 s.purchase_rollup_outlet, s.purchase_rollup_unit, s.purchase_rollup_unit_city, s.purchase_rollup_unit_province,
                                 s.purchase_rollup_origin, s.purchase_rollup_unit_origin, s.purchase_rollup)]]

# Where each dimension comes from in the raw facts.
RAW_DIMS = {
    "month": s.purchase.c.month,
    "buyer_unit_id": s.purchase.c.buyer_unit_id,
    "origin_code": s.purchase.c.origin_code,
    "channel": s.purchase.c.channel,
    "purpose": s.purchase.c.purpose,
    "product_id": s.purchase.c.product_id,
    "category": func.coalesce(s.product.c.category, ""),
    "buyer_kind": s.buyer_unit.c.kind,
    "buyer_region_code": s.buyer_unit.c.region_code,
    "buyer_jurisdiction": s.buyer_unit.c.jurisdiction_code,
    "outlet_id": func.coalesce(s.purchase.c.outlet_id, 0),
    "origin_city": func.substr(s.purchase.c.origin_code, 1, 4),
    "origin_province": func.substr(s.purchase.c.origin_code, 1, 2),
}
# Origin dimensions that keep a prefix of the county code, and that prefix's length: a region
# prefix P no longer than it compares the same on the prefix as on origin_code (for c ≥ P and
# c < P' with len(P) ≤ n, only the first n characters of c matter).
ORIGIN_PREFIXES = {"origin_city": 4, "origin_province": 2}
# Columns of the scope's joined tables that a rollup keeps as its own dimension.
JOINED_DIMS = {(s.buyer_unit, "kind"): "buyer_kind", (s.buyer_unit, "region_code"): "buyer_region_code",
               (s.buyer_unit, "jurisdiction_code"): "buyer_jurisdiction", (s.product, "category"): "category"}


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
    return (select(*[to_month.label("month") if d == "month" else a.c[d] for d in r.dims],
                   func.sum(a.c.amount).label("amount"), func.sum(a.c.quantity).label("quantity"),
                   func.sum(a.c.n).label("n"))
            .select_from(a.join(k, and_(k.c.m >= a.c.month % 100, k.c.m <= last))).group_by(*keys))


def _year_ends(conn, table: Table, where=None) -> dict[int, int]:
    """yyyy00 → the last month (yyyymm) ``table`` has a row for in that year (rows matching ``where``)."""
    year = table.c.month - table.c.month % 100
    q = select(year, func.max(table.c.month)).group_by(year)
    if where is not None:
        q = q.where(where)
    return {int(y): int(m) for y, m in conn.execute(q).all()}


def _year_end(conn, table: Table, year: int) -> int | None:
    """The last month (yyyymm) ``table`` has a row for in ``year`` (yyyy00), None when none."""
    return conn.execute(select(func.max(table.c.month))
                        .where(table.c.month > year, table.c.month <= year + 12)).scalar()


def _extend(conn, r: Rollup, old_end: int, new_end: int) -> None:
    """Carry every combination of a cumulative rollup from its year end ``old_end`` to each month
    up to ``new_end`` (same year): purchases arrived in a later month than any before."""
    t = r.table
    for month in range(old_end + 1, new_end + 1):
        rows = select(*[literal(month, Integer).label("month") if d == "month" else t.c[d] for d in r.dims],
                      *[t.c[m] for m in MEASURES]).where(t.c.month == old_end)
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
    return (select(*dims, func.sum(s.purchase.c.amount).label("amount"),
                   func.sum(s.purchase.c.quantity).label("quantity"), func.count().label("n"))
            .select_from(from_).where(where).group_by(*[RAW_DIMS[d] for d in r.dims]))


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
            keys = [b.c[d] if d in b.c else func.substr(b.c.origin_code, 1, ORIGIN_PREFIXES[d]).label(d)
                    for d in r.dims]
            agg = select(*keys, *[func.sum(b.c[m]).label(m) for m in MEASURES]).group_by(*keys)
            if r.cumulative:
                agg = _carried_forward(agg, r, _year_ends(conn, b))
            agg = agg.order_by(*agg.selected_columns[:len(r.dims)])
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
    max_id, mark = conn.execute(select(
        select(func.max(s.purchase.c.id)).scalar_subquery(),
        select(s.store_meta.c.value).where(s.store_meta.c.key == WATERMARK_KEY).scalar_subquery())).one()
    return mark is not None and (max_id or 0) <= int(mark)


def _upsert(conn, r: Rollup, agg) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(r.table).from_select([*r.dims, *MEASURES], agg)
    ex, t = stmt.excluded, r.table.c
    conn.execute(stmt.on_conflict_do_update(index_elements=list(r.dims), set_=dict(
        amount=t.amount + ex.amount, n=t.n + ex.n,
        quantity=func.coalesce(t.quantity + ex.quantity, t.quantity, ex.quantity))))


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
    batch_ends = _year_ends(conn, s.purchase, p.batch_id == batch_id)
    for r in ROLLUPS:
        ends = None
        if r.cumulative:
            ends = {}
            for year, batch_end in batch_ends.items():
                old_end = _year_end(conn, r.table, year)
                ends[year] = max(old_end or 0, batch_end)
                if old_end is not None and old_end < batch_end:
                    _extend(conn, r, old_end, batch_end)
        _upsert(conn, r, _aggregate(r, p.batch_id == batch_id, ends))
    batch_max = conn.execute(select(func.max(p.id)).where(p.batch_id == batch_id)).scalar()
    _set_watermark(conn, max(mark, batch_max or 0))
    return True


def remove_batch(conn, batch_id: int) -> None:
    """Take one batch's purchases out of every rollup; call it before deleting them, same transaction."""
    batch = s.purchase.c.batch_id == batch_id
    years = _year_ends(conn, s.purchase, batch)
    for r in ROLLUPS:
        ends = {y: _year_end(conn, r.table, y) or 0 for y in years} if r.cumulative else None
        agg = _aggregate(r, batch, ends).subquery()
        t = r.table.c
        match = and_(*[t[d] == agg.c[d] for d in r.dims])
        conn.execute(update(r.table).where(match).values(
            amount=t.amount - agg.c.amount, n=t.n - agg.c.n,
            quantity=t.quantity - func.coalesce(agg.c.quantity, 0)))
        conn.execute(delete(r.table).where(t.n <= 0))


class NotRoutable(Exception):
    """The statement touches something no rollup keeps."""


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


class _Rewriter:
    """Rewrites one scoped statement onto one rollup (raises NotRoutable)."""

    def __init__(self, scope, r: Rollup):
        self.scope, self.r = scope, r
        dims = set(r.dims)
        self.prefix_dim = next((d for d in ORIGIN_PREFIXES if d in dims), None)
        self.join_unit = scope.unit_joined and "buyer_unit_id" in dims
        self.join_product = scope.product_joined and "product_id" in dims
        if "product_id" in dims and not scope.product_joined:
            # That rollup holds only purchases with a product (it is built over the join).
            raise NotRoutable("product rollup without the product join")
        split = month_split(scope.start, scope.end) if scope.start else None
        if scope.start and split is None:
            raise NotRoutable("no whole month")
        self.source, time_cond = self._source(split)
        self.from_ = self.source
        if self.join_unit:
            self.from_ = self.from_.join(s.buyer_unit, s.buyer_unit.c.id == self.source.c.buyer_unit_id)
        if self.join_product:
            self.from_ = self.from_.join(s.product, s.product.c.id == self.source.c.product_id)
        conds = [time_cond, self.rewrite(scope.filters_where)]
        if scope.product_joined and "category" in dims and not self.join_product:
            conds.append(self.source.c.category != "")
        self.where = and_(*conds)

    def _source(self, split):
        r, t = self.r, self.r.table
        if r.cumulative:
            return self._cumulative_source(split)
        if split is None:
            return t, true()
        m1, m2, edges = split
        if not edges:
            return t, and_(t.c.month >= m1, t.c.month <= m2)
        branches = [select(*[t.c[d] for d in r.dims], *[t.c[m] for m in MEASURES])
                    .where(t.c.month >= m1, t.c.month <= m2)]
        for lo, hi in edges:
            raw = _raw_aggregate(r, and_(s.purchase.c.purchase_date >= lo, s.purchase.c.purchase_date <= hi))
            branches.append(raw)
        return union_all(*branches).subquery("purchase_months"), true()

    def _cumulative_source(self, split):
        """A period from 1 January to a day of the same year: the rollup's row for the last whole
        month, plus the raw facts of the days after it."""
        start, end, t = self.scope.start, self.scope.end, self.r.table
        if not _from_new_year(self.scope) or end.year != start.year:
            raise NotRoutable("a cumulative rollup answers periods from 1 January")
        _, m2, edges = split
        # The rollup's last month up to m2 in that year: later months exist only once purchases do.
        held = t.alias("held")
        month = t.c.month == (select(func.max(held.c.month))
                              .where(held.c.month >= start.year * 100 + 1, held.c.month <= m2).scalar_subquery())
        if not edges:
            return t, month
        branches = [select(*[t.c[d] for d in self.r.dims], *[t.c[m] for m in MEASURES]).where(month)]
        for lo, hi in edges:
            branches.append(_raw_aggregate(self.r, and_(s.purchase.c.purchase_date >= lo,
                                                        s.purchase.c.purchase_date <= hi)))
        return union_all(*branches).subquery("purchase_months"), true()

    def column(self, col: ColumnClause):
        dims = self.r.dims
        if self.r.cumulative and col.table is s.purchase and col.name == "month":
            raise NotRoutable("month of a cumulative rollup")
        if col.table is s.purchase:
            if col.name == "outlet_id" and col.name in dims:
                return func.nullif(self.source.c.outlet_id, literal_column("0"))
            if col.name in dims:
                return self.source.c[col.name]
            raise NotRoutable(f"purchase.{col.name}")
        dim = JOINED_DIMS.get((col.table, col.name))
        if dim in dims:
            return self.source.c[dim]
        if (col.table is s.buyer_unit and self.join_unit) or (col.table is s.product and self.join_product):
            return col
        if col.table in (s.buyer_unit, s.product):
            raise NotRoutable(f"{col.table.name}.{col.name}")
        return col

    def measure(self, elem):
        """An argument of sum(): a measure column, a literal, or a CASE choosing between them."""
        if isinstance(elem, ColumnClause) and elem.table is s.purchase and elem.name in ("amount", "quantity"):
            return self.source.c[elem.name]
        if isinstance(elem, Null) or (isinstance(elem, ColumnElement) and not list(elem.get_children())
                                      and not isinstance(elem, ColumnClause)):
            return elem
        if isinstance(elem, Case):
            whens = [(self.rewrite(cond), self.measure(value)) for cond, value in elem.whens]
            else_ = self.measure(elem.else_) if elem.else_ is not None else None
            return case(*whens, else_=else_)
        if isinstance(elem, Label):
            return self.measure(elem.element)
        raise NotRoutable("sum of an expression")

    def aggregate(self, fn, criterion=None):
        args = list(fn.clauses)
        crit = self.rewrite(criterion) if criterion is not None else None

        def filtered(agg):
            return agg.filter(crit) if crit is not None else agg

        if isinstance(fn, functions.count):
            arg = args[0] if args else None
            star = arg is None or (isinstance(arg, ColumnClause) and arg.name == "*" and arg.table is None)
            if star or (isinstance(arg, ColumnClause) and arg.table is s.purchase and not arg.nullable):
                return func.coalesce(filtered(func.sum(self.source.c.n)), 0)
            if _is_distinct(arg):
                return filtered(func.count(self.rewrite(arg)))
            raise NotRoutable("count of a nullable expression")
        if fn.name == "sum" and len(args) == 1:
            return filtered(func.sum(self.measure(args[0])))
        if criterion is not None:
            raise NotRoutable(f"{fn.name}() FILTER")
        return None

    def rewrite(self, elem):
        """An expression (column, condition, aggregate) rewritten onto the rollup."""
        def replace(e):
            if isinstance(e, BindParameter):
                # Kept, not cloned: an expression in both SELECT and GROUP BY must render the same
                # parameter names, or PostgreSQL sees two different expressions.
                return e
            if isinstance(e, BinaryExpression) and self.prefix_dim and "origin_code" not in self.r.dims:
                return self._prefix_range(e)
            if isinstance(e, FunctionFilter):
                return self.aggregate(e.func, e.criterion)
            if isinstance(e, functions.FunctionElement) and e.name in ("count", "sum"):
                return self.aggregate(e)
            if isinstance(e, ColumnClause) and e.table is not None:
                return self.column(e)
            return None

        return visitors.replacement_traverse(elem, {}, replace)

    def _prefix_range(self, e: BinaryExpression):
        """``origin_code >= P`` / ``< P`` with a prefix P short enough for the rollup's origin prefix
        dimension (origin_city, origin_province), on that dimension; None for other expressions."""
        left, right = e.left, e.right
        if not (isinstance(left, ColumnClause) and left.table is s.purchase and left.name == "origin_code"):
            return None
        dim = self.prefix_dim
        if (e.operator in (operators.ge, operators.lt) and isinstance(right, BindParameter)
                and isinstance(right.value, str) and len(right.value) <= ORIGIN_PREFIXES[dim]):
            return BinaryExpression(self.source.c[dim], right, e.operator, type_=e.type)
        raise NotRoutable(f"origin_code compared with more than a {dim} prefix")

    def statement(self, stmt: Select) -> Select:
        """The whole SELECT rebuilt on the rollup: same columns, grouping, order and limits."""
        if len(stmt._from_obj) != 1 or stmt._from_obj[0] is not self.scope.from_:
            raise NotRoutable("a FROM other than the scope")
        from_ = self.from_
        for target, onclause, left, flags in stmt._setup_joins:
            # Joins onto lookup tables (regions…) are kept, their ON clause rewritten onto the rollup.
            if left is not None or onclause is None or target in (s.purchase, s.buyer_unit, s.product):
                raise NotRoutable("a join the rollup cannot keep")
            from_ = from_.join(target, self.rewrite(onclause), isouter=flags["isouter"], full=flags["full"])
        where = [self.where if w is self.scope.where else self.rewrite(w) for w in stmt._where_criteria]
        if not any(w is self.where for w in where):
            raise NotRoutable("scope conditions not found")
        new = (select(*[self.rewrite(c) for c in stmt._raw_columns]).select_from(from_).where(*where)
               .group_by(*[self.rewrite(c) for c in stmt._group_by_clauses])
               .order_by(*[self.rewrite(c) for c in stmt._order_by_clauses])
               .having(*[self.rewrite(c) for c in stmt._having_criteria]))
        new._limit_clause, new._offset_clause, new._distinct = stmt._limit_clause, stmt._offset_clause, stmt._distinct
        if stmt._distinct_on:
            raise NotRoutable("DISTINCT ON")
        return new


def _is_distinct(arg) -> bool:
    if isinstance(arg, UnaryExpression) and arg.operator is distinct_op:
        return True
    return isinstance(arg, functions.FunctionElement) and arg.name == "distinct"


def _dimensions_used(stmt, scope) -> set[str]:
    """The rollup dimensions (``RAW_DIMS`` names) that ``stmt`` and its filters refer to; a column
    of buyer_unit or product that no rollup keeps counts as the key it is joined on."""
    scoped = [w for w in stmt._where_criteria if w is not scope.where]
    parts = [*stmt._raw_columns, *scoped, scope.filters_where, *stmt._group_by_clauses, *stmt._order_by_clauses,
             *stmt._having_criteria, *[onclause for _t, onclause, _l, _f in stmt._setup_joins if onclause is not None]]
    used = set()
    for part in parts:
        for e in visitors.iterate(part):
            if not isinstance(e, ColumnClause) or e.table is None:
                continue
            if e.table is s.purchase:
                if e.name in RAW_DIMS:
                    used.add(e.name)
            elif (e.table, e.name) in JOINED_DIMS:
                used.add(JOINED_DIMS[(e.table, e.name)])
            elif e.table is s.buyer_unit:
                used.add("buyer_unit_id")
            elif e.table is s.product:
                used.add("product_id")
    return used


def _from_new_year(scope) -> bool:
    """True when the scope's period starts on 1 January (本年累计): what a cumulative rollup answers."""
    return scope.start is not None and (scope.start.month, scope.start.day) == (1, 1)


_JOIN_KEYS = {"buyer_kind": "buyer_unit_id", "buyer_region_code": "buyer_unit_id",
              "buyer_jurisdiction": "buyer_unit_id", "category": "product_id"}


def _may_answer(r: Rollup, used: set[str], scope) -> bool:
    """False when ``r`` certainly cannot answer: a dimension the statement uses that ``r`` neither
    keeps nor reaches (a code prefix, a join on a key it keeps), or a period a cumulative rollup
    does not hold. A cheap test before the rewrite, which decides the rest."""
    dims = set(r.dims)
    if r.cumulative and ("month" in used or not _from_new_year(scope)):
        return False
    for d in used - dims:
        if d == "origin_code" and dims & set(ORIGIN_PREFIXES):
            continue
        if _JOIN_KEYS.get(d) in dims:
            continue
        return False
    return True


def routed(stmt, scope):
    """``stmt`` rewritten onto the smallest rollup able to answer it, or None."""
    used = _dimensions_used(stmt, scope)
    for r in ROLLUPS:
        if not _may_answer(r, used, scope):
            continue
        try:
            return _Rewriter(scope, r).statement(stmt)
        except NotRoutable:
            continue
    return None


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


@event.listens_for(Engine, "after_cursor_execute")
def _after_write(conn, cursor, statement, parameters, context, executemany):
    if not statement.lstrip()[:6].upper().startswith(("SELECT", "WITH")):
        forget_current(conn)


def source_of(stmt) -> str | None:
    """The rollup a scoped statement would be answered from when the rollups are current (its
    table name), None for the raw facts."""
    new = routed(stmt, stmt.get_execution_options()["purchase_scope"])
    if new is None:
        return None
    return next((r.table.name for r in ROLLUPS if r.table in set(visitors.iterate(new))), None)


@event.listens_for(Engine, "before_execute", retval=True)
def _route(conn, clauseelement, multiparams, params, execution_options):
    scope = execution_options.get("purchase_scope")
    if scope is None or not execution_options.get("rollup", True):
        return clauseelement, multiparams, params
    new = routed(clauseelement, scope)
    if new is None or not _current(conn):
        return clauseelement, multiparams, params
    return new, multiparams, params


def register_cli(sub) -> None:
    p = sub.add_parser("rollup", help="重建采购汇总表（导入以外方式写入采购明细后执行）")
    p.add_argument("--url", help="数据库 URL（默认读取 BANGFU_DATABASE_URL）")
    p.set_defaults(func=_cli_rollup)


def _cli_rollup(args) -> int:
    from data_access.db import make_engine

    engine = make_engine(args.url)
    with engine.begin() as conn:
        rebuild(conn, progress=print)
    settle(engine)
    return 0


def settle(engine: Engine) -> None:
    """After a rebuild on PostgreSQL: VACUUM (ANALYZE) every rollup — fresh statistics, and the
    visibility map that lets a region drill read the covering index alone (index-only scan) rather
    than visit the table's pages too. Autovacuum does the same after imports, in its own time."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for r in ROLLUPS:
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {r.table.name}")


__all__ = ["ROLLUPS", "Rollup", "add_batch", "forget_current", "is_current", "month_split", "rebuild", "remove_batch",
           "routed", "settle", "source_of"]
