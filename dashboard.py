"""消费帮扶监测看板 — the router: page config, navigation, shared filters."""

import streamlit as st

from pages.common import access, ui

st.set_page_config(page_title="消费帮扶监测看板", page_icon="📊", layout="wide")

status = ui.store_status()
st.session_state["store_status"] = status
principal = access.signed_in_principal()

PAGES = [
    st.Page("pages/overview.py", title="总览", icon=":material/dashboard:", url_path="overview", default=True),
    st.Page("pages/procurement.py", title="采购进度", icon=":material/trending_up:", url_path="procurement"),
    st.Page("pages/alerts.py", title="滞销预警", icon=":material/warning:", url_path="warnings"),
    st.Page("pages/outlet_map.py", title="网点地图", icon=":material/storefront:", url_path="outlet_map"),
    st.Page("pages/drilldown.py", title="地区下钻", icon=":material/travel_explore:", url_path="drilldown"),
    st.Page("pages/reporting.py", title="数据报送", icon=":material/upload_file:", url_path="reporting"),
    st.Page("pages/beneficiaries.py", title="带贫人员", icon=":material/groups:", url_path="beneficiaries"),
    st.Page("pages/audit.py", title="审计日志", icon=":material/policy:", url_path="audit"),
    st.Page("pages/catalogue.py", title="产品名库", icon=":material/inventory_2:", url_path="catalogue"),
    st.Page("pages/trends.py", title="趋势分析", icon=":material/monitoring:", url_path="trends"),
    st.Page("pages/ledger.py", title="督办台账", icon=":material/assignment:", url_path="ledger"),
]

nav = st.navigation(access.allowed_pages(PAGES, principal))
with st.sidebar:
    st.markdown("### 消费帮扶监测看板")
    if status["demo"]:
        st.warning("演示数据：本库为系统生成的演示数据，人员与单位均为虚构。", icon=":material/science:")
access.sidebar_user(principal)
ui.sidebar_filters()
nav.run()
