"""产品名库 — the product catalogue: variety, origin, price, supply, season, beneficiaries, status.

Products are few (thousands, not millions), so the catalogue is one bounded query; purchase
amounts per product come from a SQL aggregate over the filtered purchases.
"""

from __future__ import annotations

import functools
from datetime import date

import pandas as pd
from sqlalchemy import Engine, and_, func, or_, select

from data_access.query.facts import scoped_select
from data_access.query.filters import Filters, in_region
from data_access.store.db import frame
from data_access.store.schema import (
    price_observation,
    price_series,
    product,
    purchase,
    region,
    supplier,
    warning,
)

CATALOGUE_LIMIT = 5000
SORT_KEYS = {
    "amount": "所选期间采购额",
    "beneficiaries": "带贫人数",
    "supply_volume": "年供货量",
    "reference_price": "参考价",
    "open_warnings": "未关闭预警",
    "name": "产品名称",
}
CATALOGUE_COLUMNS = [
    "id",
    "name",
    "category",
    "origin_code",
    "origin_name",
    "province_name",
    "supplier_name",
    "unit",
    "reference_price",
    "latest_price",
    "latest_price_date",
    "supply_volume",
    "season_months",
    "season",
    "beneficiaries",
    "certified",
    "certified_on",
    "status",
    "open_warnings",
    "amount",
]


def season_list(text: str | None) -> list[int]:
    """上市月份 text such as ``"11,12,1"`` as month numbers; unknown or malformed parts dropped."""
    months = []
    for part in str(text or "").split(","):
        part = part.strip()
        if part.isdigit() and 1 <= int(part) <= 12:
            months.append(int(part))
    return months


@functools.lru_cache(maxsize=4096)
def season_calendar(text: str | None) -> str:
    """A 12-character calendar of the selling season, January first: ■ in season, □ not."""
    months = set(season_list(text))
    return "".join("■" if m in months else "□" for m in range(1, 13))


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def product_catalogue(
    engine: Engine,
    f: Filters,
    search: str = "",
    statuses: tuple[str, ...] = (),
    certified: bool | None = None,
    in_season: int | None = None,
    sort: str = "amount",
    limit: int = CATALOGUE_LIMIT,
) -> pd.DataFrame:
    """One row per product matching the filters (columns ``CATALOGUE_COLUMNS``), sorted by ``sort``.

    ``f`` contributes product categories and, on the origin side, the region; ``amount`` is the
    product's purchases (yuan) in ``f``'s period and channels; ``search`` matches product,
    origin or supplier names; ``in_season`` keeps products whose season includes that month.
    """
    origin = region.alias("origin")
    province = region.alias("province")
    open_w = (
        select(warning.c.product_id, func.count().label("n"))
        .where(warning.c.status != "closed")
        .group_by(warning.c.product_id)
        .subquery()
    )
    # Run on its own, so the rollup router can answer it (a subquery inside another statement is not routed).
    spent_q = scoped_select(f, purchase.c.product_id, func.sum(purchase.c.amount), with_product=True).group_by(
        purchase.c.product_id
    )
    conds = [product.c.merged_into.is_(None)]  # a duplicate merged into another is listed as that one
    if f.categories:
        conds.append(product.c.category.in_(f.categories))
    if f.region_code and f.region_side == "origin":
        conds.append(in_region(product.c.origin_code, f.region_code))
    if statuses:
        conds.append(product.c.status.in_(statuses))
    if certified is not None:
        conds.append(product.c.certified == certified)
    term = (search or "").strip()
    if term:
        pat = _like(term)
        conds.append(
            or_(
                product.c.name.like(pat, escape="\\"),
                origin.c.name.like(pat, escape="\\"),
                supplier.c.name.like(pat, escape="\\"),
            )
        )
    q = (
        select(
            product.c.id,
            product.c.name,
            product.c.category,
            product.c.origin_code,
            origin.c.name.label("origin_name"),
            province.c.name.label("province_name"),
            supplier.c.name.label("supplier_name"),
            product.c.unit,
            product.c.reference_price,
            product.c.supply_volume,
            product.c.season_months,
            product.c.beneficiaries,
            product.c.certified,
            product.c.certified_on,
            product.c.status,
            func.coalesce(open_w.c.n, 0).label("open_warnings"),
        )
        .select_from(
            product.join(origin, origin.c.code == product.c.origin_code)
            .outerjoin(province, province.c.code == origin.c.province_code)
            .outerjoin(supplier, supplier.c.id == product.c.supplier_id)
            .outerjoin(open_w, open_w.c.product_id == product.c.id)
        )
        .where(and_(True, *conds))
    )
    with engine.connect() as conn:
        result = conn.execute(q)
        df = frame(result.all(), columns=list(result.keys()))
        spent = dict(conn.execute(spent_q).all()) if not df.empty else {}
    if df.empty:
        return pd.DataFrame(columns=CATALOGUE_COLUMNS)
    df["amount"] = df.id.map(spent).fillna(0)
    if in_season:
        df = df[df.season_months.map(lambda s: in_season in season_list(s))]
    df["amount"] = df.amount.astype(float)
    df["certified"] = df.certified.astype(bool)
    df["season"] = df.season_months.map(season_calendar)
    latest = latest_prices(engine, df.id.tolist())
    df = df.merge(latest, how="left", left_on="id", right_on="product_id").drop(columns="product_id")
    key = sort if sort in SORT_KEYS else "amount"
    df = df.sort_values([key, "id"], ascending=[key == "name", True], kind="stable").head(limit)
    return df[CATALOGUE_COLUMNS].reset_index(drop=True)


def latest_prices(engine: Engine, product_ids: list[int]) -> pd.DataFrame:
    """``product_id, latest_price, latest_price_date``: the newest observation of each product's series
    (the average over its monitoring points on that date)."""
    # Each series' newest date is one step down its (series_id, obs_date) key, not a scan of every
    # observation: a correlated subquery per series, then the product's newest date over its series.
    newest = (
        select(func.max(price_observation.c.obs_date))
        .where(price_observation.c.series_id == price_series.c.id)
        .scalar_subquery()
    )
    series_last = select(price_series.c.id, price_series.c.product_id, newest.label("d")).subquery()
    last = (
        select(series_last.c.product_id, func.max(series_last.c.d).label("d"))
        .group_by(series_last.c.product_id)
        .subquery()
    )
    q = (
        select(price_series.c.product_id, func.avg(price_observation.c.price), last.c.d)
        .select_from(
            last.join(price_series, price_series.c.product_id == last.c.product_id).join(
                price_observation,
                and_(price_observation.c.series_id == price_series.c.id, price_observation.c.obs_date == last.c.d),
            )
        )
        .group_by(price_series.c.product_id, last.c.d)
    )
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    df = frame(rows, columns=["product_id", "latest_price", "latest_price_date"])
    df = df[df.product_id.isin(product_ids)]
    df["latest_price"] = df.latest_price.astype(float).round(2)
    df["latest_price_date"] = pd.to_datetime(df.latest_price_date).dt.date
    return df


def season_by_category(catalogue: pd.DataFrame) -> pd.DataFrame:
    """Products in season per ``category`` and ``month`` (1–12) of a catalogue frame: ``products`` count."""
    rows = [
        (cat, m)
        for cat, text in zip(catalogue.category, catalogue.season_months, strict=True)
        for m in season_list(text)
    ]
    counts = pd.DataFrame(rows, columns=["category", "month"]).value_counts().rename("products").reset_index()
    grid = pd.MultiIndex.from_product(
        [sorted(catalogue.category.unique()), range(1, 13)], names=["category", "month"]
    ).to_frame(index=False)
    out = grid.merge(counts, how="left", on=["category", "month"])
    out["products"] = out.products.fillna(0).astype(int)
    return out


def product_detail(engine: Engine, product_id: int) -> dict | None:
    """One product's catalogue entry with origin and supplier names (None when it does not exist)."""
    origin = region.alias("origin")
    q = (
        select(product, origin.c.name.label("origin_name"), supplier.c.name.label("supplier_name"))
        .select_from(
            product.join(origin, origin.c.code == product.c.origin_code).outerjoin(
                supplier, supplier.c.id == product.c.supplier_id
            )
        )
        .where(product.c.id == product_id)
    )
    with engine.connect() as conn:
        row = conn.execute(q).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["season"] = season_list(out["season_months"])
    return out


def product_series(engine: Engine, product_id: int, since: date | None = None) -> pd.DataFrame:
    """Price and volume observations of a product: ``obs_date, market, price`` (元/kg),
    ``volume``, ``stock`` (kg), oldest first; from ``since`` when given."""
    q = (
        select(
            price_observation.c.obs_date,
            price_series.c.market,
            price_observation.c.price,
            price_observation.c.volume,
            price_observation.c.stock,
        )
        .select_from(price_observation.join(price_series, price_series.c.id == price_observation.c.series_id))
        .where(price_series.c.product_id == product_id)
        .order_by(price_observation.c.obs_date, price_series.c.market)
    )
    if since:
        q = q.where(price_observation.c.obs_date >= since)
    with engine.connect() as conn:
        df = frame(conn.execute(q).all(), columns=["obs_date", "market", "price", "volume", "stock"])
    df["obs_date"] = pd.to_datetime(df.obs_date)
    return df


def product_warnings(engine: Engine, product_id: int) -> pd.DataFrame:
    """Every 滞销 warning of a product, newest first: ``id, first_date, last_date, level, score,
    reason, status, owner_group, absorbed_volume`` (kg)."""
    cols = [
        warning.c.id,
        warning.c.first_date,
        warning.c.last_date,
        warning.c.level,
        warning.c.score,
        warning.c.reason,
        warning.c.status,
        warning.c.owner_group,
        warning.c.absorbed_volume,
    ]
    q = (
        select(*cols)
        .where(warning.c.product_id == product_id)
        .order_by(warning.c.first_date.desc(), warning.c.id.desc())
    )
    with engine.connect() as conn:
        return frame(conn.execute(q).all(), columns=[c.name for c in cols])


def product_monthly_amounts(engine: Engine, f: Filters, product_id: int) -> pd.DataFrame:
    """``month`` (yyyymm), ``amount`` (yuan), ``quantity`` (kg) of one product's purchases under ``f``."""
    q = (
        scoped_select(f, purchase.c.month, func.sum(purchase.c.amount), func.sum(purchase.c.quantity))
        .where(purchase.c.product_id == product_id)
        .group_by(purchase.c.month)
        .order_by(purchase.c.month)
    )
    with engine.connect() as conn:
        df = frame(conn.execute(q).all(), columns=["month", "amount", "quantity"])
    df["amount"] = df.amount.astype(float)
    df["quantity"] = df.quantity.astype(float)
    return df
