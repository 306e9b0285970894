"""Read `tools/ci.sh`: its functions, who calls whom, every run-tests.py filter and the bullet comments.

ci.sh is shell, and flake-bot must never run it, so this is a line-oriented reader of the shapes
upstream has actually used: one run-tests.py command per line, filters as `--exclude`/`-e`/
`--include`/`-i` words (quoted or not), and `# - <path> <reason>` bullets under an
`# Issues with <X> tests:` header at the top of a function. It keeps columns of every pattern
so the patch writer can edit exactly the characters a maintainer would.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from bot.errors import InputError

_FUNCTION_RE = re.compile(r"^(?:function\s+([A-Za-z_]\w*)\s*(?:\(\))?|([A-Za-z_]\w*)\s*\(\))\s*\{\s*$")
_CALL_RE = re.compile(r"\b(ci_\w+)\b")
_HEADER_RE = re.compile(r"^\s*#\s*Issues with .*tests.*:\s*$")
_BULLET_RE = re.compile(r"^(\s*)#\s*-\s+(\S+)(?:\s+(.*?))?\s*$")
# `./run-tests` was the script's name until 2021-03-12 (6129b8e401).
_RUN_TESTS_RE = re.compile(r"(?:^|[\s(;&/])(?:\./run-tests(?:\.py)?|run-tests\.py)(?=\s|\)|;|$)")
_FLAKY_RE = re.compile(r"\b(flaky|flakiness|unreliable|spurious|intermittent(ly)?)\b", re.IGNORECASE)
_END_OF_COMMAND = ")|;&<>"


def path_stem(pattern: str) -> str:
    """A test path or pattern without its `.py` (escaped or not): how bullets and groups name tests."""
    for suffix in (r"\.py", ".py"):
        if pattern.endswith(suffix):
            return pattern[: -len(suffix)]
    return pattern


def says_flaky(reason: str) -> bool:
    """Whether a reason calls the test flaky (as opposed to slow, broken or unsupported)."""
    return _FLAKY_RE.search(reason) is not None


@dataclass(frozen=True)
class Word:
    """A shell word on one line: its unquoted value and where its raw text sits."""

    value: str
    start: int
    end: int
    quote: str  # "'", '"' or "" (unquoted)


@dataclass(frozen=True)
class Filter:
    """One `--exclude`/`--include` argument of a run-tests.py command."""

    action: str  # "exclude" or "include"
    pattern: str
    flag: str  # the flag as written: "--exclude", "-e", "--exclude=" ...
    flag_start: int  # column where the flag word begins
    start: int  # columns of the raw pattern text (with its quotes) on the line
    end: int
    quote: str


@dataclass(frozen=True)
class Invocation:
    """One run-tests.py command line inside a ci.sh function."""

    function: str
    line: int  # 1-based
    filters: tuple[Filter, ...]
    args_end: int  # column just after the last argument: where a new flag goes
    dirs: tuple[str, ...] = ()  # `-d`/`--test-dirs` values: the only directories it runs, if any

    def runs_dir_of(self, test: str) -> bool:
        """Whether the command's test directories include `test` (no `-d`: run-tests.py's own
        list, which flake-bot does not second-guess)."""
        return not self.dirs or any(test.startswith(d.rstrip("/") + "/") for d in self.dirs)


@dataclass(frozen=True)
class Bullet:
    line: int
    path: str
    text: str  # everything after "- "


def bullets_naming(pattern: str, bullets: Iterable[Bullet]) -> list[Bullet]:
    """Every `# - path reason` bullet that explains one alternative of an --exclude regex: those
    whose path names it first, then those whose text mentions it as a word."""
    name = path_stem(pattern)
    bullets = list(bullets)
    by_path = [
        b
        for b in bullets
        if (path := path_stem(b.path)) == name or path.endswith("/" + name) or name.endswith("/" + path)
    ]
    word = re.compile(r"(?<![\w/])" + re.escape(name) + r"(?![\w])")
    return by_path + [b for b in bullets if b not in by_path and word.search(b.text)]


def bullet_for(pattern: str, bullets: Iterable[Bullet]) -> Bullet | None:
    """The bullet that gives an alternative its reason: the first that calls it flaky, else the
    first that names it. A function can say a test is slow in one bullet and flaky in another
    (a flake-bot patch adds the second), and only the flaky one explains the exclusion."""
    named = bullets_naming(pattern, bullets)
    return next((b for b in named if says_flaky(b.text)), named[0] if named else None)


def bullet_reason(bullet: Bullet | None) -> str:
    if bullet is None:
        return ""
    if bullet.path.endswith(".py") and bullet.text.startswith(bullet.path):
        return bullet.text[len(bullet.path) :].strip()
    return bullet.text


@dataclass(frozen=True)
class ShellFunction:
    name: str
    start: int  # 1-based line of `function name {`
    end: int  # 1-based line of the closing `}`
    calls: tuple[str, ...]
    invocations: tuple[Invocation, ...]
    header_line: int | None  # the `# Issues with ... tests:` line
    bullets: tuple[Bullet, ...]
    body_indent: str


@dataclass(frozen=True)
class CiScript:
    path: str
    lines: tuple[str, ...]
    functions: dict[str, ShellFunction]

    def closure(self, names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        """The named functions plus every ci.sh function they call, directly or through helpers."""
        seen: list[str] = []
        todo = list(names)
        while todo:
            name = todo.pop(0)
            if name in seen:
                continue
            seen.append(name)
            function = self.functions.get(name)
            if function is not None:
                todo.extend(function.calls)
        return tuple(seen)


def shell_words(line: str, pos: int, *, where: str = "") -> tuple[list[Word], int]:
    """Split the rest of one shell command into words, stopping at `)`, `|`, `;`, `&`, `#`.

    Returns the words and the column where the command's arguments end.
    """
    words: list[Word] = []
    i = pos
    n = len(line)
    end = pos
    while i < n:
        c = line[i]
        if c in " \t":
            i += 1
            continue
        if c in _END_OF_COMMAND or c == "#":
            break
        start = i
        quote = ""
        buf: list[str] = []
        while i < n and line[i] not in " \t" and line[i] not in _END_OF_COMMAND:
            c = line[i]
            if c == "'":
                close = line.find("'", i + 1)
                if close < 0:
                    raise InputError(f"{where}: unterminated single quote")
                buf.append(line[i + 1 : close])
                quote = quote or "'"
                i = close + 1
            elif c == '"':
                i += 1
                quote = quote or '"'
                while i < n and line[i] != '"':
                    if line[i] == "\\" and i + 1 < n and line[i + 1] in '"\\$`':
                        i += 1
                    buf.append(line[i])
                    i += 1
                if i >= n:
                    raise InputError(f"{where}: unterminated double quote")
                i += 1
            elif c == "\\" and i + 1 < n:
                buf.append(line[i + 1])
                i += 2
            else:
                buf.append(c)
                i += 1
        words.append(Word("".join(buf), start, i, quote))
        end = i
    return words, end


_FLAGS = {"-e": "exclude", "--exclude": "exclude", "-i": "include", "--include": "include"}


def _filters(words: list[Word], line: str) -> tuple[Filter, ...]:
    found: list[Filter] = []
    index = 0
    while index < len(words):
        word = words[index]
        raw = line[word.start : word.end]
        if raw in _FLAGS and index + 1 < len(words):
            value = words[index + 1]
            found.append(
                Filter(_FLAGS[raw], value.value, raw, word.start, value.start, value.end, value.quote)
            )
            index += 2
            continue
        for flag in ("--exclude=", "--include="):
            if raw.startswith(flag):
                quote = raw[len(flag)] if raw[len(flag) :][:1] in ("'", '"') else ""
                found.append(
                    Filter(
                        flag[2:-1],
                        word.value[len(flag) :],
                        flag,
                        word.start,
                        word.start + len(flag),
                        word.end,
                        quote,
                    )
                )
        if raw[:2] in ("-e", "-i") and len(raw) > 2 and not raw.startswith("--"):
            quote = raw[2] if raw[2] in ("'", '"') else ""
            found.append(
                Filter(_FLAGS[raw[:2]], word.value[2:], raw[:2], word.start, word.start + 2, word.end, quote)
            )
        index += 1
    return tuple(found)


def _test_dirs(words: list[Word]) -> tuple[str, ...]:
    """`-d basics float`: run-tests.py takes every following word up to the next flag."""
    dirs: list[str] = []
    taking = False
    for word in words:
        if word.value in ("-d", "--test-dirs"):
            taking = True
        elif word.value.startswith("-"):
            taking = False
        elif taking:
            dirs.append(word.value)
    return tuple(dirs)


def line_filters(line: str) -> list[tuple[str, str]]:
    """(action, pattern) of the run-tests.py command on one line, in order (for re-checking an edit)."""
    m = _RUN_TESTS_RE.search(line)
    if m is None:
        return []
    words, _ = shell_words(line, m.end())
    return [(f.action, f.pattern) for f in _filters(words, line)]


def read_ci_sh(text: str, path: str = "tools/ci.sh") -> CiScript:
    """Read every function of a ci.sh-style script (never executed)."""
    lines = tuple(text.splitlines())
    spans: list[tuple[str, int, int]] = []
    index = 0
    while index < len(lines):
        m = _FUNCTION_RE.match(lines[index])
        if not m:
            index += 1
            continue
        name = m.group(1) or m.group(2)
        close = index + 1
        while close < len(lines) and lines[close].rstrip() != "}":
            close += 1
        if close >= len(lines):
            raise InputError(
                f"{path}:{index + 1}: function {name} has no closing brace at the start of a line"
            )
        spans.append((name, index, close))
        index = close + 1
    names = {name for name, _, _ in spans}
    functions: dict[str, ShellFunction] = {}
    for name, start, close in spans:
        functions[name] = _function(lines, path, name, start, close, names)
    return CiScript(path, lines, functions)


def _function(
    lines: tuple[str, ...], path: str, name: str, start: int, close: int, names: set[str]
) -> ShellFunction:
    body = range(start + 1, close)
    header_line: int | None = None
    bullets: list[Bullet] = []
    indent = "    "
    leading = True
    calls: list[str] = []
    invocations: list[Invocation] = []
    in_header_block = False  # a comment block opened by the header, wherever it stands
    for index in body:
        text = lines[index]
        stripped = text.strip()
        if stripped and leading:
            indent = text[: len(text) - len(text.lstrip())]
        if stripped.startswith("#"):
            if header_line is None and _HEADER_RE.match(text):
                header_line = index + 1
                in_header_block = True
            bullet = _BULLET_RE.match(text) if leading or in_header_block else None
            if bullet:
                bullets.append(
                    Bullet(
                        index + 1,
                        bullet.group(2),
                        (bullet.group(2) + " " + (bullet.group(3) or "")).strip(),
                    )
                )
            continue
        in_header_block = False
        if stripped:
            leading = False
        for call in _CALL_RE.findall(text):
            if call in names and call != name and call not in calls:
                calls.append(call)
        m = _RUN_TESTS_RE.search(text)
        if m and not stripped.startswith("#"):
            words, end = shell_words(text, m.end(), where=f"{path}:{index + 1}")
            invocations.append(Invocation(name, index + 1, _filters(words, text), end, _test_dirs(words)))
    return ShellFunction(
        name, start + 1, close + 1, tuple(calls), tuple(invocations), header_line, tuple(bullets), indent
    )


def excluded(filters: Sequence[tuple[str, str]], test: str) -> bool:
    """Whether run-tests.py's filters leave `test` out, exactly as run-tests.py decides.

    The default is the opposite of the first filter's action; every filter whose regex
    `re.search`es the path sets the verdict, so the last matching filter wins.
    """
    if not filters:
        return False
    include = filters[0][0] == "exclude"
    for action, pattern in filters:
        if re.search(pattern, test):
            include = action == "include"
    return not include


def split_alternatives(pattern: str) -> tuple[list[str], str, str]:
    """Split a filter regex into its top-level alternatives.

    Returns (alternatives, prefix, suffix): for a whole-pattern group with a shared suffix,
    `(a|b).py` gives (["a", "b"], "(", ").py") so that alternative + suffix-without-")" is
    what each alternative matches. A bare alternation `a|b` gives (["a", "b"], "", "").
    Alternatives are split only at top level, so inner groups stay whole.
    """
    if pattern.startswith("("):
        close = _closing_paren(pattern)
        # `(a|b){2}` repeats the group: distributing it as `a{2}`, `b{2}` would change the matches.
        quantified = close is not None and pattern[close + 1 : close + 2] in ("*", "+", "?", "{")
        if close is not None and not quantified and "|" not in _top_level_text(pattern[close + 1 :]):
            inner = pattern[1:close]
            alternatives = _split_top(inner)
            if len(alternatives) > 1 or "(" not in pattern[close + 1 :]:
                return alternatives, "(", pattern[close:]
    return _split_top(pattern), "", ""


def expand(pattern: str) -> list[str]:
    """The alternatives of a filter, each as a standalone regex with the same matches."""
    alternatives, prefix, suffix = split_alternatives(pattern)
    if prefix:
        return [alt + suffix[1:] for alt in alternatives]
    return alternatives


def _scan(text: str) -> Iterator[tuple[int, str, int]]:
    """Each regex character that is neither escaped nor inside a [class], with the group depth
    before it: what the splitters below need to see only the top level of a pattern."""
    depth = 0
    in_class = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        else:
            yield i, c, depth
            depth += {"(": 1, ")": -1}.get(c, 0)
        i += 1


def _closing_paren(text: str) -> int | None:
    """Index of the `)` that closes the group opening at text[0]."""
    return next((i for i, c, depth in _scan(text) if c == ")" and depth == 1), None)


def _top_level_text(text: str) -> str:
    """The characters of `text` outside any group or class (escapes dropped)."""
    return "".join(c for _, c, depth in _scan(text) if depth == 0 and c not in "()")


def _split_top(text: str) -> list[str]:
    cuts = [i for i, c, depth in _scan(text) if c == "|" and depth == 0]
    return [text[a + 1 : b] for a, b in zip([-1, *cuts], [*cuts, len(text)], strict=True)]
