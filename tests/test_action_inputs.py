"""Bad action inputs stop the triage with one line and exit 2, before any request is made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_github import FakeGitHub
from helpers.e2e import Action


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("comment", "sometimes", "input comment must be one of always, failures, off"),
        ("check-run", "never", "input check-run must be one of on-push, always, off"),
        ("suggest-patches", "often", "RATE,RUNS"),
        ("suggest-patches", "2,50", "0 < RATE <= 1"),
        ("max-log-mb", "-1", "input max-log-mb must be a positive number"),
        ("request-budget", "lots", "input request-budget must be a positive number"),
        ("dry-run", "maybe", "input dry-run must be true or false"),
        ("time-limit", "soon", "input time-limit: 'soon' is not a time limit such as 600, 90s, 20m or 1h"),
    ],
)
def test_bad_input(
    name: str,
    value: str,
    message: str,
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = fake_github.add_run(event="push")
    result = Action(fake_github, tmp_path, monkeypatch, capsys).run(
        run["id"], **{name.replace("-", "_"): value}
    )
    assert result.code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("flake-bot: error: ") and message in line
    assert fake_github.requests == []


def test_off_and_good_values_are_accepted(
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = fake_github.add_run(event="push", conclusion="success")
    fake_github.add_job(run["id"], "minimal", "success", log="missing")
    result = Action(fake_github, tmp_path, monkeypatch, capsys).run(
        run["id"], suggest_patches="off", max_log_mb="0.5", request_budget="20", comment="off", dry_run="true"
    )
    assert result.code == 0, result.stderr


def test_missing_token_and_event(
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    for key in ("GITHUB_EVENT_PATH", "GITHUB_TOKEN", "INPUT_GITHUB-TOKEN"):
        monkeypatch.delenv(key, raising=False)
    assert main(["triage"]) == 2
    assert "no event" in capsys.readouterr().err
    run = fake_github.add_run(event="push")
    event = tmp_path / "event.json"
    event.write_text(json.dumps(fake_github.workflow_run_event(run["id"])))
    monkeypatch.setenv("GITHUB_REPOSITORY", fake_github.repo)
    assert main(["triage", "--event", str(event)]) == 2
    assert "no token" in capsys.readouterr().err
    event.write_text('{"action": "opened", "pull_request": {}}')
    assert main(["triage", "--event", str(event)]) == 2
    assert "not a workflow_run event" in capsys.readouterr().err
