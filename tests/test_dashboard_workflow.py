"""The example dashboard workflow: daily + manual + the dashboard's own edits, least permissions,
its own history cache, every action pinned."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TEXT = (ROOT / "examples" / "workflows" / "flake-bot-dashboard.yml").read_text()
WORKFLOW = yaml.safe_load(TEXT)


def test_triggers_and_least_permissions() -> None:
    on = WORKFLOW[True]  # `on:` is True
    assert set(on) == {"schedule", "workflow_dispatch", "issues"}
    assert on["issues"] == {"types": ["edited"]}
    assert len(on["schedule"]) == 1
    assert WORKFLOW["permissions"] == {}
    [job] = WORKFLOW["jobs"].values()
    assert job["permissions"] == {"actions": "read", "issues": "write", "contents": "read"}
    assert "startsWith(github.event.issue.body, '<!-- flake-bot:dashboard -->')" in job["if"]
    assert WORKFLOW["concurrency"]["cancel-in-progress"] is False


def test_dashboard_step_and_its_own_cache() -> None:
    [job] = WORKFLOW["jobs"].values()
    restore, step, save = job["steps"]
    assert step["with"]["mode"] == "dashboard"
    assert step["with"]["open-pull-requests"] == "false"  # off unless the permissions are granted
    path = step["with"]["history"]
    assert restore["with"]["path"] == save["with"]["path"] == path == ".flake-bot/dashboard.sqlite"
    assert restore["with"]["restore-keys"] == "flake-bot-dashboard-"  # not the triage cache
    for use in re.findall(r"uses: (\S+)", TEXT):
        assert re.fullmatch(r"[\w./-]+@[0-9a-f]{40}", use), use
    assert "actions/checkout" not in TEXT
