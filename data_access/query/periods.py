"""Dates as the figures count them: a stored value as a date, and 时间进度 (time progress)."""

from __future__ import annotations

from datetime import date, datetime


def as_date(value) -> date | None:
    """A stored DATE or DATETIME value (a date, a datetime, or ISO text on SQLite) as a ``date``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def time_progress(as_of: date) -> float:
    """时间进度: share of the calendar year elapsed at the end of ``as_of`` (0–1)."""
    start = date(as_of.year, 1, 1)
    days = (date(as_of.year + 1, 1, 1) - start).days
    return ((as_of - start).days + 1) / days
