"""Whether this session replaced one that another process (or this one before a restart) served.

Behind nginx (deploy/) a browser whose process died reconnects to another one, which does not know
its session: Streamlit starts a new one, and the sign-in kept in the old one is gone. The browser
names the session it had in its websocket handshake (the third entry of ``Sec-WebSocket-Protocol``,
upstream streamlit/web/server/starlette/starlette_websocket.py ``_parse_subprotocols``); when that
is not this session, the sign-in page says why it is shown again.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx


def session_was_moved() -> bool:
    """True when the browser came back from a session this process does not have."""
    try:
        raw = st.context.headers.get("Sec-WebSocket-Protocol") or ""
    except Exception:  # no websocket (AppTest): a first visit
        return False
    entries = [e.strip() for e in raw.split(",")]
    previous = entries[2] if len(entries) >= 3 else ""
    ctx = get_script_run_ctx()
    return bool(previous) and ctx is not None and previous != ctx.session_id


MOVED_MESSAGE = (
    "服务已切换到另一个进程（原进程停止或重启），登录状态未能保留，请重新登录。"
    "此前已提交的操作均已保存，不会丢失，也不会重复。"
)
