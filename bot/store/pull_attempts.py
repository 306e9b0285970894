"""Pull-request attempts as evidence for that pull request, kept apart from the history.

The history store's runs are the default branch's pushes: rates and streaks come from them,
and a contributor's branch must never move them. But a test that failed on attempt 2 of a pull
request's run and passed on attempt 1 of the very same commit is flaky, proven, and that is
the answer to "was that me?". So triage records each attempt of a pull request's run it judges
(its jobs, and what the failed jobs' logs said) in two tables of their own, which only the
same-commit question reads (`pull_records`); nothing that counts rates or executions does.

The tables are created on first use rather than by the store's migrations: they hold a cache of
recent attempts (kept `KEEP` days), not history, and a store without them is simply one that
has not judged a pull request yet.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.evidence import JobRecord
from bot.records import JobInfo, JobReport, ProblemKind, RunInfo
from bot.store.sqlite import RAN_JOB, HistoryStore

#: Days an attempt is kept: re-runs of a commit come within days, rarely weeks.
KEEP = timedelta(days=30)

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS pull_jobs (
        run_id INTEGER NOT NULL, attempt INTEGER NOT NULL, head_sha TEXT NOT NULL, created TEXT NOT NULL,
        job TEXT NOT NULL, conclusion TEXT NOT NULL, log_read INTEGER NOT NULL, log_complete INTEGER NOT NULL,
        past_build INTEGER NOT NULL, PRIMARY KEY (run_id, attempt, job))""",
    """CREATE TABLE IF NOT EXISTS pull_failures (
        run_id INTEGER NOT NULL, attempt INTEGER NOT NULL, job TEXT NOT NULL, test TEXT NOT NULL,
        symptom TEXT NOT NULL, PRIMARY KEY (run_id, attempt, job, test))""",
    "CREATE INDEX IF NOT EXISTS pull_jobs_sha ON pull_jobs (head_sha, job)",
)

_TIME = "%Y-%m-%dT%H:%M:%SZ"


def _db(store: HistoryStore) -> sqlite3.Connection:
    db = store._db  # the store's own connection: one file, one writer lock
    for statement in _SCHEMA:
        db.execute(statement)
    return db


def save_pull_attempt(
    store: HistoryStore, run: RunInfo, jobs: Sequence[tuple[JobInfo, JobReport | None]]
) -> None:
    """Record one attempt of a pull request's run: every job's conclusion, and for each job whose
    log was read, whether it was read whole and past the build, and the tests that failed."""
    db = _db(store)
    created = run.created_at.strftime(_TIME)
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("DELETE FROM pull_jobs WHERE run_id = ? AND attempt = ?", (run.id, run.attempt))
        db.execute("DELETE FROM pull_failures WHERE run_id = ? AND attempt = ?", (run.id, run.attempt))
        for job, report in jobs:
            past_build = report is not None and not any(p.kind is ProblemKind.BUILD for p in report.problems)
            db.execute(
                "INSERT OR REPLACE INTO pull_jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run.id, run.attempt, run.head_sha, created, job.name, job.conclusion or "",
                 report is not None, report is not None and report.complete, past_build),
            )  # fmt: skip
            for failure in report.failures if report else ():
                db.execute(
                    "INSERT OR REPLACE INTO pull_failures VALUES (?, ?, ?, ?, ?)",
                    (run.id, run.attempt, job.name, failure.test, failure.symptom),
                )
        cutoff = (run.created_at - KEEP).strftime(_TIME)
        old = "SELECT run_id FROM pull_jobs WHERE created < ?"
        db.execute(f"DELETE FROM pull_failures WHERE run_id IN ({old})", (cutoff,))
        db.execute("DELETE FROM pull_jobs WHERE created < ?", (cutoff,))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def pull_records(store: HistoryStore, sha: str, job: str, test: str) -> tuple[JobRecord, ...]:
    """The recorded pull-request executions of `job` on commit `sha`, for one test."""
    if not sha:
        return ()
    try:
        rows = _query(store, sha, job, test)
    except sqlite3.Error:  # no tables yet, or not as we write them (triage warns when it records)
        return ()
    return tuple(
        JobRecord(int(r[0]), int(r[1]), sha, datetime.strptime(r[2], _TIME).replace(tzinfo=UTC), job,
                  str(r[3]), log_read=bool(r[4]), log_complete=bool(r[5]), past_build=bool(r[6]),
                  failed=bool(r[7]), symptom=str(r[8]))
        for r in rows
        if r[3] in RAN_JOB
    )


def _query(store: HistoryStore, sha: str, job: str, test: str) -> list[tuple[Any, ...]]:
    """Reading creates nothing: a store that never judged a pull request has no such tables."""
    return store._db.execute(
        """SELECT j.run_id, j.attempt, j.created, j.conclusion, j.log_read, j.log_complete, j.past_build,
                  f.test IS NOT NULL, coalesce(f.symptom, '')
           FROM pull_jobs j LEFT JOIN pull_failures f
             ON f.run_id = j.run_id AND f.attempt = j.attempt AND f.job = j.job AND f.test = ?
           WHERE j.head_sha = ? AND j.job = ?""",
        (test, sha, job),
    ).fetchall()
