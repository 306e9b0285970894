"""The history store: every run of the watched workflow, its jobs, and the tests seen failing.

One SQLite file, so it can travel between action runs in a cache. The schema is versioned with
`PRAGMA user_version` and only ever migrated forward. Writes go through `_transaction()`; a run is
written with all its jobs, outcomes and problems in one transaction and only then marked
complete, so a crash or Ctrl-C in the middle of a sync leaves either the whole run or none of it.

Aggregations for the report are done in SQL, because the store may hold 100,000 runs x 20 jobs
and the report must stay under two seconds; Python only sees a few hundred grouped rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from bot.errors import StoreError
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
    executions_of,
    flake_rate,
)

DEFAULT_PATH = "flake-bot-history.sqlite"
MAX_SYMPTOMS = 5  # distinct symptoms kept per (test, job): enough to see a change of symptom

# Run conclusions that say nothing about the code: excluded from every rate.
NOT_A_RESULT = ("cancelled", "skipped", "neutral", "stale", "action_required")
# Job conclusions that count as a failed execution.
FAILED_JOB = ("failure", "timed_out")


class JobsState:
    """How a run's job list got into the store."""

    PENDING = "pending"  # listed, jobs not fetched yet
    FETCHED = "fetched"  # from the jobs API
    INFERRED = "inferred"  # green run: job names copied from the nearest fetched run (saves a request)
    NONE = "none"  # cancelled/skipped run: no jobs worth storing


_MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the first schema.
    """
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
        complete INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_by_created ON runs (created);
    CREATE INDEX runs_pending ON runs (complete, created);
    CREATE TABLE jobs (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        attempt INTEGER NOT NULL,
        name TEXT NOT NULL,
        job_id INTEGER,
        conclusion TEXT,
        runner TEXT,
        log_state TEXT NOT NULL,
        inferred INTEGER NOT NULL DEFAULT 0,
        log_complete INTEGER,
        PRIMARY KEY (run_id, attempt, name)
    ) WITHOUT ROWID;
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
)

SCHEMA_VERSION = len(_MIGRATIONS)


@dataclass(frozen=True)
class Window:
    """Which runs a query looks at. Dates are inclusive days in UTC; None means unbounded."""

    since: datetime | None = None
    until: datetime | None = None
    branch: str | None = None
    event: str | None = None
    workflow: str | None = None


def _ts(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _dt(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _day_end(value: datetime) -> str:
    """`until` is inclusive of its whole day when given as midnight (a date on the command line)."""
    if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
        return value.strftime("%Y-%m-%dT23:59:59Z")
    return _ts(value)


class HistoryStore:
    """A SQLite history of workflow runs. Use as a context manager, or call `close()`."""

    def __init__(self, path: str | Path = DEFAULT_PATH) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA foreign_keys = ON")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open history store {self.path}: {exc}") from exc
        self.journal_mode = str(mode)

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

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

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: take the write lock up front so two syncs on one file queue, not deadlock."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ---------------------------------------------------------------- sync side

    def run_state(self, run_id: int) -> tuple[int, bool] | None:
        """(attempt, complete) of a stored run, or None if the run is unknown."""
        row = self._db.execute("SELECT attempt, complete FROM runs WHERE id = ?", (run_id,)).fetchone()
        return (int(row[0]), bool(row[1])) if row else None

    def record_listed_runs(self, runs: Iterable[RunInfo]) -> int:
        """Remember runs seen in a listing, before their jobs are fetched.

        A run already complete with the same attempt is left alone (idempotent); a new attempt or
        a run that finished since it was last listed goes back to pending. Storing the listing
        first is what makes a sync resumable: the runs still to do are in the file, not in memory.
        Returns how many runs were new or changed.
        """
        changed = 0
        with self._transaction() as db:
            for run in runs:
                row = db.execute(
                    "SELECT attempt, complete, status FROM runs WHERE id = ?", (run.id,)
                ).fetchone()
                if row and row[0] == run.attempt and (row[1] or row[2] == run.status):
                    continue
                if row:
                    db.execute("DELETE FROM jobs WHERE run_id = ?", (run.id,))
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
        return changed

    def pending_runs(self) -> list[RunInfo]:
        """Finished runs listed but not yet fully stored, newest first."""
        rows = self._db.execute(
            """SELECT id, attempt, workflow_name, workflow, event, branch, head_sha, created, status,
                      conclusion, html_url
               FROM runs WHERE complete = 0 AND status = 'completed' ORDER BY created DESC, id DESC"""
        ).fetchall()
        return [
            RunInfo(
                id=r[0], attempt=r[1], workflow_name=r[2], workflow_path=r[3], event=r[4], branch=r[5],
                head_sha=r[6], head_repo=None, created_at=_dt(r[7]), status=r[8], conclusion=r[9],
                html_url=r[10],
            )
            for r in rows
        ]

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
        with self._transaction() as db:
            self._upsert_run(db, run, jobs_state)
            db.execute("DELETE FROM jobs WHERE run_id = ?", (run.id,))
            for job in jobs:
                found = logs.get(job.id, LogState.NOT_FETCHED)
                state = LogState.PARSED if isinstance(found, JobReport) else found
                log_complete = found.complete if isinstance(found, JobReport) else None
                db.execute(
                    """INSERT OR REPLACE INTO jobs (run_id, attempt, name, job_id, conclusion, runner,
                           log_state, inferred, log_complete) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)""",
                    (run.id, job.attempt, job.name, job.id, job.conclusion, job.runner, state.value,
                     log_complete),
                )
                if isinstance(found, JobReport):
                    self._insert_report(db, run.id, job.attempt, job.name, found)

    def save_inferred_run(self, run: RunInfo, template: Sequence[tuple[str, str | None]]) -> None:
        """Store a green run without asking for its jobs: they are the `(name, runner)` of a
        neighbouring run, all successful. Saves one request per green run (most runs are green)."""
        with self._transaction() as db:
            self._upsert_run(db, run, JobsState.INFERRED)
            db.execute("DELETE FROM jobs WHERE run_id = ?", (run.id,))
            db.executemany(
                """INSERT OR REPLACE INTO jobs (run_id, attempt, name, job_id, conclusion, runner,
                       log_state, inferred) VALUES (?, ?, ?, NULL, 'success', ?, ?, 1)""",
                [
                    (run.id, run.attempt, name, runner, LogState.NOT_FETCHED.value)
                    for name, runner in template
                ],
            )

    def save_jobless_run(self, run: RunInfo) -> None:
        """A cancelled or skipped run: kept so the sync does not revisit it, counted nowhere."""
        with self._transaction() as db:
            self._upsert_run(db, run, JobsState.NONE)
            db.execute("DELETE FROM jobs WHERE run_id = ?", (run.id,))

    @staticmethod
    def _upsert_run(db: sqlite3.Connection, run: RunInfo, jobs_state: str) -> None:
        db.execute(
            """INSERT INTO runs (id, attempt, workflow, workflow_name, event, branch, head_sha, created,
                   status, conclusion, html_url, jobs_state, complete)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
               ON CONFLICT (id) DO UPDATE SET attempt = excluded.attempt, status = excluded.status,
                   conclusion = excluded.conclusion, jobs_state = excluded.jobs_state, complete = 1""",
            (
                run.id, run.attempt, run.workflow_path, run.workflow_name, run.event, run.branch,
                run.head_sha, _ts(run.created_at), run.status, run.conclusion, run.html_url, jobs_state,
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

    def nearest_job_set(self, created: datetime, *, workflow: str) -> tuple[
        list[tuple[str, str | None]] | None, list[tuple[str, str | None]] | None
    ]:
        """Latest-attempt `(name, runner)` lists of the nearest fetched runs before and after `created`."""
        stamp = _ts(created)
        found: list[list[tuple[str, str | None]] | None] = []
        for op, order in (("<=", "DESC"), (">", "ASC")):
            row = self._db.execute(
                f"""SELECT id, attempt FROM runs WHERE jobs_state = 'fetched' AND workflow = ?
                    AND created {op} ? ORDER BY created {order} LIMIT 1""",
                (workflow, stamp),
            ).fetchone()
            if row is None:
                found.append(None)
                continue
            jobs = self._db.execute(
                "SELECT name, runner FROM jobs WHERE run_id = ? AND attempt = ? ORDER BY name", row
            ).fetchall()
            found.append([(str(n), r) for n, r in jobs])
        return found[0], found[1]

    def counts(self) -> dict[str, int]:
        """Row counts and log states, for the sync summary and for tests."""
        out = {
            "runs": self._db.execute("SELECT count(*) FROM runs WHERE complete = 1").fetchone()[0],
            "pending": self._db.execute("SELECT count(*) FROM runs WHERE complete = 0").fetchone()[0],
            "jobs": self._db.execute("SELECT count(*) FROM jobs").fetchone()[0],
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
                   f"{alias}.conclusion NOT IN ({', '.join(repr(c) for c in NOT_A_RESULT)})"]
        params: list[object] = []
        if window.since:
            clauses.append(f"{alias}.created >= ?")
            params.append(_ts(window.since))
        if window.until:
            clauses.append(f"{alias}.created <= ?")
            params.append(_day_end(window.until))
        for column, value in (("branch", window.branch), ("event", window.event)):
            if value is not None:
                clauses.append(f"{alias}.{column} = ?")
                params.append(value)
        if window.workflow is not None:
            clauses.append(f"({alias}.workflow = ? OR {alias}.workflow_name = ?)")
            params.extend([window.workflow, window.workflow])
        return " AND ".join(clauses), params

    def overview(self, window: Window = Window()) -> Overview:
        where, params = self._where(window)
        row = self._db.execute(
            f"""SELECT count(*), coalesce(sum(r.conclusion != 'success'), 0), min(r.created), max(r.created)
                FROM runs r WHERE {where}""",
            params,
        ).fetchone()
        rerun = self._db.execute(
            f"""SELECT count(*) FROM runs r WHERE {where} AND r.conclusion = 'success' AND r.attempt > 1
                AND EXISTS (SELECT 1 FROM jobs j WHERE j.run_id = r.id AND j.attempt < r.attempt
                            AND j.conclusion IN ('failure', 'timed_out'))""",
            params,
        ).fetchone()[0]
        return Overview(
            runs=row[0], failed_runs=row[1], first=_dt(row[2]) if row[2] else None,
            last=_dt(row[3]) if row[3] else None, rerun_failures=rerun,
        )

    def monthly(self, window: Window = Window()) -> list[tuple[str, int, int]]:
        """(YYYY-MM, runs, failed runs), oldest first."""
        where, params = self._where(window)
        return [
            (str(m), int(n), int(f))
            for m, n, f in self._db.execute(
                f"""SELECT substr(r.created, 1, 7) AS month, count(*), sum(r.conclusion != 'success')
                    FROM runs r WHERE {where} GROUP BY month ORDER BY month""",
                params,
            )
        ]

    def failed_jobs_per_failed_run(self, window: Window = Window()) -> dict[int, int]:
        """{number of failed jobs in the latest attempt: number of failed runs}."""
        where, params = self._where(window)
        rows = self._db.execute(
            f"""SELECT n, count(*) FROM (
                    SELECT (SELECT count(*) FROM jobs j WHERE j.run_id = r.id AND j.attempt = r.attempt
                            AND j.conclusion IN ('failure', 'timed_out')) AS n
                    FROM runs r WHERE {where} AND r.conclusion != 'success')
                GROUP BY n ORDER BY n""",
            params,
        )
        return {int(n): int(c) for n, c in rows}

    def job_tallies(self, window: Window = Window()) -> list[JobTally]:
        """Executions and failures per job name, over every attempt (a re-run is another execution)."""
        where, params = self._where(window)
        rows = self._db.execute(
            f"""SELECT j.name,
                       (SELECT j2.runner FROM jobs j2 JOIN runs r2 ON r2.id = j2.run_id
                        WHERE j2.name = j.name AND j2.runner IS NOT NULL
                        ORDER BY r2.created DESC LIMIT 1),
                       count(*),
                       sum(j.conclusion IN ('failure', 'timed_out')),
                       sum(j.conclusion IN ('failure', 'timed_out') AND j.log_state != 'parsed')
                FROM jobs j JOIN runs r ON r.id = j.run_id
                WHERE {where} AND j.conclusion IN ('success', 'failure', 'timed_out')
                GROUP BY j.name ORDER BY j.name""",
            params,
        )
        return [JobTally(str(a), b, int(c), int(d), int(e)) for a, b, c, d, e in rows]

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

    def execution_days(self, window: Window = Window(), *, job: str | None = None) -> list[ExecutionDay]:
        """(job, day, executions that ran tests): green jobs, and failed jobs whose log was parsed
        and did not stop at the build. Grouped by day so a registry can be asked once per day."""
        where, params = self._where(window)
        extra = ""
        if job is not None:
            extra = " AND j.name = ?"
            params = [*params, job]
        rows = self._db.execute(
            f"""SELECT j.name, substr(r.created, 1, 10) AS day, count(*)
                FROM jobs j JOIN runs r ON r.id = j.run_id
                WHERE {where}{extra}
                  AND (j.conclusion = 'success'
                       OR (j.conclusion IN ('failure', 'timed_out') AND j.log_state = 'parsed'
                           AND NOT EXISTS (SELECT 1 FROM problems p WHERE p.run_id = j.run_id
                                           AND p.attempt = j.attempt AND p.job = j.name
                                           AND p.kind = '{ProblemKind.BUILD.value}')))
                GROUP BY j.name, day""",
            params,
        )
        return [ExecutionDay(str(n), date.fromisoformat(d), int(c)) for n, d, c in rows]

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
                WHERE {where} AND j.conclusion IN ('failure', 'timed_out') AND j.log_state = 'parsed'
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
                    WHERE {where} AND o.ignored = 0 AND j.conclusion IN ('failure', 'timed_out')
                      AND NOT EXISTS (SELECT 1 FROM problems p WHERE p.run_id = j.run_id
                                      AND p.attempt = j.attempt AND p.job = j.name
                                      AND p.kind IN ('build', 'runner-error', 'step'))
                    GROUP BY o.run_id, o.attempt, o.job HAVING count(DISTINCT o.test) = 1)
                GROUP BY job, test""",
            params,
        )
        return [SoleCause(str(a), str(b), int(c)) for a, b, c in rows]

    def last_event(self, test: str, job: str | None = None) -> datetime | None:
        sql = "SELECT max(r.created) FROM outcomes o JOIN runs r ON r.id = o.run_id WHERE o.test = ?"
        params: list[object] = [test]
        if job is not None:
            sql += " AND o.job = ?"
            params.append(job)
        row = self._db.execute(sql, params).fetchone()
        return _dt(row[0]) if row and row[0] else None

    def flake_rate(
        self,
        test: str,
        job: str | None = None,
        *,
        registry: ExclusionPolicy | None = None,
        until: datetime | None = None,
        since: datetime | None = None,
    ) -> FlakeRate:
        """How often `test` failed (ignored failures included) per execution, in one job or all.

        Executions are job runs that really ran tests (green, or failed with a parsed log past the
        build) on days when the registry in force did not exclude the test from that job. Failed
        jobs whose log expired are left out of both counts: we cannot know what they ran.
        """
        window = Window(since=since, until=until)
        executions = executions_of(test, self.execution_days(window, job=job), registry, job=job)
        return flake_rate(test, self.test_tallies(window, test=test), executions, job=job)
