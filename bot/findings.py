"""What triage says about one run attempt: per job its state and findings (one failing test each,
with its verdict and the evidence behind it), the notes below them and the patches proposed.

Plain data read by the renderers and the publishers; the judge that fills it is `bot.triage`,
the patch rules `bot.patch_rules`. Its few properties answer what every surface asks the same
way ("needs a look?", "reassuring?"), so that no renderer decides it on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.across_jobs import AcrossJobs
from bot.evidence import Evidence
from bot.records import FlakeRate, JobInfo, JobReport, LogState, Problem, ProblemKind, RunInfo, TestFailure
from bot.registry import Match
from bot.verdicts import FLAKES, ROWS, SETTLED, Counts, Verdict

#: Job conclusions that mean the job failed (as the jobs API reports them).
FAILED_CONCLUSIONS = frozenset({"failure", "timed_out", "startup_failure"})


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
class JobInput:
    """One job of the run with what was read from its log (`report` None when not read)."""

    job: JobInfo
    log_state: LogState
    report: JobReport | None


@dataclass(frozen=True)
class Finding:
    """One failing test in one job: the registry's answer, the history behind it, the verdict."""

    job: JobInfo
    failure: TestFailure
    match: Match
    rate: FlakeRate | None
    job_rate: FlakeRate | None
    patch: str | None
    verdict: Verdict
    failed_in_jobs: tuple[str, ...] = ()
    evidence: Evidence | None = None
    across: AcrossJobs | None = None  # its record in the other jobs (`bot.across_jobs`), when read

    @property
    def needs_look(self) -> bool:
        return self.verdict not in SETTLED


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
        return tuple(f for f in self.ignored if f.verdict is Verdict.HIDDEN_REGRESSION)

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
    NOT_A_FLAKE = "not-a-flake"  # often enough, but the `verdict` is no flake's
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
    verdict: Verdict | None = None
    detail: str = ""


@dataclass(frozen=True)
class SuggestedPatch:
    """A ready-to-apply patch adding one test to upstream's flaky list for some jobs."""

    test: str
    jobs: tuple[str, ...]
    patch: str
    evidence: tuple[FlakeRate, ...]


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
        failed = (v for v, n in self.counts.verdicts.items() if n and ROWS[v].failure)
        return self._settled() and all(v in FLAKES for v in failed)

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
