"""Server-side sessions: idle timeout, absolute lifetime, sign-out, and an admin ending a user's sessions.

A sign-in starts a session: the browser session keeps a random token, the store only its SHA-256
(``user_session``). Every rerun of the dashboard calls ``check``: a session idle longer than
``idle_minutes`` or older than ``lifetime_hours`` (``trust.policy``) ends there (audited
``session_end`` with the reason), one ended by sign-out, by an admin or because the user was
disabled is refused. So an admin's ``end_sessions`` takes effect on the user's next click, on every
app instance that shares the store.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Engine, select, update

from data_access.store.db import frame
from data_access.store.schema import user_session
from data_access.trust.auth import ADMIN_ROLES, Principal, _principal, _user_row, require_role, write_audit
from data_access.trust.policy import account_settings

END_REASONS = {
    "logout": "已退出登录",
    "idle": "长时间未操作，会话已超时",
    "lifetime": "会话已达最长时限",
    "admin": "管理员已结束您的会话",
    "disabled": "账号已停用",
}


@dataclass(frozen=True)
class SessionCheck:
    """The outcome of ``check``: the principal when the session goes on, else the reason it ended."""

    principal: Principal | None
    reason: str | None = None

    @property
    def message(self) -> str:
        """Why the user must sign in again (Chinese)."""
        return END_REASONS.get(self.reason or "", "请重新登录") + "，请重新登录。"


def token_hash(token: str) -> str:
    """What the store keeps of a session token: its SHA-256 (hex)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(engine: Engine, principal: Principal, now: datetime | None = None) -> str:
    """Start a session for a signed-in principal; returns the token the browser session keeps."""
    now = now or datetime.now()
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            user_session.insert().values(
                token_hash=token_hash(token), username=principal.username, created_at=now, last_seen=now
            )
        )
    return token


def check(engine: Engine, token: str | None, now: datetime | None = None) -> SessionCheck:
    """The session's principal as the store has it now, its ``last_seen`` moved to ``now``; or why
    it ended (``idle``, ``lifetime``, ``logout``, ``admin``, ``disabled``, ``unknown``)."""
    now = now or datetime.now()
    if not token:
        return SessionCheck(None, "unknown")
    settings = account_settings()
    with engine.begin() as conn:
        row = conn.execute(select(user_session).where(user_session.c.token_hash == token_hash(token))).first()
        if row is None:
            return SessionCheck(None, "unknown")
        if row.ended_at is not None:
            return SessionCheck(None, row.end_reason or "logout")
        user = _user_row(conn, row.username)
        reason = None
        if user is None or not user.active:
            reason = "disabled"
        elif settings.lifetime_hours > 0 and now - row.created_at >= timedelta(hours=settings.lifetime_hours):
            reason = "lifetime"
        elif settings.idle_minutes > 0 and now - row.last_seen >= timedelta(minutes=settings.idle_minutes):
            reason = "idle"
        if reason:
            _end(conn, [row.id], now, reason)
            if reason != "disabled":
                detail = json.dumps(
                    {
                        "reason": reason,
                        "idle_minutes": settings.idle_minutes,
                        "lifetime_hours": settings.lifetime_hours,
                        "started": f"{row.created_at:%Y-%m-%d %H:%M:%S}",
                        "last_seen": f"{row.last_seen:%Y-%m-%d %H:%M:%S}",
                    },
                    ensure_ascii=False,
                )
                write_audit(conn, row.username, "session_end", f"session:{row.id}", detail, at=now)
            return SessionCheck(None, reason)
        conn.execute(update(user_session).where(user_session.c.id == row.id).values(last_seen=now))
        return SessionCheck(_principal(user))


def _end(conn, ids: list[int], now: datetime, reason: str) -> None:
    if ids:
        conn.execute(
            update(user_session)
            .where(user_session.c.id.in_(ids), user_session.c.ended_at.is_(None))
            .values(ended_at=now, end_reason=reason)
        )


def sign_out(engine: Engine, principal: Principal, token: str | None, now: datetime | None = None) -> None:
    """End this session and write the sign-out to the audit log."""
    now = now or datetime.now()
    with engine.begin() as conn:
        if token:
            conn.execute(
                update(user_session)
                .where(user_session.c.token_hash == token_hash(token), user_session.c.ended_at.is_(None))
                .values(ended_at=now, end_reason="logout")
            )
        write_audit(conn, principal.username, "logout", None, None, at=now)


def end_sessions(engine: Engine, principal: Principal, username: str, now: datetime | None = None) -> int:
    """End every open session of ``username`` (admins only): the user must sign in again on the next
    click. Audited ``session_revoke`` with the count; returns how many were ended."""
    require_role(principal, ADMIN_ROLES, "结束用户会话")
    now = now or datetime.now()
    with engine.begin() as conn:
        if _user_row(conn, username) is None:
            raise ValueError(f"找不到用户：{username}")
        ids = (
            conn.execute(
                select(user_session.c.id).where(user_session.c.username == username, user_session.c.ended_at.is_(None))
            )
            .scalars()
            .all()
        )
        _end(conn, ids, now, "admin")
        write_audit(conn, principal.username, "session_revoke", f"user:{username}", f"sessions={len(ids)}", at=now)
    return len(ids)


def open_sessions(engine: Engine, principal: Principal, now: datetime | None = None) -> pd.DataFrame:
    """Sessions not ended and not yet past their idle or absolute limit (admins only):
    ``id, username, created_at, last_seen``."""
    require_role(principal, ADMIN_ROLES, "查看在线会话")
    now = now or datetime.now()
    settings = account_settings()
    s = user_session
    q = select(s.c.id, s.c.username, s.c.created_at, s.c.last_seen).where(s.c.ended_at.is_(None))
    if settings.idle_minutes > 0:
        q = q.where(s.c.last_seen > now - timedelta(minutes=settings.idle_minutes))
    if settings.lifetime_hours > 0:
        q = q.where(s.c.created_at > now - timedelta(hours=settings.lifetime_hours))
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(s.c.last_seen.desc())).all()
    return frame(rows, columns=["id", "username", "created_at", "last_seen"])
