"""The outcomes of earlier runs and attempts, kept hidden in the sticky comment.

The comment is edited in place, so without this record a second attempt that passed would hide
that the first one failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.findings import TriageReport
from bot.render.evidence import counted
from bot.render.sanitize import Md
from bot.verdicts import Verdict

# A Markdown link reference definition: GitHub shows nothing for it, and it is no HTML comment.
_ATTEMPT_RECORD = re.compile(
    r'\[flake-bot attempt (\d{1,20})/(\d{1,6})\]: # "sha=([0-9a-f]{7}) '
    r'failures=(\d{1,7}) known=(\d{1,7}) look=(\d{1,7}) unreadable=(\d{1,7})"'
)
MAX_EARLIER_ATTEMPTS = 10


@dataclass(frozen=True)
class AttemptRecord:
    """One earlier triage kept in the sticky comment, so editing it in place hides no history.

    Stored as an invisible line of numbers and a short sha right below the marker, and read back
    only from there: log text is never at the top of a comment (it starts with the marker and
    the headline), so a forged line inside a diff is not read, and the publisher only edits a
    comment by the bot's own login.
    """

    run_id: int
    attempt: int
    sha: str
    failures: int
    known: int
    look: int
    unreadable: int

    @classmethod
    def of(cls, report: TriageReport) -> AttemptRecord:
        c = report.counts
        sha = report.run.head_sha[:7].lower()
        if not re.fullmatch(r"[0-9a-f]{7}", sha):
            sha = "0000000"
        return cls(
            report.run.id,
            report.run.attempt,
            sha,
            c.failures,
            c[Verdict.KNOWN_FLAKE],
            c.needs_look,
            c.unreadable_logs,
        )

    def hidden(self) -> Md:
        return Md(
            f'[flake-bot attempt {self.run_id}/{self.attempt}]: # "sha={self.sha} '
            f'failures={self.failures} known={self.known} look={self.look} unreadable={self.unreadable}"'
        )

    def summary(self) -> str:
        if not self.failures and not self.unreadable:
            return "no failures"
        parts = [counted(self.failures, "failure")]
        if self.known:
            parts.append(counted(self.known, "known flake"))
        if self.look:
            parts.append(f"{self.look:,} need{'s' if self.look == 1 else ''} a look")
        if self.unreadable:
            parts.append(f"could not read {counted(self.unreadable, 'log')}")
        return ", ".join(parts)


def earlier_attempts(previous: str | None, current: AttemptRecord) -> list[AttemptRecord]:
    """The records kept below the marker of the previous comment body, without the current attempt."""
    found: list[AttemptRecord] = []
    for line in (previous or "").split("\n")[1:]:
        match = _ATTEMPT_RECORD.fullmatch(line)
        if match is None:
            break
        run_id, attempt, sha, failures, known, look, unreadable = match.groups()
        record = AttemptRecord(
            int(run_id), int(attempt), sha, int(failures), int(known), int(look), int(unreadable)
        )
        if (record.run_id, record.attempt) != (current.run_id, current.attempt) and record not in found:
            found.append(record)
    return found[-MAX_EARLIER_ATTEMPTS:]
