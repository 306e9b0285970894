"""The product's source as syntax trees, for the tests that check rules on it with `ast`."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"
MODULES = tuple(sorted(BOT.rglob("*.py")))


@functools.cache
def tree(path: Path) -> ast.Module:
    """The module's syntax tree, parsed once per test process however many tests read it (test
    modules in two files read every module of bot/; none changes a tree)."""
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
