"""`flake-bot registry sync|check`: keep the known-flaky registry in step with upstream's files.

This module parses arguments only; the run is `bot.orchestrate.registry_run`.
"""

from __future__ import annotations

import argparse

from bot.commands._options import day
from bot.orchestrate import registry_run
from bot.registry.upstream import COVERED

_WORKFLOW_HELP = (
    "only this workflow's jobs and the entries they can meet (exclusions in the ci.sh functions, "
    "Makefiles and run lines they use, and every ignore entry), as a file name (ports_qemu.yml) or "
    f"its path; the rest of the registry is left as it is. Default: every covered workflow "
    f"({', '.join(COVERED)}) the checkout has"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "registry",
        help="create, update or check the known-flaky registry against a checkout",
        description=(
            "Read tools/ci.sh (--exclude lists), the covered workflows (jobs -> ci.sh functions, Makefiles "
            "or run lines, runner OS), the ports' test Makefiles and tests/run-tests.py "
            "(flaky_tests_to_ignore) of a checkout, and sync or check a registry file."
        ),
    )
    actions = parser.add_subparsers(dest="registry_action", metavar="ACTION", required=True)

    sync = actions.add_parser(
        "sync",
        help="create or update a registry from a checkout, keeping hand-written fields",
        description=(
            "Bring a registry up to date with a checkout. Entries gone upstream are closed with 'until' "
            "(kept for older logs); new ones start on --as-of; symptoms, links and notes are kept."
        ),
    )
    sync.add_argument(
        "--repo-dir", required=True, metavar="DIR", help="path of the upstream checkout to read"
    )
    sync.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="registry file to update in place (created if missing); default: print to stdout",
    )
    sync.add_argument("--workflow", default=None, metavar="FILE", help=_WORKFLOW_HELP)
    sync.add_argument(
        "--as-of",
        type=day,
        default=None,
        metavar="YYYY-MM-DD",
        help=(
            "date of the checkout's state, YYYY-MM-DD: 'since' of new entries, 'until' of removed ones "
            "(default today)"
        ),
    )
    sync.set_defaults(func=registry_run.run_sync)

    check = actions.add_parser(
        "check",
        help="report drift between a registry and a checkout (exit 1 if they disagree)",
        description=(
            "Exit 0 when the registry's current entries and jobs agree with the checkout, "
            "1 with a report when not."
        ),
    )
    check.add_argument(
        "--repo-dir", required=True, metavar="DIR", help="path of the upstream checkout to read"
    )
    check.add_argument(
        "file", nargs="?", metavar="FILE", help="registry file (default: the bundled MicroPython registry)"
    )
    check.add_argument("--workflow", default=None, metavar="FILE", help=_WORKFLOW_HELP)
    check.add_argument(
        "--as-of",
        type=day,
        default=None,
        metavar="YYYY-MM-DD",
        help=(
            "the checkout's date, for an older tree: compare with the entries in force that day "
            "(jobs are not compared; the registry keeps only today's); default: the current entries"
        ),
    )
    check.set_defaults(func=registry_run.run_check)
