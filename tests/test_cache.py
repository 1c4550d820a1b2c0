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


def test_a_write_by_another_process_shows_within_one_check(fresh_engine, monkeypatch):
    """Two app processes behind nginx, or the app and a command-line import, share the store but not
    the result cache: a write made elsewhere shows at the next look at the store's write mark, not
    after the TTL; sign-ins and downloads leave the cache alone."""
    from data_access.desks.ingest import parse_upload
    from data_access.desks.registers import commit_register
    from data_access.figures.readiness import readiness
    from data_access.reference.setup import init_store
    from data_access.store.db import make_engine
    from data_access.trust.auth import cli_principal, write_audit

    init_store(fresh_engine)
    url = fresh_engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("BANGFU_DATABASE_URL", url)
    monkeypatch.setattr(cache, "CHECK_SECONDS", 0.0)
    cache._marks.clear()
    cache.clear()

    def units() -> int:
        return next(item for item in cache.query(readiness, 2026) if item["key"] == "units")["count"]

    assert units() == 0
    first = cache._lookup(url, readiness, (2026,), {})
    other = make_engine(url)  # another process: its own engine, its own connections
    try:
        with other.begin() as conn:  # someone signs in and downloads on the other process
            write_audit(conn, "desk1", "login", None, None)
            write_audit(conn, "desk1", "download", "总览", None)
        assert cache._lookup(url, readiness, (2026,), {}) is first  # still the cached result

        csv = "单位名称,单位类型,所在地区,帮扶辖区\r\n湛江市总工会,工会,440802,440800\r\n".encode()
        outcome = commit_register(other, cli_principal(), parse_upload(csv, "units", "units.csv"))
        assert outcome is not None
        assert units() == 1  # the other process's import, at the next look

        monkeypatch.setattr(cache, "CHECK_SECONDS", 3600.0)  # between two looks the cache serves
        csv = "单位名称,单位类型,所在地区,帮扶辖区\r\n茂名市总工会,工会,440902,440900\r\n".encode()
        commit_register(other, cli_principal(), parse_upload(csv, "units", "units.csv"))
        assert units() == 1
    finally:
        other.dispose()
        cache._marks.clear()
        cache.clear()
