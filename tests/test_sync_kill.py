"""A sync killed at any moment, with only the main file kept (the Actions cache saves the named
file, not its -wal), keeps all but its last checkpoint interval, and the next sync finishes the
job. SIGTERM, which a runner sends before it kills, loses nothing. Quick versions (a process
start is a second): the benchmark (`bench/bench_sync.py --kill`) kills the reference history's
sync at many random moments."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fake_github import FakeGitHub

from bot.store.opening import FileKind, inspect
from bot.store.sqlite import CHECKPOINT_EVERY, SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
RUNS = 45


def seed(fake: FakeGitHub) -> None:
    """Failed runs whose logs expired: one jobs request and one log request each."""
    for i in range(RUNS):
        run = fake.add_run(created_at=T0 + timedelta(hours=i), conclusion="failure")
        fake.add_job(run["id"], "coverage", "failure", log="expired")
    # slow enough that a kill lands mid-sync, whatever the machine's load
    fake.delay("GET", r"/jobs$", seconds=0.01, times=None)


def start(fake: FakeGitHub, db: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GITHUB_API_URL": fake.api_url, "GITHUB_TOKEN": "ghs_kill", "PYTHONPATH": str(ROOT)}
    argv = ["sync", "--repo", fake.repo, "--workflow", "ports_unix.yml", "--db", str(db)]
    return subprocess.Popen([sys.executable, "-m", "bot", *argv], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip


def wait_for_jobs_requests(fake: FakeGitHub, count: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while len(fake.requests_to("GET", r"/jobs$")) < count:
        assert proc.poll() is None, "the sync ended before the kill"
        assert time.monotonic() < deadline
        time.sleep(0.005)


def complete(db: Path) -> int:
    """Complete runs in `db` as SQLite reads it: through its -wal when one lies beside it."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT count(*) FROM runs WHERE complete = 1").fetchone()[0])
    finally:
        con.close()


def cached(db: Path, into: Path) -> Path:
    """What the Actions cache saves and restores: the main file only."""
    into.mkdir()
    shutil.copy(db, into / db.name)
    return into / db.name


def test_killed_at_a_random_moment_with_only_the_main_file_kept(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    seed(fake_github)
    rng = random.Random(22)
    db = tmp_path / "run0" / "h.sqlite"
    db.parent.mkdir()
    for kill in range(1, 2):
        before = complete(db) if db.exists() else 0
        proc = start(fake_github, db)
        already = len(fake_github.requests_to("GET", r"/jobs$"))
        moment = rng.randint(CHECKPOINT_EVERY + 5, 2 * CHECKPOINT_EVERY)  # runs into the sync
        wait_for_jobs_requests(fake_github, already + moment, proc)
        proc.kill()
        proc.wait()
        written = complete(db)  # main file and -wal: every run the killed sync committed
        main_only = cached(db, tmp_path / f"run{kill}")
        kept = complete(main_only)
        assert inspect(main_only, SCHEMA_VERSION).kind is FileKind.OURS  # integrity check included
        assert written - kept < CHECKPOINT_EVERY, (kill, written, kept)
        assert kept > before  # progress survives: without checkpoints the main file gained nothing
        db = main_only

    fake_github.clear_faults()  # the kills are done: the sync that finishes the job need not be slow
    proc = start(fake_github, db)
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    assert complete(cached(db, tmp_path / "final")) == RUNS


def test_sigterm_stops_the_sync_and_the_main_file_keeps_everything(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    seed(fake_github)
    db = tmp_path / "h.sqlite"
    proc = start(fake_github, db)
    wait_for_jobs_requests(fake_github, CHECKPOINT_EVERY + 10, proc)

    proc.send_signal(signal.SIGTERM)

    assert proc.wait(timeout=30) == 143
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert "stopped early (terminated (SIGTERM))" in err and "runs left" in err
    written = complete(db)
    assert written >= CHECKPOINT_EVERY + 8
    assert complete(cached(db, tmp_path / "cache")) == written  # nothing was left in the -wal
