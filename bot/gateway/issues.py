"""The calls the dashboard makes besides the triage's: its issue, who edited it and with what
permission, and the branch, files and pull request of a ticked entry.

A subclass, so every request still goes through the one retry policy and budget. Which calls
are safe to repeat:

* every GET and `edit_issue` (PATCH sets fields);
* `make_commit` (a tree and a commit object): safe, git objects are named by their content and
  one that no ref points at is never seen;
* `create_issue`, `create_ref`, `create_pull`: NOT safe; an ambiguous failure raises
  `AmbiguousWrite` and the caller re-lists before trying again (a ref or pull request that
  exists already is refused by GitHub with 422, so those cannot be duplicated anyway);
* `reset_branch` forces a ref: the caller proves the branch is its own just before.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from dataclasses import dataclass
from typing import Any

from bot.errors import GatewayError
from bot.gateway.client import ACTIONS_READ, CONTENTS_READ, PULLS_READ, PULLS_WRITE, GitHubGateway
from bot.gateway.policy import describe

ISSUES_WRITE = "issues: write"
ISSUES_READ = "issues: read"
CONTENTS_WRITE = "contents: write"

EDITS_READ = 50  # revisions of the dashboard's body read to find who ticked each box
# GitHub does not document the order of `userContentEdits`: both ends are asked for (one
# request), so the newest revisions are there whichever end they sit at.
_EDIT_FIELDS = "{ nodes { editedAt deletedAt diff editor { login } } }"
_EDITS_QUERY = (
    "query($owner: String!, $name: String!, $number: Int!) "
    "{ repository(owner: $owner, name: $name) { issue(number: $number) { body "
    f"head: userContentEdits(first: {EDITS_READ}) {_EDIT_FIELDS} "
    f"tail: userContentEdits(last: {EDITS_READ}) {_EDIT_FIELDS}"
    " } } }"
)


@dataclass(frozen=True)
class IssueInfo:
    """An issue; `body` and `user_login` decide whether it is the bot's dashboard."""

    number: int
    title: str
    body: str
    user_login: str
    state: str
    locked: bool
    html_url: str


@dataclass(frozen=True)
class PullInfo:
    number: int
    state: str  # open | closed
    merged: bool
    html_url: str
    head_ref: str
    user_login: str = ""
    body: str = ""
    head_sha: str = ""


@dataclass(frozen=True)
class BodyEdit:
    """One revision of an issue body: who saved it, when, and the body after it (None when the
    revision was deleted from the history)."""

    editor: str | None
    edited_at: str
    body: str | None


@dataclass(frozen=True)
class BranchCommit:
    sha: str
    author_login: str | None  # the GitHub user the author email maps to (anybody can claim one)
    verified: bool  # GitHub's signature, which nobody but GitHub can make
    message: str
    parents: tuple[str, ...]


@dataclass(frozen=True)
class Comparison:
    """A branch compared with a base commit: its commits not in the base (oldest first), where
    they forked, and the files that differ from there (path -> blob sha after, None when
    removed). Whether the base moved since does not matter: only the content does."""

    head_sha: str
    ahead: tuple[BranchCommit, ...]
    merge_base: str
    files: dict[str, str | None]


def _issue(data: dict[str, Any]) -> IssueInfo:
    user = data.get("user") if isinstance(data.get("user"), dict) else {}
    return IssueInfo(
        number=int(data.get("number") or 0),
        title=str(data.get("title") or ""),
        body=str(data.get("body") or ""),
        user_login=str((user or {}).get("login") or ""),
        state=str(data.get("state") or ""),
        locked=bool(data.get("locked")),
        html_url=str(data.get("html_url") or ""),
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _pull(data: dict[str, Any]) -> PullInfo:
    head = _dict(data.get("head"))
    return PullInfo(
        number=int(data.get("number") or 0),
        state=str(data.get("state") or ""),
        merged=bool(data.get("merged_at") or data.get("merged")),
        html_url=str(data.get("html_url") or ""),
        head_ref=str(head.get("ref") or ""),
        user_login=str(_dict(data.get("user")).get("login") or ""),
        body=str(data.get("body") or ""),
        head_sha=str(head.get("sha") or ""),
    )


def _commit(data: dict[str, Any]) -> BranchCommit:
    commit = _dict(data.get("commit"))
    login = _dict(data.get("author")).get("login")
    return BranchCommit(
        sha=str(data.get("sha") or ""),
        author_login=login if isinstance(login, str) else None,
        verified=_dict(commit.get("verification")).get("verified") is True,
        message=str(commit.get("message") or ""),
        parents=tuple(
            str(_dict(p).get("sha") or "") for p in data.get("parents") or () if isinstance(p, dict)
        ),
    )


def blob_sha(text: str) -> str:
    """Git's name for a file with this content: what a comparison lists for each file."""
    data = text.encode("utf-8")
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class IssueGateway(GitHubGateway):
    """GitHub for the dashboard of one repository (see the module docstring)."""

    def charge(self, requests: int) -> None:
        """Count requests another gateway made on this run's behalf (the history sync), so one
        budget bounds the whole run."""
        self._policy.requests_made += max(0, requests)

    def pause(self, attempt: int) -> None:
        """Back off before trying a create again that failed without an answer."""
        self._policy.pause(attempt)

    @property
    def remaining(self) -> int | None:
        budget = self._policy.request_budget
        return None if budget is None else max(0, budget - self._policy.requests_made)

    # ------------------------------------------------------------------ repository

    def default_branch(self) -> str:
        _, data = self._call("GET", self._base, permission=CONTENTS_READ)
        branch = data.get("default_branch") if isinstance(data, dict) else None
        if not isinstance(branch, str) or not branch:
            raise GatewayError(f"{describe('GET', self._base)}: no default branch in the answer")
        return branch

    def list_workflows(self) -> list[tuple[str, str, str]]:
        """(id, file path, display name) of every workflow of the repository (one request for
        up to 100): the dashboard finds all the workflows it watches in one listing."""
        out = []
        url = f"{self._base}/actions/workflows"
        for item in self._pages(url, None, key="workflows", permission=ACTIONS_READ):
            path, name = item.get("path"), item.get("name")
            if isinstance(path, str) and isinstance(name, str):
                out.append((str(item.get("id", "")), path, name))
        return out

    # ------------------------------------------------------------------ the issue

    def issues_by(self, author: str) -> list[IssueInfo]:
        """Issues (not pull requests) opened by `author`, open or closed, oldest first."""
        params = {"creator": author, "state": "all", "sort": "created", "direction": "asc"}
        found = [
            _issue(item)
            for item in self._pages(f"{self._base}/issues", params, key=None, permission=ISSUES_READ)
            if "pull_request" not in item
        ]
        return sorted(found, key=lambda i: i.number)

    def get_issue(self, number: int) -> IssueInfo:
        return _issue(self._call("GET", f"{self._base}/issues/{int(number)}", permission=ISSUES_READ)[1])

    def create_issue(self, title: str, body: str) -> IssueInfo:
        _, data = self._call(
            "POST",
            f"{self._base}/issues",
            body={"title": title, "body": body},
            permission=ISSUES_WRITE,
            idempotent=False,
        )
        return _issue(data)

    def edit_issue(
        self,
        number: int,
        *,
        body: str | None = None,
        state: str | None = None,
        state_reason: str | None = None,
    ) -> IssueInfo:
        fields: dict[str, Any] = {}
        if body is not None:
            fields["body"] = body
        if state is not None:
            fields["state"] = state
        if state_reason is not None:
            fields["state_reason"] = state_reason
        url = f"{self._base}/issues/{int(number)}"
        return _issue(self._call("PATCH", url, body=fields, permission=ISSUES_WRITE)[1])

    def body_edits(self, number: int) -> tuple[str, list[BodyEdit]]:
        """The issue's body now and the newest `EDITS_READ` revisions of it (in the order GitHub
        gives them), from GraphQL `userContentEdits`: only there does GitHub say who changed
        what, edit by edit."""
        owner, name = self.repo.split("/")
        variables = {"owner": owner, "name": name, "number": int(number)}
        _, data = self._policy.run(
            lambda: self._requester.graphql_query(_EDITS_QUERY, variables),
            what="POST /graphql (issue edits)",
            permission=ISSUES_READ,
        )
        issue = _dict(_dict(_dict(data.get("data")).get("repository")).get("issue"))
        ends = [_dict(issue.get(alias)).get("nodes") for alias in ("head", "tail")]
        nodes = [n for end in ends if isinstance(end, list) for n in end]
        if not isinstance(issue.get("body"), str) or not all(isinstance(end, list) for end in ends):
            raise GatewayError("POST /graphql (issue edits): no edit history in the answer")
        out: list[BodyEdit] = []
        for node in nodes:
            node = _dict(node)
            editor = _dict(node.get("editor")).get("login")
            diff = node.get("diff")
            edit = BodyEdit(
                editor if isinstance(editor, str) else None,
                str(node.get("editedAt") or ""),
                diff if isinstance(diff, str) and not node.get("deletedAt") else None,
            )
            if edit not in out:  # both ends hold it when there are fewer than EDITS_READ
                out.append(edit)
        return issue["body"], out

    def _found(self, url: str, permission: str) -> Any | None:
        """A GET's answer, or None when GitHub says there is no such thing (404): a missing
        branch, pull request or collaborator is an answer here, not an error."""
        try:
            return self._call("GET", url, permission=permission)[1]
        except GatewayError as exc:
            if exc.status == 404:
                return None
            raise

    def permission(self, login: str) -> str:
        """The user's permission on the repository: admin, write, read or none."""
        url = f"{self._base}/collaborators/{urllib.parse.quote(login, safe='')}/permission"
        data = self._found(url, CONTENTS_READ)
        value = data.get("permission") if isinstance(data, dict) else None
        return value if isinstance(value, str) else "none"

    # ------------------------------------------------------------------ branches, files, pulls

    def branch_head(self, branch: str) -> tuple[str, str] | None:
        """(commit sha, tree sha) of a branch's head, or None when there is no such branch."""
        url = f"{self._base}/branches/{urllib.parse.quote(branch, safe='/')}"
        data = self._found(url, CONTENTS_READ)
        if data is None:
            return None
        commit = _dict(_dict(data).get("commit"))
        sha, tree = commit.get("sha"), _dict(_dict(commit.get("commit")).get("tree")).get("sha")
        if not isinstance(sha, str) or not isinstance(tree, str):
            raise GatewayError(f"{describe('GET', url)}: no commit in the answer")
        return sha, tree

    def compare(self, base: str, branch: str) -> Comparison | None:
        """`branch` against the commit `base`, or None when the branch does not exist."""
        spec = f"{base}...{branch}"
        found = self._found(f"{self._base}/compare/{urllib.parse.quote(spec, safe='/.')}", CONTENTS_READ)
        if found is None:
            return None
        data = _dict(found)
        commits = tuple(_commit(c) for c in data.get("commits") or () if isinstance(c, dict))
        files: dict[str, str | None] = {}
        for f in data.get("files") or ():
            f = _dict(f)
            sha = f.get("sha")
            files[str(f.get("filename") or "")] = (
                sha if isinstance(sha, str) and f.get("status") != "removed" else None
            )
        head = commits[-1].sha if commits else str(_dict(data.get("merge_base_commit")).get("sha") or "")
        return Comparison(
            head_sha=head,
            ahead=commits,
            merge_base=str(_dict(data.get("merge_base_commit")).get("sha") or ""),
            files=files,
        )

    def make_commit(self, *, parent: str, tree: str, files: dict[str, str], message: str) -> str:
        """A commit on top of `parent` whose tree is `tree` with `files` replaced; its sha. No
        ref points at it yet, so making it twice is harmless."""
        entries = [
            {"path": p, "mode": "100644", "type": "blob", "content": t} for p, t in sorted(files.items())
        ]
        _, made = self._call(
            "POST",
            f"{self._base}/git/trees",
            body={"base_tree": tree, "tree": entries},
            permission=CONTENTS_WRITE,
        )
        body = {"message": message, "tree": _dict(made).get("sha"), "parents": [parent]}
        _, commit = self._call("POST", f"{self._base}/git/commits", body=body, permission=CONTENTS_WRITE)
        sha = _dict(commit).get("sha")
        if not isinstance(sha, str):
            raise GatewayError("POST /git/commits: no sha in the answer")
        return sha

    def create_branch(self, branch: str, sha: str) -> None:
        body = {"ref": f"refs/heads/{branch}", "sha": sha}
        self._call("POST", f"{self._base}/git/refs", body=body, permission=CONTENTS_WRITE, idempotent=False)

    def reset_branch(self, branch: str, sha: str) -> None:
        url = f"{self._base}/git/refs/heads/{urllib.parse.quote(branch, safe='/')}"
        self._call("PATCH", url, body={"sha": sha, "force": True}, permission=CONTENTS_WRITE)

    def pulls_from(self, branch: str) -> list[PullInfo]:
        """Pull requests (any state) whose head is `branch` of this repository, newest first."""
        params = {"state": "all", "head": f"{self.repo.split('/')[0]}:{branch}"}
        items = self._pages(f"{self._base}/pulls", params, key=None, permission=PULLS_READ)
        return sorted((_pull(p) for p in items), key=lambda p: -p.number)

    def pull(self, number: int) -> PullInfo | None:
        data = self._found(f"{self._base}/pulls/{int(number)}", PULLS_READ)
        return None if data is None else _pull(_dict(data))

    def close_pull(self, number: int) -> None:
        self._call(
            "PATCH", f"{self._base}/pulls/{int(number)}", body={"state": "closed"}, permission=PULLS_WRITE
        )

    def create_pull(self, *, title: str, head: str, base: str, body: str) -> PullInfo:
        _, data = self._call(
            "POST",
            f"{self._base}/pulls",
            body={"title": title, "head": head, "base": base, "body": body, "maintainer_can_modify": True},
            permission=PULLS_WRITE,
            idempotent=False,
        )
        return _pull(data)
