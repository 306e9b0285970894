"""Patches and registry commands change only what they were asked about, across all five covered
workflows (issue 20), on the five-workflow fixture (tests/data/five-workflows, see its README):
the ignore platforms are judged against every job of every workflow, `--workflow` check and sync
touch one section only, build-only and ambiguous jobs are caught, and exit codes follow the
table in docs/registry.md."""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from helpers.checkout import FIVE, apply_in_memory, make_five_checkout
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.errors import InputError
from bot.registry import CheckoutTree, MemoryTree, Registry, dump_registry, load_registry
from bot.registry.ci_sh import read_ci_sh
from bot.registry.model import Entry, Mechanism
from bot.registry.patch import PatchRefused, PatchStyle, suggest_patch
from bot.registry.platforms import SuiteJob, reaches
from bot.registry.run_tests_py import read_ignore_dict
from bot.registry.scope import drift_workflow, sync_workflow
from bot.registry.upstream import read_all_upstream, read_sections, runs_run_tests, sync_all
from bot.registry.upstream_sync import CI_SH as CI
from bot.registry.upstream_sync import RUN_TESTS

DAY = date(2026, 8, 19)
MSVC = "build-vs (x64, Release, 2022, windows-2022, [17, 18), v143)"
UNIX_LINUX = ["minimal", "standard", "coverage", "qemu_arm"]
WORKFLOWS = [
    "ports_unix.yml",
    "ports_qemu.yml",
    "ports_windows.yml",
    "ports_webassembly.yml",
    "ports_zephyr.yml",
]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_five_checkout(tmp_path)


@pytest.fixture
def registry(repo: Path) -> Registry:
    return sync_all(None, read_all_upstream(CheckoutTree(repo), DAY), DAY)


def ignored(repo: Path) -> dict[str, tuple[str, ...] | None]:
    found = read_ignore_dict((repo / "tests/run-tests.py").read_text())
    assert found is not None
    return {i.test: i.platforms for i in found.items}


def suite_jobs(repo: Path) -> list[SuiteJob]:
    """Every job of every workflow that runs run-tests.py, as `registry sync` reads the checkout."""
    read = read_all_upstream(CheckoutTree(repo), DAY)
    return [
        SuiteJob(s.file, name, spec.os)
        for s in read.sections()
        for name, spec in s.jobs.items()
        if runs_run_tests(spec) or (s.file == "ports_unix.yml" and name != "reproducible")
    ]


def git_apply(repo: Path, diff: str) -> None:
    subprocess.run(["git", "apply", "-"], input=diff, text=True, cwd=repo, check=True)


def reached(repo: Path, test: str) -> set[str]:
    """The jobs whose failures of `test` run-tests.py ignores, read back from the checkout."""
    platforms = ignored(repo).get(test, ())
    return {j.label() for j in suite_jobs(repo) if reaches(platforms, j)}


# ---- 1. one platform model over every workflow ---------------------------------------------------


def test_removing_a_none_entry_for_one_qemu_job_is_refused_and_names_every_job(
    repo: Path, registry: Registry
) -> None:
    with pytest.raises(PatchRefused) as caught:
        suggest_patch(
            CheckoutTree(repo),
            registry,
            test="thread/thread_gc1.py",
            jobs=["build_and_test_rv32"],
            remove=True,
        )
    message = str(caught.value)
    assert (
        "would also stop ignoring it in 4 unix jobs, 2 qemu jobs, 1 webassembly job and 1 zephyr job"
        in message
    )
    assert "--all-jobs" in message


@pytest.mark.parametrize(
    ("test", "job", "workflow", "remove", "after"),
    [
        # None for the macos job: Windows keeps it (the unix-only model wrote ("linux",)).
        ("thread/thread_gc1.py", "macos", "ports_unix.yml", True, ("linux", "win32")),
        # One more platform for a darwin-only entry: win32, not None (Linux was not asked for).
        ("thread/stress_heap.py", MSVC, "ports_windows.yml", False, ("darwin", "win32")),
        # The last missing platform: now the whole universe, so None.
        ("cmdline/repl_lock.py", "build_and_test_rv32", "ports_qemu.yml", False, None),
        # A new entry for a zephyr job: linux (every Linux job of every workflow), not None.
        ("thread/stress_aes.py", "build", "ports_zephyr.yml", False, ("linux",)),
    ],
)
def test_the_patch_changes_exactly_the_jobs_its_explanation_names(
    repo: Path,
    registry: Registry,
    test: str,
    job: str,
    workflow: str,
    remove: bool,
    after: tuple[str, ...] | None,
) -> None:
    before = reached(repo, test)
    result = suggest_patch(
        CheckoutTree(repo), registry, test=test, jobs=[job], remove=remove, workflow=workflow
    )
    assert result.diff is not None
    git_apply(repo, result.diff)
    assert ignored(repo)[test] == after
    changed = before ^ reached(repo, test)
    assert changed == set(result.jobs) and changed
    counts = re.search(r"also (?:stops ignoring|ignores) it in ([^(]*) \(", result.message)
    others = changed - {f"{job} ({workflow})"}
    if others:
        assert counts is not None
        assert sum(int(n) for n in re.findall(r"(\d+) \w+ jobs?", counts.group(1))) == len(others)
    else:
        assert counts is None


def test_all_jobs_removes_everywhere_and_says_where(repo: Path, registry: Registry) -> None:
    tree = CheckoutTree(repo)
    # Every Linux job named but the two `build`s: still refused, and the message says which are left.
    named = [
        *UNIX_LINUX,
        "build_and_test_arm (sabrelite)",
        "build_and_test_arm (thumb)",
        "build_and_test_rv32",
    ]
    with pytest.raises(
        PatchRefused,
        match=r"also stop ignoring it in 1 webassembly job and 1 zephyr job beyond the jobs asked for"
        r".*Also reached: 'build'",
    ):
        suggest_patch(tree, registry, test="thread/stress_recurse.py", jobs=named, remove=True)
    result = suggest_patch(
        tree, registry, test="thread/stress_recurse.py", jobs=["qemu_arm"], remove=True, all_jobs=True
    )
    assert "that also stops ignoring it in 3 unix jobs, 3 qemu jobs, 1 webassembly job and 1 zephyr job" in (
        result.message
    )
    git_apply(repo, result.diff or "")
    assert "thread/stress_recurse.py" not in ignored(repo)


# ---- 3. jobs are checked before patching ---------------------------------------------------------


@pytest.mark.parametrize("job", ["build_and_test_arm (bigendian)", "cross-build-on-linux", "reproducible"])
@pytest.mark.parametrize("style", list(PatchStyle))
def test_a_job_that_never_runs_run_tests_is_refused_with_the_reason(
    repo: Path, registry: Registry, job: str, style: PatchStyle
) -> None:
    with pytest.raises(
        PatchRefused, match=rf"job '{re.escape(job)}' \(ports_\w+\.yml\) never runs tests/run-tests\.py"
    ):
        suggest_patch(CheckoutTree(repo), registry, test="thread/stress_aes.py", jobs=[job], style=style)


def test_a_build_only_job_beside_test_jobs_is_left_out_with_a_note(repo: Path, registry: Registry) -> None:
    result = suggest_patch(
        CheckoutTree(repo), registry, test="thread/stress_aes.py", jobs=["standard", "reproducible"]
    )
    assert result.diff and "for standard: ignored on linux" in result.message
    assert "Left out: job 'reproducible' (ports_unix.yml) never runs tests/run-tests.py" in result.message
    assert "reproducible (ports_unix.yml)" not in result.jobs


def test_a_name_two_workflows_have_needs_workflow(repo: Path, registry: Registry) -> None:
    with pytest.raises(
        InputError, match=r"job 'build' is in ports_webassembly\.yml and ports_zephyr\.yml; add --workflow"
    ):
        suggest_patch(CheckoutTree(repo), registry, test="thread/stress_aes.py", jobs=["build"])
    for key in ("ports_webassembly.yml", ".github/workflows/ports_webassembly.yml", "webassembly port"):
        result = suggest_patch(
            CheckoutTree(repo), registry, test="thread/stress_aes.py", jobs=["build"], workflow=key
        )
        assert result.diff and "for build: ignored on linux" in result.message


def test_a_typo_gets_the_closest_names_of_every_workflow_in_full(repo: Path, registry: Registry) -> None:
    with pytest.raises(InputError) as caught:
        suggest_patch(CheckoutTree(repo), registry, test="thread/stress_aes.py", jobs=["build_and_test_rv23"])
    assert "closest: 'build_and_test_rv32' (ports_qemu.yml)" in str(caught.value)
    typo = MSVC.replace("x64", "x46")
    with pytest.raises(InputError) as caught:
        suggest_patch(CheckoutTree(repo), registry, test="thread/stress_aes.py", jobs=[typo])
    assert f"unknown job '{typo}'" in str(caught.value) and f"'{MSVC}' (ports_windows.yml)" in str(
        caught.value
    )
    with pytest.raises(InputError, match=r"not in ports_qemu\.yml; the checkout has it in ports_unix\.yml"):
        suggest_patch(
            CheckoutTree(repo),
            registry,
            test="thread/stress_aes.py",
            jobs=["qemu_arm"],
            workflow="ports_qemu.yml",
        )


def test_a_long_matrix_name_is_found_without_workflow(repo: Path, registry: Registry) -> None:
    result = suggest_patch(CheckoutTree(repo), registry, test="thread/stress_aes.py", jobs=[MSVC])
    assert f"for {MSVC}: ignored on win32; that also ignores it in 4 windows jobs" in result.message


# ---- 2. per-workflow check and sync --------------------------------------------------------------


def write_registry(tmp_path: Path, registry: Registry) -> Path:
    path = tmp_path / "reg.yml"
    path.write_text(dump_registry(registry))
    return path


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_check_one_workflow_agrees_with_the_checkout_it_was_made_from(
    repo: Path, registry: Registry, tmp_path: Path, workflow: str, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = write_registry(tmp_path, registry)
    for key in (workflow, f".github/workflows/{workflow}"):
        assert main(["registry", "check", "--repo-dir", str(repo), "--workflow", key, str(reg)]) == 0
    assert "agrees with" in capsys.readouterr().out


def test_sync_one_workflow_changes_only_that_section(
    repo: Path, registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = write_registry(tmp_path, registry)
    before = reg.read_text()
    # Upstream changes in two workflows: qemu's board file and unix's macos function.
    board = repo / "ports/qemu/boards/SABRELITE/mpconfigboard.mk"
    board.write_text(board.read_text().replace("asm_t2.py'", "asm_t2.py' --exclude 'float/math_fun.py'"))
    ci = repo / "tools/ci.sh"
    ci.write_text(ci.read_text().replace("(float_parse|thread/stress_heap).py", "float_parse.py"))
    args = ["--repo-dir", str(repo), str(reg)]
    assert main(["registry", "check", "--workflow", "ports_qemu.yml", *args]) == 1
    advice = capsys.readouterr().out.splitlines()[-1]
    assert advice.startswith("to bring it up to date, run: flake-bot registry sync --repo-dir ")
    command = shlex.split(advice.split("run: ", 1)[1])
    assert command[-4:] == ["--workflow", "ports_qemu.yml", "-o", str(reg)]
    assert main(command[1:]) == 0  # the advice, run as printed
    assert main(["registry", "check", "--workflow", "ports_qemu.yml", *args]) == 0
    assert main(["registry", "check", "--workflow", "ports_unix.yml", *args]) == 1  # unix not touched
    after = reg.read_text()
    added = [line for line in after.splitlines() if line not in before.splitlines()]
    assert added and all(
        "math_fun" in line or "SABRELITE" in line or line.startswith("    ") for line in added
    )
    assert [line for line in before.splitlines() if line not in after.splitlines()] == []
    assert load_registry(reg).for_workflow("ports_unix.yml") is not None
    # A later sync of unix leaves qemu's new entry alone, and the whole registry then agrees.
    assert (
        main(
            [
                "registry",
                "sync",
                "--workflow",
                ".github/workflows/ports_unix.yml",
                "-o",
                str(reg),
                "--repo-dir",
                str(repo),
            ]
        )
        == 0
    )
    assert main(["registry", "check", *args]) == 0
    assert "math_fun.py" in reg.read_text()


def test_sync_of_a_workflow_with_no_change_rewrites_nothing(
    repo: Path, registry: Registry, tmp_path: Path
) -> None:
    reg = write_registry(tmp_path, registry)
    before = reg.read_text()
    for workflow in WORKFLOWS:
        assert (
            main(["registry", "sync", "--repo-dir", str(repo), "--workflow", workflow, "-o", str(reg)]) == 0
        )
        assert reg.read_text() == before, workflow


def test_whole_check_advice_names_the_file_and_the_checkout(
    repo: Path, registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = write_registry(tmp_path, registry)
    (repo / "ports/webassembly/Makefile").write_text("test_min:\n\tcd $(TOP)/tests && ./run-tests.py\n")
    assert main(["registry", "check", "--repo-dir", str(repo), str(reg)]) == 1
    command = shlex.split(capsys.readouterr().out.splitlines()[-1].split("run: ", 1)[1])
    assert "--workflow" not in command
    assert main(command[1:]) == 0
    assert main(["registry", "check", "--repo-dir", str(repo), str(reg)]) == 0


# ---- 4. exit codes: one row of docs/registry.md each ---------------------------------------------

EXIT_ROWS = {
    "patch written": (["--test", "thread/stress_aes.py", "--job", "coverage"], 0),
    "nothing to do: already ignored there": (["--test", "thread/thread_gc1.py", "--job", "coverage"], 0),
    "nothing to do: excluded in the job and ignored": (
        ["--test", "thread/stress_heap.py", "--job", "macos", "--style", "exclude"],
        0,
    ),
    "nothing to do: excluded, so ignoring changes nothing": (
        ["--test", "float/float_parse.py", "--job", "macos"],
        0,
    ),
    "nothing to do: nothing to remove": (
        ["--test", "thread/stress_aes.py", "--job", "coverage", "--remove"],
        0,
    ),
    "refused: removal reaches jobs not named": (
        ["--test", "thread/thread_gc1.py", "--job", "coverage", "--remove"],
        1,
    ),
    "refused: the job never runs run-tests.py": (
        ["--test", "thread/stress_aes.py", "--job", "reproducible"],
        1,
    ),
    "refused: another runner's test": (["--test", "multi_net/tcp_data.py", "--job", "coverage"], 1),
    "bad input: unknown job": (["--test", "thread/stress_aes.py", "--job", "coverag"], 2),
    "bad input: a job two workflows have": (["--test", "thread/stress_aes.py", "--job", "build"], 2),
    "bad input: not a test path": (["--test", "../x.py", "--job", "coverage"], 2),
}


@pytest.mark.parametrize("row", list(EXIT_ROWS))
def test_exit_code_table(repo: Path, row: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv, code = EXIT_ROWS[row]
    assert main(["suggest-patch", "--repo-dir", str(repo), *argv]) == code
    err = capsys.readouterr().err
    if code == 0 and row.startswith("nothing to do"):
        assert "nothing to" in err


def test_the_docs_table_has_these_rows() -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "registry.md").read_text()
    section = docs.split("### Exit codes of suggest-patch", 1)[1]
    table = section[section.index("| case |") :].split("\n\n", 1)[0]
    rows = [line.split("|")[1].strip() for line in table.splitlines()[2:]]
    assert rows == list(EXIT_ROWS)
    codes = [int(line.split("|")[2].strip()) for line in table.splitlines()[2:]]
    assert codes == [code for _, code in EXIT_ROWS.values()]


# ---- match: job names in every workflow ----------------------------------------------------------


def test_match_asks_for_workflow_only_when_two_have_the_job(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = write_registry(tmp_path, registry)
    base = ["match", "--registry", str(reg), "--test", "thread/thread_gc1.py"]
    assert main([*base, "--job", "build"]) == 2
    assert "ports_webassembly.yml and ports_zephyr.yml" in capsys.readouterr().err
    assert main([*base, "--job", "build", "--workflow", "ports_zephyr.yml"]) == 0
    assert main([*base, "--job", "build_and_test_rv23"]) == 0
    err = capsys.readouterr().err
    assert "not in the registry" in err and "'build_and_test_rv32' (ports_qemu.yml)" in err


# ---- the patch changes exactly the jobs it names, for any entry, job and direction ---------------

FIVE_FILES = {
    str(path.relative_to(FIVE)): path.read_text()
    for path in FIVE.rglob("*")
    if path.is_file() and path.name not in ("README.md", "tests.txt")
}
FIVE_TESTS = tuple((FIVE / "tests.txt").read_text().split())
FIVE_SUITE = [
    SuiteJob(s.file, name, spec.os)
    for s in read_sections(MemoryTree(FIVE_FILES, FIVE_TESTS), read_ci_sh(FIVE_FILES[CI], CI))
    for name, spec in s.jobs.items()
    if runs_run_tests(spec)
]
IGNORED = read_ignore_dict(FIVE_FILES[RUN_TESTS])
assert IGNORED is not None
#: With --workflow, the other workflows' jobs come from the registry: this one is synced from the tree.
FIVE_REGISTRY = sync_all(None, read_all_upstream(MemoryTree(FIVE_FILES, FIVE_TESTS), DAY), DAY)


@settings(max_examples=60, deadline=None)
@example(test="thread/stress_aes.py", named=[SuiteJob("ports_zephyr.yml", "build", "linux")], remove=False)
@example(
    test="thread/thread_gc1.py", named=[SuiteJob("ports_webassembly.yml", "build", "linux")], remove=True
)
@given(
    test=st.sampled_from([i.test for i in IGNORED.items] + ["thread/stress_aes.py", "float/math_fun.py"]),
    named=st.lists(st.sampled_from(FIVE_SUITE), min_size=1, max_size=3, unique=True),
    remove=st.booleans(),
)
def test_any_patch_changes_exactly_the_jobs_it_names(test: str, named: list[SuiteJob], remove: bool) -> None:
    """Over every entry of the fixture's dict and any jobs of any workflows: the jobs whose failures
    are ignored before and after the patch (read back from the patched dict) are the jobs the
    patch says it changes, and a change to a job nobody named is written only with --all-jobs."""
    registry = FIVE_REGISTRY
    tree = MemoryTree(FIVE_FILES, FIVE_TESTS)
    jobs = [j.name for j in named]
    if len({j.workflow for j in named if j.name == "build"}) > 1 or len(set(jobs)) < len(jobs):
        return  # `build` of two workflows cannot be named in one request (that needs --workflow)
    workflow = next((j.workflow for j in named if j.name == "build"), None)
    if workflow is not None and any(j.workflow != workflow for j in named):
        return
    before_platforms = {i.test: i.platforms for i in IGNORED.items}.get(test, ())
    try:
        result = suggest_patch(tree, registry, test=test, jobs=jobs, remove=remove, workflow=workflow)
    except PatchRefused as refused:
        assert (remove and "--all-jobs" in str(refused)) or (not remove and "excluded" not in str(refused))
        if not remove:
            return
        result = suggest_patch(
            tree, registry, test=test, jobs=jobs, remove=True, workflow=workflow, all_jobs=True
        )
    after_text = apply_in_memory(FIVE_FILES[RUN_TESTS], result.diff) if result.diff else FIVE_FILES[RUN_TESTS]
    after_dict = read_ignore_dict(after_text)
    assert after_dict is not None
    after_platforms = {i.test: i.platforms for i in after_dict.items}.get(test, ())
    changed = {j.label() for j in FIVE_SUITE if reaches(before_platforms, j) != reaches(after_platforms, j)}
    assert changed == set(result.jobs)
    assert all(reaches(after_platforms, j) != remove for j in named) or result.diff is None


def test_uncovered_workflow_is_bad_input(repo: Path, registry: Registry, tmp_path: Path) -> None:
    reg = write_registry(tmp_path, registry)
    for action in (["check", str(reg)], ["sync", "-o", str(reg)]):
        assert main(["registry", *action, "--repo-dir", str(repo), "--workflow", "ports_esp32.yml"]) == 2


def test_sync_adds_a_section_the_registry_lacks_and_keeps_a_shared_functions_other_part(
    repo: Path, registry: Registry
) -> None:
    read = read_all_upstream(CheckoutTree(repo), DAY)
    without = replace(
        registry, workflows=tuple(s for s in registry.workflows if s.file != "ports_zephyr.yml")
    )
    added = sync_workflow(without, read, "ports_zephyr.yml", DAY)
    assert [s.file for s in added.sections()] == [s.file for s in without.sections()] + ["ports_zephyr.yml"]
    assert drift_workflow(added, read, "ports_zephyr.yml") == []
    # One entry for two functions of two workflows: a zephyr sync that closes the zephyr part
    # leaves the unix part as it was.
    shared = Entry(
        "basics/int_big.py", Mechanism.EXCLUDE, functions=("ci_unix_minimal_run_tests", "ci_zephyr_run_tests")
    )
    mixed = replace(registry, entries=(shared, *registry.entries))
    synced = sync_workflow(mixed, read, "ports_zephyr.yml", DAY)
    unix_part = [
        e
        for e in synced.entries
        if e.test == "basics/int_big.py" and "ci_unix_minimal_run_tests" in e.functions
    ]
    assert unix_part == [replace(shared, functions=("ci_unix_minimal_run_tests",))]
