"""`flake-bot triage --log FILE`: one job log on disk judged offline, as the action would judge
it (the registry in force on the log's day, rates from `--history` when given), printed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path

from bot.actions_env import ActionsEnv, inert_json
from bot.findings import JobInput
from bot.orchestrate import app
from bot.orchestrate.console import say
from bot.orchestrate.inputs import REGISTRY
from bot.records import JobInfo, LogState, RunInfo
from bot.render import outputs, render_text
from bot.render.verdict_words import headline
from bot.triage import triage


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


def triage_offline(args: argparse.Namespace, env: ActionsEnv) -> int:
    from bot.orchestrate.job_choice import choose_job
    from bot.parse import open_log, parse_job_log

    registry_file = REGISTRY.read(args, env) or None
    loaded = app.registry(registry_file)
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

        store = app.store(args.history)
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
            "headline": headline(report),
            "counts": report.counts.as_json(),
            "failures": json.loads(data["failures"]),
            "job": job_report.to_json(),
        }
        # inert without the stop-commands wrapper, which would make it invalid JSON for `jq`
        sys.stdout.write(inert_json(payload) + "\n")
    else:
        say(env, render_text(report, source=source))
    return 1 if report.counts.unreadable_logs else 0
