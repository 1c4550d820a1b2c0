"""The optional on-screen watermark for meetings: the signed-in user and the time, repeated
diagonally across the whole page, so a screen shared or photographed in a meeting says who showed
it and when.

On from the sidebar toggle 「会议水印」 (kept in the URL as ``wm=1``), or always on for every
session with ``BANGFU_WATERMARK=1`` in the server's environment (the toggle then cannot turn it
off). The overlay is CSS only — a fixed layer above the app with ``pointer-events: none`` —
so every click, scroll and selection passes through it.
"""

from __future__ import annotations

import html
import os
from datetime import datetime
from urllib.parse import quote

import streamlit as st

from data_access.trust.auth import Principal
from data_access.trust.stamps import who_text

ENV_FORCE = "BANGFU_WATERMARK"


def forced() -> bool:
    """True when the server turns the watermark on for everyone (``BANGFU_WATERMARK=1``)."""
    return os.environ.get(ENV_FORCE, "").strip().lower() in {"1", "true", "on", "yes"}


def watermark_text(principal: Principal, at: datetime | None = None) -> str:
    """「张三（zhangsan） 2026-12-03 21:00」."""
    return f"{who_text(principal)} {(at or datetime.now()):%Y-%m-%d %H:%M}"


def overlay_css(text: str) -> str:
    """A ``<style>`` that lays ``text`` diagonally, repeated, over the whole app; clicks pass through."""
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="360" height="220">'
        '<text x="20" y="140" transform="rotate(-24 180 110)" fill="rgba(120,120,120,0.16)" '
        'font-size="18" font-family="Noto Sans CJK SC, Microsoft YaHei, sans-serif">'
        f"{html.escape(text)}</text></svg>"
    )
    return (
        "<style>"
        '[data-testid="stApp"]::after{content:"";position:fixed;inset:0;z-index:999990;'
        f'pointer-events:none;background-image:url("data:image/svg+xml;charset=utf-8,{quote(svg)}");'
        "background-repeat:repeat;}"
        "</style>"
    )


def sidebar_watermark(principal: Principal) -> bool:
    """The sidebar toggle 「会议水印」 and, when on, the overlay. Returns whether it is on."""
    on_in_url = st.query_params.get("wm") == "1"
    if forced():
        st.sidebar.caption("会议水印已由系统设置开启（用户与时间叠加在页面上）。")
        on = True
    else:
        on = st.sidebar.toggle(
            "会议水印",
            value=on_in_url,
            key="watermark_on",
            help="在页面上叠加当前用户与时间（投屏、截图可追溯）；不影响点击与操作",
        )
        if on and not on_in_url:
            st.query_params["wm"] = "1"
        elif not on and "wm" in st.query_params:
            del st.query_params["wm"]
    if on:
        st.html(overlay_css(watermark_text(principal)))
    return on
