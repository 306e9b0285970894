"""Read the `flaky_tests_to_ignore` literal from `tests/run-tests.py` with `ast` (never executed).

The dict maps exact test paths (relative to tests/) to `(reason, platforms)`, platforms being
None or a tuple of `sys.platform` strings of the host running run-tests.py. Anything that is not
a plain literal is refused, because guessing at computed values could register the wrong tests.
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass, replace

from bot.errors import InputError

IGNORE_DICT = "flaky_tests_to_ignore"


@dataclass(frozen=True)
class IgnoreItem:
    test: str
    reason: str
    platforms: tuple[str, ...] | None
    line: int  # 1-based line of the key
    alone: bool = True  # the entry's lines hold nothing else (so they can be rewritten or deleted)
    platforms_at: tuple[int, int] | None = None  # character columns of the platforms on `line`
    end_line: int = 0  # 1-based line where the value ends (== line for a one-line entry)
    key_text: str = ""  # the key and the reason exactly as written (quotes, escapes)
    reason_text: str = ""
    value_end: int = 0  # character column just after the value on `end_line`


@dataclass(frozen=True)
class IgnoreDict:
    items: tuple[IgnoreItem, ...]
    start: int  # 1-based line of `flaky_tests_to_ignore = {`
    end: int  # 1-based line of the closing `}`


def read_ignore_dict(text: str, path: str = "tests/run-tests.py") -> IgnoreDict | None:
    """The module-level dict, or None if this run-tests.py predates it."""
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        raise InputError(f"{path}:{exc.lineno or 1}: cannot parse: {exc.msg}") from None
    for node in tree.body:
        if not isinstance(node, ast.Assign | ast.AnnAssign):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if not any(isinstance(t, ast.Name) and t.id == IGNORE_DICT for t in targets):
            continue
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        if not isinstance(value, ast.Dict):
            raise InputError(f"{path}:{node.lineno}: {IGNORE_DICT} is not a dict literal")
        lines = text.splitlines()
        items = [_item(key, item, path, lines) for key, item in zip(value.keys, value.values, strict=True)]
        used = Counter(n for i in items for n in range(i.line, i.end_line + 1))
        items = [replace(i, alone=False) if used[i.line] > 1 or used[i.end_line] > 1 else i for i in items]
        return IgnoreDict(tuple(items), node.lineno, value.end_lineno or node.lineno)
    return None


def _column(line: str, byte_offset: int) -> int:
    """ast columns count UTF-8 bytes; edits need characters."""
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8", errors="replace"))


def _item(key: ast.expr | None, value: ast.expr, path: str, lines: list[str]) -> IgnoreItem:
    line = value.lineno if key is None else key.lineno
    if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
        raise InputError(f"{path}:{line}: a {IGNORE_DICT} key is not a string literal")
    if not (isinstance(value, ast.Tuple) and len(value.elts) == 2):
        raise InputError(f"{path}:{line}: the value for {key.value!r} is not a (reason, platforms) tuple")
    reason_node, platforms_node = value.elts
    if not (isinstance(reason_node, ast.Constant) and isinstance(reason_node.value, str)):
        raise InputError(f"{path}:{line}: the reason for {key.value!r} is not a string literal")
    platforms: tuple[str, ...] | None
    if isinstance(platforms_node, ast.Constant) and platforms_node.value is None:
        platforms = None
    elif isinstance(platforms_node, ast.Tuple | ast.List) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in platforms_node.elts
    ):
        platforms = tuple(
            e.value for e in platforms_node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
        )
    else:
        raise InputError(f"{path}:{line}: the platforms for {key.value!r} are not None or a tuple of strings")
    end_line = value.end_lineno or line
    first, last = lines[line - 1], lines[end_line - 1]
    value_end = _column(last, value.end_col_offset or 0)
    after = last[value_end:].strip().removeprefix(",").lstrip()
    alone = not first[: _column(first, key.col_offset)].strip() and after[:1] in ("", "#")
    at = None
    if (
        platforms_node.lineno == platforms_node.end_lineno == line
        and platforms_node.end_col_offset is not None
    ):
        at = (_column(first, platforms_node.col_offset), _column(first, platforms_node.end_col_offset))
    return IgnoreItem(
        key.value,
        reason_node.value,
        platforms,
        line,
        alone,
        at,
        end_line,
        _segment(lines, key),
        _segment(lines, reason_node),
        value_end,
    )


def _segment(lines: list[str], node: ast.expr) -> str:
    """A literal's source text, so an edit keeps the quotes and escapes upstream wrote."""
    if node.lineno != node.end_lineno or node.end_col_offset is None:
        return ""  # implicitly concatenated over lines: the patch writer refuses to rewrite it
    text = lines[node.lineno - 1]
    return text[_column(text, node.col_offset) : _column(text, node.end_col_offset)]
