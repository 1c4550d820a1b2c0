"""Figures of the 总览 page: year to date against plan and last year, and the store's state."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
from sqlalchemy import Engine, and_, func, select

from data_access.engines.rules import rules_summary, units_behind
from data_access.figures.alerts import warning_counts, warnings_since
from data_access.figures.outlets import outlet_status_counts, outlets_since
from data_access.query.facts import scoped_select, unit_scope_conditions
from data_access.query.filters import Filters
from data_access.query.periods import time_progress
from data_access.query.text import money_text, pct_text
from data_access.store.db import frame
from data_access.store.schema import buyer_unit, outlet, price_series, purchase, unit_budget, warning


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


def amount_total(engine: Engine, f: Filters) -> float:
    """Sum of purchase amounts (yuan) under the filters."""
    with engine.connect() as conn:
        return float(conn.execute(scoped_select(f, func.coalesce(func.sum(purchase.c.amount), 0))).scalar())


def plan_total(engine: Engine, f: Filters) -> float:
    """Annual guidance plan (yuan) of the buyer units in scope for the filters' year."""
    q = (
        select(func.coalesce(func.sum(unit_budget.c.plan_amount), 0))
        .select_from(unit_budget.join(buyer_unit, buyer_unit.c.id == unit_budget.c.unit_id))
        .where(and_(unit_budget.c.year == f.year, *unit_scope_conditions(f)))
    )
    with engine.connect() as conn:
        return float(conn.execute(q).scalar())


def overview_kpis(engine: Engine, f: Filters) -> dict:
    """The headline figures for the filters: amounts in yuan, shares as ratios, counts."""
    last = f.last_year()
    with engine.connect() as conn:
        amount, n_purchases, units = conn.execute(
            scoped_select(
                f,
                func.coalesce(func.sum(purchase.c.amount), 0),
                func.count(),
                func.count(func.distinct(purchase.c.buyer_unit_id)),
            )
        ).one()
        amount_ly = conn.execute(scoped_select(last, func.coalesce(func.sum(purchase.c.amount), 0))).scalar()
        units_total = conn.execute(
            select(func.count()).select_from(buyer_unit).where(and_(True, *unit_scope_conditions(f)))
        ).scalar()
        outlets = dict(conn.execute(select(outlet.c.status, func.count()).group_by(outlet.c.status)).all())
        warnings = dict(
            conn.execute(
                select(warning.c.level, func.count()).where(warning.c.status != "closed").group_by(warning.c.level)
            ).all()
        )
    plan = plan_total(engine, f)
    return dict(
        amount=float(amount),
        amount_last_year=float(amount_ly),
        purchases=int(n_purchases),
        plan=plan,
        plan_share=float(amount) / plan if plan else None,
        yoy=(float(amount) / float(amount_ly) - 1) if amount_ly else None,
        time_progress=time_progress(f.end),
        units_reporting=int(units),
        units_total=int(units_total),
        outlets_operating=int(outlets.get("operating", 0)),
        outlets_total=int(sum(outlets.values())),
        outlets_exiting=int(outlets.get("exit_proposed", 0)),
        open_warnings={lvl: int(warnings.get(lvl, 0)) for lvl in ("red", "orange", "yellow", "blue")},
    )


def monthly_amounts(engine: Engine, f: Filters) -> pd.DataFrame:
    """One row per month of the filters' year: ``month`` (1–12), ``amount`` and
    ``amount_last_year`` (yuan), and their running totals ``cumulative``, ``cumulative_last_year``."""
    last = f.last_year()
    with engine.connect() as conn:
        this = dict(
            conn.execute(
                scoped_select(f, purchase.c.month, func.sum(purchase.c.amount)).group_by(purchase.c.month)
            ).all()
        )
        prev = dict(
            conn.execute(
                scoped_select(last, purchase.c.month, func.sum(purchase.c.amount)).group_by(purchase.c.month)
            ).all()
        )
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
    q = (
        scoped_select(
            f, purchase.c.channel, func.sum(purchase.c.amount).label("amount"), func.count().label("purchases")
        )
        .group_by(purchase.c.channel)
        .order_by(func.sum(purchase.c.amount).desc())
    )
    with engine.connect() as conn:
        df = frame(conn.execute(q).all(), columns=["channel", "amount", "purchases"])
    df["amount"] = df.amount.astype(float)
    return df


# Traffic-light thresholds of the briefing (docs/briefing.md). Each is the lower bound of a
# status: at or above "green" is green, at or above "yellow" is yellow, below is red.
THRESHOLDS = {
    "plan": {"green": 0.0, "yellow": -0.10},  # 完成计划 minus 时间进度, in ratio points
    "yoy": {"green": 0.0, "yellow": -0.05},  # change on the same period last year
    "rules": {"green": 0.90, "yellow": 0.70},  # share of (rule, unit) pairs met
    "units": {"green": 0.0, "yellow": -0.10},  # minus the share of units behind
    "outlets": {"green": 0.0, "yellow": -0.10},  # minus the share of active outlets proposed for exit
}
PAGE_PROCUREMENT = "pages/procurement.py"
PAGE_WARNINGS = "pages/alerts.py"
PAGE_MAPS = "pages/outlet_map.py"


def rag(kind: str, value: float | None) -> str | None:
    """``green`` | ``yellow`` | ``red`` for ``value`` against ``THRESHOLDS[kind]`` (None when unknown)."""
    if value is None:
        return None
    t = THRESHOLDS[kind]
    return "green" if value >= t["green"] else "yellow" if value >= t["yellow"] else "red"


def warning_rag(counts: dict[str, int], monitored: bool = True) -> str | None:
    """Red when a red warning is open, yellow when an orange or yellow one is, else green — and None
    (暂无数据) when no price series is monitored at all: no warning then means nothing was judged."""
    if counts.get("red"):
        return "red"
    if counts.get("orange") or counts.get("yellow"):
        return "yellow"
    return "green" if monitored else None


def monitored_series(engine: Engine) -> int:
    """How many price series the store monitors (0: the warning card has nothing to judge)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(price_series)).scalar())


def headline_status(cards: list[dict]) -> tuple[str, str | None]:
    """The briefing's headline: (text, the worst card's status); never 正常 for what has nothing to judge."""
    statuses = [c["status"] for c in cards]
    if "red" in statuses:
        return "有指标落后", "red"
    if "yellow" in statuses:
        return "有指标需关注", "yellow"
    unknown = statuses.count(None)
    if unknown == len(statuses):
        return "暂无数据：请先导入基础数据与采购数据", None
    if unknown:
        return f"已有数据的指标正常（{unknown} 项暂无数据）", "green"
    return "各项指标正常", "green"


def briefing_cards(engine: Engine, f: Filters) -> list[dict]:
    """The briefing's headline cards, in reading order. Each: ``key``, ``label``, ``value`` (text),
    ``detail`` (text), ``status`` (green/yellow/red/None), ``rule`` (the threshold in words),
    ``page`` (the page behind it), ``load`` ((url_path, form) of the page and form that load what it
    judges; url_path None: no form yet) and the raw ``figures`` it was made from."""

    k = overview_kpis(engine, f)
    rules = rules_summary(engine, f, f.end)
    warnings = {lvl: int(warning_counts(engine, f).get(lvl, 0)) for lvl in ("red", "orange", "yellow", "blue")}
    outlets = {s: int(n) for s, n in outlet_status_counts(engine, f).items()}
    gap = k["plan_share"] - k["time_progress"] if k["plan_share"] is not None else None
    met_share = rules["met"] / rules["total"] if rules["total"] else None
    subjects = k["units_total"] or 0
    behind_share = rules["units_behind"] / subjects if subjects else None
    active = outlets.get("operating", 0) + outlets.get("suspended", 0) + outlets.get("exit_proposed", 0)
    exiting = outlets.get("exit_proposed", 0)
    level_text = "、".join(
        f"{name}{warnings[lvl]}" for lvl, name in (("red", "红"), ("orange", "橙"), ("yellow", "黄"), ("blue", "蓝"))
    )
    return [
        dict(
            key="amount",
            load=("reporting", "purchases"),
            label="年度累计采购额",
            value=money_text(k["amount"]),
            detail=f"上年同期 {money_text(k['amount_last_year'])}，同比 {pct_text(k['yoy'], signed=True)}",
            # Nothing bought this year and last: nothing to judge, not "green".
            status=rag("yoy", k["yoy"]) if k["amount"] or k["amount_last_year"] else None,
            rule="同比≥0 绿；-5%～0 黄；低于-5% 红（不低于上年）",
            page=PAGE_PROCUREMENT,
            figures=dict(amount=k["amount"], amount_last_year=k["amount_last_year"], yoy=k["yoy"]),
        ),
        dict(
            key="plan",
            load=("registers", "budgets"),
            label="完成年度计划 / 时间进度",
            value=f"{pct_text(k['plan_share'])} / {pct_text(k['time_progress'])}",
            detail=(
                f"年度指导计划 {money_text(k['plan'])}，较时间进度 {gap * 100:+.1f} 个百分点"
                if gap is not None
                else "所选范围没有年度指导计划"
            ),
            status=rag("plan", gap),
            rule="不低于时间进度 绿；落后10个百分点以内 黄；落后更多 红",
            page=PAGE_PROCUREMENT,
            figures=dict(plan=k["plan"], plan_share=k["plan_share"], time_progress=k["time_progress"]),
        ),
        dict(
            key="rules",
            load=("registers", "units"),
            label="政策规则达标",
            value=f"{rules['met']} / {rules['total']}" if rules["total"] else "暂无数据",
            detail=f"达标率 {pct_text(met_share)}（规则 × 适用单位）",
            status=rag("rules", met_share),
            rule="达标率≥90% 绿；70%～90% 黄；低于70% 红",
            page=PAGE_PROCUREMENT,
            figures=dict(met=rules["met"], total=rules["total"]),
        ),
        dict(
            key="units",
            load=("registers", "units"),
            label="落后单位",
            value=f"{rules['units_behind']} 个" if rules["total"] else "暂无数据",
            detail=f"占单位总数 {pct_text(behind_share)}（共 {subjects} 个，本年有采购 {k['units_reporting']} 个）",
            status=rag("units", -behind_share if behind_share is not None else None),
            rule="无落后单位 绿；落后单位占比≤10% 黄；更多 红",
            page=PAGE_PROCUREMENT,
            figures=dict(units_behind=rules["units_behind"], units_total=subjects),
        ),
        dict(
            key="warnings",
            load=(None, "prices"),
            label="未关闭滞销预警",
            value=f"{sum(warnings.values())} 条",
            detail=level_text,
            status=warning_rag(warnings, monitored_series(engine) > 0),
            rule="有红色预警 红；有橙色或黄色预警 黄；仅蓝色或无 绿；未监测任何价格序列 暂无数据",
            page=PAGE_WARNINGS,
            figures=warnings,
        ),
        dict(
            key="outlets",
            load=("registers", "outlets"),
            label="运营中网点 / 拟退出",
            value=f"{outlets.get('operating', 0)} / {exiting}",
            detail=f"五专网点与示范点共 {sum(outlets.values())} 个，已退出 {outlets.get('exited', 0)} 个",
            status=rag("outlets", -exiting / active if active else None),
            rule="无拟退出 绿；拟退出占在册网点≤10% 黄；更多 红",
            page=PAGE_MAPS,
            figures=outlets,
        ),
    ]


def changes_since(engine: Engine, f: Filters, since: date) -> dict[str, pd.DataFrame]:
    """What changed between ``since`` and the filters' end: ``new_warnings``, ``fell_behind`` and
    ``caught_up`` (units, columns of ``rules.units_behind``), ``new_outlets``."""

    now = units_behind(engine, f, f.end)
    start = f.start if f.start <= since and f.start.year == since.year else date(since.year, 1, 1)
    before_f = replace(f, start=start, end=since)
    then = units_behind(engine, before_f, since) if since < f.end else now
    return dict(
        new_warnings=warnings_since(engine, since),
        fell_behind=now[~now.unit_id.isin(then.unit_id)].reset_index(drop=True),
        caught_up=then[~then.unit_id.isin(now.unit_id)].reset_index(drop=True),
        new_outlets=outlets_since(engine, since),
    )
