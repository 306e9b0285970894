"""The sticky pull-request comment: one per PR, found again and edited in place.

A reader should see one flake-bot comment that always describes the latest run, so the comment is
found again by a hidden marker *and* its author. The marker alone is not enough: anybody can post
a comment containing it, and the bot must never edit (or be tricked into fighting over) a comment
that is not its own.

Two triage runs of one pull request (two workflows finishing together, or a run the concurrency
group did not hold back) can each find no comment and each create one. So after creating, the bot
lists again: when two of its own exist, the oldest (the one readers saw first) takes the newest's
body and the others are deleted. Both runs do the same and end with the same one comment; a later
run that still finds several updates the oldest and deletes the rest.

The dangerous moment is a create that fails without an answer (a 5xx, a reset, a timeout): GitHub
may have created the comment anyway. The gateway then re-lists the comments and asks
`find_sticky` whether ours is already there before posting again; if it gives up, this module
looks one last time, so a comment that did land is reported rather than called a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.errors import AmbiguousWrite, GatewayError, PublishError
from bot.gateway.client import GitHubGateway
from bot.gateway.models import CommentInfo

# GitHub rejects longer bodies with 422 "Body is too long (maximum is 65536 characters)".
MAX_COMMENT_CHARS = 65536


@dataclass(frozen=True)
class CommentResult:
    """What happened to the sticky comment; `url` is empty when there is none."""

    action: str  # "created" | "updated" | "unchanged" | "not-needed"
    url: str = ""
    comment_id: int | None = None


def find_sticky(comments: Iterable[CommentInfo], marker: str, author: str) -> CommentInfo | None:
    """The bot's own comment: the oldest one by `author` whose body starts with `marker`.

    The oldest wins so that, should two ever exist, the one readers saw first keeps being the
    one updated.
    """
    for comment in comments:
        if comment.user_login == author and comment.body.startswith(marker):
            return comment
    return None


def all_sticky(comments: Iterable[CommentInfo], marker: str, author: str) -> list[CommentInfo]:
    """Every comment of ours, oldest first."""
    found = [c for c in comments if c.user_login == author and c.body.startswith(marker)]
    return sorted(found, key=lambda c: c.id)


def _one_left(
    gateway: GitHubGateway, number: int, made: CommentInfo, marker: str, author: str
) -> CommentInfo:
    """After creating `made`, list again: if another run created one too, keep the oldest with
    the newest body and delete the others, so the pull request carries one comment."""
    ours = all_sticky(gateway.list_issue_comments(number), marker, author)
    if len(ours) < 2:
        return made
    keep, newest = ours[0], ours[-1]
    if keep.body != newest.body:
        keep = gateway.edit_issue_comment(keep.id, newest.body)
    for comment in ours[1:]:
        gateway.delete_issue_comment(comment.id)
    return keep


def upsert_sticky_comment(
    gateway: GitHubGateway,
    number: int,
    render: Callable[[str | None], str],
    *,
    marker: str,
    author: str,
    create: bool = True,
) -> CommentResult:
    """Make PR `number` carry exactly one bot comment, with the body `render(previous)` returns.

    `previous` is the body of the bot's existing comment (None when there is none), so the
    renderer can carry over what it recorded there, e.g. the outcomes of earlier attempts, while
    the comment is edited in place. `create=False` updates an existing comment but never starts
    one (the "failures" mode on a green run: an old red report must not stay up, but a green PR
    needs no comment).
    """

    def checked(body: str) -> str:
        if not body.startswith(marker):
            raise ValueError("the comment body must start with the marker")
        if len(body) > MAX_COMMENT_CHARS:
            raise PublishError(
                f"comment body has {len(body):,} characters; GitHub allows {MAX_COMMENT_CHARS:,}"
            )
        return body

    def mine(comments: Iterable[CommentInfo]) -> CommentInfo | None:
        return find_sticky(comments, marker, author)

    try:
        listed = gateway.list_issue_comments(number)
        existing = mine(listed)
        if existing is not None:
            body = checked(render(existing.body))
            extra = [c for c in all_sticky(listed, marker, author) if c.id != existing.id]
            for comment in extra:  # left by two runs that overlapped before this one
                gateway.delete_issue_comment(comment.id)
            if existing.body == body:
                return CommentResult("unchanged", existing.html_url, existing.id)
            edited = gateway.edit_issue_comment(existing.id, body)
            return CommentResult("updated", edited.html_url or existing.html_url, existing.id)
        if not create:
            return CommentResult("not-needed")
        body = checked(render(None))
        try:
            made = gateway.create_issue_comment(number, body, recover=mine)
        except AmbiguousWrite:
            landed = mine(gateway.list_issue_comments(number))
            if landed is None:
                raise
            made = landed if landed.body == body else gateway.edit_issue_comment(landed.id, body)
        made = _one_left(gateway, number, made, marker, author)
        return CommentResult("created", made.html_url, made.id)
    except GatewayError as exc:
        raise PublishError(f"cannot publish the comment on pull request #{number}: {exc}") from exc
