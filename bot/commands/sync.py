"""`flake-bot sync`: fill the history store from the GitHub API, incrementally and resumably.

The token and API root come from `ActionsEnv` (the `github-token` input, else `GITHUB_TOKEN`;
`GITHUB_API_URL`), as for every other command, and the gateway, the store and the sync are
built by `bot.orchestrate.app`.
"""

from __future__ import annotations

import argparse
import sys
import time

from bot.actions_env import ActionsEnv
from bot.commands._options import day, duration, history_store, run_filters
from bot.errors import BudgetExhausted, InputError, RateLimited
from bot.orchestrate import app
from bot.store.history_sync import Progress, SyncOptions, SyncResult


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
    parser.set_defaults(func=run)


def _refuse_misconfiguration(args: argparse.Namespace, result: SyncResult, token: str | None) -> None:
    """A 401, or a 404 before a single run was listed, is a wrong token, repository or workflow:
    "run sync again to continue" would send the user round in circles, so say what to fix."""
    error = result.error
    if error is None or error.status not in (401, 404):
        return
    if error.status == 404 and (result.runs_added or result.pending):
        return  # the listing worked: a run or job deleted since is not a setup mistake
    if error.status == 401:
        hint = "GITHUB_TOKEN is wrong or expired" if token else "GITHUB_TOKEN is not set"
        raise InputError(
            f"GitHub refused the request (401): {hint}; a token with read access to Actions is enough"
        )
    hint = "" if token else "; a private repository also needs GITHUB_TOKEN"
    raise InputError(
        f"GitHub has no workflow {args.workflow!r} in {args.repo} (404): check --repo and --workflow{hint}"
    )


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    env = ActionsEnv.from_environ()
    token = env.token
    gateway = app.github(env, args.repo, args.max_requests)
    options = SyncOptions(
        workflow=args.workflow,
        branch=args.branch,
        event=args.event,
        since=args.since,
        scan_green=args.scan_green,
        default_branch=args.default_branch or args.branch or "master",
        deadline=None if args.deadline is None else started + args.deadline,
    )
    store, notes = app.open_store(args.db)
    for note in notes:
        print(f"sync: {note}", file=sys.stderr)
    with store:
        result = app.sync_into(store, gateway, options, progress=Progress(sys.stderr))
    _refuse_misconfiguration(args, result, token)
    print(result.line(), file=sys.stderr)
    if isinstance(result.error, RateLimited) and token is None:
        print("sync: GITHUB_TOKEN is not set; GitHub allows 60 requests an hour without it", file=sys.stderr)
    if result.stopped == "interrupted":
        return 130
    if result.stopped and result.stopped.startswith("terminated"):
        return 143
    if result.stopped and result.error is not None and not isinstance(result.error, BudgetExhausted):
        return 1
    return 0
