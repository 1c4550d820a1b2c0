"""滞销预警 writes: the batch refresh that keeps the store's warnings, and the 消纳 lifecycle.

The engine (``signals``) scores every stored price series; ``refresh_warnings`` keeps one
``warning`` row per alert episode (key: series and first alert date), so running it again
changes nothing. Desks move a warning new → acknowledged 已确认 → absorbing 消纳中 → closed
已关闭; every change appends to ``warning_action`` (the incident log, never overwritten) and to
the audit log in the same transaction, and an update carrying a stale ``version`` is refused
(optimistic lock). Each write takes the ``Principal`` and checks its role here.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_, func, select, update

from data_access.engines.signals import LEVELS, score_series
from data_access.figures.alerts import ACTIONS
from data_access.query.periods import as_date
from data_access.reference.labels import WARNING_LEVELS, WARNING_STATUSES
from data_access.store.db import frame
from data_access.store.schema import (
    buyer_unit,
    price_observation,
    price_series,
    product,
    task_group,
    warning,
    warning_action,
)
from data_access.trust.auth import DESK_ROLES, Principal, require_role, write_audit

__all__ = ["StaleWarning", "WarningActionError", "apply_action", "catalogue_prices", "refresh_warnings"]

ENGINE_ACTOR = "预警引擎"
# An episode is stored once it reaches yellow or has alerted in two periods: a single blue
# week is noise the desks need not see.
MIN_ALERT_PERIODS = 2
# Alert runs of one series separated by at most this many days are one episode.
MERGE_DAYS = {"week": 21, "month": 62}
# The refresh keeps episodes that were still alerting within this many days of the latest
# observation; older ones belong to history (a store loaded with years of data at once).
DEFAULT_WINDOW_DAYS = 365
REFRESH_CHUNK_SERIES = 2000
_RANK = {name: i for i, name in enumerate(LEVELS)}


class WarningActionError(ValueError):
    """A lifecycle action that cannot be applied; ``str()`` is a Chinese message for the desk."""


class StaleWarning(WarningActionError):
    """The warning changed since the caller read it (optimistic lock)."""


def refresh_warnings(
    engine: Engine,
    principal: Principal,
    *,
    since: date | None = None,
    now: datetime | None = None,
    backdate: bool = False,
    series_ids: list[int] | None = None,
) -> dict:
    """Score every stored series and upsert its alert episodes; returns counts
    ``inserted, updated, unchanged, series, seconds``.

    Episodes still alerting on or after ``since`` (default: a year before the latest
    observation) are kept. New episodes get a ``created`` action; a changed level a
    ``relevel`` action; closed warnings are left as the desks closed them. ``backdate``
    stamps each new warning the morning after its first alert (replaying history, for the demo).
    ``series_ids`` limits the run to those series (an import refreshes what it touched): only
    their warnings are written, and the default ``since`` is a year before their latest observation.
    Desks and admins may run it (the command line runs as an admin).
    """
    require_role(principal, DESK_ROLES, "运行预警引擎")
    t0 = time.perf_counter()
    now = now or datetime.now().replace(microsecond=0)
    q = (
        select(
            price_series.c.id,
            price_series.c.product_id,
            price_series.c.region_code,
            price_series.c.frequency,
            product.c.season_months,
            product.c.unit,
            product.c.cost_price,
            product.c.reference_price,
        )
        .join(product, product.c.id == price_series.c.product_id)
        .order_by(price_series.c.id)
    )
    if series_ids is not None:
        q = q.where(price_series.c.id.in_([int(i) for i in series_ids]))
    with engine.connect() as conn:
        series = frame(
            conn.execute(q).all(),
            columns=[
                "id",
                "product_id",
                "region_code",
                "frequency",
                "season_months",
                "unit",
                "cost_price",
                "reference_price",
            ],
        )
        last = select(func.max(price_observation.c.obs_date))
        if series_ids is not None:
            last = last.where(price_observation.c.series_id.in_(series_ids))
        latest = as_date(conn.execute(last).scalar())
    counts = dict(inserted=0, updated=0, unchanged=0, series=len(series))
    if series.empty or latest is None:
        return counts | dict(seconds=round(time.perf_counter() - t0, 2))
    since = since or latest - timedelta(days=DEFAULT_WINDOW_DAYS)
    for start in range(0, len(series), REFRESH_CHUNK_SERIES):
        chunk = series.iloc[start : start + REFRESH_CHUNK_SERIES]
        episodes = _episodes(engine, chunk)
        episodes = episodes[episodes.last_date >= pd.Timestamp(since)]
        for key, n in _upsert(engine, episodes, chunk, now, backdate).items():
            counts[key] += n
    with engine.begin() as conn:
        write_audit(
            conn,
            principal.username,
            "warnings_refresh",
            None if series_ids is None else "序列 #" + "、#".join(str(i) for i in sorted(series_ids)[:20]),
            f"序列 {counts['series']}，新增 {counts['inserted']}，更新 {counts['updated']}",
            at=now,
        )
    return counts | dict(seconds=round(time.perf_counter() - t0, 2))


def _episodes(engine: Engine, chunk: pd.DataFrame) -> pd.DataFrame:
    """Alert episodes of the chunk's series: ``series_id, level, score, first_date, last_date,
    reason, periods``."""
    ids = chunk.id.tolist()
    with engine.connect() as conn:
        obs = frame(
            conn.execute(
                select(
                    price_observation.c.series_id,
                    price_observation.c.obs_date,
                    price_observation.c.price,
                    price_observation.c.volume,
                    price_observation.c.stock,
                ).where(price_observation.c.series_id.between(min(ids), max(ids)))
            ).all(),
            columns=["series_id", "date", "price", "volume", "stock"],
        )
    obs = obs[obs.series_id.isin(ids)]
    cols = ["series_id", "level", "score", "first_date", "last_date", "reason", "periods"]
    if obs.empty:
        return pd.DataFrame(columns=cols)
    seasons = {
        sid: {int(m) for m in str(months).split(",") if m.strip().isdigit()}
        for sid, months in zip(chunk.id, chunk.season_months, strict=True)
        if months
    }
    scores = score_series(obs, seasons, catalogue_prices(chunk))
    alerts = scores.loc[scores.level != "none", ["series_id", "date", "level", "score", "reason"]].copy()
    if alerts.empty:
        return pd.DataFrame(columns=cols)
    alerts["date"] = pd.to_datetime(alerts["date"])
    alerts = alerts.sort_values(["series_id", "date"], kind="stable").reset_index(drop=True)
    merge = chunk.set_index("id").frequency.map(MERGE_DAYS).fillna(MERGE_DAYS["week"])
    gap = (alerts.date - alerts.date.shift()).dt.days
    same = alerts.series_id == alerts.series_id.shift()
    alerts["episode"] = (~(same & (gap <= alerts.series_id.map(merge)))).cumsum()
    alerts["rank"] = alerts.level.map(_RANK)
    g = alerts.groupby("episode", sort=True)
    peak = alerts.loc[g.score.idxmax()].set_index("episode")
    out = pd.DataFrame(
        {
            "series_id": g.series_id.first(),
            "level": g["rank"].max().map(dict(enumerate(LEVELS))),
            "score": g.score.max().round(2),
            "first_date": g.date.min(),
            "last_date": g.date.max(),
            "reason": peak.reason,
            "periods": g.size(),
        }
    ).reset_index(drop=True)
    keep = (out.level.map(_RANK) >= _RANK["yellow"]) | (out.periods >= MIN_ALERT_PERIODS)
    return out[keep][cols]


# Stored prices are 元/kg: a catalogue price counts only when the product is sold by the kg.
KG_UNITS = {"kg", "公斤", "千克", "元/kg", "元/公斤"}


def catalogue_prices(series: pd.DataFrame) -> dict:
    """Per series id: the product's 成本价 and 参考价 (``{"cost": …, "reference": …}``) when the
    product's unit is the kilogram the observations are kept in; other units are left out."""
    out = {}
    for r in series.itertuples(index=False):
        if str(r.unit or "kg").strip().lower() not in KG_UNITS:
            continue
        cost = None if r.cost_price is None or pd.isna(r.cost_price) else float(r.cost_price)
        ref = None if r.reference_price is None or pd.isna(r.reference_price) else float(r.reference_price)
        if cost or ref:
            out[r.id] = {"cost": cost, "reference": ref}
    return out


def _upsert(engine: Engine, episodes: pd.DataFrame, chunk: pd.DataFrame, now: datetime, backdate: bool) -> dict:
    counts = dict(inserted=0, updated=0, unchanged=0)
    if episodes.empty:
        return counts
    meta = chunk.set_index("id")
    with engine.begin() as conn:
        existing = {
            (r.series_id, as_date(r.first_date)): r
            for r in conn.execute(
                select(
                    warning.c.id,
                    warning.c.series_id,
                    warning.c.first_date,
                    warning.c.last_date,
                    warning.c.level,
                    warning.c.score,
                    warning.c.reason,
                    warning.c.status,
                ).where(warning.c.series_id.in_(episodes.series_id.unique().tolist()))
            ).all()
        }
        for e in episodes.itertuples(index=False):
            first, last = e.first_date.date(), e.last_date.date()
            old = existing.get((e.series_id, first))
            if old is None:
                at = (
                    datetime.combine(first + timedelta(days=1), datetime.min.time()).replace(hour=6)
                    if backdate
                    else now
                )
                wid = conn.execute(
                    warning.insert().values(
                        series_id=int(e.series_id),
                        product_id=int(meta.at[e.series_id, "product_id"]),
                        region_code=meta.at[e.series_id, "region_code"],
                        first_date=first,
                        last_date=last,
                        level=e.level,
                        score=float(e.score),
                        reason=e.reason,
                        status="new",
                        absorbed_volume=0.0,
                        version=1,
                        created_at=at,
                        updated_at=at,
                    )
                ).inserted_primary_key[0]
                conn.execute(
                    warning_action.insert().values(
                        warning_id=wid,
                        at=at,
                        actor=ENGINE_ACTOR,
                        action="created",
                        to_status="new",
                        note=f"{WARNING_LEVELS[e.level]}预警：{e.reason}",
                    )
                )
                counts["inserted"] += 1
                continue
            same = (
                old.level == e.level
                and as_date(old.last_date) == last
                and old.reason == e.reason
                and math.isclose(float(old.score), float(e.score), abs_tol=0.005)
            )
            if same or old.status == "closed":
                counts["unchanged"] += 1
                continue
            # Engine fields only: the version guards the desks' lifecycle fields, which the
            # engine never touches, so a desk's open form stays valid.
            conn.execute(
                update(warning)
                .where(warning.c.id == old.id)
                .values(level=e.level, score=float(e.score), reason=e.reason, last_date=last, updated_at=now)
            )
            if old.level != e.level:
                conn.execute(
                    warning_action.insert().values(
                        warning_id=old.id,
                        at=now,
                        actor=ENGINE_ACTOR,
                        action="relevel",
                        note=f"{WARNING_LEVELS[old.level]} → {WARNING_LEVELS[e.level]}：{e.reason}",
                    )
                )
            counts["updated"] += 1
    return counts


@dataclass(frozen=True)
class _Change:
    status: str | None
    values: dict


def apply_action(
    engine: Engine,
    principal: Principal,
    warning_id: int,
    version: int,
    action: str,
    *,
    owner_group: str | None = None,
    absorbed_volume: float | None = None,
    buyer_unit_id: int | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> int:
    """Apply one lifecycle action as of the ``version`` the desk saw; returns the new version.

    Raises ``StaleWarning`` when the warning changed since (nothing is written) and
    ``WarningActionError`` for an action its status does not allow or missing input.
    Only desks and admins may act (``AccessDenied`` otherwise). The change, its log entry (the
    actor is the principal's display name) and the audit row are written in one transaction.
    """
    require_role(principal, DESK_ROLES, "处置滞销预警")
    actor = principal.display_name or principal.username
    if action not in ACTIONS:
        raise WarningActionError(f"未知操作：{action}")
    label, allowed, _ = ACTIONS[action]
    now = now or datetime.now().replace(microsecond=0)
    note = (note or "").strip() or None
    with engine.begin() as conn:
        row = conn.execute(
            select(warning.c.status, warning.c.version, warning.c.owner_group, warning.c.absorbed_volume).where(
                warning.c.id == warning_id
            )
        ).first()
        if row is None:
            raise WarningActionError(f"预警 #{warning_id} 不存在")
        if row.version != version:
            raise StaleWarning(
                f"预警 #{warning_id} 已被他人修改（您看到的是第 {version} 版，当前为第 {row.version} 版），"
                "本次操作未保存。请刷新查看最新状态与处置记录后再操作。"
            )
        if row.status not in allowed:
            raise WarningActionError(f"预警当前状态为“{WARNING_STATUSES[row.status]}”，不能执行“{label}”")
        change = _change(conn, action, row, owner_group, absorbed_volume, buyer_unit_id, note)
        result = conn.execute(
            update(warning)
            .where(and_(warning.c.id == warning_id, warning.c.version == version))
            .values(version=version + 1, updated_at=now, **change.values)
        )
        if result.rowcount != 1:  # another desk committed between our read and this update
            raise StaleWarning(f"预警 #{warning_id} 刚被他人修改，本次操作未保存。请刷新后再操作。")
        conn.execute(
            warning_action.insert().values(
                warning_id=warning_id,
                at=now,
                actor=actor,
                action=action,
                from_status=row.status,
                to_status=change.status or row.status,
                absorbed_volume=absorbed_volume if action == "absorb" else None,
                buyer_unit_id=buyer_unit_id if action == "absorb" else None,
                note=_log_note(conn, action, owner_group, note),
            )
        )
        write_audit(
            conn,
            principal.username,
            "warning_action",
            f"预警 #{warning_id}",
            f"{label}（第 {version} 版 → 第 {version + 1} 版）",
            at=now,
        )
    return version + 1


def _change(conn, action, row, owner_group, absorbed_volume, buyer_unit_id, note) -> _Change:
    target = ACTIONS[action][2]
    values: dict = {"status": target} if target else {}
    if action == "assign":
        if (
            not owner_group
            or conn.execute(select(task_group.c.code).where(task_group.c.code == owner_group)).first() is None
        ):
            raise WarningActionError("请选择责任专班")
        if owner_group == row.owner_group:
            raise WarningActionError("该预警已由此专班负责")
        values["owner_group"] = owner_group
    elif action == "absorb":
        if not row.owner_group:
            raise WarningActionError("请先指派责任专班，再记录消纳")
        if absorbed_volume is None or not np.isfinite(absorbed_volume) or absorbed_volume <= 0:
            raise WarningActionError("消纳量须为大于 0 的数字（公斤）")
        if (
            buyer_unit_id is None
            or conn.execute(select(buyer_unit.c.id).where(buyer_unit.c.id == buyer_unit_id)).first() is None
        ):
            raise WarningActionError("请选择消纳单位")
        values["absorbed_volume"] = float(row.absorbed_volume or 0) + float(absorbed_volume)
    elif action == "note" and not note:
        raise WarningActionError("备注不能为空")
    return _Change(status=target, values=values)


def _log_note(conn, action, owner_group, note) -> str | None:
    if action != "assign":
        return note
    name = conn.execute(select(task_group.c.name).where(task_group.c.code == owner_group)).scalar()
    return f"责任专班：{name}" + (f"；{note}" if note else "")
