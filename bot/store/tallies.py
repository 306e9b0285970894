"""The report's read model: tallies per run, month, job and test over a window, co-failures,
causes and executions per day (`bot.report`; the dashboard and triage's rates read them too).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from datetime import date

from bot.records import ProblemKind
from bot.stats import (
    CoFailure,
    ExecutionDay,
    JobTally,
    ObservedCause,
    Overview,
    SoleCause,
    TestTally,
)
from bot.store.schema import (
    FAILED_JOB,
    MAX_SYMPTOMS,
    StoreBase,
    Window,
    _dt,
    _JobRow,
    _RunDay,
    _sql_list,
)


class ReportReads(StoreBase):
    """The report's read model (`bot.report`)."""

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
                r.conclusion != 'success', j.conclusion != 'success',
                j.log_state = 'parsed' AND coalesce(j.log_complete, 0),
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
