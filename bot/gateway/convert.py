"""GitHub JSON -> records, with no I/O.

The same functions read API answers and the `workflow_run` event payload, so a run read from
the event and the same run read from the API become equal records. Missing or mistyped fields
degrade to empty values instead of raising: payload shapes vary between GitHub versions.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bot.gateway.models import CheckRunInfo, CommentInfo, PullRequestInfo
from bot.records import JobInfo, PullRef, RunInfo, StepInfo

Json = dict[str, Any]

_REPO_URL = re.compile(r"/repos/([^/]+/[^/]+?)/?$")


def _dict(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def repo_full_name(repo: Any) -> str | None:
    """`owner/name` of a repository object; the short form inside run payloads only has `url`."""
    data = _dict(repo)
    full = _opt_str(data.get("full_name"))
    if full:
        return full
    match = _REPO_URL.search(_str(data.get("url")))
    return match.group(1) if match else None


def pull_ref(data: Json) -> PullRef | None:
    number = _int(data.get("number"), -1)
    if number < 0:
        return None
    return PullRef(
        number=number,
        head_sha=_str(_dict(data.get("head")).get("sha")),
        base_repo=repo_full_name(_dict(data.get("base")).get("repo")),
    )


def run_info(data: Json) -> RunInfo:
    refs = (pull_ref(p) for p in _list(data.get("pull_requests")) if isinstance(p, dict))
    return RunInfo(
        id=_int(data.get("id")),
        attempt=_int(data.get("run_attempt"), 1),
        workflow_name=_str(data.get("name")),
        workflow_path=_str(data.get("path")),
        event=_str(data.get("event")),
        branch=_opt_str(data.get("head_branch")),
        head_sha=_str(data.get("head_sha")),
        head_repo=repo_full_name(data.get("head_repository")),
        created_at=parse_time(data.get("created_at")) or datetime.fromtimestamp(0, UTC),
        status=_str(data.get("status")),
        conclusion=_opt_str(data.get("conclusion")),
        html_url=_str(data.get("html_url")),
        title=_str(data.get("display_title")),
        pull_requests=tuple(ref for ref in refs if ref is not None),
    )


def run_from_event(payload: Json) -> RunInfo:
    """The run named by a `workflow_run` event. Its PR fields still need `find_pull_request`."""
    return run_info(_dict(payload.get("workflow_run")))


def job_info(data: Json) -> JobInfo:
    labels = [label for label in _list(data.get("labels")) if isinstance(label, str)]
    steps = tuple(
        StepInfo(
            number=_int(s.get("number")), name=_str(s.get("name")), conclusion=_opt_str(s.get("conclusion"))
        )
        for s in _list(data.get("steps"))
        if isinstance(s, dict)
    )
    return JobInfo(
        id=_int(data.get("id")),
        run_id=_int(data.get("run_id")),
        attempt=_int(data.get("run_attempt"), 1),
        name=_str(data.get("name")),
        status=_str(data.get("status")),
        conclusion=_opt_str(data.get("conclusion")),
        runner=labels[0] if labels else _opt_str(data.get("runner_name")),
        html_url=_str(data.get("html_url")),
        started_at=parse_time(data.get("started_at")),
        completed_at=parse_time(data.get("completed_at")),
        steps=steps,
    )


def pull_request_info(data: Json) -> PullRequestInfo:
    head = _dict(data.get("head"))
    base = _dict(data.get("base"))
    return PullRequestInfo(
        number=_int(data.get("number")),
        head_sha=_str(head.get("sha")),
        head_repo=repo_full_name(head.get("repo")),
        head_branch=_str(head.get("ref")),
        base_repo=repo_full_name(base.get("repo")) or "",
        html_url=_str(data.get("html_url")),
        title=_str(data.get("title")),
        state=_str(data.get("state")),
    )


def comment_info(data: Json) -> CommentInfo:
    return CommentInfo(
        id=_int(data.get("id")),
        body=_str(data.get("body")),
        user_login=_str(_dict(data.get("user")).get("login")),
        html_url=_str(data.get("html_url")),
    )


def check_run_info(data: Json) -> CheckRunInfo:
    return CheckRunInfo(
        id=_int(data.get("id")),
        name=_str(data.get("name")),
        external_id=_str(data.get("external_id")),
        html_url=_str(data.get("html_url")),
        head_sha=_str(data.get("head_sha")),
        conclusion=_opt_str(data.get("conclusion")),
        annotations_count=_int(_dict(data.get("output")).get("annotations_count")),
    )
