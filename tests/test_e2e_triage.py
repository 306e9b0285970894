"""The action end to end: real command, real logs, real HTTP to the fake GitHub.

Every assertion is about what GitHub received (requests, comment bodies, check runs and their
annotations) or what the runner would read (outputs, step summary, stdout).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from fake_github import BOT_LOGIN, FakeGitHub
from helpers.e2e import Action, commands_acted, green_log, standard_log, thread_gc1_log
from helpers.gfm import analyse, github_refs

from bot.render import COMMENT_MARKER


def writes(fake: FakeGitHub) -> list[str]:
    return [
        f"{r.method} {r.path}" for r in fake.api_requests() if r.method in ("POST", "PATCH", "PUT", "DELETE")
    ]


def test_push_with_two_failed_jobs_gets_a_check_run_with_batched_annotations(
    fake_github: FakeGitHub, action: Action
) -> None:
    fake = fake_github
    run = fake.add_run(event="push", created_at="2025-10-01T09:00:00Z")
    fake.add_job(run["id"], "minimal", "success", log=green_log())
    fake.add_job(run["id"], "standard", "failure", log=standard_log(extra_failures=60))
    fake.add_job(run["id"], "qemu_arm", "failure", log=thread_gc1_log())

    result = action.run(run["id"])

    assert result.code == 0, result.stderr
    [check] = fake.check_runs(head_sha=run["head_sha"])
    assert check["name"] == "flake-bot"
    assert check["external_id"] == f"{run['id']}-1"
    assert check["conclusion"] == "failure"  # 67 new failures need a look
    annotations = check["annotations"]
    assert len(annotations) == 68
    posts = fake.requests_to("POST", r"/check-runs$")
    patches = fake.requests_to("PATCH", r"/check-runs/\d+$")
    assert len(posts) == 1 and len(posts[0].json["output"]["annotations"]) == 50
    assert [len(p.json["output"]["annotations"]) for p in patches] == [18]
    by_path = {(a["path"], a["annotation_level"]) for a in annotations}
    assert ("tests/thread/thread_gc1.py", "warning") in by_path  # known flake in qemu_arm then
    assert ("tests/micropython/const.py", "failure") in by_path
    assert all(a["start_line"] == 1 == a["end_line"] for a in annotations)
    # no comment for a push; the green job's log was never downloaded
    assert not fake.requests_to("*", r"/issues/")
    assert len([r for r in fake.requests if r.is_blob]) == 2
    # the runner reads these
    assert result.outputs["known-flaky"] == "1"
    assert result.outputs["new-failures"] == "67"
    assert result.outputs["check-run-url"] == check["html_url"]
    assert result.outputs["comment-url"] == ""
    assert {f["test"] for f in result.failures} >= {"thread/thread_gc1.py", "cmdline/repl_basic.py"}
    assert "68 failures in 2 jobs" in result.summary
    # the token never went to the blob host, always to the API
    for request in fake.requests:
        assert ("authorization" in request.headers) != request.is_blob
    # requests: jobs list, 2 x (log + blob), check-run list, create, one PATCH batch
    assert len(fake.requests) <= 4 + 2 * 2 + 1


def test_same_repo_pull_request_gets_one_sticky_comment(fake_github: FakeGitHub, action: Action) -> None:
    fake = fake_github
    pr = fake.add_pull(head_sha="c0ffee" * 6 + "abcd", head_branch="fix-const")
    run = fake.add_run(
        event="pull_request", branch="fix-const", head_sha=pr["head"]["sha"], pull_requests=[pr["number"]]
    )
    fake.add_job(run["id"], "standard", "failure", log=standard_log())

    result = action.run(run["id"])

    assert result.code == 0, result.stderr
    [comment] = fake.comments(pr["number"])
    assert comment["user"]["login"] == BOT_LOGIN
    assert comment["body"].startswith(COMMENT_MARKER)
    assert result.outputs["comment-url"] == comment["html_url"]
    assert not fake.check_runs()  # check-run: on-push
    rendered = analyse(comment["body"])
    assert rendered.balanced
    assert not github_refs(rendered)
    assert "7 failures" in comment["body"]


def test_fork_pull_request_is_found_by_head_and_confirmed_by_sha(
    fake_github: FakeGitHub, action: Action
) -> None:
    fake = fake_github
    sha = "f0e1d2c3" * 5
    # a decoy: same fork branch name in another fork, other commit
    decoy = fake.add_pull(head_sha="0" * 40, head_branch="patch-1", head_repo="someone/micropython")
    pr = fake.add_pull(head_sha=sha, head_branch="patch-1", head_repo="contrib/micropython")
    run = fake.add_run(event="pull_request", branch="patch-1", head_sha=sha, head_repo="contrib/micropython")
    assert fake.workflow_run_event(run["id"])["workflow_run"]["pull_requests"] == []
    fake.add_job(run["id"], "qemu_arm", "failure", log=thread_gc1_log())

    result = action.run(run["id"])

    assert result.code == 0, result.stderr
    assert len(fake.comments(pr["number"])) == 1
    assert fake.comments(decoy["number"]) == []
    [lookup] = fake.requests_to("GET", r"/pulls$")
    assert lookup.query["head"] == "contrib:patch-1"


def test_rerun_edits_the_same_comment_and_never_touches_a_forged_one(
    fake_github: FakeGitHub, action: Action
) -> None:
    fake = fake_github
    pr = fake.add_pull(head_sha="ab" * 20)
    run = fake.add_run(event="pull_request", head_sha="ab" * 20, pull_requests=[pr["number"]])
    # someone else's comment carrying our marker, posted before the bot's
    forged = fake.add_comment(pr["number"], COMMENT_MARKER + "\nI am not the bot", user="mallory")
    fake.add_job(run["id"], "standard", "failure", log=standard_log())

    first = action.run(run["id"])
    comments = fake.comments(pr["number"])
    assert len(comments) == 2
    mine = [c for c in comments if c["user"]["login"] == BOT_LOGIN]
    assert len(mine) == 1

    fake.add_attempt(run["id"], conclusion="success")
    fake.add_job(run["id"], "standard", "success", log=green_log())
    second = action.run(run["id"])

    assert first.code == second.code == 0
    after = fake.comments(pr["number"])
    assert [c["id"] for c in after] == [forged["id"], mine[0]["id"]]
    assert after[0]["body"] == forged["body"]
    assert after[1]["body"] != mine[0]["body"]
    assert "attempt 2" in after[1]["body"]
    # editing in place hides no history: the red first attempt is still mentioned
    assert re.search(r"attempt 1\b.*7 failures", after[1]["body"])
    assert second.outputs["comment-url"] == mine[0]["html_url"]
    assert len(fake.requests_to("POST", r"/comments$")) == 1
    assert len(fake.requests_to("PATCH", r"/issues/comments/")) == 1


def test_green_pull_request_gets_no_new_comment_in_failures_mode(
    fake_github: FakeGitHub, action: Action
) -> None:
    fake = fake_github
    pr = fake.add_pull(head_sha="cd" * 20)
    run = fake.add_run(
        event="pull_request", head_sha="cd" * 20, pull_requests=[pr["number"]], conclusion="success"
    )
    fake.add_job(run["id"], "minimal", "success", log=green_log())

    assert action.run(run["id"]).code == 0
    assert fake.comments(pr["number"]) == []
    assert action.run(run["id"], comment="always").code == 0
    assert len(fake.comments(pr["number"])) == 1


def test_rerun_of_a_push_gets_its_own_check_run_and_retriage_sends_no_duplicate(
    fake_github: FakeGitHub, action: Action
) -> None:
    fake = fake_github
    run = fake.add_run(event="push", created_at="2025-10-01T09:00:00Z")
    fake.add_job(run["id"], "qemu_arm", "failure", log=thread_gc1_log())
    action.run(run["id"])
    action.run(run["id"])  # the bot's own workflow re-run for the same attempt
    [check] = fake.check_runs()
    assert len(check["annotations"]) == 1
    assert len(fake.requests_to("POST", r"/check-runs$")) == 1

    fake.add_attempt(run["id"], conclusion="failure")
    fake.add_job(run["id"], "qemu_arm", "failure", log=thread_gc1_log())
    action.run(run["id"])
    checks = fake.check_runs()
    assert sorted(c["external_id"] for c in checks) == [f"{run['id']}-1", f"{run['id']}-2"]
    assert [len(c["annotations"]) for c in checks] == [1, 1]
    assert all(c["conclusion"] == "neutral" for c in checks)  # only a known flake


def test_expired_log_is_a_line_in_the_report(fake_github: FakeGitHub, action: Action) -> None:
    fake = fake_github
    pr = fake.add_pull(head_sha="ef" * 20)
    run = fake.add_run(event="pull_request", head_sha="ef" * 20, pull_requests=[pr["number"]])
    fake.add_job(run["id"], "standard", "failure", log="expired")
    fake.add_job(run["id"], "qemu_arm", "failure", log=thread_gc1_log())

    result = action.run(run["id"])

    assert result.code == 0
    assert result.outputs["unreadable-logs"] == "1"
    [comment] = fake.comments(pr["number"])
    assert "expired" in comment["body"]
    assert "expired" in result.summary


def test_dry_run_writes_nothing_to_github(fake_github: FakeGitHub, action: Action) -> None:
    fake = fake_github
    pr = fake.add_pull(head_sha="aa" * 20)
    run = fake.add_run(event="pull_request", head_sha="aa" * 20, pull_requests=[pr["number"]])
    fake.add_job(run["id"], "standard", "failure", log=standard_log())

    result = action.run(run["id"], args=("--dry-run",), check_run="always")

    assert result.code == 0
    assert writes(fake) == []
    assert f"would create a comment on #{pr['number']}" in result.stdout
    assert "would publish check run" in result.stdout
    assert result.outputs["new-failures"] == "7"


def test_bad_token_is_a_one_line_error(fake_github: FakeGitHub, action: Action) -> None:
    fake = fake_github
    run = fake.add_run(event="push")
    fake.add_job(run["id"], "standard", "failure", log=standard_log())
    fake.fail("GET", r"/jobs", 401, body={"message": "Bad credentials", "documentation_url": "x"}, times=None)

    result = action.run(run["id"])

    assert result.code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr == (
        "flake-bot: GET /repos/micropython/micropython/actions/runs/19000000001/attempts/1/jobs: "
        "bad credentials (401): the token is missing, wrong or expired\n"
    )


def test_unreadable_registry_exits_2_before_any_request(
    fake_github: FakeGitHub, action: Action, tmp_path: Path
) -> None:
    run = fake_github.add_run(event="push")
    bad = tmp_path / "registry.yml"
    bad.write_text("entries: [unclosed\n")
    result = action.run(run["id"], registry=str(bad))
    assert result.code == 2
    assert result.stderr.startswith("flake-bot: error:") and len(result.stderr.strip().splitlines()) == 1
    assert fake_github.requests == []


def test_missing_permission_still_writes_summary_and_outputs(fake_github: FakeGitHub, action: Action) -> None:
    fake = fake_github
    run = fake.add_run(event="push", created_at="2025-10-01T09:00:00Z")
    fake.add_job(run["id"], "qemu_arm", "failure", log=thread_gc1_log())
    fake.deny("*", r"/check-runs", permission="checks=write")

    result = action.run(run["id"])

    assert result.code == 1
    assert result.stderr.splitlines()[-1].endswith(
        "GitHub refused the request (403): Resource not accessible by integration; "
        "give the workflow `permissions: checks: write`"
    )
    assert result.outputs["known-flaky"] == "1"
    assert "1 known flake" in result.summary
    assert any(c.startswith("::warning") for c in commands_acted(result.stdout))
    assert len(fake.requests_to("*", r"/check-runs")) == 1  # a refusal is not retried


def test_outputs_json_is_parseable_and_bounded(fake_github: FakeGitHub, action: Action) -> None:
    run = fake_github.add_run(event="push")
    fake_github.add_job(run["id"], "standard", "failure", log=standard_log())
    result = action.run(run["id"], check_run="off")
    rows = json.loads(result.outputs["failures"])
    assert len(rows) == 9 and all(r["job"] == "standard" for r in rows)
    # the failures first, then those run-tests.py ignored (issue 23: every failure is in the output)
    assert [r["verdict"] == "ignored" for r in rows] == [False] * 7 + [True] * 2
    assert not any(r["needs_look"] for r in rows[7:])
    assert writes(fake_github) == []


def test_log_cap_is_applied_and_said(fake_github: FakeGitHub, action: Action) -> None:
    fake = fake_github
    run = fake.add_run(event="push")
    fake.add_job(run["id"], "standard", "failure", log=standard_log())

    result = action.run(run["id"], max_log_mb="0.01")

    assert result.code == 0
    assert len([r for r in fake.requests if r.is_blob]) == 1
    # the cap is named as the reason the rest of the log was not read
    assert "only the first 0.00999928 MiB of the log were read (max-log-mb)" in result.summary
    assert result.outputs["failures"] == "[]"  # the failures sat beyond the first 10 KiB
    [check] = fake.check_runs()
    assert check["conclusion"] == "failure"  # an unexplained failure is never reassuring


def test_a_run_that_cannot_be_triaged_says_why_on_the_run_page(
    fake_github: FakeGitHub, action: Action
) -> None:
    run = fake_github.add_run(event="push")
    fake_github.fail(
        "GET", r"/jobs", 401, body={"message": "Bad credentials", "documentation_url": "x"}, times=None
    )
    result = action.run(run["id"])
    assert result.code == 1
    assert result.summary.startswith("**flake-bot could not triage this run:**")
    assert result.outputs == {}


def test_green_push_costs_one_request_and_posts_nothing(fake_github: FakeGitHub, action: Action) -> None:
    run = fake_github.add_run(event="push", conclusion="success")
    fake_github.add_job(run["id"], "standard", "success", log=green_log())
    result = action.run(run["id"])
    assert result.code == 0
    assert [f"{r.method} {r.path}" for r in fake_github.requests] == [
        f"GET /repos/{fake_github.repo}/actions/runs/{run['id']}/attempts/1/jobs"
    ]
    assert result.outputs["headline"].startswith("No failures")


def test_forged_pull_request_in_the_event_is_ignored_for_the_fork_pr_found_by_head(
    fake_github: FakeGitHub, action: Action
) -> None:
    """A fork's run event can name any PR; only the PR whose real head is this run's commit is used."""
    fake = fake_github
    sha = "7e" * 20
    victim = fake.add_pull(head_sha="9" * 40, head_branch="unrelated", head_repo="bob/micropython")
    pr = fake.add_pull(head_sha=sha, head_branch="fix-gc", head_repo="alice/micropython")
    forged = {
        "number": victim["number"],
        "head": {"ref": "fix-gc", "sha": sha, "repo": {"url": f"{fake.api_url}/repos/alice/micropython"}},
        "base": {"ref": "master", "sha": "0" * 40, "repo": {"url": f"{fake.api_url}/repos/{fake.repo}"}},
    }
    run = fake.add_run(
        event="pull_request",
        branch="fix-gc",
        head_sha=sha,
        head_repo="alice/micropython",
        pull_requests=[forged],
    )
    fake.add_job(run["id"], "qemu_arm", "failure", log=thread_gc1_log())

    result = action.run(run["id"])

    assert result.code == 0, result.stderr
    assert fake.comments(victim["number"]) == []
    [comment] = fake.comments(pr["number"])
    assert result.outputs["comment-url"] == comment["html_url"]
    assert [r.query["head"] for r in fake.requests_to("GET", r"/pulls$")] == ["alice:fix-gc"]
