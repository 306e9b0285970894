"""``flake-bot parse-log``: show what one job log says failed, and where.

The text output is for a person at a terminal or in a CI log. Everything shown comes from
the log, which a fork's pull request controls, so control characters are escaped and every
line starts with our own text: stdout may itself be a GitHub Actions log, where a line
starting with ``::`` would be obeyed as a workflow command. The runner also obeys the legacy
form ``##[add-mask]text`` anywhere in a line, so ``##[`` is escaped in both outputs (in JSON as
``\u0023``, which any JSON reader turns back into ``#``).
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap

from bot import symptom
from bot.actions_env import inert_json
from bot.parse import open_log, parse_job_log
from bot.records import JobReport

# one output line per item: tab and newline are escaped too
_CONTROL = re.compile(f"[\\t\\n{symptom.UNSAFE_CHARS}]")
DIFF_PREVIEW_LINES = 12
_LEGACY_COMMAND = "##["


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "parse-log",
        help="list the failing tests and problems found in one CI job log",
        description=textwrap.fill(
            "Read one GitHub Actions job log (as downloaded from the API: timestamps, BOM, "
            "##[group] markers) or raw output of MicroPython's test runners, and list each "
            "failing test with its runner, pass, outcome (fail/timeout/crash), symptom and log "
            "line, plus anything else that made the job fail. Exit status 0 when the log was "
            "read, 1 when it holds nothing readable (empty, binary, not UTF-8: 'could not read "
            "the log'), 2 when it could not be opened.",
            width=78,
        ),
        epilog=(
            "examples:\n"
            "  flake-bot parse-log examples/logs/coverage-flaky-and-real-failure.log\n"
            "  flake-bot parse-log job-1234.log.gz --json\n"
            "  curl -fsSL -H \"Authorization: Bearer $GITHUB_TOKEN\" \\\n"
            "    https://api.github.com/repos/OWNER/REPO/actions/jobs/JOB_ID/logs \\\n"
            "    | flake-bot parse-log - --job coverage\n\n"
            "'log: NOT fully understood' means part of the log was not understood (see the\n"
            "problems listed): there may be more failures than those shown."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", metavar="PATH",
                        help="the job log; '-' reads standard input, a '.gz' file is decompressed")
    parser.add_argument("--job", metavar="NAME",
                        help="job name to put in the report (default: the name the log gives, if any)")
    parser.add_argument("--json", action="store_true",
                        help="print the report as one JSON object (schema: docs/parse-log.md)")
    parser.add_argument("--diff", action="store_true",
                        help=f"also show the first {DIFF_PREVIEW_LINES} lines of each failure's diff")
    parser.set_defaults(func=run)


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
