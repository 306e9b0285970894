"""suggest-patch: house-style edits of ci.sh and run-tests.py, checked with `git apply --check`.

Every generated diff is applied for real in a temporary git checkout of the fixtures, and the
edited files are read back with the same readers (and run-tests.py's filter semantics) to prove
the patch excludes or ignores exactly the requested test.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from helpers.checkout import (
    TEST_PATHS,
    apply_in_memory,
    git_apply_check,
    make_checkout,
    pristine_registry,
    ruff_format_check,
    synced_registry,
)

from bot.cli import main
from bot.errors import InputError
from bot.registry import CheckoutTree, MemoryTree, Registry
from bot.registry.ci_sh import excluded, read_ci_sh
from bot.registry.patch import PatchRefused, PatchStyle, suggest_patch, validate_reason, validate_test_path
from bot.registry.run_tests_py import read_ignore_dict

DAY = date(2026, 8, 19)

EXCLUDE = PatchStyle.EXCLUDE


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_checkout(tmp_path)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return pristine_registry(tmp_path_factory, DAY)


_PATCHED_PYTHON: list[Path] = []


@pytest.fixture(autouse=True, scope="module")
def _ruff_accepts_every_patched_run_tests() -> Iterator[None]:
    """One ruff process for every run-tests.py patched in this module."""
    yield
    files, _PATCHED_PYTHON[:] = list(_PATCHED_PYTHON), []
    ruff_format_check(files)


def apply(repo: Path, diff: str, *, formatted: bool = True) -> None:
    """`git apply --check`, then apply for real so the result can be read back; a patched ci.sh must
    pass `bash -n`, a patched run-tests.py `ruff format --check` (batched, see above) unless the
    test starts from a deliberately unformatted one (`formatted=False`)."""
    check = git_apply_check(repo, diff)
    assert check.returncode == 0, check.stderr + diff
    subprocess.run(["git", "apply", "-"], input=diff, text=True, cwd=repo, check=True)
    for path in {line[6:] for line in diff.splitlines() if line.startswith("+++ b/")}:
        if path.endswith(".py"):
            _PATCHED_PYTHON.extend([repo / path] if formatted else [])
        else:
            syntax = subprocess.run(["bash", "-n", str(repo / path)], capture_output=True, text=True)
            assert syntax.returncode == 0, syntax.stderr


def function_filters(repo: Path, function: str) -> list[tuple[str, str]]:
    script = read_ci_sh((repo / "tools/ci.sh").read_text())
    return [(f.action, f.pattern) for inv in script.functions[function].invocations for f in inv.filters]


def excluded_set(repo: Path, function: str) -> set[str]:
    filters = function_filters(repo, function)
    return {t for t in TEST_PATHS if excluded(filters, t)}


def changed_lines(diff: str) -> list[str]:
    return [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("---", "+++")]


# ---- exclude style, one case per shape --------------------------------------------------------


@pytest.mark.parametrize(
    ("job", "function", "test", "expected"),
    [
        # bare alternation: append |T
        (
            "qemu_arm",
            "ci_unix_qemu_arm_run_tests",
            "thread/stress_aes.py",
            "--exclude 'thread/stress_recurse.py|thread/thread_gc1.py|thread/stress_aes.py'",
        ),
        # group with a shared suffix: insert |stem before ).py
        (
            "macos",
            "ci_unix_macos_run_tests",
            "thread/stress_schedule.py",
            "--exclude "
            "'(float_parse|float_parse_doubleprec|ffi_callback|thread/stress_heap|thread/stress_schedule).py'",
        ),
        # group of full paths: insert before )
        (
            "qemu_x64",
            "ci_unix_qemu_x64_run_tests",
            "thread/stress_schedule.py",
            "--exclude '(thread/stress_aes.py|ports/unix/ffi_callback.py|thread/stress_schedule.py)'",
        ),
        # single path: becomes an alternation
        (
            "qemu_riscv64",
            "ci_unix_qemu_riscv64_run_tests",
            "thread/stress_schedule.py",
            "--exclude 'thread/stress_aes.py|thread/stress_schedule.py'",
        ),
        # repeated flags: one more flag in the same spelling
        (
            "qemu_ppc",
            "ci_unix_qemu_ppc_run_tests",
            "thread/stress_schedule.py",
            r"--exclude 'vfs_posix.*\.py' --exclude 'ffi_(callback|float|float2).py' "
            "--exclude 'thread/stress_schedule.py'",
        ),
        # unquoted short flags: one more -e, still unquoted
        (
            "minimal",
            "ci_unix_minimal_run_tests",
            "basics/int2.py",
            "-e exception_chain -e self_type_check -e subclass_native_init -e basics/int2.py -d basics",
        ),
        # inner groups: append at top level
        (
            "float",
            "ci_unix_float_run_tests",
            "thread/stress_schedule.py",
            "-e 'uasyncio_(basic|gather|heaplock|lock|wait_task)|thread/stress_schedule.py'",
        ),
        # no --exclude yet: add one
        (
            "qemu_mips",
            "ci_unix_qemu_mips_run_tests",
            "thread/stress_schedule.py",
            "MICROPY_TEST_TIMEOUT=180 ./run-tests.py --exclude 'thread/stress_schedule.py')",
        ),
    ],
)
def test_exclude_patch_in_each_shape(
    repo: Path, registry: Registry, job: str, function: str, test: str, expected: str
) -> None:
    before = excluded_set(repo, function)
    result = suggest_patch(CheckoutTree(repo), registry, test=test, jobs=[job], style=EXCLUDE)
    assert result.changed and result.diff is not None
    assert result.diff.startswith("--- a/tools/ci.sh\n+++ b/tools/ci.sh\n")
    apply(repo, result.diff)
    text = (repo / "tools/ci.sh").read_text()
    assert expected in text
    assert excluded_set(repo, function) == before | {test}
    assert f"    # - {test} is flaky\n" in text
    # Round trip: flake-bot's own reading of the patched tree calls the test flaky in that job.
    synced = synced_registry(repo, DAY)
    assert synced.match(job, test, when=DAY).listing.value == "known-flake"
    # Idempotent: asking again explains and gives no diff.
    again = suggest_patch(CheckoutTree(repo), registry, test=test, jobs=[job], style=EXCLUDE)
    assert (again.diff, again.changed) == (None, False)
    assert "already excluded" in again.message


def test_bullet_goes_under_existing_bullets_or_a_new_header(repo: Path, registry: Registry) -> None:
    arm = suggest_patch(
        CheckoutTree(repo),
        registry,
        test="micropython/const.py",
        jobs=["qemu_arm"],
        style=EXCLUDE,
        reason="hangs under emulation",
    )
    assert changed_lines(arm.diff or "")[0] == "+    # - micropython/const.py is flaky: hangs under emulation"
    assert (
        "     # - thread/thread_gc1.py is flaky\n"
        "+    # - micropython/const.py is flaky: hangs under emulation\n" in (arm.diff or "")
    )
    loong = suggest_patch(
        CheckoutTree(repo), registry, test="micropython/const.py", jobs=["qemu_loong64"], style=EXCLUDE
    )
    apply(repo, loong.diff or "")
    assert (
        "function ci_unix_qemu_loong64_run_tests {\n    # Issues with unix qemu_loong64 tests:\n"
        "    # - micropython/const.py is flaky\n    (cd tests"
    ) in (repo / "tools/ci.sh").read_text()
    assert excluded_set(repo, "ci_unix_qemu_loong64_run_tests") == {"micropython/const.py"}


def test_dots_are_escaped_only_when_needed(repo: Path, registry: Registry) -> None:
    """`extmod/re1.py` unescaped would also match extmod/re1_py.py, so the patch escapes the dots."""
    result = suggest_patch(
        CheckoutTree(repo), registry, test="extmod/re1.py", jobs=["qemu_arm"], style=EXCLUDE
    )
    apply(repo, result.diff or "")
    assert r"|extmod/re1\.py'" in (repo / "tools/ci.sh").read_text()
    assert "extmod/re1_py.py" not in excluded_set(repo, "ci_unix_qemu_arm_run_tests")
    assert "extmod/re1.py" in excluded_set(repo, "ci_unix_qemu_arm_run_tests")


def test_over_broad_pattern_is_refused(
    repo: Path, registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    """io/file1.py is a substring of extmod/vfs_io/file1.py: no unanchored regex can exclude only it."""
    with pytest.raises(PatchRefused, match=r"extmod/vfs_io/file1\.py"):
        suggest_patch(CheckoutTree(repo), registry, test="io/file1.py", jobs=["macos"], style=EXCLUDE)
    code = main(
        [
            "suggest-patch",
            "--repo-dir",
            str(repo),
            "--test",
            "io/file1.py",
            "--job",
            "macos",
            "--style",
            "exclude",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert "would also exclude extmod/vfs_io/file1.py" in captured.err


def test_a_later_include_that_keeps_the_test_is_refused_in_words(registry: Registry) -> None:
    """run-tests.py's last matching filter wins, so an --include after the --exclude keeps the test."""
    script = (
        "function ci_unix_build_helper {\n    true\n}\n"
        "function ci_unix_macos_build {\n    ci_unix_build_helper\n}\n"
        "function ci_unix_macos_run_tests {\n"
        "    (cd tests && ./run-tests.py --exclude 'thread/a.py' --include 'thread/.*')\n"
        "}\n"
    )
    tree = MemoryTree({"tools/ci.sh": script}, ["thread/a.py", "thread/b.py"])
    with pytest.raises(PatchRefused) as caught:
        suggest_patch(tree, registry, test="thread/b.py", jobs=["macos"], style=EXCLUDE)
    assert "the new pattern would still not exclude the test; write that exclusion by hand" in str(
        caught.value
    )


def test_a_job_the_checkout_does_not_have_is_refused_as_such(registry: Registry) -> None:
    """An older checkout without the job's functions is not a job that 'runs its tests through make'."""
    tree = MemoryTree({"tools/ci.sh": "function ci_other {\n    true\n}\n"}, ["thread/a.py"])
    with pytest.raises(PatchRefused, match=r"has no ci_unix_macos_build, ci_unix_macos_run_tests, .*macos"):
        suggest_patch(tree, registry, test="thread/a.py", jobs=["macos"], style=EXCLUDE)


def test_shared_function_and_make_jobs_are_refused(repo: Path, registry: Registry) -> None:
    with pytest.raises(PatchRefused, match="also run by 'longlong'"):
        suggest_patch(
            CheckoutTree(repo), registry, test="micropython/const.py", jobs=["nanbox"], style=EXCLUDE
        )
    both = suggest_patch(
        CheckoutTree(repo),
        registry,
        test="micropython/const.py",
        jobs=["nanbox", "longlong"],
        style=EXCLUDE,
    )
    apply(repo, both.diff or "")
    assert (
        "--exclude 'import_pkg7.py' --exclude 'random_basic.py' --exclude 'micropython/const.py'"
        in (repo / "tools/ci.sh").read_text()
    )
    with pytest.raises(PatchRefused, match="use --style ignore"):
        suggest_patch(
            CheckoutTree(repo), registry, test="micropython/const.py", jobs=["standard"], style=EXCLUDE
        )


@pytest.mark.parametrize(
    ("job", "function", "test", "expected"),
    [
        (
            "qemu_arm",
            "ci_unix_qemu_arm_run_tests",
            "thread/thread_gc1.py",
            "--exclude 'thread/stress_recurse.py')",
        ),
        (
            "macos",
            "ci_unix_macos_run_tests",
            "thread/stress_heap.py",
            "--exclude '(float_parse|float_parse_doubleprec|ffi_callback).py')",
        ),
        (
            "macos",
            "ci_unix_macos_run_tests",
            "float/float_parse.py",
            "--exclude '(float_parse_doubleprec|ffi_callback|thread/stress_heap).py')",
        ),
        (
            "qemu_riscv64",
            "ci_unix_qemu_riscv64_run_tests",
            "thread/stress_aes.py",
            "micropython ./run-tests.py\n",
        ),
        (
            "qemu_x64",
            "ci_unix_qemu_x64_run_tests",
            "ports/unix/ffi_callback.py",
            "--exclude 'thread/stress_aes.py'",  # a group of one loses its parentheses
        ),
        (
            "nanbox",
            "ci_unix_32bit_run_tests",
            "import/import_pkg7.py",
            "./run-tests.py --exclude 'random_basic.py')",
        ),
        (
            "minimal",
            "ci_unix_minimal_run_tests",
            "basics/self_type_check.py",
            "-e exception_chain -e subclass_native_init -d basics",
        ),
    ],
)
def test_remove_patch(
    repo: Path, registry: Registry, job: str, function: str, test: str, expected: str
) -> None:
    before = excluded_set(repo, function)
    result = suggest_patch(
        CheckoutTree(repo), registry, test=test, jobs=[job], style=EXCLUDE, remove=True, all_jobs=True
    )
    apply(repo, result.diff or "")
    text = (repo / "tools/ci.sh").read_text()
    assert expected in text
    assert excluded_set(repo, function) == before - {test}
    again = suggest_patch(CheckoutTree(repo), registry, test=test, jobs=[job], style=EXCLUDE, remove=True)
    assert again.diff is None and "not excluded" in again.message


def test_remove_drops_bullet_and_empty_header(repo: Path, registry: Registry) -> None:
    result = suggest_patch(
        CheckoutTree(repo),
        registry,
        test="thread/stress_aes.py",
        jobs=["qemu_riscv64"],
        style=EXCLUDE,
        remove=True,
    )
    assert changed_lines(result.diff or "")[:2] == [
        "-    # Issues with RISCV-64 tests:",
        "-    # - thread/stress_aes.py takes around 180 seconds, so it is left out to save time",
    ]


def test_remove_drops_the_bullet_of_the_alternative_it_removes(repo: Path, registry: Registry) -> None:
    """`ffi_callback` in the regex is `ports/unix/ffi_callback.py` in the log; its bullet goes with it,
    but a bullet that also explains a test still excluded stays."""
    tree = CheckoutTree(repo)
    ffi = suggest_patch(
        tree, registry, test="ports/unix/ffi_callback.py", jobs=["macos"], style=EXCLUDE, remove=True
    )
    assert changed_lines(ffi.diff or "")[0] == "-    # - ffi_callback crashes for an unknown reason"
    assert len(changed_lines(ffi.diff or "")) == 3
    floats = suggest_patch(
        tree, registry, test="float/float_parse.py", jobs=["macos"], style=EXCLUDE, remove=True
    )
    assert [line for line in changed_lines(floats.diff or "") if "#" in line] == []
    assert "kept the bullet at tools/ci.sh:67" in floats.message
    assert "'(float_parse_doubleprec|ffi_callback|thread/stress_heap).py'" in (floats.diff or "")


def test_remove_refuses_a_pattern_that_covers_other_tests(repo: Path, registry: Registry) -> None:
    with pytest.raises(PatchRefused, match=r"extmod/vfs_posix_ilistdir\.py"):
        suggest_patch(
            CheckoutTree(repo),
            registry,
            test="extmod/vfs_posix.py",
            jobs=["qemu_ppc"],
            style=EXCLUDE,
            remove=True,
        )


# ---- ignore style ------------------------------------------------------------------------------


def ignore_items(repo: Path) -> dict[str, tuple[str, tuple[str, ...] | None]]:
    found = read_ignore_dict((repo / "tests/run-tests.py").read_text())
    assert found is not None
    return {i.test: (i.reason, i.platforms) for i in found.items}


@pytest.mark.parametrize(
    ("jobs", "platforms", "line"),
    [
        (["macos"], ("darwin",), '    "thread/stress_aes.py": ("intermittent failure in CI", ("darwin",)),'),
        # One Linux job: linux, not None, which would also reach the macos job nobody named.
        (["qemu_arm"], ("linux",), '    "thread/stress_aes.py": ("intermittent failure in CI", ("linux",)),'),
        (["macos", "qemu_mips"], None, '    "thread/stress_aes.py": ("intermittent failure in CI", None),'),
    ],
)
def test_ignore_patch_adds_an_entry(
    repo: Path, registry: Registry, jobs: list[str], platforms: tuple[str, ...] | None, line: str
) -> None:
    result = suggest_patch(CheckoutTree(repo), registry, test="thread/stress_aes.py", jobs=jobs)
    assert result.diff is not None and result.diff.startswith(
        "--- a/tests/run-tests.py\n+++ b/tests/run-tests.py\n"
    )
    assert changed_lines(result.diff) == ["+" + line]
    apply(repo, result.diff)
    assert ignore_items(repo)["thread/stress_aes.py"] == ("intermittent failure in CI", platforms)
    assert list(ignore_items(repo))[-1] == "thread/stress_aes.py"
    synced = synced_registry(repo, DAY)
    for job in jobs:
        match = synced.match(job, "thread/stress_aes.py", when=DAY)
        assert match.listing.value == "known-flake"
        assert match.entries[0].reason == "intermittent failure in CI"
    again = suggest_patch(CheckoutTree(repo), registry, test="thread/stress_aes.py", jobs=jobs)
    assert again.diff is None and "already in flaky_tests_to_ignore" in again.message


def test_ignore_patch_widens_and_narrows(repo: Path, registry: Registry) -> None:
    tree = CheckoutTree(repo)
    assert suggest_patch(tree, registry, test="thread/stress_heap.py", jobs=["macos"]).diff is None
    widened = suggest_patch(
        tree, registry, test="thread/stress_heap.py", jobs=["qemu_arm"], reason="ignored anyway"
    )
    assert changed_lines(widened.diff or "") == [
        '-    "thread/stress_heap.py": ("flaky on macOS", ("darwin",)),',
        '+    "thread/stress_heap.py": ("ignored anyway", None),',
    ]
    narrowed = suggest_patch(tree, registry, test="thread/thread_gc1.py", jobs=["macos"], remove=True)
    apply(repo, narrowed.diff or "")
    assert ignore_items(repo)["thread/thread_gc1.py"] == ("GC race condition", ("linux",))
    with pytest.raises(
        PatchRefused,
        match=r"also stop ignoring it in 10 unix jobs beyond.*Also reached: 'float' \(ports_unix.yml\)",
    ):
        suggest_patch(
            CheckoutTree(repo), registry, test="thread/thread_gc1.py", jobs=["qemu_arm"], remove=True
        )
    removed = suggest_patch(
        CheckoutTree(repo),
        registry,
        test="thread/thread_gc1.py",
        jobs=["qemu_arm"],
        remove=True,
        all_jobs=True,
    )
    assert "no longer ignored in qemu_arm; that also stops ignoring it in 10 unix jobs" in removed.message
    assert len(removed.jobs) == 11 and "macos (ports_unix.yml)" not in removed.jobs
    apply(repo, removed.diff or "")
    assert "thread/thread_gc1.py" not in ignore_items(repo)
    nothing = suggest_patch(
        CheckoutTree(repo), registry, test="thread/thread_gc1.py", jobs=["qemu_arm"], remove=True
    )
    assert nothing.diff is None and "nothing to remove" in nothing.message


def test_ignore_messages_say_how_far_none_reaches(repo: Path, registry: Registry) -> None:
    """The message names every job whose behaviour changes, not only those asked about."""
    tree = CheckoutTree(repo)
    added = suggest_patch(tree, registry, test="thread/stress_aes.py", jobs=["qemu_arm"])
    assert added.message.endswith(
        "ignored on linux; that also ignores it in 10 unix jobs (every job on linux: "
        "flaky_tests_to_ignore cannot tell jobs on one platform apart)."
    )
    everywhere = suggest_patch(tree, registry, test="thread/stress_aes.py", jobs=["qemu_arm", "macos"])
    assert (
        "ignored on every platform (every job of every workflow); that also ignores it in 10"
        in everywhere.message
    )
    narrowed = suggest_patch(tree, registry, test="thread/thread_gc1.py", jobs=["macos"], remove=True)
    assert narrowed.message == (
        "Narrow thread/thread_gc1.py in flaky_tests_to_ignore to linux (was on every platform (every job of "
        "every workflow)): no longer ignored in macos."
    )
    assert narrowed.jobs == ("macos (ports_unix.yml)",)


def test_platforms_can_be_told(repo: Path, registry: Registry) -> None:
    """A Linux-only flake: `linux` instead of the None derived from a Linux job."""
    tree = CheckoutTree(repo)
    added = suggest_patch(tree, registry, test="thread/stress_aes.py", jobs=["qemu_arm"], platforms=["linux"])
    assert changed_lines(added.diff or "") == [
        '+    "thread/stress_aes.py": ("intermittent failure in CI", ("linux",)),'
    ]
    assert "ignored on linux; that also ignores it in 10 unix jobs" in added.message
    widened = suggest_patch(
        tree, registry, test="thread/stress_heap.py", jobs=["qemu_arm"], platforms=["linux"]
    )
    assert (
        changed_lines(widened.diff or "")[1]
        == '+    "thread/stress_heap.py": ("flaky on macOS", ("darwin", "linux")),'
    )
    apply(repo, widened.diff or "")
    again = suggest_patch(
        CheckoutTree(repo), registry, test="thread/stress_heap.py", jobs=["qemu_arm"], platforms=["linux"]
    )
    assert again.diff is None
    with pytest.raises(InputError, match="do not include the runner of macos"):
        suggest_patch(tree, registry, test="thread/stress_aes.py", jobs=["macos"], platforms=["linux"])
    for bad in (["li nux"], ["linux'"], [], ["Linux"]):
        with pytest.raises(InputError):
            suggest_patch(tree, registry, test="thread/stress_aes.py", jobs=["qemu_arm"], platforms=bad)
    with pytest.raises(InputError, match="--style ignore only"):
        suggest_patch(
            tree,
            registry,
            test="thread/stress_aes.py",
            jobs=["qemu_arm"],
            style=EXCLUDE,
            platforms=["linux"],
        )


def test_ignore_patch_for_an_unknown_test_is_refused(repo: Path, registry: Registry) -> None:
    with pytest.raises(PatchRefused, match="not a test in the checkout"):
        suggest_patch(CheckoutTree(repo), registry, test="thread/not_there.py", jobs=["macos"])


def test_ignore_patch_on_a_tree_without_the_dict(registry: Registry) -> None:
    tree = MemoryTree({"tests/run-tests.py": "import sys\n"}, ["thread/x.py"])
    with pytest.raises(PatchRefused, match="use --style exclude"):
        suggest_patch(tree, registry, test="thread/x.py", jobs=["macos"])


def test_memory_tree_without_trailing_newline(registry: Registry, tmp_path: Path) -> None:
    """Files fetched through the API need no checkout; a missing final newline still gives a valid diff."""
    text = 'flaky_tests_to_ignore = {\n    "a/b.py": ("r", None),\n}'
    tree = MemoryTree({"tests/run-tests.py": text}, ["a/b.py", "thread/x.py"])
    result = suggest_patch(tree, registry, test="thread/x.py", jobs=["qemu_arm"])
    repo = tmp_path / "mem"
    (repo / "tests").mkdir(parents=True)
    (repo / "tests/run-tests.py").write_text(text)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    apply(repo, result.diff or "", formatted=False)  # no final newline
    assert (
        (repo / "tests/run-tests.py")
        .read_text()
        .endswith('    "thread/x.py": ("intermittent failure in CI", ("linux",)),\n}')
    )


# ---- untrusted input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "test",
    [
        "thread/x.py'; rm -rf /; '",
        "thread/x.py\n+evil",
        "../etc/passwd.py",
        "thread/../x.py",
        "/abs/x.py",
        "thread/x*.py",
        "thread/(x|y).py",
        "thread/x.py|basics",
        "thread/x",
        "thread_gc1",
        "thread/$(id).py",
        'thread/"x".py',
        "thread/x.py ",
        "thread\\x.py",
        "a" * 300 + ".py",
        "thread/x\u202e.py",
        "",
    ],
)
def test_hostile_test_paths_are_rejected(repo: Path, registry: Registry, test: str) -> None:
    with pytest.raises(InputError, match="not a MicroPython test path"):
        suggest_patch(CheckoutTree(repo), registry, test=test, jobs=["macos"])


def test_hostile_job_names_stay_one_bounded_line(repo: Path, registry: Registry) -> None:
    """A fork's workflow can name its jobs anything, and the refusal may end up in a PR comment."""
    job = "qemu_arm\n##[error]forged\u202e" + "x" * 5000
    with pytest.raises(InputError) as caught:
        suggest_patch(CheckoutTree(repo), registry, test="thread/thread_gc1.py", jobs=[job])
    message = str(caught.value)
    assert message.startswith("unknown job 'qemu_arm\\n##[error]forged\\u202e")
    assert "\n" not in message and "\u202e" not in message and "x" * 100 not in message
    assert len(message) < 60 + 80 + sum(len(j) + 2 for j in registry.jobs)


@pytest.mark.parametrize(
    "reason", ['bad"quote', "new\nline", "back\\slash", "$(id)", "`id`", "x" * 101, " ", "é"]
)
def test_hostile_reasons_are_rejected(reason: str) -> None:
    with pytest.raises(InputError, match="reason"):
        validate_reason(reason)


def test_valid_inputs_pass_through() -> None:
    assert validate_test_path("ports/unix/ffi_callback.py") == "ports/unix/ffi_callback.py"
    assert validate_reason(" crashes under QEMU (issue 123) ") == "crashes under QEMU (issue 123)"


def test_cli_prints_an_applicable_diff(
    repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    reg = tmp_path / "reg.yml"
    assert main(["registry", "sync", "--repo-dir", str(repo), "-o", str(reg)]) == 0
    capsys.readouterr()
    code = main(
        [
            "suggest-patch",
            "--repo-dir",
            str(repo),
            "--registry",
            str(reg),
            "--test",
            "thread/stress_aes.py",
            "--job",
            "qemu_arm",
            "--style",
            "exclude",
            "--reason",
            "times out under emulation",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0 and "Exclude thread/stress_aes.py" in captured.err
    apply(repo, captured.out)
    text = (repo / "tools/ci.sh").read_text()
    assert "# - thread/stress_aes.py is flaky: times out under emulation" in text
    assert (
        main(
            [
                "suggest-patch",
                "--repo-dir",
                str(repo),
                "--registry",
                str(reg),
                "--test",
                "x;y",
                "--job",
                "qemu_arm",
            ]
        )
        == 2
    )
    assert (
        main(
            [
                "suggest-patch",
                "--repo-dir",
                str(repo),
                "--registry",
                str(reg),
                "--test",
                "io/file1.py",
                "--job",
                "nope",
            ]
        )
        == 2
    )
    assert "unknown job 'nope'" in capsys.readouterr().err


def test_a_path_needs_a_directory() -> None:
    with pytest.raises(InputError):
        validate_test_path("thread_gc1.py")


def test_removing_from_a_shared_function_says_who_else_is_affected(repo: Path, registry: Registry) -> None:
    result = suggest_patch(
        CheckoutTree(repo),
        registry,
        test="extmod/random_basic.py",
        jobs=["nanbox"],
        style=EXCLUDE,
        remove=True,
        all_jobs=True,
    )
    assert "also run by 'longlong' (ports_unix.yml), which will run the test again" in result.message
    assert result.jobs == ("longlong (ports_unix.yml)", "nanbox (ports_unix.yml)")
    apply(repo, result.diff or "")
    assert "extmod/random_basic.py" not in excluded_set(repo, "ci_unix_32bit_run_tests")


def test_every_exclude_patch_changes_exactly_one_test(repo: Path, registry: Registry) -> None:
    """Exhaustive over the fixture: for every job and test, adding (or removing) an exclusion either
    explains why not, or changes whether that one test runs in that job and nothing else."""
    script_text = (repo / "tools/ci.sh").read_text()
    tree = MemoryTree({"tools/ci.sh": script_text}, TEST_PATHS)
    script = read_ci_sh(script_text)
    outcomes = {"patched": 0, "unchanged": 0, "refused": 0}
    for job, spec in registry.jobs.items():
        functions = [f for f in spec.functions if f in script.functions and script.functions[f].invocations]
        users = {j for j, s in registry.jobs.items() if set(s.functions) & set(functions)}
        for test in TEST_PATHS:
            for remove in (False, True):
                try:
                    result = suggest_patch(
                        tree, registry, test=test, jobs=sorted(users or {job}), style=EXCLUDE, remove=remove
                    )
                except PatchRefused:
                    outcomes["refused"] += 1
                    continue
                if result.diff is None:
                    outcomes["unchanged"] += 1
                    continue
                outcomes["patched"] += 1
                after = read_ci_sh(apply_in_memory(script_text, result.diff))
                for function in functions:
                    old = [
                        (f.action, f.pattern)
                        for i in script.functions[function].invocations
                        for f in i.filters
                    ]
                    new = [
                        (f.action, f.pattern)
                        for i in after.functions[function].invocations
                        for f in i.filters
                    ]
                    changed = {t for t in TEST_PATHS if excluded(old, t) != excluded(new, t)}
                    assert changed == {test}, (job, test, remove, result.diff)
                    assert excluded(new, test) is not remove
    assert all(outcomes.values()), outcomes


ODD_DICT = """\
flaky_tests_to_ignore = {
    "a/one.py": ("isn't reliable \u2014 QEMU", ("darwin",)),  # keeps its comment
    "a/two.py": ("r", None), "a/three.py": ("r", None),
    "a/four.py": (
        "split over lines",
        ("darwin",),
    ),
}
"""


def test_ignore_edits_keep_what_upstream_wrote(registry: Registry, tmp_path: Path) -> None:
    """Only the platforms change; reasons with quotes or non-ASCII text and comments stay as written."""
    tree = MemoryTree({"tests/run-tests.py": ODD_DICT}, ["a/one.py", "a/two.py", "a/three.py", "a/four.py"])
    widened = suggest_patch(tree, registry, test="a/one.py", jobs=["qemu_arm"])
    assert changed_lines(widened.diff or "")[1] == (
        '+    "a/one.py": ("isn\'t reliable \u2014 QEMU", None),  # keeps its comment'
    )
    repo = tmp_path / "odd"
    (repo / "tests").mkdir(parents=True)
    (repo / "tests/run-tests.py").write_text(ODD_DICT)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    apply(repo, widened.diff or "", formatted=False)  # two entries on one line
    with pytest.raises(PatchRefused, match="does not have a line of its own"):
        suggest_patch(tree, registry, test="a/two.py", jobs=["qemu_arm", "macos"], remove=True, all_jobs=True)
    narrowed = suggest_patch(tree, registry, test="a/three.py", jobs=["qemu_arm"], remove=True, all_jobs=True)
    assert (
        changed_lines(narrowed.diff or "")[1]
        == '+    "a/two.py": ("r", None), "a/three.py": ("r", ("darwin",)),'
    )
    # An entry split over lines (as ruff splits a long one) is rewritten whole and stays split.
    four = suggest_patch(tree, registry, test="a/four.py", jobs=["qemu_arm"])
    assert changed_lines(four.diff or "") == ['-        ("darwin",),', "+        None,"]
    gone = suggest_patch(
        tree, registry, test="a/four.py", jobs=["qemu_arm", "macos"], remove=True, all_jobs=True
    )
    assert changed_lines(gone.diff or "") == [
        '-    "a/four.py": (',
        '-        "split over lines",',
        '-        ("darwin",),',
        "-    ),",
    ]
