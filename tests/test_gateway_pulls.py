"""Finding the pull request of a run without trusting the event: fork PRs (empty
`pull_requests`), force-pushed heads, and forged entries naming another PR or base.

The run comes from the `workflow_run` event, as the action receives it (`as_received`)."""

from __future__ import annotations

import pytest

from bot.gateway import GitHubGateway, run_from_event

BASE = "micropython/micropython"
SHA = "f00d" * 10


def as_received(fake_github, run):
    """The run as the triage reads it: from the `workflow_run` event payload."""
    return run_from_event(fake_github.workflow_run_event(run["id"]))


@pytest.fixture
def gateway(fake_github):
    gw = GitHubGateway(fake_github.repo, token="t", api_url=fake_github.api_url)
    yield gw
    gw.close()


def test_fork_pr_found_by_head_owner_and_branch(fake_github, gateway):
    pr = fake_github.add_pull(head_sha=SHA, head_branch="fix-gc", head_repo="alice/micropython")
    fake_github.add_pull(head_sha="0" * 40, head_branch="other", head_repo="alice/micropython")
    run = fake_github.add_run(
        event="pull_request", branch="fix-gc", head_sha=SHA, head_repo="alice/micropython"
    )
    info = gateway.find_pull_request(as_received(fake_github, run), BASE)
    assert info is not None
    assert (info.number, info.head_repo, info.head_branch, info.base_repo) == (
        pr["number"],
        "alice/micropython",
        "fix-gc",
        BASE,
    )
    lookup = fake_github.requests_to("GET", r"/pulls$")[0]
    assert lookup.query["head"] == "alice:fix-gc"
    assert lookup.query["state"] == "open"


def test_fork_pr_rejected_when_head_moved_on(fake_github, gateway):
    fake_github.add_pull(head_sha="1" * 40, head_branch="fix-gc", head_repo="alice/micropython")
    run = fake_github.add_run(
        event="pull_request", branch="fix-gc", head_sha=SHA, head_repo="alice/micropython"
    )
    assert gateway.find_pull_request(as_received(fake_github, run), BASE) is None


def test_same_named_branch_of_another_fork_is_not_taken(fake_github, gateway):
    fake_github.add_pull(head_sha=SHA, head_branch="fix-gc", head_repo="mallory/micropython")
    run = fake_github.add_run(
        event="pull_request", branch="fix-gc", head_sha=SHA, head_repo="alice/micropython"
    )
    assert gateway.find_pull_request(as_received(fake_github, run), BASE) is None


def test_same_repo_pr_listed_in_the_run_is_confirmed_through_the_api(fake_github, gateway):
    pr = fake_github.add_pull(head_sha=SHA, head_branch="feature")
    run = fake_github.add_run(
        event="pull_request", branch="feature", head_sha=SHA, pull_requests=[pr["number"]]
    )
    info = gateway.find_pull_request(as_received(fake_github, run), BASE)
    assert info is not None and info.number == pr["number"]
    assert [r.path for r in fake_github.requests][-1] == f"/repos/{BASE}/pulls/{pr['number']}"


def test_forged_event_entry_with_wrong_base_is_ignored(fake_github, gateway):
    victim = fake_github.add_pull(head_sha="9" * 40, head_branch="unrelated", head_repo="bob/micropython")
    forged = {
        "number": victim["number"],
        "head": {
            "ref": "fix-gc",
            "sha": SHA,
            "repo": {"url": f"{fake_github.api_url}/repos/alice/micropython"},
        },
        "base": {
            "ref": "master",
            "sha": "0" * 40,
            "repo": {"url": f"{fake_github.api_url}/repos/alice/other"},
        },
    }
    run = fake_github.add_run(
        event="pull_request",
        branch="fix-gc",
        head_sha=SHA,
        head_repo="alice/micropython",
        pull_requests=[forged],
    )
    event = fake_github.workflow_run_event(run["id"])
    assert gateway.find_pull_request(run_from_event(event), BASE) is None
    assert fake_github.requests_to("GET", rf"/pulls/{victim['number']}$") == []


def test_forged_event_entry_naming_another_pr_is_rejected_by_its_real_head(fake_github, gateway):
    victim = fake_github.add_pull(head_sha="9" * 40, head_branch="unrelated", head_repo="bob/micropython")
    forged = {
        "number": victim["number"],
        "head": {
            "ref": "fix-gc",
            "sha": SHA,
            "repo": {"url": f"{fake_github.api_url}/repos/alice/micropython"},
        },
        "base": {"ref": "master", "sha": "0" * 40, "repo": {"url": f"{fake_github.api_url}/repos/{BASE}"}},
    }
    run = fake_github.add_run(
        event="pull_request",
        branch="fix-gc",
        head_sha=SHA,
        head_repo="alice/micropython",
        pull_requests=[forged],
    )
    assert gateway.find_pull_request(run_from_event(fake_github.workflow_run_event(run["id"])), BASE) is None


def test_event_entry_with_stale_head_sha_falls_back_to_lookup(fake_github, gateway):
    pr = fake_github.add_pull(head_sha=SHA, head_branch="feature")
    stale = {
        "number": pr["number"],
        "head": {"ref": "feature", "sha": "2" * 40, "repo": {"url": f"{fake_github.api_url}/repos/{BASE}"}},
        "base": {"ref": "master", "sha": "0" * 40, "repo": {"url": f"{fake_github.api_url}/repos/{BASE}"}},
    }
    run = fake_github.add_run(event="pull_request", branch="feature", head_sha=SHA, pull_requests=[stale])
    info = gateway.find_pull_request(as_received(fake_github, run), BASE)
    assert info is not None and info.number == pr["number"]
    assert fake_github.requests_to("GET", r"/pulls/\d+$") == []


def test_push_run_has_no_pull_request(fake_github, gateway):
    run = fake_github.add_run(event="push", branch="master", head_sha=SHA)
    assert gateway.find_pull_request(as_received(fake_github, run), BASE) is None


def test_event_and_api_give_the_same_run_record(fake_github, gateway):
    pr = fake_github.add_pull(head_sha=SHA, head_branch="feature")
    run = fake_github.add_run(
        event="pull_request", branch="feature", head_sha=SHA, pull_requests=[pr["number"]]
    )
    from_event = run_from_event(fake_github.workflow_run_event(run["id"]))
    [from_api] = gateway.iter_runs("ports_unix.yml")  # the history sync reads runs this way
    assert from_event == from_api
    assert from_event.pull_requests[0].base_repo == BASE
    assert from_event.pull_requests[0].head_sha == SHA
