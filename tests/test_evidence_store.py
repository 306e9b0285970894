"""The store's side of the evidence: which executions `HistoryStore.test_history` hands over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.evidence import Result, RunRef, executions
from bot.records import JobInfo, JobReport, LogState, Outcome, RunInfo, Runner, TestFailure
from bot.store.sqlite import HistoryStore

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
TEST = "basics/t.py"


def run(run_id: int, hours: int, *, sha: str = "a", attempt: int = 1, conclusion: str = "failure") -> RunInfo:
    return RunInfo(
        id=run_id, attempt=attempt, workflow_name="unix port", workflow_path="ports_unix.yml",
        event="push", branch="master", head_sha=sha * 40, head_repo=None,
        created_at=T0 + timedelta(hours=hours), status="completed", conclusion=conclusion,
    )  # fmt: skip


def job(run_id: int, job_id: int, name: str, conclusion: str, attempt: int = 1) -> JobInfo:
    return JobInfo(job_id, run_id, attempt, name, "completed", conclusion)


def failing(symptom: str = "usual") -> JobReport:
    return JobReport(
        "standard", True, failures=(TestFailure(TEST, Runner.RUN_TESTS, Outcome.FAIL, symptom=symptom),)
    )


def test_history_covers_reruns_inferred_green_runs_and_expired_logs(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        # run 1: attempt 1 failed standard on the test, attempt 2 (re-run of failed jobs) passed it
        r1 = run(1, 0, sha="a", attempt=2, conclusion="success")
        store.save_run(
            r1,
            [job(1, 11, "standard", "failure"), job(1, 12, "minimal", "success"),
             job(1, 21, "standard", "success", 2), job(1, 22, "minimal", "success", 2)],
            {11: failing()},
        )  # fmt: skip
        store.save_inferred_run(run(2, 1, sha="b", conclusion="success"), 1)  # green, jobs inferred
        store.save_run(run(3, 2, sha="c"), [job(3, 31, "standard", "failure")], {31: LogState.EXPIRED})
        store.save_run(run(4, 3, sha="d"), [job(4, 41, "standard", "failure")], {41: failing("new")})
        current = run(5, 4, sha="a")  # another run of run 1's commit
        found = store.test_history(
            TEST, "standard", until=current.created_at - timedelta(seconds=1), run=current
        )
        runs = executions(found.here, TEST, before=RunRef(5, 1, "a" * 40, current.created_at))
    assert [(e.ref.run_id, e.ref.attempt, e.result) for e in runs] == [
        (1, 1, Result.FAIL),
        (1, 2, Result.PASS),  # the re-run's passing job is an execution of the test
        (2, 1, Result.PASS),  # an inferred green run
        (3, 1, Result.UNKNOWN),  # expired log: neither pass nor fail
        (4, 1, Result.FAIL),
    ]
    assert [r.symptom for r in found.here if r.failed] == ["usual", "new"]


def test_history_of_the_triaged_runs_own_earlier_attempts(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.save_run(run(1, 0, sha="a"), [job(1, 11, "standard", "success")], {})
        # run 2 attempt 2 is being triaged; the store synced both attempts already
        r2 = run(2, 1, sha="b", attempt=2)
        store.save_run(
            r2, [job(2, 21, "standard", "success"), job(2, 22, "standard", "failure", 2)], {22: failing()}
        )
        found = store.test_history(TEST, "standard", until=r2.created_at - timedelta(seconds=1), run=r2)
        runs = executions(found.here, TEST, before=RunRef(2, 2, "b" * 40, r2.created_at))
    assert [(e.ref.run_id, e.ref.attempt, e.result) for e in runs] == [
        (1, 1, Result.PASS),
        (2, 1, Result.PASS),
    ]


def test_default_branch_window_and_same_commit_runs_from_any_branch(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.save_run(run(1, 0, sha="a"), [job(1, 11, "standard", "failure")], {11: failing()})
        pr = RunInfo(
            **{**run(2, 1, sha="e", conclusion="success").__dict__, "event": "pull_request", "branch": "x"}
        )
        store.save_run(pr, [job(2, 21, "standard", "success")], {})
        current = RunInfo(**{**run(3, 2, sha="e").__dict__, "event": "pull_request", "branch": "x"})
        found = store.test_history(
            TEST, "standard", until=current.created_at - timedelta(seconds=1), run=current, branch="master",
            event="push",
        )  # fmt: skip
    assert found.default_branch
    assert sorted(r.run_id for r in found.here) == [1, 2]  # the PR run only as a run of this commit


def test_failing_elsewhere_lists_other_workflows_jobs(tmp_path: Path) -> None:
    """The weaker evidence across jobs (issue 26): where else, outside the triaged workflow, the
    test failed, the most recent first; never the triaged workflow's own jobs nor a PR's."""
    def other(run_id: int, hours: int, workflow: str, **kw: object) -> RunInfo:
        return RunInfo(**{**run(run_id, hours).__dict__, "workflow_path": f".github/workflows/{workflow}",
                          "workflow_name": workflow, **kw})  # fmt: skip

    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.save_run(run(1, 0), [job(1, 11, "standard", "failure")], {11: failing()})
        store.save_run(other(2, 1, "ports_qemu.yml"), [job(2, 21, "qemu_arm", "failure")], {21: failing()})
        store.save_run(other(3, 2, "ports_windows.yml"), [job(3, 31, "msvc", "failure")], {31: failing()})
        store.save_run(other(4, 3, "ports_qemu.yml", event="pull_request", branch="x"),
                       [job(4, 41, "qemu_rv32", "failure")], {41: failing()})  # fmt: skip
        store.save_run(other(5, 9, "ports_qemu.yml"), [job(5, 51, "qemu_mips", "failure")], {51: failing()})
        until = T0 + timedelta(hours=5)
        found = store.failing_elsewhere(
            TEST, until=until, workflow="ports_unix.yml", branch="master", event="push"
        )
        anywhere = store.failing_elsewhere(TEST, until=until, workflow="unix port")
    assert found == [
        (".github/workflows/ports_windows.yml", "msvc"),
        (".github/workflows/ports_qemu.yml", "qemu_arm"),
    ]
    assert (".github/workflows/ports_qemu.yml", "qemu_rv32") in anywhere and len(anywhere) == 3
