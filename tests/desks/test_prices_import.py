"""价格监测数据 intake on both backends: long and wide files, units, grains, re-reports, warnings."""

from __future__ import annotations

import io
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from data_access import cli
from data_access.desks import imports
from data_access.desks.ingest import parse_upload
from data_access.desks.registers import register_row
from data_access.reference.setup import init_store
from data_access.store import schema as s
from tests.principals import ADMIN, DESK

WUSHAN = "500237"  # 巫山县
TODAY = date(2026, 12, 1)


def add_product(engine, name: str, origin: str = "巫山县", category: str = "水果") -> None:
    out = register_row(engine, ADMIN, "products", {"产品名称": name, "品类": category, "产地县": origin})
    assert out.ok, out.errors


@pytest.fixture(scope="module")
def store(databases):
    engine = databases.new_engine()
    init_store(engine)
    for name in ("巫山脆李", "巫山蜂蜜", "巫山洋芋", "巫山魔芋", "巫山红薯", "巫山柑橘"):
        add_product(engine, name)
    yield engine
    engine.dispose()


def _parse(data: bytes, name: str, **defaults):
    return parse_upload(data, "prices", name, today=TODAY, defaults=defaults)


def _commit(engine, data: bytes, name: str, **defaults):
    result = _parse(data, name, **defaults)
    assert result.ok, [e.message for e in result.errors]
    return result, imports.commit_upload(engine, result, principal=DESK)


def _series(engine, market: str) -> pd.DataFrame:
    with engine.connect() as conn:
        row = conn.execute(select(s.price_series).where(s.price_series.c.market == market)).one()
        obs = pd.DataFrame(
            conn.execute(
                select(s.price_observation.c.obs_date, s.price_observation.c.price, s.price_observation.c.volume)
                .where(s.price_observation.c.series_id == row.id)
                .order_by(s.price_observation.c.obs_date)
            ).all(),
            columns=["obs_date", "price", "volume"],
        )
    obs["obs_date"] = pd.to_datetime(obs.obs_date).dt.date
    return row, obs


def _wide_xlsx(title: str, header: list[str], rows: list[list]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append([title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    ws.append(header)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_long_gbk_csv_with_jin_prices_and_a_title_row(store):
    text = (
        "巫山洋芋价格监测表（2024年3月）\r\n"
        "日期,品种,监测点,价格,单位,销量,库存\r\n"
        "2024-03-04,巫山洋芋,巫山县城农贸市场,1.5,元/斤,1200公斤,0.5吨\r\n"
        "2024-03-11,巫山洋芋,巫山县城农贸市场,1.6,元/斤,1100公斤,\r\n"
        "2024-03-18,巫山洋芋,巫山县城农贸市场,３２００,元/吨,,\r\n"
        "填表人：张三\r\n"
    )
    result, out = _commit(store, text.encode("gbk"), "洋芋.csv")
    assert result.encoding.lower().replace("-", "") in {"gb18030", "gbk", "gb2312"}
    assert out.committed and out.created == {"series": 1}
    series, obs = _series(store, "巫山县城农贸市场")
    assert series.region_code == WUSHAN  # the product's origin county
    assert series.source_unit == "元/斤" and series.frequency == "week"
    assert obs.price.tolist() == [3.0, 3.2, 3.2]  # 元/kg
    assert obs.volume.tolist()[:2] == [1200.0, 1100.0]
    assert series.received_at is not None


def test_wide_xlsx_with_a_merged_title_row_markets_as_columns(store):
    days = pd.date_range("2024-05-06", periods=4, freq="W-MON")
    data = _wide_xlsx(
        "巫山蜂蜜批发价格周报（元/斤）",
        ["日期", "北京新发地", "重庆双福", "广州江南"],
        [[d.date(), 30 + i, 31, 29 if i != 2 else None] for i, d in enumerate(days)],
    )
    result = _parse(data, "蜂蜜周报.xlsx")
    assert not result.ok and "默认产品" in result.errors[0].reason  # the page must say what the columns are

    result, out = _commit(store, data, "蜂蜜周报.xlsx", product="巫山蜂蜜")
    assert out.committed and out.created == {"series": 3}
    series, obs = _series(store, "北京新发地")
    assert series.source_unit == "元/斤"
    assert obs.price.tolist() == [60.0, 62.0, 64.0, 66.0]
    assert obs.obs_date.tolist() == [d.date() for d in days]
    _, gz = _series(store, "广州江南")
    assert len(gz) == 3  # a blank cell is a gap, not an error


def test_wide_file_with_products_as_columns_and_a_default_market(store):
    data = "日期,巫山红薯（元/公斤）,巫山魔芋（元/公斤）\n2024-06-03,4.2,8\n2024-06-10,4.4,8.2\n".encode()
    result, out = _commit(store, data, "市场日报.csv", market="万州批发市场")
    assert out.committed and out.created == {"series": 2}
    with store.connect() as conn:
        names = set(
            conn.execute(
                select(s.product.c.name)
                .join(s.price_series, s.price_series.c.product_id == s.product.c.id)
                .where(s.price_series.c.market == "万州批发市场")
            ).scalars()
        )
    assert names == {"巫山红薯", "巫山魔芋"}


def test_daily_rows_are_averaged_into_the_week_stored_on_its_monday(store):
    lines = ["日期,产品,市场,价格（元/公斤）,销量"]
    # Monday 2024-07-01 .. Sunday 07-07, then two days of the next week; 07-03 missing (a gap).
    for d, p, v in [
        ("2024-07-01", 10, 100),
        ("2024-07-02", 11, 100),
        ("2024-07-04", 12, 100),
        ("2024-07-07", 13, 100),
        ("2024-07-08", 20, 50),
        ("2024-07-09", 22, 50),
    ]:
        lines.append(f"{d},巫山柑橘,柑橘日报点,{p},{v}")
    _commit(store, "\n".join(lines).encode(), "柑橘日报.csv")
    series, obs = _series(store, "柑橘日报点")
    assert series.frequency == "week"
    assert obs.obs_date.tolist() == [date(2024, 7, 1), date(2024, 7, 8)]
    assert obs.price.tolist() == [11.5, 21.0]
    assert obs.volume.tolist() == [400.0, 100.0]


def test_the_alerts_page_figure_tells_when_each_series_last_received_data(store):
    from data_access.figures.alerts import series_status
    from data_access.query.filters import Filters

    every = Filters(start=date(2020, 1, 1), end=date(2026, 12, 31))
    lines = "日期,产品,市场,价格\n2024-07-15,巫山柑橘,过期测试点,10\n2024-07-22,巫山柑橘,过期测试点,11\n"
    _commit(store, lines.encode(), "过期.csv")
    fresh = series_status(store, every, today=date(2024, 8, 1)).set_index("market").loc["过期测试点"]
    assert fresh.last_date == date(2024, 7, 22) and fresh.grain == "week" and not fresh.stale
    assert fresh.received_at.year == date.today().year and fresh.observations == 2
    assert fresh.state == "数据不足"  # two weeks: too little history for any level
    late = series_status(store, every, today=date(2024, 8, 10)).set_index("market").loc["过期测试点"]
    assert late.stale and late.state == "数据过期"  # older than two weeks


def test_a_formula_in_a_text_cell_is_refused_and_a_long_file_takes_the_default_market():
    bad = _parse("日期,产品,市场,价格\n2024-01-01,巫山柑橘,=HYPERLINK(1),3\n".encode(), "公式.csv")
    [err] = bad.errors
    assert (err.row, err.field) == (2, "市场/监测点") and "公式" in err.reason
    ok = _parse("日期,产品,价格\n2024-01-01,巫山柑橘,3\n".encode(), "无市场.csv", market="万州批发市场")
    assert ok.ok and ok.rows.market.tolist() == ["万州批发市场"]


def test_a_re_reported_price_replaces_the_old_one_and_the_change_is_kept(store):
    first = (
        "日期,产品,市场,价格,单位\n"
        "2024-08-05,巫山柑橘,改报测试点,5,元/公斤\n"
        "2024-08-12,巫山柑橘,改报测试点,5.2,元/公斤\n"
    )
    _commit(store, first.encode(), "改报1.csv")
    again = "日期,产品,市场,价格,单位\n2024-08-12,巫山柑橘,改报测试点,2.8,元/斤\n"
    _, out = _commit(store, again.encode(), "改报2.csv")
    assert out.committed and not out.created
    series, obs = _series(store, "改报测试点")
    assert obs.price.tolist() == [5.0, 5.6]
    with store.connect() as conn:
        revs = conn.execute(select(s.price_revision).where(s.price_revision.c.series_id == series.id)).all()
    assert [(r.obs_date, r.old_price, r.new_price, r.batch_id) for r in revs] == [
        (date(2024, 8, 12), 5.2, 5.6, out.batch_id)
    ]


TABLES = (s.price_series, s.price_observation, s.price_revision, s.report_batch, s.audit_log, s.warning)


def test_the_same_file_twice_changes_nothing(store):
    data = "日期,产品,市场,价格\n2024-09-02,巫山柑橘,重复测试点,6\n".encode()
    _, first = _commit(store, data, "重复.csv")
    with store.connect() as conn:
        before = [
            conn.execute(select(func.count()).select_from(t)).scalar()
            for t in (s.price_observation, s.price_revision, s.report_batch, s.audit_log)
        ]
    _, second = _commit(store, data, "重复（副本）.csv")
    with store.connect() as conn:
        after = [
            conn.execute(select(func.count()).select_from(t)).scalar()
            for t in (s.price_observation, s.price_revision, s.report_batch, s.audit_log)
        ]
    assert second.already and second.batch_id == first.batch_id and not second.committed
    assert "未重复导入" in second.message
    assert after == before


def test_an_unknown_product_is_refused_naming_row_and_field_with_suggestions(store):
    data = "日期,产品,市场,价格\n2024-09-02,巫山柑橘,未知测试点,6\n2024-09-09,巫山脆梨,未知测试点,6\n".encode()
    result = _parse(data, "未知.csv")
    assert result.ok  # the parse knows no catalogue; the check does
    with store.connect() as conn:
        n_before = conn.execute(select(func.count()).select_from(s.price_series)).scalar()
    out = imports.check_upload(store, result, principal=DESK)
    assert not out.ok
    [err] = out.errors
    assert err.row == 3 and err.field == "产品" and err.value == "巫山脆梨"
    assert "产品名库" in err.reason and "是否为" in err.reason and "巫山脆李" in err.reason
    out = imports.commit_upload(store, result, principal=DESK)
    assert not out.committed and "未导入" in out.message
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.price_series)).scalar() == n_before


def test_bad_prices_and_units_name_the_row_and_column(store):
    data = _wide_xlsx(
        "巫山脆李价格",
        ["日期", "测试甲（元/斤）", "测试乙"],
        [["2024-01-01", "三元", "4元/两"], ["2024-01-08", "-1", "4"]],
    )
    result = _parse(data, "坏.xlsx", product="巫山脆李")
    got = {(e.row, e.field): e.reason for e in result.errors}
    assert "无法识别为价格" in got[(3, "测试甲")]
    assert "价格单位" in got[(3, "测试乙")]
    assert "大于 0" in got[(4, "测试甲")]


def _glut_prices(weeks: int = 110, fall_weeks: int = 6, seed: int = 5) -> tuple[list[date], np.ndarray]:
    rng = np.random.default_rng(seed)
    days = [date(2024, 1, 1) + timedelta(weeks=i) for i in range(weeks)]
    price = 4.0 * np.exp(rng.normal(0, 0.015, weeks))
    price[-fall_weeks:] *= 0.6
    return days, price.round(2)


def test_warnings_are_refreshed_for_the_imported_series_only(fresh_engine):
    engine = fresh_engine
    init_store(engine)
    add_product(engine, "巫山脆李")
    days, glut = _glut_prices()
    # A glut already in the store (another series) that nobody has refreshed: the import must not touch it.
    with engine.begin() as conn:
        pid = conn.execute(select(s.product.c.id)).scalar()
        sid = conn.execute(
            s.price_series.insert().values(product_id=pid, region_code=WUSHAN, market="旧监测点", frequency="week")
        ).inserted_primary_key[0]
        conn.execute(
            s.price_observation.insert(),
            [dict(series_id=sid, obs_date=d, price=float(p)) for d, p in zip(days, glut, strict=True)],
        )
    stable = (4.0 * np.exp(np.random.default_rng(9).normal(0, 0.015, len(days)))).round(2)
    data = _wide_xlsx(
        "巫山脆李批发价格（元/斤）",
        ["日期", "北京新发地", "山东寿光"],
        [[d, round(g / 2, 3), round(p / 2, 3)] for d, g, p in zip(days, glut, stable, strict=True)],
    )
    result, out = _commit(engine, data, "脆李周报.xlsx", product="巫山脆李")
    assert out.committed and out.warnings["series"] == 2 and out.warnings["inserted"] >= 1
    assert "已刷新这些序列的预警" in out.message
    with engine.connect() as conn:
        warned = conn.execute(
            select(s.price_series.c.market, s.warning.c.level, s.warning.c.reason).join(
                s.price_series, s.price_series.c.id == s.warning.c.series_id
            )
        ).all()
        refresh = (
            conn.execute(select(s.audit_log.c.subject).where(s.audit_log.c.action == "warnings_refresh"))
            .scalars()
            .all()
        )
    markets = {m for m, _, _ in warned}
    assert markets == {"北京新发地"}  # not 山东寿光 (stable), not 旧监测点 (not imported)
    level, reason = next((lv, r) for m, lv, r in warned if m == "北京新发地")
    assert level in {"yellow", "orange", "red"} and "价格" in reason
    assert len(refresh) == 1 and "#" + str(sid) not in refresh[0].split("、")


def test_command_line_import_with_a_default_product(store, tmp_path, capsys):
    path = tmp_path / "周报.csv"
    path.write_text("日期,命令行甲,命令行乙\n2024-10-07,3,3.1\n2024-10-14,3.2,3.3\n", encoding="utf-8")
    url = store.url.render_as_string(hide_password=False)
    code = cli.main(["import", str(path), "--form", "prices", "--product", "巫山洋芋", "--url", url])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "已导入「价格监测数据」" in printed and "价格监测序列 2 个" in printed
    _, obs = _series(store, "命令行甲")
    assert obs.price.tolist() == [3.0, 3.2]
    code = cli.main(["import", str(path), "--form", "prices", "--url", url])
    assert code == 1 and "默认产品" in capsys.readouterr().out
