"""The clean record of a registry entry: executions since its test last flaked, where it acts.

Both the report's "registry entries" table and the dashboard's retire section show this number,
and it is the evidence for retiring an entry, so it is computed once, here. Only executions that
could have shown the flake count: an entry that applies on darwin only (`cmdline/repl_cont.py`)
is judged by the macOS jobs, not by twenty linux jobs that never had the problem; an exclusion is
judged by the jobs that still run the test (the excluded ones do not run it at all).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot import stats
from bot.registry.model import Entry, Mechanism, Registry


@dataclass(frozen=True)
class CleanRecord:
    acting: tuple[str, ...]  # jobs the entry acts in
    evidence_jobs: tuple[str, ...]  # jobs whose executions make the record (and that the window holds)
    last_flake: datetime | None  # in the evidence jobs
    executions_since: int  # in the evidence jobs, after the day of the last flake


def entry_jobs(registry: Registry, entry: Entry) -> tuple[str, ...]:
    """The jobs an entry acts in."""
    return tuple(sorted(name for name, spec in registry.jobs.items() if entry.covers(spec)))


def clean_record(
    registry: Registry,
    entry: Entry,
    test: str,
    tallies: Sequence[stats.TestTally],
    days: Sequence[stats.ExecutionDay],
    *,
    today: date,
    policy: stats.ExclusionPolicy | None = None,
) -> CleanRecord:
    """`test`'s record under `entry` (see the module docstring). `policy` answers "did the job
    run the test that day" (default: the registry itself; the report passes a remembering copy)."""
    policy = policy or registry
    acting = entry_jobs(registry, entry)
    if entry.mechanism is Mechanism.IGNORE:
        candidates = acting
    else:  # an excluded test runs only where it is not excluded
        candidates = tuple(sorted(j for j in registry.jobs if registry.runs_test(j, test, today)))
    seen = stats.executions_of(test, days, policy)
    evidence = tuple(j for j in candidates if seen.get(j))
    last = max((t.last_seen for t in tallies if t.test == test and t.job in evidence), default=None)
    ran = stats.executions_of(test, days, policy, after=last.date() if last else None)
    return CleanRecord(acting, evidence, last, sum(n for job, n in ran.items() if job in evidence))
