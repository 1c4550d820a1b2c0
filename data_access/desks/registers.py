"""基础数据 registers in through the front door: the unit register (单位名录), the unit-year budgets
with 预留份额 (年度预算与预留份额, seed 001 三（二）; seed 004 一（一）), suppliers (供应商名录), pairing
relations (结对关系), the joint meetings (联席会议), the 五专 outlets (网点名录; without coordinates an
outlet stands at its county's centre, marked so), the product catalogue (产品名库 / 认定目录: category,
origin, supplier, 上市月份 such as 11月-次年2月, supply, reference and cost price, certification) and the
policy rules (政策规则, admins only: versions by year, so a changed threshold never rewrites a judged year).

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
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, func, insert, select, update

from data_access.desks.imports import RegionNames, _earlier_batch, _norm
from data_access.desks.ingest import REGISTERS, RULE_YEAR_SPAN, SUPPLIER_KINDS, ParseResult, RowError, parse_upload
from data_access.engines.rules import METRIC_NAMES, THRESHOLD_UNITS
from data_access.query.export import xlsx_bytes
from data_access.reference.labels import (
    BUYER_KINDS,
    CATEGORIES,
    OUTLET_KINDS,
    OUTLET_STATUSES,
    PAIRING_KINDS,
    PRODUCT_STATUSES,
    RULE_SUBJECTS,
)
from data_access.store import schema as s
from data_access.trust.auth import (
    ADMIN_ROLES,
    AUDIT_ACTIONS,
    SUBMIT_ROLES,
    AccessDenied,
    Principal,
    require_role,
    write_audit,
    write_audits,
)

__all__ = [
    "RegisterOutcome",
    "check_register",
    "commit_register",
    "register_counts",
    "register_export",
    "register_frame",
    "FIELD_CHOICES",
    "inactive_units",
    "key_fields",
    "register_row",
    "row_history",
    "row_key",
    "row_version",
    "set_unit_active",
    "row_subject",
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


def register_row(
    engine: Engine,
    principal: Principal,
    form: str,
    values: dict[str, object],
    *,
    expected_version: int | None = None,
    year: int | None = None,
) -> RegisterOutcome:
    """Add or edit one row from the page's form, through exactly the checks of a file import.

    ``values`` holds the template's headers (what the export shows) → what was typed. The row is
    written as a one-row file and read back by ``parse_upload``, so 万元, 元/斤, full-width digits and
    every register rule apply as they do to a file. ``expected_version`` is the row's version when the
    form was shown: an edit of a row someone changed since is refused (nothing written)."""
    spec = REGISTERS[form]
    row = {
        f.label: "" if values.get(f.label) is None else str(values.get(f.label)).strip()
        for f in spec.fields
        if f.template
    }
    data = pd.DataFrame([row], dtype=str).to_csv(index=False).encode("utf-8")
    result = parse_upload(data, form, "页面录入")
    if result.ok:
        # A form edit is recorded as a batch of its own even when the same values were typed before.
        stamp = f"{principal.username}:{time.time_ns()}".encode()
        result.file_hash = hashlib.sha256(data + stamp).hexdigest()
    return _run(engine, principal, result, year, True, expected_version, typed=True)


def _run(
    engine: Engine,
    principal: Principal,
    result: ParseResult,
    year: int | None,
    write: bool,
    expected: int | None = None,
    typed: bool = False,
):
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
            earlier = _earlier_batch(conn, result)
            if earlier is not None:
                outcome.batch_id, outcome.already = earlier, True
                return outcome
            plan = _PLANS[result.form](conn, principal, result, year)
            plan.resolve()
            if expected is not None:
                plan.check_version(expected)
            outcome.created, outcome.updated, outcome.unchanged = plan.counts()
            if write:
                outcome.batch_id = conn.execute(
                    s.report_batch.insert().values(
                        form=result.form,
                        unit_id=None,
                        period=None,
                        submitted_at=datetime.now().replace(microsecond=0),
                        submitted_by=principal.username[:64],
                        file_name=("页面录入" if typed else result.filename or "")[:256],
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
        self.matched: list[int | None] = []  # versions of the stored rows the file's rows matched

    def check_version(self, expected: int) -> None:
        """A form edit names the version it was made on: refuse it when the row has moved on since."""
        if not self.matched:
            reason = "该行已不存在（可能已被合并或停用），请刷新页面后重新选择"
        elif self.matched[0] is not None and self.matched[0] != expected:
            reason = (
                f"该行已被他人修改（您编辑的是第 {expected} 版，现为第 {self.matched[0]} 版），"
                "本次修改未保存：请刷新后在最新内容上重新修改"
            )
        else:
            return
        raise _Refused([RowError(None, None, None, reason)], 1)

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

    def _audit_new(self, rows: list[dict], subject_of, batch_id: int) -> None:
        """One audit row per new row (its history starts here)."""
        detail = [
            (
                subject_of(r)[:128],
                json.dumps({"before": None, "after": r, "batch": batch_id}, ensure_ascii=False, default=str),
            )
            for r in rows
        ]
        write_audits(self.conn, self.principal.username, "register_change", detail)


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
            self.matched.append(old.version)
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
            self._audit_new(
                [v | {"parent": r["parent"], "aliases": r["aliases"]} for v, r in zip(values, self.new, strict=True)],
                lambda v: row_subject("units", v["name"]),
                batch_id,
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
            self._audit("register_change", row_subject("units", key["name"]), before, values)
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
        self.unit_names = {i: n for i, n in conn.execute(select(u.c.id, u.c.name))}
        names = sorted({_norm(n) for n in self.unit_names.values()})
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
            self.matched.append(old.version)
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
            self._audit_new(
                [{k: v for k, v in r.items() if k != "version"} for r in rows],
                lambda r: row_subject("budgets", self.unit_names[r["unit_id"]], r["year"]),
                batch_id,
            )
        for key, before, after in self.changed:
            conn.execute(
                update(b)
                .where(b.c.unit_id == key["unit_id"], b.c.year == key["year"])
                .values(**after, version=b.c.version + 1)
            )
            subject = row_subject("budgets", self.unit_names[key["unit_id"]], key["year"])
            self._audit("register_change", subject, before, after)


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
            self.matched.append(old._mapping.get("version"))
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
            self._audit_new(self.new, lambda v: row_subject(self.form, *(v[c] for c in self.key)), batch_id)
        for key, before, after in self.changed:
            where = [t.c[c] == v for c, v in key.items()]
            extra = {"version": t.c.version + 1} if versioned else {}
            self.conn.execute(update(t).where(*where).values(**after, **extra))
            self._audit("register_change", row_subject(self.form, *key.values()), before, after)


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

    def write(self, batch_id: int) -> None:
        """As every keyed register; a status changed by the file (动态退出 by import) is also a row of the
        outlet's status history, dated today, with the file's 状态说明 as its reason."""
        super().write(batch_id)
        moved = [(k, b, a) for k, b, a in self.changed if b.get("status") != a.get("status")]
        if not moved:
            return
        o, now = s.outlet, datetime.now().replace(microsecond=0)
        names = [k["name"] for k, _, _ in moved]
        ids = dict(self.conn.execute(select(o.c.name, o.c.id).where(o.c.name.in_(names))).all())
        rows = [
            dict(
                outlet_id=ids[k["name"]],
                from_status=b["status"],
                to_status=a["status"],
                reason=a.get("status_reason") or f"网点名录导入（批次 {batch_id}）",
                effective_on=now.date(),
                changed_by=self.principal.username[:64],
                changed_at=now,
            )
            for k, b, a in moved
        ]
        self.conn.execute(insert(s.outlet_status_change), rows)
        self.conn.execute(update(o).where(o.c.id.in_([r["outlet_id"] for r in rows])).values(status_since=now.date()))

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


RULE_TEXTS = ("title", "requirement", "source_doc", "source_doc_no", "source_clause")
RULE_FIELDS = ("year_from", "year_to", "threshold", "threshold_unit", *RULE_TEXTS)
RULE_WIDTHS = {"title": 128, "source_doc": 160, "source_doc_no": 48, "source_clause": 48}


def threshold_text(value: float, unit: str) -> str:
    """A rule's threshold as the 政策规则 register writes it (and reads it back): 30%, 500元/人, 29日."""
    if unit in ("ratio", "ratio_to_last_year"):
        return f"{value * 100:g}%"
    if unit == "yuan_per_member":
        return f"{value:g}元/人"
    if unit == "day_of_month":
        return f"{value:g}日"
    if unit == "filed":
        return "是"
    if unit == "per_quarter":
        return "每季度" if value == 1 else f"{value:g}次/季度"
    return f"{value:g}"


def _years(year_from: int, year_to: int | None) -> str:
    return f"{year_from}-{year_to}" if year_to is not None else f"{year_from}-"


def _years_text(year_from: int, year_to: int | None) -> str:
    return f"{year_from}—{year_to}年" if year_to is not None else f"{year_from}年起"


def _same_text(stored, given) -> bool:
    return (_norm(stored) if stored else None) == (given or None)


class _RulePlan(_Plan):
    """政策规则. A rule is (jurisdiction, subject kind, metric); its versions differ by the year they
    start. A file row with a version's start year updates that version's text in place; a changed
    threshold of a version already in force before the effective year (``year``, else this year)
    closes that version the year before and adds a new one from then on, so past years keep the
    threshold they were judged by. A row starting later than an open version closes it."""

    def __init__(self, conn, principal: Principal, result: ParseResult, year: int | None):
        super().__init__(conn, principal, result)
        self.effective = year if year is not None else datetime.now().year

    def resolve(self) -> None:
        rows = self.result.rows
        last_ok = datetime.now().year + RULE_YEAR_SPAN
        if not 2015 <= self.effective <= last_ok:
            self.refuse(None, None, self.effective, f"生效年度应在 2015 至 {last_ok} 年之间")
        if "years" not in rows and "year_from" not in rows:
            self.refuse(None, "years", None, "缺少「起止年度」列（或「起始年度」「终止年度」两列）")
        self.raise_if_refused()
        regions = RegionNames(self.conn)
        by_rule: dict[tuple, list[dict]] = {}
        for r in rows.itertuples(index=False):
            row = self._row(r, regions)
            if row is not None:
                by_rule.setdefault(row["rule"], []).append(row)
        self.raise_if_refused()
        p = s.policy_rule
        stored: dict[tuple, list[dict]] = {}
        for v in self.conn.execute(select(p).order_by(p.c.year_from, p.c.id)).mappings():
            stored.setdefault((v["jurisdiction_code"], v["subject_kind"], v["metric"]), []).append(dict(v))
        self.codes = {v["code"] for vs in stored.values() for v in vs}
        for rule, found in by_rule.items():
            self._merge(sorted(found, key=lambda f: f["year_from"]), stored.get(rule, []))
        self.raise_if_refused()

    def _row(self, r, regions: RegionNames) -> dict | None:
        """The store's values of one parsed row, or None after ``refuse``."""
        jurisdiction, why = regions.resolve(r.jurisdiction, provinces=True)
        if why:
            self.refuse(r.source_row, "jurisdiction", r.jurisdiction, why)
            return None
        start, end, key = _value(getattr(r, "year_from", None)), _value(getattr(r, "year_to", None)), "year_from"
        if start is None:
            start, end, key = _value(getattr(r, "span_from", None)), _value(getattr(r, "span_to", None)), "years"
        if start is None:
            self.refuse(r.source_row, key, None, "必填：起止年度，如 2021-、2021-2025 或 2021至今")
            return None
        if end is not None and end < start:
            self.refuse(r.source_row, "year_to" if key == "year_from" else key, end, "终止年度早于起始年度")
            return None
        if (r.metric == "origin_yoy_ratio") != (r.subject_kind == "origin_county"):
            self.refuse(
                r.source_row,
                "subject_kind",
                RULE_SUBJECTS[r.subject_kind],
                f"指标「{METRIC_NAMES['origin_yoy_ratio']}」只适用于对象类型「产地区县」，"
                f"对象类型「产地区县」也只能用这一指标（本行指标为「{METRIC_NAMES.get(r.metric, r.metric)}」）",
            )
            return None
        texts = {k: _value(getattr(r, k, None)) for k in RULE_TEXTS}
        for k, width in RULE_WIDTHS.items():
            if texts[k] and len(texts[k]) > width:
                self.refuse(r.source_row, k, texts[k], f"超过{width}个字")
                return None
        return dict(
            row=r.source_row,
            rule=(jurisdiction, r.subject_kind, r.metric),
            year_from=int(start),
            year_to=None if end is None else int(end),
            threshold=round(float(r.threshold), 6),
            threshold_unit=THRESHOLD_UNITS[r.metric],
            **texts,
        )

    def _merge(self, found: list[dict], versions: list[dict]) -> None:
        """Plan one rule's file rows (by start year) against its stored versions."""
        y = self.effective
        for a, b in zip(found, found[1:], strict=False):
            if a["year_from"] == b["year_from"]:
                self.refuse(
                    b["row"], "years", _years(b["year_from"], b["year_to"]), f"与第{a['row']}行是同一规则的同一起始年度"
                )
                return
            if a["year_to"] is None:  # an open row ends where the file's next version of the rule starts
                a["year_to"] = b["year_from"] - 1
            elif a["year_to"] >= b["year_from"]:
                self.refuse(
                    b["row"],
                    "years",
                    _years(b["year_from"], b["year_to"]),
                    f"与第{a['row']}行（{_years_text(a['year_from'], a['year_to'])}）的年度重叠",
                )
                return
        by_start = {v["year_from"]: v for v in versions}
        state = {v["id"]: dict(v) for v in versions}
        touched: dict[int, int] = {}
        added: list[dict] = []

        def end_of(f: dict, start: int) -> int | None:
            if f["year_to"] is not None:
                return f["year_to"]
            later = [x for x in by_start if x > start]  # an open row ends where a stored later version starts
            return min(later) - 1 if later else None

        def change(v: dict, after: dict, row: int) -> bool:
            if v["id"] in touched:
                self.refuse(row, "years", None, f"与第{touched[v['id']]}行指向同一版本（{v['code']}）")
                return False
            touched[v["id"]] = row
            before = {k: _value(v[k]) for k in RULE_FIELDS}
            self.changed.append(({"id": v["id"], "code": v["code"]}, before, after))
            state[v["id"]].update(after)
            return True

        for f in found:
            v = by_start.get(f["year_from"])
            if v is not None and v["year_from"] < y and round(v["threshold"], 6) != f["threshold"]:
                w = by_start.get(y)
                if (
                    w is not None
                    and v["year_to"] == y - 1
                    and round(w["threshold"], 6) == f["threshold"]
                    and (f["year_to"] is None or f["year_to"] >= y)
                ):
                    f, v = dict(f, year_from=y), w  # split by an earlier import: the row is the version from y
            if v is None:
                added.append(self._add(f, f["year_from"], end_of(f, f["year_from"])))
                continue
            self.matched.append(v.get("version"))
            end = end_of(f, f["year_from"])
            after = {"year_from": v["year_from"], "year_to": end, "threshold": f["threshold"]}
            after["threshold_unit"] = f["threshold_unit"]
            after |= {k: v[k] if _same_text(v[k], f[k]) else f[k] for k in RULE_TEXTS}
            before = {k: _value(v[k]) for k in RULE_FIELDS}
            if {**before, "threshold": round(before["threshold"], 6)} == after:
                self.same += 1
                touched.setdefault(v["id"], f["row"])
            elif round(v["threshold"], 6) == f["threshold"] or v["year_from"] >= y:
                change(v, after, f["row"])
            elif (v["year_to"] is not None and v["year_to"] < y) or (end is not None and end < y):
                self.refuse(
                    f["row"],
                    "threshold",
                    threshold_text(f["threshold"], f["threshold_unit"]),
                    f"阈值变更自{y}年起生效，而该规则的这一版本（{_years_text(v['year_from'], v['year_to'])}，"
                    f"阈值{threshold_text(v['threshold'], v['threshold_unit'])}）在{y}年以前已结束；过去的年度按当时的"
                    "规则评价，阈值不能改动。如需自某年起调整，请新增一行并填写新的起始年度",
                )
            elif change(v, before | {"year_to": y - 1}, f["row"]):
                added.append(self._add(f, y, end))
        self._check_overlaps(list(state.values()), added, touched)

    def _add(self, f: dict, start: int, end: int | None) -> dict:
        jurisdiction, subject, metric = f["rule"]
        base = f"{jurisdiction}_{metric}_{start}"[:44]
        code, n = base, 1
        while code in self.codes:
            n += 1
            code = f"{base}_{n}"
        self.codes.add(code)
        values = dict(
            code=code,
            jurisdiction_code=jurisdiction,
            subject_kind=subject,
            metric=metric,
            year_from=start,
            year_to=end,
            threshold=f["threshold"],
            threshold_unit=f["threshold_unit"],
            **{k: f[k] for k in RULE_TEXTS},
            source_file=None,
        )
        self.new.append(values)
        return values | {"row": f["row"]}

    def _check_overlaps(self, stored: list[dict], added: list[dict], touched: dict[int, int]) -> None:
        """No two versions of a rule cover one year: an untouched open version is closed the year before a
        later one starts; any other overlap is refused on the row that made it."""
        items = sorted(stored + added, key=lambda v: (v["year_from"], "row" in v))
        for a, b in zip(items, items[1:], strict=False):
            if a["year_to"] is not None and a["year_to"] < b["year_from"]:
                continue
            a_row, b_row = a.get("row", touched.get(a.get("id"))), b.get("row", touched.get(b.get("id")))
            if a_row is None and b_row is None:
                continue  # the store's own state, not this file's doing
            if a_row is None and a["year_to"] is None and a["year_from"] < b["year_from"]:
                before = {k: _value(a[k]) for k in RULE_FIELDS}
                self.changed.append(
                    ({"id": a["id"], "code": a["code"]}, before, before | {"year_to": b["year_from"] - 1})
                )
                a["year_to"] = b["year_from"] - 1
                continue
            shown = f"已有版本 {a['code']}" if a_row is None else f"第{a_row}行"
            self.refuse(
                b_row if b_row is not None else a_row,
                "years",
                _years(b["year_from"], b["year_to"]),
                f"与{shown}（{_years_text(a['year_from'], a['year_to'])}，"
                f"阈值{threshold_text(a['threshold'], a['threshold_unit'])}）的年度重叠；请调整起止年度",
            )

    def write(self, batch_id: int) -> None:
        p = s.policy_rule
        for key, before, after in self.changed:
            self.conn.execute(update(p).where(p.c.id == key["id"]).values(**after, version=p.c.version + 1))
            self._audit("register_change", row_subject("rules", key["code"]), before, after)
        if self.new:
            self.conn.execute(insert(p), [dict(v, version=1) for v in self.new])
            self._audit_new(self.new, lambda v: row_subject("rules", v["code"]), batch_id)


_PLANS = {
    "units": _UnitPlan,
    "budgets": _BudgetPlan,
    "suppliers": _SupplierPlan,
    "pairings": _PairingPlan,
    "meetings": _MeetingPlan,
    "outlets": _OutletPlan,
    "products": _ProductPlan,
    "rules": _RulePlan,
}


def set_unit_active(
    engine: Engine, principal: Principal, name: str, expected_version: int, active: bool, reason: str
) -> None:
    """Deactivate a unit (it leaves the rules' subjects and the register; its purchases stay) or bring
    it back. Units are referenced by purchases and budgets, so they are never deleted. Refused with
    ``ValueError`` (Chinese) on a stale version or an empty reason."""
    require_role(principal, ADMIN_ROLES, "停用或恢复单位")
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("请填写停用或恢复的原因")
    u = s.buyer_unit
    with engine.begin() as conn:
        row = conn.execute(select(u).where(u.c.name == _norm(name))).first()
        if row is None:
            raise ValueError(f"单位「{name}」不在单位名录中")
        if row.version != expected_version:
            raise ValueError(
                f"该单位已被他人修改（您看到的是第 {expected_version} 版，现为第 {row.version} 版），请刷新后重试"
            )
        if row.active == active:
            raise ValueError(f"单位「{row.name}」已经是{'在用' if active else '停用'}状态")
        conn.execute(update(u).where(u.c.id == row.id).values(active=active, version=u.c.version + 1))
        detail = {
            "what": "恢复" if active else "停用",
            "before": {"active": row.active},
            "after": {"active": active, "reason": reason},
        }
        subject = row_subject("units", row.name)
        write_audit(conn, principal.username, "register_active", subject, json.dumps(detail, ensure_ascii=False))


# The closed vocabularies of the register fields (by ``Field.kind``): the page offers them as choices.
FIELD_CHOICES = {
    "unit_kind": list(BUYER_KINDS.values()),
    "supplier_kind": list(SUPPLIER_KINDS.values()),
    "outlet_kind": list(OUTLET_KINDS.values()),
    "outlet_status": list(OUTLET_STATUSES.values()),
    "pairing_kind": list(PAIRING_KINDS.values()),
    "category": list(CATEGORIES.values()),
    "product_status": list(PRODUCT_STATUSES.values()),
    "rule_subject": list(RULE_SUBJECTS.values()),
    "metric": list(METRIC_NAMES.values()),
}
# The fields that name a row (fixed when it is edited: a new name is a new row, or a merge).
KEY_FIELDS = {
    "budgets": ("unit", "year"),
    "pairings": ("helper", "helped", "kind"),
    "products": ("name", "origin"),
    "meetings": ("held_on",),
    "rules": ("jurisdiction", "years", "subject_kind", "metric"),
}


def key_fields(form: str) -> tuple[str, ...]:
    """The keys of the fields that identify a row of ``form``."""
    return KEY_FIELDS.get(form, (REGISTERS[form].fields[0].key,))


def inactive_units(engine: Engine) -> pd.DataFrame:
    """Units deactivated or merged away, with their version: the page's list to bring one back."""
    u = s.buyer_unit
    with engine.connect() as conn:
        rows = conn.execute(
            select(u.c.name, u.c.kind, u.c.region_code, u.c.version).where(u.c.active.is_(False)).order_by(u.c.name)
        ).all()
    data = [[r[0], BUYER_KINDS.get(r[1], r[1]), r[2], r[3]] for r in rows]
    return pd.DataFrame(data, columns=["单位名称", "单位类型", "所在地区", "版本"])


_SUBJECTS = {
    "units": "单位",
    "budgets": "年度预算",
    "suppliers": "供应商",
    "pairings": "结对关系",
    "meetings": "联席会议",
    "outlets": "网点",
    "products": "产品",
}


def row_subject(form: str, *key) -> str:
    """The audit subject of one register row (``单位:珠海市第一中学``, ``年度预算:珠海市第一中学:2026``):
    every change of the row is audited under it, so its history is one lookup."""
    return f"{_SUBJECTS.get(form, REGISTERS[form].title)}:{'/'.join(str(k) for k in key)}"[:128]


def row_key(form: str, row: dict) -> tuple:
    """The key of a row of ``register_frame`` (template headers → values): what ``row_subject`` and
    ``row_version`` take."""
    values = [row[f.label] for f in REGISTERS[form].fields if f.template]
    if form == "budgets":
        return (_norm(values[0]), int(values[1]))
    if form == "pairings":
        kinds = {label: code for code, label in PAIRING_KINDS.items()}
        return (values[0], values[1], kinds.get(values[2], values[2]))
    if form == "products":
        return (_norm(values[0]), values[2])
    if form == "meetings":
        return (str(values[0])[:10],)
    if form == "rules":  # 适用辖区 code, start year, subject and metric codes: one version of one rule
        subjects = {label: code for code, label in RULE_SUBJECTS.items()}
        metrics = {label: code for code, label in METRIC_NAMES.items()}
        start = int(str(values[1]).split("-")[0].split("至")[0])
        return (values[0], start, subjects.get(values[2], values[2]), metrics.get(values[3], values[3]))
    return (_norm(values[0]),)


def _rule_code(conn, key: tuple) -> str | None:
    p = s.policy_rule
    return conn.execute(
        select(p.c.code).where(
            p.c.jurisdiction_code == key[0], p.c.year_from == key[1], p.c.subject_kind == key[2], p.c.metric == key[3]
        )
    ).scalar()


def row_version(engine: Engine, form: str, key: tuple) -> int | None:
    """The stored version of one register row (None when it is gone or the register keeps none)."""
    with engine.connect() as conn:
        if form == "units":
            u = s.buyer_unit
            return conn.execute(select(u.c.version).where(u.c.name == key[0])).scalar()
        if form == "budgets":
            u, b = s.buyer_unit, s.unit_budget
            q = select(b.c.version).join(u, u.c.id == b.c.unit_id).where(u.c.name == key[0], b.c.year == key[1])
            return conn.execute(q).scalar()
        if form == "rules":
            code = _rule_code(conn, key)
            return conn.execute(select(s.policy_rule.c.version).where(s.policy_rule.c.code == code)).scalar()
        plan = _PLANS[form]
        t = getattr(plan, "table", None)
        if t is None or "version" not in t.c:
            return None
        where = [
            t.c[c] == (pd.Timestamp(v).date() if c == "held_on" else v) for c, v in zip(plan.key, key, strict=False)
        ]
        return conn.execute(select(t.c.version).where(*where)).scalar()


def row_history(engine: Engine, form: str, key: tuple, limit: int = 200) -> pd.DataFrame:
    """Every audited change of one register row, newest first: when, who, what, before and after."""
    a = s.audit_log
    with engine.connect() as conn:
        subject = row_subject(form, _rule_code(conn, key)) if form == "rules" else row_subject(form, *key)
        rows = conn.execute(
            select(a.c.at, a.c.username, a.c.action, a.c.detail)
            .where(a.c.subject == subject)
            .order_by(a.c.at.desc(), a.c.id.desc())
            .limit(limit)
        ).all()
    out = []
    for at, who, action, detail in rows:
        try:
            d = json.loads(detail or "{}")
        except ValueError:
            d = {"note": detail}
        before, after = d.get("before"), d.get("after")
        if action == "register_change":
            what = "新增" if before is None and after is not None else "修改"
        else:
            what = d.get("what") or AUDIT_ACTIONS.get(action, action)
        changed = sorted(k for k in (after or {}) if (before or {}).get(k) != (after or {}).get(k)) if before else []
        out.append(
            {
                "时间": at,
                "操作人": who,
                "操作": what,
                "变更字段": "、".join(_COLUMN_LABELS.get(k, k) for k in changed),
                "修改前": _brief(before, changed),
                "修改后": _brief(after, changed),
            }
        )
    return pd.DataFrame(out, columns=["时间", "操作人", "操作", "变更字段", "修改前", "修改后"])


# The store's column names in a row's history, in the words of the templates.
_COLUMN_LABELS = {
    "name": "名称",
    "kind": "类型",
    "region_code": "所在地区",
    "jurisdiction_code": "帮扶辖区",
    "credit_code": "统一社会信用代码",
    "parent_id": "上级单位",
    "parent": "上级单位",
    "aliases": "别名",
    "active": "在用",
    "reason": "原因",
    "unit_id": "单位",
    "year": "年度",
    "canteen_food_budget": "食堂食材采购预算",
    "reserved_share": "预留比例",
    "reserved_amount": "预留金额",
    "union_members": "工会会员人数",
    "gift_budget": "节日慰问品经费",
    "welfare_budget": "集体福利经费",
    "plan_amount": "年度计划采购额",
    "beneficiaries": "带贫人数",
    "helper_code": "帮扶方",
    "helped_code": "受援地",
    "since_year": "起始年度",
    "until_year": "终止年度",
    "held_on": "日期",
    "title": "名称",
    "note": "备注",
    "address": "地址",
    "lng": "经度",
    "lat": "纬度",
    "coord_source": "坐标来源",
    "operator": "运营单位",
    "opened_on": "开设日期",
    "status": "状态",
    "status_reason": "状态说明",
    "origin_code": "产地县",
    "category": "品类",
    "supplier_id": "供应商",
    "season_months": "上市月份",
    "supply_volume": "年供应量",
    "reference_price": "参考价",
    "cost_price": "成本价",
    "certification_no": "认定批次或文号",
    "certified": "已认定",
    "certified_on": "认定日期",
    "year_from": "起始年度",
    "year_to": "终止年度",
    "threshold": "阈值",
    "requirement": "条款原文",
    "source_doc": "文件名称",
    "source_doc_no": "文号",
    "source_clause": "条款",
    "duplicate": "被合并",
    "kept": "合并到",
    "moved": "移动",
}
_VALUE_LABELS = {
    "kind": BUYER_KINDS | SUPPLIER_KINDS | OUTLET_KINDS | PAIRING_KINDS,
    "status": OUTLET_STATUSES | PRODUCT_STATUSES,
    "category": CATEGORIES,
    "subject_kind": RULE_SUBJECTS,
    "metric": METRIC_NAMES,
    "active": {True: "是", False: "否"},
}


def _brief(values: dict | None, keys: list[str]) -> str:
    if not values:
        return ""
    shown = {k: values.get(k) for k in keys} if keys else values
    words = []
    for k, v in shown.items():
        if k in ("batch", "version", "threshold_unit"):
            continue
        v = _VALUE_LABELS.get(k, {}).get(v, v) if isinstance(v, (str, bool)) else v
        v = "、".join(map(str, v)) if isinstance(v, list) else ("" if v is None else v)
        words.append(f"{_COLUMN_LABELS.get(k, k)}：{v}")
    return "；".join(words)[:300]


def register_frame(engine: Engine, form: str, year: int | None = None, unit_id: int | None = None) -> pd.DataFrame:
    """The register as it stands, in the template's columns (Chinese headers): export → edit → re-import.
    ``unit_id`` keeps one unit's budget rows (what a reporter sees)."""
    labels = [f.label for f in REGISTERS[form].template_fields]
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
                .where(p.c.merged_into.is_(None))
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
        if form == "rules":
            p = s.policy_rule
            rows = conn.execute(
                select(
                    p.c.jurisdiction_code,
                    p.c.year_from,
                    p.c.year_to,
                    p.c.subject_kind,
                    p.c.metric,
                    p.c.threshold,
                    p.c.threshold_unit,
                    *[p.c[k] for k in RULE_TEXTS],
                ).order_by(p.c.jurisdiction_code, p.c.subject_kind, p.c.metric, p.c.year_from)
            ).all()
            data = [
                [
                    r[0],
                    _years(r[1], r[2]),
                    RULE_SUBJECTS.get(r[3], r[3]),
                    METRIC_NAMES.get(r[4], r[4]),
                    threshold_text(r[5], r[6]),
                    *[x or "" for x in r[7:]],
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


def register_export(
    engine: Engine, form: str, year: int | None = None, unit_id: int | None = None, stamp: str | None = None
) -> bytes:
    """The register as an XLSX in the template's shape (its first sheet re-imports unchanged, the
    export ``stamp`` in row 1 included: the importer reads past it)."""
    title = REGISTERS[form].title
    return xlsx_bytes(
        {title: register_frame(engine, form, year, unit_id)},
        {title: f"{title}（导出于 {datetime.now():%Y-%m-%d %H:%M}）"},
        stamp=stamp,
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
