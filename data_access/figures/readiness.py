"""上线准备 — what each page needs from the store and what is there: one count per register (and N of
M where there is a whole to compare with), so an empty or half-loaded store says so instead of
looking judged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, and_, exists, func, or_, select, true

from data_access.query.facts import scoped_select
from data_access.query.filters import Filters, in_region
from data_access.store.schema import (
    app_user,
    buyer_unit,
    meeting,
    outlet,
    pairing,
    policy_rule,
    price_observation,
    price_series,
    product,
    purchase,
    supplier,
    unit_budget,
)
from data_access.trust.auth import ROLES

COMPLETE, PARTIAL, MISSING = "齐备", "部分", "缺失"
BUDGET_KINDS = ("budget_unit", "union")
"""The buyer kinds whose rules read a yearly budget (预留份额, 工会会员与慰问品经费)."""


@dataclass(frozen=True)
class Need:
    """One thing the pages need: ``key``, its Chinese ``label``, the ``pages`` (registry url_paths)
    that read it, the upload ``form`` that loads it (a key of ``desks.ingest`` REGISTERS/FORMS, or
    None), the page that loads it (``load_page``), and ``how`` it is loaded when no form exists."""

    key: str
    label: str
    pages: tuple[str, ...]
    form: str | None
    load_page: str | None
    how: str


NEEDS: tuple[Need, ...] = (
    Need(
        "units",
        "单位名录",
        ("overview", "procurement", "drilldown", "ledger", "reporting", "trends"),
        "units",
        "registers",
        "基础数据 → 单位名录：下载模板填写后导入",
    ),
    Need(
        "budgets",
        "本年度预算与预留份额",
        ("overview", "procurement", "ledger", "trends"),
        "budgets",
        "registers",
        "基础数据 → 年度预算与预留份额（报送单位可填报本单位）",
    ),
    Need(
        "suppliers",
        "供应商",
        ("catalogue", "reporting"),
        "suppliers",
        "registers",
        "基础数据 → 供应商名录",
    ),
    Need("outlets", "网点", ("overview", "outlet_map", "ledger"), "outlets", "registers", "基础数据 → 网点名录"),
    Need(
        "products",
        "产品名库",
        ("catalogue", "warnings", "trends"),
        "products",
        "registers",
        "基础数据 → 产品名库（先导入其中提到的供应商）",
    ),
    Need(
        "prices",
        "价格监测序列",
        ("warnings", "overview", "catalogue", "ledger"),
        "prices",
        "reporting",
        "数据报送 → 价格监测数据（长表或按日期一行、每个市场或产品一列的宽表；元/斤、元/吨自动换算）",
    ),
    Need(
        "pairings",
        "结对关系",
        ("drilldown", "procurement", "warnings"),
        "pairings",
        "registers",
        "初始化（python -m data_access init）载入政策文件中的结对；基础数据 → 结对关系补充本地结对",
    ),
    Need(
        "rules",
        "在用政策规则",
        ("overview", "procurement", "ledger"),
        "rules",
        "registers",
        "初始化（python -m data_access init）载入政策文件种子中的规则；基础数据 → 政策规则：新辖区的规则、"
        "改变的阈值（按生效年度分版本）",
    ),
    Need("meetings", "联席会议", ("ledger",), "meetings", "registers", "基础数据 → 联席会议"),
    Need(
        "users",
        "用户",
        (),
        None,
        None,
        "命令行：python -m data_access user add 用户名 --role admin|leader|desk|analyst|reporter；"
        "演示库未建用户时所有人以演示用户进入；正式库未建用户时打开看板显示「首次设置」（需服务器日志中的一次性口令）",
    ),
    Need(
        "purchases",
        "本年度采购记录",
        ("overview", "procurement", "drilldown", "trends", "outlet_map", "catalogue"),
        "purchases",
        "reporting",
        "数据报送 → 消费帮扶采购台账（或 python -m data_access import 台账.xlsx --form purchases）",
    ),
)
BY_KEY = {n.key: n for n in NEEDS}


def status_of(count: int, covered: tuple[int, int] | None = None) -> str:
    """齐备 / 部分 / 缺失: nothing there is 缺失; fewer than the whole (``covered`` = (N, M)) is 部分."""
    if count == 0:
        return MISSING
    if covered is not None and covered[0] < covered[1]:
        return PARTIAL
    return COMPLETE


def _count(conn, table, *where) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(and_(true(), *where))).scalar())


def _in_force(year: int, first, last):
    """``first``…``last`` (years, either may be NULL: open) covers ``year``."""
    return and_(or_(first.is_(None), first <= year), or_(last.is_(None), last >= year))


def _rule_coverage(conn, year: int) -> tuple[int, int]:
    """(active units covered by a rule in force in ``year``, active units): a unit is covered when
    its jurisdiction lies inside a rule's and the rule's subject kind is its kind (or any unit)."""
    rules = conn.execute(
        select(policy_rule.c.jurisdiction_code, policy_rule.c.subject_kind)
        .where(_in_force(year, policy_rule.c.year_from, policy_rule.c.year_to))
        .distinct()
    ).all()
    covers = [
        and_(
            in_region(buyer_unit.c.jurisdiction_code, code),
            true() if kind == "any_unit" else buyer_unit.c.kind == kind,
        )
        for code, kind in rules
        if kind != "origin_county"
    ]
    units = _count(conn, buyer_unit, buyer_unit.c.active.is_(True))
    if not covers:
        return 0, units
    return _count(conn, buyer_unit, buyer_unit.c.active.is_(True), or_(*covers)), units


def readiness(engine: Engine, year: int) -> list[dict]:
    """One dict per ``NEEDS`` item, in its order: ``key``, ``label``, ``count`` (present),
    ``covered`` ((N, M) or None), ``status`` (齐备/部分/缺失), ``detail`` (the figures in words),
    ``pages``, ``form``, ``load_page``, ``how``. Counts only; ``year`` is the year judged."""
    start = date(year, 1, 1)
    year_filters = Filters(start=start, end=date(year, 12, 31))
    active = buyer_unit.c.active.is_(True)
    with engine.connect() as conn:
        units = _count(conn, buyer_unit, active)
        inactive = _count(conn, buyer_unit, buyer_unit.c.active.is_(False))
        budget_subjects = _count(conn, buyer_unit, active, buyer_unit.c.kind.in_(BUDGET_KINDS))
        budgeted = int(
            conn.execute(
                select(func.count(func.distinct(unit_budget.c.unit_id)))
                .select_from(unit_budget.join(buyer_unit, buyer_unit.c.id == unit_budget.c.unit_id))
                .where(unit_budget.c.year == year, active, buyer_unit.c.kind.in_(BUDGET_KINDS))
            ).scalar()
        )
        budget_rows = _count(conn, unit_budget, unit_budget.c.year == year)
        suppliers = _count(conn, supplier)
        outlets = dict(conn.execute(select(outlet.c.status, func.count()).group_by(outlet.c.status)).all())
        products = _count(conn, product, product.c.status != "exited")
        series = _count(conn, price_series)
        series_this_year = _count(
            conn,
            price_series,
            exists().where(price_observation.c.series_id == price_series.c.id, price_observation.c.obs_date >= start),
        )
        pairings = _count(conn, pairing, _in_force(year, pairing.c.since_year, pairing.c.until_year))
        rules = _count(conn, policy_rule, _in_force(year, policy_rule.c.year_from, policy_rule.c.year_to))
        covered_units, rule_units = _rule_coverage(conn, year)
        meetings = _count(conn, meeting)
        last_meeting = conn.execute(select(func.max(meeting.c.held_on))).scalar()
        users = dict(
            conn.execute(
                select(app_user.c.role, func.count()).where(app_user.c.active.is_(True)).group_by(app_user.c.role)
            ).all()
        )
        purchases, buyers = conn.execute(
            scoped_select(year_filters, func.count(), func.count(func.distinct(purchase.c.buyer_unit_id)))
        ).one()
    outlets_active = sum(n for s, n in outlets.items() if s != "exited")
    n_users = sum(users.values())
    figures = {
        "units": (units, None, f"在册 {units:,} 个" + (f"，停用 {inactive:,} 个" if inactive else "")),
        "budgets": (
            budgeted,
            (budgeted, budget_subjects) if budget_subjects else None,
            f"{year}年已填报 {budgeted:,} / {budget_subjects:,} 个在册预算单位与工会（预算行 {budget_rows:,} 条）"
            if budget_subjects
            else "尚无在册的预算单位或工会：先导入单位名录",
        ),
        "suppliers": (suppliers, None, f"{suppliers:,} 家"),
        "outlets": (
            outlets_active,
            None,
            f"在册 {outlets_active:,} 个（运营 {outlets.get('operating', 0):,}，暂停 {outlets.get('suspended', 0):,}，"
            f"拟退出 {outlets.get('exit_proposed', 0):,}）；已退出 {outlets.get('exited', 0):,} 个",
        ),
        "products": (products, None, f"在库 {products:,} 种（不含已退出）"),
        "prices": (
            series,
            (series_this_year, series) if series else None,
            f"{series:,} 条序列，其中 {series_this_year:,} 条有 {year} 年观测" if series else "未监测任何价格序列",
        ),
        "pairings": (pairings, None, f"{year}年在结对 {pairings:,} 对"),
        "rules": (
            rules,
            (covered_units, rule_units) if rule_units else None,
            f"{year}年有效规则 {rules:,} 条，覆盖 {covered_units:,} / {rule_units:,} 个在册单位"
            if rule_units
            else f"{year}年有效规则 {rules:,} 条；尚无在册单位可评价",
        ),
        "meetings": (
            meetings,
            None,
            f"已登记 {meetings:,} 次，最近一次 {last_meeting}" if meetings else "尚未登记联席会议",
        ),
        "users": (
            n_users,
            None,
            "启用 " + "、".join(f"{ROLES.get(role, role)} {n}" for role, n in sorted(users.items()))
            if n_users
            else "尚未创建用户",
        ),
        "purchases": (
            int(purchases),
            (int(buyers), units) if units and purchases else None,
            f"{year}年 {int(purchases):,} 笔，{int(buyers):,} / {units:,} 个在册单位有采购记录"
            if purchases
            else f"{year}年暂无采购记录",
        ),
    }
    items = []
    for need in NEEDS:
        count, covered, detail = figures[need.key]
        items.append(
            dict(
                key=need.key,
                label=need.label,
                count=count,
                covered=covered,
                status=status_of(count, covered),
                detail=detail,
                pages=need.pages,
                form=need.form,
                load_page=need.load_page,
                how=need.how,
            )
        )
    return items


def missing(engine: Engine, year: int) -> dict[str, bool]:
    """``key`` → True when the store holds nothing of it (status 缺失): what a page checks before it
    says a figure was judged."""
    return {item["key"]: item["status"] == MISSING for item in readiness(engine, year)}
