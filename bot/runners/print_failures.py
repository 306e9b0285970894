"""``run-tests.py --print-failures``: the diff or raw output of every result left in tests/results.

For each ``<results>/<mangled>.out`` it prints a blank line and ``FAILURE <results>/<mangled>``,
then ``diff -u <mangled>.exp <mangled>.out`` if an ``.exp`` exists, else the ``.out`` itself
(unittest reports). In CI Python's stdout is block-buffered while ``diff`` writes straight to
the file descriptor, so *all diffs come first* and all ``FAILURE`` headers and raw dumps after
them. Diffs are therefore keyed by their own ``--- <results>/<mangled>.exp`` header, never by
position; a diff's end is found by counting its hunks (``DiffReader``). The mangling
(``path.replace("..", "_").replace("./", "").replace("/", "_")``) cannot be reversed, so
results are matched later by mangling the paths of known failures (``mangle``).

Everything here is a test's output; nothing in this mode is read as a runner's summary.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from bot import symptom
from bot.joblog import LogLine
from bot.records import Outcome
from bot.runners.diff import HEAD_LINES, TAIL_LINES, DiffReader

# On Windows run-tests.py joins its forward-slash results path with os.path.join, so the file
# name follows a backslash: ``D:/a/micropython/micropython/tests/results\basics_x.py.exp``.
EXP_HEADER = re.compile(r"--- (?:\S*[/\\])?([^/\\\s]+)\.exp(?:\s.*)?")
FAILURE = re.compile(r"FAILURE (?:\S*[/\\])?([^/\\\s]+)")
RESULTS_DIRS = ("/results/", "/results\\")
# A job leaves at most a few dozen results; this bounds memory for a hostile log.
MAX_RESULTS = 2000
# What the runner logs after the last step (post-action steps, "Complete job"): not part of the
# last result's raw output, which would otherwise run on into it.
JOB_END = ("Post job cleanup.", "Cleaning up orphan processes")


def mangle(test: str) -> str:
    """The results-file name run-tests.py uses for ``test`` (without .exp/.out)."""
    return test.replace("..", "_").replace("./", "").replace("/", "_")


def starts_print_failures(text: str) -> bool:
    """Whether a line can only come from ``--print-failures`` (used for raw logs)."""
    if not (text.startswith(("FAILURE ", "--- ")) and any(d in text for d in RESULTS_DIRS)):
        return False
    return text.startswith("FAILURE ") or EXP_HEADER.fullmatch(text) is not None


def _glued_header(text: str) -> int:
    """Where a ``--- <results>/<name>.exp`` header starts inside ``text`` (0 if nowhere).

    In CI, Python's block-buffered stdout is flushed whenever 8 KiB of ``FAILURE`` headers and
    dumps have piled up, which can be in the middle of a line; ``diff`` then writes its header
    straight after it, on the same log line.
    """
    at = text.find("--- ", 1)
    results = max(text.rfind(d) for d in RESULTS_DIRS)
    while 0 < at < results:
        if EXP_HEADER.fullmatch(text, at):
            return at
        at = text.find("--- ", at + 1)
    return 0


@dataclass
class Shown:
    """What --print-failures showed for one result file."""

    name: str
    line: int
    outcome: Outcome = Outcome.FAIL
    symptom: str = ""
    diff: str = ""


@dataclass
class _Dump:
    name: str
    line: int
    head: list[str] = field(default_factory=list)
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    count: int = 0

    def add(self, text: str) -> None:
        self.count += 1
        if len(self.head) < HEAD_LINES:
            self.head.append(text)
        else:
            self.tail.append(text)


class PrintFailures:
    """Collects the diffs and dumps of one or more --print-failures outputs of a job."""

    def __init__(self) -> None:
        self.shown: dict[str, Shown] = {}  # mangled name -> what was shown, diff preferred
        self.names: dict[str, int] = {}  # every mangled name seen (headers too) -> first line
        self._diff: DiffReader | None = None
        self._diff_name = ""
        self._dump: _Dump | None = None
        self._blank = True  # the previous line was blank (FAILURE headers follow one)
        self._stopped = False  # after the job's closing lines: only a new header restarts

    def _note(self, name: str, line: int) -> bool:
        if name not in self.names and len(self.names) >= MAX_RESULTS:
            return False
        self.names.setdefault(name, line)
        return True

    def feed(self, line: LogLine) -> None:
        text = line.text
        if self._diff is not None:
            if self._diff.feed(text):
                return
            self._close_diff()
        if "--- " in text and not text.startswith("--- "):
            glued = _glued_header(text)
            if glued:
                # Python flushed its 8 KiB buffer mid-line, then ``diff`` wrote the next header
                self.feed(LogLine(line.number, text[:glued], line.kind, line.truncated))
                self._blank = True
                self.feed(LogLine(line.number, text[glued:], line.kind, line.truncated))
                return
        header = EXP_HEADER.fullmatch(text) if text.startswith("--- ") else None
        failure = FAILURE.fullmatch(text) if text.startswith("FAILURE ") else None
        if text in JOB_END:
            if self._dump is not None:
                self._close_dump()
            self._stopped = True
            return
        if self._stopped and not (header or failure):
            return
        self._stopped = False
        dump = self._dump
        if dump is not None and ((failure and self._blank) or (header and (self._blank or not dump.count))):
            self._close_dump()
        if self._dump is not None:
            self._dump.add(text)
        elif header and self._note(header.group(1), line.number):
            self._diff, self._diff_name = DiffReader(text, line.number), header.group(1)
        elif failure and self._note(failure.group(1), line.number):
            self._dump = _Dump(failure.group(1), line.number)
        self._blank = not text.strip()

    def _close_diff(self) -> None:
        assert self._diff is not None
        outcome, found = symptom.from_diff(self._diff.body)
        self.shown[self._diff_name] = Shown(self._diff_name, self._diff.line, outcome, found,
                                            symptom.bound_diff(self._diff.lines))
        self._diff = None

    def _close_dump(self) -> None:
        assert self._dump is not None
        dump, self._dump = self._dump, None
        lines = [*dump.head, *dump.tail]
        while lines and not lines[-1].strip():
            lines.pop()
        if not lines or dump.name in self.shown:
            return
        outcome, found = symptom.from_output(lines)
        cut = [f"… ({dump.count - len(lines)} lines not kept)"] if dump.count > len(lines) + 1 else []
        self.shown[dump.name] = Shown(dump.name, dump.line, outcome, found,
                                      symptom.bound_diff([*dump.head, *cut, *dump.tail]))

    def close(self) -> None:
        """End of the step: whatever diff or dump is open is complete as far as the log goes."""
        if self._diff is not None:
            self._close_diff()
        if self._dump is not None:
            self._close_dump()
        self._blank = True
