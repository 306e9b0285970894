"""Patches for checkouts that differ from the registry, checked the way upstream's CI would check them.

Each case is a small checkout in upstream's style (the tests/data/upstream fixture, edited in
place by the test) and every patch written here goes through the same gate a maintainer's CI
would apply, plus flake-bot's own round trip:

- `git apply --check`, then applied for real;
- `bash -n` on a patched ci.sh, `ruff format --check` on a patched run-tests.py with the
  checkout's own ruff settings (batched: one ruff process per test);
- `registry sync` on the patched tree: the test is now a known flake in every job asked for,
  with the reason given.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from helpers.checkout import (
    git_apply_check,
    make_checkout,
    pristine_registry,
    ruff_format_check,
    synced_registry,
)

from bot.cli import main
from bot.errors import InputError
from bot.registry import CheckoutTree, MemoryTree, Registry, dump_registry, load_registry
from bot.registry.ci_sh import read_ci_sh
from bot.registry.model import Listing, Mechanism
from bot.registry.patch import (
    RUFF_DEFAULT_LINE_LENGTH,
    PatchRefused,
    PatchResult,
    _DictStyle,
    ruff_line_length,
    suggest_patch,
)

DAY = date(2026, 8, 19)
CI = "tools/ci.sh"
WORKFLOW = ".github/workflows/ports_unix.yml"
RUN_TESTS = "tests/run-tests.py"
BUNDLED = load_registry(None)
PYPROJECT_99 = '[project]\nname = "fixture"\n\n[tool.ruff]\nline-length = 99\ntarget-version = "py38"\n'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_checkout(tmp_path)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """The registry as synced from the unedited fixture: tests then make their checkout differ."""
    return pristine_registry(tmp_path_factory, DAY)


def edit(repo: Path, path: str, old: str, new: str) -> None:
    text = (repo / path).read_text()
    assert old in text, old
    (repo / path).write_text(text.replace(old, new))


class Gate:
    """Applies patches like a maintainer and checks them like upstream's CI and `registry sync`."""

    def __init__(self) -> None:
        self.python: list[Path] = []

    def apply(self, repo: Path, result: PatchResult) -> None:
        assert result.changed and result.diff, result.message
        check = git_apply_check(repo, result.diff)
        assert check.returncode == 0, check.stderr + result.diff
        subprocess.run(["git", "apply", "-"], input=result.diff, text=True, cwd=repo, check=True)
        for path in {line[6:] for line in result.diff.splitlines() if line.startswith("+++ b/")}:
            if path.endswith(".py"):
                self.python.append(repo / path)
            else:
                syntax = subprocess.run(["bash", "-n", str(repo / path)], capture_output=True, text=True)
                assert syntax.returncode == 0, syntax.stderr

    def round_trip(self, repo: Path, result: PatchResult, test: str, jobs: list[str], reason: str) -> None:
        """After the patch, flake-bot's own reading of the tree calls the test flaky there, and why."""
        self.apply(repo, result)
        synced = synced_registry(repo, DAY)
        for job in jobs:
            match = synced.match(job, test, when=DAY)
            assert match.listing is Listing.KNOWN_FLAKE, (job, match.explanation)
            assert any(reason in e.reason for e in match.entries if e.flaky), (reason, match.entries)


_GATE = Gate()


@pytest.fixture(scope="module", autouse=True)
def _one_ruff_run_for_the_module() -> Iterator[None]:
    """Every run-tests.py patched in this module, checked by one `ruff format --check` at the end."""
    yield
    files, _GATE.python[:] = list(_GATE.python), []
    ruff_format_check(files)


@pytest.fixture
def gate() -> Gate:
    return _GATE


# ---- 1. the checkout's own workflow decides the job's ci.sh function --------------------------


def test_a_renamed_function_is_followed_in_the_checkout(repo: Path, registry: Registry, gate: Gate) -> None:
    """A branch renamed the ARM function: the registry's map would refuse, the checkout's is used."""
    for path in (CI, WORKFLOW):
        edit(repo, path, "unix_qemu_arm_run_tests", "unix_qemu_armhf_run_tests")
    result = suggest_patch(
        CheckoutTree(repo), registry, test="micropython/heapalloc.py", jobs=["qemu_arm"], style="exclude"
    )
    assert "ci_unix_qemu_armhf_run_tests" in result.message
    gate.round_trip(repo, result, "micropython/heapalloc.py", ["qemu_arm"], "is flaky")


def test_a_job_only_the_checkout_has(repo: Path, registry: Registry, gate: Gate) -> None:
    """A fork's new job and its new function: unknown to the registry, known to the checkout."""
    edit(
        repo,
        WORKFLOW,
        "  qemu_x64:\n",
        "  qemu_sparc:\n    runs-on: ubuntu-latest\n    steps:\n"
        "    - run: tools/ci.sh unix_qemu_sparc_run_tests\n\n  qemu_x64:\n",
    )
    edit(
        repo,
        CI,
        "function ci_unix_qemu_x64_run_tests {",
        "function ci_unix_qemu_sparc_run_tests {\n    (cd tests && ./run-tests.py)\n}\n\n"
        "function ci_unix_qemu_x64_run_tests {",
    )
    assert "qemu_sparc" not in registry.jobs
    result = suggest_patch(
        CheckoutTree(repo),
        registry,
        test="stress/recursion.py",
        jobs=["qemu_sparc"],
        style="exclude",
        reason="hangs under sparc emulation",
    )
    gate.round_trip(repo, result, "stress/recursion.py", ["qemu_sparc"], "hangs under sparc emulation")


def test_unknown_jobs_are_listed_from_the_checkout(repo: Path, registry: Registry) -> None:
    edit(repo, WORKFLOW, "  qemu_loong64:\n", "  qemu_loongarch:\n")
    with pytest.raises(InputError) as caught:
        suggest_patch(CheckoutTree(repo), registry, test="io/file1.py", jobs=["qemu_loong64"])
    message = str(caught.value)
    assert message.startswith(
        "unknown job 'qemu_loong64' in the checkout; closest: 'qemu_loongarch' (ports_unix.yml)"
    )


def test_runner_os_comes_from_the_checkout(repo: Path, registry: Registry, gate: Gate) -> None:
    """The fork runs its macos job on Linux: ignoring on darwin only would miss its runner."""
    edit(repo, WORKFLOW, "runs-on: macos-26", "runs-on: ubuntu-24.04")
    result = suggest_patch(CheckoutTree(repo), registry, test="io/file1.py", jobs=["macos"])
    assert result.diff and '"io/file1.py": ("intermittent failure in CI", None),' in result.diff
    gate.round_trip(repo, result, "io/file1.py", ["macos"], "intermittent failure in CI")


def test_without_a_workflow_the_registry_maps_the_jobs(registry: Registry) -> None:
    text = 'flaky_tests_to_ignore = {\n    "a/b.py": ("r", None),\n}\n'
    result = suggest_patch(
        MemoryTree({RUN_TESTS: text}, ["a/b.py", "io/x.py"]), registry, test="io/x.py", jobs=["macos"]
    )
    assert result.diff and '("darwin",)' in result.diff
    assert "the jobs are the registry's" in result.message


# ---- 2. upstream's formatter accepts the result -----------------------------------------------


def test_line_length_comes_from_the_checkout(repo: Path) -> None:
    assert ruff_line_length(CheckoutTree(repo)) == RUFF_DEFAULT_LINE_LENGTH
    (repo / "pyproject.toml").write_text(PYPROJECT_99)
    assert ruff_line_length(CheckoutTree(repo)) == 99
    (repo / "ruff.toml").write_text("line-length = 120\n")  # ruff.toml wins over pyproject.toml
    assert ruff_line_length(CheckoutTree(repo)) == 120
    (repo / "ruff.toml").write_text("[format]\nquote-style = 'double'\n")
    assert ruff_line_length(CheckoutTree(repo)) == RUFF_DEFAULT_LINE_LENGTH
    (repo / "ruff.toml").unlink()
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n')  # no [tool.ruff]: not ruff's
    assert ruff_line_length(CheckoutTree(repo)) == RUFF_DEFAULT_LINE_LENGTH


@pytest.mark.parametrize("width", [88, 99])
def test_entries_are_laid_out_as_ruff_lays_them_out(tmp_path: Path, width: int) -> None:
    """Table of entries around the limit, long keys, long reasons, many platforms: ruff agrees."""
    style = _DictStyle('"', "    ", width)
    rows = []
    for size in range(width - 50, width - 20):
        test = f'"extmod/{"x" * size}.py"'
        rows.append(style.entry(test, '"r"', None))
        rows.append(style.entry(test, '"a reason"', ("darwin",)))
    for size in range(width - 60, width - 35):  # a kept trailing comment counts for ruff too
        rows.append(style.entry(f'"extmod/{"c" * size}.py"', '"r"', None, ",  # a kept comment\n"))
    rows.append(style.entry('"t/' + "k" * 120 + '.py"', '"r"', None))
    rows.append(style.entry('"t/a.py"', '"' + "long reason " * 9 + '"', ("darwin", "linux")))
    rows.append(style.entry('"t/b.py"', '"r"', tuple(f"platform{i:02d}" for i in range(12))))
    rows.append(style.entry('"t/c.py"', '"r"', None, split=True))
    source = tmp_path / "entries.py"
    source.write_text("flaky_tests_to_ignore = {\n" + "".join(rows) + "}\n")
    assert any(len(line) > width for line in source.read_text().splitlines())  # the long key stays
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "format",
            "--check",
            "--isolated",
            "--line-length",
            str(width),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + source.read_text()


LONG = "thread/stress_with_a_rather_long_name_to_push_the_line.py"


def test_long_entries_pass_ruff_format_in_the_checkout(repo: Path, registry: Registry, gate: Gate) -> None:
    (repo / "pyproject.toml").write_text(PYPROJECT_99)
    (repo / "tests" / LONG).write_text("print(1)\n")
    reason = "crashes when the GC runs during a thread switch under QEMU"
    added = suggest_patch(CheckoutTree(repo), registry, test=LONG, jobs=["macos"], reason=reason)
    assert (
        added.diff
        and f'+    "{LONG}": (\n+        "{reason}",\n+        ("darwin",),\n+    ),\n' in added.diff
    )
    gate.round_trip(repo, added, LONG, ["macos"], reason)
    # Widening keeps the split entry split (its trailing commas are "magic" to ruff).
    widened = suggest_patch(CheckoutTree(repo), registry, test=LONG, jobs=["qemu_arm"])
    assert "keeps its reason" in widened.message
    gate.round_trip(repo, widened, LONG, ["qemu_arm", "macos"], reason)
    # A one-line entry that a longer reason pushes past 99 columns is split.
    longer = "flaky on every runner since the clock source changed in the CI images"
    changed = suggest_patch(
        CheckoutTree(repo), registry, test="extmod/time_time_ns.py", jobs=["qemu_arm"], reason=longer
    )
    assert changed.diff and f'+    "extmod/time_time_ns.py": (\n+        "{longer}",\n' in changed.diff
    gate.round_trip(repo, changed, "extmod/time_time_ns.py", ["qemu_arm"], longer)
    removed = suggest_patch(
        CheckoutTree(repo), registry, test=LONG, jobs=["qemu_arm", "macos"], remove=True, all_jobs=True
    )
    gate.apply(repo, removed)
    assert LONG not in (repo / RUN_TESTS).read_text()


# ---- 3. --reason is honoured ------------------------------------------------------------------


def test_exclude_adds_a_flaky_bullet_beside_a_slow_one(repo: Path, registry: Registry, gate: Gate) -> None:
    """qemu_mips already says stress_aes "takes around 90 seconds"; the flaky bullet is added too."""
    reason = "times out under emulation"
    result = suggest_patch(
        CheckoutTree(repo),
        registry,
        test="thread/stress_aes.py",
        jobs=["qemu_mips"],
        style="exclude",
        reason=reason,
    )
    assert result.diff and f"+    # - thread/stress_aes.py is flaky: {reason}\n" in result.diff
    original = (repo / CI).read_text()
    gate.round_trip(repo, result, "thread/stress_aes.py", ["qemu_mips"], reason)
    again = suggest_patch(
        CheckoutTree(repo),
        registry,
        test="thread/stress_aes.py",
        jobs=["qemu_mips"],
        style="exclude",
        reason=reason,
    )
    assert again.diff is None  # a second run changes nothing
    # --remove takes out the exclusion and its flaky bullet; the bullet about run time stays.
    removed = suggest_patch(
        CheckoutTree(repo),
        registry,
        test="thread/stress_aes.py",
        jobs=["qemu_mips"],
        style="exclude",
        remove=True,
    )
    gate.apply(repo, removed)
    assert (repo / CI).read_text() == original


def test_already_excluded_for_another_reason(repo: Path, registry: Registry, gate: Gate) -> None:
    """riscv64 excludes stress_aes for its run time: only a given reason records it as flaky."""
    tree = CheckoutTree(repo)
    asked = suggest_patch(tree, registry, test="thread/stress_aes.py", jobs=["qemu_riscv64"], style="exclude")
    assert asked.diff is None and "give --reason" in asked.message
    result = suggest_patch(
        tree, registry, test="thread/stress_aes.py", jobs=["qemu_riscv64"], style="exclude", reason="is flaky"
    )
    assert [line for line in (result.diff or "").splitlines() if line[:1] in "+-" and line[1:2] == " "] == [
        "+    # - thread/stress_aes.py is flaky"
    ]
    gate.round_trip(repo, result, "thread/stress_aes.py", ["qemu_riscv64"], "is flaky")


def test_ignore_reason_replaces_the_old_one(repo: Path, registry: Registry, gate: Gate) -> None:
    tree = CheckoutTree(repo)
    same = suggest_patch(tree, registry, test="thread/thread_gc1.py", jobs=["qemu_ppc"])
    assert same.diff is None
    result = suggest_patch(
        tree,
        registry,
        test="thread/thread_gc1.py",
        jobs=["qemu_ppc"],
        reason="GC race with the ticker thread",
    )
    assert "change its reason from 'GC race condition'" in result.message
    gate.round_trip(repo, result, "thread/thread_gc1.py", ["qemu_ppc"], "GC race with the ticker thread")
    widened = suggest_patch(
        CheckoutTree(repo), registry, test="thread/stress_heap.py", jobs=["qemu_arm"], reason="heap race"
    )
    assert "its reason becomes 'heap race' (was 'flaky on macOS')" in widened.message
    gate.round_trip(repo, widened, "thread/stress_heap.py", ["qemu_arm", "macos"], "heap race")


# ---- 4. no redundant or contradicting edits without a word ------------------------------------


def test_ignore_for_a_test_ci_sh_already_excludes(repo: Path, registry: Registry, gate: Gate) -> None:
    tree = CheckoutTree(repo)
    nothing = suggest_patch(tree, registry, test="thread/stress_recurse.py", jobs=["qemu_arm"])
    assert nothing.diff is None and re.search(
        r"already excluded in tools/ci.sh for qemu_arm.*nothing to do.*--remove", nothing.message
    )
    both = suggest_patch(tree, registry, test="thread/stress_recurse.py", jobs=["qemu_arm", "qemu_mips"])
    assert "It does not run in qemu_arm anyway" in both.message
    gate.round_trip(repo, both, "thread/stress_recurse.py", ["qemu_mips"], "intermittent failure in CI")


def test_exclude_for_a_test_the_dict_already_ignores(repo: Path, registry: Registry, gate: Gate) -> None:
    tree = CheckoutTree(repo)
    nothing = suggest_patch(tree, registry, test="cmdline/repl_lock.py", jobs=["qemu_mips"], style="exclude")
    assert nothing.diff is None and "nothing to do (since 2026-03-11 upstream keeps flaky" in nothing.message
    darwin_only = suggest_patch(
        tree, registry, test="thread/stress_heap.py", jobs=["qemu_mips"], style="exclude"
    )
    assert "flaky_tests_to_ignore also ignores it on darwin" in darwin_only.message
    gate.round_trip(repo, darwin_only, "thread/stress_heap.py", ["qemu_mips"], "is flaky")


@pytest.mark.parametrize(
    "test",
    [
        "multi_net/tcp_data.py",
        "multi_bluetooth/ble_gap.py",
        "perf_bench/bm_chaos.py",
        "feature_check/float.py",
    ],
)
@pytest.mark.parametrize("style", ["ignore", "exclude"])
def test_tests_run_tests_never_runs_are_refused(test: str, style: str) -> None:
    """Refused before any file is read: neither mechanism reaches another runner's tests."""
    with pytest.raises(PatchRefused, match=r"not by run-tests\.py|not a test"):
        suggest_patch(MemoryTree({}, [test]), BUNDLED, test=test, jobs=["qemu_mips"], style=style)


# ---- 5. registry check --as-of ----------------------------------------------------------------


def test_check_as_of_compares_with_the_entries_of_that_day(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old"
    subprocess.run(["cp", "-r", str(repo), str(old)], check=True)
    reg = tmp_path / "reg.yml"
    assert main(["registry", "sync", "--repo-dir", str(repo), "-o", str(reg), "--as-of", "2026-01-01"]) == 0
    edit(repo, CI, "--exclude 'thread/stress_recurse.py|thread/thread_gc1.py'", "")
    assert main(["registry", "sync", "--repo-dir", str(repo), "-o", str(reg), "--as-of", "2026-02-01"]) == 0
    capsys.readouterr()
    assert main(["registry", "check", "--repo-dir", str(old), str(reg), "--as-of", "2026-01-15"]) == 0
    assert "as of 2026-01-15 agrees" in capsys.readouterr().out
    assert main(["registry", "check", "--repo-dir", str(old), str(reg)]) == 1
    assert "no longer upstream" not in capsys.readouterr().out  # the old tree has more, not less
    assert main(["registry", "check", "--repo-dir", str(repo), str(reg), "--as-of", "2026-01-15"]) == 1
    out = capsys.readouterr().out
    assert "registry only: ci_unix_qemu_arm_run_tests excludes 'thread/thread_gc1.py'" in out
    assert "in force on 2026-01-15 by the registry, not in the checkout" in out
    assert main(["registry", "check", "--repo-dir", str(repo), str(reg), "--as-of", "2026-02-01"]) == 0
    assert (
        main(["registry", "check", "--repo-dir", str(old), str(reg), "--as-of", "2026-02-01"]) == 0
    )  # that day


def test_bullets_under_a_header_that_follows_code() -> None:
    script = read_ci_sh(
        "function ci_port_run_tests {\n"
        "    docker exec ci west build -b board\n"
        "    # Issues with port tests:\n"
        "    # - inf_nan_arith fails pow(-1, nan) test\n"
        "    (cd tests && ./run-tests.py -d basics float --exclude inf_nan_arith)\n"
        "    # - not a bullet: no header above this block\n"
        "}\n"
    )
    function = script.functions["ci_port_run_tests"]
    assert function.header_line == 3
    assert [b.text for b in function.bullets] == ["inf_nan_arith fails pow(-1, nan) test"]


def test_old_script_name_is_read() -> None:
    script = read_ci_sh(
        "function ci_unix_macos_run_tests {\n    (cd tests && ./run-tests --exclude 'a|b')\n}\n"
    )
    assert [
        f.pattern for i in script.functions["ci_unix_macos_run_tests"].invocations for f in i.filters
    ] == ["a|b"]


# ---- 6. the bundled history -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job", "test", "day", "excluded_as"),
    [
        ("macos", "extmod/uasyncio_basic.py", date(2021, 6, 1), "uasyncio_(basic|heaplock|lock|wait_task)"),
        ("macos", "extmod/uasyncio_gather.py", date(2021, 6, 1), None),  # gather came on 2022-04-21
        (
            "macos",
            "extmod/uasyncio_gather.py",
            date(2022, 5, 1),
            "uasyncio_(basic|gather|heaplock|lock|wait_task)",
        ),
        ("macos", "extmod/uasyncio_basic.py", date(2022, 5, 23), None),
        ("macos", "extmod/urandom_basic.py", date(2021, 6, 1), "urandom_basic.py"),
        ("macos", "extmod/random_basic.py", date(2021, 6, 1), None),
        ("macos", "extmod/random_basic.py", date(2024, 1, 1), "random_basic.py"),
        ("qemu_mips", "extmod/vfs_posix.py", date(2021, 6, 1), "vfs_posix.py"),
        ("qemu_mips", "extmod/vfs_posix_ilistdir.py", date(2021, 6, 1), None),
        ("qemu_mips", "extmod/vfs_posix_ilistdir.py", date(2023, 1, 1), "vfs_posix.*\\.py"),
        ("qemu_arm", "extmod/vfs_posix_ilistdir.py", date(2022, 9, 12), None),
        ("qemu_arm", "extmod/vfs_posix_ilistdir.py", date(2022, 9, 13), "vfs_posix.*\\.py"),
    ],
)
def test_bundled_history_answers_as_upstream_did(
    job: str, test: str, day: date, excluded_as: str | None
) -> None:
    match = BUNDLED.match(job, test, when=day, ignored=False)
    spec = BUNDLED.job(job)
    entries = [e.test for e in match.entries if e.mechanism is Mechanism.EXCLUDE and e.covers(spec)]
    assert entries == ([excluded_as] if excluded_as else []), match.explanation
    assert BUNDLED.runs_test(job, test, day) is (excluded_as is None)


def test_bundled_registry_round_trips_through_yaml() -> None:
    assert load_registry_text(dump_registry(BUNDLED)) == BUNDLED


def load_registry_text(text: str) -> Registry:
    from bot.registry import parse_registry

    return parse_registry(text, "bundled")


def test_an_escaped_exclusion_round_trips(repo: Path, registry: Registry, gate: Gate) -> None:
    """`extmod/re1.py` unescaped would also match extmod/re1_py.py: the escaped pattern is still
    matched to its bullet by `registry sync`."""
    result = suggest_patch(
        CheckoutTree(repo),
        registry,
        test="extmod/re1.py",
        jobs=["qemu_loong64"],
        style="exclude",
        reason="flaky",
    )
    assert result.diff and r"--exclude 'extmod/re1\.py'" in result.diff
    gate.round_trip(repo, result, "extmod/re1.py", ["qemu_loong64"], "flaky")


def test_an_exclude_where_the_job_never_runs_the_directory(repo: Path, registry: Registry) -> None:
    """The minimal job runs `-d basics` only: an --exclude of a thread test there would be dead."""
    [command] = read_ci_sh((repo / CI).read_text()).functions["ci_unix_minimal_run_tests"].invocations
    assert command.dirs == ("basics",)
    assert command.runs_dir_of("basics/int1.py") and not command.runs_dir_of("thread/stress_heap.py")
    with pytest.raises(
        PatchRefused, match=r"runs run-tests.py only on basics \(tools/ci.sh:\d+\), so it never"
    ):
        suggest_patch(
            CheckoutTree(repo), registry, test="thread/stress_heap.py", jobs=["minimal"], style="exclude"
        )
