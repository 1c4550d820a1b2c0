"""Sign-in and sign-out (which pages each role may open: pages/registry.py).

Secure by default: only the demo store (演示数据) with no users runs as the 演示用户. A configured
store with no users shows the 首次设置 screen (one-time token from the server log,
``trust.setup``). A sign-in goes through the password, then the TOTP code (or its enrolment) where
the user or the role has one, then a password change where it is due, and only then starts a
server-side session (``trust.sessions``) that every rerun checks: idle timeout, absolute lifetime,
ended by an admin.
"""

from __future__ import annotations

from urllib.parse import urlparse

import streamlit as st

from data_access import cache
from data_access.trust import auth, second_factor, sessions, setup
from data_access.trust.policy import account_settings, policy_in_words
from pages.common import resume

TOKEN = "auth_token"
PENDING = "auth_pending"
NOTICE = "auth_notice"
LANDING = "auth_landing"


def signed_in_principal() -> auth.Principal:
    """The principal of this session; shows the setup or sign-in page and stops when someone must
    sign in. With no active users in the demo store everyone is the demo principal (演示用户)."""
    if cache.run(setup.setup_needed):
        if cache.prepared_store()["demo"]:
            st.session_state["principal"] = auth.DEMO_PRINCIPAL
            return auth.DEMO_PRINCIPAL
        st.session_state.pop("principal", None)
        st.session_state.pop(TOKEN, None)
        _show(_setup_page, "首次设置", ":material/admin_panel_settings:")
    current = st.session_state.get("principal")
    if current is not None and not current.demo:
        # Checked every run: idle timeout, lifetime, ended by an admin, user disabled.
        outcome = cache.run(sessions.check, st.session_state.get(TOKEN))
        if outcome.principal is not None:
            st.session_state["principal"] = outcome.principal
            return outcome.principal
        _forget_session()
        st.session_state[NOTICE] = outcome.message
    st.session_state.pop("principal", None)
    _show(_login_page, "登录", ":material/login:")


def _show(page, title: str, icon: str):
    # The same page under every address of the app: a shared link (/ledger?…) shows the sign-in
    # at its own address (no "Page not found"), and the sign-in then opens it (land_after_sign_in).
    from pages import registry

    others = [st.Page(page, title=title, icon=icon, url_path=p.url_path) for p in registry.PAGES]
    st.navigation([st.Page(page, title=title, icon=icon, default=True), *others], position="hidden").run()
    st.stop()


def _setup_page() -> None:
    left, middle, right = st.columns([1, 1.4, 1])
    with middle:
        st.title("消费帮扶监测看板 · 首次设置")
        st.info(
            "本库尚无用户。为防止任何打开此地址的人成为管理员，创建第一个管理员需要一次性设置口令："
            "口令已打印在服务器日志中（运行 streamlit 的终端或服务日志），仅可使用一次。"
            "也可在服务器上运行 `python -m data_access user add 用户名 --role admin` 创建管理员。",
            icon=":material/key:",
        )
        until = cache.run(setup.ensure_token)
        st.caption(f"当前口令有效至 {until:%Y-%m-%d %H:%M}。{policy_in_words()}")
        with st.form("setup", clear_on_submit=False):
            token = st.text_input("一次性设置口令", key="setup_token", type="password")
            username = st.text_input("管理员用户名", key="setup_username")
            display = st.text_input("姓名（显示名）", key="setup_display")
            password = st.text_input("密码", type="password", key="setup_password")
            again = st.text_input("再次输入密码", type="password", key="setup_password2")
            submitted = st.form_submit_button("创建管理员", type="primary", width="stretch")
        if st.button(
            "重新生成口令", icon=":material/refresh:", key="setup_reissue", help="新口令打印在服务器日志中，旧口令作废"
        ):
            cache.run(setup.issue_token)
            st.success("已生成新口令，请查看服务器日志。", icon=":material/check:")
        if not submitted:
            return
        if password != again:
            st.error("两次输入的密码不一致。", icon=":material/error:")
            return
        try:
            cache.run(setup.create_first_admin, token, username, password, display or None)
        except (setup.SetupRefused, ValueError) as exc:
            st.error(str(exc), icon=":material/lock:")
            return
        _forget_session()
        st.session_state[NOTICE] = f"管理员 {username.strip()} 已创建，请登录。"
        st.rerun()


def _remember_landing() -> None:
    # The address the user came by (a shared link: page and its filters), opened after the sign-in.
    if LANDING not in st.session_state:
        path = urlparse(st.context.url or "").path.rstrip("/").rsplit("/", 1)[-1]
        st.session_state[LANDING] = (path, st.query_params.to_dict())


def land_after_sign_in(principal: auth.Principal, current_url_path: str) -> None:
    """Right after a sign-in, open the page (and filters) of the address the user came by, if the
    role may see it — a link still opens the same view behind the sign-in."""
    from pages import registry

    landing = st.session_state.pop(LANDING, None)
    if not landing:
        return
    path, query = landing
    if path and path != current_url_path and path in registry.BY_URL and registry.can_view(principal, path):
        st.switch_page(registry.BY_URL[path].file, query_params=query or None)
    if query and dict(st.query_params.to_dict()) != query:
        st.query_params.from_dict(query)


def _login_page() -> None:
    _remember_landing()
    left, middle, right = st.columns([1, 1.2, 1])
    with middle:
        st.title("消费帮扶监测看板")
        notice = st.session_state.get(NOTICE)
        if notice:
            st.warning(notice, icon=":material/info:")
        pending = st.session_state.get(PENDING)
        if pending is None:
            _password_step()
        elif pending["stage"] == "totp":
            _totp_step(pending)
        elif pending["stage"] == "enrol":
            _enrol_step(pending)
        else:
            _change_password_step(pending)
        if pending is not None and st.button("返回登录", key="login_back", icon=":material/arrow_back:"):
            st.session_state.pop(PENDING, None)
            st.rerun()


def _password_step() -> None:
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
    factor = cache.run(second_factor.status, principal.username)
    if factor == "enrolled":
        _next({"stage": "totp", "username": principal.username})
    elif factor == "required":
        _next({"stage": "enrol", "principal": principal, "secret": second_factor.new_secret()})
    else:
        _after_second_factor(principal)


def _next(pending: dict) -> None:
    st.session_state[PENDING] = pending
    st.session_state.pop(NOTICE, None)
    st.rerun()


def _totp_step(pending: dict) -> None:
    st.caption(f"{pending['username']}：请输入手机验证器（动态口令）显示的 6 位数字。")
    with st.form("totp", clear_on_submit=True):
        code = st.text_input("动态口令", key="login_totp", max_chars=6)
        submitted = st.form_submit_button("验证", type="primary", width="stretch")
    if not submitted:
        return
    try:
        principal = cache.run(second_factor.verify_sign_in, pending["username"], code)
    except auth.LoginFailed as exc:
        st.error(str(exc), icon=":material/lock:")
        return
    _after_second_factor(principal)


def _enrol_step(pending: dict) -> None:
    st.info(
        "您的角色须使用动态口令（第二重身份验证）。请用手机验证器（如 FreeOTP、Google Authenticator、"
        "Microsoft Authenticator）扫描二维码，或手动输入密钥，然后输入显示的 6 位数字完成绑定。",
        icon=":material/phonelink_lock:",
    )
    _enrolment_form(pending["principal"], pending["secret"], sign_in=True)


def _enrolment_form(principal: auth.Principal, secret: str, sign_in: bool) -> bool:
    uri = second_factor.provisioning_uri(secret, principal.username)
    st.image(second_factor.qr_png(uri), caption="动态口令二维码（本机生成）", width=220)
    st.code(" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)), language=None)
    with st.form(f"totp_enrol_{'login' if sign_in else 'self'}", clear_on_submit=True):
        code = st.text_input("验证器显示的 6 位数字", key=f"enrol_code_{sign_in}", max_chars=6)
        submitted = st.form_submit_button("绑定", type="primary", width="stretch")
    if not submitted:
        return False
    try:
        principal = cache.run(second_factor.enrol, principal, secret, code, sign_in=sign_in)
    except auth.LoginFailed as exc:
        st.error(str(exc), icon=":material/lock:")
        return False
    if sign_in:
        _after_second_factor(principal)
    return True


def _after_second_factor(principal: auth.Principal) -> None:
    why = cache.run(auth.password_expired, principal.username)
    if why:
        _next({"stage": "passwd", "username": principal.username, "why": why})
    _start(principal)


def _change_password_step(pending: dict) -> None:
    st.info(pending["why"], icon=":material/password:")
    if _password_form(pending["username"], "login"):
        principal = cache.run(auth.active_principal, pending["username"])
        if principal is not None:
            _start(principal)


def _password_form(username: str, key: str) -> bool:
    st.caption(policy_in_words())
    with st.form(f"passwd_{key}", clear_on_submit=True):
        old = st.text_input("原密码", type="password", key=f"passwd_old_{key}")
        new = st.text_input("新密码", type="password", key=f"passwd_new_{key}")
        again = st.text_input("再次输入新密码", type="password", key=f"passwd_again_{key}")
        submitted = st.form_submit_button("修改密码", type="primary", width="stretch")
    if not submitted:
        return False
    if new != again:
        st.error("两次输入的新密码不一致。", icon=":material/error:")
        return False
    try:
        cache.run(auth.change_own_password, username, old, new)
    except (auth.LoginFailed, ValueError) as exc:
        st.error(str(exc), icon=":material/error:")
        return False
    return True


def _start(principal: auth.Principal) -> None:
    token = cache.run(sessions.start, principal)
    landing = st.session_state.get(LANDING)
    _forget_session()
    st.session_state["principal"] = principal
    st.session_state[TOKEN] = token
    if landing:
        st.session_state[LANDING] = landing
    st.rerun()


def sidebar_user(principal: auth.Principal) -> None:
    """Who is signed in, with role and unit, the sign-out button and 账号安全 (password, second
    factor); or the demo-user marker."""
    sb = st.sidebar
    if principal.demo:
        sb.info("演示用户（管理员权限）：尚未配置用户，无需登录。创建用户后将要求登录。", icon=":material/person:")
        return
    unit = f"\n\n{principal.unit_name}" if principal.unit_name else ""
    sb.markdown(f":material/account_circle: **{principal.display_name}** · {principal.role_label}{unit}")
    if sb.button("退出登录", icon=":material/logout:", key="logout"):
        try:
            cache.run(sessions.sign_out, principal, st.session_state.get(TOKEN))
        except cache.StoreUnavailable:
            pass  # signing out must work even when the audit row cannot be written
        _forget_session()
        st.rerun()
    with sb.expander("账号安全", icon=":material/shield_person:"):
        settings = account_settings()
        st.caption(f"无操作 {settings.idle_minutes:g} 分钟或登录满 {settings.lifetime_hours:g} 小时后须重新登录。")
        if _password_form(principal.username, "self"):
            st.success("密码已修改。", icon=":material/check:")
        factor = cache.run(second_factor.status, principal.username)
        if factor == "enrolled":
            st.caption(":material/verified_user: 已绑定动态口令（更换手机请联系管理员解除后重新绑定）。")
        elif st.toggle("绑定动态口令", key="self_enrol"):
            secret = st.session_state.setdefault("self_enrol_secret", second_factor.new_secret())
            if _enrolment_form(principal, secret, sign_in=False):
                st.session_state.pop("self_enrol_secret", None)
                st.success("已绑定动态口令，下次登录时需要输入。", icon=":material/check:")


def _forget_session() -> None:
    # Filters, widget values and the principal of the previous user must not leak to the next.
    for key in list(st.session_state.keys()):
        del st.session_state[key]
