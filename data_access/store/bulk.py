"""Bulk writes: COPY on PostgreSQL, DB-API ``executemany`` on SQLite, inside the caller's transaction.

They go past SQLAlchemy's statement events, which tell the rollup router that purchases changed: a
writer of purchases updates the rollups next in the same transaction (``rollup.add_batch`` or
``rollup.rebuild``), and those statements tell it."""

from __future__ import annotations

import io
from datetime import date, datetime

import pandas as pd
from sqlalchemy import Date, DateTime, Integer


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
    return _write_rows(conn, table, df, cols, chunk)


def _write_rows(conn, table, df: pd.DataFrame, cols: list[str], chunk: int) -> int:
    if conn.dialect.name == "postgresql":
        # COPY is an order of magnitude faster than INSERT for millions of rows.
        raw = conn.connection.dbapi_connection
        sql = f"COPY {table.name} ({', '.join(cols)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
        with raw.cursor() as cur, cur.copy(sql) as cp:
            for start in range(0, len(df), chunk):
                buf = io.StringIO()
                df.iloc[start : start + chunk].to_csv(
                    buf, header=False, index=False, na_rep="\\N", date_format="%Y-%m-%d %H:%M:%S"
                )
                cp.write(buf.getvalue())
        return len(df)
    sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    cur = conn.connection.dbapi_connection.cursor()
    try:
        for start in range(0, len(df), chunk):
            part = df.iloc[start : start + chunk]
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
    return [
        v.isoformat(sep=" ") if isinstance(v, datetime) else v.isoformat() if isinstance(v, date) else v for v in values
    ]
