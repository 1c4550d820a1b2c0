"""督办台账: every item the 专班 follow up, kept with its history, and the joint meetings.

Four sources feed the ledger (seed 000 八（四）台账化、项目化、数字化、责任化; seed 001 九（一）
six 专班): open 滞销 warnings, units behind a policy rule, outlets proposed for exit, and
reports overdue under a reporting rule. ``sync_ledger`` turns what the sources say on a date
into items keyed by (source kind, source key): it opens new items, updates changed ones, closes
those whose cause is gone (``resolved``) and reopens them if the cause returns. Running it
twice changes nothing. Every change appends a ``supervision_event``; events are never edited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import Engine, and_, func, select

from data_access.engines.rules import evaluate
from data_access.figures.alerts import open_warnings
from data_access.figures.compliance import (
    REPORT_METRICS,
    compliance,
    due_periods,
    reporting_rules,
)
from data_access.figures.outlets import exit_candidates
from data_access.query.filters import Filters, year_filters
from data_access.query.periods import as_date
from data_access.reference.labels import WARNING_LEVELS
from data_access.reference.seeds import TASK_GROUPS
from data_access.store.db import frame
from data_access.store.schema import (
    meeting,
    region,
    supervision_event,
    supervision_item,
    task_group,
)

__all__ = [
    "CLOSED_REASONS",
    "DUE_DAYS",
    "ITEM_KINDS",
    "ITEM_STATUSES",
    "SEVERITIES",
    "group_summary",
    "group_table",
    "item_history",
    "ledger_candidates",
    "ledger_items",
    "ledger_table",
    "ledger_view",
    "meetings",
    "since_meeting",
    "since_meeting_view",
]

ITEM_KINDS = {"warning": "滞销预警", "rule": "规则落后", "outlet": "网点拟退出", "report": "逾期未报"}
ITEM_STATUSES = {"open": "待办", "in_progress": "推进中", "closed": "已办结"}
SEVERITIES = {"red": "红", "orange": "橙", "yellow": "黄", "blue": "蓝"}
_SEVERITY_RANK = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}
# 办结时限: days from the date an item enters the ledger, by source and severity.
DUE_DAYS = {
    "warning": {"red": 7, "orange": 14, "yellow": 21, "blue": 30},
    "rule": {"red": 30, "orange": 45, "yellow": 60, "blue": 60},
    "outlet": {"red": 30, "orange": 30, "yellow": 30, "blue": 30},
    "report": {"red": 10, "orange": 10, "yellow": 10, "blue": 10},
}
# Default 专班 of each source (seed 001 九（一）); a warning keeps the 专班 its desk assigned.
DEFAULT_OWNER = {"warning": "distribution", "outlet": "certification_price"}
UNIT_OWNER = {"budget_unit": "procurement", "union": "procurement"}
SYNC_ACTOR = "台账同步"
ACTION_LABELS = {
    "opened": "列入台账",
    "reopened": "重新列入",
    "updated": "来源更新",
    "resolved": "来源消除自动销号",
    "status": "状态变更",
    "note": "督办备注",
    "assign": "调整专班",
    "due": "调整时限",
}


@dataclass(frozen=True)
class _Source:
    """What one source says on a date: candidate items, and which keys it speaks for."""

    items: list[dict]
    covers: Callable[[str], bool]


def _warnings(engine: Engine, as_of: date) -> _Source:
    df = open_warnings(engine, Filters(start=date(2000, 1, 1), end=as_of))
    items = []
    for r in df.itertuples():
        # pandas gives NaN, not None, for a warning no desk has assigned yet
        owner = r.owner_group if isinstance(r.owner_group, str) and r.owner_group else None
        items.append(
            dict(
                source_key=str(r.id),
                title=f"{r.product_name}（{r.region_name}）{WARNING_LEVELS[r.level]}滞销预警",
                detail=r.reason,
                severity=r.level,
                region_code=r.region_code,
                unit_id=None,
                owner_group=owner or DEFAULT_OWNER["warning"],
                owner_from_source=owner is not None,
            )
        )
    return _Source(items, lambda key: True)


def _rules(engine: Engine, as_of: date) -> _Source:
    df = evaluate(engine, year_filters(as_of.year, as_of), as_of)
    df = df[(df.status != "green") & ~df.metric.isin(REPORT_METRICS)]
    items = []
    for r in df.itertuples():
        unit = None if pd.isna(r.unit_id) else int(r.unit_id)
        gap = f"，差额 {r.gap_yuan / 1e4:,.1f} 万元" if pd.notna(r.gap_yuan) and r.gap_yuan > 0 else ""
        items.append(
            dict(
                source_key=f"{unit if unit is not None else r.region_code}:{r.rule_code}",
                title=f"{r.unit_name}：{r.rule_title}",
                detail=f"{r.clause}{gap}",
                severity=r.status,
                region_code=r.region_code,
                unit_id=unit,
                owner_group=UNIT_OWNER.get(r.subject_kind, "cooperation"),
                owner_from_source=False,
            )
        )
    return _Source(items, lambda key: True)


# What an outlet item asks of the desk, by the outlet's status (an operating one is there for its sales).
OUTLET_TITLES = {"exit_proposed": "拟退出", "suspended": "暂停运营，待定去留", "operating": "连续低销，列为退出候选"}


def _outlets(engine: Engine, as_of: date) -> _Source:
    df = exit_candidates(engine, Filters(start=date(as_of.year, 1, 1), end=as_of), as_of)
    items = [
        dict(
            source_key=str(r.id),
            title=f"{r.name}：{OUTLET_TITLES.get(r.status, '拟动态退出')}",
            detail=r.reason,
            severity="orange",
            region_code=r.region_code,
            unit_id=None,
            owner_group=DEFAULT_OWNER["outlet"],
            owner_from_source=False,
        )
        for r in df.itertuples()
    ]
    return _Source(items, lambda key: True)


def _reports(engine: Engine, as_of: date) -> _Source:
    window = Filters(start=date(as_of.year, 1, 1), end=as_of)
    df = compliance(engine, window, as_of)
    df = df[df.status == "missing"]
    items = [
        dict(
            source_key=f"{r.unit_id}:{r.period}",
            title=f"{r.unit_name}：{r.period} 逾期未报",
            detail=f"应于 {r.due_date:%Y-%m-%d} 前报送；{r.clause}",
            severity="orange" if r.days_late > 30 else "yellow",
            region_code=r.jurisdiction_code,
            unit_id=int(r.unit_id),
            owner_group=UNIT_OWNER.get(r.unit_kind, "cooperation"),
            owner_from_source=False,
        )
        for r in df.itertuples()
    ]
    periods = {
        p
        for rule in reporting_rules(engine).itertuples()
        for p, _ in due_periods(rule.metric, rule.due_day, window.start, window.end)
    }
    return _Source(items, lambda key: key.split(":", 1)[1] in periods)


SOURCES: dict[str, Callable[[Engine, date], _Source]] = {
    "warning": _warnings,
    "rule": _rules,
    "outlet": _outlets,
    "report": _reports,
}


def ledger_candidates(engine: Engine, as_of: date) -> pd.DataFrame:
    """What the sources put on the ledger on ``as_of``: ``source_kind, source_key, title, detail,
    severity, region_code, unit_id, owner_group`` (no write)."""
    rows = [dict(source_kind=kind, **item) for kind, fn in SOURCES.items() for item in fn(engine, as_of).items]
    cols = ["source_kind", "source_key", "title", "detail", "severity", "region_code", "unit_id", "owner_group"]
    return pd.DataFrame(rows, columns=cols + ["owner_from_source"])[cols]


def _item_select():
    """Items with their 专班 and region names and their latest event (``last_*``)."""
    latest = (
        select(supervision_event.c.item_id, func.max(supervision_event.c.id).label("event_id"))
        .group_by(supervision_event.c.item_id)
        .subquery("latest_event")
    )
    last = supervision_event.alias("last_event")
    return select(
        supervision_item,
        task_group.c.name.label("owner_name"),
        region.c.name.label("region_name"),
        last.c.on_date.label("last_on"),
        last.c.actor.label("last_actor"),
        last.c.action.label("last_action"),
        last.c.note.label("last_note"),
    ).select_from(
        supervision_item.join(task_group, task_group.c.code == supervision_item.c.owner_group)
        .outerjoin(region, region.c.code == supervision_item.c.region_code)
        .outerjoin(latest, latest.c.item_id == supervision_item.c.id)
        .outerjoin(last, last.c.id == latest.c.event_id)
    )


def _items_frame(conn, q, as_of: date) -> pd.DataFrame:
    result = conn.execute(q)
    df = frame(result.all(), columns=list(result.keys()))
    for col in ("due_date", "opened_on", "closed_on", "last_on"):
        df[col] = [as_date(v) for v in df[col]]
    df["overdue"] = (df.status != "closed") & (df.due_date < as_of)
    df["days_overdue"] = [(as_of - d).days if o else 0 for d, o in zip(df.due_date, df.overdue, strict=True)]
    df["kind_label"] = df.source_kind.map(ITEM_KINDS)
    df["status_label"] = df.status.map(ITEM_STATUSES)
    df["_rank"] = df.severity.map(_SEVERITY_RANK)
    return (
        df.sort_values(["overdue", "_rank", "due_date", "id"], ascending=[False, True, True, True])
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


def ledger_items(
    engine: Engine,
    as_of: date,
    owner_group: str | None = None,
    kinds: tuple[str, ...] = (),
    include_closed: bool = False,
) -> pd.DataFrame:
    """Ledger items: every column of supervision_item plus ``owner_name, region_name, overdue,
    days_overdue`` (as seen on ``as_of``) ``, kind_label, status_label``; overdue first, then
    severity and due date."""
    conds = []
    if owner_group:
        conds.append(supervision_item.c.owner_group == owner_group)
    if kinds:
        conds.append(supervision_item.c.source_kind.in_(list(kinds)))
    if not include_closed:
        conds.append(supervision_item.c.status != "closed")
    with engine.connect() as conn:
        return _items_frame(conn, _item_select().where(and_(True, *conds)), as_of)


def item_history(engine: Engine, item_id: int) -> pd.DataFrame:
    """One item's events, oldest first: ``at, on_date, actor, action, action_label, from_status,
    to_status, note``."""
    q = (
        select(
            supervision_event.c.at,
            supervision_event.c.on_date,
            supervision_event.c.actor,
            supervision_event.c.action,
            supervision_event.c.from_status,
            supervision_event.c.to_status,
            supervision_event.c.note,
        )
        .where(supervision_event.c.item_id == item_id)
        .order_by(supervision_event.c.id)
    )
    with engine.connect() as conn:
        result = conn.execute(q)
        df = pd.DataFrame(result.all(), columns=list(result.keys()))
    df["on_date"] = [as_date(v) for v in df.on_date]
    df.insert(4, "action_label", df.action.map(ACTION_LABELS))
    return df


def meetings(engine: Engine) -> pd.DataFrame:
    """Joint meetings, latest first: ``id, held_on, title, note``."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(meeting.c.id, meeting.c.held_on, meeting.c.title, meeting.c.note).order_by(meeting.c.held_on.desc())
        ).all()
    df = frame(rows, columns=["id", "held_on", "title", "note"])
    df["held_on"] = [as_date(v) for v in df.held_on]
    return df


def since_meeting(
    engine: Engine, since: date, as_of: date, owner_group: str | None = None, kinds: tuple[str, ...] = ()
) -> dict:
    """What changed after the meeting of ``since`` up to ``as_of``: DataFrames like ``ledger_items``
    under ``new`` (entered or re-entered the ledger), ``closed`` (closed since), ``overdue`` (open
    and past due on ``as_of``, with ``newly_overdue`` when the due date fell after the meeting),
    ``progress`` (open items a desk acted on since)."""
    entered = select(supervision_event.c.item_id).where(
        supervision_event.c.action.in_(["opened", "reopened"]), supervision_event.c.on_date > since
    )
    acted = select(supervision_event.c.item_id).where(
        supervision_event.c.actor != SYNC_ACTOR, supervision_event.c.on_date > since
    )
    owner = [supervision_item.c.owner_group == owner_group] if owner_group else []
    if kinds:
        owner.append(supervision_item.c.source_kind.in_(list(kinds)))
    with engine.connect() as conn:
        new = _items_frame(conn, _item_select().where(supervision_item.c.id.in_(entered), *owner), as_of)
        closed = _items_frame(
            conn,
            _item_select().where(supervision_item.c.status == "closed", supervision_item.c.closed_on > since, *owner),
            as_of,
        )
        overdue = _items_frame(
            conn,
            _item_select().where(supervision_item.c.status != "closed", supervision_item.c.due_date < as_of, *owner),
            as_of,
        )
        progress = _items_frame(
            conn,
            _item_select().where(supervision_item.c.id.in_(acted), supervision_item.c.status != "closed", *owner),
            as_of,
        )
    overdue["newly_overdue"] = [d >= since for d in overdue.due_date]
    return dict(new=new, closed=closed, overdue=overdue, progress=progress)


CLOSED_REASONS = {"done": "专班办结", "resolved": "来源消除自动销号"}


def _latest(items: pd.DataFrame) -> list[str]:
    out = []
    for on, actor, action, note in zip(
        items.last_on, items.last_actor, items.last_action, items.last_note, strict=True
    ):
        if not isinstance(action, str):
            out.append("")
            continue
        text = f"{on:%Y-%m-%d} {actor} {ACTION_LABELS.get(action, action)}"
        if isinstance(note, str) and note and action not in ("opened", "reopened", "resolved"):
            text += f"：{note}"
        out.append(text)
    return out


def ledger_table(items: pd.DataFrame) -> pd.DataFrame:
    """Items as the desks read them (and the meeting pack holds them): what to raise (事项, 级别),
    with whom (责任专班), how late, why, and the latest change (最近动态); Chinese headers."""
    return pd.DataFrame(
        {
            "编号": items.id,
            "级别": items.severity.map(SEVERITIES),
            "来源": items.kind_label,
            "事项": items.title,
            "责任专班": items.owner_name,
            "状态": items.status_label,
            "办结时限": items.due_date,
            "逾期天数": items.days_overdue,
            "最近动态": _latest(items),
            "原因": items.detail,
            "列入日期": items.opened_on,
            "办结日期": items.closed_on,
            "办结方式": items.closed_reason.map(CLOSED_REASONS).fillna(""),
            "督办备注": items.note.fillna(""),
        }
    )


def ledger_view(engine: Engine, as_of: date, owner_group: str | None = None, kinds: tuple[str, ...] = ()) -> dict:
    """What 督办台账 lists: ``items`` (``ledger_items``) and ``table`` (their ``ledger_table``), built
    together so a cached page rerun does not rebuild the table."""
    items = ledger_items(engine, as_of, owner_group, kinds)
    return dict(items=items, table=ledger_table(items))


def since_meeting_view(
    engine: Engine, since: date, as_of: date, owner_group: str | None = None, kinds: tuple[str, ...] = ()
) -> dict:
    """``since_meeting`` with each frame's ``ledger_table`` beside it (``new_table`` …; the overdue
    one with 会后到期), built together so a cached page rerun does not rebuild them."""
    changed = since_meeting(engine, since, as_of, owner_group, kinds)
    out = dict(changed)
    for key, frame_ in changed.items():
        table = ledger_table(frame_)
        if key == "overdue":
            table.insert(1, "会后到期", frame_.newly_overdue.map({True: "是", False: ""}).to_numpy())
        out[f"{key}_table"] = table
    return out


def group_summary(engine: Engine, since: date | None, as_of: date, kinds: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per 专班 (all six, in the seed's order): ``owner_group, owner_name, open, overdue, red``
    (open red items) ``, max_days_overdue`` and, with a meeting date, ``new, closed, progress`` since it."""
    items = ledger_items(engine, as_of, kinds=kinds)
    changed = since_meeting(engine, since, as_of, kinds=kinds) if since is not None else None
    rows = []
    with engine.connect() as conn:
        groups = conn.execute(select(task_group.c.code, task_group.c.name)).all()
    order = {code: i for i, (code, *_rest) in enumerate(TASK_GROUPS)}
    for code, name in sorted(groups, key=lambda g: order.get(g[0], len(order))):
        mine = items[items.owner_group == code]
        row = dict(
            owner_group=code,
            owner_name=name,
            open=len(mine),
            overdue=int(mine.overdue.sum()),
            red=int((mine.severity == "red").sum()),
            max_days_overdue=int(mine.days_overdue.max()) if len(mine) else 0,
        )
        if changed is not None:
            row.update({k: int((changed[k].owner_group == code).sum()) for k in ("new", "closed", "progress")})
        rows.append(row)
    return pd.DataFrame(rows)


def group_table(summary: pd.DataFrame) -> pd.DataFrame:
    """``group_summary`` with Chinese headers, as the page and the meeting pack show it."""
    names = {
        "owner_name": "责任专班",
        "open": "在办",
        "overdue": "逾期",
        "red": "红色在办",
        "max_days_overdue": "最长逾期（天）",
        "new": "会后新增",
        "closed": "会后办结",
        "progress": "会后有进展",
    }
    return summary[[c for c in names if c in summary]].rename(columns=names)
