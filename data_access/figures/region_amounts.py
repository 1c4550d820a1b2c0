"""Purchase amounts by region for maps and the drilldown: by county, by child region, by pairing.

``side`` is where a purchase is placed: ``origin`` = the county its produce comes from
(资金流向), ``buyer`` = where the buying unit sits (资金来源). SQL groups by the stored
region code (at most one row per region), and the region tree rolls those up.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, func, select

from data_access.query.facts import scoped_select
from data_access.query.filters import Filters, region_level, region_prefix
from data_access.reference.regions import region_children, region_table
from data_access.store.db import frame
from data_access.store.schema import buyer_unit, pairing, product, purchase, region

AMOUNT_COLUMNS = ["code", "amount", "purchases"]


def amount_by_region(engine: Engine, f: Filters, side: str) -> pd.DataFrame:
    """``code, amount`` (yuan), ``purchases`` per stored region of ``side`` under the filters:
    origin counties, or the buyer units' own regions (county or city)."""
    column = buyer_unit.c.region_code if side == "buyer" else purchase.c.origin_code
    q = scoped_select(f, column, func.sum(purchase.c.amount), func.count(), with_unit=side == "buyer").group_by(column)
    with engine.connect() as conn:
        df = frame(conn.execute(q).all(), columns=AMOUNT_COLUMNS)
    df["amount"] = df.amount.astype(float)
    df["purchases"] = df.purchases.astype(int)
    return df


def roll_up(amounts: pd.DataFrame, regions: pd.DataFrame, parent_code: str | None) -> pd.DataFrame:
    """Amounts of the regions directly below ``parent_code`` (provinces for None), every child
    listed (zero when nothing was bought): ``code, name, level, lng, lat, amount, purchases, share``
    (of the parent's total), largest first. Amounts booked at the parent itself are left out."""
    children = region_children(regions, parent_code)
    child_codes = set(children.code)
    parent_of = dict(zip(regions.code, regions.parent_code, strict=True))

    def child_of(code):
        while code:
            if code in child_codes:
                return code
            code = parent_of.get(code)
        return None

    df = amounts.assign(child=amounts.code.map(child_of)).dropna(subset=["child"])
    sums = df.groupby("child")[["amount", "purchases"]].sum()
    out = children[["code", "name", "level", "lng", "lat"]].copy()
    out["amount"] = out.code.map(sums.amount).fillna(0.0).astype(float)
    out["purchases"] = out.code.map(sums.purchases).fillna(0).astype(int)
    total = float(out.amount.sum())
    out["share"] = out.amount / total if total else 0.0
    return out.sort_values(["amount", "code"], ascending=[False, True]).reset_index(drop=True)


def amount_by_child(engine: Engine, f: Filters) -> pd.DataFrame:
    """The regions directly below the filters' region on its side (see ``roll_up``)."""
    return roll_up(amount_by_region(engine, f, f.region_side), region_table(engine), f.region_code)


def flow_level(f: Filters) -> str:
    """The level origins are grouped at in pairing flows: the level below an origin-side
    selection (the county itself at the bottom); provinces from 全国, cities otherwise."""
    level = f.region_level
    if f.region_side == "origin" and level != "country":
        return {"province": "city", "city": "county", "county": "county"}[level]
    return "province" if level == "country" else "city"


def pairing_flows(engine: Engine, f: Filters, limit: int = 30) -> pd.DataFrame:
    """Money from helper jurisdictions to origin regions under the filters, largest first
    (at most ``limit`` links): ``helper_code, helper_name, origin_code, origin_name, amount``
    (yuan), ``paired`` (a pairing relation covers the link), ``pairing_kind``."""
    level = flow_level(f)
    origin_col = {
        "province": region.c.province_code,
        "city": func.coalesce(region.c.city_code, region.c.code),
        "county": region.c.code,
    }[level]
    q = (
        scoped_select(
            f, buyer_unit.c.jurisdiction_code, origin_col.label("origin"), func.sum(purchase.c.amount), with_unit=True
        )
        .join(region, region.c.code == purchase.c.origin_code)
        .group_by(buyer_unit.c.jurisdiction_code, origin_col)
        .order_by(func.sum(purchase.c.amount).desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        df = frame(conn.execute(q).all(), columns=["helper_code", "origin_code", "amount"])
        pairs = [tuple(r) for r in conn.execute(select(pairing.c.helper_code, pairing.c.helped_code, pairing.c.kind))]
    regions = region_table(engine)
    names = dict(zip(regions.code, regions.name, strict=True))
    provinces = dict(zip(regions.code, regions.province_code, strict=True))
    df["amount"] = df.amount.astype(float)
    df.insert(1, "helper_name", df.helper_code.map(names))
    df["origin_name"] = df.origin_code.map(names)
    kinds = [_pairing_kind(pairs, h, provinces.get(h), o) for h, o in zip(df.helper_code, df.origin_code, strict=True)]
    df["paired"] = [k is not None for k in kinds]
    df["pairing_kind"] = kinds
    return df[["helper_code", "helper_name", "origin_code", "origin_name", "amount", "paired", "pairing_kind"]]


def _overlaps(a: str, b: str) -> bool:
    return a.startswith(region_prefix(b)) or b.startswith(region_prefix(a))


def _pairing_kind(
    pairs: list[tuple[str, str, str]], helper: str, helper_province: str | None, origin: str
) -> str | None:
    """The kind of the first pairing (helper, helped, kind) linking ``helper`` (or its province) to
    a region overlapping ``origin``; None when none does."""
    for helper_code, helped, kind in pairs:
        if helper_code in (helper, helper_province) and _overlaps(origin, helped):
            return kind
    return None


def top_products(engine: Engine, f: Filters, limit: int = 20) -> pd.DataFrame:
    """The products bought most under the filters: ``product_id, name, category, origin_code,
    origin_name, amount`` (yuan), ``quantity``, ``purchases``; at most ``limit`` rows."""
    amount = func.sum(purchase.c.amount)
    q = (
        scoped_select(
            f,
            product.c.id,
            product.c.name,
            product.c.category,
            product.c.origin_code,
            region.c.name,
            amount,
            func.sum(purchase.c.quantity),
            func.count(),
            with_product=True,
        )
        .join(region, region.c.code == product.c.origin_code)
        .group_by(product.c.id, product.c.name, product.c.category, product.c.origin_code, region.c.name)
        .order_by(amount.desc(), product.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        df = frame(
            conn.execute(q).all(),
            columns=["product_id", "name", "category", "origin_code", "origin_name", "amount", "quantity", "purchases"],
        )
    df["amount"] = df.amount.astype(float)
    df["quantity"] = df.quantity.astype(float)
    return df


def top_units(engine: Engine, f: Filters, limit: int = 20) -> pd.DataFrame:
    """The buyer units that bought most under the filters: ``unit_id, name, kind, region_code,
    region_name, amount`` (yuan), ``purchases``; at most ``limit`` rows."""
    amount = func.sum(purchase.c.amount)
    q = (
        scoped_select(
            f,
            buyer_unit.c.id,
            buyer_unit.c.name,
            buyer_unit.c.kind,
            buyer_unit.c.region_code,
            region.c.name,
            amount,
            func.count(),
            with_unit=True,
        )
        .join(region, region.c.code == buyer_unit.c.region_code)
        .group_by(buyer_unit.c.id, buyer_unit.c.name, buyer_unit.c.kind, buyer_unit.c.region_code, region.c.name)
        .order_by(amount.desc(), buyer_unit.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        df = frame(
            conn.execute(q).all(),
            columns=["unit_id", "name", "kind", "region_code", "region_name", "amount", "purchases"],
        )
    df["amount"] = df.amount.astype(float)
    return df


def involved_counts(engine: Engine, f: Filters) -> dict[str, int]:
    """How many distinct ``products``, ``units`` (buyer units) and ``outlets`` the purchases under
    the filters touch — the real counts behind the drilldown's capped top lists."""
    # Three statements, so each is answered by a small rollup (no rollup keeps all three columns).
    queries = {
        "products": scoped_select(f, func.count(purchase.c.product_id.distinct()), with_product=True),
        "units": scoped_select(f, func.count(purchase.c.buyer_unit_id.distinct())),
        "outlets": scoped_select(f, func.count(purchase.c.outlet_id.distinct())),
    }
    with engine.connect() as conn:
        return {k: int(conn.execute(q).scalar() or 0) for k, q in queries.items()}


def county_amounts(engine: Engine, f: Filters, side: str) -> pd.DataFrame:
    """Amounts per county-level region of ``side`` (buyer units at city level stay at their city):
    ``code, name, amount`` (yuan), ``purchases``, largest first. The choropleth's data."""
    df = amount_by_region(engine, f, side)
    regions = region_table(engine)
    df["name"] = df.code.map(pd.Series(regions.name.to_numpy(), index=regions.code.to_numpy()))
    df["level"] = df.code.map(region_level)
    return df.sort_values("amount", ascending=False).reset_index(drop=True)[
        ["code", "name", "level", "amount", "purchases"]
    ]
