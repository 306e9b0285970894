"""Shared fixtures: a fake GitHub on a real socket, fresh state per test, and no real backoff."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

# The fake, the gateway and PyGithub are imported by the fixtures that use them, not here: xdist's
# controller imports this file too, runs no test, and starts the workers only once it is loaded
# (those imports were about 0.3 s of every run's wall time).
if TYPE_CHECKING:
    from fake_github import FakeGitHub, FakeServer
    from helpers.e2e import Action

# The suite is deterministic by default: the same 60 examples per property every run (fewer where
# a test says so: one example costs a whole render or store), so a red CI is reproducible, no run
# passes by luck, and the suite stays fast. HYPOTHESIS_PROFILE=explore draws new examples, 1000 per
# property, to look for what those miss.
_UNHURRIED = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}  # a loaded CI machine
settings.register_profile("default", max_examples=60, derandomize=True, **_UNHURRIED)
settings.register_profile("explore", max_examples=1000, **_UNHURRIED)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def gateway_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff waits of every gateway the test builds without its own `sleep`, recorded
    instead of slept: the commands build theirs deep inside `main()`, and real backoff made
    the retry tests sleep for seconds. Tests that care assert on the list."""
    from bot.gateway.client import GitHubGateway

    waits: list[float] = []
    monkeypatch.setitem(GitHubGateway.__init__.__kwdefaults__, "sleep", waits.append)
    return waits


@pytest.fixture(scope="session")
def fake_github_server() -> Iterator[FakeServer]:
    """One socket for the session: starting and stopping a server for each test adds up."""
    from fake_github import FakeServer

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
    with fake_github_server.serving() as fake:
        yield fake
    assert not fake.errors, "fake GitHub crashed:\n" + "\n".join(fake.errors)


@pytest.fixture
def action(
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Action:
    """`flake-bot triage` run as the action step, against `fake_github` (see tests/helpers/e2e.py)."""
    from helpers.e2e import Action

    return Action(fake_github, tmp_path, monkeypatch, capsys)
