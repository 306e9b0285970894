"""Evidence across jobs (issue 26): a test that flakes in sibling jobs, the same way, is not a
"first failure here", and nothing else changes.

Each row gives every job's history as a string, oldest first, one character per run (P pass,
F fail the usual way, X fail another way, ? failed job with an unreadable log; see
`helpers/histories.py`). Runs are shared: character i of every job is the same run. The triaged
run fails in `standard` (and in the `also` jobs) the usual way unless the row says otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

import pytest
from helpers.histories import BEFORE, records
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.across_jobs import AcrossJobs, SiblingRecord
from bot.evidence import TestHistory
from bot.findings import JobInput, TriageReport
from bot.records import FlakeRate, JobInfo, JobReport, LogState, Outcome, RunInfo, Runner, TestFailure
from bot.registry.model import Entry, JobSpec, Mechanism, Registry
from bot.render.verdict_words import advice, headline, label
from bot.triage import triage
from bot.verdicts import FLAKES, Verdict

TEST = "thread/thread_gc1.py"
USUAL = "expected 'True' got 'False'"
JOBS = {
    name: JobSpec(name, "linux", functions=(f"ci_unix_{name}_run_tests",))
    for name in ("standard", "coverage", "qemu_arm", "nanbox", "macos")
}
REGISTRY = Registry(jobs=JOBS)
RUN = RunInfo(
    id=5000, attempt=1, workflow_name="unix port", workflow_path=".github/workflows/ports_unix.yml",
    event="push", branch="master", head_sha="c" * 40, head_repo=None, created_at=BEFORE, status="completed",
    conclusion="failure", html_url="https://github.com/micropython/micropython/actions/runs/5000",
)  # fmt: skip


def listed(*jobs: str, symptoms: tuple[str, ...] = ()) -> Registry:
    """The registry with the test excluded as flaky in `jobs` (as ci.sh did for thread_gc1.py)."""
    entry = Entry(
        TEST, Mechanism.EXCLUDE, reason="is flaky", flaky=True, since=date(2025, 8, 28),
        functions=tuple(f"ci_unix_{j}_run_tests" for j in jobs), symptoms=symptoms,
    )  # fmt: skip
    return Registry(entries=(entry,), jobs=JOBS)


def world(patterns: dict[str, str]):
    """A history lookup over every job's pattern: a job's own records, the others' failures."""
    recs = {job: records(p, job, symptom=USUAL) for job, p in patterns.items()}
    asked: list[str] = []

    def lookup(test: str, job: str) -> TestHistory:
        asked.append(job)
        others = tuple(r for j, rs in recs.items() if j != job for r in rs if r.failed)
        return TestHistory(here=recs.get(job, ()), elsewhere=others)

    lookup.asked = asked  # type: ignore[attr-defined]
    return lookup


def judge(
    patterns: dict[str, str],
    *,
    symptom: str = USUAL,
    also: Sequence[str] = (),
    registry: Registry = REGISTRY,
    history: bool = True,
    runner: Runner = Runner.RUN_TESTS,
    qemu: dict[str, str] | None = None,
) -> TriageReport:
    """`qemu`: the patterns of another workflow's jobs (weaker evidence)."""
    failure = TestFailure(TEST, runner, Outcome.FAIL, symptom=symptom)
    inputs = [
        JobInput(JobInfo(i + 1, RUN.id, 1, name, "completed", "failure"), LogState.PARSED,
                 JobReport(name, True, failures=(failure,)))
        for i, name in enumerate(("standard", *also))
    ]  # fmt: skip

    def rates(test: str, job: str | None) -> FlakeRate:  # plenty, so only the verdict can refuse a patch
        return FlakeRate(test, job, 20, 600, 0.03, 0.05, since_last=5)

    def other_workflows(test: str) -> list[tuple[str, str, TestHistory]]:
        if test != TEST:  # the store knows this one test's failures only
            return []
        return [("ports_qemu.yml", job, TestHistory(here=records(p, job, symptom=USUAL, first_run=9000)))
                for job, p in (qemu or {}).items()]  # fmt: skip

    return triage(
        RUN, inputs, registry, rates=rates if history else None, history=world(patterns) if history else None,
        other_workflows=other_workflows if qemu is not None else None,
    )  # fmt: skip


def standard(report: TriageReport):
    return next(f for f in report.findings if f.job.name == "standard")


@pytest.mark.parametrize(
    ("patterns", "symptom", "also", "kind"),
    [
        # the same symptom in a sibling job, alone between passes, passed since: reassure
        ({"standard": "PPPPPPPPPP", "qemu_arm": "PPFPPPPFPP"}, USUAL, (), Verdict.FLAKY_OTHER_JOBS),
        # ... in a row of two there, beside one alone: still a flake's pattern (the per-job bound)
        ({"standard": "PPPPPPPPPP", "qemu_arm": "PFPPFFPPPP"}, USUAL, (), Verdict.FLAKY_OTHER_JOBS),
        # ... or failing in this run's sibling job too: two jobs are not "several"
        ({"standard": "PPPPPPPPPP", "qemu_arm": "PPFPPPPFPP"}, USUAL, ("qemu_arm",),
         Verdict.FLAKY_OTHER_JOBS),
        # no execution of this job stored yet (a new job): its first failure all the same
        ({"standard": "", "qemu_arm": "PPFPPPPFPP"}, USUAL, (), Verdict.FLAKY_OTHER_JOBS),
        # a different symptom: a new way of failing
        ({"standard": "PPPPPPPPPP", "qemu_arm": "PPFPPPPFPP"}, "CRASH: KeyError", (), Verdict.NEW_WAY),
        # the sibling failed the usual way and another, now fails the other way: the match decides
        ({"standard": "PPPPPPPPPP", "qemu_arm": "PPFPPXPPPP"}, "other way", (), Verdict.FLAKY_OTHER_JOBS),
        ({"standard": "PPPPPPPPPP", "qemu_arm": "PPXPPPPPPP"}, USUAL, (), Verdict.NEW_WAY),
        # sibling failures in rows: not a flake there, so nothing to lend
        ({"standard": "PPPPPPPPPP", "qemu_arm": "PPFFFPPPPP"}, USUAL, (), Verdict.FIRST_FAILURE),
        # ... and a sibling in rows vetoes another that looks flaky
        ({"standard": "PPPPPPPPPP", "qemu_arm": "PPFPPPPFPP", "nanbox": "PFFFPPPPPP"}, USUAL, (),
         Verdict.FIRST_FAILURE),
        # a sibling failing in its latest two executions: a regression spreading
        ({"standard": "PPPPPPPPPP", "qemu_arm": "PFPPPPPPFF"}, USUAL, (), Verdict.FIRST_FAILURE),
        # a sibling whose latest execution failed: it has not passed since
        ({"standard": "PPPPPPPPPP", "qemu_arm": "PFPPPPPPPF"}, USUAL, (), Verdict.FIRST_FAILURE),
        # a sibling with one failure and no pass before it: not "alone between passes"
        ({"standard": "PPPPPPPPPP", "qemu_arm": "?FPPPPPPPP"}, USUAL, (), Verdict.FIRST_FAILURE),
        # two failures in a row here: likely regression, whatever the siblings say
        ({"standard": "PPPPPPPPPF", "qemu_arm": "PPFPPPPFPP"}, USUAL, (), Verdict.REGRESSION),
        # the execution before this one here is unknown (log expired): may be two in a row
        ({"standard": "PPPPPPPPP?", "qemu_arm": "PPFPPPPFPP"}, USUAL, (), Verdict.FIRST_FAILURE),
        # 3 or more jobs of this run at once: several jobs
        ({"standard": "PPPPPPPPPP", "qemu_arm": "PPFPPPPFPP"}, USUAL, ("nanbox", "macos"),
         Verdict.SEVERAL_JOBS),
        # it failed here before (alone): the per-job rule decides, as before
        ({"standard": "PPFPPPPPPP", "qemu_arm": "PPPPPFPPPP"}, USUAL, (), Verdict.UNLISTED_FLAKE),
        # never failed anywhere: a first failure
        ({"standard": "PPPPPPPPPP", "qemu_arm": "PPPPPPPPPP"}, USUAL, (), Verdict.FIRST_FAILURE),
    ],
)
def test_verdict_across_jobs(patterns: dict[str, str], symptom: str, also: tuple[str, ...], kind: Verdict) -> None:  # noqa: E501
    finding = standard(judge(patterns, symptom=symptom, also=also))
    assert finding.verdict is kind


def test_flaky_in_other_jobs_reassures_and_offers_no_patch() -> None:
    report = judge({"standard": "PPPPPPPPPP", "qemu_arm": "PPFPPPPFPP", "coverage": "PPPPFPPPPP"})
    finding = standard(report)
    assert finding.verdict is Verdict.FLAKY_OTHER_JOBS
    assert label(finding) == "flaky in other jobs, first time here"
    assert advice(finding).startswith("re-run")
    assert not finding.needs_look and finding.verdict in FLAKES
    assert report.reassuring and report.counts.tally("flaky_other_jobs") == 1
    assert headline(report) == "1 failure in 1 job: 1 flaky in other jobs"
    assert not report.candidates and not report.notes  # the patch rule stays per job
    across = finding.across
    assert across is not None
    # most recently failing first
    assert [(s.job, s.failures, s.known, s.same_symptom) for s in across.matching] == [
        ("qemu_arm", 2, 10, 2),
        ("coverage", 1, 10, 1),
    ]
    last = max(r.created for r in records("PPFPPPPFPP", "qemu_arm") if r.failed)
    assert across.last_seen == last


def test_listed_for_other_jobs_only() -> None:
    """Upstream lists it as flaky for other jobs and it never failed in the store: the list is the
    evidence (thread_gc1.py's first failure in settrace_stackless, excluded in four other jobs)."""
    quiet = {"standard": "PPPPPPPPPP"}
    finding = standard(judge(quiet, registry=listed("qemu_arm", "macos")))
    assert finding.verdict is Verdict.FLAKY_OTHER_JOBS
    assert finding.across is not None
    assert [s.job for s in finding.across.listed] == ["qemu_arm", "macos"]
    # without a history store nothing is known of this job: it stays "flaky elsewhere", a look
    no_history = judge(quiet, registry=listed("qemu_arm"), history=False)
    assert standard(no_history).verdict is Verdict.FLAKY_ELSEWHERE
    # the entry's known symptoms do not match this failure: not the listed flake
    odd = listed("qemu_arm", symptoms=(r"^TIMEOUT",))
    assert standard(judge(quiet, registry=odd)).verdict is Verdict.FIRST_FAILURE
    # ... and when they do match, it is the listed flake
    usual = listed("qemu_arm", symptoms=(r"^expected 'True'",))
    assert standard(judge(quiet, registry=usual)).verdict is Verdict.FLAKY_OTHER_JOBS
    # listed, but two failures in a row here, or another test runner: no reassurance
    twice = judge({"standard": "PPPPPPPPPF"}, registry=listed("qemu_arm"))
    assert standard(twice).verdict is Verdict.REGRESSION
    other = judge(quiet, registry=listed("qemu_arm"), runner=Runner.MULTITESTS)
    assert standard(other).verdict is Verdict.FIRST_FAILURE
    # no execution of this job stored, and it failed another way elsewhere: not the listed flake
    unlike = judge({"standard": "", "nanbox": "PPXPPPPPPP"}, registry=listed("qemu_arm"))
    assert standard(unlike).verdict is Verdict.FLAKY_ELSEWHERE


def test_a_test_kept_out_of_this_job_is_not_reassured_by_its_siblings() -> None:
    """Excluded here for a reason that is not flakiness: it should not have run at all (so none
    of its executions here count, and it stays "new")."""
    entry = Entry(TEST, Mechanism.EXCLUDE, reason="needs a filesystem",
                  functions=("ci_unix_standard_run_tests",))  # fmt: skip
    kept_out = Registry(entries=(entry,), jobs=JOBS)
    patterns = {"standard": "PPPPPPPPPP", "qemu_arm": "PPFPPPPFPP"}
    assert standard(judge(patterns, registry=kept_out)).verdict is Verdict.NEW
    assert standard(judge(patterns)).verdict is Verdict.FLAKY_OTHER_JOBS


def test_other_jobs_are_read_only_for_a_first_failure_here() -> None:
    lookup = world({"standard": "PPFPPPPPPP", "qemu_arm": "PPFPPPPFPP"})
    failure = TestFailure(TEST, Runner.RUN_TESTS, Outcome.FAIL, symptom=USUAL)
    job = JobInput(JobInfo(1, RUN.id, 1, "standard", "completed", "failure"), LogState.PARSED,
                   JobReport("standard", True, failures=(failure,)))  # fmt: skip
    report = triage(RUN, [job], REGISTRY, history=lookup)
    assert report.findings[0].verdict is Verdict.UNLISTED_FLAKE and report.findings[0].across is None
    assert lookup.asked == ["standard"]  # type: ignore[attr-defined]


def test_sibling_record_bounds() -> None:
    def rec(**kw: object) -> SiblingRecord:
        base: dict[str, object] = dict(job="j", known=10, failures=1, isolated=1, longest_run=1, streak=0,
                                       last_failure=None, same_symptom=1, flipped=False)  # fmt: skip
        return SiblingRecord(**{**base, **kw})  # type: ignore[arg-type]

    assert rec().flaky and not rec().regression_like
    assert not rec(streak=1).flaky and not rec(streak=1).regression_like
    assert rec(streak=2).regression_like
    assert rec(longest_run=2).flaky and not rec(longest_run=2).regression_like
    assert not rec(longest_run=3).flaky and rec(longest_run=3).regression_like
    assert not rec(isolated=0).flaky and rec(isolated=0, flipped=True).flaky
    assert not rec(failures=0, isolated=0, flipped=True).flaky
    assert not AcrossJobs(USUAL, (rec(same_symptom=0),)).flaky
    assert AcrossJobs(USUAL, (rec(same_symptom=0, listed=True),)).flaky
    assert not AcrossJobs(USUAL, (rec(), rec(job="k", streak=2))).flaky
    assert not AcrossJobs(USUAL).flaky


@settings(max_examples=120, deadline=None)
@given(
    st.text(alphabet="PPPPFX?", min_size=6, max_size=6),
    st.text(alphabet="PPPFFX?", min_size=6, max_size=6),
    st.sampled_from([USUAL, "other way", "new"]),
)
def test_no_reassurance_against_the_evidence_here(here: str, sibling: str, symptom: str) -> None:
    """Whatever the sibling shows: a test whose latest execution here failed or is unknown, or
    that fails in a way none of its failures did, is never called a flake for its siblings."""
    finding = standard(judge({"standard": here, "qemu_arm": sibling}, symptom=symptom))
    e = finding.evidence
    assert e is not None
    if finding.verdict is Verdict.FLAKY_OTHER_JOBS:
        assert here[-1:] != "?" and "F" not in here and "X" not in here
        assert not e.new_way and finding.across is not None and finding.across.matching


def test_the_verdict_says_where_and_how_often() -> None:
    from bot.render import outputs, render_text
    from bot.render.evidence import sentences
    from bot.render.verdict_words import brief
    from bot.render.words import say_text

    report = judge({"standard": "PPPPPPPPPP", "qemu_arm": "PPFPPPPFPP", "nanbox": "PPPPPPPPPF"})
    finding = standard(report)
    assert finding.verdict is Verdict.FLAKY_OTHER_JOBS
    assert brief(finding) == (
        "failed this way in 1 other job (2 of 10 executions), last 2026-06-01; none of 10 executions here"
    )
    said = [say_text(s) for s in sentences(finding, "https://github.com/micropython/micropython")]
    assert (
        "In qemu_arm it failed 2 of 10 executions, alone between passes, 2 of them the way it fails now, "
        "last in run 1007 on 2026-06-01; it passed there since."
    ) in said
    assert "no patch is proposed until its history in this job shows it flaky too." in said[-1]
    assert "flaky in other jobs, first time here" in render_text(report)
    (row,) = json.loads(outputs(report)["failures"])
    assert row["verdict"] == "flaky-in-other-jobs" and not row["needs_look"] and not row["patch"]
    jobs = {j["job"]: j for j in row["evidence"]["other_jobs"]}
    assert jobs["qemu_arm"]["flaky"] and jobs["qemu_arm"]["same_symptom"] == 2
    assert jobs["nanbox"]["streak"] == 1 and not jobs["nanbox"]["flaky"]


def test_a_veto_is_explained() -> None:
    from bot.render.evidence import sentences
    from bot.render.words import say_text

    finding = standard(judge({"standard": "PPPPPPPPPP", "qemu_arm": "PPFPPPPFPP", "nanbox": "PFFFPPPPPP"}))
    assert finding.verdict is Verdict.FIRST_FAILURE
    said = [say_text(s) for s in sentences(finding, None)]
    veto = "In nanbox its failures came in rows of up to 3: not a flake's pattern, so no other job vouches"
    assert veto + " for it." in said


@pytest.mark.parametrize(
    ("qemu", "kind"),
    [
        # another workflow's job is weaker evidence: one failure the same way is not enough ...
        ({"qemu_arm": "PPPPPPPFPP"}, Verdict.FIRST_FAILURE),
        # ... two are, alone between passes, passing since
        ({"qemu_arm": "PPFPPPPFPP"}, Verdict.FLAKY_OTHER_JOBS),
        # it vetoes all the same when failing in a row there now
        ({"qemu_arm": "PPFPPPPFPP", "qemu_mips": "PPPPPPPPFF"}, Verdict.FIRST_FAILURE),
        # failing another way there only: no evidence for the way it fails now
        ({"qemu_arm": "PPXPPPPXPP"}, Verdict.FIRST_FAILURE),
    ],
)
def test_other_workflows_are_weaker_evidence(qemu: dict[str, str], kind: Verdict) -> None:
    finding = standard(judge({"standard": "PPPPPPPPPP"}, qemu=qemu))
    assert finding.verdict is kind
    if kind is Verdict.FLAKY_OTHER_JOBS:
        from bot.render.evidence import sentences
        from bot.render.words import say_text

        said = [say_text(x) for x in sentences(finding, None)]
        assert any(x.startswith("In qemu_arm of the workflow ports_qemu.yml it failed 2 of 10") for x in said)


def test_a_sibling_of_this_workflow_needs_one_failure_the_same_way() -> None:
    once = judge({"standard": "PPPPPPPPPP", "qemu_arm": "PPPPPPPFPP"})
    assert standard(once).verdict is Verdict.FLAKY_OTHER_JOBS


def test_a_sibling_where_the_test_no_longer_runs_has_not_passed_since() -> None:
    """Days on which the test was excluded in the other job are no executions there: its green
    jobs since then are no passes of the test, so they do not vouch for the failure here."""
    sibling = "PPPPFPPPPPPF" + "P" * 12  # hourly up to the run: the last 12 on its day, all passes
    broken = Entry(
        TEST, Mechanism.EXCLUDE, reason="hangs on qemu", since=BEFORE.date(),
        functions=("ci_unix_qemu_arm_run_tests",),
    )  # fmt: skip
    patterns = {"standard": "PPPPPPPPPP", "qemu_arm": sibling}
    excluded_there = Registry(entries=(broken,), jobs=JOBS)
    assert standard(judge(patterns, registry=excluded_there)).verdict is Verdict.FIRST_FAILURE
    # the same history, still running there
    assert standard(judge(patterns)).verdict is Verdict.FLAKY_OTHER_JOBS
