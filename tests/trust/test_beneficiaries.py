"""带贫人员: each role reads only what it may; full numbers only by audited reveal — both backends."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from sqlalchemy import func, select

from data_access.query.export import csv_bytes, xlsx_bytes
from data_access.reference.setup import init_store
from data_access.store.schema import audit_log, beneficiary, benefit
from data_access.tools.demo import generate_demo
from data_access.trust import auth
from data_access.trust.auth import AccessDenied, Principal
from data_access.trust.beneficiaries import beneficiary_benefits, beneficiary_list, reveal
from data_access.trust.personal import decrypt_pii, id_number_valid

FULL_ID = re.compile(r"\d{17}[\dX]")
FULL_PHONE = re.compile(r"1\d{10}")


def who(role: str, unit_id: int | None = None, username: str | None = None) -> Principal:
    return Principal(username=username or role, role=role, unit_id=unit_id, display_name=role)


@pytest.fixture(scope="module")
def store(databases):
    """A demo store private to this module (reveals write audit rows)."""
    eng = databases.new_engine()
    init_store(eng)
    generate_demo(eng, scale=20_000)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def busy_unit(demo_engine):
    """The unit with most benefits in the shared demo store."""
    with demo_engine.connect() as conn:
        return int(
            conn.execute(
                select(benefit.c.unit_id).group_by(benefit.c.unit_id).order_by(func.count().desc()).limit(1)
            ).scalar()
        )


def _first_person(engine, unit_id: int | None = None, not_unit: int | None = None) -> int:
    q = select(benefit.c.beneficiary_id).order_by(benefit.c.beneficiary_id).limit(1)
    if unit_id is not None:
        q = q.where(benefit.c.unit_id == unit_id)
    if not_unit is not None:
        others = select(benefit.c.beneficiary_id).where(benefit.c.unit_id == not_unit)
        q = q.where(benefit.c.beneficiary_id.not_in(others))
    with engine.connect() as conn:
        return int(conn.execute(q).scalar())


@pytest.mark.parametrize("role", ["leader", "analyst"])
def test_roles_without_personal_data_cannot_list_beneficiaries(demo_engine, role):
    with pytest.raises(AccessDenied):
        beneficiary_list(demo_engine, who(role))
    with pytest.raises(AccessDenied):
        beneficiary_benefits(demo_engine, who(role), 1)


@pytest.mark.parametrize("role", ["desk", "admin"])
def test_list_shows_masked_numbers_only(demo_engine, role):
    people, total = beneficiary_list(demo_engine, who(role))
    with demo_engine.connect() as conn:
        assert total == conn.execute(select(func.count()).select_from(beneficiary)).scalar()
    assert len(people) == 200 and total > 200
    assert people.id_masked.str.fullmatch(r"\d{4}\*{10}[\dX]{4}").all()
    assert people.phone_masked.str.fullmatch(r"1\d{2}\*{4}\d{4}").all()
    text = people.to_csv()
    assert not FULL_ID.search(text) and not FULL_PHONE.search(text)
    # Downloads carry what the table carries: masked numbers only.
    exported = csv_bytes(people).decode("utf-8-sig") + pd.read_excel(io.BytesIO(xlsx_bytes({"x": people}))).to_csv()
    assert not FULL_ID.search(exported) and not FULL_PHONE.search(exported)


def test_reporter_sees_only_people_and_benefits_of_its_own_unit(demo_engine, busy_unit):
    mine = who("reporter", busy_unit)
    people, total = beneficiary_list(demo_engine, mine, limit=100_000)
    _, everyone = beneficiary_list(demo_engine, who("desk"))
    with demo_engine.connect() as conn:
        expected = set(conn.execute(select(benefit.c.beneficiary_id).where(benefit.c.unit_id == busy_unit)).scalars())
        own_amount = float(
            conn.execute(select(func.sum(benefit.c.amount)).where(benefit.c.unit_id == busy_unit)).scalar()
        )
    assert set(people.id) == expected and total == len(expected) < everyone
    # Amounts are those the unit paid, not the person's benefits from other units.
    assert people.benefit_amount.sum() == pytest.approx(own_amount)
    rows = beneficiary_benefits(demo_engine, mine, int(people.id.iloc[0]))
    assert not rows.empty and set(rows.unit_name) == {rows.unit_name.iloc[0]}


def test_reporter_cannot_read_someone_its_unit_never_benefited(demo_engine, busy_unit):
    stranger = _first_person(demo_engine, not_unit=busy_unit)
    mine = who("reporter", busy_unit)
    assert beneficiary_benefits(demo_engine, mine, stranger).empty
    with demo_engine.connect() as conn:
        name = conn.execute(select(beneficiary.c.name).where(beneficiary.c.id == stranger)).scalar()
    people, total = beneficiary_list(demo_engine, mine, name=name)
    assert total == 0 and people.empty
    assert not beneficiary_benefits(demo_engine, who("desk"), stranger).empty


def test_search_by_full_id_number_matches_by_hash(demo_engine):
    with demo_engine.connect() as conn:
        row = conn.execute(select(beneficiary.c.id, beneficiary.c.id_encrypted).limit(1)).one()
    number = decrypt_pii(row.id_encrypted)
    assert id_number_valid(number)
    people, total = beneficiary_list(demo_engine, who("desk"), id_number=number.lower())
    assert total == 1 and people.id.tolist() == [row.id]
    assert number not in people.to_csv()


def test_name_search_treats_wildcards_as_text(demo_engine):
    assert beneficiary_list(demo_engine, who("desk"), name="%")[1] == 0
    people, total = beneficiary_list(demo_engine, who("desk"), name="演示0001")
    assert total == 1 and people.name.iloc[0].endswith("演示0001")


@pytest.mark.parametrize("role", ["leader", "analyst", "reporter"])
def test_roles_that_may_not_reveal_are_refused_and_nothing_is_logged(store, role):
    person = _first_person(store)
    with store.connect() as conn:
        unit = conn.execute(select(benefit.c.unit_id).where(benefit.c.beneficiary_id == person)).scalar()
        before = conn.execute(select(func.count()).select_from(audit_log)).scalar()
    with pytest.raises(AccessDenied):
        reveal(store, who(role, unit), person, "id_number", "核对发放对象")
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar() == before


@pytest.mark.parametrize("role, field", [("desk", "id_number"), ("admin", "phone")])
def test_reveal_returns_the_number_and_audits_who_when_which_and_why(store, role, field):
    person = _first_person(store)
    number = reveal(store, who(role, username=f"{role}_reveal"), person, field, "核对受益资金发放对象")
    with store.connect() as conn:
        row = conn.execute(select(beneficiary).where(beneficiary.c.id == person)).one()
        logged = conn.execute(select(audit_log).where(audit_log.c.username == f"{role}_reveal")).all()
    if field == "id_number":
        assert id_number_valid(number) and row.id_masked == number[:4] + "*" * 10 + number[-4:]
    else:
        assert FULL_PHONE.fullmatch(number) and row.phone_masked.endswith(number[-4:])
    assert len(logged) == 1
    entry = logged[0]
    assert (entry.action, entry.subject) == ("pii_reveal", f"beneficiary:{person}")
    assert "核对受益资金发放对象" in entry.detail and entry.at is not None
    assert number not in entry.detail and number not in entry.subject


def test_reveal_needs_a_purpose(store):
    with pytest.raises(ValueError, match="用途"):
        reveal(store, who("admin"), _first_person(store), "id_number", " ")


def test_demo_principal_reveals_only_in_the_demo_store(store, fresh_engine):
    assert reveal(store, auth.DEMO_PRINCIPAL, _first_person(store), "id_number", "演示")
    init_store(fresh_engine)
    with pytest.raises(AccessDenied, match="创建用户"):
        reveal(fresh_engine, auth.DEMO_PRINCIPAL, 1, "id_number", "演示")


@pytest.mark.parametrize("role", ["leader", "desk", "analyst", "reporter"])
def test_only_admins_read_the_audit_log(store, role):
    with pytest.raises(AccessDenied):
        auth.audit_entries(store, who(role, 1))


def test_audit_log_lists_reveals_without_numbers(store):
    person = _first_person(store)
    number = reveal(store, who("desk", username="desk_log"), person, "id_number", "入户核查")
    log = auth.audit_entries(store, who("admin"), action="pii_reveal", username="desk_log")
    assert log.subject.tolist() == [f"beneficiary:{person}"]
    everything = auth.audit_entries(store, who("admin"), limit=10_000).to_csv()
    assert number not in everything and not FULL_ID.search(everything)
