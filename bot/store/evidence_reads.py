"""Triage's read model: a test's flake rate (from the tallies, `bot.store.tallies`) and the
records behind its evidence in one job, and the other workflows' jobs it failed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from bot.evidence import JobRecord, TestHistory
from bot.records import FlakeRate, LogState, ProblemKind, RunInfo
from bot.stats import (
    ExclusionPolicy,
    change_dates,
    executions_of,
    flake_rate,
)
from bot.store.schema import (
    RAN_JOB,
    SAME_COMMIT_SPAN,
    Window,
    _ts,
)
from bot.store.tallies import ReportReads


def _when(text: str) -> datetime:
    """`_dt` for the many timestamps of an evidence lookup: fromisoformat is ~20x faster than strptime."""
    return datetime.fromisoformat(text)


class EvidenceReads(ReportReads):
    """Triage's read model (`bot.orchestrate.history`, `bot.dashboard.store_evidence`); the rates
    themselves are computed by `bot.stats`."""

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
