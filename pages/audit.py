"""审计日志 — sign-ins, reveals, downloads, register and rule changes, warning and ledger actions
(admins only): filtered by user, action and dates, exported, and its hash chain verified."""

from datetime import date
from functools import partial

import pandas as pd
import streamlit as st

from data_access import cache
from data_access.query.text import XLSX_MIME
from data_access.trust.audit import RETENTION_DAYS, audit_export, verify_audit_as
from data_access.trust.auth import AUDIT_ACTIONS, AccessDenied, audit_entries
from data_access.trust.sessions import end_sessions, open_sessions
from pages.common import ui

SHOWN = 500


def _action_choice(action: str | None) -> str:
    return "全部" if action is None else AUDIT_ACTIONS[action]


def _action_name(action: str) -> str:
    return AUDIT_ACTIONS.get(action, action)


def _filters() -> tuple[str | None, str | None, date | None, date | None]:
    """The action, user name and dates (both included) to narrow the log to (None: all)."""
    c1, c2, c3, c4 = st.columns([1.2, 1, 1, 1])
    action = c1.selectbox("操作", [None, *AUDIT_ACTIONS], format_func=_action_choice, key="audit_action")
    username = c2.text_input("用户名", key="audit_user").strip() or None
    start = c3.date_input("起始日期", value=None, key="audit_start")
    end = c4.date_input("截止日期", value=None, key="audit_end")
    if start and end and start > end:
        st.warning("起始日期晚于截止日期：已对调。", icon=":material/swap_horiz:")
        start, end = end, start
    return action, username, start, end


def _verify() -> None:
    """The chain check on request: 通过, or the first row edited or removed."""
    c1, c2 = st.columns([1, 3], vertical_alignment="center")
    if c1.button("校验审计链", icon=":material/verified:", key="audit_verify"):
        verdict = cache.run(verify_audit_as, ui.current_principal())
        if verdict.ok:
            c2.success(verdict.message(), icon=":material/verified_user:")
        else:
            c2.error(verdict.message(), icon=":material/gpp_bad:")
    else:
        c2.caption(
            "每条记录带上一条的哈希：逐条核对可发现被改动或被删除的记录（命令行：python -m data_access audit verify）。"
        )


def _log(log: pd.DataFrame, filters: tuple) -> None:
    """Counts of what is shown, the log itself and the export of every row under the filters."""
    c = st.columns(4)
    c[0].metric("显示条数", f"{len(log):,}", help=f"最新 {SHOWN} 条；导出包含筛选条件下的全部记录")
    c[1].metric("其中查看完整号码", int((log.action == "pii_reveal").sum()))
    c[2].metric("其中登录失败", int((log.action == "login_failed").sum()))
    c[3].metric("其中下载导出", int((log.action == "download").sum()))
    shown = log.assign(action=log.action.map(_action_name)).rename(
        columns={"id": "序号", "at": "时间", "username": "用户", "action": "操作", "subject": "对象", "detail": "说明"}
    )
    st.dataframe(shown, hide_index=True, width="stretch")
    st.download_button(
        "导出筛选结果（XLSX）",
        partial(cache.run, audit_export, ui.current_principal(), *filters),
        file_name=f"审计日志_{date.today():%Y%m%d}.xlsx",
        mime=XLSX_MIME,
        key="audit_export",
        icon=":material/download:",
        on_click="ignore",
        help="筛选条件下的全部记录；导出本身记入审计日志",
    )


def _sessions() -> None:
    """在线会话: who is signed in now; an admin ends a user's sessions (their next click signs in again)."""
    with st.expander("在线会话", icon=":material/devices:"):
        now_open = cache.run(open_sessions, ui.current_principal())
        if now_open.empty:
            st.caption("当前没有在线会话（演示用户不建会话）。")
            return
        st.dataframe(
            now_open.drop(columns="id").rename(
                columns={"username": "用户", "created_at": "登录时间", "last_seen": "最近操作"}
            ),
            hide_index=True,
            width="stretch",
        )
        c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
        who = c1.selectbox("用户", sorted(set(now_open.username)), key="audit_end_user")
        if c2.button("结束该用户的全部会话", key="audit_end_sessions", icon=":material/logout:"):
            n = cache.act(end_sessions, who)
            st.success(
                f"已结束 {who} 的 {n} 个会话：其下一次操作须重新登录（已记入审计日志）。", icon=":material/check:"
            )


def render() -> None:
    """审计日志: the filters, the chain check, then the newest rows (admins only; others see why not)."""
    principal = ui.current_principal()
    st.title("审计日志")
    st.caption(
        f"来源：审计日志表（audit_log），只能追加、带哈希链，至少保留 {RETENTION_DAYS} 天；"
        "日志中不含完整身份证号、电话或密码。"
    )
    filters = _filters()
    action, username, start, end = filters
    try:
        log = cache.run(audit_entries, principal, action, username, SHOWN, start, end)
    except AccessDenied as exc:
        st.error(str(exc), icon=":material/block:")
        return
    _verify()
    _log(log, filters)
    _sessions()


render()
