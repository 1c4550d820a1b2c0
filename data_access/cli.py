"""The command registry behind ``python -m data_access``.

Each module that offers commands has a ``register_cli(subparsers)`` function which adds
its sub-commands with ``set_defaults(func=...)``; ``func(args)`` returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib

COMMAND_MODULES = [
    "data_access.store",
    "data_access.demo",
    "data_access.signals",
    "data_access.imports",
    "data_access.auth",
    "data_access.briefing",
    "data_access.rollup",
    "data_access.bench",
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(prog="python -m data_access", description="消费帮扶监测看板 数据层命令")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
