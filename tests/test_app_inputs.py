"""One application shell: every input read by one parser per type from one table, the same
input meaning the same in every mode, the wiring shared (tests/test_action_metadata.py checks
the table against action.yml)."""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_github import FakeGitHub
from helpers.e2e import run_as_step
from helpers.source import MODULES, tree

from bot.actions_env import ActionsEnv
from bot.errors import InputError
from bot.orchestrate import inputs
from bot.orchestrate.decisions import CheckRunMode, CommentMode

Parser = Callable[[str, str], object]


@pytest.mark.parametrize("row", inputs.INPUTS, ids=lambda i: i.name)
def test_every_default_parses(row: inputs.Input[object]) -> None:
    for default in {row.default, row.action_default or row.default}:
        row.parse(row.name, default)  # an InputError here would break every run that omits it


PARSE_CASES = [
    (inputs.boolean, "true", True),
    (inputs.boolean, "FALSE", False),
    (inputs.positive, "0.5", 0.5),
    (inputs.count, "20", 20),
    (inputs.mebibytes, "0.5", 512 * 1024),
    (inputs.duration, "20m", 1200.0),
    (inputs.duration, "90", 90.0),
    (inputs.choice(CommentMode), "off", CommentMode.OFF),
    (inputs.choice(CheckRunMode), "always", CheckRunMode.ALWAYS),
    (inputs.workflows, "- a.yml\n- b.yml", ("a.yml", "b.yml")),
]


@pytest.mark.parametrize(("parse", "value", "expected"), PARSE_CASES)
def test_parsers(parse: Parser, value: str, expected: object) -> None:
    assert parse("x", value) == expected


BAD_CASES = [
    (inputs.boolean, "yes", "input x must be true or false"),
    (inputs.positive, "0", "input x must be a positive number"),
    (inputs.positive, "inf", "input x must be a positive number"),
    (inputs.count, "1.5", "input x must be a positive number"),
    (inputs.count, "0", "input x must be a positive number"),
    (inputs.duration, "soon", "input x: 'soon' is not a time limit"),
    (inputs.choice(CommentMode), "never", "input x must be one of always, failures, off"),
    (inputs.patch_policy, "0,50", "0 < RATE <= 1"),
    (inputs.patch_policy, "often", "RATE,RUNS"),
    (inputs.retire_policy, "300", "two whole numbers"),
    (inputs.retire_policy, "0,30", "positive numbers"),
    (inputs.mode, "both", "input x must be one of triage, dashboard"),
]


@pytest.mark.parametrize(("parse", "value", "message"), BAD_CASES)
def test_bad_values_name_the_input(parse: Parser, value: str, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)) as raised:
        parse("x", value)
    assert str(raised.value).startswith("input x")


def test_suggest_patches_off_means_the_same_in_both_modes() -> None:
    """`off` (documented in action.yml) used to make the dashboard exit 2."""
    env = ActionsEnv.from_environ({"INPUT_SUGGEST-PATCHES": "off"})
    args = argparse.Namespace(workflow=None, branch=None, offline=False, repo_dir=None)
    assert not inputs.triage_settings(None, env).patch_policy.enabled
    assert not inputs.dashboard_settings(args, env).add_policy.enabled


def test_an_option_beats_the_input() -> None:
    env = ActionsEnv.from_environ({"INPUT_REQUEST-BUDGET": "50"})
    assert inputs.REQUEST_BUDGET.read(argparse.Namespace(request_budget="7"), env) == 7
    assert inputs.REQUEST_BUDGET.read(argparse.Namespace(request_budget=None), env) == 50
    assert inputs.REQUEST_BUDGET.read(None, ActionsEnv.from_environ({})) == 300


def test_publish_reserves_have_one_source() -> None:
    """The publish reserve was 8 in one module and 16 in another: request counts kept back for
    publishing are numbers in bot/budget.py only; elsewhere they are names from it."""
    offenders = []
    for path in MODULES:
        if path.name == "budget.py":
            continue
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant | ast.BinOp):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                offenders += [f"{path.name}: {n}" for n in names if "RESERVE" in n or "PUBLISH" in n]
    assert not offenders


def test_sync_takes_its_token_from_the_action_input(
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`flake-bot sync` in a workflow step with `github-token:` given (no GITHUB_TOKEN): it read
    `os.environ` and went unauthenticated; now every command reads the environment one way."""
    fake_github.token = "ghs_syncFromInput"
    fake_github.add_run(event="push", conclusion="success")
    env = {"GITHUB_API_URL": fake_github.api_url + "/", "INPUT_GITHUB-TOKEN": "ghs_syncFromInput"}
    argv = ["sync", "--repo", fake_github.repo, "--workflow", "ports_unix.yml", "--db", str(tmp_path / "db")]
    code, _, err = run_as_step(monkeypatch, capsys, env, argv)
    assert code == 0, err
    assert "1 runs added" in err
