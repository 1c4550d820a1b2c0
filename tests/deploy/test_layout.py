"""The nginx site and run-local without a browser: the shipped site is the rendered one, nginx
accepts it, and run-local prints its JSON line, keeps a browser on one process, moves it when
that process dies, and stops everything on SIGTERM (ports 8670–8672)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))
import layout  # noqa: E402

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def test_the_shipped_site_is_the_rendered_one():
    assert (ROOT / "deploy" / "nginx" / "bangfu.conf").read_text() == layout.site(layout.ports(4))
    unit = (ROOT / "deploy" / "systemd" / "bangfu@.service").read_text()
    for arg in layout.streamlit_args(8501):
        assert arg.replace("8501", "%i") in unit, arg
    assert f"client_max_body_size {layout.UPLOAD_LIMIT_MB + 1}m;" in layout.site([8501])


def test_nginx_accepts_the_site():
    if not Path(NGINX).exists():
        pytest.skip("nginx not installed")
    prefix = Path(tempfile.mkdtemp(prefix="bangfu-nginx-t-"))
    try:
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (prefix / "tmp" / sub).mkdir(parents=True)
        conf = prefix / "nginx.conf"
        conf.write_text(layout.standalone_conf(str(prefix), [8671, 8672], "127.0.0.1:8670"))
        done = subprocess.run([NGINX, "-t", "-p", str(prefix), "-c", str(conf)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


def _get(url: str, node: str | None = None) -> tuple[str, str]:
    req = urllib.request.Request(url, headers={"Cookie": f"bangfu_node={node}"} if node else {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        cookie = [v for k, v in resp.headers.items() if k.lower() == "set-cookie" and "bangfu_node=" in v]
        return resp.read().decode(), cookie[0].split(";")[0].split("=", 1)[1]


def test_run_local_sticks_moves_and_stops(tmp_path):
    if not Path(NGINX).exists():
        pytest.skip("nginx not installed")
    env = dict(os.environ, BANGFU_DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}", BANGFU_DEMO="0")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "deploy" / "run-local"), "2", "--port", "8670"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(proc.stdout.readline())
        assert info["url"] == "http://127.0.0.1:8670" and [p["port"] for p in info["processes"]] == [8671, 8672]
        body, first = _get(info["url"] + "/_stcore/health")
        assert body == "ok"
        for _ in range(4):  # sticky: the cookie keeps the browser on the process that served it
            assert _get(info["url"] + "/_stcore/health", first)[1] == first
        pid = {f"127.0.0.1:{p['port']}": p["pid"] for p in info["processes"]}[first]
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        t0 = time.monotonic()
        body, moved = _get(info["url"] + "/_stcore/health", first)
        print(f"\nnginx moved the request in {(time.monotonic() - t0) * 1000:.0f} ms")
        assert body == "ok" and moved != first  # same request, the other process, the cookie follows
        assert _get(info["url"] + "/_stcore/health", moved)[1] == moved
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    assert not Path(info["prefix"]).exists()
    for p in [info["nginx_pid"], *(x["pid"] for x in info["processes"])]:
        with pytest.raises(ProcessLookupError):
            os.kill(p, 0)
