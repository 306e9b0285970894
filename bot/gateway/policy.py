"""The one retry layer: a tenacity policy around each single HTTP request.

Retrying per request (not per gateway method) means a 502 on page 4 of a run listing repeats
page 4 only, and every request passes through one place that counts it against the budget.
PyGithub's own urllib3 retry is off (`Github(retry=None)`), so attempts never multiply.

A write is repeated after an error only when GitHub cannot have acted on it (rate-limit
refusals, connection never made) or when the caller declares it idempotent; otherwise the
policy raises `AmbiguousWrite` and the caller looks before writing again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import requests
import urllib3.exceptions
from github.GithubException import GithubException
from tenacity import RetryCallState, Retrying, retry_if_exception

from bot.errors import AmbiguousWrite, BudgetExhausted, GatewayError, PermissionDenied, RateLimited
from bot.gateway.decipher import Action, Decision, Transport, backoff, decipher_response, decipher_transport

T = TypeVar("T")
log = logging.getLogger(__name__)


class MalformedAnswer(ValueError):
    """A success status with a body that is not what the endpoint returns."""


class HttpError(Exception):
    """A non-success answer from a host PyGithub does not handle (the log blob host)."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.headers = headers
        self.body = body


@dataclass
class _Failed(Exception):
    """One failed attempt, with what `decipher` made of it."""

    decision: Decision
    status: int | None
    cause: BaseException


def _transport_kind(exc: requests.RequestException) -> Transport | None:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Transport.CONNECT
    if isinstance(exc, requests.Timeout):
        return Transport.TIMEOUT
    if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        seen: BaseException | None = exc
        for _ in range(8):  # connection refused / DNS failure: the request never left
            if seen is None:
                break
            reason = getattr(seen, "reason", None)
            if isinstance(seen, urllib3.exceptions.NewConnectionError) or isinstance(
                reason, urllib3.exceptions.NewConnectionError
            ):
                return Transport.CONNECT
            nested = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
            seen = nested or seen.__cause__ or seen.__context__
        return Transport.RESET
    return None


class RetryPolicy:
    """Counts requests, enforces the budget and the time bound, and retries what can be retried.

    The time bound applies to each request including its retries: a wait that would cross it
    is not slept, the caller gets `RateLimited` (with the wait) or `GatewayError` at once.
    Elapsed time is the larger of wall-clock time and the sum of requested sleeps, so a test
    that injects a non-sleeping `sleep` still sees the bound enforced.
    """

    def __init__(
        self,
        *,
        max_attempts: int,
        max_wait_total: float,
        request_budget: int | None,
        sleep: Callable[[float], None],
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.max_attempts = max(1, max_attempts)
        self.max_wait_total = max_wait_total
        self.request_budget = request_budget
        self.requests_made = 0
        self._sleep = sleep
        self._clock = clock
        self._wall = wall
        self._jitter = jitter

    def pause(self, attempt: int) -> None:
        """Back off before a caller-driven second try (e.g. after re-looking for a write)."""
        self._sleep(backoff(attempt, self._jitter()))

    def run(
        self,
        send: Callable[[], T],
        *,
        what: str,
        idempotent: bool = True,
        permission: str | None = None,
        unavailable: type[GatewayError] = GatewayError,
    ) -> T:
        """Perform `send` (exactly one HTTP request) under the policy.

        `permission` names what to add to the workflow if GitHub refuses with a plain 403;
        `unavailable` is the error class raised for 404/410.
        """
        started = self._clock()
        slept = 0.0

        def elapsed() -> float:
            return max(self._clock() - started, slept)

        def attempt() -> T:
            number = retrying.statistics.get("attempt_number", 1)
            self._spend(what)
            try:
                return send()
            except GithubException as exc:
                headers = {k.lower(): str(v) for k, v in (exc.headers or {}).items()}
                decision = decipher_response(
                    exc.status, headers, exc.data, now=self._wall(), attempt=number, jitter=self._jitter()
                )
                raise _Failed(decision, exc.status, exc) from exc
            except HttpError as exc:
                decision = decipher_response(
                    exc.status, exc.headers, exc.body, now=self._wall(), attempt=number, jitter=self._jitter()
                )
                raise _Failed(decision, exc.status, exc) from exc
            except requests.RequestException as exc:
                kind = _transport_kind(exc)
                if kind is None:
                    raise GatewayError(f"{what}: {type(exc).__name__}") from exc
                raise _Failed(
                    decipher_transport(kind, attempt=number, jitter=self._jitter()), None, exc
                ) from exc
            except ValueError as exc:  # JSON that does not parse, or MalformedAnswer (after
                # RequestException: requests' InvalidURL is a ValueError too)
                decision = decipher_transport(Transport.MALFORMED, attempt=number, jitter=self._jitter())
                raise _Failed(decision, None, exc) from exc

        def retryable(exc: BaseException) -> bool:
            if not isinstance(exc, _Failed) or exc.decision.action is not Action.RETRY:
                return False
            return idempotent or not exc.decision.maybe_applied

        def wait(state: RetryCallState) -> float:
            failure = state.outcome.exception() if state.outcome else None
            return failure.decision.wait if isinstance(failure, _Failed) else 0.0

        def stop(state: RetryCallState) -> bool:
            upcoming = state.upcoming_sleep or 0.0
            return state.attempt_number >= self.max_attempts or elapsed() + upcoming > self.max_wait_total

        def do_sleep(seconds: float) -> None:
            nonlocal slept
            slept += seconds
            self._sleep(seconds)

        def announce(state: RetryCallState) -> None:
            failure = state.outcome.exception() if state.outcome else None
            reason = failure.decision.reason if isinstance(failure, _Failed) else "failed"
            log.warning("%s: %s; retrying in %.1f s", what, reason, state.upcoming_sleep)

        retrying = Retrying(
            retry=retry_if_exception(retryable),
            wait=wait,
            stop=stop,
            sleep=do_sleep,
            before_sleep=announce,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Failed as failed:
            raise self._final_error(
                failed,
                what=what,
                idempotent=idempotent,
                permission=permission,
                unavailable=unavailable,
                remaining=self.max_wait_total - elapsed(),
                attempts=retrying.statistics.get("attempt_number", 1),
            ) from failed.cause

    def _spend(self, what: str) -> None:
        if self.request_budget is not None and self.requests_made >= self.request_budget:
            raise BudgetExhausted(f"request budget of {self.request_budget} spent before {what}")
        self.requests_made += 1

    @staticmethod
    def _final_error(
        failed: _Failed,
        *,
        what: str,
        idempotent: bool,
        permission: str | None,
        unavailable: type[GatewayError],
        remaining: float,
        attempts: int,
    ) -> GatewayError:
        decision, status = failed.decision, failed.status
        if decision.action is Action.DENIED:
            needed = decision.permission or permission
            hint = f"; give the workflow `permissions: {needed}`" if needed else ""
            return PermissionDenied(f"{what}: {decision.reason}{hint}", status)
        if decision.action in (Action.EXPIRED, Action.MISSING):
            return unavailable(f"{what}: {decision.reason}", status)
        if decision.action is Action.RETRY:
            if not idempotent and decision.maybe_applied:
                return AmbiguousWrite(
                    f"{what}: {decision.reason}; it may or may not have been applied", status
                )
            if decision.rate_limited and decision.wait > remaining:
                return RateLimited(
                    f"{what}: {decision.reason}; GitHub asks to wait {decision.wait:.0f} s, "
                    "beyond the time bound",
                    status,
                    wait=decision.wait,
                )
            return GatewayError(f"{what}: {decision.reason} (gave up after {attempts} attempts)", status)
        return GatewayError(f"{what}: {decision.reason}", status)


def describe(verb: str, url: str) -> str:
    """`GET /repos/o/r/pulls` for messages: the path only, never query values (branch names in
    `head=` are attacker-controlled) and never headers (the token)."""
    path = url.split("?", 1)[0]
    if "://" in path:
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    return f"{verb} {path}"
