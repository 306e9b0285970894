"""Where upstream files come from: a checkout on disk, or files the action fetched through the API.

The registry readers and the patch writer only need text of a few files and the list of test
paths, so they take this small protocol and stay free of I/O and of any GitHub knowledge.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Protocol

from bot.errors import InputError


class SourceTree(Protocol):
    def read_text(self, path: str) -> str:
        """Text of a repo-relative file such as "tests/run-tests.py"."""
        ...

    def test_paths(self) -> Iterable[str]:
        """Every test path relative to tests/, e.g. "thread/thread_gc1.py"."""
        ...


def _safe_relative(path: str) -> str:
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or ".." in parts:
        raise InputError(f"refusing to read {path!r}: not a path inside the repository")
    return path


class CheckoutTree:
    """A checkout on disk."""

    def __init__(self, repo_dir: str | Path) -> None:
        self.root = Path(repo_dir)
        if not self.root.is_dir():
            raise InputError(f"{repo_dir}: not a directory")

    def read_text(self, path: str) -> str:
        file = self.root / _safe_relative(path)
        try:
            return file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{file}: cannot read: {exc}") from None

    def test_paths(self) -> Iterable[str]:
        """Hidden entries and tests/results are left out. os.walk with string paths: upstream has
        ~5,000 files under tests/, and pathlib's per-file relative_to cost ~0.1 s of a command."""
        tests = self.root / "tests"
        if not tests.is_dir():
            return []
        found: list[str] = []
        for directory, dirs, files in os.walk(tests):
            relative = os.path.relpath(directory, tests).replace(os.sep, "/")
            prefix = "" if relative == "." else relative + "/"
            dirs[:] = [d for d in dirs if not d.startswith(".") and (prefix or d != "results")]
            found.extend(prefix + f for f in files if f.endswith(".py") and not f.startswith("."))
        return sorted(found)


class MemoryTree:
    """Files already in memory (fetched through the API, or built by a test)."""

    def __init__(self, files: Mapping[str, str], tests: Iterable[str]) -> None:
        self.files = dict(files)
        self.tests = tuple(tests)

    def read_text(self, path: str) -> str:
        try:
            return self.files[_safe_relative(path)]
        except KeyError:
            raise InputError(f"{path}: not among the fetched files") from None

    def test_paths(self) -> Iterable[str]:
        return self.tests
