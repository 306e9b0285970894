"""Read one ``diff -u`` from the log, knowing exactly where it ends.

The hunk headers (``@@ -a,b +c,d @@``) say how many lines follow, so the end of a diff is
found by counting, not guessed: whatever a test printed is inside a hunk and prefixed with
`` ``, ``-`` or ``+``, and can neither end the diff early nor look like a runner's line.
Only a bounded head and tail of a long diff are kept: the first change gives the symptom of
a mismatch, the last lines give ``CRASH``/``TIMEOUT``.
"""

from __future__ import annotations

import re
from collections import deque

_HUNK = re.compile(r"@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
# Lines kept from the start and the end of one diff; the middle of a huge diff says nothing
# that the first change and the last output lines do not.
HEAD_LINES = 80
TAIL_LINES = 20


class DiffReader:
    """Push reader for one unified diff, starting at its ``--- `` header line."""

    def __init__(self, header: str, line: int) -> None:
        self.line = line
        self._head: list[str] = [header]
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._dropped = 0
        self._state = "plus"
        self._old = 0
        self._new = 0

    def _keep(self, text: str) -> None:
        if len(self._head) < HEAD_LINES:
            self._head.append(text)
            return
        if len(self._tail) == TAIL_LINES:
            self._dropped += 1
        self._tail.append(text)

    @property
    def lines(self) -> list[str]:
        """Header and hunks as kept (with a marker where the middle was dropped)."""
        middle = [f"… ({self._dropped} diff lines not kept)"] if self._dropped else []
        return [*self._head, *middle, *self._tail]

    @property
    def body(self) -> list[str]:
        """The hunk lines as kept, without the ``---``/``+++`` headers."""
        return [ln for ln in self.lines[2:] if not ln.startswith("… (")]

    def feed(self, text: str) -> bool:
        """Take ``text`` if it is part of this diff; False means the diff ended before it."""
        tag = text[:1]
        if self._state == "body" and tag in (" ", "-", "+"):  # the usual hunk line, the shortest way
            if tag == " ":
                self._old -= 1
                self._new -= 1
            elif tag == "-":
                self._old -= 1
            else:
                self._new -= 1
            if len(self._head) < HEAD_LINES:
                self._head.append(text)
            else:
                self._keep(text)
            if self._old <= 0 and self._new <= 0:
                self._state = "hunk"
            return True
        if self._state == "plus":
            if not text.startswith("+++ "):
                return False
            self._keep(text)
            self._state = "hunk"
            return True
        if text.startswith("\\"):  # "\ No newline at end of file"
            self._keep(text)
            return True
        if self._state == "hunk":
            match = _HUNK.match(text)
            if not match:
                return False
            self._old = int(match.group(1) if match.group(1) is not None else 1)
            self._new = int(match.group(2) if match.group(2) is not None else 1)
            self._keep(text)
            self._state = "body" if self._old or self._new else "hunk"
            return True
        if tag in (" ", ""):
            self._old -= 1
            self._new -= 1
        elif tag == "-":
            self._old -= 1
        elif tag == "+":
            self._new -= 1
        else:
            self._state = "hunk"
            return False
        self._keep(text if text else " ")
        if self._old <= 0 and self._new <= 0:
            self._state = "hunk"
        return True
