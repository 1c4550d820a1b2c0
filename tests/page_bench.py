"""Page-level figures for ``python -m data_access bench --browser --apptest`` (not a test module).

Lives beside ``browser_support`` because it drives Streamlit and Chromium, which ``data_access``
never imports: headless-Chromium loads from navigation to the last chart drawn, the Streamlit
server's peak memory (VmHWM), and warm AppTest reruns that hit the result cache.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.browser_support import CHROMIUM, LAUNCH_ARGS, ROOT, _free_port, wait_for_app

QUIET_MS = 1200

# (title, url path, script) of the pages that draw figures from the store.
PAGES = [
    ("总览", "overview", "pages/overview.py"),
    ("采购进度", "procurement", "pages/procurement.py"),
    ("滞销预警", "warnings", "pages/alerts.py"),
    ("网点地图", "outlet_map", "pages/outlet_map.py"),
    ("地区下钻", "drilldown", "pages/drilldown.py"),
    ("产品名库", "catalogue", "pages/catalogue.py"),
    ("趋势分析", "trends", "pages/trends.py"),
    ("督办台账", "ledger", "pages/ledger.py"),
]
# Drawn charts: Plotly figures with their SVG, pydeck canvases, Vega charts.
CHART_JS = """() => document.querySelectorAll(
  '.js-plotly-plot .main-svg, [data-testid="stDeckGlJsonChart"] canvas, [data-testid="stVegaLiteChart"] canvas,'
  + ' [data-testid="stArrowVegaLiteChart"] canvas').length"""
SETTLE_SECONDS = 1.5
WARM_RERUNS = 5


def _item(kind: str, title: str, seconds: float, rows: int = 0, **extra) -> dict:
    return dict(
        call=f"{kind}:{title}",
        page=title,
        filters="默认（本年累计）",
        rows=rows,
        seconds=seconds,
        warm_seconds=None,
        floor_seconds=None,
        duckdb_seconds=None,
        ratio=None,
        duckdb_ratio=None,
        extra=extra,
    )


def peak_memory_mb(pid: int) -> float | None:
    """VmHWM (peak resident set) of a Linux process in MB, None when unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# The floor of a browser load: a Streamlit page that draws a title and one line, in the same
# browser — what a page costs before it draws anything of its own.
BLANK_PAGE = 'import streamlit as st\nst.title("空白页")\nst.write("对照")\n'


def _start_server(url: str, script: str = "dashboard.py"):
    port = _free_port()
    env = dict(os.environ, BANGFU_DATABASE_URL=url, BANGFU_DEMO="1", STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            script,
            "--server.headless=true",
            f"--server.port={port}",
            "--server.address=127.0.0.1",
            "--browser.gatherUsageStats=false",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).read() == b"ok":
                return proc, base
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("streamlit did not answer /_stcore/health within 120 s")


def _load(page, url: str) -> tuple[float, int]:
    """Seconds from navigation to the last chart drawn (charts unchanged for ``SETTLE_SECONDS`` after
    the script finished), and the number of charts."""
    t0 = time.perf_counter()
    page.goto(url)
    wait_for_app(page, timeout=300_000, quiet_ms=QUIET_MS)
    done = time.perf_counter()
    count, changed = page.evaluate(CHART_JS), done
    while time.perf_counter() - changed < SETTLE_SECONDS:
        page.wait_for_timeout(50)
        now = page.evaluate(CHART_JS)
        if now != count:
            count, changed = now, time.perf_counter()
    # wait_for_app waits for QUIET_MS without a change to the page after its last; that pause is not
    # the page's.
    return max(changed, done - QUIET_MS / 1000) - t0, count


def browser_loads(url: str, progress=print) -> list[dict]:
    """Each page loaded twice in headless Chromium (server cache cold, then warm), and the server's VmHWM."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"Chromium not found at {CHROMIUM}")
    proc, base = _start_server(url)
    out = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
            context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
            context.route(
                "**/*", lambda r: r.continue_() if r.request.url.startswith((base, "data:", "blob:")) else r.abort()
            )
            page = context.new_page()
            for title, path, _ in PAGES:
                cold, charts = _load(page, f"{base}/{path}")
                warm, _ = _load(page, f"{base}/{path}")
                item = _item("browser", title, cold, charts, warm_load_seconds=warm)
                item["warm_seconds"] = warm
                out.append(item)
                progress(f"浏览器 {title}：首次 {cold:.2f} 秒，再次 {warm:.2f} 秒，图表 {charts} 个")
            out.append(_blank_page_load(context, progress))
            context.close()
            browser.close()
        peak = peak_memory_mb(proc.pid)
        out.append(_item("memory", "Streamlit 服务进程峰值内存 (VmHWM)", 0.0, peak_mb=peak))
        progress(f"Streamlit 服务进程峰值内存 {peak:.0f} MB" if peak else "读不到服务进程内存")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return out


def _blank_page_load(context, progress) -> dict:
    """``BLANK_PAGE`` served by its own Streamlit process, loaded twice in ``context``."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "blank.py"
        script.write_text(BLANK_PAGE, encoding="utf-8")
        proc, base = _start_server("sqlite://", str(script))
        try:
            context.route(f"{base}/**", lambda r: r.continue_())
            page = context.new_page()
            cold, _ = _load(page, base)
            warm, _ = _load(page, base)
            page.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    progress(f"浏览器 Streamlit 空白页（对照）：首次 {cold:.2f} 秒，再次 {warm:.2f} 秒")
    item = _item("browser", "Streamlit 空白页（对照）", cold, 0, warm_load_seconds=warm)
    item["warm_seconds"] = warm
    return item


def apptest_reruns(url: str, progress=print) -> list[dict]:
    """Each page under AppTest: the first run (cache cold), then the median of ``WARM_RERUNS`` reruns
    that hit the result cache (one rerun alone swings with the garbage collector)."""
    from streamlit.testing.v1 import AppTest

    os.environ["BANGFU_DATABASE_URL"] = url
    os.environ["BANGFU_DEMO"] = "1"
    out = []
    for title, _, script in PAGES:
        at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=600)
        t0 = time.perf_counter()
        at.run()  # the router's default page is 总览
        if script != "pages/overview.py":
            t0 = time.perf_counter()
            at.switch_page(script)
            at.run()
        cold = time.perf_counter() - t0
        reruns = []
        for _ in range(WARM_RERUNS):
            t0 = time.perf_counter()
            at.run()
            reruns.append(time.perf_counter() - t0)
        warm = statistics.median(reruns)
        errors = [str(e.value) for e in at.exception]
        item = _item("apptest", title, cold, errors=errors, warm_reruns=reruns)
        item["warm_seconds"] = warm
        out.append(item)
        progress(
            f"AppTest {title}：首次 {cold:.2f} 秒，热重跑中位数 {warm * 1000:.0f} ms"
            + (f"（异常 {errors}）" if errors else "")
        )
    return out


def table_text(items: list[dict]) -> str:
    """Page-level results as a Markdown table."""
    lines = ["| 测量 | 页面 | 首次 s | 再次/热重跑 ms | 说明 |", "|---|---|---:|---:|---|"]
    for i in items:
        kind = i["call"].split(":")[0]
        if kind == "memory":
            lines.append(f"| 内存 | Streamlit 服务进程 | — | — | 峰值 {i['extra'].get('peak_mb') or 0:.0f} MB |")
            continue
        warm = i.get("warm_seconds")
        note = f"图表 {i['rows']} 个" if kind == "browser" else ("异常" if i["extra"].get("errors") else "")
        lines.append(
            f"| {'浏览器' if kind == 'browser' else 'AppTest'} | {i['page']} | {i['seconds']:.2f} | "
            f"{(warm or 0) * 1000:,.0f} | {note} |"
        )
    return "\n".join(lines)
