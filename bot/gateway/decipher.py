"""What a failed GitHub request means and what to do about it, as a pure function.

Kept free of I/O and clocks (the caller passes `now` and the jitter draw) so every rule of
GitHub's documented rate-limit behaviour can be unit-tested exactly:

* 5xx, dropped connections and timeouts are transient: retry with exponential backoff and
  jitter (jitter keeps several runners that failed together from retrying in lock-step).
* 403/429 rate limits name their own wait: `Retry-After` first, else `X-RateLimit-Reset`
  when the remaining quota is 0, else at least a minute, growing with each attempt.
* A 403 without rate-limit signs is a missing permission: retrying cannot help, and the
  `x-accepted-github-permissions` header says what to add.
* 410 on a job log means retention ran out, 404 that there is nothing there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
SECONDARY_WAIT = 60.0
RATE_LIMIT_WORDS = ("rate limit", "abuse detection")


class Action(StrEnum):
    RETRY = "retry"
    EXPIRED = "expired"  # 410
    MISSING = "missing"  # 404
    DENIED = "denied"  # 403 that is not a rate limit
    FATAL = "fatal"


class Transport(StrEnum):
    """How a request failed below HTTP."""

    CONNECT = "connect"  # never reached the server: nothing can have happened
    TIMEOUT = "timeout"  # sent, no answer in time: it may have been applied
    RESET = "reset"  # connection dropped mid-exchange: it may have been applied
    MALFORMED = "malformed"  # an answer that is not the JSON GitHub sends (proxy page, cut body)


@dataclass(frozen=True)
class Decision:
    """`maybe_applied` is True when the server may have acted on the request despite the error,
    which is what decides whether a non-idempotent write may be repeated."""

    action: Action
    reason: str
    wait: float = 0.0
    maybe_applied: bool = False
    rate_limited: bool = False
    permission: str | None = None


def backoff(attempt: int, jitter: float, *, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> float:
    """Exponential backoff with "equal jitter": between half and all of `base * 2**(attempt-1)`.

    `jitter` is a draw from [0, 1). Never zero, so a retry storm is always spread out.
    """
    ceiling = min(cap, base * 2.0 ** max(0, attempt - 1))
    return ceiling / 2 + ceiling / 2 * jitter


def _message(body: Any) -> str:
    if isinstance(body, Mapping):
        message = body.get("message")
        if isinstance(message, str):
            return message
        nested = body.get("data")
        return nested if isinstance(nested, str) else ""
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return body if isinstance(body, str) else ""


def _retry_after(value: str, now: float) -> float | None:
    """`Retry-After` is seconds, or (rarely) an HTTP date."""
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def permission_hint(accepted: str | None) -> str | None:
    """Turn `issues=write; pull_requests=write` into `issues: write or pull-requests: write`,
    the spelling of a workflow's `permissions:` block."""
    if not accepted:
        return None
    options = []
    for part in accepted.replace(",", ";").split(";"):
        scope, _, level = part.strip().partition("=")
        if scope:
            options.append(f"{scope.strip().replace('_', '-')}: {level.strip() or 'read'}")
    return " or ".join(options) or None


def decipher_response(
    status: int,
    headers: Mapping[str, str],
    body: Any,
    *,
    now: float,
    attempt: int,
    jitter: float,
) -> Decision:
    """Decide on an HTTP error answer. `headers` must have lower-cased keys (PyGithub's are)."""
    message = _message(body)
    if status >= 500:
        return Decision(
            Action.RETRY,
            f"GitHub answered {status}",
            wait=backoff(attempt, jitter),
            maybe_applied=True,
        )
    if status in (403, 429):
        retry_after = headers.get("retry-after")
        if retry_after is not None:
            wait = _retry_after(retry_after, now)
            if wait is not None:
                return Decision(
                    Action.RETRY, f"rate limited ({status}, Retry-After)", wait=wait, rate_limited=True
                )
        if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
            try:
                reset = float(headers["x-ratelimit-reset"])
            except ValueError:
                reset = math.nan
            if not math.isfinite(reset):
                reset = now + SECONDARY_WAIT
            return Decision(
                Action.RETRY,
                f"primary rate limit exhausted ({status})",
                wait=max(1.0, reset - now + 1.0),  # the reset second itself may still be refused
                rate_limited=True,
            )
        if status == 429 or any(word in message.lower() for word in RATE_LIMIT_WORDS):
            return Decision(
                Action.RETRY,
                f"secondary rate limit ({status})",
                wait=max(SECONDARY_WAIT, backoff(attempt, jitter, base=SECONDARY_WAIT, cap=15 * 60)),
                rate_limited=True,
            )
        return Decision(
            Action.DENIED,
            f"GitHub refused the request (403): {message or 'forbidden'}",
            permission=permission_hint(headers.get("x-accepted-github-permissions")),
        )
    if status == 410:
        return Decision(Action.EXPIRED, "gone (410): GitHub no longer keeps it")
    if status == 404:
        return Decision(Action.MISSING, "not found (404)")
    if status == 401:
        return Decision(Action.FATAL, "bad credentials (401): the token is missing, wrong or expired")
    return Decision(Action.FATAL, f"GitHub answered {status}: {message[:200]}")


def decipher_transport(kind: Transport, *, attempt: int, jitter: float) -> Decision:
    """Decide on a request that got no HTTP answer at all."""
    return Decision(
        Action.RETRY,
        {
            Transport.CONNECT: "could not connect to GitHub",
            Transport.TIMEOUT: "GitHub did not answer in time",
            Transport.RESET: "the connection to GitHub was dropped",
            Transport.MALFORMED: "GitHub's answer was not valid JSON",
        }[kind],
        wait=backoff(attempt, jitter),
        maybe_applied=kind is not Transport.CONNECT,
    )
