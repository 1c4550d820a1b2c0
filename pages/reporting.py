"""数据报送 — upload a form, see every problem by row and field, preview, commit all or nothing."""

import hashlib
from datetime import date
from functools import partial

import pandas as pd
import streamlit as st

from data_access import cache
from data_access.desks.imports import (
    FORM_LABELS,
    batches,
    check_upload,
    commit_upload,
    errors_frame,
    preview_frame,
    unit_choices,
)
from data_access.desks.ingest import FORMS, REGISTERS, parse_upload
from data_access.desks.registers import FIELD_CHOICES, register_frame, register_row
from data_access.figures.readiness import missing
from data_access.trust.auth import DESK_ROLES, AccessDenied, Principal
from pages.common import tables, ui

HINTS = {
    "beneficiaries": "附件1：姓名、身份证、联系方式、受益金额。身份证号校验后只以加密和脱敏形式保存。",
    "proofs": "附件2：序号、产品名称、卖方、买方、数量、金额、交易时间、备注。买方须为单位名录中的单位。",
    "purchases": "采购台账：交易日期、采购单位、供应商、产品名称、"
    "产地（区县名称或代码）、渠道、用途、数量、金额、凭证号。",
    "prices": "价格监测数据（专班、管理员）：长表为 日期、产品、市场/监测点、价格、单位、销量、库存；"
    "宽表为每行一个日期、每列一个市场（选默认产品）或一个产品（填默认市场），如公开发布的价格周报。"
    "元/斤、元/吨 折算为 元/公斤（原单位保留）；日数据按序列粒度（周、月）取平均；"
    "同一日期再次报送的价格覆盖原值并留痕；导入后即刷新这些序列的滞销预警。",
}


def _unit_label(names: dict, unit_id: int | None) -> str:
    return "（按表中采购单位）" if unit_id is None else names[unit_id]


def _show_progress(status, rows: int) -> None:
    status.update(label=f"正在校验：已读取 {rows:,} 行…")


def _form_choice(principal: Principal) -> str:
    """The form to submit (kept in the URL), its hint and its templates."""
    forms = [f for f in FORMS if f != "prices" or principal.role in DESK_ROLES]
    wanted = st.query_params.get("form")
    form = st.radio(
        "报送表",
        forms,
        index=forms.index(wanted) if wanted in forms else 0,
        format_func=FORM_LABELS.get,
        horizontal=True,
        key="rep_form",
    )
    if st.query_params.get("form") != form:
        st.query_params["form"] = form
    st.caption(HINTS[form])

    c1, c2, _ = st.columns([1, 1, 2])
    tables.template_buttons(form, FORMS[form].title, "tpl", [c1, c2])
    return form


def _price_defaults() -> dict:
    """A wide price file's default product (columns are markets) or market (columns are products)."""
    c1, c2, _ = st.columns(3)
    product = c1.text_input(
        "默认产品",
        placeholder="如 巫山脆李",
        key="rep_price_product",
        help="宽表各列为市场（如 日期、北京新发地、山东寿光）时，这些价格所属的产品：须在产品名库中",
    )
    market = c2.text_input(
        "默认市场/监测点",
        placeholder="如 重庆双福批发市场",
        key="rep_price_market",
        help="宽表各列为产品（如 日期、大蒜、生姜）时，这些价格的市场或监测点",
    )
    return {"product": product.strip() or None, "market": market.strip() or None}


def _submission(form: str, principal: Principal) -> dict:
    """Reporting unit, period and default origin; returns them as check/commit arguments."""
    if form == "prices":
        return dict(principal=principal)
    units = cache.query(unit_choices, principal)
    last_month = (pd.Timestamp(date.today()) - pd.offsets.MonthBegin(1)).strftime("%Y-%m")
    c1, c2, c3 = st.columns(3)
    unit_ids = [None] + units.id.tolist() if principal.role != "reporter" else units.id.tolist()
    names = dict(zip(units.id, units.name, strict=True))
    unit = c1.selectbox(
        "报送单位",
        unit_ids,
        format_func=partial(_unit_label, names),
        disabled=principal.role == "reporter",
        key="rep_unit",
    )
    period = c2.text_input(
        "报送期",
        value=last_month if form == "beneficiaries" else "",
        placeholder="如 2024-05 或 2024-Q2；留空按交易日期",
        key=f"rep_period_{form}",
        help="名册必填（受益期）；证明材料和台账留空时按交易日期取月份或季度",
    )
    origin = None
    if form == "proofs":
        origin = (
            c3.text_input(
                "默认产地",
                placeholder="如 大通湖区 或 433127",
                key="rep_origin",
                help="卖方不在供应商名录、产品也无唯一产地时，用这里的区县作产地",
            )
            or None
        )
    return dict(unit=unit, period=period.strip() or None, principal=principal, default_origin=origin)


def _check_and_commit(upload, form: str, args: dict, defaults: dict | None = None) -> None:
    """Parse once per file, check every row, show problems and a preview; commit all or nothing."""
    data = upload.getvalue()
    key = (form, hashlib.sha256(data).hexdigest(), tuple(sorted((defaults or {}).items())))
    if st.session_state.get("rep_parsed_key") != key:
        with st.status(f"正在读取「{upload.name}」…", expanded=False) as status:
            result = parse_upload(data, form, upload.name, progress=partial(_show_progress, status), defaults=defaults)
            status.update(label=f"读取完成：{len(result.rows):,} 行", state="complete")
        st.session_state["rep_parsed_key"], st.session_state["rep_parsed"] = key, result
        st.session_state.pop("rep_done", None)
    result = st.session_state["rep_parsed"]
    checked = cache.run(check_upload, result, **args)
    registered = st.session_state.pop("rep_registered", None)
    if registered:
        st.success(registered, icon=":material/how_to_reg:")
    done = st.session_state.get("rep_done")
    if done is not None and done.batch_id is not None:
        st.success(done.message, icon=":material/task_alt:")
    elif checked.already:
        st.info(checked.message, icon=":material/info:")
    elif checked.ok:
        st.success(checked.message, icon=":material/check_circle:")
    else:
        st.error(checked.message if result.ok else result.message, icon=":material/error:")
    for note in result.notes:
        st.caption(note)
    if checked.errors:
        st.subheader("问题清单")
        st.dataframe(errors_frame(checked.errors), hide_index=True, width="stretch")
    if args["principal"].role == "admin" and (checked.unknown_units or checked.unknown_suppliers):
        _register_in_place(checked)
    if len(result.rows):
        st.subheader(f"预览（前 {min(len(result.rows), 200)} 行，共 {len(result.rows):,} 行）")
        st.dataframe(preview_frame(result), hide_index=True, width="stretch")
    can_commit = checked.ok and not checked.already and done is None
    if st.button("确认导入", type="primary", disabled=not can_commit, key="rep_commit"):
        with st.spinner("正在导入（一个事务，全部成功或全部不导入）…"):
            outcome = cache.run(commit_upload, result, **args)
        cache.clear()
        st.session_state["rep_done"] = outcome
        st.rerun()


def _register_in_place(checked) -> None:
    """An admin registers the units or suppliers the file names but the registers lack (or files a name
    as another unit's alias), through the registers' own checks; the same file is then checked again."""
    st.subheader("在此登记缺少的单位或供应商")
    st.caption("登记后本页自动按同一文件重新校验，无需重新上传。")
    for name, close in list(checked.unknown_units.items())[:10]:
        title = f"单位「{name}」不在单位名录中" + (f"（是否为：{'、'.join(close)}？）" if close else "")
        with st.expander(title, expanded=True):
            as_alias, new_unit = st.tabs(["登记为已有单位的别名", "登记为新单位"])
            with as_alias.form(f"rep_alias_{name}"):
                units = cache.query(register_frame, "units")
                names = list(units["单位名称"])
                owner = st.selectbox(
                    "是哪个已登记单位的别名",
                    names,
                    index=names.index(close[0]) if close and close[0] in names else None,
                    placeholder="选择单位",
                    key=f"rep_alias_owner_{name}",
                )
                if st.form_submit_button("登记为别名", icon=":material/link:") and owner:
                    row = units.set_index("单位名称").loc[owner]
                    aliases = "、".join(a for a in [str(row["别名"] or ""), name] if a)
                    values = {"单位名称": owner, **{k: v for k, v in row.items() if k != "别名"}, "别名": aliases}
                    _register("units", values, f"已把「{name}」登记为「{owner}」的别名")
            with new_unit.form(f"rep_unit_{name}"):
                c1, c2 = st.columns(2)
                values = {
                    "单位名称": c1.text_input("单位名称", name, key=f"rep_new_name_{name}"),
                    "单位类型": c2.selectbox("单位类型", FIELD_CHOICES["unit_kind"], key=f"rep_new_kind_{name}"),
                    "所在地区": c1.text_input("所在地区（区县或地市）", key=f"rep_new_region_{name}"),
                    "帮扶辖区": c2.text_input("帮扶辖区（适用其政策规则的地区）", key=f"rep_new_juris_{name}"),
                    "统一社会信用代码": c1.text_input("统一社会信用代码（可选）", key=f"rep_new_credit_{name}"),
                }
                if st.form_submit_button("登记新单位", type="primary", icon=":material/add_business:"):
                    _register("units", values, f"已登记单位「{values['单位名称']}」")
    for name, close in list(checked.unknown_suppliers.items())[:10]:
        title = f"供应商「{name}」不在供应商名录中" + (f"（是否为：{'、'.join(close)}？）" if close else "")
        with st.expander(title, expanded=True), st.form(f"rep_supplier_{name}"):
            c1, c2 = st.columns(2)
            values = {
                "名称": c1.text_input("名称", name, key=f"rep_sup_name_{name}"),
                "所在县": c2.text_input("所在县（名称或区划代码）", key=f"rep_sup_region_{name}"),
                "类型": c1.selectbox("类型", ["", *FIELD_CHOICES["supplier_kind"]], key=f"rep_sup_kind_{name}"),
            }
            if st.form_submit_button("登记供应商", type="primary", icon=":material/add_business:"):
                _register("suppliers", values, f"已登记供应商「{values['名称']}」")


def _register(form: str, values: dict, done: str) -> None:
    try:
        outcome = cache.act(register_row, form, values)
    except AccessDenied as exc:
        st.error(str(exc), icon=":material/block:")
        return
    if not outcome.committed:
        title = REGISTERS[form].title
        st.error(f"未能登记到「{title}」：" + "；".join(e.message for e in outcome.errors[:5]), icon=":material/error:")
        return
    st.session_state["rep_registered"] = done + "，已按同一文件重新校验。"
    st.rerun()


def _batches(principal: Principal) -> None:
    st.subheader("报送批次")
    listed = cache.run(batches, principal)
    if listed.empty:
        st.caption("暂无报送批次。")
        return
    shown = pd.DataFrame(
        {
            "批次": listed["id"],
            "报送表": listed["form_label"],
            "报送单位": listed["unit_name"].fillna("（多个单位）"),
            "报送期": listed["period"].fillna("—"),
            "报送人": listed["submitted_by"],
            "报送时间": pd.to_datetime(listed["submitted_at"]).dt.strftime("%Y-%m-%d %H:%M"),
            "行数": listed["row_count"],
            "文件名": listed["file_name"],
            "文件哈希（SHA-256）": listed["file_hash"].str[:16] + "…",
        }
    )
    st.dataframe(shown, hide_index=True, width="stretch")


def render() -> None:
    """The 数据报送 page."""
    ui.current_filters()  # a deep link as the first request must still go through the router
    principal = ui.current_principal()
    st.title("数据报送")
    st.caption(
        "上传附件1《带贫人员名册》、附件2《消费扶贫证明材料》、采购台账或价格监测数据（CSV：UTF-8/GBK；XLSX）。"
        "逐行校验，全部通过才导入，任何一处错误整个文件都不导入；同一文件重复上传不会重复导入。"
    )

    form = _form_choice(principal)
    if form != "prices" and cache.query(missing, date.today().year)["units"]:
        ui.no_data("单位名录为空：报送的每一笔都要落到已登记的单位上，请先导入单位名录。", (("registers", "units"),))
    defaults = _price_defaults() if form == "prices" else None
    args = _submission(form, principal)
    upload = st.file_uploader(
        "上传文件",
        type=["csv", "xlsx", "txt"],
        key=f"rep_upload_{form}",
        help="单个文件不超过 50 MB；更大的台账请拆分，或用命令 python -m data_access import",
    )
    if upload is not None:
        _check_and_commit(upload, form, args, defaults)
    _batches(principal)


render()
