"""Several workflows in one registry: matrix job names, exclusion places, per-workflow matching,
and sync/check of a checkout with qemu- and windows-style workflows (written for these tests in
the shape of upstream's files, not copied)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from bot.errors import InputError, RegistryError
from bot.registry import dump_registry, load_registry
from bot.registry.model import Entry, JobSpec, Listing, Mechanism, Registry, WorkflowSpec
from bot.registry.source import MemoryTree
from bot.registry.upstream import drift_all, read_all_upstream, sync_all
from bot.registry.workflow import expand_matrix, read_workflow
from bot.registry.yaml_io import parse_registry

# -- matrix expansion: the names the jobs API reports ------------------------------------------

MATRIX_CASES = [
    ("one axis", {"board": ["alpha", "beta"]}, [{"board": "alpha"}, {"board": "beta"}]),
    (
        "exclude removes every matching cell",
        {"cpu": ["x86", "x64"], "mode": ["Debug", "Release"], "exclude": [{"mode": "Debug"}]},
        [{"cpu": "x86", "mode": "Release"}, {"cpu": "x64", "mode": "Release"}],
    ),
    (
        "include extends the cells it does not contradict",
        {"sys": ["m32", "m64"], "include": [{"sys": "m32", "env": "i686"}, {"sys": "m64", "env": "x86_64"}]},
        [{"sys": "m32", "env": "i686"}, {"sys": "m64", "env": "x86_64"}],
    ),
    (
        "an include that extends nothing becomes its own cell",
        {"sys": ["m32"], "include": [{"sys": "ucrt", "env": "x86_64"}]},
        [{"sys": "m32"}, {"sys": "ucrt", "env": "x86_64"}],
    ),
    ("an expression cannot be expanded", "${{ fromJSON(needs.setup.outputs.matrix) }}", []),
    ("values other than lists cannot be expanded", {"board": "${{ inputs.boards }}"}, []),
]


@pytest.mark.parametrize(("matrix", "cells"), [c[1:] for c in MATRIX_CASES], ids=[c[0] for c in MATRIX_CASES])
def test_expand_matrix(matrix: object, cells: list[dict[str, object]]) -> None:
    assert expand_matrix(matrix) == cells


def test_a_huge_matrix_is_refused() -> None:
    with pytest.raises(InputError, match="larger than"):
        expand_matrix({"a": list(range(20)), "b": list(range(20))})


QEMU_YML = """\
name: qemu port
on: [push]
jobs:
  build_and_test_arm:
    strategy:
      matrix:
        ci_func: [plain, cortex_a9]
    runs-on: ubuntu-latest
    steps:
    - uses: actions/checkout@v7
    - run: tools/ci.sh qemu_build_arm_${{ matrix.ci_func }}
    - if: failure()
      run: tests/run-tests.py --print-failures
  build_and_test_rv64:
    runs-on: ubuntu-latest
    steps:
    - run: tools/ci.sh qemu_build_rv64
"""

WINDOWS_YML = """\
name: windows port
on: [push]
jobs:
  build-vs:
    strategy:
      matrix:
        platform: [x86, x64]
        configuration: [Debug, Release]
        visualstudio: ['2022']
        include:
        - visualstudio: '2022'
          toolset: v143
        exclude:
        - platform: x86
          configuration: Debug
    runs-on: windows-2022
    steps:
    - name: Run tests
      working-directory: tests
      run: python run-tests.py -e thread/ --exclude 'float_(a|b).py'
    - name: Print failures
      working-directory: tests
      run: python run-tests.py --print-failures
  build-mingw:
    strategy:
      matrix:
        variant: [dev]
    runs-on: windows-latest
    defaults:
      run:
        shell: msys2 {0}
    steps:
    - run: make -C ports/windows test_full VARIANT=${{ matrix.variant }}
  cross-build:
    name: Cross ${{ matrix.target }}
    strategy:
      matrix:
        target: [w64]
    runs-on: ubuntu-latest
    steps:
    - run: tools/ci.sh windows_build
  fixed:
    name: Fixed name
    strategy:
      matrix:
        n: [1]
    runs-on: ubuntu-latest
    steps:
    - run: tools/ci.sh windows_build
"""

CI_SH = """\
function ci_qemu_build_arm_prepare {
    make ${MAKEOPTS} -C mpy-cross
}

function ci_qemu_build_arm_plain {
    ci_qemu_build_arm_prepare
    make ${MAKEOPTS} -C ports/qemu test_full
}

function ci_qemu_build_arm_cortex_a9 {
    ci_qemu_build_arm_prepare
    make ${MAKEOPTS} -C ports/qemu BOARD=CORTEX_A9 test_full
    make ${MAKEOPTS} -C ports/qemu BOARD=CORTEX_A9 test_natmod
}

function ci_qemu_build_rv64 {
    make ${MAKEOPTS} -C ports/qemu BOARD=RV64 test
}

function ci_windows_build {
    make ${MAKEOPTS} -C ports/windows CROSS_COMPILE=x86_64-w64-mingw32-
}
"""

QEMU_MAKEFILE = """\
BOARD ?= PLAIN_M3
test_full: $(BUILD)/firmware.elf
\tcd $(TOP)/tests && ./run-tests.py $(RUN_TESTS_FULL_ARGS)
\tcd $(TOP)/tests && ./run-tests.py $(RUN_TESTS_FULL_ARGS) --via-mpy
"""

WINDOWS_MAKEFILE = """\
# The soft-float maths of old gcc builds differ in the last digit.
RUN_TESTS_SKIP += -e math_fun -e float_parse
test:
\tcd $(TOP)/tests && ./run-tests.py $(RUN_TESTS_SKIP)
"""

CORTEX_A9_MK = """\
# Thumb-2 only tests cannot run on an ARM-mode core.
RUN_TESTS_ARGS += --exclude 'inlineasm/thumb/asm_t2_.*.py'
"""

RUN_TESTS_PY = """\
flaky_tests_to_ignore = {
    "thread/thread_gc1.py": ("GC race condition", None),
    "thread/stress_heap.py": ("flaky on macOS", ("darwin",)),
}
"""


UNIX_YML = "name: unix port\njobs:\n  minimal:\n    runs-on: ubuntu-latest\n"


def checkout(**overrides: str) -> MemoryTree:
    files = {
        "tools/ci.sh": CI_SH,
        "tests/run-tests.py": RUN_TESTS_PY,
        ".github/workflows/ports_unix.yml": UNIX_YML,
        ".github/workflows/ports_qemu.yml": QEMU_YML,
        ".github/workflows/ports_windows.yml": WINDOWS_YML,
        "ports/qemu/Makefile": QEMU_MAKEFILE,
        "ports/qemu/boards/CORTEX_A9/mpconfigboard.mk": CORTEX_A9_MK,
        "ports/windows/Makefile": WINDOWS_MAKEFILE,
    }
    files.update(overrides)
    return MemoryTree({k: v for k, v in files.items() if v}, [])


def test_job_names_are_what_the_jobs_api_reports() -> None:
    name, jobs = read_workflow(WINDOWS_YML)
    assert name == "windows port"
    assert [j.name for j in jobs] == [
        "build-vs (x86, Release, 2022, v143)",
        "build-vs (x64, Debug, 2022, v143)",
        "build-vs (x64, Release, 2022, v143)",
        "build-mingw (dev)",
        "Cross w64",
        "Fixed name (1)",
    ]
    assert {j.os for j in jobs[:4]} == {"win32"}
    assert jobs[3].runs == (("", "make -C ports/windows test_full VARIANT=dev"),)
    assert jobs[0].runs[0] == ("tests", "python run-tests.py -e thread/ --exclude 'float_(a|b).py'")


def test_read_all_upstream_finds_each_jobs_exclusion_places() -> None:
    registry = read_all_upstream(checkout(), date(2026, 8, 19))
    assert [s.file for s in registry.sections()] == ["ports_unix.yml", "ports_qemu.yml", "ports_windows.yml"]
    qemu = registry.for_workflow("qemu port")
    assert qemu is not None
    plain, a9, rv64 = (
        qemu.jobs[n]
        for n in ("build_and_test_arm (plain)", "build_and_test_arm (cortex_a9)", "build_and_test_rv64")
    )
    assert plain.places == ("ports/qemu/Makefile",)  # the default board has no board file here
    assert plain.targets == ("make -C ports/qemu BOARD=PLAIN_M3 test_full",)
    assert a9.places == ("ports/qemu/Makefile", "ports/qemu/boards/CORTEX_A9/mpconfigboard.mk")
    assert a9.targets == ("make -C ports/qemu BOARD=CORTEX_A9 test_full",)  # test_natmod is not run-tests
    assert "ci_qemu_build_arm_prepare" in a9.functions
    assert rv64.places == ("ports/qemu/Makefile",)
    windows = registry.for_workflow(".github/workflows/ports_windows.yml")
    assert windows is not None
    assert windows.jobs["build-vs (x86, Release, 2022, v143)"].places == (
        ".github/workflows/ports_windows.yml:build-vs",
    )
    assert windows.jobs["build-mingw (dev)"].places == ("ports/windows/Makefile",)
    assert windows.jobs["Cross w64"].places == ()
    placed = {(e.test, e.places, e.source, e.reason) for e in registry.entries if e.places}
    assert placed == {
        (
            "inlineasm/thumb/asm_t2_.*.py",
            ("ports/qemu/boards/CORTEX_A9/mpconfigboard.mk",),
            "ports/qemu/boards/CORTEX_A9/mpconfigboard.mk:2",
            "Thumb-2 only tests cannot run on an ARM-mode core.",
        ),
        (
            "math_fun",
            ("ports/windows/Makefile",),
            "ports/windows/Makefile:2",
            "The soft-float maths of old gcc builds differ in the last digit.",
        ),
        (
            "float_parse",
            ("ports/windows/Makefile",),
            "ports/windows/Makefile:2",
            "The soft-float maths of old gcc builds differ in the last digit.",
        ),
        (
            "thread/",
            (".github/workflows/ports_windows.yml:build-vs",),
            ".github/workflows/ports_windows.yml:20",
            "",
        ),
        (
            "float_(a|b).py",
            (".github/workflows/ports_windows.yml:build-vs",),
            ".github/workflows/ports_windows.yml:20",
            "",
        ),
    }


def test_a_place_exclusion_covers_only_the_jobs_using_that_place() -> None:
    registry = read_all_upstream(checkout(), date(2026, 8, 19))
    qemu = registry.for_workflow("ports_qemu.yml")
    assert qemu is not None
    when = date(2026, 8, 20)
    assert not qemu.runs_test("build_and_test_arm (cortex_a9)", "inlineasm/thumb/asm_t2_ldr.py", when)
    assert qemu.runs_test("build_and_test_arm (plain)", "inlineasm/thumb/asm_t2_ldr.py", when)
    windows = registry.for_workflow("windows port")
    assert windows is not None
    assert not windows.runs_test("build-mingw (dev)", "float/math_fun.py", when)
    assert windows.runs_test("build-vs (x64, Debug, 2022, v143)", "float/math_fun.py", when)
    assert not windows.runs_test("build-vs (x64, Debug, 2022, v143)", "thread/thread_gc1.py", when)


def test_matching_uses_the_platform_of_the_jobs_runner() -> None:
    registry = read_all_upstream(checkout(), date(2026, 3, 11))
    windows = registry.judging("windows port")
    job = "build-mingw (dev)"
    gc1 = windows.match(job, "thread/thread_gc1.py", when=date(2026, 8, 20), ignored=True)
    assert gc1.listing is Listing.KNOWN_FLAKE
    heap = windows.match(job, "thread/stress_heap.py", when=date(2026, 8, 20), ignored=False)
    assert heap.listing is Listing.FLAKY_ELSEWHERE  # ignored on darwin only: a real failure on win32
    assert not heap.should_not_have_failed


def test_judging_an_uncovered_workflow_lends_no_other_workflows_jobs() -> None:
    registry = read_all_upstream(checkout(), date(2026, 8, 19))
    other = registry.judging("esp32 port")
    assert other.jobs == {} and other.workflow == "esp32 port"
    assert len(other.sections()) == 4  # the uncovered one first, then every covered one
    assert registry.judging("unix port") is registry
    assert registry.for_workflow("esp32 port") is None


def test_section_of_finds_the_only_workflow_with_that_job() -> None:
    registry = read_all_upstream(checkout(), date(2026, 8, 19))
    assert registry.section_of("build-mingw (dev)").workflow == "windows port"
    assert registry.section_of("minimal") is registry
    assert registry.section_of("no such job") is registry


def test_round_trip_and_backward_compatible_loading(tmp_path) -> None:  # type: ignore[no-untyped-def]
    registry = read_all_upstream(checkout(), date(2026, 8, 19))
    text = dump_registry(registry)
    assert parse_registry(text) == registry
    old = "version: 1\nworkflow: unix port\njobs:\n  minimal: {os: linux}\nentries: []\n"
    loaded = parse_registry(old)
    assert loaded.workflow_file == "" and loaded.workflows == ()
    assert loaded.for_workflow("unix port") is loaded
    assert loaded.judging("qemu port").jobs == {}
    anonymous = parse_registry("version: 1\njobs:\n  minimal: {os: linux}\n")
    assert anonymous.judging(".github/workflows/ports_unix.yml", "unix port") is anonymous


def test_the_bundled_registry_covers_the_workflows() -> None:
    registry = load_registry()
    files = [s.file for s in registry.sections()]
    assert files == [
        "ports_unix.yml",
        "ports_qemu.yml",
        "ports_windows.yml",
        "ports_webassembly.yml",
        "ports_zephyr.yml",
    ]
    qemu = registry.for_workflow("qemu port")
    assert qemu is not None and "build_and_test_arm (sabrelite)" in qemu.jobs
    assert qemu.jobs["build_and_test_arm (sabrelite)"].os == "linux"
    windows = registry.for_workflow("ports_windows.yml")
    assert windows is not None
    assert windows.jobs["build-vs (x64, Release, dev, 2022, [17, 18), v143)"].os == "win32"
    assert windows.jobs["build-mingw (dev, mingw32, i686)"].places == ("ports/windows/Makefile",)


BAD = [
    ("exclude with neither", "  - {test: a.py, mechanism: exclude}\n", "needs 'functions'"),
    (
        "places on an ignore",
        "  - {test: a.py, mechanism: ignore, places: [ports/x/Makefile]}\n",
        "applies to platforms",
    ),
    (
        "a place with spaces",
        "  - {test: a.py, mechanism: exclude, places: ['ports/x y']}\n",
        "not a valid item",
    ),
    (
        "same place twice",
        "  - {test: a.py, mechanism: exclude, places: [p/M]}\n"
        "  - {test: a.py, mechanism: exclude, places: [p/M]}\n",
        "duplicate entry",
    ),
]


@pytest.mark.parametrize(("entries", "problem"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_place_entries_are_reported_with_their_line(entries: str, problem: str) -> None:
    with pytest.raises(RegistryError, match=problem):
        parse_registry("version: 1\nentries:\n" + entries, "r.yml")


def test_a_workflow_described_twice_is_an_error() -> None:
    text = "version: 1\nworkflow_file: ports_unix.yml\nworkflows:\n  - {file: ports_unix.yml}\n"
    with pytest.raises(RegistryError, match=r"r.yml:4: workflow 'ports_unix.yml' is described twice"):
        parse_registry(text, "r.yml")


def test_sync_keeps_history_and_hand_written_fields_of_place_entries() -> None:
    first = read_all_upstream(checkout(), date(2026, 1, 1))
    annotated = replace(
        first,
        entries=tuple(
            replace(e, notes="compiler precision") if e.test == "math_fun" else e for e in first.entries
        ),
    )
    narrower = WINDOWS_MAKEFILE.replace(" -e math_fun", "")
    later = read_all_upstream(checkout(**{"ports/windows/Makefile": narrower}), date(2026, 5, 1))
    synced = sync_all(annotated, later, date(2026, 5, 1))
    by_test = {e.test: e for e in synced.entries if e.places == ("ports/windows/Makefile",)}
    assert by_test["math_fun"].until == date(2026, 5, 1) and by_test["math_fun"].notes == "compiler precision"
    assert by_test["float_parse"].since == date(2026, 1, 1) and by_test["float_parse"].until is None
    assert [s.file for s in synced.workflows] == ["ports_qemu.yml", "ports_windows.yml"]
    assert drift_all(synced, later) == []
    assert parse_registry(dump_registry(synced)) == synced


def test_check_reports_place_and_job_drift() -> None:
    registry = read_all_upstream(checkout(), date(2026, 1, 1))
    changed = checkout(
        **{
            "ports/qemu/boards/CORTEX_A9/mpconfigboard.mk": CORTEX_A9_MK.replace("asm_t2_", "asm_thumb2_"),
            ".github/workflows/ports_qemu.yml": QEMU_YML.replace(
                "[plain, cortex_a9]", "[plain, cortex_a9, m55]"
            ),
        }
    )
    lines = drift_all(registry, read_all_upstream(changed, date(2026, 2, 1)))
    assert lines == sorted(
        [
            "ports_qemu.yml: upstream only: job 'build_and_test_arm (m55)' (linux)",
            "registry only: ports/qemu/boards/CORTEX_A9/mpconfigboard.mk excludes "
            "'inlineasm/thumb/asm_t2_.*.py' (registry line 0; no longer upstream)",
            "upstream only: ports/qemu/boards/CORTEX_A9/mpconfigboard.mk excludes "
            "'inlineasm/thumb/asm_thumb2_.*.py' (ports/qemu/boards/CORTEX_A9/mpconfigboard.mk:2; "
            "reason 'Thumb-2 only tests cannot run on an ARM-mode core.')",
        ]
    )
    without = checkout(**{".github/workflows/ports_windows.yml": ""})
    assert "registry only: workflow ports_windows.yml (not in the checkout)" in drift_all(
        registry, read_all_upstream(without, date(2026, 2, 1))
    )


def test_entry_where_names_the_place_for_the_job() -> None:
    entry = Entry("math_fun", Mechanism.EXCLUDE, places=("ports/windows/Makefile",))
    job = JobSpec("build-mingw (dev)", "win32", places=("ports/windows/Makefile",))
    assert entry.covers(job) and entry.where(job) == "excluded in ports/windows/Makefile"
    assert not entry.covers(
        JobSpec("build-vs", "win32", places=(".github/workflows/ports_windows.yml:build-vs",))
    )
    assert WorkflowSpec("ports_qemu.yml", "qemu port").is_called(".github/workflows/ports_qemu.yml")
    assert not WorkflowSpec("", "").is_called("")
    assert Registry().judging("") == Registry()


def test_match_command_judges_a_job_by_its_own_workflow(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    mingw = ["--job", "build-mingw (dev, mingw32, i686)", "--date", "2026-08-20", "--json"]
    assert main(["match", *mingw, "--test", "thread/stress_heap.py", "--not-ignored"]) == 0
    out, err = capsys.readouterr()
    assert '"verdict": "flaky-elsewhere"' in out and err == ""  # darwin-only ignore; job found in windows
    zephyr = ["--job", "build", "--workflow", "zephyr port"]
    assert main(["match", *zephyr, "--test", "thread/thread_gc1.py"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("known-flake") and err == ""
    assert main(["match", "--job", "build", "--test", "thread/thread_gc1.py"]) == 2  # two workflows have it
    assert "ports_webassembly.yml and ports_zephyr.yml; add --workflow" in capsys.readouterr().err


def test_patch_for_a_windows_job_ignores_on_win32_and_a_qemu_exclude_is_refused_with_why() -> None:
    from bot.registry.patch import PatchRefused, suggest_patch

    files = dict(checkout().files)
    tree = MemoryTree(files, ["thread/stress_aes.py", "thread/thread_gc1.py"])
    registry = read_all_upstream(tree, date(2026, 8, 19))
    windows = registry.judging(".github/workflows/ports_windows.yml")
    result = suggest_patch(
        tree, windows, test="thread/stress_aes.py", jobs=["build-mingw (dev)"],
        workflow=".github/workflows/ports_windows.yml",
    )  # fmt: skip
    assert '+    "thread/stress_aes.py": ("intermittent failure in CI", ("win32",)),' in result.diff
    qemu = registry.judging("ports_qemu.yml")
    with pytest.raises(PatchRefused, match="its tests run through make"):
        suggest_patch(
            tree, qemu, test="thread/stress_aes.py", jobs=["build_and_test_arm (cortex_a9)"], style="exclude",
            workflow=".github/workflows/ports_qemu.yml",
        )  # fmt: skip
