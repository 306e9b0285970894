"""flake-bot's own words: job states, rates, ignored tests, registry and history notes, patch notes.

Plain strings here are built from numbers, dates and fixed words only, and Markdown templates
print them through the `words` filter (readable, no needless escapes). A sentence that names
something from a log or a workflow file (a test, a job) is a `Sentence` of segments instead,
the name a `Code` segment, so each renderer shows the name its own way: a code span in
Markdown, plain text on a terminal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.findings import FAILURE_PROBLEMS, Finding, JobState, JobTriage, Note, NoteReason, TriageReport
from bot.records import FlakeRate, LogState, ProblemKind
from bot.registry import Listing
from bot.render.evidence import Code, Link, Sentence
from bot.render.sanitize import Md, code_span, link, plain, prose
from bot.render.verdict_words import WORDS

PROBLEM_WORDS: dict[ProblemKind, str] = {
    ProblemKind.BUILD: "build error",
    ProblemKind.RUNNER_ERROR: "test runner error",
    ProblemKind.STEP: "a step failed",
    ProblemKind.TRUNCATED: "log truncated or not fully understood",
    ProblemKind.CANCELLED: "cancelled",
    ProblemKind.UNREADABLE: "could not read the log",
}

_LOG_STATE_WORDS: dict[LogState, str] = {
    LogState.EXPIRED: "the log has expired (GitHub's log retention ran out)",
    LogState.MISSING: "the job has no log",
    LogState.NOT_FETCHED: "the log was not downloaded",
    LogState.PARSED: "the log was not parsed",
}

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
        else:  # the bot's words; prose() trims: keep the spaces that join this part to its neighbours
            lead = " " if part[:1].isspace() else ""
            trail = " " if part[-1:].isspace() else ""
            out.append(lead + prose(part, 1_000) + trail)
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
    listed = sum(1 for f in findings if f.match.listing is Listing.KNOWN_FLAKE)
    elsewhere = sum(1 for f in findings if f.match.listing is Listing.FLAKY_ELSEWHERE)
    unlisted = len(findings) - listed - elsewhere
    parts = []
    if listed:
        parts.append(f"{listed:,} on upstream's flaky list for its job")
    if elsewhere:
        parts.append(f"{elsewhere:,} listed for other jobs only")
    if unlisted:
        parts.append(f"{unlisted:,} not listed at all")
    notes = [f"Registry in force on {day}: " + ", ".join(parts) + "."]
    evidence = [f.evidence for f in findings if f.evidence is not None]
    if evidence and not any(e.known or e.unknown for e in evidence):
        # A store that knows none of these jobs (new, or synced for another workflow) judges
        # nothing: saying "evidence from the history store" would read as grounds.
        notes.append(
            "The history store holds no earlier execution of these jobs: flake-bot cannot tell an "
            "unlisted flake from a regression yet."
        )
    elif evidence:
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


def _unique(items: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def job_status(job: JobTriage) -> str:
    """One sentence about the job as a whole, from its state: fixed words and numbers only."""
    if job.state is JobState.LOG_UNREADABLE:
        # the parser's reason (fixed words, never log text) when the log was fetched but is no log
        reason = next((p.message for p in job.problems if p.kind is ProblemKind.UNREADABLE), None)
        return "could not read the log: " + (reason or _LOG_STATE_WORDS[job.log_state])
    if job.state is JobState.UNEXPLAINED:
        return "failed for a reason flake-bot could not find"
    if job.state is JobState.NOT_A_TEST_FAILURE:
        kinds = _unique(PROBLEM_WORDS[p.kind] for p in job.problems)
        if all(p.kind is ProblemKind.TRUNCATED for p in job.problems):
            # Nothing says the failure was not a test's: a test may have failed past the cut.
            found = ", ".join(kinds)
            return f"no failing test in what could be read: {found}; a test may have failed after it"
        return "not a test failure: " + ", ".join(kinds)
    if job.state is JobState.PASSED:
        return "passed"
    n = len(job.findings)
    text = f"{n} failing test{'s' if n != 1 else ''}"
    if job.other_failure:
        kinds = _unique(PROBLEM_WORDS[p.kind] for p in job.problems if p.kind in FAILURE_PROBLEMS)
        text += "; also failed for a reason that is not a test failure: " + ", ".join(kinds)
    if not job.complete:
        text += "; the log was not fully understood, so there may be more"
    return text


def note_sentence(note: Note) -> Sentence:
    """A note below the verdicts; the test and job it names are `Code`, never part of the words."""
    test: Sentence = (Code(note.test),) if note.test is not None else ()
    where: Sentence = (" in ", Code(note.job)) if note.job is not None else ()
    if note.reason is NoteReason.CROWDED_JOB:
        return (
            "No patches for ",
            *where[1:],
            f": {note.count:,} tests that are not known flakes there failed together in this run; "
            "failures that coincide point to a shared cause, not independent flakes.",
        )
    if note.reason is NoteReason.NOT_A_FLAKE and note.verdict is not None:
        return ("No patch for ", *test, *where, f": {WORDS[note.verdict].no_patch}.")
    if note.reason is NoteReason.RECENT:
        return (
            "No patch for ",
            *test,
            *where,
            " yet: its failures crowd into its latest executions there, which is how a test a change "
            "made flaky starts. flake-bot will propose one once the failures look spread over time.",
        )
    if note.reason is NoteReason.STILL_FAILING:
        return (
            "No patch for ",
            *test,
            *where,
            ": it also failed in its latest execution there before this run, with no pass since. "
            "That is how a regression starts, so look at it before excluding it.",
        )
    return ("No patch for ", *test, *where, ": ", Code(note.detail), ".")
