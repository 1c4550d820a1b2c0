"""The filtered purchase fact set that every procurement figure starts from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, select
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.elements import ColumnElement

from data_access.query.filters import Filters, in_region
from data_access.store import rollup  # noqa: F401 — registers the router that answers scoped statements
from data_access.store.schema import buyer_unit, product, purchase


@dataclass(frozen=True, eq=False)
class Scope:
    """FROM clause and WHERE conditions for purchases under some filters.

    ``filters_where`` is ``where`` without the date range, which ``start``/``end`` keep
    (None when the scope covers all dates); the rollup router reads them.
    """

    from_: FromClause
    where: ColumnElement
    filters_where: ColumnElement
    start: date | None
    end: date | None
    unit_joined: bool
    product_joined: bool


def purchase_scope(f: Filters, *, with_unit: bool = False, with_product: bool = False, dates: bool = True) -> Scope:
    """Purchases matching ``f``; joins buyer_unit / product only when a filter or caller needs them."""
    need_unit = with_unit or bool(f.buyer_kinds) or (f.region_code and f.region_side == "buyer")
    need_product = with_product or bool(f.categories)
    from_ = purchase
    if need_unit:
        from_ = from_.join(buyer_unit, buyer_unit.c.id == purchase.c.buyer_unit_id)
    if need_product:
        from_ = from_.join(product, product.c.id == purchase.c.product_id)
    conds = []
    if f.channels:
        conds.append(purchase.c.channel.in_(f.channels))
    if f.buyer_kinds:
        conds.append(buyer_unit.c.kind.in_(f.buyer_kinds))
    if f.categories:
        conds.append(product.c.category.in_(f.categories))
    if f.region_code:
        column = buyer_unit.c.region_code if f.region_side == "buyer" else purchase.c.origin_code
        conds.append(in_region(column, f.region_code))
    if f.own_unit_id is not None:
        conds.append(purchase.c.buyer_unit_id == f.own_unit_id)
    filters_where = and_(True, *conds)
    # The month bounds are redundant with the dates but let the raw-fact fallback use the
    # (…, month) indexes; the rollup router replaces the whole WHERE and never sees them.
    dated = (
        [
            purchase.c.purchase_date >= f.start,
            purchase.c.purchase_date <= f.end,
            purchase.c.month >= f.start.year * 100 + f.start.month,
            purchase.c.month <= f.end.year * 100 + f.end.month,
        ]
        if dates
        else []
    )
    return Scope(
        from_=from_,
        where=and_(*dated, filters_where),
        filters_where=filters_where,
        start=f.start if dates else None,
        end=f.end if dates else None,
        unit_joined=bool(need_unit),
        product_joined=bool(need_product),
    )


def unit_scope_conditions(f: Filters) -> list[ColumnElement]:
    """Conditions on buyer_unit alone: kind, region when the filter is on the buyer side, and a
    reporter's own unit."""
    conds = []
    if f.buyer_kinds:
        conds.append(buyer_unit.c.kind.in_(f.buyer_kinds))
    if f.region_code and f.region_side == "buyer":
        conds.append(in_region(buyer_unit.c.region_code, f.region_code))
    if f.own_unit_id is not None:
        conds.append(buyer_unit.c.id == f.own_unit_id)
    return conds


def scoped_select(f: Filters, *columns, **scope_kwargs):
    """``SELECT columns FROM <scope> WHERE <filters>`` — add group_by/order_by as needed.

    The statement carries its scope, so when it is executed ``rollup`` may answer it from a
    monthly rollup instead of the raw facts (same figures, a fraction of the rows).
    """
    scope = purchase_scope(f, **scope_kwargs)
    return select(*columns).select_from(scope.from_).where(scope.where).execution_options(purchase_scope=scope)
