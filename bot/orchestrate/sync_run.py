"""The run of `flake-bot sync` (its arguments: `bot.commands.sync`).

The token and API root come from `ActionsEnv` (the `github-token` input, else `GITHUB_TOKEN`;
`GITHUB_API_URL`), as for every other command, and the gateway, the store and the sync are
built by `bot.orchestrate.app`.
"""

from __future__ import annotations

import argparse
import sys
import time

from bot.actions_env import ActionsEnv
from bot.errors import InputError, RateLimited
from bot.orchestrate import app
from bot.orchestrate.sync_decisions import exit_status, setup_mistake
from bot.store.history_sync import Progress, SyncOptions, SyncResult


def _refuse_misconfiguration(args: argparse.Namespace, result: SyncResult, token: str | None) -> None:
    """A setup mistake (`sync_decisions.setup_mistake`) is said with what to fix."""
    error = result.error
    if error is None or not setup_mistake(error, runs_added=result.runs_added, pending=result.pending):
        return
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
    return exit_status(result.stopped, result.error)
