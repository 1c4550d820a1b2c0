"""The router's one handler for an error in a page: a Chinese message and a reference id in the
browser, the traceback (with the same id) in the server log.

Streamlit's own error box is the backstop only (``client.showErrorDetails = "none"`` in
.streamlit/config.toml: no type, message or traceback reaches the browser); the router catches
what a page raises first, so a user sees which id to quote and an administrator finds the trace.
"""

from __future__ import annotations

import logging
import secrets
import sys
from datetime import datetime

import streamlit as st

LOG = logging.getLogger("bangfu.errors")
if not LOG.handlers:  # Streamlit configures its own loggers only; ours writes to the server's stderr.
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    LOG.addHandler(_handler)
    LOG.setLevel(logging.INFO)
    LOG.propagate = False

MESSAGE = "页面处理时出现错误，本次操作未完成。请刷新页面重试；如仍出现，请将参考编号 {ref} 告知系统管理员。"


def reference_id(now: datetime | None = None) -> str:
    """A reference id a user can read out on the phone: ``E`` + date and time + six hex digits."""
    return f"E{(now or datetime.now()):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def _address() -> str:
    try:
        return str(st.context.url or "-").split("?", 1)[0]  # the page, not its query string
    except Exception:  # outside a browser session (AppTest): no address
        return "-"


def page_failed(exc: BaseException, page: str | None = None) -> str:
    """Log ``exc`` with its traceback under a new reference id and show the Chinese message.
    Returns the id."""
    ref = reference_id()
    who = st.session_state.get("principal")
    page = page or _address()
    LOG.error(
        "ref=%s page=%s user=%s: %s: %s",
        ref,
        page or "-",
        getattr(who, "username", "-"),
        type(exc).__name__,
        exc,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    st.error(MESSAGE.format(ref=ref), icon=":material/error:")
    return ref
