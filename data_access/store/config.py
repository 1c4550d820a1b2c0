"""Where the store lives: one URL chooses SQLite (default) or PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

ENV_URL = "BANGFU_DATABASE_URL"
ENV_DATA_DIR = "BANGFU_DATA_DIR"
ENV_READ_URL = "BANGFU_READ_DATABASE_URL"

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """The folder for the default SQLite file and caches (``./data`` unless overridden)."""
    path = Path(os.environ.get(ENV_DATA_DIR) or PROJECT_ROOT / "data")
    if path not in _MADE:  # once per folder: this runs on every cached read of every page
        path.mkdir(parents=True, exist_ok=True)
        _MADE.add(path)
    return path


_MADE: set[Path] = set()


def database_url() -> str:
    """The store's SQLAlchemy URL: ``BANGFU_DATABASE_URL`` or ``sqlite:///data/bangfu.db``."""
    url = os.environ.get(ENV_URL, "").strip()
    if url:
        return normalise_url(url)
    return f"sqlite:///{data_dir() / 'bangfu.db'}"


def read_database_url() -> str | None:
    """``BANGFU_READ_DATABASE_URL``: a streaming replica the pages read from (None: they read the store)."""
    url = os.environ.get(ENV_READ_URL, "").strip()
    return normalise_url(url) if url else None


def normalise_url(url: str) -> str:
    """Point plain ``postgresql://`` URLs at the psycopg 3 driver the project ships."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def describe_url(url: str) -> str:
    """The URL as safe to show a user: backend, host and database, never the password."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return f"SQLite 文件 {u.database}"
    host = u.host or "localhost"
    port = f":{u.port}" if u.port else ""
    return f"PostgreSQL {host}{port}/{u.database or ''}"
