"""Parsers for MicroPython's test runners, one push parser per runner invocation.

``PARSERS`` maps each runner to its parser class; ``starting_runner`` recognises the first
line a runner prints, so the job parser knows which one to create. run-natmodtests prints the
same ``platform=`` header as run-tests, so both start as ``RunTestsParser``, which tells them
apart from their per-test lines (see ``bot.runners.run_tests``).
"""

from __future__ import annotations

from bot.records import Runner
from bot.runners.base import Found, Result, RunnerParser
from bot.runners.multitests import TEST_LINE, MultitestsParser
from bot.runners.perfbench import HEADER, PerfbenchParser
from bot.runners.run_tests import RunTestsParser

PARSERS: dict[Runner, type[RunnerParser]] = {
    Runner.RUN_TESTS: RunTestsParser,
    Runner.NATMODTESTS: RunTestsParser,
    Runner.MULTITESTS: MultitestsParser,
    Runner.PERFBENCH: PerfbenchParser,
}


def starting_runner(text: str) -> Runner | None:
    """The runner whose output starts with this line, if any."""
    if text.startswith("platform="):
        return Runner.RUN_TESTS
    if text.startswith("N=") and HEADER.fullmatch(text.strip()):
        return Runner.PERFBENCH
    if " on " in text and TEST_LINE.fullmatch(text):
        return Runner.MULTITESTS
    return None


__all__ = ["PARSERS", "Found", "Result", "RunnerParser", "starting_runner"]
