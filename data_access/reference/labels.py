"""Chinese labels for the codes the store uses (the UI shows these, code keeps the keys)."""

CHANNELS = {
    "p832": "832平台",
    "hall": "专馆",
    "counter": "专柜",
    "zone": "专区",
    "canteen": "食堂直供",
    "fair": "展销会",
    "ecommerce": "电商",
    "other": "其他",
}
OUTLET_CHANNELS = ("hall", "counter", "zone")
PURPOSES = {"canteen": "食堂食材", "holiday_gift": "节日慰问品", "welfare": "集体福利", "other": "其他"}
BUYER_KINDS = {
    "budget_unit": "预算单位",
    "union": "工会",
    "state_firm": "国有企业",
    "private_firm": "民营企业",
    "social_org": "社会组织",
}
# Whom a policy rule judges (policy_rule.subject_kind): units of a kind, every unit, or the helped counties.
RULE_SUBJECTS = {"budget_unit": "预算单位", "union": "工会", "any_unit": "各类单位", "origin_county": "产地区县"}
CATEGORIES = {
    "grain_oil": "粮油",
    "meat_poultry": "肉禽蛋",
    "fruit": "水果",
    "vegetable": "蔬菜",
    "tea_drink": "茶饮",
    "specialty": "土特产",
    "aquatic": "水产",
    "processed": "加工食品",
}
OUTLET_KINDS = {"counter": "专柜", "hall": "专馆", "zone": "专区", "train": "专列", "station": "专站", "demo": "示范点"}
OUTLET_STATUSES = {"operating": "运营中", "suspended": "暂停", "exit_proposed": "拟退出", "exited": "已退出"}
PRODUCT_STATUSES = {"listed": "在库", "watch": "观察", "exit_proposed": "拟退出", "exited": "已退出"}
WARNING_LEVELS = {"red": "红色", "orange": "橙色", "yellow": "黄色", "blue": "蓝色"}
WARNING_STATUSES = {"new": "新发", "acknowledged": "已确认", "absorbing": "消纳中", "closed": "已关闭"}
PAIRING_KINDS = {
    "east_west": "东西部协作",
    "counterpart": "对口支援",
    "in_province": "省内对口帮扶",
    "designated": "定点帮扶",
    "former": "原帮扶地区",
}
REGION_LEVELS = {"country": "全国", "province": "省级", "city": "地市级", "county": "县级"}
ROLES = {"leader": "领导小组", "desk": "专班", "analyst": "分析人员", "reporter": "报送单位", "admin": "管理员"}
