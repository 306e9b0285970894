"""When flake-bot proposes excluding a test: the patch policy, the candidates a judged run earns,
and the notes that say why a test that failed often got no patch.

A patch hides a test's failures from then on, so the rules lean one way: only a test the
history shows flaky in this very job (`bot.verdicts` rows marked `patchable`), at a rate the
policy accepts there, steady (not still failing, not rising), and not crowded by other
failures. The patch text itself is written afterwards (`write_patches`): the registry's patch
writer reads upstream files over the network, so it runs after the judgement, not inside it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from bot.errors import FlakeBotError
from bot.findings import Finding, Note, NoteReason, PatchCandidate, SuggestedPatch, TriageReport
from bot.records import FlakeRate, Runner
from bot.registry import Listing
from bot.verdicts import NOT_A_FLAKE, PATCHABLE

Patcher = Callable[[str, Sequence[str]], str | None]


@dataclass(frozen=True)
class PatchPolicy:
    """When a ready-to-apply exclusion patch is worth showing to a maintainer.

    A patch hides a test's failures from then on, so it needs evidence a maintainer would accept
    from a colleague: the test failed in this very job at least `min_events` times (never on a
    first failure) over at least `min_executions` executions, at a rate of at least `min_rate`;
    and it did not fail in more than `max_jobs_in_run` jobs of this run at once, nor beside more
    than `max_tests_in_job - 1` other unlisted failures in its job: failures that coincide point to
    a shared cause rather than independent flakes.
    """

    min_rate: float = 0.01
    min_executions: int = 50
    enabled: bool = True
    min_events: int = 3
    max_jobs_in_run: int = 2
    max_tests_in_job: int = 2

    def counts_meet(self, executions: int, events: int, rate: float) -> bool:
        """The rule's counts (executions, failures, rate), the part triage, the dashboard's add
        list and the report's cross-job view share; the other conditions are each caller's."""
        return executions >= self.min_executions and events >= self.min_events and rate >= self.min_rate


DEFAULT_POLICY = PatchPolicy()


def write_patches(report: TriageReport, patcher: Patcher) -> TriageReport:
    """The report with the patches its candidates call for, written by `patcher(test, jobs)`
    (the registry's patch writer, which may read upstream files over the network: that is why
    it runs after the judgement, not inside it). A refusal becomes a note."""
    patches: list[SuggestedPatch] = []
    notes = list(report.notes)
    for candidate in report.candidates:
        try:
            text = patcher(candidate.test, candidate.jobs)
        except FlakeBotError as exc:
            notes.append(Note(NoteReason.PATCH_REFUSED, test=candidate.test, detail=str(exc)))
            continue
        if text:
            patches.append(SuggestedPatch(candidate.test, candidate.jobs, text, candidate.evidence))
    patch_for = {(job, p.test): p.patch for p in patches for job in p.jobs}
    jobs = tuple(
        replace(
            j,
            findings=tuple(replace(f, patch=patch_for.get((f.job.name, f.failure.test))) for f in j.findings),
        )
        for j in report.jobs
    )
    return replace(report, jobs=jobs, patches=tuple(patches), notes=tuple(notes))


def _has_flake_evidence(finding: Finding, policy: PatchPolicy) -> bool:
    """Only a test the history shows flaky in this very job (passed on a commit it failed on, or
    failing now and then, alone, the usual way) may be excluded: known flakes are already listed,
    and a new way of failing, a streak, a failure on the default branch or in several jobs at
    once point to a regression. A test upstream keeps out for other reasons should not have run.
    The rate must be in this very job too, because the patch hides failures in this job.
    """
    return finding.verdict in PATCHABLE and _rate_suffices(finding, policy)


def _rate_suffices(finding: Finding, policy: PatchPolicy) -> bool:
    rate = finding.job_rate
    return (
        policy.enabled
        and finding.failure.runner is Runner.RUN_TESTS
        and not finding.match.should_not_have_failed
        and len(finding.failed_in_jobs) <= policy.max_jobs_in_run
        and rate is not None
        and policy.counts_meet(rate.executions, rate.events, rate.rate)
    )


def looks_persistent(rate: FlakeRate | None) -> bool:
    """A test that also failed in its latest execution before this run has no pass since: that is
    how a regression starts, and excluding it would hide the regression, so no patch is proposed
    however flaky its longer history looks."""
    return rate is not None and rate.events > 0 and rate.since_last == 0


#: A patch hides a test's failures for good, so it waits while even a weak sign of a recent rise
#: in its failure rate (a change-point p-value, corrected, below this) leaves "newly flaky" open:
#: the verdict itself needs `bot.changepoint.FALSE_ALARM`, and a rise at 5% takes a few more
#: failures to reach it. A steady flake's patch is only delayed: the p-value is rarely this low.
PATCH_STEADY_P = 0.5


def rising(finding: Finding) -> bool:
    """Its failures crowd into its latest executions enough to doubt they are a steady flake's."""
    return finding.evidence is not None and finding.evidence.rise_p < PATCH_STEADY_P


def propose_patches(
    findings: Sequence[Finding], policy: PatchPolicy
) -> tuple[tuple[PatchCandidate, ...], tuple[Note, ...]]:
    """The patches the judged failures earn, one per test over the jobs that earn it, and a note
    for each test that failed often enough but lacks a flake's evidence: a maintainer who sees a
    frequent failure without a patch should read why, not guess."""
    if not policy.enabled:
        return (), ()
    by_test: dict[str, dict[str, FlakeRate]] = defaultdict(dict)
    notes: list[Note] = []
    unlisted = Counter(f.job.name for f in findings if f.match.listing is not Listing.KNOWN_FLAKE)
    crowded = sorted(job for job, n in unlisted.items() if n > policy.max_tests_in_job)
    notes.extend(Note(NoteReason.CROWDED_JOB, job=job, count=unlisted[job]) for job in crowded)
    for finding in findings:
        test, job = finding.failure.test, finding.job.name
        if finding.verdict in NOT_A_FLAKE and job not in crowded and _rate_suffices(finding, policy):
            notes.append(Note(NoteReason.NOT_A_FLAKE, test=test, job=job, verdict=finding.verdict))
            continue
        if (
            not _has_flake_evidence(finding, policy)
            or finding.job_rate is None
            or finding.job.name in crowded
        ):
            continue
        if looks_persistent(finding.job_rate):
            notes.append(Note(NoteReason.STILL_FAILING, test=test, job=job))
            continue
        if rising(finding):
            notes.append(Note(NoteReason.RECENT, test=test, job=job))
            continue
        by_test[finding.failure.test][finding.job.name] = finding.job_rate
    candidates = tuple(
        PatchCandidate(test, tuple(evidence), tuple(evidence.values())) for test, evidence in by_test.items()
    )
    return candidates, tuple(notes)
