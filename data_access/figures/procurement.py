"""Figures of the 采购进度 page: year to date against plan and last year, breakdowns, the unit
ranking under the policy rules, one unit's purchases and budget, and the 通报 list."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from data_access.engines import rules
from data_access.engines.rules import STATUS_LABELS, STATUS_RANK
from data_access.figures.overview import plan_total
from data_access.query.facts import scoped_select
from data_access.query.filters import Filters, region_level
from data_access.query.periods import time_progress
from data_access.reference.labels import BUYER_KINDS, CHANNELS
from data_access.store.db import frame
from data_access.store.schema import buyer_unit, product, purchase, region, unit_budget

DIMENSIONS = {"channel": "渠道", "buyer_kind": "单位类型", "origin": "产地"}
PURCHASE_LIMIT = 500


def procurement_kpis(engine: Engine, f: Filters) -> dict:
    """``amount``, ``amount_last_year``, ``plan`` (yuan), ``plan_share``, ``yoy``, ``time_progress``
    (ratios, None when undefined), ``purchases`` and ``units_buying`` (counts) under the filters."""
    with engine.connect() as conn:
        amount, n, units = conn.execute(
            scoped_select(
                f,
                func.coalesce(func.sum(purchase.c.amount), 0),
                func.count(),
                func.count(func.distinct(purchase.c.buyer_unit_id)),
            )
        ).one()
        amount_ly = conn.execute(scoped_select(f.last_year(), func.coalesce(func.sum(purchase.c.amount), 0))).scalar()
    amount, amount_ly = float(amount), float(amount_ly)
    plan = plan_total(engine, f)
    return dict(
        amount=amount,
        amount_last_year=amount_ly,
        plan=plan,
        plan_share=amount / plan if plan else None,
        yoy=amount / amount_ly - 1 if amount_ly else None,
        time_progress=time_progress(f.end),
        purchases=int(n),
        units_buying=int(units),
    )


def origin_group_level(f: Filters) -> str:
    """The origin level a breakdown groups by: one below an origin-side region filter, else province."""
    if f.region_code and f.region_side == "origin":
        return {"province": "city", "city": "county"}.get(region_level(f.region_code), "county")
    return "province"


def amount_by(engine: Engine, f: Filters, dimension: str) -> pd.DataFrame:
    """``key``, ``label``, ``amount`` and ``amount_last_year`` (yuan), ``purchases``, ``share`` of the
    total, for one allowed ``dimension`` (channel | buyer_kind | origin), largest first."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    rows: dict[str, list[float]] = {}
    for i, filters in enumerate((f, f.last_year())):
        if dimension == "channel":
            key, kwargs = purchase.c.channel, {}
        elif dimension == "buyer_kind":
            key, kwargs = buyer_unit.c.kind, {"with_unit": True}
        else:
            key, kwargs = _origin_key(f), {}
        q = scoped_select(filters, key.label("key"), func.sum(purchase.c.amount), func.count(), **kwargs)
        if dimension == "origin":
            q = q.join(region, region.c.code == purchase.c.origin_code)
        for k, amount, n in _run(engine, q.group_by(key)):
            r = rows.setdefault(str(k), [0.0, 0.0, 0])
            r[i] = float(amount)
            if i == 0:
                r[2] = int(n)
    df = pd.DataFrame(
        [(k, a, b, n) for k, (a, b, n) in rows.items()], columns=["key", "amount", "amount_last_year", "purchases"]
    )
    df = df[df.amount > 0].sort_values("amount", ascending=False).reset_index(drop=True)
    total = df.amount.sum()
    df["share"] = df.amount / total if total else 0.0
    df.insert(1, "label", _labels(engine, dimension, df.key.tolist()))
    return df


def _origin_key(f: Filters):
    level = origin_group_level(f)
    return {
        "province": region.c.province_code,
        "city": func.coalesce(region.c.city_code, region.c.code),
        "county": purchase.c.origin_code,
    }[level]


def _run(engine: Engine, q) -> list:
    with engine.connect() as conn:
        return conn.execute(q).all()


def _labels(engine: Engine, dimension: str, keys: list[str]) -> list[str]:

    if dimension == "channel":
        return [CHANNELS.get(k, k) for k in keys]
    if dimension == "buyer_kind":
        return [BUYER_KINDS.get(k, k) for k in keys]
    names = dict(_run(engine, select(region.c.code, region.c.name).where(region.c.code.in_(keys)))) if keys else {}
    return [names.get(k, k) for k in keys]


def unit_ranking(evaluated: pd.DataFrame) -> pd.DataFrame:
    """One row per buyer unit evaluated (from ``rules.evaluate``): ``rank``, ``unit_id``, ``unit_name``,
    ``unit_kind``, ``region_code``, ``jurisdiction_code``, ``status`` (its worst), ``rules``, ``rules_met``,
    and its worst rule's ``rule_title``, ``value_text``, ``requirement_text``, ``gap_yuan``, ``clause``,
    ``citation``;
    red first, then yellow, then green, each by gap (yuan) largest first, then by name."""
    columns = [
        "rank",
        "unit_id",
        "unit_name",
        "unit_kind",
        "region_code",
        "jurisdiction_code",
        "status",
        "status_label",
        "rules",
        "rules_met",
        "rule_title",
        "value_text",
        "requirement_text",
        "gap_yuan",
        "clause",
        "citation",
    ]
    d = evaluated[evaluated.unit_id.notna().to_numpy()]
    if d.empty:
        return pd.DataFrame(columns=columns)
    worst = rules.worst_rows(d)
    gap = d.gap_yuan.to_numpy(dtype=float)[worst]
    status = d.status.to_numpy(dtype=object)[worst]
    _, names = np.unique(d.unit_name.to_numpy(dtype=object)[worst].astype(str), return_inverse=True)
    order = worst[np.lexsort((names, np.where(np.isnan(gap), np.inf, -gap), rules.status_ranks(status)))]
    # Columns taken one by one on the final order: one take per column, no intermediate frames.
    out = {c: d[c].to_numpy()[order] for c in columns if c in d.columns}
    out["rank"] = np.arange(1, len(order) + 1)
    ranked_units = out["unit_id"].astype("int64")
    out["unit_id"] = pd.array(ranked_units, dtype="Int64")
    out["rules"] = rules.per_unit(d, ranked_units).astype("int64")
    out["rules_met"] = rules.per_unit(d, ranked_units, d.met.to_numpy(dtype=float)).astype(int)
    out["status_label"] = np.array([STATUS_LABELS[v] for v in out["status"].tolist()], dtype=object)
    return pd.DataFrame({c: out[c] for c in columns})


def rule_overview(evaluated: pd.DataFrame) -> pd.DataFrame:
    """One row per rule evaluated: ``rule_code``, ``rule_title``, ``jurisdiction_code``, ``subjects``,
    ``green``/``yellow``/``red`` counts, ``gap_yuan`` (sum of shortfalls, None when the rule has no
    yuan) and ``clause``; most red first, then most yellow, then in evaluation order."""
    cols = ["rule_code", "rule_title", "jurisdiction_code", "subjects", "green", "yellow", "red", "gap_yuan", "clause"]
    if evaluated.empty:
        return pd.DataFrame(columns=cols)
    codes, uniques = pd.factorize(evaluated.rule_code.to_numpy(dtype=object))
    n = len(uniques)
    first = np.unique(codes, return_index=True)[1]
    status = evaluated.status.to_numpy(dtype=object)
    gap = evaluated.gap_yuan.to_numpy(dtype=float)
    with_gap = np.bincount(codes, weights=~np.isnan(gap), minlength=n) > 0
    gap_sum = np.bincount(codes, weights=np.nan_to_num(gap), minlength=n)
    out = pd.DataFrame(
        {
            "rule_code": uniques,
            "rule_title": evaluated.rule_title.to_numpy(dtype=object)[first],
            "jurisdiction_code": evaluated.jurisdiction_code.to_numpy(dtype=object)[first],
            "subjects": np.bincount(codes, minlength=n),
            **{s: np.bincount(codes, weights=status == s, minlength=n).astype(int) for s in ("green", "yellow", "red")},
            "gap_yuan": [float(g) if has else None for g, has in zip(gap_sum, with_gap, strict=True)],
            "clause": evaluated.clause.to_numpy(dtype=object)[first],
        }
    )
    return out.iloc[np.lexsort((-out.yellow.to_numpy(), -out.red.to_numpy()))][cols].reset_index(drop=True)


def unit_profile(engine: Engine, unit_id: int, year: int) -> dict | None:
    """The unit (``name``, ``kind``, ``region_code``, ``jurisdiction_code``) with its ``year`` budget
    row (yuan; shares as ratios; None where not filed); None when there is no such unit."""
    q = (
        select(
            buyer_unit.c.id,
            buyer_unit.c.name,
            buyer_unit.c.kind,
            buyer_unit.c.region_code,
            buyer_unit.c.jurisdiction_code,
            unit_budget.c.canteen_food_budget,
            unit_budget.c.reserved_share,
            unit_budget.c.reserved_amount,
            unit_budget.c.union_members,
            unit_budget.c.gift_budget,
            unit_budget.c.welfare_budget,
            unit_budget.c.plan_amount,
        )
        .select_from(
            buyer_unit.outerjoin(unit_budget, (unit_budget.c.unit_id == buyer_unit.c.id) & (unit_budget.c.year == year))
        )
        .where(buyer_unit.c.id == unit_id)
    )
    with engine.connect() as conn:
        row = conn.execute(q).mappings().first()
    if row is None:
        return None
    out = dict(row)
    for k in ("canteen_food_budget", "reserved_amount", "gift_budget", "welfare_budget", "plan_amount"):
        out[k] = None if out[k] is None else float(out[k])
    return out


def unit_purchases(engine: Engine, f: Filters, unit_id: int, limit: int = PURCHASE_LIMIT) -> pd.DataFrame:
    """The unit's purchases under the filters, newest first, at most ``limit``: ``id``, ``purchase_date``,
    ``product``, ``category``, ``origin_code``, ``origin``, ``channel``, ``purpose``, ``quantity`` (kg),
    ``amount`` (yuan), ``voucher_no``."""
    q = (
        scoped_select(
            f,
            purchase.c.id,
            purchase.c.purchase_date,
            product.c.name,
            product.c.category,
            purchase.c.origin_code,
            region.c.name,
            purchase.c.channel,
            purchase.c.purpose,
            purchase.c.quantity,
            purchase.c.amount,
            purchase.c.voucher_no,
            with_product=True,
        )
        .join(region, region.c.code == purchase.c.origin_code)
        .where(purchase.c.buyer_unit_id == unit_id)
        .order_by(purchase.c.purchase_date.desc(), purchase.c.id.desc())
        .limit(limit)
    )
    df = frame(
        _run(engine, q),
        columns=[
            "id",
            "purchase_date",
            "product",
            "category",
            "origin_code",
            "origin",
            "channel",
            "purpose",
            "quantity",
            "amount",
            "voucher_no",
        ],
    )
    df["amount"] = df.amount.astype(float)
    return df


def unit_purchase_totals(engine: Engine, f: Filters, unit_id: int) -> dict:
    """``amount`` (yuan) and ``purchases`` of the unit under the filters (all rows, not only those listed)."""
    q = scoped_select(f, func.coalesce(func.sum(purchase.c.amount), 0), func.count()).where(
        purchase.c.buyer_unit_id == unit_id
    )
    amount, n = _run(engine, q)[0]
    return dict(amount=float(amount), purchases=int(n))


def rule_progress(engine: Engine, f: Filters) -> dict:
    """What 采购进度 shows of the rule engine, derived once per filters so a cached rerun does no
    pandas work: ``evaluated`` (``rules.evaluate``), ``ranking`` (``unit_ranking``), ``behind``
    (``rules.worst_per_unit``), ``overview`` (``rule_overview``) and ``summary`` (``rules.summarise``)."""
    evaluated = rules.evaluate(engine, f)
    return dict(
        evaluated=evaluated,
        ranking=unit_ranking(evaluated),
        behind=rules.worst_per_unit(evaluated),
        overview=rule_overview(evaluated),
        summary=rules.summarise(evaluated, time_progress(f.end)),
    )


def notice_frame(behind: pd.DataFrame, region_names: dict[str, str]) -> pd.DataFrame:
    """The 通报 list: units behind (``rules.units_behind`` rows) with Chinese headers and the clause cited,
    in the page's ranking order (red before yellow, then the larger gap), so 序号 matches the 排名 shown."""
    behind = behind.assign(_rank=behind.status.map(STATUS_RANK)).sort_values(
        ["_rank", "gap_yuan", "unit_name"], ascending=[True, False, True], na_position="last"
    )
    return pd.DataFrame(
        {
            "序号": range(1, len(behind) + 1),
            "单位": behind.unit_name.to_numpy(),
            "单位类型": behind.unit_kind.map(BUYER_KINDS).to_numpy(),
            "适用辖区": behind.jurisdiction_code.map(lambda c: region_names.get(c, c)).to_numpy(),
            "状态": behind.status.map(STATUS_LABELS).to_numpy(),
            "未达标规则": behind.rule_title.to_numpy(),
            "当前": behind.value_text.to_numpy(),
            "要求": behind.requirement_text.to_numpy(),
            "落后时间进度（元）": behind.gap_yuan.round(2).to_numpy(),
            "全年尚需（元）": behind.remaining_yuan.round(2).to_numpy(),
            "未达标规则数": behind.rules_behind.to_numpy(),
            "政策依据": behind.clause.to_numpy(),
        }
    )
