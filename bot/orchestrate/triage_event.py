"""A triage from its start: the event read, the settings, the run's workflow picked out of the
registry, then `bot.orchestrate.triage_run`; or, with `--log`, `bot.orchestrate.triage_offline`.

Any error before the analysis ends the step with one line (exit 1 or 2, `bot.cli`), said on the
run page too.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import re
from pathlib import Path, PurePosixPath

from bot.actions_env import ActionsEnv, read_event
from bot.errors import FlakeBotError, InputError, PublishError
from bot.orchestrate import app
from bot.orchestrate.decisions import Settings
from bot.orchestrate.inputs import triage_settings
from bot.publish.summary import publish_summary
from bot.records import RunInfo
from bot.registry import Registry
from bot.render import COMMENT_MARKER
from bot.render.sanitize import inline, plain


def triage_command(args: argparse.Namespace) -> int:
    env = ActionsEnv.from_environ()
    if args.job and not args.log:
        raise InputError("--job goes with --log (the job of an offline log)")
    if args.log:
        from bot.orchestrate.triage_offline import triage_offline

        return triage_offline(args, env)
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

    settings = triage_settings(args, env)
    registry = app.registry(settings.registry)  # unreadable registry: exit 2 before any request
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
