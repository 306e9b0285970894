"""Shared fixtures: a fake GitHub on a real socket, fresh state per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_github import FakeGitHub, FakeServer
from test_e2e_support import Action


@pytest.fixture(scope="session")
def fake_github_server() -> Iterator[FakeServer]:
    """One socket for the session: stopping a werkzeug server costs up to 0.5 s per test."""
    server = FakeServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_github(fake_github_server: FakeServer) -> Iterator[FakeGitHub]:
    """A fresh fake GitHub for `micropython/micropython`; `fake_github.api_url` is its API root.

    The test fails if the fake itself crashed while serving, so a bug in the fake cannot
    masquerade as a 500 that the gateway then retries.
    """
    fake = FakeGitHub(fake_github_server)
    fake_github_server.current = fake
    fake_github_server.http.clear_log()
    yield fake
    fake_github_server.current = None
    fake.close()
    assert not fake.errors, "fake GitHub crashed:\n" + "\n".join(fake.errors)


@pytest.fixture
def action(
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Action:
    """`flake-bot triage` run as the action step, against `fake_github` (see test_e2e_support)."""
    return Action(fake_github, tmp_path, monkeypatch, capsys)
