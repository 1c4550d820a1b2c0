"""What the store says about itself (``store_meta``): whether its data came from the demo generator."""

from __future__ import annotations

from sqlalchemy import Engine, func, inspect, select

from data_access.store.schema import purchase, store_meta


def is_demo_store(engine: Engine) -> bool:
    """True when the store's data came from the demo generator (the UI marks it 演示数据)."""
    with engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(store_meta).where(store_meta.c.key == "demo_seed")).scalar()
            > 0
        )


def store_is_empty(engine: Engine) -> bool:
    """True when the store holds no purchases (a fresh default store gets the demo data)."""
    if not inspect(engine).has_table("purchase"):
        return True
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(select(purchase.c.id).limit(1).subquery())).scalar() == 0
