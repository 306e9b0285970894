"""Every real runner capture in tests/data/real-logs, wrapped as a GitHub job log, parsed exactly.

Expectations were derived by reading the captures (their README lists what was broken on
purpose): the failing tests, outcome, ignored flag, pass and the log line of each failure.
Each capture that has a print-failures companion is parsed the way a real job log has them:
the test step, then the ``Print failures`` step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from logfmt import REAL_LOGS, Step, job_log, lines_of, real_log

from bot.parse import parse_job_log
from bot.records import JobReport, Outcome, ProblemKind, Runner, TestPass

MAIN = "tools/ci.sh unix_standard_run_tests"
PRINT = "tests/run-tests.py --print-failures"
B, V, N = TestPass.BYTECODE, TestPass.VIA_MPY, TestPass.NATIVE


@dataclass(frozen=True)
class Want:
    test: str
    outcome: Outcome = Outcome.FAIL
    ignored: bool = False
    test_pass: TestPass | None = None
    symptom: str = ""
    runner: Runner = Runner.RUN_TESTS
    line_text: str = ""  # the failure's line is the n-th line containing this (default: FAIL  test)
    nth: int = 0


def build(
    capture: str, exit_code: int, printed: str | None = None, command: str = MAIN, **style: bool
) -> bytes:
    steps = [Step(command, real_log(capture), exit_code=exit_code, name="Run main test suite")]
    if printed:
        steps.append(Step(PRINT, real_log(printed), name="Print failures"))
    return job_log(steps, job="standard", **style)


def check(report: JobReport, log: bytes, wants: list[Want]) -> None:
    got = [(f.test, f.runner, f.outcome, f.ignored, f.test_pass, f.symptom) for f in report.failures]
    assert got == [(w.test, w.runner, w.outcome, w.ignored, w.test_pass, w.symptom) for w in wants]
    for failure, want in zip(report.failures, wants, strict=True):
        text = want.line_text or f"FAIL  {want.test}"
        assert failure.line == lines_of(log, text)[want.nth], failure


FULL_05 = [
    Want(
        "basics/zz_scratch_cpython_mismatch.py",
        test_pass=B,
        symptom='expected "impl: cpython" got "impl: micropython"',
    ),
    Want(
        "extmod/zz_scratch_unittest_fail.py", test_pass=B, symptom="unittest FAIL test_broken: AssertionError"
    ),
    Want("micropython/const.py", test_pass=B, symptom='expected "123 581" got "123 580"'),
    Want("ports/unix/zz_scratch_segfault.py", Outcome.CRASH, test_pass=B, symptom='CRASH after "before"'),
    Want("basics/zz_scratch_timeout.py", Outcome.TIMEOUT, test_pass=B, symptom='TIMEOUT after "start"'),
    Want("basics/zz_scratch_uncaught_exc.py", Outcome.CRASH, test_pass=B, symptom="CRASH: KeyError"),
    Want("cmdline/repl_basic.py", test_pass=B, symptom='expected "3" got "2"'),
    Want("thread/stress_recurse.py", Outcome.CRASH, True, B, "CRASH with no output"),
    Want("thread/thread_gc1.py", Outcome.FAIL, True, B, 'expected "False" got "True"'),
]


@pytest.mark.parametrize(
    "printed", ["05b-print-failures-FAILING-ci-buffered.log", "05c-print-failures-FAILING-unbuffered.log"]
)
@pytest.mark.parametrize("style", [{}, {"ansi": True, "multiline_records": True, "bom": False}])
def test_full_helper_failing_pass_one_with_print_failures(printed: str, style: dict[str, bool]) -> None:
    log = build("05-standard-ci-full-helper-FAILING.log", 2, printed, **style)
    report = parse_job_log([log], job="standard")
    check(report, log, FULL_05)
    assert report.complete and report.problems == ()
    assert report.failed_step == f"Run {MAIN}"
    assert report.steps == ("Set up job", "Run actions/checkout@v6", f"Run {MAIN}", f"Run {PRINT}")
    gc1 = next(f for f in report.failures if f.test == "thread/thread_gc1.py")
    assert gc1.diff.splitlines()[-2:] == ["-False", "+True"]
    assert "AssertionError: 2 vs (expected) 3" in report.failures[1].diff


def test_full_helper_agrees_with_the_runners_own_results_json() -> None:
    """The runner wrote _results.json next to 05 and 04: same failed and ignored tests."""
    for capture, results in (
        ("05-standard-ci-full-helper-FAILING.log", "05d-FAILING-_results.json"),
        ("04-standard-thread-dir-natural-flaky-stress_recurse.log", "04c-standard-thread-dir-_results.json"),
    ):
        data = json.loads((REAL_LOGS / results).read_text())
        report = parse_job_log([build(capture, 0)])
        assert sorted(f.test for f in report.failures if not f.ignored) == sorted(data["failed_tests"])
        assert sorted(f.test for f in report.failures if f.ignored) == sorted(data["ignored_tests"])


def test_full_helper_passing_run_with_interleaved_lines_reports_each_ignored_pass() -> None:
    log = build("03-standard-ci-full-helper.log", 0)
    report = parse_job_log([log])
    check(
        report,
        log,
        [Want("thread/stress_recurse.py", ignored=True, test_pass=p, nth=i) for i, p in enumerate((B, V, N))],
    )
    assert report.complete and report.problems == () and report.failed_step is None
    # the garbled lines 1246-1247 of the capture neither break nor add anything
    assert b"pass pass  basics/dict2.py" in log


def test_natural_flaky_crash_with_print_failures() -> None:
    log = build(
        "04-standard-thread-dir-natural-flaky-stress_recurse.log",
        0,
        "04b-standard-thread-dir-print-failures.log",
    )
    report = parse_job_log([log])
    check(report, log, [Want("thread/stress_recurse.py", Outcome.CRASH, True, None, "CRASH with no output")])
    assert report.complete and report.problems == ()


def test_old_format_resolves_basenames_and_uses_the_echoed_pass() -> None:
    """v1.25.0: summary lists basenames; make says test_full although pass 1 failed."""
    log = build(
        "20-v1.25.0-standard-ci-full-helper-FAILING.log", 2, "20b-v1.25.0-print-failures-ci-buffered.log"
    )
    report = parse_job_log([log])
    check(
        report,
        log,
        [
            Want(
                "basics/zz_scratch_cpython_mismatch.py",
                test_pass=B,
                symptom='expected "impl: cpython" got "impl: micropython"',
            ),
            Want(
                "basics/zz_scratch_timeout.py", Outcome.TIMEOUT, test_pass=B, symptom='TIMEOUT after "start"'
            ),
            Want("basics/zz_scratch_uncaught_exc.py", Outcome.CRASH, test_pass=B, symptom="CRASH: KeyError"),
            Want(
                "extmod/zz_scratch_unittest_fail.py",
                test_pass=B,
                symptom="unittest FAIL test_broken: AssertionError",
            ),
        ],
    )
    assert report.complete and report.problems == ()
    data = json.loads((REAL_LOGS / "20c-v1.25.0-_results.json").read_text())
    assert sorted(f.test for f in report.failures) == sorted(data["failed_tests"])


def test_old_format_thread_pass() -> None:
    log = build(
        "21-v1.25.0-standard-thread-dir-FAILING.log", 1, "21b-v1.25.0-thread-print-failures-ci-buffered.log"
    )
    report = parse_job_log([log])
    check(report, log, [Want("thread/thread_gc1.py", symptom='expected "False" got "True"')])
    assert report.complete and report.problems == ()


@pytest.mark.parametrize(
    "capture",
    [
        "01-minimal-ci-unix_minimal_run_tests.log",
        "09-standard-thread-cmdline-dirs.log",
        "10-standard-explicit-files.log",
        "11-standard-include-regex-basics-list.log",
        "12-standard-dry-run-thread-with-exclude.log",
    ],
)
def test_passing_captures_are_clean(capture: str) -> None:
    report = parse_job_log([build(capture, 0)])
    assert report.failures == () and report.problems == () and report.complete


def test_multitests_ci_buffered_and_unbuffered() -> None:
    log = build("14-multitests-FAILING.log", 1)
    report = parse_job_log([log])
    check(
        report,
        log,
        [
            Want(
                "multi_net/zz_scratch_hang.py",
                Outcome.TIMEOUT,
                symptom='TIMEOUT after "instance0 start"',
                runner=Runner.MULTITESTS,
                line_text="multi_net/zz_scratch_hang.py on micropython",
            ),
            Want(
                "multi_net/zz_scratch_mismatch.py",
                symptom='expected "instance0 impl cpython" got "instance0 impl micropython"',
                runner=Runner.MULTITESTS,
                line_text="multi_net/zz_scratch_mismatch.py on micropython",
            ),
        ],
    )
    assert report.complete and report.problems == ()
    log = build("14b-multitests-FAILING-unbuffered.log", 1)
    report = parse_job_log([log])
    assert [(f.test, f.outcome, f.symptom) for f in report.failures] == [
        (
            "multi_net/zz_scratch_mismatch.py",
            Outcome.FAIL,
            'expected "instance0 impl cpython" got "instance0 impl micropython"',
        )
    ]
    assert "+instance0 impl micropython" in report.failures[0].diff


def test_natmodtests_step() -> None:
    log = build(
        "15-natmodtests-coverage-FAILING.log", 1, command="tools/ci.sh unix_coverage_run_native_mpy_tests"
    )
    report = parse_job_log([log])
    check(
        report,
        log,
        [Want("extmod/heapq_zz_scratch.py", symptom='output "1 micropython"', runner=Runner.NATMODTESTS)],
    )
    assert report.complete and report.problems == ()


def test_natmodtests_recognised_without_a_hint_from_the_step() -> None:
    report = parse_job_log([build("15-natmodtests-coverage-FAILING.log", 1)])
    assert [(f.test, f.runner) for f in report.failures] == [
        ("extmod/heapq_zz_scratch.py", Runner.NATMODTESTS)
    ]


def test_perfbench() -> None:
    log = build("16-perfbench-FAILING.log", 1)
    report = parse_job_log([log])
    check(
        report,
        log,
        [
            Want(
                "perf_bench/zz_scratch_bench.py",
                symptom="FAIL truth",
                runner=Runner.PERFBENCH,
                line_text="perf_bench/zz_scratch_bench.py: FAIL",
            ),
            Want(
                "perf_bench/zz_scratch_crash.py",
                Outcome.CRASH,
                symptom="CRASH: ValueError",
                runner=Runner.PERFBENCH,
                line_text="perf_bench/zz_scratch_crash.py: CRASH",
            ),
        ],
    )
    assert report.complete


def test_runner_error_without_summary_is_a_problem_not_a_clean_log() -> None:
    log = build("17-runner-error-missing-unittest-exit2.log", 2)
    report = parse_job_log([log])
    assert report.failures == ()
    [problem] = report.problems
    assert problem.kind is ProblemKind.RUNNER_ERROR
    assert "requires unittest" in problem.message
    assert problem.line == lines_of(log, "error: test extmod/zz_scratch_unittest_fail.py")[0]
    assert problem.step == f"Run {MAIN}"


def test_without_print_failures_a_unittest_failure_keeps_its_counts() -> None:
    report = parse_job_log([build("05-standard-ci-full-helper-FAILING.log", 2)])
    assert {f.test: f.symptom for f in report.failures if f.symptom} == {
        "extmod/zz_scratch_unittest_fail.py": "unittest: 1 failures, 0 errors"
    }


def test_every_capture_is_used() -> None:
    used = {
        "01-minimal-ci-unix_minimal_run_tests.log",
        "03-standard-ci-full-helper.log",
        "04-standard-thread-dir-natural-flaky-stress_recurse.log",
        "04b-standard-thread-dir-print-failures.log",
        "04c-standard-thread-dir-_results.json",
        "05-standard-ci-full-helper-FAILING.log",
        "05b-print-failures-FAILING-ci-buffered.log",
        "05c-print-failures-FAILING-unbuffered.log",
        "05d-FAILING-_results.json",
        "09-standard-thread-cmdline-dirs.log",
        "10-standard-explicit-files.log",
        "11-standard-include-regex-basics-list.log",
        "12-standard-dry-run-thread-with-exclude.log",
        "14-multitests-FAILING.log",
        "14b-multitests-FAILING-unbuffered.log",
        "15-natmodtests-coverage-FAILING.log",
        "16-perfbench-FAILING.log",
        "17-runner-error-missing-unittest-exit2.log",
        "20-v1.25.0-standard-ci-full-helper-FAILING.log",
        "20b-v1.25.0-print-failures-ci-buffered.log",
        "20c-v1.25.0-_results.json",
        "21-v1.25.0-standard-thread-dir-FAILING.log",
        "21b-v1.25.0-thread-print-failures-ci-buffered.log",
    }
    present = {p.name for p in REAL_LOGS.iterdir() if p.suffix in (".log", ".json")}
    assert present == used


@pytest.mark.parametrize(
    "capture", ["17-runner-error-missing-unittest-exit2.log", "12-standard-dry-run-thread-with-exclude.log"]
)
def test_runner_error_and_dry_run_survive_any_split(capture: str) -> None:
    """The runner's error is found through the line after it, and a dry run is read whole:
    neither depends on where the input was split."""
    log = build(capture, 2 if capture.startswith("17") else 0)
    whole = parse_job_log([log])
    assert whole.complete and (len(whole.problems) == 1) == capture.startswith("17")
    start = log.index(b"platform=")
    for cut in range(start, len(log), 7):
        assert parse_job_log([log[:cut], log[cut:]]) == whole
