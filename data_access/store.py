"""Bring a store to the newest schema, fill it, and check that it answers."""

from __future__ import annotations

import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, func, inspect, select

from data_access.config import describe_url
from data_access.db import make_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    """Alembic configuration pointing at the project's migrations and ``engine``'s URL."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def upgrade_schema(engine: Engine) -> None:
    """Run every pending migration; a store already at the head is left as it is."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


def schema_is_current(engine: Engine) -> bool:
    """True when the store is at the newest migration."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    # Feature migrations may branch from the same parent (each page's tables on its own
    # branch); the store is current when it stands at every head.
    heads = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads()) == heads


def init_store(engine: Engine) -> None:
    """Schema to the newest revision, then the reference data (regions, rules, 专班)."""
    from data_access.reference import load_reference_data

    upgrade_schema(engine)
    load_reference_data(engine)


def store_is_empty(engine: Engine) -> bool:
    """True when the store holds no purchases (a fresh default store gets the demo data)."""
    from data_access.schema import purchase

    if not inspect(engine).has_table("purchase"):
        return True
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(select(purchase.c.id).limit(1).subquery())).scalar() == 0


def ensure_store(engine: Engine, *, demo_if_empty: bool = True) -> bool:
    """Make a usable store: schema current, reference data in, demo data if it is empty.

    Returns True when demo data was generated now.
    """
    if not schema_is_current(engine):
        init_store(engine)
    if demo_if_empty and store_is_empty(engine):
        from data_access.demo import generate_demo

        init_store(engine)
        generate_demo(engine)
        return True
    return False


def register_cli(sub) -> None:
    p = sub.add_parser("init", help="建库/升级到最新结构并载入参考数据（可重复执行）")
    p.add_argument("--url", help="数据库 URL（默认读取 BANGFU_DATABASE_URL）")
    p.set_defaults(func=_cli_init)


def _cli_init(args) -> int:
    engine = make_engine(args.url)
    t0 = time.perf_counter()
    init_store(engine)
    print(f"已就绪：{describe_url(str(engine.url))}（{time.perf_counter() - t0:.1f} 秒）")
    return 0
