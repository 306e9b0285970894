"""The store's SQL aggregates agree with a plain-Python count over random histories.

The store counts executions as runs x job sets, reads failures through an index and groups runs
by (job set, day); this property test re-counts the same history the obvious way, one job at a
time, including re-runs, inferred green runs, expired logs and build breaks.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.records import (
    JobInfo,
    JobReport,
    LogState,
    Outcome,
    Problem,
    ProblemKind,
    RunInfo,
    Runner,
    TestFailure,
)
from bot.store.sqlite import HistoryStore

NAMES = ("a", "b", "c", "d")
TESTS = ("t/one.py", "t/two.py")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Job:
    attempt: int
    name: str
    conclusion: str
    log: str = "not-fetched"  # parsed / expired / missing
    tests: tuple[tuple[str, bool], ...] = ()  # (test, ignored)
    build_broke: bool = False


@dataclass
class Run:
    id: int
    day: int
    attempt: int
    cancelled: bool
    jobs: list[Job] = field(default_factory=list)
    inferred_from: int | None = None

    @property
    def conclusion(self) -> str:
        if self.cancelled:
            return "cancelled"
        latest = [j for j in self.jobs if j.attempt == self.attempt]
        return "failure" if any(j.conclusion == "failure" for j in latest) else "success"


@st.composite
def job_lists(draw: st.DrawFn, attempt: int) -> list[Job]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    jobs = []
    for name in names:
        conclusion = draw(st.sampled_from(["success", "success", "failure", "skipped"]))
        job = Job(attempt, name, conclusion)
        if conclusion == "failure":
            job.log = draw(st.sampled_from(["parsed", "parsed", "expired", "missing"]))
            if job.log == "parsed":
                job.tests = tuple(draw(st.lists(st.tuples(st.sampled_from(TESTS), st.booleans()), max_size=2,
                                                unique_by=lambda t: t[0])))  # fmt: skip
                job.build_broke = not job.tests and draw(st.booleans())
        jobs.append(job)
    return jobs


@st.composite
def histories(draw: st.DrawFn) -> list[Run]:
    runs = []
    for i in range(draw(st.integers(1, 10))):
        attempt = draw(st.sampled_from([1, 1, 1, 2]))
        run = Run(id=1000 + i, day=draw(st.integers(0, 40)), attempt=attempt, cancelled=draw(st.booleans())
                  and draw(st.booleans()))  # fmt: skip
        for a in range(1, attempt + 1):
            run.jobs.extend(draw(job_lists(a)))
        fetched = [r for r in runs if r.inferred_from is None and not r.cancelled and _ran(r)]
        if run.conclusion == "success" and attempt == 1 and fetched and draw(st.booleans()):
            run.inferred_from = draw(st.sampled_from(fetched)).id
            template = next(r for r in runs if r.id == run.inferred_from)
            run.jobs = [Job(1, j.name, "success") for j in _latest_ran(template)]
        runs.append(run)
    return runs


def _latest_ran(run: Run) -> list[Job]:
    return [j for j in run.jobs if j.attempt == run.attempt and j.conclusion in ("success", "failure")]


def _ran(run: Run) -> bool:
    return bool(_latest_ran(run))


def _store(runs: list[Run]) -> HistoryStore:
    # In memory: the aggregates' SQL is the same, and a file per example cost a WAL checkpoint and
    # a sync at every close (tests/test_store.py covers the store on disk).
    store = HistoryStore(":memory:")
    for run in runs:
        info = RunInfo(
            id=run.id, attempt=run.attempt, workflow_name="w", workflow_path=".github/workflows/w.yml",
            event="push", branch="main", head_sha="0" * 40, head_repo=None,
            created_at=T0 + timedelta(days=run.day, minutes=run.id % 60), status="completed",
            conclusion=run.conclusion,
        )  # fmt: skip
        if run.cancelled:
            store.save_jobless_run(info)
        elif run.inferred_from is not None:
            store.save_inferred_run(info, run.inferred_from)
        else:
            infos, logs = [], {}
            for n, job in enumerate(run.jobs):
                ji = JobInfo(id=run.id * 100 + n, run_id=run.id, attempt=job.attempt, name=job.name,
                             status="completed", conclusion=job.conclusion, runner="r")  # fmt: skip
                infos.append(ji)
                if job.log == "parsed":
                    broke = (Problem(ProblemKind.BUILD, "make: *** Error 2"),) if job.build_broke else ()
                    failed = tuple(
                        TestFailure(t, Runner.RUN_TESTS, Outcome.FAIL, ignored=i) for t, i in job.tests
                    )
                    logs[ji.id] = JobReport(job=job.name, complete=True, failures=failed, problems=broke)
                elif job.log in ("expired", "missing"):
                    logs[ji.id] = LogState(job.log)
            store.save_run(info, infos, logs)
    return store


def _ran_tests(job: Job) -> bool:
    return job.conclusion == "success" or (
        job.conclusion == "failure" and job.log == "parsed" and not job.build_broke
    )


@settings(max_examples=60)
@given(histories())
def test_sql_aggregates_match_a_plain_count(runs: list[Run]) -> None:
    counted = [r for r in runs if not r.cancelled]
    executions: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    unread: Counter[str] = Counter()
    tested: Counter[tuple[str, str]] = Counter()
    events: Counter[tuple[str, str]] = Counter()
    histogram: Counter[int] = Counter()
    months: Counter[str] = Counter()
    for run in counted:
        day = (T0 + timedelta(days=run.day)).date().isoformat()
        months[day[:7]] += 1
        if run.conclusion == "failure":
            histogram[sum(1 for j in run.jobs if j.attempt == run.attempt and j.conclusion == "failure")] += 1
        for job in run.jobs:
            if job.conclusion not in ("success", "failure"):
                continue
            executions[job.name] += 1
            if job.conclusion == "failure":
                failures[job.name] += 1
                unread[job.name] += job.log != "parsed"
            if _ran_tests(job):
                tested[(job.name, day)] += 1
            for test, _ignored in job.tests:
                events[(test, job.name)] += 1
    with _store(runs) as store:
        view = store.overview()
        assert (view.runs, view.failed_runs) == (
            len(counted),
            sum(r.conclusion == "failure" for r in counted),
        )
        assert store.failed_jobs_per_failed_run() == dict(sorted(histogram.items()))
        assert {m: n for m, n, _ in store.monthly()} == dict(months)
        tallies = {t.job: (t.executions, t.failures, t.unread_failures) for t in store.job_tallies()}
        assert tallies == {name: (executions[name], failures[name], unread[name]) for name in executions}
        days = {(d.job, d.day.isoformat()): d.executions for d in store.execution_days()}
        assert days == {k: v for k, v in tested.items() if v}
        assert {(t.test, t.job): t.events for t in store.test_tallies()} == dict(events)
        for test in TESTS:
            rate = store.flake_rate(test)
            assert rate.events == sum(n for (t, _), n in events.items() if t == test)
            assert rate.executions == max(sum(tested.values()), rate.events)
