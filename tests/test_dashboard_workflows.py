"""Which workflows the dashboard watches and how the request budget is split between them:
pure parts, table-driven (the end-to-end runs are in test_e2e_dashboard.py)."""

from __future__ import annotations

import pytest

from bot.dashboard.build import watched_across
from bot.errors import InputError
from bot.orchestrate.dashboard_decisions import resolve_workflows, shares
from bot.orchestrate.inputs import workflow_list
from bot.report import CrossTest

LIST_CASES = [
    (None, ()),
    ("", ()),
    ("unix port", ("unix port",)),
    ("unix port, qemu port", ("unix port", "qemu port")),
    ("- ports_unix.yml\n- ports_qemu.yml\n", ("ports_unix.yml", "ports_qemu.yml")),  # a YAML block list
    (["unix port", "qemu port,unix port"], ("unix port", "qemu port")),  # repeated option, no repeats
]


@pytest.mark.parametrize(("given", "expected"), LIST_CASES)
def test_workflow_list(given: list[str] | str | None, expected: tuple[str, ...]) -> None:
    assert workflow_list(given) == expected


def test_workflow_list_refuses_a_huge_name() -> None:
    with pytest.raises(InputError, match="too long"):
        workflow_list("x" * 500)


AVAILABLE = [
    ("1001", ".github/workflows/ports_unix.yml", "unix port"),
    ("1002", ".github/workflows/ports_qemu.yml", "qemu port"),
]
RESOLVE_CASES = [
    (["unix port"], [(".github/workflows/ports_unix.yml", "unix port")], []),
    (["ports_qemu.yml", "1001"], [(".github/workflows/ports_qemu.yml", "qemu port"),
                                  (".github/workflows/ports_unix.yml", "unix port")], []),
    ([".github/workflows/ports_unix.yml", "unix port"],
     [(".github/workflows/ports_unix.yml", "unix port")], []),
    (["windows port", "ports_zephyr.yml"], [], ["windows port", "ports_zephyr.yml"]),
    (["Unix Port"], [], ["Unix Port"]),  # display names are exact, as GitHub shows them
]  # fmt: skip


@pytest.mark.parametrize(("wanted", "found", "missing"), RESOLVE_CASES)
def test_resolve_workflows(wanted: list[str], found: list[tuple[str, str]], missing: list[str]) -> None:
    assert resolve_workflows(wanted, AVAILABLE) == (found, missing)


@pytest.mark.parametrize(
    ("budget", "count", "expected"),
    [(100, 2, [50, 50]), (101, 2, [51, 50]), (10, 3, [4, 3, 3]), (1, 2, [1, 0]), (5, 0, [])],
)
def test_shares_are_even(budget: int, count: int, expected: list[int]) -> None:
    assert shares(budget, count) == expected
    assert sum(shares(budget, count)) == (budget if count else 0)


def test_cross_workflow_rows_keep_only_watched_workflows() -> None:
    tests = [
        CrossTest("a.py", (("qemu port", "arm", 1, 0), ("unix port", "macos", 2, 0))),
        CrossTest("b.py", (("unix port", "macos", 1, 0), ("zephyr port", "build", 1, 0))),
    ]
    assert watched_across(tests, ["unix port", "qemu port"]) == (tests[0],)
    assert watched_across(tests, ["unix port"]) == ()
