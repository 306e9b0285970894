"""What a history sync's end means, as pure functions, for `flake-bot sync` and for the
dashboard's syncs alike: which errors are a setup mistake, and the command's exit status.

Table-tested in tests/test_sync_decisions.py, without a fake GitHub.
"""

from __future__ import annotations

from bot.errors import BudgetExhausted, GatewayError


def setup_mistake(error: GatewayError | None, *, runs_added: int, pending: int) -> bool:
    """A 401, or a 404 before a single run was listed, is a wrong token, repository or workflow:
    "run sync again to continue" would send the user round in circles. A 404 after the listing
    worked is a run or job deleted since, not a setup mistake."""
    if error is None or error.status not in (401, 404):
        return False
    return error.status == 401 or not (runs_added or pending)


def exit_status(stopped: str | None, error: GatewayError | None) -> int:
    """130 for Ctrl-C and 143 for SIGTERM, as a shell reports them; 1 when GitHub stopped the
    sync (a rate limit, a failure after the retries); 0 when it finished or spent its budget
    (the next sync resumes: nothing went wrong)."""
    if stopped == "interrupted":
        return 130
    if stopped and stopped.startswith("terminated"):
        return 143
    if stopped and error is not None and not isinstance(error, BudgetExhausted):
        return 1
    return 0
