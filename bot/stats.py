"""Flakiness statistics over what the history store counted. Pure: no I/O, `now` is passed in.

The store does the counting in SQL (it may hold millions of job rows); these functions turn the
counts into rates, intervals and estimates. The inputs are the small tuples below, so a test can
build them by hand and a different store could feed them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from math import prod, sqrt
from typing import NamedTuple, Protocol

from bot.records import FlakeRate

Z95 = 1.959964


class ExclusionPolicy(Protocol):
    """What statistics need of a registry: did `job` run `test` on `when` (not excluded then), and
    would a failure of it have failed the job (not ignored then)?

    Structural, so neither the statistics nor the store depend on the registry package;
    `bot.registry.Registry` satisfies it.
    """

    def runs_test(self, job: str, test: str, when: date | None = None) -> bool: ...

    def ignores(self, job: str, test: str, when: date | None = None) -> bool: ...


def change_dates(registry: object) -> tuple[date, ...] | None:
    """The dates on which a registry's answers can change, if it says: the `since` and `until` of
    its entries (`bot.registry.Registry` has them). None when unknown: ask it day by day."""
    entries = getattr(registry, "entries", None)
    if entries is None:
        return None
    dates = {d for e in entries for d in (getattr(e, "since", None), getattr(e, "until", None))}
    return tuple(sorted(d for d in dates if isinstance(d, date)))


# ------------------------------------------------------------------ inputs (counted by the store)


class Overview(NamedTuple):
    runs: int
    failed_runs: int
    first: datetime | None
    last: datetime | None
    rerun_failures: int  # runs whose latest attempt passed after an earlier attempt failed


class JobTally(NamedTuple):
    job: str
    runner: str | None
    executions: int
    failures: int
    unread_failures: int  # failed executions whose log was not parsed (expired, missing, not fetched)


class TestTally(NamedTuple):
    test: str
    job: str
    events: int  # job executions where the test failed or failed-and-was-ignored
    ignored: int  # of which the runner ignored the failure
    last_seen: datetime
    symptoms: tuple[str, ...]


class ExecutionDay(NamedTuple):
    """Job executions that ran tests (green, or failed past the build with a readable log) on one
    day; `read` of them had their log read (failed ones, and green ones under --scan-green)."""

    job: str
    day: date
    executions: int
    read: int = 0


class CoFailure(NamedTuple):
    run_id: int
    attempt: int
    created: datetime
    test: str
    jobs: tuple[str, ...]


@dataclass(frozen=True)
class ObservedCause:
    """Failed jobs with a parsed log in which `test` failed (None: no test failed, e.g. build break)."""

    job: str
    test: str | None
    count: int


@dataclass(frozen=True)
class SoleCause:
    """Failed jobs whose only non-ignored failing test was `test`: ignoring it would have saved them."""

    job: str
    test: str
    count: int


# ------------------------------------------------------------------ outputs


@dataclass(frozen=True)
class Rate:
    events: int
    trials: int
    low: float
    high: float

    @property
    def value(self) -> float:
        return self.events / self.trials if self.trials else 0.0


@dataclass(frozen=True)
class JobRate:
    job: str
    runner: str | None
    rate: Rate
    unread_failures: int


@dataclass(frozen=True)
class MonthRate:
    month: str
    runs: int
    failed_runs: int

    @property
    def rate(self) -> float:
        return self.failed_runs / self.runs if self.runs else 0.0


@dataclass(frozen=True)
class Independence:
    """If job failures were independent, P(run passes) = product of per-job pass rates."""

    predicted_pass: float
    observed_pass: float


@dataclass(frozen=True)
class TestRates:
    """One test's flake rate overall and in each job that saw it fail."""

    overall: FlakeRate
    ignored: int
    by_job: tuple[FlakeRate, ...]


@dataclass(frozen=True)
class Attribution:
    """Failed jobs explained by `test` (None: not a test failure). `estimated` is inferred for
    failures whose logs are gone, in proportion to what the readable logs of the same job showed
    (basis "same job") or, when that job has none, of the jobs similar to it ("similar jobs")."""

    test: str | None
    observed: int
    estimated: float
    by_job: tuple[tuple[str, int, float, str], ...]  # (job, observed, estimated, basis)
    opportunities: int  # executions, readable or not, of the jobs it is blamed in (observed or estimated)

    @property
    def estimated_rate(self) -> float:
        return (self.observed + self.estimated) / self.opportunities if self.opportunities else 0.0


@dataclass(frozen=True)
class Impact:
    test: str
    saved_failures: float  # failed jobs that would have passed (observed + estimated)
    predicted_pass_if_ignored: float


@dataclass(frozen=True)
class EntryAge:
    """How long a registry entry has gone without its test flaking: grounds to retire it."""

    test: str
    label: str
    last_flake: datetime | None
    executions_since: int
    days_since: int | None


# ------------------------------------------------------------------ functions


def wilson(events: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval: unlike the normal approximation it stays inside [0, 1] and is honest
    for the small counts (2 failures in 575 runs) flake histories are full of."""
    if trials <= 0:
        return 0.0, 1.0
    p = min(1.0, events / trials)
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    # clamped to the observed rate too: rounding can put the bound of 0 in n a hair above 0
    return min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))


def rate(events: int, trials: int) -> Rate:
    low, high = wilson(events, trials)
    return Rate(events, trials, low, high)


def overall(view: Overview) -> Rate:
    return rate(view.failed_runs, view.runs)


def monthly(rows: Iterable[tuple[str, int, int]]) -> list[MonthRate]:
    return [MonthRate(m, n, f) for m, n, f in sorted(rows)]


def job_rates(tallies: Iterable[JobTally]) -> list[JobRate]:
    """Per-job failure rate over its executions, worst first (ties by name, for stable output)."""
    out = [JobRate(t.job, t.runner, rate(t.failures, t.executions), t.unread_failures) for t in tallies]
    return sorted(out, key=lambda j: (-j.rate.value, -j.rate.events, j.job))


def independence(jobs: Iterable[JobRate], view: Overview) -> Independence:
    predicted = prod(1 - j.rate.value for j in jobs)
    observed = 1 - view.failed_runs / view.runs if view.runs else 1.0
    return Independence(predicted, observed)


def executions_of(
    test: str,
    days: Iterable[ExecutionDay],
    registry: ExclusionPolicy | None = None,
    *,
    job: str | None = None,
    after: date | None = None,
) -> dict[str, int]:
    """Executions per job that really ran `test` and whose outcome for it is known.

    The registry in force on each day decides: an excluded test did not run; an ignored one ran,
    but its failure left the job green, so only executions whose log was read tell whether it
    failed (counting unread green jobs as clean would drive the rate of every ignored flaky test
    towards zero, and make its registry entry look ready to retire).
    """
    out: dict[str, int] = defaultdict(int)
    for d in days:
        if (job is not None and d.job != job) or (after is not None and d.day <= after):
            continue
        if registry is None:
            out[d.job] += d.executions
        elif registry.runs_test(d.job, test, d.day):
            out[d.job] += d.read if registry.ignores(d.job, test, d.day) else d.executions
    return dict(out)


def flake_rate(
    test: str,
    tallies: Sequence[TestTally],
    executions: Mapping[str, int],
    job: str | None = None,
) -> FlakeRate:
    """Events per execution of one test, in one job or in all. Executions never fall below the
    events counted (a failure proves an execution even where the registry says it was excluded)."""
    mine = [t for t in tallies if t.test == test and (job is None or t.job == job)]
    events = sum(t.events for t in mine)
    runs = sum(n for j, n in executions.items() if job is None or j == job)
    runs = max(runs, events)
    low, high = wilson(events, runs)
    return FlakeRate(
        test=test,
        job=job,
        events=events,
        executions=runs,
        low=low,
        high=high,
        last_seen=max((t.last_seen for t in mine), default=None),
        symptoms=tuple(dict.fromkeys(s for t in mine for s in t.symptoms)),
    )


def test_rates(
    tallies: Sequence[TestTally],
    days: Sequence[ExecutionDay],
    registry: ExclusionPolicy | None = None,
) -> list[TestRates]:
    """Every test that failed at least once, most events first."""
    tests = sorted({t.test for t in tallies})
    out = []
    for test in tests:
        execs = executions_of(test, days, registry)
        mine = [t for t in tallies if t.test == test]
        by_job = tuple(
            sorted(
                (flake_rate(test, mine, execs, job=t.job) for t in mine),
                key=lambda r: (-r.events, r.job or ""),
            )
        )
        out.append(TestRates(flake_rate(test, mine, execs), sum(t.ignored for t in mine), by_job))
    return sorted(out, key=lambda r: (-r.overall.events, r.overall.test))


@dataclass
class _Share:
    observed: int = 0
    estimated: float = 0.0
    basis: str = "observed"


def attribute(
    jobs: Sequence[JobTally],
    causes: Sequence[ObservedCause],
    days: Sequence[ExecutionDay],
    registry: ExclusionPolicy | None = None,
    *,
    now: date,
    similar: Mapping[str, str] | None = None,
) -> tuple[list[Attribution], dict[str, int]]:
    """Share the failed jobs with unreadable logs among the causes seen in readable ones.

    This is the reference report's reasoning made mechanical: a job whose readable failures were
    all thread_gc1.py probably failed on it when its log expired too. Where a job has no readable
    failure at all, the causes seen in the jobs `similar` puts in its group (job -> group name;
    the caller decides what makes jobs alike) are used, restricted to tests the registry says
    that job runs (`now` picks the registry state): a weaker guess, labelled as such. Nothing
    wider is tried: sharing a runner label says little (a timeout under QEMU emulation is no
    evidence about a native job on the same machine), and a failure left unattributed is honest
    where a guess on such grounds would not be. Returns the attributions, most failures first,
    and the unread failures nothing could explain.
    """
    group_of = similar or {}
    by_job: dict[str, dict[str | None, int]] = defaultdict(lambda: defaultdict(int))
    by_group: dict[str, dict[str | None, int]] = defaultdict(lambda: defaultdict(int))
    shares: dict[str | None, dict[str, _Share]] = defaultdict(dict)
    for c in causes:
        by_job[c.job][c.test] += c.count
        if c.job in group_of:
            by_group[group_of[c.job]][c.test] += c.count
        shares[c.test].setdefault(c.job, _Share()).observed += c.count
    unattributed: dict[str, int] = {}
    for j in jobs:
        if not j.unread_failures:
            continue
        seen: Mapping[str | None, int] = by_job.get(j.job, {})
        basis = "same job"
        if not seen and j.job in group_of:
            basis = "similar jobs"
            seen = {
                t: n for t, n in by_group.get(group_of[j.job], {}).items()
                if t is None or registry is None or registry.runs_test(j.job, t, now)
            }
        total = sum(seen.values())
        if not total:
            unattributed[j.job] = j.unread_failures
            continue
        for test, n in seen.items():
            share = shares[test].setdefault(j.job, _Share())
            share.estimated += j.unread_failures * n / total
            share.basis = basis
    unread = {j.job: j.unread_failures for j in jobs}
    out = []
    for test, per_job in shares.items():
        opportunities = 0
        if test is not None:
            # Only the jobs it is blamed in, as the reference report counts them ("8 jobs that
            # don't exclude it"): every job that merely runs the test would dilute the rate with
            # jobs, such as a minimal build, that may never run its directory.
            ran = executions_of(test, days, registry)
            opportunities = sum(ran.get(job, 0) + unread.get(job, 0) for job in per_job)
        out.append(
            Attribution(
                test=test,
                observed=sum(s.observed for s in per_job.values()),
                estimated=sum(s.estimated for s in per_job.values()),
                by_job=tuple(
                    sorted(
                        ((job, s.observed, s.estimated, s.basis) for job, s in per_job.items()),
                        key=lambda r: (-(r[1] + r[2]), r[0]),
                    )
                ),
                opportunities=opportunities,
            )
        )
    return sorted(out, key=lambda a: (-(a.observed + a.estimated), a.test or "~")), unattributed


def impact(
    jobs: Sequence[JobTally],
    sole: Sequence[SoleCause],
    attributions: Sequence[Attribution],
) -> list[Impact]:
    """Predicted pass rate of the whole workflow if each test were ignored everywhere.

    A failed job is saved only if that test was its sole failing test (observed), or by the
    estimated share of unreadable failures; the rest of the product of per-job pass rates stays.
    """
    saved: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for s in sole:
        saved[s.test][s.job] += s.count
    for a in attributions:
        if a.test is None:
            continue
        for job, _observed, estimated, _basis in a.by_job:
            saved[a.test][job] += estimated
    out = []
    for test, per_job in saved.items():
        predicted = prod(
            1 - max(0.0, j.failures - per_job.get(j.job, 0.0)) / j.executions for j in jobs if j.executions
        )
        out.append(Impact(test, sum(per_job.values()), predicted))
    return sorted(out, key=lambda i: (-i.predicted_pass_if_ignored, i.test))
