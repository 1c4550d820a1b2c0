"""Docs that name code stay true: every command of ``python -m data_access`` is in the README's
command table and answers ``--help``; the table names no command that does not exist."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from data_access import cli

ROOT = Path(__file__).resolve().parents[2]


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _readme_commands() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Command line", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = re.split(r"(?<!\\)\|", line)[1]
            names |= {m.split()[0] for m in re.findall(r"`([^`]+)`", first_cell)}
    return names


COMMANDS = sorted(_subcommands(cli.build_parser()))


def test_readme_table_lists_exactly_the_commands():
    assert _readme_commands() == set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_answers_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert f"python -m data_access {command}" in out and len(out.splitlines()) > 2


def test_user_subcommands_answer_help(capsys):
    users = _subcommands(_subcommands(cli.build_parser())["user"])
    for name in users:
        with pytest.raises(SystemExit) as exit_:
            cli.main(["user", name, "--help"])
        assert exit_.value.code == 0
    assert set(users) == {
        "add",
        "list",
        "disable",
        "enable",
        "unlock",
        "passwd",
        "sessions",
        "end-sessions",
        "totp-reset",
    }
