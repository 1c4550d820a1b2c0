"""Account controls (issue 19): the setup token, the password policy and 等保 mode, server-side
sessions (idle timeout, lifetime, sign-out, ended by an admin), the TOTP second factor, and the
audit row of each — on both backends, with the clock passed in."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from data_access.reference.setup import init_store
from data_access.store.schema import app_user, audit_log, store_meta
from data_access.trust import auth, second_factor, sessions, setup
from data_access.trust.auth import AccessDenied, AccountLocked, LoginFailed
from data_access.trust.policy import (
    DENGBAO,
    account_settings,
    check_password,
    password_problems,
)
from tests.principals import ADMIN, DESK

T0 = datetime(2026, 3, 2, 9, 0, 0)
STRONG = "Strong-pass-2026"


@pytest.fixture
def store(fresh_engine):
    """A configured store (schema and reference data, no demo data, no users)."""
    init_store(fresh_engine)
    return fresh_engine


@pytest.fixture(scope="module")
def shared(databases):
    """A configured store shared by the tests below that need no empty user table (unique names)."""
    eng = databases.new_engine()
    init_store(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def dengbao(monkeypatch):
    for var in (
        "BANGFU_PASSWORD_MIN_LENGTH",
        "BANGFU_PASSWORD_CLASSES",
        "BANGFU_PASSWORD_MAX_AGE_DAYS",
        "BANGFU_PASSWORD_HISTORY",
        "BANGFU_TOTP_ROLES",
        "BANGFU_SESSION_IDLE_MINUTES",
        "BANGFU_SESSION_LIFETIME_HOURS",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("BANGFU_DENGBAO", "1")


def audits(engine, action: str, **where) -> list:
    q = select(audit_log).where(audit_log.c.action == action)
    for column, value in where.items():
        q = q.where(getattr(audit_log.c, column) == value)
    with engine.connect() as conn:
        return conn.execute(q.order_by(audit_log.c.id)).all()


# --- 1. secure by default: the one-time setup token -------------------------------------------


def test_first_admin_needs_the_setup_token_and_the_token_works_once(store, capsys):
    assert setup.setup_needed(store)
    with pytest.raises(setup.SetupRefused):  # no token issued yet: nothing opens the door
        setup.create_first_admin(store, "", "boss", STRONG, now=T0)
    token = setup.issue_token(store, now=T0)
    assert token in capsys.readouterr().err  # printed to the server's log
    with store.connect() as conn:
        kept = conn.execute(select(store_meta.c.value).where(store_meta.c.key == "setup_token")).scalar()
    assert token not in kept and json.loads(kept)["hash"]  # only its hash is kept
    with pytest.raises(setup.SetupRefused, match="不正确"):
        setup.create_first_admin(store, "wrong-token", "boss", STRONG, now=T0)
    with pytest.raises(ValueError, match="至少"):  # the policy holds, and the token is not spent
        setup.create_first_admin(store, token, "boss", "short", now=T0)
    setup.create_first_admin(store, token, "boss", STRONG, "第一位管理员", now=T0)
    assert not setup.setup_needed(store)
    assert auth.authenticate(store, "boss", STRONG).role == "admin"
    with pytest.raises(setup.SetupRefused, match="已有用户"):
        setup.create_first_admin(store, token, "boss2", STRONG, now=T0)
    # Single use: with the admin disabled the store needs setup again, but the old token is gone.
    auth.set_active(store, ADMIN, "boss", False)
    assert setup.setup_needed(store)
    with pytest.raises(setup.SetupRefused):
        setup.create_first_admin(store, token, "boss2", STRONG, now=T0)
    assert [r.detail for r in audits(store, "setup_failed")] == ["口令错误", "口令错误", "口令错误"]
    assert [r.subject for r in audits(store, "setup_admin")] == ["user:boss"]
    assert token not in " ".join(str(r.detail) for r in audits(store, "setup_token"))


def test_the_setup_token_expires(store, monkeypatch):
    monkeypatch.setenv("BANGFU_SETUP_TOKEN_MINUTES", "30")
    token = setup.issue_token(store, now=T0, announce=False)
    assert setup.token_valid_until(store, T0) == T0 + timedelta(minutes=30)
    assert setup.ensure_token(store, T0 + timedelta(minutes=10)) == T0 + timedelta(minutes=30)  # kept
    with pytest.raises(setup.SetupRefused, match="已过期"):
        setup.create_first_admin(store, token, "boss", STRONG, now=T0 + timedelta(minutes=31))
    assert setup.token_valid_until(store, T0 + timedelta(minutes=31)) is None
    later = T0 + timedelta(minutes=31)
    assert setup.ensure_token(store, later) == later + timedelta(minutes=30)  # a new one on next need


def test_a_new_token_voids_the_old_one(store):
    old = setup.issue_token(store, now=T0, announce=False)
    new = setup.issue_token(store, now=T0, announce=False)
    with pytest.raises(setup.SetupRefused):
        setup.create_first_admin(store, old, "boss", STRONG, now=T0)
    setup.create_first_admin(store, new, "boss", STRONG, now=T0)


# --- 2. the password policy and 等保 mode ----------------------------------------------------------


def test_default_policy_is_length_only(monkeypatch):
    monkeypatch.delenv("BANGFU_DENGBAO", raising=False)
    s = account_settings()
    assert (s.min_length, s.classes, s.max_age_days, s.idle_minutes, s.lifetime_hours) == (8, 0, 0, 30, 8)
    assert password_problems("abcdefgh") == []
    assert password_problems("abc") == ["密码至少 8 位"]
    assert password_problems("zhangsan-2026", "zhangsan") == []


def test_dengbao_mode_turns_the_strict_controls_on_and_is_a_floor(dengbao, monkeypatch):
    s = account_settings()
    assert s.dengbao and (s.min_length, s.classes, s.max_age_days, s.history) == (10, 3, 90, 5)
    assert s.change_initial and {"admin", "desk"} <= s.totp_roles
    with pytest.raises(ValueError, match="至少 3 类"):
        check_password("alllowercaseletters")
    with pytest.raises(ValueError, match="至少 10 位"):
        check_password("Ab1-short")
    check_password("Lower-and-1")  # three classes, 11 characters
    assert "密码不能包含用户名" in password_problems("Zhangsan-2026", "zhangsan")
    # Weaker values from the environment do not weaken 等保 mode; stricter ones stand.
    monkeypatch.setenv("BANGFU_PASSWORD_MIN_LENGTH", "6")
    monkeypatch.setenv("BANGFU_PASSWORD_MAX_AGE_DAYS", "0")
    monkeypatch.setenv("BANGFU_SESSION_IDLE_MINUTES", "120")
    monkeypatch.setenv("BANGFU_PASSWORD_HISTORY", "8")
    s = account_settings()
    assert (s.min_length, s.max_age_days, s.idle_minutes, s.history) == (10, 90, 30, 8)
    assert DENGBAO.totp_roles == frozenset({"admin", "desk"})


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("BANGFU_DENGBAO", raising=False)
    monkeypatch.setenv("BANGFU_PASSWORD_MIN_LENGTH", "12")
    monkeypatch.setenv("BANGFU_PASSWORD_CLASSES", "4")
    monkeypatch.setenv("BANGFU_SESSION_IDLE_MINUTES", "0.05")
    monkeypatch.setenv("BANGFU_TOTP_ROLES", "admin")
    s = account_settings()
    assert (s.min_length, s.classes, s.idle_minutes, s.totp_roles) == (12, 4, 0.05, frozenset({"admin"}))
    monkeypatch.setenv("BANGFU_PASSWORD_MIN_LENGTH", "twelve")
    with pytest.raises(ValueError, match="BANGFU_PASSWORD_MIN_LENGTH"):
        account_settings()


def test_no_reuse_of_the_last_n_passwords(shared, monkeypatch):
    monkeypatch.setenv("BANGFU_PASSWORD_HISTORY", "3")
    auth.add_user(shared, ADMIN, "wang", "first-pass-1", "analyst")
    auth.change_own_password(shared, "wang", "first-pass-1", "second-pass-2", now=T0)
    auth.change_own_password(shared, "wang", "second-pass-2", "third-pass-3", now=T0 + timedelta(days=1))
    for reused in ("third-pass-3", "second-pass-2", "first-pass-1"):
        with pytest.raises(ValueError, match="最近 3 次"):
            auth.change_own_password(shared, "wang", "third-pass-3", reused, now=T0 + timedelta(days=2))
    with pytest.raises(ValueError, match="最近 3 次"):  # an admin's reset is checked too
        auth.set_password(shared, ADMIN, "wang", "second-pass-2")
    auth.change_own_password(shared, "wang", "third-pass-3", "fourth-pass-4", now=T0 + timedelta(days=3))
    # Four passwords on, the first may come back (N = 3: current and the two before it).
    auth.change_own_password(shared, "wang", "fourth-pass-4", "first-pass-1", now=T0 + timedelta(days=4))
    assert auth.authenticate(shared, "wang", "first-pass-1").username == "wang"
    assert len(audits(shared, "password_change", username="wang")) == 4


def test_a_wrong_old_password_does_not_change_it_and_counts_as_a_failure(shared):
    auth.add_user(shared, ADMIN, "li", "li-pass-0001", "analyst")
    with pytest.raises(LoginFailed, match="原密码错误"):
        auth.change_own_password(shared, "li", "not-it-at-all", "li-pass-0002")
    assert audits(shared, "login_failed", username="li")
    assert auth.authenticate(shared, "li", "li-pass-0001")


def test_dengbao_rotation_and_change_at_first_sign_in(shared, dengbao):
    auth.add_user(shared, ADMIN, "zhao", "Initial-pass-1", "analyst")
    assert "初始密码" in auth.password_expired(shared, "zhao", T0)  # set by an admin: change first
    auth.change_own_password(shared, "zhao", "Initial-pass-1", "Chosen-pass-22", now=T0)
    assert auth.password_expired(shared, "zhao", T0 + timedelta(days=89)) is None
    assert "90 天" in auth.password_expired(shared, "zhao", T0 + timedelta(days=90))
    auth.set_password(shared, ADMIN, "zhao", "Reset-by-admin-3", now=T0 + timedelta(days=91))
    assert "初始密码" in auth.password_expired(shared, "zhao", T0 + timedelta(days=91))


def test_rotation_is_off_by_default(shared, monkeypatch):
    monkeypatch.delenv("BANGFU_DENGBAO", raising=False)
    auth.add_user(shared, ADMIN, "qian", "qian-pass-1", "analyst")
    assert auth.password_expired(shared, "qian", datetime.now() + timedelta(days=3650)) is None


# --- 2. sessions: idle timeout, lifetime, sign-out, ended by an admin ------------------------


@pytest.fixture
def user(shared, monkeypatch, request):
    monkeypatch.delenv("BANGFU_DENGBAO", raising=False)
    monkeypatch.setenv("BANGFU_SESSION_IDLE_MINUTES", "30")
    monkeypatch.setenv("BANGFU_SESSION_LIFETIME_HOURS", "8")
    name = f"sun{abs(hash(request.node.name)) % 10**8}"
    auth.add_user(shared, ADMIN, name, "sun-pass-01", "leader", display_name="孙")
    return auth.authenticate(shared, name, "sun-pass-01")


def test_idle_timeout_ends_the_session_and_is_audited(shared, user):
    token = sessions.start(shared, user, now=T0)
    assert sessions.check(shared, token, T0 + timedelta(minutes=29)).principal.username == user.username
    # Each check is activity: 29 minutes after the last one is still fine.
    assert sessions.check(shared, token, T0 + timedelta(minutes=58)).principal
    idle = sessions.check(shared, token, T0 + timedelta(minutes=58 + 30))
    assert idle.principal is None and idle.reason == "idle" and "超时" in idle.message
    assert sessions.check(shared, token, T0 + timedelta(minutes=89)).reason == "idle"  # stays ended
    (row,) = audits(shared, "session_end", username=user.username)
    assert json.loads(row.detail)["reason"] == "idle"


def test_absolute_lifetime_ends_an_active_session(shared, user):
    token = sessions.start(shared, user, now=T0)
    at = T0
    while at < T0 + timedelta(hours=7, minutes=50):
        at += timedelta(minutes=10)
        assert sessions.check(shared, token, at).principal, at
    ended = sessions.check(shared, token, T0 + timedelta(hours=8))
    assert ended.reason == "lifetime" and "最长时限" in ended.message
    assert json.loads(audits(shared, "session_end", username=user.username)[0].detail)["reason"] == "lifetime"


def test_sign_out_ends_the_session(shared, user):
    token = sessions.start(shared, user, now=T0)
    sessions.sign_out(shared, user, token, now=T0 + timedelta(minutes=1))
    assert sessions.check(shared, token, T0 + timedelta(minutes=2)).reason == "logout"
    assert audits(shared, "logout", username=user.username)
    assert sessions.check(shared, "not-a-token", T0).reason == "unknown"
    assert sessions.check(shared, None, T0).reason == "unknown"


def test_an_admin_ends_a_users_sessions(shared, user):
    one, two = sessions.start(shared, user, now=T0), sessions.start(shared, user, now=T0)
    auth.add_user(shared, ADMIN, "colleague", "colleague-pass-1", "analyst")
    other = sessions.start(shared, auth.active_principal(shared, "colleague"), now=T0)
    assert {user.username, "colleague"} <= set(sessions.open_sessions(shared, ADMIN, T0).username)
    with pytest.raises(AccessDenied):
        sessions.end_sessions(shared, DESK, user.username)
    assert sessions.end_sessions(shared, ADMIN, user.username, now=T0 + timedelta(minutes=5)) == 2
    for token in (one, two):
        outcome = sessions.check(shared, token, T0 + timedelta(minutes=6))
        assert outcome.reason == "admin" and "管理员" in outcome.message
    assert sessions.check(shared, other, T0 + timedelta(minutes=6)).principal  # others go on
    (row,) = audits(shared, "session_revoke")
    assert (row.username, row.subject, row.detail) == (ADMIN.username, f"user:{user.username}", "sessions=2")
    still = set(sessions.open_sessions(shared, ADMIN, T0 + timedelta(minutes=6)).username)
    assert "colleague" in still and user.username not in still


def test_disabling_a_user_ends_their_sessions(shared, user):
    token = sessions.start(shared, user, now=T0)
    auth.set_active(shared, ADMIN, user.username, False)
    assert sessions.check(shared, token, T0 + timedelta(minutes=1)).reason == "disabled"


# --- 2. the TOTP second factor -------------------------------------------------------------------


def test_totp_enrolment_and_sign_in_right_and_wrong_code(shared, monkeypatch):
    monkeypatch.delenv("BANGFU_DENGBAO", raising=False)
    monkeypatch.delenv("BANGFU_TOTP_ROLES", raising=False)
    auth.add_user(shared, ADMIN, "zhou", "zhou-pass-01", "desk")
    assert second_factor.status(shared, "zhou") == "off"
    secret = second_factor.new_secret()
    assert second_factor.provisioning_uri(secret, "zhou").startswith("otpauth://totp/")
    assert second_factor.qr_png(second_factor.provisioning_uri(secret, "zhou")).startswith(b"\x89PNG")
    with pytest.raises(LoginFailed):
        second_factor.enrol(
            shared, auth.active_principal(shared, "zhou"), secret, "12345x", now=T0 - timedelta(minutes=1)
        )
    second_factor.enrol(
        shared, auth.active_principal(shared, "zhou"), secret, second_factor.code_at(secret, T0), now=T0
    )
    assert second_factor.status(shared, "zhou") == "enrolled"
    with shared.connect() as conn:
        kept = conn.execute(select(app_user.c.totp_secret).where(app_user.c.username == "zhou")).scalar()
    assert secret not in kept  # encrypted at rest
    # The password alone does not sign in: it is recorded as password_ok, not login.
    t1 = T0 + timedelta(minutes=5)
    auth.authenticate(shared, "zhou", "zhou-pass-01", now=t1)
    assert audits(shared, "password_ok", username="zhou") and not audits(shared, "login", username="zhou")
    wrong = f"{(int(second_factor.code_at(secret, t1)) + 1) % 1_000_000:06d}"
    with pytest.raises(LoginFailed, match="动态口令错误"):
        second_factor.verify_sign_in(shared, "zhou", wrong, now=t1)
    failed = audits(shared, "totp_failed", username="zhou")
    assert len(failed) == 2 and wrong not in str(failed[-1].detail)  # the enrolment's and this one
    t2 = t1 + timedelta(seconds=2)  # past the back-off after two failures
    p = second_factor.verify_sign_in(shared, "zhou", second_factor.code_at(secret, t2), now=t2)
    assert p.username == "zhou" and audits(shared, "login", username="zhou")
    with pytest.raises(LoginFailed):  # the same code again: replay refused
        second_factor.verify_sign_in(shared, "zhou", second_factor.code_at(secret, t2), now=t2 + timedelta(seconds=5))
    assert len(audits(shared, "totp_enrol", username="zhou")) == 1
    second_factor.reset(shared, ADMIN, "zhou")
    assert second_factor.status(shared, "zhou") == "off" and audits(shared, "totp_reset")


def test_wrong_codes_lock_the_account_like_wrong_passwords(shared):
    auth.add_user(shared, ADMIN, "wu", "wu-pass-0001", "desk")
    secret = second_factor.new_secret()
    second_factor.enrol(shared, auth.active_principal(shared, "wu"), secret, second_factor.code_at(secret, T0), now=T0)
    at = T0 + timedelta(minutes=1)
    with pytest.raises(AccountLocked):
        for i in range(auth.MAX_FAILURES + 1):
            auth.authenticate(shared, "wu", "wu-pass-0001", now=at)  # the password is right every time
            try:
                second_factor.verify_sign_in(shared, "wu", "12345x", now=at)
            except AccountLocked:
                raise
            except LoginFailed:
                pass
            at += timedelta(seconds=2**i + 1)  # past each back-off
    assert len(audits(shared, "totp_failed", username="wu")) >= auth.MAX_FAILURES


def test_dengbao_mode_requires_totp_for_admin_and_desk(shared, dengbao):
    auth.add_user(shared, ADMIN, "desk_a", "Desk-pass-001", "desk")
    auth.add_user(shared, ADMIN, "admin_a", "Admin-pass-001", "admin")
    auth.add_user(shared, ADMIN, "analyst_a", "Analyst-pass-01", "analyst")
    assert second_factor.status(shared, "desk_a") == "required"
    assert second_factor.status(shared, "admin_a") == "required"
    assert second_factor.status(shared, "analyst_a") == "off"
    auth.authenticate(shared, "desk_a", "Desk-pass-001")
    auth.authenticate(shared, "analyst_a", "Analyst-pass-01")
    assert audits(shared, "password_ok", username="desk_a") and not audits(shared, "login", username="desk_a")
    assert audits(shared, "login", username="analyst_a")


def test_every_account_event_is_in_the_audit_vocabulary():
    events = {
        "login", "login_failed", "logout", "lockout", "unlock", "session_end", "session_revoke",
        "totp_enrol", "totp_failed", "totp_reset", "password_change", "user_passwd", "setup_admin",
        "setup_failed", "setup_token", "password_ok",
    }  # fmt: skip
    assert events <= set(auth.AUDIT_ACTIONS)
    assert all(len(a) <= 32 for a in auth.AUDIT_ACTIONS)  # audit_log.action is String(32)


def test_unlock_is_audited_and_counts_reset(shared):
    auth.add_user(shared, ADMIN, "zheng", "zheng-pass-1", "analyst")
    auth.unlock_user(shared, ADMIN, "zheng")
    with shared.connect() as conn:
        n = conn.execute(
            select(func.count()).where(audit_log.c.action == "unlock", audit_log.c.subject == "user:zheng")
        ).scalar()
    assert n == 1
