"""Incremental sync: bring the history store up to date with a workflow's runs on GitHub.

Three phases, each safe to interrupt:

1. List runs newest first and write every new one to the store as *pending*, stopping at the
   first run the store already holds, then on below any gap a cut listing left. The to-do list
   then lives in the file, so a sync cut short (request budget, rate limit, Ctrl-C) resumes
   where it stopped.
2. For each pending run that failed (or was re-run), fetch its jobs of every attempt and the
   logs of its failed jobs, then write the run in one transaction.
3. Green runs are most runs, and a jobs request per green run would blow the request budget
   (575 runs: ~470 extra requests). A green run's jobs all passed, so only their *names* are
   unknown; they are copied from the nearest runs whose jobs were fetched. Where the runs before
   and after disagree (a job was added or removed in between), the green run in the middle of
   that stretch is fetched for real, and so on (bisection), so the job set is exact around every
   change at a cost of about log2(stretch) requests.

What GitHub will not give never blocks the rest: a run whose jobs cannot be fetched (deleted:
404; a 5xx after the gateway's retries) is skipped and tried again at the end of later syncs,
and becomes a *gap* (counted as unknown, and said) once it failed `GAP_AFTER` syncs in a row, at
once for a 404. A log that cannot be downloaded is a gap of its own, tried again on later syncs
until GitHub has it or says it expired. A success fills the gap.

A sync stops fetching at its deadline (`SyncOptions.deadline`) and on SIGTERM, which a runner
sends before it kills a job that ran out of time; every run written so far is kept, and the WAL
is checkpointed into the main file as it stops and every `CHECKPOINT_EVERY` runs (the Actions
cache keeps only the main file).

Over 500 lines, as one module on purpose: the three phases share the resumption state and
the gap rules, and each is only safe to interrupt together with the others.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from types import FrameType, TracebackType
from typing import Protocol, TextIO

from bot.errors import BudgetExhausted, GatewayError, LogUnavailable, PermissionDenied, RateLimited
from bot.records import JobInfo, JobReport, LogState, Problem, ProblemKind, RunInfo
from bot.store.sqlite import FAILED_JOB, NOT_A_RESULT, HistoryStore, JobsState, Template

MAX_LOG_BYTES = 64 * 1024 * 1024  # a job log is attacker-sized; the parser keeps what matters
LISTING_CAP = 1000  # runs GitHub returns at most for a filtered listing
MAX_RUN_AGE = timedelta(days=35)  # GitHub ends any workflow run after 35 days
GAP_AFTER = 3  # syncs in a row a run's jobs must fail (5xx, time-out) before it is a gap; 404: at once
DOWN_AFTER = 3  # runs in a row failing in one sync: GitHub is down, not the runs; stop
LOG_TRIES = 3  # syncs that try to download one log before it stays a gap


class Gateway(Protocol):
    """The calls sync makes; `bot.gateway.client.GitHubGateway` provides them."""

    @property
    def requests_made(self) -> int: ...

    def iter_runs(
        self,
        workflow: str,
        *,
        branch: str | None = None,
        event: str | None = None,
        created: str | None = None,
    ) -> Iterable[RunInfo]: ...

    def list_jobs(
        self, run_id: int, *, attempt: int | None = None, all_attempts: bool = False
    ) -> list[JobInfo]: ...

    def job_log(self, job_id: int, *, max_bytes: int, time_limit: float | None = None) -> LogStream: ...


class LogStream(Protocol):
    """A streamed job log (`bot.gateway.download.LogDownload`): iterate once, then close."""

    truncated: bool

    def __iter__(self) -> Iterator[bytes]: ...

    def __enter__(self) -> LogStream: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


LogParser = Callable[[Iterable[bytes], str], JobReport]


@dataclass(frozen=True)
class SyncOptions:
    workflow: str
    branch: str | None = None
    event: str | None = None
    since: date | None = None
    scan_green: bool = False
    default_branch: str | None = None  # whose green pushes --scan-green reads
    # the workflow path whose pending runs this sync finishes (None: every workflow's), so that
    # syncing several workflows into one store spends each one's budget on its own runs
    only_workflow: str | None = None
    # with scan_green: also read the green logs of default-branch pushes recorded earlier without
    # them (by triage's sync, which skips green logs), created on or after this instant
    reread_since: datetime | None = None
    # `time.monotonic()` after which nothing more is fetched: what is stored stays, the rest waits
    deadline: float | None = None


@dataclass
class SyncResult:
    runs_added: int = 0
    jobs: int = 0
    logs_parsed: int = 0
    logs_expired: int = 0
    logs_missing: int = 0
    logs_unreadable: int = 0  # download failed after retries: left not-fetched
    runs_reread: int = 0  # stored runs whose green logs were read now (`SyncOptions.reread_since`)
    logs_parsed_late: int = 0  # logs earlier syncs could not download, read now (gaps filled)
    requests: int = 0
    pending: int = 0
    stopped: str | None = None
    error: GatewayError | None = None
    skipped: list[str] = field(default_factory=list)  # what GitHub would not give this time, and why
    gaps: int = 0  # gaps in the store after the sync (runs and logs), counted as unknown
    began: datetime = field(default_factory=lambda: datetime.now(UTC))

    def line(self) -> str:
        text = (
            f"sync: {self.runs_added} runs added, {self.jobs} jobs, {self.logs_parsed} logs parsed, "
            f"{self.logs_expired} logs expired, {self.requests} requests used"
        )
        if self.logs_unreadable:
            text += f", {self.logs_unreadable} logs could not be downloaded"
        if self.runs_reread:
            text += f", green logs read for {self.runs_reread} runs recorded earlier without them"
        if self.logs_parsed_late:
            text += f", {self.logs_parsed_late} logs read that earlier syncs could not download"
        if self.skipped:
            more = len(self.skipped) - 3
            shown = "; ".join(self.skipped[:3]) + (f"; {more} more" if more > 0 else "")
            text += f"; skipped, tried again next sync: {shown}"
        if self.gaps:
            text += f"; {self.gaps} gaps (runs or logs GitHub would not give) counted as unknown"
        if self.stopped:
            text += f"; stopped early ({self.stopped}), {self.pending} runs left: run sync again to continue"
        return text


class OutOfTime(Exception):
    """The sync's deadline passed: stop fetching, keep what is stored."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, which a runner sends a job before killing it: stop like Ctrl-C, keep what is stored."""


@contextlib.contextmanager
def _terminate_stops() -> Iterator[None]:
    """While a sync runs, SIGTERM interrupts it like Ctrl-C, so it stops between two writes and
    checkpoints, instead of dying with its last minutes of work in the WAL only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_time(options: SyncOptions) -> None:
    if options.deadline is not None and time.monotonic() >= options.deadline:
        raise OutOfTime()


def _download_limit(options: SyncOptions) -> float | None:
    """What is left before the deadline, for one log download (the gateway has a limit of its
    own for every download, however steadily its bytes trickle in)."""
    if options.deadline is None:
        return None
    return max(1.0, options.deadline - time.monotonic())


class Progress:
    """A bar on a terminal; on a log (CI) a plain line at most every `interval` seconds."""

    def __init__(self, stream: TextIO | None = None, *, interval: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self._last: float | None = None  # the first update always prints
        self._drawn = False

    def listing(self, listed: int, requests: int) -> None:
        """While runs are listed (a first sync lists a page of 100 per request, for minutes on a
        long history), before the bar knows its total."""
        self._show(f"listing runs: {listed} new so far, {requests} requests", final=False)

    def update(self, done: int, total: int, requests: int) -> None:
        if self.tty:
            width = 30
            filled = width * done // total if total else width
            bar = "#" * filled + "." * (width - filled)
            self._show(f"[{bar}] {done}/{total} runs, {requests} requests", final=False)
        else:
            self._show(f"{done}/{total} runs done, {requests} requests", final=done == total)

    def _show(self, text: str, *, final: bool) -> None:
        now = time.monotonic()
        if self.tty:
            self.stream.write(f"\r{text}\x1b[K")  # erase what a longer earlier line left
            self.stream.flush()
            self._drawn = True
        elif self._last is None or now - self._last >= self.interval or final:
            self.stream.write(f"sync: {text}\n")
            self._last = now

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self._drawn = False


def sync(
    store: HistoryStore,
    gateway: Gateway,
    options: SyncOptions,
    *,
    parse: LogParser,
    progress: Progress | None = None,
    max_log_bytes: int = MAX_LOG_BYTES,
) -> SyncResult:
    """Run the three phases; `result.stopped` says why it ended early (the store stays consistent:
    every run is written whole or not at all). Ctrl-C also ends it with `stopped="interrupted"`,
    so the caller can still print what was done."""
    result = SyncResult()
    before = store.counts()
    start_requests = gateway.requests_made
    try:
        with _terminate_stops():
            _list_new_runs(store, gateway, options, progress)
            _fetch_pending(store, gateway, options, parse, progress, result, max_log_bytes)
            _retry_log_gaps(store, gateway, options, parse, result, max_log_bytes)
            _reread_green(store, gateway, options, parse, result, max_log_bytes)
    except GatewayError as exc:
        result.stopped = str(exc)
        result.error = exc
    except OutOfTime:
        result.stopped = "time limit reached"
    except Terminated:
        result.stopped = "terminated (SIGTERM)"
    except KeyboardInterrupt:
        result.stopped = "interrupted"
    finally:
        if progress:
            progress.finish()
        with contextlib.suppress(sqlite3.Error):  # a full disk is reported by what raised it
            store.checkpoint()
        after = store.counts()
        result.runs_added = after["runs"] - before["runs"]
        result.jobs = after["jobs"] - before["jobs"]
        result.logs_parsed = after.get("log_parsed", 0) - before.get("log_parsed", 0)
        result.logs_expired = after.get("log_expired", 0) - before.get("log_expired", 0)
        result.logs_missing = after.get("log_missing", 0) - before.get("log_missing", 0)
        result.pending = after["pending"]
        result.gaps = after["gaps"]
        result.requests = gateway.requests_made - start_requests
    return result


def _created_filter(since: date | None, before: datetime | None) -> str | None:
    """GitHub's search date syntax for runs created on or after `since` and at or before `before`."""
    upper = before.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if before else None
    if since and upper:
        return f"{since.isoformat()}..{upper}"
    if since:
        return f">={since.isoformat()}"
    return f"<={upper}" if upper else None


def _list_new_runs(
    store: HistoryStore, gateway: Gateway, options: SyncOptions, progress: Progress | None = None
) -> None:
    """Phase 1: the top of the listing, then on from wherever an earlier listing was cut.

    Every run below a listed run was listed too, except below a *gap*, the point where a listing
    was cut (request budget, rate limit, Ctrl-C), which the store keeps. So each pass stops at
    the first run already listed, and a sync cut in this phase resumes below its gap instead of
    walking the listed runs again from the top (a budget smaller than those pages would never
    get past them).
    """
    listing = "\t".join((options.workflow, options.branch or "", options.event or ""))
    gaps = store.listing_gaps(listing)
    found = 0

    def listed(new: int) -> None:
        nonlocal found
        found += new
        if progress:
            progress.listing(found, gateway.requests_made)

    unfinished = store.oldest_unfinished()
    _list_pass(store, gateway, options, listing, start=None, unfinished=unfinished, listed=listed)
    for gap in gaps:
        _list_pass(store, gateway, options, listing, start=gap, unfinished=None, listed=listed)


def _list_pass(
    store: HistoryStore,
    gateway: Gateway,
    options: SyncOptions,
    listing: str,
    *,
    start: datetime | None,
    unfinished: datetime | None,
    listed: Callable[[int], None],
) -> None:
    """List runs created at or before `start` (None: the newest), newest first, until one already
    listed; the gap at `start` moves down with every batch recorded and goes once the pass ends.

    Runs still in progress when last listed are looked for again: the pass goes on past listed
    runs until it is older than the oldest of them. GitHub returns at most 1,000 runs for a
    listing with any filter (branch, event, created); when a filtered listing hits that cap, it
    is asked again for the runs created at or before the oldest one seen, and so on. `listed`
    hears how many new runs each batch recorded (progress).
    """
    filtered = bool(options.branch or options.event or options.since or start)
    gap, before, last = start, start, start
    batch: list[RunInfo] = []

    def record(new_gap: datetime | None) -> None:
        nonlocal gap, batch
        store.record_listed_runs(batch, gap=(listing, gap, new_gap))
        listed(len(batch))
        gap, batch = new_gap, []

    try:
        while True:
            runs = gateway.iter_runs(
                options.workflow,
                branch=options.branch,
                event=options.event,
                created=_created_filter(options.since, before),
            )
            seen = 0
            for run in runs:
                _check_time(options)
                if unfinished is not None and run.created_at - unfinished > MAX_RUN_AGE:
                    unfinished = None  # deleted, or stuck for longer than any run can last: stop waiting
                seen, last = seen + 1, run.created_at
                if store.is_listed(run):
                    # runs at the listing's upper bound were seen by the listing before this one
                    at_bound = before is not None and run.created_at >= before
                    if not at_bound and (unfinished is None or run.created_at < unfinished):
                        record(None)
                        return
                    continue
                batch.append(run)
                if len(batch) >= 100:
                    record(last)
                if filtered and seen >= LISTING_CAP:
                    break
            if not filtered or seen < LISTING_CAP or last == before:
                record(None)
                return
            before = last
    except BaseException:
        record(last)  # cut: the next sync lists on from the oldest run seen
        raise


def _is_default_push(run: RunInfo, options: SyncOptions) -> bool:
    return run.event == "push" and options.default_branch is not None and run.branch == options.default_branch


def _needs_jobs(run: RunInfo, options: SyncOptions) -> bool:
    """Failed runs, re-run runs (an earlier attempt may have failed) and, with --scan-green, green
    pushes to the default branch (their logs can hold ignored flaky failures)."""
    return (
        run.conclusion != "success"
        or run.attempt > 1
        or (options.scan_green and _is_default_push(run, options))
    )


def _fetch_pending(
    store: HistoryStore,
    gateway: Gateway,
    options: SyncOptions,
    parse: LogParser,
    progress: Progress | None,
    result: SyncResult,
    max_log_bytes: int,
) -> None:
    pending = store.pending_runs(workflow=options.only_workflow)
    green: list[RunInfo] = []
    done = 0
    failing = _Failing(store, result)
    for run in pending:
        _check_time(options)
        if run.conclusion is None or run.conclusion in NOT_A_RESULT:
            store.save_jobless_run(run)
        elif _needs_jobs(run, options):
            with failing.skips(run):
                result.logs_unreadable += _fetch_run(store, gateway, run, options, parse, max_log_bytes)
        else:
            green.append(run)
            continue
        done += 1
        if progress:
            progress.update(done, len(pending), gateway.requests_made)
    for resolved in _infer_green(store, gateway, green, options, failing):
        done += resolved
        if progress:
            progress.update(done, len(pending), gateway.requests_made)


def _reread_green(
    store: HistoryStore,
    gateway: Gateway,
    options: SyncOptions,
    parse: LogParser,
    result: SyncResult,
    max_log_bytes: int,
) -> None:
    """Phase 4, after the new runs: default-branch pushes stored without their green logs are
    fetched again like a new run, newest first, each rewritten whole in one transaction (a
    budget that runs out mid-run leaves it as it was, for the next sync). A log expired since is
    recorded as such, so no run is asked for twice once GitHub has nothing left to give."""
    if not (options.scan_green and options.reread_since and options.default_branch):
        return
    key = options.only_workflow or options.workflow
    for run in store.unread_green_pushes(key, options.default_branch, options.reread_since):
        _check_time(options)
        result.logs_unreadable += _fetch_run(store, gateway, run, options, parse, max_log_bytes)
        result.runs_reread += 1


class _Failing:
    """Runs GitHub would not give in this sync: each is noted in the store (a gap once it failed
    `GAP_AFTER` syncs in a row, at once when deleted) and skipped, so the runs after it go on.
    `DOWN_AFTER` failures in a row that are not 404s mean GitHub itself is failing: the sync
    stops, as before, rather than mark every run."""

    def __init__(self, store: HistoryStore, result: SyncResult) -> None:
        self.store = store
        self.result = result
        self.in_a_row = 0

    @contextlib.contextmanager
    def skips(self, run: RunInfo) -> Iterator[None]:
        try:
            yield
        except (BudgetExhausted, RateLimited, PermissionDenied):
            raise
        except GatewayError as exc:
            if exc.status == 401:
                raise
            deleted = exc.status in (404, 410)
            reason = _reason(exc)
            gap = self.store.note_failure(
                run.id, 0, reason, gap_after=1 if deleted else GAP_AFTER, now=datetime.now(UTC)
            )
            self.result.skipped.append(f"run {run.id}: {reason}" + (", now a gap" if gap else ""))
            if not deleted:
                self.in_a_row += 1
                if self.in_a_row >= DOWN_AFTER:
                    raise
        else:
            self.in_a_row = 0


def _reason(exc: GatewayError) -> str:
    if exc.status == 404:
        return "not found (404): deleted?"
    return " ".join(str(exc).split())[:150]


def _fetch_run(
    store: HistoryStore,
    gateway: Gateway,
    run: RunInfo,
    options: SyncOptions,
    parse: LogParser,
    max_log_bytes: int,
) -> int:
    """Jobs of every attempt (re-run flakes stay visible), then the logs worth reading; the run is
    written only when all of it is in hand, so an interruption leaves no half-written run.
    A log that could not be downloaded is written as not fetched and noted as a gap, tried
    again by later syncs. Returns how many logs could not be downloaded."""
    jobs = gateway.list_jobs(run.id, all_attempts=True)
    scan = options.scan_green and _is_default_push(run, options)
    logs: dict[int, JobReport | LogState] = {}
    unread: dict[int, str] = {}
    for job in jobs:
        if job.conclusion in FAILED_JOB or (scan and job.conclusion == "success"):
            _check_time(options)
            logs[job.id], why = _read_log(gateway, job, parse, max_log_bytes, _download_limit(options))
            if why:
                unread[job.id] = why
    store.save_run(run, jobs, logs)
    for job_id, why in unread.items():
        store.note_failure(run.id, job_id, why, gap_after=1, now=datetime.now(UTC))
    return len(unread)


def _retry_log_gaps(
    store: HistoryStore,
    gateway: Gateway,
    options: SyncOptions,
    parse: LogParser,
    result: SyncResult,
    max_log_bytes: int,
) -> None:
    """Logs earlier syncs could not download, tried again after the new runs (each at most
    `LOG_TRIES` times in all: a log host that trickles would cost every sync its download
    limit). Read now, or found expired, the gap is filled."""
    gaps = store.log_gaps(workflow=options.only_workflow, tries=LOG_TRIES, before=result.began)
    for run_id, attempt, job_id, name in gaps:
        _check_time(options)
        job = JobInfo(id=job_id, run_id=run_id, attempt=attempt, name=name, status="completed",
                      conclusion="failure")  # fmt: skip
        found, why = _read_log(gateway, job, parse, max_log_bytes, _download_limit(options))
        if why:
            store.note_failure(run_id, job_id, why, gap_after=1, now=datetime.now(UTC))
            continue
        store.save_log(run_id, attempt, name, found)
        result.logs_parsed_late += isinstance(found, JobReport)


def _read_log(
    gateway: Gateway, job: JobInfo, parse: LogParser, max_log_bytes: int, time_limit: float | None
) -> tuple[JobReport | LogState, str]:
    """Stream and parse one log. A log cut at the size cap is kept but marked incomplete, so
    nothing downstream calls what was not read "clean".

    A download that fails for this log alone (a blob host error, a connection cut mid-stream,
    after the gateway's retries) leaves it `not-fetched` and the sync goes on: one bad log must
    not block every later sync at the same run. A spent budget, a rate limit or a missing
    permission concern every request, so they stop the sync instead. Returns the log (or why
    there is none) and, when it could not be downloaded, the reason.
    """
    try:
        with gateway.job_log(job.id, max_bytes=max_log_bytes, time_limit=time_limit) as log:
            report = parse(log, job.name)
            truncated = log.truncated
    except LogUnavailable as exc:
        return (LogState.EXPIRED if exc.status == 410 else LogState.MISSING), ""
    except (BudgetExhausted, RateLimited, PermissionDenied):
        raise
    except GatewayError as exc:
        return LogState.NOT_FETCHED, f"log of job {job.id} ({job.name[:60]}): {_reason(exc)}"
    if truncated:
        cut = Problem(ProblemKind.TRUNCATED, f"log cut at {max_log_bytes} bytes; the rest was not read")
        report = replace(report, complete=False, problems=(*report.problems, cut))
    return report, ""


def _names(template: Template | None) -> frozenset[str] | None:
    return frozenset(n for n, _ in template.jobs) if template is not None else None


_Key = tuple[frozenset[str] | None, frozenset[str] | None]


def _infer_green(
    store: HistoryStore, gateway: Gateway, green: list[RunInfo], options: SyncOptions, failing: _Failing
) -> Iterable[int]:
    """Phase 3 (see the module docstring). Yields how many runs each round resolved.

    Runs are grouped by the job names of their fetched neighbours; a group whose neighbours
    agree (or that has only one) refers to the nearest earlier one, any other group has its
    middle run fetched and the rest is looked at again in the next round (so is a workflow with
    no fetched run at all: one green run is fetched to learn its jobs). A middle run whose jobs
    GitHub would not give is skipped (see `_Failing`) and the others looked at again.
    """
    todo = sorted(green, key=lambda r: r.created_at)
    while todo:
        groups: dict[_Key, list[tuple[RunInfo, Template | None, Template | None]]] = {}
        for run in todo:
            before, after = store.nearest_templates(run.created_at, workflow=run.workflow_path)
            groups.setdefault((_names(before), _names(after)), []).append((run, before, after))
        todo = []
        resolved = 0
        for (names_before, names_after), members in groups.items():
            disagree = names_before is not None and names_after is not None and names_before != names_after
            if disagree or (names_before is None and names_after is None):
                # fetch one run (the middle one) and look at the rest again
                middle = members[len(members) // 2][0]
                _check_time(options)
                with failing.skips(middle):
                    store.save_run(middle, gateway.list_jobs(middle.id), {}, jobs_state=JobsState.FETCHED)
                resolved += 1
                todo.extend(run for run, _, _ in members if run is not middle)
                continue
            for run, before, after in members:
                template = before or after
                assert template is not None  # both None was handled above
                store.save_inferred_run(run, template.run_id)
                resolved += 1
        todo.sort(key=lambda r: r.created_at)
        yield resolved
