"""A small default-branch history for the dashboard tests, written straight into a store.

One push a day for `days` days, four jobs, every log read (as `--scan-green` does), with:

- thread/thread_gc1.py: listed (ignored everywhere), flakes now and then in standard;
- misc/unlisted_flaky.py: not listed, fails in coverage every 8th day with passes between (add);
- extmod/time_time_ns.py: listed, never fails (retire);
- basics/now_broken.py: not listed, fails in standard in the last 3 runs (look: streak);
- thread/stress_recurse.py: listed with symptom ^CRASH, fails ignored with another symptom (look).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.records import JobInfo, JobReport, Outcome, RunInfo, Runner, TestFailure
from bot.store.sqlite import HistoryStore

JOBS = ("standard", "coverage", "macos", "qemu_arm")
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

Failures = Callable[[int, str], list[TestFailure]]


def default_failures(days: int) -> Failures:
    def failures(day: int, job: str) -> list[TestFailure]:
        out = []
        if job == "standard" and day % 15 == 3:
            out.append(TestFailure("thread/thread_gc1.py", Runner.RUN_TESTS, Outcome.FAIL, ignored=True,
                                   symptom='expected "True" got "False"'))  # fmt: skip
        if job == "coverage" and day % 8 == 5:
            out.append(TestFailure("misc/unlisted_flaky.py", Runner.RUN_TESTS, Outcome.TIMEOUT,
                                   symptom='TIMEOUT after "start"'))  # fmt: skip
        if job == "standard" and day >= days - 3:
            out.append(TestFailure("basics/now_broken.py", Runner.RUN_TESTS, Outcome.FAIL,
                                   symptom='expected "1" got "2"'))  # fmt: skip
        if job == "standard" and day == days - 10:
            out.append(TestFailure("thread/stress_recurse.py", Runner.RUN_TESTS, Outcome.FAIL, ignored=True,
                                   symptom='expected "ok" got "RuntimeError"'))  # fmt: skip
        return out

    return failures


def seed(store: HistoryStore, *, days: int = 100, now: datetime = NOW, failures: Failures | None = None,
         jobs: tuple[str, ...] = JOBS) -> None:  # fmt: skip
    """One push a day ending at `now`; runs fail when a non-ignored test fails."""
    pick = failures or default_failures(days)
    for day in range(days):
        run_id = 10_000 + day
        created = now - timedelta(days=days - 1 - day, hours=1)
        reports = {job: pick(day, job) for job in jobs}
        failed_jobs = {job for job, found in reports.items() if any(not f.ignored for f in found)}
        infos = [
            JobInfo(id=run_id * 100 + i, run_id=run_id, attempt=1, name=job, status="completed",
                    conclusion="failure" if job in failed_jobs else "success", runner="ubuntu-24.04")
            for i, job in enumerate(jobs)
        ]  # fmt: skip
        run = RunInfo(
            id=run_id, attempt=1, workflow_name="unix port", workflow_path=".github/workflows/ports_unix.yml",
            event="push", branch="master", head_sha=f"{run_id:040x}", head_repo="micropython/micropython",
            created_at=created, status="completed", conclusion="failure" if failed_jobs else "success",
        )  # fmt: skip
        logs = {
            info.id: JobReport(job=info.name, complete=True, failures=tuple(reports[info.name]))
            for info in infos
        }
        store.save_run(run, infos, logs)
