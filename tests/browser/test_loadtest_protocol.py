"""The load test's simulated browser says what Chromium says, message by message.

Headless Chromium opens the app and clicks three pages in the sidebar while Playwright records
every websocket frame; then a simulated session (tests/loadtest.py) does the same clicks on the
same server. Compared, message by message: each BackMsg (the page's script hash, the sidebar
widgets' ids and values, the message hashes the browser says it has cached, the context URL and
locale) and the kinds of ForwardMsg each run brings back, in order, up to ``script_finished``.
"""

import asyncio

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests import loadtest
from tests.browser_support import browser_page, demo_store, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser
CLICKS = ["采购进度", "滞销预警", "总览"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    url, engine = demo_store(tmp_path_factory, "loadtest_protocol", scale=5_000)
    yield url, engine
    engine.dispose()


def _widgets(back: BackMsg) -> dict:
    out = {}
    for w in back.rerun_script.widget_states.widgets:
        kind = w.WhichOneof("value")
        value = getattr(w, kind)
        out[w.id] = (kind, list(value.data) if kind.endswith("_array_value") else value)
    return out


def _summary(back: BackMsg) -> dict:
    rs = back.rerun_script
    return {
        "type": back.WhichOneof("type"),
        "page_script_hash": rs.page_script_hash,
        "page_name": rs.page_name,
        "query_string": rs.query_string,
        "widgets": _widgets(back),
        "cached": sorted(rs.cached_message_hashes),
        "url": rs.context_info.url,
        "locale": rs.context_info.locale,
        "timezone": rs.context_info.timezone,
    }


def _kinds(msgs: list[ForwardMsg]) -> list[list[str]]:
    """Per run, the kinds of message in order (a delta and the reference to a cached delta both
    count as an element; runs of them collapse to one entry with their count)."""
    runs, cur = [], []
    for m in msgs:
        kind = m.WhichOneof("type")
        if kind in ("delta", "ref_hash"):
            kind = "element"
        if cur and cur[-1].startswith("element") and kind == "element":
            n = int(cur[-1].split("×")[1]) + 1
            cur[-1] = f"element×{n}"
        else:
            cur.append("element×1" if kind == "element" else kind)
        if kind == "script_finished" and m.script_finished != loadtest.EARLY:
            runs.append(cur)
            cur = []
    return runs


def _chromium(base: str) -> tuple[list[BackMsg], list[ForwardMsg]]:
    sent, received = [], []
    with browser_page() as page:

        def on_ws(ws):
            if not ws.url.endswith("/_stcore/stream"):
                return

            def on_sent(payload):
                m = BackMsg()
                m.ParseFromString(payload if isinstance(payload, bytes) else payload.encode())
                sent.append(m)

            def on_received(payload):
                m = ForwardMsg()
                m.ParseFromString(payload)
                received.append(m)

            ws.on("framesent", on_sent)
            ws.on("framereceived", on_received)

        page.on("websocket", on_ws)
        page.goto(base + "/")
        wait_for_app(page)
        for title in CLICKS:
            page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
            wait_for_app(page)
    return [m for m in sent if m.WhichOneof("type") == "rerun_script"], received


async def _simulated(base: str) -> tuple[list[BackMsg], list[ForwardMsg], list]:
    s = loadtest.Session(base, 0, timeout=120, record=True)
    runs = [await s.open()]
    for title in CLICKS:
        runs.append(await s.goto(title))
    await s.close()
    return s.sent, s.received, runs


def test_simulated_session_matches_chromium_message_by_message(store):
    url, _engine = store
    with streamlit_server(url) as base:
        c_sent, c_recv = _chromium(base)
    # A fresh server for the simulation, so both start from the same (cold) process.
    with streamlit_server(url) as base:
        s_sent, s_recv, runs = asyncio.run(_simulated(base))
    assert all(r.ok for r in runs), [r.error for r in runs]
    assert len(c_sent) == len(s_sent) == 1 + len(CLICKS)
    for i, (c, s) in enumerate(zip(c_sent, s_sent, strict=True)):
        c_sum, s_sum = _summary(c), _summary(s)
        # The ports differ between the two servers; the paths must not.
        c_sum["url"] = c_sum["url"].split("/", 3)[-1]
        s_sum["url"] = s_sum["url"].split("/", 3)[-1]
        assert c_sum == s_sum, f"BackMsg {i}: {c_sum} != {s_sum}"
    c_kinds, s_kinds = _kinds(c_recv), _kinds(s_recv)
    assert c_kinds == s_kinds
    # The runs the browser served from its cache are references for the simulation too.
    assert sum(m.WhichOneof("type") == "ref_hash" for m in c_recv) == sum(
        m.WhichOneof("type") == "ref_hash" for m in s_recv
    )
