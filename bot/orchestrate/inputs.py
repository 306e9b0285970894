"""Every action input, read once and by one rule: a table of inputs (name, default, type, the
modes that read it), shared with `action.yml` and checked against it by
tests/test_action_metadata.py, and one parser per type.

Before this table the triage and the dashboard each kept a copy of the defaults and parsed the
inputs their own way, and the copies disagreed (`suggest-patches: off`, documented in
`action.yml`, made the dashboard exit 2). An input now means the same in every mode.

An input is the option of the same name when the command line gives it (the action and a
maintainer at a terminal run the same command, the option winning), else `INPUT_<NAME>`, else
its default. A bad value is an `InputError` naming the input: exit 2 before any request.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from time import monotonic
from typing import Any, Generic, TypeVar

from bot.actions_env import ActionsEnv
from bot.dashboard.core import RetirePolicy
from bot.errors import InputError
from bot.orchestrate import dashboard_decisions, decisions
from bot.orchestrate.decisions import CheckRunMode, CommentMode
from bot.orchestrate.when import seconds
from bot.patch_rules import PatchPolicy
from bot.render.sanitize import plain

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)

TRIAGE = "triage"
DASHBOARD = "dashboard"
MODES = (TRIAGE, DASHBOARD)
BOTH = frozenset(MODES)

# ---------------------------------------------------------------------------- one parser per type


def text(name: str, value: str) -> str:
    return value


def one_line(name: str, value: str) -> str:
    """A name shown to users (the check run's): printable, one line, bounded."""
    return plain(value, 100, one_line=True)


def boolean(name: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise InputError(f"input {name} must be true or false, got {value[:20]!r}")
    return value.lower() == "true"


def positive(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number > 0 or number == float("inf"):
        raise InputError(f"input {name} must be a positive number, got {value[:40]!r}")
    return number


def count(name: str, value: str) -> int:
    """A whole number of at least 1 (requests, days)."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise InputError(f"input {name} must be a positive number (a whole one), got {value[:40]!r}")
    return number


def mebibytes(name: str, value: str) -> int:
    """A size in MiB (fractions allowed), in bytes."""
    return int(positive(name, value) * 1024 * 1024)


def duration(name: str, value: str) -> float:
    try:
        return seconds(value)
    except ValueError as exc:
        raise InputError(f"input {name}: {exc}") from None


def choice(kind: type[E]) -> Callable[[str, str], E]:
    def parse(name: str, value: str) -> E:
        try:
            return kind(value)
        except ValueError:
            names = ", ".join(kind)
            raise InputError(f"input {name} must be one of {names}, got {value[:40]!r}") from None

    return parse


def mode(name: str, value: str) -> str:
    if value not in MODES:
        raise InputError(f"input {name} must be one of {', '.join(MODES)}, got {value[:40]!r}")
    return value


_A = TypeVar("_A", int, float)


def _pair(name: str, value: str, first: Callable[[str], _A], shape: str) -> tuple[_A, int]:
    """Two comma-separated numbers, the second whole: the shape both policies' inputs share."""
    parts = [p.strip() for p in value.split(",")]
    try:
        if len(parts) != 2:
            raise ValueError
        return first(parts[0]), int(parts[1])
    except ValueError:
        raise InputError(f"input {name} must be {shape}, got {value[:40]!r}") from None


def patch_policy(name: str, value: str) -> PatchPolicy:
    """`RATE,RUNS` (e.g. `0.01,50`) or `off`: triage then offers no patch, and the dashboard
    proposes nothing to add."""
    if value.lower() in ("off", "false", "no", "none"):
        return PatchPolicy(enabled=False)
    rate, runs = _pair(name, value, float, "RATE,RUNS (e.g. 0.01,50) or off")
    if not 0 < rate <= 1 or runs < 1:
        raise InputError(f"input {name} needs 0 < RATE <= 1 and RUNS >= 1")
    return PatchPolicy(min_rate=rate, min_executions=runs)


def retire_policy(name: str, value: str) -> RetirePolicy:
    """`RUNS,DAYS`, both whole and positive."""
    runs, days = _pair(name, value, int, "two whole numbers separated by a comma")
    if runs < 1 or days < 1:
        raise InputError(f"input {name} needs positive numbers, got {value[:40]!r}")
    return RetirePolicy(min_executions=runs, min_days=days)


def workflow_list(values: list[str] | str | None) -> tuple[str, ...]:
    """Workflows named by repeated options or one input, each a comma- or newline-separated list
    (a YAML list in the action's `with:` arrives as text), in order, without repeats."""
    if values is None:
        return ()
    items = [values] if isinstance(values, str) else values
    names = [part.strip() for item in items for part in item.replace("\n", ",").split(",")]
    for name in names:
        if len(name) > 200:
            raise InputError(f"workflow name too long: {name[:40]!r}...")
    return tuple(dict.fromkeys(n.removeprefix("- ").strip() for n in names if n.removeprefix("- ").strip()))


def workflows(name: str, value: str) -> tuple[str, ...]:
    return workflow_list(value)


# ---------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Input(Generic[T]):
    """One action input. `action_default` is `action.yml`'s when it differs from the bare
    command's (the action keeps history by default; the command only when asked)."""

    name: str
    default: str
    parse: Callable[[str, str], T]
    modes: frozenset[str]
    action_default: str | None = None

    def raw(self, args: argparse.Namespace | None, env: ActionsEnv) -> str:
        option = getattr(args, self.name.replace("-", "_"), None) if args is not None else None
        if option is not None and option is not False:
            return str(option)
        return env.input(self.name, self.default)

    def read(self, args: argparse.Namespace | None, env: ActionsEnv) -> T:
        return self.parse(self.name, self.raw(args, env))


MODE = Input("mode", TRIAGE, mode, BOTH)
# read by ActionsEnv (INPUT_GITHUB-TOKEN, else GITHUB_TOKEN): never through `raw`, never printed
GITHUB_TOKEN = Input("github-token", "", text, BOTH, action_default="${{ github.token }}")
REGISTRY = Input("registry", "", text, BOTH)
HISTORY = Input("history", "", text, BOTH, action_default=".flake-bot/history.sqlite")
COMMENT = Input("comment", "failures", choice(CommentMode), frozenset({TRIAGE}))
COMMENT_AUTHOR = Input("comment-author", "github-actions[bot]", text, BOTH)
CHECK_RUN = Input("check-run", "on-push", choice(CheckRunMode), frozenset({TRIAGE}))
CHECK_NAME = Input("check-name", "flake-bot", one_line, frozenset({TRIAGE}))
SUGGEST_PATCHES = Input("suggest-patches", "0.01,50", patch_policy, BOTH)
MAX_LOG_MB = Input("max-log-mb", "32", mebibytes, frozenset({TRIAGE}))
REQUEST_BUDGET = Input("request-budget", "300", count, BOTH)
DRY_RUN = Input("dry-run", "false", boolean, BOTH)
TIME_LIMIT = Input("time-limit", "10m", duration, BOTH)
WORKFLOW = Input("workflow", "", workflows, frozenset({DASHBOARD}))
DASHBOARD_DAYS = Input("dashboard-days", "90", count, frozenset({DASHBOARD}))
RETIRE_AFTER = Input("retire-after", "300,30", retire_policy, frozenset({DASHBOARD}))
OPEN_PULL_REQUESTS = Input("open-pull-requests", "false", boolean, frozenset({DASHBOARD}))

INPUTS: tuple[Input[Any], ...] = (
    MODE, GITHUB_TOKEN, REGISTRY, HISTORY, COMMENT, COMMENT_AUTHOR, CHECK_RUN, CHECK_NAME,
    SUGGEST_PATCHES, MAX_LOG_MB, REQUEST_BUDGET, DRY_RUN, TIME_LIMIT, WORKFLOW, DASHBOARD_DAYS,
    RETIRE_AFTER, OPEN_PULL_REQUESTS,
)  # fmt: skip


# ---------------------------------------------------------------------------- each mode's settings


def triage_settings(args: argparse.Namespace | None, env: ActionsEnv) -> decisions.Settings:
    return decisions.Settings(
        registry=REGISTRY.read(args, env) or None,
        history=HISTORY.read(args, env) or None,
        comment=COMMENT.read(args, env),
        comment_author=COMMENT_AUTHOR.read(args, env),
        check_run=CHECK_RUN.read(args, env),
        check_name=CHECK_NAME.read(args, env),
        patch_policy=SUGGEST_PATCHES.read(args, env),
        max_log_bytes=MAX_LOG_MB.read(args, env),
        request_budget=REQUEST_BUDGET.read(args, env),
        dry_run=DRY_RUN.read(args, env),
        deadline=monotonic() + TIME_LIMIT.read(args, env),
    )


def dashboard_settings(args: argparse.Namespace, env: ActionsEnv) -> dashboard_decisions.Settings:
    mode(MODE.name, env.input(MODE.name, DASHBOARD))
    return dashboard_decisions.Settings(
        registry=REGISTRY.read(args, env) or None,
        history=HISTORY.read(args, env) or None,
        workflows=workflow_list(args.workflow) or WORKFLOW.read(None, env),
        branch=args.branch,
        request_budget=REQUEST_BUDGET.read(args, env),
        dry_run=DRY_RUN.read(args, env),
        author=COMMENT_AUTHOR.read(args, env),
        add_policy=SUGGEST_PATCHES.read(args, env),
        retire_policy=RETIRE_AFTER.read(args, env),
        days=DASHBOARD_DAYS.read(args, env),
        open_pull_requests=OPEN_PULL_REQUESTS.read(args, env),
        offline=bool(args.offline),
        repo_dir=args.repo_dir,
        deadline=monotonic() + TIME_LIMIT.read(args, env),
    )
