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
from sqlalchemy import Engine, and_, func, or_, select

from data_access.facts import scoped_select, unit_scope_conditions
from data_access.filters import Filters, in_region, region_level, region_prefix
from data_access.overview import time_progress
from data_access.schema import (
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
    "rule_code", "rule_title", "jurisdiction_code", "subject_kind", "unit_id", "unit_name", "unit_kind",
    "region_code", "metric", "value", "threshold", "base_yuan", "actual_yuan", "target_yuan", "expected_yuan",
    "gap_yuan", "status", "met", "clause",
    "remaining_yuan", "time_progress", "value_text", "requirement_text", "citation",
]
NUMERIC = ["value", "threshold", "base_yuan", "actual_yuan", "target_yuan", "expected_yuan", "gap_yuan",
           "remaining_yuan", "time_progress"]

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


def clause_text(source_doc: str, source_doc_no: str | None, source_clause: str) -> str:
    """The citation of a rule: document title, number when it has one, and clause."""
    return f"{source_doc}{f'（{source_doc_no}）' if source_doc_no else ''}{source_clause}"


def citation_text(source_doc: str, source_doc_no: str | None, source_clause: str) -> str:
    """The clause first, then the document number (or title when it has none): 四（二）｜珠委农组〔2021〕15号."""
    return f"{source_clause}｜{source_doc_no or source_doc}"


def status_of(actual: float, expected: float, target: float) -> str:
    """green / yellow / red for an amount against its expectation and annual target (see module doc)."""
    shortfall = expected - actual
    if shortfall <= 0.005:
        return "green"
    if target > 0 and shortfall < YELLOW_BAND * target:
        return "yellow"
    return "red"


def evaluate(engine: Engine, f: Filters, as_of: date | None = None) -> pd.DataFrame:
    """One row per (rule in force, subject) under the filters, year to ``as_of``: ``COLUMNS``.

    Yuan columns are year-to-date actual, annual target, expectation at time progress and the
    shortfall against it (``gap_yuan``, 0 when on track); ``remaining_yuan`` is what the year still needs;
    reporting rules have no yuan (NaN). ``citation`` is the short form of ``clause`` (clause first).

    Each rule is evaluated for all its subjects at once (column arithmetic on one frame per rule),
    so the cost grows with rules, not with rules × units.
    """
    as_of = as_of or f.end
    year = as_of.year
    ctx = _Context(f=f, as_of=as_of, progress=time_progress(as_of))
    with engine.connect() as conn:
        rules = [dict(r._mapping) for r in conn.execute(
            select(policy_rule).where(policy_rule.c.year_from <= year,
                                      or_(policy_rule.c.year_to.is_(None), policy_rule.c.year_to >= year))
            .order_by(policy_rule.c.id))]
        units = _subject_units(conn, f, year)
        ew_codes = _eastwest_areas(conn, rules)
        yoy = [_rule_subjects(units, r).unit_id for r in rules
               if r["metric"] == "yoy_ratio" and r["subject_kind"] != "origin_county"]
        facts = _unit_facts(conn, ctx, ew_codes, sorted({int(u) for s in yoy for u in s}))
        counties = _origin_subjects(conn, f, rules)
        origin = _origin_facts(conn, ctx, counties)
        reporting = [_rule_subjects(units, r) for r in rules if r["metric"] in _REPORTING]
        reporters = pd.concat(reporting).unit_id if reporting else pd.Series([], dtype="int64")
        reports = _report_periods(conn, reporters, as_of)
    units = _plain(units.merge(facts, on="unit_id", how="left").fillna(
        {c: 0.0 for c in facts.columns if c != "unit_id"}))
    frames: list[dict[str, np.ndarray]] = []
    for rule in rules:
        ctx.rule = rule
        if rule["subject_kind"] == "origin_county":
            subjects = counties[counties.jurisdiction_code == rule["jurisdiction_code"]]
            subjects = subjects.merge(origin, on="code", how="left").fillna(
                {"amount": 0.0, "amount_ly_ytd": 0.0, "amount_ly": 0.0})
            frames.append(_finish(ctx, subjects, _yoy(ctx, subjects)))
            continue
        handler = _HANDLERS.get(rule["metric"])
        if handler is None:
            continue
        subjects = _rule_subjects(units, rule)
        frames.append(_finish(ctx, subjects, handler(ctx, subjects, reports)))
    df = pd.DataFrame({c: np.concatenate([fr[c] for fr in frames]) if frames else [] for c in COLUMNS})
    df = df.astype({"unit_id": "Int64", "met": bool})
    df[NUMERIC] = df[NUMERIC].astype(float)
    return df


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its text columns as plain object arrays: each rule takes its subjects' rows, and
    a take on pandas' Arrow-backed strings costs ~10× one on a NumPy array."""
    return df.astype({c: object for c in df.columns if pd.api.types.is_string_dtype(df[c].dtype)})


def _rule_subjects(units: pd.DataFrame, rule: dict) -> pd.DataFrame:
    """The buyer units a rule covers: inside its jurisdiction, of its subject kind (masks on plain
    arrays: pandas string methods and boolean frame indexing cost ~2 ms a rule)."""
    jurisdictions = units.jurisdiction_code.to_numpy(dtype=object)
    code = rule["jurisdiction_code"]
    if region_level(code) in ("province", "city"):
        prefix = region_prefix(code)
        mask = np.fromiter((isinstance(c, str) and c.startswith(prefix) for c in jurisdictions), dtype=bool,
                           count=len(jurisdictions))
    else:
        mask = jurisdictions == code
    if rule["subject_kind"] != "any_unit":
        mask &= units.kind.to_numpy(dtype=object) == rule["subject_kind"]
    return units.iloc[np.flatnonzero(mask)]


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


def status_ranks(status: pd.Series) -> np.ndarray:
    """``STATUS_RANK`` of each status (red 0, yellow 1, green 2)."""
    s = status.to_numpy(dtype=object)
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
    return dict(met=int(evaluated.met.sum()), total=len(evaluated),
                units_behind=int(behind.unit_id.nunique()),
                rules=int(len(per_rule)), rules_all_met=int(per_rule.sum()),
                by_status={s: int((evaluated.status == s).sum()) for s in ("green", "yellow", "red")},
                time_progress=progress)


class _Context:
    def __init__(self, f: Filters, as_of: date, progress: float):
        self.f, self.as_of, self.progress = f, as_of, progress
        self.rule: dict = {}


def _subject_units(conn, f: Filters, year: int) -> pd.DataFrame:
    q = (select(buyer_unit.c.id.label("unit_id"), buyer_unit.c.name, buyer_unit.c.kind, buyer_unit.c.region_code,
                buyer_unit.c.jurisdiction_code, unit_budget.c.canteen_food_budget, unit_budget.c.reserved_share,
                unit_budget.c.reserved_amount, unit_budget.c.union_members, unit_budget.c.gift_budget,
                unit_budget.c.welfare_budget)
         .select_from(buyer_unit.outerjoin(unit_budget, and_(unit_budget.c.unit_id == buyer_unit.c.id,
                                                             unit_budget.c.year == year)))
         .where(and_(True, *unit_scope_conditions(f))).order_by(buyer_unit.c.id))
    # Plain tuples: pandas probes each Row for attributes, which costs ~50 µs a row.
    df = pd.DataFrame([tuple(r) for r in conn.execute(q)], columns=list(q.selected_columns.keys()))
    for col in ("union_members", "canteen_food_budget", "reserved_amount", "gift_budget", "welfare_budget", "reserved_share"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df


def _eastwest_areas(conn, rules: list[dict]) -> dict[str, list[str]]:
    """rule code → the east-west cooperation areas its jurisdiction is paired with."""
    out = {}
    for r in rules:
        if r["metric"] == "gift_eastwest_share":
            out[r["code"]] = list(conn.execute(
                select(pairing.c.helped_code).where(pairing.c.helper_code == r["jurisdiction_code"],
                                                    pairing.c.kind == "east_west")).scalars())
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


def _partial_month(conn, f: Filters, days: tuple[date, date] | None, key, *where) -> dict:
    """key → amount over the days of last year's partial month (empty when there is none)."""
    if days is None:
        return {}
    q = (scoped_select(replace(f, start=days[0], end=days[1]), key, func.sum(purchase.c.amount))
         .where(*where).group_by(key))
    return {k: float(v or 0) for k, v in conn.execute(q)}


def _total(cond):
    """``SUM(amount) FILTER (WHERE cond)``, 0 when nothing matches: a FILTER skips the rows outside
    ``cond`` where ``SUM(CASE …)`` adds a numeric zero for each (PostgreSQL: ~20% faster over the
    unit rollup)."""
    return func.coalesce(func.sum(purchase.c.amount).filter(cond), 0)


def _sum():
    """``SUM(amount)``, 0 when nothing matches."""
    return func.coalesce(func.sum(purchase.c.amount), 0)


def _unit_facts(conn, ctx: _Context, ew_codes: dict[str, list[str]], yoy_units: list[int]) -> pd.DataFrame:
    """Per buyer unit: the year-to-date sums each rule needs; last year's (to the same day, full
    year) only for ``yoy_units``, the subjects of a year-on-year rule — asked apart, so the sums
    over this year read this year's months only."""
    year = ctx.as_of.year
    _, last_ytd, partial = _year_conditions(ctx.as_of)
    gift = purchase.c.purpose == "holiday_gift"
    unit = purchase.c.buyer_unit_id
    measures = {
        "amount": _sum(),
        "canteen_832": _total(and_(purchase.c.purpose == "canteen", purchase.c.channel == "p832")),
        "gift": _total(gift),
        "welfare_outlet": _total(and_(purchase.c.purpose == "welfare", purchase.c.channel.in_(OUTLET_HALL_ZONE))),
    }
    this_year = replace(ctx.f, start=date(year, 1, 1), end=ctx.as_of)
    q = scoped_select(this_year, unit, *[m.label(k) for k, m in measures.items()]).group_by(unit)
    df = pd.DataFrame([tuple(r) for r in conn.execute(q)], columns=["unit_id", *measures]).astype({"unit_id": "int64"})
    last = pd.DataFrame({"unit_id": pd.Series(dtype="int64"), "amount_ly_ytd": pd.Series(dtype=float),
                         "amount_ly": pd.Series(dtype=float)})
    if yoy_units:
        q = (scoped_select(replace(ctx.f, start=date(year - 1, 1, 1), end=date(year - 1, 12, 31)), unit,
                           _total(last_ytd).label("amount_ly_ytd"), _sum())
             .where(unit.in_(yoy_units)).group_by(unit))
        last = pd.DataFrame([tuple(r) for r in conn.execute(q)], columns=last.columns).astype({"unit_id": "int64"})
        extra = _partial_month(conn, ctx.f, partial, unit, unit.in_(yoy_units))
        last["amount_ly_ytd"] = last.amount_ly_ytd.astype(float) + last.unit_id.map(extra).fillna(0.0)
    df = df.merge(last, on="unit_id", how="outer")
    # East-west gift shares need the origin; asked apart (gifts this year only) so each statement
    # is answered by a small rollup.
    ew = {f"ew_{code}": _total(or_(False, *[in_region(purchase.c.origin_code, a) for a in areas]))
          for code, areas in ew_codes.items()}
    if ew:
        q = scoped_select(this_year, unit, *[m.label(k) for k, m in ew.items()]).where(gift).group_by(unit)
        gifts = pd.DataFrame([tuple(r) for r in conn.execute(q)], columns=["unit_id", *ew])
        df = df.merge(gifts, on="unit_id", how="left")
    for col in [*measures, "amount_ly_ytd", "amount_ly", *ew]:
        df[col] = df[col].astype(float).fillna(0.0)
    return df


def _origin_subjects(conn, f: Filters, rules: list[dict]) -> pd.DataFrame:
    """``code, name, jurisdiction_code``: helped counties inside each origin_county rule's jurisdiction."""
    rows = []
    for r in rules:
        if r["subject_kind"] != "origin_county":
            continue
        q = (select(region.c.code, region.c.name).distinct()
             .select_from(pairing.join(region, region.c.code == pairing.c.helped_code))
             .where(region.c.level == "county", in_region(pairing.c.helped_code, r["jurisdiction_code"])))
        if f.region_code and f.region_side == "origin":
            q = q.where(in_region(region.c.code, f.region_code))
        rows += [(c, n, r["jurisdiction_code"]) for c, n in conn.execute(q.order_by(region.c.code)).all()]
    return pd.DataFrame(rows, columns=["code", "name", "jurisdiction_code"]).drop_duplicates()


def _origin_facts(conn, ctx: _Context, counties: pd.DataFrame) -> pd.DataFrame:
    """``code, amount, amount_ly_ytd, amount_ly``: per helped county, this year to date, last year
    to the same day and last full year (yuan)."""
    columns = ["code", "amount", "amount_ly_ytd", "amount_ly"]
    if counties.empty:
        return pd.DataFrame(columns=columns)
    year = ctx.as_of.year
    this_year, last_ytd, partial = _year_conditions(ctx.as_of)
    last_ytd = and_(~this_year, last_ytd)

    def total(cond):
        return _total(cond)

    span = replace(ctx.f, start=date(year - 1, 1, 1), end=ctx.as_of)
    q = (scoped_select(span, purchase.c.origin_code, total(this_year), total(last_ytd), total(~this_year))
         .where(purchase.c.origin_code.in_(counties.code.tolist())).group_by(purchase.c.origin_code))
    df = pd.DataFrame([tuple(r) for r in conn.execute(q)], columns=columns)
    for col in columns[1:]:
        df[col] = df[col].astype(float)
    extra = _partial_month(conn, ctx.f, partial, purchase.c.origin_code,
                           purchase.c.origin_code.in_(counties.code.tolist()))
    if extra:
        df["amount_ly_ytd"] += df.code.map(extra).fillna(0.0)
    return df


_REPORTING = ("report_monthly_by_day", "report_quarterly")


def _report_periods(conn, unit_ids: pd.Series, as_of: date) -> dict[int, dict[str, datetime]]:
    """unit → {period → first committed submission} up to ``as_of``, for the units a reporting
    rule covers (one row per unit and period)."""
    if unit_ids.empty:
        return {}
    q = (select(report_batch.c.unit_id, report_batch.c.period, func.min(report_batch.c.submitted_at))
         .where(report_batch.c.status == "committed",
                report_batch.c.unit_id.in_(sorted({int(u) for u in unit_ids})),
                report_batch.c.submitted_at < datetime.combine(as_of + timedelta(days=1), datetime.min.time()),
                report_batch.c.period.like(f"{as_of.year}-%"))
         .group_by(report_batch.c.unit_id, report_batch.c.period))
    out: dict[int, dict[str, datetime]] = {}
    for unit_id, period, at in conn.execute(q).all():
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        out.setdefault(int(unit_id), {})[period] = at
    return out


# Each handler takes the rule's subjects (one row each) and returns, for the subjects the rule
# bites on, a frame of ``PART`` columns on the same index; ``_finish`` adds who and which rule.
PART = ["value", "base_yuan", "actual_yuan", "target_yuan", "expected_yuan", "value_text", "requirement_text",
        "status"]


NUMERIC_PART = ("value", "base_yuan", "actual_yuan", "target_yuan", "expected_yuan")


def _part(s: pd.DataFrame, **columns) -> dict[str, np.ndarray]:
    """A handler's result as arrays in ``s``'s row order (``_rows`` holds ``s``'s index); scalars,
    None included, fill the column. Arrays, not a frame: pandas spends ~0.5 ms on each column
    assignment, more than the arithmetic."""
    n = len(s)
    out = {"_rows": s.index.to_numpy()}
    for name in PART:
        value = columns.get(name)
        if isinstance(value, pd.Series):
            out[name] = value.to_numpy(dtype=float if name in NUMERIC_PART else object)
        elif name in NUMERIC_PART:
            out[name] = np.full(n, np.nan if value is None else value, dtype=float)
        else:
            out[name] = np.full(n, value, dtype=object)
    return out


def statuses(actual, expected, target) -> np.ndarray:
    """``status_of`` over arrays."""
    shortfall = np.asarray(expected, dtype=float) - np.asarray(actual, dtype=float)
    target = np.asarray(target, dtype=float)
    yellow = (target > 0) & (shortfall < YELLOW_BAND * target)
    return np.where(shortfall <= 0.005, "green", np.where(yellow, "yellow", "red")).astype(object)


def _finish(ctx: _Context, subjects: pd.DataFrame, part: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``COLUMNS`` for one rule as arrays: the handler's figures with the subject, the rule and the
    derived columns (status where the handler left it open, gap and remaining where the rule is in yuan)."""
    rule = ctx.rule
    s = subjects.loc[part.pop("_rows")]
    n = len(s)
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
        rule_code=rule["code"], rule_title=rule["title"], jurisdiction_code=rule["jurisdiction_code"],
        subject_kind=rule["subject_kind"], metric=rule["metric"], threshold=rule["threshold"],
        time_progress=ctx.progress,
        clause=clause_text(rule["source_doc"], rule["source_doc_no"], rule["source_clause"]),
        citation=citation_text(rule["source_doc"], rule["source_doc_no"], rule["source_clause"]))
    for name, value in constants.items():
        out[name] = np.full(n, value, dtype=object)
    out["unit_id"] = s.unit_id.to_numpy(dtype=object) if is_unit else np.full(n, None, dtype=object)
    out["unit_name"] = s["name"].to_numpy(dtype=object)
    out["unit_kind"] = s.kind.to_numpy(dtype=object) if is_unit else np.full(n, "origin_county", dtype=object)
    out["region_code"] = (s.region_code if is_unit else s.code).to_numpy(dtype=object)
    return out


def _pct(x: float | None) -> str:
    return "—" if x is None or pd.isna(x) else f"{x * 100:.1f}%"


def _share_of_budget(budget_col: str, actual_col: str):
    """Cumulative amount against ``threshold × budget``, expected to grow with time progress."""

    def handler(ctx: _Context, s: pd.DataFrame, _reports) -> pd.DataFrame:
        s = s[s[budget_col] > 0]
        base, actual = s[budget_col].astype(float), s[actual_col].astype(float)
        threshold = ctx.rule["threshold"]
        target = base * threshold
        value = actual / base
        return _part(s, value=value, base_yuan=base, actual_yuan=actual, target_yuan=target,
                     expected_yuan=target * ctx.progress, value_text=pd.Series([_pct(v) for v in value], dtype=object),
                     requirement_text=f"≥{_pct(threshold)}（时间进度应达{_pct(threshold * ctx.progress)}）")

    return handler


def _reserved_share(ctx: _Context, s: pd.DataFrame, _reports) -> pd.DataFrame:
    s = s[s.canteen_food_budget > 0]
    base = s.canteen_food_budget.astype(float)
    target = base * ctx.rule["threshold"]
    filed = s.reserved_share.notna()
    actual = s.reserved_amount.where(filed & s.reserved_amount.notna(), 0.0).astype(float)
    value = (actual / base).where(filed)
    return _part(s, value=value, base_yuan=base, actual_yuan=actual, target_yuan=target, expected_yuan=target,
                 value_text=pd.Series([_pct(v) if ok else "未填报" for v, ok in zip(value, filed, strict=True)],
                                      dtype=object),
                 requirement_text=f"≥{_pct(ctx.rule['threshold'])}",
                 status=pd.Series(np.where(filed, None, "red"), dtype=object))


def _gift_eastwest(ctx: _Context, s: pd.DataFrame, _reports) -> pd.DataFrame:
    s = s[s.gift > 0]
    base, actual = s.gift.astype(float), s[f"ew_{ctx.rule['code']}"].astype(float)
    target = base * ctx.rule["threshold"]
    value = actual / base
    return _part(s, value=value, base_yuan=base, actual_yuan=actual, target_yuan=target, expected_yuan=target,
                 value_text=pd.Series([_pct(v) for v in value], dtype=object),
                 requirement_text=f"≥{_pct(ctx.rule['threshold'])}")


def _gift_per_member(ctx: _Context, s: pd.DataFrame, _reports) -> pd.DataFrame:
    s = s[s.union_members > 0]
    members, actual = s.union_members.astype(float), s.gift.astype(float)
    threshold = ctx.rule["threshold"]
    target = members * threshold
    per = actual / members
    return _part(s, value=per, base_yuan=None, actual_yuan=actual, target_yuan=target,
                 expected_yuan=target * ctx.progress,
                 value_text=pd.Series([f"{p:,.0f}元/人（{int(m)}人）" for p, m in zip(per, members, strict=True)],
                                      dtype=object),
                 requirement_text=f"≥{threshold:,.0f}元/人（时间进度应达{threshold * ctx.progress:,.0f}元/人）")


def _yoy(ctx: _Context, s: pd.DataFrame, _reports=None) -> pd.DataFrame:
    """This year to date against last year to the same day; a subject with nothing last year is
    not evaluated (the rule does not bite yet). Units and origin counties alike."""
    s = s[s.amount_ly_ytd > 0]
    last_ytd, actual = s.amount_ly_ytd.astype(float), s.amount.astype(float)
    value = actual / last_ytd
    return _part(s, value=value, base_yuan=last_ytd, actual_yuan=actual,
                 target_yuan=s.amount_ly.astype(float) * ctx.rule["threshold"],
                 expected_yuan=last_ytd * ctx.rule["threshold"],
                 value_text=pd.Series([f"上年同期的{_pct(v)}" for v in value], dtype=object),
                 requirement_text="不低于上年同期")


def _reserved_filed(ctx: _Context, s: pd.DataFrame, _reports) -> pd.DataFrame:
    filed = s.reserved_share.notna()
    return _part(s, value=filed.astype(float), base_yuan=s.canteen_food_budget.astype(float),
                 actual_yuan=s.reserved_amount.astype(float), target_yuan=None, expected_yuan=None,
                 value_text=pd.Series(np.where(filed, "已填报", "未填报"), dtype=object),
                 requirement_text="填报年度预留份额",
                 status=pd.Series(np.where(filed, "green", "red"), dtype=object))


def _due_months(as_of: date, day: int) -> list[tuple[str, date]]:
    out = []
    for m in range(1, 13):
        due = date(as_of.year, m, min(day, calendar.monthrange(as_of.year, m)[1]))
        if due <= as_of:
            out.append((f"{as_of.year}-{m:02d}", due))
    return out


def _report_status(due: list[str], late: set[str], reported: set[str]) -> str:
    missing = [p for p in due if p not in reported]
    if not missing and not late:
        return "green"
    if not missing or missing == due[-1:]:
        return "yellow"
    return "red"


def _report_monthly(ctx: _Context, s: pd.DataFrame, reports) -> pd.DataFrame:
    day = int(ctx.rule["threshold"])
    due = _due_months(ctx.as_of, day)
    if not due:
        return _part(s.iloc[:0])
    periods = [p for p, _ in due]
    values, texts, status = [], [], []
    for unit_id in s.unit_id:
        got = reports.get(int(unit_id), {})
        on_time = {p for p, d in due if p in got and got[p].date() <= d}
        late = {p for p, _ in due if p in got} - on_time
        missing = len(due) - len(on_time) - len(late)
        values.append(len(on_time) / len(due))
        texts.append(f"按时{len(on_time)}/{len(due)}个月" + (f"，逾期{len(late)}" if late else "")
                     + (f"，未报{missing}" if missing else ""))
        status.append(_report_status(periods, late, set(got)))
    return _part(s, value=pd.Series(values, dtype=float), value_text=pd.Series(texts, dtype=object),
                 requirement_text=f"每月{day}日前报送", status=pd.Series(status, dtype=object))


def _report_quarterly(ctx: _Context, s: pd.DataFrame, reports) -> pd.DataFrame:
    year = ctx.as_of.year
    due = [f"{year}-Q{q}" for q in range(1, 5)
           if date(year, 3 * q, calendar.monthrange(year, 3 * q)[1]) < ctx.as_of]
    if not due:
        return _part(s.iloc[:0])
    values, texts, status = [], [], []
    for unit_id in s.unit_id:
        got = set(reports.get(int(unit_id), {}))
        done = [p for p in due if p in got]
        values.append(len(done) / len(due))
        texts.append(f"已报{len(done)}/{len(due)}个季度")
        status.append(_report_status(due, set(), got))
    return _part(s, value=pd.Series(values, dtype=float), value_text=pd.Series(texts, dtype=object),
                 requirement_text="每季度报送", status=pd.Series(status, dtype=object))


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
