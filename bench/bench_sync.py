"""Benchmark: API requests spent by `flake-bot sync` in the cases the budget is written for.

Serves the reference report's history (575 master push runs, 103 failed, logs of failed jobs
kept only since 2026-01-05) from the test suite's fake GitHub on a local socket, and runs the
real `flake-bot sync` command against it:

1. first sync into an empty store (budget: < 800 requests);
2. a sync with nothing new (budget: 1, at most 2);
3. a sync after 10 new runs, 2 of them failed;
4. a first sync cut into pieces by --max-requests 60, resumed until done;
5. a first sync with --scan-green --since 2026-01-05 (reads every green job's log too, so it is
   worth it only over the log-retention window).

    python bench/bench_sync.py

Kill-and-resume mode: the first sync runs as its own process and is killed (SIGKILL) at N
random moments; after each kill only the main file is kept (what the Actions cache saves) and
the next process resumes from it. Prints, per kill, the runs the killed sync had committed and
those the main file kept, then the requests all the pieces cost against one uninterrupted sync,
and checks that the resumed store equals the uninterrupted one.

The fake answers in microseconds, GitHub in about a tenth of a second: `--latency` (default
50 ms a request) keeps a sync long enough for kills to land in it.

    python bench/bench_sync.py --kill 8 [--seed 1] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fake_github import FakeGitHub, FakeServer  # noqa: E402
from test_sync_acceptance import failed_job_log, seed_reference_history  # noqa: E402

from bot.cli import main  # noqa: E402
from bot.store.sqlite import CHECKPOINT_EVERY, HistoryStore  # noqa: E402


def run_sync(fake: FakeGitHub, db: Path, *extra: str) -> tuple[int, str, int, float]:
    """(exit status, summary line, requests the server saw, seconds)."""
    before = len(fake.requests)
    err = io.StringIO()
    began = time.perf_counter()
    with contextlib.redirect_stderr(err):
        code = main(["sync", "--repo", fake.repo, "--workflow", "ports_unix.yml", "--branch", "master",
                     "--event", "push", "--db", str(db), *extra])  # fmt: skip
    took = time.perf_counter() - began
    return code, err.getvalue().strip().splitlines()[-1], len(fake.requests) - before, took


def main_bench() -> int:
    server = FakeServer()
    server.start()
    os.environ.pop("GITHUB_TOKEN", None)  # the fake serves anonymous requests
    os.environ["GITHUB_API_URL"] = server.url
    ok = True
    try:
        with tempfile.TemporaryDirectory() as tmp:
            fake = FakeGitHub(server)
            server.current = fake
            truth = seed_reference_history(fake, green_logs=True)
            db = Path(tmp) / "history.sqlite"

            code, line, used, took = run_sync(fake, db)
            ok &= code == 0 and used < 800
            print(f"1. first sync, 575 runs / 103 failed: {used} requests, {took:.1f} s  ({line})")
            print(f"   = 6 pages + 103 jobs lists + {truth.expired} expired logs (410) "
                  f"+ 2 x {truth.parsed} readable logs (API 302 + blob)")  # fmt: skip

            code, line, used, took = run_sync(fake, db)
            ok &= code == 0 and used <= 2
            print(f"2. nothing new: {used} request(s), {took:.2f} s")

            last = truth.runs[-1][1]
            for i in range(10):
                when = last + timedelta(hours=i + 1)
                run = fake.add_run(created_at=when, conclusion="failure" if i in (3, 7) else "success")
                for job in ("coverage", "macos", "qemu_arm"):
                    failed = i in (3, 7) and job == "macos"
                    fake.add_job(run["id"], job, "failure" if failed else "success",
                                 log=failed_job_log(job, when) if failed else "missing")  # fmt: skip
            code, line, used, took = run_sync(fake, db)
            ok &= code == 0
            print(f"3. 10 new runs, 2 failed: {used} requests  ({line})")

            pieces = Path(tmp) / "pieces.sqlite"
            total, rounds = 0, 0
            while True:
                rounds += 1
                code, line, used, _ = run_sync(fake, pieces, "--max-requests", "60")
                total += used
                if "stopped early" not in line or rounds > 50:
                    break
            ok &= code == 0
            print(f"4. --max-requests 60, resumed: {rounds} syncs, {total} requests in all")

            scanned = Path(tmp) / "scanned.sqlite"
            code, line, used, took = run_sync(fake, scanned, "--scan-green", "--since", "2026-01-05")
            ok &= code == 0
            print(f"5. --scan-green --since 2026-01-05: {used} requests, {took:.1f} s  ({line})")
    finally:
        server.stop()
    return 0 if ok else 1


def sync_process(fake: FakeGitHub, db: Path) -> subprocess.Popen[bytes]:
    argv = ["sync", "--repo", fake.repo, "--workflow", "ports_unix.yml", "--branch", "master",
            "--event", "push", "--db", str(db)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "bot", *argv], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def committed(db: Path) -> int:
    """Complete runs, read through the -wal when one lies beside the file."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT count(*) FROM runs WHERE complete = 1").fetchone()[0])
    finally:
        con.close()


def state(db: Path) -> tuple[object, ...]:
    with HistoryStore(db) as s:
        return (s.overview(), s.job_tallies(), s.test_tallies(), s.counts())


def kill_bench(kills: int, seed: int, latency: float) -> int:
    server = FakeServer()
    server.start()
    os.environ.pop("GITHUB_TOKEN", None)
    os.environ["GITHUB_API_URL"] = server.url
    rng = random.Random(seed)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            fake = FakeGitHub(server)
            server.current = fake
            truth = seed_reference_history(fake)
            fake.delay("*", r".", seconds=latency, times=None)
            whole = Path(tmp) / "whole" / "h.sqlite"
            whole.parent.mkdir()
            began = time.monotonic()
            assert sync_process(fake, whole).wait() == 0
            took = time.monotonic() - began
            baseline = len(fake.requests)
            print(f"uninterrupted first sync: {baseline} requests, {took:.1f} s with {latency * 1000:.0f} ms "
                  f"a request (process start included); checkpoint every {CHECKPOINT_EVERY} runs")

            db = Path(tmp) / "piece0" / "h.sqlite"
            db.parent.mkdir()
            lost_total = 0
            processes = 1  # the last one, not killed
            left = took  # of the sync, roughly: each kill lands within it, as a job's timeout would
            for kill in range(1, kills + 1):
                sent = len(fake.requests)
                processes += 1
                proc = sync_process(fake, db)
                moment = rng.uniform(0.5, left)
                left = max(4.0, left - max(0.0, moment - 1.0))  # a process takes a second or two to start
                time.sleep(moment)
                ended = proc.poll() is not None
                proc.kill()
                proc.wait()
                written = committed(db) if db.exists() else 0
                cached = Path(tmp) / f"piece{kill}" / "h.sqlite"
                cached.parent.mkdir()
                if db.exists():
                    shutil.copy(db, cached)  # the main file only: the -wal is not cached
                kept = committed(cached) if cached.exists() else 0
                lost_total += written - kept
                note = " (had already finished)" if ended else ""
                print(f"kill {kill} after {moment:4.1f} s{note}: {len(fake.requests) - sent:3d} requests, "
                      f"{written:3d} runs committed, {kept:3d} kept in the main file, "
                      f"{written - kept:2d} lost with the -wal")  # fmt: skip
                db = cached
                if kept == len(truth.runs):
                    print(f"  the sync was done after kill {kill}")
                    break
            assert sync_process(fake, db).wait() == 0
            total = len(fake.requests) - baseline
            same = state(db) == state(whole)
            print(f"resumed to completion: {total} requests in {processes} processes against {baseline} "
                  f"uninterrupted: {total - baseline:+d} ({(total - baseline) / baseline:+.0%}); "
                  f"{lost_total} runs lost with the -wal in all; same store: {same}")  # fmt: skip
            return 0 if same else 1
    finally:
        server.stop()


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--kill", type=int, metavar="N", help="kill-and-resume mode: N kills")
    cli.add_argument("--seed", type=int, default=1, help="seed of the kill moments (default 1)")
    cli.add_argument("--latency", type=float, default=0.05, help="seconds the fake takes a request (0.05)")
    options = cli.parse_args()
    sys.exit(kill_bench(options.kill, options.seed, options.latency) if options.kill else main_bench())
