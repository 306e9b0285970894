"""What the history sync writes: listed runs, their jobs and logs, the gaps GitHub left, and the
state a resumed sync starts from.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from bot.errors import StoreError
from bot.records import JobInfo, JobReport, LogState, RunInfo
from bot.store.schema import (
    RAN_JOB,
    RUN_TRIES,
    JobsState,
    StoreBase,
    Template,
    Window,
    _dt,
    _instant,
    _stored_run,
    _ts,
)


class SyncWrites(StoreBase):
    """The sync's writes (`bot.store.history_sync`), and what a resumed sync starts from."""

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
