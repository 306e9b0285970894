"""``flake-bot parse-log``: show what one job log says failed, and where.

This module parses arguments only; the run is `bot.orchestrate.parse_log_run`.
"""

from __future__ import annotations

import argparse
import textwrap

from bot.orchestrate import parse_log_run


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "parse-log",
        help="list the failing tests and problems found in one CI job log",
        description=textwrap.fill(
            "Read one GitHub Actions job log (as downloaded from the API: timestamps, BOM, "
            "##[group] markers) or raw output of MicroPython's test runners, and list each "
            "failing test with its runner, pass, outcome (fail/timeout/crash), symptom and log "
            "line, plus anything else that made the job fail. Exit status 0 when the log was "
            "read, 1 when it holds nothing readable (empty, binary, not UTF-8: 'could not read "
            "the log'), 2 when it could not be opened.",
            width=78,
        ),
        epilog=(
            "examples:\n"
            "  flake-bot parse-log examples/logs/coverage-flaky-and-real-failure.log\n"
            "  flake-bot parse-log job-1234.log.gz --json\n"
            "  curl -fsSL -H \"Authorization: Bearer $GITHUB_TOKEN\" \\\n"
            "    https://api.github.com/repos/OWNER/REPO/actions/jobs/JOB_ID/logs \\\n"
            "    | flake-bot parse-log - --job coverage\n\n"
            "'log: NOT fully understood' means part of the log was not understood (see the\n"
            "problems listed): there may be more failures than those shown."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", metavar="PATH",
                        help="the job log; '-' reads standard input, a '.gz' file is decompressed")
    parser.add_argument("--job", metavar="NAME",
                        help="job name to put in the report (default: the name the log gives, if any)")
    parser.add_argument("--json", action="store_true",
                        help="print the report as one JSON object (schema: docs/parse-log.md)")
    parser.add_argument("--diff", action="store_true",
                        help=f"also show the first {parse_log_run.DIFF_PREVIEW_LINES} lines of each "
                        "failure's diff")
    parser.set_defaults(func=parse_log_run.run)
