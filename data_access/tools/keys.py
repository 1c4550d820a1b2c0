"""Rotating the personal-data key: every encrypted ID and phone number and every ``id_hash`` moves
to a new key in one transaction (``python -m data_access key rotate``).

Order, so that no moment leaves the numbers without a key that opens them: the new key is written
first beside the old one (``pii.key.next``, 0600), the rows are re-encrypted and re-hashed in one
transaction and committed, then the old key is kept as ``pii.key.retired-<time>`` and the new one
takes its place (``os.replace``, atomic). A failure before the commit changes nothing (the
``.next`` file is removed); a crash between the commit and the rename leaves the new key in
``pii.key.next`` — ``rotate`` then refuses to run and says to rename it. With ``BANGFU_PII_KEY``
set, the new key is written to the file given and the operator puts it into the environment.
The rotation is audited (fingerprints only, never a key).
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import Engine, bindparam, select, update

from data_access.store import config
from data_access.store.schema import beneficiary
from data_access.tools.backup import BackupError, key_fingerprint
from data_access.trust import personal
from data_access.trust.auth import ADMIN_ROLES, Principal, require_role, write_audit

CHUNK = 5000


def rotate_key(engine: Engine, principal: Principal, *, new_key_file: str | Path | None = None) -> dict:
    """Re-encrypt and re-hash every beneficiary under a new key; returns what was done."""
    require_role(principal, ADMIN_ROLES, "轮换个人信息密钥")
    t0 = time.perf_counter()
    old = personal.pii_key()
    from_env = bool(os.environ.get(personal.ENV_PII_KEY, "").strip())
    key_path = config.data_dir() / personal.KEY_FILE_NAME
    if from_env:
        if not new_key_file:
            raise BackupError(
                f"密钥来自环境变量 {personal.ENV_PII_KEY}：请用 --new-key-file 指定新密钥的保存位置，轮换后改环境变量"
            )
        staged = Path(new_key_file)
    else:
        staged = key_path.with_name(key_path.name + ".next")
    if staged.exists():
        raise BackupError(
            f"{staged} 已存在：上次轮换可能已提交但未换上新密钥。若库中号码已用它加密，请把它改名为 {key_path.name}；"
            "否则删除它后重试"
        )
    new = Fernet.generate_key()
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(new + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    new_hash_key = personal.pii_hash_key(new)
    n = 0
    try:
        with engine.begin() as conn:
            rows = conn.execute(
                select(beneficiary.c.id, beneficiary.c.id_encrypted, beneficiary.c.phone_encrypted)
            ).all()
            changes = []
            for r in rows:
                id_number = personal.decrypt_pii(r.id_encrypted, old)
                phone = personal.decrypt_pii(r.phone_encrypted, old) if r.phone_encrypted else None
                changes.append(
                    {
                        "rid": r.id,
                        "h": personal.id_hash(id_number, new_hash_key),
                        "i": personal.encrypt_pii(id_number, new),
                        "p": personal.encrypt_pii(phone, new) if phone is not None else None,
                    }
                )
            stmt = (
                update(beneficiary)
                .where(beneficiary.c.id == bindparam("rid"))
                .values(id_hash=bindparam("h"), id_encrypted=bindparam("i"), phone_encrypted=bindparam("p"))
            )
            for start in range(0, len(changes), CHUNK):
                conn.execute(stmt, changes[start : start + CHUNK])
            n = len(changes)
            detail = {
                "old_fingerprint": key_fingerprint(old),
                "new_fingerprint": key_fingerprint(new),
                "beneficiaries": n,
            }
            write_audit(conn, principal.username, "key_rotate", "pii.key", json.dumps(detail))
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    retired = None
    if not from_env:
        retired = key_path.with_name(f"{key_path.name}.retired-{datetime.now():%Y%m%d%H%M%S}")
        os.link(key_path, retired)
        os.replace(staged, key_path)
    return {
        "beneficiaries": n,
        "old_fingerprint": key_fingerprint(old),
        "new_fingerprint": key_fingerprint(new),
        "key_file": str(staged if from_env else key_path),
        "retired": str(retired) if retired else None,
        "seconds": time.perf_counter() - t0,
    }
