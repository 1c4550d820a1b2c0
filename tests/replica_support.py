"""A PostgreSQL primary and a streaming replica of its own, in a temporary folder.

``streaming_pair(5440, 5441)`` runs initdb (as the postgres user when run as root) for a primary
on 127.0.0.1:5440, pg_basebackup -R from it for a replica on 5441, yields their URLs, and stops
both and removes the folder afterwards — the shared server on 5432 is not touched. Skips when
the PostgreSQL 15 binaries are missing (fails under BANGFU_REQUIRE_PG=1).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

BIN = Path(os.environ.get("BANGFU_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_postgres(args: list[str], **kw) -> subprocess.CompletedProcess:
    cmd = [str(BIN / args[0]), *args[1:]]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@contextmanager
def streaming_pair(primary_port: int = 5440, replica_port: int = 5441):
    """Yields ``(primary_url, replica_url)``."""
    if not (BIN / "initdb").exists():
        if os.environ.get("BANGFU_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL binaries not found in {BIN}")
        pytest.skip(f"PostgreSQL binaries not found in {BIN}")
    for port in (primary_port, replica_port):
        if not _port_free(port):
            pytest.fail(f"port {port} is in use (a cluster left by an earlier run?)")
    root = Path(tempfile.mkdtemp(prefix="bangfu-replica-"))
    os.chmod(root, 0o777)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    primary, standby = root / "primary", root / "replica"
    started: list[Path] = []
    try:
        _as_postgres(["initdb", "-D", str(primary), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
        with open(primary / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {primary_port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{root}'\n"
                "wal_level = replica\nmax_wal_senders = 4\nfsync = off\nsynchronous_commit = on\n"
                "shared_buffers = 64MB\n"
            )
        _as_postgres(["pg_ctl", "-D", str(primary), "-l", str(root / "primary.log"), "-w", "start"])
        started.append(primary)
        _as_postgres(
            ["pg_basebackup", "-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres"]
            + ["-D", str(standby), "-R", "-X", "stream", "--no-sync"]
        )
        with open(standby / "postgresql.auto.conf", "a") as conf:
            conf.write(f"port = {replica_port}\nhot_standby = on\n")
        _as_postgres(["pg_ctl", "-D", str(standby), "-l", str(root / "replica.log"), "-w", "start"])
        started.append(standby)
        base = "postgresql+psycopg://postgres@127.0.0.1"
        yield f"{base}:{primary_port}/postgres", f"{base}:{replica_port}/postgres"
    finally:
        for data in reversed(started):
            try:
                _as_postgres(["pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop"])
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(root, ignore_errors=True)


def wait_replayed(primary_engine, replica_engine, timeout: float = 60) -> float:
    """Wait until the replica has replayed everything the primary has written; the seconds it took."""
    from data_access.store import replica

    t0 = time.monotonic()
    position = replica.wal_position(primary_engine)
    while not replica.replayed(replica_engine, position):
        if time.monotonic() - t0 > timeout:
            raise TimeoutError("the replica did not catch up")
        time.sleep(0.05)
    return time.monotonic() - t0
