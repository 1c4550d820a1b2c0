"""网点动态退出 (seeds 001 二（四）, 003 三（三）): a desk moves an outlet between 运营中, 暂停, 拟退出 and
已退出, each step with a reason and the date it takes effect. The outlet row, its history
(``outlet_status_change``, appended, never edited) and the audit row change in one transaction;
then the 督办台账's outlet items are synced, so an outlet proposed for exit is on the ledger with
its reason and date, and its item closes (来源已消除) once the outlet is back in operation or gone.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import Engine, insert, select, update

from data_access.desks.ledger import sync_ledger
from data_access.figures.outlets import STATUS_TRANSITIONS
from data_access.figures.overview import data_as_of
from data_access.query.periods import as_date
from data_access.reference.labels import OUTLET_STATUSES
from data_access.store.schema import outlet, outlet_status_change
from data_access.trust.auth import DESK_ROLES, Principal, require_role, write_audit

__all__ = ["MAX_REASON", "StaleOutlet", "change_outlet_status"]

MAX_REASON = 500


class StaleOutlet(RuntimeError):
    """The outlet changed since it was read (another desk officer or an import came first)."""


def _refusal(current: str, wanted: str) -> str:
    if current == "exited":
        return "已退出的网点不能再变更状态；重新开设的网点请在「基础数据」中登记为新网点。"
    allowed = "、".join(f"「{OUTLET_STATUSES[s]}」" for s in STATUS_TRANSITIONS[current])
    return f"「{OUTLET_STATUSES[current]}」的网点不能直接改为「{OUTLET_STATUSES[wanted]}」，只能改为{allowed}。"


def change_outlet_status(
    engine: Engine,
    principal: Principal,
    outlet_id: int,
    version: int,
    status: str,
    reason: str,
    effective_on: date,
    *,
    today: date | None = None,
    now: datetime | None = None,
) -> dict:
    """Move one outlet to ``status`` with ``reason`` from ``effective_on``; returns ``version`` (the
    outlet's new one) and ``ledger`` (the counts of the 督办台账 sync that follows).

    Desks and admins only (``AccessDenied``). ``StaleOutlet`` when ``version`` is not the outlet's
    current one; ``ValueError`` (a Chinese message safe to show) for an empty reason, a step not in
    ``STATUS_TRANSITIONS``, or a date after ``today``, before the outlet opened or before its
    current status began.
    """
    require_role(principal, DESK_ROLES, "变更网点状态")
    today = today or date.today()
    now = now or datetime.now()
    reason = (reason or "").strip()
    if status not in OUTLET_STATUSES:
        raise ValueError(f"未知的网点状态：{status}")
    if not reason:
        raise ValueError("请填写状态变更的原因（如质量、价格、诚信或带贫效果方面的情况）。")
    if len(reason) > MAX_REASON:
        raise ValueError(f"原因最多 {MAX_REASON} 字，当前 {len(reason)} 字。")
    if effective_on > today:
        raise ValueError(f"生效日期 {effective_on:%Y-%m-%d} 晚于今天（{today:%Y-%m-%d}），不能预先登记。")
    with engine.begin() as conn:
        row = conn.execute(select(outlet).where(outlet.c.id == outlet_id)).first()
        if row is None:
            raise ValueError(f"网点 {outlet_id} 不存在")
        if row.version != version:
            now_is = OUTLET_STATUSES[row.status]
            raise StaleOutlet(f"网点「{row.name}」已被他人更新（当前为「{now_is}」），请刷新后再操作。")
        if status == row.status:
            raise ValueError(f"网点「{row.name}」已是「{OUTLET_STATUSES[status]}」状态。")
        if status not in STATUS_TRANSITIONS[row.status]:
            raise ValueError(_refusal(row.status, status))
        opened, since = as_date(row.opened_on), as_date(row.status_since)
        if opened and effective_on < opened:
            raise ValueError(f"生效日期 {effective_on:%Y-%m-%d} 早于网点开设日期 {opened:%Y-%m-%d}。")
        if since and effective_on < since:
            label = OUTLET_STATUSES[row.status]
            raise ValueError(f"生效日期 {effective_on:%Y-%m-%d} 早于当前状态「{label}」的生效日期 {since:%Y-%m-%d}。")
        done = conn.execute(
            update(outlet)
            .where(outlet.c.id == outlet_id, outlet.c.version == version)
            .values(status=status, status_reason=reason, status_since=effective_on, version=version + 1)
        )
        if done.rowcount != 1:
            raise StaleOutlet(f"网点「{row.name}」已被他人更新，请刷新后再操作。")
        conn.execute(
            insert(outlet_status_change).values(
                outlet_id=outlet_id,
                from_status=row.status,
                to_status=status,
                reason=reason,
                effective_on=effective_on,
                changed_by=(principal.display_name or principal.username)[:64],
                changed_at=now,
            )
        )
        before = dict(status=row.status, status_reason=row.status_reason, status_since=since, version=version)
        after = dict(status=status, status_reason=reason, status_since=effective_on, version=version + 1)
        write_audit(
            conn,
            principal.username,
            "outlet_status",
            f"网点:{row.name}"[:128],
            json.dumps({"before": before, "after": after}, ensure_ascii=False, default=str),
            at=now,
        )
    # The ledger is read from the committed store (a second connection cannot see this transaction
    # on SQLite), on the date the 督办台账 page reads it; a failed sync is caught up by the next one.
    as_of = data_as_of(engine) or today
    counts = sync_ledger(engine, principal, as_of, kinds=("outlet",), now=now)
    return dict(version=version + 1, ledger=counts)
