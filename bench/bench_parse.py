"""Benchmark parse_job_log on a large realistic job log (not run by CI).

Builds a job log of about ``--mb`` MB (default 200) by repeating real captures from
tests/data/real-logs wrapped in the GitHub job-log format, writes it to a temporary file,
then reports the figures below. ``--shape one-job`` (default): one job whose test step repeats
a full four-pass ``standard`` run (an ignored flaky test, multitests, perfbench), then a
failing pass, then the Print failures step. ``--shape many-jobs``: whole failing job logs
(passing run, failing run, Print failures) concatenated; denser in lines that must be read
one by one (step headers, diffs), so a harder case.

- parse throughput (MB/s) of ``flake-bot``'s parser, run in a fresh subprocess so that its
  peak RSS (``ru_maxrss``) is the parser's alone;
- the time of ``grep -cE`` with the failure-marker patterns over the same file, and the
  ratio parse/grep (target: at most 5);
- peak RSS of the parsing process (target: under 100 MB whatever the log size).

``--against DIR`` (a checkout of another commit, e.g. ``git worktree add /tmp/base main``) also
parses the same log with that checkout's ``bot`` package, alternating with this one, ``--rounds``
(default 5) each: on a shared machine whose speed drifts, only alternating runs compare two parsers fairly.

Usage: ``python bench/bench_parse.py [--mb 200] [--keep PATH] [--against DIR]``
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


MAIN = "tools/ci.sh unix_standard_run_tests"


def step_body(output: str) -> bytes:
    """The timestamped output lines of one step, as job_log writes them."""
    log = job_log([Step(MAIN, output)], bom=False, checkout=False)
    body = log.split(b"##[endgroup]\n")[-1]
    return body[: body.rindex(b"\n", 0, body.rindex(b"Cleaning up orphan processes")) + 1]


def build_many(path: Path, megabytes: int) -> int:
    """Whole failing job logs, concatenated."""
    unit = job_log(
        [
            Step(MAIN, real_log("03-standard-ci-full-helper.log")),
            Step(MAIN, real_log("05-standard-ci-full-helper-FAILING.log"), exit_code=2),
            Step(
                "tests/run-tests.py --print-failures", real_log("05b-print-failures-FAILING-ci-buffered.log")
            ),
        ],
        bom=False,
    )
    copies = max(1, megabytes * 1_000_000 // len(unit))
    with path.open("wb") as out:
        for _ in range(copies):
            out.write(unit)
    return copies


def build(path: Path, megabytes: int) -> int:
    """One job whose main step runs the full helper N times (passing, with an ignored flaky
    test in three passes), then a failing pass, then the Print failures step."""
    frame = job_log(
        [
            Step(MAIN, "@@BODY@@\n", exit_code=2, name="Run main test suite"),
            Step(
                "tests/run-tests.py --print-failures", real_log("05b-print-failures-FAILING-ci-buffered.log")
            ),
        ]
    )
    head, tail = frame.split(b"@@BODY@@\n")
    head = head[: head.rindex(b"\n", 0, len(head) - 1) + 1]  # drop the placeholder's timestamp
    passing = step_body(real_log("03-standard-ci-full-helper.log"))
    failing = step_body(real_log("05-standard-ci-full-helper-FAILING.log"))
    copies = max(1, megabytes * 1_000_000 // len(passing))
    with path.open("wb") as out:
        out.write(head)
        for _ in range(copies):
            out.write(passing)
        out.write(failing)
        out.write(tail)
    return copies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="approximate log size in MB")
    parser.add_argument("--keep", type=Path, help="write the log here and keep it")
    parser.add_argument(
        "--shape",
        choices=("one-job", "many-jobs"),
        default="one-job",
        help="what the big log is made of (see the module docstring)",
    )
    parser.add_argument("--against", type=Path, help="also time the parser of this checkout, alternating")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds with --against")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "big-job.log"
        copies = (build if args.shape == "one-job" else build_many)(path, args.mb)
        size_mb = path.stat().st_size / 1e6
        print(f"log: {size_mb:.1f} MB, shape {args.shape} ({copies} repetitions), {path}")

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
        if args.against:
            _alternate(path, args.against, grep_cpu, args.rounds)
    return 0


def _alternate(path: Path, other: Path, grep_cpu: float, rounds: int) -> None:
    """Best CPU time of this parser and of `other`'s over alternating rounds."""
    best: dict[Path, float] = {}
    found: dict[Path, str] = {}
    for _ in range(rounds):
        for code in (ROOT, other):
            env = {**os.environ, "PYTHONPATH": str(code)}
            child = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True,
                                   check=True, env=env, cwd=code)
            out = child.stdout.split()
            best[code] = min(best.get(code, float("inf")), float(out[1]))
            found[code] = f"{out[3]} failures, {out[4]} problems, complete={out[5]}"
    for code, name in ((ROOT, "this checkout"), (other, str(other))):
        print(f"alternating, {name}: {best[code]:.2f} s CPU (best of {rounds}), ratio to grep "
              f"{best[code] / grep_cpu:.1f}; {found[code]}")
    print(f"this checkout / {other}: {best[ROOT] / best[other]:.2f}x CPU time")


if __name__ == "__main__":
    raise SystemExit(main())
