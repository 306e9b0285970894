"""Turn a `TriageReport` into the texts flake-bot publishes: comment, check run, job summary, stdout.

Templates live in `bot/templates/`. They are rendered with autoescape off (this is Markdown, not
HTML) but with a `finalize` hook that sends every `{{ value }}` through the sanitizer unless the
value is already `Md` (built by a sanitizer filter such as `code`, `fence` or `link`). So a
template cannot forget to escape: plain strings, numbers and enums from a report come out as
inert Markdown text, and the only structure in the output is the template's own.

Every renderer bounds its output to the limit of the place it goes to (a comment under 60,000
characters of GitHub's 65,536, check output 65,535, step summary 1 MiB) by rendering at
decreasing levels of detail until it fits; the smallest level shows only counts and a link, so
the bound always holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2

from bot import __version__
from bot.evidence import Evidence
from bot.records import FlakeRate
from bot.registry import Verdict
from bot.render.evidence import Code, Link, Sentence, brief, repo_url, sentences
from bot.render.sanitize import Md, cell_code, clean, code_span, fence, html_text, inline, link, plain
from bot.triage import PROBLEM_WORDS, SETTLED, Finding, JobTriage, Kind, TriageReport

#: Hidden first line of the sticky PR comment. The publisher finds its comment by this marker
#: *and* the bot's own login; the sanitizer guarantees no log text can contain `<!--`.
COMMENT_MARKER = "<!-- flake-bot:triage-comment -->"
_MARKER_SHAPE = re.compile(r"<!-- flake-bot:[A-Za-z0-9_.:/-]{1,100} -->")

COMMENT_LIMIT = 60_000
MIN_COMMENT_CHARS = 1_000  # room for the marker, the headline and a link, whatever happens
CHECK_LIMIT = 65_535  # UTF-8 bytes
CHECK_TITLE_LIMIT = 255
STEP_SUMMARY_LIMIT = 1_000_000  # GitHub refuses step summaries over 1 MiB; stay under it in bytes
ANNOTATION_MESSAGE_LIMIT = 2_000
ANNOTATION_DETAILS_LIMIT = 8_000
MAX_ANNOTATIONS = 200  # four requests of 50
# Characters of the `failures` output: all ASCII (JSON-escaped), so 500 KB of GitHub's 1 MB per job.
OUTPUT_FAILURES_LIMIT = 250_000

_SAFE_TEST_PATH = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9_.+/-]{0,200}")


class PlainText(str):
    """Text already made safe for a terminal or plain-text field (by `plain`)."""

    __slots__ = ()


@dataclass(frozen=True)
class CheckOutput:
    """The `output` of a check run plus its annotations (the publisher batches them by 50)."""

    title: str
    summary: str
    text: str
    annotations: list[dict[str, Any]]


@dataclass(frozen=True)
class Detail:
    """How much of the report one rendering attempt shows (see `_levels`)."""

    full: int | None  # failures shown with history and diff; None = all
    listed: int | None  # further failures shown as one line each; None = all
    diff_limit: int  # characters of each diff; 0 = no diff
    per_job: bool = True  # False = the headline and counts only


@dataclass(frozen=True)
class JobView:
    """One job as a template sees it at a given level of detail."""

    triage: JobTriage
    full: tuple[Finding, ...]
    listed: tuple[Finding, ...]
    hidden: int


# -- earlier attempts ----------------------------------------------------------------------

# A Markdown link reference definition: GitHub shows nothing for it, and it is no HTML comment.
_ATTEMPT_RECORD = re.compile(
    r'\[flake-bot attempt (\d{1,20})/(\d{1,6})\]: # "sha=([0-9a-f]{7}) '
    r'failures=(\d{1,7}) known=(\d{1,7}) look=(\d{1,7}) unreadable=(\d{1,7})"'
)
MAX_EARLIER_ATTEMPTS = 10


@dataclass(frozen=True)
class AttemptRecord:
    """One earlier triage kept in the sticky comment, so editing it in place hides no history.

    Stored as an invisible line of numbers and a short sha right below the marker, and read back
    only from there: log text is never at the top of a comment (it starts with the marker and
    the headline), so a forged line inside a diff is not read, and the publisher only edits a
    comment by the bot's own login.
    """

    run_id: int
    attempt: int
    sha: str
    failures: int
    known: int
    look: int
    unreadable: int

    @classmethod
    def of(cls, report: TriageReport) -> AttemptRecord:
        c = report.counts
        sha = report.run.head_sha[:7].lower()
        if not re.fullmatch(r"[0-9a-f]{7}", sha):
            sha = "0000000"
        return cls(
            report.run.id,
            report.run.attempt,
            sha,
            c.failures,
            c.known_flakes,
            c.needs_look,
            c.unreadable_logs,
        )

    def hidden(self) -> Md:
        return Md(
            f'[flake-bot attempt {self.run_id}/{self.attempt}]: # "sha={self.sha} '
            f'failures={self.failures} known={self.known} look={self.look} unreadable={self.unreadable}"'
        )

    def summary(self) -> str:
        if not self.failures and not self.unreadable:
            return "no failures"
        parts = [f"{self.failures:,} failure{'' if self.failures == 1 else 's'}"]
        if self.known:
            parts.append(f"{self.known:,} known flake{'' if self.known == 1 else 's'}")
        if self.look:
            parts.append(f"{self.look:,} need{'s' if self.look == 1 else ''} a look")
        if self.unreadable:
            parts.append(f"could not read {self.unreadable:,} log{'' if self.unreadable == 1 else 's'}")
        return ", ".join(parts)


def earlier_attempts(previous: str | None, current: AttemptRecord) -> list[AttemptRecord]:
    """The records kept below the marker of the previous comment body, without the current attempt."""
    found: list[AttemptRecord] = []
    for line in (previous or "").split("\n")[1:]:
        match = _ATTEMPT_RECORD.fullmatch(line)
        if match is None:
            break
        run_id, attempt, sha, failures, known, look, unreadable = match.groups()
        record = AttemptRecord(
            int(run_id), int(attempt), sha, int(failures), int(known), int(look), int(unreadable)
        )
        if (record.run_id, record.attempt) != (current.run_id, current.attempt) and record not in found:
            found.append(record)
    return found[-MAX_EARLIER_ATTEMPTS:]


# -- template environment -----------------------------------------------------------------


def _finalize_md(value: object) -> str:
    if isinstance(value, Md):
        return value
    if value is None:
        raise ValueError("a template printed None; render an explicit placeholder instead")
    return inline(str(value), 1_000)


def _finalize_text(value: object) -> str:
    if isinstance(value, PlainText):
        return value
    if value is None:
        raise ValueError("a template printed None; render an explicit placeholder instead")
    return plain(str(value), 1_000, one_line=True)


def _num(value: int) -> Md:
    return Md(f"{int(value):,}")


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
        text += f", last seen {_day(rate.last_seen)}"
    return text


def _day(moment: datetime) -> str:
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


def _history(finding: Finding) -> list[str]:
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


def _say_md(sentence: Sentence) -> Md:
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


def _say_text(sentence: Sentence) -> PlainText:
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


def _environment(
    finalize: Callable[[object], str], filters: dict[str, Callable[..., Any]]
) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot", "templates"),
        autoescape=False,  # noqa: S701 - Markdown, escaped by `finalize` instead
        undefined=jinja2.StrictUndefined,
        finalize=finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(filters)
    env.globals.update(
        brief=brief,
        common_notes=common_notes,
        history=_history,
        ignored_tests=ignored_tests,
        rate_text=rate_text,
        problem_words=PROBLEM_WORDS,
        version=__version__,
    )
    return env


_MD = _environment(
    _finalize_md,
    {
        "code": lambda v, limit=200: code_span(str(v), limit),
        "fence": lambda v, lang="", limit=4_000: fence(str(v), limit, lang),
        "link": lambda v, url, limit=200: link(str(v), url, limit),
        "num": _num,
        "ident": lambda v: Md(str(int(v))),
        "step": lambda v: code_span(str(v), 100),
        "cell": lambda v, limit=200: cell_code(str(v), limit),
        "html": lambda v, limit=200: html_text(str(v), limit),
        "say": _say_md,
    },
)
_TEXT = _environment(
    _finalize_text,
    {
        "block": lambda v, limit=4_000, indent=4: PlainText(
            "\n".join(" " * indent + line for line in plain(str(v).rstrip("\n"), limit).split("\n"))
        ),
        "num": lambda v: PlainText(f"{int(v):,}"),
        "ident": lambda v: PlainText(str(int(v))),
        "say": _say_text,
    },
)


# -- levels of detail ----------------------------------------------------------------------


def _levels(total: int) -> Iterable[Detail]:
    """From everything down to counts only; the caller keeps the first that fits."""
    yield Detail(full=None, listed=None, diff_limit=3_000)
    for full, diff_limit in ((30, 2_000), (15, 1_000), (8, 500), (4, 0), (0, 0)):
        if full < total:
            yield Detail(full=full, listed=None, diff_limit=diff_limit)
    for listed in (200, 50, 10):
        if listed < total:
            yield Detail(full=0, listed=listed, diff_limit=0)
    yield Detail(full=0, listed=0, diff_limit=0)
    yield Detail(full=0, listed=0, diff_limit=0, per_job=False)


def _views(report: TriageReport, detail: Detail) -> list[JobView]:
    """Choose which failures get full detail: the ones that need a look come first."""
    ranked = sorted(report.findings, key=lambda f: not f.needs_look)
    full_ids = {id(f) for f in ranked[: detail.full]} if detail.full is not None else {id(f) for f in ranked}
    rest = [f for f in ranked if id(f) not in full_ids]
    listed_ids = (
        {id(f) for f in rest[: detail.listed]} if detail.listed is not None else {id(f) for f in rest}
    )
    views = []
    for job in report.jobs:
        if not job.failed and not job.ignored:
            continue
        full = tuple(f for f in job.findings if id(f) in full_ids)
        listed = tuple(f for f in job.findings if id(f) in listed_ids)
        views.append(JobView(job, full, listed, len(job.findings) - len(full) - len(listed)))
    return views


def _render_fitting(
    env: jinja2.Environment,
    template: str,
    report: TriageReport,
    limit: int,
    size: Callable[[str], int] = len,
    **context: object,
) -> str:
    tmpl = env.get_template(template)
    text = ""
    for detail in _levels(len(report.findings)):
        views = _views(report, detail)
        text = tmpl.render(
            report=report,
            rows=[f for v in views for f in (*v.full, *v.listed)],
            sentences=lambda f: sentences(f, repo_url(report.run)),
            run=report.run,
            counts=report.counts,
            jobs=views,
            detail=detail,
            short_sha=report.run.head_sha[:7],
            omitted=len(report.findings) - sum(len(v.full) for v in views)
            if detail.per_job
            else len(report.findings),
            **context,
        )
        if size(text) < limit:
            return text
    # Counts only and still too long cannot come from report text (every value is bounded), but
    # a bound is a promise: cut on a line boundary rather than exceed it.
    return _cut_lines(text, limit, size)


def _cut_lines(text: str, limit: int, size: Callable[[str], int]) -> str:
    note = "\n\n… (cut to fit GitHub's size limit)\n"
    kept: list[str] = []
    used = size(note)
    for line in text.split("\n"):
        if used + size(line) + 1 >= limit:
            break
        kept.append(line)
        used += size(line) + 1
    return "\n".join(kept) + note


# -- public renderers ----------------------------------------------------------------------


def render_comment(
    report: TriageReport,
    *,
    marker: str = COMMENT_MARKER,
    max_chars: int = COMMENT_LIMIT,
    details_url: str | None = None,
    previous: str | None = None,
) -> str:
    """The sticky pull-request comment: marker on the first line, always shorter than `max_chars`.

    `details_url` (the check run or the workflow run's summary) is linked when failures had to be
    left out to fit. `previous` is the body of the comment this one replaces: the outcomes of
    earlier runs and attempts recorded in it are carried over and listed, so that editing in
    place does not hide that, say, the first attempt failed.
    """
    if not _MARKER_SHAPE.fullmatch(marker):
        raise ValueError(f"not a flake-bot marker: {marker!r}")
    if max_chars < MIN_COMMENT_CHARS:
        raise ValueError(f"max_chars must be at least {MIN_COMMENT_CHARS}")
    current = AttemptRecord.of(report)
    return _render_fitting(
        _MD,
        "comment.md.j2",
        report,
        max_chars,
        marker=Md(marker),
        details_url=details_url,
        elsewhere="this run's job summary",
        current=current,
        earlier=earlier_attempts(previous, current),
    )


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


def _fit_utf8(text: str, limit: int = CHECK_TITLE_LIMIT) -> str:
    """`text` cut to `limit` UTF-8 bytes, on a whole character, with an ellipsis.

    GitHub documents its Checks API limits in characters but enforces at least some in bytes
    (the summary's "maximum bytesize"); one annotation over a limit fails its whole batch, and a
    test name of 200 four-byte characters is 800 bytes.
    """
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", errors="ignore") + "…"


def render_check(report: TriageReport, *, details_url: str | None = None) -> CheckOutput:
    """Title, summary and text of the check run on the head commit, and one annotation per failure."""
    title = plain(report.headline, CHECK_TITLE_LIMIT - 50, one_line=True)
    where = "this run's job summary"
    # GitHub counts these in UTF-8 bytes ("exceeds a maximum bytesize of 65535"), not characters.
    summary = _render_fitting(
        _MD, "check_summary.md.j2", report, CHECK_LIMIT, _utf8_size, details_url=details_url, elsewhere=where
    )
    text = _render_fitting(
        _MD, "check_text.md.j2", report, CHECK_LIMIT, _utf8_size, details_url=details_url, elsewhere=where
    )
    return CheckOutput(title=title, summary=summary, text=text, annotations=annotation_payloads(report))


def render_step_summary(report: TriageReport, *, details_url: str | None = None) -> str:
    """The job summary (`GITHUB_STEP_SUMMARY`), kept under 1 MiB in UTF-8 bytes."""
    return _render_fitting(
        _MD,
        "step_summary.md.j2",
        report,
        STEP_SUMMARY_LIMIT,
        size=_utf8_size,
        details_url=details_url,
        elsewhere="the job logs",
    )


def render_text(report: TriageReport, *, max_chars: int = 200_000, source: str | None = None) -> str:
    """What `triage` prints on a terminal or the action's log: plain text, no workflow commands.

    `source` replaces the line naming the run and commit, for a triage that had neither (one log
    file read offline): a made-up run number and an empty commit would mislead.
    """
    return _render_fitting(_TEXT, "text.txt.j2", report, max_chars, source=source)


def annotation_payloads(report: TriageReport) -> list[dict[str, Any]]:
    """One annotation per failing test at `tests/<path>` line 1: warning for known flakes, failure otherwise.

    Messages are plain text (the Checks API does not render Markdown there), one per finding.
    A test name that does not look like a path under tests/ is annotated on `tests` itself.
    At most `MAX_ANNOTATIONS`, those that need a look first: GitHub takes 50 per request, and a
    fork PR printing thousands of FAIL lines spent the whole request budget on annotations, so
    the PR comment was never posted. The check run's text still lists every failure.
    """
    kept = {id(f) for f in sorted(report.findings, key=lambda f: not f.needs_look)[:MAX_ANNOTATIONS]}
    out = []
    for f in (f for f in report.findings if id(f) in kept):
        test = clean(f.failure.test)
        path = f"tests/{test}" if _SAFE_TEST_PATH.fullmatch(test) and ".." not in test else "tests"
        where = f"{f.failure.test_pass.value} pass of " if f.failure.test_pass else ""
        lines = [f"{f.verdict_label}: {test} failed in the {where}job {clean(f.job.name)}."]
        lines.append(f"What to do: {f.advice}.")
        if f.failure.symptom:
            lines.append(f"Symptom: {f.failure.symptom}")
        lines.extend(_say_text(s) for s in sentences(f, repo_url(report.run)))
        if report.has_history:
            lines.extend(h[0].upper() + h[1:] + "." for h in _history(f))
        if f.match.explanation:
            lines.append(f.match.explanation)
        annotation: dict[str, Any] = {
            "path": path,
            "start_line": 1,
            "end_line": 1,
            "annotation_level": "warning" if f.kind in SETTLED else "failure",
            "title": _fit_utf8(plain(f"{test}: {f.verdict_label}", CHECK_TITLE_LIMIT - 40, one_line=True)),
            "message": plain("\n".join(lines), ANNOTATION_MESSAGE_LIMIT),
        }
        if f.failure.diff:
            annotation["raw_details"] = plain(f.failure.diff, ANNOTATION_DETAILS_LIMIT)
        out.append(annotation)
    return out


def _rate_json(rate: FlakeRate | None) -> dict[str, object] | None:
    """The test's history in this job, for a later step deciding what to do; None without one."""
    if rate is None or not rate.executions:
        return None
    return {
        "failures": rate.events,
        "executions": rate.executions,
        "rate": round(rate.rate, 6),
        "low": round(rate.low, 6),
        "high": round(rate.high, 6),
        "last_seen": _day(rate.last_seen) if rate.last_seen else None,
    }


def _evidence_json(f: Finding, base: str | None) -> dict[str, object] | None:
    """The evidence behind the verdict, as fields a later step can test; None without a history."""
    e: Evidence | None = f.evidence
    if e is None:
        return None
    s = e.streak

    def ref(r: object) -> int | None:
        return getattr(r, "run_id", None)

    compare = None
    if base and s.last_pass is not None and s.first_failure is not None:
        compare = f"{base}/compare/{s.last_pass.sha}...{s.first_failure.sha}"
    return {
        "history": "default-branch" if e.default_branch else "all-runs",
        "executions": e.known,
        "failures": e.failures,
        "unknown": e.unknown,
        "streak": s.failures,
        "streak_unknown": s.unknown,
        "first_failing_run": ref(s.first_failure),
        "first_failing_sha": s.first_failure.sha if s.first_failure else None,
        "last_passing_run": ref(s.last_pass),
        "last_passing_sha": s.last_pass.sha if s.last_pass else None,
        "compare_url": compare,
        "same_commit_pass_run": ref(e.same_commit_pass),
        "flipped_commits": e.flipped_commits,
        "isolated_failures": e.isolated,
        "longest_row": e.longest_run,
        "new_way": e.new_way,
        "earlier_symptoms": [
            plain(x, 200, one_line=True) for x in (*e.symptoms_here, *e.symptoms_elsewhere)
        ],
    }


def outputs(
    report: TriageReport, *, max_failures: int = 500, max_chars: int = OUTPUT_FAILURES_LIMIT
) -> dict[str, str]:
    """The action's outputs.

    `failures` holds log-derived text: one line per field, control characters removed, bounded,
    JSON-escaped. A workflow must still never splice it into `run:` with `${{ }}`; use `env:`.
    It keeps the first rows that fit in `max_chars`: GitHub allows a job 1 MB of outputs counted
    in UTF-16, and 500 rows of hostile 200-character names and symptoms (each non-ASCII
    character escaped as six) came to 1.6 MB, which would lose every output of the step.
    """
    rows = [
        {
            "job": plain(f.job.name, 200, one_line=True),
            "test": plain(f.failure.test, 200, one_line=True),
            "pass": f.failure.test_pass.value if f.failure.test_pass else None,
            "runner": f.failure.runner.value,
            "verdict": f.kind.value,
            "needs_look": f.needs_look,
            "symptom": plain(f.failure.symptom, 200, one_line=True),
            "line": f.failure.line,
            "job_url": f.job.html_url,
            "rate": _rate_json(f.job_rate),
            "evidence": _evidence_json(f, repo_url(report.run)),
            "patch": f.patch is not None,
        }
        for f in report.findings[:max_failures]
    ]
    kept: list[str] = []
    used = 2  # the brackets
    for row in rows:
        text = json.dumps(row, ensure_ascii=True, separators=(",", ":"))
        if used + len(text) + 1 > max_chars:
            break
        kept.append(text)
        used += len(text) + 1
    c = report.counts
    return {
        "failures": "[" + ",".join(kept) + "]",
        "new-failures": str(sum(1 for f in report.findings if f.kind is not Kind.KNOWN_FLAKE)),
        "known-flaky": str(c.known_flakes),
        "needs-a-look": str(c.needs_look),
        "unreadable-logs": str(c.unreadable_logs),
        "headline": report.headline,
    }


__all__: Sequence[str] = (
    "COMMENT_MARKER",
    "AttemptRecord",
    "CheckOutput",
    "annotations",
    "earlier_attempts",
    "ignored_tests",
    "outputs",
    "rate_text",
    "render_check",
    "render_comment",
    "render_step_summary",
    "render_text",
)
