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

LONG_JOB = "a_job_whose_name_goes_on" + "_and_on" * 20 + "_past_what_a_message_shows"  # 120 at most
LONG_REASON = "flaky " + "very " * 30 + "often"


def job(name: str, os: str) -> JobSpec:
    """A job that runs run-tests.py (a build-only job has no ignore entry to change)."""
    return JobSpec(name, os, targets=(f"make -C ports/{name} test",))


# One workflow whose jobs run on three platforms: the universe a None entry stands for.
# Two jobs run on linux, so an entry cannot change one of them without the other.
REGISTRY = Registry(
    workflow_file="ports_x.yml",
    jobs={
        "macos": job("macos", "darwin"),
        "qemu_arm": job("qemu_arm", "linux"),
        "unix": job("unix", "linux"),
        "windows": job("windows", "win32"),
        "mystery": job("mystery", "unknown"),
        LONG_JOB: job(LONG_JOB, "unknown"),
    },
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
EVERY = "on every platform (every job of every workflow)"


def also(verb: str, jobs: str, oses: str) -> str:
    return (
        f"; that also {verb} it in {jobs} (every job on {oses}: {D} cannot tell jobs on one platform apart)"
    )


@pytest.mark.parametrize(
    ("jobs", "entry", "where"),
    [
        (("windows",), '("win32",)', "on win32"),
        (("macos", "windows"), '("darwin", "win32")', "on darwin, win32"),
        # One linux job is every linux job, and the message names the one not asked about...
        (
            ("macos", "qemu_arm"),
            '("darwin", "linux")',
            "on darwin, linux" + also("ignores", "1 x job", "linux"),
        ),
        # ... and None only when the jobs cover the whole universe (darwin, linux, win32), which
        # reaches the runners of unknown OS too.
        (("macos", "qemu_arm", "windows"), "None", EVERY + also("ignores", "3 x jobs", "linux, unknown")),
    ],
)
def test_add_names_the_runners_of_the_jobs(jobs: tuple[str, ...], entry: str, where: str) -> None:
    result = patch("a/new.py", *jobs)
    assert changed(result.diff) == [f'+    "a/new.py": ("intermittent failure in CI", {entry}),']
    assert result.message == (
        f"Add a/new.py to {D} (intermittent failure in CI) for {', '.join(jobs)}: ignored {where}.{NOTE}"
    )


@pytest.mark.parametrize(
    ("job", "shown"),
    [("mystery", "mystery"), (LONG_JOB, LONG_JOB[:117] + "...")],
)
def test_a_runner_of_unknown_os_must_be_named(job: str, shown: str) -> None:
    with pytest.raises(InputError) as raised:
        patch("a/new.py", job)
    assert str(raised.value) == f"the runner OS of job {shown!r} is unknown; name it with --platform"


def test_a_runner_of_unknown_os_named_with_platform_is_patched() -> None:
    """The platform named is the unknown runner's own: it cannot be said not to include it."""
    result = patch("a/new.py", "mystery", platforms=["linux"])
    assert changed(result.diff) == ['+    "a/new.py": ("intermittent failure in CI", ("linux",)),']
    assert result.message == (
        f"Add a/new.py to {D} (intermittent failure in CI) for mystery: ignored on linux"
        f"{also('ignores', '2 x jobs', 'linux')}.{NOTE}"
    )
    with pytest.raises(InputError) as raised:  # a runner that is known still has to be included
        patch("a/new.py", "mystery", "windows", platforms=["linux"])
    assert str(raised.value) == "platform(s) linux do not include the runner of windows"


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
    assert same.message == (
        f"a/mac.py is already in {D} for macos (tests/run-tests.py:4, ignored on darwin); "
        f"nothing to do.{NOTE}"
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
        ("a/mac.py", ("qemu_arm",), {}, '("darwin", "linux")',
         "on darwin, linux, was on darwin" + also("ignores", "1 x job", "linux"),
         "it keeps its reason 'flaky on macOS' (give --reason to change it)"),
        ("a/mac.py", ("windows",), {"reason": "both"}, '("darwin", "win32")',
         "on darwin, win32, was on darwin",
         "its reason becomes 'both' (was 'flaky on macOS')"),
        ("a/mac_linux.py", ("windows",), {}, "None",
         f"{EVERY}, was on darwin, linux" + also("ignores", "2 x jobs", "unknown"),
         "it keeps its reason 'r' (give --reason to change it)"),
        ("a/mac_linux.py", ("windows",), {"platforms": ["win32"]}, '("darwin", "linux", "win32")',
         "on darwin, linux, win32, was on darwin, linux",
         "it keeps its reason 'r' (give --reason to change it)"),
        ("a/long.py", ("windows",), {}, '("darwin", "win32")', "on darwin, win32, was on darwin",
         f"it keeps its reason '{LONG_REASON[:97]}...' (give --reason to change it)"),
        ("a/long.py", ("windows",), {"reason": "x"}, '("darwin", "win32")', "on darwin, win32, was on darwin",
         f"its reason becomes 'x' (was '{LONG_REASON[:97]}...')"),
    ],
)  # fmt: skip
def test_widening(test: str, jobs: tuple[str, ...], kw: dict[str, object], entry: str, where: str,
                  said: str) -> None:  # fmt: skip
    """Widening to the whole universe becomes None; platforms named stay named."""
    result = patch(test, *jobs, **kw)
    added = "\n".join(line for line in changed(result.diff) if line.startswith("+"))
    assert f", {entry})," in added or f"        {entry},\n" in added + "\n"
    assert result.message == f"Widen {test} in {D} for {', '.join(jobs)}: ignored {where}; {said}.{NOTE}"


@pytest.mark.parametrize(
    ("test", "jobs", "kw", "kept", "was", "reach"),
    [
        ("a/mac_win.py", ("windows",), {}, '("darwin",)', "darwin, win32", ""),
        ("a/three_os.py", ("macos", "windows"), {}, '("linux",)', "darwin, linux, win32", ""),
        ("a/three_os.py", ("qemu_arm", "unix"), {}, '("darwin", "win32")', "darwin, linux, win32", ""),
        ("a/three_os.py", ("qemu_arm",), {"all_jobs": True}, '("darwin", "win32")', "darwin, linux, win32",
         also("stops ignoring", "1 x job", "linux")),
        ("a/all.py", ("windows",), {"all_jobs": True}, '("darwin", "linux")', "every platform (every job of "
         "every workflow)", also("stops ignoring", "2 x jobs", "unknown")),
    ],
)  # fmt: skip
def test_narrowing(test: str, jobs: tuple[str, ...], kw: dict[str, object], kept: str, was: str,
                   reach: str) -> None:  # fmt: skip
    """Narrowing keeps the entry for the platforms left; the message names every job it reaches."""
    result = patch(test, *jobs, remove=True, **kw)
    assert changed(result.diff)[-1].endswith(f", {kept}),")
    names = kept.strip("()").replace('"', "").rstrip(",")
    assert result.message == (
        f"Narrow {test} in {D} to {names} (was on {was}): no longer ignored in "
        f"{', '.join(jobs)}{reach}.{NOTE}"
    )


@pytest.mark.parametrize(
    ("test", "jobs", "at", "was", "count", "listed"),
    [
        ("a/three_os.py", ("qemu_arm",), 9, "on darwin, linux, win32", "1 x job", "'unix' (ports_x.yml)"),
        # None reaches the runners of unknown OS too: narrowing it stops ignoring the test there
        ("a/all.py", ("windows",), 5, EVERY, "2 x jobs",
         f"'{LONG_JOB[:117]}...' (ports_x.yml), 'mystery' (ports_x.yml)"),
    ],
)  # fmt: skip
def test_a_removal_that_reaches_jobs_not_named_is_refused(
    test: str, jobs: tuple[str, ...], at: int, was: str, count: str, listed: str
) -> None:
    with pytest.raises(PatchRefused) as raised:
        patch(test, *jobs, remove=True)
    assert str(raised.value) == (
        f"removing {test} from {D} (tests/run-tests.py:{at}, ignored {was}) would also stop ignoring it in "
        f"{count} beyond the jobs asked for, because the dict applies per platform, not per job; name those "
        f"jobs with --job too, or give --all-jobs. Asked for: {', '.join(jobs)}. Also reached: {listed}"
    )


def test_removing() -> None:
    gone = patch("a/mac.py", "macos", remove=True)
    assert changed(gone.diff) == ['-    "a/mac.py": ("flaky on macOS", ("darwin",)),']
    assert gone.message == f"Remove a/mac.py from {D}: no longer ignored in macos.{NOTE}"
    elsewhere = patch("a/mac.py", "windows", remove=True)
    assert elsewhere.diff is None
    assert elsewhere.message == (
        f"a/mac.py is not ignored in windows (tests/run-tests.py:4, ignored on darwin); "
        f"nothing to remove.{NOTE}"
    )
    assert (
        patch("a/new.py", "windows", remove=True).message
        == f"a/new.py is not in {D}; nothing to remove.{NOTE}"
    )
    with pytest.raises(PatchRefused) as raised:
        patch("a/two.py", "macos", "qemu_arm", "unix", "windows", remove=True, all_jobs=True)
    assert str(raised.value) == (
        "tests/run-tests.py:6: the entry for a/two.py does not have a line of its own; edit it by hand"
    )


# ---- the self-check every ignore patch passes before it is shown ---------------------------------

CHECK_FAILED = "internal check failed: the edited tests/run-tests.py does not do what the patch says"


def check(after: str, test: str, *, reason: str | None = None, remove: bool = False,
          wanted: tuple[str, ...] = ("win32",)) -> None:  # fmt: skip
    """Run the patch writer's own check of an edited run-tests.py: does `test` now read `wanted`
    (() for no entry), with the reason asked for?"""
    from bot.registry.patch import _check_ignore, _Checkout, _Request
    from bot.registry.run_tests_py import read_ignore_dict

    before = read_ignore_dict(DICT)
    assert before is not None
    request = _Request(test, (), _Checkout(REGISTRY.sections(), "the registry"), reason, remove, None)
    _check_ignore(after, before, len(DICT.splitlines(keepends=True)), request, wanted)


ADDED = DICT.replace('    "a/long.py"', '    "a/new.py": ("R", ("win32",)),\n    "a/long.py"')


@pytest.mark.parametrize(
    ("after", "test", "kw"),
    [
        (ADDED, "a/new.py", {"reason": "R"}),
        (ADDED, "a/new.py", {}),
        (
            DICT.replace('    "a/mac_win.py": ("r", ("darwin", "win32")),\n', ""),
            "a/mac_win.py",
            {"remove": True, "wanted": ()},
        ),
        (
            DICT.replace('("darwin", "win32")', '("darwin",)'),
            "a/mac_win.py",
            {"remove": True, "wanted": ("darwin",)},
        ),
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
        (DICT, "a/mac_win.py", {"remove": True, "wanted": ("darwin",)}),  # still ignored on win32
        (DICT.replace('("darwin", "win32")', '("darwin",)'), "a/mac_win.py", {"remove": True, "wanted": ()}),
        (DICT.replace("}\n", ""), "a/mac_win.py", {"remove": True, "wanted": ()}),  # no dict that parses
        (DICT.replace("}\n", ""), "a/new.py", {}),
    ],
)
def test_an_edit_that_does_not_do_what_it_says_is_refused(
    after: str, test: str, kw: dict[str, object]
) -> None:
    with pytest.raises(PatchRefused) as raised:
        check(after, test, **kw)  # type: ignore[arg-type]
    assert str(raised.value) == CHECK_FAILED


# ---- the platform model's sentences and edges (bot/registry/platforms.py) -----------------------


@pytest.mark.parametrize(
    ("workflows", "said"),
    [
        ([], "no job"),
        (["ports_unix.yml"], "1 unix job"),
        ([".github/workflows/ports_unix.yml"] * 2, "2 unix jobs"),
        (["a/b/ports_qemu.yaml", "ports_unix.yml"], "1 unix job and 1 qemu job"),  # upstream's order
        (["ports_zephyr.yml", "ports_b.yml", "ports_a.yml"], "1 zephyr job, 1 a job and 1 b job"),
    ],
)
def test_jobs_are_counted_per_workflow_in_a_sentence(workflows: list[str], said: str) -> None:
    from bot.registry.platforms import SuiteJob, tally
    from bot.registry.upstream import COVERED

    jobs = [SuiteJob(w, f"j{i}", "linux") for i, w in enumerate(workflows)]
    assert tally(jobs, COVERED) == said


def test_narrowing_to_the_whole_universe_writes_none() -> None:
    """An entry that also names a platform no job runs on reaches every job once that one goes."""
    from bot.registry.platforms import narrow

    universe = frozenset({"darwin", "linux"})
    assert narrow(("darwin", "freebsd", "linux"), ["freebsd"], universe) is None
    assert narrow(("darwin", "freebsd", "linux"), ["linux"], universe) == ("darwin", "freebsd")


def test_jobs_reached_in_other_workflows_are_named_in_upstreams_order() -> None:
    from bot.registry.model import WorkflowSpec

    two = Registry(
        workflow_file="ports_unix.yml",
        jobs={
            "macos": job("macos", "darwin"),
            "unix_a": job("unix_a", "linux"),
            "unix_b": job("unix_b", "linux"),
        },
        workflows=(WorkflowSpec("ports_qemu.yml", "qemu port", {"qemu_a": job("qemu_a", "linux")}),),
    )
    tree = MemoryTree({"tests/run-tests.py": DICT}, TESTS)
    added = suggest_patch(tree, two, test="a/new.py", jobs=["unix_a"])
    assert added.message.startswith(
        f"Add a/new.py to {D} (intermittent failure in CI) for unix_a: ignored on linux"
        f"{also('ignores', '1 unix job and 1 qemu job', 'linux')}."
    )
    with pytest.raises(PatchRefused) as raised:
        suggest_patch(tree, two, test="a/mac_linux.py", jobs=["unix_a"], remove=True)
    assert "would also stop ignoring it in 1 unix job and 1 qemu job beyond the jobs asked for" in str(
        raised.value
    )
