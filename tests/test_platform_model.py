"""Properties of the one platform model of `flaky_tests_to_ignore` (bot/registry/platforms.py):
adding and removing for a set of jobs undo each other, None is written only for the whole
universe, and the jobs a change reaches are exactly those whose ignore state differs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.registry.platforms import (
    ABSENT,
    Platforms,
    SuiteJob,
    changed_jobs,
    covered,
    narrow,
    reaches,
    tally,
    universe,
    widen,
)

OSES = ("linux", "darwin", "win32")
WORKFLOWS = ("ports_unix.yml", "ports_qemu.yml", "ports_windows.yml", "ports_zephyr.yml")

jobs_strategy = st.lists(
    st.builds(
        SuiteJob,
        st.sampled_from(WORKFLOWS),
        st.text("abcdefgh_", min_size=1, max_size=6),
        st.sampled_from((*OSES, "unknown")),
    ),
    min_size=1,
    max_size=12,
    unique_by=lambda j: (j.workflow, j.name),
)


@st.composite
def entry_and_jobs(draw: st.DrawFn) -> tuple[Platforms, list[SuiteJob], list[SuiteJob]]:
    """An entry as upstream writes it over this universe (None, a proper subset, or absent),
    every job of the checkout, and the jobs a request names (with a known runner)."""
    jobs = draw(jobs_strategy)
    everywhere = universe(jobs)
    chosen = draw(st.sets(st.sampled_from(sorted(everywhere)))) if everywhere else set()
    written: Platforms = None if everywhere and chosen >= everywhere else tuple(sorted(chosen))
    entry: Platforms = draw(st.sampled_from([None, written]))
    known = [j for j in jobs if j.os != "unknown"]
    named = draw(st.lists(st.sampled_from(known), max_size=4, unique=True)) if known else []
    return entry, jobs, named


def oses(jobs: list[SuiteJob]) -> set[str]:
    return {j.os for j in jobs}


@given(entry_and_jobs())
def test_remove_then_add_returns_the_entry(case: tuple[Platforms, list[SuiteJob], list[SuiteJob]]) -> None:
    """From the state "ignored in every named job", removing then adding is the identity."""
    entry, jobs, named = case
    everywhere = universe(jobs)
    start = widen(entry, oses(named), everywhere)  # make the precondition hold
    assert all(reaches(start, j) for j in named)
    assert widen(narrow(start, oses(named), everywhere), oses(named), everywhere) == start


@given(entry_and_jobs())
def test_add_then_remove_returns_the_entry(case: tuple[Platforms, list[SuiteJob], list[SuiteJob]]) -> None:
    """From the state "ignored in no named job", adding then removing is the identity."""
    entry, jobs, named = case
    everywhere = universe(jobs)
    start = narrow(entry, oses(named), everywhere)
    assert not any(reaches(start, j) for j in named if start is not None)
    assert narrow(widen(start, oses(named), everywhere), oses(named), everywhere) == start


@given(entry_and_jobs())
def test_none_only_for_the_whole_universe(case: tuple[Platforms, list[SuiteJob], list[SuiteJob]]) -> None:
    entry, jobs, named = case
    everywhere = universe(jobs)
    for after in (widen(entry, oses(named), everywhere), narrow(entry, oses(named), everywhere)):
        if after is None and after != entry:
            assert covered(entry, everywhere) | oses(named) >= everywhere
        if after is not None and after != entry:
            assert not set(after) >= everywhere


@given(entry_and_jobs())
def test_a_change_reaches_exactly_the_jobs_whose_state_differs(
    case: tuple[Platforms, list[SuiteJob], list[SuiteJob]],
) -> None:
    entry, jobs, named = case
    everywhere = universe(jobs)
    for after in (widen(entry, oses(named), everywhere), narrow(entry, oses(named), everywhere)):
        changed = set(changed_jobs(entry, after, jobs))
        assert changed == {j for j in jobs if reaches(entry, j) != reaches(after, j)}
        # Every changed job shares a platform with a named job, or has a runner only None covers.
        assert all(j.os in oses(named) or (None in (entry, after) and j.os == "unknown") for j in changed)


@pytest.mark.parametrize(
    ("entry", "op", "jobs_oses", "expected"),
    [
        (None, narrow, {"darwin"}, ("linux", "win32")),  # not ("linux",): Windows keeps it
        (None, narrow, {"linux"}, ("darwin", "win32")),
        (("darwin",), widen, {"win32"}, ("darwin", "win32")),  # not None: Linux was not asked for
        (("darwin", "win32"), widen, {"linux"}, None),  # the whole universe
        (("linux",), narrow, {"linux"}, ABSENT),  # the entry goes
        (ABSENT, widen, {"linux"}, ("linux",)),
        (("linux",), widen, {"linux"}, ("linux",)),  # already there: written as it was
        (("darwin", "linux", "win32"), widen, {"linux"}, ("darwin", "linux", "win32")),
    ],
)
def test_platform_table(entry: Platforms, op: object, jobs_oses: set[str], expected: Platforms) -> None:
    assert callable(op)
    assert op(entry, jobs_oses, frozenset(OSES)) == expected


def test_tally_counts_per_workflow() -> None:
    jobs = [SuiteJob("ports_unix.yml", f"u{i}", "linux") for i in range(19)]
    jobs += [SuiteJob("ports_qemu.yml", "q", "linux"), SuiteJob("ports_zephyr.yml", "build", "linux")]
    assert tally(jobs) == "1 qemu job, 19 unix jobs and 1 zephyr job"  # by name without an order
    assert tally(jobs, ["ports_unix.yml", "ports_qemu.yml"]) == "19 unix jobs, 1 qemu job and 1 zephyr job"
    assert tally(jobs[:2]) == "2 unix jobs" and tally([]) == "no job"


def test_widening_to_what_an_entry_already_covers_leaves_it_as_written() -> None:
    """Asked for exactly the platforms an entry names, the entry is left as upstream wrote it (a
    patch would only rewrite a line that means the same), even where `None` would say it too."""
    everywhere = frozenset(OSES)
    written = tuple(sorted(OSES))
    assert widen(written, OSES, everywhere) is written
    assert widen(("linux",), ["linux"], everywhere) == ("linux",)
