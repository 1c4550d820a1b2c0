"""Backup and restore of the whole store, with the personal-data key.

A backup is a directory:

- ``store.dump`` (PostgreSQL: ``pg_dump -Fc``, taken in an exported snapshot so that the row
  counts in the manifest are those of the dump) or ``store.sqlite`` (SQLite: the online backup API,
  ``sqlite3.Connection.backup``, a consistent copy while the app keeps running);
- ``pii.key``: the Fernet key that every encrypted ID and phone number needs (unless ``--no-key``);
- ``MANIFEST.json``: format, store kind, schema revision, time, row counts per table, SHA-256 of
  every file, the key's fingerprint (never the key) and the custody warning.

``restore`` refuses a backup whose manifest is missing or of another format, a file whose checksum
does not match, a backup of the other store kind, a schema revision newer than this program, a key
that conflicts with the one in use, and a target store that holds data (unless ``force``); after
loading it checks the row counts against the manifest and that the key opens the stored ciphertexts,
upgrades an older schema, and appends a ``restore`` row to the audit log. Backups are audited too.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as pkg_metadata
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, select, text

from data_access.store import config, schema
from data_access.store.migrate import alembic_config, schema_is_current, upgrade_schema
from data_access.trust import audit, personal
from data_access.trust.auth import Principal, write_audit

FORMAT = "bangfu-backup/1"
MANIFEST = "MANIFEST.json"
KEY_FILE = "pii.key"
PG_DUMP_FILE = "store.dump"
SQLITE_FILE = "store.sqlite"
# Filled by `init` (reference data and bookkeeping): a store with rows only here counts as empty.
INIT_TABLES = frozenset({"region", "pairing", "policy_rule", "task_group", "store_meta", "alembic_version"})
KEY_WARNING = (
    "警告：本备份包含个人信息密钥 pii.key。没有它，库中所有加密的身份证号、电话将无法恢复；"
    "有了它和数据库，任何人都能读出全部号码。请把 pii.key 与数据库备份分开存放（如离线介质、保密柜），"
    "由指定的密钥保管人保管，不要放进 git、共享盘或邮件。"
)
NO_KEY_WARNING = (
    "警告：本备份未包含个人信息密钥（--no-key）。恢复时必须另行提供备份时使用的同一把密钥"
    "（放回数据目录的 pii.key 或设置 BANGFU_PII_KEY），否则加密的身份证号、电话无法读出。"
)


class BackupError(RuntimeError):
    """A backup or restore refused or failed; ``str()`` is a Chinese message for the operator."""


@dataclass(frozen=True)
class Outcome:
    """What a backup or restore did: the directory, its manifest, seconds, and notes to print."""

    directory: Path
    manifest: dict
    seconds: float
    notes: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# helpers


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def key_fingerprint(key: bytes) -> str:
    """A short public name of a key: equal keys, equal fingerprints; the key cannot be derived."""
    return hashlib.sha256(b"bangfu pii key fingerprint\0" + key.strip()).hexdigest()[:16]


def _key_in_use() -> tuple[bytes | None, str]:
    """The key the app would use now, without creating one: (key or None, where it is)."""
    env = os.environ.get(personal.ENV_PII_KEY, "").strip()
    if env:
        return env.encode("ascii", "replace"), f"环境变量 {personal.ENV_PII_KEY}"
    path = config.data_dir() / personal.KEY_FILE_NAME
    if path.exists():
        return personal.pii_key(), str(path)
    return None, str(path)


def schema_revision(engine: Engine) -> list[str]:
    """The store's Alembic revision(s) (heads it stands at)."""
    with engine.connect() as conn:
        return sorted(MigrationContext.configure(conn).get_current_heads())


def _known_revisions(engine: Engine) -> set[str]:
    return {r.revision for r in ScriptDirectory.from_config(alembic_config(engine)).walk_revisions()}


def _app_version() -> str:
    try:
        return pkg_metadata.version("bangfu-dashboard")
    except pkg_metadata.PackageNotFoundError:
        return "unknown"


def _table_names(conn) -> list[str]:
    return sorted(n for n in inspect(conn).get_table_names() if not n.startswith("sqlite_"))


def row_counts(conn) -> dict[str, int]:
    """Rows in every table of the store (the tables there, not only those this program knows)."""
    q = conn.dialect.identifier_preparer.quote
    return {t: int(conn.execute(text(f"SELECT count(*) FROM {q(t)}")).scalar()) for t in _table_names(conn)}


def holds_data(engine: Engine) -> list[str]:
    """Tables outside the ones ``init`` fills that have rows (empty list: the store counts as empty)."""
    q = engine.dialect.identifier_preparer.quote
    with engine.connect() as conn:
        return [
            t
            for t in _table_names(conn)
            if t not in INIT_TABLES and conn.execute(text(f"SELECT 1 FROM {q(t)} LIMIT 1")).first()
        ]


def _sample_ciphertext(conn) -> str | None:
    if "beneficiary" not in _table_names(conn):
        return None
    return conn.execute(select(schema.beneficiary.c.id_encrypted).limit(1)).scalar()


def pg_tool(name: str) -> str:
    """``pg_dump`` / ``pg_restore``: ``BANGFU_PG_BIN``/name, else on PATH, else the newest under
    /usr/lib/postgresql/*/bin (Debian)."""
    folder = os.environ.get("BANGFU_PG_BIN")
    if folder and (Path(folder) / name).exists():
        return str(Path(folder) / name)
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if versions:
        return str(versions[-1])
    raise BackupError(f"找不到 {name}：请安装 PostgreSQL 客户端（postgresql-client），或设置 BANGFU_PG_BIN")


def _pg_args(engine: Engine) -> tuple[list[str], dict]:
    """Connection options for the PostgreSQL tools and an environment carrying the password."""
    u = engine.url
    args = ["-h", u.host or "localhost", "-p", str(u.port or 5432), "-d", u.database or "postgres"]
    if u.username:
        args += ["-U", u.username]
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return args, env


def _run(cmd: list[str], env: dict, what: str) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise BackupError(f"{what}失败（退出码 {done.returncode}）：" + " / ".join(tail))


def _sqlite_path(engine: Engine) -> Path:
    db = engine.url.database
    if not db or db == ":memory:":
        raise BackupError("内存中的 SQLite 库不能备份或恢复")
    return Path(db)


# ---------------------------------------------------------------------------------------------
# backup


def backup(engine: Engine, out: str | Path, principal: Principal, *, include_key: bool = True) -> Outcome:
    """Write a backup of the store (and the key) to the new or empty directory ``out``; on any
    failure the files written so far are removed (a half-written backup is never left behind)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"备份目录 {out} 不是空的：请指定一个新目录（备份不会覆盖已有文件）")
    out.mkdir(parents=True, exist_ok=True)
    try:
        return _backup_into(engine, out, principal, include_key)
    except BaseException:
        for path in out.iterdir():
            path.unlink()
        raise


def _backup_into(engine: Engine, out: Path, principal: Principal, include_key: bool) -> Outcome:
    t0 = time.perf_counter()
    kind = engine.dialect.name
    created = datetime.now(UTC)
    revision = schema_revision(engine)
    if kind == "postgresql":
        data_file = out / PG_DUMP_FILE
        args, env = _pg_args(engine)
        # One snapshot for the counts and the dump: the manifest describes exactly what was dumped.
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
            counts = row_counts(conn)
            sample = _sample_ciphertext(conn)
            cmd = [pg_tool("pg_dump"), "-Fc", "--no-owner", "--no-privileges", f"--snapshot={snapshot}"]
            _run(cmd + args + ["-f", str(data_file)], env, "pg_dump ")
            conn.rollback()
    elif kind == "sqlite":
        data_file = out / SQLITE_FILE
        src = sqlite3.connect(_sqlite_path(engine), timeout=30)
        dst = sqlite3.connect(data_file)
        try:
            with dst:
                src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            src.close()
            dst.close()
        copy = make_copy_engine(data_file)
        with copy.connect() as conn:
            counts = row_counts(conn)
            sample = _sample_ciphertext(conn)
        copy.dispose()
    else:
        raise BackupError(f"不支持的数据库类型：{kind}")

    notes: list[str] = []
    key, where = _key_in_use()
    if sample is not None and key is None:
        notes.append(f"警告：库中有加密的个人信息，但找不到密钥（{where}）。")
    key_info: dict = {"included": False, "fingerprint": key_fingerprint(key) if key else None, "source": where}
    if key is not None and sample is not None:
        try:
            personal.decrypt_pii(sample, key)
        except personal.PiiKeyError:
            notes.append("警告：当前密钥打不开库中的加密号码：它不是写入这些号码时用的那把密钥。")
    if include_key and key is not None:
        path = out / KEY_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key.strip() + b"\n")
        key_info["included"] = True
    notes.append(KEY_WARNING if key_info["included"] else NO_KEY_WARNING)

    files = {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size} for p in sorted(out.iterdir())}
    manifest = {
        "format": FORMAT,
        "kind": kind,
        "created_at": created.isoformat(timespec="seconds"),
        "app_version": _app_version(),
        "schema_revision": revision,
        "source": _describe(engine),
        "data_file": data_file.name,
        "row_counts": counts,
        "files": files,
        "pii_key": key_info,
        "warning": notes[-1],
    }
    (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    seconds = time.perf_counter() - t0
    detail = {
        "dir": str(out.resolve()),
        "kind": kind,
        "rows": sum(counts.values()),
        "purchases": counts.get("purchase"),
        "key_included": key_info["included"],
        "manifest_sha256": sha256_file(out / MANIFEST),
        "seconds": round(seconds, 1),
    }
    with engine.begin() as conn:
        write_audit(conn, principal.username, "backup", out.name[:128], json.dumps(detail, ensure_ascii=False))
    return Outcome(out, manifest, seconds, tuple(notes))


def make_copy_engine(path: Path) -> Engine:
    """A plain engine on a SQLite file (no pragmas, no rollup router): for reading a backup copy."""
    return create_engine(f"sqlite:///{path}")


def _describe(engine: Engine) -> str:
    return config.describe_url(engine.url.render_as_string(hide_password=True))


# ---------------------------------------------------------------------------------------------
# restore


def read_manifest(directory: str | Path) -> dict:
    """The manifest of a backup, checked: format known, every listed file present with its checksum."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not directory.is_dir():
        raise BackupError(f"备份目录 {directory} 不存在")
    if not path.exists():
        raise BackupError(f"{directory} 不是本系统的备份：缺少 {MANIFEST}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"备份已损坏：{MANIFEST} 无法解析（{exc}）") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else "?"
        raise BackupError(f"备份格式不符：应为 {FORMAT}，实为 {found}")
    for name, info in manifest.get("files", {}).items():
        f = directory / name
        if not f.exists():
            raise BackupError(f"备份不完整：缺少文件 {name}")
        if f.stat().st_size != info["bytes"] or sha256_file(f) != info["sha256"]:
            raise BackupError(f"备份已损坏：{name} 的校验和与 MANIFEST.json 不符（文件被改动或未写完）")
    if manifest.get("data_file") not in manifest.get("files", {}):
        raise BackupError("备份不完整：MANIFEST.json 未列出数据文件")
    return manifest


def _restore_key(directory: Path, manifest: dict, force: bool) -> tuple[bytes | None, str]:
    """Put the backup's key where the app reads it (or check the one in use); (key, note)."""
    info = manifest.get("pii_key") or {}
    want = info.get("fingerprint")
    current, where = _key_in_use()
    if not info.get("included"):
        if want and (current is None or key_fingerprint(current) != want):
            have = key_fingerprint(current) if current else "无"
            raise BackupError(
                f"备份未包含个人信息密钥，而当前密钥（{where}，指纹 {have}）不是备份时的密钥（指纹 {want}）："
                "请先放回原密钥再恢复，否则加密的身份证号无法读出"
            )
        return current, "备份未含密钥：沿用当前密钥（指纹一致）" if want else "备份时没有密钥"
    key = (directory / KEY_FILE).read_bytes().strip()
    if key_fingerprint(key) != want:
        raise BackupError("备份中的 pii.key 与 MANIFEST.json 记录的指纹不符")
    if current is not None and key_fingerprint(current) == want:
        return key, f"密钥与当前一致（{where}）"
    if os.environ.get(personal.ENV_PII_KEY, "").strip():
        raise BackupError(
            f"环境变量 {personal.ENV_PII_KEY} 中的密钥不是备份时的密钥：请把它改为备份目录中 pii.key 的内容后再恢复"
        )
    path = config.data_dir() / personal.KEY_FILE_NAME
    note = f"已写入密钥 {path}"
    if path.exists():
        if not force:
            raise BackupError(f"数据目录中已有另一把密钥 {path}（与备份不同）：确认要替换时加 --force（原密钥会另存）")
        keep = path.with_name(f"{path.name}.replaced-{datetime.now():%Y%m%d%H%M%S}")
        path.rename(keep)
        note = f"已写入密钥 {path}（原密钥另存为 {keep.name}）"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key + b"\n")
    return key, note


def restore(engine: Engine, directory: str | Path, principal: Principal, *, force: bool = False) -> Outcome:
    """Replace the store's contents (and the key) with the backup in ``directory``."""
    t0 = time.perf_counter()
    directory = Path(directory)
    manifest = read_manifest(directory)
    kind = engine.dialect.name
    if manifest.get("kind") != kind:
        names = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}
        raise BackupError(
            f"备份来自 {names.get(manifest.get('kind'), manifest.get('kind'))}，不能恢复到 {names.get(kind, kind)} 库："
            "请用同类数据库恢复"
        )
    unknown = set(manifest.get("schema_revision") or []) - _known_revisions(engine)
    if unknown:
        raise BackupError(f"备份的数据库结构版本（{', '.join(sorted(unknown))}）比本程序新：请先升级程序再恢复")
    busy = holds_data(engine)
    if busy and not force:
        raise BackupError(
            f"目标库 {_describe(engine)} 已有数据（{'、'.join(busy[:5])}{' 等' if len(busy) > 5 else ''}）："
            "恢复会整体覆盖它。确认覆盖请加 --force（建议先对它做一次备份）"
        )
    key, key_note = _restore_key(directory, manifest, force)
    data_file = directory / manifest["data_file"]
    engine.dispose()
    if kind == "postgresql":
        args, env = _pg_args(engine)
        with engine.begin() as conn:
            # The dump recreates every object; what was there goes, tables of a newer schema too.
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        jobs = str(max(1, min(4, os.cpu_count() or 1)))
        cmd = [pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "-j", jobs]
        _run(cmd + args + [str(data_file)], env, "pg_restore ")
    else:
        target = _sqlite_path(engine)
        target.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(data_file)
        try:
            ok = src.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise BackupError(f"备份已损坏：SQLite 文件检查未通过（{ok}）")
            dst = sqlite3.connect(target, timeout=30)
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
    engine.dispose()

    with engine.connect() as conn:
        counts = row_counts(conn)
        sample = _sample_ciphertext(conn)
    expected = manifest.get("row_counts") or {}
    wrong = {t: (n, counts.get(t)) for t, n in expected.items() if counts.get(t) != n}
    if wrong:
        listed = "、".join(f"{t} 应 {a:,} 实 {b if b is not None else '无'}" for t, (a, b) in list(wrong.items())[:5])
        raise BackupError(f"恢复后的行数与备份记录不符：{listed}")
    if sample is not None:
        if key is None:
            raise BackupError("库中有加密的个人信息，但没有可用的密钥：请放回备份时的 pii.key")
        personal.decrypt_pii(sample, key)  # PiiKeyError (Chinese) if the key does not open them
    notes = [key_note]
    if not schema_is_current(engine):
        upgrade_schema(engine)
        notes.append(f"数据库结构已从 {', '.join(manifest.get('schema_revision') or [])} 升级到最新版本")
    verdict = audit.verify_audit(engine)
    notes.append(verdict.message())
    detail = {
        "dir": str(directory.resolve()),
        "backup_created_at": manifest.get("created_at"),
        "kind": kind,
        "schema_revision": manifest.get("schema_revision"),
        "rows": sum(expected.values()),
        "purchases": expected.get("purchase"),
        "forced": bool(busy),
        "audit_chain_ok": verdict.ok,
    }
    with engine.begin() as conn:
        write_audit(conn, principal.username, "restore", directory.name[:128], json.dumps(detail, ensure_ascii=False))
    return Outcome(directory, manifest, time.perf_counter() - t0, tuple(notes))
