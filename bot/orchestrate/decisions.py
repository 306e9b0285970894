"""The decisions of one triage run, as pure functions: which logs to read within the request
budget, what to publish and where, and the exit status.

They are separate from the requests around them (`bot.orchestrate.triage_run`) so that each
can be checked against a table of cases (tests/test_orchestrate_decisions.py) without a fake
GitHub, and so that the order "decide, then do" is visible in the code that does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.budget import TRIAGE_PUBLISH
from bot.errors import GatewayError, PermissionDenied, PublishError
from bot.findings import FAILED_CONCLUSIONS
from bot.patch_rules import PatchPolicy
from bot.render import MAX_ANNOTATIONS

# Requests the publishing step may need after the analysis (`bot.budget`, shared with the
# dashboard); kept back from log reading and the history sync so the report gets out. One more
# is kept per 50 annotations, for the batches after the first.
PUBLISH_RESERVE = TRIAGE_PUBLISH
ANNOTATIONS_PER_REQUEST = 50
LOG_REQUESTS = 2  # one log: the API's redirect, then the blob
PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")


class CommentMode(StrEnum):
    """When to write the sticky PR comment (action input `comment`)."""

    ALWAYS = "always"  # also on a green run
    FAILURES = "failures"  # create one only when a job failed; update an existing one always
    OFF = "off"


class CheckRunMode(StrEnum):
    """When to create a check run on the head commit (action input `check-run`)."""

    ON_PUSH = "on-push"  # pushes to the default branch only
    ALWAYS = "always"
    OFF = "off"


@dataclass(frozen=True)
class Settings:
    """Everything that shapes one triage, from the action's inputs and the command's options."""

    registry: str | None
    history: str | None
    comment: CommentMode
    comment_author: str
    check_run: CheckRunMode
    check_name: str
    patch_policy: PatchPolicy
    max_log_bytes: int
    request_budget: int
    dry_run: bool
    # `time.monotonic()` after which the history sync stops fetching (input `time-limit`)
    deadline: float | None = None


# ---------------------------------------------------------------------------- the budget


def publish_reserve(failures: int) -> int:
    """Requests kept back for publishing a report with `failures` failures."""
    return PUBLISH_RESERVE + min(failures, MAX_ANNOTATIONS) // ANNOTATIONS_PER_REQUEST


def may_read_log(*, conclusion: str | None, read_before: bool, requests_made: int, budget: int) -> bool:
    """Whether to download the next job's log.

    Only failed jobs' logs are read. A fork PR can make its run fail hundreds of jobs (its
    workflow can add a matrix): reading every log spent the whole budget and the PR comment was
    never posted, so a log is read only while the requests it costs leave the reserve for the
    largest report untouched. The first failed log is always read, so even a budget too small
    for publishing still judges something.
    """
    if conclusion not in FAILED_CONCLUSIONS:
        return False
    if not read_before:
        return True
    return requests_made + LOG_REQUESTS <= budget - publish_reserve(MAX_ANNOTATIONS)


def history_sync_budget(*, budget: int, requests_made: int, failures: int) -> int:
    """Requests the history sync may spend: what is left after the logs, less the reserve for
    publishing this report (0 or less: skip the sync)."""
    return budget - requests_made - publish_reserve(failures)


# ---------------------------------------------------------------------------- publishing


@dataclass(frozen=True)
class PublishPlan:
    """Where the report goes besides the job summary and step outputs (always written)."""

    check_run: bool
    comment: bool  # find the run's PR and write (or update) the sticky comment
    create_comment: bool  # create it if none exists yet; else only update an existing one


def plan_publishing(
    settings: Settings,
    *,
    event: str,
    branch: str | None,
    default_branch: str,
    attempt: int,
    jobs_failed: int,
) -> PublishPlan:
    """A green first attempt has nothing to add to the workflow's own green checks; a green
    re-run does: its check run supersedes the red attempt's on the commit. A comment goes only
    to a pull request's run, and on a green run only updates an existing one (unless `always`)."""
    check = settings.check_run is CheckRunMode.ALWAYS or (
        settings.check_run is CheckRunMode.ON_PUSH and event == "push" and branch == default_branch
    )
    return PublishPlan(
        check_run=check and (jobs_failed > 0 or attempt > 1),
        comment=settings.comment is not CommentMode.OFF and event in PULL_REQUEST_EVENTS,
        create_comment=settings.comment is CommentMode.ALWAYS or jobs_failed > 0,
    )


@dataclass(frozen=True)
class PublishFailure:
    """A failed publishing step: noted in the summary, and a misconfiguration (a missing
    permission) fails the step so that the workflow's owner sees it."""

    error: str
    warning: str
    misconfigured: bool

    @property
    def note(self) -> str:
        """The line the job summary lists under the report."""
        return f"Publishing failed: {self.error}"

    def warn(self, *, in_actions: bool) -> bool:
        """Whether to warn: in Actions always; on a terminal the final error line says a
        misconfiguration once."""
        return in_actions or not self.misconfigured


def publish_failure(error: PublishError | GatewayError) -> PublishFailure:
    """A `PublishError` (writing the comment or check run failed) or another `GatewayError`
    (finding the pull request failed), told apart for the warning's wording."""
    if isinstance(error, PublishError):
        return PublishFailure(str(error), str(error), isinstance(error.__cause__, PermissionDenied))
    return PublishFailure(str(error), f"could not publish: {error}", isinstance(error, PermissionDenied))


def exit_status(failure: PublishFailure | None) -> int:
    """0 whenever the analysis ran, whatever it found: a red triage must not look like a broken
    bot. 1 when publishing failed for a missing permission, which only the workflow's owner can
    fix. (Errors before the analysis never get here: the CLI maps them to 1 or 2.)"""
    return 1 if failure is not None and failure.misconfigured else 0
