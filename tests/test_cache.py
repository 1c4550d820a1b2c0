"""The result cache shared by every session (data_access/cache.py): one object per key per process,
handed out as copies a page may change without another session noticing; frame arguments keyed by
their content."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from data_access import cache
from data_access.engines.rules import units_behind
from data_access.query.filters import Filters


@pytest.fixture
def store(demo_engine, monkeypatch):
    monkeypatch.setenv("BANGFU_DATABASE_URL", demo_engine.url.render_as_string(hide_password=False))
    cache.clear()
    yield
    cache.clear()


def test_a_page_changing_its_result_does_not_change_the_next_readers(store):
    f = Filters(start=date(2025, 1, 1), end=date(2025, 12, 31))
    first = cache.query(units_behind, f)
    assert len(first) > 0
    shown = first.copy()
    first["gap_yuan"] = 0.0  # what a page does before drawing: a column replaced …
    first.loc[first.index[0], "unit_name"] = "改过的名字"  # … a cell set …
    first["extra"] = 1  # … a column added
    second = cache.query(units_behind, f)
    pd.testing.assert_frame_equal(second, shown)


def test_containers_are_the_callers_own():
    shared = {"rows": [pd.DataFrame({"a": [1, 2]})], "figures": {"n": 3}, "pair": (1, [2])}
    mine = cache._private(shared)
    mine["rows"][0].loc[0, "a"] = 99
    mine["rows"].append("x")
    mine["figures"]["n"] = 4
    mine["pair"][1].append(3)
    assert shared["rows"][0].a.tolist() == [1, 2] and len(shared["rows"]) == 1
    assert shared["figures"] == {"n": 3} and shared["pair"] == (1, [2])


@pytest.mark.parametrize(
    "other",
    [
        lambda df: df.assign(amount=df.amount + 0.01),  # a value
        lambda df: df.assign(name=df.name.str.replace("甲", "乙")),  # a text value
        lambda df: df.rename(columns={"amount": "金额"}),  # a label
        lambda df: df.astype({"purchases": "float64"}),  # a dtype with equal numbers
        lambda df: df.iloc[::-1],  # the order
        lambda df: df.set_index("name"),  # the index
        lambda df: df.iloc[:2],  # a row fewer
    ],
)
def test_frame_keys_differ_when_the_content_does(other):
    df = pd.DataFrame({"name": ["甲县", "乙县", None], "amount": [1.5, 2.0, np.nan], "purchases": [1, 2, 3]})
    assert cache.frame_digest(df) != cache.frame_digest(other(df))


def test_equal_frames_get_one_key_however_they_were_made():
    a = pd.DataFrame(
        {"name": ["甲县", "乙县"], "amount": [1.5, 2.0], "day": pd.to_datetime(["2026-01-01", "2026-02-01"])}
    )
    b = pd.DataFrame({"name": pd.Series(["甲县", "乙县"], dtype="str"), "amount": [1.5, 2.0]})
    b["day"] = pd.to_datetime(["2026-01-01", "2026-02-01"])
    assert cache.frame_digest(a) == cache.frame_digest(b.copy(deep=False))
    assert cache.frame_digest(a.amount) == cache.frame_digest(b.amount) != cache.frame_digest(a)
