"""审计日志 — who signed in, who saw a full ID or phone number, and user changes (admins only)."""

import pandas as pd
import streamlit as st

from data_access import cache
from data_access.trust.auth import AUDIT_ACTIONS, AccessDenied, audit_entries
from pages.common import tables, ui


def _action_choice(action: str | None) -> str:
    return "全部" if action is None else AUDIT_ACTIONS[action]


def _action_name(action: str) -> str:
    return AUDIT_ACTIONS.get(action, action)


def _filters() -> tuple[str | None, str | None]:
    """The action and user name to narrow the log to (None: all)."""
    c1, c2 = st.columns(2)
    action = c1.selectbox("操作", [None, *AUDIT_ACTIONS], format_func=_action_choice, key="audit_action")
    username = c2.text_input("用户名", key="audit_user").strip() or None
    return action, username


def _log(log: pd.DataFrame) -> None:
    """Counts of what is shown, the log itself and its downloads."""
    c = st.columns(3)
    c[0].metric("显示条数", f"{len(log):,}")
    c[1].metric("其中查看完整号码", int((log.action == "pii_reveal").sum()))
    c[2].metric("其中登录失败", int((log.action == "login_failed").sum()))
    shown = log.assign(action=log.action.map(_action_name)).rename(
        columns={"at": "时间", "username": "用户", "action": "操作", "subject": "对象", "detail": "说明"}
    )
    st.dataframe(shown, hide_index=True, width="stretch")
    tables.download_buttons(shown, "审计日志", key="audit")


def render() -> None:
    """审计日志: the filters, then the newest 500 rows (admins only; others see why not)."""
    principal = ui.current_principal()
    st.title("审计日志")
    st.caption("来源：审计日志表（audit_log），最新 500 条；日志中不含完整身份证号、电话或密码。")
    action, username = _filters()
    try:
        log = cache.run(audit_entries, principal, action, username)
    except AccessDenied as exc:
        st.error(str(exc), icon=":material/block:")
        return
    _log(log)


render()
