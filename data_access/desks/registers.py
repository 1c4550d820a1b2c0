"""基础数据 registers in through the front door: the unit register (单位名录), the unit-year budgets
with 预留份额 (年度预算与预留份额, seed 001 三（二）; seed 004 一（一）), suppliers (供应商名录), pairing
relations (结对关系), the joint meetings (联席会议) and the 五专 outlets (网点名录; without coordinates an
outlet stands at its county's centre, marked so) and the product catalogue (产品名库 / 认定目录: category,
origin, supplier, 上市月份 such as 11月-次年2月, supply, reference and cost price, certification).

The same path as 数据报送: ``ingest.parse_upload`` reads the office file (title rows, GBK, full-width
digits, 万元, header synonyms) into normalised rows, then ``check_register`` / ``commit_register``
resolve every row against the store and refuse the whole file on any error, each naming the row and
the field. A commit is one transaction: new rows are inserted, changed rows updated with their
version raised and an audit row holding what was before and what is after, unchanged rows left
alone — so the same file twice, or an unchanged export of the register, changes nothing. Only
admins load the registers; a reporter may file its own unit's budget rows.
"""

from __future__ import annotations

import difflib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, func, insert, select, update

from data_access.desks.imports import RegionNames, _norm
from data_access.desks.ingest import REGISTERS, SUPPLIER_KINDS, ParseResult, RowError
from data_access.query.export import xlsx_bytes
from data_access.reference.labels import (
    BUYER_KINDS,
    CATEGORIES,
    OUTLET_KINDS,
    OUTLET_STATUSES,
    PAIRING_KINDS,
    PRODUCT_STATUSES,
)
from data_access.store import schema as s
from data_access.trust.auth import ADMIN_ROLES, SUBMIT_ROLES, AccessDenied, Principal, require_role, write_audit

__all__ = [
    "RegisterOutcome",
    "check_register",
    "commit_register",
    "register_counts",
    "register_export",
    "register_frame",
]

MAX_ERRORS = 5000
UNIT_FIELDS = ("kind", "region_code", "jurisdiction_code", "credit_code", "parent_id")
BUDGET_FIELDS = (
    "canteen_food_budget",
    "reserved_share",
    "reserved_amount",
    "union_members",
    "gift_budget",
    "welfare_budget",
    "plan_amount",
)


@dataclass
class RegisterOutcome:
    """What a check or commit of a register file found: rows new, changed and unchanged, every error."""

    form: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    batch_id: int | None = None
    already: bool = False
    committed: bool = False
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing stands in the way (a check) or the file is in the store (a commit)."""
        return not self.errors

    @property
    def message(self) -> str:
        """One paragraph in Chinese for the page and the command line."""
        title = REGISTERS[self.form].title
        if self.errors:
            count = max(self.error_count, len(self.errors))
            shown = "" if count == len(self.errors) else f"（列出前 {len(self.errors)} 处）"
            return f"「{title}」有 {count} 处问题{shown}，整个文件未导入，数据库未作任何改动。"
        if self.already:
            return f"该文件已于此前导入（批次 {self.batch_id}），本次未重复导入，数据库未作任何改动。"
        what = f"新增 {self.created} 行，更新 {self.updated} 行，未变 {self.unchanged} 行"
        if self.committed:
            return f"已导入「{title}」{self.rows:,} 行（批次 {self.batch_id}）：{what}。"
        return f"「{title}」{self.rows:,} 行可以导入：{what}。"


class _Refused(Exception):
    def __init__(self, errors: list[RowError], count: int):
        super().__init__(errors[0].message if errors else "")
        self.errors, self.count = errors, count


def check_register(engine: Engine, principal: Principal, result: ParseResult, *, year: int | None = None):
    """Everything ``commit_register`` would check and change, without writing: for the preview."""
    return _run(engine, principal, result, year, write=False)


def commit_register(engine: Engine, principal: Principal, result: ParseResult, *, year: int | None = None):
    """Write a clean register file in one transaction (all rows or none); returns a ``RegisterOutcome``.

    ``year`` fills the budgets' 年度 when the file has no such column. Units: admins only; budgets:
    admins, and reporters for their own unit's rows (``AccessDenied`` otherwise)."""
    return _run(engine, principal, result, year, write=True)


def _run(engine: Engine, principal: Principal, result: ParseResult, year: int | None, write: bool):
    t0 = time.perf_counter()
    if result.form not in REGISTERS:
        raise ValueError(f"「{result.form}」不是基础数据表")
    require_role(
        principal, SUBMIT_ROLES if result.form == "budgets" else ADMIN_ROLES, f"导入{REGISTERS[result.form].title}"
    )
    outcome = RegisterOutcome(form=result.form, rows=len(result.rows))
    if not result.ok or not result.file_hash:
        outcome.errors = list(result.errors) or [RowError(None, None, None, result.message)]
        outcome.error_count = max(result.error_count, len(outcome.errors))
        return outcome
    try:
        with engine.begin() if write else engine.connect() as conn:
            b = s.report_batch
            earlier = conn.execute(
                select(b.c.id).where(b.c.form == result.form, b.c.file_hash == result.file_hash)
            ).scalar()
            if earlier is not None:
                outcome.batch_id, outcome.already = earlier, True
                return outcome
            plan = _PLANS[result.form](conn, principal, result, year)
            plan.resolve()
            outcome.created, outcome.updated, outcome.unchanged = plan.counts()
            if write:
                outcome.batch_id = conn.execute(
                    b.insert().values(
                        form=result.form,
                        unit_id=None,
                        period=None,
                        submitted_at=datetime.now().replace(microsecond=0),
                        submitted_by=principal.username[:64],
                        file_name=(result.filename or "")[:256],
                        file_hash=result.file_hash,
                        row_count=len(result.rows),
                        status="committed",
                    )
                ).inserted_primary_key[0]
                plan.write(outcome.batch_id)
                outcome.committed = True
    except _Refused as exc:
        outcome.errors, outcome.error_count = exc.errors, exc.count
    outcome.seconds = time.perf_counter() - t0
    return outcome


class _Plan:
    """Rows of one register file resolved against the store: what to insert and what to change."""

    def __init__(self, conn, principal: Principal, result: ParseResult):
        self.conn, self.principal, self.result, self.form = conn, principal, result, result.form
        self.spec = REGISTERS[result.form]
        self.errors: list[tuple[int, int, RowError]] = []
        self.count = 0
        self.new: list[dict] = []
        self.changed: list[tuple[dict, dict, dict]] = []  # (key, before, after)
        self.same = 0

    def refuse(self, row, key: str | None, value, reason: str) -> None:
        self.count += 1
        if len(self.errors) < MAX_ERRORS:
            order = next((i for i, f in enumerate(self.spec.fields) if f.key == key), 0)
            label = self.spec.field(key).label if key else None
            shown = None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)[:60]
            self.errors.append((row or 0, order, RowError(row, label, shown, reason)))

    def raise_if_refused(self) -> None:
        if self.errors:
            self.errors.sort(key=lambda t: (t[0], t[1]))
            raise _Refused([e for _, _, e in self.errors], self.count)

    def counts(self) -> tuple[int, int, int]:
        return len(self.new), len(self.changed), self.same

    def _audit(self, action: str, subject: str, before: dict | None, after: dict) -> None:
        detail = json.dumps({"before": before, "after": after}, ensure_ascii=False, default=str)
        write_audit(self.conn, self.principal.username, action, subject[:128], detail)


def _value(v):
    """A cell as the store compares it: NaN/NA → None, numpy numbers → Python, money to the cent."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if hasattr(v, "item"):
        v = v.item()
    return round(v, 6) if isinstance(v, float) else v


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    return f"；是否为：{'、'.join(close)}？" if close else ""


class _UnitPlan(_Plan):
    def __init__(self, conn, principal: Principal, result: ParseResult, _year: int | None = None):
        super().__init__(conn, principal, result)

    def resolve(self) -> None:
        conn, rows = self.conn, self.result.rows
        regions = RegionNames(conn)
        u = s.buyer_unit
        existing = {_norm(r.name): r for r in conn.execute(select(u)).all()}
        by_credit = {r.credit_code: r for r in existing.values() if r.credit_code}
        aliases = {_norm(a): i for a, i in conn.execute(select(s.unit_alias.c.alias, s.unit_alias.c.unit_id))}
        in_file = {}
        for r in rows.itertuples(index=False):
            name = _norm(r.name)
            if name in in_file:
                self.refuse(r.source_row, "name", r.name, f"单位名称与第{in_file[name]}行重复")
                continue
            in_file[name] = r.source_row
        credit_in_file: dict[str, int] = {}
        self.rows = []
        for r in rows.itertuples(index=False):
            name = _norm(r.name)
            region, why = regions.resolve(r.region)
            if why:
                self.refuse(r.source_row, "region", r.region, why)
            jurisdiction, why = regions.resolve(r.jurisdiction, provinces=True)
            if why:
                self.refuse(r.source_row, "jurisdiction", r.jurisdiction, why)
            credit = _value(getattr(r, "credit_code", None))
            if credit:
                owner = by_credit.get(credit)
                if owner is not None and _norm(owner.name) != name:
                    self.refuse(r.source_row, "credit_code", credit, f"该统一社会信用代码已登记为「{owner.name}」")
                if credit in credit_in_file:
                    self.refuse(r.source_row, "credit_code", credit, f"与第{credit_in_file[credit]}行的信用代码相同")
                credit_in_file.setdefault(credit, r.source_row)
            alias_owner = aliases.get(name)
            if alias_owner is not None and name not in existing:
                owner = next(x.name for x in existing.values() if x.id == alias_owner)
                self.refuse(r.source_row, "name", r.name, f"「{r.name}」已是单位「{owner}」的别名")
            parent = _value(getattr(r, "parent", None))
            if parent and _norm(parent) not in existing and _norm(parent) not in in_file:
                self.refuse(r.source_row, "parent", parent, "上级单位不在单位名录中" + _suggest(parent, list(existing)))
            names = [_norm(a) for a in str(_value(getattr(r, "aliases", None)) or "").replace("，", "、").split("、")]
            for alias in [a for a in names if a and a != name]:
                other = existing.get(alias)
                if (other is not None and _norm(other.name) != name) or alias in in_file:
                    self.refuse(r.source_row, "aliases", alias, f"别名「{alias}」是另一个单位的名称")
                elif aliases.get(alias) not in (None, getattr(existing.get(name), "id", None)):
                    self.refuse(r.source_row, "aliases", alias, f"别名「{alias}」已属于另一个单位")
            self.rows.append(
                dict(
                    row=r.source_row,
                    name=name,
                    kind=r.kind,
                    region_code=region,
                    jurisdiction_code=jurisdiction,
                    credit_code=credit,
                    parent=_norm(parent) if parent else None,
                    aliases=[a for a in names if a and a != name],
                )
            )
        self.raise_if_refused()
        self.existing = existing
        for row in self.rows:
            old = existing.get(row["name"])
            if old is None:
                self.new.append(row)
                continue
            parent = existing.get(row["parent"]) if row["parent"] else None
            after = {k: row[k] for k in UNIT_FIELDS if k != "parent_id"} | {"parent_id": getattr(parent, "id", None)}
            before = {k: _value(getattr(old, k)) for k in UNIT_FIELDS}
            known_aliases = {a for a, i in aliases.items() if i == old.id}
            if before != after or not set(row["aliases"]) <= known_aliases or not old.active:
                self.changed.append(({"id": old.id, "name": old.name}, before, after | {"aliases": row["aliases"]}))
            else:
                self.same += 1

    def write(self, batch_id: int) -> None:
        conn, u = self.conn, s.buyer_unit
        ids = {name: r.id for name, r in self.existing.items()}
        if self.new:
            # One multi-row INSERT … RETURNING (SQLAlchemy's insertmanyvalues), ids in the rows' order.
            values = [
                {k: row[k] for k in ("name", "kind", "region_code", "jurisdiction_code", "credit_code")}
                | {"active": True, "version": 1}
                for row in self.new
            ]
            stmt = insert(u).returning(u.c.id, u.c.name, sort_by_parameter_order=True)
            for new_id, name in conn.execute(stmt, values).all():
                ids[_norm(name)] = new_id
            self._audit(
                "register_change", f"单位:{len(values)} 个新增", None, {"batch": batch_id, "units": values[:50]}
            )
        for row in self.new:  # parents may be new rows of the same file
            if row["parent"]:
                conn.execute(update(u).where(u.c.id == ids[row["name"]]).values(parent_id=ids[row["parent"]]))
        parent_of = {r["name"]: r["parent"] for r in self.rows}
        for key, before, after in self.changed:
            values = {k: after[k] for k in UNIT_FIELDS}
            parent = parent_of.get(_norm(key["name"]))
            values["parent_id"] = ids.get(parent) if parent else None
            conn.execute(update(u).where(u.c.id == key["id"]).values(**values, active=True, version=u.c.version + 1))
            self._audit("register_change", f"单位:{key['name']}", before, values)
        known = {a for (a,) in conn.execute(select(s.unit_alias.c.alias))}
        for row in self.rows:
            fresh = [a for a in row["aliases"] if a not in known]
            if fresh:
                conn.execute(insert(s.unit_alias), [dict(alias=a, unit_id=ids[row["name"]]) for a in fresh])
                known |= set(fresh)


class _BudgetPlan(_Plan):
    def __init__(self, conn, principal: Principal, result: ParseResult, year: int | None):
        super().__init__(conn, principal, result)
        self.year = year

    def resolve(self) -> None:
        conn, rows = self.conn, self.result.rows
        u = s.buyer_unit
        units = {_norm(n): i for i, n in conn.execute(select(u.c.id, u.c.name))}
        units |= {_norm(a): i for a, i in conn.execute(select(s.unit_alias.c.alias, s.unit_alias.c.unit_id))}
        units |= {c: i for i, c in conn.execute(select(u.c.id, u.c.credit_code).where(u.c.credit_code.isnot(None)))}
        names = sorted({_norm(n) for (n,) in conn.execute(select(u.c.name))})
        today = datetime.now().date()
        if self.year is not None and not 2015 <= self.year <= today.year + 1:
            self.refuse(None, None, self.year, f"年度应在 2015 至 {today.year + 1} 年之间")
        self.raise_if_refused()
        seen: dict[tuple[int, int], int] = {}
        self.rows = []
        for r in rows.itertuples(index=False):
            unit = units.get(_norm(r.unit))
            if unit is None:
                self.refuse(
                    r.source_row, "unit", r.unit, "单位不在单位名录中，请先登记该单位" + _suggest(_norm(r.unit), names)
                )
                continue
            if self.principal.role == "reporter" and unit != self.principal.unit_id:
                raise AccessDenied("报送单位只能填报本单位的年度预算。")
            year = _value(r.year) if "year" in rows and _value(r.year) is not None else self.year
            if year is None:
                self.refuse(r.source_row, "year", None, "缺少年度：请在文件中填写年度，或导入时指定年度")
                continue
            if (unit, year) in seen:
                self.refuse(r.source_row, "unit", r.unit, f"与第{seen[(unit, year)]}行是同一单位同一年度")
                continue
            seen[(unit, year)] = r.source_row
            values = {k: _value(getattr(r, k, None)) for k in BUDGET_FIELDS}
            for k, v in values.items():
                if v is not None and v < 0:
                    self.refuse(r.source_row, k, v, "不能为负数")
            if all(v is None for v in values.values()):
                self.refuse(r.source_row, "canteen_food_budget", None, "整行没有任何预算数字")
            self.rows.append(dict(row=r.source_row, unit_id=unit, year=int(year), **values))
        self.raise_if_refused()
        b = s.unit_budget
        keys = sorted({(r["unit_id"], r["year"]) for r in self.rows})
        current = {}
        for start in range(0, len(keys), 900):
            part = keys[start : start + 900]
            for row in conn.execute(
                select(b).where(b.c.unit_id.in_({k[0] for k in part}), b.c.year.in_({k[1] for k in part}))
            ).all():
                current[(row.unit_id, row.year)] = row
        for row in self.rows:
            old = current.get((row["unit_id"], row["year"]))
            after = {k: row[k] for k in BUDGET_FIELDS}
            if old is None:
                self.new.append(row)
                continue
            before = {k: _value(float(getattr(old, k)) if getattr(old, k) is not None else None) for k in BUDGET_FIELDS}
            if before != after:
                self.changed.append(({"unit_id": row["unit_id"], "year": row["year"]}, before, after))
            else:
                self.same += 1

    def write(self, batch_id: int) -> None:
        conn, b = self.conn, s.unit_budget
        if self.new:
            rows = [
                dict(unit_id=r["unit_id"], year=r["year"], version=1, **{k: r[k] for k in BUDGET_FIELDS})
                for r in self.new
            ]
            for start in range(0, len(rows), 5000):
                conn.execute(insert(b), rows[start : start + 5000])
            self._audit("register_change", f"年度预算:{len(rows)} 行新增", None, {"batch": batch_id, "rows": len(rows)})
        for key, before, after in self.changed:
            conn.execute(
                update(b)
                .where(b.c.unit_id == key["unit_id"], b.c.year == key["year"])
                .values(**after, version=b.c.version + 1)
            )
            self._audit("register_change", f"年度预算:单位{key['unit_id']}:{key['year']}", before, after)


class _KeyedPlan(_Plan):
    """A register whose rows have a natural key in one table: new keys inserted, changed rows updated
    (version raised, before and after audited), the rest left alone."""

    table = None
    key: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    subject = ""

    def __init__(self, conn, principal: Principal, result: ParseResult, _year: int | None = None):
        super().__init__(conn, principal, result)

    def row_values(self, r) -> dict | None:
        """The store's values of one parsed row (key and fields), or None after ``refuse``."""
        raise NotImplementedError

    def resolve(self) -> None:
        t = self.table
        seen: dict[tuple, int] = {}
        self.rows = []
        for r in self.result.rows.itertuples(index=False):
            values = self.row_values(r)
            if values is None:
                continue
            k = tuple(values[c] for c in self.key)
            if k in seen:
                self.refuse(r.source_row, self.spec.fields[0].key, None, f"与第{seen[k]}行重复")
                continue
            seen[k] = r.source_row
            self.rows.append(values)
        self.raise_if_refused()
        current = {tuple(_value(row._mapping[c]) for c in self.key): row for row in self.conn.execute(select(t)).all()}
        for values in self.rows:
            old = current.get(tuple(values[c] for c in self.key))
            if old is None:
                self.new.append(values)
                continue
            before = {c: _value(_plain(old._mapping[c])) for c in self.fields}
            after = {c: values[c] for c in self.fields}
            if before != after:
                self.changed.append(({c: values[c] for c in self.key}, before, after))
            else:
                self.same += 1

    def write(self, batch_id: int) -> None:
        t, versioned = self.table, "version" in self.table.c
        if self.new:
            rows = [dict(v, **({"version": 1} if versioned else {})) for v in self.new]
            self.conn.execute(insert(t), rows)
            self._audit(
                "register_change", f"{self.subject}:{len(rows)} 行新增", None, {"batch": batch_id, "rows": rows[:50]}
            )
        for key, before, after in self.changed:
            where = [t.c[c] == v for c, v in key.items()]
            extra = {"version": t.c.version + 1} if versioned else {}
            self.conn.execute(update(t).where(*where).values(**after, **extra))
            self._audit("register_change", f"{self.subject}:{'/'.join(map(str, key.values()))}", before, after)


def _plain(v):
    """A stored value as a parsed row holds it (Decimal → float, a date stays a date)."""
    return float(v) if hasattr(v, "as_tuple") else v


class _SupplierPlan(_KeyedPlan):
    table = s.supplier
    key = ("name",)
    fields = ("region_code", "kind", "credit_code", "beneficiaries")
    subject = "供应商"

    def resolve(self) -> None:
        self.regions = RegionNames(self.conn)
        self.credit_owner = {
            c: n for n, c in self.conn.execute(select(s.supplier.c.name, s.supplier.c.credit_code)) if c
        }
        super().resolve()

    def row_values(self, r) -> dict | None:
        region, why = self.regions.resolve(r.region)
        if why:
            self.refuse(r.source_row, "region", r.region, why)
            return None
        name, credit = _norm(r.name), _value(getattr(r, "credit_code", None))
        if credit and self.credit_owner.get(credit, name) != name:
            self.refuse(
                r.source_row, "credit_code", credit, f"该统一社会信用代码已登记为「{self.credit_owner[credit]}」"
            )
            return None
        return dict(
            name=name,
            region_code=region,
            kind=_value(getattr(r, "kind", None)),
            credit_code=credit,
            beneficiaries=_value(getattr(r, "beneficiaries", None)),
        )


class _PairingPlan(_KeyedPlan):
    table = s.pairing
    key = ("helper_code", "helped_code", "kind")
    fields = ("since_year", "until_year")
    subject = "结对关系"

    def resolve(self) -> None:
        self.regions = RegionNames(self.conn)
        super().resolve()

    def row_values(self, r) -> dict | None:
        helper, why = self.regions.resolve(r.helper, provinces=True)
        if why:
            self.refuse(r.source_row, "helper", r.helper, why)
        helped, why2 = self.regions.resolve(r.helped, provinces=True)
        if why2:
            self.refuse(r.source_row, "helped", r.helped, why2)
        since, until = _value(getattr(r, "since_year", None)), _value(getattr(r, "until_year", None))
        if since is not None and until is not None and until < since:
            self.refuse(r.source_row, "until_year", until, "终止年度早于起始年度")
            return None
        if why or why2:
            return None
        if helper == helped:
            self.refuse(r.source_row, "helped", r.helped, "帮扶方与受援地相同")
            return None
        return dict(helper_code=helper, helped_code=helped, kind=r.kind, since_year=since, until_year=until)


class _MeetingPlan(_KeyedPlan):
    table = s.meeting
    key = ("held_on",)
    fields = ("title", "note")
    subject = "联席会议"

    def row_values(self, r) -> dict | None:
        return dict(held_on=pd.Timestamp(r.held_on).date(), title=_norm(r.title), note=_value(getattr(r, "note", None)))


# China's extent in degrees (with its islands): a point outside it is a typo or swapped coordinates.
CHINA_LNG, CHINA_LAT = (73.0, 136.0), (3.0, 54.0)


class _OutletPlan(_KeyedPlan):
    table = s.outlet
    key = ("name",)
    fields = (
        "kind",
        "address",
        "region_code",
        "lng",
        "lat",
        "coord_source",
        "operator",
        "opened_on",
        "status",
        "status_reason",
    )
    subject = "网点"

    def resolve(self) -> None:
        self.regions = RegionNames(self.conn)
        r = s.region
        self.centre = {c: (x, y) for c, x, y in self.conn.execute(select(r.c.code, r.c.lng, r.c.lat))}
        super().resolve()

    def row_values(self, r) -> dict | None:
        region, why = self.regions.resolve(r.region)
        if why:
            self.refuse(r.source_row, "region", r.region, why)
            return None
        lng, lat = _value(getattr(r, "lng", None)), _value(getattr(r, "lat", None))
        if (lng is None) != (lat is None):
            self.refuse(
                r.source_row, "lng" if lng is None else "lat", None, "经度和纬度须同时填写，或同时留空（按区县中心）"
            )
            return None
        if lng is None:
            lng, lat = self.centre.get(region, (None, None))
            if lng is None:
                self.refuse(r.source_row, "lng", None, "该区县没有中心坐标，请填写网点的经纬度")
                return None
            source = "county"
        else:
            if not (CHINA_LNG[0] <= lng <= CHINA_LNG[1] and CHINA_LAT[0] <= lat <= CHINA_LAT[1]):
                hint = "（经纬度是否填反？）" if CHINA_LNG[0] <= lat <= CHINA_LNG[1] else ""
                self.refuse(r.source_row, "lng", f"{lng}, {lat}", f"坐标不在中国境内{hint}")
                return None
            source = "given"
        opened = _value(getattr(r, "opened_on", None))
        return dict(
            name=_norm(r.name),
            kind=r.kind,
            address=_value(getattr(r, "address", None)),
            region_code=region,
            lng=round(float(lng), 6),
            lat=round(float(lat), 6),
            coord_source=source,
            operator=_value(getattr(r, "operator", None)),
            opened_on=pd.Timestamp(opened).date() if opened is not None else None,
            status=_value(getattr(r, "status", None)) or "operating",
            status_reason=_value(getattr(r, "status_reason", None)),
        )


class _ProductPlan(_KeyedPlan):
    table = s.product
    key = ("name", "origin_code")
    fields = (
        "category",
        "supplier_id",
        "season_months",
        "supply_volume",
        "reference_price",
        "cost_price",
        "certification_no",
        "certified",
        "certified_on",
        "status",
        "beneficiaries",
    )
    subject = "产品"

    def resolve(self) -> None:
        self.regions = RegionNames(self.conn)
        self.suppliers = {_norm(n): i for i, n in self.conn.execute(select(s.supplier.c.id, s.supplier.c.name))}
        super().resolve()

    def row_values(self, r) -> dict | None:
        origin, why = self.regions.resolve(r.origin)
        if why:
            self.refuse(r.source_row, "origin", r.origin, why)
            return None
        supplier = _value(getattr(r, "supplier", None))
        supplier_id = None
        if supplier:
            supplier_id = self.suppliers.get(_norm(supplier))
            if supplier_id is None:
                self.refuse(
                    r.source_row,
                    "supplier",
                    supplier,
                    "供应商不在供应商名录中" + _suggest(_norm(supplier), list(self.suppliers)),
                )
                return None
        certified_on = _value(getattr(r, "certified_on", None))
        number = _value(getattr(r, "certification_no", None))
        return dict(
            name=_norm(r.name),
            origin_code=origin,
            category=r.category,
            supplier_id=supplier_id,
            season_months=_value(getattr(r, "season", None)),
            supply_volume=_value(getattr(r, "supply_volume", None)),
            reference_price=_value(getattr(r, "reference_price", None)),
            cost_price=_value(getattr(r, "cost_price", None)),
            certification_no=number,
            certified=bool(number or certified_on),
            certified_on=pd.Timestamp(certified_on).date() if certified_on is not None else None,
            status=_value(getattr(r, "status", None)) or "listed",
            beneficiaries=_value(getattr(r, "beneficiaries", None)),
        )


_PLANS = {
    "units": _UnitPlan,
    "budgets": _BudgetPlan,
    "suppliers": _SupplierPlan,
    "pairings": _PairingPlan,
    "meetings": _MeetingPlan,
    "outlets": _OutletPlan,
    "products": _ProductPlan,
}


def register_frame(engine: Engine, form: str, year: int | None = None, unit_id: int | None = None) -> pd.DataFrame:
    """The register as it stands, in the template's columns (Chinese headers): export → edit → re-import.
    ``unit_id`` keeps one unit's budget rows (what a reporter sees)."""
    labels = [f.label for f in REGISTERS[form].fields]
    u = s.buyer_unit
    with engine.connect() as conn:
        if form == "suppliers":
            p = s.supplier
            rows = conn.execute(
                select(p.c.name, p.c.credit_code, p.c.region_code, p.c.kind, p.c.beneficiaries).order_by(p.c.name)
            ).all()
            data = [[r[0], r[1] or "", r[2], SUPPLIER_KINDS.get(r[3], ""), r[4]] for r in rows]
            return pd.DataFrame(data, columns=labels)
        if form == "pairings":
            p = s.pairing
            rows = conn.execute(
                select(p.c.helper_code, p.c.helped_code, p.c.kind, p.c.since_year, p.c.until_year).order_by(p.c.id)
            ).all()
            data = [[r[0], r[1], PAIRING_KINDS[r[2]], r[3], r[4]] for r in rows]
            return pd.DataFrame(data, columns=labels).astype({labels[3]: "Int64", labels[4]: "Int64"})
        if form == "outlets":
            o = s.outlet
            rows = conn.execute(
                select(
                    o.c.name,
                    o.c.kind,
                    o.c.address,
                    o.c.region_code,
                    o.c.lng,
                    o.c.lat,
                    o.c.coord_source,
                    o.c.operator,
                    o.c.opened_on,
                    o.c.status,
                    o.c.status_reason,
                ).order_by(o.c.name)
            ).all()
            data = [
                [
                    r[0],
                    OUTLET_KINDS[r[1]],
                    r[2] or "",
                    r[3],
                    *((None, None) if r[6] == "county" else (r[4], r[5])),
                    r[7] or "",
                    str(r[8])[:10] if r[8] else "",
                    OUTLET_STATUSES[r[9]],
                    r[10] or "",
                ]
                for r in rows
            ]
            return pd.DataFrame(data, columns=labels)
        if form == "products":
            p, sup = s.product, s.supplier
            rows = conn.execute(
                select(
                    p.c.name,
                    p.c.category,
                    p.c.origin_code,
                    sup.c.name,
                    p.c.season_months,
                    p.c.supply_volume,
                    p.c.reference_price,
                    p.c.cost_price,
                    p.c.certification_no,
                    p.c.certified_on,
                    p.c.status,
                    p.c.beneficiaries,
                )
                .select_from(p.outerjoin(sup, sup.c.id == p.c.supplier_id))
                .order_by(p.c.origin_code, p.c.name)
            ).all()
            data = [
                [
                    r[0],
                    CATEGORIES[r[1]],
                    r[2],
                    r[3] or "",
                    r[4] or "",
                    f"{r[5]:g}kg" if r[5] is not None else "",
                    r[6],
                    r[7],
                    r[8] or "",
                    str(r[9])[:10] if r[9] else "",
                    PRODUCT_STATUSES[r[10]],
                    r[11],
                ]
                for r in rows
            ]
            return pd.DataFrame(data, columns=labels)
        if form == "meetings":
            m = s.meeting
            rows = conn.execute(select(m.c.held_on, m.c.title, m.c.note).order_by(m.c.held_on)).all()
            data = [[str(r[0])[:10], r[1], r[2] or ""] for r in rows]
            return pd.DataFrame(data, columns=labels)
        if form == "units":
            parent = u.alias("parent")
            rows = conn.execute(
                select(
                    u.c.id, u.c.name, u.c.kind, u.c.region_code, u.c.jurisdiction_code, u.c.credit_code, parent.c.name
                )
                .select_from(u.outerjoin(parent, parent.c.id == u.c.parent_id))
                .where(u.c.active.is_(True))
                .order_by(u.c.id)
            ).all()
            alias = {}
            for a, i in conn.execute(
                select(s.unit_alias.c.alias, s.unit_alias.c.unit_id).order_by(s.unit_alias.c.alias)
            ):
                alias.setdefault(i, []).append(a)
            data = [
                [r[1], BUYER_KINDS[r[2]], r[3], r[4], r[5] or "", r[6] or "", "、".join(alias.get(r[0], []))]
                for r in rows
            ]
            return pd.DataFrame(data, columns=labels)
        b = s.unit_budget
        q = select(u.c.name, b.c.year, *[b.c[k] for k in BUDGET_FIELDS]).join(u, u.c.id == b.c.unit_id)
        if year is not None:
            q = q.where(b.c.year == year)
        if unit_id is not None:
            q = q.where(b.c.unit_id == unit_id)
        rows = conn.execute(q.order_by(b.c.year, u.c.name)).all()
    df = pd.DataFrame([list(r) for r in rows], columns=labels)
    for col in labels[2:]:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def register_export(engine: Engine, form: str, year: int | None = None, unit_id: int | None = None) -> bytes:
    """The register as an XLSX in the template's shape (its first sheet re-imports unchanged)."""
    title = REGISTERS[form].title
    return xlsx_bytes(
        {title: register_frame(engine, form, year, unit_id)},
        {title: f"{title}（导出于 {datetime.now():%Y-%m-%d %H:%M}）"},
    )


def register_counts(engine: Engine) -> dict[str, int]:
    """Rows in the registers: units (active), aliases, budget rows."""
    with engine.connect() as conn:
        return {
            "units": conn.execute(
                select(func.count()).select_from(s.buyer_unit).where(s.buyer_unit.c.active.is_(True))
            ).scalar(),
            "aliases": conn.execute(select(func.count()).select_from(s.unit_alias)).scalar(),
            "budgets": conn.execute(select(func.count()).select_from(s.unit_budget)).scalar(),
        }
