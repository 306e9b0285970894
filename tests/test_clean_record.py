"""Executions since an entry's last flake count only where the entry acts, alike in report and dashboard.

`cmdline/repl_cont.py` is ignored on darwin only: linux jobs that run it cleanly say nothing
about the macOS flake, so the evidence for retiring the entry is the macOS runs alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.dashboard import core
from bot.records import JobInfo, JobReport, Outcome, RunInfo, Runner, TestFailure
from bot.registry import load_registry
from bot.report import build_report
from bot.store.sqlite import HistoryStore, Window

REPL = "cmdline/repl_cont.py"
GC1 = "thread/thread_gc1.py"
START = datetime(2026, 4, 1, 8, tzinfo=UTC)


def _history(db: Path, days: int, cut_macos: bool = False) -> None:
    """`days` daily runs of standard, coverage (linux) and macos, all logs read (with
    `cut_macos`, the macOS log of every odd day is cut); repl_cont flaked on macOS on the first
    day, thread_gc1 on coverage on the first day."""
    with HistoryStore(db) as store:
        for n in range(days):
            run = RunInfo(id=n + 1, attempt=1, workflow_name="unix port",
                          workflow_path=".github/workflows/ports_unix.yml", event="push", branch="master",
                          head_sha=f"{n:040x}", head_repo=None, created_at=START + timedelta(days=n),
                          status="completed", conclusion="success")
            jobs, logs = [], {}
            for k, name in enumerate(("standard", "coverage", "macos")):
                job = JobInfo(id=(n + 1) * 10 + k, run_id=n + 1, attempt=1, name=name, status="completed",
                              conclusion="success", runner="macos-26" if name == "macos" else "ubuntu-latest")
                failures = ()
                if n == 0 and name in ("macos", "coverage"):
                    failures = (TestFailure(REPL if name == "macos" else GC1, Runner.RUN_TESTS, Outcome.FAIL,
                                            ignored=True),)
                jobs.append(job)
                whole = not (cut_macos and name == "macos" and n % 2)
                logs[job.id] = JobReport(job=name, complete=whole, failures=failures)
            store.save_run(run, jobs, logs)


def test_report_counts_an_entry_where_it_acts_and_agrees_with_the_dashboard(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    _history(db, 40)
    registry = load_registry(None)
    with HistoryStore(db) as store:
        report = build_report(store, Window(), now=START + timedelta(days=40), registry=registry)
        view = store.overview(Window())
        tallies = store.test_tallies(Window())
        days = store.execution_days(Window())
    ages = {e.test: e for e in report.entry_ages}
    assert ages[REPL].executions_since == 39  # the macOS runs after the first day, not 3 x 39
    retire = core.select_retire(registry, tallies, days, core.RetirePolicy(1, 1),
                                now=view.last or START, first=view.first)
    dashboard = {i.test: i.executions_since for i in retire}
    for test in (REPL, GC1):
        assert ages[test].executions_since == dashboard[test], test


def test_ages_count_to_the_last_run_never_negative(tmp_path: Path) -> None:
    """Data dated after this machine's clock: 'Days since' is counted to the data's last run."""
    db = tmp_path / "h.sqlite"
    _history(db, 5)
    with HistoryStore(db) as store:
        report = build_report(store, Window(), now=START - timedelta(days=30), registry=load_registry(None))
    assert {e.days_since for e in report.entry_ages if e.test == REPL} == {4}


def test_a_cut_log_is_no_evidence_that_an_ignored_test_passed(tmp_path: Path) -> None:
    """A green job whose log was cut (or empty, or unreadable) cannot show that a test the runner
    ignores passed: only whole logs count towards retiring an ignore entry."""
    db = tmp_path / "h.sqlite"
    _history(db, 40, cut_macos=True)
    with HistoryStore(db) as store:
        report = build_report(store, Window(), now=START + timedelta(days=40), registry=load_registry(None))
    ages = {e.test: e for e in report.entry_ages}
    assert ages[REPL].executions_since == 19  # days 2, 4, ..., 38: the whole macOS logs after the flake
