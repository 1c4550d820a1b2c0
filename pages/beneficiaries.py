"""带贫人员 — beneficiaries and their benefits, numbers masked; full numbers only on audited request."""

import pandas as pd
import streamlit as st

from data_access import cache
from data_access.query.filters import Filters
from data_access.trust.auth import REVEAL_ROLES, AccessDenied, Principal
from data_access.trust.beneficiaries import FIELDS, beneficiary_benefits, beneficiary_list, reveal
from data_access.trust.personal import PiiKeyError
from pages.common import tables, ui


def _field_label(field: str) -> str:
    return FIELDS[field][1]


def _people(f: Filters, principal: Principal) -> pd.DataFrame | None:
    """Search by name or full ID number; the masked list and its count. None when access is refused."""
    c1, c2 = st.columns(2)
    name = c1.text_input("姓名", placeholder="输入姓名中的字", key="ben_name")
    id_number = c2.text_input(
        "身份证号",
        placeholder="完整 18 位，按加密摘要精确匹配",
        key="ben_id",
        type="password",
        help="号码不会显示、不会写入网址或日志，只用于比对",
    )
    region = f.region_code if f.region_side == "origin" else None
    try:
        people, total = cache.query(beneficiary_list, principal, name, id_number, region)
    except AccessDenied as exc:
        st.error(str(exc), icon=":material/block:")
        return None

    st.metric("符合条件的人员", f"{total:,}", help="最多列出 200 人，按姓名排序；请用姓名或身份证号缩小范围")
    shown = people.rename(
        columns={
            "name": "姓名",
            "id_masked": "身份证号（脱敏）",
            "phone_masked": "联系电话（脱敏）",
            "region_name": "所在地区",
            "benefits": "受益笔数",
            "benefit_amount": "受益金额（元）",
            "last_period": "最近受益期",
        }
    )
    shown = shown[
        ["姓名", "身份证号（脱敏）", "联系电话（脱敏）", "所在地区", "受益笔数", "受益金额（元）", "最近受益期"]
    ]
    st.dataframe(shown, hide_index=True, width="stretch")
    tables.download_buttons(shown, "带贫人员（脱敏）", key="beneficiaries")
    return people


def _benefits(people: pd.DataFrame, principal: Principal) -> tuple[int, dict]:
    """One person's benefit records; returns the chosen id and the people's labels."""
    st.subheader("受益记录")
    options = people.id.tolist()
    labels = dict(zip(people.id, people.name + "（" + people.id_masked + "）", strict=True))
    chosen = st.selectbox("人员", options, format_func=labels.get, key="ben_pick")
    benefits = cache.query(beneficiary_benefits, principal, int(chosen))
    st.dataframe(
        benefits.rename(
            columns={"period": "受益期", "unit_name": "帮扶单位", "product_name": "产品", "amount": "受益金额（元）"}
        ),
        hide_index=True,
        width="stretch",
    )
    return chosen, labels


def _reveal(chosen: int, labels: dict, principal: Principal) -> None:
    """The full number of the chosen person, on a stated reason; each view is audited."""
    with st.expander("查看完整号码（记入审计日志）", icon=":material/visibility:"):
        with st.form("reveal", clear_on_submit=True):
            field = st.radio("号码", list(FIELDS), format_func=_field_label, horizontal=True, key="reveal_field")
            reason = st.text_input("查看用途", placeholder="如：核对受益资金发放对象", key="reveal_reason")
            asked = st.form_submit_button("查看完整号码")
        if asked:
            try:
                number = cache.act(reveal, int(chosen), field, reason)
            except (AccessDenied, ValueError, PiiKeyError) as exc:
                st.error(str(exc), icon=":material/block:")
            else:
                st.success(f"{labels[chosen]} 的{FIELDS[field][1]}：{number or '未登记'}", icon=":material/lock_open:")
                st.caption(f"本次查看已由 {principal.display_name} 记入审计日志；刷新或离开页面后不再显示。")


def render() -> None:
    """The 带贫人员 page."""
    f = ui.current_filters()
    principal = ui.current_principal()
    st.title("带贫人员")
    ui.freshness("带贫人员名册（beneficiary）与受益记录（benefit）")
    st.caption(
        "身份证号、联系电话仅显示脱敏形式；查看完整号码须说明用途，每次查看记入审计日志。"
        + (f"仅显示本单位（{principal.unit_name}）带动的人员与受益记录。" if principal.role == "reporter" else "")
        + ("地区按筛选条件中的产地地区。" if f.region_side == "origin" and f.region_code else "")
    )

    people = _people(f, principal)
    if people is None or people.empty:
        return
    chosen, labels = _benefits(people, principal)
    if principal.role in REVEAL_ROLES:
        _reveal(chosen, labels, principal)


render()
