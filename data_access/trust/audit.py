"""The audit trail as a whole: verify its hash chain, purge rows past the retention period, record
downloads and exports, and export the log itself — each write audited.

The chain itself (hashing, appends, the walk) is ``data_access.store.audit_chain``; every audit
row is written through ``auth.write_audit`` / ``auth.write_audits``.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, select

from data_access.query.export import xlsx_bytes
from data_access.store import audit_chain
from data_access.store.schema import audit_log
from data_access.trust.auth import ADMIN_ROLES, AUDIT_ACTIONS, Principal, audit_entries, require_role, write_audit
from data_access.trust.stamps import export_stamp

RETENTION_DAYS = 180
"""Audit rows are kept at least this long; a purge of younger rows is refused."""

Verdict = audit_chain.Verdict

READ_ONLY_ACTIONS = (
    "pii_reveal",
    "login",
    "login_failed",
    "password_ok",
    "totp_failed",
    "logout",
    "session_end",
    "lockout",
    "download",
)
"""Audited actions that change no figure a page shows (who signed in, looked or downloaded). Every
other action is a write; a new action is a write until it is listed here."""


def last_change(engine: Engine) -> int | None:
    """The id of the last audit row of a write (not ``READ_ONLY_ACTIONS``): a store-wide mark that
    moves with every import, register edit, warning or ledger action, whichever process or command
    made it. Appends are serialised (``audit_chain.lock``), so ids rise in commit order. One index
    probe from the newest row backwards."""
    stmt = (
        select(audit_log.c.id)
        .where(audit_log.c.action.not_in(READ_ONLY_ACTIONS))
        .order_by(audit_log.c.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(stmt).scalar()


def verify_audit(engine: Engine) -> Verdict:
    """Walk the audit chain in id order: the first edited or removed row, or how many rows are intact."""
    with engine.connect() as conn:
        return audit_chain.verify(conn)


def verify_audit_as(engine: Engine, principal: Principal) -> Verdict:
    """``verify_audit`` for the 审计日志 page (admins only)."""
    require_role(principal, ADMIN_ROLES, "校验审计日志")
    return verify_audit(engine)


def purge_audit(engine: Engine, principal: Principal, older_than_days: int, now: datetime | None = None) -> int:
    """Remove audit rows older than ``older_than_days`` (at least RETENTION_DAYS; admins only), keep
    the chain verifiable from the last removed row, and audit the purge. Returns the rows removed."""
    require_role(principal, ADMIN_ROLES, "清理审计日志")
    if older_than_days < RETENTION_DAYS:
        raise ValueError(f"审计日志至少保留 {RETENTION_DAYS} 天：不能清理 {older_than_days} 天以内的记录。")
    now = now or datetime.now()
    cutoff = now - timedelta(days=older_than_days)
    with engine.begin() as conn:
        n = audit_chain.purge_before(conn, cutoff)
        detail = json.dumps({"older_than_days": older_than_days, "before": f"{cutoff:%Y-%m-%d %H:%M:%S}", "rows": n})
        write_audit(conn, principal.username, "audit_purge", "audit_log", detail, at=now)
    return n


def record_download(
    engine: Engine, principal: Principal, what: str, rows: int | None, filters: str | None = None
) -> None:
    """Write one download or export to the audit log: the file, under which filters, how many rows."""
    detail = json.dumps({"rows": rows, "filters": filters}, ensure_ascii=False)
    with engine.begin() as conn:
        write_audit(conn, principal.username, "download", what[:128], detail)


def audit_filters_in_words(action: str | None, username: str | None, start: date | None, end: date | None) -> str:
    """The 审计日志 page's filters as the export states them."""
    parts = [
        f"操作：{AUDIT_ACTIONS.get(action, action) if action else '全部'}",
        f"用户：{username or '全部'}",
        f"日期：{start or '最早'} 至 {end or '最新'}",
    ]
    return "；".join(parts)


def audit_export(
    engine: Engine,
    principal: Principal,
    action: str | None = None,
    username: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> bytes:
    """Every audit row under the filters as XLSX (admins only); the export is itself audited."""
    log = audit_entries(engine, principal, action, username, limit=None, start=start, end=end)
    shown = log.assign(action=log.action.map(lambda a: AUDIT_ACTIONS.get(a, a))).rename(
        columns={"id": "序号", "at": "时间", "username": "用户", "action": "操作", "subject": "对象", "detail": "说明"}
    )
    words = audit_filters_in_words(action, username, start, end)
    data = xlsx_bytes(
        {"审计日志": shown},
        notes={"审计日志": f"审计日志导出 ｜ {words} ｜ 共 {len(shown):,} 条"},
        stamp=export_stamp(principal, words),
    )
    record_download(engine, principal, "审计日志.xlsx", len(shown), words)
    return data
