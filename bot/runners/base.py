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
from bot.records import Outcome, Problem, Runner, TestFailure, TestPass

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
