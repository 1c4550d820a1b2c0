"""``python -m data_access <command>``: the only argparse wiring, each command a thin wrapper over a
function of the layers below (sqlite-utils style). Every command that opens the store takes the same
``--url``; writes run as the command-line principal (``auth.cli_principal``), checked and audited as
any other."""

from __future__ import annotations

import argparse
import getpass
import json
import resource
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import date
from pathlib import Path

from data_access.desks import imports, ledger, registers
from data_access.desks.ingest import ALL_FORMS, REGISTERS
from data_access.desks.warnings import refresh_warnings
from data_access.engines import signals, signals_eval
from data_access.figures.ledger import meetings
from data_access.figures.overview import data_as_of
from data_access.packs.briefing import write_pack
from data_access.packs.meeting import meeting_pack
from data_access.reference.setup import ensure_store, init_store
from data_access.store import rollup
from data_access.store.config import describe_url
from data_access.store.db import make_engine
from data_access.store.meta import is_demo_store
from data_access.tools import backup, bench, demo, keys, partitions
from data_access.trust import audit, auth, personal, second_factor, sessions
from data_access.trust.stamps import export_stamp

URL_HELP = "数据库 URL（默认读取 BANGFU_DATABASE_URL）"
_LOADTEST_HELP = "并发压测：N 个模拟浏览器会话（Streamlit 协议）轮流打开七个页面"


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"日期应为 YYYY-MM-DD：{text}") from exc


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command (the README's command table lists them all)."""
    parser = argparse.ArgumentParser(prog="python -m data_access", description="消费帮扶监测看板 数据层命令")
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--url", help=URL_HELP)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, func, help: str, *, url: bool = True, **kwargs) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, parents=[store] if url else [], **kwargs)
        p.set_defaults(func=func)
        return p

    command("init", _init, "建库/升级到最新结构并载入参考数据（可重复执行）")

    p = command("demo", _demo, "生成演示数据（确定性：同一种子得到同一数据）")
    p.add_argument("--seed", type=int, default=demo.DEFAULT_SEED)
    p.add_argument("--scale", type=int, default=demo.DEFAULT_SCALE, help="采购明细行数")
    p.add_argument("--until", type=_iso_date, default=demo.DEFAULT_UNTIL, help="数据截至日期")

    p = command(
        "warnings",
        None,
        "滞销预警：对价格/销量序列CSV计算预警等级；--refresh 对库中序列运行并写入预警",
        usage="%(prog)s --series IN.csv --out OUT.csv | --refresh [--url URL] [--since DATE]",
    )
    p.add_argument("--series", metavar="IN.csv", help="输入：series_id,date,price[,volume]")
    p.add_argument("--out", metavar="OUT.csv", help="输出：series_id,date,level,score,reason")
    p.add_argument("--refresh", action="store_true", help="对库中全部价格序列运行预警引擎并写入预警（可重复执行）")
    p.add_argument("--since", type=_iso_date, help="只保留此日期后仍在预警的事件（默认最新观测前一年）")
    p.set_defaults(func=lambda args, p=p: _warnings(p, args))

    p = command(
        "warnings-quality", _warnings_quality, "滞销预警质量：在带标注的合成序列上对比本引擎与ALPS式基线", url=False
    )
    p.add_argument("--seed", type=int, default=20260)
    p.add_argument("--n-series", type=int, default=1000)
    p.add_argument(
        "--by-category",
        type=int,
        metavar="N",
        help="扩展标注集：每类N条序列，按类别输出检出率、提前天数与误报（issue 18）",
    )

    p = command("warnings-bench", _warnings_bench, "滞销预警性能：N条周序列×Y年的计算耗时与峰值内存", url=False)
    p.add_argument("--series", type=int, default=20000)
    p.add_argument("--years", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)

    p = command("import", _import, "导入报送表或基础数据表：全部成功或全部不导入，同一文件再次导入不改变任何数据")
    p.add_argument("file", help="CSV（UTF-8/GBK）或 XLSX 文件")
    p.add_argument(
        "--form",
        required=True,
        choices=sorted(ALL_FORMS),
        help="beneficiaries 名册 | proofs 证明材料 | purchases 台账 | units 单位名录 | budgets 年度预算与预留份额 | "
        "suppliers 供应商 | pairings 结对关系 | meetings 联席会议 | outlets 网点名录 | products 产品名库 | "
        "rules 政策规则（仅管理员） | prices 价格监测数据（专班、管理员）",
    )
    p.add_argument("--year", type=int, help="budgets：文件没有“年度”列时的年度；rules：阈值变更的生效年度（默认今年）")
    p.add_argument("--unit", help="报送单位（名称或编号）")
    p.add_argument("--period", help="报送期，如 2024-05 或 2024-Q2（名册必填）")
    p.add_argument("--origin", help="证明材料的默认产地（区县名称或代码）")
    p.add_argument("--product", help="prices 宽表（各列为市场）的产品：产品名库中的名称")
    p.add_argument("--market", help="prices 宽表（各列为产品）的市场或监测点")
    p.add_argument("--user", help="记录为报送人的用户名（默认 cli:<系统用户>）")

    p = command("import-bench", _import_bench, "测量导入 N 行采购台账的用时与峰值内存（会写入所给的库，请用测试库）")
    p.add_argument("--rows", type=int, default=1_000_000)

    p = command("register-bench", _register_bench, "测量导入单位名录与年度预算的用时（会写入所给的库，请用测试库）")
    p.add_argument("--units", type=int, default=5000, help="单位数")
    p.add_argument("--years", type=int, default=4, help="每个单位的预算年数（预算行数 = 单位数 × 年数）")
    p.add_argument("--json", help="把结果写成 JSON 文件")

    p = command(
        "user", None, "用户管理：add | list | disable | enable | passwd | unlock | sessions | end-sessions | totp-reset"
    )
    users = p.add_subparsers(dest="user_command", required=True)
    a = users.add_parser("add", help="新建用户（密码从提示输入，或 --password-stdin 从标准输入读取）")
    a.add_argument("username")
    a.add_argument("--role", required=True, choices=list(auth.ROLES))
    a.add_argument("--unit", help="所属单位 id 或全称（reporter 必填）")
    a.add_argument("--name", help="显示名")
    a.add_argument("--password-stdin", action="store_true", help="从标准输入读取密码（第一行）")
    a.set_defaults(func=_user_add)
    users.add_parser("list", help="列出用户").set_defaults(func=_user_list)
    for name, active in (("disable", False), ("enable", True)):
        d = users.add_parser(name, help="启用用户" if active else "停用用户")
        d.add_argument("username")
        d.set_defaults(func=_user_active, active=active)
    u = users.add_parser("unlock", help="解除登录失败造成的锁定")
    u.add_argument("username")
    u.set_defaults(func=_user_unlock)
    w = users.add_parser("passwd", help="重设密码")
    w.add_argument("username")
    w.add_argument("--password-stdin", action="store_true")
    w.set_defaults(func=_user_passwd)
    # Sessions and the second factor (issue 19; data_access.trust.sessions / second_factor).
    users.add_parser("sessions", help="列出在线会话").set_defaults(func=_user_sessions)
    e = users.add_parser("end-sessions", help="结束该用户的全部会话（下一次操作时须重新登录）")
    e.add_argument("username")
    e.set_defaults(func=_user_end_sessions)
    t = users.add_parser("totp-reset", help="解除该用户的动态口令（手机丢失时；须用动态口令的角色下次登录时重新绑定）")
    t.add_argument("username")
    t.set_defaults(func=_user_totp_reset)

    p = command("audit", _audit, "审计日志：verify 校验哈希链（找出被改动或删除的记录）| purge 清理超过保留期的记录")
    p.add_argument("action", choices=["verify", "purge"])
    p.add_argument("--older-than-days", type=int, help=f"purge：清理多少天以前的记录（至少 {audit.RETENTION_DAYS}）")

    p = command("ledger", _ledger, "督办台账：同步、登记联席会议、导出会议材料")
    p.add_argument("action", choices=["sync", "meeting", "export"])
    p.add_argument("--as-of", type=_iso_date, help="数据日期（默认：库内最新采购日期）")
    p.add_argument("--date", type=_iso_date, help="meeting：会议日期")
    p.add_argument("--title", help="meeting：会议名称")
    p.add_argument("--group", help="export：只导出某专班（代码）")
    p.add_argument("--out", help="export：输出 XLSX 文件")

    p = command("briefing", _briefing, "生成领导小组简报包（PPTX 原生图表 + XLSX 全部表格）")
    p.add_argument("--out", required=True, help="输出目录")
    p.add_argument("--as-of", type=_iso_date, help="截至日期（默认：库中最新采购日期）")
    p.add_argument("--since", type=_iso_date, help="变化对比起点（可选）")

    command("rollup", _rollup, "重建采购汇总表（导入以外方式写入采购明细后执行）")

    # Partitioning (issue 20): purchase by year, and the plain-vs-partitioned bench.
    p = command("partition", _partition, "把采购明细改为按年分区表（PostgreSQL 声明式分区；一次事务，可重复执行）")
    p = command(
        "partition-bench",
        _partition_bench,
        "分区表性能对比：同样数据的普通表库与分区库（会写入两个库，请用测试库）",
        url=False,
    )
    p.add_argument("--plain", required=True, help="普通表库 URL")
    p.add_argument("--partitioned", required=True, help="分区库 URL（尚未分区则先分区）")
    p.add_argument("--scale", type=int, help="先把普通表库生成到这么多行（可选）")
    p.add_argument("--rows", type=int, default=100_000, help="导入测量的行数")
    p.add_argument("--json", help="把结果写成 JSON 文件")

    p = command("bench", _bench, "页面数据调用性能基准（对比原表 SQL 与 DuckDB；会按需生成演示数据）")
    p.add_argument("--scale", type=int, default=1_000_000, help="采购明细行数（库中行数不同则重新生成演示数据）")
    p.add_argument("--json", help="把结果写成 JSON 文件")
    p.add_argument("--cache", help="Parquet 缓存目录（默认 $TMPDIR/bangfu-bench）")
    p.add_argument("--no-duckdb", action="store_true", help="不对比 DuckDB")
    p.add_argument("--only", action="append", help="只测名称含该文字的调用（可重复）")
    p.add_argument(
        "--browser", action="store_true", help="另测无头 Chromium 各页加载到最后一张图的用时与服务进程峰值内存"
    )
    p.add_argument("--apptest", action="store_true", help="另测 AppTest 各页热重跑（命中缓存）的用时")

    # Backup and restore (data_access.tools.backup; docs/operations.md).
    p = command("backup", _backup, "备份数据库与个人信息密钥到新目录（pg_dump -Fc 或 SQLite 在线备份）")
    p.add_argument("--out", required=True, help="备份目录（须为新目录或空目录）")
    p.add_argument("--no-key", action="store_true", help="不把个人信息密钥放进备份（密钥另行保管时）")
    p = command("restore", _restore, "从备份目录恢复数据库与密钥（校验 MANIFEST.json；目标库有数据时需 --force）")
    p.add_argument("dir", help="backup 生成的备份目录")
    p.add_argument("--force", action="store_true", help="覆盖已有数据的库（及数据目录中不同的密钥）")
    p = command("key", _key, "个人信息密钥：rotate 换用新密钥（全部身份证号、电话在一个事务中重新加密）")
    p.add_argument("action", choices=["rotate"])
    p.add_argument("--new-key-file", help="密钥来自 BANGFU_PII_KEY 时：新密钥写到此文件，再由你改环境变量")
    # bench loadtest (also `loadtest`): simulated browsers against a running app (tests/loadtest.py).
    command("loadtest", _loadtest, _LOADTEST_HELP + "（python -m data_access bench loadtest --help）", url=False)
    return parser


def _backup(args) -> int:
    try:
        done = backup.backup(make_engine(args.url), args.out, auth.cli_principal(), include_key=not args.no_key)
    except backup.BackupError as exc:
        print(f"备份失败：{exc}", file=sys.stderr)
        return 1
    m = done.manifest
    mb = sum(f["bytes"] for f in m["files"].values()) / 2**20
    print(
        f"已备份 {m['source']} → {done.directory}（{m['kind']}，结构版本 {', '.join(m['schema_revision'])}，"
        f"采购 {m['row_counts'].get('purchase', 0):,} 行，{mb:.1f} MB，"
        f"{done.seconds:.1f} 秒）"
    )
    for note in done.notes:
        print(note)
    return 0


def _key(args) -> int:
    try:
        done = keys.rotate_key(make_engine(args.url), auth.cli_principal(), new_key_file=args.new_key_file)
    except (backup.BackupError, personal.PiiKeyError) as exc:
        print(f"密钥轮换失败（库未改动）：{exc}", file=sys.stderr)
        return 1
    print(
        f"已轮换密钥：{done['beneficiaries']:,} 人的号码已用新密钥加密（指纹 {done['old_fingerprint']} → "
        f"{done['new_fingerprint']}，{done['seconds']:.1f} 秒）；新密钥 {done['key_file']}"
    )
    if done["retired"]:
        print(f"旧密钥另存为 {done['retired']}：确认新备份可恢复后销毁，旧备份仍需旧密钥才能恢复。")
    else:
        print(f"请把 {personal.ENV_PII_KEY} 改为新密钥的内容并重启看板；在此之前看板无法读出号码。")
    print("请立即做一次新的备份（backup），并把新密钥交密钥保管人。")
    return 0


def _restore(args) -> int:
    try:
        done = backup.restore(make_engine(args.url), args.dir, auth.cli_principal(), force=args.force)
    except (backup.BackupError, personal.PiiKeyError) as exc:
        print(f"恢复被拒绝或失败：{exc}", file=sys.stderr)
        return 1
    m = done.manifest
    print(
        f"已从 {done.directory} 恢复（{m['created_at']} 的备份，采购 {m['row_counts'].get('purchase', 0):,} 行，"
        f"{done.seconds:.1f} 秒）"
    )
    for note in done.notes:
        print(note)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = "python -m data_access loadtest"
    if argv[:2] == ["bench", "loadtest"]:
        argv, prog = ["loadtest", *argv[2:]], "python -m data_access bench loadtest"
    if argv[:1] == ["loadtest"]:
        # The load test is a client of a running app speaking Streamlit's protocol (its protobufs):
        # measurement tooling beside the page bench in tests/, so data_access itself never imports
        # Streamlit outside the cache module. Loaded only when asked for, from a checkout.
        from tests import loadtest

        p = argparse.ArgumentParser(prog=prog, description=_LOADTEST_HELP)
        loadtest.add_arguments(p)
        return loadtest.main(p.parse_args(argv[1:]))
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


def _init(args) -> int:
    engine = make_engine(args.url)
    t0 = time.perf_counter()
    init_store(engine)
    print(f"已就绪：{describe_url(str(engine.url))}（{time.perf_counter() - t0:.1f} 秒）")
    return 0


def _demo(args) -> int:
    engine = make_engine(args.url)
    init_store(engine)
    summary = demo.generate_demo(engine, seed=args.seed, scale=args.scale, until=args.until, progress=print)
    print(
        f"完成：采购 {summary.purchases:,} 行，单位 {summary.units}，产品 {summary.products}，网点 {summary.outlets}，"
        f"价格序列 {summary.series}（{summary.observations:,} 个观测，注入滞销 {summary.episodes} 次），"
        f"用时 {summary.seconds:.1f} 秒"
    )
    return 0


def _warnings(parser: argparse.ArgumentParser, args) -> int:
    if args.refresh:
        if args.series or args.out:
            parser.error("--refresh 与 --series/--out 不能同时使用")
        engine = make_engine(args.url)
        c = refresh_warnings(engine, auth.cli_principal(), since=args.since)
        print(
            f"{describe_url(str(engine.url))}：{c['series']} 条序列，新增预警 {c['inserted']}，更新 {c['updated']}，"
            f"未变 {c['unchanged']}（{c['seconds']:.1f} 秒）"
        )
        return 0
    if not (args.series and args.out):
        parser.error("需要 --series IN.csv 与 --out OUT.csv（或使用 --refresh）")
    return signals.run_csv(args.series, args.out)


def _warnings_quality(args) -> int:
    if args.by_category:
        obs, labels, season = signals_eval.extended_panel(args.seed, args.by_category)
        table = signals_eval.evaluate_by_category(signals.score_series(obs, season), labels)
        print(f"seed={args.seed} per_category={args.by_category}")
        print(table.round(3).to_string(index=False))
        return 0
    table = signals_eval.quality_table(args.seed, args.n_series)
    print(f"seed={args.seed} n_series={args.n_series}")
    print(table.to_string(index=False))
    return 0


def _warnings_bench(args) -> int:
    for key, value in signals_eval.benchmark(args.series, args.years, seed=args.seed).items():
        print(f"{key}: {value}")
    return 0


def _import(args) -> int:
    engine = make_engine(args.url)
    ensure_store(engine)
    if args.form in REGISTERS:
        return _import_register(engine, args)
    result, outcome = imports.import_file(
        engine,
        args.file,
        args.form,
        unit=args.unit,
        period=args.period,
        principal=auth.cli_principal(args.user),
        default_origin=args.origin,
        limits=imports.Limits(max_bytes=None),
        defaults={"product": args.product, "market": args.market},
    )
    for note in result.notes:
        print(note)
    if outcome.errors:
        for error in outcome.errors:
            print(error.message)
        hidden = outcome.error_count - len(outcome.errors)
        if hidden > 0:
            print(f"……另有 {hidden} 处错误未列出")
        print(outcome.message)
        return 1
    print(f"{outcome.message}（{outcome.seconds:.1f} 秒）" if outcome.committed else outcome.message)
    return 0


def _import_register(engine, args) -> int:
    result = imports.parse_upload(args.file, args.form, None, limits=imports.Limits(max_bytes=None))
    for note in result.notes:
        print(note)
    outcome = registers.commit_register(engine, auth.cli_principal(args.user), result, year=args.year)
    for error in outcome.errors:
        print(error.message)
    hidden = outcome.error_count - len(outcome.errors)
    if hidden > 0:
        print(f"……另有 {hidden} 处错误未列出")
    print(f"{outcome.message}（{outcome.seconds:.1f} 秒）" if outcome.committed else outcome.message)
    return 1 if outcome.errors else 0


def _import_bench(args) -> int:
    engine = make_engine(args.url)
    demo.prepare_store(engine, demo_if_empty=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.csv"
        t0 = time.perf_counter()
        bench.write_bench_ledger(engine, path, args.rows)
        print(f"生成 {args.rows:,} 行台账：{path.stat().st_size / 2**20:.0f} MB，{time.perf_counter() - t0:.1f} 秒")
        t0 = time.perf_counter()
        result = imports.parse_upload(path, "purchases", None, limits=imports.Limits(max_bytes=None))
        t_parse = time.perf_counter() - t0
        outcome = imports.commit_upload(engine, result, principal=auth.cli_principal("import-bench"))
        t_all = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{engine.dialect.name}: 解析 {t_parse:.1f} 秒，校验并入库 {outcome.seconds:.1f} 秒，合计 {t_all:.1f} 秒；"
        f"峰值内存 {peak:.0f} MB。{outcome.message}"
    )
    for error in outcome.errors[:10]:
        print(error.message)
    return 1 if outcome.errors else 0


def _register_bench(args) -> int:
    engine = make_engine(args.url)
    steps = bench.register_bench(engine, args.units, args.years, progress=print)
    if args.json:
        Path(args.json).write_text(json.dumps(steps, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


def _user_engine(args):
    engine = make_engine(args.url)
    init_store(engine)
    return engine


def _read_password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("密码：")
    if getpass.getpass("再次输入：") != first:
        raise ValueError("两次输入的密码不一致")
    return first


def _user_change(args, change, done: str, refused: int = 2) -> int:
    """One account change of the ``user`` command: ``change(engine, cli principal)`` (it checks and
    audits), then ``done`` with its result in place of ``{n}``; a refusal prints 错误 and returns
    ``refused``."""
    try:
        n = change(_user_engine(args), auth.cli_principal())
    except ValueError as exc:
        print(f"错误：{exc}")
        return refused
    print(done.replace("{n}", str(n)))
    return 0


def _user_add(args) -> int:
    return _user_change(
        args,
        lambda e, p: auth.add_user(e, p, args.username, _read_password(args), args.role, args.unit, args.name),
        f"已创建用户 {args.username}（{auth.ROLES[args.role]}）",
    )


def _user_list(args) -> int:
    df = auth.users(_user_engine(args))
    if df.empty:
        print("尚无用户：演示库以演示用户运行；其他库打开看板时显示「首次设置」（服务器日志中的一次性口令）。")
        return 0
    for r in df.itertuples():
        unit = f" {r.unit_name}" if r.unit_name else ""
        print(f"{r.username}\t{auth.ROLES.get(r.role, r.role)}\t{'启用' if r.active else '停用'}{unit}")
    return 0


def _user_active(args) -> int:
    return _user_change(
        args,
        lambda e, p: auth.set_active(e, p, args.username, args.active),
        f"已{'启用' if args.active else '停用'}用户 {args.username}",
    )


def _user_passwd(args) -> int:
    return _user_change(
        args,
        lambda e, p: auth.set_password(e, p, args.username, _read_password(args)),
        f"已重设 {args.username} 的密码",
    )


def _user_unlock(args) -> int:
    return _user_change(
        args, lambda e, p: auth.unlock_user(e, p, args.username), f"已解除锁定：{args.username}", refused=1
    )


def _user_sessions(args) -> int:
    df = sessions.open_sessions(_user_engine(args), auth.cli_principal())
    if df.empty:
        print("当前没有在线会话。")
    for r in df.itertuples():
        print(f"{r.username}\t登录 {r.created_at:%Y-%m-%d %H:%M}\t最近操作 {r.last_seen:%Y-%m-%d %H:%M}")
    return 0


def _user_end_sessions(args) -> int:
    return _user_change(
        args,
        lambda e, p: sessions.end_sessions(e, p, args.username),
        f"已结束 {args.username} 的 {{n}} 个会话",
    )


def _user_totp_reset(args) -> int:
    return _user_change(
        args,
        lambda e, p: second_factor.reset(e, p, args.username),
        f"已解除 {args.username} 的动态口令",
    )


def _audit(args) -> int:
    engine = make_engine(args.url)
    if args.action == "verify":
        verdict = audit.verify_audit(engine)
        print(verdict.message())
        return 0 if verdict.ok else 1
    if args.older_than_days is None:
        print("需要 --older-than-days N")
        return 2
    try:
        n = audit.purge_audit(engine, auth.cli_principal(), args.older_than_days)
    except ValueError as exc:
        print(f"错误：{exc}")
        return 2
    print(f"已清理 {n:,} 条 {args.older_than_days} 天以前的审计记录（清理本身已记入审计日志）。")
    return 0


def _ledger(args) -> int:
    engine = make_engine(args.url)
    as_of = args.as_of or data_as_of(engine) or date.today()
    who = auth.cli_principal()
    if args.action == "sync":
        print(f"台账同步（{as_of}）：", ledger.sync_ledger(engine, who, as_of))
    elif args.action == "meeting":
        if not args.date or not args.title:
            print("需要 --date 和 --title")
            return 2
        print("已登记会议", ledger.add_meeting(engine, who, args.date, args.title))
    else:
        past = meetings(engine)
        past = past[past.held_on <= as_of]
        since = past.held_on.iloc[0] if len(past) else None
        out = args.out or f"督办台账_{as_of:%Y%m%d}.xlsx"
        words = f"会议材料：{args.group or '全部专班'}；截至 {as_of}；对比 {since or '无'}"
        Path(out).write_bytes(meeting_pack(engine, since, as_of, args.group, stamp=export_stamp(who, words)))
        audit.record_download(engine, who, Path(out).name, None, words)
        print(f"已导出 {out}（上次会议：{since or '无'}）")
    return 0


def _briefing(args) -> int:
    engine = make_engine(args.url)
    words = f"简报包：截至 {args.as_of or '最新'}；对比 {args.since or '默认'}"
    pptx_path, xlsx_path = write_pack(
        engine,
        args.out,
        args.as_of,
        args.since,
        demo=is_demo_store(engine),
        stamp=export_stamp(auth.cli_principal(), words),
    )
    for path in (pptx_path, xlsx_path):
        audit.record_download(engine, auth.cli_principal(), Path(path).name, None, words)
    print(f"已生成：{pptx_path}\n已生成：{xlsx_path}")
    return 0


def _rollup(args) -> int:
    engine = make_engine(args.url)
    with engine.begin() as conn:
        rollup.rebuild(conn, progress=print)
    rollup.settle(engine)
    return 0


def _loadtest(args) -> int:
    return main(["loadtest", "--help"])


def _partition(args) -> int:
    partitions.partition_purchase(make_engine(args.url))
    return 0


def _partition_bench(args) -> int:
    plain, part = make_engine(args.plain), make_engine(args.partitioned)
    if args.scale:
        bench.ensure_scale(plain, args.scale)
    partitions.partition_purchase(part, progress=bench.say)
    results = {}
    for name, engine in (("partitioned", part), ("plain", plain)):
        bench.say(f"== {name} ==")
        results[name] = partitions.measure(engine, args.rows, progress=bench.say)
        if args.json:
            Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(partitions.table_text(results["plain"], results["partitioned"]))
    return 0


def _bench(args) -> int:
    engine = make_engine(args.url)
    bench.ensure_scale(engine, args.scale)
    timings = bench.run_bench(
        engine, cache_dir=Path(args.cache) if args.cache else None, duckdb=not args.no_duckdb, only=args.only
    )
    report: dict = {"backend": engine.dialect.name, "purchases": bench.purchase_count(engine)}
    print(f"\n{engine.dialect.name}，采购 {report['purchases']:,} 行\n")
    print(bench.table_text(timings))
    pages: list[dict] = []
    if args.apptest or args.browser:
        # The page-level bench drives Streamlit and a browser: test tooling, loaded only when asked for.
        from tests import page_bench

        url = engine.url.render_as_string(hide_password=False)
        if args.apptest:
            pages += page_bench.apptest_reruns(url, progress=bench.say)
        if args.browser:
            pages += page_bench.browser_loads(url, progress=bench.say)
        print()
        print(page_bench.table_text(pages))
    if args.json:
        items = [asdict(t) for t in timings] + pages
        Path(args.json).write_text(json.dumps(items, ensure_ascii=False, indent=2), encoding="utf-8")
        bench.say(f"已写入 {args.json}")
    return 0
