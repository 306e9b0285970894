"""GitHub misbehaving during a triage: the report still gets out, and nothing is written twice."""

from __future__ import annotations

import pytest
from fake_github import FakeGitHub
from helpers.e2e import Action, commands_acted, standard_log, thread_gc1_log

from bot.render import COMMENT_MARKER


def pr_run(fake: FakeGitHub, log: bytes) -> tuple[dict, dict]:
    pr = fake.add_pull(head_sha="5a" * 20)
    run = fake.add_run(event="pull_request", head_sha="5a" * 20, pull_requests=[pr["number"]])
    fake.add_job(run["id"], "standard", "failure", log=log)
    return pr, run


def push_run(fake: FakeGitHub) -> dict:
    run = fake.add_run(event="push", created_at="2025-10-01T09:00:00Z")
    fake.add_job(run["id"], "standard", "failure", log=standard_log(extra_failures=60))
    fake.add_job(run["id"], "qemu_arm", "failure", log=thread_gc1_log())
    return run


def test_502_after_the_comment_was_created_leaves_one_comment(
    fake_github: FakeGitHub, action: Action
) -> None:
    pr, run = pr_run(fake_github, standard_log())
    fake_github.fail("POST", r"/issues/\d+/comments$", 502, apply=True)

    result = action.run(run["id"])

    assert result.code == 0, result.stderr
    [comment] = fake_github.comments(pr["number"])
    assert comment["body"].startswith(COMMENT_MARKER)
    assert result.outputs["comment-url"] == comment["html_url"]
    assert len(fake_github.requests_to("POST", r"/comments$")) == 1  # looked again instead of reposting


def test_502_before_the_comment_was_created_posts_it_once(fake_github: FakeGitHub, action: Action) -> None:
    pr, run = pr_run(fake_github, standard_log())
    fake_github.fail("POST", r"/issues/\d+/comments$", 502)

    result = action.run(run["id"])

    assert result.code == 0
    assert len(fake_github.comments(pr["number"])) == 1
    assert len(fake_github.requests_to("POST", r"/comments$")) == 2


def test_reset_after_the_comment_was_created_leaves_one_comment(
    fake_github: FakeGitHub, action: Action
) -> None:
    pr, run = pr_run(fake_github, standard_log())
    fake_github.reset_connection("POST", r"/issues/\d+/comments$", apply=True)

    assert action.run(run["id"]).code == 0
    assert len(fake_github.comments(pr["number"])) == 1


def test_secondary_rate_limit_waits_retry_after(
    fake_github: FakeGitHub, action: Action, gateway_waits: list[float]
) -> None:
    pr, run = pr_run(fake_github, standard_log())
    fake_github.rate_limit("GET", r"/jobs$", kind="secondary", retry_after=7)

    result = action.run(run["id"])

    assert gateway_waits == [7.0]  # exactly what GitHub asked for, once
    assert result.code == 0
    assert len(fake_github.requests_to("GET", r"/jobs$")) == 2
    assert len(fake_github.comments(pr["number"])) == 1


def test_connection_reset_on_the_log_blob_is_retried(fake_github: FakeGitHub, action: Action) -> None:
    _, run = pr_run(fake_github, standard_log())
    fake_github.reset_connection("GET", r"^/_blob/")

    result = action.run(run["id"])

    assert result.code == 0
    assert len([r for r in fake_github.requests if r.is_blob]) == 2
    assert result.outputs["new-failures"] == "7"
    assert result.outputs["unreadable-logs"] == "0"


def test_lost_answer_to_an_annotation_batch_does_not_duplicate_annotations(
    fake_github: FakeGitHub, action: Action
) -> None:
    run = push_run(fake_github)
    fake_github.fail("PATCH", r"/check-runs/\d+$", 502, apply=True)

    result = action.run(run["id"])

    assert result.code == 0, result.stderr
    [check] = fake_github.check_runs()
    assert len(check["annotations"]) == 68
    paths = [(a["path"], a["message"]) for a in check["annotations"]]
    assert len(set(paths)) == len(paths)


def test_lost_answer_to_the_check_run_create_does_not_duplicate_it(
    fake_github: FakeGitHub, action: Action
) -> None:
    run = push_run(fake_github)
    fake_github.reset_connection("POST", r"/check-runs$", apply=True)

    assert action.run(run["id"]).code == 0
    [check] = fake_github.check_runs()
    assert len(check["annotations"]) == 68


def test_rate_limit_beyond_the_time_bound_still_reports_and_exits_0(
    fake_github: FakeGitHub, action: Action
) -> None:
    pr, run = pr_run(fake_github, standard_log())
    # primary limit spent for the next hour: waiting is pointless, publishing gives up at once
    fake_github.rate_limit("POST", r"/issues/\d+/comments$", kind="primary", reset_in=3600, times=None)

    result = action.run(run["id"])

    assert result.code == 0  # GitHub being unavailable is not a misconfiguration
    assert fake_github.comments(pr["number"]) == []
    assert result.outputs["new-failures"] == "7"
    assert "7 failures" in result.summary
    assert "Publishing failed" in result.summary
    assert any(c.startswith("::warning") for c in commands_acted(result.stdout))


def test_timed_out_log_download_and_job_listing_are_retried(
    fake_github: FakeGitHub, action: Action, monkeypatch: pytest.MonkeyPatch, gateway_waits: list[float]
) -> None:
    from bot.gateway.client import GitHubGateway

    # GitHub's answers are slow here, not absent: a short timeout stands in for the default 30 s
    # (the log download honours 0.25 s; PyGithub rounds the job listing's up to 1 s).
    monkeypatch.setitem(GitHubGateway.__init__.__kwdefaults__, "timeout", 0.25)
    pr, run = pr_run(fake_github, standard_log())
    fake_github.delay("GET", r"/jobs$", seconds=2)
    fake_github.delay("GET", r"^/_blob/", seconds=1)

    result = action.run(run["id"])

    assert result.code == 0, result.stderr
    assert len(fake_github.requests_to("GET", r"/jobs$")) == 2
    assert len([r for r in fake_github.requests if r.is_blob]) == 2
    # one first-retry backoff each (half to all of the 1 s base), not the 30 s timeout again
    assert len(gateway_waits) == 2 and all(0.5 <= w <= 1.0 for w in gateway_waits), gateway_waits
    assert result.outputs["new-failures"] == "7" and result.outputs["unreadable-logs"] == "0"
    assert len(fake_github.comments(pr["number"])) == 1


def test_budget_too_small_for_the_triage_degrades_and_says_so(
    fake_github: FakeGitHub, action: Action
) -> None:
    """As action.yml says: logs past the budget are 'not downloaded', publishing is skipped, exit 0."""
    pr = fake_github.add_pull(head_sha="5b" * 20)
    run = fake_github.add_run(event="pull_request", head_sha="5b" * 20, pull_requests=[pr["number"]])
    fake_github.add_job(run["id"], "standard", "failure", log=standard_log())
    fake_github.add_job(run["id"], "qemu_arm", "failure", log=thread_gc1_log())

    result = action.run(run["id"], request_budget="3")

    assert result.code == 0
    assert len(fake_github.requests) == 3
    assert result.outputs["unreadable-logs"] == "1" and result.outputs["new-failures"] == "7"
    assert "the log was not downloaded" in result.summary
    assert "Publishing failed: request budget of 3 spent" in result.summary
    assert fake_github.comments(pr["number"]) == []
