"""The retry policy against injected faults, asserting on the waits asked for and on what the
fake GitHub received (so a duplicated comment or annotation cannot go unnoticed)."""

from __future__ import annotations

import time

import pytest

from bot.errors import AmbiguousWrite, BudgetExhausted, GatewayError, PermissionDenied, RateLimited
from bot.gateway import GitHubGateway, run_from_event

TOKEN = "ghs_s3cretTokenValue"
JOBS = r"/actions/runs/\d+/attempts/\d+/jobs$"  # the one request of `jobs_of`


@pytest.fixture
def waits() -> list[float]:
    return []


def make(fake, waits, **kwargs) -> GitHubGateway:
    kwargs.setdefault("timeout", 5)
    return GitHubGateway(fake.repo, token=TOKEN, api_url=fake.api_url, sleep=waits.append, **kwargs)


@pytest.fixture
def gateway(fake_github, waits):
    gw = make(fake_github, waits)
    yield gw
    gw.close()


@pytest.fixture
def run(fake_github):
    return fake_github.add_run()


@pytest.fixture
def job(fake_github, run):
    return fake_github.add_job(run["id"], "standard")


def jobs_of(gateway, run) -> list[int]:
    """One plain GET, the one the triage makes first: the jobs of the run's attempt."""
    return [j.id for j in gateway.list_jobs(run["id"], attempt=run["run_attempt"])]


def test_502_then_success_backs_off_with_jitter(fake_github, gateway, waits, run, job):
    fake_github.fail("GET", JOBS, 502, times=2)
    assert jobs_of(gateway, run) == [job["id"]]
    assert len(fake_github.requests) == 3
    assert len(waits) == 2
    assert 0.5 <= waits[0] <= 1.0  # first backoff: between half and all of 1 s
    assert 1.0 <= waits[1] <= 2.0


def test_persistent_5xx_gives_up_after_max_attempts(fake_github, waits, run):
    gateway = make(fake_github, waits, max_attempts=4)
    fake_github.fail("GET", JOBS, 503, times=None)
    with pytest.raises(GatewayError) as caught:
        jobs_of(gateway, run)
    assert caught.value.status == 503
    assert "4 attempts" in str(caught.value)
    assert len(fake_github.requests) == 4
    assert len(waits) == 3


def test_502_on_a_later_page_repeats_only_that_page(fake_github, gateway, waits):
    for _ in range(250):
        fake_github.add_run()
    fake_github.fail("GET", r"/runs$", 502, times=1)
    runs = list(gateway.iter_runs("ports_unix.yml"))
    assert len(runs) == 250
    assert gateway.requests_made == 4  # 1 failed + 3 pages


def test_secondary_rate_limit_honours_retry_after(fake_github, gateway, waits, run, job):
    fake_github.rate_limit("GET", JOBS, kind="secondary", retry_after=7)
    assert jobs_of(gateway, run) == [job["id"]]
    assert waits == [7.0]


def test_secondary_rate_limit_without_retry_after_waits_a_minute(fake_github, gateway, waits, run):
    fake_github.rate_limit("GET", JOBS, kind="secondary")
    jobs_of(gateway, run)
    assert waits == [60.0]


def test_429_with_and_without_retry_after(fake_github, gateway, waits, run):
    fake_github.rate_limit("GET", JOBS, kind="429", retry_after=3)
    fake_github.rate_limit("GET", JOBS, kind="429")
    jobs_of(gateway, run)
    assert waits[0] == 3.0
    assert waits[1] >= 60.0


def test_primary_rate_limit_waits_until_reset(fake_github, gateway, waits, run):
    fake_github.rate_limit("GET", JOBS, kind="primary", reset_in=120)
    jobs_of(gateway, run)
    assert len(waits) == 1
    assert 118 <= waits[0] <= 122


def test_rate_limit_beyond_the_time_bound_is_not_slept(fake_github, gateway, waits, run):
    fake_github.rate_limit("GET", JOBS, kind="primary", reset_in=3000)
    with pytest.raises(RateLimited) as caught:
        jobs_of(gateway, run)
    assert waits == []
    assert 2990 <= caught.value.wait <= 3010
    assert len(fake_github.requests) == 1


def test_total_time_bound_stops_repeated_waits(fake_github, waits, run):
    gateway = make(fake_github, waits, max_wait_total=10)
    fake_github.rate_limit("GET", JOBS, kind="secondary", retry_after=7, times=None)
    with pytest.raises(RateLimited):
        jobs_of(gateway, run)
    assert waits == [7.0]  # a second 7 s wait would cross the 10 s bound
    assert len(fake_github.requests) == 2


def test_connection_reset_is_retried(fake_github, gateway, waits, run, job):
    fake_github.reset_connection("GET", JOBS)
    assert jobs_of(gateway, run) == [job["id"]]
    assert len(fake_github.requests) == 2
    assert len(waits) == 1


def test_timeout_is_retried(fake_github, waits, run, job):
    gateway = make(fake_github, waits, timeout=1)
    fake_github.delay("GET", JOBS, seconds=6)
    started = time.monotonic()
    assert jobs_of(gateway, run) == [job["id"]]
    assert time.monotonic() - started < 5  # gave up on the slow answer instead of waiting for it
    assert len(fake_github.requests) == 2
    assert len(waits) == 1


def test_connection_refused_is_retried_then_reported(waits):
    gateway = GitHubGateway(
        "o/r", token=TOKEN, api_url="http://127.0.0.1:9", max_attempts=3, timeout=1, sleep=waits.append
    )
    with pytest.raises(GatewayError) as caught:
        gateway.list_jobs(1, attempt=1)
    assert "could not connect" in str(caught.value)
    assert len(waits) == 2


def test_missing_permission_is_not_retried_and_names_it(fake_github, gateway, waits):
    fake_github.deny("POST", r"/check-runs$", permission="checks=write")
    with pytest.raises(PermissionDenied) as caught:
        gateway.create_check_run(
            name="flake-bot",
            head_sha="a" * 40,
            external_id="1-1",
            details_url=None,
            conclusion="neutral",
            title="t",
            summary="s",
            text="",
            annotations=[],
        )
    assert "checks: write" in str(caught.value)
    assert caught.value.status == 403
    assert waits == []
    assert len(fake_github.requests) == 1


def test_missing_permission_for_comments_lists_accepted_alternatives(fake_github, gateway):
    pr = fake_github.add_pull(head_sha="a" * 40)
    fake_github.deny("POST", r"/comments$", permission="issues=write; pull_requests=write")
    with pytest.raises(PermissionDenied) as caught:
        gateway.create_issue_comment(pr["number"], "hello")
    assert "issues: write or pull-requests: write" in str(caught.value)
    assert fake_github.comments(pr["number"]) == []


def test_missing_permission_without_header_falls_back_to_the_known_one(fake_github, gateway, run):
    fake_github.fail("GET", r"/jobs$", 403, body={"message": "Resource not accessible by integration"})
    with pytest.raises(PermissionDenied) as caught:
        gateway.list_jobs(run["id"])
    assert "actions: read" in str(caught.value)


def test_bad_token_is_not_retried_and_never_echoed(fake_github, gateway, waits, run):
    fake_github.token = "the-right-one"
    with pytest.raises(GatewayError) as caught:
        jobs_of(gateway, run)
    assert caught.value.status == 401
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value.__cause__)
    assert waits == []


def test_error_messages_never_carry_query_values(fake_github, gateway):
    fake_github.fail("GET", r"/pulls$", 500, times=None)
    run = fake_github.add_run(
        event="pull_request", branch="$(curl evil)::stop-commands::x", head_repo="evil/mp"
    )
    event = fake_github.workflow_run_event(run["id"])
    with pytest.raises(GatewayError) as caught:
        gateway.find_pull_request(run_from_event(event), fake_github.repo)
    assert "evil" not in str(caught.value)
    assert "GET /repos/micropython/micropython/pulls" in str(caught.value)


def test_request_budget_stops_before_the_next_request(fake_github, waits):
    for _ in range(250):
        fake_github.add_run()
    gateway = make(fake_github, waits, request_budget=2)
    seen = []
    with pytest.raises(BudgetExhausted):
        for r in gateway.iter_runs("ports_unix.yml"):
            seen.append(r)
    assert len(seen) == 200
    assert gateway.requests_made == 2
    assert len(fake_github.requests) == 2


def test_budget_counts_log_blob_downloads(fake_github, waits, run):
    job = fake_github.add_job(run["id"], "standard", log=b"x\n")
    gateway = make(fake_github, waits, request_budget=1)
    with pytest.raises(BudgetExhausted):
        gateway.job_log(job["id"], max_bytes=100)
    assert gateway.requests_made == 1


# ---------------------------------------------------------------- writes under faults


def recover_sticky(comments):
    mine = [c for c in comments if c.user_login == "github-actions[bot]" and "<!-- flake-bot -->" in c.body]
    return mine[0] if mine else None


def test_comment_post_502_that_was_applied_is_not_duplicated(fake_github, gateway, waits):
    pr = fake_github.add_pull(head_sha="a" * 40)
    fake_github.fail("POST", r"/comments$", 502, apply=True)
    info = gateway.create_issue_comment(pr["number"], "<!-- flake-bot -->\nreport", recover=recover_sticky)
    comments = fake_github.comments(pr["number"])
    assert len(comments) == 1
    assert info.id == comments[0]["id"]
    assert len(fake_github.requests_to("POST", "/comments$")) == 1
    assert len(waits) == 1


def test_comment_post_502_that_was_not_applied_is_posted_again(fake_github, gateway):
    pr = fake_github.add_pull(head_sha="a" * 40)
    fake_github.fail("POST", r"/comments$", 502)
    gateway.create_issue_comment(pr["number"], "<!-- flake-bot -->\nreport", recover=recover_sticky)
    assert [c["body"] for c in fake_github.comments(pr["number"])] == ["<!-- flake-bot -->\nreport"]
    assert len(fake_github.requests_to("POST", "/comments$")) == 2


def test_comment_post_reset_after_apply_without_recover_is_ambiguous(fake_github, gateway):
    pr = fake_github.add_pull(head_sha="a" * 40)
    fake_github.reset_connection("POST", r"/comments$", apply=True)
    with pytest.raises(AmbiguousWrite):
        gateway.create_issue_comment(pr["number"], "report")
    assert len(fake_github.requests_to("POST", "/comments$")) == 1  # never blindly repeated


def test_comment_post_rate_limited_is_retried_once_posted(fake_github, gateway, waits):
    pr = fake_github.add_pull(head_sha="a" * 40)
    fake_github.rate_limit("POST", r"/comments$", retry_after=5)
    gateway.create_issue_comment(pr["number"], "report")
    assert len(fake_github.comments(pr["number"])) == 1
    assert waits == [5.0]


def test_comment_edit_is_retried_on_5xx(fake_github, gateway):
    pr = fake_github.add_pull(head_sha="a" * 40)
    created = gateway.create_issue_comment(pr["number"], "one")
    fake_github.fail("PATCH", r"/issues/comments/\d+$", 502, apply=True)
    gateway.edit_issue_comment(created.id, "two")
    assert [c["body"] for c in fake_github.comments(pr["number"])] == ["two"]


def annotations(n: int) -> list[dict]:
    return [
        {
            "path": f"tests/t{i}.py",
            "start_line": 1,
            "end_line": 1,
            "annotation_level": "failure",
            "message": str(i),
        }
        for i in range(n)
    ]


def create(gateway, n: int):
    return gateway.create_check_run(
        name="flake-bot",
        head_sha="e" * 40,
        external_id="42-1",
        details_url=None,
        conclusion="failure",
        title="t",
        summary="s",
        text="",
        annotations=annotations(n),
    )


def test_check_run_post_502_applied_is_found_by_external_id(fake_github, gateway):
    fake_github.fail("POST", r"/check-runs$", 502, apply=True)
    info = create(gateway, 70)
    [stored] = fake_github.check_runs("e" * 40)
    assert info.id == stored["id"]
    assert [a["message"] for a in stored["annotations"]] == [str(i) for i in range(70)]


def test_check_run_post_502_not_applied_is_created_once(fake_github, gateway):
    fake_github.fail("POST", r"/check-runs$", 502)
    create(gateway, 10)
    assert len(fake_github.check_runs("e" * 40)) == 1
    assert len(fake_github.requests_to("POST", r"/check-runs$")) == 2


def test_annotation_patch_502_applied_is_not_appended_twice(fake_github, gateway):
    fake_github.fail("PATCH", r"/check-runs/\d+$", 502, apply=True)
    create(gateway, 120)
    [stored] = fake_github.check_runs("e" * 40)
    assert [a["message"] for a in stored["annotations"]] == [str(i) for i in range(120)]


def test_annotation_patch_502_not_applied_is_sent_again(fake_github, gateway):
    fake_github.fail("PATCH", r"/check-runs/\d+$", 502)
    create(gateway, 120)
    [stored] = fake_github.check_runs("e" * 40)
    assert [a["message"] for a in stored["annotations"]] == [str(i) for i in range(120)]
    assert len(fake_github.requests_to("PATCH", r"/check-runs/\d+$")) == 3


def test_malformed_answer_is_retried_like_a_reset(fake_github, gateway, waits, run, job):
    fake_github.reset_connection("GET", JOBS, garbage=b"HTTP/1.1 2OO OK\r\nnonsense\r\n\r\n")
    assert jobs_of(gateway, run) == [job["id"]]
    assert len(waits) == 1


def test_retries_are_logged_without_secrets(fake_github, gateway, run, caplog):
    fake_github.fail("GET", JOBS, 502)
    with caplog.at_level("WARNING", logger="bot.gateway"):
        jobs_of(gateway, run)
    [record] = [r for r in caplog.records if r.name.startswith("bot.gateway")]
    assert (
        f"GET /repos/micropython/micropython/actions/runs/{run['id']}/attempts/1/jobs: GitHub answered 502"
        in record.getMessage()
    )
    assert TOKEN not in caplog.text


@pytest.mark.parametrize("body", [b"<html>proxy says hello</html>", b'{"total_count": 1, "jobs": [{"id'])
def test_success_status_with_a_non_json_body_is_retried(fake_github, gateway, waits, run, job, body):
    fake_github.fail("GET", JOBS, 200, body=body)
    assert jobs_of(gateway, run) == [job["id"]]
    assert len(waits) == 1


def test_non_json_answer_to_a_post_is_ambiguous(fake_github, gateway):
    pr = fake_github.add_pull(head_sha="a" * 40)
    fake_github.fail("POST", r"/comments$", 201, body=b"<html>ok?</html>", apply=True)
    with pytest.raises(AmbiguousWrite):
        gateway.create_issue_comment(pr["number"], "report")
    assert len(fake_github.comments(pr["number"])) == 1


def test_unusable_log_location_fails_at_once(fake_github, gateway, waits, run):
    job = fake_github.add_job(run["id"], "standard", log=b"x")
    fake_github.fail("GET", r"/logs$", 302, headers={"location": "http:///logs.txt"}, body=b"")
    with pytest.raises(GatewayError, match="InvalidURL"):
        gateway.job_log(job["id"], max_bytes=100)
    assert waits == []
    fake_github.fail("GET", r"/logs$", 302, headers={"location": "file:///etc/passwd"}, body=b"")
    with pytest.raises(GatewayError, match="not HTTP"):
        gateway.job_log(job["id"], max_bytes=100)
