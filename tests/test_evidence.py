"""Evidence behind verdicts: each situation of issue 8 on a small written history.

Histories are strings, oldest first (see `histories.py`): P pass, F fail the usual way, X fail
another way, ? failed job whose log is unreadable. The triaged run fails the usual way unless
the row says otherwise, and runs an hour after the last execution.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from helpers.histories import BEFORE, history, records
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.evidence import JobRecord, RunRef, TestHistory, assess
from bot.findings import JobInput
from bot.records import FlakeRate, JobInfo, JobReport, LogState, Outcome, RunInfo, Runner, TestFailure
from bot.registry.model import JobSpec, Registry
from bot.render.words import note_sentence, say_text
from bot.triage import triage
from bot.verdicts import FLAKES, Verdict

REGISTRY = Registry(jobs={"standard": JobSpec("standard", "linux"), "qemu_arm": JobSpec("qemu_arm", "linux")})
SHA = "c" * 40
RUN = RunInfo(
    id=5000, attempt=1, workflow_name="unix port", workflow_path=".github/workflows/ports_unix.yml",
    event="push", branch="master", head_sha=SHA, head_repo=None, created_at=BEFORE, status="completed",
    conclusion="failure", html_url="https://github.com/micropython/micropython/actions/runs/5000",
)  # fmt: skip
USUAL = "expected 'a' got 'b'"


def judge(
    found: TestHistory,
    *,
    symptom: str = USUAL,
    run: RunInfo = RUN,
    jobs: tuple[str, ...] = ("standard",),
    on_default: bool = True,
    events: int = 20,
):
    failure = TestFailure("basics/t.py", Runner.RUN_TESTS, Outcome.FAIL, symptom=symptom)
    inputs = [
        JobInput(
            JobInfo(i + 1, run.id, run.attempt, name, "completed", "failure"),
            LogState.PARSED,
            JobReport(name, True, failures=(failure,)),
        )
        for i, name in enumerate(jobs)
    ]

    def rates(test: str, job: str | None) -> FlakeRate:
        return FlakeRate(test, job, events, 600, 0.0, 1.0, since_last=5)

    return triage(
        run, inputs, REGISTRY, rates=rates, history=lambda t, j: found, on_default_branch=on_default
    )


@pytest.mark.parametrize(
    ("pattern", "symptom", "kind"),
    [
        ("PPPPPP", USUAL, Verdict.FIRST_FAILURE),  # first failure here: look at the change
        ("PPPFF", USUAL, Verdict.REGRESSION),  # failing in every execution since run X
        ("PPFPPPPFPP", USUAL, Verdict.UNLISTED_FLAKE),  # intermittent, the usual way
        ("PPFPPPPFPP", "CRASH: KeyError", Verdict.NEW_WAY),  # fails in a way none did before
        ("PFPPFPPX", "other way", Verdict.REGRESSION),  # the latest execution failed: a streak of one
        ("PPFFFPPPP", USUAL, Verdict.FAILED_BEFORE),  # a regression fixed after a few runs, back again
        ("PFPPPFPPXX", "other way", Verdict.REGRESSION),  # a flake turned regression, now in a row
        ("PFPPPFPPP", "other way", Verdict.NEW_WAY),  # ... and at its first new-way failure
        ("PPF?F", USUAL, Verdict.REGRESSION),  # an expired log in the middle of a streak
        ("PPPP??", USUAL, Verdict.FIRST_FAILURE),  # unknown outcomes since the last pass
        ("", USUAL, Verdict.NEW),  # no execution of the job in the store: we do not know
    ],
)
def test_verdict_for_each_situation(pattern: str, symptom: str, kind: Verdict) -> None:
    (finding,) = judge(history(pattern, "standard", symptom=USUAL), symptom=symptom).findings
    assert finding.verdict is kind


def test_streak_names_first_failure_last_pass_and_unknowns() -> None:
    found = history("PPF?F", "standard", symptom=USUAL, shas="abcde")
    e = assess("basics/t.py", "standard", USUAL, RunRef(RUN.id, 1, SHA, BEFORE), found)
    assert (e.streak.failures, e.streak.unknown) == (2, 1)
    assert e.streak.first_failure == RunRef(1002, 1, "c" * 40, BEFORE - timedelta(hours=3))
    assert e.streak.last_pass is not None and e.streak.last_pass.run_id == 1001


def test_a_commit_run_several_times_is_proven_flaky() -> None:
    """Run 1 of commit C failed, run 2 of C passed, run 3 of C (this one) fails: nothing in the
    code changed between the results."""
    found = history("FP", "standard", symptom=USUAL, shas="cc")
    (finding,) = judge(found).findings
    assert finding.verdict is Verdict.PROVEN_FLAKY
    assert finding.evidence is not None and finding.evidence.same_commit_pass is not None


def test_rerun_that_passed_only_some_jobs() -> None:
    """Attempt 1 failed standard (this test) and qemu_arm; attempt 2 re-ran both: standard passed,
    qemu_arm failed again. Triaging attempt 2's qemu_arm failure: no pass there on this commit, so
    no proof; standard's earlier flip is a flip on another job and does not count here."""
    t0 = BEFORE - timedelta(hours=2)
    recs = (
        JobRecord(5000, 1, SHA, BEFORE, "standard", "failure", True, True, True, True, USUAL),
        JobRecord(5000, 1, SHA, BEFORE, "qemu_arm", "failure", True, True, True, True, USUAL),
        JobRecord(5000, 2, SHA, BEFORE, "standard", "success"),
        JobRecord(4999, 1, "b" * 40, t0, "qemu_arm", "success"),
        JobRecord(4999, 1, "b" * 40, t0, "standard", "success"),
    )
    run = replace(RUN, attempt=3)
    report = judge(TestHistory(here=recs), run=run, jobs=("standard", "qemu_arm"))
    kinds = {f.job.name: f.verdict for f in report.findings}
    assert kinds["standard"] is Verdict.PROVEN_FLAKY  # passed on this commit in attempt 2
    assert kinds["qemu_arm"] is Verdict.REGRESSION  # failed in attempt 1 of this commit, no pass since


def test_pull_request_sees_the_default_branch_failing_too() -> None:
    found = replace(history("PPPFF", "standard", symptom=USUAL), default_branch=True)
    pr = replace(RUN, event="pull_request", branch="feature")
    (finding,) = judge(found, run=pr, on_default=False).findings
    assert finding.verdict is Verdict.ON_DEFAULT_BRANCH and not finding.needs_look
    (on_master,) = judge(found).findings
    assert on_master.verdict is Verdict.REGRESSION and on_master.needs_look


def test_several_jobs_at_once_is_not_a_flake() -> None:
    found = history("PPFPPPPFPP", "standard", symptom=USUAL)
    jobs = ("standard", "qemu_arm", "nanbox")
    report = judge(TestHistory(here=tuple(r for j in jobs for r in records("PPFPPPPFPP", j, symptom=USUAL))),
                   jobs=jobs)  # fmt: skip
    assert {f.verdict for f in report.findings} == {Verdict.SEVERAL_JOBS}
    assert judge(found).findings[0].verdict is Verdict.UNLISTED_FLAKE


@pytest.mark.parametrize(
    ("pattern", "symptom", "patched", "note"),
    [
        ("PPFPPPPFPP", USUAL, True, None),
        ("PPFPPPPFPP", "CRASH: x", False, "failed in a way none of its earlier failures did"),
        ("PPFPPPPFF", USUAL, False, "also failed in its latest executions"),
        ("PPFFFPPPP", USUAL, False, "came in rows"),
    ],
)
def test_patch_follows_the_evidence(pattern: str, symptom: str, patched: bool, note: str | None) -> None:
    report = judge(history(pattern, "standard", symptom=USUAL), symptom=symptom)
    assert bool(report.candidates) is patched
    if note:
        assert any(note in say_text(note_sentence(n)) for n in report.notes), report.notes


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="PPPPFFX?", max_size=14), st.sampled_from([USUAL, "other way", "new"]))
def test_no_reassurance_or_patch_against_the_evidence(pattern: str, symptom: str) -> None:
    """Whatever the history: a test whose latest known execution failed, or failing in a way none
    of its failures did, is never called a flake nor patched (no same-commit pass here)."""
    report = judge(history(pattern, "standard", symptom=USUAL), symptom=symptom)
    (finding,) = report.findings
    e = finding.evidence
    assert e is not None
    known = pattern.replace("?", "")
    if (known and known[-1] in "FX") or e.new_way:
        assert finding.verdict not in FLAKES
        assert not report.candidates
    if finding.verdict in FLAKES:
        assert e.failures > 0 and not e.new_way and e.streak.failures == 0
