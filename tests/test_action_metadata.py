"""action.yml, the Dockerfile and the example workflow agree with the code and with each other."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import yaml

from bot.orchestrate.inputs import DASHBOARD, INPUTS, TRIAGE

ROOT = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
WORKFLOW_TEXT = (ROOT / "examples" / "workflows" / "flake-bot.yml").read_text()
WORKFLOW = yaml.safe_load(WORKFLOW_TEXT)
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_every_input_is_read_by_the_command_with_the_same_default() -> None:
    inputs = ACTION["inputs"]
    table = {i.name: i for i in INPUTS}
    assert set(inputs) == set(table)
    assert inputs["github-token"]["default"] == "${{ github.token }}"
    assert inputs["mode"]["default"] == "triage"
    for name, spec in inputs.items():
        assert spec.get("description"), name
        row = table[name]
        default = row.default if row.action_default is None else row.action_default
        assert str(spec.get("default", "")) == default, name
        assert row.modes <= {TRIAGE, DASHBOARD} and row.modes, name
        # a dashboard-only input says so in its description, so a triage user is not misled
        if row.modes == {DASHBOARD}:
            assert "Dashboard" in spec["description"], name
    # the action keeps history by default; the bare command only when asked
    assert inputs["history"]["default"] == ".flake-bot/history.sqlite" and table["history"].default == ""


def test_declared_outputs_are_the_ones_written(tmp_path: Path) -> None:
    from bot.records import RunInfo
    from bot.registry import load_registry
    from bot.render import outputs
    from bot.triage import triage

    run = RunInfo(1, 1, "unix port", "", "push", "master", "a" * 40, None,
                  datetime(2026, 5, 1), "completed", "success")  # fmt: skip
    written = set(outputs(triage(run, [], load_registry())))
    written |= {"comment-url", "check-run-url", "dashboard-url"}
    assert set(ACTION["outputs"]) == written
    assert all(spec.get("description") for spec in ACTION["outputs"].values())


def test_action_runs_the_dockerfile_with_the_command_the_mode_names() -> None:
    assert ACTION["runs"] == {"using": "docker", "image": "Dockerfile", "args": ["${{ inputs.mode }}"]}
    assert ACTION["branding"]["icon"] and ACTION["branding"]["color"]


def test_dockerfile_is_pinned_locked_and_not_root() -> None:
    froms = re.findall(r"^FROM (\S+)", DOCKERFILE, flags=re.M)
    assert froms and all(re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", f) for f in froms)
    assert "RUN sh /src/image/install.sh /opt/flake-bot /src" in DOCKERFILE
    assert re.findall(r"^USER (\S+)", DOCKERFILE, flags=re.M)[-1] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["/opt/flake-bot/bin/flake-bot"\]$', DOCKERFILE, flags=re.M)
    lock = (ROOT / "image" / "requirements.lock").read_text()
    pins = re.findall(r"^([a-z0-9-]+)==(\S+) \\$", lock, flags=re.M)
    names = {name for name, _ in pins}
    assert {"pygithub", "pyyaml", "jinja2", "tenacity", "requests"} <= names
    assert lock.count("--hash=sha256:") >= len(pins)
    install = (ROOT / "image" / "install.sh").read_text()
    assert "--require-hashes" in install and "--only-binary=:all:" in install


def test_dockerignore_admits_exactly_what_the_dockerfile_copies() -> None:
    admitted = {line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.startswith("!")}  # fmt: skip
    copied = set()
    for sources in re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, flags=re.M):
        copied.update(s.rstrip("/") for s in sources.split())
    assert copied == admitted


def test_example_workflow_is_least_privilege_pinned_and_never_checks_out() -> None:
    assert WORKFLOW[True]["workflow_run"] == {
        "workflows": ["unix port", "qemu port", "windows port", "webassembly port", "zephyr port"],
        "types": ["completed"],
    }  # `on:` is True
    assert WORKFLOW["permissions"] == {}
    [job] = WORKFLOW["jobs"].values()
    assert job["permissions"] == {
        "actions": "read",
        "checks": "write",
        "pull-requests": "write",
        "contents": "read",
    }
    uses = [step["uses"] for step in job["steps"]]
    assert all(re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", u) for u in uses), uses
    assert not any(u.startswith("actions/checkout") for u in uses)
    assert not any("run" in step for step in job["steps"])  # no shell: nothing to inject into
    restore, triage_step, save = job["steps"]
    assert restore["with"]["path"] == save["with"]["path"] == triage_step["with"]["history"]
    assert restore["with"]["restore-keys"] and save["with"]["key"] == restore["with"]["key"]
    assert "github.run_id" in save["with"]["key"]  # unique per run: caches are immutable
