"""Argument types and options that several commands share, so each is parsed and worded once.

Not a command: `bot.cli` registers only the modules of this package without a leading underscore.
"""

from __future__ import annotations

import argparse
from datetime import date

from bot.actions_env import ActionsEnv
from bot.errors import InputError
from bot.store.sqlite import DEFAULT_PATH


def day(text: str) -> date:
    """argparse type of every YYYY-MM-DD option (--date, --since, --until, --as-of)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        message = f"{text!r} is not a day written YYYY-MM-DD (e.g. 2026-03-11)"
        raise argparse.ArgumentTypeError(message) from None


def duration(text: str) -> float:
    """argparse type of a time limit: seconds, or a number with `s`, `m` or `h` (`20m`, `1h`)."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a time limit such as 600, 90s, 20m or 1h")
    return seconds


def time_limit(value: str) -> float:
    """The action's `time-limit` input, in seconds."""
    try:
        return duration(value)
    except argparse.ArgumentTypeError as exc:
        raise InputError(f"input time-limit: {exc}") from None


def history_store() -> argparse.ArgumentParser:
    """Parent parser: `--db`, the history store file of `sync` and `report`."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--db", default=DEFAULT_PATH, help=f"history store file (default: {DEFAULT_PATH})")
    return parent


def run_filters() -> argparse.ArgumentParser:
    """Parent parser: `--branch` and `--event`, which runs a history command looks at."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--branch", help="only runs on this branch (e.g. master)")
    parent.add_argument("--event", help="only runs triggered by this event (e.g. push)")
    return parent


def setting(args: argparse.Namespace, env: ActionsEnv, name: str, default: str) -> str:
    """An action input by its name, unless the command line gave the option of the same name:
    the action and a maintainer at a terminal run the same command, the option winning."""
    option = getattr(args, name.replace("-", "_"), None)
    if option is not None and option is not False:
        return str(option)
    return env.input(name, default)
