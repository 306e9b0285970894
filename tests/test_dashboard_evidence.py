"""The dashboard over the verdicts engine's evidence: streaks with their culprit range."""

from __future__ import annotations

from pathlib import Path

from helpers.dashboard import NOW, seed

from bot.dashboard import build, core
from bot.dashboard.store_evidence import StoreEvidence
from bot.patch_rules import PatchPolicy
from bot.registry import load_registry
from bot.store.sqlite import HistoryStore


def test_streak_and_culprit_range_from_the_evidence_engine(tmp_path: Path) -> None:
    registry = load_registry(None)
    with HistoryStore(tmp_path / "h.sqlite") as store:
        seed(store)
        d = build.build(
            store, registry, workflow="unix port", branch="master", days=90, now=NOW,
            add_policy=PatchPolicy(), retire_policy=core.RetirePolicy(), evidence=StoreEvidence,
        )  # fmt: skip
        source = StoreEvidence(store, d.window, registry)
        broken = source.evidence("basics/now_broken.py", "standard")
        flaky = source.evidence("misc/unlisted_flaky.py", "coverage")
    assert broken.streak is not None and broken.streak.failures == 3
    assert broken.streak.first_run == 10_097
    assert broken.streak.first_sha == f"{10_097:040x}" and broken.streak.last_pass_sha == f"{10_096:040x}"
    assert flaky.streak is not None and flaky.streak.failures == 0
    assert flaky.flips == 0
    [look] = [i for i in d.selection.look if i.test == "basics/now_broken.py"]
    assert "since run 10097" in look.detail
