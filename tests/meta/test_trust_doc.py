"""docs/trust.md's 等保三级 / PIPL table names tests that exist: every ``tests/…py::test_name`` it
cites is a test function of that file, and every control row names a test or says N/A."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## 等保三级"


def _table_rows() -> list[str]:
    text = (ROOT / "docs" / "trust.md").read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return [ln for ln in section.splitlines() if ln.startswith("| ") and not ln.startswith("| 条款")]


def test_the_table_covers_each_application_item():
    first_cells = " ".join(ln.split("|")[1] for ln in _table_rows())
    for item in (
        "身份鉴别",
        "访问控制",
        "安全审计",
        "入侵防范",
        "恶意代码防范",
        "数据完整性",
        "数据保密性",
        "数据备份恢复",
        "剩余信息保护",
        "个人信息保护",
        "PIPL",
    ):
        assert item in first_cells, item


def test_every_cited_test_exists():
    cited = 0
    for row in _table_rows():
        last = row.strip().strip("|").split("|")[-1]
        current_file = None
        for m in re.finditer(r"`(tests/[\w/]+\.py)?(::\w+)?`", last):
            path, name = m.group(1), m.group(2)
            current_file = path or current_file
            assert current_file, row
            source = (ROOT / current_file).read_text(encoding="utf-8")
            if name:
                assert re.search(rf"^def {name[2:]}\(", source, re.M), f"{current_file}{name}"
                cited += 1
        assert last.strip() not in ("",), row
    assert cited > 30
