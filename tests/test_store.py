"""The history store on a real SQLite file: schema, idempotent writes, crash safety, queries."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.errors import InputError, StoreError
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
    TestPass,
)
from bot.store.opening import APPLICATION_ID
from bot.store.sqlite import SCHEMA_VERSION, HistoryStore, Window

GC1 = "thread/thread_gc1.py"
ROOT = Path(__file__).resolve().parents[1]


def run_info(
    run_id: int,
    conclusion: str | None = "failure",
    *,
    day: int = 5,
    attempt: int = 1,
    branch: str = "master",
    status: str = "completed",
    month: int = 1,
) -> RunInfo:
    return RunInfo(
        id=run_id,
        attempt=attempt,
        workflow_name="unix port",
        workflow_path=".github/workflows/ports_unix.yml",
        event="push",
        branch=branch,
        head_sha=f"{run_id:040x}",
        head_repo="micropython/micropython",
        created_at=datetime(2026, month, day, 12, tzinfo=UTC),
        status=status,
        conclusion=conclusion,
    )


def job(run_id: int, name: str, conclusion: str = "success", *, attempt: int = 1) -> JobInfo:
    return JobInfo(
        id=run_id * 100_000 + sum(map(ord, name)) + attempt * 10_000,
        run_id=run_id,
        attempt=attempt,
        name=name,
        status="completed",
        conclusion=conclusion,
        runner="ubuntu-latest",
    )


def report(*tests: str, ignored: bool = False, problems: tuple[Problem, ...] = ()) -> JobReport:
    return JobReport(
        job=None,
        complete=True,
        failures=tuple(
            TestFailure(
                t, Runner.RUN_TESTS, Outcome.FAIL, ignored=ignored, test_pass=p, symptom="Expected True"
            )
            for t in tests
            for p in (TestPass.BYTECODE, TestPass.NATIVE)  # failing in two passes is still one event
        ),
        problems=problems,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore(tmp_path / "h.sqlite") as s:
        yield s


def dump(path: Path) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return [
            row
            for t in ("runs", "jobs", "outcomes", "problems")
            for row in db.execute(f"SELECT '{t}', * FROM {t} ORDER BY 2, 3, 4")
        ]
    finally:
        db.close()


def test_new_file_gets_current_schema_in_wal_mode(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "new.sqlite") as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.journal_mode == "wal"
    # reopening migrates nothing and keeps the version
    with HistoryStore(tmp_path / "new.sqlite") as s:
        assert s.schema_version == SCHEMA_VERSION


def test_a_store_of_the_first_schema_is_migrated_forward_with_its_data(tmp_path: Path) -> None:
    from bot.store.sqlite import _MIGRATIONS

    path = tmp_path / "v1.sqlite"
    db = sqlite3.connect(path)
    db.executescript(_MIGRATIONS[0])
    db.execute(
        """INSERT INTO runs (id, attempt, workflow, workflow_name, event, branch, head_sha, created,
               status, conclusion, jobs_state, complete)
           VALUES (7, 1, 'ports_unix.yml', 'unix port', 'push', 'master', 'abc', '2026-01-05T12:00:00Z',
               'completed', 'failure', 'none', 1),
                  (8, 1, 'ports_unix.yml', 'unix port', 'push', 'master', 'abd', '2026-01-06T12:00:00Z',
               'completed', 'success', 'pending', 0)"""
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with HistoryStore(path) as s:
        assert s.schema_version == SCHEMA_VERSION == 4
        # made before the marker, recognised by its tables, marked from now on
        assert s._db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert s.overview().runs == 1 and s.overview().failed_runs == 1
        indexes = {r[0] for r in s._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "runs_by_set_day" in indexes
        # a listing cut by an older flake-bot left pending runs: listing resumes below the oldest
        assert s.listing_gaps("anything") == [datetime(2026, 1, 6, 12, tzinfo=UTC)]


def test_a_store_from_a_newer_flake_bot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    HistoryStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this flake-bot"):
        HistoryStore(path)


def test_a_file_that_is_not_sqlite_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not a database, just some text " * 100)
    with pytest.raises(InputError, match=r"is not a flake-bot history store \(not an SQLite file\)"):
        HistoryStore(path)


def test_saving_the_same_run_twice_changes_nothing(store: HistoryStore) -> None:
    run = run_info(1)
    jobs = [job(1, "coverage", "failure"), job(1, "macos")]
    logs = {jobs[0].id: report(GC1)}
    store.save_run(run, jobs, logs)
    first = dump(store.path)
    store.save_run(run, jobs, logs)
    assert dump(store.path) == first
    assert store.counts()["outcomes"] == 2  # one per pass


def test_listing_is_remembered_and_complete_runs_are_not_reopened(store: HistoryStore) -> None:
    assert (
        store.record_listed_runs(
            [run_info(1), run_info(2, "success"), run_info(3, None, status="in_progress")]
        )
        == 3
    )
    assert [r.id for r in store.pending_runs()] == [2, 1]  # newest first (same time: by id)
    assert store.oldest_unfinished() == datetime(2026, 1, 5, 12, tzinfo=UTC)
    store.save_run(run_info(1), [job(1, "coverage", "failure")], {})
    assert store.run_state(1) == (1, True)
    assert store.record_listed_runs([run_info(1)]) == 0  # same attempt, complete: untouched
    assert store.run_state(1) == (1, True)
    assert store.record_listed_runs([run_info(1, "success", attempt=2)]) == 1  # re-run: redo
    assert store.run_state(1) == (2, False)
    assert store.overview().runs == 0  # a pending run counts nowhere until it is saved again
    assert store.job_tallies() == []


def test_log_states_are_recorded(store: HistoryStore) -> None:
    jobs = [job(1, "a", "failure"), job(1, "b", "failure"), job(1, "c", "failure"), job(1, "d")]
    store.save_run(
        run_info(1),
        jobs,
        {jobs[0].id: report(GC1), jobs[1].id: LogState.EXPIRED, jobs[2].id: LogState.MISSING},
    )
    counts = store.counts()
    assert (
        counts["log_parsed"],
        counts["log_expired"],
        counts["log_missing"],
        counts["log_not-fetched"],
    ) == (1, 1, 1, 1)
    tallies = {t.job: t for t in store.job_tallies()}
    assert tallies["a"].unread_failures == 0 and tallies["b"].unread_failures == 1


class ExplodingLogs(Mapping[int, JobReport]):
    """Logs that give out after `n` lookups, the way Ctrl-C or a crash can land mid-write."""

    def __init__(self, n: int, exc: BaseException) -> None:
        self.n, self.exc = n, exc

    def __getitem__(self, key: int) -> JobReport:
        if self.n == 0:
            raise self.exc
        self.n -= 1
        return report(GC1)

    def __iter__(self) -> Iterator[int]:
        return iter(())

    def __len__(self) -> int:
        return 0


def test_an_interrupted_write_leaves_no_half_written_run(store: HistoryStore) -> None:
    store.save_run(run_info(1), [job(1, "a", "failure")], {job(1, "a", "failure").id: report(GC1)})
    before = dump(store.path)
    store.record_listed_runs([run_info(2)])
    jobs = [job(2, "a", "failure"), job(2, "b", "failure"), job(2, "c", "failure")]
    with pytest.raises(KeyboardInterrupt):
        store.save_run(run_info(2), jobs, ExplodingLogs(2, KeyboardInterrupt()))
    assert store.run_state(2) == (1, False)  # still pending: the next sync redoes it
    assert [r for r in dump(store.path) if r[0] != "runs"] == [r for r in before if r[0] != "runs"]


def test_a_killed_process_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite"
    script = textwrap.dedent(f"""
        import os, sys
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "tests")!r}]
        from test_store import ExplodingLogs, job, run_info
        from bot.store.sqlite import HistoryStore
        store = HistoryStore({str(path)!r})
        store.save_run(run_info(1), [job(1, "a", "failure")], {{}})
        jobs = [job(2, "a", "failure"), job(2, "b", "failure")]
        class DieMidWrite(ExplodingLogs):
            def __getitem__(self, key):
                if self.n == 0:
                    os._exit(9)  # no rollback, no cleanup: like a killed runner
                return super().__getitem__(key)
        store.save_run(run_info(2), jobs, DieMidWrite(1, RuntimeError()))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 9, done.stderr
    with HistoryStore(path) as s:
        assert s._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert s.run_state(1) == (1, True)
        assert s.run_state(2) is None
        assert s.counts()["jobs"] == 1


def test_a_failing_statement_rolls_the_whole_run_back(store: HistoryStore) -> None:
    bad = JobReport(job=None, complete=True, problems=(Problem(ProblemKind.BUILD, None),))  # type: ignore[arg-type]
    jobs = [job(1, "a", "failure")]
    with pytest.raises(sqlite3.IntegrityError):
        store.save_run(run_info(1), jobs, {jobs[0].id: bad})
    assert store.run_state(1) is None
    assert store.counts()["jobs"] == 0


def fill(store: HistoryStore) -> None:
    """Four runs: two green (inferred), a coverage failure on thread_gc1, a build break."""
    jobs3 = [job(3, "coverage", "failure"), job(3, "macos", "failure")]
    store.save_run(run_info(3, day=3), jobs3, {jobs3[0].id: report(GC1), jobs3[1].id: LogState.EXPIRED})
    store.save_inferred_run(run_info(1, "success", day=1), template=3)
    store.save_inferred_run(run_info(2, "success", day=2, month=2), template=3)
    jobs4 = [job(4, "coverage", "failure"), job(4, "macos")]
    store.save_run(
        run_info(4, day=4, branch="feature"),
        jobs4,
        {jobs4[0].id: report(problems=(Problem(ProblemKind.BUILD, "make: *** Error 2"),))},
    )
    store.save_jobless_run(run_info(5, "cancelled", day=5))


def test_aggregate_queries(store: HistoryStore) -> None:
    fill(store)
    view = store.overview()
    assert (view.runs, view.failed_runs) == (4, 2)
    assert store.monthly() == [("2026-01", 3, 2), ("2026-02", 1, 0)]
    assert store.failed_jobs_per_failed_run() == {1: 1, 2: 1}
    assert {t.job: (t.executions, t.failures, t.unread_failures) for t in store.job_tallies()} == {
        "coverage": (4, 2, 0),
        "macos": (4, 1, 1),
    }
    tallies = store.test_tallies()
    assert [(t.test, t.job, t.events) for t in tallies] == [(GC1, "coverage", 1)]
    assert [(c.job, c.test, c.count) for c in store.observed_causes()] == [
        ("coverage", None, 1),
        ("coverage", GC1, 1),
    ]
    assert [(s.job, s.test, s.count) for s in store.sole_causes()] == [("coverage", GC1, 1)]
    # green x2, the parsed failure; not the build break, not the expired macos failure
    days = store.execution_days()
    assert sum(d.executions for d in days if d.job == "coverage") == 3
    assert sum(d.executions for d in days if d.job == "macos") == 3


def test_window_filters(store: HistoryStore) -> None:
    fill(store)
    assert store.overview(Window(branch="master")).runs == 3
    assert store.overview(Window(since=datetime(2026, 1, 3, tzinfo=UTC))).runs == 3
    assert store.overview(Window(until=datetime(2026, 1, 3, 12, tzinfo=UTC))).runs == 2  # inclusive
    assert store.overview(Window(until=datetime(2026, 1, 3, 11, 59, 59, tzinfo=UTC))).runs == 1
    assert store.monthly(Window(since=datetime(2026, 2, 1, tzinfo=UTC))) == [("2026-02", 1, 0)]


def test_co_failures_need_two_jobs_of_one_run(store: HistoryStore) -> None:
    jobs = [job(1, "a", "failure"), job(1, "b", "failure"), job(1, "c", "failure")]
    store.save_run(
        run_info(1),
        jobs,
        {jobs[0].id: report(GC1), jobs[1].id: report(GC1, "x.py"), jobs[2].id: report("y.py", ignored=True)},
    )
    found = store.co_failures()
    assert [(c.run_id, c.test, c.jobs) for c in found] == [(1, GC1, ("a", "b"))]


class ExcludedFromMacosUntil:
    def __init__(self, until: date) -> None:
        self.until = until

    def runs_test(self, job: str, test: str, when: date | None = None) -> bool:
        return not (job == "macos" and test == GC1 and when is not None and when < self.until)

    def ignores(self, job: str, test: str, when: date | None = None) -> bool:
        return False


def test_flake_rate_counts_only_executions_that_ran_the_test(store: HistoryStore) -> None:
    fill(store)
    everywhere = store.flake_rate(GC1)
    assert (everywhere.events, everywhere.executions) == (1, 6)
    # excluded from macos until 2026-01-02: run 1's macos execution did not run it
    scoped = store.flake_rate(GC1, registry=ExcludedFromMacosUntil(date(2026, 1, 2)))
    assert (scoped.events, scoped.executions) == (1, 5)
    assert scoped.symptoms == ("Expected True",)
    assert scoped.last_seen == datetime(2026, 1, 3, 12, tzinfo=UTC)
    one_job = store.flake_rate(GC1, "coverage")
    assert (one_job.job, one_job.events, one_job.executions) == ("coverage", 1, 3)
    assert one_job.low < 1 / 3 < one_job.high
    before = store.flake_rate(GC1, until=datetime(2026, 1, 3, 11, 59, 59, tzinfo=UTC))
    assert (before.events, before.executions) == (0, 2)


def test_nearest_templates_look_both_ways(store: HistoryStore) -> None:
    jobs = [job(3, "coverage", "failure"), job(3, "macos"), job(3, "skipped_one", "skipped")]
    store.save_run(run_info(3, day=3), jobs, {})
    wf = ".github/workflows/ports_unix.yml"
    before, after = store.nearest_templates(datetime(2026, 1, 1, tzinfo=UTC), workflow=wf)
    assert before is None and after is not None
    assert after.run_id == 3
    # skipped jobs ran nothing, so they are not part of the template
    assert after.jobs == (("coverage", "ubuntu-latest"), ("macos", "ubuntu-latest"))
    before, after = store.nearest_templates(datetime(2026, 1, 9, tzinfo=UTC), workflow=wf)
    assert after is None and before is not None and before.run_id == 3
    assert store.nearest_templates(datetime(2026, 1, 9, tzinfo=UTC), workflow="other.yml") == (None, None)


def test_closing_folds_the_wal_into_the_file(tmp_path: Path) -> None:
    """The action caches only the main file, so a closed store must not leave data in the WAL."""
    path = tmp_path / "h.sqlite"
    with HistoryStore(path) as s:
        fill(s)
        assert path.with_name("h.sqlite-wal").exists()
    assert not path.with_name("h.sqlite-wal").exists()
    copy = tmp_path / "copy.sqlite"
    copy.write_bytes(path.read_bytes())  # what actions/cache would restore
    with HistoryStore(copy) as s:
        assert s.overview().runs == 4


def test_a_missing_directory_is_created_and_an_unusable_path_is_a_clear_error(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / ".flake-bot" / "history.sqlite") as s:
        assert s.schema_version == SCHEMA_VERSION
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(InputError, match="is a file, not a directory"):
        HistoryStore(blocker / "history.sqlite")


class _Entry:
    def __init__(self, since: date | None, until: date | None) -> None:
        self.since, self.until = since, until


class ExclusionWithDates(ExcludedFromMacosUntil):
    """The same policy, telling when its answers change, as `bot.registry.Registry` does."""

    def __init__(self, until: date) -> None:
        super().__init__(until)
        self.entries = (_Entry(None, until),)


@pytest.mark.parametrize("until", [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 4), date(2026, 3, 1)])
def test_flake_rate_by_registry_spans_equals_day_by_day(store: HistoryStore, until: date) -> None:
    fill(store)
    for job_name in (None, "coverage", "macos"):
        by_day = store.flake_rate(GC1, job_name, registry=ExcludedFromMacosUntil(until))
        by_span = store.flake_rate(GC1, job_name, registry=ExclusionWithDates(until))
        assert by_span == by_day


def test_where_the_runner_ignores_a_test_only_read_logs_count_as_its_executions(store: HistoryStore) -> None:
    """From 2026-03-11 upstream ignores thread_gc1 everywhere: its failure leaves the job green, so
    a green job whose log nobody read says nothing about it. Before that date a green job means
    it passed."""
    from bot.registry import load_registry

    registry = load_registry(None)
    assert registry.ignores("coverage", GC1, date(2026, 4, 1))
    assert not registry.ignores("coverage", GC1, date(2026, 2, 1))
    for month in (2, 4):
        base = month * 100
        # a failed run whose coverage log shows another test failing and thread_gc1 ignored
        failed = [job(base + 1, "coverage", "failure"), job(base + 1, "standard")]
        store.save_run(
            run_info(base + 1, month=month, day=1),
            failed,
            {failed[0].id: replace(report("basics/other.py"), failures=(
                *report("basics/other.py").failures, *report(GC1, ignored=True).failures))},
        )  # fmt: skip
        for n in range(2, 6):  # green runs, logs not read
            store.save_run(run_info(base + n, "success", month=month, day=n), [job(base + n, "coverage")], {})
        scanned = job(base + 6, "coverage")  # a green run read under --scan-green: clean
        store.save_run(run_info(base + 6, "success", month=month, day=6), [scanned], {scanned.id: report()})
    february = store.flake_rate(GC1, "coverage", registry=registry, until=datetime(2026, 3, 1, tzinfo=UTC))
    assert (february.events, february.executions) == (1, 6)  # not ignored then: every green job counts
    april = store.flake_rate(GC1, "coverage", registry=registry, since=datetime(2026, 4, 1, tzinfo=UTC))
    assert (april.events, april.executions) == (1, 2)  # the failed job and the scanned green one
    assert store.flake_rate(GC1, "coverage", since=datetime(2026, 4, 1, tzinfo=UTC)).executions == 6


def test_flake_rate_counts_executions_since_the_last_failure(store: HistoryStore) -> None:
    """Runs 1-3 of `coverage`: the test fails on day 2 only, then on day 4. Whether it passed since
    its last failure is what tells a flake (it did) from a regression starting (it did not)."""
    outcomes = {2: report(GC1), 4: report(GC1)}
    for day in (1, 2, 3, 4):
        conclusion = "failure" if day in outcomes else "success"
        reports = {job(day, "coverage", conclusion).id: outcomes[day]} if day in outcomes else {}
        store.save_run(run_info(day, conclusion, day=day), [job(day, "coverage", conclusion)], reports)

    def before(day: int) -> datetime:
        return datetime(2026, 1, day, 11, tzinfo=UTC)

    assert store.flake_rate(GC1, "coverage", until=before(2)).since_last is None  # never failed yet
    assert store.flake_rate(GC1, "coverage", until=before(3)).since_last == 0  # failed last time
    assert store.flake_rate(GC1, "coverage", until=before(4)).since_last == 1  # passed once since
    assert store.flake_rate(GC1, "coverage").since_last == 0


def test_flake_rate_keeps_to_one_workflow(store: HistoryStore) -> None:
    """A fork PR can give any workflow the watched name; the runs of that other workflow that
    land in the same store must not lend their failures to the rates of the real one."""
    for run_id, conclusion in ((1, "failure"), (2, "success")):
        jobs = [job(run_id, "coverage", conclusion)]
        reports = {jobs[0].id: report(GC1)} if conclusion == "failure" else {}
        store.save_run(run_info(run_id, conclusion, day=run_id), jobs, reports)
    other = replace(run_info(3, "failure", day=3), workflow_path=".github/workflows/ports_stm32.yml")
    store.save_run(other, [job(3, "coverage", "failure")], {job(3, "coverage", "failure").id: report(GC1)})

    unix = store.flake_rate(GC1, "coverage", workflow=".github/workflows/ports_unix.yml")
    assert (unix.events, unix.executions) == (1, 2)
    mixed = store.flake_rate(GC1, "coverage")
    assert (mixed.events, mixed.executions) == (2, 3)
