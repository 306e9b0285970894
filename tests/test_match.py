"""Matching failures against the registry: conservative verdicts, dates, runners, symptoms."""

from __future__ import annotations

import json
from datetime import date

import pytest

from bot.cli import main
from bot.errors import InputError
from bot.records import Runner
from bot.registry import Listing, MemoryTree, Registry, load_registry, parse_registry, suggest_patch

BUNDLED = load_registry()
QEMU = ("qemu_mips", "qemu_arm", "qemu_riscv64")


def test_bundled_jobs_mirror_the_workflow() -> None:
    assert len(BUNDLED.jobs) == 24
    assert {name for name, job in BUNDLED.jobs.items() if job.os != "linux"} == {"macos"}
    assert BUNDLED.jobs["macos"].runs_on == "macos-26"
    assert BUNDLED.jobs["qemu_x64"].runs_on == "ubuntu-24.04-arm"
    assert "ci_unix_run_tests_full_helper" in BUNDLED.jobs["standard"].functions
    assert "ci_unix_run_tests_full_no_native_helper" in BUNDLED.jobs["nanbox"].functions
    assert "ci_unix_standard_run_native_mpy_tests" in BUNDLED.jobs["float_clang"].functions
    assert BUNDLED.jobs["reproducible"].functions == ("ci_unix_minimal_build",)


@pytest.mark.parametrize(
    ("job", "test", "when", "runs"),
    [
        ("qemu_arm", "thread/thread_gc1.py", date(2025, 12, 1), False),  # ci.sh --exclude of that time
        ("qemu_arm", "thread/thread_gc1.py", date(2025, 8, 27), True),  # before it was excluded
        ("qemu_arm", "thread/thread_gc1.py", date(2026, 3, 11), True),  # now ignored, so it runs
        ("macos", "thread/thread_gc1.py", date(2025, 12, 1), False),
        ("standard", "thread/thread_gc1.py", date(2025, 12, 1), True),
        ("macos", "thread/stress_heap.py", date(2025, 7, 23), False),
        ("qemu_riscv64", "thread/stress_recurse.py", date(2026, 3, 10), False),
        ("qemu_riscv64", "misc/sys_settrace_features.py", date(2026, 1, 3), False),
        ("qemu_riscv64", "misc/sys_settrace_features.py", date(2026, 1, 7), True),
        ("standard", "thread/stress_schedule.py", date(2025, 12, 1), False),  # GITHUB_ACTIONS skip
        ("standard", "thread/stress_schedule.py", date(2026, 1, 26), True),
        ("qemu_riscv64", "thread/stress_aes.py", None, False),
        ("qemu_riscv64", "thread/stress_aes.py", date(2026, 3, 1), True),
        ("qemu_x64", "ports/unix/ffi_callback.py", None, False),
        ("macos", "float/float_parse.py", None, False),
        ("macos", "float/float_parse_doubleprec.py", None, False),
        ("macos", "ports/unix/ffi_callback.py", None, False),  # unescaped upstream regex: any dir
        ("standard", "float/float_parse.py", None, True),
        ("qemu_arm", "extmod/vfs_posix.py", date(2026, 1, 1), False),
        ("qemu_arm", "extmod/vfs_posix.py", date(2026, 2, 1), True),
        ("unknown_job", "thread/thread_gc1.py", date(2025, 12, 1), True),
        # older exclusions that were not about flakiness, each on its last and first day
        ("minimal", "basics/exception_chain.py", date(2025, 9, 30), False),
        ("minimal", "basics/exception_chain.py", date(2025, 10, 1), True),  # 14:37 UTC, 10-02 in +10
        ("qemu_arm", "extmod/vfs_posix.py", date(2026, 1, 5), False),
        ("qemu_arm", "extmod/vfs_posix.py", date(2026, 1, 6), True),
        ("qemu_mips", "extmod/vfs_posix_ilistdir_del.py", date(2024, 12, 15), False),
        ("qemu_mips", "extmod/vfs_posix_ilistdir_del.py", date(2024, 12, 16), True),
        ("qemu_mips", "ports/unix/ffi_float2.py", date(2024, 9, 18), False),
        ("qemu_mips", "ports/unix/ffi_float2.py", date(2024, 9, 19), True),
        ("macos", "import/import_pkg7.py", date(2024, 7, 14), False),
        ("macos", "import/import_pkg7.py", date(2024, 7, 15), True),
        ("macos", "float/float_parse.py", date(2024, 7, 14), True),
        ("macos", "float/float_parse.py", date(2024, 7, 15), False),
        ("qemu_arm", "extmod/vfs_posix.py", date(2022, 1, 1), False),
    ],
)
def test_runs_test_follows_the_dates(job: str, test: str, when: date | None, runs: bool) -> None:
    assert BUNDLED.runs_test(job, test, when) is runs


def test_known_flake_before_and_after_the_move_to_run_tests() -> None:
    old = BUNDLED.match("qemu_arm", "thread/thread_gc1.py", when=date(2025, 12, 1))
    assert old.listing is Listing.KNOWN_FLAKE and old.should_not_have_failed
    assert "should not have run" in old.explanation and "ci_unix_qemu_arm_run_tests" in old.explanation
    assert "ci_unix_macos_run_tests" not in old.explanation
    new = BUNDLED.match("qemu_arm", "thread/thread_gc1.py", when=date(2026, 4, 1), ignored=True)
    assert (new.listing, new.should_not_have_failed, new.symptom_mismatch) == (
        Listing.KNOWN_FLAKE,
        False,
        False,
    )
    assert [e.source for e in new.entries] == ["tests/run-tests.py:225"]
    not_ignored = BUNDLED.match("standard", "thread/thread_gc1.py", when=date(2026, 4, 1), ignored=False)
    assert not_ignored.listing is Listing.KNOWN_FLAKE and not_ignored.should_not_have_failed
    assert "counted the failure instead of ignoring it, so it failed the job" in not_ignored.explanation


def test_an_unknown_summary_never_claims_the_failure_failed_the_job() -> None:
    """A `FAIL` line is printed for ignored tests too, so asking about one says nothing either way."""
    asked = BUNDLED.match("qemu_arm", "thread/thread_gc1.py", when=date(2026, 4, 1))
    assert (asked.listing, asked.should_not_have_failed) == (Listing.KNOWN_FLAKE, False)
    assert "failed the job" not in asked.explanation
    assert "reports its failures there as ignored" in asked.explanation
    stranger = BUNDLED.match("nosuch", "thread/thread_gc1.py", when=date(2026, 4, 1))
    assert "(job 'nosuch' is not in the registry)" in stranger.explanation


def test_flaky_elsewhere_is_not_a_known_flake() -> None:
    heap = BUNDLED.match("qemu_arm", "thread/stress_heap.py", when=date(2026, 5, 1))
    assert heap.listing is Listing.FLAKY_ELSEWHERE and "darwin" in heap.explanation
    assert BUNDLED.match("macos", "thread/stress_heap.py", when=date(2026, 5, 1), ignored=True).listing is (
        Listing.KNOWN_FLAKE
    )
    gc1 = BUNDLED.match("standard", "thread/thread_gc1.py", when=date(2025, 12, 1))
    assert gc1.listing is Listing.FLAKY_ELSEWHERE
    assert BUNDLED.match("macos", "thread/thread_gc1.py", when=date(2025, 8, 1)).listing is Listing.NEW
    repl = BUNDLED.match("qemu_arm", "cmdline/repl_cont.py", when=date(2026, 5, 1))
    assert repl.listing is Listing.FLAKY_ELSEWHERE


@pytest.mark.parametrize("runner", [Runner.NATMODTESTS, Runner.MULTITESTS, Runner.PERFBENCH])
def test_ignore_list_covers_run_tests_only(runner: Runner) -> None:
    answer = BUNDLED.match("coverage", "extmod/time_time_ns.py", when=date(2026, 5, 1), runner=runner)
    assert answer.listing is Listing.FLAKY_ELSEWHERE
    assert not answer.should_not_have_failed
    assert runner.value in answer.explanation
    assert BUNDLED.match("coverage", "extmod/re1.py", runner=runner).listing is Listing.NEW


def test_non_flaky_exclusion_is_never_called_flaky() -> None:
    answer = BUNDLED.match("macos", "float/float_parse.py", when=date(2026, 5, 1))
    assert (answer.listing, answer.should_not_have_failed) == (Listing.NEW, True)
    assert "not flakiness" in answer.explanation
    aes = BUNDLED.match("qemu_x64", "thread/stress_aes.py")
    assert aes.listing is Listing.NEW and aes.should_not_have_failed


def test_ignored_by_run_tests_but_unknown_to_the_registry() -> None:
    answer = BUNDLED.match("standard", "basics/int1.py", ignored=True)
    assert answer.listing is Listing.NEW and "out of date" in answer.explanation


SYMPTOMS = parse_registry("""\
version: 1
jobs:
  qemu_arm: {os: linux, functions: [ci_unix_qemu_arm_run_tests]}
entries:
  - test: thread/stress_recurse.py
    mechanism: ignore
    reason: stack overflow under emulation
    flaky: true
    symptoms: ['^crash\\b', 'timeout']
  - test: thread/thread_gc1.py
    mechanism: ignore
    flaky: true
""")


@pytest.mark.parametrize(
    ("test", "symptom", "mismatch"),
    [
        ("thread/stress_recurse.py", "crash (signal 11)", False),
        ("thread/stress_recurse.py", "timeout after 30 s", False),
        ("thread/stress_recurse.py", "assertion: expected 4 got 5", True),
        ("thread/stress_recurse.py", None, False),
        ("thread/thread_gc1.py", "anything at all", False),  # no known symptoms: nothing to compare
    ],
)
def test_symptom_mismatch_is_flagged(test: str, symptom: str | None, mismatch: bool) -> None:
    answer = SYMPTOMS.match("qemu_arm", test, symptom=symptom, ignored=True)
    assert answer.listing is Listing.KNOWN_FLAKE
    assert answer.symptom_mismatch is mismatch
    assert ("real regression" in answer.explanation) is mismatch


def ignore_platforms(jobs: list[str]) -> str:
    """The platforms a new ignore entry gets for these jobs of the bundled registry's workflows:
    the patch writer's one platform model (bot/registry/platforms.py), over every covered workflow."""
    tree = MemoryTree({"tests/run-tests.py": "flaky_tests_to_ignore = {\n}\n"}, ["a/b.py"])
    diff = suggest_patch(tree, BUNDLED, test="a/b.py", jobs=jobs).diff or ""
    [added] = [line for line in diff.splitlines() if line.startswith("+    ")]
    return added.split('"intermittent failure in CI", ', 1)[1].removesuffix("),")


def test_platforms_for_jobs() -> None:
    assert ignore_platforms(["macos"]) == '("darwin",)'
    assert ignore_platforms(["macos", "qemu_arm"]) == '("darwin", "linux")'  # Windows not asked for
    assert ignore_platforms(["standard"]) == '("linux",)'  # not None: that would reach macOS and Windows
    assert ignore_platforms(["standard", "macos", "build-mingw (dev, mingw32, i686)"]) == "None"
    with pytest.raises(InputError, match="unknown job 'nope'"):
        ignore_platforms(["nope"])
    assert Registry().runs_test("any", "a/b.py") is True


def test_match_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "match",
                "--job",
                "qemu_arm",
                "--test",
                "thread/thread_gc1.py",
                "--date",
                "2026-04-01",
                "--ignored",
                "--json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "known-flake" and data["entries"][0]["mechanism"] == "ignore"
    assert data["entries"][0]["since"] == "2026-03-11"
    assert main(["match", "--job", "standard", "--test", "basics/int1.py"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("new: basics/int1.py is not registered as flaky for standard.")
    gc1 = ["match", "--job", "qemu_arm", "--test", "thread/thread_gc1.py", "--date", "2026-04-01", "--json"]
    answers = []
    for extra in ([], ["--ignored"], ["--not-ignored"]):
        assert main([*gc1, *extra]) == 0
        answers.append(json.loads(capsys.readouterr().out)["should_not_have_failed"])
    assert answers == [False, False, True]
    with pytest.raises(SystemExit) as both:
        main([*gc1, "--ignored", "--not-ignored"])
    assert both.value.code == 2
    capsys.readouterr()
    with pytest.raises(SystemExit) as caught:
        main(["match", "--job", "standard", "--test", "basics/int1.py", "--date", "yesterday"])
    assert caught.value.code == 2


def test_hostile_names_stay_one_bounded_line_in_explanations() -> None:
    test = "thread/x.py\n##[error]fake\u202e" + "y" * 500
    answer = BUNDLED.match("standard\r\nqemu", test)
    assert answer.test == test and answer.listing is Listing.NEW
    assert not {"\n", "\r", "\u202e"} & set(answer.explanation)
    assert len(answer.explanation) < 400


def test_bundled_symptoms_flag_a_new_way_of_failing() -> None:
    usual = BUNDLED.match(
        "standard", "thread/stress_recurse.py", symptom="CRASH with no output", ignored=True
    )
    assert usual.listing is Listing.KNOWN_FLAKE and not usual.symptom_mismatch
    odd = BUNDLED.match("standard", "thread/stress_recurse.py", symptom='expected "1" got "2"', ignored=True)
    assert odd.listing is Listing.KNOWN_FLAKE and odd.symptom_mismatch
