"""`flake-bot match`: what the registry says about one failing test in one job.

This module parses arguments only; the run is `bot.orchestrate.match_run`.
"""

from __future__ import annotations

import argparse

from bot.commands._options import day
from bot.orchestrate import match_run
from bot.records import Runner


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "match",
        help="judge one failing test in one job against the known-flaky registry",
        description=(
            "Say whether a failing test is a known flake in this job on that date, flaky only "
            "elsewhere, or new, and whether it should not have failed the job at all."
        ),
    )
    parser.add_argument(
        "--registry", metavar="FILE", help="registry file (default: the bundled MicroPython registry)"
    )
    parser.add_argument(
        "--job",
        required=True,
        help="job name as the GitHub jobs API reports it, e.g. qemu_arm or 'build_and_test_arm (sabrelite)'",
    )
    parser.add_argument(
        "--workflow",
        metavar="NAME",
        help="the job's workflow, by file or name (default: the one workflow the registry lists the job in)",
    )
    parser.add_argument(
        "--test", required=True, help="test path relative to tests/, e.g. thread/thread_gc1.py"
    )
    parser.add_argument(
        "--symptom", help="the failure's symptom as parse-log reports it, checked against known symptoms"
    )
    parser.add_argument(
        "--date",
        type=day,
        metavar="YYYY-MM-DD",
        help="day the job ran, YYYY-MM-DD (default: the registry's current state)",
    )
    parser.add_argument(
        "--runner",
        choices=[r.value for r in Runner],
        default=Runner.RUN_TESTS.value,
        help="test runner that reported the failure (the registry covers run-tests only)",
    )
    summary = parser.add_mutually_exclusive_group()
    summary.add_argument(
        "--ignored",
        dest="ignored",
        action="store_const",
        const=True,
        help="run-tests.py's summary listed the test under 'known-flaky failures (ignored)'",
    )
    summary.add_argument(
        "--not-ignored",
        dest="ignored",
        action="store_const",
        const=False,
        help="run-tests.py's summary listed the test under 'tests failed', so it failed the job "
        "(default: unknown, as for a FAIL line, which ignored tests print too)",
    )
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")
    parser.set_defaults(func=match_run.run)
