"""The audit log's hash chain on both backends: every write chains (one row or 20,000), the store
refuses UPDATE and DELETE, ``audit verify`` names a row a DBA edited or removed by hand, a purge
keeps 180 days, removes only older rows, is audited and leaves a chain that still verifies."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, select, text

from data_access.reference.setup import init_store
from data_access.store.audit_chain import row_hash
from data_access.store.migrate import alembic_config, upgrade_schema
from data_access.store.schema import audit_log
from data_access.trust import audit, auth
from data_access.trust.auth import AccessDenied, AccountLocked, write_audit, write_audits
from tests.principals import ADMIN, DESK

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(databases):
    eng = databases.new_engine()
    init_store(eng)
    yield eng
    eng.dispose()


def _write(store, n: int, action: str = "ledger_update", at: datetime | None = None) -> None:
    with store.begin() as conn:
        for i in range(n):
            write_audit(conn, "desk-a", action, f"item:{i}", f"详情 {i}", at=at)


def _by_hand(store, sql: str, **params) -> None:
    """What a DBA with DDL rights can do: switch the append-only trigger off, change rows, switch it on."""
    with store.begin() as conn:
        if store.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            conn.execute(text(sql), params)
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
            conn.execute(text(sql), params)


def _ids(store) -> list[int]:
    with store.connect() as conn:
        return conn.execute(select(audit_log.c.id).order_by(audit_log.c.id)).scalars().all()


def _cli(store, *args):
    url = store.url.render_as_string(hide_password=False)
    return subprocess.run(
        [sys.executable, "-m", "data_access", "audit", "--url", url, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def test_every_write_chains_one_row_or_twenty_thousand(store):
    _write(store, 5)
    t0 = time.perf_counter()
    with store.begin() as conn:
        write_audits(conn, "desk-a", "register_change", [(f"单位:{i}", f"改动 {i}") for i in range(20_000)])
    bulk = time.perf_counter() - t0
    _write(store, 3)
    verdict = audit.verify_audit(store)
    assert verdict.ok, verdict.message()
    assert verdict.checked == 20_008 and "通过" in verdict.message()
    assert bulk < 10, f"20,000 chained audit rows took {bulk:.1f} s"  # ~1 s SQLite, ~2 s PostgreSQL alone
    with store.connect() as conn:
        first, second = conn.execute(
            select(audit_log.c.prev_hash, audit_log.c.row_hash).order_by(audit_log.c.id).limit(2)
        ).all()
    assert first.prev_hash == "0" * 64 and second.prev_hash == first.row_hash and len(second.row_hash) == 64


def test_concurrent_writers_keep_one_chain(store):
    errors = []

    def writer(k):
        try:
            for i in range(15):
                with store.begin() as conn:
                    write_audit(conn, f"user-{k}", "logout", None, str(i))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    verdict = audit.verify_audit(store)
    assert verdict.ok and verdict.checked == 60, verdict.message()


def test_the_store_refuses_update_and_delete(store):
    _write(store, 3)
    row = _ids(store)[1]
    for sql in ("UPDATE audit_log SET detail = '改过' WHERE id = :id", "DELETE FROM audit_log WHERE id = :id"):
        with pytest.raises(Exception, match="append-only"):
            with store.begin() as conn:
                conn.execute(text(sql), {"id": row})
    assert len(_ids(store)) == 3 and audit.verify_audit(store).ok


def test_a_row_edited_by_hand_fails_verify_naming_the_row(store):
    _write(store, 10)
    assert _cli(store, "verify").returncode == 0
    edited = _ids(store)[6]
    _by_hand(store, "UPDATE audit_log SET detail = '无异常' WHERE id = :id", id=edited)
    verdict = audit.verify_audit(store)
    assert not verdict.ok and verdict.broken_id == edited
    out = _cli(store, "verify")
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"第 {edited} 条被改动" in out.stdout


def test_a_row_edited_and_rehashed_by_hand_still_fails(store):
    """Recomputing the edited row's own hash does not help: the next row's link no longer matches."""
    _write(store, 6)
    ids = _ids(store)
    with store.connect() as conn:
        r = conn.execute(select(audit_log).where(audit_log.c.id == ids[2])).first()
    forged = row_hash(r.id, r.at, r.username, r.action, r.subject, "伪造", r.prev_hash)
    _by_hand(store, "UPDATE audit_log SET detail = '伪造', row_hash = :h WHERE id = :id", h=forged, id=ids[2])
    verdict = audit.verify_audit(store)
    assert not verdict.ok and verdict.broken_id == ids[3] and "删除" in verdict.problem


def test_a_removed_row_fails_verify(store):
    _write(store, 8)
    ids = _ids(store)
    _by_hand(store, "DELETE FROM audit_log WHERE id = :id", id=ids[4])
    verdict = audit.verify_audit(store)
    assert not verdict.ok and verdict.broken_id == ids[5]
    assert f"第 {ids[5]} 条之前有记录被删除" in verdict.message()


def test_rows_cut_off_the_end_fail_verify(store):
    _write(store, 5)
    ids = _ids(store)
    _by_hand(store, "DELETE FROM audit_log WHERE id >= :id", id=ids[3])
    verdict = audit.verify_audit(store)
    assert not verdict.ok and verdict.broken_id == ids[-1] and "末尾" in verdict.problem


def test_purge_keeps_180_days_removes_only_older_rows_and_is_audited(store):
    now = datetime.now()
    _write(store, 4, at=now - timedelta(days=400))
    _write(store, 3, at=now - timedelta(days=200))
    _write(store, 5, at=now - timedelta(days=10))
    with pytest.raises(ValueError, match="至少保留 180 天"):
        audit.purge_audit(store, ADMIN, 179)
    with pytest.raises(AccessDenied):
        audit.purge_audit(store, DESK, 365)
    assert _cli(store, "purge", "--older-than-days", "30").returncode == 2
    assert len(_ids(store)) == 12

    assert audit.purge_audit(store, ADMIN, 365, now=now) == 4
    with store.connect() as conn:
        oldest = conn.execute(select(func.min(audit_log.c.at))).scalar()
        purge = conn.execute(select(audit_log).where(audit_log.c.action == "audit_purge")).one()
    assert oldest >= now - timedelta(days=365)
    assert purge.username == ADMIN.username and json.loads(purge.detail)["rows"] == 4
    verdict = audit.verify_audit(store)
    assert verdict.ok and verdict.checked == 9 and "之前的已按保留期清理" in verdict.message()

    out = _cli(store, "purge", "--older-than-days", "180")
    assert out.returncode == 0 and "已清理 3 条" in out.stdout
    _write(store, 2)
    assert audit.verify_audit(store).ok
    # A row removed after the purge is still found.
    _by_hand(store, "DELETE FROM audit_log WHERE id = :id", id=_ids(store)[0])
    assert not audit.verify_audit(store).ok


def test_lockout_unlock_and_downloads_are_audited(store):
    auth.add_user(store, ADMIN, "locky", "the-right-one", "desk")
    t = datetime.now()
    for i in range(auth.MAX_FAILURES):
        with pytest.raises(auth.LoginFailed):
            auth.authenticate(store, "locky", f"nope-{i}", now=t + timedelta(seconds=20 * i))
    with pytest.raises(AccountLocked):
        auth.authenticate(store, "locky", "the-right-one", now=t + timedelta(minutes=2))
    auth.unlock_user(store, ADMIN, "locky", now=t + timedelta(minutes=2, seconds=1))
    back = auth.authenticate(store, "locky", "the-right-one", now=t + timedelta(minutes=2, seconds=2))
    assert back.username == "locky"

    audit.record_download(store, DESK, "督办台账_在办.xlsx", 42, "2024年 全部地区")
    data = audit.audit_export(store, ADMIN, username="locky", start=date.today() - timedelta(days=1))
    assert data[:2] == b"PK"
    log = auth.audit_entries(store, ADMIN, limit=None)
    actions = list(log.sort_values("id").action)
    assert actions.count("login_failed") == auth.MAX_FAILURES
    assert ["lockout", "unlock", "login"] == [a for a in actions if a in ("lockout", "unlock", "login")]
    downloads = log[log.action == "download"].sort_values("id")
    assert list(downloads.subject) == ["督办台账_在办.xlsx", "审计日志.xlsx"]
    first, export = (json.loads(d) for d in downloads.detail)
    assert first == {"rows": 42, "filters": "2024年 全部地区"}
    assert export["rows"] == auth.MAX_FAILURES + 2 and "用户：locky" in export["filters"]
    assert audit.verify_audit(store).ok


def test_audit_log_filters_by_user_action_and_date(store):
    now = datetime.now()
    _write(store, 2, action="ledger_update", at=now - timedelta(days=40))
    _write(store, 3, action="warning_action", at=now - timedelta(days=2))
    with store.begin() as conn:
        write_audit(conn, "someone-else", "warning_action", None, None)
    got = auth.audit_entries(store, ADMIN, action="warning_action", username="desk-a", limit=None)
    assert len(got) == 3
    recent = auth.audit_entries(store, ADMIN, start=(now - timedelta(days=5)).date(), end=now.date(), limit=None)
    assert set(recent.action) == {"warning_action"} and len(recent) == 4
    older = auth.audit_entries(store, ADMIN, end=(now - timedelta(days=30)).date(), limit=None)
    assert len(older) == 2


def test_rows_written_before_the_chain_are_chained_by_the_migration(fresh_engine):
    cfg = alembic_config(fresh_engine)
    with fresh_engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "outlets_0001")
    with fresh_engine.begin() as conn:
        for i in range(3):
            conn.execute(
                text("INSERT INTO audit_log (at, username, action, detail) VALUES (:at, 'old', 'login', :d)"),
                {"at": datetime(2025, 1, 1, 8, i), "d": f"role=desk {i}"},
            )
    upgrade_schema(fresh_engine)
    verdict = audit.verify_audit(fresh_engine)
    assert verdict.ok and verdict.checked == 3
    _write(fresh_engine, 2)
    assert audit.verify_audit(fresh_engine).checked == 5
    with pytest.raises(Exception, match="append-only"):
        with fresh_engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET detail = NULL"))
