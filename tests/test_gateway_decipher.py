"""Unit tests of the pure failure classifier and the JSON conversion."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.gateway.convert import (
    check_run_info,
    comment_info,
    job_info,
    pull_request_info,
    repo_full_name,
    run_from_event,
    run_info,
)
from bot.gateway.decipher import (
    Action,
    Transport,
    backoff,
    decipher_response,
    decipher_transport,
    permission_hint,
)

NOW = 1_790_000_000.0
SECONDARY = {
    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
}


def decide(status, headers=None, body=None, attempt=1, jitter=0.5):
    return decipher_response(status, headers or {}, body, now=NOW, attempt=attempt, jitter=jitter)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_and_may_have_applied(status):
    d = decide(status, body="<html>Bad Gateway</html>")
    assert d.action is Action.RETRY
    assert d.maybe_applied
    assert not d.rate_limited
    assert d.wait == backoff(1, 0.5)


def test_retry_after_wins_over_everything():
    d = decide(
        403, {"retry-after": "12", "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 999)}
    )
    assert (d.action, d.wait, d.rate_limited, d.maybe_applied) == (Action.RETRY, 12.0, True, False)


def test_retry_after_as_http_date():
    moment = datetime.fromtimestamp(NOW + 30, UTC)
    d = decide(429, {"retry-after": format_datetime(moment, usegmt=True)})
    assert d.wait == pytest.approx(30, abs=1)


def test_primary_limit_waits_for_reset_plus_a_second():
    d = decide(
        403,
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 100)},
        {"message": "API rate limit exceeded"},
    )
    assert d.action is Action.RETRY
    assert d.wait == 101.0


def test_primary_limit_reset_in_the_past_still_waits_a_little():
    d = decide(429, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) - 50)})
    assert d.wait == 1.0


def test_secondary_limit_without_headers_waits_a_minute_then_longer():
    first = decide(403, {"x-ratelimit-remaining": "4000"}, SECONDARY, attempt=1, jitter=0.0)
    third = decide(403, {"x-ratelimit-remaining": "4000"}, SECONDARY, attempt=3, jitter=0.0)
    assert first.wait == 60.0
    assert third.wait > first.wait
    assert decide(429, attempt=1).wait == 60.0


def test_plain_403_is_a_permission_problem_naming_the_scope():
    d = decide(
        403,
        {"x-accepted-github-permissions": "checks=write", "x-ratelimit-remaining": "4999"},
        {"message": "Resource not accessible by integration"},
    )
    assert d.action is Action.DENIED
    assert d.permission == "checks: write"
    assert "Resource not accessible by integration" in d.reason


def test_plain_403_without_header_has_no_permission_guess():
    assert decide(403, body={"message": "Forbidden"}).permission is None


@pytest.mark.parametrize(
    ("header", "hint"),
    [
        ("issues=write; pull_requests=write", "issues: write or pull-requests: write"),
        ("actions=read", "actions: read"),
        ("contents", "contents: read"),
        ("", None),
        (None, None),
    ],
)
def test_permission_hint(header, hint):
    assert permission_hint(header) == hint


@pytest.mark.parametrize(
    ("status", "action"),
    [(410, Action.EXPIRED), (404, Action.MISSING), (401, Action.FATAL), (422, Action.FATAL)],
)
def test_other_statuses(status, action):
    assert decide(status, body={"message": "x"}).action is action


def test_transport_failures():
    connect = decipher_transport(Transport.CONNECT, attempt=2, jitter=0.0)
    reset = decipher_transport(Transport.RESET, attempt=2, jitter=0.0)
    timeout = decipher_transport(Transport.TIMEOUT, attempt=2, jitter=0.0)
    assert {connect.action, reset.action, timeout.action} == {Action.RETRY}
    assert not connect.maybe_applied  # nothing was sent: even a POST may be repeated
    assert reset.maybe_applied and timeout.maybe_applied
    assert connect.wait == 1.0


@given(st.integers(min_value=1, max_value=60), st.floats(min_value=0, max_value=0.999))
def test_backoff_is_bounded_and_never_zero(attempt, jitter):
    wait = backoff(attempt, jitter)
    ceiling = min(30.0, 2.0 ** (attempt - 1))
    assert ceiling / 2 <= wait <= ceiling
    assert wait > 0


def test_backoff_grows():
    assert [backoff(n, 0.999) for n in range(1, 7)] == sorted(backoff(n, 0.999) for n in range(1, 7))


def test_repo_full_name_from_short_run_payload_form():
    assert repo_full_name(
        {"url": "https://api.github.com/repos/micropython/micropython", "name": "micropython"}
    ) == ("micropython/micropython")
    assert repo_full_name({"full_name": "a/b"}) == "a/b"
    assert repo_full_name(None) is None
    assert repo_full_name({"url": "https://ghe.example/api/v3/repos/o/r"}) == "o/r"


def test_run_info_tolerates_missing_and_mistyped_fields():
    info = run_info({"id": 5, "pull_requests": [None, {"number": "x"}, {"number": 3}], "head_branch": 7})
    assert info.id == 5
    assert info.attempt == 1
    assert info.branch is None
    assert [p.number for p in info.pull_requests] == [3]
    assert info.created_at.year == 1970


def test_job_info_prefers_the_runner_label():
    assert job_info({"labels": ["ubuntu-24.04"], "runner_name": "GitHub Actions 3"}).runner == "ubuntu-24.04"
    assert job_info({"labels": [], "runner_name": "self-hosted-1"}).runner == "self-hosted-1"


header_values = st.one_of(
    st.text(max_size=30), st.sampled_from(["nan", "inf", "-5", "1e308", "0", "Wed, 21 Oct"])
)


@given(
    status=st.integers(min_value=400, max_value=599),
    headers=st.dictionaries(
        st.sampled_from(
            ["retry-after", "x-ratelimit-remaining", "x-ratelimit-reset", "x-accepted-github-permissions"]
        ),
        header_values,
    ),
    body=st.one_of(
        st.none(), st.text(max_size=50), st.binary(max_size=50), st.dictionaries(st.text(), st.text())
    ),
    attempt=st.integers(min_value=1, max_value=100),
)
def test_any_answer_gets_a_finite_non_negative_wait(status, headers, body, attempt):
    d = decipher_response(status, headers, body, now=NOW, attempt=attempt, jitter=0.3)
    assert d.wait >= 0
    assert d.wait < float("inf")
    assert d.action is Action.RETRY or d.wait == 0  # only a retry waits (Retry-After: 0 may not)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
run_keys = st.sampled_from(
    [
        "id",
        "run_attempt",
        "name",
        "path",
        "head_branch",
        "head_sha",
        "head_repository",
        "created_at",
        "pull_requests",
        "display_title",
        "conclusion",
        "labels",
        "steps",
        "run_id",
    ]
)


@given(st.dictionaries(run_keys, json_values))
def test_conversion_never_raises_on_odd_payloads(data):
    run_info(data)
    job_info(data)
    pull_request_info(data)
    comment_info(data)
    check_run_info(data)
    run_from_event(data)
