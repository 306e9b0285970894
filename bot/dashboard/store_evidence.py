"""The dashboard's evidence source over the verdicts engine (`bot.evidence`): streaks with their
culprit range, same-commit flips and new-way symptoms, read from the store's per-(test, job)
history of the default branch's pushes. The dashboard asks; it does not compute these itself."""

from __future__ import annotations

from datetime import timedelta

from bot import stats
from bot.dashboard import core
from bot.evidence import FlakyOnset, RunRef, assess
from bot.store.sqlite import HistoryStore, Window

_AFTER_EVERYTHING = 2**62  # a run id later than any: "as of now"
RECENT = 1000  # executions read per pair: a start of flakiness needs the quiet stretch before it


class StoreEvidence:
    def __init__(self, store: HistoryStore, window: Window, policy: stats.ExclusionPolicy | None) -> None:
        self._store = store
        self._window = window
        self._policy = policy

    def evidence(self, test: str, job: str) -> core.PairEvidence:
        w = self._window
        assert w.until is not None
        history = self._store.test_history(
            test, job, until=w.until, workflow=w.workflow, branch=w.branch, event=w.event, recent=RECENT
        )
        now = RunRef(_AFTER_EVERYTHING, 1, "", w.until + timedelta(seconds=1))
        found = assess(test, job, "", now, history, self._policy)
        s = found.streak
        streak = core.Streak(
            failures=s.failures,
            first_run=s.first_failure.run_id if s.first_failure else None,
            first_sha=s.first_failure.sha if s.first_failure else "",
            first_created=s.first_failure.created if s.first_failure else None,
            last_pass_sha=s.last_pass.sha if s.last_pass else None,
            capped=s.capped,
        )
        failures = [r for r in history.here if r.job == job and r.failed]
        new_way = None
        if failures:
            last = max(failures, key=lambda r: (r.created, r.run_id, r.attempt))
            new_way = assess(test, job, last.symptom, last.ref, history, self._policy).new_way
        return core.PairEvidence(
            streak=streak, flips=found.flipped_commits, new_way=new_way, flaky_since=_onset(found.flaky_since)
        )


def _onset(found: FlakyOnset | None) -> core.Streak | None:
    """A start of flakiness in the dashboard's terms: a range like a streak's, wider."""
    if found is None:
        return None
    return core.Streak(
        failures=found.failures_after,
        first_run=found.first_failure.run_id,
        first_sha=found.first_failure.sha,
        first_created=found.first_failure.created,
        last_pass_sha=found.last_quiet.sha if found.last_quiet else None,
    )
