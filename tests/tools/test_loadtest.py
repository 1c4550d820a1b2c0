"""The load test at CI size: the app on a small demo store, five simulated browser sessions for
about twenty seconds through the seven pages (``python -m data_access bench loadtest``)."""

import json

import pytest

from data_access import cli
from data_access.reference.setup import init_store
from data_access.store.db import make_engine
from data_access.tools.demo import generate_demo
from tests import loadtest
from tests.browser_support import streamlit_server


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('loadtest') / 'bangfu.db'}"
    engine = make_engine(url)
    init_store(engine)
    generate_demo(engine, scale=3_000)
    engine.dispose()
    with streamlit_server(url) as base:
        yield base


def test_five_sessions_for_twenty_seconds_without_errors(app, tmp_path):
    out = tmp_path / "load.json"
    code = cli.main(
        ["bench", "loadtest", "--url", app, "--sessions", "5", "--think", "1", "--duration", "20", "--pause", "0"]
        + ["--timeout", "60", "--json", str(out), "--fail-on-error"]
    )
    assert code == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert all(r["ok"] for r in report["warm_up"]), report["warm_up"]
    # The warm-up visited all seven pages; under load every page run finished.
    assert [r["page"] for r in report["warm_up"][1:]] == list(loadtest.PAGES)
    (level,) = report["levels"]
    assert level["sessions"] == 5 and level["errors"] == 0, level["error_kinds"]
    assert level["runs"] >= 10, level
    assert level["p95"] is not None and level["rss_end_mib"], level
    assert set(level["per_page"]) <= set(loadtest.PAGES)


def test_only_this_machine():
    with pytest.raises(SystemExit):
        loadtest.check_local("http://example.org:8501")
    assert loadtest.check_local("http://127.0.0.1:8501/") == "http://127.0.0.1:8501"


def test_percentiles():
    assert loadtest.percentile([], 0.5) is None
    assert loadtest.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert loadtest.percentile([5.0], 0.99) == 5.0
