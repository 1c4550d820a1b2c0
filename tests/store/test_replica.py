"""BANGFU_READ_DATABASE_URL against a real streaming replica the test starts (tests/replica_support.py:
a primary of its own on 127.0.0.1:5440, pg_basebackup -R to a replica on 5441; the shared server
is not touched): pages read the replica, a desk's write goes to the primary and the same session
reads it back at once even while the replica is held back, another session sees the replica and
the freshness line says how far behind it is. Prints the replica's lag under an import."""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from data_access.store import replica
from data_access.store import schema as s
from tests.replica_support import streaming_pair, wait_replayed


@pytest.fixture(scope="module")
def pair():
    from data_access.reference.setup import init_store
    from data_access.store.db import make_engine
    from data_access.tools.demo import generate_demo
    from tests import conftest

    with streaming_pair(5440, 5441) as (primary_url, replica_url):
        conftest._pg_tests_run += 1  # counts for BANGFU_REQUIRE_PG=1
        primary = make_engine(primary_url)
        standby = make_engine(replica_url)
        init_store(primary)
        generate_demo(primary, scale=3_000)
        wait_replayed(primary, standby)
        try:
            yield primary_url, replica_url, primary, standby
        finally:
            primary.dispose()
            standby.dispose()


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_the_replica_streams_the_primary(pair):
    _p_url, _r_url, primary, standby = pair
    assert _count(standby, s.purchase) == _count(primary, s.purchase) > 0
    assert replica.lag_seconds(primary) is None  # a primary is no replica
    assert replica.lag_seconds(standby) == 0.0
    with standby.connect() as conn:
        conn.execute(text("SELECT pg_wal_replay_pause()"))
    try:
        with primary.begin() as conn:
            conn.execute(text("CREATE TABLE lag_probe (x int)"))
        time.sleep(0.5)
        assert replica.lag_seconds(standby) == 0.0  # first sight behind: it may be replaying
        time.sleep(1.5)
        assert replica.lag_seconds(standby) >= 1.5  # stuck at the same position since
    finally:
        with standby.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_resume()"))
    wait_replayed(primary, standby)
    assert replica.lag_seconds(standby) == 0.0
    (row,) = replica.replication_status(primary)
    assert row["state"] == "streaming"
    with pytest.raises(Exception, match="read-only"), standby.begin() as conn:
        conn.execute(text("CREATE TABLE nope (x int)"))


def test_lag_under_an_import(pair):
    """An import of 50,000 purchases on the primary: the replica's lag sampled every 0.1 s."""
    from data_access.desks import imports
    from data_access.tools import bench
    from data_access.trust import auth

    _p_url, _r_url, primary, standby = pair
    # (the lag the freshness line would show; bytes of WAL not replayed; the primary's replay_lag)
    samples: list[tuple[float, float, float]] = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            lag = replica.lag_seconds(standby) or 0.0
            status = replica.replication_status(primary)
            behind = sum(r["bytes_behind"] or 0 for r in status)
            replay = max((r["replay_lag"] or 0 for r in status), default=0)
            samples.append((lag, float(behind), float(replay)))
            time.sleep(0.1)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.csv"
        bench.write_bench_ledger(primary, path, 50_000)
        result = imports.parse_upload(path, "purchases", None, limits=imports.Limits(max_bytes=None))
        watcher = threading.Thread(target=sample, daemon=True)
        watcher.start()
        t0 = time.monotonic()
        outcome = imports.commit_upload(primary, result, principal=auth.cli_principal("replica-test"))
        committed = time.monotonic() - t0
        caught_up = wait_replayed(primary, standby)
        done.set()
        watcher.join()
    assert outcome.committed, outcome.message
    assert _count(standby, s.purchase) == _count(primary, s.purchase)
    max_lag, max_bytes, max_replay = (max(x[i] for x in samples) for i in range(3))
    print(
        f"\nimport of 50,000 purchases: commit {committed:.1f} s; replica caught up {caught_up:.2f} s after the "
        f"commit; largest WAL not replayed {max_bytes / 2**20:.1f} MB, largest replay_lag (primary) "
        f"{max_replay:.2f} s, largest lag the freshness line would show {max_lag:.1f} s ({len(samples)} samples)"
    )


SCRIPT = """
import streamlit as st
from data_access import cache
from data_access.desks.warnings import apply_action
from data_access.figures import alerts
from pages.common import ui
from tests.principals import desk

st.session_state.setdefault("principal", desk("副本测试专班"))
WID, NOTE = {wid}, {note!r}
if st.button("note"):
    version = cache.run(alerts.warning_detail, WID)["version"]
    cache.act(apply_action, WID, version, "note", note=NOTE)
history = cache.query(alerts.warning_history, WID)
st.text(f"notes={{int((history.note == NOTE).sum())}}")
st.text("reads=" + ("replica" if cache.read_url().endswith(":5441/postgres") else "primary"))
ui.freshness("测试")
"""


def _app(wid: int, note: str):
    from streamlit.testing.v1 import AppTest

    return AppTest.from_string(SCRIPT.format(wid=wid, note=note), default_timeout=60)


def _texts(at) -> dict[str, str]:
    return dict(t.value.split("=", 1) for t in at.text)


def test_a_desk_reads_its_own_write_while_the_replica_lags(pair, monkeypatch):
    p_url, r_url, primary, standby = pair
    monkeypatch.setenv("BANGFU_DATABASE_URL", p_url)
    monkeypatch.setenv("BANGFU_READ_DATABASE_URL", r_url)
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    with primary.connect() as conn:
        wid = conn.execute(select(func.min(s.warning.c.id)).where(s.warning.c.status != "closed")).scalar()
    note = f"副本测试备注 {secrets.token_hex(3)}"

    at = _app(wid, note).run()
    assert not at.exception
    assert _texts(at) == {"notes": "0", "reads": "replica"}
    with standby.connect() as conn:
        conn.execute(text("SELECT pg_wal_replay_pause()"))
    try:
        at.button[0].click().run()  # the desk's note: written to the primary
        assert not at.exception
        assert _texts(at) == {"notes": "1", "reads": "primary"}  # read back from the primary at once
        with standby.connect() as conn:
            assert conn.execute(select(func.count()).where(s.warning_action.c.note == note)).scalar() == 0
        other = _app(wid, note).run()  # another session reads the held-back replica…
        assert not other.exception
        assert _texts(other) == {"notes": "0", "reads": "replica"}
        assert "只读副本" not in other.caption[0].value  # (first sight of it behind: it may be replaying)
        for _ in range(3):  # … and once it has seen it stand still (looks at most every 5 s), says how far
            time.sleep(replica.LAG_SHOWN_S + 1)
            line = other.run().caption[0].value
            if "只读副本" in line:
                break
        assert "数据截至" in line and "只读副本落后主库约" in line, line
    finally:
        with standby.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_resume()"))
    wait_replayed(primary, standby)
    time.sleep(1.1)  # the session checks the replica at most once a second
    at.run()
    assert _texts(at) == {"notes": "1", "reads": "replica"}  # caught up: back to the replica
    with primary.connect() as conn:
        assert conn.execute(select(func.count()).where(s.warning_action.c.note == note)).scalar() == 1


def test_without_a_replica_everything_reads_the_store(monkeypatch):
    monkeypatch.delenv("BANGFU_READ_DATABASE_URL", raising=False)
    from data_access.store.config import read_database_url

    assert read_database_url() is None
    monkeypatch.setenv("BANGFU_READ_DATABASE_URL", "postgres://u@h:5441/db")
    assert read_database_url() == "postgresql+psycopg://u@h:5441/db"
    assert replica.lag_text(None) == replica.lag_text(1.0) == ""
    assert replica.lag_text(12) == "只读副本落后主库约 12 秒" and "分钟" in replica.lag_text(600)
    assert os.environ["BANGFU_READ_DATABASE_URL"]
