"""Figures of 五专 outlets and 示范点: where they are, what they sell, which should exit.

Dynamic exit (动态退出, seeds 000/001/003): an outlet whose monthly sales stay below
``LOW_SHARE`` of the median month of outlets of its kind for ``LOW_MONTHS`` months in a row
is an exit candidate, and so is one already suspended or proposed for exit. The reference month
of a kind is the median, over its operating outlets, of each outlet's mean monthly sales.

A desk moves an outlet along ``STATUS_TRANSITIONS`` (``desks.outlets.change_outlet_status``), each
step with a reason and a date kept in ``outlet_status_change``; ``outlet_history`` reads them back.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Numeric, and_, cast, func, select

from data_access.query.facts import scoped_select
from data_access.query.filters import Filters, in_region
from data_access.query.periods import as_date
from data_access.query.text import money_text
from data_access.reference.labels import OUTLET_KINDS, OUTLET_STATUSES
from data_access.store.db import frame
from data_access.store.schema import outlet, outlet_status_change, purchase, region

# Above this many outlets the map gets a density grid instead of every point.
POINT_LIMIT = 3000
GRID_DEGREES = 0.1
LOW_SHARE = 0.3
LOW_MONTHS = 3
WINDOW_MONTHS = 6
# 动态退出 (seeds 001, 003): the steps a desk may take from each status. 已退出 is final — an outlet
# that opens again is registered as a new outlet.
STATUS_TRANSITIONS = {
    "operating": ("suspended", "exit_proposed"),
    "suspended": ("operating", "exit_proposed"),
    "exit_proposed": ("exited", "operating"),
    "exited": (),
}

POINT_COLUMNS = [
    "id",
    "name",
    "kind",
    "operator",
    "region_code",
    "lng",
    "lat",
    "opened_on",
    "status",
    "status_reason",
    "status_since",
    "coord_source",
    "sales_yuan",
    "purchases",
]


def _location_conditions(f: Filters) -> list:
    # Outlets stand where the buyers are: a buyer-side region picks outlets by location.
    if f.region_code and f.region_side == "buyer":
        return [in_region(outlet.c.region_code, f.region_code)]
    return []


def outlet_status_counts(engine: Engine, f: Filters) -> dict:
    """``status -> number of outlets`` (every status present in the store, located in the region
    when the filters' region is on the buyer side)."""
    q = select(outlet.c.status, func.count()).where(and_(True, *_location_conditions(f))).group_by(outlet.c.status)
    with engine.connect() as conn:
        return {status: int(n) for status, n in conn.execute(q).all()}


def outlet_sales(engine: Engine, f: Filters) -> pd.DataFrame:
    """``outlet_id, sales_yuan, purchases``: purchases through each outlet under the filters."""
    q = (
        scoped_select(f, purchase.c.outlet_id, func.sum(purchase.c.amount), func.count())
        .where(purchase.c.outlet_id.is_not(None))
        .group_by(purchase.c.outlet_id)
    )
    with engine.connect() as conn:
        df = frame(conn.execute(q).all(), columns=["outlet_id", "sales_yuan", "purchases"])
    df["sales_yuan"] = df.sales_yuan.astype(float)
    return df


def outlet_count(engine: Engine, f: Filters) -> int:
    """Number of outlets the map of ``f`` would draw."""
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(outlet).where(and_(True, *_location_conditions(f)))).scalar()
        )


def outlet_points(engine: Engine, f: Filters, limit: int = POINT_LIMIT) -> pd.DataFrame:
    """One row per outlet (at most ``limit``, largest sales first): ``id, name, kind, operator,
    region_code, lng, lat, opened_on, status, status_reason, status_since`` (the current status's reason
    and date), ``coord_source`` (``county``: the position is the county's centre), ``sales_yuan`` (yuan,
    under the filters), ``purchases``.

    With an origin-side region, only outlets that sold produce of that region are kept.
    """
    sales = outlet_sales(engine, f).set_index("outlet_id")
    q = select(
        outlet.c.id,
        outlet.c.name,
        outlet.c.kind,
        outlet.c.operator,
        outlet.c.region_code,
        outlet.c.lng,
        outlet.c.lat,
        outlet.c.opened_on,
        outlet.c.status,
        outlet.c.status_reason,
        outlet.c.status_since,
        outlet.c.coord_source,
    ).where(and_(True, *_location_conditions(f)))
    if f.region_code and f.region_side == "origin":
        q = q.where(outlet.c.id.in_([int(i) for i in sales.index]))
    with engine.connect() as conn:
        df = frame(conn.execute(q).all(), columns=POINT_COLUMNS[:-2])
    df["opened_on"] = df.opened_on.map(as_date)
    df["status_since"] = df.status_since.map(as_date)
    df["sales_yuan"] = df.id.map(sales.sales_yuan).fillna(0.0).astype(float)
    df["purchases"] = df.id.map(sales.purchases).fillna(0).astype(int)
    return df.sort_values(["sales_yuan", "id"], ascending=[False, True]).head(limit).reset_index(drop=True)


def outlet_density(engine: Engine, f: Filters, degrees: float = GRID_DEGREES) -> pd.DataFrame:
    """Outlets counted on a grid of ``degrees`` cells: ``lng, lat`` (cell centre), ``outlets``.

    Bounded by the number of occupied cells, whatever the number of outlets.
    """

    def cell(col):
        return func.round(cast(col / degrees, Numeric(12, 4)))

    q = (
        select(cell(outlet.c.lng).label("gx"), cell(outlet.c.lat).label("gy"), func.count())
        .where(and_(True, *_location_conditions(f)))
        .group_by("gx", "gy")
    )
    with engine.connect() as conn:
        df = frame(conn.execute(q).all(), columns=["gx", "gy", "outlets"])
    df["lng"] = df.gx.astype(float) * degrees
    df["lat"] = df.gy.astype(float) * degrees
    df["outlets"] = df.outlets.astype(int)
    return df[["lng", "lat", "outlets"]]


def outlet_map_payload(engine: Engine, f: Filters, limit: int = POINT_LIMIT) -> dict:
    """What the outlet map draws: ``points`` (the ``limit`` outlets with the largest sales),
    ``density`` (the grid of all outlets, or None when every outlet is a point), ``total``."""
    total = outlet_count(engine, f)
    return dict(
        points=outlet_points(engine, f, limit=limit),
        total=total,
        density=outlet_density(engine, f) if total > limit else None,
    )


def _month_index(yyyymm: int) -> int:
    return (yyyymm // 100) * 12 + yyyymm % 100 - 1


def exit_candidates(engine: Engine, f: Filters, as_of: date | None = None) -> pd.DataFrame:
    """Outlets that qualify for dynamic exit at ``as_of`` (default: the filters' end), worst first:
    ``id, name, kind, region_code, region_name, status, months_low`` (consecutive low months up
    to ``as_of``), ``sales_yuan`` (last ``WINDOW_MONTHS`` months, yuan), ``reason`` (Chinese).

    Exited outlets are not listed; suspended and proposed ones always are.
    """
    as_of = as_of or f.end
    last = as_of.year * 100 + as_of.month
    first_idx = _month_index(last) - WINDOW_MONTHS + 1
    first = (first_idx // 12) * 100 + first_idx % 12 + 1
    q_out = (
        select(
            outlet.c.id,
            outlet.c.name,
            outlet.c.kind,
            outlet.c.region_code,
            region.c.name,
            outlet.c.status,
            outlet.c.status_reason,
            outlet.c.status_since,
            outlet.c.opened_on,
        )
        .select_from(outlet.join(region, region.c.code == outlet.c.region_code))
        .where(and_(outlet.c.status != "exited", *_location_conditions(f)))
    )
    window = Filters(start=date(first // 100, first % 100, 1), end=as_of)
    q_sales = (
        scoped_select(window, purchase.c.outlet_id, purchase.c.month, func.sum(purchase.c.amount))
        .where(purchase.c.outlet_id.is_not(None))
        .group_by(purchase.c.outlet_id, purchase.c.month)
    )
    with engine.connect() as conn:
        rows = conn.execute(q_out).all()
        sales = conn.execute(q_sales).all()
    columns = ["id", "name", "kind", "region_code", "region_name", "status", "months_low", "sales_yuan", "reason"]
    if not rows:
        return pd.DataFrame(columns=columns)
    # Arrays over outlets × the window's months (pandas pivots and per-column frames cost ~60 ms
    # for a thousand outlets, ten times the query).
    ids, names, kinds, regions, region_names, status, status_reason, status_since, opened_on = (
        np.array(c, dtype=object) for c in zip(*rows, strict=True)
    )
    ids = ids.astype(np.int64)
    months = np.array([(i // 12) * 100 + i % 12 + 1 for i in range(first_idx, _month_index(last) + 1)])
    grid = np.zeros((len(ids), len(months)))
    if sales:
        outlet_id, month, amount = (np.array(c) for c in zip(*sales, strict=True))
        order = np.argsort(ids)
        at = order[np.searchsorted(ids, outlet_id.astype(np.int64), sorter=order).clip(0, len(ids) - 1)]
        col = np.searchsorted(months, month.astype(np.int64)).clip(0, len(months) - 1)
        hit = (ids[at] == outlet_id.astype(np.int64)) & (months[col] == month.astype(np.int64))
        np.add.at(grid, (at[hit], col[hit]), amount[hit].astype(float))
    # A month before the outlet opened is neither low nor normal.
    open_month = np.array([d.year * 100 + d.month if d else 0 for d in map(as_date, opened_on)])
    is_open = open_month[:, None] <= months[None, :]
    opened_months = is_open.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_month = np.where(opened_months > 0, np.where(is_open, grid, 0.0).sum(axis=1) / opened_months, np.nan)
    # The reference month of a kind: the median over its operating outlets of their mean month.
    operating = status == "operating"
    reference = {}
    for kind in dict.fromkeys(kinds.tolist()):
        values = mean_month[(kinds == kind) & operating]
        values = values[~np.isnan(values)]
        reference[kind] = float(np.median(values)) if len(values) else 0.0
    floor = np.array([reference[k] for k in kinds.tolist()]) * LOW_SHARE
    low = (grid < floor[:, None]) & is_open
    months_low = np.zeros(len(ids), dtype=np.int64)
    still = np.ones(len(ids), dtype=bool)
    for j in range(len(months) - 1, -1, -1):
        still &= low[:, j]
        months_low += still
    sales_yuan = grid.sum(axis=1)
    chosen = np.flatnonzero((months_low >= LOW_MONTHS) | np.isin(status, ["suspended", "exit_proposed"]))
    chosen = chosen[np.lexsort((sales_yuan[chosen], -months_low[chosen]))]
    out = pd.DataFrame(
        {
            "id": ids[chosen],
            "name": names[chosen],
            "kind": kinds[chosen],
            "region_code": regions[chosen],
            "region_name": region_names[chosen],
            "status": status[chosen],
            "months_low": months_low[chosen],
            "sales_yuan": sales_yuan[chosen],
        }
    )
    out["reason"] = [
        _reason(m, st, why, on, fl, sy)
        for m, st, why, on, fl, sy in zip(
            months_low[chosen].tolist(),
            status[chosen].tolist(),
            status_reason[chosen].tolist(),
            [as_date(d) for d in status_since[chosen].tolist()],
            floor[chosen].tolist(),
            sales_yuan[chosen].tolist(),
            strict=True,
        )
    ]
    return out[columns]


def status_text(status: str, status_reason: str | None, status_since: date | None) -> str:
    """An outlet's status in words with its reason and date: ``拟退出（2026-11-20起：连续多月销售额偏低）``."""
    label = OUTLET_STATUSES.get(status, status)
    since = f"{status_since:%Y-%m-%d}起" if isinstance(status_since, date) else ""
    why = status_reason if isinstance(status_reason, str) and status_reason else ""
    inner = "：".join(p for p in (since, why) if p)
    return f"{label}（{inner}）" if inner else label


def _reason(
    months_low: int, status: str, status_reason: str | None, status_since: date | None, floor: float, sales_yuan: float
) -> str:
    parts = []
    if months_low >= LOW_MONTHS:
        parts.append(
            f"连续{months_low}个月销售额低于同类网点月均销售额中位数的{LOW_SHARE:.0%}（每月{money_text(floor)}）"
        )
    if status != "operating":
        parts.append(f"当前状态：{status_text(status, status_reason, status_since)}")
    parts.append(f"近{WINDOW_MONTHS}个月销售额{money_text(sales_yuan)}")
    return "；".join(parts)


def outlets_since(engine: Engine, since: date) -> pd.DataFrame:
    """Outlets opened on or after ``since``: ``id, name, kind, kind_label, region_code, region_name,
    opened_on, status, status_label``, newest first."""
    q = (
        select(
            outlet.c.id,
            outlet.c.name,
            outlet.c.kind,
            outlet.c.region_code,
            region.c.name,
            outlet.c.opened_on,
            outlet.c.status,
        )
        .select_from(outlet.join(region, region.c.code == outlet.c.region_code))
        .where(outlet.c.opened_on >= since)
        .order_by(outlet.c.opened_on.desc(), outlet.c.id)
    )
    with engine.connect() as conn:
        df = frame(
            conn.execute(q).all(), columns=["id", "name", "kind", "region_code", "region_name", "opened_on", "status"]
        )
    df["opened_on"] = df.opened_on.map(as_date)
    df.insert(3, "kind_label", df.kind.map(OUTLET_KINDS))
    df["status_label"] = df.status.map(OUTLET_STATUSES)
    return df


def outlet_register(engine: Engine) -> pd.DataFrame:
    """Every outlet with its current status, by name: ``id, name, kind, region_code, region_name,
    opened_on, status, status_label, status_reason, status_since, version`` (for the status form)."""
    q = (
        select(
            outlet.c.id,
            outlet.c.name,
            outlet.c.kind,
            outlet.c.region_code,
            region.c.name,
            outlet.c.opened_on,
            outlet.c.status,
            outlet.c.status_reason,
            outlet.c.status_since,
            outlet.c.version,
        )
        .select_from(outlet.join(region, region.c.code == outlet.c.region_code))
        .order_by(outlet.c.name)
    )
    columns = [
        "id",
        "name",
        "kind",
        "region_code",
        "region_name",
        "opened_on",
        "status",
        "status_reason",
        "status_since",
        "version",
    ]
    with engine.connect() as conn:
        df = frame(conn.execute(q).all(), columns=columns)
    df["opened_on"] = df.opened_on.map(as_date)
    df["status_since"] = df.status_since.map(as_date)
    df.insert(7, "status_label", df.status.map(OUTLET_STATUSES))
    return df


def outlet_history(engine: Engine, outlet_id: int) -> pd.DataFrame:
    """One outlet's status changes, newest first: ``effective_on, from_status, to_status, from_label,
    to_label, reason, changed_by, changed_at``."""
    c = outlet_status_change.c
    q = (
        select(c.effective_on, c.from_status, c.to_status, c.reason, c.changed_by, c.changed_at)
        .where(c.outlet_id == outlet_id)
        .order_by(c.id.desc())
    )
    with engine.connect() as conn:
        df = frame(
            conn.execute(q).all(),
            columns=["effective_on", "from_status", "to_status", "reason", "changed_by", "changed_at"],
        )
    df["effective_on"] = df.effective_on.map(as_date)
    df.insert(3, "from_label", df.from_status.map(OUTLET_STATUSES))
    df.insert(4, "to_label", df.to_status.map(OUTLET_STATUSES))
    return df
