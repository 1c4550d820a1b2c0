"""The joint meeting's pack: one XLSX with the ledger by 专班, what changed since the last
meeting, every open item and the year's reporting compliance."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from data_access.figures.compliance import compliance, compliance_summary
from data_access.figures.ledger import (
    ITEM_KINDS,
    group_summary,
    group_table,
    ledger_items,
    ledger_table,
    since_meeting,
)
from data_access.query.export import xlsx_bytes
from data_access.query.filters import Filters

__all__ = ["meeting_pack"]


def meeting_pack(
    engine: Engine,
    since: date | None,
    as_of: date,
    owner_group: str | None = None,
    kinds: tuple[str, ...] = (),
    stamp: str | None = None,
) -> bytes:
    """The XLSX for the joint meeting: a line per 专班 (whole ledger only), what changed since
    ``since`` (new, closed, overdue, progress), every open item, and reporting compliance of the year."""
    sheets, notes = {}, {}
    scope = "、".join(ITEM_KINDS[k] for k in kinds) if kinds else "全部来源"
    if owner_group is None:
        sheets["按专班"] = group_table(group_summary(engine, since, as_of, kinds))
        notes["按专班"] = f"截至 {as_of:%Y-%m-%d}（{scope}）" + (
            f"；会后指上次联席会议 {since:%Y-%m-%d} 之后" if since is not None else ""
        )
    if since is not None:
        changed = since_meeting(engine, since, as_of, owner_group, kinds)
        for key, name in (("new", "新增事项"), ("closed", "已办结"), ("overdue", "逾期事项"), ("progress", "有进展")):
            sheets[name] = ledger_table(changed[key])
            notes[name] = f"上次联席会议 {since:%Y-%m-%d} 之后至 {as_of:%Y-%m-%d}"
    sheets["全部在办"] = ledger_table(ledger_items(engine, as_of, owner_group, kinds))
    notes["全部在办"] = f"截至 {as_of:%Y-%m-%d} 未办结的台账事项"
    summary = compliance_summary(compliance(engine, Filters(start=date(as_of.year, 1, 1), end=as_of), as_of))
    sheets["报送情况"] = summary.rename(
        columns={
            "jurisdiction_name": "辖区",
            "period": "报送期",
            "due_date": "截止日期",
            "on_time": "按时",
            "late": "逾期补报",
            "missing": "逾期未报",
            "not_due": "未到期",
            "on_time_rate": "按时率",
        }
    )
    notes["报送情况"] = "来源：报送批次（report_batch）；报送规则见政策规则表"
    return xlsx_bytes(sheets, notes, stamp=stamp)
