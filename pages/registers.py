"""基础数据 — the registers every figure stands on (单位名录, 年度预算与预留份额, 政策规则 …): the register as it
stands, its template and export, and the upload that checks every row and loads all of it or none."""

import hashlib
from datetime import date
from functools import partial

import streamlit as st

from data_access import cache
from data_access.desks.imports import errors_frame, preview_frame
from data_access.desks.ingest import REGISTERS, parse_upload
from data_access.desks.registers import check_register, commit_register, register_export, register_frame
from data_access.query.text import XLSX_MIME
from data_access.trust.auth import AccessDenied, Principal
from pages.common import tables, ui

HINTS = {
    "units": "单位名称、单位类型（预算单位/工会/国有企业/民营企业/社会组织）、所在地区（区县或地市，名称或区划代码）、"
    "帮扶辖区（适用其政策规则的地区）；统一社会信用代码、上级单位、别名（用顿号分隔）可选。",
    "suppliers": "名称、所在县（名称或区划代码）；统一社会信用代码、类型（企业/合作社/家庭农场/农户）、带贫人数可选。",
    "pairings": "帮扶方、受援地（地区名称或区划代码）、类型（东西部协作/对口支援/省内对口帮扶/定点帮扶）、"
    "起始年度、终止年度（仍在结对的留空）。",
    "products": "产品名称、品类、产地县；供应商（须在供应商名录中）、上市月份（如 6-9月、11月-次年2月）、年供应量、"
    "参考价、成本价（元/公斤，写“元/斤”自动换算）、认定批次或文号、认定日期、状态可选。",
    "meetings": "日期、名称、备注：督办台账的“上次会议以来”以这里的日期为准。",
    "outlets": "名称、类型（专柜/专馆/专区/专列/专站/示范点）、所在县区；地址、经度、纬度（不填则按区县中心，"
    "并标注“位置为区县中心”）、运营单位、开设日期、状态（运营/暂停/拟退出/已退出）可选。",
    "rules": "适用辖区（地区名称或区划代码）、起止年度（2021-、2021-2025 或 2021至今；"
    "也可分“起始年度”“终止年度”两列）、对象类型（预算单位/工会/各类单位/产地区县）、"
    "指标（如 预留份额比例、832平台采购占比、按月报送）、"
    "阈值（10%、500元/人、29日）、名称、条款原文、文件名称、文号、条款。阈值变更自“生效年度”起另立新版本，"
    "以前的年度仍按原阈值评价。仅管理员可导入。",
    "budgets": "单位（名称、别名或统一社会信用代码）、年度、食堂食材采购预算、预留比例或预留金额、工会会员人数、"
    "节日慰问品经费、集体福利经费、年度计划采购额；某类单位没有的项目留空。金额可写万元。",
}


def _forms(principal: Principal) -> list[str]:
    """Admins keep every register; a reporter files its own unit's budget rows."""
    return list(REGISTERS) if principal.role == "admin" else ["budgets"]


def _choice(principal: Principal) -> str:
    forms = _forms(principal)
    wanted = st.query_params.get("register")
    form = st.radio(
        "基础数据",
        forms,
        index=forms.index(wanted) if wanted in forms else 0,
        format_func=lambda f: REGISTERS[f].title,
        horizontal=True,
        key="reg_form",
    )
    if st.query_params.get("register") != form:
        st.query_params["register"] = form
    st.caption(HINTS[form])
    return form


def _current(form: str, principal: Principal) -> None:
    """The register as it stands, searchable, with its export in the template's shape."""
    own = principal.unit_id if principal.role == "reporter" else None
    frame = cache.query(register_frame, form, None, own)  # a commit (cache.act) clears it
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
    needle = c1.text_input("查找", placeholder="名称、地区代码或年度", key=f"reg_find_{form}").strip()
    c2.download_button(
        "导出当前名录（XLSX）",
        partial(register_export_bytes, form, own),
        file_name=f"{REGISTERS[form].title}_{date.today():%Y%m%d}.xlsx",
        mime=XLSX_MIME,
        key=f"reg_export_{form}",
        width="stretch",
        on_click="ignore",
        help="导出的文件可直接修改后重新导入；未修改的行不会产生任何变化",
    )
    tables.template_buttons(form, REGISTERS[form].title, "reg_tpl", [c3, c4])
    if needle:
        hit = frame.astype(str).apply(lambda col: col.str.contains(needle, regex=False)).any(axis=1)
        frame = frame[hit]
    if frame.empty:
        st.info(f"{REGISTERS[form].title}暂无数据：请下载模板填写后导入。", icon=":material/inbox:")
    else:
        st.caption(f"共 {len(frame):,} 行")
        st.dataframe(frame, hide_index=True, width="stretch", height=320)


def register_export_bytes(form: str, own: int | None) -> bytes:
    """The export, made when the button is clicked."""
    return cache.run(register_export, form, None, own)


def _upload(form: str) -> None:
    """Parse once per file, check every row against the store, show problems and a preview; load all or none."""
    year = None
    if form == "budgets":
        year = st.number_input(
            "年度（文件没有“年度”列时使用）",
            min_value=2015,
            max_value=date.today().year + 1,
            value=date.today().year,
            step=1,
            key="reg_year",
        )
    if form == "rules":
        year = st.number_input(
            "生效年度（阈值变更自该年起适用，以前的年度仍按原阈值评价）",
            min_value=2015,
            max_value=date.today().year + 10,
            value=date.today().year,
            step=1,
            key="reg_rule_year",
        )
    upload = st.file_uploader("上传文件", type=["csv", "xlsx", "txt"], key=f"reg_upload_{form}")
    if upload is None:
        return
    data = upload.getvalue()
    key = (form, hashlib.sha256(data).hexdigest())
    if st.session_state.get("reg_parsed_key") != key:
        with st.status(f"正在读取「{upload.name}」…", expanded=False) as status:
            result = parse_upload(data, form, upload.name)
            status.update(label=f"读取完成：{len(result.rows):,} 行", state="complete")
        st.session_state["reg_parsed_key"], st.session_state["reg_parsed"] = key, result
        st.session_state.pop("reg_done", None)
    result = st.session_state["reg_parsed"]
    try:
        checked = cache.run(check_register, ui.current_principal(), result, year=year)
    except AccessDenied as exc:
        st.error(str(exc), icon=":material/block:")
        return
    done = st.session_state.get("reg_done")
    if done is not None and done.committed:
        st.success(done.message, icon=":material/task_alt:")
    elif checked.already:
        st.info(checked.message, icon=":material/info:")
    elif checked.ok:
        st.success(checked.message, icon=":material/check_circle:")
    else:
        st.error(checked.message, icon=":material/error:")
    for note in result.notes:
        st.caption(note)
    if checked.errors:
        # The first problems in words (the full list, sortable, is the table below).
        st.markdown("\n".join(f"- {e.message}" for e in checked.errors[:5]))
        st.subheader("问题清单")
        st.dataframe(errors_frame(checked.errors), hide_index=True, width="stretch")
    if len(result.rows):
        st.subheader(f"预览（前 {min(len(result.rows), 200)} 行，共 {len(result.rows):,} 行）")
        st.dataframe(preview_frame(result), hide_index=True, width="stretch")
    can_commit = checked.ok and not checked.already and done is None
    if st.button("确认导入", type="primary", disabled=not can_commit, key="reg_commit"):
        with st.spinner("正在导入（一个事务，全部成功或全部不导入）…"):
            st.session_state["reg_done"] = cache.act(commit_register, result, year=year)
        st.rerun()


def render() -> None:
    """The 基础数据 page."""
    ui.current_filters()  # a deep link as the first request must still go through the router
    principal = ui.current_principal()
    st.title("基础数据")
    st.caption(
        "单位名录与年度预算（预留份额）是规则评价、进度与通报的基础。导入逐行校验，全部通过才写入；"
        "每一处修改都记录修改前后的内容（审计日志），同一文件重复导入不会产生任何变化。"
    )
    form = _choice(principal)
    _current(form, principal)
    st.subheader("导入")
    _upload(form)


render()
