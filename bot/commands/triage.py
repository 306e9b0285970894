"""`flake-bot triage`: judge the failures of one completed workflow run and report them.

This is the action's main job. From a `workflow_run` event it reads the run's jobs, streams each
failed job's log (capped), parses it, matches every failing test against the registry in force on
the run's date, adds historical rates from the history store (synced first, within the request
budget), and publishes: the sticky PR comment, the check run on pushes, and always the job summary
and step outputs. With `--log FILE [--job NAME]` it does the same for one log on disk, offline.

Settings come from the action's inputs (`INPUT_*`), overridden by command-line options. The exit
status is 0 whenever the analysis ran, whatever it found: a red triage must not look like a broken
bot. It is non-zero only when the bot is misconfigured (no or bad token, unreadable registry or
event, a missing permission), with a one-line reason.

This module parses arguments only: the settings are `bot.orchestrate.inputs`, the event flow
`bot.orchestrate.triage_event`, the run itself (reading logs within the budget, the history sync,
publishing, the exit status) `bot.orchestrate.triage_run`, and the offline log
`bot.orchestrate.triage_offline`.
"""

from __future__ import annotations

import argparse

from bot.commands._options import day
from bot.orchestrate.triage_event import triage_command


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "triage",
        help="triage a completed workflow run (the action's job), or one log offline",
        description=(
            "Read each failed job's log of a completed workflow run, judge every failing test against the "
            "known-flaky registry and the history, and publish a sticky PR comment, a check run on pushes, "
            "the job summary and the step outputs. Settings come from the action inputs (INPUT_*) and the "
            "GITHUB_* environment; options below override them. With --log, triage one log file "
            "offline and print the result (--job only when the log does not name its job)."
        ),
    )
    parser.add_argument(
        "--event", help="workflow_run event payload (default: $GITHUB_EVENT_PATH)", metavar="PATH"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        default=None,
        help="do everything but post: print the comment and check run that would be written",
    )
    parser.add_argument(
        "--log", help="offline: a job log file (.gz and - for stdin work too)", metavar="FILE"
    )
    parser.add_argument(
        "--job",
        help="offline: the job's name, e.g. standard or qemu_arm (default: the name the log gives; "
        "when both exist and differ, the log's is used)",
        metavar="NAME",
    )
    parser.add_argument(
        "--date",
        type=day,
        help="offline: day the job ran, YYYY-MM-DD, for the registry in force then "
        "(default: the log's first timestamp, else today)",
    )
    parser.add_argument(
        "--registry", help="registry file (default: input `registry`, else the bundled one)", metavar="FILE"
    )
    parser.add_argument(
        "--history", help="history store for rates (default: input `history`; none offline)", metavar="FILE"
    )
    parser.add_argument("--json", action="store_true", help="offline: print the verdicts as JSON")
    parser.set_defaults(func=triage_command)
