"""Exception hierarchy, named for what the caller can do next.

Errors are raised deep inside and caught once, in `bot.cli`, which turns them into a one-line
message and an exit status. `InputError` and its children mean "the user gave us something we
cannot use" (exit 2); everything else is an operational failure.
"""


class FlakeBotError(Exception):
    """Base of every error flake-bot raises on purpose."""


class InputError(FlakeBotError):
    """A file, argument or configuration the user supplied cannot be used (exit status 2)."""


class RegistryError(InputError):
    """The flaky-test registry is invalid; the message names the file, line and problem."""


class StoreError(FlakeBotError):
    """The history store cannot be opened, migrated or written."""


class GatewayError(FlakeBotError):
    """GitHub could not be reached or refused a request after the retry policy gave up."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PermissionDenied(GatewayError):
    """A 403 that is not a rate limit: retrying cannot help, a permission must be added."""


class LogUnavailable(GatewayError):
    """A job log that GitHub no longer has (410) or never had (404): a report line, not a failure."""


class PublishError(FlakeBotError):
    """A comment, check run or summary could not be written; the analysis itself is still valid."""


class BudgetExhausted(GatewayError):
    """The caller's request budget is spent; the work done so far stands and can be resumed later."""


class RateLimited(GatewayError):
    """GitHub asked us to wait longer than the time bound allows; `wait` says how long (seconds)."""

    def __init__(self, message: str, status: int | None = None, wait: float = 0.0) -> None:
        super().__init__(message, status)
        self.wait = wait


class AmbiguousWrite(GatewayError):
    """A write failed in a way that may still have taken effect (5xx, reset, timeout after sending).

    Repeating it blindly could duplicate a comment or annotations, so the caller must look
    again before writing again.
    """
