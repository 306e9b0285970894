"""`flake-bot triage --log FILE --job NAME`: the action's analysis for one saved log, offline."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from logfmt import Step, job_log, real_log

from bot.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "logs"


def thread_gc1_log(start: datetime) -> bytes:
    main_step = real_log("21-v1.25.0-standard-thread-dir-FAILING.log")
    failures = real_log("21b-v1.25.0-thread-print-failures-ci-buffered.log")
    return job_log(
        [
            Step("tools/ci.sh unix_qemu_arm_run_tests", main_step, exit_code=1, name="Run main test suite"),
            Step("tests/run-tests.py --print-failures", failures, name="Print failures"),
        ],
        job="qemu_arm",
        start=start,
    )


def triage_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["triage", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_registry_of_the_logs_own_date_is_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """thread_gc1 was excluded as flaky in qemu_arm from 2025-08-28: known then, not a year before."""
    log = tmp_path / "qemu_arm.log.gz"
    log.write_bytes(gzip.compress(thread_gc1_log(datetime(2025, 10, 1, 9, tzinfo=UTC))))
    [then] = triage_json(capsys, "--log", str(log), "--job", "qemu_arm")["failures"]
    assert (then["test"], then["verdict"]) == ("thread/thread_gc1.py", "known-flake")

    [before] = triage_json(capsys, "--log", str(log), "--job", "qemu_arm", "--date", "2024-10-01")["failures"]
    assert before["verdict"] != "known-flake"


def test_bundled_sample_logs_triage(capsys: pytest.CaptureFixture[str]) -> None:
    samples = sorted(EXAMPLES.glob("*.log"))
    assert samples, "examples/logs holds the README's sample logs"
    for sample in samples:
        job = sample.name.split("-")[0]
        data = triage_json(capsys, "--log", str(sample), "--job", job)
        assert data["job"]["job"] == job
        assert data["headline"]
        assert main(["triage", "--log", str(sample), "--job", job]) == 0
        text = capsys.readouterr().out
        assert text.startswith("flake-bot: ") and data["headline"] in text


def test_job_without_log_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["triage", "--job", "standard"]) == 2
    assert "--job goes with --log" in capsys.readouterr().err
    assert main(["triage", "--log", str(tmp_path / "missing.log"), "--job", "standard"]) == 2


def test_offline_header_names_the_log_job_and_registry_day(capsys: pytest.CaptureFixture[str]) -> None:
    """Offline there is no run or commit: the header says what was read and which registry day applied."""
    sample = EXAMPLES / "coverage-flaky-and-real-failure.log"
    assert main(["triage", "--log", str(sample), "--job", "coverage"]) == 0
    header = capsys.readouterr().out.splitlines()[1]
    assert header == (
        "Log file coverage-flaky-and-real-failure.log, job coverage. "
        "Registry: bundled, as in force on 2026-03-12 (the log's first timestamp)."
    )
    assert main(["triage", "--log", str(sample), "--job", "coverage", "--date", "2025-01-02"]) == 0
    assert "as in force on 2025-01-02 (--date)" in capsys.readouterr().out


def test_a_test_ignored_in_two_passes_is_listed_once_with_both(capsys: pytest.CaptureFixture[str]) -> None:
    sample = EXAMPLES / "coverage-flaky-and-real-failure.log"
    assert main(["triage", "--log", str(sample), "--job", "coverage"]) == 0
    ignored = [line for line in capsys.readouterr().out.splitlines() if "ignored by run-tests.py" in line]
    assert ignored == ["  ignored by run-tests.py: thread/thread_gc1.py (bytecode and via-mpy passes)"]


def test_json_counts_keep_their_keys_and_agree_with_the_rows(capsys: pytest.CaptureFixture[str]) -> None:
    """`counts` is read by scripts: its keys are pinned (written out, not taken from the verdicts'
    table), and its numbers are those of the failure rows printed beside it."""
    sample = EXAMPLES / "coverage-flaky-and-real-failure.log"
    data = triage_json(capsys, "--log", str(sample), "--job", "coverage")
    counts = data["counts"]
    assert set(counts) == {
        "failures", "jobs_failed", "needs_look", "known_flakes", "proven_flaky", "unlisted_flakes",
        "flaky_other_jobs", "on_default_branch", "ignored", "regressions", "new_way", "first_failures",
        "several_jobs", "failed_before", "newly_flaky", "hidden_regressions", "new", "new_symptom",
        "widespread", "flaky_elsewhere", "not_a_test_failure", "unreadable_logs", "problems",
    }  # fmt: skip
    rows = data["failures"]
    assert counts["ignored"] == sum(r["verdict"] == "ignored" for r in rows) == 2
    assert counts["new"] == sum(r["verdict"] == "new" for r in rows) == 1
    assert counts["failures"] == counts["needs_look"] == sum(r["needs_look"] for r in rows) == 1
