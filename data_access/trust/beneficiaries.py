"""带贫人员 — beneficiaries and their benefits, for the roles that may see personal data.

Lists show masked ID and phone numbers only. A full number comes from ``reveal`` alone, which
refuses roles outside ``auth.REVEAL_ROLES`` and writes who, when, which record and why to
``audit_log`` in the same transaction (never the number itself). Reporters see only the
beneficiaries with benefits from their own unit, and only those benefits.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, and_, exists, func, select

from data_access.query.filters import in_region
from data_access.store.db import frame
from data_access.store.meta import is_demo_store
from data_access.store.schema import beneficiary, benefit, buyer_unit, product, region
from data_access.trust.auth import (
    PERSONAL_DATA_ROLES,
    REVEAL_ROLES,
    AccessDenied,
    Principal,
    require_role,
    write_audit,
)
from data_access.trust.personal import decrypt_pii, id_hash, normalise_id_number, pii_hash_key

LIST_COLUMNS = [
    "id",
    "name",
    "id_masked",
    "phone_masked",
    "region_code",
    "region_name",
    "benefits",
    "benefit_amount",
    "last_period",
]
FIELDS = {"id_number": ("id_encrypted", "身份证号"), "phone": ("phone_encrypted", "联系电话")}


def _unit_condition(principal: Principal):
    if principal.role != "reporter":
        return None
    if principal.unit_id is None:
        raise AccessDenied("报送单位账号未关联单位，无法查看带贫人员。")
    return benefit.c.unit_id == principal.unit_id


def _visible(principal: Principal):
    """Condition on beneficiary rows the principal may see (reporters: those their unit benefited)."""
    cond = _unit_condition(principal)
    if cond is None:
        return True
    return exists().where(and_(benefit.c.beneficiary_id == beneficiary.c.id, cond))


def beneficiary_list(
    engine: Engine,
    principal: Principal,
    name: str = "",
    id_number: str = "",
    region_code: str | None = None,
    limit: int = 200,
) -> tuple[pd.DataFrame, int]:
    """Beneficiaries matching the search, masked, with ``benefits`` (count), ``benefit_amount``
    (yuan) and ``last_period``; returns (at most ``limit`` rows by name, total matching)."""
    require_role(principal, PERSONAL_DATA_ROLES, "查看带贫人员信息")
    conds = [_visible(principal)]
    if name.strip():
        pattern = name.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conds.append(beneficiary.c.name.like(f"%{pattern}%", escape="\\"))
    if id_number.strip():
        conds.append(beneficiary.c.id_hash == id_hash(normalise_id_number(id_number), pii_hash_key()))
    if region_code:
        conds.append(in_region(beneficiary.c.region_code, region_code))
    where = and_(*conds)
    unit_cond = _unit_condition(principal)
    sums = (
        select(
            benefit.c.beneficiary_id,
            func.count().label("benefits"),
            func.sum(benefit.c.amount).label("benefit_amount"),
            func.max(benefit.c.period).label("last_period"),
        )
        .where(unit_cond if unit_cond is not None else True)
        .group_by(benefit.c.beneficiary_id)
        .subquery()
    )
    q = (
        select(
            beneficiary.c.id,
            beneficiary.c.name,
            beneficiary.c.id_masked,
            beneficiary.c.phone_masked,
            beneficiary.c.region_code,
            region.c.name,
            func.coalesce(sums.c.benefits, 0),
            func.coalesce(sums.c.benefit_amount, 0),
            sums.c.last_period,
        )
        .select_from(
            beneficiary.outerjoin(region, region.c.code == beneficiary.c.region_code).outerjoin(
                sums, sums.c.beneficiary_id == beneficiary.c.id
            )
        )
        .where(where)
        .order_by(beneficiary.c.name, beneficiary.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(beneficiary).where(where)).scalar()
        df = frame(conn.execute(q).all(), columns=LIST_COLUMNS)
    df["benefit_amount"] = df.benefit_amount.astype(float)
    return df, int(total)


def beneficiary_benefits(engine: Engine, principal: Principal, beneficiary_id: int) -> pd.DataFrame:
    """The benefits of one beneficiary the principal may see: ``period, unit_name, product_name,
    amount`` (yuan), newest first."""
    require_role(principal, PERSONAL_DATA_ROLES, "查看带贫人员信息")
    unit_cond = _unit_condition(principal)
    q = (
        select(benefit.c.period, buyer_unit.c.name, product.c.name, benefit.c.amount)
        .select_from(
            benefit.outerjoin(buyer_unit, buyer_unit.c.id == benefit.c.unit_id).outerjoin(
                product, product.c.id == benefit.c.product_id
            )
        )
        .where(and_(benefit.c.beneficiary_id == beneficiary_id, unit_cond if unit_cond is not None else True))
        .order_by(benefit.c.period.desc(), benefit.c.id)
    )
    with engine.connect() as conn:
        df = frame(conn.execute(q).all(), columns=["period", "unit_name", "product_name", "amount"])
    df["amount"] = df.amount.astype(float)
    return df


def reveal(engine: Engine, principal: Principal, beneficiary_id: int, field: str, reason: str) -> str:
    """The full ID number (``field="id_number"``) or phone (``"phone"``) of one beneficiary.

    Only REVEAL_ROLES, with a stated reason; the view is audited (action ``pii_reveal``) in the
    same transaction, so no number is shown without its audit row.
    """
    require_role(principal, REVEAL_ROLES, "查看完整身份证号或电话")
    if principal.demo:
        if not is_demo_store(engine):
            raise AccessDenied("未配置用户的看板不能查看完整号码：请先创建用户并登录。")
    if field not in FIELDS:
        raise ValueError(f"field 应为 {' | '.join(FIELDS)}")
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise ValueError("请填写查看用途")
    column, label = FIELDS[field]
    with engine.begin() as conn:
        token = conn.execute(
            select(beneficiary.c[column]).where(and_(beneficiary.c.id == beneficiary_id, _visible(principal)))
        ).first()
        if token is None:
            raise AccessDenied("无此带贫人员，或无权查看。")
        if token[0] is None:
            return ""
        write_audit(
            conn, principal.username, "pii_reveal", f"beneficiary:{beneficiary_id}", f"{label}；用途：{reason[:200]}"
        )
        return decrypt_pii(token[0])
