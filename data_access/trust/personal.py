"""Personal data of beneficiaries (带贫人员): ID-number checks, masking, keyed hashing, encryption.

ID and phone numbers are sensitive personal information (DESIGN §7). The store keeps, for each,
a masked form for display, a Fernet ciphertext for the few roles that may see it, and (for IDs)
a keyed HMAC so that the same person can be matched across reports without storing the number.

Key: ``BANGFU_PII_KEY`` (a Fernet key, ``Fernet.generate_key()``). Without it a key file
``pii.key`` is created in the data folder (``BANGFU_DATA_DIR``, default ``./data``) with mode
0600 on first use. Losing the key makes stored ciphertexts unreadable and changes every
``id_hash``; back the key up with the database, and keep it out of the database and of git.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from datetime import date
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from data_access.store import config

__all__ = [
    "ENV_PII_KEY",
    "PiiKeyError",
    "decrypt_pii",
    "encrypt_pii",
    "fictional_id_number",
    "id_check_digit",
    "id_hash",
    "id_number_problem",
    "id_number_valid",
    "mask_id_number",
    "mask_phone",
    "normalise_id_number",
    "pii_hash_key",
    "pii_key",
]

ENV_PII_KEY = "BANGFU_PII_KEY"
KEY_FILE_NAME = "pii.key"

_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]
_CHECK_CHARS = "10X98765432"
# GB/T 2260 province-level codes; 71/81/82 are Taiwan, Hong Kong, Macao and 83 the code on
# residence permits of Taiwan residents, all of which appear on mainland ID-format numbers.
_PROVINCES = frozenset(
    [
        11,
        12,
        13,
        14,
        15,
        21,
        22,
        23,
        31,
        32,
        33,
        34,
        35,
        36,
        37,
        41,
        42,
        43,
        44,
        45,
        46,
        50,
        51,
        52,
        53,
        54,
        61,
        62,
        63,
        64,
        65,
        71,
        81,
        82,
        83,
    ]
)
_FULLWIDTH = {0xFF10 + i: 0x30 + i for i in range(10)} | {0xFF38: ord("X"), 0xFF58: ord("X")}
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?E\+?\d+$")


class PiiKeyError(RuntimeError):
    """The personal-data key is missing, unreadable or malformed."""


def normalise_id_number(s: object) -> str:
    """The ID number as written, without spaces, full-width digits turned half-width, x as X."""
    if s is None:
        return ""
    text = str(s).translate(_FULLWIDTH).strip()
    return re.sub(r"\s+", "", text).upper()


def id_check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character (0-9 or X) for the first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def id_number_problem(s: object, today: date | None = None) -> str | None:
    """What is wrong with a GB 11643-1999 citizen ID number, in Chinese; None if it is valid."""
    n = normalise_id_number(s)
    if not n:
        return "为空"
    if _SCIENTIFIC.match(n):
        return "身份证号被存成了数字（科学计数法），末几位已丢失；请将该列设为文本格式后重新填写"
    if len(n) == 15 and n.isdigit():
        return "为15位旧号码，请填写18位身份证号"
    if len(n) != 18:
        return f"长度应为18位（实为{len(n)}位）"
    if not n[:17].isdigit() or not (n[17].isdigit() or n[17] == "X"):
        return "含有数字和末位X以外的字符"
    if int(n[:2]) not in _PROVINCES:
        return f"前两位地区代码{n[:2]}不是有效的省级代码"
    try:
        born = date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError:
        return f"出生日期{n[6:14]}不存在"
    if born.year < 1900 or born > (today or date.today()):
        return f"出生日期{n[6:14]}不合理"
    expected = id_check_digit(n[:17])
    if n[17] != expected:
        return f"校验位错误（应为{expected}）"
    return None


def id_number_valid(s: object, today: date | None = None) -> bool:
    """True for an 18-character ID number with a valid region prefix, birth date and check digit."""
    return id_number_problem(s, today) is None


def mask_id_number(s: object) -> str:
    """The ID number with all but its first 4 and last 4 characters as ``*``."""
    n = normalise_id_number(s)
    if len(n) <= 8:
        return "*" * len(n)
    return n[:4] + "*" * (len(n) - 8) + n[-4:]


def mask_phone(s: object) -> str:
    """A mobile number as ``138****5678``; a shorter landline keeps only its last two digits."""
    digits = re.sub(r"\D", "", "" if s is None else str(s).translate(_FULLWIDTH))
    if len(digits) >= 11:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    if len(digits) <= 2:
        return "*" * len(digits)
    return "*" * (len(digits) - 2) + digits[-2:]


def id_hash(s: object, key: bytes) -> str:
    """Hex HMAC-SHA256 of the normalised ID number: equal IDs match, the ID cannot be recovered."""
    return hmac.new(key, normalise_id_number(s).encode("ascii", "replace"), hashlib.sha256).hexdigest()


def _check_key(raw: bytes, origin: str) -> bytes:
    raw = raw.strip()
    try:
        Fernet(raw)
    except (ValueError, TypeError) as exc:
        raise PiiKeyError(f"{origin} 不是有效的 Fernet 密钥（应为 32 字节的 urlsafe base64）") from exc
    return raw


def pii_key(data_dir: Path | None = None) -> bytes:
    """The Fernet key: ``BANGFU_PII_KEY``, else ``<data folder>/pii.key`` (created 0600 if absent)."""
    env = os.environ.get(ENV_PII_KEY, "").strip()
    if env:
        return _check_key(env.encode("ascii", "replace"), f"环境变量 {ENV_PII_KEY}")
    folder = Path(data_dir) if data_dir else config.data_dir()
    path = folder / KEY_FILE_NAME
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: when two processes start at once, only one writes and both read its key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key())
    try:
        return _check_key(path.read_bytes(), f"密钥文件 {path}")
    except OSError as exc:
        raise PiiKeyError(f"无法读取密钥文件 {path}：{exc.strerror}") from exc


@lru_cache(maxsize=8)
def _fernet(key: bytes) -> Fernet:
    return Fernet(key)


def pii_hash_key(key: bytes | None = None) -> bytes:
    """The HMAC key for ``id_hash``, derived from the Fernet key so there is one secret to keep."""
    raw = base64.urlsafe_b64decode(key or pii_key())
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"bangfu id_hash v1").derive(raw)


def encrypt_pii(s: str, key: bytes | None = None) -> str:
    """A Fernet token (ASCII text) holding ``s``; each call gives a different token."""
    return _fernet(key or pii_key()).encrypt(s.encode("utf-8")).decode("ascii")


def decrypt_pii(token: str, key: bytes | None = None) -> str:
    """The text inside a token made by ``encrypt_pii``; PiiKeyError if the key does not fit."""
    try:
        return _fernet(key or pii_key()).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise PiiKeyError("密文无法用当前密钥解密（密钥不符或密文已损坏）") from exc


def fictional_id_number(rng, region_code: str | int, birth_date: date) -> str:
    """A made-up ID number of valid format for demo data (``rng``: random.Random or numpy Generator).

    Any valid-format number may belong to someone; use these only in data labelled as demo.
    """
    region = f"{int(region_code):06d}"
    if len(region) != 6 or int(region[:2]) not in _PROVINCES:
        raise ValueError(f"region_code {region_code!r} is not a 6-digit code with a province prefix")
    seq = int(rng.integers(0, 1000)) if hasattr(rng, "integers") else rng.randrange(1000)
    first17 = f"{region}{birth_date:%Y%m%d}{seq:03d}"
    return first17 + id_check_digit(first17)
