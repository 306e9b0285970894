"""One dashboard run, end to end: the requests around the decisions.

Online, `dashboard_run` finds the watched workflows (`dashboard_decisions.watched`), finds the
issue (its ticked boxes are kept back from the sync's budget), syncs each workflow with its share
(`dashboard_decisions.sync_share`), builds the board from the store (`bot.dashboard.build`),
writes each entry's patch, publishes the issue and its pull requests (`bot.publish.dashboard`),
then the job summary and outputs. Offline it builds the board from the history file alone and
prints it. `bot.commands.dashboard` only parses arguments; the settings come from
`bot.orchestrate.inputs`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from time import monotonic
from typing import TYPE_CHECKING

from bot.actions_env import ActionsEnv, read_event
from bot.budget import dashboard_reserve
from bot.errors import FlakeBotError, InputError, PublishError, StoreError
from bot.orchestrate import app
from bot.orchestrate.console import note, say
from bot.orchestrate.dashboard_decisions import (
    Settings,
    stored_workflows,
    sync_cut_short,
    sync_fatal,
    sync_share,
    watched,
)
from bot.orchestrate.inputs import dashboard_settings
from bot.registry import Registry
from bot.render.sanitize import inline

if TYPE_CHECKING:
    from bot.dashboard.build import Board, Dashboard
    from bot.gateway.issues import IssueGateway
    from bot.registry.source import SourceTree


def dashboard_run(args: argparse.Namespace) -> int:
    env = ActionsEnv.from_environ()
    settings = dashboard_settings(args, env)
    registry = app.registry(settings.registry)
    repo = args.repo or env.repository
    offline = settings.offline or not repo or not env.token
    if offline and not settings.dry_run:
        raise InputError(
            "no repository or token to publish with: set GITHUB_REPOSITORY and GITHUB_TOKEN, or use --dry-run"
        )
    if not settings.history:
        raise InputError("no history store: pass --history FILE (or set the `history` input)")
    try:
        if offline:
            return _run_offline(env, settings, registry)
        assert repo is not None
        gateway = app.issues(env, repo, settings.request_budget)
        try:
            return _online(args, env, settings, registry, repo, gateway)
        finally:
            gateway.close()
    except FlakeBotError as exc:
        with contextlib.suppress(PublishError):
            from bot.publish.summary import publish_summary

            publish_summary(env, f"**flake-bot could not update the dashboard:** {inline(str(exc), 500)}\n")
        raise


def _covered(registry: Registry) -> list[str]:
    return [s.file or s.name for s in registry.sections() if s.file or s.name]


def _build(
    settings: Settings, registry: Registry, workflows: Sequence[tuple[str, str]], branch: str
) -> Board:
    from bot.dashboard.build import build_board
    from bot.dashboard.store_evidence import StoreEvidence

    path = Path(settings.history or "")
    try:
        with app.store(path) as store:
            return build_board(
                store,
                registry,
                workflows=workflows,
                branch=branch,
                days=settings.days,
                now=datetime.now(UTC),
                add_policy=settings.add_policy,
                retire_policy=settings.retire_policy,
                evidence=StoreEvidence,
            )
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"history store {path}: {exc}") from exc


def with_patches(board: Board, registry: Registry, tree: SourceTree | None) -> Board:
    """The board with each entry's patch written (or why not) against its workflow's jobs; no
    tree, no patches."""
    if tree is None:
        return board
    sections = []
    for d in board.sections:
        judged = registry.judging(d.window.workflow or "", d.workflow)
        sections.append(_section_patches(d, judged, tree))
    return dataclasses.replace(board, sections=tuple(sections))


def _section_patches(dashboard: Dashboard, registry: Registry, tree: SourceTree) -> Dashboard:
    from bot.registry.patch import PatchStyle, suggest_patch
    from bot.registry.upstream_sync import DEFAULT_WORKFLOW

    workflow = f".github/workflows/{registry.workflow_file}" if registry.workflow_file else DEFAULT_WORKFLOW
    patches: dict[str, str] = {}
    notes: dict[str, str] = {}
    jobs: list[tuple[str, str, tuple[str, ...], str, bool]] = [
        (i.key, i.test, i.jobs, "ignore", False) for i in dashboard.selection.add
    ] + [(i.key, i.test, i.jobs, i.entry.mechanism.value, True) for i in dashboard.selection.retire]
    for key, test, names, style, remove in jobs:
        try:
            result = suggest_patch(
                tree, registry, test=test, jobs=names, style=PatchStyle(style), remove=remove,
                workflow=workflow,
            )  # fmt: skip
        except FlakeBotError as exc:
            notes[key] = str(exc)
            continue
        if result.diff:
            patches[key] = result.diff
        else:
            notes[key] = result.message or "the patch writer found nothing to change"
    return dataclasses.replace(dashboard, patches=patches, patch_notes=notes)


# ---------------------------------------------------------------------------- offline


def _run_offline(env: ActionsEnv, settings: Settings, registry: Registry) -> int:
    if not Path(settings.history or "").is_file():
        raise InputError(f"no history store at {settings.history}; fill one with `flake-bot sync`")
    from bot.dashboard.render import render_body
    from bot.store.sqlite import Window

    branch = settings.branch or "master"
    with app.store(Path(settings.history or "")) as store:
        held = store.workflows(Window(branch=branch, event="push"))
    workflows, notes = stored_workflows(
        settings.workflows,
        _covered(registry),
        [(path, name) for path, name, _ in held],
        (registry.workflow_file, registry.workflow),
    )
    for line in notes:
        note(line)
    board = _build(settings, registry, workflows, branch)
    tree = None
    if settings.repo_dir:
        from bot.registry.source import CheckoutTree

        tree = CheckoutTree(settings.repo_dir)
    board = with_patches(board, registry, tree)
    say(env, render_body(board, pr_mode=settings.open_pull_requests))
    return 0


# ---------------------------------------------------------------------------- online


def _online(
    args: argparse.Namespace,
    env: ActionsEnv,
    settings: Settings,
    registry: Registry,
    repo: str,
    gateway: IssueGateway,
) -> int:
    from bot.dashboard.render import render_body
    from bot.gateway.tree import ApiTree
    from bot.publish.dashboard import DashboardPublisher, Tick
    from bot.publish.summary import publish_outputs, publish_summary
    from bot.publish.ticks import ticked

    event: dict[str, object] = {}
    event_path = Path(args.event) if args.event else env.event_path
    if event_path is not None and event_path.is_file():
        event = read_event(event_path)
    store, notes = app.open_store(settings.history or "", beside_foreign=True)
    store.close()
    for line in notes:
        note(line)
    settings = dataclasses.replace(settings, history=str(store.path))
    branch = settings.branch or gateway.default_branch()
    workflows, notes = watched(settings.workflows, _covered(registry), gateway.list_workflows(), gateway.repo)
    for line in notes:
        note(line)
    publisher = DashboardPublisher(
        gateway,
        author=settings.author,
        base_branch=branch,
        open_pull_requests=settings.open_pull_requests,
        dry_run=settings.dry_run,
    )
    found = publisher.find()  # before the sync: each ticked box's pull request is kept back from it
    boxes_ticked = len(ticked(found[0].body)) if found and settings.open_pull_requests else 0
    paths = [path for path, _ in workflows]
    for line in _sync_all(settings, env, gateway, paths, branch, boxes_ticked):
        note(line)
    board = _build(settings, registry, workflows, branch)
    url = f"{env.server_url}/{repo}"
    board = dataclasses.replace(
        board, sections=tuple(dataclasses.replace(d, repo_url=url) for d in board.sections)
    )
    dashboard = with_patches(board, registry, ApiTree(gateway, branch))
    result = publisher.publish(
        lambda prs, keep, lines: render_body(
            dashboard, prs=prs, pr_mode=settings.open_pull_requests, ticked=keep, lines=lines
        ),
        dashboard,
        tick=Tick.from_event(env.event_name, event),
        found=found,
    )
    for line in result.notes:
        note(line)
    if settings.dry_run:
        say(env, result.body)
    summary = render_body(
        dashboard, prs=result.prs, pr_mode=settings.open_pull_requests, limit_chars=900_000, marker=""
    )
    link = f"\n[Dashboard issue]({result.url})\n" if result.url.startswith("https://") else ""
    try:
        publish_summary(env, summary + link)
        publish_outputs(env, {"dashboard-url": result.url})
    except PublishError as exc:
        note(str(exc))
    note(f"dashboard {result.action} {result.url}; {gateway.requests_made} API requests")
    return 0


def _sync_all(
    settings: Settings,
    env: ActionsEnv,
    gateway: IssueGateway,
    paths: Sequence[str],
    branch: str,
    boxes_ticked: int,
) -> list[str]:
    """Sync each workflow with an even share of what the budget leaves after publishing's
    reserve (the issue and a pull request per ticked box), one workflow at a time (a share a
    workflow did not need goes to the next ones); then, while requests are left, the workflows
    that ran out get another turn. Each sync resumes where its last one stopped."""
    reserve = dashboard_reserve(len(paths), boxes_ticked)
    lines: list[str] = []
    todo = list(paths)
    for turn in range(2):
        cut: list[str] = []
        for i, path in enumerate(todo):
            if settings.deadline is not None and monotonic() >= settings.deadline:
                lines += [f"{PurePosixPath(p).name}: history sync skipped: the time limit is reached"
                          for p in todo[i:]]  # fmt: skip
                return lines
            left = settings.request_budget - gateway.requests_made - reserve
            share = sync_share(left=left, waiting=len(todo) - i, turn=turn)
            if share is None:
                if turn == 0:
                    lines += [f"{PurePosixPath(p).name}: history sync skipped: the request budget is spent"
                              for p in todo[i:]]  # fmt: skip
                break
            line, stopped = _sync(settings, env, gateway, path, branch, share)
            lines.append(f"{PurePosixPath(path).name}: {line}")
            if stopped:
                cut.append(path)
        todo = cut
        if not todo:
            break
    return lines


def _sync(
    settings: Settings, env: ActionsEnv, gateway: IssueGateway, workflow_path: str, branch: str, budget: int
) -> tuple[str, bool]:
    from bot.store.history_sync import SyncOptions

    path = Path(settings.history or "")
    path.parent.mkdir(parents=True, exist_ok=True)
    options = SyncOptions(
        workflow=PurePosixPath(workflow_path).name,
        branch=branch,
        event="push",
        scan_green=True,
        default_branch=branch,
        only_workflow=workflow_path,
        reread_since=datetime.now(UTC) - timedelta(days=settings.days),
        deadline=settings.deadline,
    )
    syncing = app.github(env, gateway.repo, budget)
    try:
        with app.store(path) as store:
            result = app.sync_into(store, syncing, options)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"history store {path}: {exc}") from exc
    finally:
        gateway.charge(syncing.requests_made)
        syncing.close()
    if sync_fatal(result.error, runs_added=result.runs_added, pending=result.pending):
        assert result.error is not None
        raise result.error
    return result.line(), sync_cut_short(result.error)
