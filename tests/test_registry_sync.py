"""Reading upstream's files (ci.sh, workflow, run-tests.py), syncing a registry and reporting drift.

The fixtures in tests/data/upstream/ imitate upstream's house style with every exclusion shape;
`make_checkout` turns them into a checkout (with a git repository, for `git apply --check`).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from helpers.checkout import TEST_PATHS, UPSTREAM, make_checkout, synced_registry
from hypothesis import given
from hypothesis import strategies as st

from bot.cli import main
from bot.errors import InputError
from bot.registry import CheckoutTree, Mechanism, dump_registry, load_registry, parse_registry
from bot.registry.ci_sh import excluded, expand, read_ci_sh, split_alternatives
from bot.registry.run_tests_py import read_ignore_dict
from bot.registry.upstream_sync import drift, read_upstream
from bot.registry.workflow import read_workflow, runner_os

DAY = date(2026, 8, 19)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return make_checkout(tmp_path)


# ---- tools/ci.sh -------------------------------------------------------------------------------

SCRIPT = read_ci_sh((UPSTREAM / "tools/ci.sh").read_text())


def _filters(function: str) -> list[tuple[str, str]]:
    return [(f.action, f.pattern) for inv in SCRIPT.functions[function].invocations for f in inv.filters]


@pytest.mark.parametrize(
    ("function", "filters"),
    [
        (
            "ci_unix_minimal_run_tests",
            [
                ("exclude", "exception_chain"),
                ("exclude", "self_type_check"),
                ("exclude", "subclass_native_init"),
            ],
        ),
        ("ci_unix_float_run_tests", [("exclude", "uasyncio_(basic|gather|heaplock|lock|wait_task)")]),
        ("ci_unix_32bit_run_tests", [("exclude", "import_pkg7.py"), ("exclude", "random_basic.py")]),
        (
            "ci_unix_macos_run_tests",
            [("exclude", "(float_parse|float_parse_doubleprec|ffi_callback|thread/stress_heap).py")],
        ),
        ("ci_unix_qemu_arm_run_tests", [("exclude", "thread/stress_recurse.py|thread/thread_gc1.py")]),
        (
            "ci_unix_qemu_ppc_run_tests",
            [("exclude", r"vfs_posix.*\.py"), ("exclude", "ffi_(callback|float|float2).py")],
        ),
        ("ci_unix_qemu_riscv64_run_tests", [("exclude", "thread/stress_aes.py")]),
        ("ci_unix_qemu_x64_run_tests", [("exclude", "(thread/stress_aes.py|ports/unix/ffi_callback.py)")]),
        ("ci_unix_qemu_mips_run_tests", []),
        ("ci_zephyr_run_tests", [("exclude", "inf_nan_arith")]),  # docker's `-e VAR=...` is not a filter
    ],
)
def test_every_exclusion_shape_is_read(function: str, filters: list[tuple[str, str]]) -> None:
    assert _filters(function) == filters


def test_functions_calls_bullets_and_lines() -> None:
    macos = SCRIPT.functions["ci_unix_macos_run_tests"]
    assert [b.path for b in macos.bullets] == ["float_parse", "ffi_callback", "thread/stress_heap.py"]
    assert SCRIPT.lines[macos.header_line - 1].strip() == "# Issues with macOS tests:"
    assert "run-tests.py --exclude" in SCRIPT.lines[macos.invocations[0].line - 1]
    assert SCRIPT.functions["ci_unix_standard_run_tests"].calls == ("ci_unix_run_tests_full_helper",)
    assert SCRIPT.functions["ci_unix_standard_run_tests"].invocations == ()
    assert SCRIPT.functions["ci_unix_qemu_loong64_run_tests"].header_line is None
    riscv = SCRIPT.functions["ci_unix_qemu_riscv64_run_tests"]
    assert len(riscv.invocations) == 1  # run-natmodtests.py is not run-tests.py
    assert SCRIPT.closure(["ci_unix_standard_run_tests"]) == (
        "ci_unix_standard_run_tests",
        "ci_unix_run_tests_full_helper",
    )


def test_tree_exclusions_follow_run_tests_semantics() -> None:
    """Unescaped dots match any character, search is unanchored: exactly what run-tests.py does."""

    def excluded_in(function: str) -> set[str]:
        return {t for t in TEST_PATHS if excluded(_filters(function), t)}

    assert excluded_in("ci_unix_macos_run_tests") == {
        "float/float_parse.py",
        "float/float_parse_doubleprec.py",
        "ports/unix/ffi_callback.py",
        "thread/stress_heap.py",
    }
    assert excluded_in("ci_unix_qemu_ppc_run_tests") == {
        "extmod/vfs_posix.py",
        "extmod/vfs_posix_ilistdir.py",
        "ports/unix/ffi_callback.py",
        "ports/unix/ffi_float.py",
        "ports/unix/ffi_float2.py",
    }
    assert excluded_in("ci_unix_minimal_run_tests") == {
        "basics/exception_chain.py",
        "basics/self_type_check.py",
        "basics/subclass_native_init.py",
    }
    assert excluded_in("ci_unix_qemu_mips_run_tests") == set()


def test_last_matching_filter_wins() -> None:
    assert (
        excluded([("exclude", "thread/"), ("include", "thread/thread_gc1")], "thread/thread_gc1.py") is False
    )
    assert (
        excluded([("include", "thread/thread_gc1"), ("exclude", "thread/")], "thread/thread_gc1.py") is True
    )
    # The default is the opposite of the first filter: an include list leaves everything else out.
    assert excluded([("include", "basics/")], "thread/thread_gc1.py") is True
    assert excluded([("include", "basics/")], "basics/int1.py") is False
    assert excluded([], "basics/int1.py") is False


def test_split_alternatives_shapes() -> None:
    assert split_alternatives("(a|b).py") == (["a", "b"], "(", ").py")
    assert split_alternatives("(a.py|b.py)") == (["a.py", "b.py"], "(", ")")
    assert split_alternatives("a.py|b.py") == (["a.py", "b.py"], "", "")
    assert split_alternatives("x_(a|b)") == (["x_(a|b)"], "", "")
    assert split_alternatives("(a|b).py|c") == (["(a|b).py", "c"], "", "")
    assert expand(r"vfs_posix.*\.py|[(|]x") == [r"vfs_posix.*\.py", "[(|]x"]
    assert expand("(ab|c){2}") == ["(ab|c){2}"]  # a repeated group is not a shared suffix
    assert expand("(a|b)?x|y") == ["(a|b)?x", "y"]


_ALT = st.from_regex(r"[a-z_/]{1,8}(\.py)?", fullmatch=True)


@given(
    st.lists(_ALT, min_size=1, max_size=5),
    st.sampled_from(["", ".py", r"\.py", "{2}", "+x", "?.py"]),
    st.lists(_ALT, max_size=20),
)
def test_expanding_a_filter_keeps_its_matches(alternatives: list[str], suffix: str, paths: list[str]) -> None:
    """One registry entry per alternative must match exactly what the whole regex matched."""
    for pattern in ("(" + "|".join(alternatives) + ")" + suffix, "|".join(a + suffix for a in alternatives)):
        parts = expand(pattern)
        for path in [*paths, *alternatives]:
            assert bool(re.search(pattern, path)) == any(re.search(p, path) for p in parts)


# ---- workflow and run-tests.py ----------------------------------------------------------------


def test_workflow_jobs_both_call_styles() -> None:
    name, jobs = read_workflow((UPSTREAM / ".github/workflows/ports_unix.yml").read_text())
    by_name = {job.name: job for job in jobs}
    assert name == "unix port"
    assert by_name["minimal"].functions == ("ci_unix_minimal_build", "ci_unix_minimal_run_tests")
    assert by_name["standard"].functions == ("ci_unix_standard_build", "ci_unix_standard_run_tests")
    assert by_name["qemu_arm"].functions == ("ci_unix_qemu_arm_build", "ci_unix_qemu_arm_run_tests")
    assert (by_name["macos"].os, by_name["macos"].runs_on) == ("darwin", "macos-26")
    assert (by_name["qemu_x64"].os, by_name["qemu_x64"].runs_on) == ("linux", "ubuntu-24.04-arm")
    assert runner_os("${{ matrix.os }}") == "unknown"
    assert runner_os("windows-2022") == "win32"


def test_ignore_dict_read_with_ast() -> None:
    found = read_ignore_dict((UPSTREAM / "tests/run-tests.py").read_text())
    assert found is not None
    assert [(i.test, i.reason, i.platforms) for i in found.items] == [
        ("thread/thread_gc1.py", "GC race condition", None),
        ("thread/stress_heap.py", "flaky on macOS", ("darwin",)),
        ("cmdline/repl_lock.py", "REPL timing under QEMU", None),
        ("extmod/time_time_ns.py", "CI runner clock precision", None),
    ]
    text = (UPSTREAM / "tests/run-tests.py").read_text().splitlines()
    assert all(f'"{item.test}"' in text[item.line - 1] for item in found.items)
    assert read_ignore_dict("x = 1\n") is None


@pytest.mark.parametrize(
    "source",
    [
        "flaky_tests_to_ignore = dict(a=1)\n",
        'flaky_tests_to_ignore = {\n    "a.py": ("r", None),\n    "b.py": compute(),\n}\n',
        'flaky_tests_to_ignore = {\n    "a.py": ("r", None),\n    "b.py": ("r", PLATFORMS),\n}\n',
        'flaky_tests_to_ignore = {\n    "a.py": ("r", None),\n    NAME: ("r", None),\n}\n',
        "flaky_tests_to_ignore = {\n",
    ],
)
def test_ignore_dict_that_is_not_a_literal_is_refused(source: str) -> None:
    with pytest.raises(InputError, match=r"tests/run-tests.py:\d+: "):
        read_ignore_dict(source)


# ---- sync, drift, check -----------------------------------------------------------------------


def test_sync_builds_entries_with_reasons(checkout: Path) -> None:
    registry = synced_registry(checkout, DAY)
    entries = {(e.mechanism.value, e.test, e.functions): e for e in registry.entries}
    heap = entries[("exclude", "thread/stress_heap.py", ("ci_unix_macos_run_tests",))]
    assert (heap.reason, heap.flaky, heap.since, heap.until) == ("is flaky", True, DAY, None)
    parse = entries[("exclude", "float_parse.py", ("ci_unix_macos_run_tests",))]
    assert parse.flaky is False and "mantissa" in parse.reason
    aes = entries[("exclude", "thread/stress_aes.py", ("ci_unix_qemu_riscv64_run_tests",))]
    assert aes.reason == "takes around 180 seconds, so it is left out to save time" and not aes.flaky
    assert (
        "exclude",
        "uasyncio_(basic|gather|heaplock|lock|wait_task)",
        ("ci_unix_float_run_tests",),
    ) in entries
    assert (
        entries[("exclude", "import_pkg7.py", ("ci_unix_32bit_run_tests",))].reason == "needs a 64-bit host"
    )
    gc1 = entries[("ignore", "thread/thread_gc1.py", ())]
    assert (gc1.platforms, gc1.flaky, gc1.source) == (None, True, "tests/run-tests.py:17")
    assert entries[("ignore", "thread/stress_heap.py", ())].platforms == ("darwin",)
    assert registry.jobs["standard"].functions == (
        "ci_unix_standard_build",
        "ci_unix_standard_run_tests",
        "ci_unix_build_helper",
        "ci_unix_run_tests_full_helper",
    )
    assert registry.jobs["macos"].os == "darwin"
    # Every (function, test) decision of the registry equals the decision of the ci.sh filters.
    for job in registry.jobs.values():
        filters = [f for fn in job.functions if fn in SCRIPT.functions for f in _filters(fn)]
        for test in TEST_PATHS:
            assert registry.runs_test(job.name, test) is not excluded(filters, test), (job.name, test)
    assert parse_registry(dump_registry(registry)) == registry


HAND = """\
    symptoms:
      - CRASH
    links:
      - https://example.invalid/issue/1
    notes: seen on arm only
"""


def _add_hand_fields(text: str, test: str, mechanism: str) -> str:
    """Insert hand-written fields into the entry for `test` (before its `since:` line)."""
    lines = text.splitlines(keepends=True)
    start = lines.index(
        f"  - test: {test}\n",
        next(
            i
            for i, line in enumerate(lines)
            if line == f"  - test: {test}\n" and lines[i + 1] == f"    mechanism: {mechanism}\n"
        ),
    )
    since = next(i for i in range(start, len(lines)) if lines[i].startswith("    since:"))
    return "".join(lines[: since + 1]) + HAND + "".join(lines[since + 1 :])


def test_sync_keeps_hand_written_fields_and_history(checkout: Path, tmp_path: Path) -> None:
    out = tmp_path / "registry.yml"
    assert (
        main(["registry", "sync", "--repo-dir", str(checkout), "-o", str(out), "--as-of", "2026-03-01"]) == 0
    )
    text = _add_hand_fields(out.read_text(), "thread/thread_gc1.py", "exclude")
    text = _add_hand_fields(text, "cmdline/repl_lock.py", "ignore")
    out.write_text(text)

    # Upstream moves on: lines shift, thread_gc1 leaves the arm --exclude, a new ignore entry appears.
    ci_sh = checkout / "tools/ci.sh"
    ci_sh.write_text(
        "# a new first line\n"
        + ci_sh.read_text().replace(
            "--exclude 'thread/stress_recurse.py|thread/thread_gc1.py'",
            "--exclude 'thread/stress_recurse.py'",
        )
    )
    run_tests = checkout / "tests/run-tests.py"
    run_tests.write_text(
        run_tests.read_text().replace(
            '    "extmod/time_time_ns.py"',
            '    "stress/recursion.py": ("stack overflow under emulation", None),\n'
            '    "extmod/time_time_ns.py"',
        )
    )
    assert (
        main(["registry", "sync", "--repo-dir", str(checkout), "-o", str(out), "--as-of", "2026-04-01"]) == 0
    )
    registry = load_registry(out)

    gc1 = [
        e for e in registry.entries if e.test == "thread/thread_gc1.py" and e.mechanism is Mechanism.EXCLUDE
    ]
    assert len(gc1) == 1
    assert (gc1[0].since, gc1[0].until) == (date(2026, 3, 1), date(2026, 4, 1))
    assert (gc1[0].symptoms, gc1[0].links, gc1[0].notes) == (
        ("CRASH",),
        ("https://example.invalid/issue/1",),
        "seen on arm only",
    )
    lock = next(e for e in registry.entries if e.test == "cmdline/repl_lock.py")
    assert (lock.symptoms, lock.notes, lock.until, lock.source) == (
        ("CRASH",),
        "seen on arm only",
        None,
        "tests/run-tests.py:19",
    )
    recurse = next(e for e in registry.entries if e.test == "thread/stress_recurse.py")
    assert (
        recurse.source
        == f"tools/ci.sh:{SCRIPT.functions['ci_unix_qemu_arm_run_tests'].invocations[0].line + 1}"
    )
    new = next(e for e in registry.entries if e.test == "stress/recursion.py")
    assert (new.since, new.until, new.mechanism) == (date(2026, 4, 1), None, Mechanism.IGNORE)
    # A log from before the change is still judged by the old ci.sh; a newer one is not.
    assert registry.runs_test("qemu_arm", "thread/thread_gc1.py", date(2026, 3, 15)) is False
    assert registry.runs_test("qemu_arm", "thread/thread_gc1.py", date(2026, 4, 2)) is True
    assert main(["registry", "check", "--repo-dir", str(checkout), str(out)]) == 0


def test_sync_to_a_place_it_cannot_write_is_a_clear_error(
    checkout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no" / "such" / "registry.yml"
    assert main(["registry", "sync", "--repo-dir", str(checkout), "-o", str(missing)]) == 2
    assert f"{missing}: cannot write registry: No such file or directory" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()


def test_drift_is_reported_both_ways(
    checkout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "registry.yml"
    assert main(["registry", "sync", "--repo-dir", str(checkout), "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["registry", "check", "--repo-dir", str(checkout), str(out)]) == 0
    assert "agrees" in capsys.readouterr().out

    ci_sh = checkout / "tools/ci.sh"
    ci_sh.write_text(
        ci_sh.read_text()
        .replace(
            "MICROPY_TEST_TIMEOUT=180 ./run-tests.py)",
            "MICROPY_TEST_TIMEOUT=180 ./run-tests.py --exclude 'io/file1.py')",
            1,
        )
        .replace("--exclude 'thread/stress_aes.py'", "--exclude 'thread/stress_aes.py|thread/mutate_set.py'")
    )
    run_tests = checkout / "tests/run-tests.py"
    run_tests.write_text(
        run_tests.read_text()
        .replace('    "cmdline/repl_lock.py": ("REPL timing under QEMU", None),\n', "")
        .replace('("flaky on macOS", ("darwin",))', '("flaky on macOS", None)')
    )
    workflow = checkout / ".github/workflows/ports_unix.yml"
    workflow.write_text(workflow.read_text().replace("macos-26", "ubuntu-latest"))
    assert main(["registry", "check", "--repo-dir", str(checkout), str(out)]) == 1
    report = capsys.readouterr().out
    assert "upstream only: ci_unix_qemu_mips_run_tests excludes 'io/file1.py'" in report
    assert "upstream only: ci_unix_qemu_riscv64_run_tests excludes 'thread/mutate_set.py'" in report
    assert "registry only: flaky_tests_to_ignore has 'cmdline/repl_lock.py'" in report
    assert "differs: flaky_tests_to_ignore has 'thread/stress_heap.py'" in report
    assert "differs: job 'macos' runs on ubuntu-latest (linux), not macos-26 (darwin)" in report
    lines = drift(load_registry(out), read_upstream(CheckoutTree(checkout), DAY))
    assert len(lines) == 5, "\n".join(lines)


def test_sync_to_stdout_and_bad_checkout(
    checkout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["registry", "sync", "--repo-dir", str(checkout), "--as-of", "2026-08-19"]) == 0
    registry = parse_registry(capsys.readouterr().out)
    assert len(registry.jobs) == 12 and all(e.since == DAY for e in registry.entries)
    assert main(["registry", "sync", "--repo-dir", str(tmp_path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().err
