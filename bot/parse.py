"""The one entry point for reading a job log: ``parse_job_log`` and ``open_log``.

``parse_job_log`` streams the bytes through ``bot.joblog.LogReader`` into ``JobParser``, which
splits the log into steps, hands each runner invocation to its parser (``bot.runners``),
collects ``--print-failures`` output, and decides at the end of each step whether its failure
is explained. Rules that keep a real regression from being called "flaky":

- Only a run-tests summary (the runner's own, in its own context) marks a failure ignored.
- Evidence of a failure is never dropped: an invocation without a summary reports its
  per-test ``FAIL`` lines as plain failures; a failed step with no failing test is a Problem.
- ``complete`` is False whenever something was not understood (see docs/parse-log.md).

Print-failures output is matched to failures after the whole log is read: all passes share
``tests/results``, a later pass that runs a test deletes or overwrites its result files, and
make stops after the first pass with real failures; so the diff shown for a test belongs to
the *last* pass that ran it, i.e. to the latest failure record of that test.
"""

from __future__ import annotations

import gzip
import re
import sys
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO

from bot import symptom
from bot.errors import InputError
from bot.joblog import MAX_LINE_BYTES, LineKind, LogLine, LogReader, exit_code
from bot.records import JobReport, Problem, ProblemKind, Runner, TestPass
from bot.runners import PARSERS, Found, Result, RunnerParser, starting_runner
from bot.runners.print_failures import PrintFailures, mangle, starts_print_failures
from bot.runners.run_tests import RunTestsParser, pass_from_flags

# Bounds on what one report can hold, whatever the log claims: a full job fails at most a
# few thousand tests across its passes, and nobody reads more than a screen of problems.
MAX_FAILURES = 10000
MAX_PROBLEMS = 50
# A GitHub job has at most a few dozen steps; a log with more step headers is forged.
MAX_STEPS = 500
# A problem message is one line in a comment or annotation.
MAX_MESSAGE_CHARS = 300
# Test names come from the log; real ones are < 80 characters.
MAX_TEST_CHARS = 200
READ_CHUNK = 1 << 20

_STEP_RUN_TESTS = re.compile(r"^Run (?:python3? |\S*/)?(?:\./)?run-tests\.py(.*)")
_MAKE_ECHO = re.compile(r"cd \S+ && .*?run-tests\.py(.*)")
_MAKE_ERROR = re.compile(r"make(?:\[\d+\])?: \*\*\* \[(?:[^\]:]*:\d+: )?([^\]]+)\] (?:Error \d+|Killed)")
_BUILD_ERROR = re.compile(
    r"(?:\S+?:\d+(?::\d+)?: (?:fatal )?error: .*|.*undefined reference to .*|collect2: error: .*"
    r"|/usr/bin/ld: (?!warning:|NOTE:).*|.*\*\*\* No rule to make target .*)"
)
_MERGE_DIFF = re.compile(r"\d+(?:,\d+)?[acd]\d+(?:,\d+)?")
_CANCELLED = ("The operation was canceled", "The operation was cancelled",
              "The runner has received a shutdown", "has exceeded the maximum execution time")
# make targets of ports/unix that run one run-tests pass; test_full is ambiguous (pass 3 or 4,
# and pass 1 in v1.25's layout), so it gives no fallback.
_TARGET_PASS = {"test": TestPass.BYTECODE, "test_full_no_native": TestPass.VIA_MPY}
# Between runners, in an ordinary step, only lines with one of these can matter (see
# bot.joblog): "#" job-log markers, make's run-tests echo, "=" of the platform= / N= headers,
# "|" multitests' instance list, "*" make's error line, print-failures headers, and the
# substrings of every _BUILD_ERROR pattern. Steps that need every line (the step header, the
# mpy-merge step, raw logs without steps, print-failures) do not use them. They only pay off
# in a long stretch (a build): searching ten markers to the end of a 1 MB chunk costs more than
# reading the few lines between two runner passes one by one, hence IDLE_LINES_BEFORE_SKIP.
IDLE_MARKERS = (b"#", b"=", b"|", b"*", b"run-tests.py", b"FAILURE", b"/results/", b"/results\\", b"error",
                b"undefined",
                b"ld: ")
IDLE_LINES_BEFORE_SKIP = 200
# The runner's last words in every job log GitHub serves (also for failed and cancelled jobs): a
# job log that does not end with them was cut, even when the cut falls between two steps.
JOB_LOG_END = b"Cleaning up orphan processes"
# How much of a log's start is checked for being text at all (see _not_text).
_HEAD_BYTES = 4096
# Line kinds as module globals: read for every line, and an enum member read through its class
# costs several times more (see bot.joblog).
_TEXT, _STEP, _HEADER, _ERROR = LineKind.TEXT, LineKind.STEP, LineKind.HEADER, LineKind.ERROR


def _may_be_build_error(text: str) -> bool:
    """Cheap test for the substrings every _BUILD_ERROR line has (called for most idle lines)."""
    return "error" in text or "undefined" in text or "ld: " in text or "No rule" in text


def _says_only_where(text: str) -> bool:
    """An ld location line (``/usr/bin/ld: x.o: in function `f':``) or collect2's closing
    ``ld returned 1 exit status``: kept as a build error only until a line saying what failed
    (``undefined reference to `g'``, ``cannot find -lffi``) comes."""
    return (text.startswith("/usr/bin/ld: ") and text.endswith(":")) or text.startswith("collect2: ")


def message(text: str) -> str:
    return symptom.bound(symptom.normalize(text), MAX_MESSAGE_CHARS)


def exit_text(code: int | None) -> str:
    """How a step's exit code reads in a message; 137/143 mean the process was killed."""
    if not code:
        return ""
    killed = {137: ", killed by SIGKILL (e.g. out of memory)", 143: ", killed by SIGTERM"}
    return f" (exit code {code}{killed.get(code, '')})"


@dataclass
class _Step:
    label: str | None
    line: int | None
    exit_code: int | None = None
    cancelled: bool = False
    print_failures: bool = False
    natmod_hint: bool = False
    merge_hint: bool = False
    failures: int = 0  # non-ignored failures found in this step
    problems: int = 0
    build_error: tuple[str, int] | None = None
    build_error_is_context: bool = False  # see _says_only_where
    make_error: tuple[str, int] | None = None
    merge_diff: list[str] = field(default_factory=list)
    merge_line: int | None = None
    header_done: bool = False  # past the step header's ##[endgroup]
    idle_run: int = 0  # lines read one by one since the last runner output


class JobParser:
    """Line sink that turns one job log into a ``JobReport`` (see the module docstring)."""

    def __init__(self, job: str | None) -> None:
        self.job = job
        self.reader: LogReader | None = None  # set by parse_job_log: line counts, format seen
        self.steps: list[str] = []
        self.step = _Step(None, None)
        self.failures: list[Found] = []
        self.problems: list[Problem] = []
        self.complete = True
        self.failed_step: str | None = None
        self.invocation: RunnerParser | None = None
        self.pending_pass: TestPass | None = None
        self.last_run_tests: Result | None = None
        self.print_failures = PrintFailures()
        self.print_failures_step: str | None = None
        self.last_line = 0
        self.recognised = False  # anything at all was understood (a step, a runner, make ...)
        self.ends_as_job_log = False  # the bytes end with JOB_LOG_END (set by parse_job_log)
        self.not_text: str | None = None  # why the first bytes are not UTF-8 text (see _not_text)

    # -- LineSink -----------------------------------------------------------------------

    @property
    def skip_markers(self) -> tuple[bytes, ...] | None:
        if self.invocation is not None:
            return self.invocation.skip_markers
        step = self.step
        if step.idle_run >= IDLE_LINES_BEFORE_SKIP and step.header_done and not (
            step.print_failures or step.merge_hint
        ):
            return IDLE_MARKERS
        return None

    def line(self, line: LogLine) -> None:
        self.last_line = line.number
        kind = line.kind
        if kind is _TEXT:  # output, i.e. almost every line: handled here, without a call
            if line.truncated:
                self._problem(ProblemKind.TRUNCATED, f"line longer than {MAX_LINE_BYTES} bytes was cut",
                              line.number, incomplete=True)
            step = self.step
            if step.print_failures:
                self.print_failures.feed(line)
                self.print_failures_step = step.label
                return
            invocation = self.invocation
            if invocation is not None:
                if invocation.feed(line):
                    return
                self._close_invocation("boundary")
            self._idle(line)
        elif kind is _STEP:
            self._end_step()
            self._start_step(line)
        elif kind is _HEADER:
            lowered = line.text.lower()
            self.step.natmod_hint |= "natmod" in lowered or "native_mpy" in lowered
            self.step.merge_hint |= "mpy_merge" in lowered
        elif kind is _ERROR:
            self._error(line)
        elif line.text == "##[endgroup]" and self.step.label is not None:
            self.step.header_done = True

    # -- steps --------------------------------------------------------------------------

    def _start_step(self, line: LogLine) -> None:
        if not self.steps and self.reader is not None and self.reader.timestamped and line.number > 1:
            self.steps.append("Set up job")
        label = symptom.bound(symptom.printable(line.text).strip(), MAX_MESSAGE_CHARS)
        if len(self.steps) < MAX_STEPS:
            self.steps.append(label)
        elif len(self.steps) == MAX_STEPS:
            self.steps.append("…")
            self._problem(ProblemKind.TRUNCATED, f"more than {MAX_STEPS} steps; the rest are not listed",
                          line.number, incomplete=True)
        self.step = _Step(label, line.number, print_failures="--print-failures" in line.text)
        self.step.natmod_hint = "natmod" in label.lower() or "native_mpy" in label.lower()
        self.step.merge_hint = "mpy_merge" in label.lower()
        # a step that runs run-tests.py itself (the windows workflow's MSVC jobs) names its pass
        # in its command, as make's echo does for a make target
        command = _STEP_RUN_TESTS.search(line.text) if not self.step.print_failures else None
        self.pending_pass = pass_from_flags(command.group(1)) if command else None
        self.last_run_tests = None

    def _error(self, line: LogLine) -> None:
        code = exit_code(line.text)
        if code is not None:
            if self.step.exit_code is None:
                self.step.exit_code = code
            self._close_invocation("exit")
        elif any(phrase in line.text for phrase in _CANCELLED):
            self._close_invocation("cancelled")
            if not self.step.cancelled:
                self.step.cancelled = True
                self._problem(ProblemKind.CANCELLED, line.text, line.number, incomplete=True)

    def _end_step(self, *, eof: bool = False) -> None:
        self._close_invocation("eof" if eof else "step-end")
        self.print_failures.close()
        step = self.step
        if (step.exit_code or step.cancelled) and self.failed_step is None:
            self.failed_step = step.label
        if step.merge_diff:
            self._problem(ProblemKind.STEP, "mpy merge outputs differ: " + " / ".join(step.merge_diff),
                          step.merge_line)
        failed = bool(step.exit_code) or (step.label is None and step.make_error is not None)
        if not failed or step.failures or step.problems:
            return
        make = f"; make target {step.make_error[0]} failed" if step.make_error else ""
        where = step.make_error[1] if step.make_error else step.line
        if step.build_error:
            self._problem(ProblemKind.BUILD, *step.build_error)
        else:
            text = f"step failed{exit_text(step.exit_code)}{make}; no failing test or known error in it"
            self._problem(ProblemKind.STEP, text, where, incomplete=True)

    # -- output lines -------------------------------------------------------------------

    def _idle(self, line: LogLine) -> None:
        text = line.text
        self.step.idle_run += 1
        if self.job is None and not self.steps and text.startswith("Complete job name: "):
            name = symptom.printable(text[len("Complete job name: ") :]).strip()
            self.job = symptom.bound(name, MAX_TEST_CHARS)
            return
        runner = starting_runner(text)
        if runner is Runner.RUN_TESTS:
            self.invocation = RunTestsParser(self.pending_pass, natmod_hint=self.step.natmod_hint)
            self.pending_pass = None
        elif runner is not None:
            self.invocation = PARSERS[runner]()
        if self.invocation is not None:
            self.recognised = True
            self.step.idle_run = 0
            self.last_run_tests = None  # make's error line now refers to this invocation
            self.invocation.feed(line)
            return
        if starts_print_failures(text):
            self.recognised = True
            self.step.print_failures = True
            self.print_failures.feed(line)
            self.print_failures_step = self.step.label
            return
        # cheap prefix checks first: in a build step every line comes through here
        echo = _MAKE_ECHO.fullmatch(text) if text.startswith("cd ") else None
        if echo:
            self.recognised = True
            self.pending_pass = pass_from_flags(echo.group(1))
            return
        make_error = _MAKE_ERROR.match(text) if text.startswith("make") else None
        if make_error:
            self._make_error(make_error.group(1).strip(), line.number)
            return
        step = self.step
        if (step.build_error is None or step.build_error_is_context) and _may_be_build_error(text) and (
            _BUILD_ERROR.fullmatch(text)
        ):
            context = _says_only_where(text)
            if step.build_error is None or not context:
                step.build_error, step.build_error_is_context = (message(text), line.number), context
            return
        if text[:1].isdigit() or text.startswith(("< ", "> ")):
            self._merge_diff(line)

    def _make_error(self, target: str, number: int) -> None:
        self.recognised = True
        if self.step.make_error is None:
            self.step.make_error = (target, number)
        last = self.last_run_tests
        if last is not None and target in _TARGET_PASS:
            for found in last.failures:
                if found.runner is Runner.RUN_TESTS and found.test_pass is None:
                    found.test_pass = _TARGET_PASS[target]
            self.last_run_tests = None

    def _merge_diff(self, line: LogLine) -> None:
        """The mpy-merge step ends with plain ``diff out-individual out-merged`` output."""
        text, step = line.text, self.step
        if _MERGE_DIFF.fullmatch(text) and (step.merge_hint or step.label is None):
            step.merge_line = step.merge_line or line.number
        elif step.merge_line is not None and text.startswith(("< ", "> ")) and len(step.merge_diff) < 2:
            step.merge_diff.append(symptom.quote(text))

    def _close_invocation(self, cause: str) -> None:
        invocation, self.invocation = self.invocation, None
        if invocation is None:
            return
        result = invocation.finish()
        for found in result.failures:
            self._add_failure(found)
        for problem in result.problems:
            self._problem(problem.kind, problem.message, problem.line, incomplete=not result.complete)
        if not result.complete:
            self.complete = False
        if result.runner is Runner.RUN_TESTS:
            self.last_run_tests = result
        if result.summary or cause == "cancelled":
            return
        runner = result.runner.value
        if result.error:
            self._problem(ProblemKind.RUNNER_ERROR, f"{runner} stopped without its summary: {result.error}",
                          result.error_line)
        elif cause == "eof" and not self.step.exit_code:
            self._problem(ProblemKind.TRUNCATED, f"the log ends before {runner} printed its summary",
                          self.last_line, incomplete=True)
        else:
            self._problem(ProblemKind.RUNNER_ERROR, f"{runner} stopped without printing its summary"
                          f"{exit_text(self.step.exit_code)}", self.last_line, incomplete=True)

    def _add_failure(self, found: Found) -> None:
        if len(self.failures) >= MAX_FAILURES:
            if self.complete:
                self._problem(ProblemKind.TRUNCATED,
                              f"more than {MAX_FAILURES} failures; the rest are not listed",
                              found.line, incomplete=True)
            return
        # a test's name is its identity (registry, history): only make it printable and bounded
        found.test = symptom.bound(symptom.printable(found.test), MAX_TEST_CHARS)
        self.failures.append(found)
        if not found.ignored:
            self.step.failures += 1

    def _problem(self, kind: ProblemKind, text: str, line: int | None, *, incomplete: bool = False) -> None:
        if incomplete:
            self.complete = False
        self.step.problems += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(kind, message(text), self.step.label, line))

    # -- end ----------------------------------------------------------------------------

    def _attach_print_failures(self) -> None:
        by_name: dict[str, Found] = {}
        for found in self.failures:  # later records win: the last pass that ran the test
            if found.runner is Runner.RUN_TESTS:
                by_name[mangle(found.test)] = found
        for name, shown in self.print_failures.shown.items():
            failure = by_name.get(name)
            if failure is not None:
                failure.outcome, failure.symptom, failure.diff = shown.outcome, shown.symptom, shown.diff
        unknown = [n for n in self.print_failures.names if n not in by_name]
        for name in unknown[:5]:
            self.problems.append(Problem(
                ProblemKind.STEP, message(f"Print failures shows a result for {name!r} that no run-tests "
                                          "summary in this log reported"),
                self.print_failures_step, self.print_failures.names[name]))
        if unknown:
            self.complete = False

    def report(self) -> JobReport:
        self._end_step(eof=True)
        stamped = self.reader is not None and self.reader.timestamped
        if not (self.recognised or stamped or self.steps or self.failures or self.problems):
            empty = self.reader is not None and self.reader.bytes == 0
            self._problem(ProblemKind.UNREADABLE, "the log is empty" if empty else self.not_text or
                          "nothing in this log looks like a GitHub job log or test runner output",
                          None, incomplete=True)
        reader = self.reader
        if reader is not None and reader.ended_mid_line and reader.timestamped:
            # the reader's count, not last_line: the cut line may have been skipped unread
            self._problem(ProblemKind.TRUNCATED, "the log ends in the middle of a line", reader.lines,
                          incomplete=True)
        elif stamped and not self.ends_as_job_log:
            self._problem(ProblemKind.TRUNCATED, "the log ends before the job did (no 'Cleaning up orphan "
                          "processes' line at its end)", self.last_line, incomplete=True)
        self._attach_print_failures()
        return JobReport(
            job=self.job,
            complete=self.complete,
            failures=tuple(f.freeze() for f in self.failures),
            problems=tuple(self.problems[:MAX_PROBLEMS]),
            failed_step=self.failed_step,
            steps=tuple(self.steps),
        )


def _not_text(head: bytes) -> str | None:
    """Why a log's first bytes cannot be a job log or runner output: GitHub serves UTF-8 text."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (
        head[1:200:2].count(0) > 40 and head[0:200:2].count(0) == 0
    ):
        return "the log is UTF-16 text, not UTF-8 as GitHub serves job logs"
    if b"\0" in head:
        return "the log is binary data (it has NUL bytes), not text"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the window's end
            return "the log is not UTF-8 text"
    return None


def parse_job_log(chunks: Iterable[bytes], *, job: str | None = None) -> JobReport:
    """Read one job log (GitHub job-log format or raw runner output) into a ``JobReport``.

    ``chunks`` may be sliced anywhere (network blocks, file reads); memory stays bounded.
    """
    parser = JobParser(job)
    reader = LogReader(parser)
    parser.reader = reader
    head = tail = b""
    for chunk in chunks:
        if len(head) < _HEAD_BYTES:
            head += chunk[: _HEAD_BYTES - len(head)]
        reader.feed(chunk)
        tail = (tail + chunk[-_TAIL_BYTES:])[-_TAIL_BYTES:]
    reader.close()
    parser.not_text = _not_text(head)
    parser.ends_as_job_log = ends_as_job_log(tail)
    return parser.report()


_TAIL_BYTES = 4096
_ORPHAN_KILLED = re.compile(rb"Terminate orphan process: pid \(\d+\) \(.*\)")
_STAMP = re.compile(rb"^\d{4}-\d\d-\d\dT[\d:.]+Z ?")


def ends_as_job_log(tail: bytes) -> bool:
    """Whether a log's last bytes are the runner's own closing: 'Cleaning up orphan processes',
    followed only by the 'Terminate orphan process: pid (N) (name)' lines the runner prints for
    each process a step left behind (a hung test binary is exactly that), so a job whose tests left
    a process running is not mistaken for a cut log."""
    lines = [_STAMP.sub(b"", line).strip() for line in tail.splitlines()]
    lines = [line for line in lines if line]
    while lines and _ORPHAN_KILLED.fullmatch(lines[-1]):
        lines.pop()
    return bool(lines) and lines[-1] == JOB_LOG_END


def _chunks(stream: IO[bytes] | gzip.GzipFile, path: str) -> Iterator[bytes]:
    try:
        while chunk := stream.read(READ_CHUNK):
            yield chunk
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: cannot read log: {exc}") from exc


@contextmanager
def open_log(path: str) -> Iterator[Iterable[bytes]]:
    """Open a log for ``parse_job_log``: ``-`` is stdin, ``*.gz`` is decompressed on the fly.

    Raises ``InputError`` if the file cannot be opened or read (also mid-way, e.g. a corrupt
    gzip stream), so the CLI can exit with status 2.
    """
    if path == "-":
        yield _chunks(sys.stdin.buffer, "<stdin>")
        return
    try:
        stream = gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise InputError(f"{path}: cannot open log: {exc.strerror or exc}") from exc
    with stream:
        yield _chunks(stream, path)
