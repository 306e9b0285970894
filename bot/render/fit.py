"""Fit a rendering to the size limit of the place it goes to.

Every renderer bounds its output to the limit of the place it goes to (a comment under 60,000
characters of GitHub's 65,536, check output 65,535, step summary 1 MiB) by rendering at
decreasing levels of detail until it fits; the smallest level shows only counts and a link, so
the bound always holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import jinja2

from bot.findings import Finding, JobTriage, TriageReport
from bot.render.evidence import repo_url, sentences

CHECK_TITLE_LIMIT = 255


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
        shown = (*job.findings, *job.hidden)  # an ignored test failing in every run is a failure again
        full = tuple(f for f in shown if id(f) in full_ids)
        listed = tuple(f for f in shown if id(f) in listed_ids)
        views.append(JobView(job, full, listed, len(shown) - len(full) - len(listed)))
    return views


def render_fitting(
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


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


def fit_utf8(text: str, limit: int = CHECK_TITLE_LIMIT) -> str:
    """`text` cut to `limit` UTF-8 bytes, on a whole character, with an ellipsis.

    GitHub documents its Checks API limits in characters but enforces at least some in bytes
    (the summary's "maximum bytesize"); one annotation over a limit fails its whole batch, and a
    test name of 200 four-byte characters is 800 bytes.
    """
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", errors="ignore") + "…"
