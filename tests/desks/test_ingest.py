"""数据报送 import: every corpus file gives a correct parse or errors naming row and field."""

from __future__ import annotations

import io
import os
import time
from datetime import date

import pytest
from cryptography.fernet import Fernet
from openpyxl import load_workbook

from data_access.desks.ingest import (
    FORMS,
    Limits,
    RowError,
    parse_upload,
    safe_cell,
    safe_frame,
    template_bytes,
)
from data_access.store import config
from data_access.trust import personal
from tests import ingest_corpus as corpus

CASES = corpus.cases()
KEY = Fernet.generate_key()


@pytest.fixture(autouse=True)
def pii_env(monkeypatch, tmp_path):
    monkeypatch.setenv(personal.ENV_PII_KEY, KEY.decode())
    monkeypatch.setenv(config.ENV_DATA_DIR, str(tmp_path))


def test_corpus_is_big_enough():
    assert sum(not c.good for c in CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_file(case: corpus.Case):
    result = parse_upload(case.data, case.form, case.filename, corpus.TODAY, limits=case.limits)
    if case.good:
        assert result.errors == [], [e.message for e in result.errors]
        assert result.ok
        assert len(result.rows) == case.rows
        by_row = result.rows.set_index("source_row")
        for (row, column), expected in case.values.items():
            assert by_row.loc[row, column] == expected, (row, column)
    else:
        assert not result.ok
        assert result.errors, "a bad file must say what is wrong"
        for row, field, text in case.errors:
            hits = [e for e in result.errors if e.row == row and e.field == field and text in e.reason]
            assert hits, f"expected {row}/{field}/{text!r}, got {[e.message for e in result.errors]}"
    for error in result.errors:
        assert error.message and "Traceback" not in error.message
        if error.row is not None:
            assert error.message.startswith(f"第{error.row}行「{error.field}」：")
    if case.note:
        assert any(case.note in n for n in result.notes), result.notes


def test_corpus_writes_files(tmp_path):
    paths = corpus.write_corpus(tmp_path)
    assert len(paths) == len(CASES)
    case = next(c for c in CASES if c.name == "gbk_with_title")
    path = next(p for p in paths if p.name.startswith("gbk_with_title__"))
    from_path = parse_upload(path, case.form, None, corpus.TODAY)
    assert from_path.ok and from_path.encoding == "gb18030" and from_path.header_row == 2
    assert from_path.file_hash == parse_upload(case.data, case.form, "x.csv", corpus.TODAY).file_hash


def test_error_message_format():
    result = parse_upload(
        next(c for c in CASES if c.name == "bad_check_digit").data, "beneficiaries", "名册.csv", corpus.TODAY
    )
    error = result.errors[0]
    assert error.message == f"第2行「身份证」：校验位错误（应为{corpus.BAD_ID_EXPECTED}）"
    assert error.value == personal.mask_id_number(corpus.BAD_ID)
    assert corpus.BAD_ID not in result.message
    assert "1 处错误" in result.message


def test_beneficiary_rows_hold_no_clear_personal_data():
    data = corpus.csv_bytes([corpus.BEN_HEADER, *corpus.ben_rows(3)])
    result = parse_upload(data, "beneficiaries", "名册.csv", corpus.TODAY)
    assert result.ok
    text = result.rows.to_csv()
    for _, id_number, phone, _ in corpus.ben_rows(3):
        assert id_number not in text and phone not in text
    row = result.rows.iloc[0]
    assert personal.decrypt_pii(row["id_cipher"], KEY) == corpus.IDS[0]
    assert personal.decrypt_pii(row["phone_cipher"], KEY) == "13800138000"
    assert row["id_hash"] == personal.id_hash(corpus.IDS[0], personal.pii_hash_key(KEY))


def test_reupload_gives_same_hash_and_rows():
    data = corpus.csv_bytes([corpus.LEDGER_HEADER, *corpus.ledger_rows(5)])
    first = parse_upload(data, "purchases", "台账.csv", corpus.TODAY)
    second = parse_upload(data, "purchases", "台账.csv", corpus.TODAY)
    assert first.file_hash == second.file_hash
    assert first.rows.equals(second.rows)


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_template_has_seed_headers_title_and_example(form, kind):
    data = template_bytes(form, kind)
    spec = FORMS[form]
    if kind == "xlsx":
        rows = list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
    else:
        assert data.startswith(b"\xef\xbb\xbf")
        rows = [line.split(",") for line in data.decode("utf-8-sig").splitlines()]
    assert spec.title in rows[0][0]
    assert [c for c in rows[1] if c] == [f.label for f in spec.fields]
    assert str(rows[2][0]).startswith("示例")
    result = parse_upload(data, form, f"模板.{kind}", corpus.TODAY)
    assert [e.reason for e in result.errors] == ["文件只有表头（第2行），没有数据行"]
    assert any("示例行" in n for n in result.notes)


def test_seed_headers_are_exact():
    assert [f.label for f in FORMS["beneficiaries"].fields] == ["姓名", "身份证", "联系方式", "受益金额"]
    assert [f.label for f in FORMS["proofs"].fields] == [
        "序号",
        "产品名称",
        "卖方",
        "买方",
        "数量",
        "金额",
        "交易时间",
        "备注",
    ]


@pytest.mark.parametrize(
    "value, expected",
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("@SUM(1)", "'@SUM(1)"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("\t=1", "'\t=1"),
        ("\rx", "'\rx"),
        ("大通湖大米", "大通湖大米"),
        ("", ""),
        (12.5, 12.5),
        (None, None),
    ],
)
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


def test_safe_frame_neutralises_text_and_headers():
    import pandas as pd

    df = pd.DataFrame({"=x": ["=1+1", "ok"], "n": [-1, 2]})
    out = safe_frame(df)
    assert list(out.columns) == ["'=x", "n"]
    assert out["'=x"].tolist() == ["'=1+1", "ok"] and out["n"].tolist() == [-1, 2]


def test_oversized_file_is_refused_without_reading(tmp_path, monkeypatch):
    path = corpus.write_oversized(tmp_path / "big.csv")
    assert os.path.getsize(path) > 50 * 1024 * 1024
    opened = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    result = parse_upload(path, "proofs", None, corpus.TODAY)
    assert not opened
    assert [e.row for e in result.errors] == [None]
    assert "超过上限 50.0 MB" in result.errors[0].reason and result.file_hash is None


def test_oversized_bytes_are_refused():
    result = parse_upload(b"x" * (50 * 1024 * 1024 + 1), "proofs", "big.csv", corpus.TODAY)
    assert "超过上限" in result.errors[0].reason


def test_unreadable_path_gives_clear_error(tmp_path):
    result = parse_upload(tmp_path / "missing.csv", "proofs", None, corpus.TODAY)
    assert result.errors[0].reason.startswith("无法读取文件")


def test_error_list_is_capped_but_counted():
    rows = [corpus._proof_row(序号=str(i), 金额="-1", 产品名称=f"米{i}") for i in range(50)]
    result = parse_upload(
        corpus.csv_bytes([corpus.PROOF_HEADER, *rows]), "proofs", "x.csv", corpus.TODAY, limits=Limits(max_errors=10)
    )
    assert result.error_count == 50 and len(result.errors) == 10
    assert [e.row for e in result.errors] == list(range(2, 12))
    assert "列出前 10 处" in result.message


def test_row_error_without_row_reads_plainly():
    assert RowError(None, None, None, "文件为空").message == "文件为空"


@pytest.mark.slow
def test_million_row_ledger_parses(tmp_path):
    path = corpus.write_ledger(tmp_path / "ledger.csv", 1_000_000)
    started = time.perf_counter()
    result = parse_upload(path, "purchases", None, date(2024, 12, 31), limits=Limits(max_bytes=None))
    elapsed = time.perf_counter() - started
    assert result.errors == [] and len(result.rows) == 1_000_000
    assert result.rows["source_row"].iloc[-1] == 1_000_002
    assert result.rows["amount_yuan"].gt(0).all()
    print(f"1M-row ledger: {os.path.getsize(path) / 2**20:.0f} MB parsed in {elapsed:.1f} s")
