"""Argument types and options that several commands share, so each is parsed and worded once.

Not a command: `bot.cli` registers only the modules of this package without a leading underscore.
"""

from __future__ import annotations

import argparse
from datetime import date

from bot.orchestrate import when
from bot.store.sqlite import DEFAULT_PATH


def day(text: str) -> date:
    """argparse type of every YYYY-MM-DD option (--date, --since, --until, --as-of)."""
    try:
        return when.day(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def duration(text: str) -> float:
    """argparse type of a time limit: seconds, or a number with `s`, `m` or `h` (`20m`, `1h`)."""
    try:
        return when.seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
