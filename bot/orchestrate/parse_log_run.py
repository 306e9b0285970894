"""The run of `flake-bot parse-log` (its arguments: `bot.commands.parse_log`).

The text output is for a person at a terminal or in a CI log. Everything shown comes from
the log, which a fork's pull request controls, so control characters are escaped and every
line starts with our own text: stdout may itself be a GitHub Actions log, where a line
starting with ``::`` would be obeyed as a workflow command. The runner also obeys the legacy
form ``##[add-mask]text`` anywhere in a line, so ``##[`` is escaped in both outputs (in JSON as
``#``, which any JSON reader turns back into ``#``).
"""

from __future__ import annotations

import argparse
import re
import sys

from bot import symptom
from bot.actions_env import inert_json
from bot.parse import open_log, parse_job_log
from bot.records import JobReport

# one output line per item: tab and newline are escaped too
_CONTROL = re.compile(f"[\\t\\n{symptom.UNSAFE_CHARS}]")


DIFF_PREVIEW_LINES = 12
_LEGACY_COMMAND = "##["


def escape(text: str | None) -> str:
    """Untrusted log text made safe for one line of terminal/CI output."""
    if text is None:
        return "-"
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text)
    return text.replace(_LEGACY_COMMAND, "#\\x23[")


def to_json(report: JobReport) -> str:
    """The documented JSON (`JobReport.to_json()`), printable inside GitHub Actions."""
    return inert_json(report.to_json())


def _log_line(report: JobReport) -> str:
    """How much of the log was read, in the words `triage --log` uses too."""
    if report.unreadable:
        return f"log: could not read the log: {report.unreadable}"
    return "log: complete" if report.complete else "log: NOT fully understood (see problems)"


def render_text(report: JobReport, *, diffs: bool = False) -> str:
    """The human-readable report; every line starts with fixed text, never with log content."""
    ignored = sum(1 for f in report.failures if f.ignored)
    out = [
        f"job: {escape(report.job)}",
        _log_line(report),
        f"failed step: {escape(report.failed_step)}",
        f"failures: {len(report.failures) - ignored} real, {ignored} ignored as known-flaky",
    ]
    for failure in report.failures:
        status = "ignored" if failure.ignored else failure.outcome.value.upper()
        where = failure.runner.value + (f", {failure.test_pass.value}" if failure.test_pass else "")
        line = f"line {failure.line}" if failure.line else "line ?"
        out.append(f"  {status:<8} {escape(failure.test)}  [{where}]  {line}")
        detail = escape(failure.symptom)
        if failure.ignored:  # the status column says "ignored", so say how it failed here
            detail = f"{failure.outcome.value}: {detail}" if detail else failure.outcome.value
        if detail:
            out.append(f"           {detail}")
        if diffs and failure.diff:
            # a tab is harmless on a terminal: shown as the spaces it stands for, not as \x09
            out.extend(f"           | {escape(d.expandtabs(8))}"
                       for d in failure.diff.splitlines()[:DIFF_PREVIEW_LINES])
    out.append(f"problems: {len(report.problems)}")
    for problem in report.problems:
        line = f"line {problem.line}" if problem.line else "line ?"
        out.append(f"  {problem.kind.value:<12} {line}  step: {escape(problem.step)}")
        out.append(f"           {escape(problem.message)}")
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    with open_log(args.path) as chunks:
        report = parse_job_log(chunks, job=args.job)
    text = to_json(report) if args.json else render_text(report, diffs=args.diff)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return 1 if report.unreadable else 0
