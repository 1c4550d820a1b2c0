"""The router: answers a scoped purchase aggregate from the smallest rollup that covers it.

Installed on an engine by ``install`` (``store.db.make_engine`` does it for every store engine;
nothing listens globally). It rewrites ``Select`` statements through SQLAlchemy's statement
internals (``_raw_columns``, ``_where_criteria``, ``_group_by_clauses``, ``_order_by_clauses``,
``_having_criteria``, ``_setup_joins``, ``_from_obj``, ``_limit_clause``, ``_offset_clause``,
``_distinct``, ``_distinct_on``), which SQLAlchemy does not promise to keep: pyproject pins
SQLAlchemy to the minor version this was tested on, and tests/store/test_rollup.py — every figure
routed and raw, on both stores — is the guard to run before moving that pin.
"""

from __future__ import annotations

from sqlalchemy import (
    Engine,
    Select,
    and_,
    case,
    event,
    func,
    literal_column,
    select,
    true,
    union_all,
)
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

from data_access.store import schema as s
from data_access.store.rollup.maintain import _current, _raw_aggregate, forget_current, month_split
from data_access.store.rollup.tables import (
    JOINED_DIMS,
    MEASURES,
    ORIGIN_PREFIXES,
    RAW_DIMS,
    ROLLUPS,
    Rollup,
)


class NotRoutable(Exception):
    """The statement touches something no rollup keeps."""


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
        branches = [
            select(*[t.c[d] for d in r.dims], *[t.c[m] for m in MEASURES]).where(t.c.month >= m1, t.c.month <= m2)
        ]
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
        month = t.c.month == (
            select(func.max(held.c.month))
            .where(held.c.month >= start.year * 100 + 1, held.c.month <= m2)
            .scalar_subquery()
        )
        if not edges:
            return t, month
        branches = [select(*[t.c[d] for d in self.r.dims], *[t.c[m] for m in MEASURES]).where(month)]
        for lo, hi in edges:
            branches.append(
                _raw_aggregate(self.r, and_(s.purchase.c.purchase_date >= lo, s.purchase.c.purchase_date <= hi))
            )
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
        if isinstance(elem, Null) or (
            isinstance(elem, ColumnElement) and not list(elem.get_children()) and not isinstance(elem, ColumnClause)
        ):
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
        if (
            e.operator in (operators.ge, operators.lt)
            and isinstance(right, BindParameter)
            and isinstance(right.value, str)
            and len(right.value) <= ORIGIN_PREFIXES[dim]
        ):
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
        new = (
            select(*[self.rewrite(c) for c in stmt._raw_columns])
            .select_from(from_)
            .where(*where)
            .group_by(*[self.rewrite(c) for c in stmt._group_by_clauses])
            .order_by(*[self.rewrite(c) for c in stmt._order_by_clauses])
            .having(*[self.rewrite(c) for c in stmt._having_criteria])
        )
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
    parts = [
        *stmt._raw_columns,
        *scoped,
        scope.filters_where,
        *stmt._group_by_clauses,
        *stmt._order_by_clauses,
        *stmt._having_criteria,
        *[onclause for _t, onclause, _l, _f in stmt._setup_joins if onclause is not None],
    ]
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


_JOIN_KEYS = {
    "buyer_kind": "buyer_unit_id",
    "buyer_region_code": "buyer_unit_id",
    "buyer_jurisdiction": "buyer_unit_id",
    "category": "product_id",
}


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


def source_of(stmt) -> str | None:
    """The rollup a scoped statement would be answered from when the rollups are current (its
    table name), None for the raw facts."""
    new = routed(stmt, stmt.get_execution_options()["purchase_scope"])
    if new is None:
        return None
    return next((r.table.name for r in ROLLUPS if r.table in set(visitors.iterate(new))), None)


def _after_write(conn, cursor, statement, parameters, context, executemany):
    # Anything but a compiled SELECT (DML, DDL, text or driver SQL) may have written purchases:
    # the next routed statement checks the watermark again.
    compiled = context.compiled if context is not None else None
    if compiled is None or not isinstance(compiled.statement, Select):
        forget_current(conn)


def _route(conn, clauseelement, multiparams, params, execution_options):
    scope = execution_options.get("purchase_scope")
    if scope is None or not execution_options.get("rollup", True):
        return clauseelement, multiparams, params
    new = routed(clauseelement, scope)
    if new is None or not _current(conn):
        return clauseelement, multiparams, params
    return new, multiparams, params


def install(engine: Engine) -> Engine:
    """Let ``engine`` answer scoped statements from the rollups (idempotent); returns it."""
    if not event.contains(engine, "before_execute", _route):
        event.listen(engine, "before_execute", _route, retval=True)
        event.listen(engine, "after_cursor_execute", _after_write)
    return engine


def is_routing(engine: Engine) -> bool:
    """True when the router is installed on ``engine``."""
    return event.contains(engine, "before_execute", _route)
