"""A fair queue for page runs: at most ``SLOTS`` pages compute at once in this process, the others
wait in the order they came and see their place in the queue.

Streamlit runs every session's script in a thread of its own; the page code is mostly Python
under one interpreter lock, so thirty pages started together share the CPU and all finish late
together — past saturation nothing reaches anyone. Through this gate the first pages finish at
full speed and the rest wait in arrival order, each with a message saying how many are ahead
(docs/scale.md has the measurements). The sidebar is drawn before the gate, so a waiting user
sees the app and the queue, never a frozen page. ``BANGFU_RUN_SLOTS`` sets the slots (0: no gate).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from contextlib import contextmanager

import streamlit as st

SLOTS = int(os.environ.get("BANGFU_RUN_SLOTS", "2"))
SHOW_AFTER_S = 0.3  # a short wait shows nothing (no flicker)


class Gate:
    """Slots and a FIFO of waiting tickets, shared by every session of the process."""

    def __init__(self, slots: int):
        self.slots = slots
        self.running = 0
        self.waiting: deque = deque()
        self.cond = threading.Condition()
        self.served = 0

    def snapshot(self) -> dict:
        """Running and waiting counts (for tests and the load test's report)."""
        with self.cond:
            return {"slots": self.slots, "running": self.running, "waiting": len(self.waiting), "served": self.served}


@st.cache_resource(show_spinner=False)
def gate() -> Gate:
    """The process's one gate."""
    return Gate(SLOTS)


@contextmanager
def page_slot():
    """Wait for a slot in arrival order (showing the place in the queue), run the page, free the slot.

    A rerun requested while waiting (the user clicked elsewhere) raises out of the wait at the next
    message drawn; the ticket leaves the queue in ``finally``."""
    g = gate()
    if g.slots <= 0:
        yield
        return
    ticket = object()
    admitted = False
    placeholder = None
    shown = None
    t0 = time.monotonic()
    with g.cond:
        g.waiting.append(ticket)
    try:
        while True:
            with g.cond:
                if g.waiting[0] is ticket and g.running < g.slots:
                    g.waiting.popleft()
                    g.running += 1
                    g.served += 1
                    admitted = True
                    g.cond.notify_all()
                    break
                ahead = g.waiting.index(ticket) + g.running
                g.cond.wait(0.25)
            if time.monotonic() - t0 >= SHOW_AFTER_S and ahead != shown:
                placeholder = placeholder or st.empty()
                placeholder.info(
                    f"当前使用人数较多，页面排队计算中：前面还有 {ahead} 个页面，请稍候…",
                    icon=":material/hourglass_top:",
                )
                shown = ahead
        if placeholder is not None:
            placeholder.empty()
        yield
    finally:
        with g.cond:
            if admitted:
                g.running -= 1
            else:
                try:
                    g.waiting.remove(ticket)
                except ValueError:
                    pass
            g.cond.notify_all()
