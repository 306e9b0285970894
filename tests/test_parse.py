"""Job-level behaviour: passes, problems, hostile input, split-input replay, and properties."""

from __future__ import annotations

import itertools
import json
import time

from hypothesis import given, settings
from hypothesis import strategies as st
from logfmt import Step, job_log, lines_of, real_log

from bot.parse import MAX_MESSAGE_CHARS, MAX_PROBLEMS, parse_job_log
from bot.records import JobReport, Outcome, ProblemKind, Runner, TestPass
from bot.symptom import MAX_DIFF_CHARS, MAX_SYMPTOM_CHARS

MAIN = "tools/ci.sh unix_coverage_run_tests"
PRINT = "tests/run-tests.py --print-failures"
BIN = "/home/runner/work/micropython/micropython/ports/unix/build-coverage/micropython"
RESULTS = "/home/runner/work/micropython/micropython/tests/results"


def echo(flags: str = "") -> str:
    return f"cd ../../tests && MICROPY_MICROPYTHON={BIN} ./run-tests.py {flags}\n"


def run_tests(*lines: str, failed: list[str] = (), ignored: list[str] = ()) -> str:
    """A run-tests invocation in our own words: header, per-test lines, summary."""
    out = ["platform=linux arch=x64 thread=unsafe float=64-bit unicode", *lines]
    out.append(f"{len(lines)} tests performed ({len(lines) * 9} individual testcases)")
    out.append(f"{len(lines) - len(failed) - len(ignored)} tests passed")
    if ignored:
        out.append(
            f"{len(ignored)} tests had known-flaky failures (ignored): "
            + " ".join(f"{t} [flaky: GC race condition]" for t in ignored)
        )
    if failed:
        out.append(f"{len(failed)} tests failed: " + " ".join(failed))
    return "\n".join(out) + "\n"


def diff(name: str, expected: str, actual: str) -> str:
    return (
        f"--- {RESULTS}/{name}.exp\t2026-03-11 01:02:03.000000000 +0000\n"
        f"+++ {RESULTS}/{name}.out\t2026-03-11 01:02:03.000000000 +0000\n"
        f"@@ -1 +1 @@\n-{expected}\n+{actual}\n"
    )


def parse(log: bytes) -> JobReport:
    return parse_job_log([log], job="coverage")


def summary_of(report: JobReport) -> list[tuple[str, bool, TestPass | None, Outcome, str]]:
    return [(f.test, f.ignored, f.test_pass, f.outcome, f.symptom) for f in report.failures]


# -- passes and print-failures attribution ----------------------------------------------


def full_job() -> bytes:
    """Pass 1 ignores thread_gc1; pass 2 (--via-mpy) fails it again and fails json_float."""
    main = (
        echo()
        + run_tests("pass  basics/int1.py ", "FAIL  thread/thread_gc1.py ", ignored=["thread/thread_gc1.py"])
        + echo("--via-mpy ")
        + run_tests(
            "FAIL  extmod/json_float.py ",
            "FAIL  thread/thread_gc1.py ",
            "pass  basics/int1.py ",
            failed=["extmod/json_float.py"],
            ignored=["thread/thread_gc1.py"],
        )
        + "make: *** [Makefile:276: test_full_no_native] Error 1\n"
    )
    printed = (
        diff("extmod_json_float.py", "1.5", "1.4999")
        + diff("thread_thread_gc1.py", "False", "True")
        + f"\nFAILURE {RESULTS}/extmod_json_float.py\n\nFAILURE {RESULTS}/thread_thread_gc1.py\n"
    )
    return job_log(
        [
            Step(MAIN, main, exit_code=2, name="Run main test suite"),
            Step(PRINT, printed, name="Print failures"),
        ]
    )


def test_each_pass_reported_once_and_diffs_go_to_the_last_pass() -> None:
    log = full_job()
    report = parse(log)
    assert summary_of(report) == [
        ("thread/thread_gc1.py", True, TestPass.BYTECODE, Outcome.FAIL, ""),
        ("extmod/json_float.py", False, TestPass.VIA_MPY, Outcome.FAIL, 'expected "1.5" got "1.4999"'),
        ("thread/thread_gc1.py", True, TestPass.VIA_MPY, Outcome.FAIL, 'expected "False" got "True"'),
    ]
    assert [f.line for f in report.failures] == [
        *lines_of(log, "FAIL  thread/thread_gc1.py")[:1],
        lines_of(log, "FAIL  extmod/json_float.py")[0],
        lines_of(log, "FAIL  thread/thread_gc1.py")[1],
    ]
    assert report.complete and report.problems == ()


def test_all_four_passes_are_named_from_make_echo_lines() -> None:
    passes = ["", "--via-mpy ", "--emit native", "--via-mpy  --emit native"]
    main = "".join(
        echo(flags) + run_tests("FAIL  thread/stress_heap.py ", ignored=["thread/stress_heap.py"])
        for flags in passes
    )
    report = parse(job_log([Step(MAIN, main)]))
    assert [f.test_pass for f in report.failures] == [
        TestPass.BYTECODE,
        TestPass.VIA_MPY,
        TestPass.NATIVE,
        TestPass.VIA_MPY_NATIVE,
    ]


def test_make_error_names_the_pass_when_there_is_no_echo_line() -> None:
    main = (
        run_tests("FAIL  basics/a.py ", failed=["basics/a.py"])
        + "make: *** [Makefile:276: test_full_no_native] Error 1\n"
    )
    [failure] = parse(job_log([Step(MAIN, main, exit_code=2)])).failures
    assert failure.test_pass is TestPass.VIA_MPY
    direct = parse(
        job_log([Step(MAIN, run_tests("FAIL  basics/a.py ", failed=["basics/a.py"]), exit_code=1)])
    )
    assert direct.failures[0].test_pass is None  # (cd tests && ./run-tests.py): no pass to name


# -- problems ---------------------------------------------------------------------------


def test_build_error_is_a_problem() -> None:
    build = (
        "make: Entering directory '/home/runner/work/micropython/micropython/ports/unix'\n"
        "CC ../../py/objint.c\n"
        "../../py/objint.c:42:5: error: 'mp_foo' undeclared (first use in this function)\n"
        "make: *** [../../py/mkrules.mk:101: build-coverage/py/objint.o] Error 1\n"
    )
    log = job_log(
        [
            Step("tools/ci.sh unix_coverage_build", build, exit_code=2, name="Build"),
            Step(PRINT, "", name="Print failures"),
        ]
    )
    report = parse(log)
    assert report.failures == ()
    [problem] = report.problems
    assert problem.kind is ProblemKind.BUILD and "'mp_foo' undeclared" in problem.message
    assert (
        problem.line == line_no(log, "error: 'mp_foo'")
        and problem.step == "Run tools/ci.sh unix_coverage_build"
    )
    assert report.failed_step == "Run tools/ci.sh unix_coverage_build" and report.complete


def line_no(log: bytes, text: str) -> int:
    return lines_of(log, text)[0]


def test_long_stretches_between_runners_are_still_read() -> None:
    """After many ordinary lines the parser skips ahead by markers; nothing it needs is lost."""
    noise = "".join(f"CC ../../py/file{i}.c\n" for i in range(1500))
    build = noise + "../../py/objint.c:7:1: error: expected ';'\n" + noise
    main = noise + echo("--via-mpy ") + run_tests("FAIL  basics/a.py ", failed=["basics/a.py"]) + noise
    main += "multi_net/m.py on micropython|micropython: FAIL\n1 tests performed\n0 tests passed\n"
    main += (
        "1 tests failed: multi_net/m.py\n" + noise + "make: *** [Makefile:276: test_full_no_native] Error 1\n"
    )
    log = job_log(
        [Step("tools/ci.sh unix_coverage_build", build, exit_code=2), Step(MAIN, main, exit_code=2)]
    )
    report = parse(log)
    assert [(f.test, f.test_pass, f.line) for f in report.failures] == [
        ("basics/a.py", TestPass.VIA_MPY, line_no(log, "FAIL  basics/a.py")),
        ("multi_net/m.py", None, line_no(log, "multi_net/m.py on")),
    ]
    [problem] = report.problems
    assert (problem.kind, problem.line) == (ProblemKind.BUILD, line_no(log, "error: expected ';'"))


def test_linker_error_is_a_build_problem() -> None:
    build = (
        "LINK build-coverage/micropython\n/usr/bin/ld: build-coverage/py/a.o: in function `f':\n"
        "a.c:(.text+0x1c): undefined reference to `g'\ncollect2: error: ld returned 1 exit status\n"
    )
    [problem] = parse(job_log([Step("tools/ci.sh unix_coverage_build", build, exit_code=2)])).problems
    assert problem.kind is ProblemKind.BUILD
    assert problem.message == "a.c:(.text+0x1c): undefined reference to `g'"
    # ld's warnings and notes are not why a build failed; its location lines are a last resort
    warned = (
        "/usr/bin/ld: warning: x.o: missing .note.GNU-stack section implies executable stack\n"
        "/usr/bin/ld: NOTE: This behaviour is deprecated and will be removed in a future version\n"
        "/usr/bin/ld: cannot find -lffi: No such file or directory\n"
        "collect2: error: ld returned 1 exit status\n"
    )
    [problem] = parse(job_log([Step("tools/ci.sh unix_coverage_build", warned, exit_code=2)])).problems
    assert problem.message == "/usr/bin/ld: cannot find -lffi: No such file or directory"


def test_cancelled_run_is_incomplete() -> None:
    partial = real_log("05-standard-ci-full-helper-FAILING.log").split("FAIL  cmdline/repl_basic.py")[0]
    report = parse(job_log([Step(MAIN, partial, exit_code=None)]))
    assert not report.complete
    assert [p.kind for p in report.problems] == [ProblemKind.CANCELLED]
    # per-test FAILs seen so far are kept, and none is called ignored without a summary
    assert "thread/stress_recurse.py" in {f.test for f in report.failures}
    assert not any(f.ignored for f in report.failures)


def test_killed_step_without_summary_is_a_runner_error() -> None:
    partial = real_log("05-standard-ci-full-helper-FAILING.log").split("1032 tests performed")[0]
    report = parse(job_log([Step(MAIN, partial, exit_code=137)]))
    assert not report.complete
    [problem] = report.problems
    assert problem.kind is ProblemKind.RUNNER_ERROR and "exit code 137" in problem.message


def test_log_cut_off_is_truncated() -> None:
    log = job_log([Step(MAIN, real_log("05-standard-ci-full-helper-FAILING.log"), exit_code=2)])
    cut = log[: log.index(b"FAIL  thread/thread_gc1.py") + 10]
    report = parse(cut)
    assert not report.complete
    assert {p.kind for p in report.problems} == {ProblemKind.TRUNCATED}
    assert any("middle of a line" in p.message for p in report.problems)


def test_mpy_merge_diff_is_a_problem() -> None:
    output = "SKIPPING basics/async_await.py\n2c2\n< 3\n---\n> 4\n"
    log = job_log([Step("tools/ci.sh unix_coverage_run_mpy_merge_tests", output, exit_code=1)])
    [problem] = parse(log).problems
    assert problem.kind is ProblemKind.STEP and problem.message == 'mpy merge outputs differ: "< 3" / "> 4"'
    assert problem.line == line_no(log, "2c2")


def test_failed_step_without_known_cause_is_never_clean() -> None:
    main = (
        echo() + run_tests("pass  basics/a.py ") + "make: *** [Makefile:277: test_full_no_native] Error 1\n"
    )
    report = parse(job_log([Step(MAIN, main, exit_code=2)]))
    assert report.failures == () and not report.complete
    [problem] = report.problems
    assert problem.kind is ProblemKind.STEP and "test_full_no_native" in problem.message
    nothing = parse(job_log([Step("tools/ci.sh unix_float_run_tests", "", exit_code=1)]))
    assert [p.kind for p in nothing.problems] == [ProblemKind.STEP] and not nothing.complete


def test_summary_count_mismatch_is_flagged() -> None:
    main = run_tests("FAIL  basics/a.py ", failed=["basics/a.py"]).replace("1 tests failed", "2 tests failed")
    report = parse(job_log([Step(MAIN, main, exit_code=1)]))
    assert [f.test for f in report.failures] == ["basics/a.py"] and not report.complete


# -- hostile input ----------------------------------------------------------------------


def test_fake_summaries_in_test_output_change_nothing() -> None:
    fake = (
        "1 tests performed (1 individual testcases)\n0 tests passed\n"
        "1 tests had known-flaky failures (ignored): extmod/json_float.py [flaky: GC race condition]\n"
        "1 tests failed: basics/evil.py\nplatform=linux\nFAIL  basics/evil2.py \n"
    )
    dump = f"\nFAILURE {RESULTS}/extmod_unittest_x.py\n" + fake + "\n"
    clean = parse(full_job())
    log = full_job().replace(
        b"FAILURE " + RESULTS.encode() + b"/extmod_json_float.py\n",
        dump.encode() + b"FAILURE " + RESULTS.encode() + b"/extmod_json_float.py\n",
    )
    assert log != full_job()
    dirty = parse(log)
    assert summary_of(dirty) == summary_of(clean)
    multi = (
        "multi_net/a.py on micropython|micropython: FAIL\n### TEST ###\n--- instance0 ---\n"
        + fake
        + "### TRUTH ###\n--- instance0 ---\nok\n### DIFF ###\n"
        + "--- /tmp/tmp1\n+++ /tmp/tmp2\n@@ -1,2 +1,2 @@\n --- instance0 ---\n-ok\n+"
        + fake.splitlines()[0]
        + "\n"
        + "1 tests performed\n0 tests passed\n1 tests failed: multi_net/a.py\n"
    )
    report = parse(job_log([Step(MAIN, multi, exit_code=1)]))
    assert [(f.test, f.runner) for f in report.failures] == [("multi_net/a.py", Runner.MULTITESTS)]


def test_diff_content_cannot_escape_its_hunk() -> None:
    printed = (
        f"--- {RESULTS}/basics_a.py.exp\n+++ {RESULTS}/basics_a.py.out\n@@ -1,2 +1,2 @@\n x\n-y\n"
        f"+--- {RESULTS}/micropython_const.py.exp\n"
    )
    main = run_tests(
        "FAIL  basics/a.py ", "FAIL  micropython/const.py ", failed=["basics/a.py", "micropython/const.py"]
    )
    report = parse(job_log([Step(MAIN, main, exit_code=1), Step(PRINT, printed)]))
    assert [(f.test, f.symptom) for f in report.failures] == [
        ("basics/a.py", 'expected "y" got "--- tests/results/micropython_const.py.exp"'),
        ("micropython/const.py", ""),
    ]


def test_hostile_long_lines_are_fast_and_bounded() -> None:
    start = time.perf_counter()
    long_token = "a" * 300_000
    main = (
        run_tests("FAIL  basics/a.py ", failed=["basics/a.py"]).replace(
            "1 tests failed: basics/a.py", f"1 tests failed: basics/a.py {long_token}"
        )
        + f"{long_token} [flaky\n"
    )
    junk = (
        "1 tests had known-flaky failures (ignored): " + "x" * 200_000 + "\n"
        "../../py/x.c:1:1: error: " + "e" * 300_000 + "\n"
    )
    report = parse(job_log([Step(MAIN, main + junk, exit_code=1)]))
    assert time.perf_counter() - start < 5
    assert not report.complete
    assert all(len(p.message) <= MAX_MESSAGE_CHARS for p in report.problems)


def test_empty_or_unrecognisable_log_is_never_clean() -> None:
    for data, says in ((b"", "empty"), (bytes(range(256)) * 50, "binary")):
        report = parse_job_log([data])
        assert not report.complete and report.failures == ()
        assert [p.kind for p in report.problems] == [ProblemKind.UNREADABLE]
        assert says in report.problems[0].message


def test_step_list_is_bounded() -> None:
    report = parse_job_log([b"##[group]Run x\n##[endgroup]\n" * 2000])
    assert len(report.steps) == 501 and not report.complete
    assert report.problems[0].kind is ProblemKind.TRUNCATED


# -- split-input replay (as h11's test_io does) -------------------------------------------


def test_split_input_replay() -> None:
    log = job_log(
        [
            Step(MAIN, real_log("05-standard-ci-full-helper-FAILING.log"), exit_code=2),
            Step(PRINT, real_log("05b-print-failures-FAILING-ci-buffered.log")),
        ],
        multiline_records=True,
    )
    whole = parse(log)
    assert len(whole.failures) == 9
    for size in (1, 3, 127, 4096, 65537):
        assert parse_job_log([log[i : i + size] for i in range(0, len(log), size)], job="coverage") == whole
    junk = parse(log + b"\x00\xff\xfe trailing junk \x1b[31m\n\xc3")
    assert summary_of(junk) == summary_of(whole)


# -- properties ---------------------------------------------------------------------------

VOCABULARY = [
    "platform=linux arch=x64",
    "pass  basics/a.py ",
    "FAIL  basics/a.py ",
    "FAIL  thread/t.py ",
    "3 tests performed (9 individual testcases)",
    "1 tests passed",
    "1 tests failed: basics/a.py",
    "1 tests had known-flaky failures (ignored): thread/t.py [flaky: x]",
    "1 tests failed: a",
    echo().strip(),
    echo("--via-mpy").strip(),
    "make: *** [Makefile:258: test] Error 1",
    "##[group]Run tools/ci.sh unix_coverage_run_tests",
    "##[endgroup]",
    "##[error]Process completed with exit code 2.",
    "##[error]The operation was canceled.",
    f"--- {RESULTS}/basics_a.py.exp",
    f"+++ {RESULTS}/basics_a.py.out",
    "@@ -1 +1 @@",
    "@@ -1,3 +1,0 @@",
    "-x",
    "+CRASH",
    "+TIMEOUT",
    " ctx",
    "\\ No newline at end of file",
    f"FAILURE {RESULTS}/basics_a.py",
    "",
    "multi_net/m.py on micropython|micropython: FAIL",
    "### TEST ###",
    "### TRUTH ###",
    "### DIFF ###",
    "N=1000 M=1000 n_average=1",
    "perf_bench/p.py: CRASH: 'x\\nE: y'",
    "b'1 micropython\\n'",
    "Traceback (most recent call last):",
    "  File x",
    "KeyError: k",
    "error: test x.py requires unittest",
    "x.c:1:2: error: bad",
    "1c1",
    "< a",
    "> b",
    "\x1b[31mFAIL  c/d.py \x1b[0m",
    "2026-03-11T01:02:03.4567890Z FAIL  basics/b.py ",
]


def check_bounds(report: JobReport) -> None:
    json.dumps(report.to_json())
    assert len(report.problems) <= MAX_PROBLEMS
    for failure in report.failures:
        assert len(failure.symptom) <= MAX_SYMPTOM_CHARS
        assert len(failure.diff) <= MAX_DIFF_CHARS + 100
    for problem in report.problems:
        assert len(problem.message) <= MAX_MESSAGE_CHARS


@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=50))
def test_arbitrary_bytes_never_crash_and_slicing_never_matters(data: bytes, size: int) -> None:
    report = parse_job_log([data])
    check_bounds(report)
    assert parse_job_log([data[i : i + size] for i in range(0, len(data), size)]) == report


@given(
    st.lists(st.sampled_from(VOCABULARY), max_size=60), st.integers(min_value=1, max_value=40), st.booleans()
)
def test_log_shaped_input_never_crashes_and_slicing_never_matters(
    lines: list[str], size: int, cut: bool
) -> None:
    data = ("\n".join(lines) + ("" if cut else "\n")).encode()
    report = parse_job_log([data])
    check_bounds(report)
    assert parse_job_log([data[i : i + size] for i in range(0, len(data), size)]) == report


def with_test_output(output: list[str]) -> JobReport:
    """full_job() where a unittest's raw output, dumped by --print-failures, is ``output``."""
    dump = f"\nFAILURE {RESULTS}/extmod_ut.py\n" + "\n".join(output) + "\n"
    marker = f"FAILURE {RESULTS}/extmod_json_float.py\n"
    return parse(full_job().replace(marker.encode(), (marker + dump).encode(), 1))


def real_failures(report: JobReport) -> set[tuple[str, TestPass | None]]:
    return {(f.test, f.test_pass) for f in report.failures if not f.ignored}


@given(st.lists(st.sampled_from([v for v in VOCABULARY if not v.startswith("##[")]), max_size=30))
def test_test_output_in_print_failures_never_creates_or_hides_failures(output: list[str]) -> None:
    """Whatever a unittest prints (dumped raw by --print-failures), the failure list is the same."""
    clean, dirty = parse(full_job()), with_test_output(output)
    assert [(f.test, f.ignored, f.test_pass) for f in dirty.failures] == [
        (f.test, f.ignored, f.test_pass) for f in clean.failures
    ]


@given(st.lists(st.sampled_from(VOCABULARY), max_size=30))
def test_forged_step_markers_in_test_output_never_hide_a_failure(output: list[str]) -> None:
    """A test can print ``##[group]Run x`` itself and so split the step (GitHub logs it exactly
    like a real step header); that may add failures or problems, but never remove a real
    failure or make it ignored."""
    assert real_failures(with_test_output(output)) >= real_failures(parse(full_job()))


def test_memory_stays_bounded_whatever_the_size() -> None:
    """~34 MB streamed in chunks (runner output, then one 16 MB line): peak Python memory
    stays a small multiple of one chunk plus one capped line."""
    import tracemalloc

    unit = run_tests(
        *(f"pass  basics/t{i}.py " for i in range(2000)), "FAIL  basics/x.py ", failed=["basics/x.py"]
    )

    def chunks():
        yield from (unit.encode() for _ in range(400))
        yield b"platform=linux\n"
        yield from (b"y" * (1 << 20) for _ in range(16))
        yield b"\n1 tests performed\n"

    tracemalloc.start()
    try:
        report = parse_job_log(chunks())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(report.failures) == 400
    assert peak < 8 * (1 << 20), peak  # measured: ~3 MB


REAL_JOB = job_log(
    [
        Step(MAIN, real_log("05-standard-ci-full-helper-FAILING.log"), exit_code=2),
        Step(PRINT, real_log("05c-print-failures-FAILING-unbuffered.log")),
    ],
    multiline_records=True,
)
REAL_REPORT = parse_job_log([REAL_JOB])


@settings(max_examples=60)
@given(st.lists(st.integers(min_value=0, max_value=len(REAL_JOB)), max_size=40))
def test_real_job_split_anywhere_parses_the_same(cuts: list[int]) -> None:
    edges = [0, *sorted(cuts), len(REAL_JOB)]
    assert parse_job_log([REAL_JOB[a:b] for a, b in itertools.pairwise(edges)]) == REAL_REPORT
