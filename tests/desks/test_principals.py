"""Every write path of data_access refuses a principal whose role may not write there, inside
data_access (not in the page), and leaves the store exactly as it was."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from data_access.desks import imports, ledger, outlets, registers, warnings
from data_access.desks.ingest import parse_upload
from data_access.figures.ledger import ledger_items
from data_access.store import schema as s
from data_access.trust import auth, beneficiaries
from data_access.trust.auth import AccessDenied, Principal
from tests import ingest_corpus as corpus

LEADER = Principal(username="a-leader", role="leader", display_name="领导")
ANALYST = Principal(username="an-analyst", role="analyst", display_name="分析")
REPORTER = Principal(username="a-reporter", role="reporter", unit_id=1, display_name="报送")
DESK = Principal(username="a-desk", role="desk", display_name="专班")


def _ledger_csv() -> bytes:
    row = corpus._ledger_row(供应商="越权测试合作社", 产品名称="越权测试米", 凭证号="AUTHZ1")
    return corpus.csv_bytes([corpus.LEDGER_HEADER, row])


def _first(engine, table, *columns):
    with engine.connect() as conn:
        return conn.execute(select(*columns).select_from(table).order_by(columns[0]).limit(1)).one()


# (name, callable(engine, principal), principals that may not)
WRITES = [
    (
        "warnings.apply_action",
        lambda e, p: warnings.apply_action(
            e, p, *_first(e, s.warning, s.warning.c.id, s.warning.c.version), "note", note="越权"
        ),
        [LEADER, ANALYST, REPORTER],
    ),
    ("warnings.refresh_warnings", lambda e, p: warnings.refresh_warnings(e, p), [LEADER, ANALYST, REPORTER]),
    ("ledger.sync_ledger", lambda e, p: ledger.sync_ledger(e, p, date(2026, 10, 31)), [LEADER, ANALYST, REPORTER]),
    (
        "ledger.update_item",
        lambda e, p: ledger.update_item(
            e,
            p,
            *[int(v) for v in ledger_items(e, date(2026, 10, 31))[["id", "version"]].iloc[0]],
            date(2026, 10, 31),
            note="越权",
        ),
        [LEADER, ANALYST, REPORTER],
    ),
    (
        "ledger.add_meeting",
        lambda e, p: ledger.add_meeting(e, p, date(2026, 11, 2), "越权会议"),
        [LEADER, ANALYST, REPORTER],
    ),
    (
        "outlets.change_outlet_status",
        lambda e, p: outlets.change_outlet_status(
            e,
            p,
            *_first(e, s.outlet, s.outlet.c.id, s.outlet.c.version),
            "suspended",
            "越权",
            date(2026, 10, 31),
        ),
        [LEADER, ANALYST, REPORTER],
    ),
    (
        "imports.commit_upload",
        lambda e, p: imports.commit_upload(
            e, parse_upload(_ledger_csv(), "purchases", "x.csv", corpus.TODAY), principal=p
        ),
        [LEADER, ANALYST, DESK],
    ),
    (
        "registers.commit_register(units)",
        lambda e, p: registers.commit_register(
            e,
            p,
            parse_upload(
                "单位名称,单位类型,所在地区,帮扶辖区\r\n越权单位,工会,440402,440400\r\n".encode(), "units", "u.csv"
            ),
        ),
        [LEADER, ANALYST, REPORTER, DESK],
    ),
    (
        "registers.commit_register(budgets)",
        lambda e, p: registers.commit_register(
            e, p, parse_upload("单位,年度,年度计划采购额\r\n越权单位,2026,100\r\n".encode(), "budgets", "b.csv")
        ),
        [LEADER, ANALYST, DESK],
    ),
    (
        "auth.add_user",
        lambda e, p: auth.add_user(e, p, "intruder", "long-enough-1", "admin"),
        [LEADER, ANALYST, REPORTER, DESK],
    ),
    ("auth.set_active", lambda e, p: auth.set_active(e, p, "nobody", False), [LEADER, ANALYST, REPORTER, DESK]),
    (
        "auth.set_password",
        lambda e, p: auth.set_password(e, p, "nobody", "long-enough-1"),
        [LEADER, ANALYST, REPORTER, DESK],
    ),
    (
        "beneficiaries.reveal",
        lambda e, p: beneficiaries.reveal(
            e, p, _first(e, s.beneficiary, s.beneficiary.c.id)[0], "id_number", "越权查看"
        ),
        [LEADER, ANALYST, REPORTER],
    ),
]
CASES = [pytest.param(fn, who, id=f"{name}-{who.role}") for name, fn, denied in WRITES for who in denied]


@pytest.fixture(scope="module")
def store(databases):
    """One demo store for the module: every case is refused, so none changes it."""
    from data_access.reference.setup import init_store
    from data_access.tools.demo import generate_demo

    eng = databases.new_engine()
    init_store(eng)
    generate_demo(eng, scale=5_000)
    yield eng
    eng.dispose()


def _snapshot(engine) -> dict:
    with engine.connect() as conn:
        counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar() for t in s.metadata.sorted_tables}
        counts["warning versions"] = conn.execute(select(func.sum(s.warning.c.version))).scalar()
        counts["item versions"] = conn.execute(select(func.sum(s.supervision_item.c.version))).scalar()
    return counts


@pytest.mark.parametrize("write, who", CASES)
def test_a_write_refuses_a_principal_that_may_not(store, write, who):
    before = _snapshot(store)
    with pytest.raises(AccessDenied, match="无权"):
        write(store, who)
    assert _snapshot(store) == before


def test_the_same_writes_pass_for_a_role_that_may(store):
    """The refusals above are the role check, not a broken call: a desk acts on a warning."""
    wid, version = _first(store, s.warning, s.warning.c.id, s.warning.c.version)
    assert warnings.apply_action(store, DESK, wid, version, "note", note="可以") == version + 1
    with store.connect() as conn:
        audited = conn.execute(
            select(func.count())
            .select_from(s.audit_log)
            .where(s.audit_log.c.username == "a-desk", s.audit_log.c.action == "warning_action")
        ).scalar()
    assert audited == 1
