"""The application built from the environment: the one place that constructs the GitHub
gateways, opens the history store, loads the registry and wires a history sync, for whichever
command runs.

Each command used to do this its own way (the gateway built in five places, the store opened in
seven, the sync wired three ways, the registry loaded in each), and the copies drifted:
`flake-bot sync` read `os.environ` where the others read `ActionsEnv`. The inputs themselves are
read by `bot.orchestrate.inputs`.

PyGithub and SQLite are imported only when a command asks for them: they cost start-up time
that an offline `match` or `parse-log` never needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from bot.actions_env import ActionsEnv
from bot.errors import InputError
from bot.records import JobReport

if TYPE_CHECKING:
    from bot.gateway.client import GitHubGateway
    from bot.gateway.issues import IssueGateway
    from bot.registry import Registry
    from bot.store.history_sync import Gateway, Progress, SyncOptions, SyncResult
    from bot.store.sqlite import HistoryStore


def api_url(env: ActionsEnv) -> str:
    if not env.api_url.startswith(("https://", "http://")):
        raise InputError(f"GITHUB_API_URL {env.api_url!r} is not an http(s) URL")
    return env.api_url


def github(env: ActionsEnv, repo: str, budget: int | None) -> GitHubGateway:
    """A gateway to `repo` with the environment's token, spending at most `budget` requests."""
    from bot.gateway.client import GitHubGateway

    return GitHubGateway(repo, token=env.token, api_url=api_url(env), request_budget=budget)


def issues(env: ActionsEnv, repo: str, budget: int | None) -> IssueGateway:
    """A gateway that also writes issues and pull requests (the dashboard's)."""
    from bot.gateway.issues import IssueGateway

    return IssueGateway(repo, token=env.token, api_url=api_url(env), request_budget=budget)


def registry(path: str | Path | None) -> Registry:
    """The registry at `path`, else the bundled one; unreadable: an `InputError` (exit 2) before
    any request is made."""
    from bot.registry import load_registry

    return load_registry(path)


def store(path: str | Path, *, create: bool = True, check: bool = True) -> HistoryStore:
    """The history store at `path` as it is (no healing): for a reader, or a writer that opened
    it with `open_store` first."""
    from bot.store.sqlite import HistoryStore

    return HistoryStore(path, create=create, check=check)


def open_store(path: str | Path, *, beside_foreign: bool = False) -> tuple[HistoryStore, list[str]]:
    """The history store at `path`, healed or set aside when damaged (`bot.store.opening`), and
    the notes on what was done to it."""
    from bot.store.sqlite import open_healing

    return open_healing(Path(path), beside_foreign=beside_foreign)


def _parse(chunks: Iterable[bytes], job: str) -> JobReport:
    from bot.parse import parse_job_log

    return parse_job_log(chunks, job=job)


def sync_into(
    store: HistoryStore, gateway: Gateway, options: SyncOptions, progress: Progress | None = None
) -> SyncResult:
    """One history sync, every command's: job logs parsed by `bot.parse`."""
    from bot.store.history_sync import sync

    return sync(store, gateway, options, parse=_parse, progress=progress)
