"""Triage decisions: each verdict, and the cases where flake-bot must not reassure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import pytest
from helpers import stable_id
from helpers.histories import intermittent

from bot.errors import InputError
from bot.findings import JobInput, JobState, Note, NoteReason
from bot.patch_rules import PatchPolicy, write_patches
from bot.records import (
    FlakeRate,
    JobInfo,
    JobReport,
    LogState,
    Outcome,
    Problem,
    ProblemKind,
    RunInfo,
    Runner,
    TestFailure,
    TestPass,
)
from bot.registry.model import Entry, JobSpec, Mechanism, Registry
from bot.render.verdict_words import breakdown, headline, label
from bot.render.words import job_status
from bot.triage import check_conclusion, triage
from bot.verdicts import Verdict

REGISTRY = Registry(
    entries=(
        Entry(
            "thread/thread_gc1.py", Mechanism.IGNORE, reason="GC race", flaky=True, since=date(2026, 3, 11)
        ),
        Entry(
            "cmdline/repl_lock.py",
            Mechanism.IGNORE,
            reason="timing",
            flaky=True,
            platforms=("darwin",),
            since=date(2026, 3, 11),
            symptoms=(r"^timeout",),
        ),
        Entry(
            "thread/stress_aes.py",
            Mechanism.EXCLUDE,
            reason="flaky under qemu",
            flaky=True,
            functions=("ci_unix_qemu_arm_run_tests",),
            until=date(2026, 3, 11),
        ),
    ),
    jobs={
        "standard": JobSpec("standard", "linux", functions=("ci_unix_standard_run_tests",)),
        "macos": JobSpec("macos", "darwin", functions=("ci_unix_macos_run_tests",)),
        "qemu_arm": JobSpec("qemu_arm", "linux", functions=("ci_unix_qemu_arm_run_tests",)),
        "nanbox": JobSpec("nanbox", "linux", functions=("ci_unix_nanbox_run_tests",)),
    },
)

RUN = RunInfo(
    id=42,
    attempt=2,
    workflow_name="unix port",
    workflow_path=".github/workflows/ports_unix.yml",
    event="pull_request",
    branch="feature",
    head_sha="0123456789abcdef0123456789abcdef01234567",
    head_repo="someone/micropython",
    created_at=datetime(2026, 6, 1, 12, 0, tzinfo=UTC),
    status="completed",
    conclusion="failure",
    html_url="https://github.com/micropython/micropython/actions/runs/42",
)


def job(name: str, conclusion: str = "failure", job_id: int = 0) -> JobInfo:
    return JobInfo(
        id=job_id or stable_id(name, 10_000),
        run_id=42,
        attempt=2,
        name=name,
        status="completed",
        conclusion=conclusion,
        html_url=f"https://github.com/micropython/micropython/actions/runs/42/job/{stable_id(name, 10_000)}",
    )


def failure(
    test: str, *, ignored: bool = False, symptom: str = "", runner: Runner = Runner.RUN_TESTS
) -> TestFailure:
    return TestFailure(
        test=test,
        runner=runner,
        outcome=Outcome.FAIL,
        ignored=ignored,
        test_pass=TestPass.BYTECODE,
        symptom=symptom,
        diff="-a\n+b\n",
        line=120,
    )


def parsed(
    name: str,
    *failures: TestFailure,
    conclusion: str = "failure",
    problems: Sequence[Problem] = (),
    complete: bool = True,
) -> JobInput:
    return JobInput(
        job(name, conclusion),
        LogState.PARSED,
        JobReport(job=name, complete=complete, failures=tuple(failures), problems=tuple(problems)),
    )


def rate(
    test: str, job_name: str | None, events: int, executions: int, since_last: int | None = 20
) -> FlakeRate:
    return FlakeRate(
        test,
        job_name,
        events,
        executions,
        0.0,
        1.0,
        last_seen=datetime(2026, 5, 1, tzinfo=UTC),
        since_last=since_last,
    )


def test_known_flake_here_is_reassuring() -> None:
    report = triage(RUN, [parsed("standard", failure("thread/thread_gc1.py"))], REGISTRY)
    (finding,) = report.findings
    assert finding.verdict is Verdict.KNOWN_FLAKE
    assert label(finding) == "known flake here"
    assert report.counts.tally("known_flakes") == 1 and report.counts.needs_look == 0
    assert headline(report) == "1 failure in 1 job: 1 known flake"
    assert report.reassuring
    assert check_conclusion(report) == "neutral"


def test_flaky_elsewhere_and_new_need_a_look() -> None:
    report = triage(
        RUN,
        [
            parsed("standard", failure("cmdline/repl_lock.py"), failure("basics/int_big.py")),
            parsed("macos", failure("thread/thread_gc1.py")),
        ],
        REGISTRY,
    )
    kinds = [f.verdict for f in report.findings]
    assert kinds == [Verdict.FLAKY_ELSEWHERE, Verdict.NEW, Verdict.KNOWN_FLAKE]
    assert headline(report) == "3 failures in 2 jobs: 1 known flake, 2 need a look"
    assert not report.reassuring
    assert check_conclusion(report) == "failure"


def test_registry_date_decides_whether_an_exclusion_applies() -> None:
    early = RunInfo(**{**RUN.__dict__, "created_at": datetime(2026, 1, 5, tzinfo=UTC)})
    late = triage(RUN, [parsed("qemu_arm", failure("thread/stress_aes.py"))], REGISTRY)
    old = triage(early, [parsed("qemu_arm", failure("thread/stress_aes.py"))], REGISTRY)
    assert late.findings[0].verdict is Verdict.NEW
    assert old.findings[0].verdict is Verdict.KNOWN_FLAKE


def test_known_flake_with_a_new_symptom_is_not_reassuring() -> None:
    mac = triage(
        RUN, [parsed("macos", failure("cmdline/repl_lock.py", symptom="AssertionError: lock lost"))], REGISTRY
    )
    (finding,) = mac.findings
    assert finding.verdict is Verdict.NEW_SYMPTOM
    assert label(finding) == "known flaky test failing in a new way — may be a real regression"
    assert finding.needs_look
    assert headline(mac) == "1 failure in 1 job: 1 needs a look"
    usual = triage(
        RUN, [parsed("macos", failure("cmdline/repl_lock.py", symptom="timeout after 10 s"))], REGISTRY
    )
    assert usual.findings[0].verdict is Verdict.KNOWN_FLAKE


def test_ignored_failures_are_informational() -> None:
    report = triage(
        RunInfo(**{**RUN.__dict__, "conclusion": "success"}),
        [parsed("standard", failure("thread/thread_gc1.py", ignored=True), conclusion="success")],
        REGISTRY,
    )
    (job_triage,) = report.jobs
    assert job_triage.state is JobState.PASSED and not job_triage.failed
    assert job_triage.findings == ()
    assert [f.verdict for f in job_triage.ignored] == [Verdict.IGNORED]
    c = report.counts
    assert c.failures == 0 and c.jobs_failed == 0 and c.tally("ignored") == 1
    assert headline(report) == "No failures: 1 known-flaky failure ignored by run-tests.py"
    assert check_conclusion(report) == "success"


def test_ignored_failure_beside_a_real_one_does_not_count() -> None:
    report = triage(
        RUN,
        [parsed("standard", failure("thread/thread_gc1.py", ignored=True), failure("basics/int_big.py"))],
        REGISTRY,
    )
    assert report.counts.failures == 1 and report.counts.tally("ignored") == 1
    assert headline(report) == "1 failure in 1 job: 1 needs a look"


@pytest.mark.parametrize("state", [LogState.EXPIRED, LogState.MISSING, LogState.NOT_FETCHED])
def test_unreadable_log_is_never_no_failures(state: LogState) -> None:
    report = triage(RUN, [JobInput(job("standard"), state, None)], REGISTRY)
    (job_triage,) = report.jobs
    assert job_triage.state is JobState.LOG_UNREADABLE
    assert job_status(job_triage).startswith("could not read the log: ")
    assert report.counts.unreadable_logs == 1 and report.counts.jobs_failed == 1
    assert headline(report) == "1 failed job: could not read 1 log"
    assert "No failures" not in headline(report)
    assert not report.reassuring
    assert check_conclusion(report) == "neutral"


def test_unreadable_log_alongside_known_flakes_is_not_reassuring() -> None:
    report = triage(
        RUN,
        [
            parsed("standard", failure("thread/thread_gc1.py")),
            JobInput(job("nanbox"), LogState.EXPIRED, None),
        ],
        REGISTRY,
    )
    assert headline(report) == "1 failure in 1 job: 1 known flake; could not read 1 log"
    assert not report.reassuring


def test_failed_job_with_nothing_found_is_unexplained() -> None:
    report = triage(RUN, [parsed("standard")], REGISTRY)
    (job_triage,) = report.jobs
    assert job_triage.state is JobState.UNEXPLAINED
    assert job_status(job_triage) == "failed for a reason flake-bot could not find"
    assert headline(report) == "1 failure in 1 job: 1 needs a look"


def test_build_error_is_not_a_test_failure() -> None:
    problem = Problem(ProblemKind.BUILD, "make: *** [Makefile:10] Error 1", step="Build", line=77)
    report = triage(RUN, [parsed("standard", problems=[problem])], REGISTRY)
    (job_triage,) = report.jobs
    assert job_triage.state is JobState.NOT_A_TEST_FAILURE
    assert job_status(job_triage) == "not a test failure: build error"
    assert report.counts.not_a_test_failure == 1 and report.counts.needs_look == 1


@pytest.mark.parametrize(("conclusion", "state"), [
    ("failure", JobState.LOG_UNREADABLE),  # fetched but no log: nothing is known of the job
    ("success", JobState.PASSED),  # green by the job's own conclusion, whatever the log
])
def test_an_unreadable_log_says_nothing_of_the_job(conclusion: str, state: JobState) -> None:
    problem = Problem(ProblemKind.UNREADABLE, "the log is empty")
    job = parsed("standard", conclusion=conclusion, problems=[problem], complete=False)
    report = triage(RUN, [job], REGISTRY)
    assert report.jobs[0].state is state


def test_a_cut_log_with_no_failure_found_is_not_called_not_a_test_failure() -> None:
    problem = Problem(ProblemKind.TRUNCATED, "the log ends before the job did", step="Run tests", line=9)
    report = triage(RUN, [parsed("standard", problems=[problem], complete=False)], REGISTRY)
    (job_triage,) = report.jobs
    assert report.counts.needs_look == 1
    assert job_status(job_triage) == (
        "no failing test in what could be read: log truncated or not fully understood; "
        "a test may have failed after it"
    )


def test_truncated_log_with_failures_warns_there_may_be_more() -> None:
    problem = Problem(ProblemKind.TRUNCATED, "log cut at 64 MB")
    report = triage(
        RUN,
        [parsed("standard", failure("thread/thread_gc1.py"), problems=[problem], complete=False)],
        REGISTRY,
    )
    assert job_status(report.jobs[0]) == (
        "1 failing test; the log was not fully understood, so there may be more"
    )
    assert not report.reassuring


def test_green_jobs_are_listed_as_passed() -> None:
    report = triage(
        RUN,
        [
            JobInput(job("nanbox", "success"), LogState.NOT_FETCHED, None),
            parsed("standard", failure("x/y.py")),
        ],
        REGISTRY,
    )
    assert [j.state for j in report.jobs] == [JobState.PASSED, JobState.TEST_FAILURES]
    assert report.counts.jobs_failed == 1


def test_same_test_failing_in_many_jobs_is_recorded() -> None:
    jobs = [parsed(name, failure("extmod/ssl_basic.py")) for name in ("standard", "qemu_arm", "nanbox")]
    report = triage(RUN, jobs, REGISTRY)
    assert all(f.failed_in_jobs == ("standard", "qemu_arm", "nanbox") for f in report.findings)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def __call__(self, test: str, jobs: Sequence[str]) -> str | None:
        self.calls.append((test, tuple(jobs)))
        return f"--- a/tests/run-tests.py\n+++ b/tests/run-tests.py\n+    {test!r}: ...\n"


def judged(*args: object, patcher: object, **kw: object):
    """Triage with an intermittent history behind every failure, then write the patches."""
    kw.setdefault("history", intermittent())
    return write_patches(triage(*args, **kw), patcher)  # type: ignore[arg-type]


def rates_table(table: dict[tuple[str, str | None], FlakeRate]):
    asked: list[tuple[str, str | None]] = []

    def lookup(test: str, job_name: str | None) -> FlakeRate | None:
        asked.append((test, job_name))
        return table.get((test, job_name))

    return lookup, asked


def test_patch_proposed_for_historically_flaky_new_failure() -> None:
    lookup, asked = rates_table(
        {("extmod/time_time_ns.py", "standard"): rate("extmod/time_time_ns.py", "standard", 9, 600)}
    )
    patcher = Recorder()
    report = judged(
        RUN, [parsed("standard", failure("extmod/time_time_ns.py"))], REGISTRY, rates=lookup, patcher=patcher
    )
    assert patcher.calls == [("extmod/time_time_ns.py", ("standard",))]
    assert report.findings[0].patch is not None
    assert [p.test for p in report.patches] == ["extmod/time_time_ns.py"]
    assert ("extmod/time_time_ns.py", None) in asked


@pytest.mark.parametrize(
    ("events", "executions", "expected"),
    [(9, 600, True), (1, 600, False), (2, 60, False), (3, 49, False), (3, 400, False), (3, 300, True)],
)
def test_patch_policy_thresholds(events: int, executions: int, expected: bool) -> None:
    lookup, _ = rates_table(
        {("basics/x.py", "standard"): rate("basics/x.py", "standard", events, executions)}
    )
    report = triage(
        RUN, [parsed("standard", failure("basics/x.py"))], REGISTRY, rates=lookup, history=intermittent()
    )
    assert bool(report.candidates) is expected


@pytest.mark.parametrize(("since_last", "proposed"), [(0, False), (1, True), (None, True)])
def test_no_patch_for_a_test_that_failed_in_its_latest_execution_too(
    since_last: int | None, proposed: bool
) -> None:
    """9 failures in 600 looks flaky, but if the last of them was the execution just before this
    run, the test may have started failing for good: a regression must not be patched away."""
    test = "extmod/time_time_ns.py"
    lookup, _ = rates_table({(test, "standard"): rate(test, "standard", 9, 600, since_last=since_last)})
    patcher = Recorder()
    report = judged(RUN, [parsed("standard", failure(test))], REGISTRY, rates=lookup, patcher=patcher)
    assert bool(patcher.calls) is proposed
    assert bool(report.patches) is proposed
    assert any(note.reason is NoteReason.STILL_FAILING for note in report.notes) is not proposed


def test_no_patch_for_known_flakes_new_symptoms_or_first_failures() -> None:
    table = {
        ("thread/thread_gc1.py", "standard"): rate("thread/thread_gc1.py", "standard", 20, 600),
        ("cmdline/repl_lock.py", "macos"): rate("cmdline/repl_lock.py", "macos", 20, 600),
        ("basics/fresh.py", "standard"): rate("basics/fresh.py", "standard", 1, 600),
    }
    lookup, _ = rates_table(table)
    patcher = Recorder()
    report = judged(
        RUN,
        [
            parsed("standard", failure("thread/thread_gc1.py"), failure("basics/fresh.py")),
            parsed("macos", failure("cmdline/repl_lock.py", symptom="segfault")),
        ],
        REGISTRY,
        rates=lookup,
        patcher=patcher,
    )
    assert patcher.calls == []
    assert report.patches == ()


def test_no_patch_when_the_test_fails_across_the_run_or_policy_is_off() -> None:
    table = {
        ("basics/x.py", name): rate("basics/x.py", name, 20, 600)
        for name in ("standard", "qemu_arm", "nanbox")
    }
    lookup, _ = rates_table(table)
    patcher = Recorder()
    jobs = [parsed(name, failure("basics/x.py")) for name in ("standard", "qemu_arm", "nanbox")]
    assert judged(RUN, jobs, REGISTRY, rates=lookup, patcher=patcher).patches == ()
    two = judged(RUN, jobs[:2], REGISTRY, rates=lookup, patcher=patcher)
    assert patcher.calls == [("basics/x.py", ("standard", "qemu_arm"))]
    assert [f.patch is not None for f in two.findings] == [True, True]
    off = judged(
        RUN, jobs[:1], REGISTRY, rates=lookup, patcher=patcher, patch_policy=PatchPolicy(enabled=False)
    )
    assert off.patches == ()


def test_patcher_refusal_becomes_a_note() -> None:
    lookup, _ = rates_table({("basics/x.py", "standard"): rate("basics/x.py", "standard", 20, 600)})

    def refuse(test: str, jobs: Sequence[str]) -> str | None:
        raise InputError("unknown job 'standard'")

    report = judged(RUN, [parsed("standard", failure("basics/x.py"))], REGISTRY, rates=lookup, patcher=refuse)
    assert report.patches == ()
    refused = Note(NoteReason.PATCH_REFUSED, test="basics/x.py", detail="unknown job 'standard'")
    assert report.notes == (refused,)


def test_other_runners_are_never_known_flakes() -> None:
    report = triage(
        RUN, [parsed("standard", failure("thread/thread_gc1.py", runner=Runner.MULTITESTS))], REGISTRY
    )
    assert report.findings[0].verdict is Verdict.FLAKY_ELSEWHERE


@pytest.mark.parametrize("conclusion", ["failure", "cancelled", "timed_out"])
def test_a_run_that_did_not_succeed_is_never_no_failures(conclusion: str) -> None:
    run = RunInfo(**{**RUN.__dict__, "conclusion": conclusion})
    report = triage(run, [JobInput(job("standard", "cancelled"), LogState.NOT_FETCHED, None)], REGISTRY)
    assert headline(report) == f"No failed job found, yet the run's conclusion is {conclusion}"
    assert not report.reassuring
    assert check_conclusion(report) == "neutral"


def test_known_flake_failing_in_several_jobs_at_once_is_not_reassuring() -> None:
    two = triage(RUN, [parsed(n, failure("thread/thread_gc1.py")) for n in ("standard", "nanbox")], REGISTRY)
    assert [f.verdict for f in two.findings] == [Verdict.KNOWN_FLAKE] * 2
    three = triage(
        RUN,
        [parsed(n, failure("thread/thread_gc1.py")) for n in ("standard", "nanbox", "qemu_arm")],
        REGISTRY,
    )
    assert [f.verdict for f in three.findings] == [Verdict.WIDESPREAD] * 3
    assert label(three.findings[0]).startswith("known flaky test failing in several jobs at once")
    assert headline(three) == "3 failures in 3 jobs: 3 need a look"
    assert breakdown(three) == ["3 known flaky failing in several jobs at once"]
    assert not three.reassuring


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        (ProblemKind.BUILD, "build error"),
        (ProblemKind.RUNNER_ERROR, "test runner error"),
        (ProblemKind.STEP, "a step failed"),
    ],
)
def test_known_flake_beside_another_failure_reason_is_not_reassuring(kind: ProblemKind, words: str) -> None:
    """A known flake cannot explain a crashed runner or failed step in the same job: never "just re-run"."""
    problem = Problem(
        kind, "multitests stopped without printing its summary", step="Run tools/ci.sh x", line=9
    )
    report = triage(RUN, [parsed("standard", failure("thread/thread_gc1.py"), problems=[problem])], REGISTRY)
    assert report.findings[0].verdict is Verdict.KNOWN_FLAKE
    assert headline(report) == "2 failures in 1 job: 1 known flake, 1 needs a look"
    assert breakdown(report) == ["1 not a test failure"]
    assert (
        job_status(report.jobs[0])
        == f"1 failing test; also failed for a reason that is not a test failure: {words}"
    )
    assert not report.reassuring
    assert check_conclusion(report) == "failure"
