"""`flake-bot dashboard`: keep one issue listing what to add to, retire from and look at in the
flaky list, from the default branch's history (synced first, green logs included).

As an action step (`mode: dashboard`) it syncs within the request budget, writes the issue, opens
the pull requests maintainers ticked (only with `open-pull-requests: true`) and writes the job
summary. `--dry-run` prints the body and posts nothing; without a repository or token (or with
`--offline`) it reads only the history file, so a maintainer can preview from a cache.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sqlite3
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from bot.actions_env import ActionsEnv, print_untrusted, read_event
from bot.dashboard import core
from bot.errors import FlakeBotError, InputError, PermissionDenied, PublishError, StoreError
from bot.registry import Registry, load_registry
from bot.render.sanitize import inline, plain

if TYPE_CHECKING:
    from bot.dashboard.build import Dashboard
    from bot.gateway.issues import IssueGateway
    from bot.registry.source import SourceTree

DEFAULTS: dict[str, str] = {
    "registry": "",
    "history": "",
    "workflow": "",
    "request-budget": "300",
    "dry-run": "false",
    "comment-author": "github-actions[bot]",
    "suggest-patches": "0.01,50",
    "retire-after": "300,30",
    "dashboard-days": "90",
    "open-pull-requests": "false",
}
MODES = ("triage", "dashboard")
# Requests kept back from the sync for the rest of a run: workflow lookup, the patch writer's
# three files, the issue listing, last editor, permission, write and re-listing.
PUBLISH_RESERVE = 16
PER_PULL_REQUEST = 7  # base ref, branch ref, file read + write (x2 files at most), PR lookup + create


@dataclasses.dataclass(frozen=True)
class Settings:
    registry: str | None
    history: str | None
    workflow: str | None
    branch: str | None
    request_budget: int
    dry_run: bool
    author: str
    add_policy: core.AddPolicy
    retire_policy: core.RetirePolicy
    days: int
    open_pull_requests: bool
    offline: bool
    repo_dir: str | None


def _pair(
    name: str, value: str, kinds: tuple[Callable[[str], float], Callable[[str], float]]
) -> tuple[float, float]:
    parts = [p.strip() for p in value.split(",")]
    try:
        if len(parts) != 2:
            raise ValueError
        a, b = kinds[0](parts[0]), kinds[1](parts[1])
    except ValueError:
        raise InputError(
            f"input {name} must be two numbers separated by a comma, got {value[:40]!r}"
        ) from None
    if a <= 0 or b <= 0:
        raise InputError(f"input {name} needs positive numbers, got {value[:40]!r}")
    return a, b


def _bool(name: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise InputError(f"input {name} must be true or false, got {value[:20]!r}")
    return value.lower() == "true"


def _int(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise InputError(f"input {name} must be a whole number, got {value[:40]!r}") from None
    if number < 1:
        raise InputError(f"input {name} must be at least 1, got {value[:40]!r}")
    return number


def settings_from(args: argparse.Namespace, env: ActionsEnv) -> Settings:
    def get(name: str) -> str:
        option = getattr(args, name.replace("-", "_"), None)
        if option is not None and option is not False:
            return str(option)
        return env.input(name, DEFAULTS[name])

    mode = env.input("mode", "dashboard")
    if mode not in MODES:
        raise InputError(f"input mode must be one of {', '.join(MODES)}, got {mode[:40]!r}")
    rate, runs = _pair("suggest-patches", get("suggest-patches"), (float, int))
    if rate > 1:
        raise InputError("input suggest-patches needs a rate between 0 and 1")
    executions, days = _pair("retire-after", get("retire-after"), (int, int))
    return Settings(
        registry=get("registry") or None,
        history=get("history") or None,
        workflow=get("workflow") or None,
        branch=args.branch,
        request_budget=_int("request-budget", get("request-budget")),
        dry_run=_bool("dry-run", get("dry-run")),
        author=get("comment-author"),
        add_policy=core.AddPolicy(min_rate=rate, min_executions=int(runs)),
        retire_policy=core.RetirePolicy(min_executions=int(executions), min_days=int(days)),
        days=_int("dashboard-days", get("dashboard-days")),
        open_pull_requests=_bool("open-pull-requests", get("open-pull-requests")),
        offline=bool(args.offline),
        repo_dir=args.repo_dir,
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        help="keep one issue up to date with the flaky tests to add, retire and look at",
        description=(
            "Sync the default branch's history of the watched workflow (green jobs' logs too, so "
            "ignored flakes are counted; within --request-budget, resumed by the next run), then create "
            "or update one dashboard issue, found again by a hidden marker and its author. Settings come "
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
        help="watched workflow: display name, file name or id (default: the registry's, e.g. 'unix port')",
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
    parser.add_argument("--offline", action="store_true", help="no GitHub requests: the history file only")
    parser.add_argument(
        "--repo-dir", metavar="DIR", help="offline: a checkout whose files the patches are written against"
    )
    parser.add_argument("--event", metavar="PATH", help="event payload (default: $GITHUB_EVENT_PATH)")
    parser.set_defaults(func=run)


def _say(env: ActionsEnv, text: str) -> None:
    if env.in_actions:
        print_untrusted(text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _note(text: str) -> None:
    print(f"flake-bot: {plain(text, 500, one_line=True)}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    env = ActionsEnv.from_environ()
    settings = settings_from(args, env)
    registry = load_registry(settings.registry)
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
        return _run_online(args, env, settings, registry, repo)
    except FlakeBotError as exc:
        with contextlib.suppress(PublishError):
            from bot.publish.summary import publish_summary

            publish_summary(env, f"**flake-bot could not update the dashboard:** {inline(str(exc), 500)}\n")
        raise


def _build(settings: Settings, registry: Registry, workflow: str, branch: str) -> Dashboard:
    from bot.dashboard.build import build
    from bot.dashboard.evidence import StoreEvidence
    from bot.store.sqlite import HistoryStore

    path = Path(settings.history or "")
    try:
        with HistoryStore(path) as store:
            return build(
                store,
                registry,
                workflow=workflow,
                branch=branch,
                days=settings.days,
                now=datetime.now(UTC),
                add_policy=settings.add_policy,
                retire_policy=settings.retire_policy,
                evidence=StoreEvidence,
            )
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"history store {path}: {exc}") from exc


def with_patches(dashboard: Dashboard, registry: Registry, tree: SourceTree | None) -> Dashboard:
    """The dashboard with each entry's patch written (or why not); no tree, no patches."""
    from bot.registry.patch import PatchStyle, suggest_patch

    if tree is None:
        return dashboard
    patches: dict[str, str] = {}
    notes: dict[str, str] = {}
    jobs: list[tuple[str, str, tuple[str, ...], str, bool]] = [
        (i.key, i.test, i.jobs, "ignore", False) for i in dashboard.selection.add
    ] + [(i.key, i.test, i.jobs, i.entry.mechanism.value, True) for i in dashboard.selection.retire]
    for key, test, names, style, remove in jobs:
        try:
            result = suggest_patch(
                tree, registry, test=test, jobs=names, style=PatchStyle(style), remove=remove
            )
        except FlakeBotError as exc:
            notes[key] = str(exc)
            continue
        if result.diff:
            patches[key] = result.diff
        else:
            notes[key] = result.message or "the patch writer found nothing to change"
    return dataclasses.replace(dashboard, patches=patches, patch_notes=notes)


def _run_offline(env: ActionsEnv, settings: Settings, registry: Registry) -> int:
    if not Path(settings.history or "").is_file():
        raise InputError(f"no history store at {settings.history}; fill one with `flake-bot sync`")
    from bot.dashboard.render import render_body

    workflow = settings.workflow or registry.workflow
    dashboard = _build(settings, registry, workflow, settings.branch or "master")
    tree = None
    if settings.repo_dir:
        from bot.registry.source import CheckoutTree

        tree = CheckoutTree(settings.repo_dir)
    dashboard = with_patches(dashboard, registry, tree)
    _say(env, render_body(dashboard, pr_mode=settings.open_pull_requests))
    return 0


def _run_online(
    args: argparse.Namespace, env: ActionsEnv, settings: Settings, registry: Registry, repo: str
) -> int:
    from bot.gateway.issues import IssueGateway

    gateway = IssueGateway(repo, token=env.token, api_url=env.api_url, request_budget=settings.request_budget)
    try:
        return _online(args, env, settings, registry, repo, gateway)
    finally:
        gateway.close()


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

    event: dict[str, object] = {}
    event_path = Path(args.event) if args.event else env.event_path
    if event_path is not None and event_path.is_file():
        event = read_event(event_path)
    branch = settings.branch or gateway.default_branch()
    wanted = settings.workflow or registry.workflow
    workflow_file, workflow_name = gateway.find_workflow(wanted)
    history_line = _sync(settings, gateway, workflow_file, branch, env.token, env.api_url)
    _note(history_line)
    dashboard = _build(settings, registry, workflow_name, branch)
    dashboard = dataclasses.replace(dashboard, repo_url=f"{env.server_url}/{repo}")
    dashboard = with_patches(dashboard, registry, ApiTree(gateway, branch))
    publisher = DashboardPublisher(
        gateway,
        author=settings.author,
        base_branch=branch,
        open_pull_requests=settings.open_pull_requests,
        dry_run=settings.dry_run,
    )
    result = publisher.publish(
        lambda prs: render_body(dashboard, prs=prs, pr_mode=settings.open_pull_requests),
        dashboard,
        tick=Tick.from_event(env.event_name, event),
    )
    for line in result.notes:
        _note(line)
    if settings.dry_run:
        _say(env, result.body)
    summary = render_body(
        dashboard, prs=result.prs, pr_mode=settings.open_pull_requests, limit_chars=900_000, marker=""
    )
    link = f"\n[Dashboard issue]({result.url})\n" if result.url.startswith("https://") else ""
    try:
        publish_summary(env, summary + link)
        publish_outputs(env, {"dashboard-url": result.url})
    except PublishError as exc:
        _note(str(exc))
    _note(f"dashboard {result.action} {result.url}; {gateway.requests_made} API requests")
    return 0


def _sync(
    settings: Settings,
    gateway: IssueGateway,
    workflow_file: str,
    branch: str,
    token: str | None,
    api_url: str,
) -> str:
    from bot.parse import parse_job_log
    from bot.store.history_sync import SyncOptions, sync
    from bot.store.sqlite import HistoryStore

    reserve = PUBLISH_RESERVE + (PER_PULL_REQUEST * 3 if settings.open_pull_requests else 0)
    budget = settings.request_budget - gateway.requests_made - reserve
    if budget <= 0:
        return "history sync skipped: the request budget is spent"
    path = Path(settings.history or "")
    path.parent.mkdir(parents=True, exist_ok=True)
    options = SyncOptions(
        workflow=PurePosixPath(workflow_file).name,
        branch=branch,
        event="push",
        scan_green=True,
        default_branch=branch,
    )
    from bot.gateway.client import GitHubGateway

    syncing = GitHubGateway(gateway.repo, token=token, api_url=api_url, request_budget=budget)
    try:
        with HistoryStore(path) as store:
            result = sync(store, syncing, options, parse=lambda chunks, job: parse_job_log(chunks, job=job))
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"history store {path}: {exc}") from exc
    finally:
        gateway.charge(syncing.requests_made)
        syncing.close()
    error = result.error
    listing_failed = error is not None and error.status == 404 and not (result.runs_added or result.pending)
    if isinstance(error, PermissionDenied) or (error is not None and error.status == 401) or listing_failed:
        assert error is not None
        raise error
    return result.line()
