"""The purchase rollups (汇总表): which tables exist, the dimensions each keeps, and where each
dimension comes from in the raw facts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, func

from data_access.store import schema as s

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
ROLLUPS = [
    Rollup(s.purchase_rollup_county),
    Rollup(s.purchase_rollup_outlet_month),
    Rollup(s.purchase_rollup_kind_ytd, True, s.purchase_rollup_kind),
    Rollup(s.purchase_rollup_kind, base=s.purchase_rollup_buyer),
    Rollup(s.purchase_rollup_kind_province, base=s.purchase_rollup_origin),
    Rollup(s.purchase_rollup_helper_origin),
    Rollup(s.purchase_rollup_buyer_ytd, True, s.purchase_rollup_buyer),
    Rollup(s.purchase_rollup_unit_ytd, True, s.purchase_rollup_unit),
    Rollup(s.purchase_rollup_product_ytd, True, s.purchase_rollup_product),
    Rollup(s.purchase_rollup_unit_city_ytd, True, s.purchase_rollup_unit_city),
    Rollup(s.purchase_rollup_unit_province_ytd, True, s.purchase_rollup_unit_province),
    *[
        Rollup(t)
        for t in (
            s.purchase_rollup_buyer,
            s.purchase_rollup_product,
            s.purchase_rollup_outlet_origin,
            s.purchase_rollup_outlet,
            s.purchase_rollup_unit,
            s.purchase_rollup_unit_city,
            s.purchase_rollup_unit_province,
            s.purchase_rollup_origin,
            s.purchase_rollup_unit_origin,
            s.purchase_rollup,
        )
    ],
]

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
JOINED_DIMS = {
    (s.buyer_unit, "kind"): "buyer_kind",
    (s.buyer_unit, "region_code"): "buyer_region_code",
    (s.buyer_unit, "jurisdiction_code"): "buyer_jurisdiction",
    (s.product, "category"): "category",
}
