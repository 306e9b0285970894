"""The parser on what the qemu and windows workflows print (fixtures: tests/data/workflows/README.md).

These jobs reach run-tests.py through make (several passes in one step, make's directory lines)
or straight from the workflow (the pass is in the step's command), and Windows runners write CRLF
logs whose --print-failures headers put a backslash before the result file's name.
"""

from __future__ import annotations

import pytest
from helpers.workflow_logs import mingw_log, msvc_log, qemu_log
from logfmt import line_of

from bot.parse import parse_job_log
from bot.records import JobReport, Outcome, TestPass


def _failures(report: JobReport) -> list[tuple[str, bool, TestPass | None, Outcome]]:
    return sorted((f.test, f.ignored, f.test_pass, f.outcome) for f in report.failures)


CASES = [
    ("qemu", qemu_log, [
        ("basics/gen_yield_from_close.py", False, TestPass.VIA_MPY_NATIVE, Outcome.CRASH),
        ("extmod/time_time_ns.py", True, TestPass.BYTECODE, Outcome.FAIL),
        ("micropython/viper_ptr32_store.py", False, TestPass.VIA_MPY_NATIVE, Outcome.FAIL),
    ]),
    ("msvc", msvc_log, [
        ("extmod/vfs_posix_paths.py", False, TestPass.BYTECODE, Outcome.FAIL),
        ("thread/thread_gc1.py", True, TestPass.BYTECODE, Outcome.FAIL),
    ]),
    ("msvc-mpy", lambda: msvc_log(mpy_fails=True), [
        ("float/float_format_ints.py", False, TestPass.VIA_MPY, Outcome.FAIL),
        ("thread/thread_gc1.py", True, TestPass.BYTECODE, Outcome.FAIL),
    ]),
    ("mingw", mingw_log, [
        ("basics/string_format_modulo.py", False, TestPass.VIA_MPY, Outcome.FAIL),
        ("thread/stress_schedule.py", True, TestPass.BYTECODE, Outcome.FAIL),
    ]),
]


@pytest.mark.parametrize(("name", "make_log", "expected"), CASES, ids=[c[0] for c in CASES])
def test_failures_passes_and_completeness(name: str, make_log, expected) -> None:  # type: ignore[no-untyped-def]
    report = parse_job_log([make_log()])
    assert _failures(report) == expected
    assert report.complete, report.problems
    assert report.problems == ()


def test_qemu_failure_lines_and_diffs_point_at_the_right_pass() -> None:
    log = qemu_log()
    report = parse_job_log([log])
    by_test = {f.test: f for f in report.failures}
    viper = by_test["micropython/viper_ptr32_store.py"]
    assert viper.line == line_of(log, "FAIL  micropython/viper_ptr32_store.py")
    assert "+0x22220000" in viper.diff
    assert by_test["basics/gen_yield_from_close.py"].symptom.startswith("CRASH")
    assert report.failed_step == "Run tools/ci.sh qemu_build_arm_sabrelite"


@pytest.mark.parametrize("make_log", [msvc_log, mingw_log], ids=["msvc", "mingw"])
def test_windows_backslash_results_paths_attach_their_diffs(make_log) -> None:  # type: ignore[no-untyped-def]
    report = parse_job_log([make_log()])
    real = [f for f in report.failures if not f.ignored]
    assert len(real) == 1 and real[0].diff and real[0].symptom.startswith("expected")
    assert "\r" not in real[0].diff + real[0].symptom


def test_windows_log_in_arbitrary_chunks_gives_the_same_report() -> None:
    log = mingw_log()
    whole = parse_job_log([log])
    pieces = [log[i : i + 7] for i in range(0, len(log), 7)]
    assert parse_job_log(pieces) == whole


def test_a_step_running_run_tests_directly_names_its_pass_but_print_failures_does_not_start_one() -> None:
    log = msvc_log(mpy_fails=True)
    report = parse_job_log([log])
    assert report.failed_step == "Run python run-tests.py --via-mpy -d basics float micropython"
    via_mpy = [f.test for f in report.failures if f.test_pass is TestPass.VIA_MPY]
    assert via_mpy == ["float/float_format_ints.py"]
