"""价格监测数据 intake: the series register and its observations, from long or wide files.

A price file is read in one of two shapes (``read_price_rows``, called by ``ingest.parse_upload``):

- long: one row per observation, columns 日期, 产品/品种, 市场/监测点, 价格, 单位, 销量, 库存 (and
  optionally 产地, 监测点所在县, 来源) found by their header synonyms;
- wide, as published bulletins look: one row per date, one column per market (the product is
  the form's default product) or per product (the market is the default market).

Prices are normalised to 元/kg (元/斤 ×2, 元/吨 ÷1000); the unit the file used is kept on the
series (``source_unit``). ``commit_prices`` writes one ``report_batch``, registers new series
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
from collections.abc import Iterator
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from data_access.store import schema as s
from data_access.trust.auth import DESK_ROLES, Principal, require_role, write_audit

__all__ = [
    "GRAIN_LABELS",
    "PRICE_UNITS",
    "commit_prices",
    "check_prices",
    "price_unit_factor",
    "read_price_rows",
]

# 元 per unit → 元/kg: the factor a price is multiplied by.
PRICE_UNITS = {
    "斤": 2.0,
    "市斤": 2.0,
    "500g": 2.0,
    "公斤": 1.0,
    "千克": 1.0,
    "kg": 1.0,
    "吨": 0.001,
    "t": 0.001,
    "克": 1000.0,
    "g": 1000.0,
}
GRAIN_LABELS = {"day": "日", "week": "周", "month": "月"}
_UNIT_RE = re.compile(r"元\s*(?:/|每|／)\s*(市斤|斤|500g|公斤|千克|kg|吨|t|克|g)", re.IGNORECASE)
_PRICE_CELL = re.compile(r"^(?P<num>[+-]?\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>.*)$")


def price_unit_factor(text: str | None) -> tuple[str | None, float | None]:
    """(canonical unit such as ``元/斤``, factor to 元/kg) of a unit text, or (None, None)."""
    if not text:
        return None, None
    t = unicodedata.normalize("NFKC", str(text)).strip().lower().replace(" ", "")
    m = _UNIT_RE.search(t)
    word = m.group(1) if m else t.removeprefix("元").removeprefix("/")
    if word not in PRICE_UNITS:
        return None, None
    canonical = {"市斤": "斤", "千克": "公斤", "kg": "公斤", "t": "吨", "g": "克", "500g": "斤"}.get(word, word)
    return f"元/{canonical}", PRICE_UNITS[word]


# --------------------------------------------------------------------------- reading


def read_price_rows(sheets: list[Iterator], spec, ctx, result, defaults: dict, max_rows: int) -> pd.DataFrame:
    """Rows of a price file (first sheet with a long or wide header) as long raw rows, normalised.

    ``sheets`` are iterators of ``(row number, cells)``; errors go to ``ctx.errors``.
    """
    from data_access.desks import ingest as g

    first_error = None
    for sheet in sheets:
        buffered: list[tuple[int, list]] = []
        found = None
        for rownum, cells in sheet:
            buffered.append((rownum, list(cells)))
            if found is None and any(c and str(c).strip() for c in cells):
                found = _header_kind(spec, cells)
                if found is not None:
                    header_row, kind, mapping = rownum, *found
                    break
            if sum(1 for _, c in buffered if any(x and str(x).strip() for x in c)) >= g.HEADER_SCAN_ROWS:
                break
        if found is None:
            non_blank = [(n, c) for n, c in buffered if any(x and str(x).strip() for x in c)]
            first_error = first_error or g._header_error(spec, None, non_blank)
            continue
        title_unit = next(
            (u for _, cells in buffered[:-1] for c in cells if c for u in [price_unit_factor(str(c))[0]] if u), None
        )
        data = [(n, c) for n, c in sheet if n > header_row and not _skipped(g, c)]
        if len(data) > max_rows:
            raise g._FileError(f"数据超过 {max_rows:,} 行的上限；请拆分成多个文件分批导入")
        result.header_row = header_row
        if kind == "long":
            raw = _long_raw(data, mapping, title_unit)
        else:
            raw = _wide_raw(data, mapping, title_unit, defaults, result)
        return _normalise(raw, ctx, result)
    raise g._FileError(first_error or "文件中没有任何内容")


def _skipped(g, cells) -> bool:
    """示例, 合计 and 填表人 rows, as the other forms skip them."""
    first = next((str(c) for c in cells if c and str(c).strip()), None)
    return first is not None and g._SKIP_RE.match(first) is not None


def _header_kind(spec, cells) -> tuple[str, dict] | None:
    from data_access.desks import ingest as g

    mapping = g._match_header(spec, cells)
    if {"date", "product", "price"} <= mapping.keys():
        return "long", mapping
    texts = [(i, str(c).strip()) for i, c in enumerate(cells) if c and str(c).strip()]
    if len(texts) < 3 or "date" not in mapping:
        return None
    date_col = mapping["date"][0]
    columns = []
    for i, text in texts:
        if i == date_col:
            continue
        m = re.fullmatch(r"(.+?)\s*[(\[（【](.*?)[)\]）】]", text)
        name, unit = (m.group(1).strip(), m.group(2)) if m else (text, None)
        columns.append((i, name, price_unit_factor(unit)[0] if unit else None))
    return "wide", {"date": date_col, "columns": columns}


def _long_raw(data, mapping, title_unit) -> pd.DataFrame:
    keys = list(mapping)
    records = []
    for rownum, cells in data:
        values = [cells[mapping[k][0]] if mapping[k][0] < len(cells) else None for k in keys]
        if not any(v and str(v).strip() for v in values):
            continue
        records.append([*values, rownum])
    raw = pd.DataFrame(records, columns=[*keys, "source_row"])
    header_unit = price_unit_factor(mapping["price"][1])[0] if mapping["price"][1] else None
    raw["header_unit"] = header_unit or title_unit
    raw["price_label"] = "价格"
    return raw


def _wide_raw(data, mapping, title_unit, defaults: dict, result) -> pd.DataFrame:
    from data_access.desks import ingest as g

    product, market = (defaults.get("product") or "").strip(), (defaults.get("market") or "").strip()
    if not product and not market:
        names = "、".join(name for _, name, _ in mapping["columns"][:6])
        raise g._FileError(
            f"这是宽表（每行一个日期，各列为：{names}）：列为市场时请选择默认产品，列为产品时请填写默认市场"
        )
    columns_are = "market" if product else "product"
    result.notes.append(
        f"宽表：各列为{'市场' if product else '产品'}，"
        + (f"产品为「{product}」" if product else f"市场为「{market}」")
        + "。"
    )
    records = []
    for rownum, cells in data:
        day = cells[mapping["date"]] if mapping["date"] < len(cells) else None
        if not (day and str(day).strip()):
            continue
        for i, name, unit in mapping["columns"]:
            value = cells[i] if i < len(cells) else None
            if not (value and str(value).strip()):
                continue  # a gap
            records.append(
                {
                    "date": day,
                    "product": name if columns_are == "product" else product,
                    "market": name if columns_are == "market" else market,
                    "price": value,
                    "header_unit": unit or title_unit,
                    "price_label": name,
                    "source_row": rownum,
                }
            )
    return pd.DataFrame(
        records, columns=["date", "product", "market", "price", "header_unit", "price_label", "source_row"]
    )


def _normalise(raw: pd.DataFrame, ctx, result) -> pd.DataFrame:
    from data_access.desks import ingest as g

    errors = ctx.errors
    if raw.empty:
        return raw
    out = pd.DataFrame({"source_row": raw["source_row"].astype("int64")})
    rows = raw["source_row"]
    for key in ("product", "origin", "market", "county", "source"):
        out[key] = g._clean(raw[key].astype(object)) if key in raw else None
    out["market"] = out["market"].astype(object)
    if "market" not in raw or out["market"].isna().all():
        default = None
        out["market"] = default
    day, reasons = g._dates(g._clean(raw["date"].astype(object)), ctx.today)
    errors.add_series(0, "日期", rows, raw["date"], reasons)
    out["date"] = day
    miss = out["product"].isna()
    for row in rows[miss]:
        errors.add(1, int(row), "产品", None, "产品为空")

    text = g._clean(raw["price"].astype(object))
    parts = text.fillna("").map(lambda v: unicodedata.normalize("NFKC", v).replace(",", "")).str.extract(_PRICE_CELL)
    num = pd.to_numeric(parts["num"], errors="coerce")
    unit_text = parts["unit"].where(parts["unit"].fillna("").str.strip() != "")
    if "unit" in raw:
        unit_text = unit_text.fillna(g._clean(raw["unit"].astype(object)))
    unit_text = unit_text.fillna(raw["header_unit"])
    parsed = unit_text.map(lambda u: price_unit_factor(u) if isinstance(u, str) else (None, None))
    unit = parsed.map(lambda p: p[0])
    factor = parsed.map(lambda p: p[1])
    no_unit = unit_text.isna()
    if no_unit.any():
        unit = unit.where(~no_unit, "元/公斤")
        factor = factor.where(~no_unit, 1.0)
        result.notes.append("未注明价格单位的按 元/公斤 读取。")
    for label_order, (row, shown, label, n, u, f) in enumerate(
        zip(rows, raw["price"], raw["price_label"], num, unit_text, factor, strict=True)
    ):
        del label_order
        if pd.isna(n):
            errors.add(
                5, int(row), label, str(shown)[:60], "无法识别为价格，请填写数字，可带单位（如 3.5 或 3.5元/斤）"
            )
        elif n <= 0:
            errors.add(5, int(row), label, str(shown)[:60], "价格须大于 0")
        elif f is None or pd.isna(f):
            errors.add(5, int(row), label, str(u)[:60], "无法识别的价格单位；请用 元/斤、元/公斤 或 元/吨")
    out["price"] = (num * factor.astype(float)).round(4)
    out["price_shown"] = num
    out["unit"] = unit
    for key, label in (("volume", "销量"), ("stock", "库存")):
        if key in raw:
            value, _, why = g._quantity(g._clean(raw[key].astype(object)), None)
            errors.add_series(6, label, rows, raw[key], why)
            out[key] = value
        else:
            out[key] = np.nan
    out["price_label"] = raw["price_label"]
    return out


# --------------------------------------------------------------------------- committing


def check_prices(engine: Engine, result, *, principal: Principal):
    """Everything ``commit_prices`` checks, without writing."""
    return _run(engine, result, principal, write=False)


def commit_prices(engine: Engine, result, *, principal: Principal, now: datetime | None = None):
    """Write a clean price parse as one batch (all or nothing), then refresh the warnings of the
    series it touched (only those). Desks and admins may import prices."""
    return _run(engine, result, principal, write=True, now=now)


def _run(engine, result, principal, write: bool, now: datetime | None = None):
    from data_access.desks.imports import ImportOutcome, RegionNames, RowError, _earlier_batch

    t0 = time.perf_counter()
    require_role(principal, DESK_ROLES, "导入价格监测数据")
    outcome = ImportOutcome(form=result.form, rows=len(result.rows))
    if not result.ok or not result.file_hash:
        outcome.errors = list(result.errors) or [RowError(None, None, None, result.message)]
        outcome.error_count = max(result.error_count, len(outcome.errors))
        return outcome
    now = now or datetime.now().replace(microsecond=0)
    series_ids: list[int] = []
    try:
        with engine.begin() if write else engine.connect() as conn:
            earlier = _earlier_batch(conn, result)
            if earlier is not None:
                outcome.batch_id, outcome.already = earlier, True
                return outcome
            rows, errors = _resolve(conn, result.rows, RegionNames(conn))
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
        from data_access.desks.warnings import refresh_warnings

        outcome.warnings = refresh_warnings(engine, principal, series_ids=series_ids, now=now)
    outcome.seconds = time.perf_counter() - t0
    return outcome


def _suggest(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.4)
    return f"；是否为：{'、'.join(close)}" if close else ""


def _resolve(conn, rows: pd.DataFrame, regions) -> tuple[pd.DataFrame, list]:
    from data_access.desks.imports import RowError, _norm

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
