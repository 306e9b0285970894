"""A stateful fake of the GitHub REST endpoints flake-bot uses, served on a real socket.

Tests talk real HTTP to it through PyGithub and `requests`, so what is exercised is what
production does: absolute URLs in payloads, `Link` pagination, the 302 from the job-log
endpoint to a blob host that must not see the token, rate-limit headers, and faults injected
per request. Every request is recorded (`fake.requests`) so tests assert on what GitHub
*received*, never on internal calls.

One HTTP server is shared by the whole test session; each test gets a fresh `FakeGitHub` state
bound to it. The server speaks HTTP/1.1 and keeps connections alive, as GitHub's API does
(`_KeepAliveHandler`), so a gateway makes all its requests over one or two connections.

Quick reference (see the method docstrings for details):

    fake.api_url, fake.repo, fake.web_url, fake.prefix = "/api/v3" (GitHub Enterprise), fake.token
    fake.add_workflow(file, name) -> dict
    fake.add_run(...) -> dict            fake.add_attempt(run_id, conclusion=...) -> dict
    fake.add_job(run_id, name, conclusion, log=bytes|str|"expired"|"missing", runner=..., attempt=...)
    fake.new_job(...) -> int             (add_job without rendering the job's JSON: its id)
    fake.add_pull(...) -> dict           fake.add_comment(number, body, user=...) -> dict
    fake.comments(number) -> list[dict]  fake.check_runs(head_sha=None, name=None) -> list[dict]
    fake.add_file(path, text, ref=...)   fake.workflow_run_event(run_id) -> dict
    fake.fail(method, path_regex, status, headers=None, body=None, times=1, apply=False)
    fake.rate_limit(method, path_regex, kind="secondary"|"primary"|"429", retry_after=..., times=1)
    fake.deny(method, path_regex, permission="checks=write", times=None)
    fake.reset_connection(method, path_regex, times=1, apply=False, garbage=b"")
    fake.cut_body(method, path_regex, after_bytes, times=1)
    fake.delay(method, path_regex, seconds, times=1)
    fake.clear_faults()                  (every fault still pending is forgotten)
    fake.meanwhile(method, path_regex, action, after=False, times=1)  (someone acts at that moment)
    fake.trickle(method, path_regex, seconds, times=1)   (the body a byte every `seconds`)
    fake.expire_blob_urls()
    fake.requests, fake.requests_to(method, path_regex), fake.api_requests()

Outside pytest (benchmarks): `with running_fake() as fake: ...`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import logging
import re
import socket
import threading
import traceback
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from helpers import stable_id
from pytest_httpserver import HTTPServer
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

BOM = b"\xef\xbb\xbf"
BLOB_PREFIX = "/_blob/"
BOT_LOGIN = "github-actions[bot]"
DOCS = "https://docs.github.com/rest"

JSONDict = dict[str, Any]


@dataclass
class RecordedRequest:
    """What the fake server received; `headers` keys are lower-cased.

    `path` is the API path without the GitHub Enterprise prefix (if the fake has one), so
    assertions read the same either way; `raw_path` is exactly what arrived.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    body: bytes
    raw_path: str = ""

    @property
    def is_blob(self) -> bool:
        return self.path.startswith(BLOB_PREFIX)


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    times: int | None  # None = forever
    kind: str  # "respond" | "reset" | "delay" | "cut" | "together" | "trickle"
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0
    cut_after: int = 0
    apply: bool = False  # perform the request's effect before failing (GitHub sometimes does)
    barrier: threading.Barrier | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and self.pattern.search(path) is not None


def _iso(m: datetime) -> str:
    """GitHub's `2026-04-01T08:00:00Z`. Formatted by hand: a job's JSON holds thirteen of these,
    and the acceptance test's 12,075 jobs spent a third of their seeding in `isoformat`."""
    if m.utcoffset():
        m = m.astimezone(UTC)
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}Z"


def _as_datetime(value: datetime | str | None, default: datetime) -> datetime:
    if value is None:
        return default
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _default_body(status: int) -> bytes:
    messages = {
        403: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        404: "Not Found",
        410: "Server Error",
        422: "Validation Failed",
        429: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
    }
    if status in (502, 503, 504):
        return b"<html><body><h1>502 Bad Gateway</h1>Server got itself in trouble</body></html>"
    return json.dumps({"message": messages.get(status, "Server Error"), "documentation_url": DOCS}).encode()


CLOSE_AFTER = "fake.close_after"  # environ key: this answer must end its connection
TRICKLE = "fake.trickle"  # environ key: (seconds, stop event): send the body a byte at a time


class _KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1 with keep-alive, so clients reuse their connection as they do with GitHub's API.

    Werkzeug's own `run_wsgi` ends every answer with `Connection: close`, then reads whatever
    the client sends in the next 10 ms and throws it away: with keep-alive that would be the next
    request. It could do nothing else, as it cannot know the application read the request body;
    the fake always reads it whole (`FakeGitHub.handle`), so this answers each request and keeps
    the connection, except where a fault must end it (a body cut short of its Content-Length, a
    reset). Closing every connection cost each request a TCP connect, a server thread and a new
    urllib3 connection, about a third of an end-to-end test's time.
    """

    protocol_version = "HTTP/1.1"
    # The headers and the body are two writes: with Nagle's algorithm on a kept connection the
    # body waits for the client's delayed ACK of the headers, 40 ms a request.
    disable_nagle_algorithm = True

    def run_wsgi(self) -> None:
        environ = self.make_environ()
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return None

        try:
            body = b"".join(self.server.app(environ, start_response))
            status, headers = started
            code, _, reason = status.partition(" ")
            self.send_response(int(code), reason)
            for name, value in headers:
                self.send_header(name, value)
            if not any(name.lower() == "content-length" for name, _ in headers):
                self.send_header("Content-Length", str(len(body)))
            if environ.get(CLOSE_AFTER):
                self.send_header("Connection", "close")  # also sets self.close_connection
            self.end_headers()
            if environ.get(TRICKLE) and self.command != "HEAD":
                seconds, stop = environ[TRICKLE]
                for i in range(len(body)):
                    if stop.wait(seconds):  # the fake is closing: the test is over
                        self.close_connection = True
                        return
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
            elif self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:  # the client went away (it timed out, or a fault reset the socket)
            self.close_connection = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """No access log: werkzeug formats a line per request only for the logger to drop it."""


class _QuickStopServer(HTTPServer):
    """Stops in a few milliseconds: `serve_forever` polls for shutdown every 0.5 s by default,
    which every xdist worker (and every benchmark) paid in full when the session ended."""

    def thread_target(self) -> None:
        assert self.server is not None
        self.server.serve_forever(poll_interval=0.02)


class FakeServer:
    """The session-wide socket; dispatches each request to whichever `FakeGitHub` is current."""

    def __init__(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request is noise
        self.http = _QuickStopServer(host="127.0.0.1", port=0, threaded=True)
        self.http.expect_request(re.compile(".*")).respond_with_handler(self._dispatch)
        self.current: FakeGitHub | None = None

    def start(self) -> None:
        self.http.start()
        assert self.http.server is not None
        self.http.server.RequestHandlerClass = _KeepAliveHandler

    def stop(self) -> None:
        self.http.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http.port}"

    @contextlib.contextmanager
    def serving(self, repo: str = "micropython/micropython") -> Iterator[FakeGitHub]:
        """A fresh `FakeGitHub` answering on this server for the block. After it, the server
        answers 503 again and the fake's delayed handlers are woken, so no thread is left asleep."""
        fake = FakeGitHub(self, repo)
        self.current = fake
        self.http.clear_log()
        try:
            yield fake
        finally:
            self.current = None
            fake.close()

    def _dispatch(self, request: Request) -> Response:
        fake = self.current
        if fake is None:
            return Response("no fake GitHub is active", status=503)
        return fake.handle(request)


class FakeGitHub:
    """State and behaviour of one fake GitHub; fresh for every test (see `tests/conftest.py`)."""

    def __init__(self, server: FakeServer, repo: str = "micropython/micropython") -> None:
        self.server = server
        self.repo = repo
        self.default_branch = "master"
        self.web_url = "https://github.com"
        self.token: str | None = None  # when set, requests must carry `Authorization: token <it>`
        self.bot_login = BOT_LOGIN
        self.prefix = ""  # "/api/v3" makes it answer like GitHub Enterprise Server
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []  # bugs inside the fake itself; the fixture fails the test on them
        self.rate_remaining = 1000
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self._faults: list[_Fault] = []
        self._hooks: list[tuple[str, re.Pattern[str], bool, Callable[[], None], list[int]]] = []
        self._ids = itertools.count(1)
        self._workflows: dict[int, JSONDict] = {}
        self._runs: dict[int, JSONDict] = {}
        self._jobs: dict[int, JSONDict] = {}
        self._jobs_of_run: dict[int, list[int]] = {}
        self._pulls: dict[int, JSONDict] = {}
        self._comments: dict[int, JSONDict] = {}
        self._check_runs: dict[int, JSONDict] = {}
        self._files: dict[str, dict[str, bytes]] = {}
        self._blob_sigs: dict[str, int] = {}
        self._clock = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
        # the dashboard: issues, who may write, branches (name -> sha) and their files
        self._issues: dict[int, JSONDict] = {}
        self.collaborators: dict[str, str] = {}  # login -> admin | maintain | write | triage | read
        self._refs: dict[str, str] = {}
        # commits: sha -> files (a snapshot), parents, author login, message, GitHub's signature
        self._commits: dict[str, JSONDict] = {}
        self._trees: dict[str, dict[str, bytes]] = {}
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Response]]] = []
        self._build_routes()

    # ------------------------------------------------------------------ public helpers

    @property
    def api_url(self) -> str:
        return self.server.url + self.prefix

    @property
    def owner(self) -> str:
        return self.repo.split("/")[0]

    def close(self) -> None:
        """Wake delayed handlers so a finished test leaves no thread sleeping."""
        self._closed.set()

    def requests_to(self, method: str, path_regex: str) -> list[RecordedRequest]:
        pattern = re.compile(path_regex)
        return [r for r in self.requests if method in ("*", r.method) and pattern.search(r.path)]

    def api_requests(self) -> list[RecordedRequest]:
        """Requests to the API proper (blob downloads excluded)."""
        return [r for r in self.requests if not r.is_blob]

    def add_workflow(self, file: str = "ports_unix.yml", name: str = "unix port") -> JSONDict:
        with self._lock:
            for wf in self._workflows.values():
                if wf["file"] == file:
                    return wf
            wf_id = 1000 + len(self._workflows) + 1
            wf = {"id": wf_id, "file": file, "name": name}
            self._workflows[wf_id] = wf
            return wf

    def add_run(
        self,
        run_id: int | None = None,
        *,
        workflow: str = "ports_unix.yml",
        workflow_name: str = "unix port",
        event: str = "push",
        branch: str | None = None,
        head_sha: str | None = None,
        head_repo: str | None = None,
        conclusion: str | None = "failure",
        status: str = "completed",
        created_at: datetime | str | None = None,
        title: str = "py/obj: Tidy up a comment.",
        pull_requests: Iterable[int | JSONDict] = (),
        actor: str = "dpgeorge",
    ) -> JSONDict:
        """Add a run (attempt 1). `pull_requests` lists PR numbers (rendered from `add_pull`
        data) or raw dicts, exactly as the run payload should carry them (forged ones too)."""
        with self._lock:
            wf = self.add_workflow(workflow, workflow_name)
            n = next(self._ids)
            run_id = run_id or 19_000_000_000 + n
            if created_at is None:
                self._clock += timedelta(minutes=7)
            created = _as_datetime(created_at, self._clock)
            run = {
                "id": run_id,
                "workflow_id": wf["id"],
                "workflow_name": workflow_name,
                "workflow_file": workflow,
                "event": event,
                "branch": branch if branch is not None else self.default_branch,
                "head_sha": head_sha or f"{n:08x}" + "ab" * 16,
                "head_repo": head_repo or self.repo,
                "title": title,
                "actor": actor,
                "run_number": 10_000 + n,
                "created_at": created,
                "pull_requests": list(pull_requests),
                "attempts": [{"status": status, "conclusion": conclusion, "started_at": created}],
            }
            self._runs[run_id] = run
            return self.run_json(run_id)

    def add_attempt(
        self, run_id: int, *, conclusion: str | None = "success", status: str = "completed"
    ) -> JSONDict:
        """A re-run: the run's latest attempt becomes this one."""
        with self._lock:
            run = self._runs[run_id]
            started = run["attempts"][-1]["started_at"] + timedelta(minutes=30)
            run["attempts"].append({"status": status, "conclusion": conclusion, "started_at": started})
            return self.run_json(run_id)

    def finish_run(
        self, run_id: int, conclusion: str, *, jobs: Mapping[str, str] | None = None, log: str | None = None
    ) -> JSONDict:
        """An in-progress run completes: its latest attempt, and the jobs of it still running, which
        end as `jobs` says by name (default "success"); `log` ("expired" or "missing") replaces
        their log."""
        with self._lock:
            run = self._runs[run_id]
            run["attempts"][-1].update(status="completed", conclusion=conclusion)
            for job_id in self._jobs_of_run.get(run_id, []):
                job = self._jobs[job_id]
                if job["attempt"] == len(run["attempts"]) and job["status"] != "completed":
                    job.update(status="completed", conclusion=(jobs or {}).get(job["name"], "success"))
                    if log is not None:
                        job["log"] = log
            return self.run_json(run_id)

    def add_job(self, run_id: int, name: str, conclusion: str | None = "failure", **options: Any) -> JSONDict:
        """`new_job`, returning the job's JSON as the API serves it."""
        return self.job_json(self.new_job(run_id, name, conclusion, **options))

    def new_job(
        self,
        run_id: int,
        name: str,
        conclusion: str | None = "failure",
        *,
        log: bytes | str | None = None,
        runner: str = "ubuntu-24.04",
        attempt: int | None = None,
        steps: Iterable[tuple[str, str | None]] | None = None,
        status: str = "completed",
        job_id: int | None = None,
    ) -> int:
        """Add a job to an attempt (default: the latest); its id. (`add_job` returns its JSON:
        rendering it was most of seeding the acceptance test's 12,075 jobs, and nobody read it.)

        `log`: bytes/str served through the 302 blob (a BOM is prepended if absent, as the runner
        writes one), "expired" -> the API answers 410, "missing" or None -> 404.
        """
        with self._lock:
            run = self._runs[run_id]
            attempt = attempt or len(run["attempts"])
            n = next(self._ids)
            job_id = job_id or 50_000_000_000 + n
            if isinstance(log, str) and log not in ("expired", "missing"):
                log = log.encode()
            if isinstance(log, bytes) and not log.startswith(BOM):
                log = BOM + log
            started = run["attempts"][attempt - 1]["started_at"] + timedelta(seconds=20)
            if steps is None:
                step_conclusion = conclusion if conclusion in ("failure", "cancelled") else "success"
                steps = [
                    ("Set up job", "success"),
                    ("Run actions/checkout@v6", "success"),
                    ("Build", "success"),
                    ("Run main test suite", step_conclusion),
                    ("Complete job", "success"),
                ]
            self._jobs_of_run.setdefault(run_id, []).append(job_id)
            self._jobs[job_id] = {
                "id": job_id,
                "run_id": run_id,
                "attempt": attempt,
                "name": name,
                "status": status,
                "conclusion": conclusion,
                "runner": runner,
                "log": log if log is not None else "missing",
                "started_at": started,
                "completed_at": started + timedelta(minutes=6),
                "steps": list(steps),
            }
            return job_id

    def add_pull(
        self,
        number: int | None = None,
        *,
        head_sha: str,
        head_branch: str = "fix-thing",
        head_repo: str | None = None,
        title: str = "extmod: Fix a thing.",
        state: str = "open",
        base_branch: str | None = None,
        user: str = "contributor",
        body: str = "",
    ) -> JSONDict:
        """A PR into `fake.repo`; a `head_repo` other than it makes a fork PR."""
        with self._lock:
            number = number or 17_000 + next(self._ids)
            self._pulls[number] = {
                "number": number,
                "head_sha": head_sha,
                "head_branch": head_branch,
                "head_repo": head_repo or self.repo,
                "title": title,
                "state": state,
                "base_branch": base_branch or self.default_branch,
                "user": user,
                "body": body,
            }
            return self.pull_json(number)

    def add_comment(
        self, number: int, body: str, *, user: str = "someone", user_type: str = "User"
    ) -> JSONDict:
        with self._lock:
            return self._new_comment(number, body, user, user_type)

    def comments(self, number: int) -> list[JSONDict]:
        with self._lock:
            return [self.comment_json(c["id"]) for c in self._comments.values() if c["issue"] == number]

    def check_runs(self, head_sha: str | None = None, name: str | None = None) -> list[JSONDict]:
        """Check runs with their accumulated `annotations` (what the UI would show)."""
        with self._lock:
            out = []
            for cr in self._check_runs.values():
                if (head_sha is None or cr["head_sha"] == head_sha) and (name is None or cr["name"] == name):
                    out.append(self.check_run_json(cr["id"]) | {"annotations": list(cr["annotations"])})
            return out

    def add_file(self, path: str, text: str | bytes, ref: str | None = None) -> None:
        """A file on branch `ref` (default: the default branch). Once the branch has a commit
        (something read its ref), each further file is a new commit pushed by a maintainer."""
        with self._lock:
            data = text.encode() if isinstance(text, str) else text
            branch = ref or self.default_branch
            self._files.setdefault(branch, {})[path.strip("/")] = data
            if branch in self._refs:
                parent = self._refs[branch]
                self._refs[branch] = self._commit(self._files[branch], [parent], "dpgeorge", f"Add {path}")

    def push(
        self,
        branch: str,
        files: Mapping[str, str],
        *,
        author: str,
        base: str | None = None,
        message: str = "A change",
        verified: bool = False,
    ) -> str:
        """Someone pushes one commit changing `files` onto `branch` (created from `base`, default
        the default branch, when it does not exist); returns the commit's sha. `author` is the
        GitHub login the commit's author email maps to (anybody can claim any email in a commit;
        only GitHub's own signature, `verified`, cannot be forged)."""
        with self._lock:
            parent = self._branch_sha(branch) or self._branch_sha(base or self.default_branch)
            assert parent is not None
            snapshot = dict(self._commits[parent]["files"])
            snapshot.update({p.strip("/"): t.encode() for p, t in files.items()})
            sha = self._commit(snapshot, [parent], author, message, verified=verified)
            self._refs[branch] = sha
            self._files[branch] = dict(snapshot)
            return sha

    def commit(self, sha: str) -> JSONDict:
        """A commit as stored: files, parents, author, message, verified."""
        with self._lock:
            return dict(self._commits[sha])

    def branch_head(self, branch: str) -> str | None:
        with self._lock:
            return self._branch_sha(branch)

    def workflow_run_event(self, run_id: int, attempt: int | None = None) -> JSONDict:
        """The `workflow_run` `completed` event payload as GITHUB_EVENT_PATH would hold it."""
        with self._lock:
            run = self.run_json(run_id, attempt)
            wf = self._workflows[self._runs[run_id]["workflow_id"]]
            return {
                "action": "completed",
                "workflow_run": run,
                "workflow": self._workflow_json(wf),
                "repository": self._repo_json(self.repo),
                "sender": {"login": self._runs[run_id]["actor"], "type": "User"},
            }

    # ------------------------------------------------------------------ fault injection

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int,
        headers: dict[str, str] | None = None,
        body: bytes | str | JSONDict | None = None,
        times: int | None = 1,
        *,
        apply: bool = False,
    ) -> None:
        """Answer the next `times` matching requests with `status` (None = forever).

        `apply=True` performs the request's effect first (e.g. the comment IS created) and
        still answers the failure, as GitHub's front end sometimes does on a 502.
        """
        if isinstance(body, dict):
            body = json.dumps(body)
        raw = body.encode() if isinstance(body, str) else body
        with self._lock:
            self._faults.append(
                _Fault(
                    method.upper(),
                    re.compile(path_regex),
                    times,
                    "respond",
                    status=status,
                    headers=dict(headers or {}),
                    body=raw if raw is not None else _default_body(status),
                    apply=apply,
                )
            )

    def rate_limit(
        self,
        method: str,
        path_regex: str,
        *,
        kind: str = "secondary",
        retry_after: int | None = None,
        reset_in: int = 120,
        times: int | None = 1,
    ) -> None:
        """Rate-limit answers as GitHub sends them.

        kind "secondary": 403 + secondary-limit message (+ `Retry-After` if given);
        "primary": 403, `x-ratelimit-remaining: 0`, reset `reset_in` s after the fake's clock
        (`fake.now`); "429": 429 + message (+ `Retry-After` if given).
        """
        headers = {
            "x-ratelimit-limit": "1000",
            "x-ratelimit-remaining": str(self.rate_remaining),
            "x-ratelimit-reset": str(int(self.now.timestamp()) + 3600),
            "x-ratelimit-resource": "core",
        }
        status = 429 if kind == "429" else 403
        if kind == "primary":
            headers["x-ratelimit-remaining"] = "0"
            headers["x-ratelimit-reset"] = str(int(self.now.timestamp()) + reset_in)
            message = "API rate limit exceeded for installation ID 1234567."
        else:
            message = (
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
            )
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        self.fail(method, path_regex, status, headers, {"message": message, "documentation_url": DOCS}, times)

    def deny(
        self, method: str, path_regex: str, permission: str = "checks=write", times: int | None = None
    ) -> None:
        """The 403 a token without `permission` gets (not a rate limit: remaining > 0)."""
        self.fail(
            method,
            path_regex,
            403,
            {
                "x-accepted-github-permissions": permission,
                "x-ratelimit-remaining": "987",
                "x-ratelimit-limit": "1000",
            },
            {"message": "Resource not accessible by integration", "documentation_url": DOCS, "status": "403"},
            times,
        )

    def reset_connection(
        self,
        method: str,
        path_regex: str,
        times: int | None = 1,
        *,
        apply: bool = False,
        garbage: bytes = b"",
    ) -> None:
        """Close the socket without an HTTP answer (after performing the effect when `apply`);
        with `garbage`, write those bytes first, so the client reads a malformed response."""
        with self._lock:
            self._faults.append(
                _Fault(method.upper(), re.compile(path_regex), times, "reset", body=garbage, apply=apply)
            )

    def cut_body(self, method: str, path_regex: str, after_bytes: int, times: int | None = 1) -> None:
        """Answer normally but drop the connection after `after_bytes` of the body, while the
        `Content-Length` promises all of it (a download interrupted mid-stream)."""
        with self._lock:
            self._faults.append(
                _Fault(method.upper(), re.compile(path_regex), times, "cut", cut_after=after_bytes)
            )

    def delay(self, method: str, path_regex: str, seconds: float, times: int | None = 1) -> None:
        """Sleep before answering normally, so a client with a shorter timeout gives up."""
        with self._lock:
            self._faults.append(
                _Fault(method.upper(), re.compile(path_regex), times, "delay", seconds=seconds)
            )

    def clear_faults(self) -> None:
        """Forget the faults still pending (a `times=None` delay, say): GitHub behaves from now on."""
        with self._lock:
            self._faults.clear()

    def trickle(self, method: str, path_regex: str, seconds: float, times: int | None = 1) -> None:
        """Answer normally but send the body one byte every `seconds`: each read gets a byte
        before any read time-out, so only a limit on the whole download ends it."""
        with self._lock:
            self._faults.append(
                _Fault(method.upper(), re.compile(path_regex), times, "trickle", seconds=seconds)
            )

    def hold_together(self, method: str, path_regex: str, count: int) -> None:
        """Hold each of the next `count` matching requests until all of them have arrived, then
        answer them normally: concurrent clients overlap exactly there, whatever the machine's
        load, where a timed delay only makes the overlap likely."""
        with self._lock:
            self._faults.append(
                _Fault(
                    method.upper(),
                    re.compile(path_regex),
                    count,
                    "together",
                    barrier=threading.Barrier(count),
                )
            )

    def meanwhile(
        self, method: str, path_regex: str, action: Callable[[], None], *, after: bool = False, times: int = 1
    ) -> None:
        """Run `action` (someone else's move: a tick, a push) when the next `times` matching
        requests arrive, before they are answered (`after`: once their effect is done but before
        the client hears of it). The adversary moves exactly there, however the machine is loaded."""
        with self._lock:
            self._hooks.append((method.upper(), re.compile(path_regex), after, action, [times]))

    def _run_hooks(self, record: RecordedRequest, after: bool) -> None:
        with self._lock:
            due = []
            for method, pattern, when, action, left in self._hooks:
                hit = method in ("*", record.method) and pattern.search(record.path) is not None
                if when == after and left[0] > 0 and hit:
                    left[0] -= 1
                    due.append(action)
        for action in due:
            action()

    def expire_blob_urls(self) -> None:
        """Invalidate every log URL handed out so far (they live one minute on GitHub)."""
        with self._lock:
            self._blob_sigs.clear()

    @property
    def now(self) -> datetime:
        """Wall-clock time: rate-limit reset headers are epoch seconds clients compare with theirs."""
        return datetime.now(UTC)

    # ------------------------------------------------------------------ JSON rendering

    def _url(self, path: str) -> str:
        return f"{self.api_url}{path}"

    def _repo_json(self, full_name: str) -> JSONDict:
        owner, name = full_name.split("/")
        return {
            "id": stable_id(full_name),
            "name": name,
            "full_name": full_name,
            "owner": {"login": owner, "type": "User"},
            "private": False,
            "fork": full_name != self.repo,
            "default_branch": self.default_branch,
            "url": self._url(f"/repos/{full_name}"),
            "html_url": f"{self.web_url}/{full_name}",
        }

    def _workflow_json(self, wf: JSONDict) -> JSONDict:
        return {
            "id": wf["id"],
            "name": wf["name"],
            "path": f".github/workflows/{wf['file']}",
            "state": "active",
            "url": self._url(f"/repos/{self.repo}/actions/workflows/{wf['id']}"),
            "html_url": f"{self.web_url}/{self.repo}/actions/workflows/{wf['file']}",
        }

    def run_json(self, run_id: int, attempt: int | None = None) -> JSONDict:
        run = self._runs[run_id]
        attempt = attempt or len(run["attempts"])
        state = run["attempts"][attempt - 1]
        url = self._url(f"/repos/{self.repo}/actions/runs/{run_id}")
        prs = []
        for pr in run["pull_requests"]:
            if isinstance(pr, dict):
                prs.append(pr)
            elif pr in self._pulls:
                prs.append(self._run_pr_json(self._pulls[pr]))
        return {
            "id": run_id,
            "name": run["workflow_name"],
            "node_id": f"WFR_{run_id}",
            "head_branch": run["branch"],
            "head_sha": run["head_sha"],
            "path": f".github/workflows/{run['workflow_file']}",
            "display_title": run["title"],
            "run_number": run["run_number"],
            "event": run["event"],
            "status": state["status"],
            "conclusion": state["conclusion"],
            "workflow_id": run["workflow_id"],
            "check_suite_id": run_id + 7,
            "url": url,
            "html_url": f"{self.web_url}/{self.repo}/actions/runs/{run_id}",
            "pull_requests": prs,
            "created_at": _iso(run["created_at"]),
            "updated_at": _iso(state["started_at"] + timedelta(minutes=9)),
            "run_attempt": attempt,
            "run_started_at": _iso(state["started_at"]),
            "jobs_url": f"{url}/jobs",
            "logs_url": f"{url}/logs",
            "check_suite_url": self._url(f"/repos/{self.repo}/check-suites/{run_id + 7}"),
            "artifacts_url": f"{url}/artifacts",
            "cancel_url": f"{url}/cancel",
            "rerun_url": f"{url}/rerun",
            "previous_attempt_url": f"{url}/attempts/{attempt - 1}" if attempt > 1 else None,
            "workflow_url": self._url(f"/repos/{self.repo}/actions/workflows/{run['workflow_id']}"),
            "head_commit": {"id": run["head_sha"], "message": run["title"]},
            "actor": {"login": run["actor"], "type": "User"},
            "triggering_actor": {"login": run["actor"], "type": "User"},
            "repository": self._repo_json(self.repo),
            "head_repository": self._repo_json(run["head_repo"]),
        }

    def _run_pr_json(self, pr: JSONDict) -> JSONDict:
        """The short PR form inside run payloads: repos carry id, url and name, not full_name."""

        def short(full: str) -> JSONDict:
            return {
                "id": stable_id(full),
                "url": self._url(f"/repos/{full}"),
                "name": full.split("/")[1],
            }

        return {
            "id": pr["number"] * 3,
            "number": pr["number"],
            "url": self._url(f"/repos/{self.repo}/pulls/{pr['number']}"),
            "head": {"ref": pr["head_branch"], "sha": pr["head_sha"], "repo": short(pr["head_repo"])},
            "base": {"ref": pr["base_branch"], "sha": "ba5e" * 10, "repo": short(self.repo)},
        }

    def job_json(self, job_id: int) -> JSONDict:
        job = self._jobs[job_id]
        run = self._runs[job["run_id"]]
        steps = []
        for i, (name, conclusion) in enumerate(job["steps"], start=1):
            steps.append(
                {
                    "name": name,
                    "status": "completed",
                    "conclusion": conclusion,
                    "number": i,
                    "started_at": _iso(job["started_at"] + timedelta(seconds=i)),
                    "completed_at": _iso(job["started_at"] + timedelta(seconds=i + 1)),
                }
            )
        return {
            "id": job_id,
            "run_id": job["run_id"],
            "run_url": self._url(f"/repos/{self.repo}/actions/runs/{job['run_id']}"),
            "run_attempt": job["attempt"],
            "node_id": f"CR_{job_id}",
            "head_sha": run["head_sha"],
            "head_branch": run["branch"],
            "url": self._url(f"/repos/{self.repo}/actions/jobs/{job_id}"),
            "html_url": f"{self.web_url}/{self.repo}/actions/runs/{job['run_id']}/job/{job_id}",
            "status": job["status"],
            "conclusion": job["conclusion"],
            "created_at": _iso(job["started_at"] - timedelta(seconds=5)),
            "started_at": _iso(job["started_at"]),
            "completed_at": _iso(job["completed_at"]) if job["status"] == "completed" else None,
            "name": job["name"],
            "steps": steps,
            "check_run_url": self._url(f"/repos/{self.repo}/check-runs/{job_id}"),
            "labels": [job["runner"]],
            "runner_id": 1,
            "runner_name": f"GitHub Actions {job_id % 1000}",
            "runner_group_id": 0,
            "runner_group_name": "GitHub Actions",
            "workflow_name": run["workflow_name"],
        }

    def pull_json(self, number: int) -> JSONDict:
        pr = self._pulls[number]
        head_owner = pr["head_repo"].split("/")[0]
        return {
            "id": number * 3,
            "number": number,
            "state": pr["state"],
            "title": pr["title"],
            "body": pr.get("body", ""),
            "merged_at": pr.get("merged_at"),
            "user": {"login": pr["user"], "type": "Bot" if pr["user"].endswith("[bot]") else "User"},
            "url": self._url(f"/repos/{self.repo}/pulls/{number}"),
            "html_url": f"{self.web_url}/{self.repo}/pull/{number}",
            "issue_url": self._url(f"/repos/{self.repo}/issues/{number}"),
            "comments_url": self._url(f"/repos/{self.repo}/issues/{number}/comments"),
            "head": {
                "label": f"{head_owner}:{pr['head_branch']}",
                "ref": pr["head_branch"],
                "sha": pr["head_sha"],
                "user": {"login": head_owner},
                "repo": self._repo_json(pr["head_repo"]),
            },
            "base": {
                "label": f"{self.owner}:{pr['base_branch']}",
                "ref": pr["base_branch"],
                "sha": "ba5e" * 10,
                "user": {"login": self.owner},
                "repo": self._repo_json(self.repo),
            },
        }

    def comment_json(self, comment_id: int) -> JSONDict:
        c = self._comments[comment_id]
        return {
            "id": comment_id,
            "node_id": f"IC_{comment_id}",
            "url": self._url(f"/repos/{self.repo}/issues/comments/{comment_id}"),
            "html_url": f"{self.web_url}/{self.repo}/pull/{c['issue']}#issuecomment-{comment_id}",
            "issue_url": self._url(f"/repos/{self.repo}/issues/{c['issue']}"),
            "body": c["body"],
            "user": {"login": c["user"], "type": c["user_type"]},
            "created_at": _iso(c["created_at"]),
            "updated_at": _iso(c["updated_at"]),
            "author_association": "NONE",
        }

    def check_run_json(self, check_run_id: int) -> JSONDict:
        cr = self._check_runs[check_run_id]
        url = self._url(f"/repos/{self.repo}/check-runs/{check_run_id}")
        return {
            "id": check_run_id,
            "node_id": f"CR_{check_run_id}",
            "name": cr["name"],
            "head_sha": cr["head_sha"],
            "external_id": cr["external_id"],
            "details_url": cr["details_url"],
            "status": cr["status"],
            "conclusion": cr["conclusion"],
            "started_at": _iso(cr["started_at"]),
            "completed_at": _iso(cr["started_at"]) if cr["status"] == "completed" else None,
            "url": url,
            "html_url": f"{self.web_url}/{self.repo}/runs/{check_run_id}",
            "output": {
                "title": cr["title"],
                "summary": cr["summary"],
                "text": cr["text"],
                "annotations_count": len(cr["annotations"]),
                "annotations_url": f"{url}/annotations",
            },
            "app": {"slug": "github-actions", "name": "GitHub Actions", "id": 15368},
            "pull_requests": [],
        }

    # ------------------------------------------------------------------ dispatch

    def handle(self, request: Request) -> Response:
        body = request.get_data()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        path = request.path
        if self.prefix and not path.startswith(BLOB_PREFIX):
            # Outside the prefix nothing answers, as on GitHub Enterprise Server.
            path = (
                path[len(self.prefix) :]
                if path.startswith(self.prefix + "/")
                else "/outside-api-prefix" + path
            )
        record = RecordedRequest(
            method=request.method,
            path=path,
            raw_path=request.path,
            query={k: v for k, v in request.args.items()},
            headers={k.lower(): v for k, v in request.headers.items()},
            json=parsed,
            body=body,
        )
        with self._lock:
            self.requests.append(record)
            fault = self._take_fault(record)
        if fault is not None and fault.kind == "delay":
            self._closed.wait(fault.seconds)
            fault = None
        elif fault is not None and fault.barrier is not None:
            try:
                fault.barrier.wait(timeout=30)
            except threading.BrokenBarrierError:
                with self._lock:
                    self.errors.append(f"{record.method} {record.path}: the other held requests never came")
            fault = None
        try:
            if fault is None:
                self._run_hooks(record, after=False)
                answer = self._route(request, record)
                self._run_hooks(record, after=True)
                return answer
            effect = self._route(request, record) if fault.apply or fault.kind in ("cut", "trickle") else None
            if fault.kind == "trickle" and effect is not None:
                request.environ[TRICKLE] = (fault.seconds, self._closed)
                return effect
            if fault.kind in ("reset", "cut"):
                request.environ[CLOSE_AFTER] = True
            if fault.kind == "reset":
                self._drop(request, fault.body)
                return Response(b"", status=500)
            if fault.kind == "cut" and effect is not None:
                full = effect.get_data()
                headers = dict(effect.headers) | {"Content-Length": str(len(full))}
                # An iterable body keeps werkzeug from correcting the Content-Length we promise.
                return Response(iter([full[: fault.cut_after]]), status=effect.status_code, headers=headers)
            return Response(
                fault.body,
                status=fault.status,
                headers=self._api_headers() | fault.headers,
                content_type=self._fault_type(fault.body),
            )
        except Exception:
            self.errors.append(traceback.format_exc())
            return Response(b"fake GitHub crashed", status=500)

    @staticmethod
    def _fault_type(body: bytes) -> str:
        return "application/json; charset=utf-8" if body.startswith(b"{") else "text/html"

    @staticmethod
    def _drop(request: Request, garbage: bytes) -> None:
        sock: socket.socket = request.environ["werkzeug.socket"]
        with contextlib.suppress(OSError):  # the client may already have gone
            if garbage:
                sock.sendall(garbage)
            sock.shutdown(socket.SHUT_RDWR)

    def _take_fault(self, record: RecordedRequest) -> _Fault | None:
        for fault in self._faults:
            if fault.matches(record.method, record.path) and (fault.times is None or fault.times > 0):
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    def _api_headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": "1000",
            "x-ratelimit-remaining": str(self.rate_remaining),
            "x-ratelimit-used": str(1000 - self.rate_remaining),
            "x-ratelimit-reset": str(int(self.now.timestamp()) + 3600),
            "x-ratelimit-resource": "core",
            "x-github-api-version-selected": "2022-11-28",
        }

    def _json(self, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(
            json.dumps(data),
            status=status,
            headers=self._api_headers() | (headers or {}),
            content_type="application/json; charset=utf-8",
        )

    def _error(self, status: int, message: str, **extra: Any) -> Response:
        return self._json({"message": message, "documentation_url": DOCS, **extra}, status)

    def _build_routes(self) -> None:
        r = re.escape(self.repo)
        repo = f"/repos/{r}"
        table: list[tuple[str, str, Callable[..., Response]]] = [
            ("GET", rf"{repo}", self._get_repo),
            ("GET", rf"{repo}/actions/workflows/(?P<wf>[^/]+)", self._get_workflow),
            ("GET", rf"{repo}/actions/workflows/(?P<wf>[^/]+)/runs", self._list_runs),
            ("GET", rf"{repo}/actions/runs", self._list_runs),
            ("GET", rf"{repo}/actions/runs/(?P<run>\d+)/jobs", self._list_jobs),
            ("GET", rf"{repo}/actions/runs/(?P<run>\d+)/attempts/(?P<attempt>\d+)/jobs", self._list_jobs),
            ("GET", rf"{repo}/actions/jobs/(?P<job>\d+)", self._get_job),
            ("GET", rf"{repo}/actions/jobs/(?P<job>\d+)/logs", self._job_logs),
            ("GET", rf"{BLOB_PREFIX}job-logs/(?P<job>\d+)\.txt", self._blob),
            ("GET", rf"{repo}/pulls", self._list_pulls),
            ("GET", rf"{repo}/pulls/(?P<number>\d+)", self._get_pull),
            ("GET", rf"{repo}/commits/(?P<sha>[^/]+)/pulls", self._commit_pulls),
            ("GET", rf"{repo}/issues/(?P<number>\d+)/comments", self._list_comments),
            ("POST", rf"{repo}/issues/(?P<number>\d+)/comments", self._create_comment),
            ("GET", rf"{repo}/issues/comments/(?P<comment>\d+)", self._get_comment),
            ("PATCH", rf"{repo}/issues/comments/(?P<comment>\d+)", self._edit_comment),
            ("GET", rf"{repo}/commits/(?P<sha>[^/]+)/check-runs", self._list_check_runs),
            ("POST", rf"{repo}/check-runs", self._create_check_run),
            ("GET", rf"{repo}/check-runs/(?P<cr>\d+)", self._get_check_run),
            ("PATCH", rf"{repo}/check-runs/(?P<cr>\d+)", self._update_check_run),
            ("GET", rf"{repo}/check-runs/(?P<cr>\d+)/annotations", self._list_annotations),
            ("GET", rf"{repo}/contents/(?P<path>.*)", self._get_contents),
            ("GET", rf"{repo}/git/trees/(?P<ref>.+)", self._get_tree),
        ]
        table += self._dashboard_routes(repo)
        self._routes = [(m, re.compile(p + r"/?"), h) for m, p, h in table]

    def _route(self, request: Request, record: RecordedRequest) -> Response:
        authorization = record.headers.get("authorization")
        if not record.is_blob and self.token is not None and authorization != f"token {self.token}":
            return self._error(401, "Bad credentials")
        with self._lock:
            known_path = False
            for method, pattern, handler in self._routes:
                m = pattern.fullmatch(record.path)
                if m:
                    known_path = True
                    if method == record.method:
                        return handler(record, **m.groupdict())
            if known_path:
                return self._error(405, "Method Not Allowed")
            return self._error(404, "Not Found")

    # ------------------------------------------------------------------ handlers

    def _paginate(
        self,
        record: RecordedRequest,
        items: list[Any],
        key: str | None,
        render: Callable[[Any], Any] | None = None,
    ) -> Response:
        """One page of `items` (rendered with `render` only for that page: big fakes stay fast)."""
        try:
            per_page = max(1, min(int(record.query.get("per_page", 30)), 100))
            page = max(1, int(record.query.get("page", 1)))
        except ValueError:
            return self._error(422, "Invalid pagination parameter")
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        if render is not None:
            chunk = [render(item) for item in chunk]

        def link(p: int) -> str:
            query = dict(record.query) | {"per_page": str(per_page), "page": str(p)}
            return f"<{self._url(record.path)}?{urllib.parse.urlencode(query)}>"

        rels = []
        if page < last:
            rels += [f'{link(page + 1)}; rel="next"', f'{link(last)}; rel="last"']
        if page > 1:
            rels += [f'{link(1)}; rel="first"', f'{link(page - 1)}; rel="prev"']
        headers = {"link": ", ".join(rels)} if rels else {}
        data: Any = {"total_count": len(items), key: chunk} if key else chunk
        return self._json(data, headers=headers)

    def _get_repo(self, record: RecordedRequest) -> Response:
        return self._json(self._repo_json(self.repo))

    def _find_workflow(self, wf: str) -> JSONDict | None:
        for w in self._workflows.values():
            if wf in (str(w["id"]), w["file"]):
                return w
        return None

    def _get_workflow(self, record: RecordedRequest, wf: str) -> Response:
        found = self._find_workflow(wf)
        return self._json(self._workflow_json(found)) if found else self._error(404, "Not Found")

    def _list_runs(self, record: RecordedRequest, wf: str | None = None) -> Response:
        runs = list(self._runs.values())
        if wf is not None:
            found = self._find_workflow(wf)
            if found is None:
                return self._error(404, "Not Found")
            runs = [r for r in runs if r["workflow_id"] == found["id"]]
        q = record.query
        if "branch" in q:
            runs = [r for r in runs if r["branch"] == q["branch"]]
        if "event" in q:
            runs = [r for r in runs if r["event"] == q["event"]]
        if "status" in q:
            runs = [
                r
                for r in runs
                if q["status"] in (r["attempts"][-1]["status"], r["attempts"][-1]["conclusion"])
            ]
        if "created" in q:
            try:
                keep = _date_filter(q["created"])
            except ValueError:
                return self._error(422, "Invalid created filter")
            runs = [r for r in runs if keep(r["created_at"])]
        runs.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
        return self._paginate(record, [r["id"] for r in runs], "workflow_runs", self.run_json)

    def _list_jobs(self, record: RecordedRequest, run: str, attempt: str | None = None) -> Response:
        run_id = int(run)
        if run_id not in self._runs:
            return self._error(404, "Not Found")
        jobs = sorted((self._jobs[i] for i in self._jobs_of_run.get(run_id, ())), key=lambda j: j["id"])
        if attempt is not None:
            jobs = [j for j in jobs if j["attempt"] == int(attempt)]
        elif record.query.get("filter", "latest") == "latest":
            newest: dict[str, JSONDict] = {}
            for j in jobs:
                if j["name"] not in newest or j["attempt"] >= newest[j["name"]]["attempt"]:
                    newest[j["name"]] = j
            jobs = sorted(newest.values(), key=lambda j: j["id"])
        elif record.query.get("filter") != "all":
            return self._error(422, "Invalid filter")
        return self._paginate(record, [j["id"] for j in jobs], "jobs", self.job_json)

    def _get_job(self, record: RecordedRequest, job: str) -> Response:
        if int(job) not in self._jobs:
            return self._error(404, "Not Found")
        return self._json(self.job_json(int(job)))

    def _job_logs(self, record: RecordedRequest, job: str) -> Response:
        found = self._jobs.get(int(job))
        if found is None or found["log"] == "missing":
            return self._error(404, "Not Found")
        if found["log"] == "expired":
            docs = "https://docs.github.com/rest/actions/workflow-jobs#download-job-logs-for-a-workflow-run"
            return self._json({"message": "Server Error", "documentation_url": docs, "status": "410"}, 410)
        sig = base64.urlsafe_b64encode(f"{job}:{len(self._blob_sigs)}".encode()).decode().rstrip("=")
        self._blob_sigs[sig] = int(job)
        expires = _iso(self.now + timedelta(minutes=1))
        blob = f"{BLOB_PREFIX}job-logs/{job}.txt?sv=2025-01-05&se={expires}&sp=r&sig={sig}"
        location = self.server.url + blob  # the blob host knows nothing of API prefixes
        return Response(b"", status=302, headers=self._api_headers() | {"location": location})

    def _blob(self, record: RecordedRequest, job: str) -> Response:
        if "authorization" in record.headers:
            # The real blob host rejects a request that carries both a SAS and an Authorization.
            return Response(
                b"<?xml version='1.0'?><Error><Code>InvalidAuthenticationInfo</Code></Error>",
                status=400,
                content_type="application/xml",
            )
        if self._blob_sigs.get(record.query.get("sig", "")) != int(job):
            return Response(
                b"<?xml version='1.0'?><Error><Code>AuthenticationFailed</Code></Error>",
                status=403,
                content_type="application/xml",
            )
        return Response(self._jobs[int(job)]["log"], status=200, content_type="text/plain; charset=utf-8")

    def _list_pulls(self, record: RecordedRequest) -> Response:
        q = record.query
        state = q.get("state", "open")
        pulls = [p for p in self._pulls.values() if state == "all" or p["state"] == state]
        if "head" in q:
            owner, _, branch = q["head"].partition(":")
            pulls = [p for p in pulls if p["head_repo"].split("/")[0] == owner and p["head_branch"] == branch]
        if "base" in q:
            pulls = [p for p in pulls if p["base_branch"] == q["base"]]
        pulls.sort(key=lambda p: p["number"], reverse=True)
        return self._paginate(record, [self.pull_json(p["number"]) for p in pulls], None)

    def _get_pull(self, record: RecordedRequest, number: str) -> Response:
        if int(number) not in self._pulls:
            return self._error(404, "Not Found")
        return self._json(self.pull_json(int(number)))

    def _commit_pulls(self, record: RecordedRequest, sha: str) -> Response:
        # Like GitHub: a commit that only exists in a fork is unknown to the base repository.
        pulls = [p for p in self._pulls.values() if p["head_sha"] == sha and p["head_repo"] == self.repo]
        return self._paginate(record, [self.pull_json(p["number"]) for p in pulls], None)

    def _new_comment(self, number: int, body: str, user: str, user_type: str) -> JSONDict:
        comment_id = 3_000_000_000 + next(self._ids)
        moment = self.now + timedelta(seconds=len(self._comments))
        self._comments[comment_id] = {
            "id": comment_id,
            "issue": number,
            "body": body,
            "user": user,
            "user_type": user_type,
            "created_at": moment,
            "updated_at": moment,
        }
        return self.comment_json(comment_id)

    def _list_comments(self, record: RecordedRequest, number: str) -> Response:
        items = [
            self.comment_json(c["id"])
            for c in sorted(self._comments.values(), key=lambda c: c["id"])
            if c["issue"] == int(number)
        ]
        return self._paginate(record, items, None)

    def _valid_comment_body(self, record: RecordedRequest) -> str | Response:
        body = (record.json or {}).get("body")
        if not isinstance(body, str) or not body:
            return self._error(422, "Validation Failed", errors=[{"field": "body", "code": "missing_field"}])
        if len(body) > 65536:
            return self._error(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "IssueComment",
                        "code": "custom",
                        "field": "body",
                        "message": "Body is too long (maximum is 65536 characters)",
                    }
                ],
            )
        return body

    def _create_comment(self, record: RecordedRequest, number: str) -> Response:
        if int(number) not in self._pulls:
            return self._error(404, "Not Found")
        body = self._valid_comment_body(record)
        if isinstance(body, Response):
            return body
        return self._json(self._new_comment(int(number), body, self.bot_login, "Bot"), 201)

    def _get_comment(self, record: RecordedRequest, comment: str) -> Response:
        if int(comment) not in self._comments:
            return self._error(404, "Not Found")
        return self._json(self.comment_json(int(comment)))

    def _edit_comment(self, record: RecordedRequest, comment: str) -> Response:
        found = self._comments.get(int(comment))
        if found is None:
            return self._error(404, "Not Found")
        # Anyone with write access may edit any comment, the bot's token included: a publisher
        # that edits a comment it merely *thinks* is its own is caught by the body changing.
        body = self._valid_comment_body(record)
        if isinstance(body, Response):
            return body
        found["body"] = body
        found["updated_at"] = self.now + timedelta(hours=1)
        return self._json(self.comment_json(int(comment)))

    def _list_check_runs(self, record: RecordedRequest, sha: str) -> Response:
        runs = [c for c in self._check_runs.values() if c["head_sha"] == sha]
        if "check_name" in record.query:
            runs = [c for c in runs if c["name"] == record.query["check_name"]]
        if record.query.get("filter", "latest") == "latest":
            newest: dict[str, JSONDict] = {}
            for c in runs:
                newest[c["name"]] = c
            runs = list(newest.values())
        runs.sort(key=lambda c: c["id"], reverse=True)
        return self._paginate(record, [self.check_run_json(c["id"]) for c in runs], "check_runs")

    def _validate_output(self, output: Any) -> Response | None:
        if output is None:
            return None
        if not isinstance(output, dict) or "title" not in output or "summary" not in output:
            return self._error(422, "Invalid request.", errors=["output needs title and summary"])
        for key in ("summary", "text"):
            if len(output.get(key) or "") > 65535:
                return self._error(
                    422, "Invalid request.", errors=[f"output.{key} is too long (maximum is 65535)"]
                )
        annotations = output.get("annotations") or []
        if len(annotations) > 50:
            return self._error(422, "Invalid request.", errors=["output.annotations has more than 50 items"])
        required = {"path", "start_line", "end_line", "annotation_level", "message"}
        for a in annotations:
            if (
                not isinstance(a, dict)
                or not required <= set(a)
                or a["annotation_level"] not in ("notice", "warning", "failure")
                or len(str(a.get("title") or "")) > 255
                or len(str(a["message"])) > 65536
                or len(str(a.get("raw_details") or "")) > 65536
                or not isinstance(a["start_line"], int)
                or not isinstance(a["end_line"], int)
            ):
                return self._error(422, "Invalid request.", errors=[f"invalid annotation {a!r}"[:200]])
        return None

    def _apply_output(self, cr: JSONDict, output: JSONDict | None) -> None:
        if not output:
            return
        cr["title"] = output.get("title", cr["title"])
        cr["summary"] = output.get("summary", cr["summary"])
        cr["text"] = output.get("text", cr["text"])
        cr["annotations"].extend(output.get("annotations") or [])

    def _create_check_run(self, record: RecordedRequest) -> Response:
        data = record.json or {}
        if not data.get("name") or not data.get("head_sha"):
            return self._error(422, "Invalid request.", errors=["name and head_sha are required"])
        bad = self._validate_output(data.get("output"))
        if bad is not None:
            return bad
        cr_id = 40_000_000_000 + next(self._ids)
        cr = {
            "id": cr_id,
            "name": data["name"],
            "head_sha": data["head_sha"],
            "external_id": data.get("external_id", ""),
            "details_url": data.get("details_url"),
            "status": "completed" if data.get("conclusion") else data.get("status", "queued"),
            "conclusion": data.get("conclusion"),
            "started_at": self.now,
            "title": None,
            "summary": None,
            "text": None,
            "annotations": [],
        }
        self._apply_output(cr, data.get("output"))
        self._check_runs[cr_id] = cr
        return self._json(self.check_run_json(cr_id), 201)

    def _get_check_run(self, record: RecordedRequest, cr: str) -> Response:
        if int(cr) not in self._check_runs:
            return self._error(404, "Not Found")
        return self._json(self.check_run_json(int(cr)))

    def _update_check_run(self, record: RecordedRequest, cr: str) -> Response:
        found = self._check_runs.get(int(cr))
        if found is None:
            return self._error(404, "Not Found")
        data = record.json or {}
        bad = self._validate_output(data.get("output"))
        if bad is not None:
            return bad
        for key in ("name", "details_url", "external_id", "status"):
            if key in data:
                found[key] = data[key]
        if data.get("conclusion"):
            found["conclusion"] = data["conclusion"]
            found["status"] = "completed"
        self._apply_output(found, data.get("output"))
        return self._json(self.check_run_json(int(cr)))

    def _list_annotations(self, record: RecordedRequest, cr: str) -> Response:
        found = self._check_runs.get(int(cr))
        if found is None:
            return self._error(404, "Not Found")
        return self._paginate(record, list(found["annotations"]), None)

    def _resolve_ref(self, ref: str | None) -> dict[str, bytes] | None:
        found = self._files.get(ref or self.default_branch)
        if found is None and ref in self._commits:
            return self._commits[ref]["files"]
        return found

    def _get_contents(self, record: RecordedRequest, path: str) -> Response:
        files = self._resolve_ref(record.query.get("ref"))
        path = urllib.parse.unquote(path).strip("/")
        if files is None:
            return self._error(404, f"No commit found for the ref {record.query.get('ref')}")
        ref = record.query.get("ref") or self.default_branch
        if path in files:
            data = files[path]
            encoded = base64.encodebytes(data).decode()  # GitHub wraps base64 at 60-76 columns
            return self._json(
                self._content_entry(path, data, ref) | {"encoding": "base64", "content": encoded}
            )
        children = sorted({p[len(path) + 1 :].split("/")[0] for p in files if p.startswith(path + "/")})
        if not children:
            return self._error(404, "Not Found")
        entries = []
        for child in children:
            full = f"{path}/{child}"
            if full in files:
                entries.append(self._content_entry(full, files[full], ref))
            else:
                entries.append(
                    {
                        "type": "dir",
                        "name": child,
                        "path": full,
                        "url": self._url(f"/repos/{self.repo}/contents/{full}?ref={ref}"),
                    }
                )
        return self._json(entries)

    def _content_entry(self, path: str, data: bytes, ref: str) -> JSONDict:
        return {
            "type": "file",
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "size": len(data),
            "sha": hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest(),
            "url": self._url(f"/repos/{self.repo}/contents/{path}?ref={ref}"),
            "html_url": f"{self.web_url}/{self.repo}/blob/{ref}/{path}",
            "download_url": f"https://raw.githubusercontent.com/{self.repo}/{ref}/{path}",
        }

    def _get_tree(self, record: RecordedRequest, ref: str) -> Response:
        files = self._resolve_ref(urllib.parse.unquote(ref))
        if files is None:
            return self._error(404, "Not Found")
        recursive = record.query.get("recursive") not in (None, "", "0", "false")
        entries: dict[str, JSONDict] = {}
        for path, data in files.items():
            parts = path.split("/")
            for depth in range(1, len(parts)):
                folder = "/".join(parts[:depth])
                entries.setdefault(
                    folder, {"path": folder, "mode": "040000", "type": "tree", "sha": "d" * 40}
                )
            entries[path] = {
                "path": path,
                "mode": "100644",
                "type": "blob",
                "sha": "b" * 40,
                "size": len(data),
            }
        tree = [e for p, e in sorted(entries.items()) if recursive or "/" not in p]
        return self._json({"sha": "7" * 40, "url": self._url(record.path), "tree": tree, "truncated": False})


    # ------------------------------------------------------------------ the dashboard's endpoints
    # Issues (numbered with pull requests, as on GitHub), the GraphQL `editor` of an issue,
    # collaborator permissions, git refs, file writes through the contents API, pull creation.

    def _dashboard_routes(self, repo: str) -> list[tuple[str, str, Callable[..., Response]]]:
        return [
            ("GET", rf"{repo}/actions/workflows", self._list_workflows),
            ("GET", rf"{repo}/issues", self._list_issues),
            ("POST", rf"{repo}/issues", self._create_issue),
            ("GET", rf"{repo}/issues/(?P<number>\d+)", self._get_issue),
            ("PATCH", rf"{repo}/issues/(?P<number>\d+)", self._edit_issue),
            ("POST", r"/graphql", self._graphql),
            ("GET", rf"{repo}/collaborators/(?P<login>[^/]+)/permission", self._permission),
            ("GET", rf"{repo}/git/ref/heads/(?P<branch>.+)", self._get_ref),
            ("GET", rf"{repo}/branches/(?P<branch>.+)", self._get_branch),
            ("GET", rf"{repo}/compare/(?P<basehead>.+)", self._compare),
            ("POST", rf"{repo}/git/trees", self._create_tree),
            ("POST", rf"{repo}/git/commits", self._create_commit),
            ("PATCH", rf"{repo}/pulls/(?P<number>\d+)", self._edit_pull),
            ("DELETE", rf"{repo}/issues/comments/(?P<comment>\d+)", self._delete_comment),
            ("POST", rf"{repo}/git/refs", self._create_ref),
            ("PATCH", rf"{repo}/git/refs/heads/(?P<branch>.+)", self._update_ref),
            ("PUT", rf"{repo}/contents/(?P<path>.*)", self._put_contents),
            ("POST", rf"{repo}/pulls", self._create_pull),
        ]

    def add_issue(self, body: str, *, user: str = "someone", title: str = "An issue", state: str = "open",
                  locked: bool = False) -> JSONDict:  # fmt: skip
        with self._lock:
            return self.issue_json(self._new_issue(title, body, user, state=state, locked=locked))

    def issues(self, *, include_deleted: bool = False) -> list[JSONDict]:
        with self._lock:
            return [self.issue_json(n) for n in sorted(self._issues)
                    if include_deleted or not self._issues[n]["deleted"]]  # fmt: skip

    def edit_issue_as(self, number: int, body: str, user: str) -> None:
        """A person editing the issue body in the web UI (e.g. ticking a checkbox)."""
        with self._lock:
            self._issues[number]["body"] = body
            self._issues[number]["editor"] = user
            self._record_edit(number, user, body)

    def _record_edit(self, number: int, user: str, body: str) -> None:
        """The issue's edit history, as GraphQL `userContentEdits` gives it: who, when, and the
        body after the edit (in `diff`)."""
        edits = self._issues[number]["edits"]
        edits.append({"editor": user, "body": body, "at": self._clock + timedelta(seconds=len(edits))})

    def delete_issue(self, number: int) -> None:
        with self._lock:
            self._issues[number]["deleted"] = True

    def lock_issue(self, number: int) -> None:
        with self._lock:
            self._issues[number]["locked"] = True

    def branch_files(self, branch: str) -> dict[str, str]:
        with self._lock:
            return {p: d.decode() for p, d in self._files.get(branch, {}).items()}

    def pulls(self) -> list[JSONDict]:
        with self._lock:
            return [self.pull_json(n) for n in sorted(self._pulls)]

    def close_pull(self, number: int) -> None:
        with self._lock:
            self._pulls[number]["state"] = "closed"

    def _next_number(self) -> int:
        return max([*self._pulls, *self._issues, 0]) + 1

    def _new_issue(
        self, title: str, body: str, user: str, *, state: str = "open", locked: bool = False
    ) -> int:
        number = self._next_number()
        self._issues[number] = {
            "title": title,
            "body": body,
            "user": user,
            "state": state,
            "locked": locked,
            "deleted": False,
            "editor": None,
            "state_reason": None,
            "edits": [],
        }
        self._record_edit(number, user, body)
        return number

    def issue_json(self, number: int) -> JSONDict:
        issue = self._issues[number]
        return {
            "id": number * 7,
            "number": number,
            "title": issue["title"],
            "body": issue["body"],
            "state": issue["state"],
            "state_reason": issue["state_reason"],
            "locked": issue["locked"],
            "user": {"login": issue["user"], "type": "Bot" if issue["user"].endswith("[bot]") else "User"},
            "url": self._url(f"/repos/{self.repo}/issues/{number}"),
            "html_url": f"{self.web_url}/{self.repo}/issues/{number}",
        }

    def _list_workflows(self, record: RecordedRequest) -> Response:
        items = [self._workflow_json(w) for w in self._workflows.values()]
        return self._paginate(record, items, "workflows")

    def _list_issues(self, record: RecordedRequest) -> Response:
        q = record.query
        state = q.get("state", "open")
        found = []
        for number, issue in self._issues.items():
            if issue["deleted"] or (state != "all" and issue["state"] != state):
                continue
            if "creator" in q and issue["user"] != q["creator"]:
                continue
            found.append(number)
        items: list[tuple[int, JSONDict]] = [(n, self.issue_json(n)) for n in found]
        for number, pr in self._pulls.items():  # the issues API lists pull requests too
            if (state == "all" or pr["state"] == state) and q.get("creator", pr["user"]) == pr["user"]:
                items.append((number, self.pull_json(number) | {"pull_request": {"url": ""}}))
        items.sort(key=lambda i: i[0], reverse=q.get("direction", "desc") == "desc")
        return self._paginate(record, [data for _, data in items], None)

    def _valid_issue_body(self, record: RecordedRequest) -> str | Response:
        body = (record.json or {}).get("body", "")
        if not isinstance(body, str) or len(body) > 65536:
            message = "body is too long (maximum is 65536 characters)"
            error = {"resource": "Issue", "field": "body", "code": "custom", "message": message}
            return self._error(422, "Validation Failed", errors=[error])
        return body

    def _create_issue(self, record: RecordedRequest) -> Response:
        body = self._valid_issue_body(record)
        if isinstance(body, Response):
            return body
        title = (record.json or {}).get("title")
        if not isinstance(title, str) or not title:
            return self._error(422, "Validation Failed", errors=[{"field": "title", "code": "missing_field"}])
        return self._json(self.issue_json(self._new_issue(title, body, self.bot_login)), 201)

    def _get_issue(self, record: RecordedRequest, number: str) -> Response:
        issue = self._issues.get(int(number))
        if issue is None:
            return self._error(404, "Not Found")
        if issue["deleted"]:
            return self._error(410, "This issue was deleted")
        return self._json(self.issue_json(int(number)))

    def _edit_issue(self, record: RecordedRequest, number: str) -> Response:
        issue = self._issues.get(int(number))
        if issue is None:
            return self._error(404, "Not Found")
        if issue["deleted"]:
            return self._error(410, "This issue was deleted")
        data = record.json or {}
        if "body" in data:
            body = self._valid_issue_body(record)
            if isinstance(body, Response):
                return body
            issue["body"] = body
            issue["editor"] = self.bot_login
            self._record_edit(int(number), self.bot_login, body)
        for field_name in ("state", "state_reason", "title"):
            if field_name in data:
                issue[field_name] = data[field_name]
        return self._json(self.issue_json(int(number)))

    def _graphql(self, record: RecordedRequest) -> Response:
        data = record.json or {}
        query, variables = str(data.get("query", "")), data.get("variables") or {}
        if "editor" not in query or f"{variables.get('owner')}/{variables.get('name')}" != self.repo:
            return self._json({"errors": [{"message": "the fake answers only the issue editor query"}]})
        issue = self._issues.get(int(variables.get("number", 0)))
        if issue is None or issue["deleted"]:
            missing = [{"type": "NOT_FOUND", "message": "Could not resolve to an Issue"}]
            return self._json({"data": {"repository": {"issue": None}}, "errors": missing})
        editor = {"login": issue["editor"]} if issue["editor"] else None
        found: JSONDict = {"editor": editor}
        if "userContentEdits" in query:  # newest first, as the web page lists them
            newest_first = list(reversed(issue["edits"]))
            found = {"body": issue["body"]}
            for alias, end, count in re.findall(r"(\w+): *userContentEdits\((first|last): *(\d+)\)", query):
                chosen = newest_first[: int(count)] if end == "first" else newest_first[-int(count) :]
                found[alias] = {"nodes": [self._edit_json(e) for e in chosen]}
        return self._json({"data": {"repository": {"issue": found}}})

    @staticmethod
    def _edit_json(edit: JSONDict) -> JSONDict:
        login = str(edit["editor"]).removesuffix("[bot]")  # GraphQL names bots without the suffix
        return {"editor": {"login": login}, "editedAt": _iso(edit["at"]), "diff": edit["body"],
                "deletedAt": None}  # fmt: skip

    def _permission(self, record: RecordedRequest, login: str) -> Response:
        login = urllib.parse.unquote(login)
        permission = self.collaborators.get(login, "read")  # a public repository: anyone can read
        legacy = {"maintain": "write", "triage": "read"}.get(permission, permission)
        return self._json({"permission": legacy, "role_name": permission, "user": {"login": login}})

    def _commit(
        self,
        files: Mapping[str, bytes],
        parents: list[str],
        author: str,
        message: str,
        *,
        verified: bool = False,
    ) -> str:
        snapshot = dict(files)
        seed = repr((sorted(snapshot.items()), parents, author, message, len(self._commits)))
        sha = hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()
        self._commits[sha] = {
            "files": snapshot,
            "parents": list(parents),
            "author": author,
            "message": message,
            "verified": verified,
            "tree": self._tree_of(snapshot),
        }
        return sha

    def _tree_of(self, files: Mapping[str, bytes]) -> str:
        snapshot = dict(files)
        sha = hashlib.sha1(repr(sorted(snapshot.items())).encode(), usedforsecurity=False).hexdigest()
        self._trees[sha] = snapshot
        return sha

    def _branch_sha(self, branch: str) -> str | None:
        if branch not in self._refs and branch in self._files:  # files added before any commit
            self._refs[branch] = self._commit(self._files[branch], [], "dpgeorge", "Initial commit")
        return self._refs.get(branch)

    def _set_branch(self, branch: str, sha: str) -> None:
        self._refs[branch] = sha
        self._files[branch] = dict(self._commits[sha]["files"])

    def _get_ref(self, record: RecordedRequest, branch: str) -> Response:
        branch = urllib.parse.unquote(branch)
        sha = self._branch_sha(branch)
        if sha is None:
            return self._error(404, "Not Found")
        return self._json({"ref": f"refs/heads/{branch}", "object": {"type": "commit", "sha": sha}})

    def _get_branch(self, record: RecordedRequest, branch: str) -> Response:
        branch = urllib.parse.unquote(branch)
        sha = self._branch_sha(branch)
        if sha is None:
            return self._error(404, "Branch not found")
        return self._json({"name": branch, "commit": self._commit_json(sha), "protected": False})

    def _commit_json(self, sha: str) -> JSONDict:
        c = self._commits[sha]
        person = {"name": c["author"], "email": f"{c['author']}@users.noreply.github.com",
                  "date": "2026-01-05T08:00:00Z"}  # fmt: skip
        return {
            "sha": sha,
            "commit": {
                "author": person,
                "committer": person,
                "message": c["message"],
                "tree": {"sha": c["tree"]},
                "verification": {
                    "verified": c["verified"],
                    "reason": "valid" if c["verified"] else "unsigned",
                },
            },
            "author": {"login": c["author"]},
            "committer": {"login": "web-flow" if c["verified"] else c["author"]},
            "parents": [{"sha": p} for p in c["parents"]],
        }

    def _ancestors(self, sha: str) -> list[str]:
        """`sha` and every commit before it, nearest first (first parents before the rest)."""
        seen: list[str] = []
        todo = [sha]
        while todo:
            current = todo.pop(0)
            if current in seen or current not in self._commits:
                continue
            seen.append(current)
            todo.extend(self._commits[current]["parents"])
        return seen

    def _compare(self, record: RecordedRequest, basehead: str) -> Response:
        base_ref, _, head_ref = urllib.parse.unquote(basehead).partition("...")
        base = base_ref if base_ref in self._commits else self._branch_sha(base_ref)
        head = head_ref if head_ref in self._commits else self._branch_sha(head_ref)
        if base is None or head is None:
            return self._error(404, "Not Found")
        base_line, head_line = self._ancestors(base), self._ancestors(head)
        merge_base = next((c for c in head_line if c in base_line), None)
        if merge_base is None:
            return self._error(404, "No common ancestor between base and head")
        ahead = [c for c in head_line if c not in base_line]
        behind = [c for c in base_line if c not in head_line]
        old, new = self._commits[merge_base]["files"], self._commits[head]["files"]
        files = []
        for path in sorted(set(old) | set(new)):
            if old.get(path) == new.get(path):
                continue
            status = "added" if path not in old else "removed" if path not in new else "modified"
            data = new.get(path, b"")
            blob = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
            files.append({"filename": path, "status": status, "sha": blob if path in new else None})
        status = "identical" if not ahead and not behind else "ahead" if not behind else \
            "behind" if not ahead else "diverged"  # fmt: skip
        return self._json({
            "status": status,
            "ahead_by": len(ahead),
            "behind_by": len(behind),
            "total_commits": len(ahead),
            "merge_base_commit": self._commit_json(merge_base),
            "base_commit": self._commit_json(base),
            "commits": [self._commit_json(c) for c in reversed(ahead)],
            "files": files,
        })  # fmt: skip

    def _create_tree(self, record: RecordedRequest) -> Response:
        data = record.json or {}
        files = dict(self._trees.get(str(data.get("base_tree")), {})) if data.get("base_tree") else {}
        if data.get("base_tree") and str(data["base_tree"]) not in self._trees:
            return self._error(422, "base_tree is not a tree")
        for entry in data.get("tree") or []:
            path = str(entry.get("path", "")).strip("/")
            if "content" in entry:
                files[path] = str(entry["content"]).encode()
            elif entry.get("sha") is None:
                files.pop(path, None)
            else:
                return self._error(422, "the fake takes tree entries with content only")
        sha = self._tree_of(files)
        return self._json({"sha": sha, "tree": [{"path": p, "type": "blob"} for p in sorted(files)]}, 201)

    def _create_commit(self, record: RecordedRequest) -> Response:
        data = record.json or {}
        tree, parents = str(data.get("tree", "")), [str(p) for p in data.get("parents") or []]
        if tree not in self._trees or any(p not in self._commits for p in parents):
            return self._error(422, "tree or parent does not exist")
        # made through the API by the token's identity, no author given: GitHub signs it
        custom = "author" in data or "committer" in data
        sha = self._commit(self._trees[tree], parents, self.bot_login, str(data.get("message", "")),
                           verified=not custom)  # fmt: skip
        return self._json(self._commit_json(sha), 201)

    def _create_ref(self, record: RecordedRequest) -> Response:
        data = record.json or {}
        ref, sha = str(data.get("ref", "")), str(data.get("sha", ""))
        branch = ref.removeprefix("refs/heads/")
        if not ref.startswith("refs/heads/") or self._branch_sha(branch) is not None:
            return self._error(422, "Reference already exists")
        if sha not in self._commits:
            return self._error(422, "Object does not exist")
        self._set_branch(branch, sha)
        return self._json({"ref": ref, "object": {"sha": sha}}, 201)

    def _update_ref(self, record: RecordedRequest, branch: str) -> Response:
        branch = urllib.parse.unquote(branch)
        data = record.json or {}
        sha = str(data.get("sha", ""))
        current = self._branch_sha(branch)
        if current is None or sha not in self._commits:
            return self._error(422, "Reference does not exist")
        if not data.get("force") and current not in self._ancestors(sha):
            return self._error(422, "Update is not a fast forward")
        self._set_branch(branch, sha)
        return self._json({"ref": f"refs/heads/{branch}", "object": {"sha": sha}})

    def _put_contents(self, record: RecordedRequest, path: str) -> Response:
        data = record.json or {}
        branch = str(data.get("branch") or self.default_branch)
        path = urllib.parse.unquote(path).strip("/")
        head = self._branch_sha(branch)
        if head is None:
            return self._error(404, "Branch not found")
        files = dict(self._commits[head]["files"])
        current = files.get(path)
        if current is not None and data.get("sha") != self._content_entry(path, current, branch)["sha"]:
            return self._error(409, f"{path} does not match {data.get('sha')}")
        files[path] = base64.b64decode(str(data.get("content", "")))
        sha = self._commit(files, [head], self.bot_login, str(data.get("message", "")), verified=True)
        self._set_branch(branch, sha)
        return self._json({"content": self._content_entry(path, files[path], branch), "commit": {"sha": sha}})

    def _edit_pull(self, record: RecordedRequest, number: str) -> Response:
        found = self._pulls.get(int(number))
        if found is None:
            return self._error(404, "Not Found")
        for key in ("state", "title", "body"):
            if key in (record.json or {}):
                found[key] = (record.json or {})[key]
        return self._json(self.pull_json(int(number)))

    def _delete_comment(self, record: RecordedRequest, comment: str) -> Response:
        if self._comments.pop(int(comment), None) is None:
            return self._error(404, "Not Found")
        return Response(b"", status=204, headers=self._api_headers())

    def _create_pull(self, record: RecordedRequest) -> Response:
        data = record.json or {}
        head, base = str(data.get("head", "")), str(data.get("base", ""))
        if self._branch_sha(head) is None or self._branch_sha(base) is None:
            return self._error(422, "Validation Failed", errors=[{"field": "head", "code": "invalid"}])
        if any(p["head_branch"] == head and p["head_repo"] == self.repo and p["state"] == "open"
               for p in self._pulls.values()):  # fmt: skip
            error = {"message": f"A pull request already exists for {head}."}
            return self._error(422, "Validation Failed", errors=[error])
        number = self._next_number()
        self._pulls[number] = {
            "number": number,
            "head_sha": self._refs[head],
            "head_branch": head,
            "head_repo": self.repo,
            "title": str(data.get("title", "")),
            "state": "open",
            "base_branch": base,
            "user": self.bot_login,
            "body": str(data.get("body", "")),
        }
        return self._json(self.pull_json(number), 201)


@contextlib.contextmanager
def running_fake(repo: str = "micropython/micropython") -> Iterator[FakeGitHub]:
    """A fake GitHub with its own server, for benchmarks and scripts outside pytest."""
    server = FakeServer()
    server.start()
    try:
        with server.serving(repo) as fake:
            yield fake
    finally:
        server.stop()


def _date_filter(spec: str) -> Callable[[datetime], bool]:
    """GitHub's search date syntax as the list-runs `created` filter accepts it.

    A bare date stands for the whole day, so each bound becomes a half-open interval.
    """

    def span(text: str) -> tuple[datetime, datetime]:
        if "T" in text:
            moment = _as_datetime(text, datetime.now(UTC))
            return moment, moment + timedelta(seconds=1)
        start = datetime.fromisoformat(text).replace(tzinfo=UTC)
        return start, start + timedelta(days=1)

    lo: datetime | None = None  # inclusive
    hi: datetime | None = None  # exclusive
    if ".." in spec:
        left, right = spec.split("..", 1)
        lo = span(left)[0] if left not in ("", "*") else None
        hi = span(right)[1] if right not in ("", "*") else None
    elif spec.startswith(">="):
        lo = span(spec[2:])[0]
    elif spec.startswith("<="):
        hi = span(spec[2:])[1]
    elif spec.startswith(">"):
        lo = span(spec[1:])[1]
    elif spec.startswith("<"):
        hi = span(spec[1:])[0]
    else:
        lo, hi = span(spec)
    return lambda t: (lo is None or t >= lo) and (hi is None or t < hi)
