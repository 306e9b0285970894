"""A checkout of the upstream-style fixture (tests/data/upstream), for registry and patch tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from bot.registry import CheckoutTree, Registry
from bot.registry.upstream_sync import read_upstream, sync_registry

if TYPE_CHECKING:
    import pytest

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


def pristine_registry(tmp_path_factory: pytest.TempPathFactory, day: date) -> Registry:
    """The registry synced from an untouched checkout, once per module: a `Registry` is frozen,
    and each test edits a checkout of its own."""
    return synced_registry(make_checkout(tmp_path_factory.mktemp("pristine")), day)


def ruff_format_check(files: list[Path]) -> None:
    """Upstream's CI runs `ruff format --check`: one ruff process over every patched file, each
    with its checkout's settings (`python -m ruff`: the venv need not be on PATH)."""
    if not files:
        return
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", *map(str, files)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


FIVE = Path(__file__).resolve().parents[1] / "data" / "five-workflows"


def make_five_checkout(root: Path) -> Path:
    """A checkout of the five-workflow fixture (tests/data/five-workflows), in git, with its tests."""
    repo = root / "five"
    shutil.copytree(FIVE, repo, ignore=shutil.ignore_patterns("README.md", "tests.txt"))
    for test in (FIVE / "tests.txt").read_text().split():
        (repo / "tests" / test).parent.mkdir(parents=True, exist_ok=True)
        (repo / "tests" / test).write_text("print('ok')\n")
    subprocess.run(["git", "init", "-q", "--template=", str(repo)], check=True)
    return repo


def apply_in_memory(text: str, diff: str) -> str:
    """A minimal unified-diff applier (context must match exactly), to check hundreds of patches fast."""
    old = text.splitlines(keepends=True)
    out: list[str] = []
    position = 0
    lines = diff.splitlines(keepends=True)[2:]
    index = 0
    while index < len(lines):
        header = lines[index]
        assert header.startswith("@@ -"), header
        start = int(header[4:].split(",")[0].split(" ")[0]) - 1
        out.extend(old[position:start])
        position = start
        index += 1
        while index < len(lines) and not lines[index].startswith("@@"):
            line = lines[index]
            if line.startswith((" ", "-")):
                assert old[position] == line[1:], (old[position], line)
                position += 1
                if line.startswith(" "):
                    out.append(line[1:])
            elif line.startswith("+"):
                out.append(line[1:])
            index += 1
    out.extend(old[position:])
    return "".join(out)
