"""Figures of the 总览 page: year to date against plan and last year, and the store's state."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import Engine, and_, func, select

from data_access.facts import scoped_select, unit_scope_conditions
from data_access.filters import Filters
from data_access.schema import buyer_unit, outlet, purchase, unit_budget, warning


def data_as_of(engine: Engine) -> date | None:
    """数据截至: the latest purchase date in the store (None when it has no purchases)."""
    with engine.connect() as conn:
        value = conn.execute(select(func.max(purchase.c.purchase_date))).scalar()
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return value


def data_years(engine: Engine) -> list[int]:
    """Years with purchases, newest first."""
    with engine.connect() as conn:
        lo, hi = conn.execute(select(func.min(purchase.c.month), func.max(purchase.c.month))).one()
    if lo is None:
        return []
    return list(range(hi // 100, lo // 100 - 1, -1))


def time_progress(as_of: date) -> float:
    """时间进度: share of the calendar year elapsed at the end of ``as_of`` (0–1)."""
    start = date(as_of.year, 1, 1)
    days = (date(as_of.year + 1, 1, 1) - start).days
    return ((as_of - start).days + 1) / days


def amount_total(engine: Engine, f: Filters) -> float:
    """Sum of purchase amounts (yuan) under the filters."""
    with engine.connect() as conn:
        return float(conn.execute(scoped_select(f, func.coalesce(func.sum(purchase.c.amount), 0))).scalar())


def plan_total(engine: Engine, f: Filters) -> float:
    """Annual guidance plan (yuan) of the buyer units in scope for the filters' year."""
    q = (select(func.coalesce(func.sum(unit_budget.c.plan_amount), 0))
         .select_from(unit_budget.join(buyer_unit, buyer_unit.c.id == unit_budget.c.unit_id))
         .where(and_(unit_budget.c.year == f.year, *unit_scope_conditions(f))))
    with engine.connect() as conn:
        return float(conn.execute(q).scalar())


def overview_kpis(engine: Engine, f: Filters) -> dict:
    """The headline figures for the filters: amounts in yuan, shares as ratios, counts."""
    last = f.last_year()
    with engine.connect() as conn:
        amount, n_purchases, units = conn.execute(scoped_select(
            f, func.coalesce(func.sum(purchase.c.amount), 0), func.count(),
            func.count(func.distinct(purchase.c.buyer_unit_id)))).one()
        amount_ly = conn.execute(scoped_select(last, func.coalesce(func.sum(purchase.c.amount), 0))).scalar()
        units_total = conn.execute(select(func.count()).select_from(buyer_unit)
                                   .where(and_(True, *unit_scope_conditions(f)))).scalar()
        outlets = dict(conn.execute(select(outlet.c.status, func.count()).group_by(outlet.c.status)).all())
        warnings = dict(conn.execute(select(warning.c.level, func.count())
                                     .where(warning.c.status != "closed").group_by(warning.c.level)).all())
    plan = plan_total(engine, f)
    return dict(
        amount=float(amount), amount_last_year=float(amount_ly), purchases=int(n_purchases),
        plan=plan, plan_share=float(amount) / plan if plan else None,
        yoy=(float(amount) / float(amount_ly) - 1) if amount_ly else None,
        time_progress=time_progress(f.end),
        units_reporting=int(units), units_total=int(units_total),
        outlets_operating=int(outlets.get("operating", 0)), outlets_total=int(sum(outlets.values())),
        outlets_exiting=int(outlets.get("exit_proposed", 0)),
        open_warnings={lvl: int(warnings.get(lvl, 0)) for lvl in ("red", "orange", "yellow", "blue")},
    )


def monthly_amounts(engine: Engine, f: Filters) -> pd.DataFrame:
    """One row per month of the filters' year: ``month`` (1–12), ``amount`` and
    ``amount_last_year`` (yuan), and their running totals ``cumulative``, ``cumulative_last_year``."""
    last = f.last_year()
    with engine.connect() as conn:
        this = dict(conn.execute(scoped_select(f, purchase.c.month, func.sum(purchase.c.amount))
                                 .group_by(purchase.c.month)).all())
        prev = dict(conn.execute(scoped_select(last, purchase.c.month, func.sum(purchase.c.amount))
                                 .group_by(purchase.c.month)).all())
    months = range(f.start.month, 13) if f.start.year == f.end.year else range(1, 13)
    df = pd.DataFrame({"month": list(months)})
    df["amount"] = [float(this.get(f.year * 100 + m, 0) or 0) for m in df.month]
    df["amount_last_year"] = [float(prev.get((f.year - 1) * 100 + m, 0) or 0) for m in df.month]
    df.loc[df.month > f.end.month, "amount"] = float("nan")
    df["cumulative"] = df.amount.cumsum()
    df["cumulative_last_year"] = df.amount_last_year.cumsum()
    return df


def amount_by_channel(engine: Engine, f: Filters) -> pd.DataFrame:
    """``channel``, ``amount`` (yuan), ``purchases`` under the filters, largest first."""
    q = (scoped_select(f, purchase.c.channel, func.sum(purchase.c.amount).label("amount"),
                       func.count().label("purchases"))
         .group_by(purchase.c.channel).order_by(func.sum(purchase.c.amount).desc()))
    with engine.connect() as conn:
        df = pd.DataFrame(conn.execute(q).all(), columns=["channel", "amount", "purchases"])
    df["amount"] = df.amount.astype(float)
    return df
