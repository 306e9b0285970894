"""`flake-bot report` over a store synced from several workflows: one report per workflow (never
mixing their jobs or rates, `build` being a job of two of them), after the tests that failed in
more than one workflow."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import cmarkgfm
import pytest

from bot.cli import main
from bot.records import JobInfo, JobReport, Outcome, RunInfo, Runner, TestFailure
from bot.report import across_workflows
from bot.store.sqlite import HistoryStore, Window


def _run(run_id: int, file: str, name: str, failed: bool) -> RunInfo:
    return RunInfo(
        id=run_id, attempt=1, workflow_name=name, workflow_path=f".github/workflows/{file}",
        event="push", branch="master", head_sha="f" * 40, head_repo=None,
        created_at=datetime(2026, 4, run_id, tzinfo=UTC), status="completed",
        conclusion="failure" if failed else "success",
    )  # fmt: skip


RUNS = [  # (workflow file, name, job, failing test or None, ignored)
    ("ports_unix.yml", "unix port", "macos", "thread/thread_gc1.py", False),
    ("ports_unix.yml", "unix port", "macos", "thread/thread_gc1.py", True),
    ("ports_unix.yml", "unix port", "macos", None, False),
    ("ports_qemu.yml", "qemu port", "build_and_test_arm (sabrelite)", "thread/thread_gc1.py", True),
    ("ports_qemu.yml", "qemu port", "build_and_test_rv32", "basics/only_qemu.py", False),
    ("ports_zephyr.yml", "zephyr port", "build", None, False),
    ("ports_webassembly.yml", "webassembly port", "build", "basics/only_wasm.py", False),
]  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "h.sqlite"
    with HistoryStore(path) as store:
        for run_id, (file, name, job_name, test, ignored) in enumerate(RUNS, start=1):
            failed = test is not None and not ignored
            job = JobInfo(id=run_id * 10, run_id=run_id, attempt=1, name=job_name, status="completed",
                          conclusion="failure" if failed else "success", runner="ubuntu-latest")  # fmt: skip
            logs = {}
            if test is not None:
                failure = TestFailure(test, Runner.RUN_TESTS, Outcome.FAIL, ignored=ignored)
                logs[job.id] = JobReport(job=job_name, complete=True, failures=(failure,))
            store.save_run(_run(run_id, file, name, failed), [job], logs)
    return path


def test_across_workflows_lists_tests_failing_in_more_than_one(db: Path) -> None:
    with HistoryStore(db) as store:
        [gc1] = across_workflows(store, Window())
        assert [w for _, w, _ in store.workflows()][:1] == ["unix port"]
    assert gc1.test == "thread/thread_gc1.py"
    assert gc1.places == (("qemu port", "build_and_test_arm (sabrelite)", 0, 1), ("unix port", "macos", 1, 1))


def test_markdown_report_has_one_section_per_workflow(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--db", str(db)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# Flaky tests across workflows")
    headings = [line for line in text.splitlines() if line.startswith("# Flaky test report")]
    assert headings == [
        "# Flaky test report: ` unix port `",
        "# Flaky test report: ` qemu port `",
        "# Flaky test report: ` webassembly port `",
        "# Flaky test report: ` zephyr port `",
    ]
    html = cmarkgfm.github_flavored_markdown_to_html(text)
    where = (
        "<code>qemu port</code>: <code>build_and_test_arm (sabrelite)</code> 0 (+1 ignored); "
        "<code>unix port</code>: <code>macos</code> 1 (+1 ignored)"
    )
    assert where in html
    zephyr = text[text.index("# Flaky test report: ` zephyr port `") :]
    assert "1 runs of the workflow" in zephyr  # its `build` job is not webassembly's


def test_json_report_keeps_workflows_apart(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--db", str(db), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [w["name"] for w in doc["across_workflows"]["workflows"]] == [
        "unix port", "qemu port", "webassembly port", "zephyr port"]  # fmt: skip
    assert [t["test"] for t in doc["across_workflows"]["tests"]] == ["thread/thread_gc1.py"]
    assert len(doc["reports"]) == 4
    assert main(["report", "--db", str(db), "--workflow", "qemu port", "--format", "json"]) == 0
    single = json.loads(capsys.readouterr().out)
    assert "across_workflows" not in single
