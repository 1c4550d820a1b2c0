"""The audit log's hash chain: every ``audit_log`` row carries the hash of the row before it.

``row_hash`` = SHA-256 of a canonical JSON array ``[id, at, username, action, subject, detail,
prev_hash]`` (``at`` ISO with microseconds), so editing any field, or removing a row, breaks the
chain at that row (``verify`` names it). Chain order is id order. Appends are serialised: on
PostgreSQL by a transaction-level advisory lock, on SQLite by the write lock the first write of
``append`` takes (an update of the chain head in ``store_meta``); under the lock the next ids are
``max(id) + 1 …``, so every row is hashed before it is inserted (one multi-row INSERT for many).

The head (last id and hash) is kept in ``store_meta`` (``audit_head``) so that rows cut off the end
are noticed too; a purge keeps the hash of its last removed row as the anchor (``audit_anchor``) the
chain then starts from. ``audit_log`` refuses UPDATE and DELETE (triggers, migration audit_0001)
except a purge's DELETE; a DBA with DDL rights can still drop the trigger and edit — which is what
``verify`` detects. This module only runs inside the caller's transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text

from data_access.store.schema import audit_log, store_meta

GENESIS = "0" * 64
HEAD_KEY = "audit_head"
ANCHOR_KEY = "audit_anchor"
PURGE_FLAG_KEY = "audit_purge"
LOCK_KEY = 4_208_417_180  # pg_advisory_xact_lock key of audit appends (any fixed bigint)
CHUNK = 5000


def canonical_at(at: datetime) -> str:
    """The timestamp as hashed: naive local time, ISO with microseconds."""
    if at.tzinfo is not None:
        at = at.astimezone().replace(tzinfo=None)
    return at.isoformat(sep=" ", timespec="microseconds")


def row_hash(
    id: int, at: datetime, username: str, action: str, subject: str | None, detail: str | None, prev_hash: str
) -> str:
    """SHA-256 (hex) of one row's canonical serialisation."""
    payload = json.dumps(
        [int(id), canonical_at(at), username, action, subject, detail, prev_hash],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _meta(conn, key: str) -> str | None:
    return conn.execute(select(store_meta.c.value).where(store_meta.c.key == key)).scalar()


def _set_meta(conn, key: str, value: str) -> None:
    done = conn.execute(store_meta.update().where(store_meta.c.key == key).values(value=value))
    if not done.rowcount:
        conn.execute(store_meta.insert().values(key=key, value=value))


def _point(value: str | None) -> tuple[int, str] | None:
    """``"id:hash"`` → (id, hash)."""
    if not value:
        return None
    i, h = value.split(":", 1)
    return int(i), h


def lock(conn) -> None:
    """Serialise audit appends until the caller's transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    else:
        # A write statement takes SQLite's single write lock for the rest of the transaction.
        conn.execute(store_meta.update().where(store_meta.c.key == HEAD_KEY).values(value=store_meta.c.value))


def _last(conn) -> tuple[int, str]:
    """(id, hash) of the newest chained row, the purge anchor, or (0, GENESIS)."""
    row = conn.execute(select(audit_log.c.id, audit_log.c.row_hash).order_by(audit_log.c.id.desc()).limit(1)).first()
    if row is not None:
        return row.id, row.row_hash
    return _point(_meta(conn, ANCHOR_KEY)) or (0, GENESIS)


def append(conn, rows: Iterable[tuple[datetime, str, str, str | None, str | None]]) -> int:
    """Append (at, username, action, subject, detail) rows to the chain in the caller's transaction."""
    rows = list(rows)
    if not rows:
        return 0
    lock(conn)
    last_id, prev = _last(conn)
    values = []
    for i, (at, username, action, subject, detail) in enumerate(rows, start=last_id + 1):
        at = datetime.fromisoformat(canonical_at(at))
        subject = None if subject is None else str(subject)
        detail = None if detail is None else str(detail)
        h = row_hash(i, at, username, action, subject, detail, prev)
        values.append(
            dict(
                id=i,
                at=at,
                username=username,
                action=action,
                subject=subject,
                detail=detail,
                prev_hash=prev,
                row_hash=h,
            )
        )
        prev = h
    for start in range(0, len(values), CHUNK):
        conn.execute(audit_log.insert(), values[start : start + CHUNK])
    _set_meta(conn, HEAD_KEY, f"{values[-1]['id']}:{prev}")
    if conn.dialect.name == "postgresql":
        # Ids are given under the lock; keep the serial in step for any other insert.
        conn.execute(text("SELECT setval(pg_get_serial_sequence('audit_log', 'id'), :v)"), {"v": values[-1]["id"]})
    return len(values)


def chain_existing(conn) -> int:
    """Hash the rows written before the chain existed (migration audit_0001), in id order."""
    prev, n, last = GENESIS, 0, None
    rows = conn.execute(
        select(
            audit_log.c.id,
            audit_log.c.at,
            audit_log.c.username,
            audit_log.c.action,
            audit_log.c.subject,
            audit_log.c.detail,
        ).order_by(audit_log.c.id)
    ).all()
    updates = []
    for r in rows:
        h = row_hash(r.id, r.at, r.username, r.action, r.subject, r.detail, prev)
        updates.append({"rid": r.id, "p": prev, "h": h})
        prev, n, last = h, n + 1, r.id
    if updates:
        conn.execute(
            text("UPDATE audit_log SET prev_hash = :p, row_hash = :h WHERE id = :rid"),
            updates,
        )
    _set_meta(conn, HEAD_KEY, f"{last or 0}:{prev}")
    return n


@dataclass(frozen=True)
class Verdict:
    """What ``verify`` found: ``ok``; rows checked; the first broken row's id and why (Chinese)."""

    ok: bool
    checked: int
    broken_id: int | None = None
    problem: str | None = None
    starts_at: int | None = None

    def message(self) -> str:
        start = f"（自第 {self.starts_at} 条起，之前的已按保留期清理）" if self.starts_at else ""
        if self.ok:
            return f"审计链校验：通过，共 {self.checked:,} 条{start}"
        return f"审计链校验：未通过 — {self.problem}{start}"


def verify(conn) -> Verdict:
    """Walk the chain in id order from the purge anchor (or the start) and report the first break."""
    anchor = _point(_meta(conn, ANCHOR_KEY))
    head = _point(_meta(conn, HEAD_KEY))
    prev = anchor[1] if anchor else GENESIS
    n, last_id = 0, None
    q = select(
        audit_log.c.id,
        audit_log.c.at,
        audit_log.c.username,
        audit_log.c.action,
        audit_log.c.subject,
        audit_log.c.detail,
        audit_log.c.prev_hash,
        audit_log.c.row_hash,
    ).order_by(audit_log.c.id)
    starts = anchor[0] + 1 if anchor else None
    for r in conn.execution_options(yield_per=10_000).execute(q):
        if r.prev_hash != prev:
            where = f"第 {last_id} 条之后" if last_id is not None else "开头"
            return Verdict(False, n, r.id, f"第 {r.id} 条之前有记录被删除（{where}的链接对不上）", starts)
        expect = row_hash(r.id, r.at, r.username, r.action, r.subject, r.detail, r.prev_hash)
        if r.row_hash != expect:
            return Verdict(False, n, r.id, f"第 {r.id} 条被改动（内容与其哈希不符）", starts)
        prev, n, last_id = r.row_hash, n + 1, r.id
    tail = (last_id, prev) if last_id is not None else (anchor or (0, GENESIS))
    if head is not None and tail != head:
        return Verdict(False, n, head[0], f"第 {head[0]} 条（链尾）不见了：末尾的记录被删除", starts)
    return Verdict(True, n, None, None, starts)


def purge_before(conn, cutoff: datetime) -> int:
    """Delete the oldest rows dated before ``cutoff`` (a prefix of the chain: a row is kept if a row
    before it is newer than the cutoff) and keep the last removed row's hash as the anchor."""
    first_kept = conn.execute(select(func.min(audit_log.c.id)).where(audit_log.c.at >= cutoff)).scalar()
    q = select(audit_log.c.id, audit_log.c.row_hash).where(audit_log.c.at < cutoff)
    if first_kept is not None:
        q = q.where(audit_log.c.id < first_kept)
    last = conn.execute(q.order_by(audit_log.c.id.desc()).limit(1)).first()
    if last is None:
        return 0
    lock(conn)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL bangfu.audit_purge = 'on'"))
    else:
        _set_meta(conn, PURGE_FLAG_KEY, "on")
    n = conn.execute(audit_log.delete().where(audit_log.c.id <= last.id)).rowcount
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL bangfu.audit_purge = 'off'"))
    else:
        _set_meta(conn, PURGE_FLAG_KEY, "off")
    _set_meta(conn, ANCHOR_KEY, f"{last.id}:{last.row_hash}")
    return n
