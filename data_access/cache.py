"""The only module of data_access that knows Streamlit: the cached engine, query results and writes.

Pages reach data through three verbs and nothing else (tests/meta/test_layers.py keeps it so):
``query(fn, *args)`` — a named read, cached per arguments for ``TTL_SECONDS``; ``run(fn, *args)``
— a read that must be fresh, uncached; ``act(fn, *args)`` — a write, called as
``fn(engine, principal, *args)`` with the signed-in principal, which ``fn`` checks, then the cache
is cleared. Every Filters argument is narrowed to the principal here, in one place. A store that
cannot be reached raises ``StoreUnavailable`` with a message safe to show (host, never the
password); errors are not cached, so the page recovers on the next rerun once the store is back.

With ``BANGFU_READ_DATABASE_URL`` (a streaming replica, store/replica.py) ``query`` reads there;
``run`` and ``act`` use the primary. After a write (every write ends in ``clear``) the session
reads from the primary until the replica has replayed up to it: a desk sees its own action at once.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import os
import pickle
import threading
import time

import numpy as np
import pandas as pd
import streamlit as st
from sqlalchemy.exc import InterfaceError, OperationalError

from data_access.query.filters import Filters
from data_access.store import replica
from data_access.store.config import ENV_URL, database_url, describe_url, read_database_url
from data_access.store.db import make_engine
from data_access.store.meta import is_demo_store
from data_access.store.runtime import settle_heap
from data_access.tools.demo import prepare_store
from data_access.trust.audit import last_change
from data_access.trust.auth import DEMO_PRINCIPAL, Principal, apply_principal

TTL_SECONDS = int(os.environ.get("BANGFU_CACHE_TTL", "300"))
CHECK_SECONDS = float(os.environ.get("BANGFU_CACHE_CHECK", "2"))
"""How often a process asks the store whether another process (an app process behind nginx, a
command-line import, the warning job) has written since: ``last_change``. The TTL stays as the
net under writes that leave no audit row."""


def frame_digest(obj: pd.DataFrame | pd.Series) -> bytes:
    """A content key for a DataFrame or Series argument of a cached function: shape, labels, dtypes
    and values. Streamlit's own key (``hash_pandas_object`` per column) costs about 2 ms for a
    40-row table with text columns — under load that was 13 % of the server's CPU (docs/scale.md);
    this costs about 0.1 ms. Equal content gives the same key however the frame was made."""
    h = hashlib.blake2b(digest_size=16)
    frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
    h.update(repr((type(obj).__name__, frame.shape, [str(t) for t in frame.dtypes])).encode())
    for values in (frame.index, frame.columns, *(frame.iloc[:, i] for i in range(frame.shape[1]))):
        arr = np.asarray(values)
        if arr.dtype.kind in "biufcmM":
            h.update(arr.dtype.str.encode())
            h.update(np.ascontiguousarray(arr).view(np.uint8).data)
        else:  # text, mixed, dates as objects: their values, in order
            h.update(pickle.dumps(arr.tolist(), protocol=5))
    return h.digest()


HASH_FUNCS = {pd.DataFrame: frame_digest, pd.Series: frame_digest}


def _private(value):
    """What a caller of ``query`` gets: its own copy of the shared cached result. Frames are copied
    shallowly — pandas' copy-on-write (always on from pandas 3) copies the data only when the caller
    changes it — so a read costs microseconds instead of unpickling the result (8 % of the CPU
    under load with ``st.cache_data``). Containers are rebuilt; other mutable values deep-copied."""
    if isinstance(value, (pd.DataFrame, pd.Series, pd.Index)):
        return value.copy(deep=False)
    if value is None or isinstance(value, (str, bytes, int, float, bool, frozenset)):
        return value
    if isinstance(value, dict):
        return type(value)((k, _private(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_private(v) for v in value]
    if isinstance(value, tuple):
        items = [_private(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    return copy.deepcopy(value)


class StoreUnavailable(RuntimeError):
    """The store did not answer; ``str()`` is a Chinese message naming the host."""


@st.cache_resource(show_spinner=False)
def _engine(url: str):
    return make_engine(url)


def engine():
    """The engine of the configured store, one per URL per process."""
    return _engine(database_url())


# The session's last write: the primary's WAL position after it, until the replica has replayed it.
_WROTE_AT = "_bangfu_primary_lsn"
_CHECKED = "_bangfu_replica_checked"


def read_url() -> str:
    """Where this session's cached reads go: the replica, unless there is none or it has not yet
    replayed this session's last write (checked at most once a second)."""
    url = read_database_url()
    if url is None:
        return database_url()
    position = st.session_state.get(_WROTE_AT)
    if position is None:
        return url
    now = time.monotonic()
    if now - st.session_state.get(_CHECKED, 0.0) < 1.0:
        return database_url()
    st.session_state[_CHECKED] = now
    try:
        if replica.replayed(_engine(url), position):
            del st.session_state[_WROTE_AT]
            # Results other sessions cached from the replica while it lagged behind this write.
            _cached.clear()
            return url
    except (OperationalError, InterfaceError):
        pass  # a replica that does not answer: the primary serves the session meanwhile
    return database_url()


def replica_lag() -> float | None:
    """Seconds the replica this session reads from is behind the primary; None when the session
    reads the primary (no replica, or its own write not yet replayed)."""
    url = read_url()
    if url == database_url():
        return None
    return _replica_lag(url)


def replica_lag_text() -> str:
    """The freshness line's words on the replica's lag (empty when it does not matter)."""
    return replica.lag_text(replica_lag())


@st.cache_data(ttl=5, show_spinner=False)
def _replica_lag(url: str) -> float | None:
    try:
        return replica.lag_seconds(_engine(url))
    except (OperationalError, InterfaceError):
        return None


def _unavailable(exc: Exception) -> StoreUnavailable:
    return StoreUnavailable(
        f"无法连接数据库（{describe_url(database_url())}）。请检查数据库服务是否运行，"
        f"恢复后刷新页面即可。错误类型：{type(exc).__name__}"
    )


# One result object per key per process, shared by every session; ``query`` hands out ``_private``
# copies, ``shared`` the object itself. (``st.cache_data`` would unpickle a fresh copy on every read.)
@st.cache_resource(ttl=TTL_SECONDS, show_spinner=False, max_entries=2000, hash_funcs=HASH_FUNCS)
def _cached(url: str, module: str, name: str, args: tuple, kwargs: tuple):
    fn = getattr(importlib.import_module(module), name)
    return fn(_engine(url), *args, **dict(kwargs))


def _restricted(value):
    # Every Filters a page passes is narrowed to the signed-in principal (a reporter's own
    # unit), however the page built it: the restriction does not rely on each page.

    if isinstance(value, Filters):
        return apply_principal(value, principal())
    return value


def _restricted_all(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """``args`` and ``kwargs`` with every Filters narrowed to the signed-in principal."""
    return tuple(_restricted(a) for a in args), {k: _restricted(v) for k, v in kwargs.items()}


_marks: dict[str, tuple[float, int | None]] = {}  # url -> (when checked, last_change seen)
_marks_lock = threading.Lock()


def _follow_other_writers(url: str) -> None:
    """Forget this process's results when the store's write mark has moved since the last look
    (at most every ``CHECK_SECONDS``): a desk on another app process, or an import from the command
    line, shows here within seconds instead of after the TTL. The mark is read before any result
    that follows it is computed, so a write during a computation moves it at the next look."""
    now = time.monotonic()
    with _marks_lock:
        seen = _marks.get(url)
        if seen is not None and now - seen[0] < CHECK_SECONDS:
            return
        _marks[url] = (now, seen[1] if seen else None)  # one thread of the process looks
    mark = last_change(_engine(url))
    with _marks_lock:
        _marks[url] = (now, mark)
    if seen is not None and mark != seen[1]:
        _cached.clear()


def _lookup(url: str, fn, args: tuple, kwargs: dict):
    """The shared cached result of ``fn(engine, *args, **kwargs)`` read from ``url``; Filters
    arguments restricted to the signed-in principal first (``auth.apply_principal``)."""
    args, kwargs = _restricted_all(args, kwargs)
    try:
        _follow_other_writers(url)
        return _cached(url, fn.__module__, fn.__name__, args, tuple(sorted(kwargs.items())))
    except (OperationalError, InterfaceError) as exc:
        raise _unavailable(exc) from exc


def query(fn, *args, **kwargs):
    """``fn(engine, *args, **kwargs)`` through the result cache, as the caller's own copy (it may
    change it); Filters arguments are restricted to the signed-in principal."""
    return _private(_lookup(read_url(), fn, args, kwargs))


def shared(fn, *args, **kwargs):
    """As ``query``, but every session gets the same object, not a copy: for read-only reference
    data read several times per run (the region table; the boundary GeoJSON, whose copy — a rebuild
    of every nested list and dict — cost more than the page's own work). The caller must not modify
    the result. Cleared with ``clear()``."""
    return _lookup(database_url(), fn, args, kwargs)


def run(fn, *args, **kwargs):
    """``fn(engine, *args, **kwargs)`` uncached (writes, and reads that must be fresh); Filters
    arguments are restricted as in ``query``."""
    args, kwargs = _restricted_all(args, kwargs)
    try:
        return fn(engine(), *args, **kwargs)
    except (OperationalError, InterfaceError) as exc:
        raise _unavailable(exc) from exc


def principal() -> Principal:
    """The principal the router signed in for this session (the demo user when there are no users)."""
    return st.session_state.get("principal", DEMO_PRINCIPAL)


def act(fn, *args, **kwargs):
    """The write ``fn(engine, principal, *args, **kwargs)`` as the signed-in principal (``fn`` checks
    its role and writes its audit row), uncached; cached results are cleared afterwards."""
    args, kwargs = _restricted_all(args, kwargs)
    try:
        return fn(engine(), principal(), *args, **kwargs)
    except (OperationalError, InterfaceError) as exc:
        raise _unavailable(exc) from exc
    finally:
        clear()


def clear() -> None:
    """Forget cached results (after a write); with a replica, read this session from the primary
    until the replica has replayed the write."""
    _cached.clear()
    if read_database_url() is not None:
        try:
            st.session_state[_WROTE_AT] = replica.wal_position(engine())
            st.session_state[_CHECKED] = 0.0
        except (OperationalError, InterfaceError):
            pass


def prepared_store() -> dict:
    """Bring the store up once per process; the default SQLite store gets the demo data."""
    return _prepared_store(database_url())


@st.cache_resource(show_spinner="首次启动：正在建库并生成演示数据（约半分钟）…")
def _prepared_store(url: str) -> dict:
    eng = _engine(url)
    try:
        demo_if_empty = not os.environ.get(ENV_URL) or os.environ.get("BANGFU_DEMO") == "1"
        generated = prepare_store(eng, demo_if_empty=demo_if_empty)
        status = {"demo": is_demo_store(eng), "generated": generated, "where": describe_url(str(eng.url))}
        settle_heap()
        return status
    except OperationalError as exc:
        raise _unavailable(exc) from exc
