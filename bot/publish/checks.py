"""The check run on a pushed commit: verdicts where maintainers look, annotations per failing test.

One check run per (run, attempt), named distinctly and tagged `external_id = "<run id>-<attempt>"`.
Triaging the same attempt again (the bot's own workflow re-run, or a retry after a crash) finds
it and finishes it instead of adding a second one: fields are set again, and only the annotations
GitHub does not have yet are sent, because GitHub appends annotations on every update.

A new attempt of the triaged workflow gets its own check run rather than updating the previous
attempt's: appended annotations cannot be removed, so reusing it would mix the findings of both
attempts, and GitHub shows the newest check run of a name on the commit anyway.

Two triages of one attempt that overlap can each find none and each create one. Unlike a
comment, a check run cannot be deleted through the API; GitHub shows the newest of a name on the
commit, and a later triage of that attempt updates the newest (`max` id below), so the one shown
is the one kept current and the other, identical when made, stays out of sight.

The gateway posts annotations 50 per request (create with the first 50, then PATCH) and keeps
each batch from landing twice after a lost answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.errors import GatewayError, PublishError
from bot.gateway.client import GitHubGateway

MAX_OUTPUT_BYTES = 65535  # output.summary and output.text, each, in UTF-8 ("maximum bytesize")
MAX_TITLE_CHARS = 255


@dataclass(frozen=True)
class CheckResult:
    action: str  # "created" | "updated"
    url: str
    check_run_id: int
    annotations_sent: int


def external_id(run_id: int, attempt: int) -> str:
    return f"{run_id}-{attempt}"


def fit(text: str, limit: int = MAX_OUTPUT_BYTES) -> str:
    """Keep a check-run text within GitHub's limit (the renderer aims below it; this makes sure).

    GitHub counts UTF-8 bytes here, so a text of few characters but many multi-byte ones would
    be refused whole (422) rather than cut.
    """
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    note = "\n\n*(cut here: GitHub limits this text to 65,535 bytes; see the job summary)*\n"
    head = data[: limit - len(note.encode("utf-8"))].decode("utf-8", errors="ignore")
    cut = head.rfind("\n")
    return (head[: cut + 1] if cut > 0 else head) + note


def publish_check_run(
    gateway: GitHubGateway,
    *,
    name: str,
    head_sha: str,
    run_id: int,
    attempt: int,
    title: str,
    summary: str,
    text: str,
    annotations: Sequence[Mapping[str, Any]],
    conclusion: str,
    details_url: str | None = None,
) -> CheckResult:
    """Create or finish the check run for this attempt and attach every annotation exactly once.

    The texts come rendered and escaped; `annotations` are Checks API annotation objects.
    """
    ext = external_id(run_id, attempt)
    title = title[:MAX_TITLE_CHARS]
    summary, text = fit(summary), fit(text)
    notes = [dict(a) for a in annotations]
    try:
        mine = [c for c in gateway.list_check_runs(head_sha, name) if c.external_id == ext]
        if not mine:
            created = gateway.create_check_run(
                name=name,
                head_sha=head_sha,
                external_id=ext,
                details_url=details_url,
                conclusion=conclusion,
                title=title,
                summary=summary,
                text=text,
                annotations=notes,
            )
            return CheckResult("created", created.html_url, created.id, len(notes))
        existing = max(mine, key=lambda c: c.id)
        missing = notes[min(existing.annotations_count, len(notes)) :]
        updated = gateway.update_check_run(
            existing.id,
            conclusion=conclusion,
            title=title,
            summary=summary,
            text=text,
            annotations=missing,
        )
        return CheckResult("updated", updated.html_url or existing.html_url, existing.id, len(missing))
    except GatewayError as exc:
        raise PublishError(f"cannot publish the check run {name!r}: {exc}") from exc
