"""Users, sign-in, lockout, and the reporter's own-unit restriction — on both backends."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from data_access.figures.overview import (
    amount_by_channel,
    monthly_amounts,
    overview_kpis,
    plan_total,
)
from data_access.query.facts import scoped_select
from data_access.query.filters import Filters
from data_access.reference.setup import init_store
from data_access.store.schema import app_user, audit_log, purchase, unit_budget
from data_access.tools.demo import generate_demo
from data_access.trust import auth
from data_access.trust.auth import AccessDenied, AccountLocked, LoginFailed, Principal
from pages import registry
from tests.principals import ADMIN

ROOT = Path(__file__).resolve().parents[2]
YEAR = Filters(start=date(2024, 1, 1), end=date(2024, 12, 31))


@pytest.fixture(scope="module")
def store(databases):
    """A demo store private to this module (users are written to it)."""
    eng = databases.new_engine()
    init_store(eng)
    generate_demo(eng, scale=20_000)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def two_units(store):
    """Two buyer units with purchases in 2024: (unit_a, unit_b)."""
    with store.connect() as conn:
        rows = conn.execute(
            select(purchase.c.buyer_unit_id)
            .where(purchase.c.month.between(202401, 202412))
            .group_by(purchase.c.buyer_unit_id)
            .order_by(func.count().desc())
            .limit(2)
        ).scalars()
        return tuple(int(r) for r in rows)


def reporter(unit_id: int) -> Principal:
    return Principal(username=f"r{unit_id}", role="reporter", unit_id=unit_id)


def test_passwords_are_stored_as_argon2_hashes(store):
    auth.add_user(store, ADMIN, "hash_check", "correct horse 1", "analyst")
    with store.connect() as conn:
        stored = conn.execute(select(app_user.c.password_hash).where(app_user.c.username == "hash_check")).scalar()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


def test_sign_in_gives_the_users_principal(store, two_units):
    auth.add_user(store, ADMIN, "rep_ok", "report-pass-1", "reporter", unit=two_units[0], display_name="报送员甲")
    p = auth.authenticate(store, "rep_ok", "report-pass-1")
    assert (p.username, p.role, p.unit_id, p.display_name) == ("rep_ok", "reporter", two_units[0], "报送员甲")
    assert p.unit_name and not p.demo


def test_wrong_password_and_unknown_user_get_the_same_message(store):
    auth.add_user(store, ADMIN, "someone", "right-password", "leader")
    with pytest.raises(LoginFailed) as wrong:
        auth.authenticate(store, "someone", "wrong-password")
    with pytest.raises(LoginFailed) as unknown:
        auth.authenticate(store, "nobody-at-all", "whatever-pass")
    assert str(wrong.value) == str(unknown.value) == "用户名或密码错误。"


def test_failures_back_off_then_lock_the_account(store):
    auth.add_user(store, ADMIN, "locky", "the-right-one", "desk")
    t = datetime(2030, 1, 1, 9, 0, 0)
    with pytest.raises(LoginFailed):
        auth.authenticate(store, "locky", "nope-1", now=t)
    with pytest.raises(LoginFailed):
        auth.authenticate(store, "locky", "nope-2", now=t + timedelta(seconds=5))
    with pytest.raises(AccountLocked, match="秒后再试"):  # second failure: a short wait
        auth.authenticate(store, "locky", "the-right-one", now=t + timedelta(seconds=5.5))
    for i in range(3, 6):
        with pytest.raises(LoginFailed):
            auth.authenticate(store, "locky", f"nope-{i}", now=t + timedelta(seconds=20 * i))
    # Five failures: even the right password is refused for the lockout period.
    with pytest.raises(AccountLocked, match="已临时锁定") as locked:
        auth.authenticate(store, "locky", "the-right-one", now=t + timedelta(minutes=5))
    assert locked.value.until == t + timedelta(seconds=100) + auth.LOCKOUT
    p = auth.authenticate(store, "locky", "the-right-one", now=t + timedelta(minutes=20))
    assert p.role == "desk"
    # A successful sign-in clears the count.
    with pytest.raises(LoginFailed) as again:
        auth.authenticate(store, "locky", "nope-6", now=t + timedelta(minutes=21))
    assert not isinstance(again.value, AccountLocked)


def test_failed_attempts_are_audited_without_the_password(store):
    with pytest.raises(LoginFailed):
        auth.authenticate(store, "audited-user", "S3cret-typed-wrong")
    with store.connect() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.username == "audited-user")).all()
    assert [r.action for r in rows] == ["login_failed"]
    assert all("S3cret" not in str(v) for r in rows for v in r)


def test_disabled_user_cannot_sign_in_and_loses_the_session(store):
    auth.add_user(store, ADMIN, "leaver", "leaving-soon", "analyst")
    assert auth.active_principal(store, "leaver") is not None
    auth.set_active(store, ADMIN, "leaver", False)
    assert auth.active_principal(store, "leaver") is None
    with pytest.raises(LoginFailed):
        auth.authenticate(store, "leaver", "leaving-soon")
    auth.set_active(store, ADMIN, "leaver", True)
    auth.set_password(store, ADMIN, "leaver", "a-new-password")
    assert auth.authenticate(store, "leaver", "a-new-password").role == "analyst"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(username="x1", password="short", role="admin"), "至少 8 位"),
        (dict(username="x2", password="long-enough", role="boss"), "角色"),
        (dict(username="x3", password="long-enough", role="reporter"), "必须指定所属单位"),
        (dict(username="x4", password="long-enough", role="reporter", unit="不存在的单位"), "找不到单位"),
    ],
)
def test_bad_user_definitions_are_refused(store, kwargs, message):
    with pytest.raises(ValueError, match=message):
        auth.add_user(store, ADMIN, **kwargs)


def test_cli_adds_lists_and_disables_users_with_password_from_stdin(store, two_units):
    url = store.url.render_as_string(hide_password=False)
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}

    def cli(*args, stdin=""):
        return subprocess.run(
            [sys.executable, "-m", "data_access", "user", "--url", url, *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=120,
        )

    done = cli(
        "add",
        "cli_rep",
        "--role",
        "reporter",
        "--unit",
        str(two_units[1]),
        "--password-stdin",
        stdin="cli-password-1\n",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert auth.authenticate(store, "cli_rep", "cli-password-1").unit_id == two_units[1]
    listed = cli("list")
    assert "cli_rep" in listed.stdout and "报送单位" in listed.stdout and "cli-password-1" not in listed.stdout
    assert cli("disable", "cli_rep").returncode == 0
    assert auth.active_principal(store, "cli_rep") is None
    bad = cli("add", "cli_short", "--role", "admin", "--password-stdin", stdin="short\n")
    assert bad.returncode == 2 and "至少 8 位" in bad.stdout


def test_the_unit_restriction_cannot_come_from_the_url():
    f = Filters.from_query_params(
        {"from": "2024-01-01", "to": "2024-06-30", "own_unit_id": "3", "unit": "3"},
        date(2024, 1, 1),
        date(2024, 12, 31),
    )
    assert f.own_unit_id is None
    restricted = auth.apply_principal(f, reporter(7))
    assert restricted.own_unit_id == 7
    assert "7" not in restricted.to_query_params().values()
    assert restricted.last_year().own_unit_id == 7 and restricted.with_region("52").own_unit_id == 7


@pytest.mark.parametrize("role", ["leader", "desk", "analyst", "admin"])
def test_other_roles_are_not_restricted(role):
    assert auth.apply_principal(YEAR, Principal(username="u", role=role, unit_id=5)) == YEAR


def test_reporter_without_a_unit_sees_nothing():
    with pytest.raises(AccessDenied):
        auth.apply_principal(YEAR, Principal(username="u", role="reporter"))


def _unit_amount(engine, unit_id: int, f: Filters) -> float:
    with engine.connect() as conn:
        return float(
            conn.execute(
                select(func.coalesce(func.sum(purchase.c.amount), 0)).where(
                    purchase.c.buyer_unit_id == unit_id, purchase.c.purchase_date.between(f.start, f.end)
                )
            ).scalar()
        )


def test_reporter_figures_are_those_of_its_own_unit(store, two_units):
    unit_a, unit_b = two_units
    f = auth.apply_principal(YEAR, reporter(unit_a))
    k = overview_kpis(store, f)
    everyone = overview_kpis(store, YEAR)
    assert k["amount"] == pytest.approx(_unit_amount(store, unit_a, YEAR))
    assert k["amount"] < everyone["amount"]
    assert k["amount_last_year"] == pytest.approx(_unit_amount(store, unit_a, YEAR.last_year()))
    assert k["units_total"] == 1 and k["units_reporting"] == 1
    with store.connect() as conn:
        own_plan = conn.execute(
            select(func.coalesce(func.sum(unit_budget.c.plan_amount), 0)).where(
                unit_budget.c.unit_id == unit_a, unit_budget.c.year == 2024
            )
        ).scalar()
    assert plan_total(store, f) == pytest.approx(float(own_plan))
    assert monthly_amounts(store, f).amount.sum() == pytest.approx(k["amount"])
    assert amount_by_channel(store, f).amount.sum() == pytest.approx(k["amount"])


def test_reporter_cannot_reach_another_units_purchases_through_any_filter(store, two_units):
    unit_a, unit_b = two_units
    f = auth.apply_principal(YEAR, reporter(unit_a))
    with store.connect() as conn:
        units = conn.execute(scoped_select(f, func.distinct(purchase.c.buyer_unit_id))).scalars().all()
        # Filters a page could build from the URL (buyer side, buyer kinds) stay inside the unit.
        wide = auth.apply_principal(
            Filters(
                start=date(2020, 1, 1),
                end=date(2030, 12, 31),
                region_side="buyer",
                buyer_kinds=("budget_unit", "union", "state_firm", "private_firm", "social_org"),
            ),
            reporter(unit_a),
        )
        wide_units = conn.execute(scoped_select(wide, func.distinct(purchase.c.buyer_unit_id))).scalars().all()
    assert units == [unit_a] and set(wide_units) <= {unit_a}
    assert overview_kpis(store, auth.apply_principal(YEAR, reporter(unit_b)))["amount"] == pytest.approx(
        _unit_amount(store, unit_b, YEAR)
    )


def test_submissions_are_for_the_reporters_own_unit():
    assert auth.submission_unit(reporter(4), None) == 4
    assert auth.submission_unit(reporter(4), 4) == 4
    with pytest.raises(AccessDenied):
        auth.submission_unit(reporter(4), 5)
    assert auth.submission_unit(Principal(username="a", role="admin"), 5) == 5
    for role in ("leader", "desk", "analyst"):
        with pytest.raises(AccessDenied):
            auth.submission_unit(Principal(username="x", role=role), 5)


@pytest.mark.parametrize(
    "role, pages",
    [
        ("reporter", {"overview", "procurement", "reporting", "registers", "beneficiaries"}),
        ("analyst", {"overview", "procurement", "warnings", "outlet_map", "drilldown", "catalogue", "trends"}),
        ("leader", {"overview", "procurement", "warnings", "outlet_map", "drilldown", "catalogue", "trends", "ledger"}),
        (
            "desk",
            {
                "overview",
                "procurement",
                "warnings",
                "outlet_map",
                "drilldown",
                "catalogue",
                "trends",
                "ledger",
                "beneficiaries",
            },
        ),
        ("admin", set(registry.BY_URL)),
    ],
)
def test_page_matrix(role, pages):
    p = Principal(username="u", role=role, unit_id=1)
    assert {path for path in registry.BY_URL if registry.can_view(p, path)} == pages
    assert registry.can_view(p, "some-future-page") == (role in auth.READERS)


def test_matrix_in_docs_matches_the_code():
    doc = (ROOT / "docs" / "trust.md").read_text(encoding="utf-8")
    for path, roles in ((p.url_path, p.roles) for p in registry.PAGES):
        line = next(ln for ln in doc.splitlines() if f"`{path}`" in ln)
        cells = [c.strip() for c in line.strip().strip("|").split("|")][-len(auth.ROLES) :]
        assert {r for r, c in zip(auth.ROLES, cells, strict=True) if c == "✓"} == roles, path


def test_cli_takes_no_password_argument(capsys):
    from data_access.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["user", "add", "x", "--role", "admin", "--password", "secret123"])
    assert "unrecognized arguments" in capsys.readouterr().err
