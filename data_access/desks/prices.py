"""价格监测数据 intake: the series register and its observations, from long or wide files.

A price file is read by ``ingest.parse_upload`` (form ``prices``) in one of two shapes:

- long: one row per observation, columns 日期, 产品/品种, 市场/监测点, 价格, 单位, 销量, 库存 (and
  optionally 产地, 监测点所在县, 来源) found by their header synonyms;
- wide, as published bulletins look: one row per date, one column per market (the product is
  the form's default product) or per product (the market is the default market).

Prices are normalised to 元/kg (元/斤 ×2, 元/吨 ÷1000); the unit the file used is kept on the
series (``source_unit``). ``run_prices`` (through ``imports.check_upload/commit_upload``) checks
every row against the 产品名库; a commit writes one ``report_batch``, registers new series
(``price_series``: product × 监测点县 × market, with grain and source), aggregates the rows to
the series' grain (a week is stored on its Monday, a month on its first day, as the demo does),
replaces a re-reported value keeping the change in ``price_revision``, and then refreshes the
warnings of the affected series only, in the same job.
"""

from __future__ import annotations

import difflib
import re
import time
import unicodedata
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from data_access.desks.ingest import ParseResult, RowError
from data_access.desks.warnings import refresh_warnings
from data_access.store import schema as s
from data_access.trust.auth import DESK_ROLES, Principal, require_role, write_audit

__all__ = ["GRAIN_LABELS", "infer_grain", "period_start", "run_prices"]

GRAIN_LABELS = {"day": "日", "week": "周", "month": "月"}
_SPACES = re.compile(r"\s+")


def _norm(text) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", str(text))).strip()


def run_prices(
    engine: Engine,
    result: ParseResult,
    principal: Principal,
    outcome,
    regions,
    *,
    write: bool,
    now: datetime | None = None,
):
    """Check (``write=False``) or commit a clean price parse; fills and returns ``outcome`` (an
    ``imports.ImportOutcome``). ``regions(conn)`` resolves 产地/县 names (``imports.RegionNames``).

    A commit is one transaction (all rows or none; the same file twice changes nothing); right
    after it the warnings of the series it touched, and only those, are refreshed. Desks and
    admins may import prices (``AccessDenied`` otherwise)."""
    t0 = time.perf_counter()
    require_role(principal, DESK_ROLES, "导入价格监测数据")
    if not result.ok or not result.file_hash:
        outcome.errors = list(result.errors) or [RowError(None, None, None, result.message)]
        outcome.error_count = max(result.error_count, len(outcome.errors))
        return outcome
    now = now or datetime.now().replace(microsecond=0)
    series_ids: list[int] = []
    try:
        with engine.begin() if write else engine.connect() as conn:
            b = s.report_batch
            earlier = conn.execute(
                select(b.c.id).where(b.c.form == result.form, b.c.file_hash == result.file_hash)
            ).scalar()
            if earlier is not None:
                outcome.batch_id, outcome.already = earlier, True
                return outcome
            rows, errors = _resolve(conn, result.rows, regions(conn))
            if errors:
                outcome.errors, outcome.error_count = errors[:5000], len(errors)
                return outcome
            new_series = rows.drop_duplicates("key").query("series_id.isna()").shape[0]
            outcome.created = {"series": int(new_series)} if new_series else {}
            if write:
                series_ids, written = _write(conn, result, rows, principal, now)
                outcome.batch_id, outcome.committed = written, True
    except IntegrityError:
        outcome.errors = [RowError(None, None, None, "另一批次正在同时导入相同的价格序列，请稍后重试")]
    if outcome.committed and series_ids:
        outcome.warnings = refresh_warnings(engine, principal, series_ids=series_ids, now=now)
    outcome.seconds = time.perf_counter() - t0
    return outcome


def _suggest(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.4)
    return f"；是否为：{'、'.join(close)}" if close else ""


def _resolve(conn, rows: pd.DataFrame, regions) -> tuple[pd.DataFrame, list]:
    p = s.product
    catalogue = conn.execute(
        select(p.c.id, p.c.name, p.c.origin_code).where(p.c.merged_into.is_(None))
        if "merged_into" in p.c
        else select(p.c.id, p.c.name, p.c.origin_code)
    ).all()
    by_name: dict[str, list] = {}
    for r in catalogue:
        by_name.setdefault(_norm(r.name), []).append(r)
    names = sorted({r.name for r in catalogue})
    errors: list = []
    product_ids, region_codes = [], []
    for r in rows.itertuples(index=False):
        found = by_name.get(_norm(r.product), [])
        origin = None
        if isinstance(r.origin, str):
            origin, why = regions.resolve(r.origin)
            if why:
                errors.append(RowError(int(r.source_row), "产地", r.origin, why))
                product_ids.append(None), region_codes.append(None)
                continue
            found = [x for x in found if x.origin_code == origin]
        if len(found) != 1:
            if not found:
                where = f"（产地 {r.origin}）" if origin else ""
                why = f"「{r.product}」{where}不在产品名库中；请先在基础数据的产品名库中登记" + _suggest(
                    r.product, names
                )
            else:
                places = "、".join(x.origin_code for x in found[:5])
                why = f"「{r.product}」在产品名库中有 {len(found)} 个产地（{places}）；请加“产地”列注明"
            errors.append(RowError(int(r.source_row), "产品", r.product, why))
            product_ids.append(None), region_codes.append(None)
            continue
        code = found[0].origin_code
        if isinstance(r.county, str):
            code, why = regions.resolve(r.county)
            if why:
                errors.append(RowError(int(r.source_row), "监测点所在县", r.county, why))
        product_ids.append(found[0].id)
        region_codes.append(code)
    if errors:
        errors.sort(key=lambda e: e.row or 0)
        return rows, errors
    rows = rows.copy()
    rows["product_id"] = product_ids
    rows["region_code"] = region_codes
    rows["market"] = rows["market"].where(rows["market"].notna(), None)
    rows["market"] = [
        m if isinstance(m, str) else f"{prod}产地监测点"
        for m, prod in zip(rows["market"], rows["product"], strict=True)
    ]
    rows["key"] = list(zip(rows.product_id, rows.region_code, rows.market, strict=True))
    dup = rows.duplicated(["key", "date"], keep="first")
    for r in rows[dup].itertuples(index=False):
        first = rows[(rows.key == r.key) & (rows.date == r.date) & ~dup].source_row.iloc[0]
        errors.append(RowError(int(r.source_row), "日期", str(r.date.date()), f"与第{first}行是同一序列同一日期的价格"))
    if errors:
        return rows, errors
    ps = s.price_series
    existing = {
        (r.product_id, r.region_code, r.market): (r.id, r.frequency)
        for r in conn.execute(
            select(ps.c.id, ps.c.product_id, ps.c.region_code, ps.c.market, ps.c.frequency).where(
                ps.c.product_id.in_(sorted({int(x) for x in rows.product_id}))
            )
        ).all()
    }
    rows["series_id"] = rows.key.map(lambda k: existing.get(k, (None, None))[0])
    grains = {k: existing[k][1] for k in rows.key.unique() if k in existing}
    for k, part in rows.groupby("key", sort=False).date:
        grains.setdefault(k, infer_grain(part))
    rows["grain"] = rows.key.map(grains)
    return rows, []


def infer_grain(dates: pd.Series) -> str:
    """The grain a new series is kept at, from the median gap between its dates: a month when
    ≥ 20 days, else a week (daily reports are averaged into weeks, the engine's finest grain)."""
    d = pd.Series(pd.to_datetime(dates).drop_duplicates().sort_values())
    if len(d) < 2:
        return "week"
    return "month" if d.diff().dt.days.median() >= 20 else "week"


def period_start(dates: pd.Series, grain: str) -> pd.Series:
    """The stored date of each row's period: a week's Monday (as the demo stores weeks), a month's 1st."""
    d = pd.to_datetime(dates)
    if grain == "month":
        return d.dt.to_period("M").dt.start_time
    if grain == "week":
        return d - pd.to_timedelta(d.dt.day_of_week, unit="D")
    return d


def _write(conn, result, rows: pd.DataFrame, principal, now) -> tuple[list[int], int]:
    ps, po, pr = s.price_series, s.price_observation, s.price_revision
    batch_id = conn.execute(
        s.report_batch.insert().values(
            form=result.form,
            unit_id=None,
            period=None,
            submitted_at=now,
            submitted_by=principal.username[:64],
            file_name=(result.filename or "")[:256],
            file_hash=result.file_hash,
            row_count=len(result.rows),
            status="committed",
        )
    ).inserted_primary_key[0]
    touched: list[int] = []
    revised = 0
    observations = 0
    for key, part in rows.groupby("key", sort=False):
        product_id, region_code, market = key
        first = part.iloc[0]
        grain = first.grain
        source = next((x for x in part.source if isinstance(x, str)), None)
        units = part.unit.dropna()
        unit = units.mode().iloc[0] if len(units) else None
        sid = first.series_id
        if sid is None or pd.isna(sid):
            sid = conn.execute(
                ps.insert().values(
                    product_id=int(product_id),
                    region_code=region_code,
                    market=market[:64],
                    frequency=grain,
                    source_unit=unit,
                    source=source[:64] if source else None,
                    received_at=now,
                )
            ).inserted_primary_key[0]
        else:
            sid = int(sid)
            values = {"received_at": now, "source_unit": unit}
            if source:
                values["source"] = source[:64]
            conn.execute(ps.update().where(ps.c.id == sid).values(**values))
        touched.append(sid)
        part = part.assign(period=period_start(part.date, grain))
        agg = part.groupby("period").agg(price=("price", "mean"), volume=("volume", "sum"), stock=("stock", "last"))
        has_volume = part.groupby("period").volume.count()
        agg["volume"] = agg.volume.where(has_volume > 0)
        stored = {
            pd.Timestamp(r.obs_date): r.price
            for r in conn.execute(
                select(po.c.obs_date, po.c.price).where(
                    po.c.series_id == sid, po.c.obs_date.between(agg.index.min().date(), agg.index.max().date())
                )
            ).all()
        }
        for day, r in agg.iterrows():
            price = round(float(r.price), 4)
            values = dict(
                price=price,
                volume=None if pd.isna(r.volume) else float(r.volume),
                stock=None if pd.isna(r.stock) else float(r.stock),
            )
            old = stored.get(day)
            if old is None:
                conn.execute(po.insert().values(series_id=sid, obs_date=day.date(), **values))
            else:
                conn.execute(po.update().where(po.c.series_id == sid, po.c.obs_date == day.date()).values(**values))
                if abs(float(old) - price) > 1e-9:
                    conn.execute(
                        pr.insert().values(
                            series_id=sid,
                            obs_date=day.date(),
                            old_price=float(old),
                            new_price=price,
                            batch_id=batch_id,
                            at=now,
                        )
                    )
                    revised += 1
            observations += 1
    write_audit(
        conn,
        principal.username,
        "report_commit",
        f"批次 #{batch_id}",
        f"价格监测 {len(rows)} 行 → {len(touched)} 个序列 {observations} 期（改报 {revised} 期），"
        f"文件 {(result.filename or '')[:80]}",
        at=now,
    )
    return touched, batch_id
