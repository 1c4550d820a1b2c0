"""The one engine factory, and the small helpers that hide dialect differences."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pandas as pd
from sqlalchemy import Connection, Engine, Integer, create_engine, event, func
from sqlalchemy.sql.elements import ColumnElement

from data_access.store.config import database_url, normalise_url
from data_access.store.rollup import router as rollup_router


def make_engine(url: str | None = None, *, route_rollups: bool = True, **kwargs) -> Engine:
    """Create the engine for ``url`` (default: the configured store). With ``route_rollups`` (the
    default) the rollup router is installed on it, so scoped purchase aggregates are answered from
    the rollups; ``route_rollups=False`` gives an engine that always reads the raw facts."""
    url = normalise_url(url or database_url())
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            # WAL lets the dashboard read while an import or the warning job writes.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return rollup_router.install(engine) if route_rollups else engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    engine = create_engine(url, **kwargs)
    return rollup_router.install(engine) if route_rollups else engine


T = TypeVar("T")
# Shared by every session of the process: a few reads in flight at once is what a 2-core
# database serves best; more only queue on the server.
READERS = 3
_READERS = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="bangfu-read")


def read_concurrently(engine: Engine, reads: dict[str, Callable[[Connection], T]]) -> dict[str, T]:
    """Run independent reads side by side: key → its result.

    For a call made of statements that do not depend on each other (the rule engine's): the reads
    are dealt in turn (give the heaviest first) into ``READERS`` groups, each run in order on one
    pooled connection — one group on the calling thread, the others on the shared pool — so the
    database works on several at once and Python decodes one result while the next is computed,
    with one connection checkout (ping, reset) per group, not per read. An in-memory SQLite
    database (one per connection) runs them all on one connection.
    """
    items = list(reads.items())

    def run(group):
        with engine.connect() as conn:
            return [(key, read(conn)) for key, read in group]

    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        return dict(run(items))
    groups = [items[i::READERS] for i in range(min(READERS, len(items)))]
    futures = [_READERS.submit(run, group) for group in groups[1:]]
    out = dict(run(groups[0])) if groups else {}
    for fut in futures:
        out.update(fut.result())
    return {key: out[key] for key in reads}


def frame(rows, columns=None) -> pd.DataFrame:
    """Result rows (SQLAlchemy ``Row``s, any iterable of sequences) as a DataFrame with ``columns``.

    Built from plain tuples: pandas treats a ``Row`` as a generic sequence and probes it cell by
    cell (~10 µs a row, most of a small query's time)."""
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)


def is_postgres(engine_or_conn) -> bool:
    """True on PostgreSQL, False on SQLite."""
    return engine_or_conn.dialect.name == "postgresql"


def month_of(column, dialect_name: str) -> ColumnElement:
    """``YYYY-MM`` text of a DATE column, on either backend."""
    if dialect_name == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def year_of(column, dialect_name: str) -> ColumnElement:
    """The year of a DATE column as an integer, on either backend."""
    if dialect_name == "postgresql":
        return func.cast(func.extract("year", column), Integer)
    return func.cast(func.strftime("%Y", column), Integer)
