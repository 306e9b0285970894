"""Job logs of the qemu and windows workflows, built from tests/data/workflows (see its README):
shared by the parser, end-to-end and benchmark code."""

from __future__ import annotations

from pathlib import Path

from logfmt import Step, job_log

DATA = Path(__file__).resolve().parents[1] / "data" / "workflows"


def _text(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def _crlf(log: bytes) -> bytes:
    return log.replace(b"\n", b"\r\n")


def qemu_log() -> bytes:
    return job_log(
        [
            Step("tools/ci.sh qemu_setup_arm", "qemu-system-arm version 8.2.2\n", name="Install packages"),
            Step("tools/ci.sh qemu_build_arm_sabrelite", _text("qemu-sabrelite-build-and-test.txt"),
                 exit_code=2, name="Build and run test suite ci_qemu_build_arm_sabrelite"),
            Step("tests/run-tests.py --print-failures", _text("qemu-print-failures.txt"),
                 name="Print failures"),
        ],
        job="build_and_test_arm (sabrelite)",
    )


def msvc_log(*, mpy_fails: bool = False) -> bytes:
    if mpy_fails:
        first = _text("windows-msvc-run-tests.txt")
        for line in ("FAIL  extmod/vfs_posix_paths.py \n", "1 tests failed: extmod/vfs_posix_paths.py\n"):
            first = first.replace(line, "")
        first = first.replace("810 tests passed", "811 tests passed")  # the counts still add up
        steps = [
            Step("python run-tests.py", first, name="Run tests"),
            Step("python run-tests.py --via-mpy -d basics float micropython",
                 _text("windows-msvc-run-mpy-tests.txt"), exit_code=1, name="Run mpy tests"),
            Step("python run-tests.py --print-failures", "", name="Print mpy failures"),
        ]
    else:
        steps = [
            Step("python run-tests.py", _text("windows-msvc-run-tests.txt"), exit_code=1, name="Run tests"),
            Step("python run-tests.py --print-failures", _text("windows-msvc-print-failures.txt"),
                 name="Print failures"),
        ]
    return _crlf(job_log(steps, job="build-vs (x64, Release, dev, 2022, [17, 18), v143)"))


def mingw_log() -> bytes:
    return _crlf(job_log(
        [
            Step("make -C ports/windows test_full VARIANT=dev", _text("windows-mingw-test-full.txt"),
                 exit_code=2, name="Run tests"),
            Step("python run-tests.py --print-failures", _text("windows-mingw-print-failures.txt"),
                 name="Print failures"),
        ],
        job="build-mingw (dev, mingw32, i686)",
    ))


def unix_log() -> bytes:
    """A unix port job (`standard`) failing one test in pass 1, for runs beside another workflow's."""
    run = "\n".join(
        [
            "cd ../../tests && MICROPY_MICROPYTHON=../ports/unix/build-standard/micropython ./run-tests.py ",
            "platform=linux arch=x64 thread=unsafe float=64-bit unicode",
            "pass  basics/int1.py ",
            "FAIL  micropython/const.py ",
            "2 tests performed (40 individual testcases)",
            "1 tests passed",
            "1 tests failed: micropython/const.py",
            "make: *** [Makefile:258: test] Error 1",
            "",
        ]
    )
    step = Step("tools/ci.sh unix_standard_run_tests", run, exit_code=2, name="Run main test suite")
    return job_log([step], job="standard")
