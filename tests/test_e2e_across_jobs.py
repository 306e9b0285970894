"""Evidence across jobs through the real action path against the fake GitHub (issue 26).

Twenty `master` pushes of two jobs: `coverage` failed on micropython/const.py twice, alone
between passes, the way it fails in `standard` now; `standard` never failed on it. The next
push's failure in `standard` is "flaky in other jobs, first time here": a re-run, no patch, and
the check run is neutral. Had `standard` failed in the push before too, it would be a likely
regression, whatever `coverage` says.
"""

from __future__ import annotations

from pathlib import Path

from fake_github import FakeGitHub
from helpers.e2e import Action, const_only_log

COVERAGE_FAILED_AT = {4, 12}


def pushes(fake: FakeGitHub, standard_failed_at: frozenset[int] = frozenset()) -> list[dict]:
    log = const_only_log()
    runs = []
    for i in range(20):
        failed = {"coverage": i in COVERAGE_FAILED_AT, "standard": i in standard_failed_at}
        run = fake.add_run(
            event="push", created_at=f"2026-04-{1 + i // 2:02d}T{8 + i % 2:02d}:00:00Z",
            conclusion="failure" if any(failed.values()) else "success",
        )  # fmt: skip
        for job, bad in failed.items():
            fake.add_job(run["id"], job, "failure" if bad else "success", log=log if bad else "missing")
        runs.append(run)
    return runs


def test_a_first_failure_here_of_a_flake_in_another_job_reassures(
    fake_github: FakeGitHub, action: Action, tmp_path: Path
) -> None:
    runs = pushes(fake_github)
    current = fake_github.add_run(event="push", created_at="2026-05-02T10:00:00Z")
    fake_github.add_job(current["id"], "standard", "failure", log=const_only_log())
    fake_github.add_job(current["id"], "coverage", "success", log="missing")

    # 2 failures in 20 executions would pass a patch policy of 1% over 10 runs, 2 events: not here
    result = action.run(current["id"], history=str(tmp_path / "h.sqlite"), suggest_patches="0.01,10")

    assert result.code == 0, result.stderr
    (row,) = result.failures
    assert row["verdict"] == "flaky-in-other-jobs" and not row["needs_look"] and not row["patch"]
    (other,) = row["evidence"]["other_jobs"]
    assert (other["job"], other["failures"], other["executions"], other["flaky"]) == ("coverage", 2, 20, True)
    assert other["last_failing_run"] == runs[12]["id"]
    assert result.outputs["needs-a-look"] == "0"
    assert "flaky in other jobs, first time here" in result.summary
    [check] = fake_github.check_runs()
    assert check["conclusion"] == "neutral"
    assert check["annotations"][0]["annotation_level"] == "warning"


def test_two_failures_in_a_row_here_are_a_likely_regression_whatever_other_jobs_say(
    fake_github: FakeGitHub, action: Action, tmp_path: Path
) -> None:
    pushes(fake_github, standard_failed_at=frozenset({19}))
    current = fake_github.add_run(event="push", created_at="2026-05-02T10:00:00Z")
    fake_github.add_job(current["id"], "standard", "failure", log=const_only_log())
    fake_github.add_job(current["id"], "coverage", "success", log="missing")

    result = action.run(current["id"], history=str(tmp_path / "h.sqlite"))

    assert result.code == 0, result.stderr
    (row,) = result.failures
    assert row["verdict"] == "failing-since" and row["needs_look"]
    assert row["evidence"]["other_jobs"] is None  # not read: a warning already
