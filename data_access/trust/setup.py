"""The first admin of a configured store: secure by default.

Only the demo store (演示数据) runs without sign-in. A configured store with no active users shows
the setup screen, which creates the first admin only with a one-time token the server prints in its
log — whoever merely reaches the address cannot. The token is made on first need, kept in the store
only as a SHA-256 (``store_meta.setup_token``, with its expiry), valid ``setup_token_minutes``
(``trust.policy``, default 60) and for one use. The CLI ``python -m data_access user add NAME --role
admin`` is the other way in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import sys
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, select

from data_access.store.schema import app_user, store_meta
from data_access.trust.auth import Principal, insert_user, write_audit
from data_access.trust.policy import account_settings

TOKEN_KEY = "setup_token"
SETUP_PRINCIPAL = Principal(username="setup", role="admin", display_name="首次设置")
log = logging.getLogger("bangfu.setup")


class SetupRefused(PermissionError):
    """The setup token is wrong, used or expired, or the store has users already; ``str()`` is Chinese."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


def _stored(conn) -> dict | None:
    raw = conn.execute(select(store_meta.c.value).where(store_meta.c.key == TOKEN_KEY)).scalar()
    return json.loads(raw) if raw else None


def setup_needed(engine: Engine) -> bool:
    """True while the store has no active user (the setup screen instead of the sign-in)."""
    with engine.connect() as conn:
        return not conn.execute(select(func.count()).select_from(app_user).where(app_user.c.active.is_(True))).scalar()


def token_valid_until(engine: Engine, now: datetime | None = None) -> datetime | None:
    """When the current setup token expires, or None when there is none in force."""
    now = now or datetime.now()
    with engine.connect() as conn:
        stored = _stored(conn)
    if not stored:
        return None
    until = datetime.fromisoformat(stored["expires"])
    return until if until > now else None


def issue_token(engine: Engine, now: datetime | None = None, announce: bool = True) -> str:
    """Make a new one-time setup token (any earlier one stops working), keep its hash, print it to
    the server log; returns it. Audited ``setup_token`` (without the token)."""
    now = now or datetime.now()
    minutes = account_settings().setup_token_minutes
    token = "-".join(secrets.token_hex(3) for _ in range(4))
    until = now + timedelta(minutes=minutes)
    value = json.dumps({"hash": _hash(token), "expires": until.isoformat(), "created": now.isoformat()})
    with engine.begin() as conn:
        conn.execute(delete(store_meta).where(store_meta.c.key == TOKEN_KEY))
        conn.execute(store_meta.insert().values(key=TOKEN_KEY, value=value))
        write_audit(conn, "setup", "setup_token", None, f"有效至 {until:%Y-%m-%d %H:%M:%S}", at=now)
    if announce:
        line = (
            f"【首次设置】本库尚无用户。一次性设置口令：{token} （{until:%Y-%m-%d %H:%M} 前有效，仅可使用一次）。"
            "请在看板的「首次设置」页面输入此口令并创建管理员。"
        )
        print(line, file=sys.stderr, flush=True)
        log.warning(line)
    return token


def ensure_token(engine: Engine, now: datetime | None = None) -> datetime:
    """A setup token in force: the existing one, or a new one printed to the log. Returns its expiry."""
    until = token_valid_until(engine, now)
    if until is None:
        issue_token(engine, now)
        until = token_valid_until(engine, now)
    return until


def create_first_admin(
    engine: Engine,
    token: str,
    username: str,
    password: str,
    display_name: str | None = None,
    now: datetime | None = None,
) -> int:
    """Create the first admin with the one-time token (used up with the admin's creation); refused
    with SetupRefused when the token is wrong, used or expired or the store has users already.
    The password follows the policy. Audited ``setup_admin`` (or ``setup_failed``)."""
    now = now or datetime.now()
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(app_user).where(app_user.c.active.is_(True))).scalar():
            raise SetupRefused("本库已有用户，首次设置已关闭。请使用管理员分配的账号登录。")
        stored = _stored(conn)
        good = (
            stored is not None
            and datetime.fromisoformat(stored["expires"]) > now
            and hmac.compare_digest(stored["hash"], _hash(token or ""))
        )
        if not good:
            expired = stored is not None and datetime.fromisoformat(stored["expires"]) <= now
            write_audit(conn, "setup", "setup_failed", None, "口令已过期" if expired else "口令错误", at=now)
    if not good:
        raise SetupRefused(
            "设置口令已过期，请点击「重新生成口令」后查看服务器日志。"
            if expired
            else "设置口令不正确（或已使用）。请查看服务器日志中的一次性设置口令。"
        )
    with engine.begin() as conn:
        # Single use: only the transaction that removes this very token goes on.
        gone = conn.execute(
            delete(store_meta).where(store_meta.c.key == TOKEN_KEY, store_meta.c.value == json.dumps(stored))
        ).rowcount
        if gone != 1:
            raise SetupRefused("设置口令已被使用。")
        return insert_user(
            conn,
            SETUP_PRINCIPAL,
            username,
            password,
            "admin",
            None,
            display_name,
            must_change=False,
            action="setup_admin",
        )
