"""数据报送: a checked upload goes into the store in one transaction — all of it, or nothing.

``commit_upload`` takes the ``ParseResult`` of ``ingest.parse_upload`` and writes one
``report_batch`` row plus its purchases (forms ``purchases`` and ``proofs``) or its
beneficiaries and benefits (form ``beneficiaries``). A batch is keyed on (form, file hash):
the same file submitted again changes nothing and the caller learns the earlier batch id.

Names become store keys as follows (every refusal is a row error naming the row and field):

- 采购单位 / 买方 must be a unit of the unit register (``buyer_unit``): units carry budgets and
  rules, so a new one is registered by an administrator, never by an upload. A reporter may
  only submit purchases of its own unit.
- 产地 must be a GB/T 2260 code or the name of a county (or city) in ``region``; the name may
  carry its province/city (``林芝市米林市``). Ambiguous names (朝阳区) and unknown ones are refused.
- 供应商 / 卖方 and 产品名称 are created when unknown: suppliers in the row's 产地, products
  under (name, 产地) with a category inferred from the name, not certified — the 产品名库 shows
  them as new. For 附件2 (no 产地 column) the 产地 comes from the known supplier, else from the
  one catalogue product of that name, else from the batch's default 产地; failing all three
  the row is refused.
"""

from __future__ import annotations

import difflib
import re
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DataError, IntegrityError

from data_access.desks.ingest import (
    ALL_FORMS,
    FORMS,
    PURPOSE_LABELS,
    Limits,
    ParseResult,
    RowError,
    parse_upload,
)
from data_access.desks.prices import run_prices
from data_access.reference.labels import CHANNELS
from data_access.store import rollup
from data_access.store import schema as s
from data_access.store.bulk import bulk_insert
from data_access.store.db import frame
from data_access.trust.auth import SUBMIT_ROLES, Principal, require_role, write_audit

__all__ = [
    "FORM_LABELS",
    "ImportOutcome",
    "batches",
    "check_upload",
    "commit_upload",
    "errors_frame",
    "import_file",
    "preview_frame",
    "store_counts",
    "unit_choices",
]

FORM_LABELS = {key: spec.title for key, spec in FORMS.items()}
MAX_ERRORS = 5000  # listed; every error is counted
BENEFICIARY_CHUNK = 900  # IN-lists stay under SQLite's bound-parameter limit

# Checked in order; the first keyword found in a product name gives its category.
_CATEGORY_WORDS = [
    ("specialty", ("蜂蜜", "核桃", "天麻", "松茸", "莲子", "木耳", "菌", "花椒", "草果", "橘红")),
    ("processed", ("豆腐", "米粉", "粉条", "罐头", "酱", "腊", "饼", "糕", "干", "面条")),
    ("aquatic", ("鱼", "虾", "蟹", "蚝", "贝", "螺", "水产")),
    ("meat_poultry", ("肉", "鸡", "鸭", "鹅", "蛋", "牛", "羊", "猪")),
    ("tea_drink", ("茶", "咖啡", "酒", "饮")),
    ("grain_oil", ("米", "面", "油", "粮", "青稞", "荞", "麦", "豆")),
    ("fruit", ("桃", "李", "梨", "橙", "柑", "橘", "柚", "果", "莓", "瓜", "荔枝", "龙眼", "芒", "蕉", "枣", "葡萄")),
    ("vegetable", ("菜", "椒", "薯", "笋", "菇", "萝卜", "姜", "葱", "蒜", "豆角")),
]
_PURPOSE_WORDS = {"食堂": "canteen", "慰问": "holiday_gift", "福利": "welfare"}


@dataclass
class ImportOutcome:
    """What a check or commit found: the batch (new or earlier), rows written, every error."""

    form: str
    rows: int = 0
    batch_id: int | None = None
    already: bool = False
    committed: bool = False
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    created: dict[str, int] = field(default_factory=dict)
    unit_id: int | None = None
    period: str | None = None
    seconds: float = 0.0
    # Names the registers lack, with the closest registered names: what an admin can register in place.
    unknown_units: dict[str, list[str]] = field(default_factory=dict)
    unknown_suppliers: dict[str, list[str]] = field(default_factory=dict)
    # 价格监测数据: the refresh of the imported series' warnings (counts), run right after the commit.
    warnings: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing stands in the way (a check) or the batch is in the store (a commit)."""
        return not self.errors

    @property
    def message(self) -> str:
        """One paragraph in Chinese for the page and the command line."""
        title = FORM_LABELS[self.form]
        if self.errors:
            count = max(self.error_count, len(self.errors))
            shown = "" if count == len(self.errors) else f"（列出前 {len(self.errors)} 处）"
            return f"「{title}」有 {count} 处问题{shown}，整个文件未导入，数据库未作任何改动。"
        if self.already:
            return f"该文件已于此前导入（批次 {self.batch_id}），本次未重复导入，数据库未作任何改动。"
        new = "、".join(f"{_CREATED_LABELS[k]} {n} 个" for k, n in self.created.items() if n)
        new = f"；新增{new}" if new else ""
        if self.committed:
            refreshed = (
                f"；已刷新这些序列的预警（新增 {self.warnings['inserted']}，更新 {self.warnings['updated']}）"
                if self.warnings
                else ""
            )
            return f"已导入「{title}」{self.rows:,} 行（批次 {self.batch_id}）{new}{refreshed}。"
        return f"「{title}」{self.rows:,} 行可以导入{new}。"


_CREATED_LABELS = {
    "series": "价格监测序列",
    "supplier": "供应商",
    "product": "产品（品类按名称推断，未认定）",
    "beneficiary": "带贫人员",
}


class _Refused(Exception):
    def __init__(self, errors: list[RowError], count: int):
        super().__init__(errors[0].message if errors else "")
        self.errors, self.count = errors, count


_SPACES = re.compile(r"\s+")


def _norm(text) -> str:
    """Names compared as ingest cleans them: NFKC, spaces squeezed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", str(text))).strip()


def _label(form: str, key: str) -> str:
    return FORMS[form].field(key).label


def import_file(
    engine: Engine,
    path: str | Path,
    form: str,
    *,
    unit: int | str | None = None,
    period: str | None = None,
    principal: Principal,
    default_origin: str | None = None,
    today: date | None = None,
    limits: Limits | None = None,
    progress=None,
    defaults: dict | None = None,
) -> tuple[ParseResult, ImportOutcome]:
    """Parse ``path`` and, if it is clean, commit it: the parse and the outcome (what the CLI prints)."""
    result = parse_upload(Path(path), form, None, today, limits=limits, progress=progress, defaults=defaults)
    if not result.ok:
        errors = list(result.errors) or [RowError(None, None, None, result.message)]
        return result, ImportOutcome(form=form, errors=errors, error_count=max(result.error_count, len(errors)))
    return result, commit_upload(
        engine, result, unit=unit, period=period, principal=principal, default_origin=default_origin
    )


def check_upload(
    engine: Engine,
    result: ParseResult,
    *,
    principal: Principal,
    unit: int | str | None = None,
    period: str | None = None,
    default_origin: str | None = None,
) -> ImportOutcome:
    """Everything ``commit_upload`` would check, without writing: for the preview."""
    if result.form == "prices":
        return run_prices(
            engine, result, principal, ImportOutcome(result.form, len(result.rows)), RegionNames, write=False
        )
    return _run(engine, result, unit, period, principal, default_origin, write=False)


def commit_upload(
    engine: Engine,
    result: ParseResult,
    *,
    principal: Principal,
    unit: int | str | None = None,
    period: str | None = None,
    default_origin: str | None = None,
) -> ImportOutcome:
    """Write a clean parse as one batch in one transaction; on any error the store is unchanged.

    ``unit``: the reporting unit (id or name; a reporter's own unit is forced); ``period``:
    ``2024-05`` or ``2024-Q2`` (taken from the dates when not given; required for 名册). Only
    reporters (for their own unit) and admins may submit (``AccessDenied``); the batch and its
    audit row are written in the same transaction. 价格监测数据 (desks and admins) goes to
    ``prices.run_prices``, which then refreshes the warnings of the series it touched.
    """
    if result.form == "prices":
        return run_prices(
            engine, result, principal, ImportOutcome(result.form, len(result.rows)), RegionNames, write=True
        )
    return _run(engine, result, unit, period, principal, default_origin, write=True)


def _run(engine, result, unit, period, principal, default_origin, write: bool) -> ImportOutcome:
    t0 = time.perf_counter()
    require_role(principal, SUBMIT_ROLES, "报送数据")
    outcome = ImportOutcome(form=result.form, rows=len(result.rows))
    if not result.ok or not result.file_hash:
        outcome.errors = list(result.errors) or [RowError(None, None, None, result.message)]
        outcome.error_count = max(result.error_count, len(outcome.errors))
        return outcome
    try:
        # A check only reads; a commit reads and writes in one transaction, so a refusal or a
        # failure anywhere leaves the store as it was.
        with engine.begin() if write else engine.connect() as conn:
            earlier = _earlier_batch(conn, result)
            if earlier is not None:
                outcome.batch_id, outcome.already = earlier, True
                return outcome
            plan = _Plan(conn, result, principal, outcome)
            plan.resolve(unit, period, default_origin)
            if write:
                plan.write()
                outcome.committed = True
    except _Refused as exc:
        outcome.errors, outcome.error_count = exc.errors, exc.count
    except IntegrityError:
        # Someone committed the same file (or created the same supplier) a moment ago.
        with engine.connect() as conn:
            earlier = _earlier_batch(conn, result)
        outcome.committed = False
        if earlier is None:
            outcome.errors = [RowError(None, None, None, "另一批次正在同时导入相同的供应商或产品，请稍后重试")]
        else:
            outcome.batch_id, outcome.already = earlier, True
    except DataError as exc:
        outcome.committed, outcome.batch_id = False, None
        outcome.errors = [
            RowError(None, None, None, f"数据库拒绝了写入（{type(exc.orig).__name__}），整个文件未导入；请联系管理员")
        ]
    outcome.seconds = time.perf_counter() - t0
    return outcome


def _earlier_batch(conn, result: ParseResult) -> int | None:
    b = s.report_batch
    return conn.execute(select(b.c.id).where(b.c.form == result.form, b.c.file_hash == result.file_hash)).scalar()


def _map_unique(series: pd.Series, fn) -> pd.Series:
    """``series.map(fn)`` calling ``fn`` once per distinct value (a million rows, a few hundred names)."""
    values = series.dropna().unique()
    return series.map(dict(zip(values, map(fn, values), strict=True)))


class _Plan:
    """Resolution of one parse against the store, then its writes, on one connection."""

    def __init__(self, conn, result: ParseResult, principal: Principal, outcome: ImportOutcome):
        self.conn, self.result, self.principal, self.outcome = conn, result, principal, outcome
        self.form = result.form
        self.errors: list[tuple[int, int, RowError]] = []
        self.count = 0
        self.frame: pd.DataFrame | None = None

    def refuse(self, row, order: int, field_label, value, reason: str) -> None:
        self.count += 1
        if len(self.errors) >= MAX_ERRORS:
            return
        self.errors.append(
            (row or 0, order, RowError(row, field_label, None if value is None else str(value)[:60], reason))
        )

    def raise_if_refused(self) -> None:
        if self.errors:
            self.errors.sort(key=lambda t: (t[0], t[1]))
            raise _Refused([e for _, _, e in self.errors], self.count)

    def resolve(self, unit, period, default_origin) -> None:
        self.unit = self._unit(unit)
        rows = self.result.rows
        if self.form == "beneficiaries":
            self.period = _period(period) if period else None
            if period and self.period is None:
                self.refuse(None, 0, None, None, f"报送期「{period}」格式不对，应为 2024-05 或 2024-Q2")
            elif not period:
                self.refuse(None, 0, None, None, "带贫人员名册需要填写受益期（报送期），如 2024-05")
            self.raise_if_refused()
            self._resolve_beneficiaries(rows)
        else:
            self._resolve_purchases(rows, default_origin)
            self.raise_if_refused()
            self.period = _period(period) if period else _period_of_dates(self.frame["purchase_date"])
            if period and self.period is None:
                self.refuse(None, 0, None, None, f"报送期「{period}」格式不对，应为 2024-05 或 2024-Q2")
            if self.unit is None:
                buyers = self.frame["buyer_unit_id"].unique()
                self.unit = int(buyers[0]) if len(buyers) == 1 else None
        self.raise_if_refused()
        self.outcome.unit_id, self.outcome.period = self.unit, self.period

    def _unit(self, unit) -> int | None:
        if self.principal.role == "reporter":
            own = self.principal.unit_id
            if own is None:
                self.refuse(None, 0, None, None, "当前报送账号未关联单位，请联系管理员")
                self.raise_if_refused()
            if unit not in (None, "", own, str(own)) and self._find_unit(unit) != own:
                self.refuse(None, 0, None, None, "报送人员只能为本单位报送数据")
                self.raise_if_refused()
            return own
        if unit in (None, ""):
            return None
        found = self._find_unit(unit)
        if found is None:
            self.refuse(None, 0, None, None, f"报送单位「{unit}」不在单位名录中")
            self.raise_if_refused()
        return found

    def _find_unit(self, unit) -> int | None:
        t = s.buyer_unit
        if isinstance(unit, int) or str(unit).isdigit():
            return self.conn.execute(select(t.c.id).where(t.c.id == int(unit))).scalar()
        names = {_norm(n): i for i, n in self.conn.execute(select(t.c.id, t.c.name))}
        return names.get(_norm(unit))

    def _resolve_purchases(self, rows: pd.DataFrame, default_origin: str | None) -> None:
        conn, form = self.conn, self.form
        # Optional columns a file leaves out (凭证号, 渠道, 用途, 数量, 备注) are read as blank cells.
        absent = [f.key for f in FORMS[form].fields if f.key not in rows]
        if absent:
            rows = rows.assign(**{k: pd.Series(None, index=rows.index, dtype=object) for k in absent})
        units = {_norm(n): i for i, n in conn.execute(select(s.buyer_unit.c.id, s.buyer_unit.c.name))}
        names = sorted(units)
        # A unit is found by any of its registered aliases too (珠海一中 for 珠海市第一中学).
        units |= {_norm(a): i for a, i in conn.execute(select(s.unit_alias.c.alias, s.unit_alias.c.unit_id))}
        suppliers = {
            _norm(n): (i, r)
            for i, n, r in conn.execute(select(s.supplier.c.id, s.supplier.c.name, s.supplier.c.region_code))
        }
        products: dict[tuple[str, str], int] = {}
        origins_of: dict[str, set[str]] = {}
        # A product merged into another (desks.merges) is found as the product it was merged into.
        pr = s.product.c
        for i, n, o, m in conn.execute(select(pr.id, pr.name, pr.origin_code, pr.merged_into)):
            products[(_norm(n), o)] = m or i
            origins_of.setdefault(_norm(n), set()).add(o)
        regions = RegionNames(conn)
        seller_key = "supplier" if form == "purchases" else "seller"
        orders = {f.key: i for i, f in enumerate(FORMS[form].fields)}

        out = pd.DataFrame({"source_row": rows["source_row"].astype("int64")})
        limits = [("buyer", 128), (seller_key, 128), ("product", 128)] + (
            [("voucher", 64)] if form == "purchases" else []
        )
        for key, width in limits:
            long = rows[key].str.len() > width
            for row, text in zip(rows["source_row"][long], rows[key][long], strict=True):
                self.refuse(int(row), orders[key], _label(form, key), text, f"超过{width}个字")
        buyer = _map_unique(rows["buyer"], _norm)
        buyer_ids = buyer.map(units)
        closest: dict[str, str] = {}
        for row, name in zip(rows["source_row"][buyer_ids.isna()], rows["buyer"][buyer_ids.isna()], strict=True):
            if name not in closest:
                close = difflib.get_close_matches(_norm(name), names, n=3, cutoff=0.5) if len(closest) < 500 else []
                closest[name] = f"是否为：{'、'.join(close)}？" if close else ""
                self.outcome.unknown_units.setdefault(_norm(name), close)
            self.refuse(
                int(row),
                orders["buyer"],
                _label(form, "buyer"),
                name,
                f"「{name}」不在单位名录中；{closest[name]}采购单位须先由管理员在“基础数据”登记（或把该名称登记为别名）",
            )
        if self.principal.role == "reporter":
            other = buyer_ids.notna() & (buyer_ids != self.unit)
            for row, name in zip(rows["source_row"][other], rows["buyer"][other], strict=True):
                self.refuse(
                    int(row), orders["buyer"], _label(form, "buyer"), name, "不是本单位；报送人员只能报送本单位的采购"
                )
        out["buyer_unit_id"] = buyer_ids

        seller = _map_unique(rows[seller_key], _norm)
        product = _map_unique(rows["product"], _norm)
        seller_ids = seller.map({n: i for n, (i, _) in suppliers.items()})
        if form == "purchases":
            found = {text: regions.resolve(text) for text in rows["origin"].dropna().unique()}
            origin = rows["origin"].map({t: code for t, (code, _) in found.items()})
            bad = origin.isna()
            for row, text in zip(rows["source_row"][bad], rows["origin"][bad], strict=True):
                self.refuse(int(row), orders["origin"], _label(form, "origin"), text, found[text][1])
        else:
            origin = seller.map({n: r for n, (_, r) in suppliers.items()})
            origin = origin.fillna(product.map({n: next(iter(o)) for n, o in origins_of.items() if len(o) == 1}))
            if default_origin:
                code, reason = regions.resolve(default_origin)
                if code is None:
                    self.refuse(None, 0, None, None, f"默认产地：{reason}")
                origin = origin.fillna(code) if code else origin
            bad = origin.isna()
            supplier_names = sorted(suppliers)
            for name in rows[seller_key][bad].dropna().unique()[:500]:
                close = difflib.get_close_matches(_norm(name), supplier_names, n=3, cutoff=0.5)
                self.outcome.unknown_suppliers.setdefault(_norm(name), close)
            for row, name in zip(rows["source_row"][bad], rows[seller_key][bad], strict=True):
                self.refuse(
                    int(row),
                    orders["seller"],
                    _label(form, "seller"),
                    name,
                    f"「{name}」不在供应商名录中，产品也无法确定唯一产地；请先报送含产地的采购台账，"
                    "或导入时选择默认产地",
                )
        out["origin_code"] = origin
        self.raise_if_refused()

        fresh = seller_ids.isna()
        new_sellers = pd.DataFrame(
            {"name": seller[fresh], "region_code": origin[fresh], "display": rows[seller_key][fresh]}
        ).drop_duplicates("name")
        new_sellers["kind"] = new_sellers["name"].map(_supplier_kind)
        self.new_suppliers = new_sellers
        out["supplier_name"] = seller
        out["supplier_id"] = seller_ids

        keys = product + "\x1f" + origin
        product_ids = keys.map({f"{n}\x1f{o}": i for (n, o), i in products.items()})
        fresh = product_ids.isna()
        self.new_products = pd.DataFrame(
            {
                "key": keys[fresh],
                "name": product[fresh],
                "origin_code": origin[fresh],
                "supplier_name": seller[fresh],
                "display": rows["product"][fresh],
            }
        ).drop_duplicates("key")
        out["product_key"] = keys
        out["product_id"] = product_ids

        dates = pd.to_datetime(rows["date"])
        out["purchase_date"] = dates
        out["month"] = dates.dt.year * 100 + dates.dt.month
        if form == "purchases":
            out["channel"] = rows["channel"].fillna("other")
            out["purpose"] = rows["purpose"].fillna("other")
            out["voucher_no"] = rows["voucher"]
        else:
            out["channel"] = "other"
            out["purpose"] = rows["remark"].map(_purpose_of_remark)
            out["voucher_no"] = None
        out["quantity"] = rows["quantity"]
        out["amount"] = rows["amount_yuan"]
        self.frame = out
        self.outcome.created = {"supplier": len(self.new_suppliers), "product": len(self.new_products)}

    def _resolve_beneficiaries(self, rows: pd.DataFrame) -> None:
        long = rows["name"].str.len() > 64
        for row, text in zip(rows["source_row"][long], rows["name"][long], strict=True):
            self.refuse(int(row), 0, _label("beneficiaries", "name"), text, "超过64个字")
        self.raise_if_refused()
        hashes = rows["id_hash"].tolist()
        known: dict[str, int] = {}
        for start in range(0, len(hashes), BENEFICIARY_CHUNK):
            part = hashes[start : start + BENEFICIARY_CHUNK]
            known.update(
                {
                    h: i
                    for i, h in self.conn.execute(
                        select(s.beneficiary.c.id, s.beneficiary.c.id_hash).where(s.beneficiary.c.id_hash.in_(part))
                    )
                }
            )
        self.known_people = known
        self.frame = rows
        self.outcome.created = {"beneficiary": int((~rows["id_hash"].isin(known)).sum())}

    def write(self) -> None:
        conn, result = self.conn, self.result
        batch_id = conn.execute(
            s.report_batch.insert().values(
                form=self.form,
                unit_id=self.unit,
                period=self.period,
                submitted_at=datetime.now().replace(microsecond=0),
                submitted_by=self.principal.username[:64],
                file_name=(result.filename or "")[:256],
                file_hash=result.file_hash,
                row_count=len(result.rows),
                status="committed",
            )
        ).inserted_primary_key[0]
        self.outcome.batch_id = batch_id
        if self.form == "beneficiaries":
            self._write_beneficiaries(batch_id)
        else:
            self._write_purchases(batch_id)
        # The monthly rollups stay current inside the same transaction.
        rollup.add_batch(conn, batch_id)
        write_audit(
            conn,
            self.principal.username,
            "report_commit",
            f"批次 #{batch_id}",
            f"{FORM_LABELS[self.form]} {len(result.rows)} 行，文件 {(result.filename or '')[:80]}",
        )

    def _write_purchases(self, batch_id: int) -> None:
        conn, out = self.conn, self.frame
        if len(self.new_suppliers):
            conn.execute(
                s.supplier.insert(),
                self.new_suppliers[["display", "region_code", "kind"]]
                .rename(columns={"display": "name"})
                .to_dict("records"),
            )
        suppliers = {_norm(n): i for i, n in conn.execute(select(s.supplier.c.id, s.supplier.c.name))}
        out["supplier_id"] = out["supplier_name"].map(suppliers)
        if len(self.new_products):
            new = self.new_products
            conn.execute(
                s.product.insert(),
                [
                    dict(
                        name=d,
                        category=_category(n),
                        origin_code=o,
                        supplier_id=suppliers.get(sn),
                        unit="kg",
                        certified=False,
                        status="listed",
                    )
                    for n, o, sn, d in zip(
                        new["name"], new["origin_code"], new["supplier_name"], new["display"], strict=True
                    )
                ],
            )
            products = {
                f"{_norm(n)}\x1f{o}": i
                for i, n, o in conn.execute(select(s.product.c.id, s.product.c.name, s.product.c.origin_code))
            }
            out["product_id"] = out["product_key"].map(products)
        out["batch_id"] = batch_id
        bulk_insert(conn, s.purchase, out)

    def _write_beneficiaries(self, batch_id: int) -> None:
        conn, rows = self.conn, self.frame
        fresh = rows[~rows["id_hash"].isin(self.known_people)]
        if len(fresh):
            people = pd.DataFrame(
                {
                    "name": fresh["name"],
                    "id_hash": fresh["id_hash"],
                    "id_masked": fresh["id_masked"],
                    "id_encrypted": fresh["id_cipher"],
                    "phone_masked": fresh["phone_masked"],
                    "phone_encrypted": fresh["phone_cipher"],
                    "batch_id": batch_id,
                }
            )
            bulk_insert(conn, s.beneficiary, people)
        ids = dict(self.known_people)
        ids.update(
            {
                h: i
                for i, h in conn.execute(
                    select(s.beneficiary.c.id, s.beneficiary.c.id_hash).where(s.beneficiary.c.batch_id == batch_id)
                )
            }
        )
        benefits = pd.DataFrame(
            {
                "beneficiary_id": rows["id_hash"].map(ids),
                "unit_id": self.unit,
                "period": self.period,
                "amount": rows["benefit_yuan"],
                "batch_id": batch_id,
            }
        )
        benefits["unit_id"] = benefits["unit_id"].astype("Int64")
        bulk_insert(conn, s.benefit, benefits)


class RegionNames:
    """产地 text → region code, by code, by name, or by name with its province/city in front."""

    def __init__(self, conn):
        t = s.region
        rows = conn.execute(select(t.c.code, t.c.name, t.c.level, t.c.parent_code, t.c.province_code)).all()
        self.by_code = {r.code: r for r in rows}
        self.by_name: dict[str, list] = {}
        for r in rows:
            parent = self.by_code.get(r.parent_code)
            province = self.by_code.get(r.province_code)
            names = {r.name}
            for above in (parent, province):
                if above is not None and above.code != r.code:
                    names.add(above.name + r.name)
            if parent is not None and province is not None and parent.code != province.code:
                names.add(province.name + parent.name + r.name)
            for name in names:
                self.by_name.setdefault(_norm(name), []).append(r)

    def resolve(self, text, provinces: bool = False) -> tuple[str | None, str | None]:
        """(code, None) or (None, the reason in Chinese); a province only when ``provinces``."""
        t = _norm(text)
        hit = self.by_code.get(t)
        if hit is None:
            found = self.by_name.get(t, [])
            counties = [r for r in found if r.level == "county"]
            found = counties or found
            if len(found) > 1:
                where = "、".join(f"{self._place(r)}（{r.code}）" for r in found[:5])
                return None, f"「{text}」有{len(found)}个同名地区：{where}；请填写六位区划代码或带上省市名称"
            hit = found[0] if found else None
        if hit is None:
            return None, f"「{text}」不是已知的区县名称或GB/T 2260区划代码"
        if hit.level == "province" and not provinces:
            return None, f"「{text}」是省级地区；产地请填写到县（市、区）"
        return hit.code, None

    def _place(self, r) -> str:
        parent = self.by_code.get(r.parent_code)
        return (parent.name if parent is not None else "") + r.name


def _supplier_kind(name: str) -> str | None:
    if "合作社" in name:
        return "cooperative"
    if "农场" in name:
        return "farm"
    if any(w in name for w in ("公司", "厂", "集团", "企业")):
        return "firm"
    return None


def _category(name: str) -> str:
    for category, words in _CATEGORY_WORDS:
        if any(w in name for w in words):
            return category
    return "specialty"


def _purpose_of_remark(remark) -> str:
    if not isinstance(remark, str):
        return "other"
    return next((code for word, code in _PURPOSE_WORDS.items() if word in remark), "other")


_PERIOD_MONTH = re.compile(r"^(\d{4})\s*[-年/.]?\s*(\d{1,2})\s*月?$")
_PERIOD_QUARTER = re.compile(r"^(\d{4})\s*[-年]?\s*(?:[Qq]|第)\s*([1-4一二三四])\s*(?:季度)?$")


def _period(text: str | None) -> str | None:
    """``2024-05`` / ``2024-Q2`` from what a user types (``2024年5月``, ``2024Q2``…); None if unreadable."""
    t = unicodedata.normalize("NFKC", str(text or "")).strip()
    m = _PERIOD_MONTH.match(t)
    if m and 1 <= int(m.group(2)) <= 12:
        return f"{m.group(1)}-{int(m.group(2)):02d}"
    m = _PERIOD_QUARTER.match(t)
    if m:
        q = "1234"["一二三四".index(m.group(2))] if m.group(2) in "一二三四" else m.group(2)
        return f"{m.group(1)}-Q{q}"
    return None


def _period_of_dates(dates: pd.Series) -> str | None:
    """The month, else the quarter, that holds every date; None when they spread wider."""
    lo, hi = dates.min(), dates.max()
    if pd.isna(lo):
        return None
    if (lo.year, lo.month) == (hi.year, hi.month):
        return f"{lo.year}-{lo.month:02d}"
    if lo.year == hi.year and (lo.month - 1) // 3 == (hi.month - 1) // 3:
        return f"{lo.year}-Q{(lo.month - 1) // 3 + 1}"
    return None


def preview_frame(result: ParseResult, limit: int = 200) -> pd.DataFrame:
    """The first ``limit`` parsed rows under Chinese headers; ID and phone numbers only masked."""
    spec = ALL_FORMS[result.form]
    rows = result.rows.head(limit)
    columns = {"source_row": "行号"}
    if result.form == "beneficiaries":
        columns.update(
            {
                "name": "姓名",
                "id_masked": "身份证（脱敏）",
                "phone_masked": "联系方式（脱敏）",
                "benefit_yuan": "受益金额（元）",
            }
        )
    elif result.form == "prices":
        columns.update(
            {
                "date": "日期",
                "product": "产品",
                "origin": "产地",
                "market": "市场/监测点",
                "county": "监测点所在县",
                "price_shown": "报送价格",
                "unit": "单位",
                "price": "价格（元/公斤）",
                "volume": "销量（kg）",
                "stock": "库存（kg）",
                "source": "来源",
            }
        )
        rows = rows.dropna(axis=1, how="all")
    else:
        for f in spec.fields:
            if f.key in rows:
                columns[f.key] = "金额（元）" if f.key == "amount_yuan" else f.label
        if "unit" in rows and "unit" not in columns:  # the quantity's unit (a budget's 单位 is a field)
            columns["unit"] = "计量单位"
    out = rows[[c for c in columns if c in rows]].rename(columns=columns)
    for col in ("交易时间", "交易日期", "日期"):
        if col in out:
            out[col] = pd.to_datetime(out[col]).dt.date

    if "渠道" in out:
        out["渠道"] = out["渠道"].map(CHANNELS)
    if "用途" in out:
        out["用途"] = out["用途"].map(PURPOSE_LABELS)
    return out


def errors_frame(errors: list[RowError]) -> pd.DataFrame:
    """Errors as a table: 行, 字段, 内容, 问题 (rows empty for whole-file problems)."""
    return pd.DataFrame(
        {
            "行": pd.array([e.row for e in errors], dtype="Int64"),
            "字段": [e.field or "整个文件" for e in errors],
            "内容": [e.value or "" for e in errors],
            "问题": [e.reason for e in errors],
        }
    )


def batches(engine: Engine, principal: Principal | None = None, limit: int = 100) -> pd.DataFrame:
    """The latest report batches, newest first: id, form, unit, period, who, when, rows, file, hash.

    A reporter sees only its own unit's batches.
    """
    b, u = s.report_batch, s.buyer_unit
    q = (
        select(
            b.c.id,
            b.c.form,
            u.c.name.label("unit_name"),
            b.c.period,
            b.c.submitted_by,
            b.c.submitted_at,
            b.c.row_count,
            b.c.file_name,
            b.c.file_hash,
            b.c.status,
        )
        .select_from(b.outerjoin(u, u.c.id == b.c.unit_id))
        .order_by(b.c.submitted_at.desc(), b.c.id.desc())
        .limit(limit)
    )
    if principal is not None and principal.role == "reporter":
        q = q.where(b.c.unit_id == principal.unit_id)
    with engine.connect() as conn:
        df = frame(
            conn.execute(q).all(),
            columns=[
                "id",
                "form",
                "unit_name",
                "period",
                "submitted_by",
                "submitted_at",
                "row_count",
                "file_name",
                "file_hash",
                "status",
            ],
        )
    # 基础数据 registers are batches too (their files are kept apart by form and hash): titled as such.
    df["form_label"] = df["form"].map({key: spec.title for key, spec in ALL_FORMS.items()}).fillna(df["form"])
    return df


def unit_choices(engine: Engine, principal: Principal | None = None) -> pd.DataFrame:
    """Units a batch can be reported for (``id, name``), by name; a reporter gets only its own."""
    u = s.buyer_unit
    q = select(u.c.id, u.c.name).order_by(u.c.name)
    if principal is not None and principal.role == "reporter":
        q = q.where(u.c.id == principal.unit_id)
    with engine.connect() as conn:
        return frame(conn.execute(q).all(), columns=["id", "name"])


def store_counts(engine: Engine) -> dict[str, int]:
    """Row count of every table of the store (to show that a refused import changed nothing)."""
    with engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(t)).scalar() for name, t in s.metadata.tables.items()
        }
