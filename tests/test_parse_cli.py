"""``flake-bot parse-log``: outputs, exit statuses, input kinds, and safety of what it prints."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from logfmt import Step, job_log

from bot.cli import main
from bot.parse import open_log, parse_job_log
from bot.records import Outcome, ProblemKind, TestPass

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "logs"
COVERAGE = EXAMPLES / "coverage-flaky-and-real-failure.log"


def parsed(path: Path) -> dict:
    with open_log(str(path)) as chunks:
        return parse_job_log(chunks).to_json()


def test_json_output_is_exactly_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse-log", str(COVERAGE), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == parsed(COVERAGE)
    assert out["job"] == "coverage"
    assert [(f["test"], f["pass"], f["ignored"]) for f in out["failures"]] == [
        ("thread/thread_gc1.py", "bytecode", True),
        ("extmod/json_dumps_float.py", "via-mpy", False),
        ("thread/thread_gc1.py", "via-mpy", True),
    ]


def test_job_option_overrides_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse-log", str(COVERAGE), "--json", "--job", "mine"]) == 0
    assert json.loads(capsys.readouterr().out)["job"] == "mine"


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse-log", str(COVERAGE), "--diff"]) == 0
    out = capsys.readouterr().out
    assert "failures: 1 real, 2 ignored as known-flaky" in out
    assert "  FAIL     extmod/json_dumps_float.py  [run-tests, via-mpy]  line 150" in out
    assert '           expected "0.1" got "0.10000000000000001"' in out
    assert '           fail: expected "True" got "False"' in out
    assert "           | +0.10000000000000001" in out


def test_examples_say_what_they_are_for() -> None:
    qemu = parsed(EXAMPLES / "qemu_arm-crash-and-timeout.log")
    assert [(f["test"], f["outcome"], f["pass"], f["ignored"]) for f in qemu["failures"]] == [
        ("thread/stress_schedule.py", Outcome.CRASH.value, None, False),
        ("extmod/time_ms_us.py", Outcome.TIMEOUT.value, None, False),
    ]
    build = parsed(EXAMPLES / "standard-build-error.log")
    assert build["failures"] == [] and build["complete"]
    assert [p["kind"] for p in build["problems"]] == [ProblemKind.BUILD.value]
    assert parsed(COVERAGE)["failures"][1]["pass"] == TestPass.VIA_MPY.value


def test_unreadable_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse-log", str(tmp_path / "missing.log")]) == 2
    assert "cannot open log" in capsys.readouterr().err
    assert main(["parse-log", str(tmp_path)]) == 2
    broken = tmp_path / "broken.log.gz"
    broken.write_bytes(gzip.compress(COVERAGE.read_bytes())[:500])
    assert main(["parse-log", str(broken)]) == 2
    assert "cannot read log" in capsys.readouterr().err


def test_gzip_and_stdin_read_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    packed = tmp_path / "job.log.gz"
    packed.write_bytes(gzip.compress(COVERAGE.read_bytes()))
    assert main(["parse-log", str(packed), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == parsed(COVERAGE)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(COVERAGE.read_bytes())))
    assert main(["parse-log", "-", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == parsed(COVERAGE)


def test_log_text_cannot_act_as_a_workflow_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build = "::add-mask::x\n../../py/a.c:1:1: error: ::error file=a::owned \x1b]0;title\x07\x00\u202e\n"
    log = tmp_path / "evil.log"
    log.write_bytes(job_log([Step("::stop-commands::tok", build, exit_code=2)], job="::warning::x"))
    assert main(["parse-log", str(log)]) == 0
    out = capsys.readouterr().out
    assert "error: ::error file=a::owned" in out
    for line in out.splitlines():
        assert not line.startswith("::"), line
        assert not any(ord(c) < 0x20 or c == "\u202e" for c in line), line


def test_console_script_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    """One real process (`python -m bot`, as the console script starts it); the help in-process."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", "parse-log", str(COVERAGE), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == parsed(COVERAGE)
    with pytest.raises(SystemExit) as exited:
        main(["parse-log", "--help"])
    helped = capsys.readouterr().out
    assert exited.value.code == 0 and "--json" in helped and "'-' reads standard input" in helped
    # a new user sees how to call it on a downloaded log and what "not fully understood" means
    assert "examples:\n  flake-bot parse-log examples/logs/" in helped
    assert "/actions/jobs/JOB_ID/logs" in helped and "NOT fully understood" in helped
