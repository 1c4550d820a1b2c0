"""数据报送: read the reporting forms from messy office files, normalise and validate them.

Four forms: ``beneficiaries`` (附件1 带贫人员名册), ``proofs`` (附件2 消费扶贫证明材料) — both as
prescribed by seed 002 —, ``purchases`` (采购台账, the purchase ledger) and ``prices`` (价格监测数据,
long or wide, read by ``read_price_rows``). ``parse_upload``
reads CSV (UTF-8, UTF-8 with BOM, GBK/GB18030, UTF-16 with BOM) or XLSX, finds the header row
below title rows, maps header synonyms to fields, and returns a ``ParseResult`` whose ``rows``
hold normalised values (yuan, kg, dates) under English column names, ready for the store, and
whose ``errors`` name each bad cell by its spreadsheet row and Chinese field name.

Formula injection: a text cell that starts with ``=``, ``@``, or ``+``/``-`` followed by
anything but a plain number is rejected with an error (after trimming leading tabs and line
breaks), so the store never holds a text that a spreadsheet would run. Exports still pass
every cell through ``safe_cell``, because data can reach the store by other paths.

Beneficiary ID and phone numbers never appear in ``rows`` in clear: only masked, as a keyed
hash (IDs) and as Fernet ciphertext (see ``data_access.trust.personal``).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pandas as pd

from data_access.engines.rules import METRIC_NAMES, METRICS, THRESHOLD_UNITS
from data_access.query.export import neutralise as safe_cell
from data_access.query.export import safe_frame
from data_access.reference import labels
from data_access.trust import personal

__all__ = [
    "ALL_FORMS",
    "CHANNEL_LABELS",
    "FORMS",
    "REGISTERS",
    "SUPPLIER_KINDS",
    "credit_code_problem",
    "season_months",
    "Limits",
    "ParseResult",
    "PURPOSE_LABELS",
    "RowError",
    "parse_upload",
    "safe_cell",
    "safe_frame",
    "template_bytes",
]

MB = 1024 * 1024
EARLIEST_DATE = date(2015, 1, 1)  # 精准扶贫 reporting starts in 2015; earlier dates are typos.
HEADER_SCAN_ROWS = 30
SAMPLE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Field:
    """One column of a form: English key in ``rows``, the template header, how to read it."""

    key: str
    label: str
    kind: str  # text, id_number, phone, amount, date, quantity, region, channel, purpose
    synonyms: tuple[str, ...] = ()
    header_required: bool = True
    value_required: bool = True
    template: bool = True  # False: an alternative column a file may have, not in the template or export


@dataclass(frozen=True)
class FormSpec:
    """A reporting form: its title as in the seed, its fields, its example row and its limits."""

    key: str
    title: str
    attachment: str
    fields: tuple[Field, ...]
    example: tuple[str, ...]
    max_rows: int
    max_amount_yuan: float

    def field(self, key: str) -> Field:
        return next(f for f in self.fields if f.key == key)

    @property
    def template_fields(self) -> tuple[Field, ...]:
        """The columns of the template and of an export, in order (``example`` has one cell each)."""
        return tuple(f for f in self.fields if f.template)


_DATE_SYNONYMS = (
    "交易日期",
    "交易时间",
    "日期",
    "采购日期",
    "采购时间",
    "购买日期",
    "购买时间",
    "时间",
    "销售日期",
    "发生日期",
)
_AMOUNT_SYNONYMS = ("金额", "交易金额", "采购金额", "购买金额", "销售金额", "总金额", "价款", "合计金额")
_QUANTITY_SYNONYMS = ("数量", "采购数量", "购买数量", "销售数量", "重量", "数量重量")
_PRODUCT_SYNONYMS = ("产品名称", "产品", "品名", "商品名称", "商品", "扶贫产品名称", "帮扶产品名称", "产品品名")
_SELLER_SYNONYMS = ("卖方", "供应商", "销售方", "供货单位", "供货方", "销售单位", "卖方单位", "供应商名称")
_BUYER_SYNONYMS = ("买方", "采购单位", "购买方", "采购方", "购买单位", "买方单位", "采购单位名称")

FORMS: dict[str, FormSpec] = {
    "beneficiaries": FormSpec(
        key="beneficiaries",
        title="带贫人员名册",
        attachment="附件1",
        fields=(
            Field(
                "name",
                "姓名",
                "text",
                ("姓名", "受益人", "受益人姓名", "带贫人员", "带贫人员姓名", "户主姓名", "帮扶对象"),
            ),
            Field(
                "id_number",
                "身份证",
                "id_number",
                ("身份证", "身份证号", "身份证号码", "公民身份号码", "身份证件号码", "证件号码", "证件号"),
            ),
            Field(
                "phone",
                "联系方式",
                "phone",
                ("联系方式", "联系电话", "电话", "电话号码", "手机", "手机号", "手机号码"),
                value_required=False,
            ),
            Field(
                "benefit_yuan",
                "受益金额",
                "amount",
                ("受益金额", "收益金额", "带贫收益", "增收金额", "受益金额数", "金额"),
            ),
        ),
        example=("示例：张三", "430921199001011230", "13800138000", "1200"),
        max_rows=100_000,
        max_amount_yuan=1_000_000,
    ),
    "proofs": FormSpec(
        key="proofs",
        title="消费扶贫证明材料",
        attachment="附件2",
        fields=(
            Field("seq", "序号", "text", ("序号", "编号", "no", "no."), header_required=False, value_required=False),
            Field("product", "产品名称", "text", _PRODUCT_SYNONYMS),
            Field("seller", "卖方", "text", _SELLER_SYNONYMS),
            Field("buyer", "买方", "text", _BUYER_SYNONYMS),
            Field("quantity", "数量", "quantity", _QUANTITY_SYNONYMS, value_required=False),
            Field("amount_yuan", "金额", "amount", _AMOUNT_SYNONYMS),
            Field("date", "交易时间", "date", _DATE_SYNONYMS),
            Field("remark", "备注", "text", ("备注", "说明", "备注说明"), header_required=False, value_required=False),
        ),
        example=(
            "示例",
            "大通湖大闸蟹",
            "大通湖区某某水产合作社",
            "区直机关工会",
            "50公斤",
            "6000",
            "2024-09-20",
            "节日慰问品",
        ),
        max_rows=200_000,
        max_amount_yuan=100_000_000,
    ),
    "purchases": FormSpec(
        key="purchases",
        title="消费帮扶采购台账",
        attachment="",
        fields=(
            Field("date", "交易日期", "date", _DATE_SYNONYMS),
            Field("buyer", "采购单位", "text", _BUYER_SYNONYMS),
            Field("supplier", "供应商", "text", _SELLER_SYNONYMS),
            Field("product", "产品名称", "text", _PRODUCT_SYNONYMS),
            Field(
                "origin",
                "产地",
                "region",
                (
                    "产地",
                    "原产地",
                    "产地县",
                    "产地县区",
                    "产地区县",
                    "产品产地",
                    "来源地",
                    "产地代码",
                    "产地县区名称或代码",
                ),
            ),
            Field(
                "channel",
                "渠道",
                "channel",
                ("渠道", "采购渠道", "销售渠道", "购买渠道", "购买方式", "采购方式"),
                header_required=False,
                value_required=False,
            ),
            Field(
                "purpose",
                "用途",
                "purpose",
                ("用途", "采购用途", "消费类型", "采购类型"),
                header_required=False,
                value_required=False,
            ),
            Field("quantity", "数量", "quantity", _QUANTITY_SYNONYMS, header_required=False, value_required=False),
            Field("amount_yuan", "金额（元）", "amount", _AMOUNT_SYNONYMS),
            Field(
                "voucher",
                "凭证号",
                "text",
                ("凭证号", "凭证编号", "发票号", "发票号码", "单据号", "订单号", "凭证号码"),
                header_required=False,
                value_required=False,
            ),
        ),
        example=(
            "示例：2024-03-15",
            "珠海市第一中学",
            "某某县农产品专业合作社",
            "高原红米",
            "433127",
            "832平台",
            "食堂食材",
            "500kg",
            "3250.00",
            "FP20240315001",
        ),
        max_rows=2_000_000,
        max_amount_yuan=100_000_000,
    ),
    # Long files by these headers; wide files (one column per market or product) are read by
    # ``prices.read_price_rows`` with the default product or market chosen on the page.
    "prices": FormSpec(
        key="prices",
        title="价格监测数据",
        attachment="",
        fields=(
            Field(
                "date", "日期", "date", ("日期", "监测日期", "采集日期", "报价日期", "时间", "发布日期", "周", "月份")
            ),
            Field("product", "产品", "text", ("产品", "品种", "产品名称", "品名", "商品", "商品名称", "农产品")),
            Field(
                "origin", "产地", "region", ("产地", "原产地", "产品产地"), header_required=False, value_required=False
            ),
            Field(
                "market",
                "市场/监测点",
                "text",
                ("市场/监测点", "市场", "监测点", "批发市场", "市场名称", "监测点名称", "采价点"),
                header_required=False,
                value_required=False,
            ),
            Field(
                "county",
                "监测点所在县",
                "region",
                ("监测点所在县", "监测点县", "所在县", "监测县"),
                header_required=False,
                value_required=False,
            ),
            Field(
                "price", "价格", "price", ("价格", "均价", "平均价", "批发价", "批发均价", "零售价", "收购价", "地头价")
            ),
            Field(
                "unit",
                "单位",
                "text",
                ("单位", "价格单位", "计价单位"),
                header_required=False,
                value_required=False,
            ),
            Field(
                "volume",
                "销量",
                "quantity",
                ("销量", "交易量", "成交量", "上市量"),
                header_required=False,
                value_required=False,
            ),
            Field("stock", "库存", "quantity", ("库存", "库存量"), False, False),
            Field(
                "source", "来源", "text", ("来源", "数据来源", "信息来源"), header_required=False, value_required=False
            ),
        ),
        example=(
            "示例：2024-03-15",
            "高原红米",
            "433127",
            "北京新发地",
            "110106",
            "6.80",
            "元/斤",
            "1200kg",
            "300kg",
            "农业农村局",
        ),
        max_rows=500_000,
        max_amount_yuan=100_000_000,
    ),
}

_UNIT_SYNONYMS = ("单位", "单位名称", "单位全称", "采购单位", "预算单位", "工会名称", "单位（全称）")

# 基础数据 registers a 协作办 keeps (issue: real data in). Loaded through the same parse as the forms
# above, then checked against the store and written by ``desks.registers``.
REGISTERS: dict[str, FormSpec] = {
    "units": FormSpec(
        key="units",
        title="单位名录",
        attachment="",
        fields=(
            Field("name", "单位名称", "text", _UNIT_SYNONYMS),
            Field("kind", "单位类型", "unit_kind", ("单位类型", "类型", "单位性质", "性质")),
            Field(
                "region",
                "所在地区",
                "region",
                ("所在地区", "所在地", "所在区县", "地区", "所在县区", "区划代码", "所在地区代码"),
            ),
            Field(
                "jurisdiction",
                "帮扶辖区",
                "region",
                ("帮扶辖区", "所属辖区", "适用辖区", "帮扶方", "所属帮扶地区", "辖区"),
            ),
            Field(
                "credit_code",
                "统一社会信用代码",
                "credit_code",
                ("统一社会信用代码", "信用代码", "社会信用代码", "组织机构代码"),
                header_required=False,
                value_required=False,
            ),
            Field("parent", "上级单位", "text", ("上级单位", "主管单位", "上级主管单位"), False, False),
            Field("aliases", "别名", "text", ("别名", "简称", "曾用名", "其他名称"), False, False),
        ),
        example=("示例：珠海市第一中学", "预算单位", "440402", "珠海市", "", "珠海市教育局", "珠海一中、市一中"),
        max_rows=200_000,
        max_amount_yuan=0,
    ),
    "budgets": FormSpec(
        key="budgets",
        title="年度预算与预留份额",
        attachment="",
        fields=(
            Field("unit", "单位", "text", _UNIT_SYNONYMS),
            # Without the column the year comes from the import (--year); a blank cell is refused there.
            Field(
                "year", "年度", "year", ("年度", "年份", "预算年度", "年"), header_required=False, value_required=False
            ),
            Field(
                "canteen_food_budget",
                "食堂食材采购预算",
                "amount",
                ("食堂食材采购预算", "食堂食材预算", "年度食堂食材采购预算", "食堂采购预算", "食材采购预算"),
                value_required=False,
            ),
            Field(
                "reserved_share",
                "预留比例",
                "ratio",
                ("预留比例", "预留份额比例", "预留份额", "预留比例（%）"),
                header_required=False,
                value_required=False,
            ),
            Field(
                "reserved_amount",
                "预留金额",
                "amount",
                ("预留金额", "预留份额金额", "预留采购金额"),
                header_required=False,
                value_required=False,
            ),
            Field("union_members", "工会会员人数", "count", ("工会会员人数", "会员人数", "工会会员数"), False, False),
            Field(
                "gift_budget",
                "节日慰问品经费",
                "amount",
                ("节日慰问品经费", "慰问品经费", "节日慰问经费"),
                False,
                False,
            ),
            Field(
                "welfare_budget", "集体福利经费", "amount", ("集体福利经费", "集体福利额度", "福利经费"), False, False
            ),
            Field(
                "plan_amount",
                "年度计划采购额",
                "amount",
                ("年度计划采购额", "年度采购计划", "计划采购额", "年度指导计划", "消费帮扶计划"),
                header_required=False,
                value_required=False,
            ),
        ),
        example=("示例：珠海市第一中学", "2026", "120万元", "30%", "", "", "", "", "40万元"),
        max_rows=500_000,
        max_amount_yuan=10_000_000_000,
    ),
    "suppliers": FormSpec(
        key="suppliers",
        title="供应商名录",
        attachment="",
        fields=(
            Field("name", "名称", "text", ("名称", "供应商名称", "供应商", "企业名称", "合作社名称", "主体名称")),
            Field(
                "credit_code",
                "统一社会信用代码",
                "credit_code",
                ("统一社会信用代码", "信用代码", "社会信用代码"),
                header_required=False,
                value_required=False,
            ),
            Field("region", "所在县", "region", ("所在县", "所在县区", "所在地区", "所在地", "产地", "区县")),
            Field("kind", "类型", "supplier_kind", ("类型", "主体类型", "经营主体类型", "供应商类型"), False, False),
            Field(
                "beneficiaries",
                "带贫人数",
                "count",
                ("带贫人数", "联农带贫人数", "带动脱贫人口", "带贫户数"),
                False,
                False,
            ),
        ),
        example=("示例：大通湖区某某水产合作社", "", "大通湖区", "合作社", "35"),
        max_rows=200_000,
        max_amount_yuan=0,
    ),
    "pairings": FormSpec(
        key="pairings",
        title="结对关系",
        attachment="",
        fields=(
            Field("helper", "帮扶方", "region", ("帮扶方", "帮扶地区", "帮扶城市", "支援方", "协作方（东部）")),
            Field(
                "helped",
                "受援地",
                "region",
                ("受援地", "受帮扶方", "受援地区", "被帮扶地区", "结对地区", "协作方（西部）"),
            ),
            Field("kind", "类型", "pairing_kind", ("类型", "结对类型", "帮扶类型", "关系类型")),
            Field("since_year", "起始年度", "year", ("起始年度", "开始年度", "起始年份", "结对年度"), False, False),
            Field("until_year", "终止年度", "year", ("终止年度", "结束年度", "终止年份"), False, False),
        ),
        example=("示例：珠海市", "巫山县", "对口支援", "2021", ""),
        max_rows=50_000,
        max_amount_yuan=0,
    ),
    "meetings": FormSpec(
        key="meetings",
        title="联席会议",
        attachment="",
        fields=(
            Field("held_on", "日期", "date", ("日期", "会议日期", "召开日期", "时间", "会议时间")),
            Field("title", "名称", "text", ("名称", "会议名称", "会议", "标题")),
            Field("note", "备注", "text", ("备注", "说明", "议题", "会议议题"), False, False),
        ),
        example=("示例：2026-03-18", "消费帮扶工作联席会议第1次会议", "部署年度消费帮扶工作"),
        max_rows=10_000,
        max_amount_yuan=0,
    ),
    "outlets": FormSpec(
        key="outlets",
        title="网点名录",
        attachment="",
        fields=(
            Field("name", "名称", "text", ("名称", "网点名称", "专柜名称", "专馆名称", "网点")),
            Field("kind", "类型", "outlet_kind", ("类型", "网点类型", "形式")),
            Field("address", "地址", "text", ("地址", "详细地址", "网点地址", "位置"), False, False),
            Field("region", "所在县区", "region", ("所在县区", "所在区县", "所在地区", "区县", "所在地")),
            Field("lng", "经度", "coordinate", ("经度", "lng", "lon", "东经"), False, False),
            Field("lat", "纬度", "coordinate", ("纬度", "lat", "北纬"), False, False),
            Field("operator", "运营单位", "text", ("运营单位", "运营方", "运营主体", "承办单位"), False, False),
            Field("opened_on", "开设日期", "date", ("开设日期", "开业日期", "设立日期", "开设时间"), False, False),
            Field("status", "状态", "outlet_status", ("状态", "运营状态", "网点状态"), False, False),
            Field("status_reason", "状态说明", "text", ("状态说明", "状态原因", "退出原因", "暂停原因"), False, False),
        ),
        example=(
            "示例：市民中心消费帮扶专柜",
            "专柜",
            "香洲区某某路1号",
            "香洲区",
            "113.55",
            "22.27",
            "某某公司",
            "2024-05-01",
            "运营",
            "",
        ),
        max_rows=100_000,
        max_amount_yuan=0,
    ),
    "products": FormSpec(
        key="products",
        title="产品名库",
        attachment="",
        fields=(
            Field("name", "产品名称", "text", _PRODUCT_SYNONYMS),
            Field("category", "品类", "category", ("品类", "产品类别", "类别", "产品品类")),
            Field("origin", "产地县", "region", ("产地县", "产地", "产地区县", "原产地", "产地县区")),
            Field("supplier", "供应商", "text", _SELLER_SYNONYMS, False, False),
            Field("season", "上市月份", "season", ("上市月份", "上市周期", "上市时间", "供应月份"), False, False),
            Field("supply_volume", "年供应量", "quantity", ("年供应量", "年供货量", "供应量", "年产量"), False, False),
            Field("reference_price", "参考价", "price", ("参考价", "参考价格", "指导价", "销售价"), False, False),
            Field("cost_price", "成本价", "price", ("成本价", "成本价格", "保本价"), False, False),
            Field(
                "certification_no", "认定批次", "text", ("认定批次", "认定文号", "文号", "认定批次或文号"), False, False
            ),
            Field("certified_on", "认定日期", "date", ("认定日期", "认定时间"), False, False),
            Field("status", "状态", "product_status", ("状态", "在库状态", "产品状态"), False, False),
            Field(
                "beneficiaries",
                "带贫人数",
                "count",
                ("带贫人数", "联农带贫人数", "带动脱贫人口", "带贫户数"),
                False,
                False,
            ),
        ),
        example=(
            "示例：大通湖大闸蟹",
            "水产",
            "大通湖区",
            "大通湖区某某水产合作社",
            "9-11月",
            "50吨",
            "80",
            "55",
            "2024年第一批",
            "2024-06-01",
            "在库",
            "35",
        ),
        max_rows=100_000,
        max_amount_yuan=0,
    ),
    "rules": FormSpec(
        key="rules",
        title="政策规则",
        attachment="",
        fields=(
            Field("jurisdiction", "适用辖区", "region", ("适用辖区", "辖区", "适用地区", "帮扶辖区", "所属辖区")),
            # 起止年度 in one cell, or the two columns 起始年度/终止年度 below (either is enough).
            Field(
                "years",
                "起止年度",
                "year_span",
                ("起止年度", "适用年度", "执行年度", "有效期", "起止年份", "有效年度"),
                header_required=False,
                value_required=False,
            ),
            Field("subject_kind", "对象类型", "rule_subject", ("对象类型", "适用对象", "考核对象", "对象")),
            Field("metric", "指标", "metric", ("指标", "考核指标", "指标名称", "指标代码")),
            Field("threshold", "阈值", "threshold", ("阈值", "目标值", "标准", "要求值", "门槛")),
            Field("title", "名称", "text", ("名称", "规则名称", "规则", "要求")),
            Field("requirement", "条款原文", "long_text", ("条款原文", "原文", "政策原文", "条款内容", "原文摘录")),
            Field("source_doc", "文件名称", "text", ("文件名称", "文件", "政策文件", "依据文件", "文件标题")),
            Field("source_doc_no", "文号", "text", ("文号", "文件文号", "发文字号", "发文文号"), False, False),
            Field("source_clause", "条款", "text", ("条款", "条款号", "条目", "章节")),
            Field(
                "year_from",
                "起始年度",
                "rule_year",
                ("起始年度", "开始年度", "起始年份", "生效年度"),
                header_required=False,
                value_required=False,
                template=False,
            ),
            Field(
                "year_to",
                "终止年度",
                "rule_year",
                ("终止年度", "结束年度", "终止年份", "失效年度"),
                header_required=False,
                value_required=False,
                template=False,
            ),
        ),
        example=(
            "示例：珠海市",
            "2021-",
            "预算单位",
            "预留份额比例",
            "30%",
            "预算单位预留份额≥30%",
            "2021年各级预算单位应当按照不低于30%的比例预留年度食堂食材采购份额。",
            "《关于大力推进消费帮扶巩固拓展脱贫攻坚成果的工作方案》（珠海）",
            "珠委农组〔2021〕15号",
            "四（二）",
        ),
        max_rows=10_000,
        max_amount_yuan=0,
    ),
}

ALL_FORMS: dict[str, FormSpec] = {**FORMS, **REGISTERS}

_UNIT_KIND_SYNONYMS: dict[str, tuple[str, ...]] = {
    "budget_unit": ("预算单位", "行政事业单位", "机关", "事业单位", "党政机关", "机关事业单位", "学校", "医院"),
    "union": ("工会", "工会组织", "基层工会"),
    "state_firm": ("国有企业", "国企", "国有控股企业", "央企"),
    "private_firm": ("民营企业", "民企", "私营企业", "企业"),
    "social_org": ("社会组织", "社团", "协会", "商会", "基金会", "民办非企业"),
}
_SUPPLIER_KIND_SYNONYMS: dict[str, tuple[str, ...]] = {
    "firm": ("企业", "公司", "龙头企业", "有限公司"),
    "cooperative": ("合作社", "农民专业合作社", "专业合作社"),
    "farm": ("家庭农场", "农场"),
    "household": ("农户", "个体农户", "脱贫户", "个体"),
}
SUPPLIER_KINDS = {"firm": "企业", "cooperative": "合作社", "farm": "家庭农场", "household": "农户"}
_PAIRING_KIND_SYNONYMS: dict[str, tuple[str, ...]] = {
    "east_west": ("东西部协作", "东西部扶贫协作", "东西协作"),
    "counterpart": ("对口支援", "对口帮扶"),
    "in_province": ("省内对口帮扶", "省内帮扶", "省内协作"),
    "designated": ("定点帮扶", "定点扶贫"),
    "former": ("原帮扶地区", "原帮扶"),
}
_OUTLET_KIND_SYNONYMS: dict[str, tuple[str, ...]] = {
    "counter": ("专柜", "消费帮扶专柜", "智能专柜", "扶贫专柜"),
    "hall": ("专馆", "消费帮扶专馆", "扶贫馆"),
    "zone": ("专区", "消费帮扶专区", "扶贫专区"),
    "train": ("专列", "消费帮扶专列"),
    "station": ("专站", "消费帮扶专站"),
    "demo": ("示范点", "消费帮扶示范点"),
}
_OUTLET_STATUS_SYNONYMS: dict[str, tuple[str, ...]] = {
    "operating": ("运营", "运营中", "正常", "在营", "营业"),
    "suspended": ("暂停", "暂停营业", "停业整顿"),
    "exit_proposed": ("拟退出", "建议退出"),
    "exited": ("已退出", "退出", "关闭", "已关闭"),
}
_CATEGORY_SYNONYMS: dict[str, tuple[str, ...]] = {
    code: (name, *extra)
    for code, name, extra in (
        ("grain_oil", "粮油", ("粮食", "大米", "米面粮油", "食用油")),
        ("meat_poultry", "肉禽蛋", ("肉类", "禽蛋", "畜禽", "肉蛋")),
        ("fruit", "水果", ("果品", "鲜果")),
        ("vegetable", "蔬菜", ("蔬果", "菌菇", "食用菌")),
        ("tea_drink", "茶饮", ("茶叶", "饮品", "茶")),
        ("specialty", "土特产", ("特产", "干货", "土特产品")),
        ("aquatic", "水产", ("水产品", "鱼虾", "渔业")),
        ("processed", "加工食品", ("加工品", "农产品加工", "食品")),
    )
}
_PRODUCT_STATUS_SYNONYMS: dict[str, tuple[str, ...]] = {
    "listed": ("在库", "正常", "已认定", "入库"),
    "watch": ("观察", "重点观察"),
    "exit_proposed": ("拟退出", "建议退出"),
    "exited": ("已退出", "退出", "出库"),
}
_MONTH_RANGE = re.compile(r"(次年)?(\d{1,2})\s*月?\s*[-~～至到]\s*(次年)?(\d{1,2})\s*月?")


def season_months(text: str) -> tuple[list[int] | None, str | None]:
    """上市月份 text → months (1–12, in selling order), or None and why: ``6-9月``, ``11月-次年2月``,
    ``3、4、5月``, ``全年``."""
    t = unicodedata.normalize("NFKC", text).replace(" ", "")
    if t in ("全年", "常年", "1-12月"):
        return list(range(1, 13)), None
    months: list[int] = []
    for part in re.split(r"[、,，;；/]", t):
        if not part:
            continue
        m = _MONTH_RANGE.fullmatch(part)
        if m:
            a, b = int(m.group(2)), int(m.group(4))
            if not (1 <= a <= 12 and 1 <= b <= 12):
                return None, "月份应在 1 至 12 之间"
            span = range(a, b + 1) if b >= a else [*range(a, 13), *range(1, b + 1)]
            months += [x for x in span if x not in months]
            continue
        single = re.fullmatch(r"(\d{1,2})月?", part)
        if single and 1 <= int(single.group(1)) <= 12:
            months += [int(single.group(1))] if int(single.group(1)) not in months else []
            continue
        return None, "上市月份应写作 6-9月、11月-次年2月、3、4、5月 或 全年"
    return (months or None), (None if months else "上市月份为空")


_RULE_SUBJECT_SYNONYMS: dict[str, tuple[str, ...]] = {
    "budget_unit": ("预算单位", "各级预算单位", "行政事业单位", "budget_unit"),
    "union": ("工会", "基层工会", "各级工会", "union"),
    "any_unit": ("各类单位", "各单位", "所有单位", "全部单位", "any_unit"),
    "origin_county": ("产地区县", "产地县", "受援区县", "origin_county"),
}
# Every metric the rule engine evaluates (its allow-list), by code, by its short Chinese name, or by
# one of the other names offices use; nothing outside ``METRICS`` is read.
_METRIC_EXTRA_NAMES: dict[str, tuple[str, ...]] = {
    "reserved_share": ("预留比例", "预留份额", "预留份额占比"),
    "canteen_832_share": ("832采购占比", "832平台采购比例", "食堂食材832采购占比"),
    "gift_assist_share": ("节日慰问品帮扶产品占比", "慰问品帮扶占比"),
    "gift_eastwest_share": ("节日慰问品东西部协作占比", "东西部协作产品占比"),
    "gift_per_member": ("人均慰问品帮扶金额", "工会人均帮扶采购", "人均帮扶采购额"),
    "welfare_outlet_share": ("集体福利专馆专区比例", "福利专馆专区占比"),
    "yoy_ratio": ("采购额不低于上年", "同比"),
    "origin_yoy_ratio": ("产地同比", "产地区县同比"),
    "reserved_filed": ("填报预留份额", "预留份额是否填报"),
    "report_monthly_by_day": ("每月报送", "按月报送截止日"),
    "report_quarterly": ("每季度报送", "按季度报送"),
}
_METRIC_SYNONYMS: dict[str, tuple[str, ...]] = {
    code: (METRIC_NAMES.get(code, code), code, *_METRIC_EXTRA_NAMES.get(code, ())) for code in METRICS
}
RULE_YEAR_SPAN = 10  # a rule may be entered up to ten years ahead (a 十五五 plan)
_SPAN_SEP = r"[-~—–至到]"
_OPEN_SPAN = re.compile(rf"自?(\d{{4}})(?:{_SPAN_SEP}?(?:今|现在|至今)|起(?:至今)?|以来|{_SPAN_SEP})")
_CLOSED_SPAN = re.compile(rf"自?(\d{{4}}){_SPAN_SEP}(\d{{4}})")


def year_span(text: str, today: date | None = None) -> tuple[int | None, int | None, str | None]:
    """起止年度 text → (first year, last year or None while in force, why not): ``2021-``, ``2021-2025``,
    ``2021至今``, ``2021年起``, ``2021年度-2025年度``."""
    t = re.sub(r"年度?|\s", "", unicodedata.normalize("NFKC", text))
    last_ok = (today or date.today()).year + RULE_YEAR_SPAN
    m = _CLOSED_SPAN.fullmatch(t)
    first, last = (int(m.group(1)), int(m.group(2))) if m else (None, None)
    if m is None:
        m = _OPEN_SPAN.fullmatch(t)
        first = int(m.group(1)) if m else None
    if first is None:
        if re.fullmatch(r"\d{4}", t):
            return None, None, "只写了一个年度：只适用该年请写 2021-2021，长期有效请写 2021- 或 2021至今"
        return None, None, "起止年度应写作 2021-（长期有效）、2021-2025 或 2021至今"
    for year in (first, last):
        if year is not None and not EARLIEST_DATE.year <= year <= last_ok:
            return None, None, f"年度应在 {EARLIEST_DATE.year} 至 {last_ok} 年之间"
    if last is not None and last < first:
        return None, None, "终止年度早于起始年度"
    return first, last, None


def _rule_year(today: date) -> Callable[[str], tuple[int | None, int | None, str | None]]:
    """起始年度 or 终止年度 alone (a four-digit year), read with the bounds of ``year_span``."""

    def read(text: str):
        if not re.fullmatch(r"\d{4}\s*年?度?", text):
            return None, None, "年度应为四位年份，如 2026"
        return year_span(f"{text}-{text}", today)

    return read


_THRESHOLD_RE = re.compile(
    r"(?:≥|>=|不低于|不少于|至少)?(\d+(?:\.\d+)?)(%|元/人|元每人|元|日前|日|号|次/季度|次/季|次)?"
)
_THRESHOLD_WORDS = {
    "filed": ("是", "须填报", "填报", "已填报", "需填报", "应填报"),
    "per_quarter": ("每季度", "每季", "每季度一次"),
    "ratio_to_last_year": ("不低于上年", "不低于去年", "只增不减", "不低于上年同期"),
}
_THRESHOLD_FORMS = {
    "ratio": "比例，写作 10% 或 0.1",
    "ratio_to_last_year": "上年的倍数，写作 100%（不低于上年）或 1.1",
    "yuan_per_member": "每人金额，写作 500元/人 或 500",
    "filed": "是否填报，写作 是",
    "day_of_month": "每月截止日，写作 29日 或 29",
    "per_quarter": "每季度报送次数，写作 每季度 或 1",
}


def threshold_value(text: str, unit: str, header_unit: str | None = None) -> tuple[float | None, str | None]:
    """阈值 text read in a metric's threshold unit (``THRESHOLD_UNITS``) → (value, None) or (None, why):
    ``10%``/``0.1`` → 0.1; ``500元/人`` → 500; ``29日`` → 29; ``100%``/``不低于上年`` → 1.0; ``是`` → 1."""
    t = re.sub(r"\s", "", unicodedata.normalize("NFKC", text))
    wrong = f"该指标的阈值是{_THRESHOLD_FORMS[unit]}"
    if t in _THRESHOLD_WORDS.get(unit, ()):
        return 1.0, None
    m = _THRESHOLD_RE.fullmatch(t)
    if m is None:
        return None, wrong
    number, suffix = float(m.group(1)), m.group(2) or ("%" if header_unit in ("%", "％") else None)
    if unit == "ratio":
        value = number / 100 if suffix == "%" or (suffix is None and number > 1) else number
        if suffix not in (None, "%"):
            return None, wrong
        return (round(value, 6), None) if 0 < value <= 1 else (None, "比例应大于 0、不超过 100%")
    if unit == "ratio_to_last_year":
        # 100 or 110 without a sign are percents of last year; 1 or 1.1 are multiples.
        value = number / 100 if suffix == "%" or (suffix is None and number > 5) else number
        if suffix not in (None, "%"):
            return None, wrong
        return (round(value, 6), None) if 0 < value <= 5 else (None, "上年的倍数应大于 0、不超过 500%")
    if unit == "yuan_per_member":
        if suffix not in (None, "元", "元/人", "元每人"):
            return None, wrong
        return (round(number, 2), None) if number > 0 else (None, "每人金额应大于 0")
    if unit == "day_of_month":
        if suffix not in (None, "日", "号", "日前") or not number.is_integer():
            return None, wrong
        return (number, None) if 1 <= number <= 31 else (None, "每月截止日应在 1 至 31 之间")
    if unit == "filed":
        ok = (suffix is None and number == 1) or (suffix == "%" and number == 100)
        return (1.0, None) if ok else (None, wrong)
    if unit == "per_quarter":
        ok = suffix in (None, "次", "次/季度", "次/季") and number.is_integer() and number >= 1
        return (number, None) if ok else (None, wrong)
    return None, f"未知的阈值单位 {unit}"


# GB 32100-2015: the 18th character of a 统一社会信用代码 is a check character over the first 17.
_CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_problem(code: str) -> str | None:
    """Why ``code`` is no valid 统一社会信用代码 (GB 32100), or None when it is."""
    if len(code) != 18 or any(c not in _CREDIT_CHARSET for c in code):
        return "统一社会信用代码应为18位数字或大写字母（不含I、O、Z、S、V）"
    total = sum(_CREDIT_CHARSET.index(c) * w for c, w in zip(code[:17], _CREDIT_WEIGHTS, strict=True))
    check = _CREDIT_CHARSET[(31 - total % 31) % 31]
    return None if code[17] == check else f"统一社会信用代码校验位不符（按GB 32100应为 {check}）"


def _year(s: pd.Series, today: date) -> tuple[pd.Series, pd.Series]:
    text = s.str.replace(r"\s*年(度)?$", "", regex=True)
    value = pd.to_numeric(text.where(text.str.fullmatch(r"\d{4}", na=False)), errors="coerce")
    reasons = _reasons(s.index)
    _set(reasons, s.notna() & value.isna(), "年度应为四位年份，如 2026")
    _set(
        reasons,
        value.notna() & ((value < EARLIEST_DATE.year) | (value > today.year + 1)),
        f"年度应在 {EARLIEST_DATE.year} 至 {today.year + 1} 年之间",
    )
    return value.where(reasons.isna()).astype("Int64"), reasons


def _ratio(s: pd.Series, header_unit: str | None) -> tuple[pd.Series, pd.Series]:
    percent = s.str.endswith("%", na=False) | (header_unit in ("%", "％"))
    number = pd.to_numeric(s.str.rstrip("%").str.replace(",", ""), errors="coerce")
    # "30" under a plain header is 30 %: a share written as a number above 1 is a percent.
    value = number.where(~(percent | (number > 1)), number / 100)
    reasons = _reasons(s.index)
    _set(reasons, s.notna() & number.isna(), "比例应为百分数（如 30%）或小数（如 0.3）")
    _set(reasons, value.notna() & ((value < 0) | (value > 1)), "比例应在 0 至 100% 之间")
    return value.where(reasons.isna()), reasons


def _count(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = s.str.replace(",", "").str.replace(r"\s*(人|名|个)$", "", regex=True)
    number = pd.to_numeric(text, errors="coerce")
    reasons = _reasons(s.index)
    _set(reasons, s.notna() & number.isna(), "应为人数（整数）")
    _set(reasons, number.notna() & ((number < 0) | (number != number.round())), "人数应为不小于 0 的整数")
    return number.where(reasons.isna()).astype("Float64").round().astype("Int64"), reasons


# The store's codes (data_access.reference.labels), so parsed rows go into ``purchase`` as they are.
# Outlet kinds that are not purchase channels (专列, 专站, 示范点) and direct buying outside a
# canteen count as 其他; the voucher and remark keep the detail.
CHANNEL_LABELS: dict[str, str] = dict(labels.CHANNELS)
_CHANNEL_SYNONYMS: dict[str, tuple[str, ...]] = {
    "p832": (
        "832",
        "832平台",
        "扶贫832平台",
        "832扶贫平台",
        "脱贫地区农副产品网络销售平台",
        "贫困地区农副产品网络销售平台",
        "832网络销售平台",
    ),
    "counter": ("专柜", "消费帮扶专柜", "消费扶贫专柜", "扶贫专柜", "智能专柜", "帮扶专柜"),
    "hall": ("专馆", "消费帮扶专馆", "消费扶贫专馆", "扶贫馆", "帮扶馆"),
    "zone": ("专区", "消费帮扶专区", "消费扶贫专区", "扶贫专区", "帮扶专区"),
    "canteen": ("食堂直供", "食堂直采", "食堂直购", "食堂采购", "直供食堂", "定向采购", "订单采购"),
    "fair": ("展销会", "展会", "博览会", "农博会", "产销对接会", "推介会", "展销活动"),
    "ecommerce": ("电商", "电商平台", "网购", "网上商城", "直播带货", "线上", "网络销售"),
    "other": (
        "其他",
        "其它",
        "专列",
        "消费帮扶专列",
        "专站",
        "消费帮扶专站",
        "示范点",
        "消费帮扶示范点",
        "直接采购",
        "直采",
        "农户直购",
        "直购",
        "以购代捐",
    ),
}
PURPOSE_LABELS: dict[str, str] = dict(labels.PURPOSES)
_PURPOSE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "canteen": ("食堂食材", "食堂", "食材", "食堂采购", "食堂食材采购", "餐厅食材"),
    "holiday_gift": ("节日慰问品", "工会节日慰问品", "慰问品", "工会慰问", "工会慰问品", "节日慰问", "工会"),
    "welfare": ("集体福利", "职工福利", "福利"),
    "other": ("其他", "其它", "职工个人消费", "个人消费", "个人", "自购", "职工自购"),
}


@dataclass(frozen=True)
class Limits:
    """Guards against files too big for an upload; ``None`` takes the form's default."""

    max_bytes: int | None = 50 * MB
    max_rows: int | None = None
    max_amount_yuan: float | None = None
    max_errors: int = 5000
    chunk_rows: int = 100_000


@dataclass(frozen=True)
class RowError:
    """One problem: spreadsheet row (None for the whole file), Chinese field name, shown value."""

    row: int | None
    field: str | None
    value: str | None
    reason: str

    @property
    def message(self) -> str:
        """The problem as the user reads it, e.g. ``第12行「身份证」：校验位错误（应为X）``."""
        where = f"第{self.row}行" if self.row is not None else ""
        what = f"「{self.field}」" if self.field else ""
        return f"{where}{what}：{self.reason}" if where or what else self.reason


@dataclass
class ParseResult:
    """What ``parse_upload`` read: normalised rows, every error, and where the data came from."""

    form: str
    filename: str
    rows: pd.DataFrame
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    file_hash: str | None = None
    encoding: str | None = None
    file_kind: str | None = None
    sheet: str | None = None
    header_row: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file has data rows and not one error: it may be committed as a whole."""
        return self.error_count == 0 and len(self.rows) > 0

    @property
    def message(self) -> str:
        """A one-paragraph summary in Chinese for the upload page."""
        title = ALL_FORMS[self.form].title
        if self.ok:
            text = f"「{title}」校验通过：共 {len(self.rows)} 行数据，可以导入。"
        elif self.error_count == 0:
            text = f"「{title}」中没有数据行，未导入。"
        else:
            rows_hit = len({e.row for e in self.errors if e.row is not None})
            shown = "" if len(self.errors) == self.error_count else f"（列出前 {len(self.errors)} 处）"
            per_row = f"，涉及 {rows_hit} 行" if rows_hit else ""
            text = (
                f"「{title}」发现 {self.error_count} 处错误{per_row}{shown}，整个文件未导入；请按提示修改后重新上传。"
            )
        return text + "".join(f"\n{n}" for n in self.notes)


class _FileError(Exception):
    """A problem with the file as a whole; becomes one RowError without a row."""


def _is_bytes(data: Any) -> bool:
    return isinstance(data, bytes | bytearray | memoryview)


def _head(data: Any, n: int) -> bytes:
    if _is_bytes(data):
        return bytes(data[:n])
    with open(data, "rb") as fh:
        return fh.read(n)


def _sha256(data: Any) -> str:
    if _is_bytes(data):
        return hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256()
    with open(data, "rb") as fh:
        for block in iter(lambda: fh.read(MB), b""):
            digest.update(block)
    return digest.hexdigest()


def _detect_encoding(sample: bytes, complete: bool) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    even_nuls, odd_nuls = sample[0::2].count(0), sample[1::2].count(0)
    # UTF-16 without a BOM: the ASCII characters (digits, commas) leave NULs all on one side.
    if even_nuls + odd_nuls >= len(sample) // 20 and min(even_nuls, odd_nuls) == 0:
        return "utf-16-le" if odd_nuls else "utf-16-be"
    if even_nuls + odd_nuls:
        raise _FileError("文件含有空字节，不是 CSV 文本文件；请上传 .xlsx 或 .csv")
    for encoding in ("utf-8", "gb18030"):
        try:
            # final=complete: a sample cut in the middle of a character is not an error.
            codecs.getincrementaldecoder(encoding)().decode(sample, final=complete)
        except UnicodeDecodeError:
            continue
        return encoding
    raise _FileError(
        "无法识别文件编码（既不是 UTF-8 也不是 GBK）；请在 Excel/WPS 中另存为 “CSV UTF-8” 或 .xlsx 后重新上传"
    )


def _sniff_delimiter(text: str) -> str:
    lines = [ln for ln in text.splitlines()[:30] if ln.strip()]
    counts = {d: sum(ln.count(d) for ln in lines) for d in (",", "\t", ";", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _csv_rows(data: Any, encoding: str, sample: bytes) -> Iterator[tuple[int, list[str]]]:
    raw = io.BytesIO(data) if _is_bytes(data) else open(data, "rb")  # noqa: SIM115
    try:
        text_sample = sample.decode(encoding, errors="ignore")
        stream = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")
        reader = csv.reader(stream, delimiter=_sniff_delimiter(text_sample))
        rownum = 0
        try:
            # One CSV record is one spreadsheet row, also when a quoted cell spans lines.
            for rownum, cells in enumerate(reader, start=1):  # noqa: B007
                yield rownum, cells
        except UnicodeDecodeError as exc:
            raise _FileError(
                f"文件第{rownum + 1}行附近有无法按 {_encoding_label(encoding)} 解码的字节；"
                "文件可能混用了编码，请另存为 “CSV UTF-8” 后重新上传"
            ) from exc
        except csv.Error as exc:
            raise _FileError(f"文件第{rownum + 1}行附近不是有效的 CSV（{exc}）") from exc
    finally:
        raw.close()


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    return str(value)


def _xlsx_open(data: Any):
    # Deferred: openpyxl (~0.2 s to import) is needed only when an XLSX is read or a template written.
    import openpyxl

    try:
        return openpyxl.load_workbook(io.BytesIO(data) if _is_bytes(data) else data, read_only=True, data_only=True)
    except zipfile.BadZipFile as exc:
        raise _FileError("XLSX 文件已损坏或不完整（无法解压），请在 Excel/WPS 中打开并重新保存后上传") from exc
    except Exception as exc:  # openpyxl raises many types (KeyError, ValueError…) on foreign zips
        raise _FileError("文件不是有效的 XLSX 工作簿，请在 Excel/WPS 中另存为 .xlsx 或 CSV 后上传") from exc


def _xlsx_rows(sheet) -> Iterator[tuple[int, list[str | None]]]:
    try:
        # Read-only sheets yield every row from row 1, blank ones included, so counting is exact.
        for rownum, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield rownum, [_cell_text(v) for v in values]
    except Exception as exc:  # a damaged sheet part surfaces only while streaming
        raise _FileError(f"工作表「{sheet.title}」已损坏，读取中断；请在 Excel/WPS 中打开并重新保存后上传") from exc


def _encoding_label(encoding: str | None) -> str:
    return {
        "utf-8": "UTF-8",
        "utf-8-sig": "UTF-8（带BOM）",
        "gb18030": "GBK/GB18030",
        "utf-16": "UTF-16",
        "utf-16-le": "UTF-16",
        "utf-16-be": "UTF-16",
    }.get(encoding or "", encoding or "")


_UNIT_SUFFIXES = ("万元", "亿元", "千元", "元", "公斤", "千克", "kg", "吨", "斤", "克", "g", "t")


def _squash(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[\s*※★:：_]+|[(（]?必填[)）]?", "", text)


def _header_parts(cell: str | None) -> tuple[str, str | None]:
    """(name, unit) of a header cell: ``金额（万元）`` → (``金额``, ``万元``)."""
    if not cell:
        return "", None
    text = _squash(cell)
    m = re.fullmatch(r"(.+?)[(\[【](.*?)[)\]】]", text)
    if m:
        return m.group(1), m.group(2) or None
    return text, None


_SYNONYM_CACHE: dict[str, dict[str, str]] = {}


def _synonyms(spec: FormSpec) -> dict[str, str]:
    if spec.key not in _SYNONYM_CACHE:
        table: dict[str, str] = {}
        for f in spec.fields:
            for name in (f.label, *f.synonyms):
                table.setdefault(_header_parts(name)[0], f.key)
        _SYNONYM_CACHE[spec.key] = table
    return _SYNONYM_CACHE[spec.key]


def _match_header(spec: FormSpec, cells: list[str | None]) -> dict[str, tuple[int, str | None]]:
    """Field key → (column index, unit written in the header) for the cells of one row."""
    table = _synonyms(spec)
    found: dict[str, tuple[int, str | None]] = {}
    for i, cell in enumerate(cells):
        name, unit = _header_parts(cell)
        key = table.get(name)
        if key is None:
            for suffix in _UNIT_SUFFIXES:
                if name.endswith(suffix) and table.get(name[: -len(suffix)]):
                    key, unit = table[name[: -len(suffix)]], suffix
                    break
        if key is None and "(" in name:
            key = table.get(name.split("(")[0])
        if key is not None and key not in found:
            found[key] = (i, unit)
    return found


def _missing_headers(spec: FormSpec, found: dict) -> list[str]:
    return [f.label for f in spec.fields if f.header_required and f.key not in found]


def _header_error(spec: FormSpec, best: tuple | None, first_rows: list) -> str:
    expected = "、".join(f.label for f in spec.template_fields)
    if best is None:
        if not first_rows:
            return "文件中没有任何内容"
        rownum, cells = first_rows[0]
        seen = "、".join(c.strip() for c in cells if c and c.strip())[:120]
        hint = _other_form_hint(spec, first_rows)
        return f"未找到「{spec.title}」的表头（应有：{expected}）；第{rownum}行的内容为：{seen}{hint}"
    rownum, cells, found = best
    missing = "「" + "」「".join(_missing_headers(spec, found)) + "」"
    seen = "、".join(c.strip() for c in cells if c and c.strip())
    return f"表头缺少{missing}；第{rownum}行的表头为：{seen}（应有：{expected}）"


def _other_form_hint(spec: FormSpec, first_rows: list) -> str:
    for other in FORMS.values():
        if other.key != spec.key and any(
            not _missing_headers(other, _match_header(other, cells)) for _, cells in first_rows
        ):
            return f"。这个文件看起来是「{other.title}」，请在对应的位置上传"
    return ""


def _find_header(spec: FormSpec, rows: Iterator) -> tuple[int, dict, list]:
    """Scan the first rows for the header; returns (header row number, mapping, rows read)."""
    buffered: list[tuple[int, list]] = []
    best: tuple | None = None
    for rownum, cells in rows:
        buffered.append((rownum, cells))
        if not any(c and c.strip() for c in cells):
            continue
        found = _match_header(spec, cells)
        if not _missing_headers(spec, found) and len(found) >= 2:
            return rownum, found, buffered
        if len(found) >= 2 and (best is None or len(found) > len(best[2])):
            best = (rownum, cells, found)
        if sum(1 for _, c in buffered if any(x and x.strip() for x in c)) >= HEADER_SCAN_ROWS:
            break
    non_blank = [(n, c) for n, c in buffered if any(x and x.strip() for x in c)]
    raise _FileError(_header_error(spec, best, non_blank))


_PLACEHOLDER = r"[-—/\\.。]*|无|空|null|none|nan"


def _clean(raw: pd.Series) -> pd.Series:
    s = raw.astype("str").str.normalize("NFKC")
    s = s.str.replace(r"[\u200b-\u200d\ufeff]", "", regex=True).str.strip()
    s = s.str.replace(r"\s+", " ", regex=True)
    return s.mask(s.str.fullmatch(_PLACEHOLDER, case=False, na=False))


class _Errors:
    def __init__(self, limit: int):
        self.limit = limit
        self.items: list[RowError] = []
        self.count = 0
        self._chunk: list[tuple[int, int, RowError]] = []

    def file(self, reason: str) -> None:
        self.count += 1
        if len(self.items) < self.limit:
            self.items.append(RowError(None, None, None, reason))

    def add(self, order: int, row: int, label: str, value: str | None, reason: str) -> None:
        self._chunk.append((row, order, RowError(row, label, value, reason)))

    def add_series(self, order: int, label: str, rows: pd.Series, shown: pd.Series, reasons: pd.Series) -> None:
        hit = reasons.notna()
        if hit.any():
            for row, value, reason in zip(rows[hit], shown[hit], reasons[hit], strict=True):
                self.add(order, int(row), label, None if pd.isna(value) else str(value)[:60], reason)

    def flush(self) -> None:
        self._chunk.sort(key=lambda t: (t[0], t[1]))
        self.count += len(self._chunk)
        room = self.limit - len(self.items)
        self.items.extend(e for _, _, e in self._chunk[: max(room, 0)])
        self._chunk = []


def _reasons(index: pd.Index) -> pd.Series:
    return pd.Series(None, index=index, dtype=object)


def _set(reasons: pd.Series, mask: pd.Series, text: Any) -> None:
    """Record ``text`` where ``mask`` holds and no earlier reason was recorded for the row."""
    where = mask.fillna(False).astype(bool) & reasons.isna()
    if where.any():
        reasons[where] = text[where] if isinstance(text, pd.Series) else text


def _yuan_text(yuan: float) -> str:
    return f"{yuan / 1e8:g}亿元" if yuan >= 1e8 else f"{yuan / 1e4:g}万元" if yuan >= 1e4 else f"{yuan:g}元"


_AMOUNT_RE = (
    r"^(?P<open>\()?(?P<sign>[+-])?(?P<num>\d+(?:\.\d*)?|\.\d+)"
    r"(?P<unit>亿元|亿|万元|万|千元|元)?(?P<close>\))?$"
)
_AMOUNT_FACTORS = {"亿元": 1e8, "亿": 1e8, "万元": 1e4, "万": 1e4, "千元": 1e3, "元": 1.0}


def _amount(s: pd.Series, header_unit: str | None, cap: float) -> tuple[pd.Series, pd.Series]:
    reasons = _reasons(s.index)
    compact = s.str.replace(r"[\s,¥$]|rmb|cny|人民币", "", regex=True, case=False)
    m = compact.str.extract(_AMOUNT_RE)
    parens_ok = m["open"].isna() == m["close"].isna()
    num = pd.to_numeric(m["num"], errors="coerce").astype(float)
    default = _AMOUNT_FACTORS.get(header_unit or "", 1.0)
    factor = m["unit"].map(_AMOUNT_FACTORS).astype(float).fillna(default)
    negative = (m["sign"] == "-").fillna(False) | m["open"].notna()
    value = (num * factor).where(~negative, -num * factor).where(parens_ok).round(2)
    _set(reasons, s.notna() & value.isna(), "无法识别为金额，请填写数字（如 1234.50）")
    _set(reasons, value < 0, "金额为负数")
    _set(reasons, value == 0, "金额为0")
    _set(reasons, value > cap, f"金额超过单行上限{_yuan_text(cap)}，请核对单位是元还是万元")
    return value.where(reasons.isna()), reasons


_DATE_RE = (
    r"^(?P<y>\d{4})\s*[年./-]\s*(?P<m>\d{1,2})\s*[月./-]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*T?\s*\d{1,2}[:时]\d{1,2}(?:[:分]\d{1,2}(?:\.\d+)?秒?)?)?$"
)
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")  # Excel's day 0, allowing for its 1900 leap-year bug


def _dates(s: pd.Series, today: date) -> tuple[pd.Series, pd.Series]:
    reasons = _reasons(s.index)
    parts = s.str.extract(_DATE_RE)
    compact = s.str.extract(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$")
    parts = parts.fillna(compact)
    ymd = parts.apply(pd.to_numeric, errors="coerce")
    has_parts = ymd["y"].notna()
    value = pd.to_datetime(pd.DataFrame({"year": ymd["y"], "month": ymd["m"], "day": ymd["d"]}), errors="coerce")
    serial = pd.to_numeric(s.where(s.str.fullmatch(r"\d{5}(?:\.\d+)?", na=False)), errors="coerce")
    from_serial = _EXCEL_EPOCH + pd.to_timedelta(serial.floordiv(1), unit="D")
    value = value.fillna(from_serial).dt.normalize()
    _set(
        reasons,
        has_parts & value.isna(),
        "日期不存在（" + parts["y"].fillna("") + "年" + parts["m"].fillna("") + "月" + parts["d"].fillna("") + "日）",
    )
    _set(reasons, s.notna() & value.isna(), "无法识别为日期，请写成 2021-08-20 或 2021年8月20日")
    _set(reasons, value < pd.Timestamp(EARLIEST_DATE), "日期早于2015年1月1日，请核对")
    _set(reasons, value > pd.Timestamp(today), f"日期晚于今天（{today.isoformat()}）")
    return value.where(reasons.isna()), reasons


_WEIGHT_KG = {
    "kg": 1.0,
    "千克": 1.0,
    "公斤": 1.0,
    "斤": 0.5,
    "市斤": 0.5,
    "g": 0.001,
    "克": 0.001,
    "t": 1000.0,
    "吨": 1000.0,
}


def _quantity(s: pd.Series, header_unit: str | None) -> tuple[pd.Series, pd.Series, pd.Series]:
    reasons = _reasons(s.index)
    m = s.str.replace(r"[\s,]", "", regex=True).str.extract(r"^(?P<num>[+-]?\d+(?:\.\d*)?|\.\d+)(?P<unit>\D{0,6})$")
    num = pd.to_numeric(m["num"], errors="coerce").astype(float)
    unit = m["unit"].where(m["unit"] != "", header_unit).str.lower()
    factor = unit.map(_WEIGHT_KG).astype(float)
    value = (num * factor.fillna(1.0)).round(3)
    unit = unit.where(factor.isna(), "kg")
    _set(reasons, s.notna() & num.isna(), "无法识别为数量，请填写数字，可带单位（如 500kg、1吨、20箱）")
    _set(reasons, num < 0, "数量为负数")
    _set(reasons, num == 0, "数量为0")
    ok = reasons.isna()
    return value.where(ok), unit.where(ok & value.notna()), reasons


def _text(s: pd.Series, longest: int = 200) -> pd.Series:
    reasons = _reasons(s.index)
    first = s.str[0]
    plain_number = s.str.fullmatch(r"[+-]\d+(?:\.\d+)?", na=False)
    formula = s.str.match(r"[=@]", na=False) | (s.str.match(r"[+-]", na=False) & ~plain_number)
    _set(reasons, formula, "以「" + first.fillna("") + "」开头，疑似公式；为防公式注入不予导入，请删除开头的符号")
    _set(reasons, s.str.len() > longest, f"超过{longest}个字")
    return reasons


def _vocabulary(
    s: pd.Series, synonyms: dict[str, tuple[str, ...]], labels: dict[str, str], what: str
) -> tuple[pd.Series, pd.Series]:
    table = {_squash(name): code for code, names in synonyms.items() for name in names}
    code = s.map(lambda v: table.get(_squash(v)) if isinstance(v, str) else None)
    reasons = _reasons(s.index)
    allowed = "、".join(labels.values())
    _set(reasons, s.notna() & code.isna(), f"无法识别的{what}，可填：{allowed}")
    return code.where(reasons.isna()), reasons


_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{9,11}|[2-9]\d{6,7}")


def _phone_digits(value: str) -> str | None:
    digits = re.sub(r"[\s()\-]", "", value)
    digits = re.sub(r"^(\+86|0086)", "", digits)
    digits = re.sub(r"(转|ext\.?|#)\d{1,6}$", "", digits)
    return digits if _MOBILE.fullmatch(digits) or _LANDLINE.fullmatch(digits) else None


@dataclass
class _Context:
    spec: FormSpec
    units: dict[str, str | None]
    today: date
    cap: float
    errors: _Errors
    keys: tuple[bytes, bytes] | None = None  # (Fernet key, HMAC key), only for beneficiaries


def _normalise_chunk(raw: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    spec, errors = ctx.spec, ctx.errors
    out = pd.DataFrame({"source_row": raw["source_row"].astype("int64")})
    rows = raw["source_row"]
    extra: dict[str, pd.Series] = {}
    for order, f in enumerate(spec.fields):
        if f.key not in raw:
            continue
        s = _clean(raw[f.key])
        shown = s
        unit = ctx.units.get(f.key)
        if f.kind == "amount":
            value, reasons = _amount(s, unit, ctx.cap)
        elif f.kind == "date":
            value, reasons = _dates(s, ctx.today)
        elif f.kind == "quantity":
            value, out_unit, reasons = _quantity(s, unit)
            extra["unit"] = out_unit
        elif f.kind == "channel":
            value, reasons = _vocabulary(s, _CHANNEL_SYNONYMS, CHANNEL_LABELS, "渠道")
        elif f.kind == "purpose":
            value, reasons = _vocabulary(s, _PURPOSE_SYNONYMS, PURPOSE_LABELS, "用途")
        elif f.kind == "unit_kind":
            value, reasons = _vocabulary(s, _UNIT_KIND_SYNONYMS, dict(labels.BUYER_KINDS), "单位类型")
        elif f.kind == "supplier_kind":
            value, reasons = _vocabulary(s, _SUPPLIER_KIND_SYNONYMS, SUPPLIER_KINDS, "供应商类型")
        elif f.kind == "pairing_kind":
            value, reasons = _vocabulary(s, _PAIRING_KIND_SYNONYMS, dict(labels.PAIRING_KINDS), "结对类型")
        elif f.kind == "outlet_kind":
            value, reasons = _vocabulary(s, _OUTLET_KIND_SYNONYMS, dict(labels.OUTLET_KINDS), "网点类型")
        elif f.kind == "outlet_status":
            value, reasons = _vocabulary(s, _OUTLET_STATUS_SYNONYMS, dict(labels.OUTLET_STATUSES), "网点状态")
        elif f.kind == "coordinate":
            value = pd.to_numeric(s.str.replace("°", ""), errors="coerce")
            reasons = _reasons(s.index)
            _set(reasons, s.notna() & value.isna(), "经纬度应为十进制度数，如 113.55")
        elif f.kind == "category":
            value, reasons = _vocabulary(s, _CATEGORY_SYNONYMS, dict(labels.CATEGORIES), "品类")
        elif f.kind == "product_status":
            value, reasons = _vocabulary(s, _PRODUCT_STATUS_SYNONYMS, dict(labels.PRODUCT_STATUSES), "产品状态")
        elif f.kind == "season":
            parsed = s.map(season_months, na_action="ignore")
            value = parsed.map(lambda p: ",".join(map(str, p[0])) if p[0] else None, na_action="ignore")
            reasons = parsed.map(lambda p: p[1], na_action="ignore").astype(object).where(s.notna(), None)
        elif f.kind == "price":
            # Yuan per kg: a price per 斤 (half a kg) is doubled; other per-piece units are kept as written.
            per_jin = s.str.contains(r"/斤$", na=False) | (unit == "元/斤")
            value, reasons = _amount(s.str.replace(r"元?/(斤|公斤|千克|kg|个|盒|箱|袋|瓶)$", "", regex=True), None, 1e7)
            value = value.where(~per_jin, value * 2)
            _set(reasons, value < 0, "价格不能为负数")
        elif f.kind == "credit_code":
            value = s.str.replace(" ", "").str.upper()
            reasons = value.map(credit_code_problem, na_action="ignore").astype(object).where(value.notna(), None)
        elif f.kind == "year":
            value, reasons = _year(s, ctx.today)
        elif f.kind == "rule_year":
            parsed = s.map(_rule_year(ctx.today), na_action="ignore")
            value = parsed.map(lambda p: p[0], na_action="ignore").astype("Int64")
            reasons = parsed.map(lambda p: p[2], na_action="ignore").astype(object).where(s.notna(), None)
        elif f.kind == "year_span":
            parsed = s.map(lambda v: year_span(v, ctx.today), na_action="ignore")
            value = s
            reasons = parsed.map(lambda p: p[2], na_action="ignore").astype(object).where(s.notna(), None)
            extra["span_from"] = parsed.map(lambda p: p[0], na_action="ignore").astype("Int64")
            extra["span_to"] = parsed.map(lambda p: p[1], na_action="ignore").astype("Int64")
        elif f.kind == "rule_subject":
            value, reasons = _vocabulary(s, _RULE_SUBJECT_SYNONYMS, dict(labels.RULE_SUBJECTS), "对象类型")
        elif f.kind == "metric":
            value, reasons = _vocabulary(s, _METRIC_SYNONYMS, {}, "指标")
            allowed = "、".join(f"{METRIC_NAMES.get(c, c)}（{c}）" for c in METRICS)
            reasons = reasons.where(reasons.isna(), f"未知指标，规则引擎无法计算，不予导入；可填：{allowed}")
        elif f.kind == "threshold":
            units = out["metric"].map(THRESHOLD_UNITS) if "metric" in out else pd.Series(None, index=s.index)
            parsed = pd.Series(
                [
                    threshold_value(v, u, unit) if isinstance(v, str) and isinstance(u, str) else (None, None)
                    for v, u in zip(s, units, strict=True)
                ],
                index=s.index,
                dtype=object,
            )
            value = parsed.map(lambda p: p[0]).astype(float)
            reasons = parsed.map(lambda p: p[1]).astype(object)
        elif f.kind == "long_text":
            value, reasons = s, _text(s, 2000)
        elif f.kind == "ratio":
            value, reasons = _ratio(s, unit)
        elif f.kind == "count":
            value, reasons = _count(s)
        elif f.kind == "id_number":
            value = s.str.replace(" ", "").str.upper()
            shown = value.map(personal.mask_id_number, na_action="ignore")
            reasons = value.map(lambda v: personal.id_number_problem(v, ctx.today), na_action="ignore")
            reasons = reasons.astype(object).where(value.notna(), None)
        elif f.kind == "phone":
            value = s.map(_phone_digits, na_action="ignore")
            shown = s.map(personal.mask_phone, na_action="ignore")
            reasons = _reasons(s.index)
            _set(reasons, s.notna() & value.isna(), "不是有效的手机号或固定电话")
        else:
            value, reasons = s, _text(s)
            if f.kind == "region":
                extra["origin_code"] = s.where(s.str.fullmatch(r"\d{6}", na=False))
        if f.value_required:
            reasons = reasons.where(s.notna(), "必填，不能为空")
        errors.add_series(order, f.label, rows, shown, reasons)
        out[f.key] = value.where(reasons.isna()) if f.kind != "quantity" else value
        for key, series in extra.items():
            out[key] = series.where(reasons.isna())
        extra.clear()
    if ctx.keys is not None:
        _protect_beneficiaries(out, ctx.keys)
    return out


def _protect_beneficiaries(out: pd.DataFrame, keys: tuple[bytes, bytes]) -> None:
    """Replace clear ID and phone numbers by masked text, keyed hash and ciphertext, in place."""
    fernet_key, hash_key = keys
    ids = out.pop("id_number")
    phones = out.pop("phone") if "phone" in out else pd.Series(None, index=out.index, dtype=object)
    pos = out.columns.get_loc("name") + 1
    out.insert(pos, "id_hash", ids.map(lambda v: personal.id_hash(v, hash_key), na_action="ignore"))
    out.insert(pos + 1, "id_masked", ids.map(personal.mask_id_number, na_action="ignore"))
    out.insert(pos + 2, "id_cipher", ids.map(lambda v: personal.encrypt_pii(v, fernet_key), na_action="ignore"))
    out.insert(pos + 3, "phone_masked", phones.map(personal.mask_phone, na_action="ignore"))
    out.insert(pos + 4, "phone_cipher", phones.map(lambda v: personal.encrypt_pii(v, fernet_key), na_action="ignore"))


def _check_duplicates(df: pd.DataFrame, spec: FormSpec, errors: _Errors) -> None:
    # 序号 differs between two entries of the same purchase, so it does not make rows distinct.
    subset = [c for c in df.columns if c not in {"source_row", "seq"} and not c.endswith("_cipher")]
    dup = df.duplicated(subset=subset, keep="first")
    if dup.any():
        first = df.groupby(subset, dropna=False, sort=False)["source_row"].transform("min")
        for row, first_row in zip(df.loc[dup, "source_row"], first[dup], strict=True):
            errors.add(len(spec.fields), int(row), "整行", None, f"与第{int(first_row)}行内容完全相同（重复填报）")
    if "id_hash" in df:
        same_id = df["id_hash"].notna() & df.duplicated(subset=["id_hash"], keep="first") & ~dup
        if same_id.any():
            first = df.groupby("id_hash", sort=False)["source_row"].transform("min")
            for row, masked, first_row in zip(
                df.loc[same_id, "source_row"], df.loc[same_id, "id_masked"], first[same_id], strict=True
            ):
                errors.add(
                    1,
                    int(row),
                    spec.field("id_number").label,
                    masked,
                    f"与第{int(first_row)}行是同一身份证号，同一人在名册中只应出现一次",
                )
    errors.flush()


_SKIP_RE = re.compile(
    r"^\s*(?:(?P<example>[(\[（【]?\s*示\s*例)|(?P<total>[合总小]\s*计)\s*$"
    r"|(?P<footer>(?:填表人|填报人|制表人|审核人|负责人|联系人|注|说明|备注|单位负责人)\s*[:：]))"
)


def parse_upload(
    data: bytes | str | os.PathLike,
    form: str,
    filename: str | None = None,
    today: date | None = None,
    *,
    limits: Limits | None = None,
    pii_key: bytes | None = None,
    progress: Callable[[int], None] | None = None,
    defaults: dict | None = None,
) -> ParseResult:
    """Read one uploaded form (CSV or XLSX) into normalised rows and a list of every error.

    ``rows`` has English columns (amounts in yuan, quantities in kg where a weight unit was
    given, dates as datetime64) and ``source_row``, the row number shown in the spreadsheet.
    Nothing here raises on bad input; file-level problems are errors without a row.
    ``progress(rows_read)`` is called after every chunk of rows, for a progress display.
    ``defaults``: for 价格监测数据, the ``product`` or ``market`` of a wide file's columns.
    """
    spec = ALL_FORMS[form]
    limits = limits or Limits()
    today = today or date.today()
    name = filename or (Path(data).name if not _is_bytes(data) else "")
    result = ParseResult(form=form, filename=name, rows=_empty_rows(spec))
    errors = _Errors(limits.max_errors)
    try:
        _parse_into(result, data, spec, limits, today, errors, pii_key, progress, defaults or {})
    except _FileError as exc:
        errors.flush()
        errors.file(str(exc))
        result.rows = _empty_rows(spec)
    result.errors, result.error_count = errors.items, errors.count
    return result


def _empty_rows(spec: FormSpec) -> pd.DataFrame:
    columns = ["source_row"] + [f.key for f in spec.fields]
    if spec.key == "beneficiaries":
        columns = [
            "source_row",
            "name",
            "id_hash",
            "id_masked",
            "id_cipher",
            "phone_masked",
            "phone_cipher",
            "benefit_yuan",
        ]
    return pd.DataFrame(columns=columns)


def _parse_into(
    result: ParseResult,
    data: Any,
    spec: FormSpec,
    limits: Limits,
    today: date,
    errors: _Errors,
    pii_key: bytes | None,
    progress: Callable[[int], None] | None,
    defaults: dict,
) -> None:
    try:
        size = len(data) if _is_bytes(data) else os.stat(data).st_size
    except OSError as exc:
        raise _FileError(f"无法读取文件（{exc.strerror}）") from exc
    if limits.max_bytes is not None and size > limits.max_bytes:
        raise _FileError(f"文件大小 {_size_text(size)}，超过上限 {_size_text(limits.max_bytes)}；请拆分后分批上传")
    if size == 0:
        raise _FileError("文件为空（0 字节）")
    try:
        head = _head(data, SAMPLE_BYTES)
        result.file_hash = _sha256(data)
    except OSError as exc:
        raise _FileError(f"无法读取文件（{exc.strerror}）") from exc

    workbook = None
    if head.startswith(b"PK\x03\x04"):
        result.file_kind = "xlsx"
        workbook = _xlsx_open(data)
    elif head.startswith(b"\xd0\xcf\x11\xe0"):
        raise _FileError("这是旧版 .xls 文件或加密的工作簿，无法读取；请在 Excel/WPS 中另存为 .xlsx（不设密码）后上传")
    elif head.startswith(b"%PDF"):
        raise _FileError("这是 PDF 文件；请上传填好的 .xlsx 或 .csv 表格")
    elif re.match(rb"\s*<(?:!doctype|html|table|\?xml)", head[:200], re.IGNORECASE):
        raise _FileError("这是网页（HTML/XML）格式的文件，不是真正的表格；请在 Excel/WPS 中另存为 .xlsx 后上传")
    else:
        result.file_kind = "csv"
        result.encoding = _detect_encoding(head, complete=size <= SAMPLE_BYTES)
        if _ext(result.filename) in {".xlsx", ".xlsm", ".xls"}:
            result.notes.append(
                f"文件扩展名为 {_ext(result.filename)}，内容实为 CSV 文本"
                f"（{_encoding_label(result.encoding)}），已按 CSV 读取。"
            )

    if spec.key == "prices":
        try:
            sheets = (
                [_xlsx_rows(sheet) for sheet in workbook.worksheets]
                if workbook is not None
                else [_csv_rows(data, result.encoding, head)]
            )
            ctx = _Context(spec, {}, today, spec.max_amount_yuan, errors)
            df = read_price_rows(sheets, spec, ctx, result, defaults, limits.max_rows or spec.max_rows)
            errors.flush()
        finally:
            if workbook is not None:
                workbook.close()
        if len(df) == 0:
            raise _FileError(f"文件只有表头（第{result.header_row}行），没有数据行")
        result.rows = df
        return

    try:
        if workbook is not None:
            header_row, mapping, rows = _pick_sheet(workbook, spec, result)
        else:
            rows = _csv_rows(data, result.encoding, head)
            header_row, mapping, buffered = _find_header(spec, rows)
            rows = _chain(buffered, rows)
        result.header_row = header_row
        ctx = _Context(
            spec,
            {k: unit for k, (_, unit) in mapping.items()},
            today,
            limits.max_amount_yuan or spec.max_amount_yuan,
            errors,
        )
        if spec.key == "beneficiaries":
            key = pii_key or personal.pii_key()
            ctx.keys = (key, personal.pii_hash_key(key))
        frames = _read_data_rows(rows, header_row, mapping, spec, limits, ctx, result, progress)
    finally:
        if workbook is not None:
            workbook.close()

    df = pd.concat(frames, ignore_index=True) if frames else _empty_rows(spec)
    if len(df) == 0:
        raise _FileError(f"文件只有表头（第{header_row}行），没有数据行")
    _check_duplicates(df, spec, errors)
    result.rows = df


def _size_text(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{n / 1024:.0f} KB"


def _ext(filename: str) -> str:
    return Path(filename or "").suffix.lower()


def _chain(buffered: list, rest: Iterator) -> Iterator:
    yield from buffered
    yield from rest


def _pick_sheet(workbook, spec: FormSpec, result: ParseResult) -> tuple[int, dict, Iterator]:
    first_error: _FileError | None = None
    for sheet in workbook.worksheets:
        rows = _xlsx_rows(sheet)
        try:
            header_row, mapping, buffered = _find_header(spec, rows)
        except _FileError as exc:
            first_error = first_error or exc
            continue
        result.sheet = sheet.title
        if len(workbook.worksheets) > 1:
            result.notes.append(f"已读取工作表「{sheet.title}」。")
        return header_row, mapping, _chain(buffered, rows)
    raise first_error or _FileError("工作簿中没有工作表")


def _read_data_rows(
    rows: Iterator,
    header_row: int,
    mapping: dict,
    spec: FormSpec,
    limits: Limits,
    ctx: _Context,
    result: ParseResult,
    progress: Callable[[int], None] | None,
) -> list[pd.DataFrame]:
    keys = list(mapping)
    cols = [mapping[k][0] for k in keys]
    width = max(cols) + 1
    max_rows = limits.max_rows or spec.max_rows
    skipped = {"example": [], "total": [], "footer": []}
    frames: list[pd.DataFrame] = []
    chunk: list[list] = []
    count = 0
    for rownum, cells in rows:
        if rownum <= header_row:
            continue
        if len(cells) < width:
            cells = list(cells) + [None] * (width - len(cells))
        values = [cells[i] for i in cols]
        first = next((v for v in values if v and v.strip()), None)
        if first is None:
            continue
        m = _SKIP_RE.match(first)
        if m:
            skipped[m.lastgroup].append(rownum)
            continue
        count += 1
        if count > max_rows:
            raise _FileError(f"数据超过 {max_rows:,} 行的上限；请拆分成多个文件分批导入")
        values.append(rownum)
        chunk.append(values)
        if len(chunk) >= limits.chunk_rows:
            frames.append(_normalise_chunk(pd.DataFrame(chunk, columns=[*keys, "source_row"]), ctx))
            ctx.errors.flush()
            chunk = []
            if progress:
                progress(count)
    if chunk:
        frames.append(_normalise_chunk(pd.DataFrame(chunk, columns=[*keys, "source_row"]), ctx))
        ctx.errors.flush()
    for kind, label in (("example", "示例行"), ("total", "合计行"), ("footer", "表尾说明")):
        if skipped[kind]:
            rows_text = "、".join(str(r) for r in skipped[kind][:10]) + ("等" if len(skipped[kind]) > 10 else "")
            result.notes.append(f"已跳过{label}：第{rows_text}行。")
    return frames


def template_bytes(form: str, kind: str = "xlsx") -> bytes:
    """The blank form users download: a title row as in seed 002, the header, one 示例 row."""
    spec = ALL_FORMS[form]
    title = f"{spec.attachment}　{spec.title}" if spec.attachment else spec.title
    headers = [f.label for f in spec.template_fields]
    if kind == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow([title] + [""] * (len(headers) - 1))
        writer.writerow(headers)
        writer.writerow(spec.example)
        # The BOM makes Excel on Windows open the file as UTF-8 instead of the ANSI code page.
        return codecs.BOM_UTF8 + buf.getvalue().encode("utf-8")
    if kind != "xlsx":
        raise ValueError(f"unknown template kind {kind!r}")
    return _template_xlsx(spec, title, headers)


def _template_xlsx(spec: FormSpec, title: str, headers: list[str]) -> bytes:
    # Deferred: openpyxl (~0.2 s to import) is needed only when an XLSX is read or a template written.
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = spec.title
    ws.append([title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append(headers)
    ws.append(list(spec.example))
    for col, f in enumerate(spec.template_fields, start=1):
        letter = get_column_letter(col)
        ws.cell(row=2, column=col).font = Font(bold=True)
        example = ws.cell(row=3, column=col)
        example.font = Font(italic=True, color="808080")
        example.fill = PatternFill("solid", fgColor="F2F2F2")
        ws.column_dimensions[letter].width = max(12, len(f.label) * 2 + 4)
        if f.kind in {"id_number", "phone", "region", "credit_code"} or f.key == "voucher":
            # Text format keeps Excel from turning an 18-digit ID into 4.30921E+17 and losing digits.
            ws.column_dimensions[letter].number_format = "@"
            ws.column_dimensions[letter].width = 22
            example.number_format = "@"
    ws["A3"].comment = Comment("示例行，导入时自动跳过；可删除。", "消费帮扶监测看板")
    ws.freeze_panes = "A3"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------- 价格监测数据
# Long files by the form's headers; wide files (a date column, one column per market or product).

# 元 per unit → 元/kg: the factor a price is multiplied by.
PRICE_UNITS = {
    "斤": 2.0,
    "市斤": 2.0,
    "500g": 2.0,
    "公斤": 1.0,
    "千克": 1.0,
    "kg": 1.0,
    "吨": 0.001,
    "t": 0.001,
    "克": 1000.0,
    "g": 1000.0,
}
_PRICE_UNIT_RE = re.compile(r"元\s*(?:/|每|／)\s*(市斤|斤|500g|公斤|千克|kg|吨|t|克|g)", re.IGNORECASE)
_PRICE_CELL = re.compile(r"^(?P<num>[+-]?\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>.*)$")


def price_unit_factor(text: str | None) -> tuple[str | None, float | None]:
    """(canonical unit such as ``元/斤``, factor to 元/kg) of a unit text, or (None, None)."""
    if not text:
        return None, None
    t = unicodedata.normalize("NFKC", str(text)).strip().lower().replace(" ", "")
    m = _PRICE_UNIT_RE.search(t)
    word = m.group(1) if m else t.removeprefix("元").removeprefix("/")
    if word not in PRICE_UNITS:
        return None, None
    canonical = {"市斤": "斤", "千克": "公斤", "kg": "公斤", "t": "吨", "g": "克", "500g": "斤"}.get(word, word)
    return f"元/{canonical}", PRICE_UNITS[word]


def read_price_rows(sheets: list[Iterator], spec, ctx, result, defaults: dict, max_rows: int) -> pd.DataFrame:
    """Rows of a price file (first sheet with a long or wide header) as long raw rows, normalised.

    ``sheets`` are iterators of ``(row number, cells)``; errors go to ``ctx.errors``.
    """
    first_error = None
    for sheet in sheets:
        buffered: list[tuple[int, list]] = []
        found = None
        for rownum, cells in sheet:
            buffered.append((rownum, list(cells)))
            if found is None and any(c and str(c).strip() for c in cells):
                found = _price_header_kind(spec, cells)
                if found is not None:
                    header_row, kind, mapping = rownum, *found
                    break
            if sum(1 for _, c in buffered if any(x and str(x).strip() for x in c)) >= HEADER_SCAN_ROWS:
                break
        if found is None:
            non_blank = [(n, c) for n, c in buffered if any(x and str(x).strip() for x in c)]
            first_error = first_error or _header_error(spec, None, non_blank)
            continue
        title_unit = next(
            (u for _, cells in buffered[:-1] for c in cells if c for u in [price_unit_factor(str(c))[0]] if u), None
        )
        data, skipped = [], {"example": [], "total": [], "footer": []}
        for n, c in sheet:
            kind_ = _skipped(c)
            if kind_:
                skipped[kind_].append(n)
            elif n > header_row:
                data.append((n, c))
        for what, label in (("example", "示例行"), ("total", "合计行"), ("footer", "表尾说明")):
            if skipped[what]:
                shown = "、".join(str(r) for r in skipped[what][:10]) + ("等" if len(skipped[what]) > 10 else "")
                result.notes.append(f"已跳过{label}：第{shown}行。")
        if len(data) > max_rows:
            raise _FileError(f"数据超过 {max_rows:,} 行的上限；请拆分成多个文件分批导入")
        result.header_row = header_row
        if kind == "long":
            raw = _price_long_raw(data, mapping, title_unit)
        else:
            raw = _price_wide_raw(data, mapping, title_unit, defaults, result)
        return _normalise_prices(raw, ctx, result, defaults)
    raise _FileError(first_error or "文件中没有任何内容")


def _skipped(cells) -> str | None:
    """``example``, ``total`` or ``footer`` for the 示例, 合计 and 填表人 rows the other forms skip too."""
    first = next((str(c) for c in cells if c and str(c).strip()), None)
    m = _SKIP_RE.match(first) if first is not None else None
    return m.lastgroup if m else None


def _price_header_kind(spec, cells) -> tuple[str, dict] | None:
    mapping = _match_header(spec, cells)
    if {"date", "product", "price"} <= mapping.keys():
        return "long", mapping
    texts = [(i, str(c).strip()) for i, c in enumerate(cells) if c and str(c).strip()]
    if len(texts) < 3 or "date" not in mapping:
        return None
    date_col = mapping["date"][0]
    columns = []
    for i, text in texts:
        if i == date_col:
            continue
        m = re.fullmatch(r"(.+?)\s*[(\[（【](.*?)[)\]）】]", text)
        name, unit = (m.group(1).strip(), m.group(2)) if m else (text, None)
        columns.append((i, name, price_unit_factor(unit)[0] if unit else None))
    return "wide", {"date": date_col, "columns": columns}


def _price_long_raw(data, mapping, title_unit) -> pd.DataFrame:
    keys = list(mapping)
    records = []
    for rownum, cells in data:
        values = [cells[mapping[k][0]] if mapping[k][0] < len(cells) else None for k in keys]
        if not any(v and str(v).strip() for v in values):
            continue
        records.append([*values, rownum])
    raw = pd.DataFrame(records, columns=[*keys, "source_row"])
    header_unit = price_unit_factor(mapping["price"][1])[0] if mapping["price"][1] else None
    raw["header_unit"] = header_unit or title_unit
    raw["price_label"] = "价格"
    return raw


def _price_wide_raw(data, mapping, title_unit, defaults: dict, result) -> pd.DataFrame:
    product, market = (defaults.get("product") or "").strip(), (defaults.get("market") or "").strip()
    if not product and not market:
        names = "、".join(name for _, name, _ in mapping["columns"][:6])
        raise _FileError(
            f"这是宽表（每行一个日期，各列为：{names}）：列为市场时请选择默认产品，列为产品时请填写默认市场"
        )
    columns_are = "market" if product else "product"
    result.notes.append(
        f"宽表：各列为{'市场' if product else '产品'}，"
        + (f"产品为「{product}」" if product else f"市场为「{market}」")
        + "。"
    )
    records = []
    for rownum, cells in data:
        day = cells[mapping["date"]] if mapping["date"] < len(cells) else None
        if not (day and str(day).strip()):
            continue
        for i, name, unit in mapping["columns"]:
            value = cells[i] if i < len(cells) else None
            if not (value and str(value).strip()):
                continue  # a gap
            records.append(
                {
                    "date": day,
                    "product": name if columns_are == "product" else product,
                    "market": name if columns_are == "market" else market,
                    "price": value,
                    "header_unit": unit or title_unit,
                    "price_label": name,
                    "source_row": rownum,
                }
            )
    return pd.DataFrame(
        records, columns=["date", "product", "market", "price", "header_unit", "price_label", "source_row"]
    )


def _normalise_prices(raw: pd.DataFrame, ctx, result, defaults: dict) -> pd.DataFrame:
    errors = ctx.errors
    if raw.empty:
        return raw
    out = pd.DataFrame({"source_row": raw["source_row"].astype("int64")})
    rows = raw["source_row"]
    labels_ = {"product": "产品", "origin": "产地", "market": "市场/监测点", "county": "监测点所在县", "source": "来源"}
    for order, (key, label) in enumerate(labels_.items(), start=1):
        if key not in raw:
            out[key] = None
            continue
        out[key] = _clean(raw[key].astype(object))
        errors.add_series(order, label, rows, raw[key], _text(out[key], 64))
    # A long file without 市场/监测点 takes the page's default market (else the product's 产地监测点).
    out["market"] = out["market"].astype(object).fillna((defaults.get("market") or "").strip() or None)
    day, reasons = _dates(_clean(raw["date"].astype(object)), ctx.today)
    errors.add_series(0, "日期", rows, raw["date"], reasons)
    out["date"] = day
    miss = out["product"].isna()
    for row in rows[miss]:
        errors.add(1, int(row), "产品", None, "产品为空")

    text = _clean(raw["price"].astype(object))
    parts = text.fillna("").map(lambda v: unicodedata.normalize("NFKC", v).replace(",", "")).str.extract(_PRICE_CELL)
    num = pd.to_numeric(parts["num"], errors="coerce")
    unit_text = parts["unit"].where(parts["unit"].fillna("").str.strip() != "")
    if "unit" in raw:
        unit_text = unit_text.fillna(_clean(raw["unit"].astype(object)))
    unit_text = unit_text.fillna(raw["header_unit"])
    parsed = unit_text.map(lambda u: price_unit_factor(u) if isinstance(u, str) else (None, None))
    unit = parsed.map(lambda p: p[0])
    factor = parsed.map(lambda p: p[1])
    no_unit = unit_text.isna()
    if no_unit.any():
        unit = unit.where(~no_unit, "元/公斤")
        factor = factor.where(~no_unit, 1.0)
        result.notes.append("未注明价格单位的按 元/公斤 读取。")
    for row, shown, label, n, u, f in zip(rows, raw["price"], raw["price_label"], num, unit_text, factor, strict=True):
        if pd.isna(n):
            errors.add(
                5, int(row), label, str(shown)[:60], "无法识别为价格，请填写数字，可带单位（如 3.5 或 3.5元/斤）"
            )
        elif n <= 0:
            errors.add(5, int(row), label, str(shown)[:60], "价格须大于 0")
        elif f is None or pd.isna(f):
            errors.add(5, int(row), label, str(u)[:60], "无法识别的价格单位；请用 元/斤、元/公斤 或 元/吨")
    out["price"] = (num * factor.astype(float)).round(4)
    out["price_shown"] = num
    out["unit"] = unit
    for key, label in (("volume", "销量"), ("stock", "库存")):
        if key in raw:
            value, _, why = _quantity(_clean(raw[key].astype(object)), None)
            errors.add_series(6, label, rows, raw[key], why)
            out[key] = value
        else:
            out[key] = float("nan")
    out["price_label"] = raw["price_label"]
    return out
