"""基础数据 edited one row at a time in the page, duplicates merged and merges undone — on both stores:
the same checks as a file, a stale edit refused, every change in the row's history, and a merge that
moves exactly the rows it records (rollups kept exact) and moves them back."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from data_access.desks.imports import commit_upload
from data_access.desks.ingest import parse_upload
from data_access.desks.merges import MergeRefused, merge_products, merge_units, merges_frame, undo_merge
from data_access.desks.registers import (
    commit_register,
    register_frame,
    register_row,
    row_history,
    row_key,
    row_version,
    set_unit_active,
)
from data_access.reference.setup import init_store
from data_access.store import rollup
from data_access.store import schema as s
from data_access.trust.auth import AccessDenied
from tests import ingest_corpus as corpus
from tests.principals import ADMIN, DESK

UNIT = {"单位名称": "珠海市第一中学", "单位类型": "预算单位", "所在地区": "香洲区", "帮扶辖区": "珠海市"}


@pytest.fixture
def store(fresh_engine):
    init_store(fresh_engine)
    return fresh_engine


def _units(engine) -> dict[str, tuple]:
    u = s.buyer_unit
    with engine.connect() as conn:
        return {r.name: (r.kind, r.region_code, r.active, r.version) for r in conn.execute(select(u))}


def test_a_unit_added_and_edited_in_the_form_goes_through_the_file_checks_and_keeps_its_history(store):
    out = register_row(store, ADMIN, "units", UNIT)
    assert out.committed and out.created == 1, out.errors
    key = row_key("units", register_frame(store, "units").iloc[0].to_dict())
    assert key == ("珠海市第一中学",) and row_version(store, "units", key) == 1

    # An edit on the version shown: the region changes, the version goes up.
    out = register_row(store, ADMIN, "units", UNIT | {"所在地区": "金湾区"}, expected_version=1)
    assert out.committed and out.updated == 1, out.errors
    assert _units(store)["珠海市第一中学"][1] == "440404" and row_version(store, "units", key) == 2

    # Someone else's edit on the old version is refused, nothing written.
    out = register_row(store, ADMIN, "units", UNIT | {"所在地区": "斗门区"}, expected_version=1)
    assert not out.committed and "已被他人修改" in out.errors[0].reason
    assert _units(store)["珠海市第一中学"][1] == "440404"

    history = row_history(store, "units", key)
    assert list(history["操作"]) == ["修改", "新增"]
    assert history.iloc[0]["变更字段"] == "所在地区" and "440404" in history.iloc[0]["修改后"]
    assert history.iloc[0]["操作人"] == ADMIN.username


def test_the_same_form_twice_is_two_recorded_edits_not_a_refused_duplicate_file(store):
    assert register_row(store, ADMIN, "units", UNIT).committed
    again = register_row(store, ADMIN, "units", UNIT, expected_version=1)
    assert again.committed and (again.created, again.updated, again.unchanged) == (0, 0, 1)


@pytest.mark.parametrize(
    "values,field,reason",
    [
        ({"统一社会信用代码": "91440400MA4UXXXX1X"}, "统一社会信用代码", "校验"),
        ({"所在地区": "火星市"}, "所在地区", ""),
        ({"单位类型": "外星单位"}, "单位类型", "无法识别"),
    ],
)
def test_a_bad_form_names_the_field_and_writes_nothing(store, values, field, reason):
    out = register_row(store, ADMIN, "units", UNIT | values)
    assert not out.committed and any(e.field == field and reason in e.reason for e in out.errors), [
        e.message for e in out.errors
    ]
    assert _units(store) == {}


def test_a_reporter_files_its_own_budget_row_and_no_other(store):
    register_row(store, ADMIN, "units", UNIT)
    register_row(store, ADMIN, "units", UNIT | {"单位名称": "珠海市第二中学"})
    with store.connect() as conn:
        own = conn.execute(select(s.buyer_unit.c.id).where(s.buyer_unit.c.name == "珠海市第一中学")).scalar()
    from data_access.trust.auth import Principal

    reporter = Principal("school1", "reporter", unit_id=own)
    row = {"单位": "珠海市第一中学", "年度": "2026", "食堂食材采购预算": "120万元", "预留比例": "30%"}
    out = register_row(store, reporter, "budgets", row)
    assert out.committed, out.errors
    assert register_frame(store, "budgets", unit_id=own).iloc[0]["食堂食材采购预算"] == 1_200_000
    with pytest.raises(AccessDenied):
        register_row(store, reporter, "budgets", row | {"单位": "珠海市第二中学"})
    with pytest.raises(AccessDenied):
        register_row(store, DESK, "units", UNIT | {"单位名称": "珠海市第三中学"})


def test_a_unit_is_deactivated_with_a_reason_never_deleted_and_can_come_back(store):
    register_row(store, ADMIN, "units", UNIT)
    with pytest.raises(ValueError, match="原因"):
        set_unit_active(store, ADMIN, "珠海市第一中学", 1, False, " ")
    set_unit_active(store, ADMIN, "珠海市第一中学", 1, False, "撤并")
    assert register_frame(store, "units").empty and _units(store)["珠海市第一中学"][2] is False
    with pytest.raises(ValueError, match="已被他人修改"):
        set_unit_active(store, ADMIN, "珠海市第一中学", 1, True, "恢复")
    set_unit_active(store, ADMIN, "珠海市第一中学", 2, True, "误操作")
    assert list(row_history(store, "units", ("珠海市第一中学",))["操作"]) == ["恢复", "停用", "新增"]


def _purchase(engine, buyer: str, product: str, voucher: str, amount: str = "1000", origin: str = "大通湖区"):
    row = corpus._ledger_row(采购单位=buyer, 产品名称=product, 凭证号=voucher, 产地=origin, **{"金额（元）": amount})
    result = parse_upload(corpus.csv_bytes([corpus.LEDGER_HEADER, row]), "purchases", f"{voucher}.csv", corpus.TODAY)
    out = commit_upload(engine, result, principal=ADMIN)
    assert out.committed, [e.message for e in out.errors]


def _by_unit(engine) -> dict[str, float]:
    u, p = s.buyer_unit, s.purchase
    with engine.connect() as conn:
        rows = conn.execute(
            select(u.c.name, func.sum(p.c.amount)).join(u, u.c.id == p.c.buyer_unit_id).group_by(u.c.name)
        ).all()
    return {n: float(a) for n, a in rows}


def _rollups_match_raw(engine) -> None:
    """Every rollup keyed by unit or product holds what the raw purchases sum to."""
    p = s.purchase
    with engine.connect() as conn:
        assert rollup.is_current(conn)
        for r in rollup.ROLLUPS:
            for dim in ("buyer_unit_id", "product_id"):
                if dim not in r.dims or r.cumulative:
                    continue
                t = r.table
                got = dict(conn.execute(select(t.c[dim], func.sum(t.c.amount)).group_by(t.c[dim])).all())
                raw = dict(conn.execute(select(p.c[dim], func.sum(p.c.amount)).group_by(p.c[dim])).all())
                assert {k: float(v) for k, v in got.items() if v} == {k: float(v) for k, v in raw.items()}, r.table.name


def test_two_units_for_one_school_merge_and_the_merge_undoes_exactly(store):
    register_row(store, ADMIN, "units", UNIT)
    register_row(store, ADMIN, "units", UNIT | {"单位名称": "珠海一中"})
    budget = {"单位": "珠海一中", "年度": "2024", "食堂食材采购预算": "50万元"}
    assert register_row(store, ADMIN, "budgets", budget).committed
    _purchase(store, "珠海市第一中学", "大通湖大米", "M1", "1000")
    _purchase(store, "珠海一中", "大通湖大米", "M2", "250")
    _purchase(store, "珠海一中", "大通湖大米", "M3", "50")
    assert _by_unit(store) == {"珠海市第一中学": 1000.0, "珠海一中": 300.0}
    with store.begin() as conn:
        rollup.rebuild(conn)  # as the demo and the rollup command leave a store: current rollups

    with pytest.raises(MergeRefused, match="原因"):
        merge_units(store, ADMIN, "珠海一中", "珠海市第一中学", "")
    merge_id = merge_units(store, ADMIN, "珠海一中", "珠海市第一中学", "同一学校的简称与全称")
    assert _by_unit(store) == {"珠海市第一中学": 1300.0}
    _rollups_match_raw(store)
    assert "珠海一中" not in set(register_frame(store, "units")["单位名称"])
    budgets = register_frame(store, "budgets")
    assert list(budgets["单位"]) == ["珠海市第一中学"]
    # The next upload under the short name lands on the unit kept.
    _purchase(store, "珠海一中", "大通湖大米", "M4", "5")
    assert _by_unit(store) == {"珠海市第一中学": 1305.0}
    listed = merges_frame(store, "unit").iloc[0]
    assert (listed["被合并"], listed["合并到"], listed["状态"]) == ("珠海一中", "珠海市第一中学", "有效")
    assert "采购记录 2 条" in listed["移动"] and "年度预算 1 条" in listed["移动"]

    undo_merge(store, ADMIN, merge_id)
    # Exactly the two purchases moved come back; the one filed after the merge stays where it landed.
    assert _by_unit(store) == {"珠海市第一中学": 1005.0, "珠海一中": 300.0}
    _rollups_match_raw(store)
    assert _units(store)["珠海一中"][2] is True
    assert set(register_frame(store, "budgets")["单位"]) == {"珠海一中"}
    with pytest.raises(MergeRefused, match="已于"):
        undo_merge(store, ADMIN, merge_id)
    ops = list(row_history(store, "units", ("珠海一中",))["操作"])
    assert ops[:2] == ["撤销合并", "合并"]


def test_a_merge_is_refused_when_both_units_have_a_budget_for_the_same_year(store):
    register_row(store, ADMIN, "units", UNIT)
    register_row(store, ADMIN, "units", UNIT | {"单位名称": "珠海一中"})
    for name in ("珠海一中", "珠海市第一中学"):
        register_row(store, ADMIN, "budgets", {"单位": name, "年度": "2026", "食堂食材采购预算": "50万元"})
    with pytest.raises(MergeRefused, match="2026"):
        merge_units(store, ADMIN, "珠海一中", "珠海市第一中学", "重复")
    assert _units(store)["珠海一中"][2] is True
    with pytest.raises(AccessDenied):
        merge_units(store, DESK, "珠海一中", "珠海市第一中学", "重复")


def test_duplicate_products_merge_imports_follow_and_the_merge_undoes(store):
    register_row(store, ADMIN, "units", UNIT)
    _purchase(store, "珠海市第一中学", "大通湖大米", "P1", "700")
    _purchase(store, "珠海市第一中学", "大通湖 大米(袋装)", "P2", "300")
    with store.begin() as conn:
        rollup.rebuild(conn)
    p = s.product
    with store.connect() as conn:
        ids = dict(conn.execute(select(p.c.name, p.c.id)).all())
    keep, dup = ids["大通湖大米"], next(i for n, i in ids.items() if n != "大通湖大米")
    merge_id = merge_products(store, ADMIN, dup, keep, "同一产品的两种写法")
    with store.connect() as conn:
        q = select(s.purchase.c.product_id, func.count()).group_by(s.purchase.c.product_id)
        by_product = dict(conn.execute(q).all())
    assert by_product == {keep: 2}
    _rollups_match_raw(store)
    assert len(register_frame(store, "products")) == 1
    _purchase(store, "珠海市第一中学", "大通湖 大米(袋装)", "P3", "10")  # the duplicate's name finds the kept product
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(p)).scalar() == 2
        assert conn.execute(select(s.purchase.c.product_id).where(s.purchase.c.voucher_no == "P3")).scalar() == keep
    undo_merge(store, ADMIN, merge_id)
    with store.connect() as conn:
        assert conn.execute(select(s.purchase.c.product_id).where(s.purchase.c.voucher_no == "P2")).scalar() == dup
    _rollups_match_raw(store)
    assert len(register_frame(store, "products")) == 2


def test_a_file_commit_is_unchanged_by_the_form_path(store):
    """The register file path still dedupes the same file (only form edits are recorded each time)."""
    data = "单位名称,单位类型,所在地区,帮扶辖区\r\n珠海市第一中学,预算单位,香洲区,珠海市\r\n".encode("gbk")
    first = commit_register(store, ADMIN, parse_upload(data, "units", "u.csv", date(2026, 6, 30)))
    again = commit_register(store, ADMIN, parse_upload(data, "units", "u.csv", date(2026, 6, 30)))
    assert first.committed and again.already


def test_a_rule_threshold_changed_in_the_form_is_a_new_version_with_its_history(store):
    rules = register_frame(store, "rules")
    row = rules[rules["指标"].str.contains("832")].iloc[0].to_dict()
    key = row_key("rules", row)
    version = row_version(store, "rules", key)
    assert version == 1
    out = register_row(store, ADMIN, "rules", row | {"阈值": "35%"}, expected_version=version)
    assert out.committed, [e.message for e in out.errors]
    # A text edit of the same version made on the page opened before the split: stale, refused.
    again = register_row(store, ADMIN, "rules", row | {"名称": "改过的名称"}, expected_version=version)
    assert not again.committed and "已被他人修改" in again.errors[0].reason
    history = row_history(store, "rules", key)
    assert list(history["操作"]) == ["修改"] and "终止年度" in history.iloc[0]["变更字段"]


def test_an_outlet_status_changed_by_the_register_file_enters_its_status_history(store):
    head = "名称,类型,所在县区,状态,状态说明\r\n"
    first = (head + "大通湖区消费帮扶馆,专馆,大通湖区,运营,\r\n").encode("gbk")
    assert commit_register(store, ADMIN, parse_upload(first, "outlets", "o1.csv", date(2026, 6, 30))).committed
    moved = (head + "大通湖区消费帮扶馆,专馆,大通湖区,拟退出,连续六个月零销售\r\n").encode("gbk")
    out = commit_register(store, ADMIN, parse_upload(moved, "outlets", "o2.csv", date(2026, 6, 30)))
    assert out.committed and out.updated == 1, out.errors
    with store.connect() as conn:
        change = conn.execute(select(s.outlet_status_change)).one()
        since = conn.execute(select(s.outlet.c.status_since)).scalar()
    assert (change.from_status, change.to_status, change.reason) == ("operating", "exit_proposed", "连续六个月零销售")
    assert change.changed_by == ADMIN.username and since == change.effective_on
