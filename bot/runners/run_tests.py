"""``tests/run-tests.py`` and ``tests/run-natmodtests.py``: both start with a ``platform=`` line.

run-tests prints one line per test from a thread pool, in completion order, and lines can be
garbled by interleaving (``pass pass  basics/dict2.py`` then `` basics/other.py``). The
summary is printed by one thread at the end and is the only authority on what failed and
what was ignored as known-flaky; per-test ``FAIL`` lines only give line numbers and let
pre-v1.26 basenames (``1 tests failed: thread_gc1``) be resolved to paths. Nothing a test
prints reaches this part of the log, so a summary line here is the runner's own.

run-natmodtests looks alike but prints ``----  x - no matching mpy``, upper-case ``SKIP``,
``FAIL`` lines without the trailing space and, before a ``FAIL``, the repr of the output
(``b'1 micropython\\n'``). Which of the two ran is decided from such evidence (or a hint from
the step's command), since the header line is the same.
"""

from __future__ import annotations

import re

from bot import symptom
from bot.joblog import LogLine
from bot.records import Outcome, Problem, ProblemKind, Runner, TestPass
from bot.runners.base import (
    MAX_FAILURES_PER_INVOCATION,
    SUMMARY,
    TEST_PATH,
    Found,
    Result,
    RunnerParser,
    Tally,
    split_names,
    summary_problem,
)

_FAIL = re.compile(r"(?:^|\s)(TRUTH )?FAIL  (\S+)(?: - (.*))?")
# Anchored at a token start so a hostile 256 KiB line without spaces is scanned once, not
# once per character.
_UNITTEST_COUNTS = re.compile(r"\(unittest: [^)]*?(\d+) failures, (\d+) errors")
_FLAKY = re.compile(r"(?<!\S)([^\s\[\]]+) \[flaky: ([^\]]*)\]")
_NATMOD_EVIDENCE = ("----  ", "SKIP  ", "LRGE  ", "b'", 'b"', "TRUTH FAIL")
_RUNNER_ERRORS = ("error: ", "Too many raw REPL failures")
# What a line must contain to matter while per-test lines stream by (see bot.joblog): a
# failure ("F" of FAIL), the summary, a job-log marker ("#" of ##[), the next invocation
# ("=" of platform= and of make's MICROPY_MICROPYTHON= echo), a crash of the runner, or its
# "requires unittest" error, whose first line ("error: test x requires unittest") the reader
# hands over as the context line before the second ("(eg run `mpremote mip install
# unittest` ...)"). Single bytes are found with memchr, an order of magnitude faster than
# words, and almost never occur in pass/skip lines; a word costs in proportion to the inverse
# of its length, hence whole phrases. A --dry-run's "N tests found" is not searched for: a
# dry run is read line by line (see RunTestsParser.skip_markers). The parser re-checks every
# line it is given anyway. ("Too many raw REPL failures" is left out: it is only printed for
# boards, not the unix port.)
# A run's first "pass"/"FAIL" line comes within a few lines (skips are few and interleaved);
# past this many undecided lines (only skips, or hostile input) the fast path is used anyway.
UNDECIDED_LINES = 200
PER_TEST_MARKERS = (b"F", b"#", b"=", b"tests performed", b"mpremote mip install unittest",
                    b"Traceback (most recent call last)")


def pass_from_flags(flags: str) -> TestPass:
    """The pass of a full job from the run-tests.py arguments make echoed."""
    via_mpy = re.search(r"(?:^|\s)--via-mpy\b", flags) is not None
    native = re.search(r"(?:^|\s)--emit[ =]native\b", flags) is not None
    if via_mpy and native:
        return TestPass.VIA_MPY_NATIVE
    if via_mpy:
        return TestPass.VIA_MPY
    return TestPass.NATIVE if native else TestPass.BYTECODE


class RunTestsParser(RunnerParser):
    """One run-tests.py (or run-natmodtests.py) invocation, from its ``platform=`` line on."""

    runner = Runner.RUN_TESTS

    def __init__(self, test_pass: TestPass | None = None, *, natmod_hint: bool = False) -> None:
        self.test_pass = test_pass
        self._natmod = natmod_hint
        self._header_seen = False
        # whether per-test lines say "pass"/"FAIL" (a run) or "found" (a --dry-run, read whole);
        # lines read one by one while it is not known, at most UNDECIDED_LINES of them
        self._kind_known = False
        self._undecided = 0
        self._fail_lines: dict[str, int] = {}  # path -> first per-test FAIL line
        self._symptoms: dict[str, tuple[Outcome, str]] = {}  # from the per-test line itself
        self._previous = ""
        self._summary_line: int | None = None
        self._in_summary = False
        self._failed: list[str] = []
        self._failed_line: int | None = None
        self._ignored: list[str] = []
        self._ignored_line: int | None = None
        self._summary_cut = False
        self._tally = Tally()
        self._error: str | None = None
        self._error_line: int | None = None
        self._traceback: list[str] | None = None
        self._overflow: int | None = None  # the first FAIL line past MAX_FAILURES_PER_INVOCATION

    @property
    def skip_markers(self) -> tuple[bytes, ...] | None:
        if self._in_summary or self._traceback is not None or not self._header_seen or not self._kind_known:
            return None
        return PER_TEST_MARKERS

    def feed(self, line: LogLine) -> bool:
        text = line.text
        if not self._header_seen:
            self._header_seen = True
            if text.startswith("platform="):
                return True
        if self._in_summary:
            return self._feed_summary(line)
        if self._traceback is not None:
            self._feed_traceback(line)
            return True
        if text.startswith("platform=") or (text.startswith("cd ") and "run-tests.py" in text):
            return False  # the next invocation: this one never printed its summary
        match = SUMMARY.match(text)
        if match and match.group(2) in ("performed", "found"):
            self._in_summary = True
            self._summary_line = line.number
            self._tally.add(match)
            return True
        if not self._kind_known and self._undecided >= 0:
            self._undecided += 1
            if text.startswith(("pass ", "FAIL ", "found ")) or self._undecided > UNDECIDED_LINES:
                self._kind_known = not text.startswith("found ")
                self._undecided = -1  # decided for good: a dry run stays read whole
        if text.startswith(_NATMOD_EVIDENCE):
            self._natmod = True
        fail = _FAIL.search(text)
        if fail:
            self._per_test_fail(fail, line)
        elif text.startswith(_RUNNER_ERRORS) and self._error is None:
            self._error, self._error_line = text, line.number
        elif text.startswith("Traceback (most recent call last)"):
            self._traceback = [text]
            self._error_line = self._error_line or line.number
        self._previous = text
        return True

    def _per_test_fail(self, fail: re.Match[str], line: LogLine) -> None:
        path = fail.group(2)
        if fail.group(1) or fail.group(3):
            self._natmod = True
        if not TEST_PATH.fullmatch(path) or len(self._fail_lines) >= MAX_FAILURES_PER_INVOCATION:
            if self._overflow is None and TEST_PATH.fullmatch(path):
                self._overflow = line.number
            return
        self._fail_lines.setdefault(path, line.number)
        if fail.group(3):
            self._symptoms[path] = (Outcome.FAIL, symptom.finish(symptom.normalize(fail.group(3))))
        elif self._previous.startswith(("b'", 'b"')):
            output = symptom.decode_repr(self._previous)
            if output is not None:
                self._symptoms[path] = symptom.from_output(output)
        else:
            counts = _UNITTEST_COUNTS.search(line.text)
            if counts:  # a diff or dump from --print-failures, if the log has one, says more
                self._symptoms[path] = (Outcome.FAIL, f"unittest: {counts.group(1)} failures, "
                                                      f"{counts.group(2)} errors")

    def _feed_traceback(self, line: LogLine) -> None:
        assert self._traceback is not None
        self._traceback.append(line.text)
        if line.text and not line.text[0].isspace() and len(self._traceback) > 1:
            if self._error is None:
                self._error = f"run-tests.py crashed: {line.text}"
            self._traceback = None
        elif len(self._traceback) > 200:
            self._traceback = None

    def _feed_summary(self, line: LogLine) -> bool:
        match = SUMMARY.match(line.text)
        if not match or match.group(2) in ("performed", "found"):
            return False
        kind, names = match.group(2), match.group(4)
        # counted here rather than through Tally.add: a big job log has tens of thousands of these
        if kind == "passed":
            self._tally.passed = int(match.group(1))
        elif kind == "failed":
            self._failed = [n for n in split_names(names) if TEST_PATH.fullmatch(n) or "/" not in n]
            self._tally.failed = int(match.group(1))
            self._failed_line = line.number
            self._summary_cut = self._summary_cut or line.truncated
        elif kind.startswith("had known-flaky"):
            self._ignored = [m.group(1) for m in _FLAKY.finditer(names or "")]
            self._tally.ignored = int(match.group(1))
            self._ignored_line = line.number
            self._summary_cut = self._summary_cut or line.truncated
        return True

    def _resolve(self, names: list[str]) -> list[str]:
        """Pre-v1.26 summary names (``thread_gc1``) as the paths their FAIL lines printed.

        A basename listed k times is resolved when exactly k FAIL lines have it (``int1`` twice
        for basics/int1.py and float/int1.py: the list is sorted, so which is which does not
        matter); otherwise it stays a basename rather than a guess.
        """
        if all("/" in name or name.endswith(".py") for name in names):  # v1.26+: nothing to resolve
            return list(names)
        by_base: dict[str, list[str]] = {}
        for path in self._fail_lines:
            base = path.rsplit("/", 1)[-1]
            if base.endswith(".py"):
                by_base.setdefault(base[:-3], []).append(path)
        listed: dict[str, int] = {}
        for name in names:
            listed[name] = listed.get(name, 0) + 1
        paths = {name: by_base[name] for name, count in listed.items()
                 if "/" not in name and not name.endswith(".py") and len(by_base.get(name, ())) == count}
        return [paths[name].pop(0) if name in paths else name for name in names]

    def _found(self, path: str, line: int | None, *, ignored: bool) -> Found:
        runner = Runner.NATMODTESTS if self._natmod else Runner.RUN_TESTS
        found = Found(path, runner, self._fail_lines.get(path, line), ignored=ignored,
                      test_pass=self.test_pass if runner is Runner.RUN_TESTS else None)
        if path in self._symptoms:
            found.outcome, found.symptom = self._symptoms[path]
        return found

    def _from_summary(self, result: Result) -> None:
        """The summary's failed and ignored tests; and, when the summary is cut or its counts and
        FAIL lines do not agree, every FAIL line it does not list, as a plain failure."""
        runner = result.runner.value
        failed = self._resolve(self._failed)
        if self._summary_cut and failed:
            failed.pop()  # the last name may be cut in half
        ignored = self._ignored[:-1] if self._summary_cut and self._ignored else self._ignored
        for path in failed[:MAX_FAILURES_PER_INVOCATION]:
            result.failures.append(self._found(path, self._failed_line, ignored=False))
        for path in ignored[:MAX_FAILURES_PER_INVOCATION]:
            result.failures.append(self._found(path, self._ignored_line, ignored=True))
        if self._summary_cut or len(failed) > MAX_FAILURES_PER_INVOCATION:
            result.complete = False
            result.problems.append(Problem(
                ProblemKind.TRUNCATED, f"the summary of {runner} is too long; some names are lost",
                line=self._failed_line or self._ignored_line))
        # a cut summary line already says names are lost; its counts cannot add up either
        why = None if self._overflow is not None or self._summary_cut else self._tally.shortfall(
            len(self._failed), len(self._ignored))
        listed = {*failed, *ignored}
        unlisted = [(path, self._fail_lines[path]) for path in self._fail_lines.keys() - listed
                    if path.rsplit("/", 1)[-1].removesuffix(".py") not in listed]  # pre-v1.26 basenames
        unlisted.sort(key=lambda item: item[1])  # in log order
        if why is None and unlisted and not self._summary_cut:
            why = f"{len(unlisted)} tests with a FAIL line are not in it"
        if why is not None:
            result.complete = False
            result.problems.append(summary_problem(result.runner, why, self._summary_line))
        if why is not None or self._summary_cut:
            for path, number in unlisted[:MAX_FAILURES_PER_INVOCATION]:
                result.failures.append(self._found(path, number, ignored=False))

    def finish(self) -> Result:
        runner = Runner.NATMODTESTS if self._natmod else Runner.RUN_TESTS
        result = Result(runner, summary=self._summary_line is not None)
        if self._summary_line is None:
            result.failures = [self._found(p, n, ignored=False) for p, n in self._fail_lines.items()]
            result.error = self._error or (
                "run-tests.py crashed (traceback cut off)" if self._traceback is not None else None)
            result.error_line = self._error_line
        else:
            self._from_summary(result)
        if self._overflow is not None:
            result.complete = False
            result.problems.append(Problem(
                ProblemKind.TRUNCATED, f"more than {MAX_FAILURES_PER_INVOCATION} tests have a FAIL line "
                f"in one run of {runner.value}; the rest are not read", line=self._overflow))
        return result
