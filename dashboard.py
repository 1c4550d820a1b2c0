"""消费帮扶监测看板 — the router: page config, sign-in, navigation over the page registry, the shared
filters, and the one handler for a store that does not answer."""

import streamlit as st

from data_access import cache
from pages import registry
from pages.common import access, errors, gate, ui

st.set_page_config(page_title="消费帮扶监测看板", page_icon="📊", layout="wide")

try:
    status = ui.store_status()
    st.session_state["store_status"] = status
    principal = access.signed_in_principal()
    # Every page listed (no "View more": an admin has 13, and a hidden 督办台账 is a page nobody finds).
    nav = st.navigation(registry.streamlit_pages(principal), expanded=True)
    access.land_after_sign_in(principal, nav.url_path)
    with st.sidebar:
        st.markdown("### 消费帮扶监测看板")
        if status["demo"]:
            st.warning("演示数据：本库为系统生成的演示数据，人员与单位均为虚构。", icon=":material/science:")
    access.sidebar_user(principal)
    ui.sidebar_filters()
    # Past saturation pages queue in arrival order, each user told their place (pages/common/gate.py).
    with gate.page_slot():
        nav.run()
except cache.StoreUnavailable as exc:
    ui.store_down(exc)
except Exception as exc:  # any other error: a Chinese message and a reference id, the trace to the log
    errors.page_failed(exc)
