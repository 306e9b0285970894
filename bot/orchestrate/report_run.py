"""The run of `flake-bot report` (its arguments: `bot.commands.report`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from bot.actions_env import inert_json
from bot.errors import InputError
from bot.orchestrate import app
from bot.orchestrate.when import day
from bot.registry import Registry
from bot.render.report import render_across, render_report
from bot.render.sanitize import inline
from bot.report import across_json, across_workflows, build_report, to_json
from bot.store.sqlite import HistoryStore, Window


def _utc(text: str | None, option: str, *, end: bool = False) -> datetime | None:
    """A YYYY-MM-DD day in UTC: its first second, or with `end` its last (days are inclusive).

    Read after argparse, with the same parser as every command's day, so that a mistyped day is
    the one-line error this command gives for every other input mistake.
    """
    if text is None:
        return None
    try:
        start = datetime.combine(day(text), time(0, 0), tzinfo=UTC)
    except ValueError as exc:
        raise InputError(f"{option}: {exc}") from None
    return start + timedelta(days=1, seconds=-1) if end else start


def _per_workflow(
    store: HistoryStore,
    window: Window,
    workflows: list[tuple[str, str, int]],
    registry: Registry | None,
    now: datetime,
    output: str,
    gaps: list[tuple[int, int, str, int]],
) -> str:
    """One report per workflow (each judged by its own registry section), after the tests that
    failed in more than one of them: job names repeat across workflows (`build`), so one report
    over all of them would mix jobs and rates."""
    tests = across_workflows(store, window)
    names = [name for _, name, _ in workflows]
    reports = []
    for path, name, _ in workflows:
        key = name if name and names.count(name) == 1 else path
        judged = registry.judging(path, name) if registry is not None else None
        own = dataclasses.replace(window, workflow=key)
        reports.append(build_report(store, own, now=now, registry=judged))
    if output == "json":
        doc = {
            "across_workflows": across_json(workflows, tests),
            "reports": [to_json(r) for r in reports],
            "gaps": _gaps_json(gaps),
        }
        return inert_json(doc) + "\n"
    text = "\n".join([render_across(workflows, tests), *(render_report(r) for r in reports)])
    return text + _gaps_markdown(gaps)


def _gaps_markdown(gaps: list[tuple[int, int, str, int]]) -> str:
    """The gaps of the window: without them a run GitHub would not give (deleted, or failing
    every time) would silently shrink the denominators, or look like a pass."""
    if not gaps:
        return ""
    runs = sum(1 for _, job, _, _ in gaps if job == 0)
    shown = "; ".join(
        f"run {run_id}" + (f" job {job}" if job else "") + f": {inline(reason, 200)}"
        for run_id, job, reason, _ in gaps[:10]
    )
    more = f"; {len(gaps) - 10} more" if len(gaps) > 10 else ""
    return (
        f"\n**Gaps:** {runs} runs and {len(gaps) - runs} job logs that GitHub would not give are "
        f"counted as unknown, neither passed nor failed ({shown}{more}).\n"
    )


def _gaps_json(gaps: list[tuple[int, int, str, int]]) -> list[dict[str, object]]:
    return [{"run_id": r, "job_id": j or None, "reason": why, "syncs_failed": n} for r, j, why, n in gaps]


def run(args: argparse.Namespace) -> int:
    window = Window(
        since=_utc(args.since, "--since"),
        until=_utc(args.until, "--until", end=True),
        branch=args.branch,
        event=args.event,
        workflow=args.workflow,
    )
    registry = None
    if not args.no_registry:

        registry = app.registry(args.registry)
    now = datetime.now(UTC)
    # no integrity check of the whole file first: a report reads only, and meets damage anyway
    with app.store(args.db, create=False, check=False) as store:
        gaps = store.gaps(window)
        workflows = store.workflows(window) if args.workflow is None else []
        if len(workflows) > 1:
            text = _per_workflow(store, window, workflows, registry, now, args.format, gaps)
        else:
            # job names, runners and exclusion places are the workflow's own
            judged = registry.judging(args.workflow or "", *(w[0] for w in workflows)) if registry else None
            report = build_report(store, window, now=now, registry=judged)
            if args.format == "json":
                text = inert_json(to_json(report) | {"gaps": _gaps_json(gaps)}) + "\n"
            else:
                text = render_report(report) + _gaps_markdown(gaps)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{args.output}: cannot write the report: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)
    return 0
