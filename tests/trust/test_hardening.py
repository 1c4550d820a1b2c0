"""The hardened app profile (issue 19, item 4): the Streamlit settings in .streamlit/config.toml,
the router's Chinese error with a reference id (no traceback in the browser, the trace in the
server log), and the meeting watermark."""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from data_access.desks.ingest import MB, Limits
from data_access.store.config import ENV_URL
from pages.common import errors, watermark
from tests.pages.test_pages import DASHBOARD

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".streamlit" / "config.toml"

EXPECTED = {
    ("client", "showErrorDetails"): "none",
    ("client", "showErrorLinks"): False,
    ("client", "disableDataExport"): True,
    ("client", "toolbarMode"): "viewer",
    ("server", "maxUploadSize"): Limits().max_bytes // MB,
    ("server", "enableXsrfProtection"): True,
    ("server", "enableCORS"): True,
    ("server", "enableStaticServing"): False,
    ("server", "enableAgentApi"): False,
    ("server", "headless"): True,
    ("browser", "gatherUsageStats"): False,
}


def test_config_sets_every_hardened_option():
    settings = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    for (section, key), value in EXPECTED.items():
        assert settings[section][key] == value, (section, key, settings[section].get(key))


def test_upload_limit_equals_the_pages_limit():
    settings = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    assert settings["server"]["maxUploadSize"] * MB == Limits().max_bytes == 50 * MB


def test_every_option_is_one_the_installed_streamlit_knows():
    """A misspelt key would be ignored silently: each one is an option of the installed version,
    and ``showErrorDetails`` a value it accepts."""
    options = st_config._config_options_template
    for section, key in EXPECTED:
        assert f"{section}.{key}" in options, f"{section}.{key}"
    assert EXPECTED[("client", "showErrorDetails")] in {v.value for v in st_config.ShowErrorDetailsConfigOptions}


def test_streamlit_reads_the_profile_from_the_repository_root(monkeypatch):
    """What a server started at the repository root gets (the file parsed by Streamlit itself)."""
    monkeypatch.chdir(ROOT)
    st_config._config_options = None  # re-read the files from this working directory
    try:
        st_config.get_config_options(force_reparse=True)
        for (section, key), value in EXPECTED.items():
            assert st_config.get_option(f"{section}.{key}") == value, (section, key)
    finally:
        st_config.get_config_options(force_reparse=True)


# ---------------------------------------------------------------- errors


@pytest.fixture
def app_env(demo_engine, monkeypatch):
    monkeypatch.setenv(ENV_URL, demo_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BANGFU_DEMO", "1")
    return demo_engine


REF = re.compile(r"参考编号 (E\d{8}-\d{6}-[0-9a-f]{6})")


def test_reference_ids_differ_and_read_well():
    ids = {errors.reference_id() for _ in range(50)}
    assert len(ids) == 50 and all(re.fullmatch(r"E\d{8}-\d{6}-[0-9a-f]{6}", i) for i in ids)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(logging.Formatter().format(record))


def test_an_error_in_a_page_shows_a_chinese_message_and_a_reference_id_not_the_trace(app_env, monkeypatch):
    from pages.common import ui

    server_log = _Records()
    errors.LOG.addHandler(server_log)

    def broken(source: str) -> None:
        raise RuntimeError("SECRET-DETAIL: the figure's SQL failed at /srv/bangfu/data_access/figures.py")

    monkeypatch.setattr(ui, "freshness", broken)
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.run()
    assert not at.exception, "no Streamlit exception box (type, message, traceback) reaches the browser"
    shown = " ".join(e.body for e in at.error)
    assert "页面处理时出现错误" in shown and "系统管理员" in shown
    ref = REF.search(shown).group(1)
    everything = " ".join(
        str(getattr(el, "value", "")) + str(getattr(el, "body", "")) for el in at.main if el.type != "exception"
    )
    assert "Traceback" not in everything and "SECRET-DETAIL" not in everything and "RuntimeError" not in everything
    # The sidebar (filters, user) still drew: the error is the page's, not the app's.
    assert at.sidebar.selectbox
    errors.LOG.removeHandler(server_log)
    log = "\n".join(server_log.lines)
    assert f"ref={ref}" in log and "Traceback (most recent call last)" in log and "SECRET-DETAIL" in log


def test_an_error_after_a_page_switch_keeps_the_app_usable(app_env, monkeypatch):
    from data_access.figures import outlets

    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.run()
    monkeypatch.setattr(outlets, "outlet_status_counts", None)  # the page calls it: TypeError
    at.switch_page("pages/outlet_map.py")
    at.run()
    assert not at.exception
    assert REF.search(" ".join(e.body for e in at.error))
    monkeypatch.undo()
    monkeypatch.setenv(ENV_URL, app_env.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BANGFU_DEMO", "1")
    at.switch_page("pages/overview.py")
    at.run()
    assert not at.exception and not at.error


def test_an_unreachable_store_keeps_its_own_message(monkeypatch):
    monkeypatch.setenv(ENV_URL, "postgresql+psycopg://bangfu:topsecret@127.0.0.1:1/bangfu")
    at = AppTest.from_file(DASHBOARD, default_timeout=60)
    at.run()
    shown = " ".join(e.body for e in at.error)
    assert "无法连接数据库" in shown and not REF.search(shown)


# ---------------------------------------------------------------- the meeting watermark


def _overlay(at: AppTest) -> str:
    return " ".join(h.proto.body for h in at.get("html"))


def test_watermark_is_off_by_default_and_on_from_the_sidebar(app_env):
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.run()
    assert "stApp" not in _overlay(at)
    at.sidebar.toggle(key="watermark_on").set_value(True).run()
    css = _overlay(at)
    assert "pointer-events:none" in css and "position:fixed" in css
    assert "%E6%BC%94%E7%A4%BA%E7%94%A8%E6%88%B7" in css  # 演示用户 (the user) in the SVG text
    assert at.query_params.get("wm") in ("1", ["1"])


def test_watermark_forced_by_the_server(app_env, monkeypatch):
    monkeypatch.setenv(watermark.ENV_FORCE, "1")
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.run()
    assert "pointer-events:none" in _overlay(at)
    assert not [t for t in at.sidebar.toggle if t.key == "watermark_on"]


def test_watermark_text_names_the_user_and_the_time():
    from datetime import datetime

    from data_access.trust.auth import Principal

    p = Principal(username="zhangsan", role="desk", display_name="张三")
    assert watermark.watermark_text(p, datetime(2026, 12, 3, 21, 0)) == "张三（zhangsan） 2026-12-03 21:00"
    css = watermark.overlay_css("<script>x</script>")
    assert "<script>" not in css
