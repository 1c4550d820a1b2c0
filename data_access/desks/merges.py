"""Merging duplicates, and undoing a merge: purchases reported under 「珠海一中」 and 「珠海市第一中学」
become one unit; two products an import created for one thing become one product.

A merge moves every row that points at the duplicate (found from the schema's foreign keys, so a
table added later is moved too) to the unit or product kept, records exactly which rows moved, and
deactivates the duplicate: a unit is marked inactive and its name becomes an alias of the unit
kept (the next upload under that name lands there); a product is marked ``merged_into`` (imports
then resolve its name to the product kept). Purchases move with the rollups kept exact
(``rollup.reassign``). Undoing moves back exactly the rows recorded, nothing else. Both are one
transaction with an audit row on each side.
"""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, delete, insert, select, update

from data_access.desks.imports import _norm
from data_access.desks.registers import row_subject
from data_access.store import rollup
from data_access.store import schema as s
from data_access.trust.auth import ADMIN_ROLES, Principal, require_role, write_audit

__all__ = ["MergeRefused", "merge_products", "merge_units", "merges_frame", "product_choices", "undo_merge"]


class MergeRefused(ValueError):
    """A merge or undo that cannot be done; ``str()`` says why in Chinese."""


def _references(target: str) -> list[tuple[object, object]]:
    """(table, column) of every foreign key onto ``target``.id, from the schema."""
    found = []
    for table in s.metadata.sorted_tables:
        for column in table.c:
            if any(fk.target_fullname == f"{target}.id" for fk in column.foreign_keys):
                found.append((table, column))
    return found


def _pk(table):
    cols = list(table.primary_key.columns)
    return cols[0] if len(cols) == 1 else None


def _chunks(ids: list, size: int = 5000):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _move(conn, table, column, from_id: int, into_id: int) -> list[int]:
    """Point ``table.column`` rows at ``into_id`` instead of ``from_id``; the moved rows' ids."""
    pk = _pk(table)
    ids = [i for (i,) in conn.execute(select(pk).where(column == from_id).order_by(pk))]
    if table is s.purchase:
        rollup.reassign(conn, ids, **{column.name: into_id})
    else:
        for part in _chunks(ids):
            conn.execute(update(table).where(pk.in_(part)).values({column.name: into_id}))
    return ids


def _unit(conn, name: str):
    u = s.buyer_unit
    row = conn.execute(select(u).where(u.c.name == _norm(name))).first()
    if row is None:
        raise MergeRefused(f"单位「{name}」不在单位名录中")
    return row


def merge_units(engine: Engine, principal: Principal, duplicate: str, keep: str, reason: str) -> int:
    """Merge the unit ``duplicate`` into ``keep`` (names as registered); returns the merge's id.

    Everything pointing at the duplicate moves: purchases, budget years, report batches, aliases,
    child units, accounts, benefits. Refused when both have a budget for the same year (which one
    is right is for the office to say), when ``keep`` sits under ``duplicate``, or without a reason."""
    require_role(principal, ADMIN_ROLES, "合并单位")
    reason = (reason or "").strip()
    if not reason:
        raise MergeRefused("请填写合并原因（如：同一单位的简称与全称）")
    u, b = s.buyer_unit, s.unit_budget
    with engine.begin() as conn:
        dup, kept = _unit(conn, duplicate), _unit(conn, keep)
        if dup.id == kept.id:
            raise MergeRefused("不能把单位合并到它自己")
        if not dup.active or not kept.active:
            which = dup if not dup.active else kept
            raise MergeRefused(f"单位「{which.name}」已停用或已被合并，不能再合并")
        if kept.parent_id == dup.id:
            raise MergeRefused(f"「{kept.name}」是「{dup.name}」的下级单位：请先修改其上级单位")
        years_dup = {y for (y,) in conn.execute(select(b.c.year).where(b.c.unit_id == dup.id))}
        years_kept = {y for (y,) in conn.execute(select(b.c.year).where(b.c.unit_id == kept.id))}
        both = sorted(years_dup & years_kept)
        if both:
            raise MergeRefused(
                f"两个单位都有 {'、'.join(map(str, both))} 年度的预算："
                "请先在“年度预算与预留份额”中核对，保留一行后再合并"
            )
        moved: dict[str, list] = {}
        for table, column in _references("buyer_unit"):
            if table is b or _pk(table) is None:  # budget years move below (their key is the unit)
                continue
            # Child units move too (never the kept unit itself: checked above).
            ids = _move(conn, table, column, dup.id, kept.id)
            if ids:
                moved[f"{table.name}.{column.name}"] = ids
        if years_dup:
            conn.execute(update(b).where(b.c.unit_id == dup.id).values(unit_id=kept.id, version=b.c.version + 1))
            moved["unit_budget.year"] = sorted(years_dup)
        conn.execute(insert(s.unit_alias).values(alias=dup.name, unit_id=kept.id))
        moved["added_alias"] = [dup.name]
        conn.execute(update(u).where(u.c.id == dup.id).values(active=False, version=u.c.version + 1))
        merge_id = _record(conn, principal, "unit", dup.id, kept.id, reason, moved)
        summary = _summary(moved)
        for name in (dup.name, kept.name):
            subject = row_subject("units", name)
            _audit(conn, principal, "register_merge", subject, merge_id, dup.name, kept.name, summary)
    return merge_id


def merge_products(engine: Engine, principal: Principal, duplicate_id: int, keep_id: int, reason: str) -> int:
    """Merge the product ``duplicate_id`` into ``keep_id``: its purchases, price series, warnings and
    benefits move; it is marked ``merged_into`` so imports find the product kept. Returns the merge id."""
    require_role(principal, ADMIN_ROLES, "合并产品")
    reason = (reason or "").strip()
    if not reason:
        raise MergeRefused("请填写合并原因（如：同一产品的不同写法）")
    p = s.product
    with engine.begin() as conn:
        dup = conn.execute(select(p).where(p.c.id == duplicate_id)).first()
        kept = conn.execute(select(p).where(p.c.id == keep_id)).first()
        if dup is None or kept is None:
            raise MergeRefused("产品不在产品名库中（可能已被合并），请刷新后重选")
        if dup.id == kept.id:
            raise MergeRefused("不能把产品合并到它自己")
        if dup.merged_into is not None or kept.merged_into is not None:
            raise MergeRefused("该产品已被合并，不能再合并")
        ps = s.price_series
        clash = conn.execute(
            select(ps.c.region_code, ps.c.market)
            .where(ps.c.product_id == dup.id)
            .intersect(select(ps.c.region_code, ps.c.market).where(ps.c.product_id == kept.id))
        ).first()
        if clash is not None:
            raise MergeRefused(f"两个产品在同一监测点（{clash[1] or clash[0]}）都有价格序列，不能合并")
        moved: dict[str, list] = {}
        for table, column in _references("product"):
            if _pk(table) is None or table is p:
                continue
            ids = _move(conn, table, column, dup.id, kept.id)
            if ids:
                moved[f"{table.name}.{column.name}"] = ids
        conn.execute(update(p).where(p.c.id == dup.id).values(merged_into=kept.id, version=p.c.version + 1))
        merge_id = _record(conn, principal, "product", dup.id, kept.id, reason, moved)
        summary = _summary(moved)
        for row in (dup, kept):
            subject = row_subject("products", row.name, row.origin_code)
            _audit(conn, principal, "register_merge", subject, merge_id, dup.name, kept.name, summary)
    return merge_id


def undo_merge(engine: Engine, principal: Principal, merge_id: int) -> None:
    """Move back exactly the rows a merge moved and bring the duplicate back; refused when undone already."""
    require_role(principal, ADMIN_ROLES, "撤销合并")
    m = s.register_merge
    with engine.begin() as conn:
        rec = conn.execute(select(m).where(m.c.id == merge_id)).first()
        if rec is None:
            raise MergeRefused("没有这次合并记录")
        if rec.undone_at is not None:
            raise MergeRefused(f"这次合并已于 {rec.undone_at:%Y-%m-%d %H:%M} 由 {rec.undone_by} 撤销")
        moved = json.loads(rec.moved)
        tables = {t.name: t for t in s.metadata.sorted_tables}
        for key, ids in moved.items():
            if key in ("added_alias", "unit_budget.year"):
                continue
            name, col = key.split(".")
            table = tables[name]
            column, pk = table.c[col], _pk(table)
            if table is s.purchase:
                rollup.reassign(conn, ids, **{col: rec.from_id})
                continue
            for part in _chunks(ids):
                conn.execute(update(table).where(pk.in_(part), column == rec.into_id).values({col: rec.from_id}))
        if rec.kind == "unit":
            u, b = s.buyer_unit, s.unit_budget
            years = moved.get("unit_budget.year", [])
            if years:
                conn.execute(
                    update(b)
                    .where(b.c.unit_id == rec.into_id, b.c.year.in_(years))
                    .values(unit_id=rec.from_id, version=b.c.version + 1)
                )
            conn.execute(delete(s.unit_alias).where(s.unit_alias.c.alias.in_(moved.get("added_alias", []))))
            conn.execute(update(u).where(u.c.id == rec.from_id).values(active=True, version=u.c.version + 1))
            names = dict(conn.execute(select(u.c.id, u.c.name).where(u.c.id.in_([rec.from_id, rec.into_id]))).all())
            subjects = [row_subject("units", names[rec.from_id]), row_subject("units", names[rec.into_id])]
        else:
            p = s.product
            conn.execute(update(p).where(p.c.id == rec.from_id).values(merged_into=None, version=p.c.version + 1))
            rows = {r.id: r for r in conn.execute(select(p).where(p.c.id.in_([rec.from_id, rec.into_id])))}
            names = {i: r.name for i, r in rows.items()}
            subjects = [row_subject("products", r.name, r.origin_code) for r in rows.values()]
        conn.execute(
            update(m)
            .where(m.c.id == merge_id)
            .values(undone_by=principal.username[:64], undone_at=datetime.now().replace(microsecond=0))
        )
        for subject in subjects:
            _audit(
                conn,
                principal,
                "register_unmerge",
                subject,
                merge_id,
                names[rec.from_id],
                names[rec.into_id],
                _summary(moved),
            )


def merges_frame(engine: Engine, kind: str) -> pd.DataFrame:
    """The merges of one kind, newest first, with what moved and whether undone: the page's list."""
    m = s.register_merge
    t = s.buyer_unit if kind == "unit" else s.product
    with engine.connect() as conn:
        names = dict(conn.execute(select(t.c.id, t.c.name)).all())
        rows = conn.execute(select(m).where(m.c.kind == kind).order_by(m.c.id.desc())).all()
    data = [
        {
            "编号": r.id,
            "被合并": names.get(r.from_id, r.from_id),
            "合并到": names.get(r.into_id, r.into_id),
            "原因": r.reason,
            "移动": _summary(json.loads(r.moved)),
            "操作人": r.merged_by,
            "时间": r.merged_at,
            "状态": f"已撤销（{r.undone_by}）" if r.undone_at else "有效",
        }
        for r in rows
    ]
    return pd.DataFrame(data, columns=["编号", "被合并", "合并到", "原因", "移动", "操作人", "时间", "状态"])


def product_choices(engine: Engine) -> pd.DataFrame:
    """Products not merged away (id, name, origin county), for choosing a merge's two sides."""
    p, r = s.product, s.region
    with engine.connect() as conn:
        rows = conn.execute(
            select(p.c.id, p.c.name, r.c.name)
            .join(r, r.c.code == p.c.origin_code)
            .where(p.c.merged_into.is_(None))
            .order_by(p.c.name, r.c.name)
        ).all()
    return pd.DataFrame([list(x) for x in rows], columns=["id", "产品名称", "产地"])


_WHAT = {
    "purchase": "采购记录",
    "unit_budget": "年度预算",
    "report_batch": "报送批次",
    "unit_alias": "别名",
    "buyer_unit": "下级单位",
    "app_user": "用户",
    "benefit": "受益记录",
    "price_series": "价格序列",
    "warning": "预警",
    "warning_action": "预警处置",
}


def _summary(moved: dict[str, list]) -> str:
    parts = [f"{_WHAT.get(k.split('.')[0], k)} {len(v):,} 条" for k, v in moved.items() if k != "added_alias" and v]
    return "、".join(parts) or "无关联记录"


def _record(conn, principal: Principal, kind: str, from_id: int, into_id: int, reason: str, moved: dict) -> int:
    return conn.execute(
        insert(s.register_merge)
        .values(
            kind=kind,
            from_id=from_id,
            into_id=into_id,
            reason=reason[:1000],
            moved=json.dumps(moved),
            merged_by=principal.username[:64],
            merged_at=datetime.now().replace(microsecond=0),
        )
        .returning(s.register_merge.c.id)
    ).scalar()


def _audit(conn, principal, action, subject, merge_id, dup, kept, summary) -> None:
    what = "合并" if action == "register_merge" else "撤销合并"
    detail = {"what": what, "merge": merge_id, "before": {"duplicate": dup}, "after": {"kept": kept, "moved": summary}}
    write_audit(conn, principal.username, action, subject, json.dumps(detail, ensure_ascii=False))
