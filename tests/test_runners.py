"""Runner parsers and symptoms on their own: push-fed lines, diffs, dumps, symptoms."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from logfmt import real_log

from bot import symptom
from bot.joblog import LogLine
from bot.records import Outcome, ProblemKind, Runner, TestPass
from bot.runners import PARSERS, RunnerParser, starting_runner
from bot.runners.diff import HEAD_LINES, DiffReader
from bot.runners.print_failures import PrintFailures, mangle
from bot.runners.run_tests import RunTestsParser, pass_from_flags


def feed(parser: RunnerParser, text: str) -> list[str]:
    """Feed every line; return the lines the parser refused (they belong to what comes next)."""
    refused = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not parser.feed(LogLine(number, line)):
            refused.append(line)
    return refused


def test_dispatch_table_and_start_lines() -> None:
    assert set(PARSERS) == set(Runner)
    assert starting_runner("platform=linux arch=x64") is Runner.RUN_TESTS
    assert starting_runner("N=1000 M=1000 n_average=1") is Runner.PERFBENCH
    assert starting_runner("multi_net/a.py on micropython|micropython: pass") is Runner.MULTITESTS
    assert starting_runner("pass  basics/a.py ") is None


def test_pass_from_make_flags() -> None:
    assert pass_from_flags("") is TestPass.BYTECODE
    assert pass_from_flags(" --via-mpy ") is TestPass.VIA_MPY
    assert pass_from_flags(" --emit native") is TestPass.NATIVE
    assert (
        pass_from_flags(' --via-mpy --mpy-cross-flags="-march=x86" --emit native') is TestPass.VIA_MPY_NATIVE
    )


def test_run_tests_summary_is_the_authority_over_garbled_lines() -> None:
    passes = real_log("03-standard-ci-full-helper.log").split("cd ../../tests && ")
    parser = RunTestsParser(TestPass.VIA_MPY)
    second = passes[2].split("\n", 1)[1]  # pass 2, with the garbled lines, up to the next echo
    assert "pass pass  basics/dict2.py" in second
    refused = feed(parser, second)
    # make's next command is not part of this invocation
    assert len(refused) == 1 and refused[0].startswith("cat ../../tests/basics/0prelim.py | ")
    result = parser.finish()
    assert result.summary and result.runner is Runner.RUN_TESTS
    assert [(f.test, f.ignored, f.test_pass) for f in result.failures] == [
        ("thread/stress_recurse.py", True, TestPass.VIA_MPY)
    ]


def test_old_summary_basenames_are_resolved_only_when_unambiguous() -> None:
    parser = RunTestsParser()
    feed(
        parser,
        "platform=linux\nFAIL  basics/int1.py \nFAIL  float/int1.py \nFAIL  thread/thread_gc1.py \n"
        "FAIL  a/x.py \nFAIL  b/x.py \n"
        "5 tests performed (5 individual testcases)\n0 tests passed\n"
        "4 tests failed: int1 int1 thread_gc1 x\n",
    )
    # int1 twice and two int1.py FAIL lines: both resolved; x once but two x.py: ambiguous
    assert [f.test for f in parser.finish().failures] == [
        "basics/int1.py", "float/int1.py", "thread/thread_gc1.py", "x"]


def test_natmod_output_repr_becomes_the_symptom() -> None:
    parser = RunTestsParser()
    feed(parser, real_log("15-natmodtests-coverage-FAILING.log"))
    [failure] = parser.finish().failures
    assert (failure.runner, failure.symptom, failure.line) == (
        Runner.NATMODTESTS,
        'output "1 micropython"',
        74,
    )


def test_runner_error_without_summary() -> None:
    parser = RunTestsParser()
    feed(parser, real_log("17-runner-error-missing-unittest-exit2.log"))
    result = parser.finish()
    assert not result.summary and result.failures == []
    assert result.error == "error: test extmod/zz_scratch_unittest_fail.py requires unittest"


def test_runner_crash_traceback_is_the_error() -> None:
    parser = RunTestsParser()
    feed(
        parser,
        "platform=linux\nFAIL  basics/a.py \nTraceback (most recent call last):\n"
        '  File "./run-tests.py", line 9, in <module>\nOSError: [Errno 28] No space left on device\n',
    )
    result = parser.finish()
    assert result.error == "run-tests.py crashed: OSError: [Errno 28] No space left on device"
    assert [(f.test, f.ignored) for f in result.failures] == [("basics/a.py", False)]


def test_multitests_and_perfbench_parsers() -> None:
    multi = PARSERS[Runner.MULTITESTS]()
    feed(multi, real_log("14-multitests-FAILING.log"))
    assert [(f.test, f.outcome) for f in multi.finish().failures] == [
        ("multi_net/zz_scratch_hang.py", Outcome.TIMEOUT),
        ("multi_net/zz_scratch_mismatch.py", Outcome.FAIL),
    ]
    perf = PARSERS[Runner.PERFBENCH]()
    feed(perf, real_log("16-perfbench-FAILING.log"))
    assert [(f.test, f.outcome, f.symptom) for f in perf.finish().failures] == [
        ("perf_bench/zz_scratch_bench.py", Outcome.FAIL, "FAIL truth"),
        ("perf_bench/zz_scratch_crash.py", Outcome.CRASH, "CRASH: ValueError"),
    ]


def flushed_mid_line() -> str:
    """05b as CI shows it once Python's 8 KiB stdout buffer fills during --print-failures: the
    buffered FAILURE headers come out cut mid-line, and the next diff (written by ``diff``
    straight to the fd) starts on the same line."""
    text = real_log("05b-print-failures-FAILING-ci-buffered.log")
    diffs, headers = text.split("\n\nFAILURE ", 1)
    headers = "\n\nFAILURE " + headers
    middle = diffs.index("--- /home/runner/work/micropython/micropython/tests/results/micropython_const")
    cut = headers.index("thread_stress_recurse.py") + 10
    return diffs[:middle] + headers[:cut] + diffs[middle:] + "\n" + headers[cut:]


@pytest.mark.parametrize(
    "capture",
    ["05b-print-failures-FAILING-ci-buffered.log", "05c-print-failures-FAILING-unbuffered.log", "flushed"],
)
def test_print_failures_both_orderings_give_the_same_results(capture: str) -> None:
    collector = PrintFailures()
    text = flushed_mid_line() if capture == "flushed" else real_log(capture)
    for number, line in enumerate(text.splitlines(), start=1):
        collector.feed(LogLine(number, line))
    collector.close()
    assert {name: (s.outcome, s.symptom) for name, s in collector.shown.items()} == {
        "cmdline_repl_basic.py": (Outcome.FAIL, 'expected "3" got "2"'),
        "ports_unix_zz_scratch_segfault.py": (Outcome.CRASH, 'CRASH after "before"'),
        "thread_stress_recurse.py": (Outcome.CRASH, "CRASH with no output"),
        "micropython_const.py": (Outcome.FAIL, 'expected "123 581" got "123 580"'),
        "thread_thread_gc1.py": (Outcome.FAIL, 'expected "False" got "True"'),
        "basics_zz_scratch_uncaught_exc.py": (Outcome.CRASH, "CRASH: KeyError"),
        "basics_zz_scratch_cpython_mismatch.py": (
            Outcome.FAIL,
            'expected "impl: cpython" got "impl: micropython"',
        ),
        "basics_zz_scratch_timeout.py": (Outcome.TIMEOUT, 'TIMEOUT after "start"'),
        "extmod_zz_scratch_unittest_fail.py": (Outcome.FAIL, "unittest FAIL test_broken: AssertionError"),
    }


def test_mangling_maps_forward() -> None:
    assert mangle("thread/thread_gc1.py") == "thread_thread_gc1.py"
    assert mangle("ports/unix/x.py") == "ports_unix_x.py"
    assert mangle("../extra/./t.py") == "__extra_t.py"


def test_long_diff_keeps_head_and_tail() -> None:
    reader = DiffReader("--- a.exp", 1)
    lines = ["+++ a.out", "@@ -1,1 +1,500 @@", "-end", *[f"+line {i}" for i in range(498)], "+TIMEOUT"]
    assert all(reader.feed(line) for line in lines)
    assert not reader.feed("FAILURE x")  # the hunk is complete: the next line is not part of it
    kept = reader.lines
    assert len(kept) == HEAD_LINES + 1 + 20 and kept[-1] == "+TIMEOUT"
    assert symptom.from_diff(reader.body) == (Outcome.TIMEOUT, 'TIMEOUT after "line N"')


def test_symptoms_are_stable_across_runs() -> None:
    one = symptom.from_output(["<object at 0x7f3a2b10c0d0> 2026-03-11T01:02:03.123Z /tmp/tmpab12cd", "CRASH"])
    two = symptom.from_output(["<object at 0x55d0c0ffee00> 2026-04-01T23:59:59.999Z /tmp/tmpzz99yy", "CRASH"])
    assert one == two == (Outcome.CRASH, 'CRASH after "<object at 0x…> <time> /tmp/…"')
    assert symptom.from_output(["round 17 took 3.2 ms", "TIMEOUT"]) == symptom.from_output(
        ["round 9 took 12.0 ms", "TIMEOUT"]
    )
    # MicroPython's own reprs print the address without 0x (64- and 32-bit builds)
    addresses = ["@@ -1 +1 @@", "-<A object at 7f3a2b10c0d0>", "+<A object at 55d0c0ffee00>"]
    assert symptom.from_diff(addresses) == (Outcome.FAIL, 'expected "<A object at …>" got "<A object at …>"')
    assert symptom.normalize("<generator object 'g' at f7d2a3c0>") == "<generator object 'g' at …>"
    path = "/home/runner/work/micropython/micropython/tests/a.py"
    fork = "/home/runner/work/fork-name/fork-name/tests/a.py"
    assert symptom.normalize(path) == symptom.normalize(fork) == "tests/a.py"


def test_symptom_shapes() -> None:
    assert symptom.from_diff(["@@ -1 +0,0 @@", "-gone"]) == (Outcome.FAIL, 'missing "gone"')
    assert symptom.from_diff(["@@ -0,0 +1 @@", "+new"]) == (Outcome.FAIL, 'unexpected "new"')
    assert symptom.from_diff(["@@ -1,2 +1 @@", "-a", "-b", "+CRASH"]) == (
        Outcome.CRASH,
        "CRASH with no output",
    )
    assert symptom.from_output(["CRASH"]) == (Outcome.CRASH, "CRASH with no output")
    long = symptom.from_diff(["@@ -1 +1 @@", "-" + "x" * 500, "+" + "\x1b[31m" + "y" * 500])[1]
    assert len(long) <= symptom.MAX_SYMPTOM_CHARS and "\x1b" not in long
    assert symptom.decode_repr("b'a\\nb'") == ["a", "b"]
    assert symptom.decode_repr("__import__('os')") is None


def test_a_dump_ends_where_the_job_ends() -> None:
    collector = PrintFailures()
    lines = [
        "",
        "FAILURE /r/results/extmod_ut.py",
        "test_a ... ok",
        "CRASH",
        "Post job cleanup.",
        "git version 2.52.0",
        "Cleaning up orphan processes",
    ]
    for number, line in enumerate(lines, start=1):
        collector.feed(LogLine(number, line))
    collector.close()
    shown = collector.shown["extmod_ut.py"]
    assert (shown.outcome, shown.symptom) == (Outcome.CRASH, 'CRASH after "test_a ... ok"')
    assert "git version" not in shown.diff


def test_test_names_are_printable_but_not_rewritten() -> None:
    from bot.parse import parse_job_log

    absolute = "/home/runner/work/micropython/micropython/ports/unix/x.py"
    log = (
        f"platform=linux\nFAIL  {absolute} \n1 tests performed (1 individual testcases)\n0 tests passed\n"
        f"1 tests failed: {absolute}\nmulti_net/e\u202evil.py on a|b: FAIL\n1 tests performed\n"
        "0 tests passed\n1 tests failed: multi_net/e\u202evil.py\n"
    )
    report = parse_job_log([log.encode()])
    assert [f.test for f in report.failures] == [absolute, "multi_net/e\ufffdvil.py"]


def test_multitests_without_summary_does_not_swallow_the_next_runner() -> None:
    from bot.parse import parse_job_log

    log = (
        "multi_net/a.py on micropython|micropython: FAIL\n### TEST ###\n--- instance0 ---\nboom\n"
        "### TRUTH ###\n--- instance0 ---\nok\n### DIFF ###\n"
        "N=1000 M=1000 n_average=1\nperf_bench/p.py: FAIL truth\n"
        "1 tests performed\n0 tests passed\n1 tests failed: perf_bench/p.py\n"
    )
    report = parse_job_log([log.encode()])
    assert [(f.test, f.runner) for f in report.failures] == [
        ("multi_net/a.py", Runner.MULTITESTS),
        ("perf_bench/p.py", Runner.PERFBENCH),
    ]
    assert [p.kind for p in report.problems] == [ProblemKind.RUNNER_ERROR] and not report.complete


def test_resolving_a_hostile_old_summary_is_linear() -> None:
    """5000 FAIL lines and a summary of 50,000 distinct basenames: one pass over each, not
    every name against every FAIL line (that took minutes)."""
    import time

    parser = RunTestsParser()
    fails = "".join(f"FAIL  d/t{i}.py \n" for i in range(5000))
    names = "t7 " + " ".join(f"n{i}" for i in range(50_000))
    start = time.perf_counter()
    feed(parser, f"platform=linux\n{fails}5000 tests performed\n0 tests passed\n")
    feed(parser, f"50001 tests failed: {names}\n")
    failures = parser.finish().failures
    assert time.perf_counter() - start < 3
    assert [f.test for f in failures[:2]] == ["d/t7.py", "n0"]


def test_a_line_full_of_diff_headers_is_read_in_linear_time() -> None:
    """A hostile 256 KiB line of ``x--- `` pieces in Print failures: each is tried once."""
    import time

    collector = PrintFailures()
    line = "x--- " * 50_000 + "/results/a.py.out"
    start = time.perf_counter()
    collector.feed(LogLine(1, line))
    collector.feed(LogLine(2, "x--- /r/results/basics_a.py.exp"))
    collector.close()
    assert time.perf_counter() - start < 2
    assert list(collector.names) == ["basics_a.py"]


def test_a_run_of_skips_is_still_read_by_the_fast_path() -> None:
    """Lines are read one by one only until the run's kind (run or --dry-run) is known, and at
    most UNDECIDED_LINES of them: a long stretch of skip lines is jumped over."""
    from bot.joblog import LogReader
    from bot.runners.run_tests import UNDECIDED_LINES

    class Sink:
        def __init__(self) -> None:
            self.parser, self.read = RunTestsParser(), 0

        @property
        def skip_markers(self) -> tuple[bytes, ...] | None:
            return self.parser.skip_markers

        def line(self, line: LogLine) -> None:
            self.read += 1
            self.parser.feed(line)

    sink = Sink()
    reader = LogReader(sink)
    skips = "".join(f"skip  basics/s{i}.py\n" for i in range(20_000))
    summary = "1 tests performed\n1 tests failed: basics/x.py\n"
    reader.feed(f"platform=linux\n{skips}FAIL  basics/x.py \n{summary}".encode())
    reader.close()
    assert [f.test for f in sink.parser.finish().failures] == ["basics/x.py"]
    assert sink.read < UNDECIDED_LINES + 10


_SYMPTOM_TEXT = st.lists(
    st.sampled_from(
        ["a", "7", " ", "\t", "\n", "\x00", "\x1b", "\x7f", "\x85", "\u200b", "\u202e", "\u2067", "\ufeff",
         "é", "/runner/work/", "/home", "/tmp/", "0x", "at ", ":", "-", "2026-03-11", "T01:02:03", "Z", "f",
         "/home/runner/work/a/b/", "/tmp/x", "0x1234abcd", "at 7f3a2b10c0d0", "2026-03-11 01:02:03.5 +0000",
         "2026-03-11T01:02:03", "0xBEEF", "/Users/runner/work/a/b/"]
    )
    | st.characters(),
    max_size=40,
).map("".join)


@given(_SYMPTOM_TEXT)
def test_symptom_shortcuts_change_nothing(text: str) -> None:
    """printable() and normalize() skip their regexes on text that cannot match them: the
    result is always what the regexes alone give."""
    full = symptom._UNSAFE.sub("\ufffd", text)
    assert symptom.printable(text) == full
    slow = text
    for pattern, by in ((symptom._CHECKOUT, ""), (symptom._TMP, "/tmp/…"), (symptom._HEX, "0x…"),
                        (symptom._BARE_ADDRESS, "…"), (symptom._TIME, "<time>")):
        slow = pattern.sub(by, slow)
    assert symptom.normalize(text) == symptom._SPACE.sub(" ", symptom._UNSAFE.sub("\ufffd", slow)).strip()
