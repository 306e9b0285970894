"""`flake-bot dashboard`: keep one issue listing what to add to, retire from and look at in the
flaky list, from the default branch's history of each watched workflow (synced first, green logs
included; by default every workflow the registry covers, the request budget split between them).

As an action step (`mode: dashboard`) it syncs within the request budget, writes the issue, opens
the pull requests maintainers ticked (only with `open-pull-requests: true`) and writes the job
summary. `--dry-run` prints the body and posts nothing; without a repository or token (or with
`--offline`) it reads only the history file, so a maintainer can preview from a cache.

This module parses arguments only; the run is `bot.orchestrate.dashboard_run`, its settings
`bot.orchestrate.inputs`.
"""

from __future__ import annotations

import argparse

from bot.orchestrate.dashboard_run import dashboard_run


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        help="keep one issue up to date with the flaky tests to add, retire and look at",
        description=(
            "Sync the default branch's history of each watched workflow (green jobs' logs too, so "
            "ignored flakes are counted; within --request-budget, split between the workflows and "
            "resumed by the next run), then create or update one dashboard issue, with a section per "
            "workflow after the tests failing in more than one, found again by a hidden marker and its "
            "author. Settings come "
            "from the action inputs (INPUT_*) and GITHUB_* environment; options override them. "
            "With --dry-run the body is printed and nothing is posted; with --offline (or no repository "
            "or token) only the history file is read."
        ),
    )
    parser.add_argument("--history", metavar="FILE", help="history store (default: input `history`)")
    parser.add_argument("--registry", metavar="FILE", help="registry file (default: the bundled one)")
    parser.add_argument(
        "--workflow",
        metavar="NAME",
        action="append",
        help="a watched workflow: display name, file name or id; repeat it or separate names with "
        "commas (default: every workflow the registry covers, e.g. 'unix port' and 'qemu port')",
    )
    parser.add_argument("--branch", metavar="B", help="default branch (default: the repository's)")
    parser.add_argument("--repo", metavar="OWNER/NAME", help="repository (default: $GITHUB_REPOSITORY)")
    parser.add_argument(
        "--request-budget", metavar="N", help="at most N GitHub API requests, sync included (default 300)"
    )
    parser.add_argument(
        "--dashboard-days", metavar="DAYS", help="window of history the lists are drawn from (default 90)"
    )
    parser.add_argument("--suggest-patches", metavar="RATE,RUNS", help="the add rule (default 0.01,50)")
    parser.add_argument(
        "--retire-after", metavar="RUNS,DAYS", help="clean record needed to retire an entry (default 300,30)"
    )
    parser.add_argument(
        "--open-pull-requests",
        action="store_true",
        default=None,
        help="open a pull request for each ticked entry (needs contents: write and pull-requests: write)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", default=None, help="print the issue body; post nothing"
    )
    parser.add_argument(
        "--time-limit", metavar="TIME", help="stop syncing after TIME (600, 90s, 20m; default 10m)"
    )
    parser.add_argument("--offline", action="store_true", help="no GitHub requests: the history file only")
    parser.add_argument(
        "--repo-dir", metavar="DIR", help="offline: a checkout whose files the patches are written against"
    )
    parser.add_argument("--event", metavar="PATH", help="event payload (default: $GITHUB_EVENT_PATH)")
    parser.set_defaults(func=dashboard_run)
