"""Run ``streamlit run dashboard.py`` on localhost and drive it with Debian's Chromium.

Every request that is not to localhost is aborted and recorded, so a test can prove the page
works offline. Browser tests skip when Chromium is missing, unless BANGFU_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("BANGFU_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
ARTIFACTS = ROOT / "artifacts"


def require_browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("BANGFU_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM}")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)")
    pytest.importorskip("playwright.sync_api")


def demo_store(tmp_path_factory, name: str, scale: int = 20_000):
    """A SQLite demo store of its own for one browser test module: ``(url, engine)``.

    Skips (or fails under BANGFU_REQUIRE_BROWSER=1) first when Chromium is missing.
    """
    require_browser()
    from data_access.reference.setup import init_store
    from data_access.store.db import make_engine
    from data_access.tools.demo import generate_demo

    url = f"sqlite:///{tmp_path_factory.mktemp(name) / 'bangfu.db'}"
    engine = make_engine(url)
    init_store(engine)
    generate_demo(engine, scale=scale)
    return url, engine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(database_url: str, extra_env: dict | None = None, log_path: Path | None = None, port=None):
    """Start the dashboard on ``port`` (default: a free one) against ``database_url``; yields the base
    URL. With ``log_path`` the server's output (its log) is written there, for a test to read."""
    port = port or _free_port()
    env = dict(
        os.environ,
        BANGFU_DATABASE_URL=database_url,
        BANGFU_DEMO="1",
        STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
    )
    env.update(extra_env or {})  # may override the defaults above (BANGFU_DEMO="0": an empty store stays empty)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "dashboard.py",
            "--server.headless=true",
            f"--server.port={port}",
            "--server.address=127.0.0.1",
            "--browser.gatherUsageStats=false",
        ],
        cwd=ROOT,
        env=env,
        stdout=open(log_path, "w") if log_path else subprocess.PIPE,  # noqa: SIM115 (closed with the process)
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("streamlit did not answer /_stcore/health within 90 s")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def sign_in(page, username: str, password: str) -> None:
    """Fill the sign-in form the page shows and wait for the app (the dashboard, or the next step)."""
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录").click()
    wait_for_app(page)


def open_signed_in(page, url: str, username: str, password: str) -> None:
    """Open ``url`` (a new browser session) and sign in when the page asks; the sign-in lands on
    the page and filters of ``url``."""
    page.goto(url)
    wait_for_app(page)
    if "请使用管理员分配的账号登录" in page.locator('[data-testid="stMain"]').inner_text():
        sign_in(page, username, password)


@contextmanager
def browser_page(width: int = 1400, height: int = 1000):
    """A Playwright page in headless Chromium with every non-local request blocked.

    ``page.blocked`` lists the URLs that were refused.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        context = browser.new_context(
            viewport={"width": width, "height": height}, locale="zh-CN", accept_downloads=True
        )
        page = context.new_page()
        page.blocked = []

        def _route(route):
            host = urlparse(route.request.url).hostname or ""
            if host in {"127.0.0.1", "localhost", "::1"} or route.request.url.startswith(("data:", "blob:")):
                route.continue_()
            else:
                page.blocked.append(route.request.url)
                route.abort()

        context.route("**/*", _route)
        try:
            yield page
        finally:
            context.close()
            browser.close()


IDLE = """() => !!document.querySelector('[data-testid="stApp"][data-test-script-state="notRunning"]')
             && !!document.querySelector('[data-testid="stMain"] [data-testid="stElementContainer"]')"""

_WATCH = """() => {
    if (window.__bfWatch) return;
    window.__bfLast = performance.now();
    window.__bfWatch = new MutationObserver(() => { window.__bfLast = performance.now(); });
    window.__bfWatch.observe(document.body, {
        childList: true, subtree: true, characterData: true,
        attributes: true, attributeFilter: ["data-test-script-state"],
    });
}"""
_RESET = "() => { (" + _WATCH + ")(); window.__bfLast = performance.now(); }"
_SETTLED = (  # installs the watcher in a new document too (a full navigation), then judges
    "(quiet) => { (" + _WATCH + ")(); return (" + IDLE + ")() && performance.now() - window.__bfLast >= quiet; }"
)


def wait_for_app(page, timeout: float = 90_000, quiet_ms: int = 1200) -> None:
    """Wait until the script has run, drawn something, and neither the script nor the page has
    changed for ``quiet_ms``.

    Two things lag behind a run's end on a loaded machine: the next run a moment later (a first
    view, a rerun through the router), and the drawing itself — Chromium may mount a page's last
    elements (links, the sidebar's lower widgets) seconds after the server said the script had
    finished. So "settled" is measured on the document: no node added, removed or retexted, and
    no change of the script state, for ``quiet_ms``."""
    # The quiet is counted from now at the earliest: an action just taken (a click whose rerun has
    # not reached the page yet) must have its ``quiet_ms`` to show.
    from playwright.sync_api import Error as PlaywrightError

    try:
        page.evaluate(_RESET)
    except PlaywrightError:  # a document being replaced: the new one's watcher starts counting now
        pass
    page.wait_for_function(_SETTLED, arg=quiet_ms, timeout=timeout, polling=100)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
