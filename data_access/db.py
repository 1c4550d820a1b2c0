"""The one engine factory, and the small helpers that hide dialect differences."""

from __future__ import annotations

from sqlalchemy import Engine, Integer, create_engine, event, func
from sqlalchemy.sql.elements import ColumnElement

from data_access.config import database_url, normalise_url


def make_engine(url: str | None = None, **kwargs) -> Engine:
    """Create the engine for ``url`` (default: the configured store)."""
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

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    return create_engine(url, **kwargs)


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
