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

Over 500 lines for now: the judge, the report it returns (`Counts`, the headline) and the
patch rules read each other closely. The verdicts themselves are data, one row each, in
`bot.verdicts`.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from bot.across_jobs import AcrossJobs, OtherWorkflows, across_jobs
from bot.errors import FlakeBotError
from bot.evidence import Evidence, RunRef, TestHistory, assess
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
from bot.registry import Listing, Match, Registry
from bot.registry.model import Entry
from bot.verdicts import ADVICE, LABELS, NOT_A_FLAKE, SETTLED, Kind
from bot.verdicts import FLAKES as FLAKES  # the judge's callers ask it which verdicts are flakes

RatesLookup = Callable[[str, str | None], FlakeRate | None]
HistoryLookup = Callable[[str, str], TestHistory | None]
Patcher = Callable[[str, Sequence[str]], str | None]

#: Job conclusions that mean the job failed (as the jobs API reports them).
FAILED_CONCLUSIONS = frozenset({"failure", "timed_out", "startup_failure"})

#: A known flaky test failing in this many jobs of one run is no longer reassuring.
WIDESPREAD_JOBS = 3
#: A known flaky test that also failed in this many executions in a row before this run is no
#: longer reassuring either: at a few percent, three failures in a row is a regression's pattern.
KNOWN_FLAKE_STREAK = 2


class JobState(StrEnum):
    """What flake-bot could say about one job as a whole."""

    PASSED = "passed"
    TEST_FAILURES = "test-failures"
    NOT_A_TEST_FAILURE = "not-a-test-failure"
    UNEXPLAINED = "unexplained"
    LOG_UNREADABLE = "log-unreadable"


#: Problems that failed (part of) a job by themselves. Next to test failures they still need a
#: look: a known flake cannot explain a build error or a crashed runner in the same job.
#: (A truncated log or a cancelled job already makes the report incomplete instead.)
FAILURE_PROBLEMS = frozenset({ProblemKind.BUILD, ProblemKind.RUNNER_ERROR, ProblemKind.STEP})

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
    evidence: Evidence | None = None
    across: AcrossJobs | None = None  # its record in the other jobs (`bot.across_jobs`), when read

    @property
    def needs_look(self) -> bool:
        return self.kind not in SETTLED

    @property
    def advice(self) -> str:
        return ADVICE[self.kind]


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
    def report_unreadable(self) -> bool:
        """The log was fetched but holds nothing readable (see `JobReport.unreadable`)."""
        unreadable = any(p.kind is ProblemKind.UNREADABLE for p in self.problems)
        return self.state is JobState.LOG_UNREADABLE and unreadable

    @property
    def hidden(self) -> tuple[Finding, ...]:
        """Ignored failures of a test failing in every run since an earlier one: failures again."""
        return tuple(f for f in self.ignored if f.kind is Kind.HIDDEN_REGRESSION)

    @property
    def other_failure(self) -> bool:
        """Failing tests and, besides them, a build error, runner error or failed step."""
        return self._other_failure()

    def _other_failure(self) -> bool:
        return self.state is JobState.TEST_FAILURES and any(p.kind in FAILURE_PROBLEMS for p in self.problems)


@dataclass(frozen=True)
class PatchCandidate:
    """A test the evidence says may be excluded in these jobs; the caller writes the patch."""

    test: str
    jobs: tuple[str, ...]
    evidence: tuple[FlakeRate, ...]


class NoteReason(StrEnum):
    """Why flake-bot proposes no patch where a reader might expect one."""

    PATCH_REFUSED = "patch-refused"  # the patch writer refused: `detail` says why
    CROWDED_JOB = "crowded-job"  # `count` unlisted failures in `job` at once: a shared cause
    NOT_A_FLAKE = "not-a-flake"  # often enough, but the verdict `kind` is no flake's
    STILL_FAILING = "still-failing"  # failed in its latest execution too, no pass since
    RECENT = "recent"  # its failures crowd into its latest executions: it may be newly flaky


@dataclass(frozen=True)
class Note:
    """Something said below the verdicts, as a reason and its fields (renderers word it).

    `test` and `job` come from logs and workflow files, so they stay fields: a sentence with
    them formatted in could only be escaped as a whole.
    """

    reason: NoteReason
    test: str | None = None
    job: str | None = None
    count: int = 0
    kind: Kind | None = None
    detail: str = ""


@dataclass(frozen=True)
class SuggestedPatch:
    """A ready-to-apply patch adding one test to upstream's flaky list for some jobs."""

    test: str
    jobs: tuple[str, ...]
    patch: str
    evidence: tuple[FlakeRate, ...]


@dataclass(frozen=True)
class Counts:
    """The numbers behind the headline; `failures` = `known_flakes` + `unlisted_flakes` +
    `on_default_branch` + `needs_look`."""

    failures: int = 0
    jobs_failed: int = 0
    known_flakes: int = 0
    needs_look: int = 0
    new: int = 0
    new_symptom: int = 0
    widespread: int = 0
    flaky_elsewhere: int = 0
    unlisted_flakes: int = 0  # proven flaky + unlisted flakes
    proven_flaky: int = 0
    on_default_branch: int = 0
    regressions: int = 0
    new_way: int = 0
    first_failures: int = 0
    several_jobs: int = 0
    failed_before: int = 0
    flaky_other_jobs: int = 0
    not_a_test_failure: int = 0
    unreadable_logs: int = 0
    ignored: int = 0
    problems: int = 0
    newly_flaky: int = 0
    hidden_regressions: int = 0  # ignored failures of a test failing in every run since an earlier one


@dataclass(frozen=True)
class TriageReport:
    """The verdicts for one run attempt, in job order, plus the patches worth proposing."""

    run: RunInfo
    jobs: tuple[JobTriage, ...]
    counts: Counts
    patches: tuple[SuggestedPatch, ...] = ()
    notes: tuple[Note, ...] = field(default=())
    has_history: bool = False  # False: no history store was consulted, so no rates at all
    candidates: tuple[PatchCandidate, ...] = ()  # patches to write (see `write_patches`)

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for j in self.jobs for f in (*j.findings, *j.hidden))

    @property
    def failed_jobs(self) -> tuple[JobTriage, ...]:
        return tuple(j for j in self.jobs if j.failed)

    @property
    def headline(self) -> str:
        """E.g. "3 failures in 2 jobs: 2 known flakes, 1 needs a look"; numbers and fixed words only."""
        c = self.counts
        if self.run_unexplained:
            return f"No failed job found, yet the run's conclusion is {self.run.conclusion}"
        if c.jobs_failed == 0 and c.hidden_regressions:
            hidden = _n(c.hidden_regressions, "ignored failure")
            return f"{hidden} of a test failing in every run: needs a look"
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
        if c.unlisted_flakes:
            parts.append(_n(c.unlisted_flakes, "unlisted flake"))
        if c.flaky_other_jobs:
            parts.append(f"{c.flaky_other_jobs:,} flaky in other jobs")
        if c.on_default_branch:
            parts.append(f"{c.on_default_branch:,} also failing on the default branch")
        if c.needs_look:
            parts.append(f"{c.needs_look} need{'s' if c.needs_look == 1 else ''} a look")
        text = f"{_n(c.failures, 'failure')} in {_n(read, 'job')}: " + ", ".join(parts)
        if c.unreadable_logs:
            text += f"; could not read {_n(c.unreadable_logs, 'log')}"
        return text

    @property
    def breakdown(self) -> list[str]:
        """What the failures that need a look are, e.g. ["1 new", "1 not a test failure"]."""
        return self._breakdown()

    def _breakdown(self) -> list[str]:
        # A plain method, so that mutation testing reaches the labels (mutmut skips properties).
        c = self.counts
        parts = [
            (c.regressions, "failing in every run since an earlier one"),
            (c.new_way, "failing in a new way"),
            (c.first_failures, "first failure here"),
            (c.several_jobs, "failing in several jobs at once"),
            (c.failed_before, "failed before in rows, not like a flake"),
            (c.newly_flaky, "newly flaky since an earlier run"),
            (c.hidden_regressions, "listed, but failing in every run since an earlier one"),
            (c.new, "new, with no history to judge by"),
            (c.new_symptom, "known flaky failing in a new way"),
            (c.widespread, "known flaky failing in several jobs at once"),
            (c.flaky_elsewhere, "flaky elsewhere but not listed for this job"),
            (c.not_a_test_failure, "not a test failure"),
        ]
        return [f"{n:,} {words}" for n, words in parts if n]

    @property
    def run_unexplained(self) -> bool:
        """The run did not succeed but no job failed (jobs cancelled, or missing from the API)."""
        return self._run_unexplained()

    def _run_unexplained(self) -> bool:
        return self.counts.jobs_failed == 0 and self.run.conclusion in (*FAILED_CONCLUSIONS, "cancelled")

    @property
    def reassuring(self) -> bool:
        """True only when every failure was read and is a flake with evidence (the registry's, or
        the history's), so a re-run should clear it."""
        return self._reassuring()

    def _reassuring(self) -> bool:
        c = self.counts
        return (
            c.needs_look == 0
            and c.on_default_branch == 0
            and c.unreadable_logs == 0
            and not self.run_unexplained
            and all(j.complete for j in self.failed_jobs)
        )

    @property
    def settled(self) -> bool:
        """Nothing needs a look and every log was read (some failures may be the default branch's)."""
        return self._settled()

    def _settled(self) -> bool:
        c = self.counts
        return (
            c.needs_look == 0
            and c.unreadable_logs == 0
            and not self.run_unexplained
            and all(j.complete for j in self.failed_jobs)
        )


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _kind(
    match: Match, failure: TestFailure, failed_in_jobs: int, evidence: Evidence | None, on_default: bool
) -> Kind:
    """The verdict, strongest warning first: a reassuring verdict only when nothing contradicts it.

    `on_default` is True when the triaged run is a push to the default branch (or nothing says
    otherwise): a streak in the default branch's history is then this run's own regression,
    while for a pull request it means the test is failing there already.
    """
    if failure.ignored:
        return _ignored_kind(evidence)
    streak = evidence.streak.failures if evidence is not None else 0
    streak_kind = (
        Kind.ON_DEFAULT_BRANCH
        if evidence is not None and evidence.default_branch and not on_default
        else Kind.REGRESSION
    )
    if match.listing is Listing.KNOWN_FLAKE:
        patterns = any(e.symptoms for e in match.entries)
        if match.symptom_mismatch or (evidence is not None and evidence.new_way and not patterns):
            return Kind.NEW_SYMPTOM
        # Independent flakes at ~1% per job almost never hit several jobs of one run together;
        # a shared cause (often a regression) does.
        if failed_in_jobs >= WIDESPREAD_JOBS:
            return Kind.WIDESPREAD
        return streak_kind if streak >= KNOWN_FLAKE_STREAK else Kind.KNOWN_FLAKE
    if evidence is None or (evidence.known + evidence.unknown == 0 and evidence.same_commit_pass is None):
        return Kind.FLAKY_ELSEWHERE if match.listing is Listing.FLAKY_ELSEWHERE else Kind.NEW
    if evidence.new_way:
        return Kind.NEW_WAY
    if newly_flaky(evidence):
        return Kind.NEWLY_FLAKY
    if evidence.same_commit_pass is not None:
        return Kind.PROVEN_FLAKY
    if streak:
        return streak_kind
    if not evidence.earlier_failures:
        return Kind.FIRST_FAILURE
    if failed_in_jobs >= WIDESPREAD_JOBS:
        return Kind.SEVERAL_JOBS
    if evidence.intermittent or evidence.flipped_commits:
        return Kind.UNLISTED_FLAKE
    return Kind.FAILED_BEFORE


#: Verdicts a test's record in other jobs may turn into "flaky in other jobs, first time here":
#: it has not failed in this job before (or this job has no history yet), and nothing warned.
FIRST_HERE = frozenset({Kind.FIRST_FAILURE, Kind.NEW, Kind.FLAKY_ELSEWHERE})


def _across_of(
    kind: Kind,
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
    if kind not in FIRST_HERE or evidence is None:
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


def _across_kind(
    kind: Kind,
    match: Match,
    failure: TestFailure,
    failed_in_jobs: int,
    evidence: Evidence | None,
    across: AcrossJobs | None,
) -> Kind:
    """The cross-job rule, after `_kind`: a first failure here of a test that is a flake in other
    jobs, failing there alone between passes the way it fails now and passing since (or on the
    flaky list for them), is "flaky in other jobs, first time here": a re-run, no patch (the
    patch rule stays per job). Every warning still wins: a streak here, even of one, or of
    unknown outcomes (so two failures in a row here are a likely regression), a new way of
    failing, a sibling failing in rows, 3 or more jobs of this run at once (several jobs)."""
    if kind not in FIRST_HERE or evidence is None or across is None or not across.flaky:
        return kind
    # (no earlier failure here: FIRST_HERE says so; a new way is checked again for a job without
    # executions, which `_kind` calls "new" before looking at symptoms)
    if evidence.new_way or evidence.streak.failures or evidence.streak.unknown:
        return kind
    if failure.runner is not Runner.RUN_TESTS or match.should_not_have_failed:
        return kind
    if failed_in_jobs >= WIDESPREAD_JOBS:
        return Kind.SEVERAL_JOBS
    return Kind.FLAKY_OTHER_JOBS


#: Failures in a row, in the logs that were read, that make an ignored test's streak whatever
#: the unknown outcomes between them: at a flake's few percent, three in a row happen by chance
#: about once in 10,000 read logs.
IGNORED_STREAK_READ = 3


def _ignored_kind(evidence: Evidence | None) -> Kind:
    """An ignored failure is a flake's until the test fails in every run: then the ignore list
    hides a regression. Green jobs' logs are often not read (only a sync with --scan-green reads
    them), so a listed test's outcome there is unknown: a streak of `KNOWN_FLAKE_STREAK` counts
    when its failures are at least twice its unknown outcomes, one of `IGNORED_STREAK_READ`
    whatever the unknowns."""
    streak = evidence.streak if evidence is not None else None
    if streak is None or streak.failures < KNOWN_FLAKE_STREAK:
        return Kind.IGNORED
    if 2 * streak.unknown <= streak.failures or streak.failures >= IGNORED_STREAK_READ:
        return Kind.HIDDEN_REGRESSION
    return Kind.IGNORED


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
    patch_policy: PatchPolicy = PatchPolicy(),
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
            kind = _kind(match, failure, len(failing_jobs.get(failure.test, ())), evidence, on_default_branch)
            across = _across_of(kind, match, failure, evidence, current, history_of, registry,
                                other_workflows)  # fmt: skip
            kind = _across_kind(kind, match, failure, len(failing_jobs.get(failure.test, ())), evidence,
                                across)  # fmt: skip
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
                evidence=evidence,
                across=across,
            )
            (ignored if failure.ignored else counted).append(finding)
        staged.append((item, failed or bool(counted), counted, ignored))

    candidates, notes = _propose_patches([f for _, _, counted, _ in staged for f in counted], patch_policy)

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


def patch_worthy(finding: Finding, policy: PatchPolicy) -> bool:
    """Whether the policy lets flake-bot propose excluding this failure's test in this job."""
    steady = not looks_persistent(finding.job_rate) and not rising(finding)
    return _has_flake_evidence(finding, policy) and steady


def _has_flake_evidence(finding: Finding, policy: PatchPolicy) -> bool:
    """Only a test the history shows flaky in this very job (passed on a commit it failed on, or
    failing now and then, alone, the usual way) may be excluded: known flakes are already listed,
    and a new way of failing, a streak, a failure on the default branch or in several jobs at
    once point to a regression. A test upstream keeps out for other reasons should not have run.
    The rate must be in this very job too, because the patch hides failures in this job.
    """
    return finding.kind in (Kind.PROVEN_FLAKY, Kind.UNLISTED_FLAKE) and _rate_suffices(finding, policy)


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


def _propose_patches(
    findings: Sequence[Finding], policy: PatchPolicy
) -> tuple[tuple[PatchCandidate, ...], tuple[Note, ...]]:
    if not policy.enabled:
        return (), ()
    by_test: dict[str, dict[str, FlakeRate]] = defaultdict(dict)
    notes: list[Note] = []
    unlisted = Counter(f.job.name for f in findings if f.match.listing is not Listing.KNOWN_FLAKE)
    crowded = sorted(job for job, n in unlisted.items() if n > policy.max_tests_in_job)
    notes.extend(Note(NoteReason.CROWDED_JOB, job=job, count=unlisted[job]) for job in crowded)
    for finding in findings:
        test, job = finding.failure.test, finding.job.name
        if finding.kind in NOT_A_FLAKE and job not in crowded and _rate_suffices(finding, policy):
            notes.append(Note(NoteReason.NOT_A_FLAKE, test=test, job=job, kind=finding.kind))
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


def _count(jobs: Sequence[JobTriage]) -> Counts:
    findings = [f for j in jobs for f in j.findings]
    by_kind: dict[Kind, int] = defaultdict(int)
    for f in findings:
        by_kind[f.kind] += 1
    not_test = sum(
        1 for j in jobs if j.state in (JobState.NOT_A_TEST_FAILURE, JobState.UNEXPLAINED) or j.other_failure
    )
    hidden = sum(len(j.hidden) for j in jobs)
    needs = sum(n for kind, n in by_kind.items() if kind not in SETTLED) + not_test + hidden
    return Counts(
        failures=len(findings) + not_test + hidden,
        jobs_failed=sum(1 for j in jobs if j.failed),
        known_flakes=by_kind[Kind.KNOWN_FLAKE],
        needs_look=needs,
        new=by_kind[Kind.NEW],
        new_symptom=by_kind[Kind.NEW_SYMPTOM],
        widespread=by_kind[Kind.WIDESPREAD],
        flaky_elsewhere=by_kind[Kind.FLAKY_ELSEWHERE],
        unlisted_flakes=by_kind[Kind.UNLISTED_FLAKE] + by_kind[Kind.PROVEN_FLAKY],
        proven_flaky=by_kind[Kind.PROVEN_FLAKY],
        on_default_branch=by_kind[Kind.ON_DEFAULT_BRANCH],
        regressions=by_kind[Kind.REGRESSION],
        new_way=by_kind[Kind.NEW_WAY],
        first_failures=by_kind[Kind.FIRST_FAILURE],
        several_jobs=by_kind[Kind.SEVERAL_JOBS],
        failed_before=by_kind[Kind.FAILED_BEFORE],
        flaky_other_jobs=by_kind[Kind.FLAKY_OTHER_JOBS],
        not_a_test_failure=not_test,
        unreadable_logs=sum(1 for j in jobs if j.state is JobState.LOG_UNREADABLE),
        ignored=sum(len(j.ignored) for j in jobs),
        problems=sum(len(j.problems) for j in jobs),
        newly_flaky=by_kind[Kind.NEWLY_FLAKY],
        hidden_regressions=hidden,
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
