"""趋势分析's small semantic layer: named measures, dimensions and time grains (an allow-list).

A trend is ``measure × dimension × grain`` under the shared Filters, optionally beside the
same period of last year. Every name is looked up in ``MEASURES`` / ``DIMENSIONS`` /
``GRAINS``; anything else raises ``UnknownName``. Queries are SQLAlchemy Core with bound
parameters, so they run on SQLite and PostgreSQL alike and nothing a user types becomes SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from sqlalchemy import Engine, Integer, cast, func, literal, select
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.elements import ColumnElement

from data_access.query.facts import purchase_scope, unit_scope_conditions
from data_access.query.filters import Filters, in_region
from data_access.reference.labels import BUYER_KINDS, CATEGORIES, CHANNELS
from data_access.store.db import frame
from data_access.store.schema import (
    beneficiary,
    benefit,
    buyer_unit,
    product,
    purchase,
    region,
    unit_budget,
)

__all__ = [
    "DIMENSIONS",
    "GRAINS",
    "MEASURES",
    "Dimension",
    "Measure",
    "TrendResult",
    "UnknownName",
    "compatible",
    "display_table",
    "period_keys",
    "period_label",
    "trend",
    "trend_query",
]


class UnknownName(ValueError):
    """A measure, dimension or grain that is not in the allow-list (or not valid together)."""


@dataclass(frozen=True)
class Measure:
    """A named figure: its label, unit, fact table and how it aggregates.

    ``kind`` is ``sum`` (of ``column``) | ``count`` | ``distinct`` | ``share``; a share divides the
    purchase amount of ``purpose`` by the annual ``base`` column of unit_budget for units of
    ``subject_kind``.
    """

    label: str
    unit: str
    fact: str
    kind: str
    column: str = "amount"
    purpose: str | None = None
    base: str | None = None
    subject_kind: str | None = None
    help: str = ""


MEASURES: dict[str, Measure] = {
    "amount": Measure("采购金额", "元", "purchase", "sum", help="采购明细金额合计"),
    "quantity": Measure("采购数量", "kg", "purchase", "sum", "quantity", help="采购明细数量合计（kg 或产品计量单位）"),
    "purchases": Measure("采购笔数", "笔", "purchase", "count", help="采购明细条数"),
    "canteen_share": Measure(
        "食堂食材采购占预算比例",
        "比例",
        "purchase",
        "share",
        purpose="canteen",
        base="canteen_food_budget",
        subject_kind="budget_unit",
        help="预算单位食堂食材用途的采购额 ÷ 其年度食堂食材采购预算（预留份额规则的基数）",
    ),
    "gift_share": Measure(
        "节日慰问品采购占经费比例",
        "比例",
        "purchase",
        "share",
        purpose="holiday_gift",
        base="gift_budget",
        subject_kind="union",
        help="工会节日慰问品用途的采购额 ÷ 其年度节日慰问品经费（工会慰问品规则的基数）",
    ),
    "beneficiaries": Measure(
        "带贫人数", "人", "benefit", "distinct", help="期间内有受益记录的带贫人员人数（去重）；无渠道口径"
    ),
}


@dataclass(frozen=True)
class Dimension:
    """A named breakdown: its label, and which side of the data it reads (``unit``/``product``/``origin``)."""

    label: str
    side: str | None
    facts: tuple[str, ...] = ("purchase", "benefit")
    labels: dict = field(default_factory=dict)


DIMENSIONS: dict[str, Dimension] = {
    "total": Dimension("合计", None),
    "channel": Dimension("渠道", "purchase", facts=("purchase",), labels=CHANNELS),
    "buyer_kind": Dimension("单位类型", "unit", labels=BUYER_KINDS),
    "helper": Dimension("帮扶方（采购单位所属辖区）", "unit"),
    "origin_province": Dimension("产地省份", "origin"),
    "origin_city": Dimension("产地地市", "origin"),
    "origin_county": Dimension("产地区县", "origin"),
    "category": Dimension("产品品类", "product", labels=CATEGORIES),
}

GRAINS = {"month": "月", "quarter": "季度", "year": "年"}
_YEAR_STEP = {"month": 100, "quarter": 10, "year": 1}


@dataclass(frozen=True)
class TrendResult:
    """A trend's rows and what a reader must know about them.

    ``table`` columns: ``period_key`` (int: yyyymm | yyyyq | yyyy), ``period`` (label),
    ``member``, ``member_name``, ``value``; with a comparison also ``value_last_year``, ``yoy``.
    ``members_total`` counts the dimension's members before top-N; ``notes`` are Chinese remarks.
    """

    measure: str
    dimension: str
    grain: str
    compare: bool
    table: pd.DataFrame
    members_total: int
    notes: tuple[str, ...] = ()


def _check(measure: str, dimension: str, grain: str) -> tuple[Measure, Dimension]:
    if measure not in MEASURES:
        raise UnknownName(f"未知指标：{measure!r}")
    if dimension not in DIMENSIONS:
        raise UnknownName(f"未知维度：{dimension!r}")
    if grain not in GRAINS:
        raise UnknownName(f"未知时间粒度：{grain!r}")
    m, d = MEASURES[measure], DIMENSIONS[dimension]
    if not compatible(measure, dimension):
        raise UnknownName(f"指标「{m.label}」不能按「{d.label}」分组")
    return m, d


def compatible(measure: str, dimension: str) -> bool:
    """True when ``dimension`` can break ``measure`` down (beneficiaries have no channel)."""
    return MEASURES[measure].fact in DIMENSIONS[dimension].facts


def _bucket(month_int: ColumnElement, grain: str) -> ColumnElement:
    """The period key of a yyyymm integer: yyyymm, yyyyq or yyyy."""
    if grain == "month":
        return month_int
    if grain == "quarter":
        return (month_int // 100) * 10 + ((month_int % 100) + 2) // 3
    return month_int // 100


def _month_key(d: date) -> int:
    return d.year * 100 + d.month


def period_keys(start: date, end: date, grain: str) -> list[int]:
    """Every period key from ``start`` to ``end`` inclusive at ``grain``."""
    months = pd.period_range(start, end, freq="M")
    keys = [m.year * 100 + m.month for m in months]
    if grain == "quarter":
        keys = [k // 100 * 10 + (k % 100 + 2) // 3 for k in keys]
    elif grain == "year":
        keys = [k // 100 for k in keys]
    return sorted(set(keys))


def _partial_periods(start: date, end: date, grain: str) -> list[str]:
    """Chinese remarks for the first/last period when the filtered dates cover only part of it."""
    out = []
    for key in sorted({period_keys(start, start, grain)[0], period_keys(end, end, grain)[0]}):
        if grain == "month":
            first = date(key // 100, key % 100, 1)
            last = (pd.Timestamp(first) + pd.offsets.MonthEnd(0)).date()
        elif grain == "quarter":
            first = date(key // 10, (key % 10) * 3 - 2, 1)
            last = (pd.Timestamp(first) + pd.offsets.QuarterEnd(0)).date()
        else:
            first, last = date(key, 1, 1), date(key, 12, 31)
        lo, hi = max(first, start), min(last, end)
        if (lo, hi) != (first, last):
            out.append(f"{period_label(key, grain)} 只含 {lo.month}月{lo.day}日至{hi.month}月{hi.day}日")
    return out


def period_label(key: int, grain: str) -> str:
    """``2024-05`` | ``2024-Q2`` | ``2024`` for a period key."""
    if grain == "month":
        return f"{key // 100}-{key % 100:02d}"
    if grain == "quarter":
        return f"{key // 10}-Q{key % 10}"
    return str(key)


def _origin_key(dimension: str, origin: FromClause) -> ColumnElement:
    return {
        "origin_province": origin.c.province_code,
        "origin_city": func.coalesce(origin.c.city_code, origin.c.code),
        "origin_county": origin.c.code,
    }[dimension]


@dataclass(frozen=True)
class _Source:
    """What a trend selects from: FROM, joins added after it, WHERE conditions, and (for purchases) the
    scope, so the rollup router can answer the statement."""

    from_: FromClause
    joins: tuple
    conds: tuple
    scope: object | None

    def select(self, *columns):
        q = select(*columns).select_from(self.from_)
        for target, onclause in self.joins:
            q = q.join(target, onclause)
        q = q.where(*self.conds)
        return q.execution_options(purchase_scope=self.scope) if self.scope is not None else q


def _source(f: Filters, m: Measure, dimension: str):
    """(source, month expression, dimension key expression, value expression, notes)."""
    notes: list[str] = []
    d = DIMENSIONS[dimension]
    origin = region.alias("origin_region")
    joins: list = []
    scope = None
    if m.fact == "purchase":
        scope = purchase_scope(f, with_unit=d.side == "unit" or m.kind == "share", with_product=d.side == "product")
        from_, conds = scope.from_, [scope.where]
        if d.side == "origin":
            joins.append((origin, origin.c.code == purchase.c.origin_code))
        if m.kind == "share":
            conds += [purchase.c.purpose == m.purpose, buyer_unit.c.kind == m.subject_kind]
        month = purchase.c.month
        value = func.count() if m.kind == "count" else func.sum(purchase.c[m.column])
        dims = {"channel": purchase.c.channel}
    else:
        need_unit = d.side == "unit" or bool(f.buyer_kinds) or (f.region_code and f.region_side == "buyer")
        need_product = d.side == "product" or bool(f.categories)
        from_ = benefit.join(beneficiary, beneficiary.c.id == benefit.c.beneficiary_id)
        if need_unit:
            from_ = from_.join(buyer_unit, buyer_unit.c.id == benefit.c.unit_id)
        if need_product:
            from_ = from_.join(product, product.c.id == benefit.c.product_id)
        if d.side == "origin":
            from_ = from_.join(origin, origin.c.code == beneficiary.c.region_code)
        conds = [
            benefit.c.period >= f"{f.start:%Y-%m}",
            benefit.c.period <= f"{f.end:%Y-%m}",
            *unit_scope_conditions(f),
        ]
        if f.categories:
            conds.append(product.c.category.in_(f.categories))
        if f.region_code and f.region_side == "origin":
            conds.append(in_region(beneficiary.c.region_code, f.region_code))
        if f.channels:
            notes.append("带贫人数无渠道口径：渠道筛选未应用于该指标。")
        month = cast(func.substr(benefit.c.period, 1, 4), Integer) * 100 + cast(
            func.substr(benefit.c.period, 6, 2), Integer
        )
        value = func.count(func.distinct(benefit.c.beneficiary_id))
        dims = {}
        notes.append("带贫人数按受益期（月）统计，产地为带贫人员所在区县。")
    dims.update(
        {
            "total": literal("all"),
            "buyer_kind": buyer_unit.c.kind,
            "helper": buyer_unit.c.jurisdiction_code,
            "category": product.c.category,
        }
    )
    key = _origin_key(dimension, origin) if d.side == "origin" else dims[dimension]
    return _Source(from_, tuple(joins), tuple(conds), scope), month, key, value, notes


def trend_query(f: Filters, measure: str, dimension: str, grain: str, members: list[str] | None = None):
    """The Core SELECT of one trend: ``period_key, member, value`` (value is the numerator for shares)."""
    m, _ = _check(measure, dimension, grain)
    src, month, key, value, _ = _source(f, m, dimension)
    period = _bucket(month, grain)
    q = src.select(period.label("period_key"), key.label("member"), value.label("value"))
    if members is not None:
        q = q.where(key.in_(members))
    return q.group_by(period, key)


def _ranking_query(f: Filters, m: Measure, dimension: str):
    src, _, key, value, _ = _source(f, m, dimension)
    return src.select(key.label("member"), value.label("value")).group_by(key).order_by(value.desc(), key)


def _share_base(engine: Engine, f: Filters, m: Measure, dimension: str, years: list[int]) -> pd.DataFrame:
    """``year, member, base`` (yuan): the annual base of units in scope; member ``all`` unless unit-side."""
    d = DIMENSIONS[dimension]
    key = (
        {"buyer_kind": buyer_unit.c.kind, "helper": buyer_unit.c.jurisdiction_code}.get(dimension)
        if d.side == "unit"
        else literal("all")
    )
    col = unit_budget.c[m.base]
    q = (
        select(unit_budget.c.year, key.label("member"), func.sum(col).label("base"))
        .select_from(unit_budget.join(buyer_unit, buyer_unit.c.id == unit_budget.c.unit_id))
        .where(
            unit_budget.c.year.in_(years),
            buyer_unit.c.kind == m.subject_kind,
            col.isnot(None),
            *unit_scope_conditions(f),
        )
        .group_by(unit_budget.c.year, key)
    )
    with engine.connect() as conn:
        return frame(conn.execute(q).all(), columns=["year", "member", "base"])


def _values(engine: Engine, f: Filters, m: Measure, dimension: str, grain: str, members: list[str]) -> pd.DataFrame:
    """``period_key, member, value`` on the full grid of periods × members (missing = 0)."""
    with engine.connect() as conn:
        rows = conn.execute(trend_query(f, _name(m), dimension, grain, members)).all()
    got = frame(rows, columns=["period_key", "member", "num"])
    got["period_key"] = got.period_key.astype(int)
    got["member"] = got.member.astype(str)
    grid = pd.MultiIndex.from_product(
        [period_keys(f.start, f.end, grain), members], names=["period_key", "member"]
    ).to_frame(index=False)
    out = grid.merge(got, how="left", on=["period_key", "member"])
    out["num"] = out.num.astype(float).fillna(0.0)
    if m.kind != "share":
        return out.rename(columns={"num": "value"})
    years = sorted({k // _YEAR_STEP[grain] for k in out.period_key})
    base = _share_base(engine, f, m, dimension, years)
    out["year"] = out.period_key // _YEAR_STEP[grain]
    on = ["year", "member"] if DIMENSIONS[dimension].side == "unit" else ["year"]
    out = out.merge(base[on + ["base"]].astype({"base": float}), how="left", on=on)
    out["value"] = out.num / out.base.where(out.base > 0)
    return out[["period_key", "member", "value"]]


def _name(m: Measure) -> str:
    return next(k for k, v in MEASURES.items() if v is m)


def _member_names(engine: Engine, dimension: str, members: list[str]) -> dict[str, str]:
    d = DIMENSIONS[dimension]
    if dimension == "total":
        return {"all": "合计"}
    if d.labels:
        return {c: d.labels.get(c, c) for c in members}
    with engine.connect() as conn:
        found = dict(conn.execute(select(region.c.code, region.c.name).where(region.c.code.in_(members))).all())
    return {c: found.get(c, c) for c in members}


def trend(
    engine: Engine,
    f: Filters,
    measure: str,
    dimension: str = "total",
    grain: str = "month",
    top_n: int = 10,
    compare: bool = False,
) -> TrendResult:
    """The trend of ``measure`` by ``dimension`` and ``grain`` under ``f``, for the top ``top_n`` members.

    Members are ranked by the measure over the whole filtered period; with ``compare`` the same
    periods of last year stand beside (``value_last_year``, and ``yoy`` = value / last year − 1).
    """
    m, _ = _check(measure, dimension, grain)
    top_n = max(1, min(int(top_n), 50))
    *_, notes = _source(f, m, dimension)
    with engine.connect() as conn:
        ranked = [str(r.member) for r in conn.execute(_ranking_query(f, m, dimension)).all() if r.member is not None]
    members = ranked[:top_n]
    table = _values(engine, f, m, dimension, grain, members)
    if compare:
        last = _values(engine, f.last_year(), m, dimension, grain, members)
        last["period_key"] = last.period_key + _YEAR_STEP[grain]
        table = table.merge(last.rename(columns={"value": "value_last_year"}), how="left", on=["period_key", "member"])
        table["yoy"] = table.value / table.value_last_year.where(table.value_last_year > 0) - 1
    names = _member_names(engine, dimension, members)
    table.insert(1, "period", [period_label(k, grain) for k in table.period_key])
    table.insert(3, "member_name", table.member.map(names))
    order = {c: i for i, c in enumerate(members)}
    table = (
        table.assign(_rank=table.member.map(order))
        .sort_values(["period_key", "_rank"])
        .drop(columns="_rank")
        .reset_index(drop=True)
    )
    partial = _partial_periods(f.start, f.end, grain)
    if partial:
        notes.append("不完整期：" + "；".join(partial) + "（上年同期取相同日期，可比）。")
    if len(ranked) > len(members):
        notes.append(
            f"「{DIMENSIONS[dimension].label}」共 {len(ranked)} 项，仅显示按所选期间{m.label}排名前 {len(members)} 项。"
        )
    return TrendResult(measure, dimension, grain, compare, table, len(ranked), tuple(notes))


def display_table(result: TrendResult) -> pd.DataFrame:
    """The trend as shown and downloaded: Chinese headers, values in the measure's unit (ratios as %)."""
    m = MEASURES[result.measure]
    t = result.table
    is_share = m.kind == "share"
    unit = "%" if is_share else m.unit

    def _v(s: pd.Series) -> pd.Series:
        return (s * 100).round(2) if is_share else s.round(2)

    out = pd.DataFrame(
        {
            GRAINS[result.grain] if result.grain != "month" else "月份": t.period,
            DIMENSIONS[result.dimension].label: t.member_name,
            f"{m.label}（{unit}）": _v(t.value),
        }
    )
    if result.compare:
        out[f"上年同期（{unit}）"] = _v(t.value_last_year)
        out["同比（%）"] = (t.yoy * 100).round(1)
    return out
