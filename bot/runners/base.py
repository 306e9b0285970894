"""What every runner parser shares: the draft failure record and the push-parser interface.

A runner parser handles one *invocation* of one runner (one ``run-tests.py`` pass, one
``run-multitests.py`` run ...). The job parser creates it on the runner's first line, feeds
it every following line of the step, and closes it when ``feed`` returns False (the line
belongs to whatever comes next) or when the step or the log ends.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from bot.joblog import LogLine
from bot.records import Outcome, Problem, ProblemKind, Runner, TestFailure, TestPass

# A job has ~1000 tests per pass; a log claiming more failures than this in one invocation
# is broken or hostile, and every further record would only cost memory.
MAX_FAILURES_PER_INVOCATION = 5000

SUMMARY = re.compile(
    r"(\d+) tests (performed|passed|found|skipped|failed|had known-flaky failures \(ignored\)"
    r"|skipped because they are too large)(?:\s*\((\d+) individual testcases\))?(?::\s?(.*))?"
)
# A test path as runners print it: relative to tests/ (or absolute), ending in .py.
TEST_PATH = re.compile(r"[\w./+-]+\.py")


@dataclass
class Found:
    """A failure being assembled: the diff and outcome may arrive later in the log."""

    test: str
    runner: Runner
    line: int | None
    ignored: bool = False
    test_pass: TestPass | None = None
    outcome: Outcome = Outcome.FAIL
    symptom: str = ""
    diff: str = ""

    def freeze(self) -> TestFailure:
        return TestFailure(
            test=self.test,
            runner=self.runner,
            outcome=self.outcome,
            ignored=self.ignored,
            test_pass=self.test_pass,
            symptom=self.symptom,
            diff=self.diff,
            line=self.line,
        )


@dataclass
class Result:
    """What one invocation produced once it is closed.

    ``summary`` is False when the runner never printed its summary: then ``failures`` come
    from per-test lines only (never marked ignored) and ``error`` holds the runner's own
    error message if it printed one; the job parser turns that into a Problem.
    """

    runner: Runner
    failures: list[Found] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    summary: bool = False
    error: str | None = None
    error_line: int | None = None
    complete: bool = True


class RunnerParser(ABC):
    """Push parser for one invocation of one runner."""

    runner: Runner

    @property
    def skip_markers(self) -> tuple[bytes, ...] | None:
        """Byte strings a line must contain to matter now; None = every line matters."""
        return None

    @abstractmethod
    def feed(self, line: LogLine) -> bool:
        """Consume ``line``; False means it is not part of this invocation (nothing consumed)."""

    @abstractmethod
    def finish(self) -> Result:
        """Close the invocation and return what it found."""


@dataclass
class Tally:
    """The counts a runner's summary states (run-tests, natmodtests, multitests, perfbench alike).

    "performed" = passed + failed + ignored, and each list line names as many tests as its count.
    The optional lines (ignored, skipped, failed) are printed only when non-empty, so a log cut
    between two summary lines looks whole line by line; only the counts show that it is not.
    """

    performed: int | None = None
    passed: int | None = None
    failed: int = 0
    ignored: int = 0

    def add(self, match: re.Match[str]) -> None:
        """Count one SUMMARY line."""
        kind, number = match.group(2), int(match.group(1))
        if kind == "performed":
            self.performed = number
        elif kind == "passed":
            self.passed = number
        elif kind == "failed":
            self.failed = number
        elif kind.startswith("had known-flaky"):
            self.ignored = number

    def shortfall(self, listed_failed: int, listed_ignored: int = 0) -> str | None:
        """Why the summary does not add up, or None when it does (or is a dry run's, uncounted)."""
        if self.performed is None:
            return None
        if self.passed is None:
            return f"it says {self.performed} tests performed and nothing more"
        if self.passed + self.failed + self.ignored != self.performed:
            return (f"{self.performed} performed but {self.passed} passed, {self.failed} failed"
                    f" and {self.ignored} ignored")
        if listed_failed != self.failed:
            return f"it says {self.failed} tests failed but lists {listed_failed}"
        if listed_ignored != self.ignored:
            return f"it says {self.ignored} tests had known-flaky failures but lists {listed_ignored}"
        return None


def summary_problem(runner: Runner, why: str, line: int | None) -> Problem:
    """The note on an invocation whose summary does not add up: its failures come from FAIL lines."""
    return Problem(ProblemKind.TRUNCATED,
                   f"the summary of {runner.value} is cut or does not add up ({why}); every test with a "
                   "FAIL line is reported as a failure", line=line)


def record_failure(table: dict[str, Found], test: str, runner: Runner, line: int) -> Found:
    """The failure record of ``test`` in ``table``, created on first sight.

    Past MAX_FAILURES_PER_INVOCATION tests a throwaway record is returned, so a hostile log
    cannot grow the table while callers still have something to fill in.
    """
    found = table.get(test)
    if found is None:
        found = Found(test, runner, line)
        if len(table) < MAX_FAILURES_PER_INVOCATION:
            table[test] = found
    return found


def split_names(text: str | None) -> list[str]:
    return text.split() if text else []
