"""The history store's schema, its forward-only migrations, and the connection every part of
the store shares (`StoreBase`): opening, creating whole, checkpoints, transactions.

The store is one class, `bot.store.sqlite.HistoryStore`, put together from one part per
reader: the sync's writes (`bot.store.writes`), the report's tallies (`bot.store.tallies`),
the dashboard's reads (`bot.store.dashboard_reads`) and triage's evidence
(`bot.store.evidence_reads`). Each part reads or writes the tables defined here only.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self

from bot.errors import InputError, StoreError
from bot.records import RunInfo
from bot.stats import (
    ExecutionDay,
)
from bot.store.errors import store_failure
from bot.store.opening import (
    APPLICATION_ID,
    BrokenStore,
    FileCheck,
    FileKind,
    NotOurStore,
    broken_message,
    inspect,
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
    parsed: bool  # its log was read whole (a cut, empty or unreadable log cannot show an ignored test passed)
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




class StoreBase:
    """The connection and its life cycle; the parts of `HistoryStore` add the queries."""

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
        found = FileCheck(FileKind.MISSING) if memory else inspect(self.path, SCHEMA_VERSION, check=check)
        if found.kind is FileKind.MISSING and not create:
            hint = f"fill one with `flake-bot sync --db {self.path} ...`"
            raise InputError(f"no history store at {self.path}; {hint}")
        if found.kind is FileKind.FOREIGN:
            raise NotOurStore(
                f"{self.path} is not a flake-bot history store ({found.why}): left untouched; "
                "pass the path of a history store, or a new path for a new one"
            )
        if found.kind in (FileKind.DAMAGED, FileKind.FUTURE):
            remedy = "run `flake-bot sync` to set it aside and build a new one from GitHub"
            if found.kind is FileKind.FUTURE:
                remedy = "upgrade flake-bot, or " + remedy
            raise BrokenStore(broken_message(self.path, found, remedy=remedy), found)
        self.created = found.kind is FileKind.MISSING
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

    def __enter__(self) -> Self:
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
