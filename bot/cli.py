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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flake-bot",
        description=(
            "Triage CI failures: read GitHub Actions job logs of MicroPython-style test runners, "
            "tell known flaky tests from new failures, keep a history and report flake rates."
        ),
    )
    parser.add_argument("--version", action="version", version=f"flake-bot {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue  # shared options, not a command
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
