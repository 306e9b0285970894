"""``tests/run-perfbench.py``: header ``N=1000 M=1000 n_average=1``, then one line per test.

``perf_bench/x.py: 20190.00 0.0000 49529.47 0.0000`` is a pass; ``: FAIL truth`` (output
differs from CPython's), ``: FAIL self`` (differs between runs) and ``: CRASH: '<repr>'`` are
failures; ``: SKIP...`` is a skip. The summary has no testcase count. Failures are the union
of failure lines and the summary's list.
"""

from __future__ import annotations

import re

from bot import symptom
from bot.joblog import LogLine
from bot.records import Outcome, Runner
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

HEADER = re.compile(r"N=\d+ M=\d+ n_average=\d+")
_ANY_RESULT = re.compile(r"\S+\.py: ")
_RESULT = re.compile(r"(\S+\.py): (FAIL|CRASH)\b:? ?(.*)")
# Between failures only these lines matter (see bot.joblog).
PER_TEST_MARKERS = (b"F", b"CRASH", b"tests performed", b"#")


class PerfbenchParser(RunnerParser):
    runner = Runner.PERFBENCH

    def __init__(self) -> None:
        self._header_seen = False
        self._tests: dict[str, Found] = {}
        self._summary_line: int | None = None
        self._tally = Tally()
        self._seen: set[str] = set()  # tests with a failure line, before the summary
        self._listed: set[str] = set()

    @property
    def skip_markers(self) -> tuple[bytes, ...] | None:
        return PER_TEST_MARKERS if self._header_seen and self._summary_line is None else None

    def _add(self, test: str, line: int) -> Found:
        return record_failure(self._tests, test, Runner.PERFBENCH, line)

    def feed(self, line: LogLine) -> bool:
        text = line.text
        if not self._header_seen:
            self._header_seen = True
            if HEADER.fullmatch(text.strip()):
                return True
        if self._summary_line is not None:
            match = SUMMARY.match(text)
            if not match or match.group(2) == "performed":
                return False
            self._tally.add(match)
            if match.group(2) == "failed":
                for name in (match.group(4) or "").split():
                    if TEST_PATH.fullmatch(name):
                        self._listed.add(name)
                        self._add(name, line.number)
            return True
        match = SUMMARY.match(text)
        if match and match.group(2) == "performed":
            self._summary_line = line.number
            self._tally.add(match)
            self._seen = set(self._tests)
            return True
        result = _RESULT.fullmatch(text)
        if result:
            found = self._add(result.group(1), line.number)
            if result.group(2) == "CRASH":
                output = symptom.decode_repr(result.group(3)) or [result.group(3)]
                found.outcome = Outcome.CRASH
                _, found.symptom = symptom.from_output([*output, "CRASH"])
            else:
                found.symptom = symptom.finish(f"FAIL {symptom.normalize(result.group(3))}".strip())
            found.diff = symptom.bound_diff([text])
            return True
        return bool(_ANY_RESULT.match(text)) or not text.strip()

    def finish(self) -> Result:
        result = Result(Runner.PERFBENCH, failures=list(self._tests.values()),
                        summary=self._summary_line is not None)
        if result.summary:
            unlisted = self._seen - self._listed
            why = self._tally.shortfall(len(self._listed)) or (
                f"{len(unlisted)} tests with a failure line are not in it" if unlisted else None)
            if why is not None:
                result.complete = False
                result.problems.append(summary_problem(Runner.PERFBENCH, why, self._summary_line))
        return result
