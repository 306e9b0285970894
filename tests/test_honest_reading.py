"""Say only what the log shows: cut logs, unreadable logs, and the job a log belongs to (issue 21).

A log cut inside run-tests' summary reads, line by line, like a whole one (its optional lines
are printed only when non-empty); only the counts show the cut. Such a log, an empty or binary
one, or one triaged under the wrong job name must never reassure.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logfmt import REAL_LOGS, Step, job_log, real_log

from bot.cli import main
from bot.errors import InputError
from bot.findings import JobInput
from bot.orchestrate.job_choice import choose_job
from bot.parse import ends_as_job_log, parse_job_log
from bot.records import JobInfo, LogState, ProblemKind, RunInfo
from bot.registry import load_registry
from bot.render.verdict_words import headline
from bot.triage import check_conclusion, triage

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "logs" / "coverage-flaky-and-real-failure.log"
CAPTURES = sorted(p.name for p in REAL_LOGS.glob("*.log") if p.name[2:3] == "-")


def real(report_failures: tuple) -> list[str]:  # type: ignore[type-arg]
    return [f.test for f in report_failures if not f.ignored]


def first_lines(path: Path, n: int) -> bytes:
    return b"".join(path.read_bytes().splitlines(keepends=True)[:n])


# ---------------------------------------------------------------------------- 1. cut logs


def test_example_cut_inside_the_failing_pass_summary_reports_its_fail_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Cut after line 200: the via-mpy pass printed 61 performed, 59 passed, 1 ignored, and the
    "1 tests failed" line is gone; its FAIL line (150) is still there."""
    log = tmp_path / "cut.log"
    log.write_bytes(first_lines(EXAMPLE, 200))
    report = parse_job_log([log.read_bytes()])
    assert not report.complete
    assert real(report.failures) == ["extmod/json_dumps_float.py"]
    [cut] = [f for f in report.failures if not f.ignored]
    assert cut.line == 150
    summary = [p for p in report.problems if "does not add up" in p.message]
    assert summary and "61 performed but 59 passed, 0 failed and 1 ignored" in summary[0].message

    assert main(["parse-log", str(log)]) == 0
    text = capsys.readouterr().out
    assert "log: NOT fully understood" in text and "1 real" in text and "json_dumps_float.py" in text

    assert main(["triage", "--log", str(log), "--job", "coverage"]) == 0
    text = capsys.readouterr().out
    assert "Job coverage: passed" not in text and "No failures" not in text
    assert "extmod/json_dumps_float.py" in text and "needs a look" in text.splitlines()[0]


def test_raw_runner_output_cut_before_its_failed_line() -> None:
    """The same cut in raw run-tests output (no job-log markers): 7 real failures by FAIL line."""
    raw = (REAL_LOGS / "05-standard-ci-full-helper-FAILING.log").read_bytes()
    cut = raw[: raw.index(b"7 tests failed:")]
    whole, part = parse_job_log([raw]), parse_job_log([cut])
    assert whole.complete and not part.complete
    assert sorted(real(part.failures)) == sorted(real(whole.failures))


@pytest.mark.parametrize("capture", ["14-multitests-FAILING.log", "16-perfbench-FAILING.log"])
def test_other_runners_cut_inside_their_summary_are_incomplete(capture: str) -> None:
    raw = (REAL_LOGS / capture).read_bytes()
    cut = raw[: raw.index(b"tests failed:")].rsplit(b"\n", 2)[0] + b"\n"  # before "N tests failed"
    report = parse_job_log([cut])
    assert not report.complete
    assert any("does not add up" in p.message for p in report.problems)


def test_a_fail_line_the_summary_does_not_list_is_a_failure() -> None:
    log = ("platform=linux\npass  basics/a.py \nFAIL  basics/b.py \nFAIL  basics/c.py \n"
           "3 tests performed (9 individual testcases)\n1 tests passed\n"
           "2 tests failed: basics/b.py basics/x.py\n")
    report = parse_job_log([log.encode()])
    assert not report.complete
    assert sorted(real(report.failures)) == ["basics/b.py", "basics/c.py", "basics/x.py"]


def test_a_job_log_cut_between_steps_is_not_whole() -> None:
    """Every job log GitHub serves ends with the runner's 'Cleaning up orphan processes'."""
    step = Step("tools/ci.sh unix_standard_run_tests", real_log("16-perfbench-FAILING.log"), exit_code=1)
    whole = job_log([step])
    assert parse_job_log([whole]).complete
    cut = whole[: whole.rindex(b"\n", 0, whole.index(b"##[group]Run tools/ci.sh")) + 1]  # whole lines
    report = parse_job_log([cut])
    assert not report.complete and any("ends before the job did" in p.message for p in report.problems)


@pytest.mark.parametrize(("tail", "whole"), [
    (b"2026-03-01T10:00:01.0000000Z Cleaning up orphan processes\n", True),
    (b"2026-03-01T10:00:01.0000000Z Cleaning up orphan processes", True),
    # the runner kills what a step left running (a hung micropython) after that line
    (b"2026-03-01T10:00:01.0000000Z Cleaning up orphan processes\n"
     b"2026-03-01T10:00:01.1000000Z Terminate orphan process: pid (4242) (micropython)\n"
     b"2026-03-01T10:00:01.2000000Z Terminate orphan process: pid (4243) (python3)\n", True),
    (b"2026-03-01T10:00:01.0000000Z Post job cleanup.\n", False),
    (b"2026-03-01T10:00:01.1000000Z Terminate orphan process: pid (4242) (micropython)\n", False),
    (b"2026-03-01T10:00:01.0000000Z Cleaning up orphan processes\n"
     b"2026-03-01T10:00:02.0000000Z FAIL  thread/thread_gc1.py\n", False),
    (b"", False),
])
def test_a_job_log_ends_with_the_runners_cleanup_and_the_orphans_it_killed(tail: bytes, whole: bool) -> None:
    assert ends_as_job_log(tail) is whole


def _wrapped(name: str) -> bytes:
    steps = [Step("tools/ci.sh unix_standard_run_tests", real_log(name), exit_code=1)]
    printed = sorted(REAL_LOGS.glob(name[:2] + "b-*print-failures*.log"))
    if printed:
        steps.append(Step("tests/run-tests.py --print-failures", real_log(printed[0].name)))
    return job_log(steps, job="standard")


_WHOLE: dict[tuple[str, bool], tuple[bytes, int]] = {}


def _whole(name: str, wrapped: bool) -> tuple[bytes, int]:
    if (name, wrapped) not in _WHOLE:
        log = _wrapped(name) if wrapped else (REAL_LOGS / name).read_bytes()
        _WHOLE[name, wrapped] = (log, len(real(parse_job_log([log]).failures)))
    return _WHOLE[name, wrapped]


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(CAPTURES), wrapped=st.booleans(), where=st.floats(0, 1))
def test_no_prefix_of_a_real_log_claims_complete_with_fewer_failures(name: str, wrapped: bool,
                                                                     where: float) -> None:
    """Any prefix of any real capture (raw, or as a job log) either says it is incomplete or has at
    least the whole log's real failures: the summary's counts catch a cut inside it, and a job log
    must end as GitHub ends every job log."""
    log, whole = _whole(name, wrapped)
    report = parse_job_log([log[: int(len(log) * where)]])
    if report.complete:
        assert len(real(report.failures)) >= whole


# ---------------------------------------------------------------------------- 2. unreadable logs


UNREADABLE = {
    "empty": (b"", "the log is empty"),
    "random": (bytes((i * 151 + 7) % 256 for i in range(5000)), "binary"),
    "elf": (b"\x7fELF\x02\x01\x01\x00" + bytes(56) + b"GCC: (Debian 12.2.0)", "binary"),
    "utf16": (EXAMPLE.read_text(encoding="utf-8").encode("utf-16"), "UTF-16"),
    "utf16-no-bom": (EXAMPLE.read_text(encoding="utf-8")[:3000].encode("utf-16-le"), "UTF-16"),
    "latin1": ("R\u00e9sum\u00e9 of the day\n".encode("latin-1") * 20, "not UTF-8"),
    "notes": (b"just some notes\nnothing to see\n", "nothing in this log looks like"),
}


@pytest.mark.parametrize("kind", sorted(UNREADABLE))
def test_unreadable_log_is_could_not_read_in_parse_log_and_triage(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, says = UNREADABLE[kind]
    log = tmp_path / "job.log"
    log.write_bytes(data)
    report = parse_job_log([data])
    assert [p.kind for p in report.problems] == [ProblemKind.UNREADABLE] and says in (report.unreadable or "")

    assert main(["parse-log", str(log)]) == 1
    parsed = capsys.readouterr().out
    assert f"log: could not read the log: {report.unreadable}" in parsed

    assert main(["triage", "--log", str(log), "--job", "coverage"]) == 1
    text = capsys.readouterr().out
    assert "No failures" not in text and "passed" not in text
    assert f"could not read the log: {report.unreadable}" in text
    assert main(["triage", "--log", str(log)]) == 1  # no job needed to say that
    assert "could not read the log" in capsys.readouterr().out


def test_an_unreadable_log_in_the_action_needs_a_look() -> None:
    """Fetched but empty: the check run is red, not neutral as for an expired log."""
    registry = load_registry(None)
    run = RunInfo(id=1, attempt=1, workflow_name="unix port",
                  workflow_path=".github/workflows/ports_unix.yml", event="push", branch="master",
                  head_sha="a" * 40, head_repo=None,
                  created_at=datetime(2026, 3, 12, tzinfo=UTC), status="completed", conclusion="failure")
    job = JobInfo(id=2, run_id=1, attempt=1, name="coverage", status="completed", conclusion="failure")
    empty = triage(run, [JobInput(job, LogState.PARSED, parse_job_log([b""]))], registry)
    expired = triage(run, [JobInput(job, LogState.EXPIRED, None)], registry)
    assert empty.counts.unreadable_logs == expired.counts.unreadable_logs == 1
    assert "No failures" not in headline(empty)
    assert (check_conclusion(empty), check_conclusion(expired)) == ("failure", "neutral")


# ---------------------------------------------------------------------------- 3. the job of a log


def qemu_arm_log(tmp_path: Path) -> Path:
    log = tmp_path / "qemu.log"
    log.write_bytes(job_log(
        [
            Step("tools/ci.sh unix_qemu_arm_run_tests",
                 real_log("21-v1.25.0-standard-thread-dir-FAILING.log"), exit_code=1),
            Step("tests/run-tests.py --print-failures",
                 real_log("21b-v1.25.0-thread-print-failures-ci-buffered.log")),
        ],
        job="qemu_arm",
        start=datetime(2025, 10, 1, 9, tzinfo=UTC),
    ))
    return log


def test_a_wrong_job_warns_and_the_logs_own_is_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = qemu_arm_log(tmp_path)
    assert main(["triage", "--log", str(log), "--job", "qemu-arm", "--json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["job"]["job"] == "qemu_arm"
    assert [f["verdict"] for f in data["failures"]] == ["known-flake"]
    assert "'qemu-arm' is not the job the log names ('qemu_arm'); using 'qemu_arm'" in err


def test_the_job_comes_from_the_log_without_job(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = qemu_arm_log(tmp_path)
    assert main(["triage", "--log", str(log), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["job"]["job"] == "qemu_arm" and err == ""


def test_a_log_that_names_no_job_needs_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = tmp_path / "raw.log"
    raw.write_bytes((REAL_LOGS / "21-v1.25.0-standard-thread-dir-FAILING.log").read_bytes())
    assert main(["triage", "--log", str(raw)]) == 2
    assert "pass --job NAME" in capsys.readouterr().err
    assert main(["triage", "--log", str(raw), "--job", "qemu-arm"]) == 0
    assert "closest: qemu_arm" in capsys.readouterr().err


KNOWN = {"qemu_arm", "qemu_mips", "standard", "coverage"}


@pytest.mark.parametrize(("given", "from_log", "job", "warns"), [
    (None, "qemu_arm", "qemu_arm", ()),
    ("qemu_arm", "qemu_arm", "qemu_arm", ()),
    ("qemu_arm", None, "qemu_arm", ()),
    ("qemu-arm", "qemu_arm", "qemu_arm", ("is not the job the log names",)),
    ("qemu-arm", None, "qemu-arm", ("closest: qemu_arm",)),
    (None, "zephyr", "zephyr", ("it knows: coverage, qemu_arm, qemu_mips, standard",)),
    ("standard", "sanitize", "sanitize", ("is not the job the log names", "not in the registry")),
])
def test_choose_job(given: str | None, from_log: str | None, job: str, warns: tuple[str, ...]) -> None:
    choice = choose_job(given, from_log, KNOWN)
    assert choice.job == job
    assert len(choice.warnings) == len(warns)
    assert all(w in text for w, text in zip(warns, choice.warnings, strict=True))


def test_choose_job_without_any_name_is_an_input_error() -> None:
    with pytest.raises(InputError, match="pass --job NAME"):
        choose_job(None, None, KNOWN)
