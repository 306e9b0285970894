"""``tests/run-multitests.py``: ``multi_net/x.py on micropython|micropython: pass|skip|FAIL``.

On failure the runner prints the instances' output (``### TEST ###``), CPython's
(``### TRUTH ###``), then ``### DIFF ###`` and a ``diff -u`` of two temp files. In CI the
diff (written by a child process) comes out *before* the buffered ``FAIL`` and sections, glued
to the test's line: ``multi_net/x.py on a|b: --- /tmp/tmpab12``. The TEST and TRUTH sections
are raw test output, so nothing in them is interpreted; a failure is any test with a FAIL (or a
diff) or named in the summary (union: a forged summary in raw output cannot remove one).
"""

from __future__ import annotations

import re

from bot import symptom
from bot.joblog import LogLine
from bot.records import Runner
from bot.runners.base import (
    SUMMARY,
    TEST_PATH,
    Found,
    Result,
    RunnerParser,
    Tally,
    record_failure,
    summary_problem,
)
from bot.runners.diff import DiffReader
from bot.runners.perfbench import HEADER

TEST_LINE = re.compile(r"(\S+\.py) on (\S+): ?(.*)")


def _starts_something_else(text: str) -> bool:
    """A line only another runner, make or the next pass prints (see bot.runners.starting_runner)."""
    return (
        text.startswith(("platform=", "make: ***"))
        or (text.startswith("make[") and ": ***" in text)
        or (text.startswith("cd ") and "run-tests.py" in text)
        or (text.startswith("N=") and HEADER.fullmatch(text) is not None)
    )
# Between failures only these lines matter (see bot.joblog): a failure ("F") or a diff glued to
# a test line, the raw sections and job-log markers ("#"), the summary, or the next runner ("=").
PER_TEST_MARKERS = (b"F", b"--- ", b"#", b"tests performed", b"=")


class MultitestsParser(RunnerParser):
    runner = Runner.MULTITESTS

    def __init__(self) -> None:
        self._tests: dict[str, Found] = {}
        self._current: str | None = None
        self._diff: DiffReader | None = None
        self._raw = False  # inside ### TEST ### / ### TRUTH ### sections
        self._truth_seen = False
        self._summary_line: int | None = None
        self._failed: list[tuple[str, int]] = []
        self._tally = Tally()

    @property
    def skip_markers(self) -> tuple[bytes, ...] | None:
        if self._diff is not None or self._raw or self._summary_line is not None:
            return None
        return PER_TEST_MARKERS

    def _fail(self, test: str, line: int) -> Found:
        return record_failure(self._tests, test, Runner.MULTITESTS, line)

    def _end_diff(self) -> None:
        if self._diff is not None and self._current is not None:
            found = self._fail(self._current, self._diff.line)
            if not found.diff:
                found.outcome, found.symptom = symptom.from_diff(self._diff.body, marker_anywhere=True)
                found.diff = symptom.bound_diff(self._diff.lines)
        self._diff = None

    def feed(self, line: LogLine) -> bool:
        text = line.text
        if self._diff is not None:
            if self._diff.feed(text):
                return True
            self._end_diff()
        if self._raw:
            # a test's own output: only the runner's next section marker ends it (a runner
            # dying mid-section is still bounded by its step's end)
            if text == "### TRUTH ###":
                self._truth_seen = True
            elif text == "### DIFF ###" and self._truth_seen:
                self._raw = False
            return True
        if _starts_something_else(text):
            return False  # the runner died without a summary; what follows is not ours
        if self._summary_line is not None:
            match = SUMMARY.match(text)
            if not match or match.group(2) == "performed":
                return False
            self._tally.add(match)
            if match.group(2) == "failed":
                self._failed = [(n, line.number) for n in (match.group(4) or "").split()
                                if TEST_PATH.fullmatch(n)]
            return True
        if text == "### TEST ###":
            self._raw, self._truth_seen = True, False
            return True
        if text == "FAIL" and self._current is not None:
            self._fail(self._current, line.number)
            return True
        if text.startswith("--- ") and self._current is not None:
            self._diff = DiffReader(text, line.number)
            return True
        test = TEST_LINE.fullmatch(text)
        if test:
            self._current, rest = test.group(1), test.group(3)
            if rest.startswith("FAIL"):
                self._fail(self._current, line.number)
            elif rest.startswith("--- "):
                self._fail(self._current, line.number)
                self._diff = DiffReader(rest, line.number)
            return True
        match = SUMMARY.match(text)
        if match and match.group(2) == "performed":
            self._summary_line = line.number
            self._tally.add(match)
            self._current = None
        return True  # anything else between tests is the runner's or a test's stray output

    def finish(self) -> Result:
        self._end_diff()
        seen = set(self._tests)
        for name, number in self._failed:
            self._fail(name, number)
        result = Result(Runner.MULTITESTS, failures=list(self._tests.values()),
                        summary=self._summary_line is not None)
        if result.summary:
            unlisted = seen - {name for name, _ in self._failed}
            why = self._tally.shortfall(len(self._failed)) or (
                f"{len(unlisted)} tests with a FAIL line are not in it" if unlisted else None)
            if why is not None:
                result.complete = False
                result.problems.append(summary_problem(Runner.MULTITESTS, why, self._summary_line))
        return result
