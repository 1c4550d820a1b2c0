"""The TOTP second factor (RFC 6238 via pyotp), optional — required for the roles of
``policy.totp_roles`` (admin and desk in 等保 mode).

Enrolment: a new secret is shown as a QR code (segno, drawn here, no network) and as text; the user
confirms it with a code from their authenticator app, and only then is it stored, encrypted with the
store's personal-data key (``personal.encrypt_pii``). A code is accepted once (its time step is kept:
no replay) within ±1 step (30 s) of the server clock. A wrong code is audited ``totp_failed`` and
counts towards the lockout like a wrong password.
"""

from __future__ import annotations

import io
from datetime import datetime

import pyotp
import segno
from sqlalchemy import Engine, update

from data_access.store.schema import app_user
from data_access.trust.auth import (
    ADMIN_ROLES,
    AccountLocked,
    LoginFailed,
    Principal,
    _principal,
    _user_row,
    locked_until,
    require_role,
    write_audit,
)
from data_access.trust.personal import decrypt_pii, encrypt_pii
from data_access.trust.policy import account_settings

ISSUER = "消费帮扶监测看板"
STEP = 30


def new_secret() -> str:
    """A fresh base32 secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_png(uri: str, scale: int = 6) -> bytes:
    """The URI as a QR code PNG (drawn locally)."""
    buf = io.BytesIO()
    segno.make(uri, error="m").save(buf, kind="png", scale=scale, border=2)
    return buf.getvalue()


def code_at(secret: str, now: datetime | None = None) -> str:
    """The code of ``secret`` at ``now`` (what the user's app shows; used by tests and the CLI check)."""
    return pyotp.TOTP(secret).at(now or datetime.now())


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // STEP
    for s in (step, step - 1, step + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(s), code):
            return s
    return None


def status(engine: Engine, username: str) -> str:
    """``enrolled`` (signs in with a code), ``required`` (role needs it, not yet enrolled) or ``off``."""
    with engine.connect() as conn:
        row = _user_row(conn, username)
    if row is None:
        return "off"
    if row.totp_secret:
        return "enrolled"
    return "required" if row.role in account_settings().totp_roles else "off"


def verify_sign_in(engine: Engine, username: str, code: str, now: datetime | None = None) -> Principal:
    """Complete a sign-in with the TOTP code (after ``authenticate``): the principal, audited
    ``login``; a wrong code is audited ``totp_failed`` and raises LoginFailed (AccountLocked once
    too many failures)."""
    now = now or datetime.now()
    until = locked_until(engine, username, now)
    if until:
        with engine.begin() as conn:
            write_audit(conn, username, "lockout", None, f"锁定至 {until:%Y-%m-%d %H:%M:%S}", at=now)
        raise AccountLocked(until, now)
    with engine.begin() as conn:
        row = _user_row(conn, username)
        step = None
        if row is not None and row.active and row.totp_secret:
            step = _matching_step(decrypt_pii(row.totp_secret), code, now)
            if step is not None and row.totp_last_step is not None and step <= row.totp_last_step:
                step = None  # a code already used
        if step is None:
            write_audit(conn, username, "totp_failed", None, None, at=now)
        else:
            conn.execute(update(app_user).where(app_user.c.id == row.id).values(totp_last_step=step))
            write_audit(conn, username, "login", None, f"role={row.role} totp", at=now)
    if step is None:
        raise LoginFailed("动态口令错误或已使用。")
    return _principal(row)


def enrol(
    engine: Engine,
    principal: Principal,
    secret: str,
    code: str,
    now: datetime | None = None,
    sign_in: bool = False,
) -> Principal:
    """Store ``secret`` as the principal's own second factor once ``code`` proves their app has it (audited
    ``totp_enrol``; with ``sign_in`` the enrolment completes a sign-in, audited ``login`` too). A
    wrong code is audited ``totp_failed`` and raises LoginFailed."""
    now = now or datetime.now()
    username = principal.username
    step = _matching_step(secret, code, now)
    with engine.begin() as conn:
        row = _user_row(conn, username)
        if row is None or not row.active:
            raise LoginFailed("账号不可用。")
        if step is None:
            write_audit(conn, username, "totp_failed", None, "绑定时动态口令错误", at=now)
        else:
            conn.execute(
                update(app_user)
                .where(app_user.c.id == row.id)
                .values(totp_secret=encrypt_pii(secret), totp_last_step=step)
            )
            write_audit(conn, username, "totp_enrol", f"user:{username}", None, at=now)
            if sign_in:
                write_audit(conn, username, "login", None, f"role={row.role} totp", at=now)
    if step is None:
        raise LoginFailed("动态口令错误，请核对手机上的 6 位数字后重试。")
    return _principal(row)


def reset(engine: Engine, principal: Principal, username: str, now: datetime | None = None) -> None:
    """Remove a user's second factor (admins only; a lost phone). The user enrols again at the next
    sign-in where the role requires it. Audited ``totp_reset``."""
    require_role(principal, ADMIN_ROLES, "管理用户")
    with engine.begin() as conn:
        done = conn.execute(
            update(app_user).where(app_user.c.username == username).values(totp_secret=None, totp_last_step=None)
        )
        if not done.rowcount:
            raise ValueError(f"找不到用户：{username}")
        write_audit(conn, principal.username, "totp_reset", f"user:{username}", None, at=now)
