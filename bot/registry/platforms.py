"""How far a `flaky_tests_to_ignore` entry reaches, and what changing it for some jobs does.

run-tests.py checks an entry's platforms against `sys.platform` of the host running it, and the
same dict serves every job of every workflow. So an entry cannot be changed "for one job": it is
changed for every job on that job's platform, in every covered workflow. This module is the one
model of that: the universe is the set of platforms of every job that runs run-tests.py in every
covered workflow the checkout has, `None` stands for that whole universe (and for jobs whose
runner is unknown), and a change is judged by the jobs whose behaviour it changes, so a patch can
name each of them and refuse a removal that reaches jobs nobody named.

Platforms are written as upstream writes them: `None` (every platform), a tuple of platform
names, or `()` for "no entry at all", so that adding and removing are one operation on sets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: An entry's platforms: None (every platform), a tuple of names, or () when there is no entry.
Platforms = tuple[str, ...] | None
ABSENT: Platforms = ()
UNKNOWN_OS = "unknown"


@dataclass(frozen=True, order=True)
class SuiteJob:
    """A job that runs tests/run-tests.py: its workflow file, its name and its host's sys.platform."""

    workflow: str
    name: str
    os: str

    def label(self) -> str:
        return f"{self.name} ({self.workflow})"


def universe(jobs: Iterable[SuiteJob]) -> frozenset[str]:
    """Every platform some job runs run-tests.py on: what `None` means for this checkout."""
    return frozenset(job.os for job in jobs if job.os != UNKNOWN_OS)


def reaches(platforms: Platforms, job: SuiteJob) -> bool:
    """Whether an entry with these platforms ignores the test's failures in `job`."""
    return platforms is None or job.os in platforms


def covered(platforms: Platforms, everywhere: frozenset[str]) -> set[str]:
    return set(everywhere) if platforms is None else set(platforms)


def _written(platforms: set[str], everywhere: frozenset[str]) -> Platforms:
    """`None` only when the set is the whole universe; () when nothing is left (no entry)."""
    if not platforms:
        return ABSENT
    if everywhere and platforms >= everywhere:
        return None
    return tuple(sorted(platforms))


def widen(platforms: Platforms, oses: Iterable[str], everywhere: frozenset[str]) -> Platforms:
    """The entry after ignoring the test on `oses` too; unchanged (as written) when it already did."""
    wanted = set(oses)
    have = covered(platforms, everywhere)
    if wanted <= have:
        return platforms
    return _written(have | wanted, everywhere)


def narrow(platforms: Platforms, oses: Iterable[str], everywhere: frozenset[str]) -> Platforms:
    """The entry after it stops ignoring the test on `oses`; unchanged when it did not there."""
    have = covered(platforms, everywhere)
    gone = have & set(oses)
    if not gone:
        return platforms
    return _written(have - gone, everywhere)


def changed_jobs(before: Platforms, after: Platforms, jobs: Iterable[SuiteJob]) -> list[SuiteJob]:
    """Every job whose failures of the test are ignored before and not after, or the reverse."""
    return sorted(job for job in jobs if reaches(before, job) != reaches(after, job))


def _short(workflow: str) -> str:
    """`ports_qemu.yml` -> `qemu`: how a maintainer names a workflow's jobs in a sentence."""
    return workflow.rsplit("/", 1)[-1].removeprefix("ports_").removesuffix(".yml").removesuffix(".yaml")


def tally(jobs: Sequence[SuiteJob], order: Sequence[str] = ()) -> str:
    """`19 unix jobs and 1 webassembly job`: the jobs counted per workflow, in a sentence, the
    workflows in `order` first (in that order), then the others by name."""
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job.workflow] = counts.get(job.workflow, 0) + 1
    rank = {w: i for i, w in enumerate(order)}
    ranked = sorted(counts.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0]))
    parts = [f"{n} {_short(w)} job{'s' if n != 1 else ''}" for w, n in ranked]
    if len(parts) <= 1:
        return "".join(parts) or "no job"
    return ", ".join(parts[:-1]) + " and " + parts[-1]
