"""Ignored failures (issue 23, item 2): every one is in the `failures` output, and one of a test
failing in every run since an earlier one is a regression the ignore list hides: it needs a
look in the comment's table, the check run's annotations and the headline, even when the job
failed for another test. Histories as in `helpers/histories.py` (P pass, F fail, ? unknown)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from fake_github import FakeGitHub
from helpers.e2e import Action
from helpers.histories import history
from logfmt import Step, job_log
from test_evidence import RUN, USUAL

from bot.findings import JobInput, TriageReport
from bot.records import FlakeRate, JobInfo, JobReport, LogState, Outcome, Runner, TestFailure
from bot.registry.model import Entry, JobSpec, Mechanism, Registry
from bot.render import outputs, render_check, render_comment
from bot.render.annotations import check_annotations
from bot.render.verdict_words import headline
from bot.triage import check_conclusion, triage
from bot.verdicts import Verdict

LISTED = "thread/thread_gc1.py"
OTHER = "basics/other.py"
REGISTRY = Registry(
    entries=(Entry(LISTED, Mechanism.IGNORE, reason="races", flaky=True, since=date(2026, 1, 1)),),
    jobs={"standard": JobSpec("standard", "linux")},
)


def judge(listed_history: str, *, other_fails: bool = True) -> TriageReport:
    """A master push whose standard job failed for OTHER (if `other_fails`) and ignored LISTED."""
    failures = [TestFailure(LISTED, Runner.RUN_TESTS, Outcome.FAIL, ignored=True, symptom=USUAL)]
    if other_fails:
        failures.insert(0, TestFailure(OTHER, Runner.RUN_TESTS, Outcome.FAIL, symptom="boom"))
    conclusion = "failure" if other_fails else "success"
    job = JobInput(
        JobInfo(1, RUN.id, RUN.attempt, "standard", "completed", conclusion),
        LogState.PARSED,
        JobReport("standard", True, failures=tuple(failures)),
    )

    def lookup(test: str, job: str):
        return history(listed_history if test == LISTED else "PPPPPPPP", job, symptom=USUAL)

    def rates(test: str, job: str | None) -> FlakeRate:
        return FlakeRate(test, job, 3, 100, 0.0, 1.0, since_last=0)

    return triage(replace(RUN, conclusion=conclusion), [job], REGISTRY, rates=rates, history=lookup)


@pytest.mark.parametrize(
    ("pattern", "kind"),
    [
        ("PPPPFPPPP", Verdict.IGNORED),  # flaky, as listed
        ("PPPPPPPFF", Verdict.HIDDEN_REGRESSION),  # failing in every run since two runs ago
        ("PPPPF?FFF", Verdict.HIDDEN_REGRESSION),  # ... through one unknown outcome
        ("PPPPPPF?F", Verdict.HIDDEN_REGRESSION),  # two failures, one unknown between: still a streak
        ("PPPPPF??F", Verdict.IGNORED),  # two failures, two unknowns: not yet
        ("PPPPPPPPF", Verdict.IGNORED),  # one earlier failure: a flake's pattern still
        ("PPPF??F??", Verdict.IGNORED),  # unread green jobs between: no evidence of a streak yet
        ("PF??F??F?", Verdict.HIDDEN_REGRESSION),  # ... until three read logs in a row show it failing
        ("PPFFFFFFP", Verdict.IGNORED),  # the streak ended: it passed in its latest execution
        ("", Verdict.IGNORED),  # no history
    ],
)
def test_an_ignored_test_into_a_streak_and_out(pattern: str, kind: Verdict) -> None:
    report = judge(pattern)
    (ignored,) = report.jobs[0].ignored
    assert ignored.verdict is kind
    hidden = kind is Verdict.HIDDEN_REGRESSION
    assert ignored.needs_look is hidden
    assert (ignored in report.findings) is hidden
    assert report.counts.tally("hidden_regressions") == int(hidden)
    # OTHER is a first failure either way; the hidden regression is one more failure needing a look
    assert (report.counts.failures, report.counts.needs_look) == (1 + hidden, 1 + hidden)


def test_every_ignored_failure_is_in_the_failures_output() -> None:
    rows = json.loads(outputs(judge("PPPPFPPPP"))["failures"])
    assert [(r["test"], r["verdict"], r["needs_look"]) for r in rows] == [
        (OTHER, "first-failure", True),
        (LISTED, "ignored", False),
    ]
    rows = json.loads(outputs(judge("PPPPPPPFF"))["failures"])
    assert [(r["test"], r["verdict"], r["needs_look"]) for r in rows] == [
        (OTHER, "first-failure", True),
        (LISTED, "ignored-failing-since", True),
    ]
    assert rows[1]["evidence"]["streak"] == 2 and rows[1]["evidence"]["first_failing_run"] == 1007


def test_a_hidden_regression_is_told_in_the_table_annotations_and_headline() -> None:
    report = judge("PPPPPPPFF")
    levels = {a["path"]: a["annotation_level"] for a in check_annotations(report)}
    assert levels == {f"tests/{OTHER}": "failure", f"tests/{LISTED}": "failure"}
    (note,) = [a["message"] for a in check_annotations(report) if a["path"] == f"tests/{LISTED}"]
    assert note.startswith("listed, but failing in every run since an earlier one: a real regression hidden")
    assert "Last pass: run 1006" in note
    comment = render_comment(report)
    assert "a real regression hidden by the ignore list" in comment
    assert "ignored, yet failed in the last 2 executions in this job, since run 1007" in comment
    assert "listed, but failing in every run since an earlier one" in render_check(report).summary
    assert "2 need a look" in headline(report) and check_conclusion(report) == "failure"


def test_a_hidden_regression_alone_in_a_read_green_job_still_needs_a_look() -> None:
    report = judge("PPPPPPPFF", other_fails=False)
    assert report.counts.jobs_failed == 0
    assert headline(report) == "1 ignored failure of a test failing in every run: needs a look"
    assert check_conclusion(report) == "failure" and not report.reassuring


def _standard_log(ignored: bool) -> bytes:
    """Job `standard` failing on micropython/const.py, with thread/thread_gc1.py's failure ignored
    by run-tests.py when `ignored` (its summary line, in the runner's own format)."""
    run = [
        "cd ../../tests && MICROPY_MICROPYTHON=../ports/unix/build-standard/micropython ./run-tests.py ",
        "platform=linux arch=x64 thread=unsafe float=64-bit unicode",
        "pass  basics/int1.py ",
        "FAIL  micropython/const.py ",
        *(["FAIL  thread/thread_gc1.py "] if ignored else []),
        f"{3 if ignored else 2} tests performed (61 individual testcases)",
        "1 tests passed",
        *(["1 tests had known-flaky failures (ignored): thread/thread_gc1.py [flaky: GC race condition]"]
          if ignored else []),
        "1 tests failed: micropython/const.py",
        "make: *** [Makefile:258: test] Error 1",
    ]  # fmt: skip
    text = "\n".join(run) + "\n"
    step = Step("tools/ci.sh unix_standard_run_tests", text, exit_code=2, name="Run main test suite")
    return job_log([step], job="standard")


def test_a_master_push_failing_elsewhere_tells_the_hidden_regression(
    fake_github: FakeGitHub, action: Action, tmp_path: Path
) -> None:
    """Ten pushes; every other one failed `standard` on const.py, and from push 4 on the ignored
    thread_gc1.py failed in each of those logs (the green pushes between were not read). The next
    push fails on const.py again: thread_gc1.py is told, annotated as a failure on the check run."""
    fake = fake_github
    for i in range(10):
        failed = i % 2 == 0
        push = fake.add_run(event="push", created_at=f"2026-04-{1 + i:02d}T08:00:00Z",
                            conclusion="failure" if failed else "success")  # fmt: skip
        log = _standard_log(ignored=i >= 4) if failed else "missing"
        fake.add_job(push["id"], "standard", "failure" if failed else "success", log=log)
    current = fake.add_run(event="push", created_at="2026-04-20T08:00:00Z")
    fake.add_job(current["id"], "standard", "failure", log=_standard_log(ignored=True))

    result = action.run(current["id"], history=str(tmp_path / "h.sqlite"))

    assert result.code == 0, result.stderr
    verdicts = {r["test"]: r["verdict"] for r in result.failures}
    assert verdicts["thread/thread_gc1.py"] == "ignored-failing-since"
    [check] = fake.check_runs()
    assert check["conclusion"] == "failure"
    levels = {a["path"]: a["annotation_level"] for a in check["annotations"]}
    assert levels["tests/thread/thread_gc1.py"] == "failure"
    assert "a real regression hidden by the ignore list" in result.summary
