"""A PostgreSQL streaming replica for the pages' reads (``BANGFU_READ_DATABASE_URL``).

Pages read from the replica; imports, warning and ledger actions and register edits write to the
primary (``BANGFU_DATABASE_URL``). A session that has just written reads from the primary until the
replica has replayed the primary's WAL up to that write (``wal_position`` after the write,
``replayed`` on the replica), so a desk sees its own action at once. The freshness line shows the
replica's lag when it matters (``lag_seconds``).
"""

from __future__ import annotations

from sqlalchemy import Engine, text

LAG_SHOWN_S = 5.0
"""From this lag on the freshness line says the figures may be behind the primary."""


def wal_position(primary: Engine) -> str | None:
    """The primary's current WAL position (an ``pg_lsn`` as text); None on SQLite."""
    if primary.dialect.name != "postgresql":
        return None
    with primary.connect() as conn:
        return conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar()


def replayed(replica: Engine, position: str) -> bool:
    """Whether ``replica`` has replayed the WAL up to ``position`` (a primary's ``wal_position``)."""
    with replica.connect() as conn:
        return bool(
            conn.execute(
                text("SELECT coalesce(pg_last_wal_replay_lsn() >= CAST(:p AS pg_lsn), true)"), {"p": position}
            ).scalar()
        )


def lag_seconds(replica: Engine) -> float | None:
    """How far ``replica`` is behind: 0 when it has replayed all it received; otherwise the age of the
    last transaction it replayed. None when ``replica`` is not a replica (a primary, SQLite)."""
    if replica.dialect.name != "postgresql":
        return None
    with replica.connect() as conn:
        row = conn.execute(
            text(
                "SELECT pg_is_in_recovery(), pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(),"
                " EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())"
            )
        ).one()
    in_recovery, caught_up, age = row
    if not in_recovery:
        return None
    if caught_up or age is None:
        return 0.0
    return max(0.0, float(age))


def replication_status(primary: Engine) -> list[dict]:
    """``pg_stat_replication`` on the primary: one row per connected standby, lags in seconds."""
    with primary.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT application_name, client_addr::text, state, sent_lsn::text, replay_lsn::text,"
                " EXTRACT(EPOCH FROM write_lag), EXTRACT(EPOCH FROM flush_lag), EXTRACT(EPOCH FROM replay_lag),"
                " pg_wal_lsn_diff(sent_lsn, replay_lsn) FROM pg_stat_replication"
            )
        ).all()
    keys = ("name", "client", "state", "sent_lsn", "replay_lsn", "write_lag", "flush_lag", "replay_lag", "bytes_behind")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def lag_text(lag: float | None) -> str:
    """The freshness line's words for ``lag`` (empty when it does not matter)."""
    if lag is None or lag < LAG_SHOWN_S:
        return ""
    if lag < 120:
        return f"只读副本落后主库约 {lag:.0f} 秒"
    return f"只读副本落后主库约 {lag / 60:.0f} 分钟"
