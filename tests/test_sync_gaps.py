"""What GitHub will not give never wedges a sync: a deleted run, a run whose jobs always fail
with 503, a log host that trickles, GitHub down, and a deadline. Each against the fake GitHub
through the real `sync` and `report` commands."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fake_github import FakeGitHub
from test_sync_acceptance import failed_job_log

from bot.cli import main
from bot.gateway.client import GitHubGateway
from bot.store.history_sync import GAP_AFTER, LOG_TRIES
from bot.store.sqlite import RUN_TRIES, HistoryStore

T0 = datetime(2026, 2, 2, 8, tzinfo=UTC)


@pytest.fixture
def env(fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> FakeGitHub:
    monkeypatch.setenv("GITHUB_API_URL", fake_github.api_url)
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_gaps")
    return fake_github


def failed_runs(fake: FakeGitHub, count: int, start: datetime = T0) -> list[tuple[int, int]]:
    """`count` runs an hour apart from `start`, each with a failed `coverage` job (readable log)
    and a green `macos`: every one needs its jobs fetched. Returns (run id, coverage job id),
    oldest first."""
    out = []
    for i in range(count):
        when = start + timedelta(hours=i)
        run = fake.add_run(created_at=when, conclusion="failure")
        job = fake.add_job(run["id"], "coverage", "failure", log=failed_job_log("coverage", when))
        fake.add_job(run["id"], "macos", "success", log="missing")
        out.append((int(run["id"]), int(job["id"])))
    return out


def cli_sync(db: Path, *extra: str) -> int:
    return main(
        ["sync", "--repo", "micropython/micropython", "--workflow", "ports_unix.yml", "--db", str(db), *extra]
    )


def complete_runs(db: Path) -> set[int]:
    with HistoryStore(db) as s:
        return {int(r[0]) for r in s._db.execute("SELECT id FROM runs WHERE complete = 1")}


def report_json(db: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["report", "--db", str(db), "--no-registry", "--format", "json"]) == 0
    return dict(json.loads(capsys.readouterr().out))


def test_a_deleted_run_is_a_gap_at_once_and_a_later_success_fills_it(
    env: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = failed_runs(env, 6)
    deleted = runs[4][0]  # newer than four runs it used to block, every sync
    env.fail("GET", rf"/runs/{deleted}/jobs$", 404, times=1)
    db = tmp_path / "h.sqlite"

    assert cli_sync(db) == 0
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"run {deleted}: not found (404): deleted?, now a gap" in line
    assert "1 gaps (runs or logs GitHub would not give) counted as unknown" in line
    assert "stopped early" not in line
    assert complete_runs(db) == {r for r, _ in runs} - {deleted}
    doc = report_json(db, capsys)
    assert doc["runs"]["total"] == 5  # unknown: neither a pass nor a failure
    assert doc["gaps"] == [{"run_id": deleted, "job_id": None, "reason": "not found (404): deleted?",
                            "syncs_failed": 1}]  # fmt: skip
    assert main(["report", "--db", str(db), "--no-registry"]) == 0
    assert "**Gaps:** 1 runs and 0 job logs that GitHub would not give are counted as unknown" in (
        capsys.readouterr().out
    )

    # GitHub gives the run after all: the gap is filled, at the end of the next sync
    assert cli_sync(db) == 0
    assert complete_runs(db) == {r for r, _ in runs}
    assert report_json(db, capsys)["gaps"] == []


def test_a_run_failing_with_503_is_skipped_each_sync_and_a_gap_after_three(
    env: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = failed_runs(env, 5)
    bad = runs[3][0]
    env.fail("GET", rf"/runs/{bad}/jobs$", 503, times=None)
    db = tmp_path / "h.sqlite"

    for sync in range(1, GAP_AFTER + 1):
        assert cli_sync(db) == 0
        line = capsys.readouterr().err.strip().splitlines()[-1]
        assert f"run {bad}: GET " in line and "503" in line
        assert ("now a gap" in line) == (sync == GAP_AFTER), line
        # never blocks: every other run is in after the first sync
        assert complete_runs(db) == {r for r, _ in runs} - {bad}
    [gap] = report_json(db, capsys)["gaps"]
    assert gap["run_id"] == bad and gap["syncs_failed"] == GAP_AFTER and "503" in gap["reason"]


def test_github_down_stops_the_sync_instead_of_marking_every_run(
    env: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failed_runs(env, 8)
    env.fail("GET", r"/jobs$", 503, times=None)
    db = tmp_path / "h.sqlite"

    assert cli_sync(db) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "stopped early" in line and "8 runs left" in line
    assert report_json(db, capsys)["gaps"] == []


def test_a_trickling_log_host_costs_one_download_limit_and_leaves_a_log_gap(
    env: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the limit is 300 s by default; 0.2 s stands for it, against a byte every 50 ms
    monkeypatch.setitem(GitHubGateway.__init__.__kwdefaults__, "download_limit", 0.2)
    runs = failed_runs(env, 4)
    run, job = runs[2]
    env.trickle("GET", rf"^/_blob/job-logs/{job}\.txt", seconds=0.05)
    db = tmp_path / "h.sqlite"

    began = time.monotonic()
    assert cli_sync(db) == 0
    assert time.monotonic() - began < 10
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "1 logs could not be downloaded" in line and "1 gaps" in line
    assert complete_runs(db) == {r for r, _ in runs}  # every run, this one with its log unknown
    [gap] = report_json(db, capsys)["gaps"]
    assert (gap["run_id"], gap["job_id"]) == (run, job)
    assert "took longer than 0.2 s" in gap["reason"]

    # the host answers properly next time: the log is read and the gap filled
    assert cli_sync(db) == 0
    assert "1 logs read that earlier syncs could not download" in capsys.readouterr().err
    assert report_json(db, capsys)["gaps"] == []
    with HistoryStore(db) as s:
        assert s.counts()["log_parsed"] == 4


def test_the_deadline_stops_fetching_keeps_what_is_stored_and_the_next_sync_resumes(
    env: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = failed_runs(env, 30)
    # the first sync is slow (0.8 s of delays for a 0.6 s limit), the next is not
    env.delay("GET", r"/jobs$", seconds=0.1, times=8)
    db = tmp_path / "h.sqlite"

    began = time.monotonic()
    assert cli_sync(db, "--deadline", "0.6s") == 0  # a limit reached is not a failure
    assert time.monotonic() - began < 5
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "stopped early (time limit reached)" in line
    kept = complete_runs(db)
    assert 0 < len(kept) < len(runs) and f"{len(runs) - len(kept)} runs left" in line

    assert cli_sync(db) == 0
    assert complete_runs(db) == {r for r, _ in runs}


@pytest.mark.parametrize("value", ["soon", "0", "5 min", "inf", "nanm"])
def test_a_bad_deadline_is_an_input_error(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli_sync(tmp_path / "h.sqlite", "--deadline", value)
    assert exc.value.code == 2
    assert "is not a time limit such as 600, 90s, 20m or 1h" in capsys.readouterr().err
    assert not (tmp_path / "h.sqlite").exists()


def test_the_dashboard_says_how_many_gaps_its_window_holds(
    env: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GITHUB_ACTIONS", "GITHUB_REPOSITORY", "GITHUB_EVENT_PATH", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    runs = failed_runs(env, 4, start=datetime.now(UTC) - timedelta(days=3))
    env.fail("GET", rf"/runs/{runs[1][0]}/jobs$", 404)
    db = tmp_path / "h.sqlite"
    assert cli_sync(db, "--branch", "master", "--event", "push") == 0
    capsys.readouterr()

    assert main(["dashboard", "--offline", "--dry-run", "--history", str(db)]) == 0
    out = capsys.readouterr().out
    said = "1 runs or job logs GitHub would not give (deleted, or failing every time) are counted as unknown"
    assert said in out


def test_gaps_are_asked_for_a_bounded_number_of_times(
    env: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deleted run costs a request per sync only until RUN_TRIES; a trickling log host costs a
    download limit per sync only until LOG_TRIES."""
    monkeypatch.setitem(GitHubGateway.__init__.__kwdefaults__, "download_limit", 0.2)
    runs = failed_runs(env, 3)
    deleted, (_, trickled) = runs[0][0], runs[2]
    env.fail("GET", rf"/runs/{deleted}/jobs$", 404, times=None)
    env.trickle("GET", rf"^/_blob/job-logs/{trickled}\.txt", seconds=0.05, times=None)
    db = tmp_path / "h.sqlite"

    for _ in range(RUN_TRIES + 2):
        assert cli_sync(db) == 0
    capsys.readouterr()

    assert len(env.requests_to("GET", rf"/runs/{deleted}/jobs$")) == RUN_TRIES
    assert len(env.requests_to("GET", rf"/jobs/{trickled}/logs$")) == LOG_TRIES
    assert len(report_json(db, capsys)["gaps"]) == 2
