"""Cut every real capture at every 1% of its length and say what the parser claims (not run by CI).

A log cut short (a download stopped, a runner killed, a step cancelled) must never read as a
whole log with fewer failures than the whole log has: that is how a real regression would be
reported as a pass. For each capture in tests/data/real-logs (raw runner output, and with
``--job-log`` also wrapped in GitHub's job-log format with its Print failures step), this
parses the prefix ending at 1%, 2%, ..., 100% of its bytes and prints, per cut, whether the
report claims ``complete`` and how many real (not ignored) failures it has. A cut that claims
complete with fewer real failures than the whole log is a *violation*; the script exits 1 if
there is any.

Usage: ``python bench/bench_cut_logs.py [--job-log] [--quiet]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from logfmt import REAL_LOGS, Step, job_log, real_log  # noqa: E402

from bot.parse import parse_job_log  # noqa: E402


def real_failures(log: bytes) -> tuple[bool, int]:
    report = parse_job_log([log])
    return report.complete, sum(1 for f in report.failures if not f.ignored)


def captures(wrapped: bool) -> list[tuple[str, bytes]]:
    """The runner captures (not their Print failures companions), raw or as a job log."""
    names = sorted(p.name for p in REAL_LOGS.glob("*.log") if p.name[2:3] == "-")
    out = []
    for name in names:
        if not wrapped:
            out.append((name, (REAL_LOGS / name).read_bytes()))
            continue
        steps = [Step("tools/ci.sh unix_standard_run_tests", real_log(name), exit_code=1)]
        printed = sorted(REAL_LOGS.glob(name[:2] + "b-*print-failures*.log"))
        if printed:
            steps.append(Step("tests/run-tests.py --print-failures", real_log(printed[0].name)))
        out.append((name + " (job log)", job_log(steps, job="standard")))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job-log", action="store_true", help="also cut the captures wrapped as job logs")
    parser.add_argument("--quiet", action="store_true", help="only the per-capture totals")
    args = parser.parse_args()
    logs = captures(False) + (captures(True) if args.job_log else [])
    violations = total_cuts = 0
    for name, log in logs:
        _, whole = real_failures(log)
        claims = 0
        cells = []
        for percent in range(1, 101):
            cut = log[: len(log) * percent // 100]
            complete, found = real_failures(cut)
            bad = complete and found < whole
            violations += bad
            claims += complete
            total_cuts += 1
            claim = "complete" if complete else "cut     "
            cells.append(f"{percent:3d}% {claim} {found:3d}{' <-- VIOLATION' if bad else ''}")
        print(f"{name}: whole log {whole} real failures; {claims} of 100 cuts claim complete")
        if not args.quiet:
            for cell in cells:
                print("   ", cell)
    print(f"{total_cuts} cuts of {len(logs)} logs: {violations} claim complete with fewer real failures "
          "than the whole log")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
