"""The triage run's decisions, case by case: logs within the budget, where to publish, exit status.

The end-to-end tests (test_e2e_*.py) show the same decisions taken through the fake GitHub; these
tables pin each boundary without one.
"""

from __future__ import annotations

import dataclasses

import pytest

from bot.errors import GatewayError, PermissionDenied, PublishError
from bot.orchestrate.decisions import (
    LOG_REQUESTS,
    PUBLISH_RESERVE,
    CheckRunMode,
    CommentMode,
    PublishPlan,
    Settings,
    exit_status,
    history_sync_budget,
    may_read_log,
    plan_publishing,
    publish_failure,
    publish_reserve,
)
from bot.patch_rules import PatchPolicy
from bot.render import MAX_ANNOTATIONS

SETTINGS = Settings(
    registry=None,
    history=None,
    comment=CommentMode.FAILURES,
    comment_author="github-actions[bot]",
    check_run=CheckRunMode.ON_PUSH,
    check_name="flake-bot",
    patch_policy=PatchPolicy(),
    max_log_bytes=1 << 20,
    request_budget=300,
    dry_run=False,
)
# the last request a log may end on, with 300 requests: the reserve for the largest report stays
LAST = 300 - PUBLISH_RESERVE - MAX_ANNOTATIONS // 50


def test_the_reserve_grows_by_one_request_per_50_annotations_up_to_the_cap() -> None:
    assert [publish_reserve(n) for n in (0, 49, 50, 99, 100, MAX_ANNOTATIONS, 10 * MAX_ANNOTATIONS)] == [
        8, 8, 9, 9, 10, 8 + MAX_ANNOTATIONS // 50, 8 + MAX_ANNOTATIONS // 50,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("conclusion", "read_before", "requests_made", "read"),
    [
        ("success", False, 0, False),  # green jobs' logs are never read
        ("skipped", False, 0, False),
        (None, False, 0, False),  # still running: no final log
        ("failure", False, 0, True),
        ("timed_out", False, 0, True),
        ("startup_failure", False, 0, True),
        ("cancelled", False, 0, False),  # a cancelled job did not fail
        ("failure", False, 10_000, True),  # the first failed log is read whatever the budget says
        ("failure", True, LAST - LOG_REQUESTS, True),  # ends exactly on the last request
        ("failure", True, LAST - LOG_REQUESTS + 1, False),  # would eat into the reserve
        ("failure", True, 10_000, False),
    ],
)
def test_which_logs_are_read(
    conclusion: str | None, read_before: bool, requests_made: int, read: bool
) -> None:
    decision = may_read_log(
        conclusion=conclusion, read_before=read_before, requests_made=requests_made, budget=300
    )
    assert decision is read


@pytest.mark.parametrize(
    ("requests_made", "failures", "budget"),
    [(0, 0, 292), (40, 0, 252), (40, 120, 250), (40, 10_000, 252 - MAX_ANNOTATIONS // 50), (295, 0, -3)],
)
def test_the_history_sync_gets_what_logs_and_publishing_leave(
    requests_made: int, failures: int, budget: int
) -> None:
    assert history_sync_budget(budget=300, requests_made=requests_made, failures=failures) == budget


PUSH = {"event": "push", "branch": "master", "default_branch": "master"}
PR = {"event": "pull_request", "branch": "feature", "default_branch": "master"}


@pytest.mark.parametrize(
    ("comment", "check_run", "where", "attempt", "jobs_failed", "plan"),
    [
        # pushes to the default branch get a check run when something failed, or on a re-run
        (CommentMode.FAILURES, CheckRunMode.ON_PUSH, PUSH, 1, 2, PublishPlan(True, False, True)),
        (CommentMode.FAILURES, CheckRunMode.ON_PUSH, PUSH, 1, 0, PublishPlan(False, False, False)),
        (CommentMode.FAILURES, CheckRunMode.ON_PUSH, PUSH, 2, 0, PublishPlan(True, False, False)),
        (CommentMode.FAILURES, CheckRunMode.ON_PUSH, {**PUSH, "branch": "v1.x"}, 1, 2,
         PublishPlan(False, False, True)),
        (CommentMode.FAILURES, CheckRunMode.OFF, PUSH, 1, 2, PublishPlan(False, False, True)),
        # pull requests get the comment; a green one only updates an existing comment
        (CommentMode.FAILURES, CheckRunMode.ON_PUSH, PR, 1, 1, PublishPlan(False, True, True)),
        (CommentMode.FAILURES, CheckRunMode.ON_PUSH, PR, 1, 0, PublishPlan(False, True, False)),
        (CommentMode.ALWAYS, CheckRunMode.ON_PUSH, PR, 1, 0, PublishPlan(False, True, True)),
        (CommentMode.OFF, CheckRunMode.ON_PUSH, PR, 1, 1, PublishPlan(False, False, True)),
        (CommentMode.FAILURES, CheckRunMode.ALWAYS, PR, 1, 1, PublishPlan(True, True, True)),
        (CommentMode.FAILURES, CheckRunMode.ON_PUSH, {**PR, "event": "pull_request_target"}, 1, 1,
         PublishPlan(False, True, True)),
        # other events (schedule, workflow_dispatch) get neither, unless asked for a check run
        (CommentMode.ALWAYS, CheckRunMode.ON_PUSH, {**PUSH, "event": "schedule"}, 1, 1,
         PublishPlan(False, False, True)),
        (CommentMode.ALWAYS, CheckRunMode.ALWAYS, {**PUSH, "event": "schedule"}, 1, 1,
         PublishPlan(True, False, True)),
    ],
)  # fmt: skip
def test_where_the_report_is_published(
    comment: CommentMode,
    check_run: CheckRunMode,
    where: dict[str, str],
    attempt: int,
    jobs_failed: int,
    plan: PublishPlan,
) -> None:
    settings = dataclasses.replace(SETTINGS, comment=comment, check_run=check_run)
    assert plan_publishing(settings, **where, attempt=attempt, jobs_failed=jobs_failed) == plan


REFUSED = "cannot publish the check run 'flake-bot': refused"


def _publish_error(cause: Exception | None) -> PublishError:
    error = PublishError(REFUSED)
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "warning", "misconfigured", "status"),
    [
        (_publish_error(PermissionDenied("no checks: write")), REFUSED, True, 1),
        (_publish_error(GatewayError("502 three times")), REFUSED, False, 0),
        (_publish_error(None), REFUSED, False, 0),
        (PermissionDenied("no pull-requests: read"), "could not publish: no pull-requests: read", True, 1),
        (GatewayError("timed out"), "could not publish: timed out", False, 0),
    ],
)  # fmt: skip
def test_a_publishing_failure_fails_the_step_only_when_misconfigured(
    error: Exception, warning: str, misconfigured: bool, status: int
) -> None:
    assert isinstance(error, PublishError | GatewayError)
    failure = publish_failure(error)
    assert (failure.warning, failure.misconfigured) == (warning, misconfigured)
    assert failure.note == f"Publishing failed: {error}"
    assert exit_status(failure) == status
    assert failure.warn(in_actions=True)  # inside Actions always, as an annotation
    assert failure.warn(in_actions=False) is not misconfigured  # on a terminal the error line says it


def test_no_publishing_failure_is_exit_0() -> None:
    assert exit_status(None) == 0
