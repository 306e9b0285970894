"""The platform logic of `flaky_tests_to_ignore` patches, word for word, on a tree in memory.

An ignore entry names the `sys.platform`s it applies to (None: every platform), and a patch
adds, widens, narrows or removes one for the runners of the jobs asked about. Each case states
the entry it writes and the message a maintainer reads, whole: the message says how far a
None reaches, which is the difference between ignoring a test in one job and in every job.
"""

from __future__ import annotations

import pytest

from bot.errors import InputError
from bot.registry import MemoryTree, Registry
from bot.registry.model import JobSpec
from bot.registry.patch import PatchRefused, suggest_patch

LONG_JOB = "a_job_whose_name_goes_on_and_on_past_the_sixty_characters_a_message_shows"
LONG_REASON = "flaky " + "very " * 30 + "often"
REGISTRY = Registry(
    jobs={
        "macos": JobSpec("macos", "darwin"),
        "qemu_arm": JobSpec("qemu_arm", "linux"),
        "windows": JobSpec("windows", "win32"),
        "mystery": JobSpec("mystery", "unknown"),
        LONG_JOB: JobSpec(LONG_JOB, "unknown"),
    }
)
DICT = f"""\
import sys

flaky_tests_to_ignore = {{
    "a/mac.py": ("flaky on macOS", ("darwin",)),
    "a/all.py": ("GC race", None),
    "a/two.py": ("r", None), "a/three.py": ("r", None),
    "a/mac_win.py": ("r", ("darwin", "win32")),
    "a/mac_linux.py": ("r", ("darwin", "linux")),
    "a/three_os.py": ("r", ("darwin", "linux", "win32")),
    "a/long.py": ("{LONG_REASON}", ("darwin",)),
}}
"""
TESTS = ["a/mac.py", "a/all.py", "a/two.py", "a/three.py", "a/mac_win.py", "a/mac_linux.py",
         "a/three_os.py", "a/long.py", "a/new.py"]  # fmt: skip
D = "flaky_tests_to_ignore"


def patch(test: str, *jobs: str, **kw: object):
    return suggest_patch(
        MemoryTree({"tests/run-tests.py": DICT}, TESTS), REGISTRY, test=test, jobs=jobs, **kw
    )  # type: ignore[arg-type]


def changed(diff: str | None) -> list[str]:
    return [
        line for line in (diff or "").splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


NOTE = " (Note: the checkout has no readable tools/ci.sh, so the jobs are the registry's.)"


@pytest.mark.parametrize(
    ("jobs", "entry", "where"),
    [
        (("windows",), '("win32",)', "on win32"),
        (("macos", "windows"), '("darwin", "win32")', "on darwin, win32"),
        (("macos", "qemu_arm"), "None", "on every platform (every job of every workflow)"),
    ],
)
def test_add_names_the_runners_of_the_jobs(jobs: tuple[str, ...], entry: str, where: str) -> None:
    """Any Linux job means None (the dict cannot tell one Linux job from another)."""
    result = patch("a/new.py", *jobs)
    assert changed(result.diff) == [f'+    "a/new.py": ("intermittent failure in CI", {entry}),']
    assert result.message == (
        f"Add a/new.py to {D} (intermittent failure in CI) for {', '.join(jobs)}: ignored {where}.{NOTE}"
    )


@pytest.mark.parametrize(
    ("job", "shown"),
    [("mystery", "mystery"), (LONG_JOB, LONG_JOB[:57] + "...")],
)
def test_a_runner_of_unknown_os_must_be_named(job: str, shown: str) -> None:
    with pytest.raises(InputError) as raised:
        patch("a/new.py", job)
    assert str(raised.value) == f"the runner OS of job {shown!r} is unknown; name it with --platform"


@pytest.mark.parametrize(
    ("platforms", "message"),
    [
        (["Linux"], "'Linux' is not a sys.platform name (lower-case letters and digits, e.g. linux)"),
        (
            ["x" * 40],
            f"'{'x' * 27}...' is not a sys.platform name (lower-case letters and digits, e.g. linux)",
        ),
        ([], "name at least one platform"),
    ],
)
def test_platforms_named_must_be_sys_platform_names(platforms: list[str], message: str) -> None:
    with pytest.raises(InputError) as raised:
        patch("a/new.py", "qemu_arm", platforms=platforms)
    assert str(raised.value) == message


def test_platforms_named_are_sorted_and_deduplicated() -> None:
    result = patch("a/new.py", "qemu_arm", platforms=["win32", "linux", "win32"])
    assert changed(result.diff) == ['+    "a/new.py": ("intermittent failure in CI", ("linux", "win32")),']


def test_an_entry_that_covers_the_jobs_needs_no_patch_unless_its_reason_changes() -> None:
    same = patch("a/mac.py", "macos", reason="flaky on macOS")
    assert same.diff is None
    assert (
        same.message == f"a/mac.py is already in {D} for macos (tests/run-tests.py:4); no patch needed.{NOTE}"
    )
    new = patch("a/mac.py", "macos", reason="new reason")
    assert changed(new.diff) == [
        '-    "a/mac.py": ("flaky on macOS", ("darwin",)),',
        '+    "a/mac.py": ("new reason", ("darwin",)),',
    ]
    assert new.message == (
        f"a/mac.py is already in {D} for macos (tests/run-tests.py:4); change its reason from "
        f"'flaky on macOS' to 'new reason'.{NOTE}"
    )
    long = patch("a/long.py", "macos", reason="short")
    assert f"change its reason from '{LONG_REASON[:97]}...' to 'short'." in long.message


@pytest.mark.parametrize(
    ("test", "jobs", "kw", "entry", "where", "said"),
    [
        ("a/mac.py", ("qemu_arm",), {}, "None", "on every platform (every job of every workflow)",
         "it keeps its reason 'flaky on macOS' (give --reason to change it)"),
        ("a/mac.py", ("windows",), {"reason": "both"}, '("darwin", "win32")', "on darwin, win32",
         "its reason becomes 'both' (was 'flaky on macOS')"),
        ("a/mac_linux.py", ("windows",), {}, "None", "on every platform (every job of every workflow)",
         "it keeps its reason 'r' (give --reason to change it)"),
        ("a/mac_linux.py", ("windows",), {"platforms": ["win32"]}, '("darwin", "linux", "win32")',
         "on darwin, linux, win32", "it keeps its reason 'r' (give --reason to change it)"),
        ("a/long.py", ("windows",), {}, '("darwin", "win32")', "on darwin, win32",
         f"it keeps its reason '{LONG_REASON[:97]}...' (give --reason to change it)"),
        ("a/long.py", ("windows",), {"reason": "x"}, '("darwin", "win32")', "on darwin, win32",
         f"its reason becomes 'x' (was '{LONG_REASON[:97]}...')"),
    ],
)  # fmt: skip
def test_widening(test: str, jobs: tuple[str, ...], kw: dict[str, object], entry: str, where: str,
                  said: str) -> None:  # fmt: skip
    """Widening to every runner the workflow has becomes None; platforms named stay named."""
    result = patch(test, *jobs, **kw)
    added = "\n".join(line for line in changed(result.diff) if line.startswith("+"))
    assert f", {entry})," in added or f"        {entry},\n" in added + "\n"
    assert result.message == f"Widen {test} in {D} for {', '.join(jobs)}: ignored {where}; {said}.{NOTE}"


@pytest.mark.parametrize(
    ("test", "jobs", "kept", "gone"),
    [
        ("a/all.py", ("windows",), '("darwin", "linux")', "any other platform"),
        ("a/mac_win.py", ("windows",), '("darwin",)', "win32"),
        ("a/three_os.py", ("macos", "windows"), '("linux",)', "darwin, win32"),
    ],
)
def test_narrowing(test: str, jobs: tuple[str, ...], kept: str, gone: str) -> None:
    """Narrowing None stops ignoring the test everywhere but the runners kept, not only in the jobs."""
    result = patch(test, *jobs, remove=True)
    assert changed(result.diff)[-1].endswith(f", {kept}),")
    names = kept.strip("()").replace('"', "").rstrip(",")
    assert result.message == (
        f"Narrow {test} in {D} to {names}: no longer ignored on {gone}, in every job there, "
        f"not only {', '.join(jobs)}.{NOTE}"
    )


def test_removing() -> None:
    gone = patch("a/mac.py", "macos", remove=True)
    assert changed(gone.diff) == ['-    "a/mac.py": ("flaky on macOS", ("darwin",)),']
    assert gone.message == f"Remove a/mac.py from {D}.{NOTE}"
    elsewhere = patch("a/mac.py", "windows", remove=True)
    assert elsewhere.diff is None
    assert (
        elsewhere.message
        == f"a/mac.py is not ignored on the platforms of windows (tests/run-tests.py:4).{NOTE}"
    )
    assert (
        patch("a/new.py", "windows", remove=True).message
        == f"a/new.py is not in {D}; nothing to remove.{NOTE}"
    )
    with pytest.raises(PatchRefused) as raised:
        patch("a/two.py", "macos", "qemu_arm", "windows", remove=True)
    assert str(raised.value) == (
        "tests/run-tests.py:6: the entry for a/two.py does not have a line of its own; edit it by hand"
    )


# ---- the self-check every ignore patch passes before it is shown ---------------------------------

CHECK_FAILED = "internal check failed: the edited tests/run-tests.py does not do what the patch says"


def check(after: str, test: str, *, reason: str | None = None, remove: bool = False) -> None:
    """Run the patch writer's own check of an edited run-tests.py against a request for windows."""
    from bot.registry.patch import _check_ignore, _Checkout, _Request
    from bot.registry.run_tests_py import read_ignore_dict

    before = read_ignore_dict(DICT)
    assert before is not None
    request = _Request(test, ("windows",), _Checkout(REGISTRY.jobs, "the registry"), reason, remove, None)
    _check_ignore(after, before, len(DICT.splitlines(keepends=True)), request, {"win32"})


ADDED = DICT.replace('    "a/long.py"', '    "a/new.py": ("R", ("win32",)),\n    "a/long.py"')


@pytest.mark.parametrize(
    ("after", "test", "kw"),
    [
        (ADDED, "a/new.py", {"reason": "R"}),
        (ADDED, "a/new.py", {}),
        (
            DICT.replace('    "a/mac_win.py": ("r", ("darwin", "win32")),\n', ""),
            "a/mac_win.py",
            {"remove": True},
        ),
        (DICT.replace('("darwin", "win32")', '("darwin",)'), "a/mac_win.py", {"remove": True}),
    ],
)
def test_an_edit_that_does_what_it_says_passes_the_check(
    after: str, test: str, kw: dict[str, object]
) -> None:
    check(after, test, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("after", "test", "kw"),
    [
        (DICT, "a/new.py", {}),  # nothing added
        (ADDED, "a/new.py", {"reason": "other"}),  # added with the wrong reason
        (ADDED.replace('("win32",)', '("darwin",)'), "a/new.py", {}),  # not on the runner asked for
        (DICT, "a/mac_win.py", {"remove": True}),  # still ignored on win32
        (DICT.replace("}\n", ""), "a/mac_win.py", {"remove": True}),  # no longer a dict that parses
        (DICT.replace("}\n", ""), "a/new.py", {}),
    ],
)
def test_an_edit_that_does_not_do_what_it_says_is_refused(
    after: str, test: str, kw: dict[str, object]
) -> None:
    with pytest.raises(PatchRefused) as raised:
        check(after, test, **kw)  # type: ignore[arg-type]
    assert str(raised.value) == CHECK_FAILED
