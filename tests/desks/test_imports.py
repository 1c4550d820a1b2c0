"""数据报送 commit, on both backends: every corpus file imports correctly or changes nothing."""

from __future__ import annotations

import random
from datetime import date

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select, text

from data_access import cli
from data_access.desks import imports
from data_access.desks.ingest import parse_upload
from data_access.reference.setup import init_store
from data_access.store import config
from data_access.store import schema as s
from data_access.tools.demo import generate_demo
from data_access.trust import personal
from data_access.trust.auth import Principal
from tests import ingest_corpus as corpus

CASES = corpus.cases()
KEY = Fernet.generate_key()
ADMIN = Principal(username="tester", role="admin")
# The corpus names its buyers; the unit register must hold them before their files can import.
CORPUS_UNITS = ["区直机关工会", "珠海市第一中学", "某局", "区总工会", "区教育局食堂"]


@pytest.fixture(autouse=True)
def pii_env(monkeypatch, tmp_path):
    monkeypatch.setenv(personal.ENV_PII_KEY, KEY.decode())
    monkeypatch.setenv(config.ENV_DATA_DIR, str(tmp_path))


@pytest.fixture(scope="module")
def store(databases):
    """A small demo store per backend with the corpus's buyer units registered; tests write to it."""
    engine = databases.new_engine()
    init_store(engine)
    generate_demo(engine, scale=3000)
    with engine.begin() as conn:
        existing = set(conn.execute(select(s.buyer_unit.c.name)).scalars())
        conn.execute(
            s.buyer_unit.insert(),
            [
                dict(
                    name=n,
                    kind="union" if "工会" in n else "budget_unit",
                    region_code="440402",
                    jurisdiction_code="440400",
                )
                for n in CORPUS_UNITS
                if n not in existing
            ],
        )
    yield engine
    engine.dispose()


def unit_id(engine, name: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(s.buyer_unit.c.id).where(s.buyer_unit.c.name == name)).scalar_one()


def commit(engine, data: bytes, form: str, filename: str = "x.csv", limits=None, **kw):
    result = parse_upload(data, form, filename, corpus.TODAY, limits=limits)
    kw.setdefault("principal", ADMIN)
    if form == "beneficiaries":
        kw.setdefault("period", "2024-12")
    if form == "proofs":
        kw.setdefault("default_origin", "大通湖区")
    return result, imports.commit_upload(engine, result, **kw)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_file_imports_or_changes_nothing(store, case):
    before = imports.store_counts(store)
    result, outcome = commit(store, case.data, case.form, case.filename, limits=case.limits)
    after = imports.store_counts(store)
    if case.good:
        assert outcome.committed and outcome.ok, [e.message for e in outcome.errors]
        assert outcome.batch_id and outcome.rows == case.rows
        table = "benefit" if case.form == "beneficiaries" else "purchase"
        assert after[table] - before[table] == case.rows
        assert after["report_batch"] - before["report_batch"] == 1
    else:
        assert not outcome.committed and outcome.errors
        assert after == before
        for error in outcome.errors:
            assert error.message and "Traceback" not in error.message


def test_same_file_again_changes_nothing(store):
    data = corpus.csv_bytes([corpus.LEDGER_HEADER, *corpus.ledger_rows(6)], encoding="gbk", title="台账")
    _, first = commit(store, data, "purchases", "台账.csv")
    assert first.committed and first.rows == 6
    before = imports.store_counts(store)
    _, again = commit(store, data, "purchases", "另一个名字.csv")
    assert again.already and not again.committed and again.batch_id == first.batch_id
    assert "已于此前导入" in again.message and f"批次 {first.batch_id}" in again.message
    assert imports.store_counts(store) == before


def test_batch_records_who_when_unit_period_rows_hash(store):
    data = corpus.csv_bytes([corpus.LEDGER_HEADER, *corpus.ledger_rows(3)[1:]])
    result, outcome = commit(
        store, data, "purchases", "五月台账.csv", principal=Principal(username="zhang", role="admin")
    )
    listed = imports.batches(store).set_index("id").loc[outcome.batch_id]
    assert listed.submitted_by == "zhang" and listed.row_count == 2 and listed.file_name == "五月台账.csv"
    assert listed.file_hash == result.file_hash and listed.unit_name == "珠海市第一中学"
    assert listed.period == "2024-03" and listed.form_label == "消费帮扶采购台账"
    assert listed.submitted_at is not None


def test_one_bad_row_keeps_every_row_out(store):
    rows = [
        *corpus.ledger_rows(4),
        corpus._ledger_row(采购单位="不存在的局", 凭证号="X1"),
        corpus._ledger_row(产地="朝阳区", 凭证号="X2"),
        corpus._ledger_row(产地="火星县", 凭证号="X3"),
        corpus._ledger_row(产地="云南省", 凭证号="X4"),
    ]
    before = imports.store_counts(store)
    _, outcome = commit(store, corpus.csv_bytes([corpus.LEDGER_HEADER, *rows]), "purchases")
    assert imports.store_counts(store) == before
    by_row = {(e.row, e.field): e.reason for e in outcome.errors}
    assert "不在单位名录中" in by_row[(6, "采购单位")]
    assert "同名地区" in by_row[(7, "产地")] and "110105" in by_row[(7, "产地")]
    assert "不是已知的区县" in by_row[(8, "产地")]
    assert "省级" in by_row[(9, "产地")]
    assert "整个文件未导入" in outcome.message


def test_unknown_supplier_and_product_are_created(store):
    row = corpus._ledger_row(
        供应商="泸水市新建合作社", 产品名称="怒江鲜笋", 产地="云南省怒江傈僳族自治州泸水市", 凭证号="NEW1"
    )
    _, outcome = commit(store, corpus.csv_bytes([corpus.LEDGER_HEADER, row]), "purchases")
    assert outcome.committed and outcome.created == {"supplier": 1, "product": 1}
    with store.connect() as conn:
        got = conn.execute(
            select(
                s.purchase.c.origin_code,
                s.supplier.c.name,
                s.supplier.c.kind,
                s.product.c.category,
                s.product.c.certified,
            )
            .join(s.supplier, s.supplier.c.id == s.purchase.c.supplier_id)
            .join(s.product, s.product.c.id == s.purchase.c.product_id)
            .where(s.purchase.c.batch_id == outcome.batch_id)
        ).one()
    assert got == ("533301", "泸水市新建合作社", "cooperative", "vegetable", False)


def test_proofs_take_origin_from_known_supplier(store):
    with store.connect() as conn:
        supplier_name, region = conn.execute(select(s.supplier.c.name, s.supplier.c.region_code).limit(1)).one()
    data = corpus.csv_bytes([corpus.PROOF_HEADER, corpus._proof_row(卖方=supplier_name, 序号="1", 金额="777")])
    _, outcome = commit(store, data, "proofs", default_origin=None)
    assert outcome.committed, [e.message for e in outcome.errors]
    with store.connect() as conn:
        assert (
            conn.execute(select(s.purchase.c.origin_code).where(s.purchase.c.batch_id == outcome.batch_id)).scalar()
            == region
        )


def test_proofs_without_any_origin_are_refused(store):
    data = corpus.csv_bytes(
        [corpus.PROOF_HEADER, corpus._proof_row(卖方="无名合作社", 产品名称="无名产品", 金额="778")]
    )
    before = imports.store_counts(store)
    _, outcome = commit(store, data, "proofs", default_origin=None)
    assert [(e.row, e.field) for e in outcome.errors] == [(2, "卖方")] and "默认产地" in outcome.errors[0].reason
    assert imports.store_counts(store) == before


def test_reporter_submits_for_its_own_unit_only(store):
    own = unit_id(store, "珠海市第一中学")
    reporter = Principal(username="rep", role="reporter", unit_id=own)
    mixed = [corpus._ledger_row(凭证号="R1", **{"金额（元）": "11"}), corpus._ledger_row(采购单位="某局", 凭证号="R2")]
    before = imports.store_counts(store)
    _, refused = commit(store, corpus.csv_bytes([corpus.LEDGER_HEADER, *mixed]), "purchases", principal=reporter)
    assert [(e.row, e.field) for e in refused.errors] == [(3, "采购单位")] and "本单位" in refused.errors[0].reason
    assert imports.store_counts(store) == before
    _, other_unit = commit(
        store, corpus.csv_bytes([corpus.LEDGER_HEADER, mixed[0]]), "purchases", principal=reporter, unit="某局"
    )
    assert other_unit.errors and "只能为本单位" in other_unit.errors[0].reason
    _, ok = commit(store, corpus.csv_bytes([corpus.LEDGER_HEADER, mixed[0]]), "purchases", principal=reporter)
    assert ok.committed and ok.unit_id == own
    seen = imports.batches(store, principal=reporter)
    assert len(seen) and set(seen.unit_name) == {"珠海市第一中学"}
    assert len(imports.batches(store, principal=ADMIN)) > len(seen)


def test_beneficiaries_need_a_period_and_store_no_clear_numbers(store):
    rng = random.Random(99)
    people = [
        [
            f"新村民{i}",
            personal.fictional_id_number(rng, "533301", date(1970 + i, 3, 4)),
            f"1390013900{i}",
            str(500 + i),
        ]
        for i in range(3)
    ]
    data = corpus.csv_bytes([corpus.BEN_HEADER, *people])
    _, no_period = commit(store, data, "beneficiaries", period=None)
    assert no_period.errors and "受益期" in no_period.errors[0].reason
    _, bad_period = commit(store, data, "beneficiaries", period="明年")
    assert bad_period.errors and "格式不对" in bad_period.errors[0].reason
    _, outcome = commit(store, data, "beneficiaries", period="2024年11月", unit="区直机关工会")
    assert outcome.committed and outcome.period == "2024-11" and outcome.created == {"beneficiary": 3}
    with store.connect() as conn:
        dump = " ".join(str(v) for row in conn.execute(select(s.beneficiary)).all() for v in row)
        benefits = conn.execute(
            select(s.benefit.c.amount, s.benefit.c.period, s.benefit.c.unit_id).where(
                s.benefit.c.batch_id == outcome.batch_id
            )
        ).all()
    for _, id_number, phone, _ in people:
        assert id_number not in dump and phone not in dump
    assert sorted(float(a) for a, _, _ in benefits) == [500.0, 501.0, 502.0]
    assert {p for _, p, _ in benefits} == {"2024-11"} and {u for _, _, u in benefits} == {
        unit_id(store, "区直机关工会")
    }
    # The same person in next month's roster: a new benefit, not a second person.
    before = imports.store_counts(store)
    _, again = commit(
        store, corpus.csv_bytes([corpus.BEN_HEADER, [*people[0][:3], "650"]]), "beneficiaries", period="2024-12"
    )
    after = imports.store_counts(store)
    assert again.committed and again.created == {"beneficiary": 0}
    assert after["beneficiary"] == before["beneficiary"] and after["benefit"] == before["benefit"] + 1


def test_failure_while_writing_leaves_store_unchanged(store, monkeypatch):
    real = imports.bulk_insert

    def insert_then_fail(conn, table, df, **kw):
        real(conn, table, df, **kw)
        conn.execute(text("SELECT no_such_column FROM purchase"))

    monkeypatch.setattr(imports, "bulk_insert", insert_then_fail)
    row = corpus._ledger_row(供应商="回滚测试合作社", 产品名称="回滚测试米", 凭证号="RB1")
    before = imports.store_counts(store)
    with pytest.raises(Exception, match="no_such_column"):
        commit(store, corpus.csv_bytes([corpus.LEDGER_HEADER, row]), "purchases")
    assert imports.store_counts(store) == before


def test_a_ledger_with_only_the_required_columns_imports(store):
    """渠道, 用途, 数量 and 凭证号 are optional headers: a ledger without them goes in as 其他, not a crash."""
    row = dict(zip(corpus.LEDGER_HEADER, corpus._ledger_row(凭证号="MIN1"), strict=True))
    header = ["交易日期", "采购单位", "供应商", "产品名称", "产地", "金额（元）"]
    result, outcome = commit(store, corpus.csv_bytes([header, [row[h] for h in header]]), "purchases")
    assert result.ok and outcome.committed, outcome.message
    with store.connect() as conn:
        got = conn.execute(
            select(s.purchase.c.channel, s.purchase.c.purpose, s.purchase.c.voucher_no).where(
                s.purchase.c.batch_id == outcome.batch_id
            )
        ).all()
    assert [tuple(r) for r in got] == [("other", "other", None)]


def test_check_writes_nothing_and_reports_what_commit_would(store):
    row = corpus._ledger_row(供应商="预检合作社", 产品名称="预检米", 凭证号="PC1")
    result = parse_upload(corpus.csv_bytes([corpus.LEDGER_HEADER, row]), "purchases", "x.csv", corpus.TODAY)
    before = imports.store_counts(store)
    checked = imports.check_upload(store, result, principal=ADMIN)
    assert checked.ok and not checked.committed and checked.created == {"supplier": 1, "product": 1}
    assert "可以导入" in checked.message
    assert imports.store_counts(store) == before


def test_cli_import_exit_codes(store, tmp_path, capsys):
    url = store.url.render_as_string(hide_password=False)
    good = tmp_path / "台账.csv"
    good.write_bytes(corpus.csv_bytes([corpus.LEDGER_HEADER, corpus._ledger_row(凭证号="CLI1")], encoding="gbk"))
    bad = tmp_path / "坏台账.csv"
    bad.write_bytes(corpus.csv_bytes([corpus.LEDGER_HEADER, corpus._ledger_row(凭证号="CLI2", **{"金额（元）": "-5"})]))
    assert cli.main(["import", str(good), "--form", "purchases", "--url", url, "--user", "cli-test"]) == 0
    out = capsys.readouterr().out
    assert "已导入「消费帮扶采购台账」1 行" in out
    assert cli.main(["import", str(good), "--form", "purchases", "--url", url]) == 0
    assert "已于此前导入" in capsys.readouterr().out
    before = imports.store_counts(store)
    assert cli.main(["import", str(bad), "--form", "purchases", "--url", url]) == 1
    out = capsys.readouterr().out
    assert "第2行「金额（元）」：金额为负数" in out and "整个文件未导入" in out
    assert cli.main(["import", str(good), "--form", "beneficiaries", "--url", url]) == 1
    assert "未找到「带贫人员名册」的表头" in capsys.readouterr().out
    assert imports.store_counts(store) == before
    with store.connect() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(s.report_batch).where(s.report_batch.c.submitted_by == "cli-test")
            ).scalar()
            == 1
        )


@pytest.mark.parametrize(
    "typed, period",
    [
        ("2024-05", "2024-05"),
        ("2024-5", "2024-05"),
        ("2024年5月", "2024-05"),
        ("2024.12", "2024-12"),
        ("2024Q2", "2024-Q2"),
        ("2024-q4", "2024-Q4"),
        ("2024年第三季度", "2024-Q3"),
        ("２０２４－０５", "2024-05"),
        ("2024-13", None),
        ("明年", None),
        ("", None),
    ],
)
def test_period_forms(typed, period):
    assert imports._period(typed) == period


def test_preview_shows_masked_numbers_only():
    people = corpus.ben_rows(2)
    result = parse_upload(corpus.csv_bytes([corpus.BEN_HEADER, *people]), "beneficiaries", "x.csv", corpus.TODAY)
    preview = imports.preview_frame(result)
    assert list(preview.columns) == ["行号", "姓名", "身份证（脱敏）", "联系方式（脱敏）", "受益金额（元）"]
    shown = preview.to_csv()
    assert all(p[1] not in shown and p[2] not in shown for p in people)
    assert preview["身份证（脱敏）"].iloc[0] == personal.mask_id_number(people[0][1])
