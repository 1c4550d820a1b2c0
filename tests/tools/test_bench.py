"""The page benchmark runs end to end on a tiny store (both backends) and writes the JSON it promises.

No timing is asserted: the figures live in docs/scale.md."""

from __future__ import annotations

import json

import pytest

from data_access import cli
from data_access.tools import bench

pytest.importorskip("duckdb")
KEYS = {"call", "page", "filters", "rows", "seconds", "warm_seconds", "floor_seconds", "duckdb_seconds", "ratio"}


def test_bench_writes_one_row_per_call_and_filter(fresh_engine, tmp_path, capsys):
    url = fresh_engine.url.render_as_string(hide_password=False)
    out = tmp_path / "bench.json"
    args = ["bench", "--url", url, "--scale", "3000", "--json", str(out), "--cache", str(tmp_path / "cache")]
    assert cli.main(args) == 0
    items = json.loads(out.read_text(encoding="utf-8"))
    assert all(KEYS <= set(i) for i in items)
    assert {i["call"] for i in items} == {c.name for c in bench.calls()}
    assert len({i["filters"] for i in items}) == 3
    assert len(items) == 3 * len(bench.calls())
    for i in items:
        assert i["seconds"] > 0 and i["floor_seconds"] > 0 and i["duckdb_seconds"] > 0
        assert i["ratio"] == pytest.approx(i["seconds"] / i["floor_seconds"])
    printed = capsys.readouterr()
    assert "| 总览 | overview.overview_kpis |" in printed.out

    # A second run reuses the store and the Parquet export.
    assert cli.main(args[:-2] + ["--cache", str(tmp_path / "cache"), "--only", "overview_kpis"]) == 0
    err = capsys.readouterr().err
    assert "复用现有数据库" in err and "复用 Parquet 缓存" in err


def test_floor_statements_cover_the_same_purchases_as_the_calls(demo_engine):
    """The hand-written floor of the KPI call sums the same amount as the call itself."""
    from sqlalchemy import text

    from data_access.figures.overview import overview_kpis

    for _, f in bench.bench_filters(demo_engine):
        with demo_engine.connect() as conn:
            amount, n, units, last = conn.execute(text(bench.calls()[0].floor(f))).one()
        k = overview_kpis(demo_engine, f)
        assert float(amount or 0) == pytest.approx(k["amount"])
        assert n == k["purchases"] and units == k["units_reporting"]
        assert float(last or 0) == pytest.approx(k["amount_last_year"])


def test_register_bench_loads_units_and_budgets_then_finds_nothing_to_change(fresh_engine, tmp_path):
    url = fresh_engine.url.render_as_string(hide_password=False)
    out = tmp_path / "registers.json"
    assert cli.main(["register-bench", "--url", url, "--units", "60", "--years", "2", "--json", str(out)]) == 0
    steps = json.loads(out.read_text(encoding="utf-8"))
    assert [(s["step"], s["rows"], s["created"], s["unchanged"]) for s in steps] == [
        ("单位名录", 60, 60, 0),
        ("年度预算", 120, 120, 0),
        ("年度预算（再次导入）", 120, 0, 120),
    ]
