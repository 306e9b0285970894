"""Benchmark: `flake-bot report` over 100,000 runs x 20 jobs must take < 2 s and < 200 MB RSS.

The history is synthetic but shaped like MicroPython's: per-job failure rates from the reference
report, a few co-failing runs, logs readable only for the most recent 5% of runs (older ones
expired), flaky tests per job as observed there, and an ignored flaky failure now and then in
green jobs. It is written straight into a store file with SQL (building it is not what is
measured), then `report` runs in a fresh process for Markdown and for JSON; wall time and peak
RSS of that process are printed.

    python bench/bench_report.py [--runs 100000] [--keep PATH]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.store.sqlite import HistoryStore  # noqa: E402

JOB_RATES = {
    "settrace_stackless": 0.043, "macos": 0.043, "qemu_mips": 0.019, "qemu_arm": 0.016, "qemu_riscv64": 0.014,
    "standard_v2": 0.014, "coverage": 0.012, "sanitize_undefined": 0.010, "float": 0.009, "standard": 0.007,
    "coverage_32bit": 0.005, "nanbox": 0.003, "float_clang": 0.003, "longlong": 0.003, "minimal": 0.0005,
    "reproducible": 0.0, "gil_enabled": 0.001, "stackless_clang": 0.001, "repr_b": 0.0005,
    "sanitize_address": 0.001,
}  # fmt: skip
FLAKES = {
    "macos": [("cmdline/repl_cont.py", "expected prompt"), ("cmdline/repl_lock.py", "missing >>>")],
    "qemu_mips": [("thread/stress_aes.py", "TIMEOUT")],
    "qemu_arm": [("thread/stress_aes.py", "TIMEOUT"), ("cmdline/repl_lock.py", "missing >>>")],
    "qemu_riscv64": [("thread/stress_aes.py", "TIMEOUT"), ("thread/stress_schedule.py", "CRASH")],
    "float": [("extmod/time_time_ns.py", "expected True got False")],
    "longlong": [("extmod/time_time_ns.py", "expected True got False")],
}
DEFAULT_FLAKE = [("thread/thread_gc1.py", "expected True got False")]


def build(path: Path, runs: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    HistoryStore(path).close()  # creates the schema
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous = OFF")
    start = datetime(2020, 1, 1, tzinfo=UTC)
    readable_from = int(runs * 0.95)
    run_rows, job_rows, outcome_rows = [], [], []
    runners = {job: "macos-26" if job == "macos" else "ubuntu-latest" for job in JOB_RATES}
    for i in range(runs):
        created = (start + timedelta(minutes=37 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        failed = [job for job, rate in JOB_RATES.items() if rng.random() < rate]
        run_id = 10_000_000 + i
        # as `sync` stores them: failed runs with their jobs fetched, green ones inferred
        run_rows.append((run_id, 1, ".github/workflows/ports_unix.yml", "unix port", "push", "master",
                         f"{i:040x}", created, "completed", "failure" if failed else "success", "",
                         "fetched" if failed else "inferred", 1, 1))  # fmt: skip
        if not failed:
            continue
        for n, job in enumerate(JOB_RATES):
            if job in failed:
                state = "parsed" if i >= readable_from else "expired"
                job_rows.append((run_id, 1, job, run_id * 100 + n, "failure", runners[job], state, 1))
                if state == "parsed":
                    test, symptom = rng.choice(FLAKES.get(job, DEFAULT_FLAKE))
                    outcome_rows.append((run_id, 1, job, test, "", "run-tests", "fail", 0, symptom))
            else:
                job_id = run_id * 100 + n
                job_rows.append((run_id, 1, job, job_id, "success", runners[job], "not-fetched", None))
    with db:
        db.execute("INSERT INTO job_sets (id, key) VALUES (1, 'bench')")
        db.executemany("INSERT INTO job_set_jobs VALUES (1, ?, ?)", list(runners.items()))
        db.executemany("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", run_rows)
        db.executemany(
            "INSERT INTO jobs (run_id, attempt, name, job_id, conclusion, runner, log_state, log_complete) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            job_rows,
        )
        db.executemany("INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", outcome_rows)
    db.execute("ANALYZE")
    db.close()


def measure(db: Path, fmt: str) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, output bytes) of one `flake-bot report` process.

    The peak is the process's own VmHWM: ru_maxrss would also count this benchmark's memory,
    which a forked child inherits (it read 111 MB for a 36 MB report)."""
    code = (
        "import re, resource, sys; from bot.cli import main; rc = main(sys.argv[1:]); "
        "status = open('/proc/self/status').read() if sys.platform == 'linux' else ''; "
        "hwm = re.search(r'VmHWM:\\s+(\\d+)', status); "
        "kb = int(hwm.group(1)) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
        "sys.stderr.write(f'RSS {kb}\\n'); sys.exit(rc)"
    )
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, "report", "--db", str(db), "--format", fmt],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    wall = time.perf_counter() - began
    rss_kb = int(done.stderr.strip().splitlines()[-1].split()[1])
    return wall, rss_kb / 1024, len(done.stdout.encode())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="build the store here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.keep or Path(tmp) / "bench.sqlite"
        began = time.perf_counter()
        build(db, args.runs)
        size = db.stat().st_size / 1e6
        took = time.perf_counter() - began
        print(f"built {args.runs} runs x {len(JOB_RATES)} jobs in {took:.1f} s ({size:.0f} MB)")
        worst = 0.0
        for fmt in ("markdown", "json"):
            wall, rss, out = measure(db, fmt)
            worst = max(worst, wall)
            verdict = "ok" if wall < 2 and rss < 200 else "TOO SLOW OR TOO BIG"
            print(f"report --format {fmt}: {wall:.2f} s wall, {rss:.0f} MB peak RSS, {out} bytes [{verdict}]")
    return 0 if worst < 2 else 1


if __name__ == "__main__":
    sys.exit(main())
