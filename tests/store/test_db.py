"""The engine helpers: reads side by side, frames from result rows."""

import pandas as pd
import pytest
from sqlalchemy import func, select, text

from data_access.store.db import frame, read_concurrently
from data_access.store.schema import buyer_unit, purchase


def test_reads_side_by_side_return_what_each_read_alone_returns(demo_engine):
    reads = {
        "units": lambda conn: conn.execute(select(func.count()).select_from(buyer_unit)).scalar(),
        "purchases": lambda conn: conn.execute(select(func.count()).select_from(purchase)).scalar(),
        "amount": lambda conn: float(conn.execute(select(func.sum(purchase.c.amount))).scalar()),
    }
    with demo_engine.connect() as conn:
        alone = {k: read(conn) for k, read in reads.items()}
    assert read_concurrently(demo_engine, reads) == alone


def test_a_failing_read_fails_the_call(demo_engine):
    with pytest.raises(Exception, match="no_such_table"):
        read_concurrently(
            demo_engine,
            {"ok": lambda conn: 1, "bad": lambda conn: conn.execute(text("SELECT * FROM no_such_table")).all()},
        )


def test_frame_of_result_rows_is_the_frame_pandas_would_build(demo_engine):
    q = select(buyer_unit.c.id, buyer_unit.c.name, buyer_unit.c.kind).order_by(buyer_unit.c.id)
    with demo_engine.connect() as conn:
        rows = conn.execute(q).all()
    columns = ["id", "name", "kind"]
    pd.testing.assert_frame_equal(frame(rows, columns=columns), pd.DataFrame(rows, columns=columns))
    assert list(frame([], columns=columns).columns) == columns
