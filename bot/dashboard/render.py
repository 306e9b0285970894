"""The dashboard as GitHub Markdown, within the issue body limit.

GitHub refuses an issue body over 65,536 characters, and a bad week (a broken build failing
hundreds of tests) can produce more. The body then degrades in steps, most useful parts kept:
patches are dropped from all but the first entries, then each list is cut to fewer entries with
a line saying how many are not shown (the job summary, which has a 1 MiB limit, keeps them all).
With several workflows the same steps apply to every section and to the cross-workflow table.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from bot.dashboard.build import Board, Dashboard
from bot.dashboard.core import Streak
from bot.render.environment import MARKDOWN
from bot.render.sanitize import Md, inline, link

MARKER = "<!-- flake-bot:dashboard -->"
MAX_BODY_CHARS = 65536
# (entries per list, entries with their patch shown); tried in order until the body fits
_STEPS = ((1000, 1000), (1000, 10), (100, 5), (50, 3), (25, 2), (10, 1), (5, 0), (0, 0))


@dataclass(frozen=True)
class PullRequestLink:
    """The pull request opened for an entry; `link` is ready-made Markdown."""

    number: int
    url: str
    state: str  # "open" | "closed" | "merged"

    @property
    def link(self) -> Md:
        return link(f"pull request {self.number}", self.url)


_SHA = re.compile(r"[0-9a-f]{7,40}")


def culprit_range(streak: Streak | None, repo_url: str) -> Md:
    """`last pass..first failure` of a streak, linked to GitHub's compare view when both are
    known commits; empty when the streak has no first failure."""
    if streak is None or not streak.first_sha:
        return Md("")
    first, last = streak.first_sha, streak.last_pass_sha
    if last is None:
        return Md(f"culprit at or before {inline(first[:12], 12)} (no earlier pass known)")
    text = f"{last[:12]}..{first[:12]}"
    if repo_url and _SHA.fullmatch(first) and _SHA.fullmatch(last):
        return Md("culprit range " + link(text, f"{repo_url}/compare/{last}...{first}"))
    return Md("culprit range " + inline(text, 30))


_KEY = re.compile(r"(?:add|retire)-[0-9a-f]{12}")


def checkbox_marker(key: str, pr: int | None = None) -> Md:
    """The hidden marker of an entry's checkbox: made of the entry id and a number only."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"not an entry id: {key!r}")
    return Md(f"<!-- flake-bot-pr:{key}{f' pr:{int(pr)}' if pr is not None else ''} -->")


def render_body(
    dashboard: Board | Dashboard,
    *,
    prs: Mapping[str, PullRequestLink] | None = None,
    pr_mode: bool = False,
    footer: str = "",
    limit_chars: int = MAX_BODY_CHARS,
    marker: str = MARKER,
    ticked: Collection[str] = (),
    lines: Mapping[str, str] | None = None,
) -> str:
    """The issue body; the first step of `_STEPS` whose result fits `limit_chars`. A lone
    `Dashboard` is a board of one workflow. The boxes of `ticked` entries are written ticked
    (a tick the publisher leaves for the next run), and `lines` puts a line under an entry's
    box (why a tick was not acted on)."""
    board = dashboard if isinstance(dashboard, Board) else Board((dashboard,))
    state = (frozenset(ticked), {k: inline(v, 400) for k, v in (lines or {}).items()})
    body = ""
    for entries, with_patch in _STEPS:
        body = _render(board, prs or {}, pr_mode, footer, marker, entries, with_patch, state)
        if len(body) <= limit_chars:
            return body
    return body[: limit_chars - 200].rsplit("\n", 1)[0] + "\n\n(cut: the dashboard did not fit in an issue)\n"


def _charted(d: Dashboard) -> list[object]:
    return [j for j in d.jobs if j.rate.trials]


def _job_max(d: Dashboard) -> float:
    return max([j.rate.value for j in d.jobs if j.rate.trials] + [0.001]) * 100


def _render(
    b: Board,
    prs: Mapping[str, PullRequestLink],
    pr_mode: bool,
    footer: str,
    marker: str,
    entries: int,
    with_patch: int,
    state: tuple[frozenset[str], Mapping[str, Md]],
) -> str:
    # patches are kept for the first entries of each workflow, so no section loses all of them
    shown_patches = {
        item.key for d in b.sections for item in d.selection.actionable()[: max(0, with_patch)]
    }
    return MARKDOWN.get_template("dashboard.md.j2").render(
        b=b,
        h=Md("#" if len(b.sections) > 1 else ""),
        across=b.across[:entries],
        marker=Md(marker) if marker in (MARKER, "") else marker,
        footer=footer,
        box=checkbox_marker,
        limit=entries,
        patches=b.patches,
        patch_notes={k: v for d in b.sections for k, v in d.patch_notes.items()},
        with_patches=lambda key: key in shown_patches,
        prs=prs,
        pr_mode=pr_mode,
        on=lambda key: Md("x" if key in state[0] else " "),
        entry_lines=state[1],
        weeks_of=lambda d: [w for w in d.weeks if w.runs],
        culprit=culprit_range,
        charted=_charted,
        job_max_of=_job_max,
    )
