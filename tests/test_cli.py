"""Every command and option explains itself; the console script's start is in test_parse_cli.py
and test_readme.py, the pipe closed early here."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from bot import __version__
from bot.cli import build_parser, main


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = sub
                found.update({f"{name} {k}": v for k, v in _subparsers(sub).items()})
    return found


COMMANDS = _subparsers(build_parser())


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"flake-bot {__version__}"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_has_help(name: str) -> None:
    parser = COMMANDS[name]
    assert parser.description, name
    undocumented = [
        action.dest
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
        and not action.help
    ]
    assert not undocumented, f"`flake-bot {name}` options without help: {undocumented}"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_exits_zero(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*name.split(), "--help"])
    assert exc.value.code == 0
    assert "usage: flake-bot" in capsys.readouterr().out


SAMPLE_LOG = "examples/logs/coverage-flaky-and-real-failure.log"


def test_closed_stdout_is_not_an_error() -> None:
    """`flake-bot ... | head` closes the pipe early: exit quietly, no traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "parse-log", "--json", SAMPLE_LOG],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the command can have written anything
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["match", "--job", "standard", "--test", "x.py"], {"match"}),
        (["suggest-patch", "--help"], {"suggest-patch"}),
        (["--version"], set()),
        (["--help"], set(COMMANDS) - {n for n in COMMANDS if " " in n}),
        (["matc"], set(COMMANDS) - {n for n in COMMANDS if " " in n}),
        ([], set(COMMANDS) - {n for n in COMMANDS if " " in n}),
    ],
)
def test_the_parser_loads_only_the_command_asked_for(argv: list[str], expected: set[str]) -> None:
    loaded = {n for n in _subparsers(build_parser(argv)) if " " not in n}
    assert loaded == expected


def test_a_light_command_does_not_import_the_heavy_edge() -> None:
    """`match` starts without Jinja or PyGithub (most of the ~0.35 s that every command once paid)."""
    code = (
        "import sys\n"
        "from bot.cli import main\n"
        "main(['match', '--job', 'standard', '--test', 'thread/thread_gc1.py'])\n"
        "print(sorted(m for m in ('jinja2', 'github') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
