"""The GitHub gateway: every API call flake-bot makes, behind one retry policy and one budget.

HTTP goes through PyGithub's `Requester` (auth, GitHub Enterprise prefixes, exception mapping,
no redirect following), reached via the public `Github.requester`. Records are built from the
JSON by `convert` rather than from PyGithub's lazy objects, whose attribute access can issue
hidden requests that neither the budget nor the retry policy would see. Paging follows the
`Link: rel="next"` URLs GitHub returns, one request per page, each retried on its own.

Which calls are safe to repeat (see docs/gateway.md):

* every GET;
* `edit_issue_comment` and `update_check_run` without annotations (PATCH sets fields: the
  same PATCH twice leaves the same state);
* `delete_issue_comment`: safe (a repeat finds it gone: 404, taken as done);
* `create_issue_comment`: NOT safe. After an ambiguous failure it re-lists the comments and
  asks the caller's `recover` function whether the comment is already there; without one it
  raises `AmbiguousWrite`;
* `create_check_run`: made safe here by looking for the `external_id` before posting again;
* `update_check_run` with annotations: annotations are appended, so after an ambiguous
  failure the check run's `annotations_count` decides whether the batch landed.

About 500 lines, as one module on purpose: every call and the retry policy around it are
read together when checking which calls are safe to repeat.
"""

from __future__ import annotations

import base64
import math
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import requests
from github import Auth, Github

from bot.errors import AmbiguousWrite, GatewayError, InputError, LogUnavailable
from bot.gateway import convert
from bot.gateway.download import LogDownload, open_log
from bot.gateway.models import CheckRunInfo, CommentInfo, PullRequestInfo
from bot.gateway.policy import MalformedAnswer, RetryPolicy, describe
from bot.records import JobInfo, RunInfo

Json = dict[str, Any]

PER_PAGE = 100
ANNOTATIONS_PER_REQUEST = 50  # the Checks API refuses more in one request

ACTIONS_READ = "actions: read"
CHECKS_WRITE = "checks: write"
PULLS_WRITE = "pull-requests: write"
PULLS_READ = "pull-requests: read"
CONTENTS_READ = "contents: read"

_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


def next_link(header: str | None) -> str | None:
    """The `rel="next"` URL of a `Link` header, if any."""
    match = _NEXT.search(header or "")
    return match.group(1) if match else None


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An explicit no-op auth stops `requests` from adding ~/.netrc credentials to blob requests."""
    return request


@dataclass
class _CheckOutput:
    """What we last saw of a check run's output: PATCHes need title and summary, and the
    annotation count tells whether an ambiguous append landed."""

    title: str
    summary: str
    annotations_count: int


class GitHubGateway:
    """GitHub for one repository. `requests_made` counts every HTTP request (API and blob)."""

    def __init__(
        self,
        repo: str,
        *,
        token: str | None,
        api_url: str = "https://api.github.com",
        timeout: float = 30.0,
        max_attempts: int = 5,
        max_wait_total: float = 300.0,
        request_budget: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        download_limit: float = 300.0,
    ) -> None:
        if not _REPO.fullmatch(repo):
            raise InputError(f"repository must look like OWNER/NAME, got {repo[:100]!r}")
        if not api_url.startswith(("https://", "http://")):
            raise InputError(f"GitHub API URL must start with https:// or http://, got {api_url[:100]!r}")
        self.repo = repo
        self._timeout = timeout
        self._download_limit = download_limit  # wall time of one log download: `timeout` is per read
        self._github = Github(
            auth=Auth.Token(token) if token else None,
            base_url=api_url.rstrip("/"),
            timeout=max(1, math.ceil(timeout)),  # PyGithub insists on whole seconds
            per_page=PER_PAGE,
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
            lazy=True,
        )
        self._requester = self._github.requester
        self._policy = RetryPolicy(
            max_attempts=max_attempts,
            max_wait_total=max_wait_total,
            request_budget=request_budget,
            sleep=sleep,
        )
        self._blob_session = requests.Session()
        self._blob_session.auth = _no_auth
        self._base = f"/repos/{repo}"
        self._outputs: dict[int, _CheckOutput] = {}

    @property
    def requests_made(self) -> int:
        return self._policy.requests_made

    def close(self) -> None:
        self._blob_session.close()
        self._github.close()

    def __enter__(self) -> GitHubGateway:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def _call(
        self,
        verb: str,
        url: str,
        *,
        params: Json | None = None,
        body: Json | None = None,
        permission: str,
        idempotent: bool = True,
    ) -> tuple[dict[str, Any], Any]:

        def send() -> tuple[dict[str, Any], Any]:
            headers, data = self._requester.requestJsonAndCheck(verb, url, parameters=params, input=body)
            # PyGithub wraps a non-JSON body as {"data": text} (plus "url" on GETs); a proxy's
            # error page is not an answer.
            wrapped = (
                isinstance(data, dict) and isinstance(data.get("data"), str) and set(data) <= {"data", "url"}
            )
            if wrapped or not isinstance(data, dict | list):
                raise MalformedAnswer(f"{describe(verb, url)}: not a JSON answer")
            return headers, data

        return self._policy.run(
            send,
            what=describe(verb, url),
            idempotent=idempotent,
            permission=permission,
        )

    def _pages(self, url: str, params: Json | None, *, key: str | None, permission: str) -> Iterator[Json]:
        """Items of a listing, fetched lazily page by page along `Link: rel="next"`."""
        next_url: str | None = url
        next_params: Json | None = {**(params or {}), "per_page": PER_PAGE}
        while next_url:
            headers, data = self._call("GET", next_url, params=next_params, permission=permission)
            items = data.get(key) if key and isinstance(data, dict) else data
            if not isinstance(items, list):
                raise GatewayError(f"{describe('GET', next_url)}: unexpected answer shape")
            yield from (item for item in items if isinstance(item, dict))
            next_url, next_params = next_link(headers.get("link")), None  # the next URL carries the query

    # ------------------------------------------------------------------ runs and jobs

    def list_jobs(
        self, run_id: int, *, attempt: int | None = None, all_attempts: bool = False
    ) -> list[JobInfo]:
        """Jobs of the latest attempt (default), of one `attempt`, or of every attempt."""
        url = f"{self._base}/actions/runs/{int(run_id)}"
        params: Json | None = None
        if attempt is not None:
            url += f"/attempts/{int(attempt)}/jobs"
        else:
            url += "/jobs"
            params = {"filter": "all" if all_attempts else "latest"}
        return [convert.job_info(j) for j in self._pages(url, params, key="jobs", permission=ACTIONS_READ)]

    def iter_runs(
        self,
        workflow: str,
        *,
        branch: str | None = None,
        event: str | None = None,
        created: str | None = None,
    ) -> Iterator[RunInfo]:
        """Runs of `workflow` (file name or id), newest first, one page fetched at a time so a
        sync that stops at the first known run spends no request on older pages.

        GitHub returns at most 1,000 runs when any filter is given.
        """
        url = f"{self._base}/actions/workflows/{urllib.parse.quote(workflow, safe='')}/runs"
        params = {k: v for k, v in (("branch", branch), ("event", event), ("created", created)) if v}
        for data in self._pages(url, params, key="workflow_runs", permission=ACTIONS_READ):
            yield convert.run_info(data)

    def job_log(self, job_id: int, *, max_bytes: int, time_limit: float | None = None) -> LogDownload:
        """Start streaming a job's log. Raises `LogUnavailable` (status 410: expired, 404: none).
        The download ends with a `GatewayError` once it has taken the gateway's `download_limit`
        or `time_limit` seconds, the shorter, however steadily its bytes come."""
        url = f"{self._base}/actions/jobs/{int(job_id)}/logs"

        def locate() -> str:
            headers, _ = self._policy.run(
                lambda: self._requester.requestBlobAndCheck("GET", url),
                what=describe("GET", url),
                permission=ACTIONS_READ,
                unavailable=LogUnavailable,
            )
            location = headers.get("location")
            if not isinstance(location, str):
                raise GatewayError(f"{describe('GET', url)}: no redirect to the log")
            return location

        return open_log(
            locate,
            session=self._blob_session,
            policy=self._policy,
            timeout=self._timeout,
            max_bytes=max_bytes,
            time_limit=self._download_limit if time_limit is None else min(time_limit, self._download_limit),
        )

    # ------------------------------------------------------------------ pull requests

    def find_pull_request(self, run: RunInfo, base_repo: str) -> PullRequestInfo | None:
        """The open PR whose head is exactly this run's commit, or None.

        Nothing from the event is trusted alone: a listed PR is used only if it names this
        head sha and base repository, and is then confirmed through the API. Fork PRs (whose
        list is empty) are looked up by `head_owner:branch` and confirmed by head sha, which
        also rejects a PR that was force-pushed since the run.
        """

        def confirmed(pr: PullRequestInfo) -> bool:
            return (
                pr.head_sha == run.head_sha
                and pr.base_repo.lower() == base_repo.lower()
                and (run.head_repo is None or (pr.head_repo or "").lower() == run.head_repo.lower())
            )

        for ref in run.pull_requests:
            if ref.head_sha != run.head_sha or (ref.base_repo or "").lower() != base_repo.lower():
                continue
            _, data = self._call("GET", f"{self._base}/pulls/{int(ref.number)}", permission=PULLS_READ)
            pr = convert.pull_request_info(data)
            if confirmed(pr):
                return pr
        if not run.head_repo or not run.branch:
            return None
        head = f"{run.head_repo.split('/')[0]}:{run.branch}"
        for data in self._pages(
            f"{self._base}/pulls", {"state": "open", "head": head}, key=None, permission=PULLS_READ
        ):
            pr = convert.pull_request_info(data)
            if confirmed(pr):
                return pr
        return None

    # ------------------------------------------------------------------ comments

    def list_issue_comments(self, number: int) -> list[CommentInfo]:
        url = f"{self._base}/issues/{int(number)}/comments"
        return [convert.comment_info(c) for c in self._pages(url, None, key=None, permission=PULLS_READ)]

    def create_issue_comment(
        self,
        number: int,
        body: str,
        *,
        recover: Callable[[list[CommentInfo]], CommentInfo | None] | None = None,
    ) -> CommentInfo:
        """Post a comment. A POST that failed ambiguously (5xx, reset, timeout) may have created
        it; with `recover` (which picks the caller's own comment from a fresh listing, e.g. by
        marker and author) the gateway looks before posting again and edits what it finds to
        `body`; without it `AmbiguousWrite` is raised."""
        url = f"{self._base}/issues/{int(number)}/comments"
        attempt = 1
        while True:
            try:
                _, data = self._call(
                    "POST", url, body={"body": body}, permission=PULLS_WRITE, idempotent=False
                )
                return convert.comment_info(data)
            except AmbiguousWrite:
                if recover is None or attempt >= self._policy.max_attempts:
                    raise
            self._policy.pause(attempt)
            found = recover(self.list_issue_comments(number))
            if found is not None:
                return found if found.body == body else self.edit_issue_comment(found.id, body)
            attempt += 1

    def edit_issue_comment(self, comment_id: int, body: str) -> CommentInfo:
        url = f"{self._base}/issues/comments/{int(comment_id)}"
        _, data = self._call("PATCH", url, body={"body": body}, permission=PULLS_WRITE)
        return convert.comment_info(data)

    def delete_issue_comment(self, comment_id: int) -> None:
        """Delete a comment; one already gone (another run deleted it first) is no error."""
        url = f"{self._base}/issues/comments/{int(comment_id)}"
        try:
            self._policy.run(
                lambda: self._requester.requestJsonAndCheck("DELETE", url),
                what=describe("DELETE", url),
                permission=PULLS_WRITE,
            )
        except GatewayError as exc:
            if exc.status != 404:
                raise

    # ------------------------------------------------------------------ check runs

    def _seen(self, data: Json) -> CheckRunInfo:
        info = convert.check_run_info(data)
        output = data.get("output")
        if not isinstance(output, dict):
            output = {}
        self._outputs[info.id] = _CheckOutput(
            title=output.get("title") or "",
            summary=output.get("summary") or "",
            annotations_count=info.annotations_count,
        )
        return info

    def list_check_runs(self, head_sha: str, name: str) -> list[CheckRunInfo]:
        url = f"{self._base}/commits/{urllib.parse.quote(head_sha, safe='')}/check-runs"
        params = {"check_name": name, "filter": "all"}
        return [self._seen(c) for c in self._pages(url, params, key="check_runs", permission=CHECKS_WRITE)]

    def create_check_run(
        self,
        *,
        name: str,
        head_sha: str,
        external_id: str,
        details_url: str | None,
        conclusion: str,
        title: str,
        summary: str,
        text: str,
        annotations: list[dict[str, Any]],
    ) -> CheckRunInfo:
        """Create a completed check run with all `annotations` (posted 50 per request).

        Call it only when `list_check_runs` found none with this `external_id`: after an
        ambiguous failure the gateway takes a check run with that id as its own creation.
        """
        body: Json = {
            "name": name,
            "head_sha": head_sha,
            "external_id": external_id,
            "conclusion": conclusion,
            "output": {
                "title": title,
                "summary": summary,
                "text": text,
                "annotations": annotations[:ANNOTATIONS_PER_REQUEST],
            },
        }
        if details_url:
            body["details_url"] = details_url
        created = self._post_check_run(body)
        rest = annotations[ANNOTATIONS_PER_REQUEST:]
        return self.update_check_run(created.id, annotations=rest) if rest else created

    def _post_check_run(self, body: Json) -> CheckRunInfo:
        attempt = 1
        while True:
            try:
                _, data = self._call(
                    "POST", f"{self._base}/check-runs", body=body, permission=CHECKS_WRITE, idempotent=False
                )
                return self._seen(data)
            except AmbiguousWrite:
                if attempt >= self._policy.max_attempts:
                    raise
            self._policy.pause(attempt)
            mine = [
                c
                for c in self.list_check_runs(body["head_sha"], body["name"])
                if c.external_id == body["external_id"]
            ]
            if mine:
                return max(mine, key=lambda c: c.id)
            attempt += 1

    def update_check_run(
        self,
        check_run_id: int,
        *,
        conclusion: str | None = None,
        title: str | None = None,
        summary: str | None = None,
        text: str | None = None,
        annotations: list[dict[str, Any]] | None = None,
    ) -> CheckRunInfo:
        """Change fields and append `annotations` (50 per request; each batch repeats the
        title and summary, which GitHub requires with any output)."""
        check_run_id = int(check_run_id)
        url = f"{self._base}/check-runs/{check_run_id}"
        notes = annotations or []
        batches = [
            notes[i : i + ANNOTATIONS_PER_REQUEST] for i in range(0, len(notes), ANNOTATIONS_PER_REQUEST)
        ] or [[]]
        wants_output = any(v is not None for v in (title, summary, text)) or bool(annotations)
        if wants_output and (title is None or summary is None) and check_run_id not in self._outputs:
            self._seen(self._call("GET", url, permission=CHECKS_WRITE)[1])
        info: CheckRunInfo | None = None
        for index, batch in enumerate(batches):
            body: Json = {}
            if index == 0 and conclusion is not None:
                body["conclusion"] = conclusion
            if wants_output:
                known = self._outputs.get(check_run_id)
                output: Json = {
                    "title": title if title is not None else (known.title if known else ""),
                    "summary": summary if summary is not None else (known.summary if known else ""),
                }
                if index == 0 and text is not None:
                    output["text"] = text
                if batch:
                    output["annotations"] = batch
                body["output"] = output
            info = self._patch_check_run(url, check_run_id, body, appended=len(batch))
        assert info is not None
        return info

    def _patch_check_run(self, url: str, check_run_id: int, body: Json, *, appended: int) -> CheckRunInfo:
        if not appended:
            return self._seen(self._call("PATCH", url, body=body, permission=CHECKS_WRITE)[1])
        attempt = 1
        while True:
            before = self._outputs.get(check_run_id)
            try:
                _, data = self._call("PATCH", url, body=body, permission=CHECKS_WRITE, idempotent=False)
                return self._seen(data)
            except AmbiguousWrite:
                if before is None or attempt >= self._policy.max_attempts:
                    raise
            self._policy.pause(attempt)
            now = self._seen(self._call("GET", url, permission=CHECKS_WRITE)[1])
            if now.annotations_count == before.annotations_count + appended:
                return now  # the batch landed despite the error
            if now.annotations_count != before.annotations_count:
                raise AmbiguousWrite(
                    f"{describe('PATCH', url)}: annotation count changed unexpectedly "
                    f"({before.annotations_count} -> {now.annotations_count})"
                )
            attempt += 1

    # ------------------------------------------------------------------ repository files

    def get_file_text(self, path: str, ref: str) -> str:
        """A text file at `ref` (branch, tag or sha), e.g. `tools/ci.sh` as it was on a date."""
        url = f"{self._base}/contents/{urllib.parse.quote(path.strip('/'))}"
        _, data = self._call("GET", url, params={"ref": ref}, permission=CONTENTS_READ)
        if not isinstance(data, dict) or data.get("type") != "file":
            raise GatewayError(f"{describe('GET', url)}: not a file")
        if data.get("encoding") != "base64":
            raise GatewayError(f"{describe('GET', url)}: file too large for the contents API")
        return base64.b64decode(data.get("content") or "").decode("utf-8", errors="replace")

    def list_tree_paths(self, ref: str, prefix: str) -> list[str]:
        """Paths of the files under `prefix` at `ref`, from one recursive tree request."""
        url = f"{self._base}/git/trees/{urllib.parse.quote(ref, safe='')}"
        _, data = self._call("GET", url, params={"recursive": "1"}, permission=CONTENTS_READ)
        if data.get("truncated"):
            raise GatewayError(f"{describe('GET', url)}: tree too large, GitHub truncated it")
        return sorted(
            e["path"]
            for e in data.get("tree") or ()
            if isinstance(e, dict) and e.get("type") == "blob" and str(e.get("path", "")).startswith(prefix)
        )
