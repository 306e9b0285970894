"""Where a flaky test flakes: its record in every job it failed in, side by side (issue 26).

Every job of a workflow runs largely the same tests, so a test's flakiness is read across jobs:
per job its rate, whether upstream's list already covers it there, and whether its counts meet
the patch rule (`bot.patch_rules.PatchPolicy`) on their own. The jobs that do are the one "add" patch
such a test calls for; the others say why not yet. Pure: the report hands over its rates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.patch_rules import PatchPolicy
from bot.records import FlakeRate
from bot.stats import TestRates


@dataclass(frozen=True)
class JobRecord:
    """The test in one job: its rate, and what that makes of the job."""

    rate: FlakeRate
    listed: bool  # upstream's list covers it there already (its failures are ignored)
    meets_rule: bool  # events, executions and rate meet the patch rule there

    @property
    def status(self) -> str:
        """Fixed words for the report."""
        if self.listed:
            return "listed"
        return "meets the rule" if self.meets_rule else "below the rule"


@dataclass(frozen=True)
class Spread:
    test: str
    jobs: tuple[JobRecord, ...]

    @property
    def add_jobs(self) -> tuple[str, ...]:
        """The jobs one add patch would cover: not listed there, meeting the rule there."""
        return tuple(sorted(j.rate.job or "" for j in self.jobs if j.meets_rule and not j.listed))


def spread(
    tests: Sequence[TestRates], policy: PatchPolicy, listed: Callable[[str, str], bool]
) -> list[Spread]:
    """The tests that failed in two or more jobs, each job with its rate and status; `listed(test,
    job)` says whether upstream's list covers the test there now."""
    out = []
    for t in tests:
        jobs = [r for r in t.by_job if r.job is not None and r.events]
        if len(jobs) < 2:
            continue
        records = tuple(
            JobRecord(
                r, listed(t.overall.test, r.job or ""), policy.counts_meet(r.executions, r.events, r.rate)
            )
            for r in sorted(jobs, key=lambda r: (-r.rate, r.job or ""))
        )
        out.append(Spread(t.overall.test, records))
    return out
