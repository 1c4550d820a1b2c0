"""The pages of the app, listed once: the router, the role matrix (docs/trust.md), page links and the
tests all read this list."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import streamlit as st

from data_access.trust.auth import (
    ADMIN_ROLES,
    ALL_ROLES,
    DESK_ROLES,
    PERSONAL_DATA_ROLES,
    READERS,
    SUBMIT_ROLES,
    Principal,
)


@dataclass(frozen=True)
class PageSpec:
    """One page: its file under pages/, its address (``/<url_path>``), title, icon and the roles
    that may open it."""

    file: str
    url_path: str
    title: str
    icon: str
    roles: frozenset[str]


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/overview.py", "overview", "总览", ":material/dashboard:", ALL_ROLES),
    PageSpec("pages/procurement.py", "procurement", "采购进度", ":material/trending_up:", ALL_ROLES),
    PageSpec("pages/alerts.py", "warnings", "滞销预警", ":material/warning:", READERS),
    PageSpec("pages/outlet_map.py", "outlet_map", "网点地图", ":material/storefront:", READERS),
    PageSpec("pages/drilldown.py", "drilldown", "地区下钻", ":material/travel_explore:", READERS),
    PageSpec("pages/reporting.py", "reporting", "数据报送", ":material/upload_file:", SUBMIT_ROLES),
    PageSpec("pages/registers.py", "registers", "基础数据", ":material/database:", SUBMIT_ROLES),
    PageSpec("pages/golive.py", "golive", "上线准备", ":material/checklist:", ADMIN_ROLES),
    PageSpec("pages/beneficiaries.py", "beneficiaries", "带贫人员", ":material/groups:", PERSONAL_DATA_ROLES),
    PageSpec("pages/audit.py", "audit", "审计日志", ":material/policy:", ADMIN_ROLES),
    PageSpec("pages/users.py", "users", "用户管理", ":material/manage_accounts:", ADMIN_ROLES),
    PageSpec("pages/catalogue.py", "catalogue", "产品名库", ":material/inventory_2:", READERS),
    PageSpec("pages/trends.py", "trends", "趋势分析", ":material/monitoring:", READERS),
    PageSpec("pages/ledger.py", "ledger", "督办台账", ":material/assignment:", DESK_ROLES | {"leader"}),
)
"""In menu order; the first is the default page (served at ``/`` and at its own address)."""

BY_FILE = {p.file: p for p in PAGES}
BY_URL = {p.url_path: p for p in PAGES}


def can_view(principal: Principal, url_path: str) -> bool:
    """True when the principal's role may open the page at ``url_path`` (an unknown page: readers only)."""
    spec = BY_URL.get(url_path)
    return principal.role in (spec.roles if spec else READERS)


def allowed(principal: Principal) -> list[PageSpec]:
    """The pages the principal may open, in menu order."""
    return [p for p in PAGES if principal.role in p.roles]


def streamlit_pages(principal: Principal) -> list:
    """``st.Page`` objects for the router: the pages this principal may open. Streamlit serves the
    default page at ``/`` only; a hidden twin keeps its own address (``/overview``) working too."""
    specs = allowed(principal)
    # A page's identity is its url_path: the default page is declared with "" (Streamlit serves it
    # at /), its hidden twin with its own address.
    pages = [_page(p.file, p.title, p.icon, "" if i == 0 else p.url_path, i == 0) for i, p in enumerate(specs)]
    if specs:
        first = specs[0]
        pages.append(_page(first.file, first.title, first.icon, first.url_path, False, "hidden"))
    return pages


_PAGES: dict[tuple, st.Page] = {}


def _page(file: str, title: str, icon: str, url_path: str, default: bool, visibility: str = "visible") -> st.Page:
    """An ``st.Page`` for this run: a copy of one built once per process. Building resolves the
    script's path on disk (5 % of the server's CPU under load, docs/scale.md); the copy is needed
    because ``st.navigation`` marks the page it returns as callable, per run and session."""
    key = (file, title, icon, url_path, default, visibility)
    if key not in _PAGES:
        _PAGES[key] = st.Page(file, title=title, icon=icon, url_path=url_path, default=default, visibility=visibility)
    return copy.copy(_PAGES[key])
