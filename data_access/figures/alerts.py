"""滞销预警 as the pages read them: open warnings, counts, one warning's series and history, and
the candidate buyers who could absorb it. The writes (refresh, lifecycle) are ``desks.warnings``.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_, func, select

from data_access.engines.rules import units_behind
from data_access.engines.signals import LEVELS, MONTHLY, WEEKLY, score_series
from data_access.query.filters import Filters, in_region, region_prefix
from data_access.query.periods import as_date
from data_access.reference.labels import PAIRING_KINDS
from data_access.store.db import frame
from data_access.store.schema import (
    buyer_unit,
    pairing,
    price_observation,
    price_series,
    product,
    region,
    task_group,
    warning,
    warning_action,
)

__all__ = [
    "ACTIONS",
    "buyer_choices",
    "candidate_buyers",
    "haversine_km",
    "open_warnings",
    "rank_candidates",
    "series_status",
    "task_groups",
    "warning_counts",
    "warning_detail",
    "warning_history",
    "warning_series",
    "warnings_by_region",
    "warnings_since",
]

# Lifecycle actions: label, the statuses they may start from, the status they lead to
# (None: the status stays). The desks' writes (``desks.warnings``) apply them.
ACTIONS = {
    "acknowledge": ("确认", {"new"}, "acknowledged"),
    "assign": ("指派专班", {"new", "acknowledged", "absorbing"}, None),
    "absorb": ("记录消纳", {"acknowledged", "absorbing"}, "absorbing"),
    "close": ("关闭", {"acknowledged", "absorbing"}, "closed"),
    "note": ("跟进备注", {"new", "acknowledged", "absorbing", "closed"}, None),
}
ACTION_LABELS = {k: v[0] for k, v in ACTIONS.items()} | {"created": "引擎发出预警", "relevel": "引擎调整等级"}
_RANK = {name: i for i, name in enumerate(LEVELS)}


def _warning_select(*extra):
    return select(
        warning.c.id,
        warning.c.product_id,
        product.c.name.label("product_name"),
        product.c.category,
        warning.c.region_code,
        region.c.name.label("region_name"),
        warning.c.level,
        warning.c.score,
        warning.c.reason,
        warning.c.status,
        warning.c.owner_group,
        warning.c.first_date,
        warning.c.last_date,
        warning.c.absorbed_volume,
        warning.c.series_id,
        warning.c.version,
        *extra,
    ).select_from(
        warning.join(product, product.c.id == warning.c.product_id).join(region, region.c.code == warning.c.region_code)
    )


def _scope(f: Filters) -> list:
    """Warnings in view of ``f``: origin region, product category, begun by the period's end."""
    conds = [warning.c.first_date <= f.end]
    if f.region_code and f.region_side == "origin":
        conds.append(in_region(warning.c.region_code, f.region_code))
    if f.categories:
        conds.append(product.c.category.in_(f.categories))
    return conds


def _frame(rows, columns) -> pd.DataFrame:
    df = frame(rows, columns=columns)
    for col in ("first_date", "last_date"):
        if col in df:
            df[col] = pd.to_datetime(df[col]).dt.date
    for col in ("score", "absorbed_volume"):
        if col in df:
            df[col] = df[col].astype(float)
    return df


def open_warnings(engine: Engine, f: Filters, levels: tuple[str, ...] | list[str] | None = None) -> pd.DataFrame:
    """Warnings not closed, in view of ``f`` (origin region, category; begun by the period's end):
    ``id, product_id, product_name, category, region_code, region_name, level, score, reason, status,
    owner_group, first_date, last_date, absorbed_volume`` (kg) ``, series_id, version``; worst first."""
    q = _warning_select().where(and_(warning.c.status != "closed", *_scope(f)))
    if levels:
        q = q.where(warning.c.level.in_(list(levels)))
    with engine.connect() as conn:
        df = _frame(conn.execute(q).all(), list(q.selected_columns.keys()))
    if df.empty:
        return df
    df["_rank"] = df.level.map(_RANK)
    return (
        df.sort_values(["_rank", "score", "id"], ascending=[False, False, True])
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


# A series is 数据过期 when its last observation is older than this many periods of its grain.
STALE_PERIODS = 2
GRAIN_DAYS = {"day": 1, "week": 7, "month": 31}


def series_status(engine: Engine, f: Filters, today: date | None = None, limit: int = 500) -> pd.DataFrame:
    """监测序列 in view of ``f`` (origin region, category), those that last received data first:
    ``series_id, product_name, region_name, market, grain, source_unit, source, received_at,
    last_date, observations, stale, short, state`` (``stale``: the last observation is older than
    two periods of the grain, counted from ``today``; ``short``: fewer periods than the engine needs
    to give a level; ``state``: 数据过期 / 数据不足 / 正常). At most ``limit`` rows."""
    today = today or date.today()
    obs = (
        select(
            price_observation.c.series_id,
            func.max(price_observation.c.obs_date).label("last_date"),
            func.count().label("observations"),
        )
        .group_by(price_observation.c.series_id)
        .subquery()
    )
    conds = []
    if f.region_code and f.region_side == "origin":
        conds.append(in_region(price_series.c.region_code, f.region_code))
    if f.categories:
        conds.append(product.c.category.in_(f.categories))
    q = (
        select(
            price_series.c.id.label("series_id"),
            product.c.name.label("product_name"),
            region.c.name.label("region_name"),
            price_series.c.market,
            price_series.c.frequency.label("grain"),
            price_series.c.source_unit,
            price_series.c.source,
            price_series.c.received_at,
            obs.c.last_date,
            func.coalesce(obs.c.observations, 0).label("observations"),
        )
        .select_from(
            price_series.join(product, product.c.id == price_series.c.product_id)
            .join(region, region.c.code == price_series.c.region_code)
            .outerjoin(obs, obs.c.series_id == price_series.c.id)
        )
        .where(and_(True, *conds))
        .order_by(
            price_series.c.received_at.desc().nulls_last(), obs.c.last_date.desc().nulls_last(), price_series.c.id
        )
        .limit(limit)
    )
    with engine.connect() as conn:
        df = frame(conn.execute(q).all(), columns=list(q.selected_columns.keys()))
    if df.empty:
        return df.assign(stale=pd.Series(dtype=bool), short=pd.Series(dtype=bool), state=pd.Series(dtype=object))
    df["last_date"] = pd.to_datetime(df["last_date"]).dt.date
    df["received_at"] = pd.to_datetime(df["received_at"])
    span = df.grain.map(GRAIN_DAYS).fillna(7) * STALE_PERIODS
    age = (pd.Timestamp(today) - pd.to_datetime(df["last_date"])).dt.days
    df["stale"] = age.isna() | (age > span)
    # Too few periods for the engine to give any level (signals.WEEKLY/MONTHLY.min_history).
    need = np.where(df.grain == "month", MONTHLY.min_history, WEEKLY.min_history)
    df["short"] = df.observations.fillna(0).to_numpy() < need
    df["state"] = np.select([df.stale, df.short], ["数据过期", "数据不足"], "正常")
    return df


def warning_counts(engine: Engine, f: Filters) -> dict:
    """Open (not closed) warnings in view of ``f`` by level: ``{red, orange, yellow, blue}`` → count."""
    q = (
        select(warning.c.level, func.count())
        .select_from(warning.join(product, product.c.id == warning.c.product_id))
        .where(and_(warning.c.status != "closed", *_scope(f)))
        .group_by(warning.c.level)
    )
    with engine.connect() as conn:
        found = dict(conn.execute(q).all())
    return {level: int(found.get(level, 0)) for level in ("red", "orange", "yellow", "blue")}


def warnings_by_region(engine: Engine, f: Filters) -> pd.DataFrame:
    """Open warnings in view of ``f`` counted by origin region one level below the filter's region
    (provinces for 全国, cities for a province, counties below): ``region_code, region_name, level,
    warnings``; most warnings first."""
    level = f.region_level if f.region_side == "origin" else "country"
    key = {"country": region.c.province_code, "province": func.coalesce(region.c.city_code, region.c.code)}.get(
        level, region.c.code
    )
    q = (
        select(key.label("region_code"), warning.c.level, func.count().label("warnings"))
        .select_from(
            warning.join(product, product.c.id == warning.c.product_id).join(
                region, region.c.code == warning.c.region_code
            )
        )
        .where(and_(warning.c.status != "closed", *_scope(f)))
        .group_by(key, warning.c.level)
    )
    with engine.connect() as conn:
        df = frame(conn.execute(q).all(), columns=["region_code", "level", "warnings"])
        names = dict(
            conn.execute(
                select(region.c.code, region.c.name).where(region.c.code.in_(df.region_code.dropna().unique().tolist()))
            ).all()
        )
    df.insert(1, "region_name", df.region_code.map(names).fillna(df.region_code))
    total = df.groupby("region_code").warnings.transform("sum")
    return (
        df.assign(_t=total)
        .sort_values(["_t", "region_code"], ascending=[False, True])
        .drop(columns="_t")
        .reset_index(drop=True)
    )


def buyer_choices(engine: Engine) -> pd.DataFrame:
    """Every buyer unit a desk can record as absorbing a glut: ``id, name, kind, region_code``, by name."""
    with engine.connect() as conn:
        return frame(
            conn.execute(
                select(buyer_unit.c.id, buyer_unit.c.name, buyer_unit.c.kind, buyer_unit.c.region_code).order_by(
                    buyer_unit.c.name
                )
            ).all(),
            columns=["id", "name", "kind", "region_code"],
        )


def warnings_since(engine: Engine, since: date) -> pd.DataFrame:
    """Warnings with any logged change on or after ``since``: the columns of ``open_warnings`` plus
    ``created_at``, ``is_new`` (created since), ``changes`` (log entries since), ``last_change_at``,
    ``last_change`` (Chinese label); latest change first."""
    start = datetime.combine(since, datetime.min.time())
    changes = (
        select(
            warning_action.c.warning_id,
            func.count().label("changes"),
            func.max(warning_action.c.at).label("last_change_at"),
        )
        .where(warning_action.c.at >= start)
        .group_by(warning_action.c.warning_id)
        .subquery()
    )
    q = _warning_select(warning.c.created_at, changes.c.changes, changes.c.last_change_at).join_from(
        warning, changes, changes.c.warning_id == warning.c.id
    )
    with engine.connect() as conn:
        df = _frame(conn.execute(q).all(), list(q.selected_columns.keys()))
        last = dict(
            conn.execute(
                select(warning_action.c.warning_id, warning_action.c.action).where(
                    warning_action.c.id.in_(
                        select(func.max(warning_action.c.id))
                        .where(warning_action.c.at >= start)
                        .group_by(warning_action.c.warning_id)
                    )
                )
            ).all()
        )
    df["created_at"] = pd.to_datetime(df.created_at)
    df["last_change_at"] = pd.to_datetime(df.last_change_at)
    df["is_new"] = df.created_at >= pd.Timestamp(start)
    df["last_change"] = df.id.map(last).map(ACTION_LABELS)
    return df.sort_values(["last_change_at", "id"], ascending=[False, True]).reset_index(drop=True)


def warning_detail(engine: Engine, warning_id: int) -> dict | None:
    """One warning with its product, origin, market and owner 专班 names, or None when it does not exist."""
    q = (
        _warning_select(
            price_series.c.market,
            price_series.c.frequency,
            product.c.season_months,
            product.c.unit,
            warning.c.created_at,
            warning.c.updated_at,
            task_group.c.name.label("owner_group_name"),
            region.c.lng,
            region.c.lat,
        )
        .join_from(warning, price_series, price_series.c.id == warning.c.series_id)
        .outerjoin(task_group, task_group.c.code == warning.c.owner_group)
        .where(warning.c.id == warning_id)
    )
    with engine.connect() as conn:
        row = conn.execute(q).mappings().first()
    if row is None:
        return None
    d = dict(row)
    d["first_date"], d["last_date"] = as_date(d["first_date"]), as_date(d["last_date"])
    d["score"], d["absorbed_volume"] = float(d["score"]), float(d["absorbed_volume"])
    return d


def warning_series(engine: Engine, warning_id: int, weeks_before: int = 52, weeks_after: int = 13) -> pd.DataFrame:
    """The warning's series around it, one row per observation: ``date, price`` (yuan/unit),
    ``volume``, ``volume_last_year`` (same week a year earlier), ``baseline, band_low, band_high``
    (seasonal normal price ± 2 robust SD), ``level, score``. Empty when the warning does not exist."""
    d = warning_detail(engine, warning_id)
    cols = ["date", "price", "volume", "volume_last_year", "baseline", "band_low", "band_high", "level", "score"]
    if d is None:
        return pd.DataFrame(columns=cols)
    with engine.connect() as conn:
        obs = frame(
            conn.execute(
                select(
                    price_observation.c.series_id,
                    price_observation.c.obs_date,
                    price_observation.c.price,
                    price_observation.c.volume,
                )
                .where(price_observation.c.series_id == d["series_id"])
                .order_by(price_observation.c.obs_date)
            ).all(),
            columns=["series_id", "date", "price", "volume"],
        )
    if obs.empty:
        return pd.DataFrame(columns=cols)
    seasons = {d["series_id"]: {int(m) for m in str(d["season_months"] or "").split(",") if m.strip().isdigit()}}
    scored = score_series(obs, {k: v for k, v in seasons.items() if v})
    out = pd.concat(
        [
            obs[["date", "price", "volume"]].reset_index(drop=True),
            scored[["baseline", "band_low", "band_high", "level", "score"]].reset_index(drop=True),
        ],
        axis=1,
    )
    out["date"] = pd.to_datetime(out.date)
    year_ago = out.set_index("date").volume
    out["volume_last_year"] = (out.date - pd.Timedelta(weeks=52)).map(year_ago)
    lo = pd.Timestamp(d["first_date"]) - pd.Timedelta(weeks=weeks_before)
    hi = pd.Timestamp(d["last_date"]) + pd.Timedelta(weeks=weeks_after)
    return out[(out.date >= lo) & (out.date <= hi)][cols].reset_index(drop=True)


def warning_history(engine: Engine, warning_id: int) -> pd.DataFrame:
    """The incident log of one warning, oldest first: ``at, actor, action, action_label, from_status,
    to_status, absorbed_volume`` (kg) ``, buyer_unit_id, buyer_name, note``."""
    q = (
        select(
            warning_action.c.at,
            warning_action.c.actor,
            warning_action.c.action,
            warning_action.c.from_status,
            warning_action.c.to_status,
            warning_action.c.absorbed_volume,
            warning_action.c.buyer_unit_id,
            buyer_unit.c.name.label("buyer_name"),
            warning_action.c.note,
        )
        .select_from(warning_action.outerjoin(buyer_unit, buyer_unit.c.id == warning_action.c.buyer_unit_id))
        .where(warning_action.c.warning_id == warning_id)
        .order_by(warning_action.c.at, warning_action.c.id)
    )
    with engine.connect() as conn:
        df = frame(conn.execute(q).all(), columns=list(q.selected_columns.keys()))
    df["at"] = pd.to_datetime(df["at"])
    df.insert(3, "action_label", df.action.map(ACTION_LABELS))
    return df


def task_groups(engine: Engine) -> pd.DataFrame:
    """The joint meeting's 专班: ``code, name, duty``."""
    with engine.connect() as conn:
        return frame(
            conn.execute(
                select(task_group.c.code, task_group.c.name, task_group.c.duty).order_by(task_group.c.code)
            ).all(),
            columns=["code", "name", "duty"],
        )


def haversine_km(lng1, lat1, lng2, lat2):
    """Great-circle distance in km between points given in degrees (arrays or scalars; NaN stays NaN)."""
    lng1, lat1, lng2, lat2 = (np.radians(np.asarray(v, dtype=float)) for v in (lng1, lat1, lng2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lng2 - lng1) / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(a))


def _within(code: str | None, area: str) -> bool:
    """True when region ``code`` lies inside region ``area`` (same code or under its prefix)."""
    return bool(code) and (code == area or code.startswith(region_prefix(area)))


def rank_candidates(
    behind: pd.DataFrame,
    origin_code: str,
    origin_lng: float | None,
    origin_lat: float | None,
    pairings: pd.DataFrame,
    regions: pd.DataFrame,
) -> pd.DataFrame:
    """Units behind their rule as buyers for a glut at ``origin_code``: ``behind``'s columns plus
    ``paired`` (the unit's jurisdiction or location is paired with the origin), ``pairing_kind``
    (Chinese), ``unit_region_name``, ``distance_km``; paired units first, then by ``gap_yuan``."""
    df = behind.copy()
    helpers = pairings[[_within(origin_code, h) for h in pairings.helped_code]] if len(pairings) else pairings

    def kind(row) -> str | None:
        for p in helpers.itertuples():
            if _within(row.jurisdiction_code, p.helper_code) or _within(row.region_code, p.helper_code):
                return PAIRING_KINDS.get(p.kind, p.kind)
        return None

    df["pairing_kind"] = [kind(r) for r in df.itertuples()] if len(df) else []
    df["paired"] = df.pairing_kind.notna()
    coords = regions.set_index("code")[["name", "lng", "lat"]]
    located = df.region_code.map(coords.lng), df.region_code.map(coords.lat)
    df["unit_region_name"] = df.region_code.map(coords.name)
    df["distance_km"] = np.round(
        haversine_km(
            located[0],
            located[1],
            origin_lng if origin_lng is not None else np.nan,
            origin_lat if origin_lat is not None else np.nan,
        ),
        0,
    )
    return df.sort_values(["paired", "gap_yuan"], ascending=[False, False], kind="stable").reset_index(drop=True)


def candidate_buyers(
    engine: Engine, warning_id: int, f: Filters, limit: int = 20, behind: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Candidate buyers to absorb the warning: ``rank_candidates`` over ``rules.units_behind``
    (one row per unit behind its rule, under ``f``; pass ``behind`` when already computed), top
    ``limit``. Empty when the warning does not exist."""

    d = warning_detail(engine, warning_id)
    behind = units_behind(engine, f) if behind is None else behind
    if d is None or behind.empty:
        return behind.head(0)
    with engine.connect() as conn:
        pairs = frame(
            conn.execute(select(pairing.c.helper_code, pairing.c.helped_code, pairing.c.kind)).all(),
            columns=["helper_code", "helped_code", "kind"],
        )
        codes = set(behind.region_code) | {d["region_code"]}
        regions = frame(
            conn.execute(
                select(region.c.code, region.c.name, region.c.lng, region.c.lat).where(region.c.code.in_(sorted(codes)))
            ).all(),
            columns=["code", "name", "lng", "lat"],
        )
    return rank_candidates(behind, d["region_code"], d["lng"], d["lat"], pairs, regions).head(limit)
