"""`flake-bot report`: hostile names stay inert in Markdown, JSON carries the same numbers."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import cmarkgfm
import pytest

from bot.cli import main
from bot.records import JobInfo, JobReport, LogState, Outcome, RunInfo, Runner, TestFailure
from bot.render.report import render_report as render_markdown
from bot.render.sanitize import mermaid_label
from bot.report import build_report, to_json
from bot.store.sqlite import HistoryStore, Window

EVIL_TEST = "tests/x|<img src=x onerror=alert(1)> @maintainer [click](https://evil.example) `code`.py"
EVIL_SYMPTOM = "```\n</table><script>alert(1)</script>\n| a | b |"
EVIL_JOB = 'pwn"] --> B[click me]\n%%{init}%%'
EVIL_BRANCH = "feat/<b>@team</b>|x"


def _run(run_id: int, conclusion: str, branch: str) -> RunInfo:
    return RunInfo(
        id=run_id, attempt=1, workflow_name="unix port", workflow_path=".github/workflows/ports_unix.yml",
        event="push", branch=branch, head_sha="f" * 40, head_repo=None,
        created_at=datetime(2026, 1, run_id, tzinfo=UTC), status="completed", conclusion=conclusion,
    )  # fmt: skip


@pytest.fixture
def hostile_db(tmp_path: Path) -> Path:
    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as store:
        for run_id in (1, 2, 3):
            failed = run_id != 2
            jobs = [
                JobInfo(id=run_id * 10 + 1, run_id=run_id, attempt=1, name=EVIL_JOB, status="completed",
                        conclusion="failure" if failed else "success", runner="ubuntu-latest"),
                JobInfo(id=run_id * 10 + 2, run_id=run_id, attempt=1, name="coverage", status="completed",
                        conclusion="failure" if run_id == 3 else "success", runner="<i>runner</i>"),
            ]  # fmt: skip
            failure = TestFailure(EVIL_TEST, Runner.RUN_TESTS, Outcome.FAIL, symptom=EVIL_SYMPTOM)
            logs = {job.id: JobReport(job=job.name, complete=True, failures=(failure,))
                    for job in jobs if job.conclusion == "failure"}  # fmt: skip
            store.save_run(_run(run_id, "failure" if failed else "success", EVIL_BRANCH), jobs, logs)
    return db


def _tables(html: str) -> list[list[list[str]]]:
    tables = []
    for table in re.findall(r"<table>(.*?)</table>", html, re.S):
        rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
        tables.append([re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S) for row in rows])
    return tables


def test_hostile_names_are_escaped_in_markdown(hostile_db: Path) -> None:
    with HistoryStore(hostile_db) as store:
        report = build_report(store, Window(branch=EVIL_BRANCH), now=datetime(2026, 2, 1, tzinfo=UTC))
    markdown = render_markdown(report)
    html = cmarkgfm.github_flavored_markdown_to_html(markdown)
    for bad in ("<img", "<script", "<b>", "<i>", "</table><", "href=", "onerror=alert(1)>"):
        assert bad not in html
    # names are code spans, where GitHub neither mentions nor links; nowhere else do they appear
    outside_code = re.sub(r"<code>.*?</code>", "", html, flags=re.S)
    assert "maintainer" not in outside_code and "team" not in outside_code and "evil" not in outside_code
    assert "@maintainer" in html  # shown as written, inside code
    # every table keeps its shape: no cell was split by a `|` or a newline from the input
    for table in _tables(html):
        assert len({len(row) for row in table}) == 1, table
    tests_table = next(t for t in _tables(html) if t[0][0] == "Test" and len(t[0]) == 9)
    assert tests_table[1][1:3] == ["3", "6"]  # 3 events in 6 executions, across both jobs
    # the mermaid charts carry only harmless label characters
    for line in markdown.splitlines():
        if line.strip().startswith("x-axis"):
            assert re.fullmatch(r'\s*x-axis \[("[A-Za-z0-9_./ -]*"(, )?)*\]', line), line


def test_mermaid_label_keeps_only_plain_characters() -> None:
    assert mermaid_label(EVIL_JOB) == '"pwn__ --_ B_click me_____init___"'
    assert mermaid_label("") == '"_"'
    assert mermaid_label("qemu_riscv64") == '"qemu_riscv64"'


def test_json_has_the_same_numbers_and_raw_strings(hostile_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert (
        main(["report", "--db", str(hostile_db), "--format", "json", "--no-registry", "--output", str(out)])
        == 0
    )
    data = json.loads(out.read_text())
    assert (data["runs"]["total"], data["runs"]["failed"]) == (3, 2)
    assert data["tests"][0]["test"] == EVIL_TEST  # JSON consumers escape for their own medium
    assert data["tests"][0]["events"] == 3
    assert data["co_failures"] == [
        {"run_id": 3, "attempt": 1, "created": "2026-01-03T00:00:00Z", "test": EVIL_TEST,
         "jobs": sorted([EVIL_JOB, "coverage"])}
    ]  # fmt: skip
    with HistoryStore(hostile_db) as store:
        report = build_report(store, Window(), now=datetime(2026, 2, 1, tzinfo=UTC))
    assert to_json(report)["jobs"] == data["jobs"]
    assert data["independence"]["predicted_pass"] == pytest.approx((1 - 2 / 3) * (1 - 1 / 3))


def test_an_empty_store_still_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "empty.sqlite"
    HistoryStore(db).close()
    assert main(["report", "--db", str(db), "--no-registry"]) == 0
    out = capsys.readouterr().out
    # no verdict drawn from nothing (an independence check of 0 runs would read "close")
    assert "No completed run in the store matches this window" in out
    assert "independent" not in out and "|" not in out


def test_report_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--db", str(tmp_path / "nope.sqlite")]) == 2
    assert "flake-bot sync" in capsys.readouterr().err
    db = tmp_path / "empty.sqlite"
    HistoryStore(db).close()
    assert main(["report", "--db", str(db), "--until", "31/12/2025"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_since_and_until_select_whole_days(hostile_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["report", "--db", str(hostile_db), "--format", "json", "--no-registry"]
    assert main([*args, "--since", "2026-01-02", "--until", "2026-01-02"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["runs"]["total"], data["runs"]["failed"]) == (1, 0)
    assert main([*args, "--branch", "master"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"]["total"] == 0


def test_workflow_filter_takes_a_file_name_path_or_display_name(hostile_db: Path) -> None:
    with HistoryStore(hostile_db) as store:
        for name in ("ports_unix.yml", ".github/workflows/ports_unix.yml", "unix port"):
            assert store.overview(Window(workflow=name)).runs == 3
        assert store.overview(Window(workflow="ports_qemu.yml")).runs == 0


def test_failures_without_any_readable_log_are_unattributed(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as store:
        job = JobInfo(id=11, run_id=1, attempt=1, name="macos", status="completed", conclusion="failure")
        store.save_run(_run(1, "failure", "master"), [job], {11: LogState.EXPIRED})
        report = build_report(store, Window(), now=datetime(2026, 2, 1, tzinfo=UTC))
    markdown = render_markdown(report)
    assert "No readable failed log to attribute from." in markdown
    assert (
        "Unattributed (left unexplained rather than guessed): ` macos ` (1: no readable failed log, and no "
        "similar job known)." in markdown
    )
    assert "No groups of similar jobs are known" in markdown  # no registry: only same-job evidence
    assert to_json(report)["attribution"]["unattributed"] == {"macos": 1}
    assert "No test explains a failed job on its own." in markdown


def test_co_failures_are_listed(hostile_db: Path) -> None:
    with HistoryStore(hostile_db) as store:
        markdown = render_markdown(build_report(store, Window(), now=datetime(2026, 2, 1, tzinfo=UTC)))
    section = markdown.split("### Co-failures", 1)[1].split("##", 1)[0]
    html = cmarkgfm.github_flavored_markdown_to_html(section)
    row = _tables(html)[0][1]
    # a run id as code: GitHub autolinks nothing there, and no invisible character is copied with it
    assert row[:2] == ["<code>3</code>", "2026-01-03"] and "coverage" in row[3]


def test_a_build_that_fails_hundreds_of_tests_keeps_the_markdown_bounded(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as store:
        job = JobInfo(id=11, run_id=1, attempt=1, name="coverage", status="completed", conclusion="failure")
        failures = tuple(
            TestFailure(f"basics/t{i:03}.py", Runner.RUN_TESTS, Outcome.FAIL) for i in range(250)
        )
        store.save_run(_run(1, "failure", "master"), [job], {11: JobReport(job="coverage", complete=True,
                                                                          failures=failures)})  # fmt: skip
        report = build_report(store, Window(), now=datetime(2026, 2, 1, tzinfo=UTC))
    markdown = render_markdown(report)
    assert "150 more tests failed fewer times" in markdown
    assert markdown.count("basics/t") < 3 * 100 + 10
    assert len(to_json(report)["tests"]) == 250


def test_days_since_the_last_flake_are_counted_to_the_end_of_the_history_not_to_today(tmp_path: Path) -> None:
    """A store last synced in January says nothing about February to November: a stale history
    must not make a registry entry look clean for ten months."""
    from bot.registry import load_registry

    gc1 = "thread/thread_gc1.py"
    with HistoryStore(tmp_path / "h.sqlite") as store:
        for run_id, conclusion in ((5, "failure"), (20, "success")):
            job = JobInfo(id=run_id, run_id=run_id, attempt=1, name="coverage", status="completed",
                          conclusion=conclusion, runner="ubuntu-latest")  # fmt: skip
            logs = {}
            if conclusion == "failure":
                failure = TestFailure(gc1, Runner.RUN_TESTS, Outcome.FAIL, symptom="Expected True")
                logs = {job.id: JobReport(job="coverage", complete=True, failures=(failure,))}
            store.save_run(_run(run_id, conclusion, "master"), [job], logs)
        report = build_report(
            store, Window(), now=datetime(2026, 11, 25, tzinfo=UTC), registry=load_registry(None)
        )
    ages = {e.label: e for e in report.entry_ages if e.test == gc1}
    assert ages and all(e.days_since == 15 for e in ages.values()), ages
    assert all(e.executions_since == 1 for e in ages.values())  # the green coverage run of the 20th
    markdown = render_markdown(report)
    assert "still run the test" in markdown  # an exclusion's count is not about the excluded jobs


def test_the_registry_groups_jobs_by_runner_os_and_way_of_running_tests(tmp_path: Path) -> None:
    """With the bundled registry: a native full-suite job whose log expired is blamed on what its
    full-suite peers showed, never on the QEMU jobs' emulation timeout, though all share a runner;
    a basic-suite job whose peers have no readable log stays unattributed."""
    from bot.registry import load_registry

    failed = {  # job -> failing test in its readable log, or None: the log expired
        "standard": "thread/thread_gc1.py", "qemu_arm": "thread/stress_aes.py",
        "coverage": None, "qemu_mips": None, "float": None, "float_clang": None,
    }  # fmt: skip
    with HistoryStore(tmp_path / "h.sqlite") as store:
        for run_id, (name, test) in enumerate(failed.items(), start=1):
            job = JobInfo(id=run_id, run_id=run_id, attempt=1, name=name, status="completed",
                          conclusion="failure", runner="ubuntu-latest")  # fmt: skip
            log: JobReport | LogState = LogState.EXPIRED
            if test:
                log = JobReport(job=name, complete=True,
                                failures=(TestFailure(test, Runner.RUN_TESTS, Outcome.FAIL),))  # fmt: skip
            store.save_run(_run(run_id, "failure", "master"), [job], {job.id: log})
        report = build_report(
            store, Window(), now=datetime(2026, 2, 1, tzinfo=UTC), registry=load_registry(None)
        )
    blamed = {a.test: {job: (e, b) for job, _o, e, b in a.by_job} for a in report.attributions}
    assert blamed["thread/thread_gc1.py"]["coverage"] == (1.0, "similar jobs")
    assert blamed["thread/stress_aes.py"] == {
        "qemu_arm": (0.0, "observed"),
        "qemu_mips": (1.0, "similar jobs"),
    }
    assert report.unattributed == {"float": 1, "float_clang": 1}
    groups = {g["group"]: g for g in to_json(report)["attribution"]["similar_jobs"]}
    assert groups["linux, under QEMU emulation"]["jobs"] == ["qemu_arm", "qemu_mips"]
    assert groups["linux, natively via ci_unix_run_tests_full_helper"]["readable_failed_logs"] == 1
    html = cmarkgfm.github_flavored_markdown_to_html(render_markdown(report))
    rows = [[re.sub(r"<[^>]+>", "", c) for c in row] for t in _tables(html) for row in t]
    assert ["linux, under QEMU emulation", "qemu_arm, qemu_mips", "0"] not in rows  # 1 readable log
    assert ["linux, under QEMU emulation", "qemu_arm, qemu_mips", "1"] in rows
    assert "<code>float</code> (1: no readable failed log in it or in its similar jobs)" in html
