"""The dashboard issue and the pull requests its checkboxes ask for.

One issue per repository, found again by the hidden marker at the start of its body *and* its
author, like the sticky comment (`bot.publish.comment`): anybody can write the marker, and the
bot must never edit an issue it did not open. Two overlapping runs can each find none and
create one; so after creating, the bot lists again, keeps the oldest, and closes the one it
made if it is not that one (the other run, listing after its own create, sees the same two
and keeps the same oldest). A locked issue is left alone: maintainers lock an issue to stop
it changing. A closed one is still updated (editing sends no notification) but not reopened.

A ticked box is honoured only when the person who ticked it, known exactly
(`bot.publish.ticks`), may write to the repository; every other tick is unticked with a line
saying why. A box stays ticked, with a line, when its pull request could not be opened yet
(the request budget ran short, GitHub failed): the next run picks it up. The body is read again
right before it is written, and boxes ticked meanwhile are carried over.

Each entry's pull request comes from a branch the bot provably made (`bot.publish.ownership`):
`flake-bot/<entry id>`, or the next free name when that one is someone else's or its pull
request was closed. Its diff is checked against the patch right before the pull request opens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.budget import ISSUE_WRITE_REQUESTS, PULL_REQUEST_REQUESTS
from bot.dashboard.build import Board
from bot.dashboard.render import MARKER, PullRequestLink
from bot.errors import (
    AmbiguousWrite,
    BudgetExhausted,
    FlakeBotError,
    GatewayError,
    PermissionDenied,
    PublishError,
)
from bot.gateway.issues import IssueGateway, IssueInfo, PullInfo, blob_sha
from bot.publish import ownership, ticks
from bot.publish.ticks import Act, boxes, ticked

TITLE = "Flaky test dashboard"
CREATE_ATTEMPTS = 3  # an issue or pull request create that failed without an answer: list, then again
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Tick:
    """An `issues: edited` event: who edited which issue, and its body before and after that
    edit, both from the payload (`after` None: the payload has no body)."""

    number: int
    sender: str
    before: str
    after: str | None = None

    @classmethod
    def from_event(cls, event_name: str | None, event: Mapping[str, Any]) -> Tick | None:
        if event_name != "issues" or event.get("action") != "edited":
            return None
        issue = _dict(event.get("issue"))
        sender = _dict(event.get("sender"))
        body = _dict(event.get("changes")).get("body")
        number, login = issue.get("number"), sender.get("login")
        if not isinstance(number, int) or not isinstance(login, str):
            return None
        after = issue.get("body")
        after = after if isinstance(after, str) else None
        before = body.get("from") if isinstance(body, dict) else after  # title edit: no change
        return cls(number, login, before if isinstance(before, str) else "", after)


@dataclass
class Entries:
    """What the body says about each entry's box this run: left ticked, and a line under it."""

    keep: set[str] = field(default_factory=set)
    lines: dict[str, str] = field(default_factory=dict)


Render = Callable[[Mapping[str, PullRequestLink], set[str], Mapping[str, str]], str]


@dataclass
class Outcome:
    action: str  # created | updated | unchanged | locked | dry-run
    url: str
    body: str
    prs: dict[str, PullRequestLink] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class PatchDoesNotApply(FlakeBotError):
    """The file changed between writing the patch and applying it: the next run rewrites it."""


class BranchRefused(FlakeBotError):
    """No branch the bot may write to for this entry, or the branch is not what the patch is."""


def split_diff(diff: str) -> dict[str, str]:
    """Path -> that file's part of a git-style diff."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in diff.splitlines(keepends=True):
        if line.startswith("--- a/"):
            current = out.setdefault(line[6:].strip(), [])
        if current is not None:
            current.append(line)
    return {path: "".join(lines) for path, lines in out.items()}


def apply_diff(text: str, diff: str) -> str:
    """Apply one file's unified diff to `text`, checking every context and removed line."""
    old = text.splitlines(keepends=True)
    out: list[str] = []
    at = 0
    lines = diff.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        m = _HUNK.match(lines[i])
        i += 1
        if not m:
            continue
        start = int(m.group(1)) - (0 if m.group(2) == "0" else 1)
        out.extend(old[at:start])
        at = start
        while i < len(lines) and not lines[i].startswith("@@"):
            line = lines[i]
            i += 1
            if line.startswith("\\"):
                if out and out[-1].endswith("\n"):
                    out[-1] = out[-1][:-1]
                continue
            tag, content = line[:1], line[1:]
            if tag in (" ", "-"):
                if at >= len(old) or old[at].rstrip("\n") != content.rstrip("\n"):
                    raise PatchDoesNotApply(f"line {at + 1} differs from the patch's")
                if tag == " ":
                    out.append(old[at])
                at += 1
            elif tag == "+":
                out.append(content if content.endswith("\n") else content + "\n")
    out.extend(old[at:])
    return "".join(out)


class DashboardPublisher:
    def __init__(
        self,
        gateway: IssueGateway,
        *,
        author: str,
        base_branch: str,
        open_pull_requests: bool,
        dry_run: bool,
    ) -> None:
        self.gateway = gateway
        self.author = author
        self.base_branch = base_branch
        self.open_pull_requests = open_pull_requests
        self.dry_run = dry_run
        self._base: tuple[str, str] | None = None

    def mine(self, issues: Iterable[IssueInfo]) -> list[IssueInfo]:
        return [i for i in issues if i.user_login == self.author and i.body.startswith(MARKER)]

    def find(self) -> list[IssueInfo]:
        """The bot's dashboard issues, oldest first (read before the sync, so the run knows how
        many boxes are ticked and keeps back the requests their pull requests need)."""
        try:
            return self.mine(self.gateway.issues_by(self.author))
        except GatewayError as exc:
            raise PublishError(f"cannot publish the dashboard issue: {exc}") from exc

    def publish(
        self,
        render: Render,
        dashboard: Board,
        *,
        tick: Tick | None = None,
        found: list[IssueInfo] | None = None,
    ) -> Outcome:
        try:
            return self._publish(render, dashboard, tick, found)
        except GatewayError as exc:
            raise PublishError(f"cannot publish the dashboard issue: {exc}") from exc

    def _publish(
        self, render: Render, dashboard: Board, tick: Tick | None, found: list[IssueInfo] | None
    ) -> Outcome:
        ours = found if found is not None else self.mine(self.gateway.issues_by(self.author))
        existing = ours[0] if ours else None
        notes: list[str] = []
        entries = Entries()
        if existing is not None and existing.locked:
            notes.append(f"dashboard issue #{existing.number} is locked: left as it is (unlock it to resume)")
            return Outcome("locked", existing.html_url, render({}, set(), {}), {}, notes)
        prs = self._known_prs(existing, dashboard)
        read = existing.body if existing is not None else ""
        if existing is not None:
            read = self._act_on_ticks(existing, dashboard, tick, prs, entries, notes)
        if self.dry_run:
            body = render(prs, entries.keep, entries.lines)
            where = f"update #{existing.number}" if existing else "create a new issue"
            notes.append(f"dry run: would {where}")
            return Outcome("dry-run", existing.html_url if existing else "", body, prs, notes)
        if existing is not None:
            for extra in ours[1:]:
                self._close_duplicate(extra, existing, notes)
            if existing.state == "closed":
                notes.append(f"dashboard issue #{existing.number} is closed: updated, left closed")
            try:
                now = self.gateway.get_issue(existing.number)  # ticks made while this run worked
                carried = ticks.carried_over(read, now.body)
                if carried:
                    notes.append(
                        f"{len(carried)} box(es) ticked during this run left ticked for the next run"
                    )
                body = render(prs, entries.keep | carried, entries.lines)
                if now.body == body:
                    return Outcome("unchanged", existing.html_url, body, prs, notes)
                edited = self.gateway.edit_issue(existing.number, body=body)
                return Outcome("updated", edited.html_url or existing.html_url, body, prs, notes)
            except GatewayError as exc:
                if exc.status not in (404, 410):
                    raise
                notes.append(f"dashboard issue #{existing.number} is gone ({exc.status}): creating a new one")
        return self._create(render(prs, set(), entries.lines), prs, notes)

    def _create(self, body: str, prs: dict[str, PullRequestLink], notes: list[str]) -> Outcome:
        """Create the issue. A create that failed without an answer may have landed: list, and
        only when it is not there create again (as the sticky comment does)."""
        made: IssueInfo | None = None
        ours: list[IssueInfo] = []
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                made = self.gateway.create_issue(TITLE, body)
            except AmbiguousWrite:
                made = None  # it may exist: the listing below decides
            ours = self.mine(self.gateway.issues_by(self.author))
            if ours:
                break
            if made is None and attempt < CREATE_ATTEMPTS:
                self.gateway.pause(attempt)
        if not ours:
            raise PublishError(
                "the dashboard issue was not created (GitHub gave no clear answer); the next run retries"
            )
        keep = ours[0]
        if made is None:
            made = ours[-1]
        if made.number != keep.number:
            # another run created one first: close ours (no marker left, so it is never found again)
            self._close_duplicate(made, keep, notes)
            if keep.body != body:
                keep = self.gateway.edit_issue(keep.number, body=body)
            return Outcome("updated", keep.html_url, body, prs, notes)
        return Outcome("created", keep.html_url, body, prs, notes)

    def _close_duplicate(self, duplicate: IssueInfo, keep: IssueInfo, notes: list[str]) -> None:
        """Close a second dashboard of ours and take its marker out, so no run finds it again."""
        if duplicate.locked:
            return
        self.gateway.edit_issue(
            duplicate.number,
            body=f"Duplicate of #{keep.number}: two flake-bot dashboard runs overlapped.",
            state="closed",
            state_reason="not_planned",
        )
        notes.append(f"closed #{duplicate.number}, a duplicate of #{keep.number} made by an overlapping run")

    # ------------------------------------------------------------------ ticks

    def _known_prs(self, existing: IssueInfo | None, dashboard: Board) -> dict[str, PullRequestLink]:
        """Pull requests recorded in the body for entries still listed, with their state now;
        only the bot's own (a number written into the body by hand proves nothing)."""
        if existing is None:
            return {}
        listed = {i.key for i in dashboard.selection.actionable()}
        out = {}
        for key, (_, number) in boxes(existing.body).items():
            if number is None or key not in listed:
                continue
            found = self.gateway.pull(number)
            if found is not None and ownership.pull_is_ours(found, key, self.author):
                out[key] = _link(found)
        return out

    def _authors(
        self, existing: IssueInfo, tick: Tick | None
    ) -> tuple[str, dict[str, str | None], str | None]:
        """(the body the ticks were read from, each ticked box -> who ticked it or None, why the
        edit history could not be read)."""
        event: tuple[str, str, str] | None = None
        covered: set[str] = set()
        if tick is not None and tick.number == existing.number and tick.after is not None:
            event = (tick.sender, tick.before, tick.after)
            covered = ticks.event_ticks(tick.before, tick.after)
        body, history, error = existing.body, {}, None
        if ticked(body) - covered:  # boxes the event does not speak for: the edit history does
            try:
                body, edits = self.gateway.body_edits(existing.number)
                history = ticks.history_ticks(body, edits, bot=self.author)
            except (AmbiguousWrite, BudgetExhausted):
                raise
            except GatewayError as exc:  # e.g. no GraphQL on an old GitHub Enterprise
                error = str(exc)  # those ticks are undone with this reason; the issue still gets out
        found = ticks.authors(body, event=event, history=history)
        return body, {k: (None if v == self.author else v) for k, v in found.items()}, error

    def _act_on_ticks(
        self,
        existing: IssueInfo,
        dashboard: Board,
        tick: Tick | None,
        prs: dict[str, PullRequestLink],
        entries: Entries,
        notes: list[str],
    ) -> str:
        """Act on every ticked box; returns the body the ticks were read from."""
        if not ticked(existing.body):
            return existing.body
        read, by, error = self._authors(existing, tick)
        permissions: dict[str, str | None] = {}
        items = {i.key: i for i in dashboard.selection.actionable()}
        for key, author in by.items():
            if author is not None and author not in permissions:
                try:
                    permissions[author] = self.gateway.permission(author)
                except (AmbiguousWrite, BudgetExhausted):
                    raise
                except GatewayError:
                    permissions[author] = None
            item, patch = items.get(key), dashboard.patches.get(key)
            verdict = ticks.judge_tick(
                author,
                permissions.get(author) if author else None,
                open_pull_requests=self.open_pull_requests,
                has_patch=item is not None and patch is not None,
                history_error=error,
            )
            if verdict.act is Act.OPEN and item is not None and patch is not None and author is not None:
                verdict = self._open(key, patch, item.test, author, prs)
            if verdict.act is Act.KEEP:
                entries.keep.add(key)
            if verdict.line:
                entries.lines[key] = verdict.line
                notes.append(f"entry {key}: {verdict.line}")
        return read

    def _open(
        self, key: str, patch: str, test: str, by: str, prs: dict[str, PullRequestLink]
    ) -> ticks.TickVerdict:
        if self.dry_run:
            return ticks.TickVerdict(Act.KEEP, "dry run: the pull request would be opened or updated")
        remaining = self.gateway.remaining
        if remaining is not None and remaining < PULL_REQUEST_REQUESTS + ISSUE_WRITE_REQUESTS:
            return ticks.TickVerdict(
                Act.KEEP, "not opened yet: this run's request budget ran short; the next run opens it"
            )
        title = f"Flaky list: {'add' if key.startswith('add-') else 'retire'} {test}"[:200]
        try:
            prs[key], skipped = self.open_pull_request(key, patch, title=title, by=by)
        except (BranchRefused, PermissionDenied) as exc:  # ticking again alone would not help
            return ticks.TickVerdict(Act.UNTICK, f"no pull request opened: {exc}")
        except FlakeBotError as exc:  # GitHub failed, the budget ran out, the base moved
            return ticks.TickVerdict(Act.KEEP, f"not opened yet ({exc}); the next run tries again")
        if skipped:  # say why the pull request is not on the entry's first branch
            return ticks.TickVerdict(Act.OPEN, "other branches left alone: " + "; ".join(skipped))
        return ticks.TickVerdict(Act.OPEN)

    # ------------------------------------------------------------------ pull requests

    def _base_head(self) -> tuple[str, str]:
        if self._base is None:
            found = self.gateway.branch_head(self.base_branch)
            if found is None:
                raise GatewayError(f"the base branch {self.base_branch!r} does not exist")
            self._base = found
        return self._base

    def open_pull_request(
        self, key: str, patch: str, *, title: str, by: str
    ) -> tuple[PullRequestLink, list[str]]:
        """A pull request from a branch the bot provably made, holding exactly `patch` on the
        base branch: the first of the entry's branch names that is free or the bot's own; and
        why the names before it were left alone."""
        gw = self.gateway
        base, tree = self._base_head()
        wanted = {
            path: apply_diff(gw.get_file_text(path, base), part) for path, part in split_diff(patch).items()
        }
        shas = {path: blob_sha(text) for path, text in wanted.items()}
        skipped = []
        message = (
            f"{title}\n\nTicked in the flaky test dashboard by {by}.\n\n{ownership.commit_marker(key)}\n"
        )
        for name in ownership.branch_names(key):
            seen = gw.compare(base, name)
            verdict = ownership.judge_branch(name, seen, gw.pulls_from(name), shas, key=key, bot=self.author)
            if verdict.step is ownership.Step.SKIP:
                skipped.append(verdict.reason)
                continue
            if verdict.step is ownership.Step.KEEP and seen is not None:
                head = seen.head_sha  # nothing written: what was just compared stands
            else:
                head = gw.make_commit(parent=base, tree=tree, files=wanted, message=message)
                if verdict.step is ownership.Step.CREATE:
                    if not self._create_branch(name, head, base):
                        skipped.append(f"{name} was created by someone else meanwhile")
                        continue
                else:
                    gw.reset_branch(name, head)  # provably ours, checked just above
                seen = gw.compare(base, name)  # what a pull request would show, right before it opens
            why = ownership.ready_to_open(seen, shas, key=key, bot=self.author, made=head)
            if why is not None:
                raise BranchRefused(f"{name}: {why}")
            if verdict.pull is not None:
                return _link(verdict.pull), skipped
            return self._create_pull(key, name, head, title, by), skipped
        raise BranchRefused("no branch is free for it: " + "; ".join(skipped))

    def _create_branch(self, name: str, head: str, base: str) -> bool:
        """Point the new branch `name` at our commit; False when the name was taken meanwhile."""
        try:
            self.gateway.create_branch(name, head)
            return True
        except GatewayError as exc:
            if exc.status != 422 and not isinstance(exc, AmbiguousWrite):
                raise
        now = self.gateway.compare(base, name)  # did our create land, or did someone else's?
        return now is not None and now.head_sha == head

    def _create_pull(self, key: str, branch: str, head: str, title: str, by: str) -> PullRequestLink:
        gw = self.gateway
        body = (
            f"{ownership.pull_marker(key)}\n"
            "Opened by flake-bot from the flaky test dashboard, where the entry was ticked by "
            f"{by} (write access checked). The patch and its evidence are in the dashboard issue.\n"
        )
        made: PullInfo | None = None
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                made = gw.create_pull(title=title, head=branch, base=self.base_branch, body=body)
                break
            except GatewayError as exc:
                mine = [p for p in gw.pulls_from(branch) if ownership.pull_is_ours(p, key, self.author)]
                made = next((p for p in mine if p.state == "open"), None)
                if made is not None:
                    break
                if not isinstance(exc, AmbiguousWrite) or attempt == CREATE_ATTEMPTS:
                    raise PublishError(f"cannot open the pull request from {branch}: {exc}") from exc
                gw.pause(attempt)
        assert made is not None
        if made.head_sha and made.head_sha != head:
            gw.close_pull(made.number)  # someone pushed between the check and the opening
            raise BranchRefused(
                f"{branch} moved as the pull request opened; closed pull request {made.number}"
            )
        return _link(made)


def _link(pull: PullInfo) -> PullRequestLink:
    return PullRequestLink(
        pull.number, pull.html_url, "closed" if pull.merged or pull.state != "open" else "open"
    )
