"""Pull-request attempts as evidence for that pull request (issue 23, item 3).

Attempt 1 of a pull request's run passes a test that attempt 2 of the same commit fails: proven
flaky, and the comment says which attempt passed. The attempts are kept apart from the default
branch's history: they never move a rate, a streak or the store's runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from fake_github import FakeGitHub
from helpers.e2e import Action, const_only_log, thread_gc1_log
from helpers.histories import BEFORE, history
from test_evidence import RUN, SHA, USUAL, judge

from bot.evidence import JobRecord
from bot.records import JobInfo, JobReport, Outcome, Runner, TestFailure
from bot.render.verdict_words import brief
from bot.store.pull_attempts import KEEP, pull_records, save_pull_attempt
from bot.store.sqlite import HistoryStore
from bot.verdicts import Verdict

PR_RUN = replace(RUN, event="pull_request", branch="feature", attempt=2)
TEST = "basics/t.py"


def attempt(n: int, conclusion: str, *, failed: bool = False) -> JobRecord:
    return JobRecord(PR_RUN.id, n, SHA, BEFORE, "standard", conclusion, True, True, True, failed,
                     USUAL if failed else "")  # fmt: skip


def test_a_pass_on_an_earlier_attempt_of_the_commit_proves_it_flaky() -> None:
    found = replace(history("PPPPPPPP", "standard", symptom=USUAL), same_commit=(attempt(1, "success"),))
    (finding,) = judge(found, run=PR_RUN, on_default=False).findings
    assert finding.verdict is Verdict.PROVEN_FLAKY and not finding.needs_look
    assert brief(finding) == "passed on this commit in attempt 1 of this run"
    # without the attempt, the same history says first failure here
    (alone,) = judge(history("PPPPPPPP", "standard", symptom=USUAL), run=PR_RUN, on_default=False).findings
    assert alone.verdict is Verdict.FIRST_FAILURE


def test_attempts_never_move_the_counts_and_only_earlier_passes_count() -> None:
    base = history("PPPFPPPPFPP", "standard", symptom=USUAL)
    failed_first = replace(base, same_commit=(attempt(1, "failure", failed=True),))
    (finding,) = judge(failed_first, run=PR_RUN, on_default=False).findings
    plain = judge(base, run=PR_RUN, on_default=False).findings[0]
    assert finding.evidence == plain.evidence  # a failed attempt is no pass, and no history either
    later = replace(base, same_commit=(attempt(3, "success"),))  # a later attempt is not evidence yet
    assert judge(later, run=PR_RUN, on_default=False).findings[0].evidence == plain.evidence
    other_commit = replace(base, same_commit=(attempt(1, "success")._replace(sha="d" * 40),))
    assert judge(other_commit, run=PR_RUN, on_default=False).findings[0].verdict is Verdict.UNLISTED_FLAKE


def test_no_history_but_a_passing_attempt_is_still_proof() -> None:
    found = replace(history("", "standard"), same_commit=(attempt(1, "success"),))
    (finding,) = judge(found, run=PR_RUN, on_default=False).findings
    assert finding.verdict is Verdict.PROVEN_FLAKY


def test_store_round_trip_keeps_attempts_apart_and_prunes_old_ones(tmp_path: Path) -> None:
    failure = TestFailure(TEST, Runner.RUN_TESTS, Outcome.FAIL, symptom="x")
    jobs = [
        (JobInfo(1, PR_RUN.id, 1, "standard", "completed", "success"), None),
        (JobInfo(2, PR_RUN.id, 1, "qemu_arm", "completed", "failure"),
         JobReport("qemu_arm", True, failures=(failure,))),
        (JobInfo(3, PR_RUN.id, 1, "macos", "completed", "cancelled"), None),
    ]  # fmt: skip
    with HistoryStore(tmp_path / "h.sqlite") as store:
        before = store.counts()
        save_pull_attempt(store, replace(PR_RUN, attempt=1), jobs)
        save_pull_attempt(store, replace(PR_RUN, attempt=1), jobs)  # triaged twice: no duplicate
        assert store.counts() == before  # no run, job or outcome of the history
        (std,) = pull_records(store, SHA, "standard", TEST)
        assert (std.attempt, std.conclusion, std.failed, std.log_read) == (1, "success", False, False)
        (arm,) = pull_records(store, SHA, "qemu_arm", TEST)
        assert arm.failed and arm.symptom == "x" and arm.log_read and arm.past_build
        assert pull_records(store, SHA, "macos", TEST) == ()  # a cancelled job ran nothing
        assert pull_records(store, "d" * 40, "standard", TEST) == ()
        moment = BEFORE + KEEP + timedelta(days=1)
        later = replace(PR_RUN, id=PR_RUN.id + 1, head_sha="e" * 40, created_at=moment)
        save_pull_attempt(store, later, jobs[:1])
        assert pull_records(store, SHA, "standard", TEST) == ()  # older than KEEP: gone


def test_a_re_run_on_a_pull_request_is_told_proven_flaky_through_the_action(
    fake_github: FakeGitHub, action: Action, tmp_path: Path
) -> None:
    fake = fake_github
    store = tmp_path / "h.sqlite"
    for i in range(10):
        push = fake.add_run(event="push", created_at=f"2026-04-{1 + i:02d}T08:00:00Z")
        fake.add_job(push["id"], "standard", "success", log="missing")
    pr = fake.add_pull(head_sha="ab" * 20, head_branch="feature")
    run = fake.add_run(
        event="pull_request", branch="feature", head_sha=pr["head"]["sha"], pull_requests=[pr["number"]],
        created_at="2026-04-20T10:00:00Z",
    )  # fmt: skip
    fake.add_job(run["id"], "standard", "success", log="missing")
    fake.add_job(run["id"], "qemu_arm", "failure", log=thread_gc1_log())
    assert action.run(run["id"], history=str(store)).code == 0
    fake.add_attempt(run["id"], conclusion="failure")  # re-run all jobs: standard fails this time
    fake.add_job(run["id"], "standard", "failure", log=const_only_log())
    fake.add_job(run["id"], "qemu_arm", "success", log="missing")

    result = action.run(run["id"], history=str(store))

    assert result.code == 0, result.stderr
    (row,) = result.failures
    assert (row["test"], row["verdict"], row["needs_look"]) == ("micropython/const.py", "proven-flaky", False)
    assert row["evidence"]["same_commit_pass_run"] == run["id"]
    [comment] = fake.comments(pr["number"])
    assert "passed on this commit in attempt 1 of this run" in comment["body"]
    assert f"/actions/runs/{run['id']}/attempts/1" in comment["body"]
    with HistoryStore(store) as history_store:
        assert history_store.run_state(run["id"]) is None  # the default branch's history is untouched


def test_an_attempt_that_cannot_be_recorded_costs_a_warning_not_the_evidence(
    fake_github: FakeGitHub, action: Action, tmp_path: Path
) -> None:
    fake = fake_github
    store = tmp_path / "h.sqlite"
    with HistoryStore(store) as history_store:  # a file whose pull_jobs table is not ours
        history_store._db.execute("CREATE TABLE pull_jobs (x)")
    for i in range(5):
        push = fake.add_run(event="push", created_at=f"2026-04-{1 + i:02d}T08:00:00Z")
        fake.add_job(push["id"], "standard", "success", log="missing")
    pr = fake.add_pull(head_sha="cd" * 20, head_branch="feature")
    run = fake.add_run(
        event="pull_request", branch="feature", head_sha=pr["head"]["sha"], pull_requests=[pr["number"]],
        created_at="2026-04-20T10:00:00Z",
    )  # fmt: skip
    fake.add_job(run["id"], "standard", "failure", log=const_only_log())

    result = action.run(run["id"], history=str(store))

    assert result.code == 0, result.stderr
    (row,) = result.failures
    assert row["verdict"] == "first-failure"  # judged with the history all the same
    assert "could not record this pull request attempt" in result.stdout
