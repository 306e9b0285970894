"""The change-point test behind "newly flaky" (`bot.changepoint`): its exact tail, where it puts
a start point, and that a steady rate does not fool it more often than it promises."""

from __future__ import annotations

import random
from math import comb

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.changepoint import FALSE_ALARM, MIN_FAILURES_AFTER, onset, upper_tail


def rate(failures: int, executions: int) -> float:
    return failures / executions if executions else 0.0


def seq(pattern: str) -> list[bool]:
    return [c == "F" for c in pattern]


@pytest.mark.parametrize(
    ("total", "failures", "draws", "at_least"),
    [(10, 3, 4, 2), (20, 5, 5, 5), (30, 2, 29, 1), (12, 0, 5, 0), (12, 4, 0, 1), (8, 8, 3, 3),
     (40, 6, 10, 4)],
)  # fmt: skip
def test_upper_tail_is_the_exact_tail(total: int, failures: int, draws: int, at_least: int) -> None:
    ways = range(at_least, min(failures, draws) + 1)
    exact = sum(comb(failures, x) * comb(total - failures, draws - x) for x in ways) / comb(total, draws)
    assert upper_tail(total, failures, draws, at_least) == pytest.approx(exact, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("every", [4, 10, 20])  # 25%, 10%, 5% after 400 quiet executions
def test_a_rise_after_a_quiet_stretch_is_found_at_its_first_failure(every: int) -> None:
    after = ("P" * (every - 1) + "F") * 6
    found = onset(seq("P" * 400 + after))
    assert found is not None
    assert found.first_failure == 400 + every - 1
    assert (found.failures_before, found.executions_before) == (0, 400 + every - 1)
    assert found.failures_after == 6
    assert found.p_value <= FALSE_ALARM
    # the cause may lie a little before the first failure, never after it, and no further back
    # than a few times the gap between failures
    assert 400 - 4 * every <= found.earliest < found.first_failure
    # and the rarer the failures, the further back the passes that may already have had the bug
    assert found.first_failure - found.earliest >= every // 2


def test_a_flake_getting_worse_is_a_rise_too() -> None:
    before = ("F" + "P" * 99) * 4  # 1% for 400 executions
    found = onset(seq(before + ("P" * 4 + "F") * 8))  # then 20%
    assert found is not None and found.failures_before == 4
    assert rate(found.failures_after, found.executions_after) > 0.15


@pytest.mark.parametrize(
    "pattern",
    [
        ("P" * 49 + "F") * 12,  # a steady 2% flake for as long as the history goes
        ("P" * 9 + "F") * 30 + "P" * 300,  # a flake that stopped
        "F" * 10,  # failures only: nothing to compare
        "P" * 500,  # never failed
        "P" * 300 + "PPPPF",  # one failure is no rate
        "P" * 30 + "PFPPF",  # too short a quiet stretch to tell
    ],
)
def test_no_rise_no_onset(pattern: str) -> None:
    assert onset(seq(pattern)) is None


def test_fewer_failures_after_the_start_than_asked_for_is_no_onset() -> None:
    pattern = seq("P" * 600 + "PPPFPPPF")
    assert onset(pattern) is not None
    assert onset(pattern, min_after=3) is None


def test_a_steady_rate_rarely_raises_the_alarm() -> None:
    """The bound is exact under any steady rate: every placement of the failures is equally
    likely. 2,000 shuffles of 6 failures in 400 executions: at most FALSE_ALARM of them flagged
    (with room for chance: twice the bound)."""
    rng = random.Random(7)
    base = [True] * 6 + [False] * 394
    alarms = 0
    for _ in range(2000):
        rng.shuffle(base)
        alarms += onset(base) is not None
    assert alarms <= 2 * FALSE_ALARM * 2000


@settings(max_examples=100, deadline=None)
@given(st.lists(st.booleans(), max_size=120), st.integers(min_value=0, max_value=300))
def test_an_onset_always_describes_a_rise(tail: list[bool], quiet: int) -> None:
    history = [False] * quiet + tail
    found = onset(history)
    if found is None:
        return
    assert history[found.first_failure]
    assert found.earliest <= found.first_failure
    assert found.failures_after >= MIN_FAILURES_AFTER
    assert found.failures_before + found.failures_after == sum(history)
    assert found.executions_before + found.executions_after == len(history)
    before = rate(found.failures_before, found.executions_before)
    assert rate(found.failures_after, found.executions_after) > before
    assert found.p_value <= FALSE_ALARM
