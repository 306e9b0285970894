"""The history a triage judges with: rates from the store, and the store brought up to date first."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from bot.across_jobs import MAX_JOBS, OtherWorkflows
from bot.actions_env import ActionsEnv
from bot.evidence import TestHistory
from bot.records import FlakeRate, RunInfo
from bot.registry import Registry
from bot.triage import HistoryLookup

if TYPE_CHECKING:  # imported lazily at run time: sqlite and PyGithub cost start-up time offline
    from bot.store.sqlite import HistoryStore


def rates_from(
    store: HistoryStore, registry: Registry, before: datetime, workflow: str | None = None
) -> Callable[[str, str | None], FlakeRate | None]:
    """Rates strictly before the triaged run, so its own failure never counts as history, and
    only from runs of the triaged run's workflow: a fork PR can give any workflow the watched
    name, and the runs that this syncs into the shared store must not lend it their rates."""
    until = before - timedelta(seconds=1)

    def rates(test: str, job: str | None) -> FlakeRate | None:
        rate: FlakeRate = store.flake_rate(test, job, registry=registry, until=until, workflow=workflow)
        return rate if rate.executions else None

    return rates


#: Executions of the job read for each failure's evidence: a long quiet stretch before a start
#: point is what lets `bot.changepoint` tell a newly flaky test from a steady flake.
RECENT = 1000


def history_from(
    store: HistoryStore, run: RunInfo, workflow: str | None = None, default_branch: str | None = None
) -> HistoryLookup:
    """The records behind each failure's evidence, from the store only (no request), strictly
    before the triaged run plus its own earlier attempts. With `default_branch`, the job's
    history is that branch's pushes, so a streak there reads "failing on the default branch";
    same-commit runs count from any branch, and so do the pull-request attempts triage recorded
    (`bot.store.pull_attempts`), for same-commit flips only."""
    from bot.store.pull_attempts import pull_records

    until = run.created_at - timedelta(seconds=1)
    branch, event = (default_branch, "push") if default_branch else (None, None)

    def history(test: str, job: str) -> TestHistory:
        found = store.test_history(
            test, job, until=until, run=run, workflow=workflow, branch=branch, event=event, recent=RECENT
        )
        return replace(found, same_commit=pull_records(store, run.head_sha, job, test))

    return history


def other_workflows_from(
    store: HistoryStore, run: RunInfo, workflow: str | None, default_branch: str | None = None
) -> OtherWorkflows:
    """The jobs of the store's other workflows in which a test failed, each with its history
    there, before the triaged run (the default branch's pushes, as for `history_from`): weaker
    evidence across jobs. A store that holds one workflow answers with nothing."""
    until = run.created_at - timedelta(seconds=1)
    branch, event = (default_branch, "push") if default_branch else (None, None)

    @functools.cache  # a test failing in several jobs of the run is asked about once
    def others(test: str) -> list[tuple[str, str, TestHistory]]:
        if not workflow:
            return []
        found = store.failing_elsewhere(test, until=until, workflow=workflow, branch=branch, event=event)
        return [
            (path, job, store.test_history(test, job, until=until, workflow=path, branch=branch, event=event))
            for path, job in found[:MAX_JOBS]
        ]

    return others


def sync_history(
    store: HistoryStore,
    env: ActionsEnv,
    repo: str,
    run: RunInfo,
    default_branch: str,
    budget: int,
    deadline: float | None = None,
) -> str:
    """Bring the store up to date with the default branch's pushes, fetching nothing after
    `deadline` (`time.monotonic()`); returns a line for the log.

    A gateway of its own, so that the sync's requests are bounded by `budget`, not by what is
    left of the triage's."""
    from bot.orchestrate import app
    from bot.store.history_sync import SyncOptions

    if budget <= 0:
        return "history sync skipped: the request budget is spent"
    workflow = PurePosixPath(run.workflow_path).name or run.workflow_name
    gateway = app.github(env, repo, budget)
    try:
        result = app.sync_into(
            store,
            gateway,
            SyncOptions(
                workflow=workflow,
                branch=default_branch,
                event="push",
                default_branch=default_branch,
                deadline=deadline,
            ),
        )
    finally:
        gateway.close()
    return result.line()
