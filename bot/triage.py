"""Decide, for every failure of one workflow run, what a reader should think of it.

This is the pure heart of the `triage` command: parsed job reports + the registry + historical
rates and evidence in, a `TriageReport` out, with no I/O (patches are written afterwards by the
caller, see `write_patches`: the patch writer reads upstream files). Its rules lean one way on
purpose: the worst thing flake-bot can do is call a real regression "flaky", so a failure is
reassuring only with evidence: the registry covered this test in this job on the run's date and
its symptom does not contradict the known ones ("known flake here"), or the history shows it
passing on this very commit or failing now and then, alone, the way it usually does (see
`bot.evidence`). A streak, a new symptom, a rise in its failure rate or a failure in several
jobs at once is never called a flake, and an ignored failure is a failure again once the test
fails in every run; an unreadable log is "could not read the log", never "no failures"; and a job that failed
without a failure flake-bot can see is said to have failed for a reason it could not find.

The judge alone: the report's types are `bot.findings`, the verdicts' table `bot.verdicts`, the
patch rules `bot.patch_rules`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence

from bot.across_jobs import AcrossJobs, OtherWorkflows, across_jobs
from bot.evidence import Evidence, RunRef, TestHistory, assess
from bot.findings import (
    FAILED_CONCLUSIONS,
    Finding,
    JobInput,
    JobState,
    JobTriage,
    TriageReport,
)
from bot.patch_rules import DEFAULT_POLICY, PatchPolicy, propose_patches
from bot.records import FlakeRate, LogState, RunInfo, Runner, TestFailure
from bot.registry import Listing, Match, Registry
from bot.registry.model import Entry
from bot.verdicts import Counts, Verdict

RatesLookup = Callable[[str, str | None], FlakeRate | None]
HistoryLookup = Callable[[str, str], TestHistory | None]

#: A known flaky test failing in this many jobs of one run is no longer reassuring.
WIDESPREAD_JOBS = 3
#: A known flaky test that also failed in this many executions in a row before this run is no
#: longer reassuring either: at a few percent, three failures in a row is a regression's pattern.
KNOWN_FLAKE_STREAK = 2


def _verdict(
    match: Match, failure: TestFailure, failed_in_jobs: int, evidence: Evidence | None, on_default: bool
) -> Verdict:
    """The verdict, strongest warning first: a reassuring verdict only when nothing contradicts it.

    `on_default` is True when the triaged run is a push to the default branch (or nothing says
    otherwise): a streak in the default branch's history is then this run's own regression,
    while for a pull request it means the test is failing there already.
    """
    if failure.ignored:
        return _ignored_verdict(evidence)
    streak = evidence.streak.failures if evidence is not None else 0
    streak_verdict = (
        Verdict.ON_DEFAULT_BRANCH
        if evidence is not None and evidence.default_branch and not on_default
        else Verdict.REGRESSION
    )
    if match.listing is Listing.KNOWN_FLAKE:
        patterns = any(e.symptoms for e in match.entries)
        if match.symptom_mismatch or (evidence is not None and evidence.new_way and not patterns):
            return Verdict.NEW_SYMPTOM
        # Independent flakes at ~1% per job almost never hit several jobs of one run together;
        # a shared cause (often a regression) does.
        if failed_in_jobs >= WIDESPREAD_JOBS:
            return Verdict.WIDESPREAD
        return streak_verdict if streak >= KNOWN_FLAKE_STREAK else Verdict.KNOWN_FLAKE
    if evidence is None or (evidence.known + evidence.unknown == 0 and evidence.same_commit_pass is None):
        return Verdict.FLAKY_ELSEWHERE if match.listing is Listing.FLAKY_ELSEWHERE else Verdict.NEW
    if evidence.new_way:
        return Verdict.NEW_WAY
    if newly_flaky(evidence):
        return Verdict.NEWLY_FLAKY
    if evidence.same_commit_pass is not None:
        return Verdict.PROVEN_FLAKY
    if streak:
        return streak_verdict
    if not evidence.earlier_failures:
        return Verdict.FIRST_FAILURE
    if failed_in_jobs >= WIDESPREAD_JOBS:
        return Verdict.SEVERAL_JOBS
    if evidence.intermittent or evidence.flipped_commits:
        return Verdict.UNLISTED_FLAKE
    return Verdict.FAILED_BEFORE


#: Verdicts a test's record in other jobs may turn into "flaky in other jobs, first time here":
#: it has not failed in this job before (or this job has no history yet), and nothing warned.
FIRST_HERE = frozenset({Verdict.FIRST_FAILURE, Verdict.NEW, Verdict.FLAKY_ELSEWHERE})


def _across_of(
    verdict: Verdict,
    match: Match,
    failure: TestFailure,
    evidence: Evidence | None,
    current: RunRef,
    lookup: HistoryLookup,
    registry: Registry,
    other_workflows: OtherWorkflows | None = None,
) -> AcrossJobs | None:
    """The test's record in the other jobs, read only when it could change the verdict (a first
    failure here, judged with a history): the other jobs' histories cost a few queries each."""
    if verdict not in FIRST_HERE or evidence is None:
        return None
    here = lookup(failure.test, match.job)
    if here is None:
        return None
    listed = _listed_for(match, registry, failure.symptom)
    others = other_workflows(failure.test) if other_workflows is not None else ()
    test, symptom = failure.test, failure.symptom
    return across_jobs(test, match.job, symptom, current, here, lookup, listed, registry, others)


def _listed_for(match: Match, registry: Registry, symptom: str) -> tuple[str, ...]:
    """The other jobs whose flaky entries in force cover the test (`match` is "flaky elsewhere"),
    leaving out entries whose known symptoms the failure does not match."""
    if match.listing is not Listing.FLAKY_ELSEWHERE or match.should_not_have_failed:
        return ()
    entries = [e for e in match.entries if e.flaky and _symptom_fits(e, symptom)]
    others = (name for name in registry.jobs if name != match.job)
    return tuple(name for name in others if any(e.covers(registry.jobs[name]) for e in entries))


def _symptom_fits(entry: Entry, symptom: str) -> bool:
    return not entry.symptoms or not symptom or any(re.search(p, symptom) for p in entry.symptoms)


def _across_verdict(
    verdict: Verdict,
    match: Match,
    failure: TestFailure,
    failed_in_jobs: int,
    evidence: Evidence | None,
    across: AcrossJobs | None,
) -> Verdict:
    """The cross-job rule, after `_verdict`: a first failure here of a test that is a flake in other
    jobs, failing there alone between passes the way it fails now and passing since (or on the
    flaky list for them), is "flaky in other jobs, first time here": a re-run, no patch (the
    patch rule stays per job). Every warning still wins: a streak here, even of one, or of
    unknown outcomes (so two failures in a row here are a likely regression), a new way of
    failing, a sibling failing in rows, 3 or more jobs of this run at once (several jobs)."""
    if verdict not in FIRST_HERE or evidence is None or across is None or not across.flaky:
        return verdict
    # (no earlier failure here: FIRST_HERE says so; a new way is checked again for a job without
    # executions, which `_verdict` calls "new" before looking at symptoms)
    if evidence.new_way or evidence.streak.failures or evidence.streak.unknown:
        return verdict
    if failure.runner is not Runner.RUN_TESTS or match.should_not_have_failed:
        return verdict
    if failed_in_jobs >= WIDESPREAD_JOBS:
        return Verdict.SEVERAL_JOBS
    return Verdict.FLAKY_OTHER_JOBS


#: Failures in a row, in the logs that were read, that make an ignored test's streak whatever
#: the unknown outcomes between them: at a flake's few percent, three in a row happen by chance
#: about once in 10,000 read logs.
IGNORED_STREAK_READ = 3


def _ignored_verdict(evidence: Evidence | None) -> Verdict:
    """An ignored failure is a flake's until the test fails in every run: then the ignore list
    hides a regression. Green jobs' logs are often not read (only a sync with --scan-green reads
    them), so a listed test's outcome there is unknown: a streak of `KNOWN_FLAKE_STREAK` counts
    when its failures are at least twice its unknown outcomes, one of `IGNORED_STREAK_READ`
    whatever the unknowns."""
    streak = evidence.streak if evidence is not None else None
    if streak is None or streak.failures < KNOWN_FLAKE_STREAK:
        return Verdict.IGNORED
    if 2 * streak.unknown <= streak.failures or streak.failures >= IGNORED_STREAK_READ:
        return Verdict.HIDDEN_REGRESSION
    return Verdict.IGNORED


def newly_flaky(evidence: Evidence) -> bool:
    """Its failure rate here rose at some run and it is not failing every time since (that is a
    streak, told as one): a change made it flaky, so the cause is a commit, not the test."""
    return evidence.flaky_since is not None and evidence.streak.failures == 0


def _job_state(job: JobInput, failed: bool, counted: Sequence[TestFailure]) -> JobState:
    if job.report is None or (job.report.unreadable and not counted):
        return JobState.LOG_UNREADABLE if failed else JobState.PASSED
    if counted:
        return JobState.TEST_FAILURES
    if not failed:
        return JobState.PASSED
    if job.report.problems:
        return JobState.NOT_A_TEST_FAILURE
    return JobState.UNEXPLAINED


def triage(
    run: RunInfo,
    jobs: Sequence[JobInput],
    registry: Registry,
    *,
    rates: RatesLookup | None = None,
    history: HistoryLookup | None = None,
    patch_policy: PatchPolicy = DEFAULT_POLICY,
    on_default_branch: bool = True,
    other_workflows: OtherWorkflows | None = None,
) -> TriageReport:
    """Judge every failure of one run attempt.

    `rates(test, job)` answers from the history store (job None = across all jobs) and may be
    absent; so may `history(test, job)`, the records behind the evidence (`bot.evidence`).
    `on_default_branch` False says the run is not a push to the default branch (a pull request):
    a streak in the default branch's history then means the test fails there already. The
    patches the evidence allows are left as `candidates` for `write_patches`.
    `other_workflows(test)` gives the jobs of other workflows the test failed in, with their
    histories: weaker evidence for a first failure here (`bot.across_jobs`).
    """
    when = run.created_at.date()
    current = RunRef(run.id, run.attempt, run.head_sha, run.created_at)
    history_cache: dict[tuple[str, str], TestHistory | None] = {}

    def evidence_of(failure: TestFailure, job: str) -> Evidence | None:
        if history is None:
            return None
        key = (failure.test, job)
        if key not in history_cache:
            history_cache[key] = history(failure.test, job)
        found = history_cache[key]
        if found is None:
            return None
        return assess(failure.test, job, failure.symptom, current, found, registry)

    def history_of(test: str, job: str) -> TestHistory | None:
        """The cache `evidence_of` fills: a sibling job's history is often another failure's own."""
        key = (test, job)
        if history is not None and key not in history_cache:
            history_cache[key] = history(test, job)
        return history_cache.get(key)

    rate_cache: dict[tuple[str, str | None], FlakeRate | None] = {}

    def rate_of(test: str, job: str | None) -> FlakeRate | None:
        if rates is None:
            return None
        key = (test, job)
        if key not in rate_cache:
            rate_cache[key] = rates(test, job)
        return rate_cache[key]

    # Which jobs of this run each test failed in: a test failing in many jobs at once is a
    # shared cause (often a regression), not independent flakes.
    failing_jobs: dict[str, list[str]] = defaultdict(list)
    for item in jobs:
        for failure in item.report.failures if item.report else ():
            if not failure.ignored and item.job.name not in failing_jobs[failure.test]:
                failing_jobs[failure.test].append(item.job.name)

    staged: list[tuple[JobInput, bool, list[Finding], list[Finding]]] = []
    for item in jobs:
        failed = item.job.conclusion in FAILED_CONCLUSIONS
        counted: list[Finding] = []
        ignored: list[Finding] = []
        for failure in item.report.failures if item.report else ():
            match = registry.match(
                item.job.name,
                failure.test,
                symptom=failure.symptom or None,
                when=when,
                runner=failure.runner,
                ignored=failure.ignored,
            )
            evidence = evidence_of(failure, item.job.name)
            in_jobs = len(failing_jobs.get(failure.test, ()))
            verdict = _verdict(match, failure, in_jobs, evidence, on_default_branch)
            across = _across_of(verdict, match, failure, evidence, current, history_of, registry,
                                other_workflows)  # fmt: skip
            verdict = _across_verdict(verdict, match, failure, in_jobs, evidence, across)
            finding = Finding(
                job=item.job,
                failure=failure,
                match=match,
                rate=rate_of(failure.test, None),
                job_rate=rate_of(failure.test, item.job.name),
                patch=None,
                verdict=verdict,
                failed_in_jobs=tuple(failing_jobs.get(failure.test, ())) if not failure.ignored else (),
                evidence=evidence,
                across=across,
            )
            (ignored if failure.ignored else counted).append(finding)
        staged.append((item, failed or bool(counted), counted, ignored))

    candidates, notes = propose_patches([f for _, _, counted, _ in staged for f in counted], patch_policy)

    triaged: list[JobTriage] = []
    for item, failed, counted, ignored in staged:
        findings = tuple(counted)
        report = item.report
        triaged.append(
            JobTriage(
                job=item.job,
                log_state=item.log_state if report is None else LogState.PARSED,
                state=_job_state(item, failed, [f.failure for f in counted]),
                failed=failed,
                complete=report.complete if report else False,
                findings=findings,
                ignored=tuple(ignored),
                problems=report.problems if report else (),
                failed_step=report.failed_step if report else None,
            )
        )
    return TriageReport(
        run=run,
        jobs=tuple(triaged),
        counts=_count(triaged),
        notes=notes,
        has_history=rates is not None or history is not None,
        candidates=candidates,
    )


def _count(jobs: Sequence[JobTriage]) -> Counts:
    """Every finding's verdict (the hidden regressions among the ignored ones too), and one
    failure per job that failed without a failing test or with another failure beside them."""
    not_test = sum(
        1 for j in jobs if j.state in (JobState.NOT_A_TEST_FAILURE, JobState.UNEXPLAINED) or j.other_failure
    )
    return Counts.of(
        (f.verdict for j in jobs for f in (*j.findings, *j.ignored)),
        jobs_failed=sum(1 for j in jobs if j.failed),
        not_a_test_failure=not_test,
        unreadable_logs=sum(1 for j in jobs if j.state is JobState.LOG_UNREADABLE),
        problems=sum(len(j.problems) for j in jobs),
    )


def check_conclusion(report: TriageReport) -> str:
    """The check run's conclusion: red only when something needs a look.

    The workflow run itself is already red; the check adds "neutral" when every failure is a
    known flake failing as usual, or when a log could not be fetched (saying "unknown", not
    "fine"). A log that was fetched but is no log (empty, binary) needs a look: it is broken.
    """
    if report.counts.needs_look or any(j.failed and j.report_unreadable for j in report.jobs):
        return "failure"
    if report.counts.jobs_failed or report.run_unexplained:
        return "neutral"
    return "success"

