"""Make a store usable: the schema at its newest revision, then the reference data in."""

from __future__ import annotations

from sqlalchemy import Engine

from data_access.reference.seeds import load_reference_data
from data_access.store.migrate import schema_is_current, upgrade_schema


def init_store(engine: Engine) -> None:
    """Schema to the newest revision, then the reference data (regions, rules, 专班); repeatable."""
    upgrade_schema(engine)
    load_reference_data(engine)


def ensure_store(engine: Engine) -> None:
    """``init_store`` unless the store already stands at the newest revision."""
    if not schema_is_current(engine):
        init_store(engine)
