"""Many simulated browsers on a running app: ``python -m data_access bench loadtest`` (not a test module).

Each simulated session speaks Streamlit's own websocket protocol, as the browser does (the check
against headless Chromium is ``tests/browser/test_loadtest_protocol.py``; docs/scale.md describes it):

1. connect ``ws://HOST/_stcore/stream`` with the subprotocol ``streamlit`` and the page's Origin;
2. send a ``rerun_script`` BackMsg with empty widget states and the context (URL, time zone,
   locale) — the first load; the server answers ``new_session``, ``navigation`` (the pages with
   their ``page_script_hash``), deltas, ``page_info_changed`` and ``script_finished``;
3. for a click in the sidebar, send ``rerun_script`` with the page's ``page_script_hash``, the
   sidebar widgets' current values (the router's filters; main-area widgets are left behind with
   their page, as the browser does) and ``cached_message_hashes`` — the hashes of the large
   ``new_element`` deltas still in the browser's message cache (dropped after
   ``max_cached_message_age`` runs without use), which the server then sends as ``ref_hash``.

A page run is timed from the BackMsg sent to its ``script_finished`` (a run the server restarts,
``FINISHED_EARLY_FOR_RERUN``, continues the same page run). An error is an exception element in
the deltas, a lost connection, a run that does not finish within ``timeout`` or a ``ref_hash`` the
session did not have. Only 127.0.0.1/localhost; every level is bounded by its duration, the
session count by ``MAX_SESSIONS``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

PAGES = ("总览", "采购进度", "滞销预警", "地区下钻", "趋势分析", "产品名库", "督办台账")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
MAX_SESSIONS = 1000
SIDEBAR = 1  # delta_path[0] of the sidebar container; 0 is the main area
EARLY = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_EARLY_FOR_RERUN")


def say(msg: str) -> None:
    """Progress on stderr, so the table and JSON on stdout stay clean."""
    print(msg, file=sys.stderr, flush=True)


class LoadTestError(RuntimeError):
    """A run that failed: lost connection, timeout, exception element or an unknown ref_hash."""


@dataclass
class Run:
    """One page run as a user sees it: from the click to the script's end."""

    session: int
    page: str
    start: float
    seconds: float
    ok: bool
    error: str = ""
    bytes: int = 0
    messages: int = 0
    deltas: int = 0
    refs: int = 0
    first: bool = False


def widget_state(kind: str, el) -> tuple[str, object] | None:
    """The WidgetState field and value the browser sends for a sidebar widget it was given
    (its default), or None for a kind the router does not draw."""
    if kind in ("selectbox", "radio"):
        if el.HasField("default") and el.options:
            return "string_value", el.options[el.default]
        return None
    if kind == "slider" and el.options:  # select_slider: the option labels
        return "string_array_value", [el.options[int(i)] for i in el.default]
    if kind == "slider":
        return "double_array_value", list(el.default)
    if kind == "multiselect":
        return "string_array_value", [el.options[int(i)] for i in el.default]
    if kind == "checkbox":
        return "bool_value", el.default
    return None


@dataclass
class Session:
    """One simulated browser tab."""

    base: str
    index: int
    timeout: float = 120.0
    ws: object = None
    pages: dict = field(default_factory=dict)  # page name -> page_script_hash
    paths: dict = field(default_factory=dict)  # page name -> url_pathname
    widgets: dict = field(default_factory=dict)  # widget id -> (field, value)
    cache: dict = field(default_factory=dict)  # message hash -> run number last used
    max_age: int = 2
    runs_done: int = 0
    url: str = ""
    query: str = ""
    sent: list = field(default_factory=list)  # BackMsgs (kept when record=True)
    received: list = field(default_factory=list)
    record: bool = False

    async def open(self) -> Run:
        u = urlparse(self.base)
        self.url = f"{self.base}/"
        self.ws = await websockets.connect(
            f"ws://{u.netloc}/_stcore/stream",
            subprotocols=["streamlit"],
            origin=f"{u.scheme}://{u.netloc}",
            max_size=None,
            open_timeout=self.timeout,
            ping_interval=None,
        )
        return await self._run(self._back(None), "首次加载", first=True)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    def _back(self, page_hash: str | None) -> BackMsg:
        msg = BackMsg()
        rs = msg.rerun_script
        rs.query_string = ""
        if page_hash:
            rs.page_script_hash = page_hash
        for wid, (fld, value) in self.widgets.items():
            w = rs.widget_states.widgets.add()
            w.id = wid
            if fld.endswith("_array_value"):
                getattr(w, fld).data.extend(value)
            else:
                setattr(w, fld, value)
        if page_hash:
            rs.cached_message_hashes.extend(self.cache)
        ci = rs.context_info
        ci.timezone, ci.timezone_offset, ci.locale = "UTC", 0, "zh-CN"
        ci.url, ci.is_embedded, ci.color_scheme = self.url, False, "light"
        return msg

    async def goto(self, page: str) -> Run:
        """Click ``page`` in the sidebar; the context's URL is the address shown before the click."""
        run = await self._run(self._back(self.pages[page]), page)
        self.url = f"{self.base}/{self.paths.get(page, '')}"
        return run

    async def _run(self, back: BackMsg, page: str, first: bool = False) -> Run:
        t0 = time.perf_counter()
        run = Run(self.index, page, time.time(), 0.0, True, first=first)
        if self.record:
            self.sent.append(back)
        used: set[str] = set()
        try:
            await self.ws.send(back.SerializeToString())
            deadline = t0 + self.timeout
            while True:
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise LoadTestError("timeout")
                raw = await asyncio.wait_for(self.ws.recv(), left)
                run.bytes += len(raw)
                run.messages += 1
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                if self.record:
                    self.received.append(msg)
                if self._handle(msg, run, used):
                    break
        except (LoadTestError, TimeoutError, websockets.ConnectionClosed, OSError) as exc:
            run.ok, run.error = False, f"{type(exc).__name__}: {exc}"[:200]
        run.seconds = time.perf_counter() - t0
        self.runs_done += 1
        # The browser's message cache: entries unused for more than max_age runs are dropped.
        for h in used:
            self.cache[h] = self.runs_done
        self.cache = {h: n for h, n in self.cache.items() if self.runs_done - n <= self.max_age}
        return run

    def _handle(self, msg: ForwardMsg, run: Run, used: set[str]) -> bool:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.max_age = msg.new_session.config.max_cached_message_age or 2
        elif kind == "navigation":
            for p in msg.navigation.app_pages:
                if p.page_name and not p.is_hidden:
                    self.pages[p.page_name] = p.page_script_hash
                    self.paths[p.page_name] = p.url_pathname
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "ref_hash":
            run.refs += 1
            if msg.ref_hash not in self.cache:
                run.ok, run.error = False, f"unknown ref_hash {msg.ref_hash}"
            used.add(msg.ref_hash)
        elif kind == "delta":
            run.deltas += 1
            if msg.metadata.cacheable:
                used.add(msg.hash)
            d = msg.delta
            if d.WhichOneof("type") == "new_element":
                el_kind = d.new_element.WhichOneof("type")
                if el_kind == "exception":
                    run.ok = False
                    run.error = f"exception element: {d.new_element.exception.message[:150]}"
                elif msg.metadata.delta_path and msg.metadata.delta_path[0] == SIDEBAR:
                    el = getattr(d.new_element, el_kind)
                    wid = getattr(el, "id", "")
                    state = widget_state(el_kind, el) if wid else None
                    if state:
                        self.widgets[wid] = state
        elif kind == "script_finished":
            return msg.script_finished != EARLY
        return False


# Server memory: the resident set of the server processes.


def listening_pids(port: int) -> list[int]:
    """Pids of the processes holding a listening TCP socket on ``port`` (Linux /proc)."""
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    pids = []
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            for fd in (pid_dir / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    pids.append(int(pid_dir.name))
                    break
        except OSError:
            continue
    return sorted(pids)


def rss_mib(pids: list[int]) -> float | None:
    """Summed VmRSS of ``pids`` in MiB (None when none is readable)."""
    total, seen = 0, False
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    seen = True
        except OSError:
            continue
    return round(total / 1024, 1) if seen else None


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids`` so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return total


def load_average() -> str:
    """The 1/5/15-minute load averages, as `uptime` shows them (the neighbours' share of the CPU)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def check_local(url: str) -> str:
    """The URL without a trailing slash; refuses anything but this machine."""
    u = urlparse(url)
    if u.scheme != "http" or (u.hostname or "") not in LOCAL_HOSTS:
        raise SystemExit(f"只能对本机测试（http://127.0.0.1:端口）：{url}")
    return url.rstrip("/")


def percentile(values: list[float], q: float) -> float | None:
    """The q-quantile (0–1) of ``values`` by linear interpolation; None when empty."""
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


@dataclass
class Level:
    """The figures of one level: N sessions for ``duration`` seconds."""

    sessions: int
    think: float
    duration: float
    runs: int = 0
    runs_per_s: float = 0.0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None
    errors: int = 0
    error_kinds: dict = field(default_factory=dict)
    first_load_p50: float | None = None
    first_load_max: float | None = None
    kb_per_run: float | None = None
    deltas_per_run: float | None = None
    refs_per_run: float | None = None
    rss_start_mib: float | None = None
    rss_end_mib: float | None = None
    rss_peak_mib: float | None = None
    server_cpu_s: float | None = None
    cpu_ms_per_run: float | None = None
    load_avg_before: str = ""
    load_avg_after: str = ""
    per_page: dict = field(default_factory=dict)


async def _session_loop(s: Session, think: float, stop_at: float, rng: random.Random, runs: list[Run]):
    order = list(PAGES)
    offset = rng.randrange(len(order))
    i = 0
    while True:
        await asyncio.sleep(think * rng.uniform(0.5, 1.5))
        if time.time() >= stop_at:
            return
        page = order[(offset + i) % len(order)]
        i += 1
        run = await s.goto(page)
        runs.append(run)
        if not run.ok and s.ws is not None and s.ws.state.name != "OPEN":
            return


async def run_level(
    base: str, sessions: int, think: float, duration: float, pids: list[int], timeout: float, seed: int
) -> tuple[Level, list[Run]]:
    """N sessions, each opening the app then clicking through the seven pages with think time,
    for ``duration`` seconds (sessions start spread over the first think interval)."""
    if not 1 <= sessions <= MAX_SESSIONS:
        raise SystemExit(f"会话数应在 1–{MAX_SESSIONS}")
    rng = random.Random(seed + sessions)
    level = Level(sessions, think, duration, load_avg_before=load_average(), rss_start_mib=rss_mib(pids))
    cpu0 = cpu_seconds(pids)
    runs: list[Run] = []
    t0 = time.time()
    stop_at = t0 + duration
    peak = [level.rss_start_mib or 0.0]

    async def sample():
        while True:
            peak[0] = max(peak[0], rss_mib(pids) or 0.0)
            await asyncio.sleep(1.0)

    async def one(i: int):
        await asyncio.sleep(rng.uniform(0, max(think, 0.1)) * i / max(sessions, 1))
        s = Session(base, i, timeout=timeout)
        try:
            try:
                runs.append(await s.open())
            except (OSError, websockets.InvalidHandshake, TimeoutError) as exc:
                runs.append(Run(i, "首次加载", time.time(), 0.0, False, f"connect: {type(exc).__name__}", first=True))
                return
            await _session_loop(s, think, stop_at, random.Random(rng.random()), runs)
        finally:
            await s.close()

    sampler = asyncio.create_task(sample())
    try:
        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(sessions))), duration + timeout + 30)
    except TimeoutError:
        say("  （级别超时：未完成的会话已放弃）")
    sampler.cancel()
    elapsed = max(time.time() - t0, 1e-9)
    level.load_avg_after = load_average()
    level.rss_end_mib = rss_mib(pids)
    level.rss_peak_mib = round(peak[0], 1) if peak[0] else None
    level.server_cpu_s = round(cpu_seconds(pids) - cpu0, 1) if pids else None
    summarise(level, runs, min(elapsed, duration + timeout))
    done = len([r for r in runs if r.ok])
    if level.server_cpu_s is not None and done:
        level.cpu_ms_per_run = round(1000 * level.server_cpu_s / done)
    return level, runs


def summarise(level: Level, runs: list[Run], elapsed: float) -> None:
    """Fill the level's figures (runs/s, percentiles, errors, payload) from its finished runs."""
    clicks = [r for r in runs if not r.first]
    good = [r for r in clicks if r.ok]
    firsts = [r.seconds for r in runs if r.first and r.ok]
    level.runs = len(good)
    level.runs_per_s = round(len([r for r in runs if r.ok]) / elapsed, 2)
    secs = [r.seconds for r in good]
    level.p50, level.p95, level.p99 = (
        _r(percentile(secs, 0.5)),
        _r(percentile(secs, 0.95)),
        _r(percentile(secs, 0.99)),
    )
    level.max = _r(max(secs)) if secs else None
    level.first_load_p50 = _r(percentile(firsts, 0.5))
    level.first_load_max = _r(max(firsts)) if firsts else None
    bad = [r for r in runs if not r.ok]
    level.errors = len(bad)
    for r in bad:
        key = r.error.split(":")[0]
        level.error_kinds[key] = level.error_kinds.get(key, 0) + 1
    if good:
        level.kb_per_run = round(statistics.mean(r.bytes for r in good) / 1024, 1)
        level.deltas_per_run = round(statistics.mean(r.deltas for r in good), 1)
        level.refs_per_run = round(statistics.mean(r.refs for r in good), 1)
    for page in PAGES:
        xs = [r.seconds for r in good if r.page == page]
        if xs:
            level.per_page[page] = {"runs": len(xs), "p50": _r(percentile(xs, 0.5)), "p95": _r(percentile(xs, 0.95))}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


async def warm_up(base: str, timeout: float) -> list[Run]:
    """One session clicks through the seven pages once (fills the process's caches)."""
    s = Session(base, -1, timeout=timeout)
    try:
        runs = [await s.open()]
        for page in PAGES:
            runs.append(await s.goto(page))
        return runs
    finally:
        await s.close()


async def churn(base: str, total: int, concurrency: int, timeout: float) -> dict:
    """Open ``total`` sessions (``concurrency`` at a time), each loading the app once and closing."""
    done, errors = 0, 0
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int):
        nonlocal done, errors
        async with sem:
            s = Session(base, i, timeout=timeout)
            try:
                run = await s.open()
                errors += not run.ok
            except (OSError, websockets.InvalidHandshake, TimeoutError):
                errors += 1
            finally:
                await s.close()
                done += 1

    await asyncio.gather(*(one(i) for i in range(total)))
    return {"opened_and_closed": done, "errors": errors}


async def idle_sessions(base: str, count: int, timeout: float, pids: list[int], settle: float = 5.0) -> dict:
    """Memory per idle session: RSS before, with ``count`` sessions open after their first load, after closing."""
    before = rss_mib(pids)
    sessions = [Session(base, i, timeout=timeout) for i in range(count)]
    sem = asyncio.Semaphore(10)

    async def open_one(s: Session):
        async with sem:
            await s.open()

    await asyncio.gather(*(open_one(s) for s in sessions))
    await asyncio.sleep(settle)
    held = rss_mib(pids)
    for s in sessions:
        await s.close()
    await asyncio.sleep(settle)
    after = rss_mib(pids)
    per = round((held - before) / count, 2) if held is not None and before is not None else None
    return {
        "idle_sessions": count,
        "rss_before_mib": before,
        "rss_held_mib": held,
        "rss_after_mib": after,
        "mib_per_idle_session": per,
    }


def table_text(levels: list[Level]) -> str:
    """The levels as a Markdown table (docs/scale.md)."""
    head = (
        "| 会话 | 页面运行/秒 | p50 | p95 | p99 | 错误 | 首次加载 p50 | KB/次 | 服务 CPU ms/次 "
        "| 服务 RSS 起→峰 MiB | 负载(1/5/15) |"
    )
    rows = [head, "|" + "---:|" * 11]
    for lv in levels:
        cells = [
            lv.sessions,
            lv.runs_per_s,
            _s(lv.p50),
            _s(lv.p95),
            _s(lv.p99),
            lv.errors,
            _s(lv.first_load_p50),
            lv.kb_per_run,
            lv.cpu_ms_per_run,
            f"{lv.rss_start_mib}→{lv.rss_peak_mib}",
            lv.load_avg_after,
        ]
        rows.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(rows)


def _s(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.1f} s"


def main(args) -> int:
    """The ``bench loadtest`` command."""
    base = check_local(args.url)
    pids = list(args.pid or [])
    if not pids:
        for port in args.server_port or [urlparse(base).port or 80]:
            pids += listening_pids(port)
    say(f"服务进程 {pids or '（未找到，不报内存）'}；负载 {load_average()}")
    levels_arg = [int(x) for x in args.levels.split(",")] if args.levels else [args.sessions]
    report: dict = {"url": base, "pids": pids, "think": args.think, "duration": args.duration, "levels": []}

    async def go():
        if not args.no_warmup:
            runs = await warm_up(base, args.timeout)
            report["warm_up"] = [asdict(r) for r in runs]
            say("预热：" + "，".join(f"{r.page} {r.seconds:.2f}s{'' if r.ok else ' ✗'}" for r in runs))
        levels = []
        for n in levels_arg:
            say(f"{n} 个会话，{args.duration:.0f} 秒…")
            level, _ = await run_level(base, n, args.think, args.duration, pids, args.timeout, args.seed)
            levels.append(level)
            say(table_text([level]).splitlines()[-1])
            report["levels"].append(asdict(level))
            await asyncio.sleep(args.pause)
        if args.idle:
            report["idle"] = await idle_sessions(base, args.idle, args.timeout, pids)
            say(f"空闲会话：{report['idle']}")
        if args.churn:
            await asyncio.sleep(3)
            before = rss_mib(pids)
            t = time.perf_counter()
            c = await churn(base, args.churn, args.churn_concurrency, args.timeout)
            await asyncio.sleep(args.settle)
            after = rss_mib(pids)
            c.update(
                rss_before_mib=before,
                rss_after_mib=after,
                growth_pct=round(100 * (after - before) / before, 1) if before and after else None,
                seconds=round(time.perf_counter() - t, 1),
            )
            report["churn"] = c
            say(f"开关会话：{c}")
        return levels

    levels = asyncio.run(go())
    print(table_text(levels))
    if args.json:
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        say(f"已写入 {args.json}")
    bad = sum(lv.errors for lv in levels) + report.get("churn", {}).get("errors", 0)
    return 1 if bad and args.fail_on_error else 0


def add_arguments(p) -> None:
    """The ``bench loadtest`` options."""
    p.add_argument("--url", required=True, help="应用地址，只限本机，如 http://127.0.0.1:8501（经 nginx 亦可）")
    p.add_argument("--sessions", type=int, default=10, help="模拟浏览器会话数（--levels 未给时）")
    p.add_argument("--levels", help="逐级会话数，如 1,5,10,25,50")
    p.add_argument("--think", type=float, default=2.0, help="每次点击之间的思考时间（秒，0.5–1.5 倍随机）")
    p.add_argument("--duration", type=float, default=60.0, help="每级时长（秒）")
    p.add_argument("--timeout", type=float, default=120.0, help="单次页面运行的超时（秒）")
    p.add_argument("--pause", type=float, default=5.0, help="级间停顿（秒）")
    p.add_argument("--seed", type=int, default=21)
    p.add_argument("--pid", type=int, action="append", help="服务进程 pid（可重复；默认按端口查找）")
    p.add_argument(
        "--server-port", type=int, action="append", help="按端口查找服务进程（可重复，经 nginx 时给各后端端口）"
    )
    p.add_argument("--no-warmup", action="store_true", help="不预热（默认先由一个会话走一遍七个页面）")
    p.add_argument("--idle", type=int, default=0, help="另测：打开 N 个空闲会话，报每会话内存")
    p.add_argument("--churn", type=int, default=0, help="另测：依次打开并关闭 N 个会话，报前后内存")
    p.add_argument("--churn-concurrency", type=int, default=20)
    p.add_argument("--settle", type=float, default=10.0, help="开关会话后等待多久再量内存（秒）")
    p.add_argument("--json", help="把结果写成 JSON 文件")
    p.add_argument("--fail-on-error", action="store_true", help="有错误时退出码为 1")
