"""The `flake-bot` command: argument parsing, wiring and exit statuses.

This is the only place that turns exceptions into exit statuses: 2 for input the user
must fix (bad file, bad registry, bad arguments), 1 for operational failures, and whatever
the subcommand returns otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from bot import __version__, commands
from bot.errors import FlakeBotError, InputError


def _command_modules() -> list[str]:
    """Every command's module name (modules starting with `_` hold shared options, not commands)."""
    names = (m.name for m in pkgutil.iter_modules(commands.__path__))
    return sorted(name for name in names if not name.startswith("_"))


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`'s command alone when it names one, else for every command.

    Each command module imports what its command needs (Jinja, SQLite, PyGithub, the patch
    writer); importing them all cost ~0.35 s before any work, more than a whole `match` or
    `suggest-patch`. Help, a missing or misspelled command still see the full list.
    """
    parser = argparse.ArgumentParser(
        prog="flake-bot",
        description=(
            "Triage CI failures: read GitHub Actions job logs of MicroPython-style test runners, "
            "tell known flaky tests from new failures, keep a history and report flake rates."
        ),
    )
    parser.add_argument("--version", action="version", version=f"flake-bot {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    names = _command_modules()
    first = next(iter(argv), "") if argv is not None else ""
    wanted = first.replace("-", "_")
    if wanted in names:
        names = [wanted]
    elif first == "--version":
        names = []
    for name in names:
        module = importlib.import_module(f"{commands.__name__}.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(args_list)
    args = parser.parse_args(args_list)
    try:
        return int(args.func(args))
    except InputError as exc:
        print(f"flake-bot: error: {exc}", file=sys.stderr)
        return 2
    except FlakeBotError as exc:
        print(f"flake-bot: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`flake-bot report | head`): not a failure. Point stdout at
        # devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("flake-bot: interrupted", file=sys.stderr)
        return 130
