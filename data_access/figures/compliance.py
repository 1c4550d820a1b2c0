"""报送情况: which units reported for which period — on time, late, missing — from report_batch.

The schedules are policy rules (data): ``report_monthly_by_day`` (大通湖区: every month by the
29th, seed 002 六（八）) and ``report_quarterly`` (广州市: every quarter, seed 003 第16条). The
Guangzhou measures name no day; a quarter counts as due on the 15th of the month after it
(``QUARTERLY_DUE_DAY``), the convention the demo's reporters follow too.
"""

from __future__ import annotations

import calendar
from datetime import date

import pandas as pd
from sqlalchemy import Engine, and_, func, or_, select

from data_access.query.facts import unit_scope_conditions
from data_access.query.filters import Filters, in_region
from data_access.query.periods import as_date
from data_access.store.db import frame
from data_access.store.schema import buyer_unit, policy_rule, region, report_batch

__all__ = [
    "COMPLIANCE_STATUSES",
    "QUARTERLY_DUE_DAY",
    "REPORT_METRICS",
    "compliance",
    "compliance_matrix",
    "compliance_summary",
    "compliance_view",
    "due_periods",
    "reporting_rules",
]

REPORT_METRICS = ("report_monthly_by_day", "report_quarterly")
QUARTERLY_DUE_DAY = 15
COMPLIANCE_STATUSES = {"on_time": "按时", "late": "逾期补报", "missing": "逾期未报", "not_due": "未到期"}


def reporting_rules(engine: Engine) -> pd.DataFrame:
    """The reporting schedules in force: ``rule_code, jurisdiction_code, jurisdiction_name, metric,
    due_day, year_from, year_to, title, clause`` (document and clause)."""
    q = (
        select(
            policy_rule.c.code,
            policy_rule.c.jurisdiction_code,
            region.c.name,
            policy_rule.c.metric,
            policy_rule.c.threshold,
            policy_rule.c.year_from,
            policy_rule.c.year_to,
            policy_rule.c.title,
            policy_rule.c.source_doc,
            policy_rule.c.source_clause,
        )
        .select_from(policy_rule.join(region, region.c.code == policy_rule.c.jurisdiction_code))
        .where(policy_rule.c.metric.in_(REPORT_METRICS))
        .order_by(policy_rule.c.code)
    )
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    df = frame(
        rows,
        columns=[
            "rule_code",
            "jurisdiction_code",
            "jurisdiction_name",
            "metric",
            "threshold",
            "year_from",
            "year_to",
            "title",
            "source_doc",
            "source_clause",
        ],
    )
    df["due_day"] = [
        int(t) if m == "report_monthly_by_day" else QUARTERLY_DUE_DAY
        for m, t in zip(df.metric, df.threshold, strict=True)
    ]
    df["clause"] = df.source_doc + df.source_clause
    return df.drop(columns=["threshold", "source_doc", "source_clause"])


def _day(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def due_periods(metric: str, due_day: int, start: date, end: date) -> list[tuple[str, date]]:
    """``(period, due date)`` for every reporting period whose months fall in ``start``–``end``.

    Monthly: ``2026-05`` due on ``due_day`` of May (the last day in a shorter month).
    Quarterly: ``2026-Q2`` due on ``due_day`` of the month after the quarter (July); a quarter
    counts when its last month lies in the window.
    """
    out = []
    for m in pd.period_range(start, end, freq="M"):
        if metric == "report_monthly_by_day":
            out.append((f"{m.year}-{m.month:02d}", _day(m.year, m.month, due_day)))
        elif m.month % 3 == 0:
            nxt = m + 1
            out.append((f"{m.year}-Q{m.month // 3}", _day(nxt.year, nxt.month, due_day)))
    return out


def compliance(engine: Engine, f: Filters, as_of: date) -> pd.DataFrame:
    """One row per (unit under a reporting rule, period in ``f``'s months): ``unit_id, unit_name,
    unit_kind, jurisdiction_code, jurisdiction_name, rule_code, clause, period, due_date,
    submitted_on`` (first committed batch, or None) ``, status`` (on_time | late | missing |
    not_due, as seen on ``as_of``) ``, days_late``. Buyer kind and buyer-side region filters apply."""
    rules = reporting_rules(engine)
    frames = []
    with engine.connect() as conn:
        for r in rules.itertuples():
            start = max(f.start, date(r.year_from, 1, 1))
            end = min(f.end, date(r.year_to, 12, 31)) if r.year_to else f.end
            periods = due_periods(r.metric, r.due_day, start, end) if start <= end else []
            if not periods:
                continue
            units = conn.execute(
                select(buyer_unit.c.id, buyer_unit.c.name, buyer_unit.c.kind)
                .where(and_(in_region(buyer_unit.c.jurisdiction_code, r.jurisdiction_code), *unit_scope_conditions(f)))
                .order_by(buyer_unit.c.id)
            ).all()
            if not units:
                continue
            sub = dict(
                ((u, p), as_date(at))
                for u, p, at in conn.execute(
                    select(report_batch.c.unit_id, report_batch.c.period, func.min(report_batch.c.submitted_at))
                    .where(
                        report_batch.c.status == "committed",
                        report_batch.c.unit_id.in_([u.id for u in units]),
                        or_(*[report_batch.c.period == p for p, _ in periods]),
                    )
                    .group_by(report_batch.c.unit_id, report_batch.c.period)
                ).all()
            )
            rows = []
            for u in units:
                for period, due in periods:
                    got = sub.get((u.id, period))
                    if got is not None and got > as_of:
                        got = None  # not yet submitted as seen on as_of
                    if got is not None:
                        status = "on_time" if got <= due else "late"
                    else:
                        status = "missing" if due < as_of else "not_due"
                    late = (got - due).days if status == "late" else (as_of - due).days if status == "missing" else 0
                    rows.append(
                        (
                            u.id,
                            u.name,
                            u.kind,
                            r.jurisdiction_code,
                            r.jurisdiction_name,
                            r.rule_code,
                            r.clause,
                            period,
                            due,
                            got,
                            status,
                            late,
                        )
                    )
            frames.append(
                pd.DataFrame(
                    rows,
                    columns=[
                        "unit_id",
                        "unit_name",
                        "unit_kind",
                        "jurisdiction_code",
                        "jurisdiction_name",
                        "rule_code",
                        "clause",
                        "period",
                        "due_date",
                        "submitted_on",
                        "status",
                        "days_late",
                    ],
                )
            )
    if not frames:
        return pd.DataFrame(
            columns=[
                "unit_id",
                "unit_name",
                "unit_kind",
                "jurisdiction_code",
                "jurisdiction_name",
                "rule_code",
                "clause",
                "period",
                "due_date",
                "submitted_on",
                "status",
                "days_late",
            ]
        )
    return pd.concat(frames, ignore_index=True)


def compliance_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per jurisdiction and period: ``jurisdiction_name, period, due_date`` and unit counts
    ``on_time, late, missing, not_due``, plus ``on_time_rate`` (on time ÷ due)."""
    if df.empty:
        return pd.DataFrame(columns=["jurisdiction_name", "period", "due_date", *COMPLIANCE_STATUSES, "on_time_rate"])
    counts = (
        df.pivot_table(
            index=["jurisdiction_name", "period", "due_date"],
            columns="status",
            values="unit_id",
            aggfunc="count",
            fill_value=0,
        )
        .reindex(columns=list(COMPLIANCE_STATUSES), fill_value=0)
        .reset_index()
    )
    counts.columns.name = None
    due = counts.on_time + counts.late + counts.missing
    counts["on_time_rate"] = (counts.on_time / due.where(due > 0)).astype(float)
    return counts.sort_values(["jurisdiction_name", "period"]).reset_index(drop=True)


def compliance_matrix(df: pd.DataFrame) -> pd.DataFrame:
    """Units × periods of ``compliance`` rows: ``辖区, 单位`` and one column per period holding the
    unit's status in Chinese (按时报送 …); empty when there are no rows."""
    if df.empty:
        return pd.DataFrame(columns=["辖区", "单位"])
    matrix = (
        df.assign(s=df.status.map(COMPLIANCE_STATUSES))
        .pivot_table(index=["jurisdiction_name", "unit_name"], columns="period", values="s", aggfunc="first")
        .reset_index()
        .rename(columns={"jurisdiction_name": "辖区", "unit_name": "单位"})
    )
    matrix.columns.name = None
    return matrix


def compliance_view(engine: Engine, f: Filters, as_of: date) -> dict:
    """What 督办台账's 报送情况 shows: ``detail`` (``compliance``), ``summary`` (``compliance_summary``)
    and ``matrix`` (``compliance_matrix``), built together so a cached page rerun does not pivot again."""
    detail = compliance(engine, f, as_of)
    return dict(detail=detail, summary=compliance_summary(detail), matrix=compliance_matrix(detail))
