"""Personal data helpers: GB 11643 check digit, masking, keyed hash, encryption, key file."""

from __future__ import annotations

import random
import stat
from datetime import date

import numpy as np
import pytest
from cryptography.fernet import Fernet

from data_access.store import config
from data_access.trust import personal
from data_access.trust.personal import (
    PiiKeyError,
    decrypt_pii,
    encrypt_pii,
    fictional_id_number,
    id_check_digit,
    id_hash,
    id_number_problem,
    id_number_valid,
    mask_id_number,
    mask_phone,
    pii_hash_key,
    pii_key,
)

# The worked example of GB 11643-1999 Annex: 11010519491231002X.
STANDARD_EXAMPLE = "11010519491231002X"


@pytest.mark.parametrize(
    "value, problem",
    [
        (STANDARD_EXAMPLE, None),
        (STANDARD_EXAMPLE.lower(), None),
        ("１１０１０５１９４９１２３１００２Ｘ", None),
        (" 110105 19491231 002X ", None),
        ("110105194912310021", "校验位错误（应为X）"),
        ("11010519491231002", "长度应为18位（实为17位）"),
        ("110105491231002", "为15位旧号码，请填写18位身份证号"),
        ("1101051949123100AX", "含有数字和末位X以外的字符"),
        ("990105194912310021", "前两位地区代码99不是有效的省级代码"),
        ("110105194902300021", "出生日期19490230不存在"),
        ("110105189912310021", "出生日期18991231不合理"),
        ("4.30921E+17", "身份证号被存成了数字（科学计数法），末几位已丢失；请将该列设为文本格式后重新填写"),
        ("", "为空"),
        (None, "为空"),
    ],
)
def test_id_number_problem(value, problem):
    assert id_number_problem(value, today=date(2024, 12, 31)) == problem
    assert id_number_valid(value, today=date(2024, 12, 31)) is (problem is None)


def test_birth_date_in_future_is_invalid():
    first17 = "43092120300101123"
    assert id_number_problem(first17 + id_check_digit(first17), today=date(2024, 1, 1)) == "出生日期20300101不合理"


def test_check_digit_matches_standard_example():
    assert id_check_digit(STANDARD_EXAMPLE[:17]) == "X"


@pytest.mark.parametrize("rng", [random.Random(3), np.random.default_rng(3)])
def test_fictional_id_numbers_are_valid(rng):
    numbers = {fictional_id_number(rng, "433127", date(1970 + i % 40, 1 + i % 12, 1 + i % 28)) for i in range(200)}
    assert all(id_number_valid(n) for n in numbers)
    assert all(n.startswith("433127") for n in numbers)


def test_fictional_id_rejects_bad_region():
    with pytest.raises(ValueError):
        fictional_id_number(random.Random(1), "990000", date(1990, 1, 1))


@pytest.mark.parametrize(
    "value, masked",
    [
        ("430102199001011234", "4301**********1234"),
        ("43010219900101123x", "4301**********123X"),
        ("1234", "****"),
        ("", ""),
    ],
)
def test_mask_id_number(value, masked):
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    "value, masked",
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("5665855", "*****55"),
        ("", ""),
    ],
)
def test_mask_phone(value, masked):
    assert mask_phone(value) == masked


def test_id_hash_matches_equal_ids_only():
    key = b"k" * 32
    assert id_hash(STANDARD_EXAMPLE, key) == id_hash(STANDARD_EXAMPLE.lower(), key)
    assert id_hash(STANDARD_EXAMPLE, key) != id_hash("110105194912310021", key)
    assert id_hash(STANDARD_EXAMPLE, key) != id_hash(STANDARD_EXAMPLE, b"other key")
    assert STANDARD_EXAMPLE not in id_hash(STANDARD_EXAMPLE, key)


def test_encrypt_round_trip_with_env_key(monkeypatch):
    key = Fernet.generate_key()
    monkeypatch.setenv(personal.ENV_PII_KEY, key.decode())
    token = encrypt_pii("13812345678")
    assert "13812345678" not in token and token != encrypt_pii("13812345678")
    assert decrypt_pii(token) == "13812345678"
    with pytest.raises(PiiKeyError):
        decrypt_pii(token, Fernet.generate_key())


def test_malformed_env_key_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(personal.ENV_PII_KEY, "not-a-key")
    with pytest.raises(PiiKeyError, match=personal.ENV_PII_KEY):
        pii_key()


def test_key_file_is_created_private_and_reused(monkeypatch, tmp_path):
    monkeypatch.delenv(personal.ENV_PII_KEY, raising=False)
    monkeypatch.setenv(config.ENV_DATA_DIR, str(tmp_path / "data"))
    key = pii_key()
    path = tmp_path / "data" / personal.KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert pii_key() == key
    assert decrypt_pii(encrypt_pii("张三")) == "张三"


def test_hash_key_is_derived_and_distinct_from_encryption_key():
    key = Fernet.generate_key()
    assert pii_hash_key(key) == pii_hash_key(key)
    assert pii_hash_key(key) != pii_hash_key(Fernet.generate_key())
    assert len(pii_hash_key(key)) == 32
