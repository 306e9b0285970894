"""Invariants of triage over arbitrary runs: the counts add up and nothing unsafe reads as safe."""

from __future__ import annotations

from helpers.gfm import analyse, visible
from hypothesis import given
from hypothesis import strategies as st
from test_triage import REGISTRY, RUN, failure, job

from bot.findings import FAILURE_PROBLEMS, JobInput, JobState
from bot.records import JobReport, LogState, Problem, ProblemKind, RunInfo
from bot.render import render_comment
from bot.render.verdict_words import headline
from bot.render.words import job_status
from bot.triage import check_conclusion, triage
from bot.verdicts import Verdict

TESTS = ["thread/thread_gc1.py", "cmdline/repl_lock.py", "thread/stress_aes.py", "basics/a.py", "extmod/b.py"]
JOBS = ["standard", "macos", "qemu_arm", "nanbox", "unknown_job"]

failures = st.builds(
    failure,
    st.sampled_from(TESTS),
    ignored=st.booleans(),
    symptom=st.sampled_from(["", "timeout after 10 s", "segfault"]),
)
problems = st.builds(Problem, st.sampled_from(list(ProblemKind)), st.just("message"))


@st.composite
def job_inputs(draw: st.DrawFn) -> list[JobInput]:
    names = draw(st.lists(st.sampled_from(JOBS), min_size=1, max_size=5, unique=True))
    out = []
    for name in names:
        conclusion = draw(st.sampled_from(["failure", "success", "cancelled", "timed_out"]))
        state = draw(st.sampled_from(list(LogState)))
        report = None
        if state is LogState.PARSED:
            report = JobReport(
                name,
                draw(st.booleans()),
                failures=tuple(draw(st.lists(failures, max_size=4))),
                problems=tuple(draw(st.lists(problems, max_size=2))),
            )
        out.append(JobInput(job(name, conclusion), state, report))
    return out


@given(job_inputs(), st.sampled_from(["failure", "success", "cancelled"]))
def test_counts_add_up_and_never_reassure_wrongly(jobs: list[JobInput], run_conclusion: str) -> None:
    run = RunInfo(**{**RUN.__dict__, "conclusion": run_conclusion})
    report = triage(run, jobs, REGISTRY)
    c = report.counts
    assert c.failures == c.tally("known_flakes") + c.needs_look
    assert c.jobs_failed == sum(1 for j in report.jobs if j.failed)
    assert c.tally("ignored") == sum(
        1 for item in jobs for f in (item.report.failures if item.report else ()) if f.ignored
    )
    assert all(f.verdict is not Verdict.IGNORED for f in report.findings)

    for item, triaged in zip(jobs, report.jobs, strict=True):
        if item.job.conclusion in ("failure", "timed_out"):
            assert triaged.failed
            assert triaged.state is not JobState.PASSED
            assert "no failures" not in job_status(triaged).lower()
        if item.report is None and triaged.failed:
            assert triaged.state is JobState.LOG_UNREADABLE

    if headline(report).startswith("No failures"):
        assert c.jobs_failed == 0 and run_conclusion == "success"
    if report.reassuring and c.failures:
        assert all(f.verdict is Verdict.KNOWN_FLAKE for f in report.findings)
        assert c.unreadable_logs == 0
        assert all(j.complete for j in report.failed_jobs)
        # a known flake never explains a build error, runner crash or failed step beside it
        assert not any(p.kind in FAILURE_PROBLEMS for j in report.failed_jobs for p in j.problems)
    if c.needs_look:
        assert check_conclusion(report) == "failure"

    out = analyse(render_comment(report))
    assert out.balanced
    text = visible("".join(out.prose))
    assert headline(report) in text
    for triaged in report.failed_jobs:
        assert triaged.job.name in out.code
