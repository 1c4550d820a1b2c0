"""Who exported a file and when, as the stamp every CSV / XLSX / PPTX export carries
(``query.export.stamp_line``; the layout per file kind is in ``query.export``)."""

from __future__ import annotations

from datetime import datetime

from data_access.query.export import stamp_line
from data_access.trust.auth import Principal


def who_text(principal: Principal) -> str:
    """「张三（zhangsan）」, or the user name alone when it has no display name."""
    name = principal.display_name or principal.username
    return name if name == principal.username else f"{name}（{principal.username}）"


def export_stamp(principal: Principal, filters: str | None = None, at: datetime | None = None) -> str:
    """The stamp line for a file ``principal`` exports now (or ``at``) under ``filters`` (in words)."""
    return stamp_line(who_text(principal), at or datetime.now(), filters)
