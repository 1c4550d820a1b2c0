"""Shared page pieces: the filter sidebar, data freshness, the store banner and page links.

Money and percent text come from ``data_access.query.text`` (``money_text``, ``pct_text``), the
same functions the briefing pack and exports use."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from data_access import cache
from data_access.desks.ingest import ALL_FORMS
from data_access.figures.overview import data_as_of, data_years
from data_access.query.filters import REGION_SIDES, Filters, region_level
from data_access.query.text import filters_in_words
from data_access.reference.labels import BUYER_KINDS, CATEGORIES, CHANNELS
from data_access.reference.regions import region_children, region_path, region_table
from data_access.trust.auth import Principal, apply_principal
from pages import registry
from pages.common import watermark

FILTER_KEYS = ("from", "to", "region", "side", "channel", "kind", "cat")


def store_down(exc: Exception) -> None:
    """The one banner for a store that does not answer (the router catches ``StoreUnavailable``
    around the whole page run): the message names the host, never the password."""
    st.error(str(exc), icon=":material/cloud_off:")


def store_status() -> dict:
    """Bring the store up (demo data on the first start of the default store)."""
    return cache.prepared_store()


def _initial_filters(as_of: date) -> Filters:
    default = Filters(start=date(as_of.year, 1, 1), end=as_of)
    return Filters.from_query_params(st.query_params, default.start, default.end)


def sidebar_filters() -> Filters:
    """Draw the shared filters in the sidebar, keep them in the URL, return the Filters."""
    as_of = cache.query(data_as_of) or date.today()
    years = cache.query(data_years) or [as_of.year]
    regions = cache.shared(region_table)
    if "filters" not in st.session_state:
        st.session_state["filters"] = _initial_filters(as_of)
    f: Filters = st.session_state["filters"]

    sb = st.sidebar
    sb.markdown("#### 筛选条件")
    year = sb.selectbox("年度", years, index=years.index(f.year) if f.year in years else 0, key="flt_year")
    last_month = as_of.month if year == as_of.year else 12
    m_from, m_to = (f.start.month, min(f.end.month, last_month)) if f.year == year else (1, last_month)
    m_from, m_to = sb.select_slider(
        "月份",
        options=list(range(1, 13)),
        value=(min(m_from, m_to), m_to),
        format_func=lambda m: f"{m}月",
        key=f"flt_months_{year}",
    )
    gen = filters_generation()
    side = sb.radio(
        "地区口径",
        list(REGION_SIDES),
        index=list(REGION_SIDES).index(f.region_side),
        format_func=REGION_SIDES.get,
        horizontal=True,
        key=f"flt_side_{gen}",
    )
    path = [c for c, _ in region_path(regions, f.region_code)][1:]
    chosen: str | None = None
    for depth, label in enumerate(("省份", "地市", "区县")):
        children = region_children(regions, chosen) if depth == 0 or chosen else None
        if children is None or children.empty:
            break
        options = [None] + children.code.tolist()
        names = dict(zip(children.code, children.name, strict=True))
        current = path[depth] if depth < len(path) and path[depth] in options else None
        pick = sb.selectbox(
            label,
            options,
            index=options.index(current),
            format_func=lambda c, names=names: "全部" if c is None else names.get(c, c),
            key=f"flt_region_{depth}_{chosen}_{gen}",
        )
        if pick is None:
            break
        chosen = pick
        if region_level(chosen) == "county":
            break
    channels = sb.multiselect(
        "渠道",
        list(CHANNELS),
        default=list(f.channels),
        format_func=CHANNELS.get,
        key="flt_channel",
        placeholder="全部渠道",
    )
    kinds = sb.multiselect(
        "单位类型",
        list(BUYER_KINDS),
        default=list(f.buyer_kinds),
        format_func=BUYER_KINDS.get,
        key="flt_kind",
        placeholder="全部类型",
    )
    cats = sb.multiselect(
        "产品品类",
        list(CATEGORIES),
        default=list(f.categories),
        format_func=CATEGORIES.get,
        key="flt_cat",
        placeholder="全部品类",
    )
    end_day = (
        as_of
        if (year == as_of.year and m_to == as_of.month)
        else (pd.Timestamp(year=year, month=m_to, day=1) + pd.offsets.MonthEnd(0)).date()
    )
    f = Filters(
        start=date(year, m_from, 1),
        end=end_day,
        region_code=chosen,
        region_side=side,
        channels=tuple(channels),
        buyer_kinds=tuple(kinds),
        categories=tuple(cats),
    )
    f = apply_principal(f, cache.principal())
    st.session_state["filters"] = f
    _sync_url(f)
    sb.caption(f"数据截至 {as_of:%Y年%m月%d日}")
    watermark.sidebar_watermark(cache.principal())
    return f


def filters_generation() -> int:
    """How many times a page has moved the shared filters (``move_filters``); part of the keys of
    widgets that must follow such a move."""
    return int(st.session_state.get("flt_gen", 0))


def move_filters(f: Filters) -> None:
    """Move the shared filters to ``f`` from inside a page (a drilldown click, a breadcrumb) and rerun.

    The sidebar's side and region widgets are drawn under new keys: a widget kept under its old
    key would keep the value the browser last showed, and the next click would send it back.
    """
    st.session_state["filters"] = f
    st.session_state["flt_gen"] = filters_generation() + 1
    for key in [k for k in st.session_state if str(k).startswith(("flt_region_", "flt_side_"))]:
        del st.session_state[key]
    st.rerun()


def _sync_url(f: Filters) -> None:
    wanted = f.to_query_params()
    for key in FILTER_KEYS:
        if key in st.query_params and key not in wanted:
            del st.query_params[key]
    for key, value in wanted.items():
        if st.query_params.get(key) != value:
            st.query_params[key] = value


def current_filters() -> Filters:
    """The Filters the router drew in the sidebar for this run."""
    _through_router("filters")
    return st.session_state["filters"]


def _through_router(key: str) -> None:
    """Rerun through the router unless it ran first in this run (it left ``key`` in the session).

    Upstream behaviour (Streamlit 1.67, streamlit/runtime/pages_manager.py): until some session of
    the process calls st.navigation, an app whose main script has a ``pages/`` folder runs in the
    legacy multipage mode (``PagesManager.uses_pages_directory``), so a deep link that is the
    server's very first request (/ledger) runs pages/ledger.py without dashboard.py, the sign-in
    with it. The brief fixes the folder's name and no public API turns the mode off but
    st.navigation, which only the router calls: switch it off as st.navigation does, and rerun.
    Pinned: streamlit ~= 1.67 (pyproject); tests/browser/test_browser_access.py proves that a cold
    deep link still meets the sign-in.
    """
    if key not in st.session_state or PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def freshness(source: str) -> None:
    """数据截至 and where the page's figures come from, under the page title."""
    as_of = cache.query(data_as_of)
    when = f"{as_of:%Y年%m月%d日}" if as_of else "暂无数据"
    lag = cache.replica_lag_text()
    st.caption(f"数据截至 {when} ｜ 来源：{source}" + (f" ｜ {lag}" if lag else ""))


def describe_filters(f: Filters) -> str:
    """The page's filters in words (``query.text.filters_in_words``, as the briefing and exports say it)."""
    return filters_in_words(f, cache.shared(region_table), current_principal().unit_name)


def current_principal() -> Principal:
    """The principal the router signed in for this session (the demo user when there are no users).

    A page reached without the router (a deep link as a server's first request) reruns through
    it, so no page runs before the sign-in.
    """
    _through_router("principal")
    return st.session_state["principal"]


def page_link(
    url_path: str, label: str, icon: str | None = None, help: str | None = None, query_params: dict | None = None
) -> None:
    """A link to another page of the app (by its ``url_path`` in the registry, with ``query_params``
    such as ``{"register": "units"}``); plain text when this user's role may not open it."""
    spec = registry.BY_URL[url_path]
    if registry.can_view(current_principal(), url_path):
        st.page_link(spec.file, label=label, icon=icon, help=help, query_params=query_params)
    else:
        st.caption(label)


LOAD_PARAMS = {"registers": "register", "reporting": "form"}
"""The URL parameter that opens a loading page on one form (基础数据 ?register=, 数据报送 ?form=)."""


def load_link(url_path: str | None, form: str | None = None, label: str | None = None) -> None:
    """A link to the page that loads ``form`` (基础数据 or 数据报送), opened on that form."""
    if url_path is None:
        return
    title = registry.BY_URL[url_path].title
    params = {LOAD_PARAMS[url_path]: form} if form and url_path in LOAD_PARAMS else None
    if form in ALL_FORMS:
        title = f"{title} · {ALL_FORMS[form].title}"
    page_link(url_path, label or f"去「{title}」导入", icon=":material/upload_file:", query_params=params)


def no_data(what: str, loads: tuple[tuple[str | None, str | None], ...] = ()) -> None:
    """暂无数据 instead of a judgement: says what is missing, links to 上线准备 and to the pages that
    load it (``loads``: (url_path, form) pairs); who may not load it is told to ask an admin."""
    st.info(f"暂无数据：{what}", icon=":material/inbox:")
    principal = current_principal()
    links = [(u, f) for u, f in loads if u and registry.can_view(principal, u)]
    if registry.can_view(principal, "golive"):
        links.insert(0, ("golive", None))
    if not links:
        st.caption("请联系管理员导入基础数据。")
        return
    cols = st.columns(len(links))
    for col, (url_path, form) in zip(cols, links, strict=True):
        with col:
            if url_path == "golive":
                page_link("golive", "查看上线准备清单", icon=":material/checklist:")
            else:
                load_link(url_path, form)
