"""用户管理 (admins only): every account with its role, unit and state; create an account; disable or
enable it, reset its password, lift a lockout, unbind its second factor, end its sessions. Every
change goes through ``data_access.trust`` as the signed-in admin — checked there and audited — the
same functions as ``python -m data_access user …``."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from data_access import cache
from data_access.desks.imports import unit_choices
from data_access.trust import auth, second_factor, sessions
from data_access.trust.policy import account_settings
from pages.common import ui

NOTICE = "users_notice"


def _done(message: str) -> None:
    """Keep the confirmation across the rerun that shows the changed list."""
    st.session_state[NOTICE] = message
    st.rerun()


def _attempt(change, *args, done: str, clear: tuple[str, ...] = ()) -> None:
    """``cache.act(change, *args)``; a refusal (policy, unknown name, duplicate) shown in its words,
    the form kept as typed. Done, the widgets ``clear`` are emptied (a password never stays in a field)."""
    try:
        n = cache.act(change, *args)
    except (ValueError, auth.AccessDenied) as exc:
        st.error(str(exc), icon=":material/error:")
        return
    for key in clear:
        st.session_state.pop(key, None)
    _done(done.replace("{n}", str(n)))


def _list(accounts: pd.DataFrame) -> None:
    c = st.columns(4)
    c[0].metric("用户", f"{len(accounts):,}")
    c[1].metric("其中停用", int((~accounts.active.astype(bool)).sum()) if len(accounts) else 0)
    c[2].metric("已绑定动态口令", int(accounts.totp.fillna(False).astype(bool).sum()) if len(accounts) else 0)
    c[3].metric("待首次改密", int(accounts.must_change.fillna(False).astype(bool).sum()) if len(accounts) else 0)
    if accounts.empty:
        st.info(
            "尚无用户。创建第一个用户后，本库即须登录使用（演示库未建用户时所有人以演示用户进入）。",
            icon=":material/person_add:",
        )
        return
    shown = pd.DataFrame(
        {
            "用户名": accounts.username,
            "姓名": accounts.display_name,
            "角色": accounts.role.map(lambda r: auth.ROLES.get(r, r)),
            "所属单位": accounts.unit_name.fillna("—"),
            "状态": accounts.active.map(lambda a: "启用" if a else "停用"),
            "动态口令": accounts.totp.map(lambda t: "已绑定" if t else "未绑定"),
            "下次登录须改密": accounts.must_change.map(lambda m: "是" if m else ""),
            "密码修改时间": pd.to_datetime(accounts.password_changed_at).dt.strftime("%Y-%m-%d %H:%M"),
        }
    )
    st.dataframe(shown, hide_index=True, width="stretch")


def _passwords(prefix: str) -> tuple[str, str]:
    a, b = st.columns(2)
    first = a.text_input("密码", type="password", key=f"{prefix}_pw")
    again = b.text_input("再次输入密码", type="password", key=f"{prefix}_pw2")
    return first, again


def _create() -> None:
    settings = account_settings()
    with st.expander("新建用户", icon=":material/person_add:", expanded=False):
        units = cache.run(unit_choices)
        with st.form("users_add", clear_on_submit=False):
            c1, c2, c3 = st.columns(3)
            username = c1.text_input("用户名", key="users_add_name", max_chars=64)
            display = c2.text_input("姓名或岗位", key="users_add_display")
            role = c3.selectbox("角色", list(auth.ROLES), format_func=auth.ROLES.get, key="users_add_role")
            unit = st.selectbox(
                "所属单位（报送单位账号必填：只能报送和查看本单位）",
                list(units.id),
                format_func=dict(zip(units.id, units.name, strict=True)).get,
                index=None,
                placeholder="输入单位名称查找",
                key="users_add_unit",
            )
            first, again = _passwords("users_add")
            st.caption(
                f"初始密码至少 {settings.min_length} 位"
                + (f"，须含大写字母、小写字母、数字和符号中的 {settings.classes} 类" if settings.classes else "")
                + ("；用户首次登录须修改" if settings.change_initial else "")
                + "。请当面或经单位渠道告知，勿在聊天工具中发送。"
            )
            submitted = st.form_submit_button("创建", type="primary", icon=":material/person_add:")
        if not submitted:
            return
        if not username.strip():
            st.error("用户名：不能为空。", icon=":material/error:")
        elif first != again:
            st.error("密码：两次输入不一致。", icon=":material/error:")
        else:
            _attempt(
                auth.add_user,
                username.strip(),
                first,
                role,
                int(unit) if unit is not None and role == "reporter" else None,
                display.strip() or None,
                done=f"已创建用户 {username.strip()}（{auth.ROLES[role]}），已记入审计日志。",
                clear=("users_add_name", "users_add_display", "users_add_unit", "users_add_pw", "users_add_pw2"),
            )


def _manage(accounts: pd.DataFrame) -> None:
    if accounts.empty:
        return
    st.subheader("管理已有用户")
    labels = {
        r.username: f"{r.username}（{r.display_name}，{auth.ROLES.get(r.role, r.role)}"
        + ("）" if r.active else "，已停用）")
        for r in accounts.itertuples()
    }
    who = st.selectbox(
        "用户",
        list(labels),
        format_func=labels.get,
        index=None,
        placeholder="选择用户（可输入用户名查找）",
        key="users_pick",
    )
    if who is None:
        st.caption("选择一个用户：停用或启用、重设密码、解除锁定、解除动态口令、结束在线会话。")
        return
    row = accounts.set_index("username").loc[who]
    locked = cache.run(auth.locked_until, who)
    if locked is not None:
        st.warning(f"{who} 因连续登录失败被锁定至 {locked:%H:%M:%S}。", icon=":material/lock:")
    c = st.columns(4)
    if row.active:
        if c[0].button("停用", key="users_disable", icon=":material/block:", width="stretch"):
            _attempt(auth.set_active, who, False, done=f"已停用 {who}：其在线会话在下一次操作时结束。")
    elif c[0].button("启用", key="users_enable", icon=":material/check_circle:", width="stretch"):
        _attempt(auth.set_active, who, True, done=f"已启用 {who}。")
    unlock = c[1].button(
        "解除锁定", key="users_unlock", icon=":material/lock_open:", width="stretch", disabled=locked is None
    )
    if unlock:
        _attempt(auth.unlock_user, who, done=f"已解除 {who} 的锁定。")
    if c[2].button(
        "解除动态口令", key="users_totp", icon=":material/phonelink_erase:", width="stretch", disabled=not row.totp
    ):
        _attempt(second_factor.reset, who, done=f"已解除 {who} 的动态口令：下次登录时重新绑定。")
    if c[3].button("结束在线会话", key="users_end", icon=":material/logout:", width="stretch"):
        _attempt(sessions.end_sessions, who, done=f"已结束 {who} 的 {{n}} 个会话：其下一次操作须重新登录。")
    with st.form("users_passwd", clear_on_submit=True):
        st.markdown(f"**重设 {who} 的密码**")
        first, again = _passwords("users_passwd")
        if st.form_submit_button("重设密码", icon=":material/password:"):
            if first != again:
                st.error("密码：两次输入不一致。", icon=":material/error:")
            else:
                _attempt(auth.set_password, who, first, done=f"已重设 {who} 的密码。")


def render() -> None:
    principal = ui.current_principal()
    st.title("用户管理")
    st.caption(
        "来源：用户表（app_user）。每次新建、停用、重设密码、解锁和解除动态口令都记入审计日志；"
        "密码只保存其哈希，本页不显示任何密码。命令行同样可用：python -m data_access user …"
    )
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.success(notice, icon=":material/check:")
    try:
        accounts = cache.run(auth.accounts, principal)
    except auth.AccessDenied as exc:
        st.error(str(exc), icon=":material/block:")
        return
    _list(accounts)
    _create()
    _manage(accounts)


render()
