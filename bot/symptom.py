"""Outcome and a short, run-independent symptom of one failing test, from what the log shows.

The symptom is what lets the history store say "this is the same failure as last time", so
two runs of the same failure must produce the same string: no timestamps, no addresses, no
temporary paths, no checkout directory. It is built from untrusted text and is bounded here;
renderers still escape it.

Conventions (run-tests writes expected output as ``-`` lines and actual as ``+`` lines):

- ``TIMEOUT after "<last output line>"`` / ``TIMEOUT with no output`` (outcome timeout);
- ``CRASH: KeyError`` when a traceback names the exception, else ``CRASH after "<last line>"``
  or ``CRASH with no output`` (numbers in an "after" line become ``N``: counters and timings
  differ per run) (outcome crash; a whole-output ``CRASH`` of a cmdline test or a
  thread crash that left only ``CRASH`` are both "with no output");
- ``expected "X" got "Y"`` / ``missing "X"`` / ``unexpected "Y"`` for the first changed lines
  of a diff (outcome fail); ``unittest FAIL test_x: AssertionError`` for unittest reports.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from bot.records import Outcome

# One line in a PR comment table or a check-run annotation title (GitHub caps titles at 255).
MAX_SYMPTOM_CHARS = 160
# Each quoted piece of output inside a symptom; long enough to tell two assertions apart.
MAX_QUOTE_CHARS = 60
# A diff shown under a failure: a few dozen lines fit in a collapsed comment section, and
# 50 such diffs still stay under GitHub's 65536-character comment limit minus the rest.
MAX_DIFF_CHARS = 1200

_CHECKOUT = re.compile(r"(?:/home|/Users)/runner/work/[^/\s]+/[^/\s]+/")
_TMP = re.compile(r"/tmp/[^\s'\"]+")  # noqa: S108 (a pattern, not a file we create)
_HEX = re.compile(r"0x[0-9a-fA-F]{4,}")
# MicroPython prints ``%p`` without 0x: ``<Foo object at 7f3a2b10c0d0>``, ``<generator object 'g'
# at 5655a1b0>`` (32-bit builds); a new address every run.
_BARE_ADDRESS = re.compile(r"(?<=\bat )[0-9a-fA-F]{6,16}\b")
_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z| ?[+-]\d\d:?\d\d)?")
_SPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"(?<!\w)(?!0x)\d+(?:\.\d+)?")
# Characters that must never reach a terminal, comment or annotation as they are: C0/C1
# controls except tab and newline, zero-width and bidi-override characters, the BOM.
UNSAFE_CHARS = r"\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff"
_UNSAFE = re.compile(f"[{UNSAFE_CHARS}]")
_EXCEPTION = re.compile(r"([A-Za-z_][\w.]*)(?::.*)?")
_UNITTEST_HEAD = re.compile(r"(FAIL|ERROR): (\S+)")


def printable(text: str) -> str:
    """``text`` with control, zero-width and bidi-override characters replaced (nothing else)."""
    # every unsafe character is in a category str.isprintable() rejects (Cc, Cf), and that
    # check costs a tenth of the regex on the usual clean line
    return text if text.isprintable() else _UNSAFE.sub("\ufffd", text)


def normalize(text: str) -> str:
    """Remove what differs between two runs of the same failure, and anything unprintable."""
    # each pattern runs only on text holding a piece that every match of it contains
    if "/runner/work/" in text:
        text = _CHECKOUT.sub("", text)
    if "/tmp/" in text:  # noqa: S108
        text = _TMP.sub("/tmp/…", text)  # noqa: S108
    if "0x" in text:
        text = _HEX.sub("0x…", text)
    if "at " in text:
        text = _BARE_ADDRESS.sub("…", text)
    if ":" in text:
        text = _TIME.sub("<time>", text)
    return _SPACE.sub(" ", printable(text)).strip()


def bound(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quote(text: str) -> str:
    return '"' + bound(normalize(text), MAX_QUOTE_CHARS).replace('"', "'") + '"'


def finish(symptom: str) -> str:
    return bound(symptom, MAX_SYMPTOM_CHARS)


def bound_diff(lines: Sequence[str]) -> str:
    """The diff text kept on a failure: whole lines while they fit in MAX_DIFF_CHARS."""
    kept: list[str] = []
    size = 0
    for line in lines:
        line = printable(line)
        if size + len(line) + 1 > MAX_DIFF_CHARS:
            kept.append("… (diff cut)")
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept)


def _exception(lines: Sequence[str]) -> str | None:
    """The exception named by the last traceback in ``lines``, if there is one."""
    start = None
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            start = i
    if start is None:
        return None
    for line in lines[start + 1 :]:
        if line and not line[0].isspace():
            match = _EXCEPTION.fullmatch(line.strip())
            return match.group(1) if match else None
    return None


def _ending(outcome: Outcome, before: Sequence[str]) -> tuple[Outcome, str]:
    """Symptom for output that ended in CRASH/TIMEOUT after the lines ``before``."""
    word = "TIMEOUT" if outcome is Outcome.TIMEOUT else "CRASH"
    if outcome is Outcome.CRASH:
        name = _exception(before)
        if name:
            return outcome, finish(f"CRASH: {normalize(name)}")
    shown = [line for line in before if line.strip()]
    if not shown:
        return outcome, f"{word} with no output"
    # where a test hung or died often carries a counter or a timing that differs every run
    return outcome, finish(f"{word} after {quote(_NUMBER.sub('N', normalize(shown[-1])))}")


def from_diff(body: Sequence[str], *, marker_anywhere: bool = False) -> tuple[Outcome, str]:
    """Outcome and symptom from the hunks of a ``diff -u expected actual`` (headers excluded).

    run-tests appends ``CRASH``/``TIMEOUT`` as the last line of the actual output; the
    multitests runner appends ``TIMEOUT`` to one instance's section, hence ``marker_anywhere``.
    """
    actual: list[str] = []
    removed: list[str] = []
    added: list[str] = []
    in_change = False
    first_change_done = False
    for line in body:
        if not line or line.startswith(("@@", "\\")):
            continue
        tag, text = line[0], line[1:]
        if tag == "+":
            if marker_anywhere and text == "TIMEOUT":
                return _ending(Outcome.TIMEOUT, actual)
            actual.append(text)
        elif tag == " ":
            actual.append(text)
        if tag in "+-" and not first_change_done:
            in_change = True
            (added if tag == "+" else removed).append(text)
        elif in_change:
            first_change_done = True
    if actual and actual[-1] in ("TIMEOUT", "CRASH"):
        outcome = Outcome.TIMEOUT if actual[-1] == "TIMEOUT" else Outcome.CRASH
        return _ending(outcome, actual[:-1])
    if removed and added:
        return Outcome.FAIL, finish(f"expected {quote(removed[0])} got {quote(added[0])}")
    if removed:
        return Outcome.FAIL, finish(f"missing {quote(removed[0])}")
    if added:
        return Outcome.FAIL, finish(f"unexpected {quote(added[0])}")
    return Outcome.FAIL, "output differs"


def from_output(lines: Sequence[str]) -> tuple[Outcome, str]:
    """Outcome and symptom from a test's raw output (a ``.out`` dump, a natmod repr)."""
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        return Outcome.FAIL, "no output"
    if lines[-1].endswith("CRASH") or lines[-1].endswith("TIMEOUT"):
        outcome = Outcome.CRASH if lines[-1].endswith("CRASH") else Outcome.TIMEOUT
        last = lines[-1][: -len("CRASH" if outcome is Outcome.CRASH else "TIMEOUT")]
        return _ending(outcome, [*lines[:-1], last] if last else lines[:-1])
    for i, line in enumerate(lines):
        head = _UNITTEST_HEAD.match(line)
        if head:
            name = _exception(lines[i:])
            suffix = f": {normalize(name)}" if name else ""
            return Outcome.FAIL, finish(f"unittest {head.group(1)} {normalize(head.group(2))}{suffix}")
    return Outcome.FAIL, finish(f"output {quote(lines[0])}")


def decode_repr(text: str) -> list[str] | None:
    """The lines of a Python bytes/str literal printed by a runner (``b'1 micropython\\n'``)."""
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    return value.split("\n")
