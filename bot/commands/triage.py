"""`flake-bot triage`: judge the failures of one completed workflow run and report them.

This is the action's main job. From a `workflow_run` event it reads the run's jobs, streams each
failed job's log (capped), parses it, matches every failing test against the registry in force on
the run's date, adds historical rates from the history store (synced first, within the request
budget), and publishes: the sticky PR comment, the check run on pushes, and always the job summary
and step outputs. With `--log FILE --job NAME` it does the same for one log on disk, offline.

Settings come from the action's inputs (`INPUT_*`), overridden by command-line options. The exit
status is 0 whenever the analysis ran, whatever it found: a red triage must not look like a broken
bot. It is non-zero only when the bot is misconfigured (no or bad token, unreadable registry or
event, a missing permission), with a one-line reason.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from bot.actions_env import ActionsEnv, inert_json, print_untrusted, read_event
from bot.errors import (
    FlakeBotError,
    GatewayError,
    InputError,
    LogUnavailable,
    PermissionDenied,
    PublishError,
    StoreError,
)
from bot.evidence import TestHistory
from bot.publish.summary import publish_outputs, publish_summary
from bot.records import FlakeRate, JobInfo, JobReport, LogState, Problem, ProblemKind, RunInfo
from bot.registry import Registry, load_registry
from bot.registry.sync import DEFAULT_WORKFLOW
from bot.render import (
    COMMENT_MARKER,
    MAX_ANNOTATIONS,
    outputs,
    render_check,
    render_comment,
    render_step_summary,
    render_text,
)
from bot.render.sanitize import inline, link, plain
from bot.triage import (
    FAILED_CONCLUSIONS,
    HistoryLookup,
    JobInput,
    PatchPolicy,
    TriageReport,
    check_conclusion,
    triage,
    write_patches,
)

if TYPE_CHECKING:  # imported lazily at run time: PyGithub and sqlite cost start-up time offline
    from bot.gateway.client import GitHubGateway
    from bot.store.sqlite import HistoryStore

COMMENT_MODES = ("always", "failures", "off")
CHECK_MODES = ("on-push", "always", "off")
DEFAULTS: dict[str, str] = {
    "registry": "",
    "history": "",
    "comment": "failures",
    "comment-author": "github-actions[bot]",
    "check-run": "on-push",
    "check-name": "flake-bot",
    "suggest-patches": "0.01,50",
    "max-log-mb": "32",
    "request-budget": "300",
    "dry-run": "false",
}
# Requests the publishing step may need after the analysis (PR lookup, comment list + write,
# check-run list + create, patch files); kept back from the history sync so the report gets out.
# One more is kept per 50 failures, for the annotation batches after the first.
PUBLISH_RESERVE = 8
LOG_REQUESTS = 2  # one log: the API's redirect, then the blob


# ---------------------------------------------------------------------------- settings


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything that shapes one triage, from inputs and options (options win)."""

    registry: str | None
    history: str | None
    comment: str
    comment_author: str
    check_run: str
    check_name: str
    patch_policy: PatchPolicy
    max_log_bytes: int
    request_budget: int
    dry_run: bool


def _choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise InputError(f"input {name} must be one of {', '.join(choices)}, got {value[:40]!r}")
    return value


def _patch_policy(value: str) -> PatchPolicy:
    """`RATE,RUNS` (e.g. `0.01,50`) or `off`."""
    if value.lower() in ("off", "false", "no", "none"):
        return PatchPolicy(enabled=False)
    parts = [p.strip() for p in value.split(",")]
    try:
        if len(parts) != 2:
            raise ValueError
        rate, runs = float(parts[0]), int(parts[1])
    except ValueError:
        raise InputError(
            f"input suggest-patches must be RATE,RUNS (e.g. 0.01,50) or off, got {value[:40]!r}"
        ) from None
    if not 0 < rate <= 1 or runs < 1:
        raise InputError("input suggest-patches needs 0 < RATE <= 1 and RUNS >= 1")
    return PatchPolicy(min_rate=rate, min_executions=runs)


def _positive(name: str, value: str, kind: Callable[[str], float]) -> float:
    try:
        number = kind(value)
    except ValueError:
        raise InputError(f"input {name} must be a positive number, got {value[:40]!r}") from None
    if number <= 0:
        raise InputError(f"input {name} must be a positive number, got {value[:40]!r}")
    return number


def settings_from(args: argparse.Namespace, env: ActionsEnv) -> Settings:
    def get(name: str) -> str:
        option = getattr(args, name.replace("-", "_"), None)
        if option is not None and option is not False:
            return str(option)
        return env.input(name, DEFAULTS[name])

    dry = get("dry-run").lower()
    if dry not in ("true", "false"):
        raise InputError(f"input dry-run must be true or false, got {dry[:20]!r}")
    return Settings(
        registry=get("registry") or None,
        history=get("history") or None,
        comment=_choice("comment", get("comment"), COMMENT_MODES),
        comment_author=get("comment-author"),
        check_run=_choice("check-run", get("check-run"), CHECK_MODES),
        check_name=plain(get("check-name"), 100, one_line=True),
        patch_policy=_patch_policy(get("suggest-patches")),
        max_log_bytes=int(_positive("max-log-mb", get("max-log-mb"), float) * 1024 * 1024),
        request_budget=int(_positive("request-budget", get("request-budget"), int)),
        dry_run=dry == "true",
    )


# ---------------------------------------------------------------------------- command line


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "triage",
        help="triage a completed workflow run (the action's job), or one log offline",
        description=(
            "Read each failed job's log of a completed workflow run, judge every failing test against the "
            "known-flaky registry and the history, and publish a sticky PR comment, a check run on pushes, "
            "the job summary and the step outputs. Settings come from the action inputs (INPUT_*) and the "
            "GITHUB_* environment; options below override them. With --log and --job, triage one log file "
            "offline and print the result."
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
    parser.add_argument("--job", help="offline: the job's name, e.g. standard or qemu_arm", metavar="NAME")
    parser.add_argument(
        "--date",
        type=_day,
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
    parser.set_defaults(func=run)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        message = f"{text!r} is not a day written YYYY-MM-DD (e.g. 2026-03-11)"
        raise argparse.ArgumentTypeError(message) from None


def run(args: argparse.Namespace) -> int:
    env = ActionsEnv.from_environ()
    if args.log or args.job:
        if not (args.log and args.job):
            raise InputError("--log and --job go together")
        return _run_offline(args, env)
    try:
        return _run_event(args, env)
    except FlakeBotError as exc:
        # The step fails with this one line on stderr (bot.cli); say it on the run page too.
        with contextlib.suppress(PublishError):
            publish_summary(env, f"**flake-bot could not triage this run:** {inline(str(exc), 500)}\n")
        raise


def _say(env: ActionsEnv, text: str) -> None:
    """Print report text: inside Actions within a stop-commands block, so no line acts on our job."""
    if env.in_actions:
        print_untrusted(text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _warn(env: ActionsEnv, message: str) -> None:
    """A one-line warning: an annotation on the bot's run inside Actions, stderr otherwise."""
    line = plain(message, 1000, one_line=True)
    if env.in_actions:
        escaped = line.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        sys.stdout.write(f"::warning title=flake-bot::{escaped}\n")
        sys.stdout.flush()
    else:
        print(f"flake-bot: warning: {line}", file=sys.stderr)


# ---------------------------------------------------------------------------- reading logs


def _with_truncation(report: JobReport, max_bytes: int) -> JobReport:
    note = Problem(
        ProblemKind.TRUNCATED, f"only the first {max_bytes / 1048576:g} MiB of the log were read (max-log-mb)"
    )
    return dataclasses.replace(report, complete=False, problems=(*report.problems, note))


def _read_failed_job(gateway: GitHubGateway, job: JobInfo, max_bytes: int) -> JobInput:
    """Download and parse one failed job's log; an unavailable log becomes a state, not an error."""
    from bot.parse import parse_job_log

    try:
        with gateway.job_log(job.id, max_bytes=max_bytes) as download:
            report = parse_job_log(download, job=job.name)
            truncated = download.truncated
    except LogUnavailable as exc:
        return JobInput(job, LogState.EXPIRED if exc.status == 410 else LogState.MISSING, None)
    except PermissionDenied:
        raise
    except GatewayError:
        # The download broke off mid-way after the policy's retries: say so for this job only.
        return JobInput(job, LogState.NOT_FETCHED, None)
    if truncated:
        report = _with_truncation(report, max_bytes)
    return JobInput(job, LogState.PARSED, report)


def _read_logs(gateway: GitHubGateway, jobs: Sequence[JobInfo], settings: Settings) -> list[JobInput]:
    """Each failed job's log, while the request budget keeps enough back to publish.

    A fork PR can make its run fail hundreds of jobs (its workflow can add a matrix): reading
    every log spent the whole budget and the PR comment was never posted. Logs past the reserve
    are reported as not downloaded instead. The first is always read, so even a budget too small
    for publishing still judges something.
    """
    last = settings.request_budget - PUBLISH_RESERVE - MAX_ANNOTATIONS // 50
    inputs = []
    read = False
    for job in jobs:
        if job.conclusion not in FAILED_CONCLUSIONS or (read and gateway.requests_made + LOG_REQUESTS > last):
            inputs.append(JobInput(job, LogState.NOT_FETCHED, None))
        else:
            inputs.append(_read_failed_job(gateway, job, settings.max_log_bytes))
            read = True
    return inputs


class _ApiTree:
    """Upstream files for the patch writer, fetched through the API only when a patch is due."""

    def __init__(self, gateway: GitHubGateway, ref: str) -> None:
        self._gateway = gateway
        self._ref = ref
        self._files: dict[str, str] = {}
        self._tests: list[str] | None = None

    def read_text(self, path: str) -> str:
        if path not in self._files:
            self._files[path] = self._gateway.get_file_text(path, self._ref)
        return self._files[path]

    def test_paths(self) -> Iterable[str]:
        if self._tests is None:
            self._tests = [
                str(PurePosixPath(p).relative_to("tests"))
                for p in self._gateway.list_tree_paths(self._ref, "tests/")
                if p.endswith(".py")
            ]
        return self._tests


def _patcher(
    gateway: GitHubGateway, registry: Registry, ref: str, workflow: str
) -> Callable[[str, Sequence[str]], str | None]:
    from bot.registry.patch import suggest_patch

    tree = _ApiTree(gateway, ref)

    def patch(test: str, jobs: Sequence[str]) -> str | None:
        # The workflow at `ref` says which ci.sh functions and runner each job has.
        return suggest_patch(tree, registry, test=test, jobs=jobs, workflow=workflow).diff or None

    return patch


# ---------------------------------------------------------------------------- history


def _rates_from(
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


def _history_from(
    store: HistoryStore, run: RunInfo, workflow: str | None = None, default_branch: str | None = None
) -> HistoryLookup:
    """The records behind each failure's evidence, from the store only (no request), strictly
    before the triaged run plus its own earlier attempts. With `default_branch`, the job's
    history is that branch's pushes, so a streak there reads "failing on the default branch";
    same-commit runs count from any branch."""
    until = run.created_at - timedelta(seconds=1)
    branch, event = (default_branch, "push") if default_branch else (None, None)

    def history(test: str, job: str) -> TestHistory:
        return store.test_history(
            test, job, until=until, run=run, workflow=workflow, branch=branch, event=event
        )

    return history


def _sync_history(
    store: HistoryStore, env: ActionsEnv, repo: str, run: RunInfo, default_branch: str, budget: int
) -> str:
    """Bring the store up to date with the default branch's pushes; returns a line for the log."""
    from bot.gateway.client import GitHubGateway
    from bot.parse import parse_job_log
    from bot.store.sync import SyncOptions, sync

    if budget <= 0:
        return "history sync skipped: the request budget is spent"
    workflow = PurePosixPath(run.workflow_path).name or run.workflow_name
    gateway = GitHubGateway(repo, token=env.token, api_url=env.api_url, request_budget=budget)
    try:
        result = sync(
            store,
            gateway,
            SyncOptions(
                workflow=workflow, branch=default_branch, event="push", default_branch=default_branch
            ),
            parse=lambda chunks, job: parse_job_log(chunks, job=job),
        )
    finally:
        gateway.close()
    return result.line()


# ---------------------------------------------------------------------------- the event flow


def _event_path(args: argparse.Namespace, env: ActionsEnv) -> Path:
    if args.event:
        return Path(args.event)
    if env.event_path is None:
        raise InputError("no event: pass --event PATH or run inside GitHub Actions (GITHUB_EVENT_PATH)")
    return env.event_path


def _run_event(args: argparse.Namespace, env: ActionsEnv) -> int:
    from bot.gateway.client import GitHubGateway
    from bot.gateway.convert import run_from_event

    settings = settings_from(args, env)
    registry = load_registry(settings.registry)  # unreadable registry: exit 2 before any request
    event = read_event(_event_path(args, env))
    if not isinstance(event.get("workflow_run"), dict):
        raise InputError("the event is not a workflow_run event (the action runs on `on: workflow_run`)")
    repository = event.get("repository")
    if not isinstance(repository, dict):
        repository = {}
    repo = env.repository or str(repository.get("full_name") or "")
    if not repo:
        raise InputError("no repository: GITHUB_REPOSITORY is not set")
    if not env.token:
        raise InputError("no token: set the github-token input or GITHUB_TOKEN")
    default_branch = str(repository.get("default_branch") or "master")
    run = run_from_event(event)
    if run.status != "completed":
        raise InputError(f"run {run.id} is {run.status or 'in an unknown state'}, not completed")

    gateway = GitHubGateway(
        repo, token=env.token, api_url=env.api_url, request_budget=settings.request_budget
    )
    try:
        jobs = gateway.list_jobs(run.id, attempt=run.attempt)
        inputs = _read_logs(gateway, jobs, settings)
        report, history_line = _judge(settings, env, repo, run, inputs, registry, gateway, default_branch)
        if history_line:
            print(f"flake-bot: {plain(history_line, 500, one_line=True)}", file=sys.stderr)
        return _publish(settings, env, repo, run, report, gateway, default_branch)
    finally:
        gateway.close()


def _judge(
    settings: Settings,
    env: ActionsEnv,
    repo: str,
    run: RunInfo,
    inputs: list[JobInput],
    registry: Registry,
    gateway: GitHubGateway,
    default_branch: str,
) -> tuple[TriageReport, str]:
    """Triage with rates when a history store is configured and readable; without them otherwise."""
    patcher = _patcher(gateway, registry, default_branch, run.workflow_path or DEFAULT_WORKFLOW)
    on_default = run.event == "push" and run.branch == default_branch
    if not settings.history:
        report = triage(
            run, inputs, registry, patch_policy=settings.patch_policy, on_default_branch=on_default
        )
        return write_patches(report, patcher), ""
    from bot.store.sqlite import HistoryStore

    path = Path(settings.history)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with HistoryStore(path) as store:
            failures = sum(len(i.report.failures) for i in inputs if i.report)
            reserve = PUBLISH_RESERVE + min(failures, MAX_ANNOTATIONS) // 50
            budget = settings.request_budget - gateway.requests_made - reserve
            stored = store.run_state(run.id)
            if on_default and stored is not None and stored[0] < run.attempt:
                # A re-run of an older push: the listing stops above it, so mark it to fetch again
                # (every attempt, passing jobs included) or its new attempt is never recorded.
                store.record_listed_runs([run])
            line = _sync_history(store, env, repo, run, default_branch, budget)
            workflow = run.workflow_path or None
            report = triage(
                run,
                inputs,
                registry,
                rates=_rates_from(store, registry, run.created_at, workflow),
                history=_history_from(store, run, workflow, default_branch),
                patch_policy=settings.patch_policy,
                on_default_branch=on_default,
            )
    except (StoreError, sqlite3.Error, OSError) as exc:
        # A damaged cache must not cost the report: judge without history and say why.
        _warn(env, f"history store {path} unusable, rates left out: {exc}")
        report = triage(
            run, inputs, registry, patch_policy=settings.patch_policy, on_default_branch=on_default
        )
        line = ""
    return write_patches(report, patcher), line


def _actions_run_url(env: ActionsEnv, repo: str) -> str | None:
    """The bot's own run page, whose summary holds the full report."""
    run_id = os.environ.get("GITHUB_RUN_ID", "")
    return f"{env.server_url}/{repo}/actions/runs/{run_id}" if run_id.isdigit() else None


def _publish(
    settings: Settings,
    env: ActionsEnv,
    repo: str,
    run: RunInfo,
    report: TriageReport,
    gateway: GitHubGateway,
    default_branch: str,
) -> int:
    """Post the comment and the check run, then always the summary and outputs."""
    from bot.publish.checks import publish_check_run
    from bot.publish.comment import upsert_sticky_comment

    summary_url = _actions_run_url(env, repo)
    comment_url = check_url = ""
    notes: list[str] = []
    misconfigured: str | None = None
    try:
        wants_check = settings.check_run == "always" or (
            settings.check_run == "on-push" and run.event == "push" and run.branch == default_branch
        )
        # A green first attempt has nothing to add to the workflow's own green checks; a green
        # re-run does: its check run supersedes the red attempt's on the commit.
        wants_check = wants_check and (report.counts.jobs_failed > 0 or run.attempt > 1)
        if wants_check:
            check = render_check(report, details_url=summary_url)
            if settings.dry_run:
                count = len(check.annotations)
                _say(
                    env,
                    f"[dry run] would publish check run {settings.check_name!r} on {run.head_sha[:12]}: "
                    f"{check.title}, {count} annotation{'s' if count != 1 else ''}\n{check.summary}",
                )
            else:
                result = publish_check_run(
                    gateway,
                    name=settings.check_name,
                    head_sha=run.head_sha,
                    run_id=run.id,
                    attempt=run.attempt,
                    title=check.title,
                    summary=check.summary,
                    text=check.text,
                    annotations=check.annotations,
                    conclusion=check_conclusion(report),
                    details_url=summary_url or run.html_url or None,
                )
                check_url = result.url
                notes.append(f"Check run {result.action}: {check_url}")

        if settings.comment != "off" and run.event in ("pull_request", "pull_request_target"):
            pr = gateway.find_pull_request(run, repo)
            if pr is None:
                notes.append("No open pull request has this run's head commit; no comment posted.")
            else:
                details = check_url or summary_url

                def render(previous: str | None) -> str:
                    return render_comment(report, details_url=details, previous=previous)

                create = settings.comment == "always" or report.counts.jobs_failed > 0
                if settings.dry_run:
                    _say(env, _comment_preview(gateway, pr.number, render, settings, create))
                else:
                    outcome = upsert_sticky_comment(
                        gateway,
                        pr.number,
                        render,
                        marker=COMMENT_MARKER,
                        author=settings.comment_author,
                        create=create,
                    )
                    comment_url = outcome.url
                    notes.append(f"Comment on #{pr.number}: {outcome.action} {comment_url}".rstrip())
    except PublishError as exc:
        if isinstance(exc.__cause__, PermissionDenied):
            misconfigured = str(exc)
        if env.in_actions or not misconfigured:  # on a terminal the error line below says it once
            _warn(env, str(exc))
        notes.append(f"Publishing failed: {exc}")
    except GatewayError as exc:  # finding the PR failed
        if isinstance(exc, PermissionDenied):
            misconfigured = str(exc)
        if env.in_actions or not misconfigured:
            _warn(env, f"could not publish: {exc}")
        notes.append(f"Publishing failed: {exc}")
    finally:
        _summary_and_outputs(env, report, summary_url, comment_url, check_url, notes)

    _say(env, render_text(report))
    for note in notes:
        if misconfigured and note == f"Publishing failed: {misconfigured}":
            continue  # the error line below says it
        print(f"flake-bot: {plain(note, 500, one_line=True)}", file=sys.stderr)
    print(f"flake-bot: {gateway.requests_made} API requests", file=sys.stderr)
    if misconfigured:
        print(f"flake-bot: error: {plain(misconfigured, 500, one_line=True)}", file=sys.stderr)
        return 1
    return 0


def _comment_preview(
    gateway: GitHubGateway,
    number: int,
    render: Callable[[str | None], str],
    settings: Settings,
    create: bool,
) -> str:
    """What a real run would do to the sticky comment, found by reading only."""
    from bot.publish.comment import find_sticky

    existing = find_sticky(gateway.list_issue_comments(number), COMMENT_MARKER, settings.comment_author)
    if existing is not None:
        return (
            f"[dry run] would update the comment {existing.html_url} on #{number}:\n{render(existing.body)}"
        )
    if not create:
        return f"[dry run] no comment on #{number}: nothing failed and none exists to update"
    return f"[dry run] would create a comment on #{number}:\n{render(None)}"


def _summary_and_outputs(
    env: ActionsEnv,
    report: TriageReport,
    summary_url: str | None,
    comment_url: str,
    check_url: str,
    notes: Sequence[str],
) -> None:
    summary = render_step_summary(report, details_url=check_url or None)
    links = [
        f"- {link(label, url)}" for label, url in (("Comment", comment_url), ("Check run", check_url)) if url
    ]
    problems = [f"- {plain(n, 300, one_line=True)}" for n in notes if n.startswith("Publishing failed")]
    extra = "\n".join(links + problems)
    try:
        publish_summary(env, summary + ("\n" + extra + "\n" if extra else ""))
        publish_outputs(env, {**outputs(report), "comment-url": comment_url, "check-run-url": check_url})
    except PublishError as exc:
        _warn(env, str(exc))


# ---------------------------------------------------------------------------- offline


class _FirstDay:
    """The day of a job log's first timestamp, read as the log streams past.

    A saved log is usually triaged long after it ran, and the registry in force then is what
    matters (the upstream lists changed on 2026-03-11), so the log's own date beats today's.
    """

    _STAMP = re.compile(rb"^(?:\xef\xbb\xbf)?(\d{4}-\d\d-\d\d)T\d\d:\d\d:\d\d", re.M)

    def __init__(self) -> None:
        self.day: date | None = None

    def watch(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for index, chunk in enumerate(chunks):
            if self.day is None and index < 4:
                match = self._STAMP.search(chunk)
                if match:
                    with contextlib.suppress(ValueError):
                        self.day = date.fromisoformat(match.group(1).decode())
            yield chunk


def _run_offline(args: argparse.Namespace, env: ActionsEnv) -> int:
    from bot.parse import open_log, parse_job_log

    registry_file = args.registry or env.input("registry") or None
    registry = load_registry(registry_file)
    seen = _FirstDay()
    with open_log(args.log) as chunks:
        job_report = parse_job_log(seen.watch(chunks), job=args.job)
    day = args.date or seen.day or datetime.now(UTC).date()
    if args.date:
        day_from = "--date"
    else:
        day_from = "the log's first timestamp" if seen.day else "today; the log has no timestamp"
    log_name = "standard input" if args.log == "-" else f"Log file {Path(args.log).name}"
    source = (
        f"{log_name}, job {args.job}. "
        f"Registry: {Path(registry_file).name if registry_file else 'bundled'}, as in force on "
        f"{day.isoformat()} ({day_from})."
    )
    created = datetime.combine(day, time(12, 0), tzinfo=UTC)
    failed = bool(job_report.failed_step) or any(not f.ignored for f in job_report.failures)
    run_info = RunInfo(
        id=0,
        attempt=1,
        workflow_name=Path(args.log).name,
        workflow_path="",
        event="local",
        branch=None,
        head_sha="",
        head_repo=None,
        created_at=created,
        status="completed",
        conclusion="failure" if failed else "success",
    )
    job = JobInfo(
        id=0,
        run_id=0,
        attempt=1,
        name=args.job,
        status="completed",
        conclusion="failure" if failed else "success",
    )
    inputs = [JobInput(job, LogState.PARSED, job_report)]
    if args.history:
        from bot.store.sqlite import HistoryStore

        with HistoryStore(args.history) as store:
            report = triage(
                run_info,
                inputs,
                registry,
                rates=_rates_from(store, registry, created),
                history=_history_from(store, run_info),
            )
    else:
        report = triage(run_info, inputs, registry)
    if args.json:
        data = outputs(report)
        payload = {
            "headline": report.headline,
            "counts": dataclasses.asdict(report.counts),
            "failures": json.loads(data["failures"]),
            "job": job_report.to_json(),
        }
        # inert without the stop-commands wrapper, which would make it invalid JSON for `jq`
        sys.stdout.write(inert_json(payload) + "\n")
    else:
        _say(env, render_text(report, source=source))
    return 0
