"""督办台账 and 报送情况 on the demo store, on both backends."""

import io
from datetime import date, datetime

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import delete, func, insert, select, text

from data_access.desks.ledger import StaleItem, sync_ledger, update_item
from data_access.figures.compliance import (
    compliance,
    compliance_summary,
    compliance_view,
    due_periods,
)
from data_access.figures.ledger import (
    ITEM_KINDS,
    group_summary,
    item_history,
    ledger_candidates,
    ledger_items,
    ledger_table,
    ledger_view,
    meetings,
    since_meeting,
    since_meeting_view,
)
from data_access.packs.meeting import meeting_pack
from data_access.query.filters import Filters
from data_access.reference.seeds import DATONGHU_CODE, TASK_GROUPS
from data_access.store.schema import report_batch, supervision_event, supervision_item
from tests.principals import DESK, desk

AS_OF = date(2026, 10, 31)  # the demo data's last day
YEAR = Filters(start=date(2026, 1, 1), end=AS_OF)


def events(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(supervision_event).order_by(supervision_event.c.id)).all()]


def test_demo_ledger_says_what_to_raise_since_the_last_meeting(demo_engine):
    held = meetings(demo_engine)
    assert len(held) == 3 and held.held_on.iloc[0] < AS_OF
    changed = since_meeting(demo_engine, held.held_on.iloc[0], AS_OF)
    assert len(changed["new"]) > 0 and len(changed["closed"]) > 0 and len(changed["overdue"]) > 0
    assert (changed["new"].opened_on > held.held_on.iloc[0]).any()
    assert (changed["closed"].closed_on > held.held_on.iloc[0]).all()
    assert (changed["overdue"].due_date < AS_OF).all() and (changed["overdue"].status != "closed").all()
    items = ledger_items(demo_engine, AS_OF)
    assert set(items.owner_group) <= {code for code, _, _ in TASK_GROUPS}
    assert {"rule", "report", "outlet"} <= set(items.source_kind)
    assert items.due_date.notna().all() and items.opened_on.notna().all()
    # Overdue first, so the desk reads the most urgent at the top.
    assert items.overdue.iloc[0] and list(items.overdue) == sorted(items.overdue, reverse=True)


def test_open_items_match_what_the_sources_say(demo_engine):
    items = ledger_items(demo_engine, AS_OF)
    wanted = ledger_candidates(demo_engine, AS_OF)
    assert set(wanted.source_kind) <= set(ITEM_KINDS)
    open_keys = set(zip(items.source_kind, items.source_key, strict=True))
    assert open_keys <= set(zip(wanted.source_kind, wanted.source_key, strict=True))
    # Every candidate is on the ledger unless a desk closed it.
    closed = ledger_items(demo_engine, AS_OF, include_closed=True)
    closed = set(zip(closed.source_kind, closed.source_key, strict=True)) - open_keys
    assert set(zip(wanted.source_kind, wanted.source_key, strict=True)) - open_keys <= closed


def test_filter_by_task_group(demo_engine):
    all_items = ledger_items(demo_engine, AS_OF)
    parts = [ledger_items(demo_engine, AS_OF, owner_group=code) for code, _, _ in TASK_GROUPS]
    assert sum(len(p) for p in parts) == len(all_items)
    assert all((p.owner_group == code).all() for p, (code, _, _) in zip(parts, TASK_GROUPS, strict=True))
    reports = ledger_items(demo_engine, AS_OF, kinds=("report",))
    assert len(reports) and (reports.source_kind == "report").all()


def test_sync_is_idempotent_resolves_and_reopens_and_keeps_history(writable_demo_engine):
    eng = writable_demo_engine
    assert sync_ledger(eng, DESK, AS_OF) == dict(opened=0, reopened=0, updated=0, resolved=0)
    before = events(eng)
    with eng.connect() as conn:
        n_items = conn.execute(select(func.count()).select_from(supervision_item)).scalar()
    assert sync_ledger(eng, DESK, AS_OF) == dict(opened=0, reopened=0, updated=0, resolved=0)
    assert events(eng) == before
    with eng.connect() as conn:
        assert conn.execute(select(func.count()).select_from(supervision_item)).scalar() == n_items

    # A missing report arrives late: its item closes itself at the next sync.
    item = ledger_items(eng, AS_OF, kinds=("report",)).iloc[0]
    unit_id, period = item.source_key.split(":")
    with eng.begin() as conn:
        conn.execute(
            insert(report_batch).values(
                form="proofs",
                unit_id=int(unit_id),
                period=period,
                submitted_at=datetime(2026, 10, 30, 10),
                submitted_by="测试",
                file_hash=f"test-{item.source_key}",
                row_count=3,
            )
        )
    assert sync_ledger(eng, DESK, AS_OF)["resolved"] == 1
    history = item_history(eng, int(item.id))
    assert history.action.iloc[-1] == "resolved" and history.actor.iloc[-1] == "台账同步"
    assert int(item.id) not in set(ledger_items(eng, AS_OF).id)

    # The batch is withdrawn: the item comes back, same id, its history kept.
    with eng.begin() as conn:
        conn.execute(delete(report_batch).where(report_batch.c.file_hash == f"test-{item.source_key}"))
    assert sync_ledger(eng, DESK, AS_OF)["reopened"] == 1
    assert list(item_history(eng, int(item.id)).action[-2:]) == ["resolved", "reopened"]

    # A desk closes an item whose cause persists: the sync respects the decision.
    item = ledger_items(eng, AS_OF, kinds=("rule",)).iloc[0]
    update_item(
        eng, desk("desk_a"), int(item.id), int(item.version), AS_OF, status="closed", note="已约谈，整改方案已报"
    )
    assert sync_ledger(eng, DESK, AS_OF) == dict(opened=0, reopened=0, updated=0, resolved=0)
    assert int(item.id) not in set(ledger_items(eng, AS_OF).id)
    # Earlier events were never rewritten.
    assert events(eng)[: len(before)] == before


def test_desk_actions_are_logged_and_guarded(writable_demo_engine):
    eng = writable_demo_engine
    items = ledger_items(eng, AS_OF)
    item = items[(items.owner_group != "cooperation") & (items.status == "open")].iloc[0]
    v2 = update_item(
        eng,
        desk("desk_a"),
        int(item.id),
        int(item.version),
        AS_OF,
        status="in_progress",
        owner_group="cooperation",
        due_date=date(2026, 12, 31),
        note="已函告",
    )
    with pytest.raises(StaleItem):
        update_item(eng, desk("desk_b"), int(item.id), int(item.version), AS_OF, note="晚到的操作")
    with pytest.raises(ValueError):
        update_item(eng, desk("desk_b"), int(item.id), v2, AS_OF, owner_group="no_such_group")
    row = ledger_items(eng, AS_OF).set_index("id").loc[int(item.id)]
    assert (row.status, row.owner_group, row.due_date, row.note) == (
        "in_progress",
        "cooperation",
        date(2026, 12, 31),
        "已函告",
    )
    tail = item_history(eng, int(item.id)).tail(3)
    assert list(tail.action) == ["status", "assign", "due"] and set(tail.actor) == {"desk_a"}
    changed = since_meeting(eng, date(2026, 10, 30), AS_OF)
    assert int(item.id) in set(changed["progress"].id)


def test_meeting_pack_holds_what_the_page_shows(demo_engine):
    since = meetings(demo_engine).held_on.iloc[0]
    changed = since_meeting(demo_engine, since, AS_OF)
    book = openpyxl.load_workbook(io.BytesIO(meeting_pack(demo_engine, since, AS_OF)))
    assert book.sheetnames == ["按专班", "新增事项", "已办结", "逾期事项", "有进展", "全部在办", "报送情况"]
    for name, key in (("新增事项", "new"), ("已办结", "closed"), ("逾期事项", "overdue")):
        sheet = book[name]
        assert sheet.cell(row=3, column=1).value == "编号"
        assert sheet.max_row - 3 == len(changed[key])
    assert book["全部在办"].max_row - 3 == len(ledger_items(demo_engine, AS_OF))
    by_group = pd.read_excel(io.BytesIO(meeting_pack(demo_engine, since, AS_OF)), sheet_name="按专班", skiprows=2)
    assert list(by_group["责任专班"]) == [name for _, name, _ in TASK_GROUPS]
    assert by_group["在办"].sum() == len(ledger_items(demo_engine, AS_OF))
    assert by_group["会后新增"].sum() == len(changed["new"])


def test_ledger_says_what_to_raise_with_whom_and_what_changed(demo_engine):
    since = meetings(demo_engine).held_on.iloc[0]
    changed = since_meeting(demo_engine, since, AS_OF)
    shown = ledger_table(changed["closed"])
    assert list(shown.columns[:9]) == [
        "编号",
        "级别",
        "来源",
        "事项",
        "责任专班",
        "状态",
        "办结时限",
        "逾期天数",
        "最近动态",
    ]
    assert set(shown["办结方式"]) <= {"专班办结", "来源消除自动销号"} and len(set(shown["办结方式"])) == 2
    # The latest change says when, who and what: a desk's closing note, or the sync's resolution.
    assert all(t[:10] > since.isoformat() for t in shown["最近动态"])
    assert shown["最近动态"].str.contains("状态变更：").any()
    progress = ledger_table(changed["progress"])
    assert progress["最近动态"].str.contains("督办备注：").any()


def test_group_summary_counts_each_task_group(demo_engine):
    since = meetings(demo_engine).held_on.iloc[0]
    summary = group_summary(demo_engine, since, AS_OF, kinds=("rule", "report"))
    assert list(summary.owner_group) == [code for code, _, _ in TASK_GROUPS]
    for r in summary.itertuples():
        mine = ledger_items(demo_engine, AS_OF, owner_group=r.owner_group, kinds=("rule", "report"))
        assert (r.open, r.overdue, r.red) == (len(mine), mine.overdue.sum(), (mine.severity == "red").sum())
        changed = since_meeting(demo_engine, since, AS_OF, r.owner_group, ("rule", "report"))
        assert (r.new, r.closed, r.progress) == tuple(len(changed[k]) for k in ("new", "closed", "progress"))
    assert summary.open.sum() == len(ledger_items(demo_engine, AS_OF, kinds=("rule", "report")))


def test_due_dates_follow_the_seeds():
    monthly = dict(due_periods("report_monthly_by_day", 29, date(2026, 1, 1), date(2026, 3, 31)))
    assert monthly == {"2026-01": date(2026, 1, 29), "2026-02": date(2026, 2, 28), "2026-03": date(2026, 3, 29)}
    quarterly = dict(due_periods("report_quarterly", 15, date(2026, 1, 1), date(2026, 12, 31)))
    assert quarterly == {
        "2026-Q1": date(2026, 4, 15),
        "2026-Q2": date(2026, 7, 15),
        "2026-Q3": date(2026, 10, 15),
        "2026-Q4": date(2027, 1, 15),
    }


def test_compliance_matches_plain_sql(demo_engine):
    df = compliance(demo_engine, YEAR, AS_OF)
    assert set(df.jurisdiction_code) == {DATONGHU_CODE, "440100"}
    dth = df[(df.jurisdiction_code == DATONGHU_CODE) & (df.period == "2026-05")]
    with demo_engine.connect() as conn:
        units = conn.execute(
            text("SELECT COUNT(*) FROM buyer_unit WHERE jurisdiction_code = :j"), {"j": DATONGHU_CODE}
        ).scalar()
        first = conn.execute(
            text(
                "SELECT b.unit_id, MIN(b.submitted_at) FROM report_batch b JOIN buyer_unit u ON u.id = b.unit_id "
                "WHERE u.jurisdiction_code = :j AND b.period = '2026-05' AND b.status = 'committed' GROUP BY b.unit_id"
            ),
            {"j": DATONGHU_CODE},
        ).all()
    days = [pd.Timestamp(at).date() for _, at in first]
    assert len(dth) == units
    assert (dth.status == "on_time").sum() == sum(d <= date(2026, 5, 29) for d in days)
    assert (dth.status == "late").sum() == sum(d > date(2026, 5, 29) for d in days)
    assert (dth.status == "missing").sum() == units - len(first)
    summary = compliance_summary(df)
    row = summary[(summary.jurisdiction_name == "大通湖区") & (summary.period == "2026-05")].iloc[0]
    assert row.on_time + row.late + row.missing == units


def test_compliance_on_the_day_says_not_yet_due(demo_engine):
    before = compliance(demo_engine, Filters(start=date(2026, 10, 1), end=date(2026, 10, 31)), date(2026, 10, 28))
    after = compliance(demo_engine, Filters(start=date(2026, 10, 1), end=date(2026, 10, 31)), date(2026, 10, 30))
    dth_before = before[before.jurisdiction_code == DATONGHU_CODE]
    dth_after = after[after.jurisdiction_code == DATONGHU_CODE]
    assert "missing" not in set(dth_before.status) and "not_due" in set(dth_before.status)
    assert (dth_after.status == "missing").sum() >= 1 and "not_due" not in set(dth_after.status)


def test_page_views_hold_the_tables_of_their_own_rows(demo_engine):
    held = meetings(demo_engine)
    since = held.held_on.iloc[0]
    view = ledger_view(demo_engine, AS_OF)
    assert view["table"]["编号"].tolist() == view["items"].id.tolist()
    changed = since_meeting_view(demo_engine, since, AS_OF)
    for key in ("new", "closed", "overdue", "progress"):
        assert changed[f"{key}_table"]["编号"].tolist() == changed[key].id.tolist()
    assert set(changed["overdue_table"]["会后到期"]) <= {"是", ""}
    reports = compliance_view(demo_engine, YEAR, AS_OF)
    detail = reports["detail"]
    assert len(reports["matrix"]) == detail[["jurisdiction_name", "unit_name"]].drop_duplicates().shape[0]
    assert set(reports["matrix"].columns) == {"辖区", "单位", *detail.period.unique()}
    pd.testing.assert_frame_equal(reports["summary"], compliance_summary(detail))
