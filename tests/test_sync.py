"""`flake-bot sync` against the fake GitHub: budgets, resumption, interruptions, re-runs, job-set changes."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fake_github import FakeGitHub
from test_sync_acceptance import failed_job_log, green_job_log

from bot.cli import main
from bot.gateway.client import GitHubGateway
from bot.parse import parse_job_log
from bot.records import JobReport
from bot.store.history_sync import Progress, SyncOptions, sync
from bot.store.sqlite import HistoryStore, Window

T0 = datetime(2026, 1, 6, 8, tzinfo=UTC)
JOBS = ("coverage", "macos", "qemu_arm")


def parse(chunks: Iterable[bytes], job: str) -> JobReport:
    return parse_job_log(chunks, job=job)


def add_run(
    fake: FakeGitHub,
    i: int,
    failed: Sequence[str] = (),
    *,
    jobs: Sequence[str] = JOBS,
    log: str = "expired",
    status: str = "completed",
) -> int:
    """Run number `i` (hours after T0); `failed` jobs fail with an expired log or a readable one."""
    when = T0 + timedelta(hours=i)
    conclusion = None if status != "completed" else ("failure" if failed else "success")
    run = fake.add_run(created_at=when, conclusion=conclusion, status=status)
    for name in jobs:
        if name in failed:
            fake.add_job(
                run["id"], name, "failure", log=failed_job_log(name, when) if log == "readable" else log
            )
        else:
            fake.add_job(run["id"], name, "success" if status == "completed" else None,
                         log=green_job_log(name, when), status=status)  # fmt: skip
    return int(run["id"])


@pytest.fixture
def env(fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> FakeGitHub:
    monkeypatch.setenv("GITHUB_API_URL", fake_github.api_url)
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_sync")
    return fake_github


def cli_sync(db: Path, *extra: str) -> int:
    return main(
        ["sync", "--repo", "micropython/micropython", "--workflow", "ports_unix.yml", "--db", str(db), *extra]
    )


def snapshot(db: Path) -> tuple[object, ...]:
    with HistoryStore(db) as s:
        return (s.overview(), s.monthly(), s.job_tallies(), s.test_tallies(), s.failed_jobs_per_failed_run(),
                s.counts())  # fmt: skip


def history(fake: FakeGitHub, runs: int = 230) -> None:
    for i in range(runs):
        add_run(fake, i, failed=("coverage",) if i % 9 == 0 else ("macos", "qemu_arm") if i % 25 == 0 else ())


def test_a_sync_cut_by_the_request_budget_resumes_to_the_same_store(
    env: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history(env, runs=120)  # two pages of runs, 18 of them failed
    whole = tmp_path / "whole.sqlite"
    assert cli_sync(whole) == 0
    one_go = len(env.requests)
    pieces = tmp_path / "pieces.sqlite"
    rounds = 0
    while True:
        rounds += 1
        assert cli_sync(pieces, "--max-requests", "7") == 0  # a spent budget is not an error
        line = capsys.readouterr().err.strip().splitlines()[-1]
        if "stopped early" not in line:
            break
        assert "run sync again to continue" in line
        assert rounds < 100
    assert rounds > 5
    assert snapshot(pieces) == snapshot(whole)
    # resuming re-lists at most the pages it had not finished, never a run's jobs twice
    assert len(env.requests) - one_go < 2 * one_go


def test_a_budget_smaller_than_the_listing_still_gets_through_it(
    env: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """330 runs are 4 pages; with 3 requests a sync, each sync must list on from where the last
    one was cut, not walk the listed pages again from the top (which never got past page 3)."""
    for i in range(330):
        add_run(env, i, failed=("coverage",) if i == 0 else ())  # one failed run: 1 jobs request + 1 410
    whole = tmp_path / "whole.sqlite"
    assert cli_sync(whole) == 0
    pieces = tmp_path / "pieces.sqlite"
    listed = []
    for _ in range(10):
        assert cli_sync(pieces, "--max-requests", "3") == 0
        with HistoryStore(pieces) as s:
            listed.append(s.counts()["runs"] + s.counts()["pending"])
        if "stopped early" not in capsys.readouterr().err.strip().splitlines()[-1]:
            break
    assert listed[:2] == [300, 330], listed
    assert snapshot(pieces) == snapshot(whole)
    with HistoryStore(pieces) as s:
        assert s.listing_gaps("ports_unix.yml\t\t") == []


def test_ctrl_c_mid_sync_keeps_whole_runs_and_the_next_sync_finishes(env: FakeGitHub, tmp_path: Path) -> None:
    for i in range(12):
        add_run(env, i, failed=("coverage",) if i % 3 == 0 else (), log="readable")
    calls = 0

    def interrupting_parse(chunks: Iterable[bytes], job: str) -> JobReport:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        return parse(chunks, job)

    gateway = GitHubGateway(env.repo, token="t", api_url=env.api_url)
    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as store:
        result = sync(store, gateway, SyncOptions("ports_unix.yml"), parse=interrupting_parse)
        assert result.stopped == "interrupted"
        assert result.runs_added == 2 and result.pending == 10
        # nothing half-written: every job row belongs to a complete run
        assert (
            store._db.execute(
                "SELECT count(*) FROM jobs j JOIN runs r ON r.id = j.run_id WHERE r.complete = 0"
            ).fetchone()[0]
            == 0
        )
        result = sync(store, gateway, SyncOptions("ports_unix.yml"), parse=parse)
        assert result.stopped is None and result.pending == 0
        assert store.overview().runs == 12
        assert [(t.test, t.job, t.events) for t in store.test_tallies()] == [
            ("thread/thread_gc1.py", "coverage", 4)
        ]


def test_a_rate_limit_stops_with_an_error_and_the_next_sync_resumes(
    env: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_run(env, 0, failed=("coverage",))
    env.rate_limit("GET", r"/jobs$", kind="primary", reset_in=7200)
    assert cli_sync(tmp_path / "h.sqlite") == 1  # a rate limit beyond the wait bound stops with an error
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "stopped early" in line and "1 runs left" in line
    assert cli_sync(tmp_path / "h.sqlite") == 0  # and the next sync finishes the job
    assert "1 runs added" in capsys.readouterr().err


def test_runs_in_progress_are_picked_up_when_they_finish(env: FakeGitHub, tmp_path: Path) -> None:
    add_run(env, 0)
    running = add_run(env, 1, status="in_progress")
    add_run(env, 2)
    db = tmp_path / "h.sqlite"
    assert cli_sync(db) == 0
    with HistoryStore(db) as s:
        assert s.overview().runs == 2 and s.counts()["pending"] == 1
    # the run finishes, failing; a newer green run arrives
    env.finish_run(running, "failure", jobs={"macos": "failure"}, log="expired")
    add_run(env, 3)
    before = len(env.requests)
    assert cli_sync(db) == 0
    with HistoryStore(db) as s:
        assert (s.overview().runs, s.overview().failed_runs, s.counts()["pending"]) == (4, 1, 0)
        assert {t.job: t.failures for t in s.job_tallies()}["macos"] == 1
    assert len(env.requests) - before == 1 + 1 + 1  # one page, the finished run's jobs, its 410


def test_a_rerun_keeps_the_failed_attempt_visible(env: FakeGitHub, tmp_path: Path) -> None:
    when = T0
    run = env.add_run(created_at=when, conclusion="failure")
    for name in JOBS:
        env.add_job(run["id"], name, "failure" if name == "qemu_arm" else "success",
                    log=failed_job_log(name, when) if name == "qemu_arm" else None)  # fmt: skip
    env.add_attempt(run["id"], conclusion="success")
    env.add_job(run["id"], "qemu_arm", "success", attempt=2)
    db = tmp_path / "h.sqlite"
    assert cli_sync(db) == 0
    with HistoryStore(db) as s:
        view = s.overview()
        assert (view.runs, view.failed_runs, view.rerun_failures) == (1, 0, 1)
        tallies = {t.job: (t.executions, t.failures) for t in s.job_tallies()}
        assert tallies["qemu_arm"] == (2, 1)
        assert [(t.test, t.job) for t in s.test_tallies()] == [("thread/stress_aes.py", "qemu_arm")]
    # syncing again: the run is complete at attempt 2, nothing to do
    before = len(env.requests)
    assert cli_sync(db) == 0
    assert len(env.requests) - before == 1


def test_green_runs_copy_job_names_and_bisect_where_the_workflow_changed(
    env: FakeGitHub, tmp_path: Path
) -> None:
    # 60 runs; a fourth job is added at run 37; only the first and last runs fail
    for i in range(60):
        jobs = (*JOBS, "qemu_riscv64") if i >= 37 else JOBS
        add_run(env, i, failed=("coverage",) if i in (0, 59) else (), jobs=jobs)
    db = tmp_path / "h.sqlite"
    assert cli_sync(db) == 0
    with HistoryStore(db) as s:
        tallies = {t.job: t.executions for t in s.job_tallies()}
        assert tallies == {"coverage": 60, "macos": 60, "qemu_arm": 60, "qemu_riscv64": 23}
        fetched = s._db.execute("SELECT count(*) FROM runs WHERE jobs_state = 'fetched'").fetchone()[0]
    green_fetches = fetched - 2
    assert 1 <= green_fetches <= 7  # about log2(58), not 58


def test_log_states_404_and_410(env: FakeGitHub, tmp_path: Path) -> None:
    add_run(env, 0, failed=("coverage",), log="missing")
    add_run(env, 1, failed=("macos",), log="expired")
    add_run(env, 2, failed=("qemu_arm",), log="readable")
    db = tmp_path / "h.sqlite"
    assert cli_sync(db) == 0
    with HistoryStore(db) as s:
        counts = s.counts()
    assert (counts["log_missing"], counts["log_expired"], counts["log_parsed"]) == (1, 1, 1)


def test_scan_green_records_ignored_flaky_failures(env: FakeGitHub, tmp_path: Path) -> None:
    run = env.add_run(created_at=T0, conclusion="success")
    env.add_job(run["id"], "coverage", "success",
                log=green_job_log("coverage", T0, ignored="thread/thread_gc1.py"))  # fmt: skip
    env.add_job(run["id"], "macos", "success", log=green_job_log("macos", T0))
    plain, scanned = tmp_path / "plain.sqlite", tmp_path / "scanned.sqlite"
    assert cli_sync(plain) == 0
    assert cli_sync(scanned, "--scan-green") == 0
    with HistoryStore(plain) as s:
        assert s.test_tallies() == []
    with HistoryStore(scanned) as s:
        rate = s.flake_rate("thread/thread_gc1.py")
        assert (rate.events, rate.executions) == (1, 2)
        assert [(t.job, t.ignored) for t in s.test_tallies()] == [("coverage", 1)]
        assert s.overview(Window()).failed_runs == 0


def test_since_limits_the_listing(env: FakeGitHub, tmp_path: Path) -> None:
    for i in range(5):
        add_run(env, 24 * i)
    db = tmp_path / "h.sqlite"
    assert cli_sync(db, "--since", "2026-01-08") == 0
    assert env.requests_to("GET", r"/runs$")[0].query["created"] == ">=2026-01-08"
    with HistoryStore(db) as s:
        assert s.overview().runs == 3


def test_bad_arguments_are_input_errors(
    env: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["sync", "--repo", "nonsense", "--workflow", "x.yml", "--db", str(tmp_path / "h")])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        cli_sync(tmp_path / "h", "--since", "yesterday")
    assert "YYYY-MM-DD" in capsys.readouterr().err
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a database" * 200)
    assert cli_sync(bad) == 2
    assert "is not a flake-bot history store (not an SQLite file): left untouched" in capsys.readouterr().err
    assert bad.read_bytes() == b"not a database" * 200


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_in_a_log() -> None:
    tty = Terminal()
    bar = Progress(tty)
    bar.listing(100, 1)  # runs being listed: no total yet
    for done in range(1, 5):
        bar.update(done, 4, done * 2)
    bar.finish()
    assert tty.getvalue().count("\r") == 5
    assert tty.getvalue().startswith("\rlisting runs: 100 new so far, 1 requests\x1b[K\r[")
    assert "[" + "#" * 30 + "] 4/4 runs, 8 requests\x1b[K\n" in tty.getvalue()
    log = io.StringIO()
    plain = Progress(log, interval=3600)
    plain.listing(100, 1)
    plain.listing(200, 2)
    for done in range(1, 101):
        plain.update(done, 100, done)
    plain.finish()
    # the first line, then nothing until the interval passes or the end
    assert log.getvalue().splitlines() == [
        "sync: listing runs: 100 new so far, 1 requests",
        "sync: 100/100 runs done, 100 requests",
    ]
    assert "\r" not in log.getvalue()


def test_workflow_must_be_a_file_name_or_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["sync", "--repo", "o/r", "--workflow", "unix port", "--db", str(tmp_path / "h")])
    assert exc.value.code == 2
    assert "file name" in capsys.readouterr().err


def test_one_log_that_cannot_be_downloaded_does_not_block_the_sync(env: FakeGitHub, tmp_path: Path) -> None:
    run_id = int(env.add_run(created_at=T0)["id"])
    bad = env.add_job(run_id, "coverage", "failure", log=failed_job_log("coverage", T0))["id"]
    env.add_job(run_id, "qemu_arm", "failure", log=failed_job_log("qemu_arm", T0))
    env.fail("GET", rf"^/_blob/job-logs/{bad}\.txt", 503, times=None)
    gateway = GitHubGateway(env.repo, token="t", api_url=env.api_url, sleep=lambda _s: None)
    with HistoryStore(tmp_path / "h.sqlite") as store:
        result = sync(store, gateway, SyncOptions("ports_unix.yml"), parse=parse)
        assert result.stopped is None and result.logs_unreadable == 1
        assert "1 logs could not be downloaded" in result.line()
        states = dict(store._db.execute("SELECT name, log_state FROM jobs WHERE conclusion = 'failure'"))
        assert states == {"coverage": "not-fetched", "qemu_arm": "parsed"}
        assert store.run_state(run_id) == (1, True)
    assert len(env.requests_to("GET", rf"^/_blob/job-logs/{bad}\.txt")) > 1  # retried before giving up


def test_a_filtered_listing_capped_by_github_continues_by_creation_time(
    env: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GitHub stops a filtered listing at 1,000 runs; here the cap is 40 to keep the test small."""
    monkeypatch.setattr("bot.store.history_sync.LISTING_CAP", 40)
    for i in range(100):
        add_run(env, i, failed=("coverage",) if i % 10 == 0 else ())
    db = tmp_path / "h.sqlite"
    assert cli_sync(db, "--branch", "master") == 0
    with HistoryStore(db) as s:
        assert s.overview().runs == 100
    windows = [r.query.get("created") for r in env.requests_to("GET", r"/runs$")]
    assert windows[0] is None and len(windows) >= 3
    assert all(w.startswith("<=2026-01-") for w in windows[1:])
    # the next sync stops at the newest known run, capped or not
    before = len(env.requests)
    assert cli_sync(db, "--branch", "master") == 0
    assert len(env.requests) - before == 1


def test_a_run_in_progress_for_longer_than_any_run_can_last_stops_being_waited_for(
    env: FakeGitHub, tmp_path: Path
) -> None:
    add_run(env, 0)
    add_run(env, 1, status="queued")  # never finishes (deleted, or a stuck runner)
    for i in range(2, 120):
        add_run(env, 24 * i)  # four months of daily runs: two pages
    db = tmp_path / "h.sqlite"
    assert cli_sync(db) == 0
    add_run(env, 24 * 121)
    before = len(env.requests)
    assert cli_sync(db) == 0
    assert len(env.requests) - before == 1  # not a walk back through every page to the stuck run


@pytest.mark.parametrize("restored", ["first", "second"])
def test_two_overlapping_runs_each_saving_their_cache_lose_nothing(
    env: FakeGitHub, tmp_path: Path, restored: str
) -> None:
    """Two action runs restore the same old file and each save their own copy; whichever copy
    the next run restores, its sync ends with every run a fresh sync would have."""
    for i in range(40):
        add_run(env, i, failed=("coverage",) if i % 7 == 0 else ())
    base = tmp_path / "base.sqlite"
    assert cli_sync(base) == 0
    first, second = tmp_path / "first.sqlite", tmp_path / "second.sqlite"
    shutil.copy(base, first)
    shutil.copy(base, second)
    add_run(env, 40, failed=("macos",), log="readable")
    running = add_run(env, 41, status="in_progress")
    assert cli_sync(first, "--max-requests", "3") == 0  # cut: run 40 fetched, 41 still running
    env.finish_run(running, "failure", jobs={"qemu_arm": "failure"}, log="expired")
    for i in range(42, 45):
        add_run(env, i, failed=("coverage",) if i == 43 else ())
    assert cli_sync(second) == 0
    add_run(env, 45, failed=("qemu_arm",))
    fresh = tmp_path / "fresh.sqlite"
    assert cli_sync(fresh) == 0
    later = first if restored == "first" else second
    assert cli_sync(later) == 0
    assert snapshot(later) == snapshot(fresh)
    with HistoryStore(later) as s:
        assert s.counts()["pending"] == 0 and s.overview().runs == 46
