"""Who ticked each box of the dashboard, and what to do about each tick. Pure.

A tick opens a pull request on the authority of the person who made it, so that person must be
known exactly, never guessed from whoever edited last:

- on an `issues: edited` event, the sender made exactly the difference between the payload's
  `changes.body.from` and the payload's own `issue.body` (that edit, as GitHub recorded it; the
  body read later may hold other people's ticks since);
- otherwise (a scheduled or manual run, or a box the event did not tick), the issue's edit
  history (GraphQL `userContentEdits`, each revision's editor and the body after it) is walked
  back from the body as it is now to the revision in which the box went from unticked to
  ticked; that revision's editor made the tick. When the history does not end in the body as it
  is now, or the tick is older than the revisions read, or a revision on the way was deleted,
  the author is not certain and the tick is not honoured.

flake-bot never ticks a box itself (it only carries over ticks made while it was running), so a
revision of its own that turns a box on means the history is not what it seems: not certain.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from bot.gateway.issues import BodyEdit

BOX = re.compile(r"^- \[([ xX])\] <!-- flake-bot-pr:((?:add|retire)-[0-9a-f]{12})(?: pr:(\d+))? -->", re.M)
WRITERS = ("admin", "maintain", "write")


def boxes(body: str) -> dict[str, tuple[bool, int | None]]:
    """Entry id -> (ticked, pull request number recorded) for every checkbox the bot wrote."""
    return {
        m.group(2): (m.group(1) != " ", int(m.group(3)) if m.group(3) else None) for m in BOX.finditer(body)
    }


def ticked(body: str) -> set[str]:
    return {key for key, (on, _) in boxes(body).items() if on}


def may_act(permission: str) -> bool:
    return permission in WRITERS


def event_ticks(before: str, after: str) -> set[str]:
    """The boxes one edit ticked: on in the body after it, off (or absent) before."""
    return ticked(after) - ticked(before)


def history_ticks(body: str, edits: Iterable[BodyEdit], *, bot: str) -> dict[str, str | None]:
    """Each box ticked in `body` -> the login whose edit ticked it, or None when that is not
    certain from `edits` (any order: they are sorted by time here)."""
    revisions = sorted(edits, key=lambda e: e.edited_at)
    mine = {bot, bot.removesuffix("[bot]")}  # GraphQL names a bot without the REST suffix
    out: dict[str, str | None] = dict.fromkeys(sorted(ticked(body)))
    if not revisions or revisions[-1].body != body:
        return out  # the history does not end in this body: an edit is missing from it
    for key in out:
        i = len(revisions) - 1
        while i > 0 and revisions[i - 1].body is not None and key in ticked(revisions[i - 1].body or ""):
            i -= 1
        if i == 0 or revisions[i - 1].body is None:
            continue  # ticked before the first revision read, or a revision is deleted: unknown
        editor = revisions[i].editor
        out[key] = editor if editor and editor not in mine else None
    return out


class Act(StrEnum):
    OPEN = "open"  # open or update the pull request, then untick
    UNTICK = "untick"  # untick, with a line saying why
    KEEP = "keep"  # leave it ticked for the next run, with a line saying why


@dataclass(frozen=True)
class TickVerdict:
    act: Act
    line: str = ""


def judge_tick(
    author: str | None,
    permission: str | None,
    *,
    open_pull_requests: bool,
    has_patch: bool,
    history_error: str | None = None,
) -> TickVerdict:
    """What to do with one ticked box, from its author (None: not certain) and that author's
    permission on the repository (None: not looked up)."""
    if not has_patch:
        return TickVerdict(Act.UNTICK, "ticked, but this entry has no patch now: nothing to open")
    if author is None:
        why = f"who ticked it could not be checked ({history_error})" if history_error else (
            "who ticked it is not certain from the issue's edit history")  # fmt: skip
        return TickVerdict(Act.UNTICK, f"not acted on: {why}; tick it again")
    if permission is None:
        return TickVerdict(Act.KEEP, f"ticked by {author}; their access could not be checked yet")
    if not may_act(permission):
        return TickVerdict(
            Act.UNTICK,
            f"not acted on: ticked by {author}, who has {permission} access; only people with write "
            "access can open pull requests from here",
        )
    if not open_pull_requests:
        return TickVerdict(
            Act.UNTICK, "not acted on: opening pull requests is off (input open-pull-requests)"
        )
    return TickVerdict(Act.OPEN)


def authors(
    body: str,
    *,
    event: tuple[str, str, str] | None,
    history: Mapping[str, str | None],
) -> dict[str, str | None]:
    """Each box ticked in `body` -> its author: the event's sender for the boxes that edit
    ticked (`event` = (sender, body before, body after), all from the payload), the edit
    history's answer for the rest."""
    out = {key: history.get(key) for key in sorted(ticked(body))}
    if event is not None:
        sender, before, after = event
        for key in event_ticks(before, after) & set(out):
            out[key] = sender
    return out


def carried_over(read: str, now: str) -> set[str]:
    """Boxes to leave ticked when the bot rewrites the body: every box ticked in the body as it
    is `now` (read again just before writing) that was not ticked when this run read it
    (`read`), so nobody's tick made during the run is lost."""
    return ticked(now) - ticked(read)
