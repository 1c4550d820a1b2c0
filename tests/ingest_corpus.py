"""A corpus of messy and malformed upload files for ``data_access.desks.ingest``.

``cases()`` lists every file with what parsing it must give: either a correct parse (``rows``
data rows, no errors) or errors naming a row and field (``errors``: (row, field, text) triples,
row/field None for a file-level error). ``write_corpus(folder)`` writes the files to disk for a
look by hand; ``write_ledger`` and ``write_oversized`` make the big files on demand.

    python tests/ingest_corpus.py /tmp/corpus
"""

from __future__ import annotations

import codecs
import csv
import io
import random
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook

from data_access.desks.ingest import Limits, template_bytes
from data_access.trust.personal import fictional_id_number

TODAY = date(2024, 12, 31)

BEN_HEADER = ["姓名", "身份证", "联系方式", "受益金额"]
PROOF_HEADER = ["序号", "产品名称", "卖方", "买方", "数量", "金额", "交易时间", "备注"]
LEDGER_HEADER = ["交易日期", "采购单位", "供应商", "产品名称", "产地", "渠道", "用途", "数量", "金额（元）", "凭证号"]

_rng = random.Random(20240101)
IDS = [fictional_id_number(_rng, "430921", date(1960 + i, 1 + i % 12, 1 + i % 28)) for i in range(10)]


def bad_check_digit(id_number: str) -> tuple[str, str]:
    """The ID with a wrong last character, and the character that would be right."""
    wrong = "0" if id_number[-1] != "0" else "1"
    return id_number[:-1] + wrong, id_number[-1]


BAD_ID, BAD_ID_EXPECTED = bad_check_digit(IDS[3])


def ben_rows(n: int = 3) -> list[list]:
    return [[f"村民{i}", IDS[i], f"1380013800{i}", str(500 + i)] for i in range(n)]


def proof_rows(n: int = 3) -> list[list]:
    return [
        [
            str(i + 1),
            "大通湖大米",
            "大通湖区某合作社",
            "区直机关工会",
            f"{100 * (i + 1)}公斤",
            str(600 * (i + 1)),
            f"2024-0{i % 9 + 1}-15",
            "",
        ]
        for i in range(n)
    ]


def ledger_rows(n: int = 3) -> list[list]:
    return [
        [
            f"2024-03-{i % 28 + 1:02d}",
            "珠海市第一中学",
            "米林市某合作社",
            "高原红米",
            "540481",
            "832平台",
            "食堂食材",
            "500kg",
            f"{3000 + i}.50",
            f"FP{i:08d}",
        ]
        for i in range(n)
    ]


def csv_bytes(
    rows: list[list], encoding: str = "utf-8", bom: bool = False, delimiter: str = ",", title: str | None = None
) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    if title is not None:
        writer.writerow([title] + [""] * (len(rows[0]) - 1 if rows else 0))
    writer.writerows(rows)
    data = buf.getvalue().encode(encoding)
    if bom:
        data = (codecs.BOM_UTF16_LE if encoding == "utf-16-le" else codecs.BOM_UTF8) + data
    return data


def xlsx_bytes(rows: list[list], title: str | None = None, sheets_before: int = 0, start_col: int = 1) -> bytes:
    wb = Workbook()
    ws = wb.active
    for i in range(sheets_before):
        ws.title = f"填表说明{i + 1}"
        ws["A1"] = "请按模板填写，身份证号一栏设为文本格式。"
        ws = wb.create_sheet("数据")
    offset = 1
    if title is not None:
        ws.cell(row=1, column=start_col, value=title)
        ws.merge_cells(start_row=1, start_column=start_col, end_row=1, end_column=start_col + len(rows[0]) - 1)
        ws.cell(row=2, column=start_col, value="填报单位：大通湖区河坝镇　　　　填报日期：2024年12月")
        offset = 3
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None and value != "":
                cell = ws.cell(row=offset + r, column=start_col + c, value=value)
                if isinstance(value, str) and value.startswith("="):
                    cell.data_type = "s"  # text that looks like a formula, as web systems export it
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@dataclass
class Case:
    """One corpus file and what parsing it must give."""

    name: str
    form: str
    filename: str
    data: bytes
    rows: int | None = None
    errors: list[tuple[int | None, str | None, str]] = field(default_factory=list)
    limits: Limits | None = None
    values: dict[tuple[int, str], object] = field(default_factory=dict)  # (source_row, column) → value
    note: str | None = None

    @property
    def good(self) -> bool:
        return self.rows is not None


def _ben(extra: list[list], header=None, **kw) -> bytes:
    return csv_bytes([header or BEN_HEADER, *extra], **kw)


def _proof(extra: list[list], header=None, **kw) -> bytes:
    return csv_bytes([header or PROOF_HEADER, *extra], **kw)


def _ledger(extra: list[list], header=None, **kw) -> bytes:
    return csv_bytes([header or LEDGER_HEADER, *extra], **kw)


def _proof_row(**changes) -> list:
    row = dict(zip(PROOF_HEADER, proof_rows(1)[0], strict=True))
    row.update(changes)
    return [row[h] for h in PROOF_HEADER]


def _ben_row(i: int = 0, **changes) -> list:
    row = dict(zip(BEN_HEADER, ben_rows(i + 1)[i], strict=True))
    row.update(changes)
    return [row[h] for h in BEN_HEADER]


def _ledger_row(**changes) -> list:
    row = dict(zip(LEDGER_HEADER, ledger_rows(1)[0], strict=True))
    row.update(changes)
    return [row[h] for h in LEDGER_HEADER]


def _truncated_xlsx() -> bytes:
    data = xlsx_bytes([PROOF_HEADER, *proof_rows(5)])
    return data[: len(data) // 2]


def _foreign_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "not a workbook")
    return buf.getvalue()


def _mixed_encoding() -> bytes:
    head = _proof(proof_rows(2000))
    tail = csv_bytes([_proof_row(产品名称="湘莲", 序号="9999")], encoding="gbk")
    return head + tail


def _xlsx_messy_proofs() -> bytes:
    rows = [
        PROOF_HEADER,
        [1, "大通湖大闸蟹", "大通湖区某水产合作社", "区总工会", "50公斤", 6000, 45555, None],
        [2, "大通湖大米", "大通湖区某合作社", "区教育局食堂", 500, "1,200.00元", datetime(2024, 5, 6, 0, 0), "食堂"],
        [3, "莲子", "南县某合作社", "区直机关工会", "1吨", "1.2万元", "2024年6月1日", None],
        [None, None, None, None, None, None, None, None],
        ["合计", None, None, None, None, None, None, None],
    ]
    return xlsx_bytes(rows, title="附件2　消费扶贫证明材料")


def _xlsx_id_as_number() -> bytes:
    rows = [BEN_HEADER, ["村民甲", float(IDS[0][:17] + "0"), 13800138000, 800]]
    return xlsx_bytes(rows, title="带贫人员名册")


def _filled_template() -> bytes:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(template_bytes("proofs")))
    wb.active.append(proof_rows(1)[0])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def cases() -> list[Case]:
    """Every corpus case, malformed ones and messy ones that must import."""
    b, p, g = "beneficiaries", "proofs", "purchases"
    bad_ben = _ben_row
    out = [
        # --- whole-file problems
        Case("empty_file", b, "名册.csv", b"", errors=[(None, None, "文件为空")]),
        Case("blank_lines_only", b, "名册.csv", b"\r\n  \r\n\r\n", errors=[(None, None, "表头")]),
        Case("header_only", p, "证明材料.csv", _proof([]), errors=[(None, None, "没有数据行")]),
        Case(
            "header_only_with_title_xlsx",
            p,
            "证明材料.xlsx",
            xlsx_bytes([PROOF_HEADER], title="消费扶贫证明材料"),
            errors=[(None, None, "没有数据行")],
        ),
        Case(
            "missing_id_header",
            b,
            "名册.csv",
            csv_bytes([["姓名", "联系方式", "受益金额"], ["张三", "13800138000", "100"]]),
            errors=[(None, None, "缺少「身份证」")],
        ),
        Case(
            "two_missing_headers",
            p,
            "证明材料.csv",
            csv_bytes([["序号", "产品名称", "卖方", "数量", "金额"], ["1", "米", "甲", "1", "2"]]),
            errors=[(None, None, "「买方」「交易时间」")],
        ),
        Case(
            "unrelated_headers",
            b,
            "名册.csv",
            csv_bytes([["a", "b", "c"], ["1", "2", "3"]]),
            errors=[(None, None, "未找到「带贫人员名册」的表头")],
        ),
        Case(
            "wrong_form_uploaded",
            b,
            "证明材料.csv",
            _proof(proof_rows(2)),
            errors=[(None, None, "看起来是「消费扶贫证明材料」")],
        ),
        Case(
            "latin1_garbage",
            p,
            "proofs.csv",
            "Produit,Vendeur\r\nCafé crème,Société Générale\r\n".encode("latin-1"),
            errors=[(None, None, "编码")],
        ),
        Case(
            "random_binary",
            p,
            "data.csv",
            bytes(random.Random(7).randrange(256) for _ in range(4000)),
            errors=[(None, None, "")],
        ),
        Case(
            "nul_bytes_in_csv",
            p,
            "证明材料.csv",
            _proof(proof_rows(2)).replace(b"\r\n1,", b"\r\n1\x00,", 1),
            errors=[(None, None, "空字节")],
        ),
        Case(
            "mixed_encoding_midfile", p, "证明材料.csv", _mixed_encoding(), errors=[(None, None, "无法按 UTF-8 解码")]
        ),
        Case("truncated_xlsx", p, "证明材料.xlsx", _truncated_xlsx(), errors=[(None, None, "已损坏")]),
        Case("zip_not_xlsx", p, "证明材料.xlsx", _foreign_zip(), errors=[(None, None, "不是有效的 XLSX")]),
        Case(
            "old_xls",
            p,
            "证明材料.xls",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
            errors=[(None, None, ".xls")],
        ),
        Case("pdf", p, "证明材料.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", errors=[(None, None, "PDF")]),
        Case(
            "html_as_xls",
            p,
            "证明材料.xls",
            "<html><table><tr><td>序号</td></tr></table></html>".encode(),
            errors=[(None, None, "网页")],
        ),
        Case(
            "too_many_rows",
            p,
            "证明材料.csv",
            _proof(proof_rows(20)),
            limits=Limits(max_rows=10),
            errors=[(None, None, "行的上限")],
        ),
        Case(
            "too_many_bytes",
            p,
            "证明材料.csv",
            _proof(proof_rows(20)),
            limits=Limits(max_bytes=1024),
            errors=[(None, None, "超过上限 1 KB")],
        ),
        # --- amounts
        Case("negative_amount", b, "名册.csv", _ben([bad_ben(0, 受益金额="-300")]), errors=[(2, "受益金额", "负数")]),
        Case(
            "negative_amount_parens",
            b,
            "名册.csv",
            _ben([bad_ben(0, 受益金额="（300）")]),
            errors=[(2, "受益金额", "负数")],
        ),
        Case("zero_amount", p, "证明材料.csv", _proof([_proof_row(金额="0.00")]), errors=[(2, "金额", "金额为0")]),
        Case(
            "absurd_benefit",
            b,
            "名册.csv",
            _ben([bad_ben(0, 受益金额="2000000")]),
            errors=[(2, "受益金额", "上限100万元")],
        ),
        Case(
            "absurd_ledger_amount",
            g,
            "台账.csv",
            _ledger([_ledger_row(**{"金额（元）": "2亿"})]),
            errors=[(2, "金额（元）", "上限1亿元")],
        ),
        Case(
            "amount_words",
            p,
            "证明材料.csv",
            _proof([_proof_row(金额="约三百元")]),
            errors=[(2, "金额", "无法识别为金额")],
        ),
        Case("amount_missing", p, "证明材料.csv", _proof([_proof_row(金额="")]), errors=[(2, "金额", "必填")]),
        # --- dates
        Case(
            "future_date",
            p,
            "证明材料.csv",
            _proof([_proof_row(交易时间="2025-03-01")]),
            errors=[(2, "交易时间", "晚于今天")],
        ),
        Case(
            "date_before_2015",
            p,
            "证明材料.csv",
            _proof([_proof_row(交易时间="2014/12/31")]),
            errors=[(2, "交易时间", "早于2015")],
        ),
        Case(
            "feb_30",
            p,
            "证明材料.csv",
            _proof([_proof_row(交易时间="2021年2月30日")]),
            errors=[(2, "交易时间", "日期不存在（2021年2月30日）")],
        ),
        Case(
            "date_words",
            g,
            "台账.csv",
            _ledger([_ledger_row(交易日期="上周五")]),
            errors=[(2, "交易日期", "无法识别为日期")],
        ),
        Case(
            "two_digit_year",
            g,
            "台账.csv",
            _ledger([_ledger_row(交易日期="21/8/20")]),
            errors=[(2, "交易日期", "无法识别为日期")],
        ),
        # --- duplicates
        Case(
            "duplicate_rows",
            p,
            "证明材料.csv",
            _proof([_proof_row(序号="1"), _proof_row(序号="2"), _proof_row(序号="3", 金额="1")]),
            errors=[(3, "整行", "与第2行内容完全相同")],
        ),
        Case(
            "duplicate_person",
            b,
            "名册.csv",
            _ben([bad_ben(0), bad_ben(0, 受益金额="900")]),
            errors=[(3, "身份证", "与第2行是同一身份证号")],
        ),
        # --- ID numbers and phones
        Case(
            "bad_check_digit",
            b,
            "名册.csv",
            _ben([bad_ben(0, 身份证=BAD_ID)]),
            errors=[(2, "身份证", f"校验位错误（应为{BAD_ID_EXPECTED}）")],
        ),
        Case(
            "id_17_digits",
            b,
            "名册.csv",
            _ben([bad_ben(0, 身份证=IDS[0][:17])]),
            errors=[(2, "身份证", "长度应为18位（实为17位）")],
        ),
        Case(
            "id_15_digits", b, "名册.csv", _ben([bad_ben(0, 身份证="430921800101123")]), errors=[(2, "身份证", "15位")]
        ),
        Case(
            "id_scientific",
            b,
            "名册.csv",
            _ben([bad_ben(0, 身份证="4.30921E+17")]),
            errors=[(2, "身份证", "科学计数法")],
        ),
        Case(
            "id_bad_birth_date",
            b,
            "名册.csv",
            _ben([bad_ben(0, 身份证="43092119901301" + "1234")]),
            errors=[(2, "身份证", "出生日期")],
        ),
        Case(
            "id_bad_province",
            b,
            "名册.csv",
            _ben([bad_ben(0, 身份证="99" + IDS[0][2:])]),
            errors=[(2, "身份证", "省级代码")],
        ),
        Case("id_missing", b, "名册.csv", _ben([bad_ben(0, 身份证="")]), errors=[(2, "身份证", "必填")]),
        Case("bad_phone", b, "名册.csv", _ben([bad_ben(0, 联系方式="12345")]), errors=[(2, "联系方式", "不是有效")]),
        Case("name_missing", b, "名册.csv", _ben([bad_ben(0, 姓名="  ")]), errors=[(2, "姓名", "必填")]),
        Case("id_as_number_xlsx", b, "名册.xlsx", _xlsx_id_as_number(), errors=[(4, "身份证", "科学计数法")]),
        # --- formula injection
        Case(
            "formula_hyperlink",
            p,
            "证明材料.csv",
            _proof([_proof_row(产品名称='=HYPERLINK("http://x","y")')]),
            errors=[(2, "产品名称", "疑似公式")],
        ),
        Case(
            "formula_at_sum",
            p,
            "证明材料.csv",
            _proof([_proof_row(卖方="@SUM(1)")]),
            errors=[(2, "卖方", "以「@」开头")],
        ),
        Case(
            "formula_plus_minus",
            p,
            "证明材料.csv",
            _proof([_proof_row(备注="-2+3+cmd|' /C calc'!A0"), _proof_row(序号="2", 备注="+cmd")]),
            errors=[(2, "备注", "疑似公式"), (3, "备注", "疑似公式")],
        ),
        Case(
            "formula_after_tab",
            p,
            "证明材料.csv",
            _proof([_proof_row(买方="\t=1+1")]),
            errors=[(2, "买方", "以「=」开头")],
        ),
        Case(
            "formula_fullwidth",
            p,
            "证明材料.csv",
            _proof([_proof_row(买方="＝cmd|'/c calc'!A1")]),
            errors=[(2, "买方", "疑似公式")],
        ),
        Case(
            "formula_in_xlsx_text",
            p,
            "证明材料.xlsx",
            xlsx_bytes([PROOF_HEADER, _proof_row(产品名称='=HYPERLINK("http://x","y")')]),
            errors=[(2, "产品名称", "疑似公式")],
        ),
        # --- other values
        Case(
            "quantity_words",
            p,
            "证明材料.csv",
            _proof([_proof_row(数量="若干")]),
            errors=[(2, "数量", "无法识别为数量")],
        ),
        Case("negative_quantity", g, "台账.csv", _ledger([_ledger_row(数量="-5kg")]), errors=[(2, "数量", "负数")]),
        Case(
            "unknown_channel",
            g,
            "台账.csv",
            _ledger([_ledger_row(渠道="菜市场")]),
            errors=[(2, "渠道", "无法识别的渠道")],
        ),
        Case(
            "unknown_purpose",
            g,
            "台账.csv",
            _ledger([_ledger_row(用途="送礼")]),
            errors=[(2, "用途", "无法识别的用途")],
        ),
        Case(
            "many_errors_every_one",
            p,
            "证明材料.csv",
            _proof([_proof_row(序号=str(i), 金额="-1", 交易时间="2030-01-01") for i in range(1, 6)]),
            errors=[(r, f, "") for r in range(2, 7) for f in ("金额", "交易时间")],
        ),
        # --- messy but good
        Case(
            "gbk_with_title",
            p,
            "证明材料.csv",
            _proof(proof_rows(3), encoding="gbk", title="附件2　消费扶贫证明材料"),
            rows=3,
            values={(3, "product"): "大通湖大米", (5, "amount_yuan"): 1800.0},
        ),
        Case("gbk_named_utf8", p, "证明材料_UTF8.csv", _proof(proof_rows(2), encoding="gbk"), rows=2),
        Case(
            "gb18030_rare_char",
            b,
            "名册.csv",
            _ben([_ben_row(0, 姓名="𠈌村民")], encoding="gb18030"),
            rows=1,
            values={(2, "name"): "𠈌村民"},
        ),
        Case(
            "utf8_bom",
            b,
            "名册.csv",
            _ben(ben_rows(3), bom=True, title="带贫人员名册"),
            rows=3,
            values={
                (3, "benefit_yuan"): 500.0,
                (3, "id_masked"): IDS[0][:4] + "*" * 10 + IDS[0][-4:],
                (3, "phone_masked"): "138****8000",
            },
        ),
        Case(
            "utf16_excel_unicode_text",
            b,
            "名册.txt",
            _ben(ben_rows(2), encoding="utf-16-le", bom=True, delimiter="\t"),
            rows=2,
        ),
        Case("utf16_no_bom", b, "名册.csv", _ben(ben_rows(2), encoding="utf-16-le"), rows=2),
        Case("xlsx_really_csv", p, "证明材料.xlsx", _proof(proof_rows(2)), rows=2, note="内容实为 CSV"),
        Case(
            "xlsx_merged_title_serial_dates",
            p,
            "证明材料.xlsx",
            _xlsx_messy_proofs(),
            rows=3,
            values={
                (4, "date"): datetime(2024, 9, 20),
                (4, "quantity"): 50.0,
                (5, "amount_yuan"): 1200.0,
                (5, "date"): datetime(2024, 5, 6),
                (6, "amount_yuan"): 12000.0,
                (6, "quantity"): 1000.0,
            },
            note="合计行",
        ),
        Case(
            "xlsx_second_sheet_offset_columns",
            b,
            "名册.xlsx",
            xlsx_bytes([BEN_HEADER, *ben_rows(2)], title="带贫人员名册", sheets_before=1, start_col=3),
            rows=2,
        ),
        Case(
            "fullwidth_headers_and_digits",
            b,
            "名册.csv",
            csv_bytes(
                [
                    ["　姓　名　", "身份证号码（必填）", "联系电话", "受益金额(元)"],
                    [
                        "村民甲",
                        IDS[1].translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"}),
                        "１３８ ００１３ ８０００",
                        "１，２００元",
                    ],
                ]
            ),
            rows=1,
            values={(2, "benefit_yuan"): 1200.0, (2, "phone_masked"): "138****8000"},
        ),
        Case(
            "amount_forms",
            p,
            "证明材料.csv",
            _proof(
                [
                    _proof_row(序号="1", 金额="1,234.50元"),
                    _proof_row(序号="2", 金额="1.2万元"),
                    _proof_row(序号="3", 金额="￥300"),
                    _proof_row(序号="4", 金额="￥３００.５"),
                    _proof_row(序号="5", 金额=" 42 "),
                ]
            ),
            rows=5,
            values={
                (2, "amount_yuan"): 1234.5,
                (3, "amount_yuan"): 12000.0,
                (4, "amount_yuan"): 300.0,
                (5, "amount_yuan"): 300.5,
                (6, "amount_yuan"): 42.0,
            },
        ),
        Case(
            "wan_yuan_column",
            g,
            "台账.csv",
            _ledger(
                [_ledger_row(**{"金额（元）": "1.5"}), _ledger_row(凭证号="B", **{"金额（元）": "300元"})],
                header=[*LEDGER_HEADER[:8], "金额（万元）", "凭证号"],
            ),
            rows=2,
            values={(2, "amount_yuan"): 15000.0, (3, "amount_yuan"): 300.0},
        ),
        Case(
            "date_forms",
            p,
            "证明材料.csv",
            _proof(
                [
                    _proof_row(序号="1", 交易时间="2021年8月20日"),
                    _proof_row(序号="2", 交易时间="2021.8.21", 金额="2"),
                    _proof_row(序号="3", 交易时间="2021/8/22", 金额="3"),
                    _proof_row(序号="4", 交易时间="20210823", 金额="4"),
                    _proof_row(序号="5", 交易时间="2021-08-24 00:00:00", 金额="5"),
                    _proof_row(序号="6", 交易时间="44433", 金额="6"),
                ]
            ),
            rows=6,
            values={(r, "date"): datetime(2021, 8, 18 + r) for r in range(2, 8)},
        ),
        Case(
            "quantity_units",
            g,
            "台账.csv",
            _ledger(
                [
                    _ledger_row(凭证号="1", 数量="500公斤"),
                    _ledger_row(凭证号="2", 数量="1吨"),
                    _ledger_row(凭证号="3", 数量="20箱"),
                    _ledger_row(凭证号="4", 数量="300斤"),
                    _ledger_row(凭证号="5", 数量=""),
                ]
            ),
            rows=5,
            values={
                (2, "quantity"): 500.0,
                (3, "quantity"): 1000.0,
                (4, "quantity"): 20.0,
                (4, "unit"): "箱",
                (5, "quantity"): 150.0,
                (5, "unit"): "kg",
            },
        ),
        Case(
            "synonym_headers_blank_columns",
            g,
            "台账.csv",
            csv_bytes(
                [
                    [
                        "",
                        "采购日期",
                        "买方",
                        "卖方",
                        "品名",
                        "",
                        "产地",
                        "采购渠道",
                        "用途",
                        "重量(吨)",
                        "金额(元)",
                        "发票号",
                        "",
                    ],
                    [
                        "",
                        "2024-01-05",
                        "某局",
                        "某社",
                        "茶叶",
                        "",
                        "米林市",
                        "专柜",
                        "节日慰问品",
                        "2",
                        "8800",
                        "F1",
                        "",
                    ],
                ]
            ),
            rows=1,
            values={
                (2, "quantity"): 2000.0,
                (2, "channel"): "counter",
                (2, "purpose"): "holiday_gift",
                (2, "origin"): "米林市",
            },
        ),
        Case(
            "trailing_blank_rows_and_footer",
            p,
            "证明材料.csv",
            _proof(
                [
                    *proof_rows(2),
                    [""] * 8,
                    ["合计", "", "", "", "", "1800", "", ""],
                    ["填表人：李四", "", "", "", "", "", "", ""],
                    *[[""] * 8] * 30,
                ]
            ),
            rows=2,
            note="表尾说明",
        ),
        Case("ragged_rows", p, "证明材料.csv", _proof([proof_rows(1)[0][:7], proof_rows(2)[1]]), rows=2),
        Case(
            "multiline_cell",
            p,
            "证明材料.csv",
            _proof([_proof_row(备注="第一行\n第二行"), _proof_row(序号="2", 金额="7")]),
            rows=2,
            values={(3, "amount_yuan"): 7.0},
        ),
        Case(
            "placeholders_in_optional",
            p,
            "证明材料.csv",
            _proof([_proof_row(备注="-"), _proof_row(序号="2", 金额="8", 备注="/")]),
            rows=2,
        ),
        Case(
            "ledger_good",
            g,
            "台账.csv",
            _ledger(ledger_rows(4)),
            rows=4,
            values={(2, "origin_code"): "540481", (2, "channel"): "p832", (2, "purpose"): "canteen"},
        ),
        Case("template_with_example_row", p, "证明材料.xlsx", _filled_template(), rows=1, note="示例行"),
    ]
    return out


def write_corpus(folder: Path) -> list[Path]:
    """Write every corpus case into ``folder`` (file names prefixed by the case name)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for case in cases():
        path = folder / f"{case.name}__{case.filename}"
        path.write_bytes(case.data)
        paths.append(path)
    return paths


def write_oversized(path: Path, size: int = 51 * 1024 * 1024) -> Path:
    """A CSV of ``size`` bytes: a real header, then a sparse tail (cheap to make, big on stat)."""
    with open(path, "wb") as fh:
        fh.write(_proof(proof_rows(3)))
        fh.truncate(size)
    return path


def write_ledger(path: Path, n_rows: int, seed: int = 1) -> Path:
    """A purchase-ledger CSV (UTF-8, title row) with ``n_rows`` valid, distinct rows."""
    rng = random.Random(seed)
    buyers = [
        "珠海市第一中学",
        "珠海市人民医院",
        "香洲区机关事务管理局",
        "珠海市总工会",
        "格力电器工会",
        "横琴新区管委会",
    ]
    suppliers = ["米林市某合作社", "巫山县某农业公司", "遵义市某茶厂", "怒江州某合作社", "稻城县某牧场"]
    products = ["高原红米", "巫山脆李", "遵义红茶", "草果", "牦牛肉干", "花椒"]
    origins = ["540481", "500237", "520302", "533300", "513337"]
    channels = ["832平台", "专柜", "专馆", "食堂直采", "展销会"]
    purposes = ["食堂食材", "节日慰问品", "集体福利"]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["消费帮扶采购台账"])
        writer.writerow(LEDGER_HEADER)
        for i in range(n_rows):
            writer.writerow(
                [
                    f"2023-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    rng.choice(buyers),
                    rng.choice(suppliers),
                    rng.choice(products),
                    rng.choice(origins),
                    rng.choice(channels),
                    rng.choice(purposes),
                    f"{rng.randint(1, 2000)}kg",
                    f"{rng.randint(100, 500000)}.{rng.randint(0, 99):02d}",
                    f"V{i:09d}",
                ]
            )
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "ingest_corpus")
    written = write_corpus(target)
    print(f"{len(written)} files in {target}")
