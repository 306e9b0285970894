"""Newly flaky tests on the dashboard (issue 23): under "look at" with their range, never "add"."""

from __future__ import annotations

from pathlib import Path

from helpers.dashboard import NOW, seed
from helpers.gfm import visible
from test_dashboard_core import REGISTRY, TODAY, pair

from bot.dashboard import build, core
from bot.dashboard.render import render_body
from bot.dashboard.store_evidence import StoreEvidence
from bot.patch_rules import PatchPolicy
from bot.records import Outcome, Runner, TestFailure
from bot.registry import load_registry
from bot.store.sqlite import HistoryStore

ONSET = core.Streak(5, 1234, "b" * 40, None, "a" * 40)


def test_a_newly_flaky_test_is_looked_at_never_added() -> None:
    newly = pair("misc/a.py", evidence=core.PairEvidence(core.Streak(0), flaky_since=ONSET))
    items, held = core.select_add([newly], REGISTRY, PatchPolicy(), today=TODAY)
    assert (items, held) == ([], [])
    (look,) = core.select_look([newly], REGISTRY, today=TODAY)
    assert look.reason == "newly-flaky" and "since run 1234" in look.detail
    # the same counts without a start point are an add candidate
    steady = pair("misc/a.py", evidence=core.PairEvidence(core.Streak(0)))
    assert core.select_add([steady], REGISTRY, PatchPolicy(), today=TODAY)[0]
    assert core.select_look([steady], REGISTRY, today=TODAY) == []


def test_the_dashboard_finds_a_test_that_became_flaky_in_the_store(tmp_path: Path) -> None:
    """300 daily pushes; misc/racy.py passed in coverage for 240 of them, then failed every 5th:
    by its counts (12 of 300, 4%) an add candidate, by its history a change made it flaky."""

    def failures(day: int, job: str) -> list[TestFailure]:
        if job == "coverage" and day >= 240 and day % 5 == 2:
            return [TestFailure("misc/racy.py", Runner.RUN_TESTS, Outcome.FAIL, symptom="TIMEOUT")]
        return []

    with HistoryStore(tmp_path / "h.sqlite") as store:
        seed(store, days=300, failures=failures)
        board = build.build(
            store, load_registry(None), workflow="unix port", branch="master", days=90, now=NOW,
            add_policy=PatchPolicy(), retire_policy=core.RetirePolicy(), evidence=StoreEvidence,
        )  # fmt: skip
    assert [i.test for i in board.selection.add] == []
    (look,) = [i for i in board.selection.look if i.test == "misc/racy.py"]
    assert look.reason == "newly-flaky"
    onset = look.pair.evidence.flaky_since
    assert onset is not None and onset.first_run == 10_000 + 242
    text = visible(render_body(board))
    assert "misc/racy.py" in text and "newly flaky" in text and "culprit range" in text
