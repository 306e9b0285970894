"""What a test's record in the *other* jobs of the workflow says about its first failure here.

Every job of the "unix port" workflow runs largely the same tests, so a test that fails now and
then in one job, alone between passes and always the same way, is the same flake when it first
fails that way in a sibling job. Judging each job alone made the most notorious flaky test of
the repository a "first failure here, look at the change" six times out of eight. Pure, like
`bot.evidence`: the store hands over the records, this reads them per other job.

A sibling job lends its evidence only when it shows a flake's pattern there: failures alone
between passes (no row of more than two), the symptom seen now among them, and a pass since its
latest failure. A sibling that is failing in a row right now, or whose failures came in long
rows, lends nothing and vetoes the others: that is how a regression spreads, not a flake.
A job of another workflow is weaker evidence (another build, other conditions, possibly another
registry): it lends its evidence only with `OTHER_WORKFLOW_MATCHES` failures the way it fails
now, and vetoes all the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.evidence import Evidence, Result, RunRef, TestHistory, assess, executions
from bot.stats import ExclusionPolicy

#: Failing in this many executions in a row right now makes a sibling job look like a regression.
SIBLING_STREAK = 2
#: Failures in a row beyond which a sibling's history is a regression's, not a flake's (the same
#: bound as `Evidence.intermittent` in one job).
SIBLING_ROW = 2
#: At most this many other jobs are read (the workflow has about twenty).
MAX_JOBS = 30
#: Failures with the symptom seen now that a job of another workflow needs to lend evidence.
OTHER_WORKFLOW_MATCHES = 2

#: The other workflows' jobs the test failed in, with their histories: (workflow, job, history).
OtherWorkflows = Callable[[str], Sequence[tuple[str, str, TestHistory]]]


@dataclass(frozen=True)
class SiblingRecord:
    """The test's history in one other job, as of the triaged run."""

    job: str
    known: int  # executions with a known outcome
    failures: int
    isolated: int  # failures alone between passes
    longest_run: int
    streak: int  # failing executions in a row right before the triaged run
    last_failure: RunRef | None
    same_symptom: int  # failures with the symptom seen now
    flipped: bool  # failed and passed on one commit there
    listed: bool = False  # upstream lists it as flaky for that job on the run's date
    workflow: str = ""  # another workflow's (weaker evidence); "" for the triaged workflow's own

    @property
    def flaky(self) -> bool:
        """Failed there the way a flake does, and passed since its latest failure."""
        intermittent = (self.isolated > 0 and self.longest_run <= SIBLING_ROW) or self.flipped
        return self.failures > 0 and intermittent and self.streak == 0

    @property
    def regression_like(self) -> bool:
        """Failing in a row there right now, or its failures came in long rows."""
        return self.streak >= SIBLING_STREAK or self.longest_run > SIBLING_ROW


@dataclass(frozen=True)
class AcrossJobs:
    """The test's record in the other jobs: those where it failed before, and those where
    upstream lists it as flaky, with the symptom of the failure being judged."""

    symptom: str
    siblings: tuple[SiblingRecord, ...] = ()

    @property
    def matching(self) -> tuple[SiblingRecord, ...]:
        """Jobs where it is a flake failing the way it fails now."""
        return tuple(
            s
            for s in self.siblings
            if s.flaky and s.same_symptom >= (OTHER_WORKFLOW_MATCHES if s.workflow else 1)
        )

    @property
    def listed(self) -> tuple[SiblingRecord, ...]:
        return tuple(s for s in self.siblings if s.listed)

    @property
    def vetoes(self) -> tuple[SiblingRecord, ...]:
        return tuple(s for s in self.siblings if s.regression_like)

    @property
    def last_seen(self) -> datetime | None:
        seen = [s.last_failure.created for s in self.matching if s.last_failure is not None]
        return max(seen) if seen else None

    @property
    def flaky(self) -> bool:
        """Flaky in other jobs the way it fails now (or listed as flaky there), with no other job
        failing like a regression."""
        return not self.vetoes and bool(self.matching or self.listed)


def sibling(
    test: str,
    job: str,
    symptom: str,
    current: RunRef,
    found: TestHistory,
    policy: ExclusionPolicy | None = None,
    *,
    listed: bool = False,
    workflow: str = "",
) -> SiblingRecord:
    """Read the test's history in `job` (a job other than the triaged one)."""
    evidence: Evidence = assess(test, job, symptom, current, found, policy)
    runs = executions((r for r in found.here if r.job == job), test, policy, before=current)
    failed = [e for e in runs if e.result is Result.FAIL]
    return SiblingRecord(
        job=job,
        known=evidence.known,
        failures=evidence.failures,
        isolated=evidence.isolated,
        longest_run=evidence.longest_run,
        streak=evidence.streak.failures,
        last_failure=failed[-1].ref if failed else None,
        same_symptom=sum(1 for e in failed if symptom and e.symptom == symptom),
        flipped=evidence.flipped,
        listed=listed,
        workflow=workflow,
    )


def failed_elsewhere(here: TestHistory, job: str, current: RunRef) -> list[str]:
    """The other jobs in which the test failed before the triaged run, most recent failure first."""
    latest: dict[str, datetime] = {}
    for r in here.elsewhere:
        if r.job != job and r.failed and _before(r.ref, current):
            latest[r.job] = max(latest.get(r.job, r.created), r.created)
    return sorted(latest, key=lambda j: (-latest[j].timestamp(), j))


def across_jobs(
    test: str,
    job: str,
    symptom: str,
    current: RunRef,
    here: TestHistory,
    lookup: Callable[[str, str], TestHistory | None],
    listed_for: Iterable[str] = (),
    policy: ExclusionPolicy | None = None,
    other_workflows: Sequence[tuple[str, str, TestHistory]] = (),
) -> AcrossJobs:
    """The test's record in every other job it failed in (from `here.elsewhere`), read through
    `lookup(test, other_job)`, plus the jobs upstream lists it as flaky for (`listed_for`), and
    the jobs of other workflows it failed in (`other_workflows`: workflow, job, history)."""
    listed = [j for j in dict.fromkeys(listed_for) if j != job]
    failed = failed_elsewhere(here, job, current)
    siblings: list[SiblingRecord] = []
    for other in [*failed, *listed][:MAX_JOBS]:
        if any(s.job == other for s in siblings):
            continue
        # a job it is listed for but never failed in has nothing more to tell: not read
        found = (lookup(test, other) if other in failed else None) or TestHistory()
        siblings.append(sibling(test, other, symptom, current, found, policy, listed=other in listed))
    for workflow, other, found in other_workflows[: max(0, MAX_JOBS - len(siblings))]:
        siblings.append(sibling(test, other, symptom, current, found, policy, workflow=workflow))
    return AcrossJobs(symptom, tuple(siblings))


def _before(ref: RunRef, current: RunRef) -> bool:
    if ref.run_id == current.run_id:
        return ref.attempt < current.attempt
    return (ref.created, ref.run_id) < (current.created, current.run_id)
