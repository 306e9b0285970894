"""The calls the dashboard makes besides the triage's: its issue, who edited it and with what
permission, and the branch, files and pull request of a ticked entry.

A subclass, so every request still goes through the one retry policy and budget. Which calls
are safe to repeat:

* every GET, `edit_issue` (PATCH sets fields), `update_ref` and `put_file` (PUT with the blob sha
  it replaces: a repeat after success is refused with 409, which the caller reads as "look");
* `create_issue`, `create_ref`, `create_pull`: NOT safe; an ambiguous failure raises
  `AmbiguousWrite` and the caller re-lists before trying again (a ref or pull request that
  exists already is refused by GitHub with 422, so those cannot be duplicated anyway).
"""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import dataclass
from typing import Any

from bot.errors import GatewayError
from bot.gateway.client import ACTIONS_READ, CONTENTS_READ, PULLS_READ, PULLS_WRITE, GitHubGateway
from bot.gateway.policy import describe

ISSUES_WRITE = "issues: write"
ISSUES_READ = "issues: read"
CONTENTS_WRITE = "contents: write"

_EDITOR_QUERY = (
    "query($owner: String!, $name: String!, $number: Int!) "
    "{ repository(owner: $owner, name: $name) { issue(number: $number) { editor { login } } } }"
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


def _pull(data: dict[str, Any]) -> PullInfo:
    head = data.get("head") if isinstance(data.get("head"), dict) else {}
    return PullInfo(
        number=int(data.get("number") or 0),
        state=str(data.get("state") or ""),
        merged=bool(data.get("merged_at") or data.get("merged")),
        html_url=str(data.get("html_url") or ""),
        head_ref=str((head or {}).get("ref") or ""),
    )


class IssueGateway(GitHubGateway):
    """GitHub for the dashboard of one repository (see the module docstring)."""

    def charge(self, requests: int) -> None:
        """Count requests another gateway made on this run's behalf (the history sync), so one
        budget bounds the whole run."""
        self._policy.requests_made += max(0, requests)

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

    def last_editor(self, number: int) -> str | None:
        """Login of whoever last edited the issue's body (None: never edited, or unknown).
        Only GraphQL tells; a scheduled run has no event saying who ticked a box."""
        owner, name = self.repo.split("/")
        variables = {"owner": owner, "name": name, "number": int(number)}
        _, data = self._policy.run(
            lambda: self._requester.graphql_query(_EDITOR_QUERY, variables),
            what="POST /graphql (issue editor)",
            permission=ISSUES_READ,
        )
        issue = (((data.get("data") or {}).get("repository") or {}).get("issue")) or {}
        editor = issue.get("editor") if isinstance(issue, dict) else None
        login = editor.get("login") if isinstance(editor, dict) else None
        return login if isinstance(login, str) else None

    def permission(self, login: str) -> str:
        """The user's permission on the repository: admin, write, read or none."""
        url = f"{self._base}/collaborators/{urllib.parse.quote(login, safe='')}/permission"
        try:
            _, data = self._call("GET", url, permission=CONTENTS_READ)
        except GatewayError as exc:
            if exc.status == 404:
                return "none"
            raise
        value = data.get("permission") if isinstance(data, dict) else None
        return value if isinstance(value, str) else "none"

    # ------------------------------------------------------------------ branches, files, pulls

    def branch_sha(self, branch: str) -> str | None:
        url = f"{self._base}/git/ref/heads/{urllib.parse.quote(branch, safe='/')}"
        try:
            _, data = self._call("GET", url, permission=CONTENTS_READ)
        except GatewayError as exc:
            if exc.status == 404:
                return None
            raise
        sha = (data.get("object") or {}).get("sha") if isinstance(data, dict) else None
        if not isinstance(sha, str):
            raise GatewayError(f"{describe('GET', url)}: no sha in the answer")
        return sha

    def create_branch(self, branch: str, sha: str) -> None:
        body = {"ref": f"refs/heads/{branch}", "sha": sha}
        self._call("POST", f"{self._base}/git/refs", body=body, permission=CONTENTS_WRITE, idempotent=False)

    def reset_branch(self, branch: str, sha: str) -> None:
        url = f"{self._base}/git/refs/heads/{urllib.parse.quote(branch, safe='/')}"
        self._call("PATCH", url, body={"sha": sha, "force": True}, permission=CONTENTS_WRITE)

    def file_at(self, path: str, ref: str) -> tuple[str, str]:
        """(text, blob sha) of a file at `ref`."""
        url = f"{self._base}/contents/{urllib.parse.quote(path.strip('/'))}"
        _, data = self._call("GET", url, params={"ref": ref}, permission=CONTENTS_READ)
        if not isinstance(data, dict) or data.get("type") != "file" or data.get("encoding") != "base64":
            raise GatewayError(f"{describe('GET', url)}: not a file the contents API returns whole")
        text = base64.b64decode(data.get("content") or "").decode("utf-8", errors="replace")
        return text, str(data.get("sha") or "")

    def put_file(self, path: str, *, branch: str, text: str, sha: str, message: str) -> None:
        url = f"{self._base}/contents/{urllib.parse.quote(path.strip('/'))}"
        body = {
            "message": message,
            "content": base64.b64encode(text.encode("utf-8")).decode("ascii"),
            "sha": sha,
            "branch": branch,
        }
        self._call("PUT", url, body=body, permission=CONTENTS_WRITE)

    def pulls_from(self, branch: str) -> list[PullInfo]:
        """Pull requests (any state) whose head is `branch` of this repository, newest first."""
        params = {"state": "all", "head": f"{self.repo.split('/')[0]}:{branch}"}
        items = self._pages(f"{self._base}/pulls", params, key=None, permission=PULLS_READ)
        return sorted((_pull(p) for p in items), key=lambda p: -p.number)

    def create_pull(self, *, title: str, head: str, base: str, body: str) -> PullInfo:
        _, data = self._call(
            "POST",
            f"{self._base}/pulls",
            body={"title": title, "head": head, "base": base, "body": body, "maintainer_can_modify": True},
            permission=PULLS_WRITE,
            idempotent=False,
        )
        return _pull(data)
