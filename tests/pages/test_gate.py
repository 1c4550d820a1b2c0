"""The fair queue for page runs (pages/common/gate.py): at most SLOTS at once, admitted in arrival
order, and a waiter that leaves (an exception while waiting) gives its place up."""

import threading
import time

import pytest

from pages.common import gate


@pytest.fixture
def one_slot(monkeypatch):
    g = gate.Gate(1)
    monkeypatch.setattr(gate, "gate", lambda: g)
    monkeypatch.setattr(gate, "SHOW_AFTER_S", 10.0)  # no message in bare mode
    return g


def test_pages_are_admitted_in_arrival_order_and_one_at_a_time(one_slot):
    order, running, peak = [], [0], [0]
    lock = threading.Lock()

    def page(i):
        with gate.page_slot():
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
                order.append(i)
            time.sleep(0.05)
            with lock:
                running[0] -= 1

    first = threading.Thread(target=page, args=(0,))
    first.start()
    time.sleep(0.02)
    threads = []
    for i in range(1, 6):
        t = threading.Thread(target=page, args=(i,))
        t.start()
        threads.append(t)
        time.sleep(0.01)  # arrive in order 1..5 while 0 runs
    for t in [first, *threads]:
        t.join(10)
    assert order == [0, 1, 2, 3, 4, 5]
    assert peak[0] == 1
    assert one_slot.snapshot() == {"slots": 1, "running": 0, "waiting": 0, "served": 6}


def test_a_page_that_fails_frees_its_slot(one_slot):
    with pytest.raises(RuntimeError):
        with gate.page_slot():
            raise RuntimeError("page error")
    with gate.page_slot():
        assert one_slot.snapshot()["running"] == 1
    assert one_slot.snapshot()["running"] == 0


def test_no_gate_when_slots_is_zero(monkeypatch):
    monkeypatch.setattr(gate, "gate", lambda: gate.Gate(0))
    with gate.page_slot():
        pass
