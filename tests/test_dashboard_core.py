"""The dashboard's decisions, table-driven: which (test, job) goes on which list, and why not."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.dashboard import core
from bot.patch_rules import PatchPolicy
from bot.registry.model import Entry, JobSpec, Mechanism, Registry
from bot.stats import ExecutionDay, TestTally

NOW = datetime(2026, 11, 30, tzinfo=UTC)
TODAY = NOW.date()
REGISTRY = Registry(
    entries=(
        Entry("thread/thread_gc1.py", Mechanism.IGNORE, flaky=True, since=date(2026, 3, 11)),
        Entry(
            "cmdline/repl_cont.py",
            Mechanism.IGNORE,
            flaky=True,
            platforms=("darwin",),
            since=date(2026, 3, 11),
        ),
        Entry("thread/stress_recurse.py", Mechanism.IGNORE, flaky=True, symptoms=("^CRASH",)),
        Entry(
            "thread/stress_aes.py", Mechanism.EXCLUDE, flaky=True, functions=("ci_unix_qemu_arm_run_tests",)
        ),
        Entry("old/gone.py", Mechanism.IGNORE, flaky=True, until=date(2026, 1, 1)),
        Entry("extmod/vfs_lfs.py", Mechanism.EXCLUDE, flaky=False, functions=("ci_unix_minimal_run_tests",)),
    ),
    jobs={
        "standard": JobSpec("standard", "linux", functions=("ci_unix_standard_run_tests",)),
        "macos": JobSpec("macos", "darwin", functions=("ci_unix_macos_run_tests",)),
        "qemu_arm": JobSpec("qemu_arm", "linux", functions=("ci_unix_qemu_arm_run_tests",)),
        "minimal": JobSpec("minimal", "linux", functions=("ci_unix_minimal_run_tests",)),
    },
)


def pair(test: str, job: str = "standard", events: int = 5, executions: int = 100, **kw: object) -> core.Pair:
    values: dict[str, object] = dict(
        test=test, job=job, events=events, executions=executions, low=0.0, high=1.0, ignored=0,
        last_seen=NOW - timedelta(days=2), symptoms=(), since_last=4,
    )  # fmt: skip
    values.update(kw)
    return core.Pair(**values)  # type: ignore[arg-type]


ADD_CASES = [
    # (why, pair, listed for add?, held back for a look?)
    ("unlisted, meets the rule", pair("misc/a.py"), True, False),
    ("too few events", pair("misc/a.py", events=2), False, False),
    ("too few executions", pair("misc/a.py", executions=40, events=4), False, False),
    ("rate too low", pair("misc/a.py", events=3, executions=400), False, False),
    ("no pass since its last failure", pair("misc/a.py", since_last=0), False, False),
    (
        "streak from the evidence source",
        pair("misc/a.py", evidence=core.PairEvidence(core.Streak(3))),
        False,
        False,
    ),
    (
        "evidence says no streak though since_last is unknown",
        pair("misc/a.py", since_last=None, evidence=core.PairEvidence(core.Streak(0))),
        True,
        False,
    ),
    ("failed in three jobs of one run", pair("misc/a.py", max_jobs_at_once=3), False, True),
    ("failures from run-multitests: run-tests' lists cannot cover them",
     pair("multi_net/a.py", runners=frozenset({"run-multitests"})), False, False),
    ("some failures from another runner",
     pair("misc/a.py", runners=frozenset({"run-tests", "run-perfbench"})), False, False),
    ("already ignored everywhere", pair("thread/thread_gc1.py"), False, False),
    ("ignored on darwin only: linux job is a widening", pair("cmdline/repl_cont.py"), True, False),
    ("ignored on darwin, failing on macos: covered", pair("cmdline/repl_cont.py", job="macos"), False, False),
    ("entry ended: unlisted again", pair("old/gone.py"), True, False),
    ("excluded for a non-flaky reason: not a flake", pair("extmod/vfs_lfs.py", job="minimal"), False, False),
    ("excluded (flaky) in qemu_arm only: standard is a widening", pair("thread/stress_aes.py"), True, False),
]


@pytest.mark.parametrize(("why", "candidate", "added", "held"), ADD_CASES, ids=[c[0] for c in ADD_CASES])
def test_add_rule(why: str, candidate: core.Pair, added: bool, held: bool) -> None:
    items, look = core.select_add([candidate], REGISTRY, PatchPolicy(), today=TODAY)
    assert bool(items) is added, why
    assert bool(look) is held, why
    if items:
        assert items[0].jobs == (candidate.job,)
        assert items[0].widen is bool(core.flaky_entries(REGISTRY, candidate.test, TODAY))


def test_add_groups_jobs_per_test_and_orders_by_rate() -> None:
    items, _ = core.select_add(
        [pair("misc/a.py", job="macos"), pair("misc/a.py"), pair("misc/b.py", events=30)],
        REGISTRY, PatchPolicy(), today=TODAY,
    )  # fmt: skip
    assert [(i.test, i.jobs) for i in items] == [
        ("misc/b.py", ("standard",)),
        ("misc/a.py", ("macos", "standard")),
    ]
    assert items[0].key != items[1].key and items[0].key.startswith("add-")


LOOK_CASES = [
    ("unlisted streak", pair("misc/a.py", since_last=0), ["streak"]),
    ("listed streak: an ignored test failing every time is broken",
     pair("thread/thread_gc1.py", since_last=0), ["streak"]),
    ("streak with a culprit range",
     pair("misc/a.py", evidence=core.PairEvidence(core.Streak(4, 123, "b" * 40, None, "a" * 40))),
     ["streak"]),
    ("listed, symptom the entry does not know", pair("thread/stress_recurse.py", symptoms=('expected "1"',)),
     ["new-way"]),
    ("listed, known symptom", pair("thread/stress_recurse.py", symptoms=("CRASH: KeyError",)), []),
    ("listed, entry lists no symptom", pair("thread/thread_gc1.py", symptoms=("anything",)), []),
    ("listed, evidence says new way", pair("thread/thread_gc1.py", symptoms=("x",),
                                              evidence=core.PairEvidence(new_way=True)), ["new-way"]),
    ("unlisted, passing since", pair("misc/a.py"), []),
]  # fmt: skip


@pytest.mark.parametrize(("why", "candidate", "reasons"), LOOK_CASES, ids=[c[0] for c in LOOK_CASES])
def test_look_rule(why: str, candidate: core.Pair, reasons: list[str]) -> None:
    assert [i.reason for i in core.select_look([candidate], REGISTRY, today=TODAY)] == reasons, why


def days(job: str, per_day: int, read: int, n: int = 60) -> list[ExecutionDay]:
    return [ExecutionDay(job, TODAY - timedelta(days=i), per_day, read) for i in range(n)]


def tally(test: str, job: str, ago: int) -> TestTally:
    return TestTally(test, job, 1, 1, NOW - timedelta(days=ago), ())


RETIRE_CASES = [
    # (why, tallies, execution days, policy, expected (test, executions since))
    ("clean for long in read logs", [], days("standard", 6, 6), core.RetirePolicy(300, 30),
     [("cmdline/repl_cont.py", None), ("thread/thread_gc1.py", 360), ("thread/stress_recurse.py", 360)]),
    ("green jobs not read say nothing about an ignored test", [], days("standard", 6, 0),
     core.RetirePolicy(300, 30), [("thread/stress_aes.py", 360)]),
    ("flaked 10 days ago", [tally("thread/thread_gc1.py", "standard", 10)], days("standard", 6, 6),
     core.RetirePolicy(30, 30), [("thread/thread_gc1.py", None), ("thread/stress_aes.py", 360)]),
    ("flaked 40 days ago: counted since", [tally("thread/thread_gc1.py", "standard", 40)],
     days("standard", 6, 6),
     core.RetirePolicy(30, 30), [("thread/thread_gc1.py", 40 * 6)]),
    ("window too short in days", [], days("standard", 20, 20, n=20), core.RetirePolicy(300, 30), []),
]  # fmt: skip


@pytest.mark.parametrize(("why", "tallies", "exec_days", "policy", "expected"), RETIRE_CASES,
                         ids=[c[0] for c in RETIRE_CASES])  # fmt: skip
def test_retire_rule(why, tallies, exec_days, policy, expected) -> None:
    first = NOW - timedelta(days=len({d.day for d in exec_days}))
    items = core.select_retire(REGISTRY, tallies, exec_days, policy, now=NOW, first=first)
    got = {i.test: i.executions_since for i in items}
    for test, since in expected:
        if since is None:
            assert test not in got, why
        else:
            assert got.get(test) == since, why
    if not expected:
        assert not items, why


def test_retire_needs_records_from_the_jobs_the_entry_covers() -> None:
    # repl_cont is ignored on darwin only: clean linux jobs are no evidence about macOS
    items = core.select_retire(
        REGISTRY, [], days("standard", 6, 6) + days("macos", 1, 1), core.RetirePolicy(300, 30),
        now=NOW, first=NOW - timedelta(days=60),
    )  # fmt: skip
    assert "cmdline/repl_cont.py" not in {i.test for i in items}
    items = core.select_retire(
        REGISTRY, [], days("macos", 6, 6), core.RetirePolicy(300, 30), now=NOW, first=NOW - timedelta(days=60)
    )
    found = next(i for i in items if i.test == "cmdline/repl_cont.py")
    assert found.jobs == ("macos",) and found.evidence_jobs == ("macos",)


def test_exclusion_evidence_comes_from_jobs_still_running_the_test() -> None:
    items = core.select_retire(
        REGISTRY,
        [],
        days("qemu_arm", 9, 9),
        core.RetirePolicy(300, 30),
        now=NOW,
        first=NOW - timedelta(days=60),
    )
    assert "thread/stress_aes.py" not in {i.test for i in items}  # only the excluded job ran: no record


def test_item_keys_are_stable_and_inert() -> None:
    hostile = "x<!-- flake-bot:dashboard -->/../../refs.py"
    key = core.item_key("add", hostile)
    assert key == core.item_key("add", hostile)
    assert key.startswith("add-") and len(key) == 16 and key[4:].isalnum()


# ---- several workflows ------------------------------------------------------------------------

QEMU = Registry(
    entries=REGISTRY.entries,
    jobs={"build_and_test_arm (sabrelite)": JobSpec("build_and_test_arm (sabrelite)", "linux")},
    workflow="qemu port",
)
WINDOWS = Registry(
    entries=REGISTRY.entries,
    jobs={"build-vs": JobSpec("build-vs", "win32")},
    workflow="windows port",
)
OTHERS = {"unix port": REGISTRY, "qemu port": QEMU, "windows port": WINDOWS}


def retire(test: str, entry_test: str) -> core.RetireItem:
    [entry] = [e for e in REGISTRY.entries if e.test == entry_test]
    return core.RetireItem(test, entry, ("standard",), ("standard",), None, 500, 60)


ELSEWHERE_CASES = [
    # (why, item, failures (test, workflow, job, failed, ignored), workflows that hold it back)
    ("clean everywhere", retire("thread/thread_gc1.py", "thread/thread_gc1.py"), [], ()),
    (
        "ignored flakes on qemu, where the every-platform entry acts",
        retire("thread/thread_gc1.py", "thread/thread_gc1.py"),
        [("thread/thread_gc1.py", "qemu port", "build_and_test_arm (sabrelite)", 0, 2)],
        ("qemu port",),
    ),
    (
        "flakes in its own workflow are the section's own record, not 'elsewhere'",
        retire("thread/thread_gc1.py", "thread/thread_gc1.py"),
        [("thread/thread_gc1.py", "unix port", "macos", 1, 0)],
        (),
    ),
    (
        "a darwin-only entry does not act on windows: a windows flake says nothing about it",
        retire("cmdline/repl_cont.py", "cmdline/repl_cont.py"),
        [("cmdline/repl_cont.py", "windows port", "build-vs", 3, 0)],
        (),
    ),
    (
        "an exclusion's record is every job that still runs the test",
        retire("thread/stress_aes.py", "thread/stress_aes.py"),
        [("thread/stress_aes.py", "windows port", "build-vs", 1, 0)],
        ("windows port",),
    ),
    (
        "another test, or a workflow not watched, does not count",
        retire("thread/thread_gc1.py", "thread/thread_gc1.py"),
        [
            ("thread/other.py", "qemu port", "build_and_test_arm (sabrelite)", 1, 0),
            ("thread/thread_gc1.py", "zephyr port", "build", 1, 0),
        ],
        (),
    ),
]


@pytest.mark.parametrize(
    ("why", "item", "failures", "expected"), ELSEWHERE_CASES, ids=[c[0] for c in ELSEWHERE_CASES]
)
def test_retire_held_back_while_the_test_flakes_in_another_workflow(
    why: str, item: core.RetireItem, failures: list[core.Failure], expected: tuple[str, ...]
) -> None:
    assert core.flaked_elsewhere(item, "unix port", OTHERS, failures) == expected, why


def test_add_entries_of_two_workflows_have_distinct_ids_and_the_first_keeps_its_own() -> None:
    first = core.AddItem("misc/a.py", ("standard",), False, ())
    other = core.AddItem("misc/a.py", ("build_and_test_arm (sabrelite)",), False, (), workflow="qemu port")
    assert first.key == core.item_key("add", "misc/a.py")  # ids from before several workflows carry over
    assert other.key != first.key and other.key.startswith("add-")


def test_add_item_shows_the_other_jobs_the_test_failed_in() -> None:
    """A test flaking in several jobs is shown across all of them (issue 26): one patch for the
    jobs where each meets the rule, and every other job with the reason it is left out."""
    pairs = [
        pair("thread/stress_aes.py", job="standard"),  # meets the rule: in the patch
        pair("thread/stress_aes.py", job="macos", events=6, executions=90),  # meets it too
        pair("thread/stress_aes.py", job="qemu_arm"),  # listed (excluded as flaky) there
        pair("thread/stress_aes.py", job="minimal", events=1),  # below the rule
        pair("thread/stress_aes.py", job="other", since_last=0),  # failing in its latest execution
        pair("thread/stress_aes.py", job="third", max_jobs_at_once=3),
        pair("thread/stress_aes.py", job="multi", runners=frozenset({"run-multitests"})),
        pair("misc/a.py", job="minimal", events=1),  # another test: not shown
    ]
    items, _ = core.select_add(pairs, REGISTRY, PatchPolicy(), today=TODAY)
    (item,) = items
    assert item.jobs == ("macos", "standard")
    assert [(o.pair.job, o.reason) for o in item.elsewhere] == [
        ("multi", "failures from another test runner"),
        ("other", "failing in its latest execution there: see Look at"),
        ("qemu_arm", "listed as flaky there"),
        ("third", "failed in 3 jobs of one run at once"),
        ("minimal", "below the rule there"),
    ]
    both = [pair("extmod/vfs_lfs.py", job="standard"), pair("extmod/vfs_lfs.py", job="minimal")]
    kept_out, _ = core.select_add(both, REGISTRY, PatchPolicy(), today=TODAY)
    assert [(o.pair.job, o.reason) for o in kept_out[0].elsewhere] == [
        ("minimal", "kept out of that job for another reason")
    ]
