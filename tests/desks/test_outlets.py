"""网点动态退出 on both backends: a desk moves an outlet along the allowed steps with a reason and a
date; the outlet, its history, the audit log and the 督办台账 follow; everything else is refused
with a message and leaves the store as it was."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from data_access.desks.outlets import StaleOutlet, change_outlet_status
from data_access.figures.ledger import ledger_items
from data_access.figures.outlets import exit_candidates, outlet_history, outlet_register
from data_access.query.filters import Filters
from data_access.store import schema as s
from data_access.trust.auth import AccessDenied
from tests.principals import ADMIN, ANALYST, LEADER, desk

AS_OF = date(2026, 10, 31)  # the demo data's last day: the 督办台账 reads the store on it
TODAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 10, 0)


@pytest.fixture(scope="module")
def store(databases):
    """One demo store for the module; each test moves outlets of its own."""
    from data_access.reference.setup import init_store
    from data_access.tools.demo import generate_demo

    eng = databases.new_engine()
    init_store(eng)
    generate_demo(eng, scale=5_000)
    yield eng
    eng.dispose()


def outlets(engine):
    return outlet_register(engine).set_index("id", drop=False)


def healthy(engine, n: int):
    """``n`` operating outlets with sales the dynamic exit does not question (and no ledger item)."""
    reg = outlets(engine)
    flagged = set(exit_candidates(engine, Filters(start=date(2026, 1, 1), end=AS_OF), AS_OF).id)
    on_ledger = set(ledger_items(engine, AS_OF, kinds=("outlet",), include_closed=True).source_key)
    ok = reg[(reg.status == "operating") & ~reg.id.isin(flagged) & ~reg.id.astype(str).isin(on_ledger)]
    assert len(ok) >= n
    return [ok.loc[i] for i in ok.index[:n]]


def ledger_row(engine, outlet_id: int):
    items = ledger_items(engine, AS_OF, kinds=("outlet",), include_closed=True)
    rows = items[items.source_key == str(outlet_id)]
    return None if rows.empty else rows.iloc[0]


def snapshot(engine) -> tuple:
    with engine.connect() as conn:
        return (
            tuple(tuple(r) for r in conn.execute(select(s.outlet).order_by(s.outlet.c.id)).all()),
            conn.execute(select(func.count()).select_from(s.outlet_status_change)).scalar(),
            conn.execute(select(func.count()).select_from(s.audit_log)).scalar(),
            conn.execute(select(func.count()).select_from(s.supervision_event)).scalar(),
        )


def change(engine, row, status, reason="测试原因", on=date(2026, 11, 20), who=None, version=None):
    return change_outlet_status(
        engine,
        who or desk("网点专班"),
        int(row["id"]),
        int(row["version"]) if version is None else version,
        status,
        reason,
        on,
        today=TODAY,
        now=NOW,
    )


def test_proposed_for_exit_with_a_reason_it_is_on_the_ledger_and_revoking_closes_it(store):
    (row,) = healthy(store, 1)
    assert ledger_row(store, row.id) is None
    done = change(store, row, "exit_proposed", "  食品抽检不合格，群众投诉较多  ", date(2026, 11, 20))
    assert done["version"] == row.version + 1 and done["ledger"]["opened"] == 1

    now = outlets(store).loc[row.id]
    assert (now.status, now.status_reason, now.status_since, now.version) == (
        "exit_proposed",
        "食品抽检不合格，群众投诉较多",
        date(2026, 11, 20),
        row.version + 1,
    )
    item = ledger_row(store, row.id)
    assert item.status == "open" and item.title == f"{row['name']}：拟退出"
    assert "拟退出（2026-11-20起：食品抽检不合格，群众投诉较多）" in item.detail
    assert item.owner_group == "certification_price"

    # 撤销拟退出: back to operation, and the ledger item is closed as resolved.
    done = change(store, now, "operating", "整改到位，撤销拟退出", date(2026, 11, 28))
    assert done["ledger"]["resolved"] == 1
    item = ledger_row(store, row.id)
    assert (item.status, item.closed_reason) == ("closed", "resolved")

    history = outlet_history(store, int(row.id))
    assert list(history.to_status) == ["operating", "exit_proposed"]  # newest first
    assert list(history.from_label) == ["拟退出", "运营中"]
    assert list(history.reason) == ["整改到位，撤销拟退出", "食品抽检不合格，群众投诉较多"]
    assert list(history.effective_on) == [date(2026, 11, 28), date(2026, 11, 20)]
    assert set(history.changed_by) == {"网点专班"}

    with store.connect() as conn:
        audits = conn.execute(
            select(s.audit_log.c.username, s.audit_log.c.detail)
            .where(s.audit_log.c.action == "outlet_status", s.audit_log.c.subject == f"网点:{row['name']}")
            .order_by(s.audit_log.c.id)
        ).all()
    assert [a.username for a in audits] == ["desk-网点专班"] * 2
    first = json.loads(audits[0].detail)
    assert first["before"]["status"] == "operating" and first["after"]["status"] == "exit_proposed"
    assert first["after"]["status_reason"] == "食品抽检不合格，群众投诉较多"
    assert first["after"]["status_since"] == "2026-11-20"


def test_exit_closes_the_ledger_item_and_is_final(store):
    (row,) = healthy(store, 1)
    change(store, row, "exit_proposed", "连续多月销售额偏低", date(2026, 11, 2))
    assert ledger_row(store, row.id).status == "open"
    done = change(store, outlets(store).loc[row.id], "exited", "经专班评估，予以退出", date(2026, 11, 25))
    assert done["ledger"]["resolved"] == 1
    item = ledger_row(store, row.id)
    assert (item.status, item.closed_reason) == ("closed", "resolved")
    assert row.id not in set(exit_candidates(store, Filters(start=date(2026, 1, 1), end=AS_OF), AS_OF).id)
    gone = outlets(store).loc[row.id]
    before = snapshot(store)
    with pytest.raises(ValueError, match="已退出的网点不能再变更状态"):
        change(store, gone, "operating", "重新开业", date(2026, 11, 29))
    assert snapshot(store) == before


def test_suspension_and_resumption(store):
    (row,) = healthy(store, 1)
    change(store, row, "suspended", "装修改造，暂停营业", date(2026, 11, 5))
    item = ledger_row(store, row.id)
    assert item.title == f"{row['name']}：暂停运营，待定去留" and "暂停（2026-11-05起：装修改造" in item.detail
    change(store, outlets(store).loc[row.id], "operating", "装修完成，恢复营业", date(2026, 11, 26))
    assert ledger_row(store, row.id).status == "closed"
    assert outlets(store).loc[row.id].status == "operating"


@pytest.mark.parametrize(
    "current, wanted, message",
    [
        ("operating", "exited", "「运营中」的网点不能直接改为「已退出」，只能改为「暂停」、「拟退出」"),
        ("suspended", "exited", "「暂停」的网点不能直接改为「已退出」"),
        ("exit_proposed", "suspended", "「拟退出」的网点不能直接改为「暂停」，只能改为「已退出」、「运营中」"),
        ("operating", "operating", "已是「运营中」状态"),
        ("exit_proposed", "closed", "未知的网点状态：closed"),
    ],
)
def test_steps_outside_the_allowed_ones_are_refused(store, current, wanted, message):
    reg = outlets(store)
    row = reg[reg.status == current].iloc[0]
    before = snapshot(store)
    with pytest.raises(ValueError, match=message):
        change(store, row, wanted, "试图越级变更", date(2026, 11, 29))
    assert snapshot(store) == before


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_reason_is_required(store, reason):
    reg = outlets(store)
    row = reg[reg.status == "operating"].iloc[0]
    before = snapshot(store)
    with pytest.raises(ValueError, match="请填写状态变更的原因"):
        change(store, row, "suspended", reason)
    assert snapshot(store) == before


def test_dates_after_today_before_opening_or_before_the_current_status_are_refused(store):
    reg = outlets(store)
    row = reg[(reg.status == "operating") & reg.opened_on.notna()].iloc[0]
    proposed = reg[reg.status == "exit_proposed"].iloc[0]
    before = snapshot(store)
    with pytest.raises(ValueError, match="晚于今天（2026-11-30），不能预先登记"):
        change(store, row, "suspended", on=date(2026, 12, 1))
    with pytest.raises(ValueError, match="早于网点开设日期"):
        change(store, row, "suspended", on=date(row.opened_on.year - 1, 1, 1))
    with pytest.raises(ValueError, match="早于当前状态「拟退出」的生效日期"):
        change(store, proposed, "exited", on=date(proposed.status_since.year - 1, 1, 1).replace(day=1))
    assert snapshot(store) == before


def test_a_stale_version_is_refused(store):
    row, other = healthy(store, 2)
    change(store, row, "suspended", "第一位专班人员的操作", date(2026, 11, 10), who=desk("甲"))
    before = snapshot(store)
    with pytest.raises(StaleOutlet, match="已被他人更新（当前为「暂停」），请刷新后再操作"):
        change(store, row, "exit_proposed", "第二位专班人员基于旧页面的操作", who=desk("乙"), version=int(row.version))
    assert snapshot(store) == before
    assert outlets(store).loc[row.id].status_reason == "第一位专班人员的操作"
    # Admins act too.
    assert change(store, other, "suspended", "管理员暂停", who=ADMIN)["version"] == other.version + 1


@pytest.mark.parametrize("who", [LEADER, ANALYST], ids=lambda p: p.role)
def test_only_desks_and_admins_change_a_status(store, who):
    reg = outlets(store)
    row = reg[reg.status == "operating"].iloc[0]
    before = snapshot(store)
    with pytest.raises(AccessDenied):
        change(store, row, "suspended", "越权", who=who)
    assert snapshot(store) == before


def test_an_outlet_that_still_sells_too_little_stays_on_the_ledger_when_the_proposal_is_withdrawn(store):
    reg = outlets(store)
    low = exit_candidates(store, Filters(start=date(2026, 1, 1), end=AS_OF), AS_OF)
    low = low[(low.status == "operating") & (low.months_low >= 3)]
    row = reg.loc[int(low.id.iloc[0])]
    change(store, row, "exit_proposed", "连续低销，专班拟退出", date(2026, 11, 3))
    assert ledger_row(store, row.id).title == f"{row['name']}：拟退出"
    change(store, outlets(store).loc[row.id], "operating", "撤销拟退出，观察三个月", date(2026, 11, 27))
    item = ledger_row(store, row.id)
    # The proposal is gone, the low sales are not: the item stays open and says so.
    assert item.status == "open" and item.title == f"{row['name']}：连续低销，列为退出候选"
    assert "连续" in item.detail and "拟退出" not in item.detail


def test_the_demo_outlets_carry_their_history(store):
    reg = outlets(store)
    with store.connect() as conn:
        changes = conn.execute(select(s.outlet_status_change).order_by(s.outlet_status_change.c.id)).all()
    last = {c.outlet_id: c for c in changes if c.changed_by == "demo-desk"}
    by_tests = {c.outlet_id for c in changes if c.changed_by != "demo-desk"}  # the other tests of this module
    moved = reg[(reg.status != "operating") & ~reg.id.isin(by_tests)]
    assert len(moved) and set(moved.id) <= set(last)
    for r in moved.itertuples():
        c = last[r.id]
        assert c.to_status == r.status and c.reason == r.status_reason
        assert str(c.effective_on)[:10] == r.status_since.isoformat()
        assert r.opened_on is None or r.status_since >= r.opened_on
