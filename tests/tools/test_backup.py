"""Backup and restore on both stores: after a restore into a new store, with the data folder (and so
the personal-data key) lost, the figures, the users, the audit log (its chain verifies) and the
encrypted ID numbers (revealed with the restored key) are all back; mismatched, corrupt and
conflicting restores are refused in Chinese; both are audited."""

from __future__ import annotations

import json
import shutil
from datetime import date

import pytest
from sqlalchemy import func, select

from data_access import cli
from data_access.figures.overview import overview_kpis
from data_access.query.filters import Filters
from data_access.reference.setup import init_store
from data_access.store.config import ENV_DATA_DIR
from data_access.store.schema import audit_log, beneficiary
from data_access.tools import backup, keys
from data_access.tools.demo import generate_demo
from data_access.trust import audit, auth
from data_access.trust.auth import Principal
from data_access.trust.beneficiaries import reveal
from data_access.trust.personal import ENV_PII_KEY, PiiKeyError, decrypt_pii, id_hash, id_number_valid, pii_hash_key

ADMIN = Principal(username="admin1", role="admin", display_name="管理员")


def _state(engine) -> dict:
    f = Filters(start=date(2024, 1, 1), end=date(2026, 12, 31))
    with engine.connect() as conn:
        first = conn.execute(select(func.min(beneficiary.c.id))).scalar()
        audit_rows = conn.execute(select(func.count()).select_from(audit_log)).scalar()
    return {
        "kpis": overview_kpis(engine, f),
        "users": auth.users(engine).to_dict("records"),
        "audit_rows": audit_rows,
        "first_beneficiary": first,
    }


@pytest.fixture(scope="module")
def source_store(databases, tmp_path_factory):
    """A demo store whose key lives in its own data folder, with a user and audit rows (shared by
    the module: the tests compare before and after, and only add audit rows to it)."""
    data_a = tmp_path_factory.mktemp("data-a")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(ENV_PII_KEY, raising=False)
        mp.setenv(ENV_DATA_DIR, str(data_a))
        eng = databases.new_engine()
        init_store(eng)
        generate_demo(eng, scale=3000)
        auth.add_user(eng, auth.cli_principal(), "admin1", "correct horse 1", "admin", None, "管理员")
    yield eng, data_a
    eng.dispose()


@pytest.fixture
def source(source_store, tmp_path, monkeypatch):
    """The shared store, with its data folder (and key) in force and also at ``tmp_path/data-a``."""
    eng, data_a = source_store
    monkeypatch.delenv(ENV_PII_KEY, raising=False)
    monkeypatch.setenv(ENV_DATA_DIR, str(data_a))
    shutil.copytree(data_a, tmp_path / "data-a")
    return eng


def test_restore_brings_back_figures_users_audit_and_readable_ids(source, databases, tmp_path, monkeypatch, capsys):
    before = _state(source)
    id_before = reveal(source, ADMIN, before["first_beneficiary"], "id_number", "备份测试")
    assert id_number_valid(id_before)

    out = tmp_path / "backup"
    url = source.url.render_as_string(hide_password=False)
    assert cli.main(["backup", "--url", url, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "警告" in printed and "pii.key" in printed and "分开存放" in printed
    manifest = json.loads((out / "MANIFEST.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == source.dialect.name
    assert manifest["row_counts"]["purchase"] == 3000
    assert manifest["pii_key"]["included"] and (out / "pii.key").exists()
    assert set(manifest["files"]) == {manifest["data_file"], "pii.key"}
    assert manifest["schema_revision"] == backup.schema_revision(source)
    # The backup itself is audited in the source store (after the dump: the backup holds one row fewer).
    with source.connect() as conn:
        last = conn.execute(select(audit_log.c.action).order_by(audit_log.c.id.desc()).limit(1)).scalar()
    assert last == "backup"

    # Disaster: a new machine — an empty store, and a data folder without the key.
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "data-b"))
    target = databases.new_engine()
    done = backup.restore(target, out, auth.cli_principal())
    assert (tmp_path / "data-b" / "pii.key").read_bytes().strip() == (
        tmp_path / "data-a" / "pii.key"
    ).read_bytes().strip()

    after = _state(target)
    assert after["kpis"] == before["kpis"]
    assert after["users"] == before["users"]
    # Every audit row of the backup, plus the restore's own; the chain verifies.
    assert after["audit_rows"] == manifest["row_counts"]["audit_log"] + 1
    verdict = audit.verify_audit(target)
    assert verdict.ok, verdict.message()
    assert any("审计链校验：通过" in n for n in done.notes)
    with target.connect() as conn:
        row = conn.execute(select(audit_log.c.action, audit_log.c.detail).order_by(audit_log.c.id.desc())).first()
    assert row.action == "restore" and json.loads(row.detail)["purchases"] == 3000
    # The encrypted ID numbers open with the restored key, and the user can sign in.
    assert reveal(target, ADMIN, before["first_beneficiary"], "id_number", "恢复核对") == id_before
    assert auth.authenticate(target, "admin1", "correct horse 1").role == "admin"

    # Again into the same store: it holds data now.
    with pytest.raises(backup.BackupError, match="已有数据.*--force"):
        backup.restore(target, out, auth.cli_principal())
    assert backup.restore(target, out, auth.cli_principal(), force=True).manifest["row_counts"]["purchase"] == 3000
    assert audit.verify_audit(target).ok


def _bad_copy(src, tmp_path, name, edit):
    bad = tmp_path / name
    shutil.copytree(src, bad)
    edit(bad)
    return bad


def _edit_manifest(**changes):
    def edit(d):
        m = json.loads((d / "MANIFEST.json").read_text(encoding="utf-8"))
        m.update(changes)
        (d / "MANIFEST.json").write_text(json.dumps(m), encoding="utf-8")

    return edit


def _flip_byte(d):
    m = json.loads((d / "MANIFEST.json").read_text(encoding="utf-8"))
    f = d / m["data_file"]
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))


def test_restore_refuses_corrupt_mismatched_and_conflicting_backups(source, databases, tmp_path, monkeypatch):
    out = tmp_path / "backup"
    backup.backup(source, out, auth.cli_principal())
    with pytest.raises(backup.BackupError, match="不是空的"):
        backup.backup(source, out, auth.cli_principal())
    other = "sqlite" if source.dialect.name == "postgresql" else "postgresql"
    cases = [
        (_bad_copy(out, tmp_path, "corrupt", _flip_byte), "已损坏.*校验和"),
        (_bad_copy(out, tmp_path, "kind", _edit_manifest(kind=other)), "不能恢复到"),
        (_bad_copy(out, tmp_path, "newer", _edit_manifest(schema_revision=["zz_9999"])), "比本程序新"),
        (_bad_copy(out, tmp_path, "format", _edit_manifest(format="other/9")), "备份格式不符"),
        (_bad_copy(out, tmp_path, "nomanifest", lambda d: (d / "MANIFEST.json").unlink()), "缺少 MANIFEST"),
        (_bad_copy(out, tmp_path, "nodata", lambda d: next(d.glob("store.*")).unlink()), "缺少文件"),
        (tmp_path / "nowhere", "不存在"),
    ]
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "data-b"))
    target = databases.new_engine()
    for bad, message in cases:
        with pytest.raises(backup.BackupError, match=message):
            backup.restore(target, bad, auth.cli_principal())
    # A different key already in the data folder is not replaced without --force; the CLI says why.
    (tmp_path / "data-b").mkdir(exist_ok=True)
    (tmp_path / "data-b" / "pii.key").write_bytes(b"mF4hFq2H0nFZ3xJrO6fXz0Rj7cdQWyDk7n5rJtV1m0A=\n")
    url = target.url.render_as_string(hide_password=False)
    assert cli.main(["restore", str(out), "--url", url]) == 1
    assert backup.holds_data(target) == []
    # A key in the environment that is not the backup's: refused, even with --force.
    monkeypatch.setenv(ENV_PII_KEY, "mF4hFq2H0nFZ3xJrO6fXz0Rj7cdQWyDk7n5rJtV1m0A=")
    with pytest.raises(backup.BackupError, match="BANGFU_PII_KEY"):
        backup.restore(target, out, auth.cli_principal(), force=True)
    monkeypatch.delenv(ENV_PII_KEY)
    done = backup.restore(target, out, auth.cli_principal(), force=True)
    assert any("原密钥另存为" in n for n in done.notes)


def test_backup_without_key_needs_the_same_key_back(source, databases, tmp_path, monkeypatch):
    out = tmp_path / "backup"
    done = backup.backup(source, out, auth.cli_principal(), include_key=False)
    assert not (out / "pii.key").exists() and "未包含" in done.notes[-1]
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "data-b"))
    target = databases.new_engine()
    with pytest.raises(backup.BackupError, match="请先放回原密钥"):
        backup.restore(target, out, auth.cli_principal())
    (tmp_path / "data-b").mkdir(exist_ok=True)
    shutil.copy(tmp_path / "data-a" / "pii.key", tmp_path / "data-b" / "pii.key")
    backup.restore(target, out, auth.cli_principal())
    assert audit.verify_audit(target).ok


def test_key_rotate_reencrypts_every_number_in_one_transaction(source, databases, tmp_path, monkeypatch, capsys):
    out = tmp_path / "backup"
    backup.backup(source, out, auth.cli_principal())
    data_b = tmp_path / "data-b"
    monkeypatch.setenv(ENV_DATA_DIR, str(data_b))
    target = databases.new_engine()
    backup.restore(target, out, auth.cli_principal())
    with target.connect() as conn:
        first = conn.execute(select(beneficiary).order_by(beneficiary.c.id).limit(1)).first()
        people = conn.execute(select(func.count()).select_from(beneficiary)).scalar()
    old_key = (data_b / "pii.key").read_bytes().strip()
    id_number = reveal(target, ADMIN, first.id, "id_number", "轮换前")

    url = target.url.render_as_string(hide_password=False)
    assert cli.main(["key", "rotate", "--url", url]) == 0
    assert "已轮换密钥" in capsys.readouterr().out
    new_key = (data_b / "pii.key").read_bytes().strip()
    assert new_key != old_key
    assert [p.read_bytes().strip() for p in data_b.glob("pii.key.retired-*")] == [old_key]
    with target.connect() as conn:
        after = conn.execute(select(beneficiary).where(beneficiary.c.id == first.id)).first()
        last = conn.execute(select(audit_log.c.action, audit_log.c.detail).order_by(audit_log.c.id.desc())).first()
    assert reveal(target, ADMIN, first.id, "id_number", "轮换后") == id_number
    assert after.id_hash == id_hash(id_number, pii_hash_key(new_key)) != first.id_hash
    with pytest.raises(PiiKeyError):
        decrypt_pii(after.id_encrypted, old_key)
    assert last.action == "key_rotate" and json.loads(last.detail)["beneficiaries"] == people
    assert old_key.decode() not in last.detail and new_key.decode() not in last.detail
    assert audit.verify_audit(target).ok

    # A staged key left by an interrupted rotation: refused, nothing changed.
    (data_b / "pii.key.next").write_bytes(b"x")
    with pytest.raises(backup.BackupError, match="pii.key.next 已存在"):
        keys.rotate_key(target, ADMIN)
    assert reveal(target, ADMIN, first.id, "id_number", "再次核对") == id_number


def test_a_failed_backup_leaves_no_files(source, tmp_path, monkeypatch):
    out = tmp_path / "backup"

    def disk_full(path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backup, "sha256_file", disk_full)
    with pytest.raises(OSError):
        backup.backup(source, out, auth.cli_principal())
    assert out.is_dir() and list(out.iterdir()) == []
