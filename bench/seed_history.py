"""A history shaped like the seed report, for `bench_verdicts.py --part seed` (not run by CI).

The reference analysis of micropython's "unix port" workflow (575 master pushes, 2024-12-19 ..
2026-02-12; its figures are kept in tests/data/reference-figures.yaml) counted each job's
failed runs, and read the logs GitHub still kept (2026's) to find which test failed: six known
flaky tests, 23 failures, with their jobs, dates and symptoms. This module serves that history
from the fake GitHub: the monthly push counts, 20 jobs per push, each job's failure count, the
23 observed failures on their dates in their jobs with a real-format log, and every other failed
job (the rest of its count) before the last 90 days, whose log has expired (410). Which of a
test's jobs each of its failures fell in is not published: a seeded shuffle decides.

Every failed push with a readable log is then triaged in order through the real action path,
after one full sync, and each failing test's verdict is compared with the ideal: re-run for
every failure but a test's first anywhere (unless upstream listed it as flaky for some job that
day, which says as much).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

# Copied from the reference figures (seed-aggregates.yaml): month -> pushes.
MONTHLY = {
    "2024-12": 10, "2025-01": 32, "2025-02": 41, "2025-03": 37, "2025-04": 40, "2025-05": 50,
    "2025-06": 48, "2025-07": 55, "2025-08": 48, "2025-09": 46, "2025-10": 49, "2025-11": 37,
    "2025-12": 28, "2026-01": 32, "2026-02": 22,
}  # fmt: skip
FIRST_DAY, LAST_DAY = date(2024, 12, 19), date(2026, 2, 13)
# job -> failed runs of 575 (the report's table; `settrace`, no longer in the workflow, left out)
JOB_FAILURES = {
    "settrace_stackless": 25, "macos": 25, "qemu_mips": 11, "qemu_arm": 9, "qemu_riscv64": 8,
    "standard_v2": 8, "coverage": 7, "sanitize_undefined": 6, "float": 5, "standard": 4,
    "coverage_32bit": 3, "nanbox": 2, "float_clang": 2, "longlong": 2, "minimal": 0, "reproducible": 0,
    "gil_enabled": 0, "stackless_clang": 0, "repr_b": 0, "sanitize_address": 0,
}  # fmt: skip


@dataclass(frozen=True)
class Observed:
    """One flaky test's failures in the logs still kept: per job how many, on which days, and the
    expected/actual output lines its diff showed (the report's symptom, in a diff's words)."""

    test: str
    jobs: dict[str, int]
    days: tuple[str, ...]
    expected: str
    actual: str


OBSERVED = [
    Observed("thread/thread_gc1.py", {"settrace_stackless": 6, "coverage": 3},
             ("2026-01-13", "2026-01-13", "2026-01-24", "2026-01-27", "2026-01-30", "2026-02-04",
              "2026-02-05", "2026-02-06", "2026-02-12"), "True", "False"),
    Observed("thread/stress_aes.py", {"qemu_riscv64": 5, "qemu_arm": 2},
             ("2026-01-14", "2026-01-20", "2026-01-23", "2026-01-26", "2026-01-30", "2026-01-31",
              "2026-02-03"), "done", "TIMEOUT"),
    Observed("cmdline/repl_lock.py", {"qemu_arm": 2, "qemu_riscv64": 1},
             ("2026-01-13", "2026-02-03", "2026-02-13"), ">>> micropython.heap_lock()",
             "micropython.heap_lock()"),
    Observed("extmod/time_time_ns.py", {"float": 1, "longlong": 1}, ("2026-01-05", "2026-02-04"),
             "True", "False"),
    Observed("cmdline/repl_cont.py", {"macos": 1}, ("2026-01-27",), ">>> '\\''", '>>> "\'"'),
    Observed("thread/stress_schedule.py", {"qemu_riscv64": 1}, ("2026-02-05",), "PASS", "CRASH"),
]  # fmt: skip
LOG_RETENTION = timedelta(days=90)


@dataclass(frozen=True)
class Failure:
    test: str
    job: str
    expected: str
    actual: str


@dataclass
class SeedHistory:
    pushes: list[datetime]  # oldest first
    failures: dict[int, list[Failure]]  # push index -> failures with a readable log
    expired: dict[int, list[str]]  # push index -> failed jobs whose log expired

    def failed_jobs(self, i: int) -> set[str]:
        return {f.job for f in self.failures.get(i, ())} | set(self.expired.get(i, ()))


def _pushes() -> list[datetime]:
    """The monthly counts, evenly spread over each month (the first and last month from the
    window's first and last day)."""
    out: list[datetime] = []
    for month, n in MONTHLY.items():
        year, mon = map(int, month.split("-"))
        start = datetime(year, mon, 1, tzinfo=UTC)
        end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=UTC)
        start = max(start, datetime.combine(FIRST_DAY, datetime.min.time(), UTC))
        end = min(end, datetime.combine(LAST_DAY + timedelta(days=1), datetime.min.time(), UTC))
        step = (end - start) / n
        out += [start + step * k + step / 2 for k in range(n)]
    return out


def build(seed: int = 3) -> SeedHistory:
    rng = random.Random(seed)
    pushes = _pushes()
    # each observed failure: its day, test and (shuffled) job
    observed: list[tuple[date, Failure]] = []
    for o in OBSERVED:
        jobs = [j for j, n in o.jobs.items() for _ in range(n)]
        for _ in range(100):  # two failures of a test on one day: two jobs of one run, when possible
            rng.shuffle(jobs)
            if len(set(zip(o.days, jobs, strict=True))) == len(o.days):
                break
        observed += [
            (date.fromisoformat(d), Failure(o.test, j, o.expected, o.actual))
            for d, j in zip(o.days, jobs, strict=True)
        ]
    # a push on each failure's day for each of that day's failures in one job (moved there from
    # the nearest day without failures, so the monthly counts hold)
    by_day: dict[date, list[Failure]] = defaultdict(list)
    for day, f in observed:
        by_day[day].append(f)
    busy = set(by_day)
    failures: dict[int, list[Failure]] = {}
    for day in sorted(by_day):
        rows: list[list[Failure]] = []
        for f in by_day[day]:
            row = next((r for r in rows if all(g.job != f.job for g in r)), None)
            if row is None:
                rows.append(row := [])
            row.append(f)
        on_day = [i for i, p in enumerate(pushes) if p.date() == day]
        while len(on_day) < len(rows):
            free = min(
                (i for i, p in enumerate(pushes) if p.date() not in busy and i not in on_day),
                key=lambda i: abs((pushes[i].date() - day).days),
            )
            midnight = datetime.combine(day, datetime.min.time(), UTC)
            pushes[free] = midnight + timedelta(hours=6 + 3 * len(on_day))
            on_day.append(free)
        order = sorted(range(len(pushes)), key=lambda i: pushes[i])
        rank = {i: k for k, i in enumerate(order)}
        pushes = [pushes[i] for i in order]
        failures = {rank[i]: fs for i, fs in failures.items()}
        on_day = sorted(rank[i] for i in on_day)
        for i, row in zip(on_day, rows, strict=False):  # a day may have more pushes than rows
            failures[i] = row
    # the rest of each job's failures, on random pushes whose logs have expired by the last day
    cutoff = datetime.combine(LAST_DAY, datetime.min.time(), UTC) - LOG_RETENTION
    old = [i for i, p in enumerate(pushes) if p < cutoff]
    expired: dict[int, list[str]] = defaultdict(list)
    for job, total in JOB_FAILURES.items():
        seen = sum(1 for fs in failures.values() for f in fs if f.job == job)
        for i in rng.sample(old, max(0, total - seen)):
            expired[i].append(job)
    return SeedHistory(pushes, failures, dict(expired))


def ideal_reruns(history: SeedHistory, listed: set[tuple[int, str]]) -> dict[tuple[int, str, str], bool]:
    """(push, job, test) -> whether a re-run is the right advice: every failure but a test's
    first anywhere, unless upstream listed the test as flaky for some job that day (`listed`
    holds those (push, test))."""
    first: dict[str, int] = {}
    for i in sorted(history.failures):
        for f in history.failures[i]:
            first.setdefault(f.test, i)
    return {
        (i, f.job, f.test): i != first[f.test] or (i, f.test) in listed
        for i, fs in history.failures.items()
        for f in fs
    }
