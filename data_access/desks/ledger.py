"""督办台账 writes: the sync that keeps the ledger in line with its sources, a desk's action on an
item, and the joint meetings. Every change appends a ``supervision_event`` (never edited) and an
audit row in the same transaction; each write takes the ``Principal`` and checks its role here.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Engine, insert, select, update

from data_access.figures.ledger import (
    ACTION_LABELS,
    DUE_DAYS,
    ITEM_STATUSES,
    SEVERITIES,
    SOURCES,
    SYNC_ACTOR,
)
from data_access.query.periods import as_date
from data_access.store.schema import meeting, supervision_event, supervision_item, task_group
from data_access.trust.auth import DESK_ROLES, Principal, require_role, write_audit

__all__ = ["StaleItem", "add_meeting", "sync_ledger", "update_item"]

_TRACKED = {"title": "事项", "severity": "级别", "region_code": "地区", "unit_id": "单位"}


class StaleItem(RuntimeError):
    """The item changed since it was read (another desk officer acted first)."""


def _event(
    conn,
    item_id: int,
    at: datetime,
    on_date: date,
    actor: str,
    action: str,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
) -> None:
    conn.execute(
        insert(supervision_event).values(
            item_id=item_id,
            at=at,
            on_date=on_date,
            actor=actor,
            action=action,
            from_status=from_status,
            to_status=to_status,
            note=note,
        )
    )


def sync_ledger(
    engine: Engine,
    principal: Principal,
    as_of: date,
    *,
    kinds: tuple[str, ...] | None = None,
    now: datetime | None = None,
) -> dict:
    """Bring the ledger in line with the sources on ``as_of``, in one transaction.

    Returns counts ``opened, reopened, updated, resolved``. Idempotent: a second run on the same
    data changes nothing. Items a desk closed stay closed; its owner and due date stay its own.
    Desks and admins may run it.
    """
    require_role(principal, DESK_ROLES, "同步督办台账")
    now = now or datetime.now()
    kinds = tuple(kinds or SOURCES)
    sources = {kind: SOURCES[kind](engine, as_of) for kind in kinds}
    counts = dict(opened=0, reopened=0, updated=0, resolved=0)
    with engine.begin() as conn:
        existing = {
            (r.source_kind, r.source_key): r
            for r in conn.execute(select(supervision_item).where(supervision_item.c.source_kind.in_(kinds))).all()
        }
        seen = set()
        for kind, source in sources.items():
            for c in source.items:
                key = (kind, c["source_key"])
                seen.add(key)
                due = as_of + timedelta(days=DUE_DAYS[kind][c["severity"]])
                ex = existing.get(key)
                if ex is None:
                    item_id = conn.execute(
                        insert(supervision_item)
                        .values(
                            source_kind=kind,
                            source_key=c["source_key"],
                            title=c["title"],
                            detail=c["detail"],
                            severity=c["severity"],
                            region_code=c["region_code"],
                            unit_id=c["unit_id"],
                            owner_group=c["owner_group"],
                            due_date=due,
                            status="open",
                            opened_on=as_of,
                            version=1,
                            updated_at=now,
                        )
                        .returning(supervision_item.c.id)
                    ).scalar_one()
                    _event(conn, item_id, now, as_of, SYNC_ACTOR, "opened", None, "open", c["detail"])
                    counts["opened"] += 1
                    continue
                if ex.status == "closed":
                    if ex.closed_reason != "resolved":
                        continue  # a desk closed it: its decision stands
                    conn.execute(
                        update(supervision_item)
                        .where(supervision_item.c.id == ex.id)
                        .values(
                            status="open",
                            closed_reason=None,
                            closed_on=None,
                            due_date=due,
                            version=ex.version + 1,
                            updated_at=now,
                            detail=c["detail"],
                            **{f: c[f] for f in _TRACKED},
                        )
                    )
                    _event(conn, ex.id, now, as_of, SYNC_ACTOR, "reopened", "closed", "open", c["detail"])
                    counts["reopened"] += 1
                    continue
                changes = {f: c[f] for f in _TRACKED if c[f] != getattr(ex, f)}
                if c["owner_from_source"] and c["owner_group"] != ex.owner_group:
                    changes["owner_group"] = c["owner_group"]
                if c["detail"] != ex.detail and not changes:
                    # The reason's figures move with every sync (gap in yuan): kept current, not logged.
                    conn.execute(
                        update(supervision_item).where(supervision_item.c.id == ex.id).values(detail=c["detail"])
                    )
                if changes:
                    conn.execute(
                        update(supervision_item)
                        .where(supervision_item.c.id == ex.id)
                        .values(version=ex.version + 1, updated_at=now, detail=c["detail"], **changes)
                    )
                    what = "、".join(_TRACKED.get(f, "专班") for f in changes)
                    note = f"{what}变化" + (
                        f"：{SEVERITIES[ex.severity]}→{SEVERITIES[c['severity']]}" if "severity" in changes else ""
                    )
                    _event(conn, ex.id, now, as_of, SYNC_ACTOR, "updated", ex.status, ex.status, note)
                    counts["updated"] += 1
        for key, ex in existing.items():
            if ex.status != "closed" and key not in seen and sources[key[0]].covers(key[1]):
                conn.execute(
                    update(supervision_item)
                    .where(supervision_item.c.id == ex.id)
                    .values(
                        status="closed",
                        closed_reason="resolved",
                        closed_on=as_of,
                        version=ex.version + 1,
                        updated_at=now,
                    )
                )
                _event(conn, ex.id, now, as_of, SYNC_ACTOR, "resolved", ex.status, "closed", "来源已消除")
                counts["resolved"] += 1
        if any(counts.values()):
            write_audit(
                conn,
                principal.username,
                "ledger_sync",
                f"截至 {as_of:%Y-%m-%d}",
                "，".join(f"{k} {v}" for k, v in counts.items()),
                at=now,
            )
    return counts


def update_item(
    engine: Engine,
    principal: Principal,
    item_id: int,
    version: int,
    on_date: date,
    *,
    status: str | None = None,
    note: str | None = None,
    owner_group: str | None = None,
    due_date: date | None = None,
    now: datetime | None = None,
) -> int:
    """A desk's action on one item (status, note, 专班, due date), logged; returns the new version.

    Raises ``StaleItem`` when ``version`` is not the item's current one, ``ValueError`` on an
    unknown status or 专班 or when nothing would change; only desks and admins may act
    (``AccessDenied``). The actor in the item's history is the principal's display name.
    """
    require_role(principal, DESK_ROLES, "处理督办事项")
    actor = principal.display_name or principal.username
    now = now or datetime.now()
    if status is not None and status not in ITEM_STATUSES:
        raise ValueError(f"未知状态：{status}")
    with engine.begin() as conn:
        row = conn.execute(select(supervision_item).where(supervision_item.c.id == item_id)).first()
        if row is None:
            raise ValueError(f"台账事项 {item_id} 不存在")
        if row.version != version:
            raise StaleItem("该事项已被他人更新，请刷新后再操作。")
        values, events = {}, []
        if status and status != row.status:
            values.update(
                status=status,
                closed_on=on_date if status == "closed" else None,
                closed_reason="done" if status == "closed" else None,
            )
            events.append(("status", row.status, status, note))
        if owner_group and owner_group != row.owner_group:
            if conn.execute(select(task_group.c.code).where(task_group.c.code == owner_group)).first() is None:
                raise ValueError(f"未知专班：{owner_group}")
            values["owner_group"] = owner_group
            events.append(("assign", row.status, values.get("status", row.status), f"{row.owner_group}→{owner_group}"))
        if due_date and due_date != as_date(row.due_date):
            values["due_date"] = due_date
            events.append(
                (
                    "due",
                    row.status,
                    values.get("status", row.status),
                    f"{as_date(row.due_date):%Y-%m-%d}→{due_date:%Y-%m-%d}",
                )
            )
        if note and not any(e[0] == "status" for e in events):
            events.append(("note", row.status, values.get("status", row.status), note))
        if note:
            values["note"] = note
        if not events:
            raise ValueError("没有需要保存的变化")
        done = conn.execute(
            update(supervision_item)
            .where(supervision_item.c.id == item_id, supervision_item.c.version == version)
            .values(version=version + 1, updated_at=now, **values)
        )
        if done.rowcount != 1:
            raise StaleItem("该事项已被他人更新，请刷新后再操作。")
        for action, frm, to, text in events:
            _event(conn, item_id, now, on_date, actor, action, frm, to, text)
        write_audit(
            conn,
            principal.username,
            "ledger_update",
            f"台账事项 #{item_id}",
            "；".join(f"{ACTION_LABELS[a]}{'：' + t if t else ''}" for a, _f, _t, t in events),
            at=now,
        )
    return version + 1


def add_meeting(engine: Engine, principal: Principal, held_on: date, title: str, note: str | None = None) -> int:
    """Record a joint meeting (one a day; desks and admins); returns its id."""
    require_role(principal, DESK_ROLES, "登记联席会议")
    with engine.begin() as conn:
        write_audit(conn, principal.username, "meeting_add", f"{held_on:%Y-%m-%d}", title)
        return conn.execute(
            insert(meeting).values(held_on=held_on, title=title, note=note).returning(meeting.c.id)
        ).scalar_one()
