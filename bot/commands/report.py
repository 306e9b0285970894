"""`flake-bot report`: the flakiness report from the history store, as Markdown or JSON.

This module parses arguments only; the run is `bot.orchestrate.report_run`.
"""

from __future__ import annotations

import argparse

from bot.commands._options import history_store, run_filters
from bot.orchestrate import report_run


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        parents=[history_store(), run_filters()],
        help="write the flakiness report (rates, months, jobs, tests, attribution) from the history store",
        description=(
            "Compute failure rates per run, month, job and test from a history store filled by "
            "`flake-bot sync`, with Wilson 95% intervals, an independence check, estimated "
            "attribution of failures whose logs expired, and the impact of ignoring each flaky test."
        ),
    )
    parser.add_argument("--since", metavar="YYYY-MM-DD", help="only runs created on or after this day")
    parser.add_argument("--until", metavar="YYYY-MM-DD", help="only runs created on or before this day")
    parser.add_argument(
        "--workflow", help="only runs of this workflow, by file path or name (when the store holds several)"
    )
    parser.add_argument(
        "--format", choices=("markdown", "json"), default="markdown", help="output format (default: markdown)"
    )
    # Exclusive: --no-registry silently winning over an explicit --registry would hide a typo.
    registry = parser.add_mutually_exclusive_group()
    registry.add_argument(
        "--registry",
        metavar="PATH",
        help="registry file deciding which jobs ran which test (default: the bundled MicroPython registry)",
    )
    registry.add_argument(
        "--no-registry", action="store_true", help="count every job as running every test (no registry)"
    )
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE instead of stdout")
    parser.set_defaults(func=report_run.run)
