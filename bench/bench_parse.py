"""Benchmark parse_job_log on a large realistic job log (not run by CI).

Builds a job log of about ``--mb`` MB (default 200) by repeating real captures from
../shared/real-logs wrapped in the GitHub job-log format (each copy: a full four-pass
``standard`` run with an ignored flaky test and its multitests and perfbench runs, then a
failing pass with its Print failures output), writes it to a temporary file, then reports:

- parse throughput (MB/s) of ``flake-bot``'s parser, run in a fresh subprocess so that its
  peak RSS (``ru_maxrss``) is the parser's alone;
- the time of ``grep -cE`` with the failure-marker patterns over the same file, and the
  ratio parse/grep (target: at most 5);
- peak RSS of the parsing process (target: under 100 MB whatever the log size).

Usage: ``python bench/bench_parse.py [--mb 200] [--keep PATH]``
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from logfmt import Step, job_log, real_log  # noqa: E402

# The failure markers, plus the other markers the parser itself must find between per-test
# lines (bot.runners.*.PER_TEST_MARKERS): grep does the same search, in C.
GREP_PATTERNS = (
    r"FAIL|CRASH|TIMEOUT|tests performed|tests found|tests failed|known-flaky|Error [0-9]|error: |##\[|"
    r"platform=|run-tests|Traceback"
)

CHILD = r"""
import resource, sys, time
from bot.parse import open_log, parse_job_log
start, cpu = time.perf_counter(), time.process_time()
with open_log(sys.argv[1]) as chunks:
    report = parse_job_log(chunks)
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(elapsed, cpu, rss_kb, len(report.failures), len(report.problems), report.complete)
"""


def grep_times(path: Path) -> tuple[float, float, str]:
    """Wall and CPU (user+sys) seconds of grep -cE over the log, and its count."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    grep = subprocess.run(
        ["grep", "-cE", GREP_PATTERNS, str(path)], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, grep.stdout.strip()


def one_job() -> bytes:
    """One realistic failing job: the unit of repetition."""
    return job_log(
        [
            Step("tools/ci.sh unix_standard_run_tests", real_log("03-standard-ci-full-helper.log")),
            Step(
                "tools/ci.sh unix_standard_run_tests",
                real_log("05-standard-ci-full-helper-FAILING.log"),
                exit_code=2,
            ),
            Step(
                "tests/run-tests.py --print-failures", real_log("05b-print-failures-FAILING-ci-buffered.log")
            ),
        ],
        bom=False,
    )


def build(path: Path, megabytes: int) -> int:
    unit = one_job()
    copies = max(1, megabytes * 1_000_000 // len(unit))
    with path.open("wb") as out:
        out.write(b"\xef\xbb\xbf")
        for _ in range(copies):
            out.write(unit)
    return copies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="approximate log size in MB")
    parser.add_argument("--keep", type=Path, help="write the log here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "big-job.log"
        copies = build(path, args.mb)
        size_mb = path.stat().st_size / 1e6
        print(f"log: {size_mb:.1f} MB ({copies} copies of one job), {path}")

        # best of three runs each: the machine may be shared, CPU time is the fairer figure
        greps = [grep_times(path) for _ in range(3)]
        grep_wall, grep_cpu = min(g[0] for g in greps), min(g[1] for g in greps)
        print(f"grep -cE: {grep_wall:.2f} s wall, {grep_cpu:.2f} s CPU, {greps[0][2]} matching lines")

        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        runs = []
        for _ in range(3):
            child = subprocess.run(
                [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True, env=env
            )
            runs.append(child.stdout.split())
        _, cpu, _, failures, problems, complete = min(runs, key=lambda r: float(r[1]))
        parse_wall, parse_cpu = min(float(r[0]) for r in runs), float(cpu)
        print(
            f"parse: {parse_wall:.2f} s wall, {parse_cpu:.2f} s CPU = {size_mb / parse_cpu:.0f} MB/s; "
            f"{failures} failures, {problems} problems, complete={complete}"
        )
        ratio_cpu, ratio_wall = parse_cpu / grep_cpu, parse_wall / grep_wall
        print(f"parse/grep ratio: {ratio_cpu:.1f} (CPU), {ratio_wall:.1f} (wall); target <= 5")
        print(f"peak RSS of the parsing process: {max(int(r[2]) for r in runs) / 1024:.1f} MB (target < 100)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
