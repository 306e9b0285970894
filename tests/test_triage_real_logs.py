"""Real runner output, wrapped as GitHub job logs, through parser, bundled registry, triage and render.

The captures in tests/data/real-logs are MicroPython's own runner output (see its README): 05 is
a "standard" job with 7 planted failures and 2 flaky tests that run-tests.py ignored; 21 is the
v1.25.0 thread pass where thread_gc1 failed; 17 is a runner error with no summary at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.gfm import analyse, github_refs, visible
from helpers.histories import intermittent
from logfmt import Step, job_log, real_log

from bot.findings import JobInput, JobState, NoteReason
from bot.parse import parse_job_log
from bot.patch_rules import write_patches
from bot.records import FlakeRate, JobInfo, LogState, RunInfo
from bot.registry import MemoryTree, Registry, load_registry
from bot.registry.patch import suggest_patch
from bot.render import COMMENT_MARKER, outputs, render_check, render_comment, render_step_summary, render_text
from bot.render.verdict_words import headline
from bot.render.words import job_status
from bot.triage import triage
from bot.verdicts import Verdict

UPSTREAM = Path(__file__).resolve().parent / "data" / "upstream"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


def run_on(day: datetime) -> RunInfo:
    return RunInfo(
        id=17_000_001,
        attempt=1,
        workflow_name="unix port",
        workflow_path=".github/workflows/ports_unix.yml",
        event="push",
        branch="master",
        head_sha="1c3c201149f37fe8d81246191b3127bb198d6306",
        head_repo="micropython/micropython",
        created_at=day,
        status="completed",
        conclusion="failure",
        html_url="https://github.com/micropython/micropython/actions/runs/17000001",
    )


def job_info(name: str, job_id: int, conclusion: str = "failure") -> JobInfo:
    return JobInfo(
        id=job_id,
        run_id=17_000_001,
        attempt=1,
        name=name,
        status="completed",
        conclusion=conclusion,
        html_url=f"https://github.com/micropython/micropython/actions/runs/17000001/job/{job_id}",
    )


def parsed(name: str, job_id: int, steps: Sequence[Step]) -> JobInput:
    report = parse_job_log([job_log(steps, job=name)], job=name)
    return JobInput(job_info(name, job_id), LogState.PARSED, report)


def standard_failing() -> list[Step]:
    return [
        Step(
            "tools/ci.sh unix_standard_run_tests",
            real_log("05-standard-ci-full-helper-FAILING.log"),
            exit_code=2,
            name="Run main test suite",
        ),
        Step("tests/run-tests.py --print-failures", real_log("05b-print-failures-FAILING-ci-buffered.log")),
    ]


def thread_pass_v125() -> list[Step]:
    return [
        Step(
            "tools/ci.sh unix_standard_run_tests",
            real_log("21-v1.25.0-standard-thread-dir-FAILING.log"),
            exit_code=1,
        ),
        Step(
            "tests/run-tests.py --print-failures",
            real_log("21b-v1.25.0-thread-print-failures-ci-buffered.log"),
        ),
    ]


def upstream_patcher(registry: Registry):
    tree = MemoryTree(
        {
            "tests/run-tests.py": (UPSTREAM / "tests" / "run-tests.py").read_text(encoding="utf-8"),
            "tools/ci.sh": (UPSTREAM / "tools" / "ci.sh").read_text(encoding="utf-8"),
        },
        (UPSTREAM / "tests.txt").read_text(encoding="utf-8").split(),
    )

    def patcher(test: str, jobs: Sequence[str]) -> str | None:
        return suggest_patch(tree, registry, test=test, jobs=jobs).diff

    return patcher


def test_push_with_real_failures_expired_log_and_runner_error(registry: Registry) -> None:
    jobs = [
        parsed("standard", 101, standard_failing()),
        JobInput(job_info("macos", 102), LogState.EXPIRED, None),
        parsed(
            "coverage",
            103,
            [
                Step(
                    "tools/ci.sh unix_coverage_run_tests",
                    real_log("17-runner-error-missing-unittest-exit2.log"),
                    exit_code=2,
                )
            ],
        ),
        JobInput(job_info("minimal", 104, "success"), LogState.NOT_FETCHED, None),
    ]
    report = triage(run_on(datetime(2026, 8, 20, tzinfo=UTC)), jobs, registry)

    standard, macos, coverage, minimal = report.jobs
    assert [f.failure.test for f in standard.findings] == [
        "basics/zz_scratch_cpython_mismatch.py",
        "extmod/zz_scratch_unittest_fail.py",
        "micropython/const.py",
        "ports/unix/zz_scratch_segfault.py",
        "basics/zz_scratch_timeout.py",
        "basics/zz_scratch_uncaught_exc.py",
        "cmdline/repl_basic.py",
    ]
    assert all(f.verdict is Verdict.NEW for f in standard.findings)
    assert sorted(f.failure.test for f in standard.ignored) == [
        "thread/stress_recurse.py",
        "thread/thread_gc1.py",
    ]
    assert macos.state is JobState.LOG_UNREADABLE
    assert coverage.state is JobState.NOT_A_TEST_FAILURE
    assert job_status(coverage) == "not a test failure: test runner error"
    assert minimal.state is JobState.PASSED
    assert headline(report) == "8 failures in 2 jobs: 8 need a look; could not read 1 log"

    comment = render_comment(report)
    out = analyse(comment)
    assert comment.startswith(COMMENT_MARKER) and out.balanced
    assert out.count("details") == 7  # one diff per failure
    assert any("-impl: cpython" in code for code in out.code)  # the diff line, with its sign
    text = visible("".join(out.prose))
    assert f"log line {standard.findings[0].failure.line} of the" in text
    assert "requires unittest" in "".join(out.code)
    assert github_refs(out) == []

    check = render_check(report)
    assert [a["annotation_level"] for a in check.annotations] == ["failure"] * 7
    assert check.annotations[0]["path"] == "tests/basics/zz_scratch_cpython_mismatch.py"
    assert analyse(check.text).balanced and analyse(render_step_summary(report)).balanced
    assert outputs(report)["new-failures"] == "7"
    assert "ignored by run-tests.py: thread/thread_gc1.py" in render_text(report)


def const_history(test: str, job: str | None) -> FlakeRate | None:
    if test != "micropython/const.py":
        return None
    return FlakeRate(
        test, job, 12, 900, 0.0076, 0.023, last_seen=datetime(2026, 8, 1, tzinfo=UTC), since_last=40
    )


def const_alone() -> JobInput:
    """Capture 05 with only micropython/const.py failing (and the ignored flakes): the shape of an
    independent flake, which fails alone."""
    job = parsed("standard", 101, standard_failing())
    assert job.report is not None
    kept = tuple(f for f in job.report.failures if f.ignored or f.test == "micropython/const.py")
    return replace(job, report=replace(job.report, failures=kept))


def test_flaky_test_with_history_gets_a_patch(registry: Registry) -> None:
    report = triage(
        run_on(datetime(2026, 8, 20, tzinfo=UTC)),
        [const_alone()],
        registry,
        rates=const_history,
        history=intermittent(before=datetime(2026, 8, 20, tzinfo=UTC)),
    )
    report = write_patches(report, upstream_patcher(registry))
    (patch,) = report.patches
    assert patch.test == "micropython/const.py" and patch.jobs == ("standard",)
    assert '+    "micropython/const.py": (' in patch.patch
    comment = analyse(render_comment(report))
    assert any('"micropython/const.py": (' in code for code in comment.code)
    assert "in : failed 12 times in the last 900 executions (1.3%, 95% CI 0.8–2.3%)" in visible(
        "".join(comment.prose)
    )
    assert "failed 12 times in the last 900 executions of this job (1.3%, 95% CI 0.8–2.3%)" in visible(
        "".join(comment.prose)
    )


def test_no_patch_when_many_unlisted_tests_fail_together(registry: Registry) -> None:
    """Capture 05 whole: seven tests fail at once in one job. However flaky const.py's history
    looks, failures that coincide share a cause; offering to hide one of them would be wrong."""
    report = triage(
        run_on(datetime(2026, 8, 20, tzinfo=UTC)),
        [parsed("standard", 101, standard_failing())],
        registry,
        rates=const_history,
        history=intermittent(before=datetime(2026, 8, 20, tzinfo=UTC)),
    )
    report = write_patches(report, upstream_patcher(registry))
    assert report.patches == ()
    crowded = [(n.job, n.count) for n in report.notes if n.reason is NoteReason.CROWDED_JOB]
    assert crowded == [("standard", 7)]


def test_thread_gc1_before_and_after_the_ignore_list(registry: Registry) -> None:
    after = triage(
        run_on(datetime(2026, 8, 20, tzinfo=UTC)), [parsed("standard", 101, thread_pass_v125())], registry
    )
    (finding,) = after.findings
    assert finding.failure.test == "thread/thread_gc1.py"
    assert finding.verdict is Verdict.KNOWN_FLAKE
    assert "counted the failure instead of ignoring it" in finding.match.explanation
    before = triage(
        run_on(datetime(2025, 5, 1, tzinfo=UTC)), [parsed("standard", 101, thread_pass_v125())], registry
    )
    assert before.findings[0].verdict is not Verdict.KNOWN_FLAKE
