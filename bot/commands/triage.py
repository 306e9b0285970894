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

This module parses arguments, settings and the event; the run itself (reading logs within the
budget, the history sync, publishing, the exit status) is `bot.orchestrate`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path, PurePosixPath
from time import monotonic
from typing import TypeVar

from bot.actions_env import ActionsEnv, inert_json, read_event
from bot.commands._options import day, setting, time_limit
from bot.errors import FlakeBotError, InputError, PublishError
from bot.orchestrate.console import say
from bot.orchestrate.decisions import CheckRunMode, CommentMode, Settings
from bot.publish.summary import publish_summary
from bot.records import JobInfo, LogState, RunInfo
from bot.registry import Registry, load_registry
from bot.render import COMMENT_MARKER, outputs, render_text
from bot.render.sanitize import inline, plain
from bot.triage import JobInput, PatchPolicy, triage

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
    "time-limit": "10m",
}

# ---------------------------------------------------------------------------- settings


Mode = TypeVar("Mode", CommentMode, CheckRunMode)


def _choice(name: str, value: str, choices: type[Mode]) -> Mode:
    try:
        return choices(value)
    except ValueError:
        names = ", ".join(choices)
        raise InputError(f"input {name} must be one of {names}, got {value[:40]!r}") from None


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
        return setting(args, env, name, DEFAULTS[name])

    dry = get("dry-run").lower()
    if dry not in ("true", "false"):
        raise InputError(f"input dry-run must be true or false, got {dry[:20]!r}")
    return Settings(
        registry=get("registry") or None,
        history=get("history") or None,
        comment=_choice("comment", get("comment"), CommentMode),
        comment_author=get("comment-author"),
        check_run=_choice("check-run", get("check-run"), CheckRunMode),
        check_name=plain(get("check-name"), 100, one_line=True),
        patch_policy=_patch_policy(get("suggest-patches")),
        max_log_bytes=int(_positive("max-log-mb", get("max-log-mb"), float) * 1024 * 1024),
        request_budget=int(_positive("request-budget", get("request-budget"), int)),
        dry_run=dry == "true",
        deadline=monotonic() + time_limit(get("time-limit")),
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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    env = ActionsEnv.from_environ()
    if args.job and not args.log:
        raise InputError("--job goes with --log (the job of an offline log)")
    if args.log:
        return _run_offline(args, env)
    try:
        return _run_event(args, env)
    except FlakeBotError as exc:
        # The step fails with this one line on stderr (bot.cli); say it on the run page too.
        with contextlib.suppress(PublishError):
            publish_summary(env, f"**flake-bot could not triage this run:** {inline(str(exc), 500)}\n")
        raise


# ---------------------------------------------------------------------------- the event flow


def _event_path(args: argparse.Namespace, env: ActionsEnv) -> Path:
    if args.event:
        return Path(args.event)
    if env.event_path is None:
        raise InputError("no event: pass --event PATH or run inside GitHub Actions (GITHUB_EVENT_PATH)")
    return env.event_path


_MARKER_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def _published_as(settings: Settings, registry: Registry, run: RunInfo) -> tuple[Settings, str]:
    """Check-run name and comment marker for this run's workflow.

    One action can watch several workflows; a qemu run must not overwrite the unix run's sticky
    comment on the same PR, nor its check run on the same commit. The registry's first workflow
    keeps the plain name and marker (comments posted before several workflows were watched are
    found again); every other gets its workflow file in the marker and its name in the check run.
    """
    keys = (run.workflow_path, run.workflow_name)
    anonymous = not (registry.workflow or registry.workflow_file)  # a registry of one, unnamed workflow
    if not any(keys) or anonymous or registry.is_first(*keys):
        return settings, COMMENT_MARKER
    section = registry.for_workflow(run.workflow_path) or registry.for_workflow(run.workflow_name)
    label = section.workflow if section is not None and section.workflow else run.workflow_name
    stem = PurePosixPath(run.workflow_path).name or run.workflow_name
    key = _MARKER_NAME.sub("_", stem)[:60] or "workflow"
    name = plain(f"{settings.check_name} ({label or key})", 100, one_line=True)
    return dataclasses.replace(settings, check_name=name), COMMENT_MARKER.replace(" -->", f":{key} -->")


def _run_event(args: argparse.Namespace, env: ActionsEnv) -> int:
    from bot.gateway.convert import run_from_event
    from bot.orchestrate.triage_run import triage_run

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
    # Job names, runners and exclusion places are per workflow: judge with the run's own section.
    settings, marker = _published_as(settings, registry, run)
    registry = registry.judging(run.workflow_path, run.workflow_name)

    return triage_run(
        settings, env, repo=repo, run=run, default_branch=default_branch, registry=registry, marker=marker
    )


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
    from bot.commands._job import choose_job
    from bot.parse import open_log, parse_job_log

    registry_file = args.registry or env.input("registry") or None
    loaded = load_registry(registry_file)
    seen = _FirstDay()
    with open_log(args.log) as chunks:
        job_report = parse_job_log(seen.watch(chunks))
    if job_report.unreadable and not (args.job or job_report.job):
        job_name = "(unnamed)"  # nothing to judge: the verdict is "could not read the log" anyway
    else:
        choice = choose_job(args.job, job_report.job, {j for s in loaded.sections() for j in s.jobs})
        for warning in choice.warnings:
            print(f"flake-bot: warning: {warning}", file=sys.stderr)
        job_name = choice.job
    job_report = dataclasses.replace(job_report, job=job_name)
    # a log has no workflow: the job name picks the one workflow that has such a job
    registry = loaded.section_of(job_name)
    day = args.date or seen.day or datetime.now(UTC).date()
    if args.date:
        day_from = "--date"
    else:
        day_from = "the log's first timestamp" if seen.day else "today; the log has no timestamp"
    log_name = "standard input" if args.log == "-" else f"Log file {Path(args.log).name}"
    source = (
        f"{log_name}, job {job_name}. "
        f"Registry: {Path(registry_file).name if registry_file else 'bundled'}, as in force on "
        f"{day.isoformat()} ({day_from})."
    )
    created = datetime.combine(day, time(12, 0), tzinfo=UTC)
    # Offline there is no job conclusion: a log that was not wholly read may hide a failure.
    failed = (bool(job_report.failed_step) or not job_report.complete
              or any(not f.ignored for f in job_report.failures))
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
        name=job_name,
        status="completed",
        conclusion="failure" if failed else "success",
    )
    inputs = [JobInput(job, LogState.PARSED, job_report)]
    if args.history:
        from bot.orchestrate.history import history_from, rates_from
        from bot.store.sqlite import HistoryStore

        store = HistoryStore(args.history)
        if store.created:
            note = f"new empty history store at {args.history}: no history to judge with"
            print(f"flake-bot: {note}", file=sys.stderr)
        with store:
            report = triage(
                run_info,
                inputs,
                registry,
                rates=rates_from(store, registry, created),
                history=history_from(store, run_info),
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
        say(env, render_text(report, source=source))
    return 1 if report.counts.unreadable_logs else 0
