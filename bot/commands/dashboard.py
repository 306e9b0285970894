"""`flake-bot dashboard`: keep one issue listing what to add to, retire from and look at in the
flaky list, from the default branch's history of each watched workflow (synced first, green logs
included; by default every workflow the registry covers, the request budget split between them).

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
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from time import monotonic
from typing import TYPE_CHECKING

from bot.actions_env import ActionsEnv, print_untrusted, read_event
from bot.commands._options import setting, time_limit
from bot.dashboard import core
from bot.errors import FlakeBotError, InputError, PermissionDenied, PublishError, StoreError
from bot.registry import Registry, load_registry
from bot.render.sanitize import inline, plain
from bot.triage import PatchPolicy

if TYPE_CHECKING:
    from bot.dashboard.build import Board, Dashboard
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
    "time-limit": "10m",
}
MODES = ("triage", "dashboard")
MIN_SHARE = 10  # a second turn with fewer requests than this would list a page and stop


@dataclasses.dataclass(frozen=True)
class Settings:
    registry: str | None
    history: str | None
    workflows: tuple[str, ...]  # empty: every workflow the registry covers
    branch: str | None
    request_budget: int
    dry_run: bool
    author: str
    add_policy: PatchPolicy
    retire_policy: core.RetirePolicy
    days: int
    open_pull_requests: bool
    offline: bool
    repo_dir: str | None
    deadline: float | None = None  # `time.monotonic()` after which the sync fetches nothing more


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


def workflow_list(values: list[str] | str | None) -> tuple[str, ...]:
    """Workflows named by repeated options or one input, each a comma- or newline-separated list
    (a YAML list in the action's `with:` arrives as text), in order, without repeats."""
    if values is None:
        return ()
    items = [values] if isinstance(values, str) else values
    names = [part.strip() for item in items for part in item.replace("\n", ",").split(",")]
    for name in names:
        if len(name) > 200:
            raise InputError(f"workflow name too long: {name[:40]!r}...")
    return tuple(dict.fromkeys(n.removeprefix("- ").strip() for n in names if n.removeprefix("- ").strip()))


def resolve_workflows(
    wanted: Sequence[str], available: Sequence[tuple[str, str, str]]
) -> tuple[list[tuple[str, str]], list[str]]:
    """(path, display name) of each wanted workflow (by id, file name or display name) among the
    repository's (id, path, name), in the order wanted; and the names not found."""
    found: list[tuple[str, str]] = []
    missing = []
    for key in wanted:
        base = key.rpartition("/")[2]
        match = next(
            (
                (path, name)
                for ident, path, name in available
                if (key.isdigit() and key == ident)
                or (base.endswith((".yml", ".yaml")) and base == path.rpartition("/")[2])
                or key == name
            ),
            None,
        )
        if match is None:
            missing.append(key)
        elif match not in found:
            found.append(match)
    return found, missing


def shares(budget: int, count: int) -> list[int]:
    """The request budget split evenly between `count` workflows (the first ones get the rest of
    the division), so a long backlog in one workflow never starves the others."""
    if count <= 0:
        return []
    return [budget // count + (1 if i < budget % count else 0) for i in range(count)]


def settings_from(args: argparse.Namespace, env: ActionsEnv) -> Settings:
    def get(name: str) -> str:
        return setting(args, env, name, DEFAULTS[name])

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
        workflows=workflow_list(args.workflow) or workflow_list(env.input("workflow", DEFAULTS["workflow"])),
        branch=args.branch,
        request_budget=_int("request-budget", get("request-budget")),
        dry_run=_bool("dry-run", get("dry-run")),
        author=get("comment-author"),
        add_policy=PatchPolicy(min_rate=rate, min_executions=int(runs)),
        retire_policy=core.RetirePolicy(min_executions=int(executions), min_days=int(days)),
        days=_int("dashboard-days", get("dashboard-days")),
        open_pull_requests=_bool("open-pull-requests", get("open-pull-requests")),
        offline=bool(args.offline),
        repo_dir=args.repo_dir,
        deadline=monotonic() + time_limit(get("time-limit")),
    )


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


def _build(
    settings: Settings, registry: Registry, workflows: Sequence[tuple[str, str]], branch: str
) -> Board:
    from bot.dashboard.build import build_board
    from bot.dashboard.evidence import StoreEvidence
    from bot.store.sqlite import HistoryStore

    path = Path(settings.history or "")
    try:
        with HistoryStore(path) as store:
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


def _stored_workflows(settings: Settings, registry: Registry, branch: str) -> list[tuple[str, str]]:
    """Offline, the watched workflows are those the history holds: the ones asked for, else the
    ones the registry covers (in its order), else the registry's own (an empty section)."""
    from bot.store.sqlite import HistoryStore, Window

    with HistoryStore(Path(settings.history or "")) as store:
        held = store.workflows(Window(branch=branch, event="push"))
    available = [("", path, name) for path, name, _ in held]
    if settings.workflows:
        found, missing = resolve_workflows(settings.workflows, available)
        for key in missing:
            _note(f"no run of workflow {key!r} in the history: left out")
        return found
    covered = [s.file or s.name for s in registry.sections() if s.file or s.name]
    found, _ = resolve_workflows(covered, available)
    return found or [(registry.workflow_file, registry.workflow)]


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


def _run_offline(env: ActionsEnv, settings: Settings, registry: Registry) -> int:
    if not Path(settings.history or "").is_file():
        raise InputError(f"no history store at {settings.history}; fill one with `flake-bot sync`")
    from bot.dashboard.render import render_body

    branch = settings.branch or "master"
    board = _build(settings, registry, _stored_workflows(settings, registry, branch), branch)
    tree = None
    if settings.repo_dir:
        from bot.registry.source import CheckoutTree

        tree = CheckoutTree(settings.repo_dir)
    board = with_patches(board, registry, tree)
    _say(env, render_body(board, pr_mode=settings.open_pull_requests))
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
    from bot.publish.ticks import ticked

    event: dict[str, object] = {}
    event_path = Path(args.event) if args.event else env.event_path
    if event_path is not None and event_path.is_file():
        event = read_event(event_path)
    from bot.store.sqlite import open_healing

    store, notes = open_healing(Path(settings.history or ""), beside_foreign=True)
    store.close()
    for line in notes:
        _note(line)
    settings = dataclasses.replace(settings, history=str(store.path))
    branch = settings.branch or gateway.default_branch()
    workflows = _watched(settings, registry, gateway)
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
    for line in _sync_all(settings, gateway, paths, branch, env.token, env.api_url, boxes_ticked):
        _note(line)
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


def _watched(settings: Settings, registry: Registry, gateway: IssueGateway) -> list[tuple[str, str]]:
    """(path, display name) of the watched workflows, from one listing of the repository's. Asked
    for by name: each must exist. By default every workflow the registry covers that the
    repository has (a fork may lack some: noted and left out)."""
    available = gateway.list_workflows()
    if settings.workflows:
        found, missing = resolve_workflows(settings.workflows, available)
        if missing:
            raise InputError(
                f"{gateway.repo} has no workflow {missing[0][:100]!r}; set the workflow input "
                "(display names, file names or ids, separated by commas)"
            )
        return found
    covered = [s.file or s.name for s in registry.sections() if s.file or s.name]
    found, missing = resolve_workflows(covered, available)
    for key in missing:
        _note(f"{gateway.repo} has no workflow {key!r}: not watched")
    if not found:
        raise InputError(
            f"{gateway.repo} has none of the workflows the registry covers; set the workflow input"
        )
    return found


def _sync_all(
    settings: Settings,
    gateway: IssueGateway,
    paths: Sequence[str],
    branch: str,
    token: str | None,
    api_url: str,
    boxes_ticked: int,
) -> list[str]:
    """Sync each workflow with an even share of what the budget leaves after publishing's
    reserve (the issue and a pull request per ticked box), one workflow at a time (a share a
    workflow did not need goes to the next ones); then, while requests are left, the workflows
    that ran out get another turn. Each sync resumes where its last one stopped."""
    from bot.budget import dashboard_reserve

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
            if left < (1 if turn == 0 else MIN_SHARE):
                if turn == 0:
                    lines += [f"{PurePosixPath(p).name}: history sync skipped: the request budget is spent"
                              for p in todo[i:]]  # fmt: skip
                break
            share = shares(left, len(todo) - i)[0]
            line, stopped = _sync(settings, gateway, path, branch, token, api_url, share)
            lines.append(f"{PurePosixPath(path).name}: {line}")
            if stopped:
                cut.append(path)
        todo = cut
        if not todo:
            break
    return lines


def _sync(
    settings: Settings,
    gateway: IssueGateway,
    workflow_path: str,
    branch: str,
    token: str | None,
    api_url: str,
    budget: int,
) -> tuple[str, bool]:
    from bot.errors import BudgetExhausted
    from bot.parse import parse_job_log
    from bot.store.history_sync import SyncOptions, sync
    from bot.store.sqlite import HistoryStore

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
    return result.line(), isinstance(error, BudgetExhausted)
