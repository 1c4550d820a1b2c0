import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from data_access.reference.seeds import DATONGHU_CODE, POLICY_RULES, region_rows
from data_access.reference.setup import init_store
from data_access.store.schema import pairing, policy_rule, region

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"


@pytest.fixture(scope="module")
def rows():
    return {r["code"]: r for r in region_rows()}


def test_all_divisions_with_levels(rows):
    levels = {}
    for r in rows.values():
        levels[r["level"]] = levels.get(r["level"], 0) + 1
    assert levels["province"] == 34
    assert 330 <= levels["city"] <= 400
    assert 2800 <= levels["county"] <= 3100
    assert all(r["lng"] is not None and r["lat"] is not None for r in rows.values())
    assert rows["520300"]["name"] == "遵义市" and rows["520302"]["parent_code"] == "520300"


def test_mainling_gets_coordinates_from_its_polygon(rows):
    mainling = rows["540481"]
    assert mainling["name"] == "米林市" and mainling["coord_source"] == "polygon"
    assert 93 < mainling["lng"] < 95.5 and 28.5 < mainling["lat"] < 30


def test_datonghu_is_a_custom_child_of_yiyang(rows):
    dth = rows[DATONGHU_CODE]
    assert dth["name"] == "大通湖区" and dth["parent_code"] == "430900" and not dth["is_official"]
    assert not DATONGHU_CODE.isdigit(), "a letter keeps it apart from every official code"
    assert DATONGHU_CODE.startswith("4309")


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text).replace("％", "%")


@pytest.mark.parametrize(
    "code, number",
    [
        ("yn_reserve_share", "10%"),
        ("zh_reserve_share", "30%"),
        ("zh_union_gift_share", "40%"),
        ("zh_union_gift_eastwest", "50%"),
        ("dth_union_per_member", "500元"),
        ("gz_union_welfare_outlet", "50%"),
        ("cq_townships_only_up", "只增不减"),
        ("gz_yoy_not_below", "不低于去年"),
        ("dth_monthly_report", "29日"),
    ],
)
def test_every_seed_target_is_a_rule_citing_its_clause(code, number):
    rule = next(r for r in POLICY_RULES if r["code"] == code)
    assert number in rule["requirement"]
    assert rule["source_doc"].startswith("《") and rule["source_clause"]
    seed = SEEDS / rule["source_file"]
    if seed.exists():  # the seeds sit beside the repository in the team's workspace and CI
        text = _flat(seed.read_text(encoding="utf-8"))
        simplified = text.replace("減", "减")
        assert number in text or number in simplified


def test_store_holds_rules_and_pairings(fresh_engine):
    init_store(fresh_engine)
    with fresh_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(policy_rule)).scalar() == len(POLICY_RULES)
        helped = set(conn.execute(select(pairing.c.helped_code).where(pairing.c.helper_code == "440400")).scalars())
        assert {"520300", "540481", "500237", "441700", "440900", "533300", "513337", "513334"} <= helped
        assert conn.execute(select(region.c.name).where(region.c.code == DATONGHU_CODE)).scalar() == "大通湖区"
