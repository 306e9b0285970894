"""Small hand-written histories for the evidence behind verdicts (see `bot.evidence`).

A history is written as a string, oldest execution first, one character per execution of the
job: `P` passed, `F` failed (with the given symptom), `X` failed with another symptom, `?`
failed with an unreadable log (outcome unknown). Each execution is a run of its own commit,
one hour apart, ending an hour before `before`; `shas` gives a commit per character instead
(the character repeated 40 times).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.evidence import JobRecord, TestHistory

BEFORE = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def records(
    pattern: str,
    job: str,
    *,
    symptom: str = "",
    before: datetime = BEFORE,
    shas: str | None = None,
    first_run: int = 1000,
) -> tuple[JobRecord, ...]:
    out = []
    for i, mark in enumerate(pattern):
        created = before - timedelta(hours=len(pattern) - i)
        sha = shas[i] * 40 if shas else f"{i:x}".ljust(40, "0")
        failed = mark in "FX"
        out.append(
            JobRecord(
                run_id=first_run + i,
                attempt=1,
                sha=sha,
                created=created,
                job=job,
                conclusion="success" if mark == "P" else "failure",
                log_read=mark != "?",
                log_complete=mark != "?",
                past_build=mark != "?",
                failed=failed,
                symptom=(symptom if mark == "F" else "other way") if failed else "",
            )
        )
    return tuple(out)


def history(pattern: str, job: str, **kw: object) -> TestHistory:
    return TestHistory(here=records(pattern, job, **kw))  # type: ignore[arg-type]


def intermittent(symptom: str = "", before: datetime = BEFORE) -> Callable[[str, str], TestHistory]:
    """A lookup: every test failed twice before in the job, alone between passes, the same way."""

    def lookup(test: str, job: str) -> TestHistory:
        return history("PPPFPPPPFPPP", job, symptom=symptom, before=before)

    return lookup
