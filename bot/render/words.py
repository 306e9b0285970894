"""Sentences the templates call for: rates, ignored tests, the registry and history notes.

Every one is built from numbers, dates and fixed words only; test names stay separate fields
so each template can show them its own way (code in Markdown, plain on a terminal).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.records import FlakeRate
from bot.registry import Verdict
from bot.render.evidence import Code, Link, Sentence
from bot.render.sanitize import Md, code_span, inline, link, plain
from bot.triage import Finding, JobTriage, TriageReport


class PlainText(str):
    """Text already made safe for a terminal or plain-text field (by `plain`)."""

    __slots__ = ()


def _pct(value: float) -> str:
    percent = value * 100
    if percent == 0:
        return "0"
    if percent >= 10:
        return f"{percent:.0f}"
    if percent >= 0.1:
        return f"{percent:.1f}"
    return f"{percent:.1g}"


def rate_text(rate: FlakeRate, scope: str = "") -> str:
    """E.g. "failed 9 times in the last 1,150 executions of this job (0.8%, 95% CI 0.4–1.5%)"."""
    times = "once" if rate.events == 1 else f"{rate.events:,} times"
    where = f" {scope}" if scope else ""
    text = (
        f"failed {times} in the last {rate.executions:,} executions{where} "
        f"({_pct(rate.rate)}%, 95% CI {_pct(rate.low)}–{_pct(rate.high)}%)"
    )
    if rate.last_seen is not None:
        text += f", last seen {day(rate.last_seen)}"
    return text


def day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


@dataclass(frozen=True)
class IgnoredTest:
    """One test run-tests.py ignored in a job, with every pass it failed in.

    A "full" job runs the suite up to four times (bytecode, via-mpy, native, via-mpy-native), so
    one flaky test can be ignored several times; listing it once per pass reads like a repeat.
    """

    test: str
    passes: tuple[str, ...]

    @property
    def where(self) -> str:
        """E.g. "bytecode and via-mpy passes"; empty when the log named no pass."""
        if not self.passes:
            return ""
        names = list(self.passes)
        joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"{joined} pass{'es' if len(names) > 1 else ''}"


def ignored_tests(job: JobTriage) -> list[IgnoredTest]:
    """The job's ignored failures grouped by test, in the order they were first seen."""
    passes: dict[str, list[str]] = {}
    for finding in job.ignored:
        seen = passes.setdefault(finding.failure.test, [])
        name = finding.failure.test_pass.value if finding.failure.test_pass else None
        if name and name not in seen:
            seen.append(name)
    return [IgnoredTest(test, tuple(names)) for test, names in passes.items()]


def history(finding: Finding) -> list[str]:
    """Rate lines for one failure; the all-jobs line is left out when it adds nothing."""
    lines = []
    job_rate, rate = finding.job_rate, finding.rate
    if job_rate is not None and job_rate.executions:
        lines.append(rate_text(job_rate, "of this job"))
    if rate is not None and rate.executions:
        same = job_rate is not None and (job_rate.events, job_rate.executions) == (
            rate.events,
            rate.executions,
        )
        if not same:
            lines.append(rate_text(rate, "across all jobs"))
    if not lines:
        lines.append("no history recorded for this test")
    return lines


def say_md(sentence: Sentence) -> Md:
    out: list[str] = []
    for part in sentence:
        if isinstance(part, Code):
            out.append(code_span(part.text, 200))
        elif isinstance(part, Link):
            out.append(link(part.text, part.url))
        else:  # inline() trims: keep the spaces that join this part to its neighbours
            lead = " " if part[:1].isspace() else ""
            trail = " " if part[-1:].isspace() else ""
            out.append(lead + inline(part, 1_000) + trail)
    return Md("".join(out))


def say_text(sentence: Sentence) -> PlainText:
    out: list[str] = []
    for part in sentence:
        text = part.text if isinstance(part, Code | Link) else part
        lead = " " if text[:1].isspace() else ""
        trail = " " if text[-1:].isspace() else ""
        out.append(lead + plain(text, 1_000, one_line=True) + trail)
    return PlainText("".join(out))


def common_notes(report: TriageReport) -> list[str]:
    """What is true of every failure in the table, said once instead of under each test."""
    findings = report.findings
    if not findings:
        return []
    day = report.run.created_at.strftime("%Y-%m-%d")
    listed = sum(1 for f in findings if f.match.verdict is Verdict.KNOWN_FLAKE)
    elsewhere = sum(1 for f in findings if f.match.verdict is Verdict.FLAKY_ELSEWHERE)
    unlisted = len(findings) - listed - elsewhere
    parts = []
    if listed:
        parts.append(f"{listed:,} on upstream's flaky list for its job")
    if elsewhere:
        parts.append(f"{elsewhere:,} listed for other jobs only")
    if unlisted:
        parts.append(f"{unlisted:,} not listed at all")
    notes = [f"Registry in force on {day}: " + ", ".join(parts) + "."]
    if any(f.evidence is not None for f in findings):
        source = (
            "the default branch's pushes"
            if any(f.evidence is not None and f.evidence.default_branch for f in findings)
            else "every stored run of the workflow"
        )
        notes.append(
            f"Evidence from the history store, before this run: {source}, plus every stored run "
            "of the same commit."
        )
    elif not report.has_history:
        notes.append("No history store was used: flake-bot cannot tell an unlisted flake from a regression.")
    return notes
