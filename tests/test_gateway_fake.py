"""The fake GitHub itself: the GitHub behaviours other tests rely on it to reproduce."""

from __future__ import annotations

import pytest
import requests

from bot.errors import GatewayError
from bot.gateway import GitHubGateway


@pytest.fixture
def gateway(fake_github):
    gw = GitHubGateway(fake_github.repo, token="t", api_url=fake_github.api_url, max_attempts=1)
    yield gw
    gw.close()


def test_per_page_is_capped_at_100_and_links_are_absolute(fake_github):
    for _ in range(150):
        fake_github.add_run()
    url = f"{fake_github.api_url}/repos/{fake_github.repo}/actions/runs"
    answer = requests.get(url, params={"per_page": 500}, timeout=5)
    assert len(answer.json()["workflow_runs"]) == 100
    assert answer.json()["total_count"] == 150
    assert answer.links["next"]["url"].startswith(f"{fake_github.api_url}/repos/")
    assert answer.links["next"]["url"].endswith("page=2")


def test_blob_host_refuses_a_token(fake_github):
    run = fake_github.add_run()
    job = fake_github.add_job(run["id"], "standard", log=b"x")
    logs = f"{fake_github.api_url}/repos/{fake_github.repo}/actions/jobs/{job['id']}/logs"
    location = requests.get(logs, allow_redirects=False, timeout=5).headers["location"]
    assert requests.get(location, headers={"Authorization": "token t"}, timeout=5).status_code == 400
    assert requests.get(location, timeout=5).content == b"\xef\xbb\xbfx"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (">=2026-03-01", ["03-01", "03-31"]),
        ("<2026-03-01", ["02-28"]),
        ("<=2026-03-01", ["02-28", "03-01"]),
        (">2026-03-01", ["03-31"]),
        ("2026-03-01..2026-03-30", ["03-01"]),
        ("2026-03-01", ["03-01"]),
    ],
)
def test_created_filter_uses_search_date_syntax(fake_github, gateway, spec, expected):
    for day in ("2026-02-28", "2026-03-01", "2026-03-31"):
        fake_github.add_run(created_at=f"{day}T12:00:00Z")
    runs = gateway.iter_runs("ports_unix.yml", created=spec)
    assert sorted(r.created_at.strftime("%m-%d") for r in runs) == expected


def test_limits_are_enforced_like_github(fake_github, gateway):
    pr = fake_github.add_pull(head_sha="a" * 40)
    with pytest.raises(GatewayError) as caught:
        gateway.create_issue_comment(pr["number"], "x" * 65537)
    assert caught.value.status == 422
    too_many = [
        {"path": "a", "start_line": 1, "end_line": 1, "annotation_level": "warning", "message": "m"}
    ] * 51
    url = f"{fake_github.api_url}/repos/{fake_github.repo}/check-runs"
    body = {
        "name": "n",
        "head_sha": "a" * 40,
        "output": {"title": "t", "summary": "s", "annotations": too_many},
    }
    assert requests.post(url, json=body, timeout=5).status_code == 422
    body["output"]["summary"] = "s" * 65536
    body["output"]["annotations"] = too_many[:1]
    assert requests.post(url, json=body, timeout=5).status_code == 422


def test_a_write_token_can_edit_anyones_comment(fake_github, gateway):
    # As on GitHub: so only the publisher's own checks protect a forged marker comment.
    pr = fake_github.add_pull(head_sha="a" * 40)
    forged = fake_github.add_comment(pr["number"], "<!-- flake-bot -->", user="mallory")
    gateway.edit_issue_comment(forged["id"], "overwritten")
    [comment] = fake_github.comments(pr["number"])
    assert (comment["body"], comment["user"]["login"]) == ("overwritten", "mallory")
