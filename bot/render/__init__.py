"""Turn a `TriageReport` into the texts flake-bot publishes: comment, check run, job summary, stdout.

The work is split by job: `environment` (the Jinja environments and their escaping policy),
`words` (sentences the templates call for), `fit` (levels of detail within a size limit),
`attempts` (earlier attempts hidden in the sticky comment), `annotations` (check-run
annotations), `outputs` (the action's step outputs) and `report` (the flakiness report). This
module holds the renderers callers use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.findings import TriageReport
from bot.render.annotations import MAX_ANNOTATIONS, check_annotations
from bot.render.attempts import AttemptRecord, earlier_attempts
from bot.render.environment import MARKDOWN, TEXT
from bot.render.fit import CHECK_TITLE_LIMIT, render_fitting, utf8_size
from bot.render.outputs import outputs
from bot.render.sanitize import Md, plain
from bot.render.verdict_words import headline
from bot.render.words import ignored_tests, rate_text

#: Hidden first line of the sticky PR comment. The publisher finds its comment by this marker
#: *and* the bot's own login; the sanitizer guarantees no log text can contain `<!--`.
COMMENT_MARKER = "<!-- flake-bot:triage-comment -->"
_MARKER_SHAPE = re.compile(r"<!-- flake-bot:[A-Za-z0-9_.:/-]{1,100} -->")

COMMENT_LIMIT = 60_000
MIN_COMMENT_CHARS = 1_000  # room for the marker, the headline and a link, whatever happens
CHECK_LIMIT = 65_535  # UTF-8 bytes
STEP_SUMMARY_LIMIT = 1_000_000  # GitHub refuses step summaries over 1 MiB; stay under it in bytes


@dataclass(frozen=True)
class CheckOutput:
    """The `output` of a check run plus its annotations (the publisher batches them by 50)."""

    title: str
    summary: str
    text: str
    annotations: list[dict[str, Any]]


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
    return render_fitting(
        MARKDOWN,
        "comment.md.j2",
        report,
        max_chars,
        marker=Md(marker),
        details_url=details_url,
        elsewhere="this run's job summary",
        current=current,
        earlier=earlier_attempts(previous, current),
    )


def render_check(report: TriageReport, *, details_url: str | None = None) -> CheckOutput:
    """Title, summary and text of the check run on the head commit, and one annotation per failure."""
    title = plain(headline(report), CHECK_TITLE_LIMIT - 50, one_line=True)
    where = "this run's job summary"
    # GitHub counts these in UTF-8 bytes ("exceeds a maximum bytesize of 65535"), not characters.
    summary = render_fitting(
        MARKDOWN,
        "check_summary.md.j2",
        report,
        CHECK_LIMIT,
        utf8_size,
        details_url=details_url,
        elsewhere=where,
    )
    text = render_fitting(
        MARKDOWN, "check_text.md.j2", report, CHECK_LIMIT, utf8_size, details_url=details_url, elsewhere=where
    )
    return CheckOutput(title=title, summary=summary, text=text, annotations=check_annotations(report))


def render_step_summary(report: TriageReport, *, details_url: str | None = None) -> str:
    """The job summary (`GITHUB_STEP_SUMMARY`), kept under 1 MiB in UTF-8 bytes."""
    return render_fitting(
        MARKDOWN,
        "step_summary.md.j2",
        report,
        STEP_SUMMARY_LIMIT,
        size=utf8_size,
        details_url=details_url,
        elsewhere="the job logs",
    )


def render_text(report: TriageReport, *, max_chars: int = 200_000, source: str | None = None) -> str:
    """What `triage` prints on a terminal or the action's log: plain text, no workflow commands.

    `source` replaces the line naming the run and commit, for a triage that had neither (one log
    file read offline): a made-up run number and an empty commit would mislead.
    """
    return render_fitting(TEXT, "text.txt.j2", report, max_chars, source=source)


__all__: Sequence[str] = (
    "COMMENT_MARKER",
    "MAX_ANNOTATIONS",
    "AttemptRecord",
    "CheckOutput",
    "check_annotations",
    "earlier_attempts",
    "ignored_tests",
    "outputs",
    "rate_text",
    "render_check",
    "render_comment",
    "render_step_summary",
    "render_text",
)
