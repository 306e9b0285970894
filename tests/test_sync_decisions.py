"""What a sync's end means, table-driven (bot.orchestrate.sync_decisions); the end-to-end cases
are in test_sync.py and test_cli_errors.py."""

from __future__ import annotations

import pytest

from bot.errors import BudgetExhausted, GatewayError, PermissionDenied, RateLimited
from bot.orchestrate.sync_decisions import exit_status, setup_mistake


@pytest.mark.parametrize(
    ("error", "added", "pending", "mistake"),
    [
        (None, 0, 0, False),
        (GatewayError("Bad credentials", 401), 0, 0, True),
        (GatewayError("Bad credentials", 401), 9, 2, True),  # a token revoked mid-sync: still the token
        (GatewayError("Not Found", 404), 0, 0, True),  # no such repository or workflow
        (GatewayError("Not Found", 404), 3, 0, False),  # a run deleted after the listing
        (GatewayError("Not Found", 404), 0, 1, False),
        (PermissionDenied("Resource not accessible", 403), 0, 0, False),  # the dashboard's own rule
        (RateLimited("rate limited", 403), 0, 0, False),
        (GatewayError("Server Error", 500), 0, 0, False),
    ],
)
def test_setup_mistake(error: GatewayError | None, added: int, pending: int, mistake: bool) -> None:
    assert setup_mistake(error, runs_added=added, pending=pending) is mistake


@pytest.mark.parametrize(
    ("stopped", "error", "status"),
    [
        (None, None, 0),
        ("interrupted", None, 130),
        ("terminated (SIGTERM)", None, 143),
        ("request budget spent", BudgetExhausted("spent"), 0),  # the next sync resumes
        ("rate limited", RateLimited("rate limited", 403), 1),
        ("GitHub failed", GatewayError("Server Error", 502), 1),
        ("time limit reached", None, 0),  # the time limit: what is stored stays, the next sync resumes
    ],
)
def test_exit_status(stopped: str | None, error: GatewayError | None, status: int) -> None:
    assert exit_status(stopped, error) == status
