"""`flake-bot sync`: fill the history store from the GitHub API, incrementally and resumably.

This module parses arguments only; the run is `bot.orchestrate.sync_run`.
"""

from __future__ import annotations

import argparse

from bot.commands._options import day, duration, history_store, run_filters
from bot.orchestrate import sync_run


def _repo(text: str) -> str:
    owner, _, name = text.partition("/")
    if not owner or not name or "/" in name:
        raise argparse.ArgumentTypeError(f"expected OWNER/NAME, got {text!r}")
    return text


def _workflow(text: str) -> str:
    """GitHub lists a workflow's runs by file name or numeric id, not by display name."""
    if text.isdigit() or text.endswith((".yml", ".yaml")):
        return text.rpartition("/")[2]
    raise argparse.ArgumentTypeError(
        f"expected the workflow's file name (e.g. ports_unix.yml) or numeric id, got {text!r}"
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sync",
        parents=[history_store(), run_filters()],
        help="bring the history store up to date with a workflow's runs, jobs and failed-job logs",
        description=(
            "List the workflow's runs newest first and stop at the first one already in the store; "
            "fetch the jobs of new failed or re-run runs and parse their failed jobs' logs. Resumable: "
            "a sync stopped by --max-requests, a rate limit or Ctrl-C continues where it stopped. "
            "Token from GITHUB_TOKEN (optional for a public repository, but GitHub then allows only 60 "
            "requests an hour), API root from GITHUB_API_URL (default https://api.github.com)."
        ),
    )
    parser.add_argument("--repo", required=True, type=_repo, help="repository as OWNER/NAME")
    parser.add_argument(
        "--workflow",
        required=True,
        type=_workflow,
        help="workflow file name (ports_unix.yml, or .github/workflows/ports_unix.yml) or numeric id",
    )
    parser.add_argument(
        "--since", type=day, metavar="YYYY-MM-DD", help="ignore runs created before this day"
    )
    parser.add_argument(
        "--max-requests",
        type=_positive,
        metavar="N",
        help="stop after N API requests; the next sync resumes (default: no limit)",
    )
    parser.add_argument(
        "--deadline",
        type=duration,
        metavar="TIME",
        help="stop fetching after TIME (seconds, or e.g. 20m): what is stored stays, the next sync "
        "resumes (default: no limit)",
    )
    parser.add_argument(
        "--scan-green",
        action="store_true",
        help="also read the logs of successful jobs of pushes to the default branch, to record "
        "flaky failures the runner ignored (one jobs request and one log per job per run: costly)",
    )
    parser.add_argument(
        "--default-branch",
        metavar="B",
        help="the branch whose green pushes --scan-green reads (default: --branch, else master)",
    )
    parser.set_defaults(func=sync_run.run)
