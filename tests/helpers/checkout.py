"""A checkout of the upstream-style fixture (tests/data/upstream), for registry and patch tests."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

from bot.registry import CheckoutTree, Registry
from bot.registry.upstream_sync import read_upstream, sync_registry

UPSTREAM = Path(__file__).resolve().parents[1] / "data" / "upstream"
TEST_PATHS = tuple((UPSTREAM / "tests.txt").read_text().split())


def make_checkout(root: Path) -> Path:
    """A checkout of the fixture tree: ci.sh, workflow, run-tests.py and empty test files, in git."""
    repo = root / "repo"
    for relative in ("tools/ci.sh", ".github/workflows/ports_unix.yml", "tests/run-tests.py"):
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(UPSTREAM / relative, repo / relative)
    for test in TEST_PATHS:
        (repo / "tests" / test).parent.mkdir(parents=True, exist_ok=True)
        (repo / "tests" / test).write_text("print('ok')\n")
    # An empty template: git's sample hooks are 18 files that every test would write and delete.
    subprocess.run(["git", "init", "-q", "--template=", str(repo)], check=True)
    return repo


def git_apply_check(repo: Path, diff: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "apply", "--check", "-"], input=diff, text=True, cwd=repo, capture_output=True
    )


def synced_registry(repo: Path, day: date) -> Registry:
    """What `registry sync` writes from the checkout at `repo` on `day`, starting from no registry."""
    return sync_registry(None, read_upstream(CheckoutTree(repo), day), day)
