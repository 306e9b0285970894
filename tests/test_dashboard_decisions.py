"""The dashboard run's decisions, table-driven: what each sync gets, which sync errors stop the
dashboard, which workflows are watched online and offline (the pure parts of
bot.orchestrate.dashboard_run; the end-to-end runs are in test_e2e_dashboard.py)."""

from __future__ import annotations

import pytest

from bot.errors import BudgetExhausted, GatewayError, InputError, PermissionDenied, RateLimited
from bot.orchestrate.dashboard_decisions import (
    MIN_SHARE,
    stored_workflows,
    sync_cut_short,
    sync_fatal,
    sync_share,
    watched,
)

SHARE_CASES = [
    # left, waiting, turn, share
    (100, 2, 0, 50),
    (101, 2, 0, 51),
    (1, 3, 0, 1),  # the first turn syncs while a request is left
    (0, 1, 0, None),
    (-5, 1, 0, None),  # the reserve already eaten into
    (MIN_SHARE, 1, 1, MIN_SHARE),
    (MIN_SHARE - 1, 1, 1, None),  # a second turn needs a worthwhile share
    (30, 3, 1, 10),
]


@pytest.mark.parametrize(("left", "waiting", "turn", "share"), SHARE_CASES)
def test_sync_share(left: int, waiting: int, turn: int, share: int | None) -> None:
    assert sync_share(left=left, waiting=waiting, turn=turn) == share


FATAL_CASES = [
    # error, runs added, pending, fatal
    (None, 0, 0, False),
    (PermissionDenied("no actions: read", 403), 5, 0, True),
    (GatewayError("Bad credentials", 401), 5, 0, True),
    (GatewayError("Not Found", 404), 0, 0, True),  # the listing itself: no such workflow
    (GatewayError("Not Found", 404), 1, 0, False),  # a run deleted since the listing
    (GatewayError("Not Found", 404), 0, 3, False),
    (RateLimited("rate limited", 403), 0, 0, False),
    (BudgetExhausted("budget spent"), 0, 0, False),
    (GatewayError("Server Error", 502), 0, 0, False),
]


@pytest.mark.parametrize(("error", "added", "pending", "fatal"), FATAL_CASES)
def test_sync_fatal(error: GatewayError | None, added: int, pending: int, fatal: bool) -> None:
    assert sync_fatal(error, runs_added=added, pending=pending) is fatal


@pytest.mark.parametrize(
    ("error", "again"),
    [(BudgetExhausted("spent"), True), (RateLimited("limited", 403), False), (None, False)],
)
def test_only_a_spent_budget_earns_a_second_turn(error: GatewayError | None, again: bool) -> None:
    assert sync_cut_short(error) is again


AVAILABLE = [
    ("1001", ".github/workflows/ports_unix.yml", "unix port"),
    ("1002", ".github/workflows/ports_qemu.yml", "qemu port"),
]
UNIX = (".github/workflows/ports_unix.yml", "unix port")
QEMU = (".github/workflows/ports_qemu.yml", "qemu port")


def test_watched_by_default_leaves_out_what_a_fork_lacks() -> None:
    found, notes = watched((), ["ports_unix.yml", "ports_zephyr.yml"], AVAILABLE, "me/fork")
    assert found == [UNIX]
    assert notes == ["me/fork has no workflow 'ports_zephyr.yml': not watched"]


def test_watched_by_name_must_exist() -> None:
    assert watched(["qemu port"], ["ports_unix.yml"], AVAILABLE, "o/r") == ([QEMU], [])
    with pytest.raises(InputError, match="o/r has no workflow 'windows port'"):
        watched(["qemu port", "windows port"], [], AVAILABLE, "o/r")


def test_watched_needs_one_covered_workflow() -> None:
    with pytest.raises(InputError, match="none of the workflows the registry covers"):
        watched((), ["ports_zephyr.yml"], AVAILABLE, "o/r")


HELD = [(UNIX[0], UNIX[1]), (QEMU[0], QEMU[1])]
FALLBACK = ("ports_unix.yml", "unix port")


@pytest.mark.parametrize(
    ("wanted", "covered", "held", "found", "notes"),
    [
        ((), ["ports_qemu.yml", "ports_unix.yml"], HELD, [QEMU, UNIX], []),  # the registry's order
        ((), ["ports_zephyr.yml"], HELD, [FALLBACK], []),  # none held: the registry's own, empty
        (["unix port", "windows port"], [], HELD, [UNIX],
         ["no run of workflow 'windows port' in the history: left out"]),
        ((), ["ports_unix.yml"], [], [FALLBACK], []),
    ],
)  # fmt: skip
def test_stored_workflows(
    wanted: list[str],
    covered: list[str],
    held: list[tuple[str, str]],
    found: list[tuple[str, str]],
    notes: list[str],
) -> None:
    assert stored_workflows(wanted, covered, held, FALLBACK) == (found, notes)
