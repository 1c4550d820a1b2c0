"""Who is using the dashboard: users, sign-in, roles, and what each role may see.

Roles (DESIGN §7, matrix in docs/trust.md): leader 领导小组, desk 专班, analyst 分析人员,
reporter 报送单位 (its own unit only), admin 管理员. With no active users in the store the
dashboard runs as the demo principal (演示用户).

Passwords are hashed with Argon2id (argon2-cffi) and follow the policy of ``trust.policy``
(length; composition, rotation and no reuse of the last N, strict in 等保 mode). Failed sign-ins
(password or second factor) are written to ``audit_log``, so the lockout holds across app instances
that share one store. Sessions: ``trust.sessions``; the TOTP second factor: ``trust.second_factor``;
the first admin of a configured store: ``trust.setup``.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, and_, func, or_, select, update

from data_access.query.filters import Filters
from data_access.store import audit_chain
from data_access.store.db import frame
from data_access.store.schema import app_user, audit_log, buyer_unit, password_history, user_session
from data_access.trust.policy import account_settings, check_password

ROLES = {
    "leader": "领导小组",
    "desk": "专班",
    "analyst": "分析人员",
    "reporter": "报送单位",
    "admin": "管理员",
}

ALL_ROLES = frozenset(ROLES)
READERS = frozenset({"leader", "desk", "analyst", "admin"})

DESK_ROLES = frozenset({"desk", "admin"})
"""Roles that act: move warnings through their lifecycle, work the 督办台账, run the warning engine."""

SUBMIT_ROLES = frozenset({"reporter", "admin"})
"""Roles that submit reports (reporters for their own unit only)."""

ADMIN_ROLES = frozenset({"admin"})
"""Roles that manage users and read the audit log."""

PERSONAL_DATA_ROLES = frozenset({"desk", "reporter", "admin"})
"""Roles that may list beneficiaries (masked numbers; reporters only those of their own unit)."""

REVEAL_ROLES = frozenset({"desk", "admin"})
"""Roles that may see a full ID or phone number — each view is written to the audit log."""

AUDIT_ACTIONS = {
    "pii_reveal": "查看完整号码",
    "login": "登录",
    "login_failed": "登录失败",
    "password_ok": "密码正确，待验证动态口令",
    "totp_failed": "动态口令错误",
    "totp_enrol": "绑定动态口令",
    "totp_reset": "解除动态口令",
    "logout": "退出登录",
    "session_end": "会话结束（超时）",
    "session_revoke": "管理员结束会话",
    "password_change": "修改密码",
    "setup_admin": "首次设置管理员",
    "setup_token": "生成一次性设置口令",
    "setup_failed": "首次设置口令错误",
    "user_add": "新建用户",
    "user_disable": "停用用户",
    "user_enable": "启用用户",
    "user_passwd": "重设密码",
    "warning_action": "处置预警",
    "warnings_refresh": "运行预警引擎",
    "ledger_update": "更新台账事项",
    "ledger_sync": "同步督办台账",
    "meeting_add": "登记联席会议",
    "report_commit": "提交报送",
    "register_change": "修改基础数据",
    "register_merge": "合并基础数据",
    "register_unmerge": "撤销合并",
    "register_active": "停用或恢复基础数据",
    "outlet_status": "变更网点状态",
    "lockout": "锁定中拒绝登录",
    "unlock": "解除锁定",
    "download": "下载导出",
    "audit_purge": "清理审计日志",
    "backup": "备份",
    "restore": "恢复备份",
    "key_rotate": "轮换个人信息密钥",
}

MIN_PASSWORD_LENGTH = 8
"""The default minimum length (``BANGFU_PASSWORD_MIN_LENGTH``; 等保 mode 10)."""
FAILED_ACTIONS = ("login_failed", "totp_failed")
"""Audit actions that count towards the lockout: a wrong password or a wrong second-factor code."""
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
BACKOFF = timedelta(seconds=1)

_hasher = PasswordHasher()


class AccessDenied(PermissionError):
    """The principal's role may not do this; ``str()`` is a Chinese message safe to show."""


class LoginFailed(Exception):
    """Sign-in refused; ``str()`` is a Chinese message that does not say whether the user exists."""


class AccountLocked(LoginFailed):
    """Too many failed sign-ins for this username; ``until`` is when it may try again."""

    def __init__(self, until: datetime, now: datetime):
        wait = (until - now).total_seconds()
        super().__init__(
            f"登录失败次数较多，请 {max(1, round(wait))} 秒后再试。"
            if wait < 60
            else f"连续登录失败 {MAX_FAILURES} 次，账号已临时锁定，请于 {until:%H:%M} 后再试。"
        )
        self.until = until


@dataclass(frozen=True)
class Principal:
    """A signed-in user (or the demo user): name, role and, for reporters, their unit."""

    username: str
    role: str
    unit_id: int | None = None
    display_name: str = ""
    demo: bool = False
    unit_name: str = ""

    @property
    def role_label(self) -> str:
        return ROLES.get(self.role, self.role)


DEMO_PRINCIPAL = Principal(username="demo", role="admin", display_name="演示用户", demo=True)


def cli_principal(username: str | None = None) -> Principal:
    """The principal a command-line write runs as: an admin named ``cli:<system user>`` (or
    ``username``), so its writes are checked and audited like any other."""
    return Principal(username=username or f"cli:{getpass.getuser()}", role="admin", display_name="命令行")


def apply_principal(f: Filters, principal: Principal) -> Filters:
    """``f`` restricted to what the principal may see: a reporter's filters carry its own unit.

    Every purchase figure starts from ``facts.purchase_scope``, which honours ``own_unit_id``.
    """
    if principal.role != "reporter":
        return f
    if principal.unit_id is None:
        raise AccessDenied("报送单位账号未关联单位，无法查看数据。请联系管理员。")
    return replace(f, own_unit_id=principal.unit_id)


def submission_unit(principal: Principal, unit_id: int | None) -> int | None:
    """The unit a report batch is recorded for: a reporter's own unit, whatever was asked."""
    if principal.role == "reporter":
        if unit_id not in (None, principal.unit_id):
            raise AccessDenied("报送单位只能为本单位报送数据。")
        return principal.unit_id
    if principal.role not in SUBMIT_ROLES:
        raise AccessDenied(f"{principal.role_label}无权报送数据。")
    return unit_id


def require_role(principal: Principal, roles, what: str) -> None:
    """Raise AccessDenied unless the principal's role is in ``roles``."""
    if principal.role not in roles:
        raise AccessDenied(f"{principal.role_label}无权{what}。")


def hash_password(password: str, username: str | None = None) -> str:
    """An Argon2id hash of ``password`` (raises ValueError when it breaks the password policy)."""
    check_password(password, username)
    return _hasher.hash(password)


def _reused(conn, user_id: int, current_hash: str | None, password: str, n: int) -> bool:
    """True when ``password`` is the current one or one of the user's last ``n - 1`` earlier ones."""
    if n <= 0:
        return False
    earlier = conn.execute(
        select(password_history.c.password_hash)
        .where(password_history.c.user_id == user_id)
        .order_by(password_history.c.changed_at.desc(), password_history.c.id.desc())
        .limit(max(n - 1, 0))
    ).scalars()
    for h in [current_hash, *earlier]:
        if not h:
            continue
        try:
            if _hasher.verify(h, password):
                return True
        except (VerificationError, InvalidHashError):
            pass
    return False


def _replace_password(conn, row, password: str, now: datetime, must_change: bool) -> None:
    """Give the user ``row`` a new password (policy and reuse checked); keep the old hash in the history."""
    settings = account_settings()
    check_password(password, row.username, settings)
    if _reused(conn, row.id, row.password_hash, password, settings.history):
        raise ValueError(f"新密码不能与最近 {settings.history} 次使用过的密码相同")
    conn.execute(password_history.insert().values(user_id=row.id, password_hash=row.password_hash, changed_at=now))
    keep = max(settings.history, 1)
    old_ids = (
        conn.execute(
            select(password_history.c.id)
            .where(password_history.c.user_id == row.id)
            .order_by(password_history.c.changed_at.desc(), password_history.c.id.desc())
            .offset(keep)
        )
        .scalars()
        .all()
    )
    if old_ids:
        conn.execute(password_history.delete().where(password_history.c.id.in_(old_ids)))
    conn.execute(
        update(app_user)
        .where(app_user.c.id == row.id)
        .values(password_hash=_hasher.hash(password), password_changed_at=now, must_change_password=must_change)
    )


def _unit_id(conn, unit: int | str | None) -> int | None:
    if unit in (None, ""):
        return None
    q = select(buyer_unit.c.id)
    if isinstance(unit, int) or str(unit).isdigit():
        q = q.where(buyer_unit.c.id == int(unit))
    else:
        q = q.where(buyer_unit.c.name == str(unit))
    found = conn.execute(q).scalar()
    if found is None:
        raise ValueError(f"找不到单位：{unit}")
    return int(found)


def add_user(
    engine: Engine,
    principal: Principal,
    username: str,
    password: str,
    role: str,
    unit: int | str | None = None,
    display_name: str | None = None,
) -> int:
    """Create an active user (admins only); returns its id. Reporters need a unit (id or exact name).

    In 等保 mode (``change_initial``) the user must change this password at the first sign-in."""
    require_role(principal, ADMIN_ROLES, "管理用户")
    with engine.begin() as conn:
        return insert_user(conn, principal, username, password, role, unit, display_name)


def insert_user(
    conn,
    principal: Principal,
    username: str,
    password: str,
    role: str,
    unit: int | str | None = None,
    display_name: str | None = None,
    must_change: bool | None = None,
    action: str = "user_add",
) -> int:
    """``add_user`` inside the caller's transaction (the first admin of ``trust.setup`` too)."""
    require_role(principal, ADMIN_ROLES, "管理用户")
    username = username.strip()
    if not username or len(username) > 64:
        raise ValueError("用户名不能为空，且不超过 64 个字符")
    if role not in ROLES:
        raise ValueError(f"角色应为 {' | '.join(ROLES)}")
    hashed = hash_password(password, username)
    if must_change is None:
        must_change = account_settings().change_initial
    unit_id = _unit_id(conn, unit)
    if role == "reporter" and unit_id is None:
        raise ValueError("报送单位（reporter）账号必须指定所属单位（命令行 --unit）")
    if conn.execute(select(app_user.c.id).where(app_user.c.username == username)).first():
        raise ValueError(f"用户已存在：{username}")
    new_id = conn.execute(
        app_user.insert().values(
            username=username,
            display_name=display_name or username,
            password_hash=hashed,
            role=role,
            unit_id=unit_id,
            active=True,
            password_changed_at=datetime.now(),
            must_change_password=must_change,
        )
    ).inserted_primary_key[0]
    write_audit(conn, principal.username, action, f"user:{username}", f"role={role} unit={unit_id}")
    return int(new_id)


def users(engine: Engine) -> pd.DataFrame:
    """One row per user: ``username, display_name, role, unit_id, unit_name, active`` (no hashes)."""
    q = (
        select(
            app_user.c.username,
            app_user.c.display_name,
            app_user.c.role,
            app_user.c.unit_id,
            buyer_unit.c.name.label("unit_name"),
            app_user.c.active,
        )
        .select_from(app_user.outerjoin(buyer_unit, buyer_unit.c.id == app_user.c.unit_id))
        .order_by(app_user.c.username)
    )
    with engine.connect() as conn:
        return frame(
            conn.execute(q).all(), columns=["username", "display_name", "role", "unit_id", "unit_name", "active"]
        )


def accounts(engine: Engine, principal: Principal) -> pd.DataFrame:
    """The 用户管理 list (admins only): ``users`` with ``totp`` (a second factor is bound),
    ``must_change`` (must change the password at the next sign-in) and ``password_changed_at``."""
    require_role(principal, ADMIN_ROLES, "管理用户")
    q = (
        select(app_user.c.username, app_user.c.totp_secret.is_not(None), app_user.c.must_change_password)
        .add_columns(app_user.c.password_changed_at)
        .order_by(app_user.c.username)
    )
    with engine.connect() as conn:
        extra = frame(conn.execute(q).all(), columns=["username", "totp", "must_change", "password_changed_at"])
    return users(engine).merge(extra, on="username", how="left")


def set_active(engine: Engine, principal: Principal, username: str, active: bool) -> None:
    """Enable or disable a user, admins only (a disabled user's open sessions end on their next click)."""
    require_role(principal, ADMIN_ROLES, "管理用户")
    with engine.begin() as conn:
        done = conn.execute(update(app_user).where(app_user.c.username == username).values(active=active))
        if not done.rowcount:
            raise ValueError(f"找不到用户：{username}")
        write_audit(conn, principal.username, "user_enable" if active else "user_disable", f"user:{username}", None)
        if not active:
            conn.execute(
                update(user_session)
                .where(user_session.c.username == username, user_session.c.ended_at.is_(None))
                .values(ended_at=datetime.now(), end_reason="disabled")
            )


def unlock_user(engine: Engine, principal: Principal, username: str, now: datetime | None = None) -> None:
    """Lift a lockout before it runs out (admins only): earlier failures no longer count."""
    require_role(principal, ADMIN_ROLES, "管理用户")
    with engine.begin() as conn:
        if _user_row(conn, username) is None:
            raise ValueError(f"找不到用户：{username}")
        write_audit(conn, principal.username, "unlock", f"user:{username}", None, at=now)


def set_password(
    engine: Engine, principal: Principal, username: str, password: str, now: datetime | None = None
) -> None:
    """Replace a user's password (admins only; policy and reuse checked). In 等保 mode the user must
    change it at the next sign-in."""
    require_role(principal, ADMIN_ROLES, "管理用户")
    now = now or datetime.now()
    with engine.begin() as conn:
        row = _user_row(conn, username)
        if row is None:
            raise ValueError(f"找不到用户：{username}")
        must_change = account_settings().change_initial and principal.username != username
        _replace_password(conn, row, password, now, must_change)
        write_audit(conn, principal.username, "user_passwd", f"user:{username}", None, at=now)


def _password_matches(row, password: str | None) -> bool:
    """Whether ``password`` is the user's (an unreadable stored hash never matches)."""
    try:
        return _hasher.verify(row.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return False


def change_own_password(
    engine: Engine, username: str, old_password: str, new_password: str, now: datetime | None = None
) -> None:
    """A user changes their own password: the old one must be right (a wrong one counts as a failed
    sign-in), the new one must meet the policy and not repeat the last N. Audited ``password_change``."""
    now = now or datetime.now()
    until = locked_until(engine, username, now)
    if until:
        raise AccountLocked(until, now)
    with engine.begin() as conn:
        row = _user_row(conn, username)
        ok = row is not None and row.active and _password_matches(row, old_password)
        if not ok:
            write_audit(conn, username, "login_failed", None, "修改密码时原密码错误", at=now)
    if not ok:
        raise LoginFailed("原密码错误。")
    with engine.begin() as conn:
        _replace_password(conn, _user_row(conn, username), new_password, now, must_change=False)
        write_audit(conn, username, "password_change", f"user:{username}", None, at=now)


def password_expired(engine: Engine, username: str, now: datetime | None = None) -> str | None:
    """Why the user must change the password before going on (Chinese), or None."""
    now = now or datetime.now()
    settings = account_settings()
    with engine.connect() as conn:
        row = _user_row(conn, username)
    if row is None:
        return None
    if row.must_change_password:
        return "这是管理员设置的初始密码，请先修改密码。"
    if settings.max_age_days and (
        row.password_changed_at is None or row.password_changed_at + timedelta(days=settings.max_age_days) <= now
    ):
        return f"密码已使用超过 {settings.max_age_days} 天，请修改密码。"
    return None


def has_active_users(engine: Engine) -> bool:
    """True when sign-in is required (the store has at least one active user)."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(app_user).where(app_user.c.active.is_(True))).scalar() > 0


def write_audit(
    conn, username: str, action: str, subject: str | None, detail: str | None, at: datetime | None = None
) -> None:
    """Append one audit row to the hash chain inside the caller's transaction (never put a full ID
    or phone in it)."""
    audit_chain.append(conn, [(at or datetime.now(), username[:64], action, subject, detail)])


def write_audits(conn, username: str, action: str, rows: list[tuple[str, str]], at: datetime | None = None) -> None:
    """Append many audit rows (subject, detail) of one action in the caller's transaction: chained,
    in multi-row INSERTs."""
    at, who = at or datetime.now(), username[:64]
    audit_chain.append(conn, [(at, who, action, subject, detail) for subject, detail in rows])


def locked_until(engine: Engine, username: str, now: datetime | None = None) -> datetime | None:
    """When the username may try again, or None if it may try now.

    Failures since its last sign-in within FAILURE_WINDOW count: from the second on, each
    doubles a short wait (1 s, 2 s, 4 s); MAX_FAILURES lock it for LOCKOUT.
    """
    now = now or datetime.now()
    name = username[:64]
    with engine.connect() as conn:
        # A sign-in, or an admin's unlock, starts the count afresh.
        last_ok = conn.execute(
            select(func.max(audit_log.c.at)).where(
                or_(
                    and_(audit_log.c.action == "login", audit_log.c.username == name),
                    and_(audit_log.c.action == "unlock", audit_log.c.subject == f"user:{name}"),
                )
            )
        ).scalar()
        q = (
            select(audit_log.c.at)
            .where(
                and_(
                    audit_log.c.action.in_(FAILED_ACTIONS),
                    audit_log.c.username == name,
                    audit_log.c.at > now - FAILURE_WINDOW,
                )
            )
            .order_by(audit_log.c.at.desc())
            .limit(MAX_FAILURES)
        )
        if last_ok is not None:
            q = q.where(audit_log.c.at > last_ok)
        fails = conn.execute(q).scalars().all()
    if len(fails) >= MAX_FAILURES:
        return fails[0] + LOCKOUT
    if len(fails) >= 2:
        until = fails[0] + BACKOFF * 2 ** (len(fails) - 2)
        return until if until > now else None
    return None


def _principal(row) -> Principal:
    return Principal(
        username=row.username,
        role=row.role,
        unit_id=row.unit_id,
        display_name=row.display_name or row.username,
        unit_name=row.unit_name or "",
    )


def _user_row(conn, username: str):
    return conn.execute(
        select(app_user, buyer_unit.c.name.label("unit_name"))
        .select_from(app_user.outerjoin(buyer_unit, buyer_unit.c.id == app_user.c.unit_id))
        .where(app_user.c.username == username)
    ).first()


def needs_second_factor(row) -> bool:
    """True when the user signs in with a TOTP code too: enrolled, or their role requires it."""
    return bool(row.totp_secret) or row.role in account_settings().totp_roles


def authenticate(engine: Engine, username: str, password: str, now: datetime | None = None) -> Principal:
    """The principal for a correct username and password; LoginFailed / AccountLocked otherwise.

    Every attempt is audited (``login`` / ``login_failed``), never with the password. A user who also
    needs a TOTP code gets ``password_ok`` instead of ``login``: the sign-in is complete (and the
    failure count starts afresh) only with the code (``second_factor.verify_sign_in``).
    """
    username = (username or "").strip()[:64]
    now = now or datetime.now()
    until = locked_until(engine, username, now)
    if until:
        with engine.begin() as conn:
            write_audit(conn, username or "(空)", "lockout", None, f"锁定至 {until:%Y-%m-%d %H:%M:%S}", at=now)
        raise AccountLocked(until, now)
    with engine.begin() as conn:
        row = _user_row(conn, username)
        ok = False
        if row is not None and row.active:
            ok = _password_matches(row, password)
        else:
            # Spend the same time as a real check so response time does not reveal who exists.
            try:
                _hasher.verify(_dummy_hash(), password or "")
            except VerificationError:
                pass
        if not ok:
            write_audit(conn, username or "(空)", "login_failed", None, None, at=now)
        else:
            if _hasher.check_needs_rehash(row.password_hash):
                conn.execute(
                    update(app_user).where(app_user.c.id == row.id).values(password_hash=_hasher.hash(password))
                )
            action = "password_ok" if needs_second_factor(row) else "login"
            write_audit(conn, username, action, None, f"role={row.role}", at=now)
    if not ok:
        raise LoginFailed("用户名或密码错误。")
    return _principal(row)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("not-a-real-password")


def active_principal(engine: Engine, username: str) -> Principal | None:
    """The principal of an active user as the store has it now (None once disabled or removed)."""
    with engine.connect() as conn:
        row = _user_row(conn, username)
    return _principal(row) if row is not None and row.active else None


def record_logout(engine: Engine, principal: Principal) -> None:
    """Write the sign-out to the audit log."""
    with engine.begin() as conn:
        write_audit(conn, principal.username, "logout", None, None)


def audit_entries(
    engine: Engine,
    principal: Principal,
    action: str | None = None,
    username: str | None = None,
    limit: int | None = 500,
    start: date | None = None,
    end: date | None = None,
) -> pd.DataFrame:
    """The newest audit rows (admin only): ``id, at, username, action, subject, detail``, narrowed to
    an action, a user and dates ``start``–``end`` (both included); ``limit=None`` for all."""
    require_role(principal, ADMIN_ROLES, "查看审计日志")
    a = audit_log
    q = select(a.c.id, a.c.at, a.c.username, a.c.action, a.c.subject, a.c.detail).order_by(a.c.at.desc(), a.c.id.desc())
    if limit is not None:
        q = q.limit(limit)
    if action:
        q = q.where(a.c.action == action)
    if username:
        q = q.where(a.c.username == username)
    if start:
        q = q.where(a.c.at >= datetime.combine(start, time.min))
    if end:
        q = q.where(a.c.at < datetime.combine(end + timedelta(days=1), time.min))
    with engine.connect() as conn:
        return frame(conn.execute(q).all(), columns=["id", "at", "username", "action", "subject", "detail"])
