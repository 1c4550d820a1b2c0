"""Sign-in and sign-out (which pages each role may open: pages/registry.py)."""

from __future__ import annotations

import streamlit as st

from data_access import cache
from data_access.trust import auth
from pages.common import resume


def signed_in_principal() -> auth.Principal:
    """The principal of this session; shows the sign-in page and stops when someone must sign in.

    With no active users in the store everyone is the demo principal (演示用户).
    """
    needs_login = cache.run(auth.has_active_users)
    current = st.session_state.get("principal")
    if not needs_login:
        st.session_state["principal"] = auth.DEMO_PRINCIPAL
        return auth.DEMO_PRINCIPAL
    if current is not None and not current.demo:
        # Re-read every run: a user disabled by an admin is signed out on their next click.
        fresh = cache.run(auth.active_principal, current.username)
        if fresh is not None:
            st.session_state["principal"] = fresh
            return fresh
    st.session_state.pop("principal", None)
    st.navigation([st.Page(_login_page, title="登录", icon=":material/login:", default=True)], position="hidden").run()
    st.stop()


def _login_page() -> None:
    left, middle, right = st.columns([1, 1.2, 1])
    with middle:
        st.title("消费帮扶监测看板")
        st.caption("请使用管理员分配的账号登录。")
        if resume.session_was_moved():
            st.info(resume.MOVED_MESSAGE, icon=":material/sync:")
        with st.form("login", clear_on_submit=True):
            username = st.text_input("用户名", key="login_username")
            password = st.text_input("密码", type="password", key="login_password")
            submitted = st.form_submit_button("登录", type="primary", width="stretch")
        if not submitted:
            return
        try:
            principal = cache.run(auth.authenticate, username, password)
        except auth.LoginFailed as exc:
            st.error(str(exc), icon=":material/lock:")
            return
        _forget_session()
        st.session_state["principal"] = principal
        st.rerun()


def sidebar_user(principal: auth.Principal) -> None:
    """Who is signed in, with role and unit, and the sign-out button; or the demo-user marker."""
    sb = st.sidebar
    if principal.demo:
        sb.info("演示用户（管理员权限）：尚未配置用户，无需登录。创建用户后将要求登录。", icon=":material/person:")
        return
    unit = f"\n\n{principal.unit_name}" if principal.unit_name else ""
    sb.markdown(f":material/account_circle: **{principal.display_name}** · {principal.role_label}{unit}")
    if sb.button("退出登录", icon=":material/logout:", key="logout"):
        try:
            cache.run(auth.record_logout, principal)
        except cache.StoreUnavailable:
            pass  # signing out must work even when the audit row cannot be written
        _forget_session()
        st.rerun()


def _forget_session() -> None:
    # Filters, widget values and the principal of the previous user must not leak to the next.
    for key in list(st.session_state.keys()):
        del st.session_state[key]
