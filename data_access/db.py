"""The one engine factory, and the small helpers that hide dialect differences."""

from __future__ import annotations

import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import TypeVar

import pandas as pd
from sqlalchemy import Connection, Date, DateTime, Engine, Integer, create_engine, event, func
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


def bulk_insert(conn, table, df: pd.DataFrame, chunk: int = 50_000) -> int:
    """Insert every row of ``df`` (columns named as in ``table``) on ``conn``; returns the row count.

    PostgreSQL gets COPY in CSV form (quotes, tabs and backslashes in text are safe); SQLite gets
    plain tuples through the DB-API cursor. Both run inside the caller's transaction.
    """
    cols = [c.name for c in table.columns if c.name in df.columns]
    df = df[cols].copy()
    for col in cols:
        kind = table.c[col].type
        if isinstance(kind, Integer) and df[col].dtype != "Int64":
            # pandas turns an integer column with gaps into floats ("428.0"), which COPY rejects.
            df[col] = pd.to_numeric(df[col]).astype("Int64")
        elif isinstance(kind, DateTime) and pd.api.types.is_datetime64_any_dtype(df[col]):
            df[col] = df[col].dt.strftime("%Y-%m-%d %H:%M:%S")
        elif isinstance(kind, Date) and pd.api.types.is_datetime64_any_dtype(df[col]):
            df[col] = df[col].dt.strftime("%Y-%m-%d")
    if table.name != "purchase":
        return _write_rows(conn, table, df, cols, chunk)
    # Written past the statement events: the rollup router must look at its watermark again.
    from data_access.rollup import forget_current

    forget_current(conn)
    try:
        return _write_rows(conn, table, df, cols, chunk)
    finally:
        forget_current(conn)


def _write_rows(conn, table, df: pd.DataFrame, cols: list[str], chunk: int) -> int:
    if conn.dialect.name == "postgresql":
        # COPY is an order of magnitude faster than INSERT for millions of rows.
        raw = conn.connection.dbapi_connection
        sql = f"COPY {table.name} ({', '.join(cols)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
        with raw.cursor() as cur, cur.copy(sql) as cp:
            for start in range(0, len(df), chunk):
                buf = io.StringIO()
                df.iloc[start:start + chunk].to_csv(buf, header=False, index=False, na_rep="\\N",
                                                   date_format="%Y-%m-%d %H:%M:%S")
                cp.write(buf.getvalue())
        return len(df)
    sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    cur = conn.connection.dbapi_connection.cursor()
    try:
        for start in range(0, len(df), chunk):
            part = df.iloc[start:start + chunk]
            # Plain tuples through the DB-API cursor: several times faster than bound dicts.
            cur.executemany(sql, list(zip(*[_python_values(part[c]) for c in cols], strict=True)))
    finally:
        cur.close()
    return len(df)


def _python_values(col: pd.Series) -> list:
    if pd.api.types.is_datetime64_any_dtype(col):
        return [None if pd.isna(v) else v.date().isoformat() for v in col]
    if col.dtype == "Int64":
        return [None if pd.isna(v) else int(v) for v in col]
    values = col.astype(object).where(col.notna(), None).tolist()
    return [v.isoformat(sep=" ") if isinstance(v, datetime) else v.isoformat() if isinstance(v, date) else v
            for v in values]
