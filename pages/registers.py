"""基础数据 — the registers every figure stands on (单位名录, 年度预算与预留份额, 政策规则 …): the register as it
stands, its template and export, and the upload that checks every row and loads all of it or none."""

import hashlib
from datetime import date
from functools import partial

import streamlit as st

from data_access import cache
from data_access.desks.imports import errors_frame, preview_frame
from data_access.desks.ingest import REGISTERS, parse_upload
from data_access.desks.merges import (
    MergeRefused,
    merge_products,
    merge_units,
    merges_frame,
    product_choices,
    undo_merge,
)
from data_access.desks.registers import (
    FIELD_CHOICES,
    check_register,
    commit_register,
    inactive_units,
    key_fields,
    register_export,
    register_frame,
    register_row,
    row_history,
    row_key,
    row_version,
    set_unit_active,
)
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


def _current(form: str, principal: Principal):
    """The register as it stands, searchable, with its export in the template's shape."""
    own = principal.unit_id if principal.role == "reporter" else None
    frame = cache.query(register_frame, form, None, own)  # a commit (cache.act) clears it
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
    needle = c1.text_input("查找", placeholder="名称、地区代码或年度", key=f"reg_find_{form}").strip()
    c2.download_button(
        "导出当前名录（XLSX）",
        tables.audited(
            partial(register_export_bytes, form, own),
            f"{REGISTERS[form].title}_{date.today():%Y%m%d}.xlsx",
            len(frame),
            f"基础数据导出：{REGISTERS[form].title}" + (f"（本单位 {own}）" if own else ""),
        ),
        file_name=f"{REGISTERS[form].title}_{date.today():%Y%m%d}.xlsx",
        mime=XLSX_MIME,
        key=f"reg_export_{form}",
        width="stretch",
        on_click="ignore",
        help="导出的文件可直接修改后重新导入；未修改的行不会产生任何变化",
    )
    tables.template_buttons(form, REGISTERS[form].title, "reg_tpl", [c3, c4])
    full = frame
    if needle:
        hit = frame.astype(str).apply(lambda col: col.str.contains(needle, regex=False)).any(axis=1)
        frame = frame[hit]
    if frame.empty:
        st.info(f"{REGISTERS[form].title}暂无数据：请下载模板填写后导入，或在下方逐行录入。", icon=":material/inbox:")
    else:
        st.caption(f"共 {len(frame):,} 行")
        st.dataframe(frame, hide_index=True, width="stretch", height=320)
    return full if not needle else frame


def register_export_bytes(form: str, own: int | None, stamp: str | None = None) -> bytes:
    """The export, made when the button is clicked, with the export stamp (it re-imports unchanged)."""
    return cache.run(register_export, form, None, own, stamp=stamp)


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


def _text(value) -> str:
    """A register cell as the form shows it (blank for NaN / None; 2026.0 → 2026)."""
    if value is None or (not isinstance(value, str) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _row_label(form: str, row: dict) -> str:
    keys = key_fields(form)
    return " ｜ ".join(_text(row[f.label]) for f in REGISTERS[form].fields if f.key in keys)


def _edit(form: str, principal: Principal, frame) -> None:
    """One row added or edited with the same checks as a file; a stale edit refused; the row's history."""
    spec = REGISTERS[form]
    reporter = principal.role == "reporter"
    st.subheader("逐行录入与修改")
    rows = frame.to_dict("records")
    pick = st.selectbox(
        "选择要修改的行，或新增一行",
        [None, *range(len(rows))],
        format_func=lambda i: "（新增一行）" if i is None else _row_label(form, rows[i]),
        key=f"reg_pick_{form}",
    )
    current = {} if pick is None else rows[pick]
    key = None if pick is None else row_key(form, current)
    version = None if key is None else cache.query(row_version, form, key)
    fixed = set(key_fields(form)) if key is not None else set()
    if reporter:
        current = current or {spec.fields[0].label: principal.unit_name}
        fixed |= {"unit"}
    with st.form(f"reg_row_{form}_{pick}", border=True):
        values: dict[str, str] = {}
        cols = st.columns(2)
        for i, f in enumerate(x for x in spec.fields if x.template):
            shown, col = _text(current.get(f.label)), cols[i % 2]
            label = f.label + ("" if f.value_required else "（可选）")
            wkey = f"reg_{form}_{pick}_{f.key}"
            choices = FIELD_CHOICES.get(f.kind)
            if choices and f.key not in fixed:
                options = ([] if f.value_required else [""]) + choices
                values[f.label] = col.selectbox(
                    label, options, index=options.index(shown) if shown in options else 0, key=wkey
                )
            else:
                values[f.label] = col.text_input(label, shown, disabled=f.key in fixed, key=wkey)
        if form == "rules":
            st.caption(
                f"改动阈值自 {date.today().year} 年起生效，以前的年度仍按原阈值评价"
                "（其他生效年度请用下方导入并选择生效年度）。"
            )
        what = "保存修改" if key is not None else "新增"
        saved = st.form_submit_button(what, type="primary", icon=":material/save:")
    if saved:
        try:
            outcome = cache.act(register_row, form, values, expected_version=version)
        except AccessDenied as exc:
            st.error(str(exc), icon=":material/block:")
            return
        if outcome.committed:
            st.session_state["reg_row_done"] = outcome.message.replace("「页面录入」", "")
            st.rerun()
        st.error(outcome.message.replace("整个文件未导入", "本行未保存"), icon=":material/error:")
        st.markdown("\n".join(f"- {e.message.replace('第None行', '').lstrip('：')}" for e in outcome.errors[:10]))
    done = st.session_state.pop("reg_row_done", None)
    if done:
        st.success(done, icon=":material/task_alt:")
    if key is not None:
        st.caption(f"当前为第 {version} 版" if version else "")
        with st.expander("这一行的修改记录（谁、何时、改了什么）", icon=":material/history:"):
            history = cache.query(row_history, form, key)
            if history.empty:
                st.caption("暂无记录（早于审计记录的数据）")
            else:
                st.dataframe(history, hide_index=True, width="stretch")


def _units_admin(frame) -> None:
    """Units: deactivate or bring back (never delete), merge a duplicate, undo a merge."""
    st.subheader("停用、恢复与合并")
    names = list(frame["单位名称"]) if not frame.empty else []
    c1, c2 = st.columns(2)
    with c1.form("reg_unit_active"):
        st.markdown("**停用单位**（单位被采购和预算引用，只停用不删除）")
        name = st.selectbox("单位", names, index=None, placeholder="选择单位", key="reg_deact_name")
        reason = st.text_input("原因", key="reg_deact_reason", placeholder="如：机构撤并")
        if st.form_submit_button("停用", icon=":material/block:") and name:
            key = ("".join(name.split()),)
            _try(set_unit_active, name, cache.query(row_version, "units", key), False, reason, done=f"已停用「{name}」")
    inactive = cache.query(inactive_units)
    with c2.form("reg_unit_restore"):
        st.markdown("**恢复单位**")
        gone = list(inactive["单位名称"])
        name = st.selectbox("已停用的单位", gone, index=None, placeholder="选择单位", key="reg_restore_name")
        reason = st.text_input("原因", key="reg_restore_reason", placeholder="如：误停用")
        if st.form_submit_button("恢复", icon=":material/undo:") and name:
            version = int(inactive.set_index("单位名称").loc[name, "版本"])
            _try(set_unit_active, name, version, True, reason, done=f"已恢复「{name}」")
    with st.form("reg_unit_merge"):
        st.markdown(
            "**合并重复单位**：被合并单位的采购、预算、报送批次、别名、下级单位和账号移到保留的单位，其名称成为别名；可撤销。"
        )
        m1, m2 = st.columns(2)
        dup = m1.selectbox(
            "被合并的单位（如 珠海一中）", names, index=None, placeholder="选择单位", key="reg_merge_dup"
        )
        keep = m2.selectbox("保留的单位", names, index=None, placeholder="选择单位", key="reg_merge_keep")
        reason = st.text_input("合并原因", key="reg_merge_reason", placeholder="如：同一学校的简称与全称")
        if st.form_submit_button("合并", icon=":material/merge:") and dup and keep:
            _try(merge_units, dup, keep, reason, done=f"已把「{dup}」合并到「{keep}」")
    _merge_list("unit")


def _products_admin() -> None:
    st.subheader("合并重复产品")
    choices = cache.query(product_choices)
    labels = {int(r.id): f"{r.产品名称}（{r.产地}）" for r in choices.itertuples()}
    with st.form("reg_product_merge"):
        st.caption(
            "导入时同一产品的不同写法会生成两个产品：合并后采购、价格序列和预警移到保留的产品，之后按被合并产品的名称导入的记录也归入保留的产品；可撤销。"
        )
        m1, m2 = st.columns(2)
        dup = m1.selectbox("被合并的产品", list(labels), format_func=labels.get, index=None, key="reg_pmerge_dup")
        keep = m2.selectbox("保留的产品", list(labels), format_func=labels.get, index=None, key="reg_pmerge_keep")
        reason = st.text_input("合并原因", key="reg_pmerge_reason")
        if st.form_submit_button("合并", icon=":material/merge:") and dup and keep:
            _try(merge_products, dup, keep, reason, done=f"已把「{labels[dup]}」合并到「{labels[keep]}」")
    _merge_list("product")


def _merge_list(kind: str) -> None:
    merges = cache.query(merges_frame, kind)
    if merges.empty:
        return
    st.dataframe(merges, hide_index=True, width="stretch")
    live = [int(i) for i, state in zip(merges["编号"], merges["状态"], strict=True) if state == "有效"]
    if live:
        c1, c2 = st.columns([3, 1])
        pick = c1.selectbox("撤销合并", live, format_func=lambda i: f"合并编号 {i}", key=f"reg_undo_{kind}")
        if c2.button("撤销这次合并", key=f"reg_undo_btn_{kind}", icon=":material/undo:"):
            _try(undo_merge, pick, done=f"已撤销合并编号 {pick}：移动过的记录已移回")


def _try(fn, *args, done: str) -> None:
    """Run a register write; its refusal shown in words, its success after the rerun."""
    try:
        cache.act(fn, *args)
    except (ValueError, MergeRefused, AccessDenied) as exc:
        st.error(str(exc), icon=":material/error:")
        return
    st.session_state["reg_row_done"] = done
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
    frame = _current(form, principal)
    _edit(form, principal, frame)
    if principal.role == "admin" and form == "units":
        _units_admin(frame)
    if principal.role == "admin" and form == "products":
        _products_admin()
    st.subheader("导入")
    _upload(form)


render()
