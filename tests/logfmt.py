"""Build GitHub Actions job logs around raw runner output, for tests.

GitHub serves a job log (``GET /repos/{o}/{r}/actions/jobs/{id}/logs``) as UTF-8 with a BOM,
one record per line prefixed by an ISO-8601 timestamp (continuation lines of a multi-line
record have none), with each step's command inside ``##[group]Run <command>`` ...
``##[endgroup]`` and ``##[error]Process completed with exit code N.`` after a failed step.
The captures in ``tests/data/real-logs`` are raw step output without any of that, so every
test that wants a realistic job log wraps them here instead of hand-writing timestamps.

API (keep it this small; everybody's tests use it)::

    from logfmt import Step, api_step_names, job_log, line_of, real_log   # tests/ is on sys.path

    log: bytes = job_log(
        [
            Step("tools/ci.sh unix_coverage_build", "make: Entering directory ...\\n", name="Build"),
            Step("tools/ci.sh unix_coverage_run_tests", real_log("05-standard-ci-full-helper-FAILING.log"),
                 exit_code=2, name="Run main test suite"),
            Step("tests/run-tests.py --print-failures",
                 real_log("05b-print-failures-FAILING-ci-buffered.log"), name="Print failures"),
        ],
        job="coverage",
    )

- ``Step.exit_code``: 0 = success, N = failed with ``##[error]Process completed with exit code N.``,
  ``None`` = cancelled (``##[error]The operation was canceled.``).
- ``Step.name`` never appears in the log (GitHub only logs ``Run <command>``); it is what the
  jobs API would call the step, see ``api_step_names``.
- ``job_log(..., multiline_records=True)`` writes output lines as 3-line records (the 2nd and
  3rd line carry no timestamp); ``ansi=True`` colours error/FAIL lines like a terminal would;
  ``bom=False`` drops the BOM; ``checkout=False`` omits the implicit ``actions/checkout`` step.
- Line N of the returned bytes (1-based, split on ``\\n``) is line N as GitHub's UI numbers it;
  ``line_of(log, text)`` finds the first line containing ``text``, ``lines_of`` all of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

REAL_LOGS = Path(__file__).resolve().parent / "data" / "real-logs"

CHECKOUT_COMMAND = "actions/checkout@v6"
RED = "\x1b[31;1m"
CYAN = "\x1b[36;1m"
RESET = "\x1b[0m"


@dataclass(frozen=True)
class Step:
    """One ``run:`` step: the command GitHub echoes, its raw output and how it ended."""

    command: str
    output: str
    exit_code: int | None = 0
    name: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)


def real_log(name: str) -> str:
    """The text of one capture in ``tests/data/real-logs`` (by file name), exactly as captured."""
    return (REAL_LOGS / name).read_text(encoding="utf-8")


def api_step_names(steps: Sequence[Step], *, checkout: bool = True) -> list[str]:
    """Step names as the jobs API lists them for ``job_log(steps)``: number = index + 1."""
    names = ["Set up job"]
    if checkout:
        names.append(f"Run {CHECKOUT_COMMAND}")
    names.extend(step.name or f"Run {step.command.splitlines()[0]}" for step in steps)
    if checkout:
        names.append(f"Post Run {CHECKOUT_COMMAND}")
    names.append("Complete job")
    return names


def line_of(log: bytes, text: str) -> int:
    """1-based number of the first log line containing ``text`` (AssertionError if none)."""
    numbers = lines_of(log, text)
    if not numbers:
        raise AssertionError(f"{text!r} not in log")
    return numbers[0]


def lines_of(log: bytes, text: str) -> list[int]:
    """1-based numbers of every log line containing ``text``."""
    needle = text.encode("utf-8")
    return [n for n, line in enumerate(log.split(b"\n"), start=1) if needle in line]


class _Writer:
    def __init__(self, start: datetime, multiline: bool, ansi: bool) -> None:
        self.now = start
        self.multiline = multiline
        self.ansi = ansi
        self.lines: list[str] = []
        self._second: datetime | None = None
        self._prefix = ""

    def stamp(self) -> str:
        """The runner's `2026-03-11T01:02:03.1234560Z`. The part up to the second is formatted
        once per second of log: the suite writes a quarter of a million of these."""
        self.now += timedelta(microseconds=1237)
        second = self.now.replace(microsecond=0)
        if second != self._second:
            self._second, self._prefix = second, second.strftime("%Y-%m-%dT%H:%M:%S.")
        return f"{self._prefix}{self.now.microsecond:06d}0Z"

    def record(self, *lines: str) -> None:
        """One log record: the first line is timestamped, the rest are continuation lines."""
        first, *rest = lines
        self.lines.append(f"{self.stamp()} {first}")
        self.lines.extend(rest)

    def output(self, text: str) -> None:
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()
        if self.ansi:
            lines = [f"{RED}{ln}{RESET}" if ("error" in ln or "FAIL" in ln) else ln for ln in lines]
        size = 3 if self.multiline else 1
        for i in range(0, len(lines), size):
            self.record(*lines[i : i + size])


def job_log(
    steps: Sequence[Step],
    *,
    job: str = "coverage",
    start: datetime = datetime(2026, 3, 11, 1, 2, 3, tzinfo=UTC),
    bom: bool = True,
    ansi: bool = False,
    multiline_records: bool = False,
    checkout: bool = True,
) -> bytes:
    """The bytes GitHub would serve for a job that ran ``steps`` (see the module docstring)."""
    w = _Writer(start, multiline_records, ansi)
    w.record("Current runner version: '2.331.0'")
    for group, body in (
        ("Operating System", ["Ubuntu", "24.04.3", "LTS"]),
        ("Runner Image", ["Image: ubuntu-24.04", "Version: 20260302.1.0"]),
        ("GITHUB_TOKEN Permissions", ["Contents: read", "Metadata: read"]),
    ):
        w.record(f"##[group]{group}")
        for line in body:
            w.record(line)
        w.record("##[endgroup]")
    w.record("Secret source: Actions")
    w.record("Prepare workflow directory")
    w.record("Prepare all required actions")
    if checkout:
        w.record("Getting action download info")
        w.record(f"Download action repository '{CHECKOUT_COMMAND}' (SHA:8e8c483db84b4bee98b60c0593521ed3)")
    w.record(f"Complete job name: {job}")
    if checkout:
        w.record(f"##[group]Run {CHECKOUT_COMMAND}")
        w.record("with:")
        w.record("  repository: micropython/micropython")
        w.record("  fetch-depth: 1")
        w.record("##[endgroup]")
        w.record("Syncing repository: micropython/micropython")
        w.record("##[command]/usr/bin/git version")
        w.record("git version 2.52.0")
    for step in steps:
        command_lines = step.command.splitlines() or [""]
        w.record(f"##[group]Run {command_lines[0]}")
        for line in command_lines:
            w.record(f"{CYAN}{line}{RESET}")
        w.record("shell: /usr/bin/bash -e {0}")
        if step.env:
            w.record("env:")
            for key, value in step.env.items():
                w.record(f"  {key}: {value}")
        w.record("##[endgroup]")
        w.output(step.output)
        if step.exit_code is None:
            w.record("##[error]The operation was canceled.")
        elif step.exit_code:
            w.record(f"##[error]Process completed with exit code {step.exit_code}.")
    if checkout:
        w.record("Post job cleanup.")
        w.record("##[command]/usr/bin/git version")
        w.record("git version 2.52.0")
    w.record("Cleaning up orphan processes")
    text = "\n".join(w.lines) + "\n"
    return ("\ufeff" if bom else "").encode("utf-8") + text.encode("utf-8")
