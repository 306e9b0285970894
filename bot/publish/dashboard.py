"""The dashboard issue and the pull requests its checkboxes ask for.

One issue per repository, found again by the hidden marker at the start of its body *and* its
author, like the sticky comment (`bot.publish.comment`): anybody can write the marker, and the
bot must never edit an issue it did not open. Two overlapping runs can each find none and
create one; so after creating, the bot lists again, keeps the oldest, and closes the one it
made if it is not that one (the other run, listing after its own create, sees the same two
and keeps the same oldest). A locked issue is left alone: maintainers lock an issue to stop
it changing. A closed one is still updated (editing sends no notification) but not reopened.

A ticked box is honoured only when the person who ticked it may write to the repository: on
an `issues: edited` event, the boxes that the event's sender ticked in that edit; on a
scheduled or manual run, the ticked boxes when the body's last editor (GraphQL; the REST API
does not say) has write access. The bot writes every box unticked, so a tick left in the body
is always somebody's. Each entry gets one branch (`flake-bot/<entry id>`) and at most one pull
request: an open one is updated, a closed or merged one is never replaced.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.dashboard.build import Board
from bot.dashboard.render import MARKER, PullRequestLink
from bot.errors import AmbiguousWrite, BudgetExhausted, FlakeBotError, GatewayError, PublishError
from bot.gateway.issues import IssueGateway, IssueInfo

TITLE = "Flaky test dashboard"
BOX = re.compile(r"^- \[([ xX])\] <!-- flake-bot-pr:((?:add|retire)-[0-9a-f]{12})(?: pr:(\d+))? -->", re.M)
WRITERS = ("admin", "maintain", "write")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Tick:
    """An `issues: edited` event: who edited which issue, and its body before the edit."""

    number: int
    sender: str
    before: str

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
        before = body.get("from") if isinstance(body, dict) else issue.get("body")  # title edit: no change
        return cls(number, login, before if isinstance(before, str) else "")


def boxes(body: str) -> dict[str, tuple[bool, int | None]]:
    """Entry id -> (ticked, pull request number recorded) for every checkbox the bot wrote."""
    return {
        m.group(2): (m.group(1) != " ", int(m.group(3)) if m.group(3) else None) for m in BOX.finditer(body)
    }


def ticked(body: str) -> set[str]:
    return {key for key, (on, _) in boxes(body).items() if on}


def may_act(permission: str) -> bool:
    return permission in WRITERS


def candidate_ticks(
    body: str, number: int, tick: Tick | None, last_editor: str | None
) -> tuple[set[str], str | None]:
    """(entry ids to act on if `actor` may write, actor). With an event for this issue: the boxes
    its sender ticked in that edit; otherwise every ticked box, on the last editor's authority."""
    now = ticked(body)
    if tick is not None and tick.number == number:
        return now - ticked(tick.before), tick.sender
    return now, last_editor


@dataclass
class Outcome:
    action: str  # created | updated | unchanged | locked | dry-run
    url: str
    body: str
    prs: dict[str, PullRequestLink] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class PatchDoesNotApply(FlakeBotError):
    """The file changed between writing the patch and applying it: the next run rewrites it."""


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

    def mine(self, issues: Iterable[IssueInfo]) -> list[IssueInfo]:
        return [i for i in issues if i.user_login == self.author and i.body.startswith(MARKER)]

    def publish(
        self,
        render: Callable[[Mapping[str, PullRequestLink]], str],
        dashboard: Board,
        *,
        tick: Tick | None = None,
    ) -> Outcome:
        try:
            return self._publish(render, dashboard, tick)
        except GatewayError as exc:
            raise PublishError(f"cannot publish the dashboard issue: {exc}") from exc

    def _publish(
        self, render: Callable[[Mapping[str, PullRequestLink]], str], dashboard: Board, tick: Tick | None
    ) -> Outcome:
        ours = self.mine(self.gateway.issues_by(self.author))
        existing = ours[0] if ours else None
        notes: list[str] = []
        if existing is not None and existing.locked:
            body = render({})
            notes.append(f"dashboard issue #{existing.number} is locked: left as it is (unlock it to resume)")
            return Outcome("locked", existing.html_url, body, {}, notes)
        prs = self._known_prs(existing, dashboard)
        if existing is not None:
            prs.update(self._act_on_ticks(existing, dashboard, tick, prs, notes))
        body = render(prs)
        if self.dry_run:
            where = f"update #{existing.number}" if existing else "create a new issue"
            notes.append(f"dry run: would {where}")
            return Outcome("dry-run", existing.html_url if existing else "", body, prs, notes)
        if existing is not None:
            for extra in ours[1:]:
                self._close_duplicate(extra, existing, notes)
            if existing.state == "closed":
                notes.append(f"dashboard issue #{existing.number} is closed: updated, left closed")
            if existing.body == body:
                return Outcome("unchanged", existing.html_url, body, prs, notes)
            try:
                edited = self.gateway.edit_issue(existing.number, body=body)
                return Outcome("updated", edited.html_url or existing.html_url, body, prs, notes)
            except GatewayError as exc:
                if exc.status not in (404, 410):
                    raise
                notes.append(f"dashboard issue #{existing.number} is gone ({exc.status}): creating a new one")
        return self._create(body, prs, notes)

    def _create(self, body: str, prs: dict[str, PullRequestLink], notes: list[str]) -> Outcome:
        try:
            made: IssueInfo | None = self.gateway.create_issue(TITLE, body)
        except AmbiguousWrite:
            made = None  # it may exist: the listing below decides
        ours = self.mine(self.gateway.issues_by(self.author))
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

    # ------------------------------------------------------------------ pull requests

    def _known_prs(self, existing: IssueInfo | None, dashboard: Board) -> dict[str, PullRequestLink]:
        """Pull requests recorded in the body for entries still listed, with their state now."""
        if existing is None:
            return {}
        listed = {i.key for i in dashboard.selection.actionable()}
        out = {}
        for key, (_, number) in boxes(existing.body).items():
            if number is None or key not in listed:
                continue
            found = next((p for p in self.gateway.pulls_from(branch_of(key)) if p.number == number), None)
            if found is not None:
                state = "merged" if found.merged else found.state
                out[key] = PullRequestLink(
                    found.number, found.html_url, "closed" if state == "merged" else state
                )
        return out

    def _act_on_ticks(
        self,
        existing: IssueInfo,
        dashboard: Board,
        tick: Tick | None,
        prs: Mapping[str, PullRequestLink],
        notes: list[str],
    ) -> dict[str, PullRequestLink]:
        if not ticked(existing.body):
            return {}
        editor = None
        try:
            if tick is None or tick.number != existing.number:
                editor = self.gateway.last_editor(existing.number)
            keys, actor = candidate_ticks(existing.body, existing.number, tick, editor)
            if not keys:
                return {}
            if actor is None or actor == self.author:
                notes.append("ticked boxes ignored: who ticked them is unknown")
                return {}
            permission = self.gateway.permission(actor)
        except (AmbiguousWrite, BudgetExhausted):
            raise
        except GatewayError as exc:  # e.g. no GraphQL on an old GitHub Enterprise: the issue still gets out
            notes.append(f"ticked boxes ignored: who ticked them could not be checked ({exc})")
            return {}
        if not may_act(permission):
            notes.append(f"ticked boxes ignored: {actor} has {permission} access, not write")
            return {}
        if not self.open_pull_requests:
            notes.append("ticked boxes ignored: opening pull requests is off (input open-pull-requests)")
            return {}
        items = {i.key: i for i in dashboard.selection.actionable()}
        out: dict[str, PullRequestLink] = {}
        for key in sorted(keys):
            item = items.get(key)
            patch = dashboard.patches.get(key)
            if item is None or patch is None:
                notes.append(f"ticked entry {key} is no longer listed or has no patch: nothing opened")
                continue
            known = prs.get(key)
            if known is not None and known.state != "open":
                notes.append(f"entry {key}: pull request {known.number} was closed; not opening another")
                continue
            if self.dry_run:
                notes.append(f"dry run: would open or update the pull request for {key}")
                continue
            title = f"Flaky list: {'add' if key.startswith('add-') else 'retire'} {item.test}"
            try:
                out[key] = self.open_pull_request(key, patch, title=title[:200], by=actor)
            except (PatchDoesNotApply, GatewayError) as exc:
                notes.append(f"entry {key}: pull request not opened: {exc}")
        return out

    def open_pull_request(self, key: str, patch: str, *, title: str, by: str) -> PullRequestLink:
        """Make branch `flake-bot/<key>` the base branch plus `patch` and one open pull request
        from it; an existing open one is updated, a closed one is never replaced."""
        gw = self.gateway
        branch = branch_of(key)
        pulls = gw.pulls_from(branch)
        for pull in pulls:
            if pull.state != "open":
                return PullRequestLink(pull.number, pull.html_url, "closed")
        open_pull = pulls[0] if pulls else None
        base_sha = gw.branch_sha(self.base_branch)
        if base_sha is None:
            raise PublishError(f"the base branch {self.base_branch!r} does not exist")
        wanted = {
            path: apply_diff(gw.file_at(path, self.base_branch)[0], part)
            for path, part in split_diff(patch).items()
        }
        head_sha = gw.branch_sha(branch)
        if head_sha is None:
            try:
                gw.create_branch(branch, base_sha)
            except GatewayError as exc:
                if exc.status != 422 and not isinstance(exc, AmbiguousWrite):  # 422: it exists already
                    raise
        current = {path: gw.file_at(path, branch) for path in wanted}
        if any(current[p][0] != text for p, text in wanted.items()):
            if head_sha is not None and head_sha != base_sha:
                gw.reset_branch(branch, base_sha)  # our own branch: start again from the base
                current = {path: gw.file_at(path, branch) for path in wanted}
            for path, text in wanted.items():
                if current[path][0] != text:
                    gw.put_file(path, branch=branch, text=text, sha=current[path][1], message=title)
        if open_pull is None:
            body = (
                "Opened by flake-bot from the flaky test dashboard, where the entry was ticked by "
                f"{by} (write access checked). The patch and its evidence are in the dashboard issue."
            )
            try:
                open_pull = gw.create_pull(title=title, head=branch, base=self.base_branch, body=body)
            except GatewayError as exc:
                found = [p for p in gw.pulls_from(branch) if p.state == "open"]
                if not found:
                    raise PublishError(f"cannot open the pull request from {branch}: {exc}") from exc
                open_pull = found[0]
        return PullRequestLink(open_pull.number, open_pull.html_url, "open")


def branch_of(key: str) -> str:
    return f"flake-bot/{key}"
