"""The decisions of one dashboard run, as pure functions: which workflows are watched, how the
request budget is shared between their syncs, and what a sync's error means.

They are apart from the requests around them (`bot.orchestrate.dashboard_run`) so that each is
checked against a table of cases (tests/test_dashboard_workflows.py,
tests/test_dashboard_decisions.py) without a fake GitHub.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.dashboard.core import RetirePolicy
from bot.errors import BudgetExhausted, GatewayError, InputError, PermissionDenied
from bot.orchestrate.sync_decisions import setup_mistake
from bot.patch_rules import PatchPolicy

MIN_SHARE = 10  # a second turn with fewer requests than this would list a page and stop


@dataclass(frozen=True)
class Settings:
    """Everything that shapes one dashboard run, from the action's inputs and the options."""

    registry: str | None
    history: str | None
    workflows: tuple[str, ...]  # empty: every workflow the registry covers
    branch: str | None
    request_budget: int
    dry_run: bool
    author: str
    add_policy: PatchPolicy
    retire_policy: RetirePolicy
    days: int
    open_pull_requests: bool
    offline: bool
    repo_dir: str | None
    deadline: float | None = None  # `time.monotonic()` after which the sync fetches nothing more


# ---------------------------------------------------------------------------- watched workflows


def resolve_workflows(
    wanted: Sequence[str], available: Sequence[tuple[str, str, str]]
) -> tuple[list[tuple[str, str]], list[str]]:
    """(path, display name) of each wanted workflow (by id, file name or display name) among the
    repository's (id, path, name), in the order wanted; and the names not found."""
    found: list[tuple[str, str]] = []
    missing = []
    for key in wanted:
        base = key.rpartition("/")[2]
        match = next(
            (
                (path, name)
                for ident, path, name in available
                if (key.isdigit() and key == ident)
                or (base.endswith((".yml", ".yaml")) and base == path.rpartition("/")[2])
                or key == name
            ),
            None,
        )
        if match is None:
            missing.append(key)
        elif match not in found:
            found.append(match)
    return found, missing


def watched(
    wanted: Sequence[str], covered: Sequence[str], available: Sequence[tuple[str, str, str]], repo: str
) -> tuple[list[tuple[str, str]], list[str]]:
    """The watched workflows among the repository's, and notes on those left out. Asked for by
    name (`wanted`): each must exist. By default every workflow the registry covers that the
    repository has (a fork may lack some: noted and left out), at least one."""
    if wanted:
        found, missing = resolve_workflows(wanted, available)
        if missing:
            raise InputError(
                f"{repo} has no workflow {missing[0][:100]!r}; set the workflow input "
                "(display names, file names or ids, separated by commas)"
            )
        return found, []
    found, missing = resolve_workflows(covered, available)
    if not found:
        raise InputError(f"{repo} has none of the workflows the registry covers; set the workflow input")
    return found, [f"{repo} has no workflow {key!r}: not watched" for key in missing]


def stored_workflows(
    wanted: Sequence[str],
    covered: Sequence[str],
    held: Sequence[tuple[str, str]],
    fallback: tuple[str, str],
) -> tuple[list[tuple[str, str]], list[str]]:
    """Offline, the watched workflows are those the history holds (`held`: path, name): the ones
    asked for, else the ones the registry covers (in its order), else the registry's own (an
    empty section); and notes on those asked for but not held."""
    available = [("", path, name) for path, name in held]
    if wanted:
        found, missing = resolve_workflows(wanted, available)
        return found, [f"no run of workflow {key!r} in the history: left out" for key in missing]
    found, _ = resolve_workflows(covered, available)
    return found or [fallback], []


# ---------------------------------------------------------------------------- the budget


def shares(budget: int, count: int) -> list[int]:
    """The request budget split evenly between `count` workflows (the first ones get the rest of
    the division), so a long backlog in one workflow never starves the others."""
    if count <= 0:
        return []
    return [budget // count + (1 if i < budget % count else 0) for i in range(count)]


def sync_share(*, left: int, waiting: int, turn: int) -> int | None:
    """The requests the next workflow's sync may spend, given what the budget has `left` after
    the reserve and the `waiting` workflows of this turn (it included); None: stop this turn.
    The first turn syncs while a request is left; a second turn (for the workflows that ran out)
    only with a worthwhile share."""
    if left < (1 if turn == 0 else MIN_SHARE):
        return None
    return shares(left, waiting)[0]


# ---------------------------------------------------------------------------- sync errors


def sync_fatal(error: GatewayError | None, *, runs_added: int, pending: int) -> bool:
    """Whether a sync's error stops the dashboard: a refused permission or a bad token (401) is
    the workflow owner's to fix, and a 404 before a single run was listed is a workflow that is
    not there. Anything else (a rate limit, the budget, a run deleted since) leaves the history
    as far as it got, and the dashboard goes on with it."""
    if error is None:
        return False
    return isinstance(error, PermissionDenied) or setup_mistake(error, runs_added=runs_added, pending=pending)


def sync_cut_short(error: GatewayError | None) -> bool:
    """Whether a sync stopped for want of requests, so its workflow gets a second turn."""
    return isinstance(error, BudgetExhausted)
