"""The history store: every run of the watched workflow, its jobs, and the tests seen failing.

One SQLite file, so it can travel between action runs in a cache. The schema is versioned with
`PRAGMA user_version` and only ever migrated forward. Writes go through `_transaction()`; a run is
written with all its jobs, outcomes and problems in one transaction and only then marked
complete, so a crash or Ctrl-C in the middle of a sync leaves either the whole run or none of it.

The store may hold 100,000 runs x 20 jobs and the report must stay under two seconds, so
executions are not stored one row per job: every run points at the set of jobs that ran in its
latest attempt (`job_sets`), job rows are kept only for runs whose jobs were fetched (failed or
re-run ones), and run-level figures come from one indexed scan grouped by (job set, day). SQL
does the grouping; Python sees a few thousand rows at most.
"""

from __future__ import annotations

import os
import sqlite3
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from bot.errors import InputError, StoreError
from bot.evidence import JobRecord, TestHistory
from bot.records import FlakeRate, JobInfo, JobReport, LogState, ProblemKind, RunInfo
from bot.stats import (
    CoFailure,
    ExclusionPolicy,
    ExecutionDay,
    JobTally,
    ObservedCause,
    Overview,
    SoleCause,
    TestTally,
    change_dates,
    executions_of,
    flake_rate,
)
from bot.store.errors import store_failure
from bot.store.opening import (
    APPLICATION_ID,
    BrokenStore,
    Finding,
    Kind,
    NotOurStore,
    beside,
    broken_message,
    inspect,
    set_aside,
)

DEFAULT_PATH = "flake-bot-history.sqlite"
MAX_SYMPTOMS = 5  # distinct symptoms kept per (test, job): enough to see a change of symptom
SAME_COMMIT_SPAN = timedelta(days=14)  # how far apart two runs of one commit are looked for
# Runs written, or seconds spent writing, between two checkpoints of the WAL into the main file:
# what a killed job loses at most (the Actions cache saves the main file only). A checkpoint
# costs a few milliseconds; a run costs 1-3 requests of ~0.1-0.3 s each, so checkpoints take
# well under 1% of a sync.
CHECKPOINT_EVERY = 10
CHECKPOINT_SECONDS = 15.0
# Syncs that ask for one run's jobs before it stays a gap for good (until GitHub lists a new
# attempt of it): a deleted run costs a request each time it is asked for.
RUN_TRIES = 6

# Run conclusions that say nothing about the code: excluded from every rate.
NOT_A_RESULT = ("cancelled", "skipped", "neutral", "stale", "action_required")
# Job conclusions that count as a failed execution.
FAILED_JOB = ("failure", "timed_out")
# Job conclusions of an execution that happened (cancelled and skipped jobs did not run tests).
RAN_JOB = ("success", *FAILED_JOB)


def _sql_list(values: tuple[str, ...]) -> str:
    """Constant tuples inlined as SQL literals (never user input)."""
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


class _RunDay(NamedTuple):
    """Runs of one day with one job set: the unit every run-level statistic is summed from."""

    job_set: int | None
    day: str
    runs: int
    failed: int
    first: str
    last: str
    reruns: int  # passed on a later attempt after an earlier attempt failed


class _JobRow(NamedTuple):
    """A job row the job-level statistics need: failed, log read, or green in an earlier attempt.
    (Green latest-attempt jobs are counted from job sets, never one row each.)"""

    run_id: int
    name: str
    day: str
    latest: bool  # of the run's latest attempt
    run_failed: bool
    failed: bool  # failure or timed_out
    parsed: bool  # its log was read
    ran_tests: bool  # green, or failed with a parsed log that got past the build


class Template(NamedTuple):
    """A fetched run whose job list stands for its green neighbours'."""

    run_id: int
    jobs: tuple[tuple[str, str | None], ...]


class JobsState:
    """How a run's job list got into the store."""

    PENDING = "pending"  # listed, jobs not fetched yet
    FETCHED = "fetched"  # from the jobs API
    INFERRED = "inferred"  # green run: job set copied from a neighbouring fetched run (saves a request)
    NONE = "none"  # cancelled/skipped run: no jobs worth storing


_MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the first schema.
    """
    CREATE TABLE job_sets (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE
    );
    CREATE TABLE job_set_jobs (
        set_id INTEGER NOT NULL REFERENCES job_sets (id),
        name TEXT NOT NULL,
        runner TEXT,
        PRIMARY KEY (set_id, name)
    ) WITHOUT ROWID;
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        attempt INTEGER NOT NULL,
        workflow TEXT NOT NULL,
        workflow_name TEXT NOT NULL,
        event TEXT NOT NULL,
        branch TEXT,
        head_sha TEXT NOT NULL,
        created TEXT NOT NULL,
        status TEXT NOT NULL,
        conclusion TEXT,
        html_url TEXT NOT NULL DEFAULT '',
        jobs_state TEXT NOT NULL DEFAULT 'pending',
        job_set INTEGER REFERENCES job_sets (id),
        complete INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_by_created ON runs (created);
    CREATE INDEX runs_for_stats ON runs (complete, conclusion, created, job_set, attempt, branch, event);
    CREATE INDEX runs_pending ON runs (complete, created);
    CREATE TABLE jobs (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        attempt INTEGER NOT NULL,
        name TEXT NOT NULL,
        job_id INTEGER,
        conclusion TEXT,
        runner TEXT,
        log_state TEXT NOT NULL,
        log_complete INTEGER,
        PRIMARY KEY (run_id, attempt, name)
    ) WITHOUT ROWID;
    CREATE INDEX jobs_by_conclusion ON jobs (conclusion, log_state);
    CREATE TABLE outcomes (
        run_id INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        job TEXT NOT NULL,
        test TEXT NOT NULL,
        test_pass TEXT NOT NULL DEFAULT '',
        runner TEXT NOT NULL,
        outcome TEXT NOT NULL,
        ignored INTEGER NOT NULL,
        symptom TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (run_id, attempt, job, test, test_pass, runner),
        FOREIGN KEY (run_id, attempt, job) REFERENCES jobs (run_id, attempt, name) ON DELETE CASCADE
    ) WITHOUT ROWID;
    CREATE INDEX outcomes_by_test ON outcomes (test);
    CREATE TABLE problems (
        run_id INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        job TEXT NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        message TEXT NOT NULL,
        step TEXT,
        PRIMARY KEY (run_id, attempt, job, seq),
        FOREIGN KEY (run_id, attempt, job) REFERENCES jobs (run_id, attempt, name) ON DELETE CASCADE
    ) WITHOUT ROWID;
    """,
    # 1 -> 2: the run-level scan every report starts with groups runs by (job set, day); this
    # covering index hands them over in that order, so SQLite neither reads the table nor sorts.
    """
    CREATE INDEX runs_by_set_day ON runs (
        job_set, substr(created, 1, 10), created, complete, conclusion, attempt, branch, event);
    """,
    # 2 -> 3: where a listing was cut (request budget, rate limit, Ctrl-C), so the next sync goes
    # on listing from there instead of walking the listed runs again from the top (which a budget
    # smaller than those pages never got past). A listing cut before this version left its listed
    # runs pending and nothing else: the gap is below the oldest of them, for any listing ('*').
    """
    CREATE TABLE listing_gaps (
        listing TEXT NOT NULL,
        before TEXT NOT NULL,
        PRIMARY KEY (listing, before)
    ) WITHOUT ROWID;
    INSERT INTO listing_gaps (listing, before)
        SELECT '*', min(created) FROM runs WHERE complete = 0 HAVING min(created) IS NOT NULL;
    """,
    # 3 -> 4: what GitHub would not give (a run's jobs, a job's log), so that one deleted or
    # always-failing run is tried again on later syncs without blocking the runs after it, and
    # becomes a *gap* (counted as unknown, said in the report) once it failed `times` syncs in a
    # row. job_id 0 stands for the run's jobs listing.
    """
    CREATE TABLE fetch_failures (
        run_id INTEGER NOT NULL,
        job_id INTEGER NOT NULL,
        reason TEXT NOT NULL,
        times INTEGER NOT NULL,
        gap INTEGER NOT NULL,
        last TEXT NOT NULL,
        PRIMARY KEY (run_id, job_id)
    ) WITHOUT ROWID;
    """,
)

SCHEMA_VERSION = len(_MIGRATIONS)


@dataclass(frozen=True)
class Window:
    """Which runs a query looks at: created at or after `since` and at or before `until` (both
    instants, inclusive; None means unbounded), on `branch`, triggered by `event`."""

    since: datetime | None = None
    until: datetime | None = None
    branch: str | None = None
    event: str | None = None
    workflow: str | None = None


def _ts(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _instant(value: datetime) -> str:
    """`_ts` to the microsecond: which sync noted a failure, when two syncs share a second."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dt(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _stored_run(r: Sequence[Any]) -> RunInfo:
    """A run row selected as `id, attempt, workflow_name, workflow, event, branch, head_sha,
    created, status, conclusion, html_url` (the store keeps no head repository)."""
    return RunInfo(
        id=r[0], attempt=r[1], workflow_name=r[2], workflow_path=r[3], event=r[4], branch=r[5],
        head_sha=r[6], head_repo=None, created_at=_dt(r[7]), status=r[8], conclusion=r[9],
        html_url=r[10],
    )  # fmt: skip


class HistoryStore:
    """A SQLite history of workflow runs. Use as a context manager, or call `close()`."""

    def __init__(self, path: str | Path = DEFAULT_PATH, *, create: bool = True, check: bool = True) -> None:
        """Open the store at `path`, or with `create` make one where nothing exists (`created`
        then says so). Anything else at `path` is refused before a byte of it is written:
        `NotOurStore` for a file flake-bot did not make, `BrokenStore` for a damaged store or one
        from a newer flake-bot (see `bot.store.opening`; `check`: look for damage first)."""
        self.path = Path(path)
        self._run_days_cache: dict[Window, list[_RunDay]] = {}
        self._job_rows_cache: dict[Window, list[_JobRow]] = {}
        self._days_cache: dict[tuple[Window, tuple[date, ...]], list[ExecutionDay]] = {}
        self._unchecked = 0  # runs written since the last checkpoint
        self._checked_at = time.monotonic()
        # ":memory:" (tests of the SQL) is SQLite's own database in memory: no file to look at
        memory = str(path) == ":memory:"
        finding = Finding(Kind.MISSING) if memory else inspect(self.path, SCHEMA_VERSION, check=check)
        if finding.kind is Kind.MISSING and not create:
            hint = f"fill one with `flake-bot sync --db {self.path} ...`"
            raise InputError(f"no history store at {self.path}; {hint}")
        if finding.kind is Kind.FOREIGN:
            raise NotOurStore(
                f"{self.path} is not a flake-bot history store ({finding.why}): left untouched; "
                "pass the path of a history store, or a new path for a new one"
            )
        if finding.kind in (Kind.DAMAGED, Kind.FUTURE):
            remedy = "run `flake-bot sync` to set it aside and build a new one from GitHub"
            if finding.kind is Kind.FUTURE:
                remedy = "upgrade flake-bot, or " + remedy
            raise BrokenStore(broken_message(self.path, finding, remedy=remedy), finding)
        self.created = finding.kind is Kind.MISSING
        try:
            if self.created and not memory:
                self._create()
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise store_failure(self.path, exc) from exc
        try:
            self._configure(self._db)
            self._migrate()
        except BaseException as exc:
            self._db.close()
            if isinstance(exc, sqlite3.Error):
                raise store_failure(self.path, exc) from exc
            raise

    def _configure(self, db: sqlite3.Connection) -> None:
        db.execute("PRAGMA foreign_keys = ON")
        self.journal_mode = str(db.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        db.execute("PRAGMA synchronous = NORMAL")

    def _create(self) -> None:
        """A new store appears whole or not at all: built beside the path, marked, migrated and
        checkpointed, then linked into place. Created in place, a job killed in its first
        second would leave an empty file, or one whose schema is only in the uncached -wal,
        which every later run would refuse as not ours."""
        self.path.parent.mkdir(parents=True, exist_ok=True)  # e.g. .flake-bot/ on a first run
        temporary = self.path.with_name(f".{self.path.name}.new-{os.getpid()}")
        temporary.unlink(missing_ok=True)
        db = sqlite3.connect(temporary, isolation_level=None, timeout=30)
        try:
            self._db = db
            self._configure(db)
            self._migrate()
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.close()
        try:
            os.link(temporary, self.path)  # never over a store another process just made
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Closes (which checkpoints the WAL into the file); an SQLite error raised while the
        store was in use leaves as the one-line error that says what to do about it."""
        self.close()
        if isinstance(exc, sqlite3.Error):
            raise store_failure(self.path, exc) from exc

    def close(self) -> None:
        self._db.close()

    def checkpoint(self) -> None:
        """Copy the WAL into the main file. The Actions cache keeps the main file only, so what
        is only in the WAL when a runner kills the job is lost; `sync` calls this every
        `CHECKPOINT_EVERY` runs and when it stops."""
        self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._unchecked = 0
        self._checked_at = time.monotonic()

    def _written(self, runs: int) -> None:
        self._unchecked += runs
        if self._unchecked >= CHECKPOINT_EVERY or time.monotonic() - self._checked_at >= CHECKPOINT_SECONDS:
            self.checkpoint()

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"history store {self.path} has schema version {version}, newer than this "
                f"flake-bot understands ({SCHEMA_VERSION}); upgrade flake-bot"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._transaction():
                for statement in _MIGRATIONS[target - 1].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {target}")
                self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        if int(self._db.execute("PRAGMA application_id").fetchone()[0]) != APPLICATION_ID:
            # a store made before the marker, recognised by its tables: marked from now on
            with self._transaction():
                self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: take the write lock up front so two syncs on one file queue, not deadlock."""
        self._run_days_cache.clear()
        self._job_rows_cache.clear()
        self._days_cache.clear()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            # SQLite rolls back by itself after some errors (a full disk): a second ROLLBACK would
            # replace the error that says what happened with "no transaction is active"
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ---------------------------------------------------------------- sync side

    def run_state(self, run_id: int) -> tuple[int, bool] | None:
        """(attempt, complete) of a stored run, or None if the run is unknown."""
        row = self._db.execute("SELECT attempt, complete FROM runs WHERE id = ?", (run_id,)).fetchone()
        return (int(row[0]), bool(row[1])) if row else None

    def is_listed(self, run: RunInfo) -> bool:
        """True if a listing would learn nothing new from `run`: stored with the same attempt, and
        complete or in the same status as when last listed."""
        row = self._db.execute(
            "SELECT attempt, complete, status FROM runs WHERE id = ?", (run.id,)
        ).fetchone()
        return bool(row) and row[0] == run.attempt and (bool(row[1]) or row[2] == run.status)

    def listing_gaps(self, listing: str) -> list[datetime]:
        """Where earlier listings of `listing` were cut: runs created at or before each instant
        may not have been listed yet. Newest first."""
        rows = self._db.execute(
            "SELECT before FROM listing_gaps WHERE listing IN (?, '*') ORDER BY before DESC", (listing,)
        )
        return [_dt(r[0]) for r in rows]

    def record_listed_runs(
        self, runs: Iterable[RunInfo], *, gap: tuple[str, datetime | None, datetime | None] | None = None
    ) -> int:
        """Remember runs seen in a listing, before their jobs are fetched.

        A run already complete with the same attempt is left alone (idempotent); a new attempt or
        a run that finished since it was last listed goes back to pending. Storing the listing
        first is what makes a sync resumable: the runs still to do are in the file, not in memory.
        `gap` = (listing, old, new) moves that listing's gap from `old` to `new` (None: none) in
        the same transaction, so a crash never keeps runs listed without the gap below them.
        Returns how many runs were new or changed.
        """
        changed = 0
        with self._transaction() as db:
            if gap is not None:
                listing, old, new = gap
                if old is not None:
                    db.execute(
                        "DELETE FROM listing_gaps WHERE listing IN (?, '*') AND before = ?",
                        (listing, _ts(old)),
                    )
                if new is not None:
                    db.execute(
                        "INSERT OR IGNORE INTO listing_gaps (listing, before) VALUES (?, ?)",
                        (listing, _ts(new)),
                    )
            for run in runs:
                if self.is_listed(run):
                    continue
                db.execute(
                    """INSERT INTO runs (id, attempt, workflow, workflow_name, event, branch, head_sha,
                           created, status, conclusion, html_url, jobs_state, complete)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0)
                       ON CONFLICT (id) DO UPDATE SET attempt = excluded.attempt,
                           status = excluded.status, conclusion = excluded.conclusion,
                           jobs_state = 'pending', complete = 0""",
                    (
                        run.id, run.attempt, run.workflow_path, run.workflow_name, run.event, run.branch,
                        run.head_sha, _ts(run.created_at), run.status, run.conclusion, run.html_url,
                    ),
                )
                changed += 1
        self._written(changed)
        return changed

    def pending_runs(self, *, workflow: str | None = None) -> list[RunInfo]:
        """Finished runs listed but not yet fully stored, newest first; only `workflow`'s (its
        path) when given."""
        mine = "" if workflow is None else "AND workflow = ?"
        rows = self._db.execute(
            f"""SELECT id, attempt, workflow_name, workflow, event, branch, head_sha, created, status,
                      conclusion, html_url
               FROM runs r WHERE complete = 0 AND status = 'completed' {mine}
               AND coalesce((SELECT times FROM fetch_failures f WHERE f.run_id = r.id AND f.job_id = 0),
                            0) < {RUN_TRIES}
               ORDER BY coalesce((SELECT times FROM fetch_failures f WHERE f.run_id = r.id AND f.job_id = 0),
                                 0), created DESC, id DESC""",
            () if workflow is None else (workflow,),
        ).fetchall()
        return [_stored_run(r) for r in rows]

    def unread_green_pushes(self, workflow: str, branch: str, since: datetime | None = None) -> list[RunInfo]:
        """Stored pushes of `workflow` (path, file name or display name) to `branch` with a green
        job in their latest attempt whose log was never downloaded (recorded by a sync that did not
        scan green logs, such as triage's), created at or after `since`, newest first."""
        window = Window(since=since, branch=branch, event="push", workflow=workflow)
        where, params = self._where(window)
        rows = self._db.execute(
            f"""SELECT r.id, r.attempt, r.workflow_name, r.workflow, r.event, r.branch, r.head_sha,
                       r.created, r.status, r.conclusion, r.html_url
                FROM runs r WHERE {where} AND (r.jobs_state = '{JobsState.INFERRED}' OR EXISTS (
                    SELECT 1 FROM jobs j WHERE j.run_id = r.id AND j.attempt = r.attempt
                    AND j.conclusion = 'success' AND j.log_state = '{LogState.NOT_FETCHED.value}'))
                ORDER BY r.created DESC, r.id DESC""",
            params,
        ).fetchall()
        return [_stored_run(r) for r in rows]

    def oldest_unfinished(self) -> datetime | None:
        """Creation time of the oldest stored run that was still in progress when listed.

        A sync must list at least back to it, or its result would never be picked up.
        """
        row = self._db.execute("SELECT min(created) FROM runs WHERE status != 'completed'").fetchone()
        return _dt(row[0]) if row and row[0] else None

    def save_run(
        self,
        run: RunInfo,
        jobs: Sequence[JobInfo],
        logs: Mapping[int, JobReport | LogState],
        *,
        jobs_state: str = JobsState.FETCHED,
    ) -> None:
        """Write one run with all its jobs, test outcomes and problems, and mark it complete.

        `logs` maps job id to the parsed report, or to the reason there is none. Everything for the
        run is replaced in one transaction, so saving the same run twice changes nothing.
        """
        ran = [(j.name, j.runner) for j in jobs if j.attempt == run.attempt and j.conclusion in RAN_JOB]
        with self._transaction() as db:
            self._upsert_run(db, run, jobs_state, self._job_set(db, ran) if ran else None)
            db.execute("DELETE FROM jobs WHERE run_id = ?", (run.id,))
            db.execute("DELETE FROM fetch_failures WHERE run_id = ?", (run.id,))  # the gap is filled
            for job in jobs:
                found = logs.get(job.id, LogState.NOT_FETCHED)
                state = LogState.PARSED if isinstance(found, JobReport) else found
                log_complete = found.complete if isinstance(found, JobReport) else None
                db.execute(
                    """INSERT OR REPLACE INTO jobs (run_id, attempt, name, job_id, conclusion, runner,
                           log_state, log_complete) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                    (run.id, job.attempt, job.name, job.id, job.conclusion, job.runner, state.value,
                     log_complete),
                )
                if isinstance(found, JobReport):
                    self._insert_report(db, run.id, job.attempt, job.name, found)
        self._written(1)

    def note_failure(self, run_id: int, job_id: int, reason: str, *, gap_after: int, now: datetime) -> bool:
        """Remember that GitHub would not give a run's jobs (`job_id` 0) or a job's log, once per
        sync; returns True when it is now a gap: failed `gap_after` syncs in a row (1: at once)."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT times FROM fetch_failures WHERE run_id = ? AND job_id = ?", (run_id, job_id)
            ).fetchone()
            times = (int(row[0]) if row else 0) + 1
            gap = times >= gap_after
            db.execute(
                """INSERT OR REPLACE INTO fetch_failures (run_id, job_id, reason, times, gap, last)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (run_id, job_id, reason[:300], times, int(gap), _instant(now)),
            )
        return gap

    def gaps(self, window: Window | None = None) -> list[tuple[int, int, str, int]]:
        """(run id, job id or 0, reason, syncs failed) of what is recorded as a gap, newest first;
        with `window`, only runs in it (their conclusion may be unknown: any run listed counts)."""
        where, params = "1", list[object]()
        if window is not None:
            where, params = self._where(window)
            where = where.replace("r.complete = 1", "1")
        rows = self._db.execute(
            f"""SELECT f.run_id, f.job_id, f.reason, f.times FROM fetch_failures f
                JOIN runs r ON r.id = f.run_id WHERE f.gap = 1 AND {where}
                ORDER BY r.created DESC, f.run_id DESC, f.job_id""",
            params,
        )
        return [(int(a), int(b), str(c), int(d)) for a, b, c, d in rows]

    def log_gaps(
        self, *, workflow: str | None, tries: int, before: datetime
    ) -> list[tuple[int, int, int, str]]:
        """(run id, attempt, job id, job name) of logs that could not be downloaded, tried fewer
        than `tries` times and last before `before` (not by the sync running now), newest
        first; only `workflow`'s (its path) when given."""
        mine = "" if workflow is None else "AND r.workflow = ?"
        rows = self._db.execute(
            f"""SELECT j.run_id, j.attempt, j.job_id, j.name FROM fetch_failures f
                JOIN jobs j ON j.run_id = f.run_id AND j.job_id = f.job_id
                JOIN runs r ON r.id = f.run_id
                WHERE f.job_id != 0 AND f.times < ? AND f.last < ?
                  AND j.log_state = '{LogState.NOT_FETCHED.value}' {mine}
                ORDER BY r.created DESC, j.job_id""",
            (tries, _instant(before)) if workflow is None else (tries, _instant(before), workflow),
        )
        return [(int(a), int(b), int(c), str(d)) for a, b, c, d in rows]

    def save_log(self, run_id: int, attempt: int, job: str, found: JobReport | LogState) -> None:
        """A log read (or found expired) after its run was written: the job's outcomes and
        problems replaced, its gap filled."""
        state = LogState.PARSED if isinstance(found, JobReport) else found
        complete = found.complete if isinstance(found, JobReport) else None
        key = (run_id, attempt, job)
        with self._transaction() as db:
            db.execute(
                """UPDATE jobs SET log_state = ?, log_complete = ?
                   WHERE run_id = ? AND attempt = ? AND name = ?""",
                (state.value, complete, *key),
            )
            db.execute("DELETE FROM outcomes WHERE run_id = ? AND attempt = ? AND job = ?", key)
            db.execute("DELETE FROM problems WHERE run_id = ? AND attempt = ? AND job = ?", key)
            if isinstance(found, JobReport):
                self._insert_report(db, run_id, attempt, job, found)
            db.execute(
                """DELETE FROM fetch_failures WHERE run_id = ? AND job_id IN (
                       SELECT job_id FROM jobs WHERE run_id = ? AND attempt = ? AND name = ?)""",
                (run_id, *key),
            )

    def save_inferred_run(self, run: RunInfo, template: int) -> None:
        """Store a green run without asking for its jobs: they are those of run `template` (a
        neighbouring run whose jobs were fetched), all passed. Saves one request per green run."""
        with self._transaction() as db:
            row = db.execute("SELECT job_set FROM runs WHERE id = ?", (template,)).fetchone()
            if row is None:
                raise StoreError(f"run {template} is not in the store, so it cannot stand for run {run.id}")
            self._upsert_run(db, run, JobsState.INFERRED, row[0])
            db.execute("DELETE FROM jobs WHERE run_id = ?", (run.id,))
            db.execute("DELETE FROM fetch_failures WHERE run_id = ?", (run.id,))
        self._written(1)

    @staticmethod
    def _job_set(db: sqlite3.Connection, jobs: Iterable[tuple[str, str | None]]) -> int:
        """Id of the set of (job, runner) that ran in a run's latest attempt, created on first use.

        Rates count executions as runs x job-set members: one row per run instead of one per job,
        so a report over 100,000 runs x 20 jobs groups 100,000 rows, not two million.
        """
        members = sorted(dict(jobs).items())
        key = "\n".join(f"{name}\t{runner or ''}" for name, runner in members)
        row = db.execute("SELECT id FROM job_sets WHERE key = ?", (key,)).fetchone()
        if row:
            return int(row[0])
        set_id = int(db.execute("INSERT INTO job_sets (key) VALUES (?)", (key,)).lastrowid or 0)
        db.executemany(
            "INSERT INTO job_set_jobs (set_id, name, runner) VALUES (?, ?, ?)",
            [(set_id, name, runner) for name, runner in members],
        )
        return set_id

    def save_jobless_run(self, run: RunInfo) -> None:
        """A cancelled or skipped run: kept so the sync does not revisit it, counted nowhere."""
        with self._transaction() as db:
            self._upsert_run(db, run, JobsState.NONE)
            db.execute("DELETE FROM jobs WHERE run_id = ?", (run.id,))
            db.execute("DELETE FROM fetch_failures WHERE run_id = ?", (run.id,))
        self._written(1)

    @staticmethod
    def _upsert_run(
        db: sqlite3.Connection, run: RunInfo, jobs_state: str, job_set: int | None = None
    ) -> None:
        db.execute(
            """INSERT INTO runs (id, attempt, workflow, workflow_name, event, branch, head_sha, created,
                   status, conclusion, html_url, jobs_state, job_set, complete)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
               ON CONFLICT (id) DO UPDATE SET attempt = excluded.attempt, status = excluded.status,
                   conclusion = excluded.conclusion, jobs_state = excluded.jobs_state,
                   job_set = excluded.job_set, complete = 1""",
            (
                run.id, run.attempt, run.workflow_path, run.workflow_name, run.event, run.branch,
                run.head_sha, _ts(run.created_at), run.status, run.conclusion, run.html_url, jobs_state,
                job_set,
            ),
        )

    @staticmethod
    def _insert_report(
        db: sqlite3.Connection, run_id: int, attempt: int, job: str, report: JobReport
    ) -> None:
        db.executemany(
            """INSERT OR REPLACE INTO outcomes (run_id, attempt, job, test, test_pass, runner, outcome,
                   ignored, symptom) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (run_id, attempt, job, f.test, f.test_pass.value if f.test_pass else "", f.runner.value,
                 f.outcome.value, int(f.ignored), f.symptom)
                for f in report.failures
            ],
        )
        db.executemany(
            """INSERT OR REPLACE INTO problems (run_id, attempt, job, seq, kind, message, step)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [
                (run_id, attempt, job, i, p.kind.value, p.message, p.step)
                for i, p in enumerate(report.problems)
            ],
        )

    def nearest_templates(
        self, created: datetime, *, workflow: str
    ) -> tuple[Template | None, Template | None]:
        """The nearest runs of `workflow` whose jobs were fetched, before and after `created`."""
        stamp = _ts(created)
        found: list[Template | None] = []
        for op, order in (("<=", "DESC"), (">", "ASC")):
            row = self._db.execute(
                f"""SELECT id, job_set FROM runs WHERE jobs_state = 'fetched' AND workflow = ?
                    AND created {op} ? ORDER BY created {order} LIMIT 1""",
                (workflow, stamp),
            ).fetchone()
            if row is None:
                found.append(None)
                continue
            jobs = self._db.execute(
                "SELECT name, runner FROM job_set_jobs WHERE set_id = ? ORDER BY name", (row[1],)
            ).fetchall()
            found.append(Template(int(row[0]), tuple((str(n), r) for n, r in jobs)))
        return found[0], found[1]

    def counts(self) -> dict[str, int]:
        """Row counts and log states, for the sync summary and for tests."""
        latest = self._db.execute(
            """SELECT coalesce(sum(s.n), 0) FROM runs r
               JOIN (SELECT set_id, count(*) AS n FROM job_set_jobs GROUP BY set_id) s ON s.set_id = r.job_set
               WHERE r.complete = 1"""
        ).fetchone()[0]
        earlier = self._db.execute(
            "SELECT count(*) FROM runs r JOIN jobs j ON j.run_id = r.id AND j.attempt < r.attempt"
        ).fetchone()[0]
        out = {
            "runs": self._db.execute("SELECT count(*) FROM runs WHERE complete = 1").fetchone()[0],
            "pending": self._db.execute(
                """SELECT count(*) FROM runs WHERE complete = 0 AND id NOT IN (
                       SELECT run_id FROM fetch_failures WHERE job_id = 0 AND gap = 1)"""
            ).fetchone()[0],
            "gaps": self._db.execute("SELECT count(*) FROM fetch_failures WHERE gap = 1").fetchone()[0],
            "jobs": latest + earlier,  # executions recorded, fetched or inferred
            "outcomes": self._db.execute("SELECT count(*) FROM outcomes").fetchone()[0],
            "problems": self._db.execute("SELECT count(*) FROM problems").fetchone()[0],
        }
        for state, n in self._db.execute("SELECT log_state, count(*) FROM jobs GROUP BY log_state"):
            out[f"log_{state}"] = n
        return out

    # ---------------------------------------------------------------- query side

    @staticmethod
    def _where(window: Window, alias: str = "r") -> tuple[str, list[object]]:
        clauses = [f"{alias}.complete = 1", f"{alias}.conclusion IS NOT NULL",
                   f"{alias}.conclusion NOT IN ({_sql_list(NOT_A_RESULT)})"]
        params: list[object] = []
        if window.since:
            clauses.append(f"{alias}.created >= ?")
            params.append(_ts(window.since))
        if window.until:
            clauses.append(f"{alias}.created <= ?")
            params.append(_ts(window.until))
        for column, value in (("branch", window.branch), ("event", window.event)):
            if value is not None:
                clauses.append(f"{alias}.{column} = ?")
                params.append(value)
        if window.workflow is not None:  # a path, a bare file name or the display name
            clauses.append(f"({alias}.workflow IN (?, ?) OR {alias}.workflow_name = ?)")
            params.extend([window.workflow, f".github/workflows/{window.workflow}", window.workflow])
        return " AND ".join(clauses), params

    def workflows(self, window: Window = Window()) -> list[tuple[str, str, int]]:
        """(path, display name, runs) of every workflow with runs in the window, most runs first:
        a store synced from several workflows is reported one workflow at a time."""
        where, params = self._where(window)
        rows = self._db.execute(
            f"SELECT r.workflow, max(r.workflow_name), count(*) FROM runs r WHERE {where} "
            "GROUP BY r.workflow ORDER BY count(*) DESC, r.workflow",
            params,
        ).fetchall()
        return [(str(a), str(b), int(c)) for a, b, c in rows]

    def failures_by_workflow(self, window: Window = Window()) -> list[tuple[str, str, str, int, int]]:
        """(test, workflow name, job, runs it failed, runs it was ignored as known-flaky) for
        every test that failed in the window: the cross-workflow view of a test ("flaky on qemu
        arm and on unix macos") needs where, not rates, which stay per workflow."""
        where, params = self._where(window)
        rows = self._db.execute(
            "SELECT o.test, max(r.workflow_name), o.job, count(DISTINCT CASE WHEN o.ignored = 0 "
            "THEN o.run_id END), count(DISTINCT CASE WHEN o.ignored = 1 THEN o.run_id END) "
            f"FROM outcomes o JOIN runs r ON r.id = o.run_id WHERE {where} "
            "GROUP BY o.test, r.workflow, o.job ORDER BY o.test, r.workflow, o.job",
            params,
        ).fetchall()
        return [(str(t), str(w), str(j), int(f), int(i)) for t, w, j, f, i in rows]

    def _run_days(self, window: Window) -> list[_RunDay]:
        """The one scan over runs that the run-level statistics share (overview, months, job-set
        executions), grouped to a few thousand rows; remembered until the next write. The index
        is named because a store that was never ANALYZEd leads SQLite to a plan that sorts."""
        cached = self._run_days_cache.get(window)
        if cached is None:
            where, params = self._where(window)
            rows = self._db.execute(
                f"""SELECT r.job_set, substr(r.created, 1, 10) AS day, count(*),
                           sum(r.conclusion != 'success'), min(r.created), max(r.created),
                           sum(CASE WHEN r.attempt > 1 AND r.conclusion = 'success' THEN EXISTS (
                               SELECT 1 FROM jobs j WHERE j.run_id = r.id AND j.attempt < r.attempt
                               AND j.conclusion IN ({_sql_list(FAILED_JOB)})) ELSE 0 END)
                    FROM runs r INDEXED BY runs_by_set_day WHERE {where} GROUP BY r.job_set, day""",
                params,
            )
            cached = [_RunDay(*row) for row in rows]
            self._run_days_cache[window] = cached
        return cached

    def overview(self, window: Window = Window()) -> Overview:
        days = self._run_days(window)
        return Overview(
            runs=sum(d.runs for d in days),
            failed_runs=sum(d.failed for d in days),
            first=_dt(min(d.first for d in days)) if days else None,
            last=_dt(max(d.last for d in days)) if days else None,
            rerun_failures=sum(d.reruns for d in days),
        )

    def monthly(self, window: Window = Window()) -> list[tuple[str, int, int]]:
        """(YYYY-MM, runs, failed runs), oldest first."""
        months: dict[str, list[int]] = {}
        for d in self._run_days(window):
            month = months.setdefault(d.day[:7], [0, 0])
            month[0] += d.runs
            month[1] += d.failed
        return [(m, n, f) for m, (n, f) in sorted(months.items())]

    def _job_rows(self, window: Window) -> list[_JobRow]:
        """The one scan over job rows that the job-level statistics share (per-job tallies,
        executions per day, the failed-jobs histogram): failed jobs and jobs whose log was read
        come through the (conclusion, log_state) index, green jobs of earlier attempts from the few
        re-run runs. Remembered until the next write."""
        cached = self._job_rows_cache.get(window)
        if cached is None:
            where, params = self._where(window)
            columns = f"""j.run_id, j.name, substr(r.created, 1, 10), j.attempt = r.attempt,
                r.conclusion != 'success', j.conclusion != 'success', j.log_state = 'parsed',
                j.conclusion = 'success' OR (j.log_state = 'parsed' AND NOT EXISTS (
                    SELECT 1 FROM problems p WHERE p.run_id = j.run_id AND p.attempt = j.attempt
                    AND p.job = j.name AND p.kind = '{ProblemKind.BUILD.value}'))"""
            rows = self._db.execute(
                f"""SELECT {columns} FROM jobs j CROSS JOIN runs r ON r.id = j.run_id
                    WHERE j.conclusion IN ({_sql_list(FAILED_JOB)}) AND {where}
                    UNION ALL
                    SELECT {columns} FROM jobs j CROSS JOIN runs r ON r.id = j.run_id
                    WHERE j.conclusion = 'success' AND j.log_state = 'parsed' AND {where}
                    UNION ALL
                    SELECT {columns} FROM runs r JOIN jobs j ON j.run_id = r.id AND j.attempt < r.attempt
                    WHERE {where} AND r.attempt > 1 AND j.conclusion = 'success' AND j.log_state != 'parsed'
                """,
                [*params, *params, *params],
            )
            cached = [_JobRow(int(a), str(b), str(c), bool(d), bool(e), bool(f), bool(g), bool(h))
                      for a, b, c, d, e, f, g, h in rows]  # fmt: skip
            self._job_rows_cache[window] = cached
        return cached

    def failed_jobs_per_failed_run(self, window: Window = Window()) -> dict[int, int]:
        """{number of failed jobs in the latest attempt: number of failed runs}. Counted from the
        failed jobs (few, indexed); failed runs with no failed job (a workflow-level failure) are
        the difference, under 0."""
        per_run = Counter(j.run_id for j in self._job_rows(window) if j.latest and j.failed and j.run_failed)
        histogram = Counter(per_run.values())
        unexplained = self.overview(window).failed_runs - sum(histogram.values())
        if unexplained > 0:
            histogram[0] = unexplained
        return dict(sorted(histogram.items()))

    def _members(self) -> dict[int, list[tuple[str, str | None]]]:
        members: dict[int, list[tuple[str, str | None]]] = {}
        for set_id, name, runner in self._db.execute("SELECT set_id, name, runner FROM job_set_jobs"):
            members.setdefault(int(set_id), []).append((str(name), runner))
        return members

    def job_tallies(self, window: Window = Window()) -> list[JobTally]:
        """Executions and failures per job name, over every attempt (a re-run is another execution).

        Latest attempts are counted as runs x job-set members; earlier attempts and failures come
        from the (few) job rows that hold them. The runner shown is the latest execution's.
        """
        per_set: dict[int, tuple[int, str]] = {}  # job set: (runs, last run), expanded once below
        for d in self._run_days(window):
            if d.job_set is not None:
                runs, last = per_set.get(d.job_set, (0, d.last))
                per_set[d.job_set] = (runs + d.runs, max(last, d.last))
        executions: dict[str, int] = {}
        runner: dict[str, tuple[str, str | None]] = {}
        members = self._members()
        for set_id, (runs, last) in per_set.items():
            for name, job_runner in members.get(set_id, ()):
                executions[name] = executions.get(name, 0) + runs
                if name not in runner or last > runner[name][0]:
                    runner[name] = (last, job_runner)
        failures: dict[str, list[int]] = {}
        for row in self._job_rows(window):
            if not row.latest:  # an earlier attempt: one more execution (failed or green)
                executions[row.name] = executions.get(row.name, 0) + 1
            if row.failed:
                tally = failures.setdefault(row.name, [0, 0])
                tally[0] += 1
                tally[1] += not row.parsed
        return [
            JobTally(name, runner.get(name, ("", None))[1], n, *failures.get(name, [0, 0]))
            for name, n in sorted(executions.items())
        ]

    def test_tallies(self, window: Window = Window(), *, test: str | None = None) -> list[TestTally]:
        """Per (test, job): job executions where the test failed, ignored or not.

        A test failing in several passes of one job (bytecode and native) is one event: the unit
        is the job execution, the same unit as the executions it is divided by.
        """
        where, params = self._where(window)
        inner_filter = ""
        if test is not None:
            inner_filter = "WHERE test = ?"
            params = [test, *params]
        rows = self._db.execute(
            f"""SELECT o.test, o.job, count(*), sum(o.ign), max(r.created),
                       group_concat(o.symptom, char(31))
                FROM (SELECT run_id, attempt, job, test, min(ignored) AS ign, max(symptom) AS symptom
                      FROM outcomes {inner_filter} GROUP BY run_id, attempt, job, test) o
                JOIN runs r ON r.id = o.run_id
                WHERE {where}
                GROUP BY o.test, o.job ORDER BY o.test, o.job""",
            params,
        )
        out = []
        for name, job, events, ignored, last, symptoms in rows:
            seen = dict.fromkeys(s for s in (symptoms or "").split("\x1f") if s)
            out.append(
                TestTally(
                    str(name), str(job), int(events), int(ignored), _dt(last), tuple(seen)[:MAX_SYMPTOMS]
                )
            )
        return out

    def execution_days(
        self, window: Window = Window(), *, job: str | None = None, cuts: Sequence[date] = ()
    ) -> list[ExecutionDay]:
        """See `_execution_days`; remembered until the next write, because triage asks for the
        rate of every failing test in every job against the same window."""
        key = (window, tuple(sorted(set(cuts))))
        found = self._days_cache.get(key)
        if found is None:
            found = self._days_cache[key] = self._execution_days(window, key[1])
        return [d for d in found if job is None or d.job == job]

    def _execution_days(self, window: Window, ordered: tuple[date, ...]) -> list[ExecutionDay]:
        """(job, day, executions that ran tests, of which read): every execution of the job set,
        less the failed ones whose log was not read or that stopped at the build (did the test
        run? unknown), plus earlier attempts that ran tests; `read` counts those whose log was
        parsed, the only ones that can tell whether a test the runner ignores failed.

        Grouped by day so a registry can be asked once a day, not once per execution; with `cuts`,
        grouped by the spans between those dates instead (each row dated by its span's first day),
        which is exact for any question whose answer only changes at a cut, such as a registry
        entry's since/until or the day after a test last flaked. Runs come grouped by (job set,
        day), a few thousand rows whatever the history's size, and the job-set members are
        expanded here, which spares SQLite sorting one row per job execution.
        """
        spans: dict[str, int | str] = {}

        def span(day: str) -> int | str:
            if day not in spans:
                spans[day] = bisect_right(ordered, date.fromisoformat(day)) if ordered else day
            return spans[day]

        first: dict[tuple[str, int | str], str] = {}
        total: dict[tuple[str, int | str], list[int]] = {}

        def add(name: str, day: str, n: int, read: int) -> None:
            key = (name, span(day))
            tally = total.setdefault(key, [0, 0])
            tally[0] += n
            tally[1] += read
            if key not in first or day < first[key]:
                first[key] = day

        # runs per (job set, span) first, so each job set's members are expanded once per span
        per_set: dict[tuple[int, int | str], tuple[int, str]] = {}  # (runs, first day)
        for d in self._run_days(window):
            if d.job_set is not None:
                key = (d.job_set, span(d.day))
                runs, day = per_set.get(key, (0, d.day))
                per_set[key] = (runs + d.runs, min(day, d.day))
        members = self._members()
        for (set_id, _), (runs, day) in per_set.items():
            for name, _ in members.get(set_id, ()):
                add(name, day, runs, 0)
        for row in self._job_rows(window):
            if not row.latest:  # an earlier attempt: counted only if it ran tests
                if row.ran_tests:
                    add(row.name, row.day, 1, row.parsed)
            elif not row.ran_tests:  # a latest-attempt failure counted in its job set, but unknown
                add(row.name, row.day, -1, 0)
            elif row.parsed:  # a latest-attempt execution whose log was read
                add(row.name, row.day, 0, 1)
        return [
            ExecutionDay(key[0], date.fromisoformat(first[key]), n, read)
            for key, (n, read) in total.items()
            if n > 0
        ]

    def co_failures(self, window: Window = Window()) -> list[CoFailure]:
        """The same test failing (not ignored) in two or more jobs of one run attempt."""
        where, params = self._where(window)
        rows = self._db.execute(
            f"""SELECT o.run_id, o.attempt, r.created, o.test, group_concat(DISTINCT o.job)
                FROM outcomes o JOIN runs r ON r.id = o.run_id
                WHERE {where} AND o.ignored = 0
                GROUP BY o.run_id, o.attempt, o.test HAVING count(DISTINCT o.job) >= 2
                ORDER BY r.created DESC""",
            params,
        )
        return [CoFailure(a, b, _dt(c), str(d), tuple(sorted(str(e).split(",")))) for a, b, c, d, e in rows]

    def observed_causes(self, window: Window = Window()) -> list[ObservedCause]:
        """For failed jobs with a parsed log: which non-ignored failing test, if any, they showed.

        A job failing in two tests counts once for each; a job with no failing test counts for None
        (build break, crash of the runner...), which keeps the attribution from over-blaming tests.
        """
        where, params = self._where(window)
        rows = self._db.execute(
            f"""SELECT j.name, o.test, count(DISTINCT j.run_id || ':' || j.attempt)
                FROM jobs j JOIN runs r ON r.id = j.run_id
                LEFT JOIN outcomes o ON o.run_id = j.run_id AND o.attempt = j.attempt AND o.job = j.name
                     AND o.ignored = 0
                WHERE {where} AND j.conclusion IN ({_sql_list(FAILED_JOB)}) AND j.log_state = 'parsed'
                GROUP BY j.name, o.test ORDER BY j.name, o.test""",
            params,
        )
        return [ObservedCause(str(a), b, int(c)) for a, b, c in rows]

    def sole_causes(self, window: Window = Window()) -> list[SoleCause]:
        """(job, test, n): failed parsed jobs whose only non-ignored failing test is `test` — the
        failures that would not have happened had the test been ignored."""
        where, params = self._where(window)
        rows = self._db.execute(
            f"""SELECT job, test, count(*) FROM (
                    SELECT o.run_id, o.attempt, o.job, min(o.test) AS test
                    FROM outcomes o JOIN runs r ON r.id = o.run_id
                    JOIN jobs j ON j.run_id = o.run_id AND j.attempt = o.attempt AND j.name = o.job
                    WHERE {where} AND o.ignored = 0 AND j.conclusion IN ({_sql_list(FAILED_JOB)})
                      AND NOT EXISTS (SELECT 1 FROM problems p WHERE p.run_id = j.run_id
                                      AND p.attempt = j.attempt AND p.job = j.name
                                      AND p.kind IN ('build', 'runner-error', 'step'))
                    GROUP BY o.run_id, o.attempt, o.job HAVING count(DISTINCT o.test) = 1)
                GROUP BY job, test""",
            params,
        )
        return [SoleCause(str(a), str(b), int(c)) for a, b, c in rows]

    def flake_rate(
        self,
        test: str,
        job: str | None = None,
        *,
        registry: ExclusionPolicy | None = None,
        until: datetime | None = None,
        since: datetime | None = None,
        workflow: str | None = None,
    ) -> FlakeRate:
        """How often `test` failed (ignored failures included) per execution, in one job or all.

        Executions are job runs that really ran tests (green, or failed with a parsed log past the
        build) on days when the registry in force did not exclude the test from that job; on days
        when it ignored the test there, only those whose log was read. Failed jobs whose log
        expired are left out of both counts: we cannot know what they ran. `workflow` (a path,
        file name or display name) keeps another workflow's runs in the same file out of it.
        """
        window = Window(since=since, until=until, workflow=workflow)
        # Spans between the registry's dates give the same answers as days, with far fewer
        # questions; a registry that does not say when its answers change is asked day by day.
        changes = change_dates(registry) if registry is not None else ()
        cuts = () if changes is None else (date.min, *changes)
        executions = executions_of(test, self.execution_days(window, job=job, cuts=cuts), registry, job=job)
        rate = flake_rate(test, self.test_tallies(window, test=test), executions, job=job)
        if rate.last_seen is None:
            return rate
        # Run times are stored to the second: one second later excludes the run of the last event.
        later = Window(since=rate.last_seen + timedelta(seconds=1), until=until, workflow=workflow)
        after = executions_of(test, self.execution_days(later, job=job, cuts=cuts), registry, job=job)
        return replace(rate, since_last=sum(after.values()))

    def test_history(
        self,
        test: str,
        job: str,
        *,
        until: datetime,
        run: RunInfo | None = None,
        workflow: str | None = None,
        branch: str | None = None,
        event: str | None = None,
        recent: int = 200,
        max_failures: int = 50,
    ) -> TestHistory:
        """The executions of `job` that the evidence for one failure of `test` needs, up to `until`.

        Not the whole history (100,000 runs x 20 jobs): the `recent` latest executions of the job
        (the streak), every failure of the test in the job (the latest `max_failures`) with the
        execution right after each (did a pass follow?), the runs of the commits it failed on
        and of `run`'s commit within `SAME_COMMIT_SPAN` (same-commit flips, from any branch),
        and `run`'s own earlier attempts. `branch`/`event` narrow all but the same-commit runs:
        the default branch's pushes, when a streak there should mean "failing on the default
        branch now". A few indexed queries whatever the store's size.
        """
        window = Window(until=until, workflow=workflow, branch=branch, event=event)
        where, params = self._where(window)
        sets = [s for s, members in self._members().items() if any(name == job for name, _ in members)]
        in_sets = ", ".join(str(int(s)) for s in sets) or "NULL"
        wanted: set[int] = set()
        dense = self._db.execute(
            f"""SELECT r.id, r.created FROM runs r WHERE {where} AND r.job_set IN ({in_sets})
                ORDER BY r.created DESC LIMIT ?""",
            [*params, recent],
        ).fetchall()
        wanted.update(int(r[0]) for r in dense)
        # failures of the test in any job (symptoms), plus those of the triaged run's earlier attempts
        own = "OR (r.id = ? AND o.attempt < ?)" if run is not None else ""
        own_params: list[object] = [run.id, run.attempt] if run is not None else []
        fails = self._db.execute(
            f"""SELECT o.run_id, o.attempt, o.job, max(o.symptom), r.head_sha, r.created
                FROM outcomes o JOIN runs r ON r.id = o.run_id
                WHERE o.test = ? AND (({where}) {own})
                GROUP BY o.run_id, o.attempt, o.job ORDER BY r.created""",
            [test, *params, *own_params],
        ).fetchall()
        here_fails = [f for f in fails if f[2] == job][-max_failures:]
        elsewhere = tuple(
            JobRecord(int(f[0]), int(f[1]), str(f[4]), _when(f[5]), str(f[2]), "failure", True, True, True,
                      True, str(f[3] or ""))
            for f in fails if f[2] != job
        )  # fmt: skip
        oldest = str(dense[-1][1]) if len(dense) >= recent else None
        for run_id, _, _, _, _, created in here_fails:
            wanted.add(int(run_id))
            if oldest is not None and created < oldest:
                after = self._db.execute(
                    f"""SELECT r.id FROM runs r WHERE {where} AND r.job_set IN ({in_sets})
                        AND r.created > ? ORDER BY r.created LIMIT 1""",
                    [*params, created],
                ).fetchone()
                if after:
                    wanted.add(int(after[0]))
        # Runs of the same commit lie close in time (a push and the pull request it came from, a
        # scheduled run): looked for within SAME_COMMIT_SPAN of each failure, and of this run,
        # through the time index (a search by sha over every run would read them all).
        near = {(str(f[4]), str(f[5])) for f in here_fails}
        if run is not None:
            near.add((run.head_sha, _ts(run.created_at)))
            wanted.add(run.id)
        any_branch, any_params = self._where(Window(until=until, workflow=workflow))
        spans: list[tuple[datetime, datetime, set[str]]] = []  # overlapping spans merged: fewer queries
        for sha, created in sorted(near, key=lambda n: n[1]):
            moment = _when(created)
            if spans and moment - SAME_COMMIT_SPAN <= spans[-1][1]:
                spans[-1] = (spans[-1][0], moment + SAME_COMMIT_SPAN, spans[-1][2] | {sha})
            else:
                spans.append((moment - SAME_COMMIT_SPAN, moment + SAME_COMMIT_SPAN, {sha}))
        for low, high, shas in spans:
            marks = ", ".join("?" * len(shas))
            wanted.update(
                int(r[0])
                for r in self._db.execute(
                    f"""SELECT r.id FROM runs r WHERE r.created >= ? AND r.created <= ?
                        AND r.head_sha IN ({marks}) AND {any_branch}""",
                    [_ts(low), _ts(high), *sorted(shas), *any_params],
                )
            )
        records = self._job_records(sorted(wanted), job, set(sets), {
            (int(f[0]), int(f[1])): str(f[3] or "") for f in here_fails
        })  # fmt: skip
        return TestHistory(
            here=tuple(records),
            elsewhere=elsewhere,
            default_branch=branch is not None,
            capped=len(dense) >= recent,
        )

    def _job_records(
        self, run_ids: Sequence[int], job: str, sets: set[int], failed: Mapping[tuple[int, int], str]
    ) -> list[JobRecord]:
        """Every execution of `job` in these runs: each stored attempt's job row, and the latest
        attempt's from its job set when no row was kept (a green run whose jobs were inferred)."""
        out: list[JobRecord] = []
        for start in range(0, len(run_ids), 500):
            chunk = run_ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            runs = {
                int(r[0]): (int(r[1]), str(r[2]), _when(r[3]), r[4])
                for r in self._db.execute(
                    f"""SELECT id, attempt, head_sha, created, job_set FROM runs
                        WHERE id IN ({marks}) AND complete = 1""",
                    chunk,
                )
            }
            rows: dict[int, list[tuple[int, str, str, bool | None, bool]]] = {}
            for run_id, attempt, conclusion, state, complete, build in self._db.execute(
                f"""SELECT j.run_id, j.attempt, j.conclusion, j.log_state, j.log_complete, EXISTS (
                        SELECT 1 FROM problems p WHERE p.run_id = j.run_id AND p.attempt = j.attempt
                        AND p.job = j.name AND p.kind = '{ProblemKind.BUILD.value}')
                    FROM jobs j WHERE j.run_id IN ({marks}) AND j.name = ?""",
                [*chunk, job],
            ):
                rows.setdefault(int(run_id), []).append(
                    (int(attempt), str(conclusion), str(state), None if complete is None else bool(complete),
                     bool(build))
                )  # fmt: skip
            for run_id, (latest, sha, created, job_set) in runs.items():
                attempts = {a: row for a, *row in rows.get(run_id, [])}
                if latest not in attempts and job_set in sets:
                    attempts[latest] = ["success", LogState.NOT_FETCHED.value, None, False]
                for attempt, (conclusion, state, complete, build) in sorted(attempts.items()):
                    if attempt > latest or conclusion not in RAN_JOB:
                        continue
                    symptom = failed.get((run_id, attempt))
                    out.append(
                        JobRecord(
                            run_id, attempt, sha, created, job, conclusion,
                            log_read=state == LogState.PARSED.value, log_complete=bool(complete),
                            past_build=not build, failed=symptom is not None, symptom=symptom or "",
                        )
                    )  # fmt: skip
        return out


    def failing_elsewhere(
        self,
        test: str,
        *,
        until: datetime,
        workflow: str,
        branch: str | None = None,
        event: str | None = None,
    ) -> list[tuple[str, str]]:
        """(workflow path, job) of the other workflows in which `test` failed up to `until`, the
        most recent failure first: the weaker evidence across jobs (`bot.across_jobs`), read only
        for a first failure here. `workflow` (a path, file name or display name) is the triaged one."""
        where, params = self._where(Window(until=until, branch=branch, event=event))
        rows = self._db.execute(
            f"""SELECT r.workflow, o.job, max(r.created) FROM outcomes o JOIN runs r ON r.id = o.run_id
                WHERE o.test = ? AND {where} AND NOT (r.workflow IN (?, ?) OR r.workflow_name = ?)
                GROUP BY r.workflow, o.job ORDER BY max(r.created) DESC, r.workflow, o.job""",
            [test, *params, workflow, f".github/workflows/{workflow}", workflow],
        ).fetchall()
        return [(str(w), str(j)) for w, j, _ in rows]

    def failure_runners(self, window: Window = Window()) -> dict[tuple[str, str], frozenset[str]]:
        """(test, job) -> the test runners its failures came from (run-tests, run-multitests...):
        upstream's flaky lists cover run-tests.py only, so only its failures can be patched there."""
        where, params = self._where(window)
        rows = self._db.execute(
            f"""SELECT o.test, o.job, group_concat(DISTINCT o.runner)
                FROM outcomes o JOIN runs r ON r.id = o.run_id
                WHERE {where} GROUP BY o.test, o.job""",
            params,
        )
        return {(str(t), str(j)): frozenset(str(r or "").split(",")) for t, j, r in rows}


def _when(text: str) -> datetime:
    """`_dt` for the many timestamps of an evidence lookup: fromisoformat is ~20x faster than strptime."""
    return datetime.fromisoformat(text)


def open_healing(path: str | Path, *, beside_foreign: bool = False) -> tuple[HistoryStore, list[str]]:
    """The store for a writer that can rebuild it from GitHub (`sync`, the action), and the lines
    that say what opening it took.

    A store of ours that is damaged or from a newer flake-bot is moved aside
    (`<path>.broken-<date>`) and a new one built in its place: left there, the cache would save
    it again and every later run would go without history. A file that is not ours is never
    touched; with `beside_foreign` (the action, which must not fail over its cache) a store of
    our own next to it is used instead, otherwise it is refused.
    """
    path = Path(path)
    notes: list[str] = []
    try:
        store = HistoryStore(path)
    except BrokenStore as exc:
        moved = set_aside(path)
        what = "is from a newer flake-bot" if exc.finding.kind is Kind.FUTURE else "is damaged"
        notes.append(f"history store {path} {what} ({exc.finding.why}): moved to {moved.name}, "
                     "building a new one from GitHub")  # fmt: skip
        store = HistoryStore(path)
        return store, notes
    except NotOurStore as exc:
        if not beside_foreign:
            raise
        other = beside(path)
        store, more = open_healing(other)
        notes.append(f"{exc}; using {other} instead")
        return store, [*notes, *more]
    if store.created:
        notes.append(f"new empty history store at {path}")
    return store, notes
