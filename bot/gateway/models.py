"""Records the gateway returns besides the shared ones in `bot.records`.

They carry only what the publisher and sync need, so nothing downstream depends on PyGithub
objects (which fetch lazily and would hide requests from the budget).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CommentInfo:
    """An issue/PR comment. `body` and `user_login` decide whether it is the bot's sticky comment."""

    id: int
    body: str
    user_login: str
    html_url: str


@dataclass(frozen=True)
class CheckRunInfo:
    """A check run; `external_id` (run id and attempt) is how a re-run finds it again."""

    id: int
    name: str
    external_id: str
    html_url: str
    head_sha: str
    conclusion: str | None = None
    annotations_count: int = 0


@dataclass(frozen=True)
class PullRequestInfo:
    """A pull request confirmed through the API. `title` and `head_branch` are attacker-controlled
    for fork PRs."""

    number: int
    head_sha: str
    head_repo: str | None
    head_branch: str
    base_repo: str
    html_url: str
    title: str
    state: str
