"""消费帮扶监测看板 — the router: page config, navigation, shared filters."""

import streamlit as st

from pages.common import ui

st.set_page_config(page_title="消费帮扶监测看板", page_icon="📊", layout="wide")

status = ui.store_status()
st.session_state["store_status"] = status

PAGES = [
    st.Page("pages/overview.py", title="总览", icon=":material/dashboard:", url_path="overview", default=True),
]

nav = st.navigation(PAGES)
with st.sidebar:
    st.markdown("### 消费帮扶监测看板")
    if status["demo"]:
        st.warning("演示数据：本库为系统生成的演示数据，人员与单位均为虚构。", icon=":material/science:")
ui.sidebar_filters()
nav.run()
