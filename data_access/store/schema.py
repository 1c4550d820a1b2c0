"""The store's tables (SQLAlchemy Core). Migrations in ``migrations/`` create them.

Money is in yuan (NUMERIC 14,2 → float in pandas), quantities in kg, shares as ratios
(0.3 = 30%). Region codes are GB/T 2260 six-digit codes as text; a region with no official
code (大通湖区) gets a code with a letter in it so it can never collide with one.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Money = Numeric(14, 2)

# 行政区划 — GB/T 2260 divisions: province, city, county.
region = Table(
    "region",
    metadata,
    Column("code", String(12), primary_key=True, comment="GB/T 2260 六位代码; 自定义区域含字母"),
    Column("name", String(64), nullable=False),
    Column("level", String(10), nullable=False, comment="province | city | county"),
    Column("parent_code", String(12), index=True),
    Column("province_code", String(12), nullable=False, index=True),
    Column("city_code", String(12), index=True),
    Column("lng", Float),
    Column("lat", Float),
    Column("coord_source", String(16), comment="adcodes | polygon | parent"),
    Column("is_official", Boolean, nullable=False, default=True),
    Column("note", Text),
)

# 结对关系 — pairing between a helper region and a helped region.
pairing = Table(
    "pairing",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("helper_code", String(12), ForeignKey("region.code"), nullable=False, index=True),
    Column("helped_code", String(12), ForeignKey("region.code"), nullable=False, index=True),
    Column(
        "kind",
        String(24),
        nullable=False,
        comment="east_west 东西部协作 | counterpart 对口支援 | in_province "
        "省内对口帮扶 | designated 定点帮扶 | former 原帮扶地区",
    ),
    Column("since_year", Integer),
    Column("source", Text, comment="政策依据"),
    Column("until_year", Integer, comment="终止年度（空：仍在结对）"),
    Column("version", Integer, nullable=False, default=1, server_default="1", comment="每次修改加一"),
    UniqueConstraint("helper_code", "helped_code", "kind"),
)

# 采购单位 — buyer units: budget units, unions, state firms, private firms, social organisations.
buyer_unit = Table(
    "buyer_unit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column(
        "kind",
        String(24),
        nullable=False,
        index=True,
        comment="budget_unit 预算单位 | union 工会 | state_firm 国有企业 | private_firm 民营企业 | social_org 社会组织",
    ),
    Column(
        "region_code",
        String(12),
        ForeignKey("region.code"),
        nullable=False,
        index=True,
        comment="单位所在地（县级或地市级）",
    ),
    Column(
        "jurisdiction_code",
        String(12),
        ForeignKey("region.code"),
        nullable=False,
        index=True,
        comment="适用其政策规则的辖区（如珠海市）",
    ),
    Column("parent_id", Integer, ForeignKey("buyer_unit.id")),
    Column("contact", String(64)),
    Column("credit_code", String(18), comment="统一社会信用代码（GB 32100，校验位已核验）"),
    Column("active", Boolean, nullable=False, default=True, server_default=true(), comment="停用而不删除"),
    Column(
        "version", Integer, nullable=False, default=1, server_default="1", comment="每次修改加一（防止覆盖他人修改）"
    ),
    Index("ix_buyer_unit_credit_code", "credit_code", unique=True),
)

# 单位别名 — other names a unit is reported under (珠海一中 for 珠海市第一中学).
unit_alias = Table(
    "unit_alias",
    metadata,
    Column("alias", String(128), primary_key=True),
    Column("unit_id", Integer, ForeignKey("buyer_unit.id"), nullable=False, index=True),
)

# 单位年度预算 — unit-year budgets, the bases of the reserve-share and union rules.
unit_budget = Table(
    "unit_budget",
    metadata,
    Column("unit_id", Integer, ForeignKey("buyer_unit.id"), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("canteen_food_budget", Money, comment="年度食堂食材采购预算（元）"),
    Column("reserved_share", Float, comment="预留份额比例"),
    Column("reserved_amount", Money, comment="预留份额金额（元）"),
    Column("union_members", Integer, comment="工会会员人数"),
    Column("gift_budget", Money, comment="节日慰问品经费（元）"),
    Column("welfare_budget", Money, comment="职工集体福利额度（元）"),
    Column("plan_amount", Money, comment="年度消费帮扶指导计划（元）"),
    Column("version", Integer, nullable=False, default=1, server_default="1", comment="每次修改加一"),
)

# 供应商 — suppliers (cooperatives, firms, farms) in the helped regions.
supplier = Table(
    "supplier",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("region_code", String(12), ForeignKey("region.code"), nullable=False, index=True),
    Column("kind", String(24), comment="cooperative 合作社 | firm 企业 | farm 家庭农场 | household 农户"),
    Column("credit_code", String(18), comment="统一社会信用代码（GB 32100，校验位已核验）"),
    Column("beneficiaries", Integer, comment="带贫人数"),
    Column("version", Integer, nullable=False, default=1, server_default="1", comment="每次修改加一"),
    Index("ix_supplier_credit_code", "credit_code", unique=True),
)

# 产品名库 — product catalogue.
product = Table(
    "product",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False),
    Column(
        "category",
        String(24),
        nullable=False,
        index=True,
        comment="grain_oil 粮油 | meat_poultry 肉禽蛋 | fruit 水果 | vegetable 蔬菜 | "
        "tea_drink 茶饮 | specialty 土特产 | aquatic 水产 | processed 加工食品",
    ),
    Column("origin_code", String(12), ForeignKey("region.code"), nullable=False, index=True),
    Column("supplier_id", Integer, ForeignKey("supplier.id"), index=True),
    Column("unit", String(8), nullable=False, default="kg"),
    Column("season_months", String(40), comment="上市月份，逗号分隔，如 6,7,8"),
    Column("reference_price", Float, comment="参考价（元/单位）"),
    Column("supply_volume", Float, comment="年供货量（单位）"),
    Column("beneficiaries", Integer, comment="带贫人数"),
    Column("certified", Boolean, nullable=False, default=False, comment="帮扶重点产品认定"),
    Column("certified_on", Date),
    Column(
        "status",
        String(16),
        nullable=False,
        default="listed",
        comment="listed 在库 | watch 观察 | exit_proposed 拟退出 | exited 已退出",
    ),
    Column("cost_price", Float, comment="成本价（元/单位）"),
    Column("certification_no", String(64), comment="认定批次或文号"),
    Column("version", Integer, nullable=False, default=1, server_default="1", comment="每次修改加一"),
    Column("merged_into", Integer, comment="已合并到的产品 id（重复产品合并后，导入按名称找到的是合并后的产品）"),
    UniqueConstraint("name", "origin_code"),
)

# 基础数据合并 — a duplicate unit or product merged into another: what moved, so it can be undone.
register_merge = Table(
    "register_merge",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False, comment="unit 单位 | product 产品"),
    Column("from_id", Integer, nullable=False, comment="被合并（停用）的单位或产品"),
    Column("into_id", Integer, nullable=False, comment="保留的单位或产品"),
    Column("reason", Text, nullable=False),
    Column("moved", Text, nullable=False, comment="移动的行：表.列 → 主键列表（JSON），撤销时按此移回"),
    Column("merged_by", String(64), nullable=False),
    Column("merged_at", DateTime, nullable=False),
    Column("undone_by", String(64)),
    Column("undone_at", DateTime),
    Index("ix_register_merge_kind_from", "kind", "from_id"),
)

# 五专网点 / 示范点 — dedicated outlets and demonstration outlets.
outlet = Table(
    "outlet",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column(
        "kind",
        String(16),
        nullable=False,
        index=True,
        comment="counter 专柜 | hall 专馆 | zone 专区 | train 专列 | station 专站 | demo 示范点",
    ),
    Column("operator", String(128)),
    Column("region_code", String(12), ForeignKey("region.code"), nullable=False, index=True),
    Column("lng", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("address", String(256)),
    Column("opened_on", Date),
    Column(
        "status",
        String(16),
        nullable=False,
        default="operating",
        index=True,
        comment="operating 运营中 | suspended 暂停 | exit_proposed 拟退出 | exited 已退出",
    ),
    Column("status_reason", Text),
    Column("coord_source", String(16), comment="given 登记的经纬度 | county 位置为区县中心"),
    Column("version", Integer, nullable=False, default=1, server_default="1", comment="每次修改加一"),
    Column("status_since", Date, comment="当前状态的生效日期"),
)

# 网点状态变更 — each change of an outlet's status (动态退出) with its reason and date; appended, never edited.
outlet_status_change = Table(
    "outlet_status_change",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("outlet_id", Integer, ForeignKey("outlet.id"), nullable=False),
    Column("from_status", String(16), nullable=False),
    Column("to_status", String(16), nullable=False),
    Column("reason", Text, nullable=False, comment="变更原因"),
    Column("effective_on", Date, nullable=False, comment="生效日期"),
    Column("changed_by", String(64), nullable=False, comment="操作人"),
    Column("changed_at", DateTime, nullable=False, comment="记录时间"),
    Index("ix_outlet_status_change_outlet", "outlet_id", "id"),
)

# 报送批次 — one uploaded file, all-or-nothing.
report_batch = Table(
    "report_batch",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("form", String(16), nullable=False, comment="beneficiaries | proofs | purchases | demo"),
    Column("unit_id", Integer, ForeignKey("buyer_unit.id"), index=True),
    Column("period", String(10), comment="报送期，如 2024-05 或 2024-Q2"),
    Column("submitted_at", DateTime, nullable=False),
    Column("submitted_by", String(64), nullable=False),
    Column("file_name", String(256)),
    Column("file_hash", String(64), nullable=False),
    Column("row_count", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False, default="committed"),
    UniqueConstraint("form", "file_hash"),
    # Covers the reporting rules' read (each unit's periods and first submission) without the table.
    Index("ix_report_batch_unit_period", "unit_id", "period", "status", "submitted_at"),
)

# 采购明细 — one purchase: the fact table.
purchase = Table(
    "purchase",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("purchase_date", Date, nullable=False),
    Column("month", Integer, nullable=False, comment="yyyymm，便于按月汇总"),
    Column("buyer_unit_id", Integer, ForeignKey("buyer_unit.id"), nullable=False),
    Column("supplier_id", Integer, ForeignKey("supplier.id")),
    Column("product_id", Integer, ForeignKey("product.id")),
    Column("origin_code", String(12), ForeignKey("region.code"), nullable=False, comment="产地（县级）"),
    Column(
        "channel",
        String(16),
        nullable=False,
        comment="p832 832平台 | hall 专馆 | counter 专柜 | zone 专区 | "
        "canteen 食堂直供 | fair 展销会 | ecommerce 电商 | other 其他",
    ),
    Column(
        "purpose",
        String(16),
        nullable=False,
        default="other",
        comment="canteen 食堂食材 | holiday_gift 节日慰问品 | welfare 集体福利 | other 其他",
    ),
    Column("outlet_id", Integer, ForeignKey("outlet.id")),
    Column("quantity", Float, comment="数量（kg 或产品计量单位）"),
    Column("amount", Money, nullable=False, comment="金额（元）"),
    Column("voucher_no", String(64)),
    Column("batch_id", Integer, ForeignKey("report_batch.id")),
    Index("ix_purchase_month_channel", "month", "channel"),
    Index("ix_purchase_unit_month", "buyer_unit_id", "month"),
    Index("ix_purchase_origin_month", "origin_code", "month"),
    Index("ix_purchase_date", "purchase_date"),
    Index("ix_purchase_outlet_month", "outlet_id", "month"),
    Index("ix_purchase_product_month", "product_id", "month"),
    Index("ix_purchase_batch", "batch_id"),
)

# 价格/销量序列 — one product at one market or origin.
price_series = Table(
    "price_series",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("product_id", Integer, ForeignKey("product.id"), nullable=False, index=True),
    Column(
        "region_code", String(12), ForeignKey("region.code"), nullable=False, index=True, comment="监测点（产地县）"
    ),
    Column("market", String(64), nullable=False, comment="监测市场或产地名称"),
    Column("frequency", String(8), nullable=False, default="week"),  # the grain: day | week | month
    Column("source_unit", String(16), comment="报送时的价格单位，如 元/斤"),
    Column("source", String(64), comment="来源"),
    Column("received_at", DateTime, comment="最近一次收到数据的时间"),
    UniqueConstraint("product_id", "region_code", "market"),
)

price_observation = Table(
    "price_observation",
    metadata,
    Column("series_id", Integer, ForeignKey("price_series.id"), primary_key=True),
    Column("obs_date", Date, primary_key=True),
    Column("price", Float, nullable=False, comment="元/kg"),
    Column("volume", Float, comment="销量 kg"),
    Column("stock", Float, comment="库存 kg"),
)

# A re-reported price replaces the stored one; the change is kept here.
price_revision = Table(
    "price_revision",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("series_id", Integer, ForeignKey("price_series.id"), nullable=False),
    Column("obs_date", Date, nullable=False),
    Column("old_price", Float, nullable=False, comment="元/kg"),
    Column("new_price", Float, nullable=False, comment="元/kg"),
    Column("batch_id", Integer, ForeignKey("report_batch.id"), nullable=False),
    Column("at", DateTime, nullable=False),
    Index("ix_price_revision_series_id", "series_id", "obs_date"),
)

# 演示数据注入的滞销事件 — labels used to measure the warning engine.
series_episode = Table(
    "series_episode",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("series_id", Integer, ForeignKey("price_series.id"), nullable=False, index=True),
    Column("kind", String(24), nullable=False),
    Column("onset_date", Date, nullable=False),
    Column("worst_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
)

# 政策规则 — every target of the seeds, as data citing its clause.
policy_rule = Table(
    "policy_rule",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(48), nullable=False, unique=True),
    Column("jurisdiction_code", String(12), ForeignKey("region.code"), nullable=False, index=True),
    Column("year_from", Integer, nullable=False),
    Column("year_to", Integer),
    Column("subject_kind", String(24), nullable=False, comment="budget_unit | union | any_unit | origin_county"),
    Column("metric", String(40), nullable=False, comment="指标，见 data_access.engines.rules.METRICS"),
    Column("threshold", Float, nullable=False),
    Column("threshold_unit", String(24), nullable=False, comment="ratio | yuan_per_member | ratio_to_last_year"),
    Column("title", String(128), nullable=False),
    Column("requirement", Text, nullable=False, comment="条款原文摘录"),
    Column("source_doc", String(160), nullable=False),
    Column("source_doc_no", String(48)),
    Column("source_clause", String(48), nullable=False),
    Column("source_file", String(64)),
    Column(
        "version",
        Integer,
        nullable=False,
        default=1,
        server_default="1",
        comment="每次修改加一；大于1即在系统中改过，初始化不再按种子覆盖",
    ),
)

# 滞销预警 — one warning episode on one series, with its lifecycle.
warning = Table(
    "warning",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("series_id", Integer, ForeignKey("price_series.id"), nullable=False, index=True),
    Column("product_id", Integer, ForeignKey("product.id"), nullable=False, index=True),
    Column("region_code", String(12), ForeignKey("region.code"), nullable=False, index=True),
    Column("first_date", Date, nullable=False),
    Column("last_date", Date, nullable=False),
    Column("level", String(8), nullable=False, index=True, comment="blue | yellow | orange | red"),
    Column("score", Float, nullable=False),
    Column("reason", Text, nullable=False),
    Column(
        "status",
        String(16),
        nullable=False,
        default="new",
        index=True,
        comment="new 新发 | acknowledged 已确认 | absorbing 消纳中 | closed 已关闭",
    ),
    Column("owner_group", String(32), comment="责任专班"),
    Column("absorbed_volume", Float, nullable=False, default=0.0, comment="已消纳量 kg"),
    Column("version", Integer, nullable=False, default=1, comment="乐观锁版本号"),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("series_id", "first_date"),
)

# 预警处置记录 — the incident log: appended, never overwritten.
warning_action = Table(
    "warning_action",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("warning_id", Integer, ForeignKey("warning.id"), nullable=False, index=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(24), nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16)),
    Column("absorbed_volume", Float),
    Column("buyer_unit_id", Integer, ForeignKey("buyer_unit.id")),
    Column("note", Text),
)

# 带贫人员 — beneficiaries: personal data (DESIGN §7). The full ID number is only stored encrypted.
beneficiary = Table(
    "beneficiary",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False),
    Column("id_hash", String(64), nullable=False, unique=True, comment="HMAC-SHA256，用于去重匹配"),
    Column("id_masked", String(24), nullable=False),
    Column("id_encrypted", Text, nullable=False),
    Column("phone_masked", String(24)),
    Column("phone_encrypted", Text),
    Column("region_code", String(12), ForeignKey("region.code"), index=True),
    Column("batch_id", Integer, ForeignKey("report_batch.id")),
)

benefit = Table(
    "benefit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("beneficiary_id", Integer, ForeignKey("beneficiary.id"), nullable=False, index=True),
    Column("unit_id", Integer, ForeignKey("buyer_unit.id"), index=True),
    Column("product_id", Integer, ForeignKey("product.id"), index=True),
    Column("period", String(10), nullable=False, comment="受益期 yyyy-mm"),
    Column("amount", Money, nullable=False, comment="受益金额（元）"),
    Column("batch_id", Integer, ForeignKey("report_batch.id"), index=True),
)

# 用户与审计 — users, roles, and the audit log of sensitive reads.
app_user = Table(
    "app_user",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(64)),
    Column("password_hash", String(256), nullable=False),
    Column("role", String(16), nullable=False, comment="leader | desk | analyst | reporter | admin"),
    Column("unit_id", Integer, ForeignKey("buyer_unit.id")),
    Column("active", Boolean, nullable=False, default=True),
    # Accounts (migration auth_0001, data_access.trust.policy / sessions / second_factor).
    Column("password_changed_at", DateTime, comment="密码最近修改时间（到期须更换）"),
    Column("must_change_password", Boolean, nullable=False, default=False, comment="下次登录须修改密码"),
    Column("totp_secret", Text, comment="动态口令密钥（加密保存）"),
    Column("totp_last_step", BigInteger, comment="最近一次已用动态口令的时间步（防重放）"),
)

# Earlier password hashes of each user: a new password may not repeat the last N.
password_history = Table(
    "password_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("app_user.id"), nullable=False, index=True),
    Column("password_hash", String(256), nullable=False),
    Column("changed_at", DateTime, nullable=False),
)

# Server-side sessions: the browser keeps a random token, the store its hash; every rerun checks it
# (idle timeout, absolute lifetime, ended by sign-out or by an admin).
user_session = Table(
    "user_session",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("username", String(64), nullable=False, index=True),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen", DateTime, nullable=False),
    Column("ended_at", DateTime),
    Column("end_reason", String(16), comment="logout | idle | lifetime | admin | disabled"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime, nullable=False, index=True),
    Column("username", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("subject", String(128)),
    Column("detail", Text),
    # Hash chain (data_access.store.audit_chain): append-only, `audit verify` finds an edited or removed row.
    Column("prev_hash", String(64), comment="上一条的哈希"),
    Column("row_hash", String(64), comment="本条哈希"),
)

# 专班 — the joint meeting's task groups (seed 001 九（一）).
task_group = Table(
    "task_group",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("duty", Text),
)

# 存储元数据 — e.g. whether this store holds the demo data set (演示数据) and its seed.
store_meta = Table(
    "store_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text),
)

# ledger — 督办台账: joint meetings, the items the 专班 follow up, and each item's history.
meeting = Table(
    "meeting",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("held_on", Date, nullable=False, unique=True, comment="联席会议召开日期"),
    Column("title", String(128), nullable=False),
    Column("note", Text),
)

supervision_item = Table(
    "supervision_item",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "source_kind",
        String(16),
        nullable=False,
        comment="warning 滞销预警 | rule 规则落后 | outlet 网点拟退出 | report 逾期未报",
    ),
    Column(
        "source_key", String(64), nullable=False, comment="来源主键：预警 id、单位 id:规则代码、网点 id、单位 id:报送期"
    ),
    Column("title", String(256), nullable=False),
    Column("detail", Text, comment="来源给出的原因，随同步更新"),
    Column("severity", String(8), nullable=False, comment="red | orange | yellow | blue"),
    Column("region_code", String(12)),
    Column("unit_id", Integer, comment="相关单位（不设外键：演示数据重建时台账随之重建）"),
    Column("owner_group", String(32), ForeignKey("task_group.code"), nullable=False, comment="责任专班"),
    Column("due_date", Date, nullable=False, comment="办结时限"),
    Column("status", String(16), nullable=False, comment="open 待办 | in_progress 推进中 | closed 已办结"),
    Column("closed_reason", String(16), comment="done 专班办结 | resolved 来源已消除"),
    Column("note", Text, comment="最新督办备注"),
    Column("opened_on", Date, nullable=False, comment="列入台账日期（数据日期）"),
    Column("closed_on", Date),
    Column("version", Integer, nullable=False, default=1, comment="乐观锁版本号"),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("source_kind", "source_key"),
    Index("ix_supervision_item_owner_status", "owner_group", "status"),
    Index("ix_supervision_item_due_date", "due_date"),
    Index("ix_supervision_item_opened_on", "opened_on"),
    Index("ix_supervision_item_closed_on", "closed_on"),
)

# 督办记录 — appended, never overwritten.
supervision_event = Table(
    "supervision_event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", Integer, ForeignKey("supervision_item.id"), nullable=False, index=True),
    Column("at", DateTime, nullable=False, comment="记录时间"),
    Column("on_date", Date, nullable=False, comment="业务日期（同步的数据日期或办理日期）"),
    Column("actor", String(64), nullable=False),
    Column(
        "action",
        String(16),
        nullable=False,
        comment="opened | reopened | updated | resolved | status | note | assign | due",
    ),
    Column("from_status", String(16)),
    Column("to_status", String(16)),
    Column("note", Text),
)

# scale — purchase rollups (汇总表): monthly sums of purchase at several grains, kept exact by
# data_access.store.rollup (rebuilt by the demo, added to by each import batch). Category '' = no product.


def _rollup_table(name: str, dims: list[Column], *indexes: tuple[str, ...]) -> Table:
    """A rollup: its dimensions (the primary key, month first), its sums, and secondary indexes.

    An index led by a region column (origin_code, buyer_region_code) carries the row's other
    columns, so a region drill reads consecutive index pages instead of one heap page per row
    (migration scale_0006: INCLUDE columns on PostgreSQL, trailing key columns on SQLite)."""
    key = [c.name for c in dims]
    measures = ["amount", "quantity", "n"]

    def index(cols: tuple[str, ...]) -> Index:
        covering = cols[0] in ("origin_code", "buyer_region_code")
        rest = [c for c in key if c not in cols] + measures if covering else []
        return Index(f"ix_{name}_{'_'.join(cols)}", *cols, postgresql_include=rest)

    return Table(
        name,
        metadata,
        *dims,
        Column("amount", Money, nullable=False, comment="金额合计（元）"),
        Column("quantity", Float, comment="数量合计"),
        Column("n", Integer, nullable=False, comment="采购笔数"),
        PrimaryKeyConstraint(*key),
        *(index(cols) for cols in indexes),
    )


def _dim(name: str) -> Column:
    types = {"month": Integer, "buyer_unit_id": Integer, "product_id": Integer, "outlet_id": Integer}
    return Column(name, types.get(name, String(24)), nullable=False, autoincrement=False)


purchase_rollup = _rollup_table(  # 月 × 采购单位 × 产地县 × 渠道 × 用途 × 品类
    "purchase_rollup",
    [_dim(c) for c in ("month", "buyer_unit_id", "origin_code", "channel", "purpose", "category")],
    ("buyer_unit_id", "month"),
    ("origin_code", "month"),
)
purchase_rollup_origin = _rollup_table(  # 月 × 产地县 × 渠道 × 用途 × 品类 × 采购单位类型
    "purchase_rollup_origin",
    [_dim(c) for c in ("month", "origin_code", "channel", "purpose", "category", "buyer_kind")],
    ("origin_code", "month"),
)
purchase_rollup_buyer = _rollup_table(  # 月 × 采购方所在地 × 采购单位类型 × 渠道 × 用途 × 品类
    "purchase_rollup_buyer",
    [_dim(c) for c in ("month", "buyer_region_code", "buyer_kind", "channel", "purpose", "category")],
    ("buyer_region_code", "month"),
)
purchase_rollup_unit = _rollup_table(  # 月 × 采购单位 × 渠道 × 用途
    "purchase_rollup_unit",
    [_dim(c) for c in ("month", "buyer_unit_id", "channel", "purpose")],
    ("buyer_unit_id", "month"),
)
purchase_rollup_unit_origin = _rollup_table(  # 月 × 采购单位 × 产地县
    "purchase_rollup_unit_origin",
    [_dim(c) for c in ("month", "buyer_unit_id", "origin_code")],
    ("origin_code", "month"),
    ("buyer_unit_id", "month"),
)
purchase_rollup_product = _rollup_table(  # 月 × 产品 × 产地县 × 渠道 × 用途
    "purchase_rollup_product",
    [_dim(c) for c in ("month", "product_id", "origin_code", "channel", "purpose")],
    ("product_id", "month"),
    ("origin_code", "month"),
)
# origin_city is the first four characters of the origin county code (its city, 地级); outlet_id 0 = no outlet.
purchase_rollup_county = _rollup_table(  # 月 × 产地县
    "purchase_rollup_county", [_dim(c) for c in ("month", "origin_code")]
)
purchase_rollup_outlet_month = _rollup_table(  # 月 × 网点
    "purchase_rollup_outlet_month", [_dim(c) for c in ("month", "outlet_id")]
)
purchase_rollup_outlet = _rollup_table(  # 月 × 网点 × 渠道 × 产地市
    "purchase_rollup_outlet", [_dim(c) for c in ("month", "outlet_id", "channel", "origin_city")]
)
purchase_rollup_unit_city = _rollup_table(  # 月 × 采购单位 × 用途 × 产地市
    "purchase_rollup_unit_city", [_dim(c) for c in ("month", "buyer_unit_id", "purpose", "origin_city")]
)
# origin_province is the first two characters of the origin county code (its province).
purchase_rollup_unit_province = _rollup_table(  # 月 × 采购单位 × 渠道 × 用途 × 产地省（规则评价按产地省下钻）
    "purchase_rollup_unit_province",
    [_dim(c) for c in ("month", "buyer_unit_id", "channel", "purpose", "origin_province")],
)
purchase_rollup_helper_origin = _rollup_table(  # 月 × 采购单位所属帮扶方辖区 × 产地县（结对流向）
    "purchase_rollup_helper_origin", [_dim(c) for c in ("month", "buyer_jurisdiction", "origin_code")]
)
purchase_rollup_outlet_origin = _rollup_table(  # 月 × 网点 × 产地县（网点地图按产地县下钻）
    "purchase_rollup_outlet_origin", [_dim(c) for c in ("month", "outlet_id", "origin_code")], ("origin_code", "month")
)
purchase_rollup_kind = _rollup_table(  # 月 × 采购单位类型 × 渠道 × 用途 × 品类（不含地区：全国趋势、渠道结构）
    "purchase_rollup_kind", [_dim(c) for c in ("month", "buyer_kind", "channel", "purpose", "category")]
)
purchase_rollup_kind_province = _rollup_table(  # 月 × 产地省 × 采购单位类型 × 渠道 × 用途 × 品类（按产地省下钻）
    "purchase_rollup_kind_province",
    [_dim(c) for c in ("month", "origin_province", "buyer_kind", "channel", "purpose", "category")],
)
# Cumulative twins (本年累计): under month M the sums from 1 January of M's year to the end of M, for
# every month from a combination's first purchase in the year to December (data_access.store.rollup).
purchase_rollup_kind_ytd = _rollup_table(  # 本年累计至月 × 采购单位类型 × 渠道 × 用途 × 品类
    "purchase_rollup_kind_ytd", [_dim(c) for c in ("month", "buyer_kind", "channel", "purpose", "category")]
)
purchase_rollup_buyer_ytd = _rollup_table(  # 本年累计至月 × 采购方所在地 × 采购单位类型 × 渠道 × 用途 × 品类
    "purchase_rollup_buyer_ytd",
    [_dim(c) for c in ("month", "buyer_region_code", "buyer_kind", "channel", "purpose", "category")],
)
purchase_rollup_unit_ytd = _rollup_table(  # 本年累计至月 × 采购单位 × 渠道 × 用途
    "purchase_rollup_unit_ytd", [_dim(c) for c in ("month", "buyer_unit_id", "channel", "purpose")]
)
purchase_rollup_unit_city_ytd = _rollup_table(  # 本年累计至月 × 采购单位 × 用途 × 产地市
    "purchase_rollup_unit_city_ytd", [_dim(c) for c in ("month", "buyer_unit_id", "purpose", "origin_city")]
)
purchase_rollup_unit_province_ytd = _rollup_table(  # 本年累计至月 × 采购单位 × 渠道 × 用途 × 产地省
    "purchase_rollup_unit_province_ytd",
    [_dim(c) for c in ("month", "buyer_unit_id", "channel", "purpose", "origin_province")],
)
purchase_rollup_product_ytd = _rollup_table(  # 本年累计至月 × 产品 × 产地县 × 渠道 × 用途
    "purchase_rollup_product_ytd", [_dim(c) for c in ("month", "product_id", "origin_code", "channel", "purpose")]
)
