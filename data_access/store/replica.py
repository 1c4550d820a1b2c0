"""A PostgreSQL streaming replica for the pages' reads (``BANGFU_READ_DATABASE_URL``).

Pages read from the replica; imports, warning and ledger actions and register edits write to the
primary (``BANGFU_DATABASE_URL``). A session that has just written reads from the primary until the
replica has replayed the primary's WAL up to that write (``wal_position`` after the write,
``replayed`` on the replica), so a desk sees its own action at once. The freshness line shows the
replica's lag when it matters (``lag_seconds``).
"""

from __future__ import annotations

import time

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


# Per replica: the replay position it was stuck at, and when it was first seen stuck there.
_STUCK: dict[str, tuple[str, float]] = {}
STALLED_AFTER_S = 1.0


def lag_seconds(replica: Engine) -> float | None:
    """How long ``replica`` has been behind the primary, in seconds; None when it is not a replica.

    0 while it keeps up: it has replayed all it received, or its replay position has moved since
    the last look (an import's transaction streams for minutes before its commit and the replica
    replays it as it comes; the age of its last replayed commit would call that minutes behind).
    When WAL waits unreplayed at the same replay position (replay paused, a conflict with a long
    query, a slow disk): the seconds since this process first saw it stuck there — a lower bound,
    known to the resolution of the looks (the freshness line looks at most every 5 s).
    """
    if replica.dialect.name != "postgresql":
        return None
    with replica.connect() as conn:
        in_recovery, caught_up, position = conn.execute(
            text(
                "SELECT pg_is_in_recovery(), pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(),"
                " pg_last_wal_replay_lsn()::text"
            )
        ).one()
    if not in_recovery:
        return None
    key = replica.url.render_as_string(hide_password=True)
    if caught_up or position is None:
        _STUCK.pop(key, None)
        return 0.0
    now = time.monotonic()
    stuck = _STUCK.get(key)
    if stuck is None or stuck[0] != position:
        _STUCK[key] = (position, now)
        return 0.0
    since = now - stuck[1]
    return since if since >= STALLED_AFTER_S else 0.0


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
