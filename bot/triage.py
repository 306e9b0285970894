"""Decide, for every failure of one workflow run, what a reader should think of it.

This is the pure heart of the `triage` command: parsed job reports + the registry + historical
rates in, a `TriageReport` out, with no I/O. Its rules lean one way on purpose: the worst thing
flake-bot can do is call a real regression "flaky", so a failure is reassuring ("known flake
here") only when the registry covered this test in this job on the run's date *and* its symptom
does not contradict the known ones; an unreadable log is "could not read the log", never "no
failures"; and a job that failed without a failure flake-bot can see is said to have failed for
a reason it could not find.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from bot.errors import FlakeBotError
from bot.records import (
    FlakeRate,
    JobInfo,
    JobReport,
    LogState,
    Problem,
    ProblemKind,
    RunInfo,
    Runner,
    TestFailure,
)
from bot.registry import Match, Registry, Verdict

RatesLookup = Callable[[str, str | None], FlakeRate | None]
Patcher = Callable[[str, Sequence[str]], str | None]

#: Job conclusions that mean the job failed (as the jobs API reports them).
FAILED_CONCLUSIONS = frozenset({"failure", "timed_out", "startup_failure"})

#: A known flaky test failing in this many jobs of one run is no longer reassuring.
WIDESPREAD_JOBS = 3


class Kind(StrEnum):
    """The verdict on one failing test, as flake-bot states it to a reader."""

    KNOWN_FLAKE = "known-flake"
    NEW_SYMPTOM = "known-flake-new-symptom"
    WIDESPREAD = "known-flake-widespread"
    FLAKY_ELSEWHERE = "flaky-elsewhere"
    NEW = "new"
    IGNORED = "ignored"


LABELS: dict[Kind, str] = {
    Kind.KNOWN_FLAKE: "known flake here",
    Kind.NEW_SYMPTOM: "known flaky test failing in a new way — may be a real regression",
    Kind.WIDESPREAD: "known flaky test failing in several jobs at once — may be a real regression",
    Kind.FLAKY_ELSEWHERE: "flaky elsewhere",
    Kind.NEW: "new",
    Kind.IGNORED: "ignored by run-tests.py (known flaky)",
}


class JobState(StrEnum):
    """What flake-bot could say about one job as a whole."""

    PASSED = "passed"
    TEST_FAILURES = "test-failures"
    NOT_A_TEST_FAILURE = "not-a-test-failure"
    UNEXPLAINED = "unexplained"
    LOG_UNREADABLE = "log-unreadable"


PROBLEM_WORDS: dict[ProblemKind, str] = {
    ProblemKind.BUILD: "build error",
    ProblemKind.RUNNER_ERROR: "test runner error",
    ProblemKind.STEP: "a step failed",
    ProblemKind.TRUNCATED: "log truncated or not fully understood",
    ProblemKind.CANCELLED: "cancelled",
}

#: Problems that failed (part of) a job by themselves. Next to test failures they still need a
#: look: a known flake cannot explain a build error or a crashed runner in the same job.
#: (A truncated log or a cancelled job already makes the report incomplete instead.)
FAILURE_PROBLEMS = frozenset({ProblemKind.BUILD, ProblemKind.RUNNER_ERROR, ProblemKind.STEP})

_LOG_STATE_WORDS: dict[LogState, str] = {
    LogState.EXPIRED: "the log has expired (GitHub's log retention ran out)",
    LogState.MISSING: "the job has no log",
    LogState.NOT_FETCHED: "the log was not downloaded",
    LogState.PARSED: "the log was not parsed",
}


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


@dataclass(frozen=True)
class JobInput:
    """One job of the run with what was read from its log (`report` None when not read)."""

    job: JobInfo
    log_state: LogState
    report: JobReport | None


@dataclass(frozen=True)
class Finding:
    """One failing test in one job, with the registry's answer and the history behind it."""

    job: JobInfo
    failure: TestFailure
    match: Match
    rate: FlakeRate | None
    job_rate: FlakeRate | None
    patch: str | None
    verdict_label: str
    kind: Kind
    failed_in_jobs: tuple[str, ...] = ()

    @property
    def needs_look(self) -> bool:
        return self.kind not in (Kind.KNOWN_FLAKE, Kind.IGNORED)


@dataclass(frozen=True)
class JobTriage:
    """Everything said about one job: its state, its failures and what else went wrong."""

    job: JobInfo
    log_state: LogState
    state: JobState
    failed: bool
    complete: bool
    findings: tuple[Finding, ...] = ()
    ignored: tuple[Finding, ...] = ()
    problems: tuple[Problem, ...] = ()
    failed_step: str | None = None

    @property
    def status(self) -> str:
        """One sentence about the job as a whole, from trusted words only (no log text)."""
        if self.state is JobState.LOG_UNREADABLE:
            return "could not read the log: " + _LOG_STATE_WORDS[self.log_state]
        if self.state is JobState.UNEXPLAINED:
            return "failed for a reason flake-bot could not find"
        if self.state is JobState.NOT_A_TEST_FAILURE:
            kinds = _unique(PROBLEM_WORDS[p.kind] for p in self.problems)
            return "not a test failure: " + ", ".join(kinds)
        if self.state is JobState.PASSED:
            return "passed"
        n = len(self.findings)
        text = f"{n} failing test{'s' if n != 1 else ''}"
        if self.other_failure:
            kinds = _unique(PROBLEM_WORDS[p.kind] for p in self.problems if p.kind in FAILURE_PROBLEMS)
            text += "; also failed for a reason that is not a test failure: " + ", ".join(kinds)
        if not self.complete:
            text += "; the log was not fully understood, so there may be more"
        return text

    @property
    def other_failure(self) -> bool:
        """Failing tests and, besides them, a build error, runner error or failed step."""
        return self.state is JobState.TEST_FAILURES and any(p.kind in FAILURE_PROBLEMS for p in self.problems)


@dataclass(frozen=True)
class SuggestedPatch:
    """A ready-to-apply patch adding one test to upstream's flaky list for some jobs."""

    test: str
    jobs: tuple[str, ...]
    patch: str
    evidence: tuple[FlakeRate, ...]


@dataclass(frozen=True)
class Counts:
    """The numbers behind the headline; `failures` = `known_flakes` + `needs_look`."""

    failures: int = 0
    jobs_failed: int = 0
    known_flakes: int = 0
    needs_look: int = 0
    new: int = 0
    new_symptom: int = 0
    widespread: int = 0
    flaky_elsewhere: int = 0
    not_a_test_failure: int = 0
    unreadable_logs: int = 0
    ignored: int = 0
    problems: int = 0


@dataclass(frozen=True)
class TriageReport:
    """The verdicts for one run attempt, in job order, plus the patches worth proposing."""

    run: RunInfo
    jobs: tuple[JobTriage, ...]
    counts: Counts
    patches: tuple[SuggestedPatch, ...] = ()
    notes: tuple[str, ...] = field(default=())
    has_history: bool = False  # False: no history store was consulted, so no rates at all

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for j in self.jobs for f in j.findings)

    @property
    def failed_jobs(self) -> tuple[JobTriage, ...]:
        return tuple(j for j in self.jobs if j.failed)

    @property
    def headline(self) -> str:
        """E.g. "3 failures in 2 jobs: 2 known flakes, 1 needs a look"; numbers and fixed words only."""
        c = self.counts
        if self.run_unexplained:
            return f"No failed job found, yet the run's conclusion is {self.run.conclusion}"
        if c.jobs_failed == 0:
            text = "No failures"
            if c.ignored:
                text += f": {_n(c.ignored, 'known-flaky failure')} ignored by run-tests.py"
            return text
        if c.failures == 0:
            return f"{_n(c.jobs_failed, 'failed job')}: could not read {_n(c.unreadable_logs, 'log')}"
        read = c.jobs_failed - c.unreadable_logs
        parts = []
        if c.known_flakes:
            parts.append(_n(c.known_flakes, "known flake"))
        if c.needs_look:
            parts.append(f"{c.needs_look} need{'s' if c.needs_look == 1 else ''} a look")
        text = f"{_n(c.failures, 'failure')} in {_n(read, 'job')}: " + ", ".join(parts)
        if c.unreadable_logs:
            text += f"; could not read {_n(c.unreadable_logs, 'log')}"
        return text

    @property
    def breakdown(self) -> list[str]:
        """What the failures that need a look are, e.g. ["1 new", "1 not a test failure"]."""
        c = self.counts
        parts = [
            (c.new, "new"),
            (c.new_symptom, "known flaky failing in a new way"),
            (c.widespread, "known flaky failing in several jobs at once"),
            (c.flaky_elsewhere, "flaky elsewhere but not listed for this job"),
            (c.not_a_test_failure, "not a test failure"),
        ]
        return [f"{n:,} {words}" for n, words in parts if n]

    @property
    def run_unexplained(self) -> bool:
        """The run did not succeed but no job failed (jobs cancelled, or missing from the API)."""
        return self.counts.jobs_failed == 0 and self.run.conclusion in (*FAILED_CONCLUSIONS, "cancelled")

    @property
    def reassuring(self) -> bool:
        """True only when every failure was read and is a known flake failing as it usually does."""
        c = self.counts
        return (
            c.needs_look == 0
            and c.unreadable_logs == 0
            and not self.run_unexplained
            and all(j.complete for j in self.failed_jobs)
        )


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _unique(items: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def _kind(match: Match, failure: TestFailure, failed_in_jobs: int) -> Kind:
    if failure.ignored:
        return Kind.IGNORED
    if match.verdict is Verdict.KNOWN_FLAKE:
        if match.symptom_mismatch:
            return Kind.NEW_SYMPTOM
        # Independent flakes at ~1% per job almost never hit several jobs of one run together;
        # a shared cause (often a regression) does.
        return Kind.WIDESPREAD if failed_in_jobs >= WIDESPREAD_JOBS else Kind.KNOWN_FLAKE
    if match.verdict is Verdict.FLAKY_ELSEWHERE:
        return Kind.FLAKY_ELSEWHERE
    return Kind.NEW


def _job_state(job: JobInput, failed: bool, counted: Sequence[TestFailure]) -> JobState:
    if job.report is None:
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
    patch_policy: PatchPolicy = PatchPolicy(),
    patcher: Patcher | None = None,
) -> TriageReport:
    """Judge every failure of one run attempt.

    `rates(test, job)` answers from the history store (job None = across all jobs) and may be
    absent; `patcher(test, jobs)` writes the exclusion patch (the registry's patch writer).
    """
    when = run.created_at.date()
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
            kind = _kind(match, failure, len(failing_jobs.get(failure.test, ())))
            finding = Finding(
                job=item.job,
                failure=failure,
                match=match,
                rate=rate_of(failure.test, None),
                job_rate=rate_of(failure.test, item.job.name),
                patch=None,
                verdict_label=LABELS[kind],
                kind=kind,
                failed_in_jobs=tuple(failing_jobs.get(failure.test, ())) if not failure.ignored else (),
            )
            (ignored if failure.ignored else counted).append(finding)
        staged.append((item, failed or bool(counted), counted, ignored))

    patches, notes = _propose_patches(
        [f for _, _, counted, _ in staged for f in counted], patch_policy, patcher
    )
    patch_for = {(job, p.test): p.patch for p in patches for job in p.jobs}

    triaged: list[JobTriage] = []
    for item, failed, counted, ignored in staged:
        findings = tuple(replace(f, patch=patch_for.get((f.job.name, f.failure.test))) for f in counted)
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
        patches=patches,
        notes=notes,
        has_history=rates is not None,
    )


def patch_worthy(finding: Finding, policy: PatchPolicy) -> bool:
    """Whether the policy lets flake-bot propose excluding this failure's test in this job."""
    return _has_flake_evidence(finding, policy) and not looks_persistent(finding.job_rate)


def _has_flake_evidence(finding: Finding, policy: PatchPolicy) -> bool:
    """Known flakes are already listed; a known flaky test failing in a new way may be a regression;
    a test upstream keeps out for other reasons should not have run. Only the rate in this very
    job counts as evidence, because the patch hides failures in this job.
    """
    rate = finding.job_rate
    return (
        policy.enabled
        and finding.kind in (Kind.FLAKY_ELSEWHERE, Kind.NEW)
        and finding.failure.runner is Runner.RUN_TESTS
        and not finding.match.should_not_have_failed
        and len(finding.failed_in_jobs) <= policy.max_jobs_in_run
        and rate is not None
        and rate.executions >= policy.min_executions
        and rate.events >= policy.min_events
        and rate.rate >= policy.min_rate
    )


def looks_persistent(rate: FlakeRate | None) -> bool:
    """A test that also failed in its latest execution before this run has no pass since: that is
    how a regression starts, and excluding it would hide the regression, so no patch is proposed
    however flaky its longer history looks."""
    return rate is not None and rate.events > 0 and rate.since_last == 0


def _propose_patches(
    findings: Sequence[Finding], policy: PatchPolicy, patcher: Patcher | None
) -> tuple[tuple[SuggestedPatch, ...], tuple[str, ...]]:
    if patcher is None or not policy.enabled:
        return (), ()
    by_test: dict[str, dict[str, FlakeRate]] = defaultdict(dict)
    notes: list[str] = []
    unlisted = Counter(f.job.name for f in findings if f.kind in (Kind.NEW, Kind.FLAKY_ELSEWHERE))
    crowded = sorted(job for job, n in unlisted.items() if n > policy.max_tests_in_job)
    notes.extend(
        f"No patches for {job}: {unlisted[job]} tests that are not known flakes there failed together "
        "in this run; failures that coincide point to a shared cause, not independent flakes."
        for job in crowded
    )
    for finding in findings:
        if (
            not _has_flake_evidence(finding, policy)
            or finding.job_rate is None
            or finding.job.name in crowded
        ):
            continue
        if looks_persistent(finding.job_rate):
            notes.append(
                f"No patch for {finding.failure.test} in {finding.job.name}: it also failed in its "
                "latest execution there before this run, with no pass since. That is how a "
                "regression starts, so look at it before excluding it."
            )
            continue
        by_test[finding.failure.test][finding.job.name] = finding.job_rate
    patches: list[SuggestedPatch] = []
    for test, evidence in by_test.items():
        job_names = tuple(evidence)
        try:
            text = patcher(test, job_names)
        except FlakeBotError as exc:
            notes.append(f"No patch for {test}: {exc}")
            continue
        if text:
            patches.append(SuggestedPatch(test, job_names, text, tuple(evidence.values())))
    return tuple(patches), tuple(notes)


def _count(jobs: Sequence[JobTriage]) -> Counts:
    findings = [f for j in jobs for f in j.findings]
    by_kind: dict[Kind, int] = defaultdict(int)
    for f in findings:
        by_kind[f.kind] += 1
    not_test = sum(
        1 for j in jobs if j.state in (JobState.NOT_A_TEST_FAILURE, JobState.UNEXPLAINED) or j.other_failure
    )
    needs = sum(n for kind, n in by_kind.items() if kind not in (Kind.KNOWN_FLAKE, Kind.IGNORED)) + not_test
    return Counts(
        failures=len(findings) + not_test,
        jobs_failed=sum(1 for j in jobs if j.failed),
        known_flakes=by_kind[Kind.KNOWN_FLAKE],
        needs_look=needs,
        new=by_kind[Kind.NEW],
        new_symptom=by_kind[Kind.NEW_SYMPTOM],
        widespread=by_kind[Kind.WIDESPREAD],
        flaky_elsewhere=by_kind[Kind.FLAKY_ELSEWHERE],
        not_a_test_failure=not_test,
        unreadable_logs=sum(1 for j in jobs if j.state is JobState.LOG_UNREADABLE),
        ignored=sum(len(j.ignored) for j in jobs),
        problems=sum(len(j.problems) for j in jobs),
    )


def check_conclusion(report: TriageReport) -> str:
    """The check run's conclusion: red only when something needs a look.

    The workflow run itself is already red; the check adds "neutral" when every failure is a
    known flake failing as usual, or when nothing could be read (saying "unknown", not "fine").
    """
    if report.counts.needs_look:
        return "failure"
    if report.counts.jobs_failed or report.run_unexplained:
        return "neutral"
    return "success"
