"""One triage of a completed workflow run, end to end: the requests around the decisions.

`triage_run` lists the run's jobs, reads the failed jobs' logs while the budget allows
(`decisions.may_read_log`), brings the history store up to date with a second gateway of its
own budget, judges (`bot.triage.triage`), and publishes what `decisions.plan_publishing` says,
then always the job summary and step outputs. Each step is thin: what to do is decided in
`bot.orchestrate.decisions`; `bot.commands.triage` only parses arguments and settings.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.actions_env import ActionsEnv
from bot.errors import GatewayError, LogUnavailable, PermissionDenied, PublishError, StoreError
from bot.findings import JobInput, TriageReport
from bot.gateway.client import GitHubGateway
from bot.gateway.tree import ApiTree
from bot.orchestrate import app
from bot.orchestrate.console import say, warn
from bot.orchestrate.decisions import (
    PULL_REQUEST_EVENTS,
    PublishFailure,
    PublishPlan,
    Settings,
    exit_status,
    history_sync_budget,
    may_read_log,
    plan_publishing,
    publish_failure,
)
from bot.orchestrate.history import history_from, other_workflows_from, rates_from, sync_history
from bot.patch_rules import write_patches
from bot.publish.summary import publish_outputs, publish_summary
from bot.records import JobInfo, JobReport, LogState, Problem, ProblemKind, RunInfo
from bot.registry import Registry
from bot.registry.upstream_sync import DEFAULT_WORKFLOW
from bot.render import (
    COMMENT_MARKER,
    outputs,
    render_check,
    render_comment,
    render_step_summary,
    render_text,
)
from bot.render.sanitize import link, plain
from bot.store.errors import UnusableStore
from bot.store.sqlite import HistoryStore
from bot.triage import check_conclusion, triage

# ---------------------------------------------------------------------------- the run


def triage_run(
    settings: Settings,
    env: ActionsEnv,
    *,
    repo: str,
    run: RunInfo,
    default_branch: str,
    registry: Registry,
    marker: str = COMMENT_MARKER,
) -> int:
    """Triage `run` and publish the report; returns the exit status (`decisions.exit_status`).
    `marker` finds the run's workflow's own sticky comment (one per workflow on a PR)."""
    budget = settings.request_budget
    gateway = app.github(env, repo, budget)
    try:
        jobs = gateway.list_jobs(run.id, attempt=run.attempt)
        inputs = read_logs(gateway, jobs, settings)
        report, history_line = _judge(settings, env, repo, run, inputs, registry, gateway, default_branch)
        if history_line:
            print(f"flake-bot: {plain(history_line, 500, one_line=True)}", file=sys.stderr)
        plan = plan_publishing(
            settings,
            event=run.event,
            branch=run.branch,
            default_branch=default_branch,
            attempt=run.attempt,
            jobs_failed=report.counts.jobs_failed,
        )
        return _publish(settings, env, repo, run, report, gateway, plan, marker)
    finally:
        gateway.close()


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


def read_logs(gateway: GitHubGateway, jobs: Sequence[JobInfo], settings: Settings) -> list[JobInput]:
    """Each failed job's log while `may_read_log` allows; the others are reported as not read."""
    inputs = []
    read = False
    for job in jobs:
        if may_read_log(
            conclusion=job.conclusion,
            read_before=read,
            requests_made=gateway.requests_made,
            budget=settings.request_budget,
        ):
            inputs.append(_read_failed_job(gateway, job, settings.max_log_bytes))
            read = True
        else:
            inputs.append(JobInput(job, LogState.NOT_FETCHED, None))
    return inputs


# ---------------------------------------------------------------------------- patches


def _patcher(
    gateway: GitHubGateway, registry: Registry, ref: str, workflow: str
) -> Callable[[str, Sequence[str]], str | None]:
    from bot.registry.patch import suggest_patch

    tree = ApiTree(gateway, ref)

    def patch(test: str, jobs: Sequence[str]) -> str | None:
        # The workflow at `ref` says which ci.sh functions and runner each job has.
        return suggest_patch(tree, registry, test=test, jobs=jobs, workflow=workflow).diff or None

    return patch


# ---------------------------------------------------------------------------- history


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
    """Triage with rates and evidence when a history store is configured and readable; without
    them otherwise. Patches are written after judging, only for the findings that earned one."""
    patcher = _patcher(gateway, registry, default_branch, run.workflow_path or DEFAULT_WORKFLOW)
    on_default = run.event == "push" and run.branch == default_branch
    if not settings.history:
        report = triage(
            run, inputs, registry, patch_policy=settings.patch_policy, on_default_branch=on_default
        )
        return write_patches(report, patcher), ""
    path = Path(settings.history)
    try:
        store, notes = app.open_store(path, beside_foreign=True)
        for note in notes:
            if note.startswith("new empty"):
                print(f"flake-bot: {plain(note, 500, one_line=True)}", file=sys.stderr)
            else:
                warn(env, note)
        with store:
            failures = sum(len(i.report.failures) for i in inputs if i.report)
            budget = history_sync_budget(
                budget=settings.request_budget, requests_made=gateway.requests_made, failures=failures
            )
            stored = store.run_state(run.id)
            if on_default and stored is not None and stored[0] < run.attempt:
                # A re-run of an older push: the listing stops above it, so mark it to fetch again
                # (every attempt, passing jobs included) or its new attempt is never recorded.
                store.record_listed_runs([run])
            line = sync_history(store, env, repo, run, default_branch, budget, settings.deadline)
            workflow = run.workflow_path or None
            report = triage(
                run,
                inputs,
                registry,
                rates=rates_from(store, registry, run.created_at, workflow),
                history=history_from(store, run, workflow, default_branch),
                other_workflows=other_workflows_from(store, run, workflow, default_branch),
                patch_policy=settings.patch_policy,
                on_default_branch=on_default,
            )
            try:
                _record_pull_attempt(store, run, inputs)
            except sqlite3.Error as exc:  # the report stands: only later attempts lose this evidence
                warn(env, f"could not record this pull request attempt in {path}: {exc}")
    except (StoreError, UnusableStore, sqlite3.Error, OSError) as exc:
        # A damaged cache must not cost the report: judge without history and say why.
        warn(env, f"history store {path} unusable, rates left out: {exc}")
        report = triage(
            run, inputs, registry, patch_policy=settings.patch_policy, on_default_branch=on_default
        )
        line = ""
    return write_patches(report, patcher), line


def _record_pull_attempt(store: HistoryStore, run: RunInfo, inputs: Sequence[JobInput]) -> None:
    """A pull request's attempt, kept for its later attempts' same-commit flips (after judging:
    an attempt is never its own evidence), apart from the default branch's history."""
    from bot.store.pull_attempts import save_pull_attempt

    if run.event in PULL_REQUEST_EVENTS:
        save_pull_attempt(store, run, [(i.job, i.report) for i in inputs])


# ---------------------------------------------------------------------------- publishing


def _actions_run_url(env: ActionsEnv, repo: str) -> str | None:
    """The bot's own run page, whose summary holds the full report."""
    run_id = env.run_id or ""
    return f"{env.server_url}/{repo}/actions/runs/{run_id}" if run_id.isdigit() else None


def _publish(
    settings: Settings,
    env: ActionsEnv,
    repo: str,
    run: RunInfo,
    report: TriageReport,
    gateway: GitHubGateway,
    plan: PublishPlan,
    marker: str = COMMENT_MARKER,
) -> int:
    """Post the check run and the comment as planned, then always the summary and outputs."""
    from bot.publish.checks import publish_check_run
    from bot.publish.comment import upsert_sticky_comment

    summary_url = _actions_run_url(env, repo)
    comment_url = check_url = ""
    notes: list[str] = []
    failure: PublishFailure | None = None
    try:
        if plan.check_run:
            check = render_check(report, details_url=summary_url)
            if settings.dry_run:
                count = len(check.annotations)
                say(
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

        if plan.comment:
            pr = gateway.find_pull_request(run, repo)
            if pr is None:
                notes.append("No open pull request has this run's head commit; no comment posted.")
            else:
                details = check_url or summary_url

                def render(previous: str | None) -> str:
                    return render_comment(report, marker=marker, details_url=details, previous=previous)

                if settings.dry_run:
                    create = plan.create_comment
                    say(env, _comment_preview(gateway, pr.number, render, settings, create, marker))
                else:
                    outcome = upsert_sticky_comment(
                        gateway,
                        pr.number,
                        render,
                        marker=marker,
                        author=settings.comment_author,
                        create=plan.create_comment,
                    )
                    comment_url = outcome.url
                    notes.append(f"Comment on #{pr.number}: {outcome.action} {comment_url}".rstrip())
    except (PublishError, GatewayError) as exc:  # a GatewayError here: finding the PR failed
        failure = publish_failure(exc)
        if failure.warn(in_actions=env.in_actions):
            warn(env, failure.warning)
        notes.append(failure.note)
    finally:
        _summary_and_outputs(env, report, comment_url, check_url, notes)

    say(env, render_text(report))
    for note in notes:
        if failure is not None and failure.misconfigured and note == failure.note:
            continue  # the error line below says it
        print(f"flake-bot: {plain(note, 500, one_line=True)}", file=sys.stderr)
    print(f"flake-bot: {gateway.requests_made} API requests", file=sys.stderr)
    if failure is not None and failure.misconfigured:
        print(f"flake-bot: error: {plain(failure.error, 500, one_line=True)}", file=sys.stderr)
    return exit_status(failure)


def _comment_preview(
    gateway: GitHubGateway,
    number: int,
    render: Callable[[str | None], str],
    settings: Settings,
    create: bool,
    marker: str = COMMENT_MARKER,
) -> str:
    """What a real run would do to the sticky comment, found by reading only."""
    from bot.publish.comment import find_sticky

    existing = find_sticky(gateway.list_issue_comments(number), marker, settings.comment_author)
    if existing is not None:
        return (
            f"[dry run] would update the comment {existing.html_url} on #{number}:\n{render(existing.body)}"
        )
    if not create:
        return f"[dry run] no comment on #{number}: nothing failed and none exists to update"
    return f"[dry run] would create a comment on #{number}:\n{render(None)}"


def _summary_and_outputs(
    env: ActionsEnv, report: TriageReport, comment_url: str, check_url: str, notes: Sequence[str]
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
        warn(env, str(exc))
