"""The parser's completeness check at its boundaries: when a report may say "these are all the
failures" (complete) and when it must say what it could not read, with the problem's exact words,
step and line. An incomplete report is what keeps triage from calling a cut log "no failures".
"""

from __future__ import annotations

import pytest
from logfmt import Step, job_log, line_of
from test_parse import MAIN, PRINT, RESULTS, echo, run_tests

import bot.parse
from bot.parse import parse_job_log
from bot.records import JobReport, Problem, ProblemKind


def parse(log: bytes) -> JobReport:
    return parse_job_log([log], job="coverage")


def failing(*names: str) -> str:
    return echo() + run_tests(*(f"FAIL  {n} " for n in names), failed=list(names))


@pytest.mark.parametrize("count", [2, 3])
def test_up_to_the_limit_of_failures_the_report_is_complete(
    monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    monkeypatch.setattr(bot.parse, "MAX_FAILURES", 3)
    names = [f"basics/t{i}.py" for i in range(count)]
    report = parse(job_log([Step(MAIN, failing(*names), exit_code=1)]))
    assert [f.test for f in report.failures] == names
    assert report.complete is True and report.problems == ()


def test_past_the_limit_of_failures_the_rest_are_said_to_be_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.parse, "MAX_FAILURES", 3)
    names = [f"basics/t{i}.py" for i in range(5)]
    log = job_log([Step(MAIN, failing(*names), exit_code=1, name="Run main test suite")])
    report = parse(log)
    assert [f.test for f in report.failures] == names[:3]
    assert report.complete is False
    assert report.problems == (
        Problem(ProblemKind.TRUNCATED, "more than 3 failures; the rest are not listed", f"Run {MAIN}",
                line_of(log, "FAIL  basics/t3.py")),
    )  # fmt: skip


def test_a_step_that_ends_before_its_runner_summary_is_a_runner_error() -> None:
    """Not at the end of the log: the next step started, so the runner stopped (it was not cut)."""
    partial = echo() + "platform=linux arch=x64\nFAIL  basics/a.py \n"
    log = job_log([Step(MAIN, partial, exit_code=0), Step("echo next", "next\n")])
    report = parse(log)
    assert report.complete is False
    (problem,) = report.problems
    assert (problem.kind, problem.message) == (
        ProblemKind.RUNNER_ERROR, "run-tests stopped without printing its summary"
    )  # fmt: skip
    assert problem.line == line_of(log, "##[group]Run echo next")  # where it was seen to have stopped


def test_a_log_that_ends_before_the_runner_summary_is_truncated() -> None:
    partial = echo() + "platform=linux arch=x64\nFAIL  basics/a.py \n"
    log = job_log([Step(MAIN, partial, exit_code=None)])
    cut = log[: log.index(b"FAIL  basics/a.py")] + b"FAIL  basics/a.py \n"
    report = parse(cut)
    assert report.complete is False
    at = line_of(cut, "FAIL  basics/a.py")
    assert [(p.kind, p.message, p.line) for p in report.problems] == [
        (ProblemKind.TRUNCATED, "the log ends before run-tests printed its summary", at),
        (
            ProblemKind.TRUNCATED,
            "the log ends before the job did (no 'Cleaning up orphan processes' line at its end)",
            at,
        ),
    ]


def test_a_log_cut_in_the_middle_of_a_line() -> None:
    log = job_log([Step(MAIN, failing("basics/a.py"), exit_code=1)])
    cut = log[: log.index(b"tests performed") + 5]
    report = parse(cut)
    assert report.complete is False
    (problem,) = [p for p in report.problems if "middle" in p.message]
    assert (problem.kind, problem.message, problem.step) == (
        ProblemKind.TRUNCATED, "the log ends in the middle of a line", f"Run {MAIN}"
    )  # fmt: skip
    assert problem.line == cut.count(b"\n") + 1  # the cut line itself, though the parser skipped it unread


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the log is empty"),
        (b"\x00\x01 not a log at all\n", "the log is binary data (it has NUL bytes), not text"),
        (b"not a log at all\n", "nothing in this log looks like a GitHub job log or test runner output"),
    ],
)
def test_an_empty_or_foreign_log_is_unreadable(data: bytes, message: str) -> None:
    report = parse_job_log([data])
    assert report.complete is False
    assert report.problems == (Problem(ProblemKind.UNREADABLE, message, None, None),)


def test_raw_runner_output_that_passed_is_complete() -> None:
    """No job-log timestamps and no steps: the runner's own output is enough to be understood."""
    report = parse_job_log([run_tests("pass  basics/a.py ").encode()])
    assert report.complete is True and report.problems == () and report.failures == ()


STAMP = b"2026-03-11T01:02:03.0000000Z "
CUT = "the log ends before the job did (no 'Cleaning up orphan processes' line at its end)"


@pytest.mark.parametrize(
    ("last", "problems"),
    [
        ([b"Cleaning up orphan processes"], []),
        ([b"Cleaning up orphan processes", b"Terminate orphan process: pid (4242) (micropython)"], []),
        ([b"world"], [(CUT, 2)]),  # a job log always ends with the runner's own closing line
        ([b"Cleaning up orphan processes", b"world"], [(CUT, 3)]),
    ],
)
def test_a_timestamped_log_is_whole_only_when_it_ends_as_the_runner_ends_a_job(
    last: list[bytes], problems: list[tuple[str, int]]
) -> None:
    report = parse_job_log([b"".join(STAMP + line + b"\n" for line in [b"hello", *last])])
    assert report.complete is (not problems)
    assert [(p.kind, p.message, p.line) for p in report.problems] == [
        (ProblemKind.TRUNCATED, message, line) for message, line in problems
    ]


@pytest.mark.parametrize("unknown", [5, 6])
def test_print_failures_for_tests_no_summary_reported(unknown: int) -> None:
    """Print failures names results no run-tests summary reported: the first five are problems, and
    the report is incomplete (the summary that reported them was not seen)."""
    names = [f"basics_u{i}.py" for i in range(unknown)]
    printed = "".join(f"\nFAILURE {RESULTS}/{n}\n" for n in names)
    log = job_log([Step(MAIN, failing("basics/a.py"), exit_code=1),
                   Step(PRINT, printed, name="Print failures")])  # fmt: skip
    report = parse(log)
    assert report.complete is False
    listed = [p for p in report.problems if "Print failures shows" in p.message]
    assert [p.message for p in listed] == [
        f"Print failures shows a result for {n!r} that no run-tests summary in this log reported"
        for n in names[:5]
    ]
    assert {p.step for p in listed} == {f"Run {PRINT}"}
    assert [p.line for p in listed] == [line_of(log, f"FAILURE {RESULTS}/{n}") for n in names[:5]]


def test_a_runner_summary_that_does_not_add_up_is_incomplete() -> None:
    """The failure it lists is still reported, and the report says the summary cannot be trusted."""
    main = run_tests("FAIL  basics/a.py ", failed=["basics/a.py"]).replace("1 tests failed", "2 tests failed")
    log = job_log([Step(MAIN, main, exit_code=1)])
    report = parse(log)
    assert report.complete is False
    assert [f.test for f in report.failures] == ["basics/a.py"]
    assert report.problems == (
        Problem(ProblemKind.TRUNCATED, "the summary of run-tests is cut or does not add up (1 performed but "
                "0 passed, 2 failed and 0 ignored); every test with a FAIL line is reported as a failure",
                f"Run {MAIN}", line_of(log, "tests performed")),
    )  # fmt: skip


def test_more_per_test_lines_than_a_runner_keeps_is_incomplete(monkeypatch: pytest.MonkeyPatch) -> None:
    """Too many FAIL lines in one invocation: the rest are dropped, and the report says it is not whole."""
    import bot.runners.run_tests

    monkeypatch.setattr(bot.runners.run_tests, "MAX_FAILURES_PER_INVOCATION", 2)
    lines = [f"FAIL  basics/t{i}.py " for i in range(3)]
    main = run_tests(*lines, failed=["basics/t0.py", "basics/t1.py"])
    log = job_log([Step(MAIN, main, exit_code=1)])
    report = parse(log)
    assert report.complete is False
    assert [f.test for f in report.failures] == ["basics/t0.py", "basics/t1.py"]
    assert report.problems == (
        Problem(ProblemKind.TRUNCATED, "more than 2 tests have a FAIL line in one run of run-tests; the rest "
                "are not read", f"Run {MAIN}", line_of(log, "FAIL  basics/t2.py")),
    )  # fmt: skip


def test_a_whole_log_cut_only_in_its_last_line_is_incomplete() -> None:
    log = job_log([Step(MAIN, run_tests("pass  basics/a.py "), exit_code=0)])
    assert parse(log).complete is True
    cut = log[:-3]
    report = parse(cut)
    assert report.complete is False
    assert [p.message for p in report.problems] == ["the log ends in the middle of a line"]


def test_steps_without_timestamps_are_understood() -> None:
    report = parse_job_log([b"##[group]Run x\n##[endgroup]\n"])
    assert report.complete is True and report.problems == () and report.steps == ("Run x",)


def test_raw_runner_output_cut_before_its_summary_is_incomplete() -> None:
    """No job-log timestamps, so no closing line to miss: the missing summary alone says it."""
    report = parse_job_log([b"platform=linux arch=x64\nFAIL  basics/a.py \n"])
    assert report.complete is False
    assert [f.test for f in report.failures] == ["basics/a.py"]
    assert report.problems == (
        Problem(ProblemKind.TRUNCATED, "the log ends before run-tests printed its summary", None, 2),
    )
