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
"""

from __future__ import annotations

import contextlib
import io
import os
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


if __name__ == "__main__":
    sys.exit(main_bench())
