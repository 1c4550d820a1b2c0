"""The rule engine: every policy rule (table ``policy_rule``) evaluated for every subject it covers.

A rule covers the subjects of its jurisdiction (buyer units whose ``jurisdiction_code`` lies
inside the rule's, of the rule's subject kind; for ``origin_county`` rules the counties of the
jurisdiction that the pairing table lists as helped — Chongqing's hosts of the former 18
deep-poverty townships). Rules run on the year to date: 1 January to ``as_of`` (default: the
filters' end). All amounts come from SQL aggregates over the filtered purchases, so the shared
filters (channel, category, region, buyer kind) narrow what is counted.

时间进度 (time progress) is the share of the year elapsed at ``as_of``. For amounts that build
up over the year the expectation is ``target × time progress``; for year-on-year rules it is
last year's actual to the same day; for shares of what was bought or filed (east-west share,
reserved share) it is the target itself. Status:

- ``green``: actual ≥ expectation (on track; ``met`` is True);
- ``yellow``: behind, by less than ``YELLOW_BAND`` (10 percentage points) of the annual target —
  e.g. a unit at 40% of its target when 45% of the year has gone;
- ``red``: behind by ``YELLOW_BAND`` of the target or more, or a required filing missing.

Reporting rules have no yuan: green when every due period was reported (monthly: by the
deadline day), yellow when all were reported but some late or only the latest is missing,
red when an earlier period is missing.
"""

from __future__ import annotations

import calendar
from dataclasses import replace
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Float, and_, cast, func, or_, select

from data_access.query.facts import scoped_select, unit_scope_conditions
from data_access.query.filters import Filters, in_region, region_level, region_prefix
from data_access.query.periods import time_progress
from data_access.query.text import pct_text
from data_access.store import rollup
from data_access.store.db import read_concurrently
from data_access.store.schema import (
    buyer_unit,
    pairing,
    policy_rule,
    purchase,
    region,
    report_batch,
    unit_budget,
)

YELLOW_BAND = 0.10
STATUS_RANK = {"red": 0, "yellow": 1, "green": 2}
STATUS_LABELS = {"red": "红", "yellow": "黄", "green": "绿"}
OUTLET_HALL_ZONE = ("hall", "zone")

COLUMNS = [
    "rule_code",
    "rule_title",
    "jurisdiction_code",
    "subject_kind",
    "unit_id",
    "unit_name",
    "unit_kind",
    "region_code",
    "metric",
    "value",
    "threshold",
    "base_yuan",
    "actual_yuan",
    "target_yuan",
    "expected_yuan",
    "gap_yuan",
    "status",
    "met",
    "clause",
    "remaining_yuan",
    "time_progress",
    "value_text",
    "requirement_text",
    "citation",
]
NUMERIC = [
    "value",
    "threshold",
    "base_yuan",
    "actual_yuan",
    "target_yuan",
    "expected_yuan",
    "gap_yuan",
    "remaining_yuan",
    "time_progress",
]

METRICS = {
    "reserved_share": "预留份额比例（填报）= 预留金额 ÷ 年度食堂食材采购预算",
    "canteen_832_share": "经832平台采购的食堂食材 ÷ 年度食堂食材采购预算",
    "gift_assist_share": "节日慰问品采购帮扶产品金额 ÷ 节日慰问品经费",
    "gift_eastwest_share": "节日慰问品中东西部协作地区产品金额 ÷ 节日慰问品帮扶产品金额",
    "gift_per_member": "节日慰问品采购帮扶产品金额 ÷ 工会会员人数（元/人）",
    "welfare_outlet_share": "集体福利在专馆、专区采购金额 ÷ 集体福利额度",
    "yoy_ratio": "当年累计采购额 ÷ 上年同期采购额",
    "origin_yoy_ratio": "产地区县当年累计被采购额 ÷ 上年同期",
    "reserved_filed": "是否填报年度预留份额",
    "report_monthly_by_day": "按期（每月规定日前）报送的月份 ÷ 应报月份",
    "report_quarterly": "已报送季度 ÷ 应报季度",
}
# The short Chinese name of each metric (the 指标 column of the 政策规则 register) and the unit its
# threshold is read in: a share (0.1 = 10%), yuan per union member, a multiple of last year, a
# filing (1 = filed), a day of the month (29 = by the 29th), filings per quarter.
METRIC_NAMES = {
    "reserved_share": "预留份额比例",
    "canteen_832_share": "832平台采购占比",
    "gift_assist_share": "慰问品帮扶产品占比",
    "gift_eastwest_share": "慰问品东西部协作占比",
    "gift_per_member": "慰问品人均帮扶金额",
    "welfare_outlet_share": "集体福利专馆专区占比",
    "yoy_ratio": "采购额同比",
    "origin_yoy_ratio": "产地区县采购额同比",
    "reserved_filed": "预留份额填报",
    "report_monthly_by_day": "按月报送",
    "report_quarterly": "按季报送",
}
THRESHOLD_UNITS = {
    "reserved_share": "ratio",
    "canteen_832_share": "ratio",
    "gift_assist_share": "ratio",
    "gift_eastwest_share": "ratio",
    "gift_per_member": "yuan_per_member",
    "welfare_outlet_share": "ratio",
    "yoy_ratio": "ratio_to_last_year",
    "origin_yoy_ratio": "ratio_to_last_year",
    "reserved_filed": "filed",
    "report_monthly_by_day": "day_of_month",
    "report_quarterly": "per_quarter",
}


class UnknownMetric(ValueError):
    """A policy rule whose metric the engine cannot evaluate; ``str()`` names the rule and the metric."""

    def __init__(self, rule: dict):
        super().__init__(
            f"政策规则 {rule['code']}（{rule['title']}）的指标 {rule['metric']} 无法计算："
            f"可用指标为 {'、'.join(sorted(_HANDLERS))}。请修正该规则。"
        )
        self.rule = rule


def clause_text(source_doc: str, source_doc_no: str | None, source_clause: str) -> str:
    """The citation of a rule: document title, number when it has one, and clause."""
    return f"{source_doc}{f'（{source_doc_no}）' if source_doc_no else ''}{source_clause}"


def citation_text(source_doc: str, source_doc_no: str | None, source_clause: str) -> str:
    """The clause first, then the document number (or title when it has none): 四（二）｜珠委农组〔2021〕15号."""
    return f"{source_clause}｜{source_doc_no or source_doc}"


def evaluate(engine: Engine, f: Filters, as_of: date | None = None) -> pd.DataFrame:
    """One row per (rule in force, subject) under the filters, year to ``as_of``: ``COLUMNS``.

    Yuan columns are year-to-date actual, annual target, expectation at time progress and the
    shortfall against it (``gap_yuan``, 0 when on track); ``remaining_yuan`` is what the year still needs;
    reporting rules have no yuan (NaN). ``citation`` is the short form of ``clause`` (clause first).

    Each rule is evaluated for all its subjects at once (arithmetic on arrays over the subject
    units), so the cost grows with rules and units, not with rules × units.
    """
    as_of = as_of or f.end
    year = as_of.year
    ctx = _Context(f=f, as_of=as_of, progress=time_progress(as_of))
    with engine.connect() as conn:
        rules = [
            dict(r._mapping)
            for r in conn.execute(
                select(policy_rule)
                .where(
                    policy_rule.c.year_from <= year, or_(policy_rule.c.year_to.is_(None), policy_rule.c.year_to >= year)
                )
                .order_by(policy_rule.c.id)
            )
        ]
        ew_codes = _eastwest_areas(conn, rules)
        counties = _origin_subjects(conn, f, rules)
    unit_rules = [r for r in rules if r["subject_kind"] != "origin_county"]
    # The subject units, their sums, the counties' sums and the filings do not depend on each
    # other: asked side by side.
    facts = _unit_fact_reads(ctx, ew_codes, any(r["metric"] == "yoy_ratio" for r in unit_rules))
    # Heaviest first: read_concurrently deals them out in turn.
    got = read_concurrently(
        engine,
        {
            **{key: read for key, (_names, read) in facts.items()},
            "units": lambda conn: _subject_units(conn, f, year),
            "reports": lambda conn: _report_periods(
                conn, f, [r for r in unit_rules if r["metric"] in _REPORTING], as_of
            ),
            "origin": lambda conn: _origin_facts(conn, ctx, counties),
        },
    )
    units = got["units"]
    reports = _Filings(units, got["reports"], year)
    for key, (names, _read) in facts.items():
        _scatter(units, "unit_id", got[key], names)
    rows, partial = got["origin"]
    _scatter(counties, "code", rows, ["amount", "amount_ly_ytd", "amount_ly"])
    _scatter(counties, "code", partial, ["amount_ly_ytd"], add=True)
    masks = _SubjectMasks(units)
    parts: list[dict[str, np.ndarray]] = []
    for rule in rules:
        ctx.rule = rule
        if rule["subject_kind"] == "origin_county":
            rows = np.flatnonzero(counties["jurisdiction_code"] == rule["jurisdiction_code"])
            parts.append(_finish(ctx, counties, _yoy(ctx, counties, rows)))
            continue
        handler = _HANDLERS.get(rule["metric"])
        if handler is None:
            # A rule row that does nothing would be a wrong figure (a target silently unjudged).
            raise UnknownMetric(rule)
        parts.append(_finish(ctx, units, handler(ctx, units, masks.rows(rule), reports)))
    return _frame(parts)


def _frame(parts: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    """The rules' arrays as one ``COLUMNS`` frame: yuan and ratios as floats, ``unit_id`` as a
    nullable integer, ``met`` as bool and text as plain object columns (pandas' Arrow-backed
    strings cost ~2× to build and ~4× to take rows from, which every page does with this frame)."""

    def joined(c):
        return np.concatenate([p[c] for p in parts]) if parts else np.array([], dtype=object)

    columns = {}
    for c in COLUMNS:
        values = joined(c)
        if c in NUMERIC:
            columns[c] = values.astype(float)
        elif c == "unit_id":
            missing = pd.isna(values)
            columns[c] = pd.arrays.IntegerArray(np.where(missing, 0, values).astype("int64"), missing)
        elif c == "met":
            columns[c] = values.astype(bool)
        else:
            columns[c] = pd.Series(values, dtype=object)
    return pd.DataFrame(columns)


class _SubjectMasks:
    """Which subject units each rule covers: inside its jurisdiction, of its subject kind.

    Code prefixes are compared as fixed-width NumPy strings (one vectorised comparison per rule;
    ``str.startswith`` per unit and rule cost ~1 ms a rule)."""

    def __init__(self, units: dict[str, np.ndarray]):
        self.units = units
        codes = np.array([c or "" for c in units["jurisdiction_code"]], dtype="U12")
        self.codes = {"province": codes.astype("U2"), "city": codes.astype("U4"), "county": codes}
        self.kinds = units["kind"]
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    def mask(self, rule: dict) -> np.ndarray:
        key = (rule["jurisdiction_code"], rule["subject_kind"])
        if key not in self._cache:
            code = rule["jurisdiction_code"]
            level = region_level(code)
            mask = self.codes["county" if level not in ("province", "city") else level] == region_prefix(code)
            if rule["subject_kind"] != "any_unit":
                mask &= self.kinds == rule["subject_kind"]
            self._cache[key] = mask
        return self._cache[key]

    def rows(self, rule: dict) -> np.ndarray:
        """Positions (in the unit arrays) of the units ``rule`` covers, in unit order."""
        return np.flatnonzero(self.mask(rule))


def units_behind(engine: Engine, f: Filters, as_of: date | None = None) -> pd.DataFrame:
    """One row per buyer unit not green: its worst rule (worst status, then largest gap),
    ``COLUMNS`` plus ``rules_behind`` (how many of its rules are not green); largest ``gap_yuan`` first."""
    return worst_per_unit(evaluate(engine, f, as_of))


def worst_rows(d: pd.DataFrame) -> np.ndarray:
    """Positions in ``d`` (rows of an ``evaluate`` frame with a unit) of each unit's worst row: worst
    status, then the largest gap (no gap last), the earlier row on ties; in unit order."""
    unit = d.unit_id.to_numpy(dtype="int64")
    gap = d.gap_yuan.to_numpy(dtype=float)
    order = np.lexsort((np.where(np.isnan(gap), np.inf, -gap), status_ranks(d.status), unit))
    first = np.ones(len(order), dtype=bool)
    first[1:] = unit[order][1:] != unit[order][:-1]
    return order[first]


def status_ranks(status: pd.Series | np.ndarray) -> np.ndarray:
    """``STATUS_RANK`` of each status (red 0, yellow 1, green 2)."""
    s = np.asarray(status, dtype=object)
    return np.where(s == "red", 0, np.where(s == "yellow", 1, 2))


def per_unit(d: pd.DataFrame, units: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
    """For each unit id in ``units``: how many rows of ``d`` it has (or the sum of ``values`` over them)."""
    codes, uniques = pd.factorize(d.unit_id.to_numpy(dtype="int64"))
    sums = np.bincount(codes, weights=values, minlength=len(uniques))
    return sums[pd.Index(uniques).get_indexer(units)]


def worst_per_unit(evaluated: pd.DataFrame) -> pd.DataFrame:
    """``units_behind`` from an ``evaluate`` frame (no new query). Numpy on the sort keys: pandas
    sorts and groups of string columns cost ~20 ms for 2,000 units, more than the rest of a rerun."""
    d = evaluated[evaluated.unit_id.notna().to_numpy() & (evaluated.status != "green").to_numpy()]
    w = d.iloc[worst_rows(d)].copy()
    w["rules_behind"] = per_unit(d, w.unit_id.to_numpy(dtype="int64")).astype("int64")
    gap = w.gap_yuan.to_numpy(dtype=float)
    order = np.lexsort((status_ranks(w.status), np.where(np.isnan(gap), np.inf, -gap)))
    return w.iloc[order].reset_index(drop=True)


def rules_summary(engine: Engine, f: Filters, as_of: date | None = None) -> dict:
    """``met`` / ``total`` (rule × subject evaluations on track / evaluated), ``units_behind``
    (buyer units with any rule not green), ``rules`` / ``rules_all_met`` (rules in force with a
    subject / rules every subject meets), ``by_status`` counts and ``time_progress``."""
    return summarise(evaluate(engine, f, as_of), time_progress(as_of or f.end))


def summarise(evaluated: pd.DataFrame, progress: float) -> dict:
    """``rules_summary`` from an ``evaluate`` frame (no new query)."""
    behind = evaluated[evaluated.unit_id.notna() & (evaluated.status != "green")]
    per_rule = evaluated.groupby("rule_code").met.all()
    return dict(
        met=int(evaluated.met.sum()),
        total=len(evaluated),
        units_behind=int(behind.unit_id.nunique()),
        rules=int(len(per_rule)),
        rules_all_met=int(per_rule.sum()),
        by_status={s: int((evaluated.status == s).sum()) for s in ("green", "yellow", "red")},
        time_progress=progress,
    )


class _Context:
    def __init__(self, f: Filters, as_of: date, progress: float):
        self.f, self.as_of, self.progress = f, as_of, progress
        self.rule: dict = {}


def _columns(rows: list, names: list[str], numeric: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Result rows as one array per column: ``numeric`` ones as floats (None → NaN), integer ids as
    int64, the rest as object arrays. Plain tuples, no frame: pandas probes each Row (~50 µs a row)."""
    values = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    out = {}
    for name, col in zip(names, values, strict=True):
        if name in numeric:
            out[name] = np.array(col, dtype=float)
        elif name == "unit_id":
            out[name] = np.array(col, dtype=np.int64)
        else:
            out[name] = np.array(col, dtype=object)
    return out


_BUDGET_COLUMNS = (
    "canteen_food_budget",
    "reserved_share",
    "reserved_amount",
    "union_members",
    "gift_budget",
    "welfare_budget",
)


def _subject_units(conn, f: Filters, year: int) -> dict[str, np.ndarray]:
    """The buyer units under ``f`` with this year's budget, as arrays in unit-id order."""
    q = (
        select(
            buyer_unit.c.id.label("unit_id"),
            buyer_unit.c.name,
            buyer_unit.c.kind,
            buyer_unit.c.region_code,
            buyer_unit.c.jurisdiction_code,
            *[cast(unit_budget.c[c], Float).label(c) for c in _BUDGET_COLUMNS],
        )
        .select_from(
            buyer_unit.outerjoin(
                unit_budget, and_(unit_budget.c.unit_id == buyer_unit.c.id, unit_budget.c.year == year)
            )
        )
        .where(and_(True, *unit_scope_conditions(f)))
        .order_by(buyer_unit.c.id)
    )
    return _columns(conn.execute(q).all(), list(q.selected_columns.keys()), _BUDGET_COLUMNS)


def _eastwest_areas(conn, rules: list[dict]) -> dict[str, list[str]]:
    """rule code → the east-west cooperation areas its jurisdiction is paired with."""
    out = {}
    for r in rules:
        if r["metric"] == "gift_eastwest_share":
            out[r["code"]] = list(
                conn.execute(
                    select(pairing.c.helped_code).where(
                        pairing.c.helper_code == r["jurisdiction_code"], pairing.c.kind == "east_west"
                    )
                ).scalars()
            )
    return out


def _same_day_last_year(d: date) -> date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:
        return d.replace(year=d.year - 1, day=28)


def _year_conditions(as_of: date):
    """(this year, last year's whole months up to the same day, the partial month) for purchases.

    All on ``month``, so the rollups answer: "last year to the same day" is last year's months
    before the same day's month, plus — when the same day does not close its month — the days of
    that month up to it, returned as ``(first day, same day)`` for a statement of its own (a
    condition on ``purchase_date`` would send the whole statement to the raw facts)."""
    this_year = purchase.c.month >= as_of.year * 100 + 1
    ly = _same_day_last_year(as_of)
    ly_month = ly.year * 100 + ly.month
    if (ly + timedelta(days=1)).day == 1:
        return this_year, purchase.c.month <= ly_month, None
    return this_year, purchase.c.month < ly_month, (ly.replace(day=1), ly)


def _partial_month(conn, f: Filters, days: tuple[date, date] | None, key, *where) -> list:
    """(key, amount) rows over the days of last year's partial month (none when there is none)."""
    if days is None:
        return []
    q = (
        scoped_select(replace(f, start=days[0], end=days[1]), key, func.sum(purchase.c.amount))
        .where(*where)
        .group_by(key)
    )
    return conn.execute(q).all()


def _total(cond):
    """``SUM(amount) FILTER (WHERE cond)``, 0 when nothing matches: a FILTER skips the rows outside
    ``cond`` where ``SUM(CASE …)`` adds a numeric zero for each (PostgreSQL: ~20% faster over the
    unit rollup)."""
    return func.coalesce(func.sum(purchase.c.amount).filter(cond), 0)


def _sum():
    """``SUM(amount)``, 0 when nothing matches."""
    return func.coalesce(func.sum(purchase.c.amount), 0)


def _scatter(into: dict[str, np.ndarray], key: str, rows: list, names: list[str], add: bool = False) -> None:
    """Put per-subject sums (rows of key, *names) into ``into``'s arrays at the subject's position
    (subjects absent from ``rows`` keep 0; rows of other subjects are dropped)."""
    keys = into[key]
    for name in names:
        into.setdefault(name, np.zeros(len(keys)))
    if not rows or not len(keys):
        return
    cols = list(zip(*rows, strict=True))
    found = np.array(cols[0], dtype=keys.dtype)
    order = np.argsort(keys, kind="stable")
    at = np.searchsorted(keys, found, sorter=order).clip(0, len(keys) - 1)
    pos = order[at]
    hit = keys[pos] == found
    for name, col in zip(names, cols[1:], strict=True):
        values = np.array(col, dtype=float)
        if add:
            np.add.at(into[name], pos[hit], values[hit])
        else:
            into[name][pos[hit]] = values[hit]


def _unit_fact_reads(ctx: _Context, ew_codes: dict[str, list[str]], last_year: bool) -> dict:
    """key → (names, read): the per-unit sums each rule needs (rows of unit id, *names; yuan),
    this year to date, and with ``last_year`` last year to the same day and all of last year.
    Each is a period from 1 January, answered by the cumulative unit rollup."""
    year = ctx.as_of.year
    gift = purchase.c.purpose == "holiday_gift"
    unit = purchase.c.buyer_unit_id
    measures = {
        "amount": _sum(),
        "canteen_832": _total(and_(purchase.c.purpose == "canteen", purchase.c.channel == "p832")),
        "gift": _total(gift),
        "welfare_outlet": _total(and_(purchase.c.purpose == "welfare", purchase.c.channel.in_(OUTLET_HALL_ZONE))),
    }
    this_year = replace(ctx.f, start=date(year, 1, 1), end=ctx.as_of)

    def statement(f: Filters, columns: dict, *where):
        # As floats from the database: decoding thousands of Decimals costs more than the query.
        return (
            scoped_select(f, unit, *[cast(m, Float).label(k) for k, m in columns.items()]).where(*where).group_by(unit)
        )

    def sums(f: Filters, columns: dict, *where):
        q = statement(f, columns, *where)
        return list(columns), lambda conn: conn.execute(q).all()

    reads = {"this_year": sums(this_year, measures)}
    if last_year:
        start = date(year - 1, 1, 1)
        reads["last_ytd"] = sums(
            replace(ctx.f, start=start, end=_same_day_last_year(ctx.as_of)), {"amount_ly_ytd": _sum()}
        )
        reads["last_year"] = sums(replace(ctx.f, start=start, end=date(year - 1, 12, 31)), {"amount_ly": _sum()})
    # East-west gift shares need the origin: asked apart (gifts this year only), so that each
    # statement is answered by a small rollup — unless both would read the same one anyway (an
    # origin drilled below a province), where one pass over its rows does for both.
    areas_of = {
        code: or_(False, *[in_region(purchase.c.origin_code, a) for a in areas]) for code, areas in ew_codes.items()
    }
    if areas_of:
        ew = {f"ew_{code}": _total(within) for code, within in areas_of.items()}
        apart = statement(this_year, ew, gift)
        if rollup.source_of(apart) == rollup.source_of(statement(this_year, measures)):
            together = {**measures, **{f"ew_{code}": _total(and_(gift, within)) for code, within in areas_of.items()}}
            reads["this_year"] = sums(this_year, together)
        else:
            reads["eastwest"] = sums(this_year, ew, gift)
    return reads


def _origin_subjects(conn, f: Filters, rules: list[dict]) -> dict[str, np.ndarray]:
    """``code, name, jurisdiction_code`` arrays: helped counties inside each origin_county rule's
    jurisdiction (a county once per jurisdiction)."""
    rows, seen = [], set()
    for r in rules:
        if r["subject_kind"] != "origin_county":
            continue
        q = (
            select(region.c.code, region.c.name)
            .distinct()
            .select_from(pairing.join(region, region.c.code == pairing.c.helped_code))
            .where(region.c.level == "county", in_region(pairing.c.helped_code, r["jurisdiction_code"]))
        )
        if f.region_code and f.region_side == "origin":
            q = q.where(in_region(region.c.code, f.region_code))
        for code, name in conn.execute(q.order_by(region.c.code)).all():
            if (code, r["jurisdiction_code"]) not in seen:
                seen.add((code, r["jurisdiction_code"]))
                rows.append((code, name, r["jurisdiction_code"]))
    return _columns(rows, ["code", "name", "jurisdiction_code"])


def _origin_facts(conn, ctx: _Context, counties: dict[str, np.ndarray]) -> tuple[list, list]:
    """Per helped county (rows of code, amount this year to date, last year to the same day, last
    full year; yuan) and the (code, amount) rows of last year's partial month to add to the second."""
    if not len(counties["code"]):
        return [], []
    year = ctx.as_of.year
    this_year, last_ytd, partial = _year_conditions(ctx.as_of)
    last_ytd = and_(~this_year, last_ytd)
    codes = sorted(set(counties["code"].tolist()))
    span = replace(ctx.f, start=date(year - 1, 1, 1), end=ctx.as_of)
    q = (
        scoped_select(span, purchase.c.origin_code, _total(this_year), _total(last_ytd), _total(~this_year))
        .where(purchase.c.origin_code.in_(codes))
        .group_by(purchase.c.origin_code)
    )
    return conn.execute(q).all(), _partial_month(
        conn, ctx.f, partial, purchase.c.origin_code, purchase.c.origin_code.in_(codes)
    )


_REPORTING = ("report_monthly_by_day", "report_quarterly")


def _report_periods(conn, f: Filters, rules: list[dict], as_of: date) -> list:
    """(unit id, period, first committed submission) up to ``as_of`` in ``as_of``'s year, for the
    units under ``f`` that the reporting ``rules`` cover."""
    if not rules:
        return []
    covered = [
        and_(
            in_region(buyer_unit.c.jurisdiction_code, r["jurisdiction_code"]),
            True if r["subject_kind"] == "any_unit" else buyer_unit.c.kind == r["subject_kind"],
        )
        for r in rules
    ]
    q = (
        select(report_batch.c.unit_id, report_batch.c.period, func.min(report_batch.c.submitted_at))
        .select_from(report_batch.join(buyer_unit, buyer_unit.c.id == report_batch.c.unit_id))
        .where(
            report_batch.c.status == "committed",
            or_(*covered),
            *unit_scope_conditions(f),
            report_batch.c.submitted_at < datetime.combine(as_of + timedelta(days=1), datetime.min.time()),
            report_batch.c.period.in_(_periods_of(as_of.year)),
        )
        .group_by(report_batch.c.unit_id, report_batch.c.period)
    )
    return conn.execute(q).all()


def _periods_of(year: int) -> list[str]:
    """The reporting periods of a year: its months (2026-01) and quarters (2026-Q1)."""
    return [f"{year}-{m:02d}" for m in range(1, 13)] + [f"{year}-Q{q}" for q in range(1, 5)]


class _Filings:
    """The first committed submission day of each subject unit (row) and period of the year
    (column, ``_periods_of``); NaT where none."""

    def __init__(self, units: dict[str, np.ndarray], rows: list, year: int):
        self.column = {p: i for i, p in enumerate(_periods_of(year))}
        ids = units["unit_id"]
        self.first = np.full((len(ids), len(self.column)), np.datetime64("NaT"), dtype="datetime64[D]")
        if not rows or not len(ids):
            return
        unit, period, at = zip(*rows, strict=True)
        found = np.array(unit, dtype=np.int64)
        pos = np.searchsorted(ids, found).clip(0, len(ids) - 1)
        hit = ids[pos] == found
        days = pd.to_datetime(pd.Series(at)).to_numpy().astype("datetime64[D]")  # SQLite: ISO text
        cols = np.array([self.column[p] for p in period])
        self.first[pos[hit], cols[hit]] = days[hit]

    def of(self, rows: np.ndarray, periods: list[str]) -> np.ndarray:
        """First submission days of ``rows`` (units) × ``periods``."""
        return self.first[np.ix_(rows, [self.column[p] for p in periods])]


# Each handler takes the rule's subjects (their positions ``rows`` in the subject arrays) and
# returns, for the subjects the rule bites on, ``PART`` arrays and their positions (``_rows``);
# ``_finish`` adds who and which rule.
PART = ["value", "base_yuan", "actual_yuan", "target_yuan", "expected_yuan", "value_text", "requirement_text", "status"]
NUMERIC_PART = ("value", "base_yuan", "actual_yuan", "target_yuan", "expected_yuan")


def _part(rows: np.ndarray, **columns) -> dict[str, np.ndarray]:
    """A handler's result as arrays over ``rows``; scalars, None included, fill the column."""
    n = len(rows)
    out = {"_rows": rows}
    for name in PART:
        value = columns.get(name)
        if isinstance(value, np.ndarray | list):
            out[name] = np.asarray(value, dtype=float if name in NUMERIC_PART else object)
        elif name in NUMERIC_PART:
            out[name] = np.full(n, np.nan if value is None else value, dtype=float)
        else:
            out[name] = np.full(n, value, dtype=object)
    return out


def statuses(actual, expected, target) -> np.ndarray:
    """green / yellow / red for amounts against their expectation and annual target (see module doc)."""
    shortfall = np.asarray(expected, dtype=float) - np.asarray(actual, dtype=float)
    target = np.asarray(target, dtype=float)
    yellow = (target > 0) & (shortfall < YELLOW_BAND * target)
    return np.where(shortfall <= 0.005, "green", np.where(yellow, "yellow", "red")).astype(object)


def _finish(ctx: _Context, subjects: dict[str, np.ndarray], part: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``COLUMNS`` for one rule as arrays: the handler's figures with the subject, the rule and the
    derived columns (status where the handler left it open, gap and remaining where the rule is in yuan)."""
    rule = ctx.rule
    rows = part.pop("_rows")
    n = len(rows)
    is_unit = rule["subject_kind"] != "origin_county"
    out = dict(part)
    actual, expected, target = part["actual_yuan"], part["expected_yuan"], part["target_yuan"]
    yuan = ~np.isnan(target)
    open_status = pd.isna(part["status"])
    computed = statuses(np.nan_to_num(actual), np.nan_to_num(expected), np.nan_to_num(target))
    out["status"] = np.where(open_status, computed, part["status"])
    out["met"] = out["status"] == "green"
    with np.errstate(invalid="ignore"):
        out["gap_yuan"] = np.where(yuan, np.maximum(expected - actual, 0.0), np.nan)
        out["remaining_yuan"] = np.where(yuan, np.maximum(target - actual, 0.0), np.nan)
    constants = dict(
        rule_code=rule["code"],
        rule_title=rule["title"],
        jurisdiction_code=rule["jurisdiction_code"],
        subject_kind=rule["subject_kind"],
        metric=rule["metric"],
        threshold=rule["threshold"],
        time_progress=ctx.progress,
        clause=clause_text(rule["source_doc"], rule["source_doc_no"], rule["source_clause"]),
        citation=citation_text(rule["source_doc"], rule["source_doc_no"], rule["source_clause"]),
    )
    for name, value in constants.items():
        out[name] = np.full(n, value, dtype=object)
    out["unit_id"] = subjects["unit_id"][rows].astype(object) if is_unit else np.full(n, None, dtype=object)
    out["unit_name"] = subjects["name"][rows]
    out["unit_kind"] = subjects["kind"][rows] if is_unit else np.full(n, "origin_county", dtype=object)
    out["region_code"] = (subjects["region_code"] if is_unit else subjects["code"])[rows]
    return out


def _pcts(values: np.ndarray) -> list[str]:
    return [pct_text(v) for v in values.tolist()]


def _positive(s: dict[str, np.ndarray], rows: np.ndarray, column: str) -> np.ndarray:
    """The positions among ``rows`` whose ``column`` is above zero (NaN is not)."""
    return rows[s[column][rows] > 0]


def _share_of_budget(budget_col: str, actual_col: str):
    """Cumulative amount against ``threshold × budget``, expected to grow with time progress."""

    def handler(ctx: _Context, s: dict[str, np.ndarray], rows: np.ndarray, _reports) -> dict[str, np.ndarray]:
        rows = _positive(s, rows, budget_col)
        base, actual = s[budget_col][rows], s[actual_col][rows]
        threshold = ctx.rule["threshold"]
        target = base * threshold
        value = actual / base
        return _part(
            rows,
            value=value,
            base_yuan=base,
            actual_yuan=actual,
            target_yuan=target,
            expected_yuan=target * ctx.progress,
            value_text=_pcts(value),
            requirement_text=f"≥{pct_text(threshold)}（时间进度应达{pct_text(threshold * ctx.progress)}）",
        )

    return handler


def _reserved_share(ctx: _Context, s: dict[str, np.ndarray], rows: np.ndarray, _reports) -> dict[str, np.ndarray]:
    rows = _positive(s, rows, "canteen_food_budget")
    base = s["canteen_food_budget"][rows]
    target = base * ctx.rule["threshold"]
    filed = ~np.isnan(s["reserved_share"][rows])
    amount = s["reserved_amount"][rows]
    actual = np.where(filed & ~np.isnan(amount), amount, 0.0)
    value = np.where(filed, actual / base, np.nan)
    return _part(
        rows,
        value=value,
        base_yuan=base,
        actual_yuan=actual,
        target_yuan=target,
        expected_yuan=target,
        value_text=[pct_text(v) if ok else "未填报" for v, ok in zip(value.tolist(), filed.tolist(), strict=True)],
        requirement_text=f"≥{pct_text(ctx.rule['threshold'])}",
        status=np.where(filed, None, "red").astype(object),
    )


def _gift_eastwest(ctx: _Context, s: dict[str, np.ndarray], rows: np.ndarray, _reports) -> dict[str, np.ndarray]:
    rows = _positive(s, rows, "gift")
    base, actual = s["gift"][rows], s[f"ew_{ctx.rule['code']}"][rows]
    target = base * ctx.rule["threshold"]
    value = actual / base
    return _part(
        rows,
        value=value,
        base_yuan=base,
        actual_yuan=actual,
        target_yuan=target,
        expected_yuan=target,
        value_text=_pcts(value),
        requirement_text=f"≥{pct_text(ctx.rule['threshold'])}",
    )


def _gift_per_member(ctx: _Context, s: dict[str, np.ndarray], rows: np.ndarray, _reports) -> dict[str, np.ndarray]:
    rows = _positive(s, rows, "union_members")
    members, actual = s["union_members"][rows], s["gift"][rows]
    threshold = ctx.rule["threshold"]
    target = members * threshold
    per = actual / members
    return _part(
        rows,
        value=per,
        base_yuan=None,
        actual_yuan=actual,
        target_yuan=target,
        expected_yuan=target * ctx.progress,
        value_text=[f"{p:,.0f}元/人（{int(m)}人）" for p, m in zip(per.tolist(), members.tolist(), strict=True)],
        requirement_text=f"≥{threshold:,.0f}元/人（时间进度应达{threshold * ctx.progress:,.0f}元/人）",
    )


def _yoy(ctx: _Context, s: dict[str, np.ndarray], rows: np.ndarray, _reports=None) -> dict[str, np.ndarray]:
    """This year to date against last year to the same day; a subject with nothing last year is
    not evaluated (the rule does not bite yet). Units and origin counties alike."""
    rows = _positive(s, rows, "amount_ly_ytd")
    last_ytd, actual = s["amount_ly_ytd"][rows], s["amount"][rows]
    value = actual / last_ytd
    return _part(
        rows,
        value=value,
        base_yuan=last_ytd,
        actual_yuan=actual,
        target_yuan=s["amount_ly"][rows] * ctx.rule["threshold"],
        expected_yuan=last_ytd * ctx.rule["threshold"],
        value_text=[f"上年同期的{pct_text(v)}" for v in value.tolist()],
        requirement_text="不低于上年同期",
    )


def _reserved_filed(ctx: _Context, s: dict[str, np.ndarray], rows: np.ndarray, _reports) -> dict[str, np.ndarray]:
    filed = ~np.isnan(s["reserved_share"][rows])
    return _part(
        rows,
        value=filed.astype(float),
        base_yuan=s["canteen_food_budget"][rows],
        actual_yuan=s["reserved_amount"][rows],
        target_yuan=None,
        expected_yuan=None,
        value_text=np.where(filed, "已填报", "未填报").astype(object),
        requirement_text="填报年度预留份额",
        status=np.where(filed, "green", "red").astype(object),
    )


def _due_months(as_of: date, day: int) -> list[tuple[str, date]]:
    out = []
    for m in range(1, 13):
        due = date(as_of.year, m, min(day, calendar.monthrange(as_of.year, m)[1]))
        if due <= as_of:
            out.append((f"{as_of.year}-{m:02d}", due))
    return out


def _report_statuses(reported: np.ndarray, late: np.ndarray) -> np.ndarray:
    """Per unit (row) over its due periods (columns, oldest first): green when every period was
    reported and none late, yellow when all were reported (some late) or only the latest is
    missing, red when an earlier one is missing."""
    missing = ~reported
    green = ~missing.any(axis=1) & ~late.any(axis=1)
    only_latest = missing[:, -1] & ~missing[:, :-1].any(axis=1)
    yellow = ~missing.any(axis=1) | only_latest
    return np.where(green, "green", np.where(yellow, "yellow", "red")).astype(object)


def _report_monthly(ctx: _Context, s: dict[str, np.ndarray], rows: np.ndarray, reports: _Filings):
    day = int(ctx.rule["threshold"])
    due = _due_months(ctx.as_of, day)
    if not due:
        return _part(rows[:0])
    first = reports.of(rows, [p for p, _ in due])
    reported = ~np.isnat(first)
    on_time = reported & (first <= np.array([d for _, d in due], dtype="datetime64[D]"))
    late = reported & ~on_time
    n = len(due)
    texts = [
        f"按时{t}/{n}个月" + (f"，逾期{lt}" if lt else "") + (f"，未报{n - t - lt}" if n - t - lt else "")
        for t, lt in zip(on_time.sum(axis=1).tolist(), late.sum(axis=1).tolist(), strict=True)
    ]
    return _part(
        rows,
        value=on_time.sum(axis=1) / n,
        value_text=texts,
        requirement_text=f"每月{day}日前报送",
        status=_report_statuses(reported, late),
    )


def _report_quarterly(ctx: _Context, s: dict[str, np.ndarray], rows: np.ndarray, reports: _Filings):
    year = ctx.as_of.year
    due = [f"{year}-Q{q}" for q in range(1, 5) if date(year, 3 * q, calendar.monthrange(year, 3 * q)[1]) < ctx.as_of]
    if not due:
        return _part(rows[:0])
    reported = ~np.isnat(reports.of(rows, due))
    done = reported.sum(axis=1)
    return _part(
        rows,
        value=done / len(due),
        value_text=[f"已报{d}/{len(due)}个季度" for d in done.tolist()],
        requirement_text="每季度报送",
        status=_report_statuses(reported, np.zeros_like(reported)),
    )


_HANDLERS = {
    "reserved_share": _reserved_share,
    "canteen_832_share": _share_of_budget("canteen_food_budget", "canteen_832"),
    "gift_assist_share": _share_of_budget("gift_budget", "gift"),
    "gift_eastwest_share": _gift_eastwest,
    "gift_per_member": _gift_per_member,
    "welfare_outlet_share": _share_of_budget("welfare_budget", "welfare_outlet"),
    "yoy_ratio": _yoy,
    "reserved_filed": _reserved_filed,
    "report_monthly_by_day": _report_monthly,
    "report_quarterly": _report_quarterly,
}
