"""The flakiness report: the store's counts turned into statistics, and those as JSON.

`build_report` computes everything once so the Markdown (`bot.render.report`) and the JSON
carry the same numbers. JSON strings from logs are left raw: its consumers escape for their
own medium.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from bot import stats
from bot.clean_record import clean_record
from bot.patch_rules import PatchPolicy
from bot.registry.model import Registry
from bot.spread import Spread, spread
from bot.store.sqlite import HistoryStore, Window


class _Entry(Protocol):
    @property
    def test(self) -> str: ...

    @property
    def flaky(self) -> bool: ...

    def matches_test(self, test: str) -> bool: ...

    def where(self) -> str: ...

    @property
    def since(self) -> date | None: ...

    @property
    def until(self) -> date | None: ...


class _JobSpec(Protocol):
    @property
    def os(self) -> str: ...

    @property
    def functions(self) -> tuple[str, ...]: ...


class RegistryView(stats.ExclusionPolicy, Protocol):
    """What the report needs of `bot.registry.Registry`: the exclusion rule, the entries and the
    jobs (runner OS and ci.sh functions, to tell which jobs are alike)."""

    @property
    def entries(self) -> tuple[_Entry, ...]: ...

    @property
    def jobs(self) -> Mapping[str, _JobSpec]: ...



_EXACT_PATH = re.compile(r"[\w/.-]+\.py")


class _Remembered:
    """A registry whose answers are remembered: the report asks the same question for every
    test in every statistic, and each answer scans all the registry's entries. Answers change
    only on the registry's own dates, so one is kept per span between them, not per day."""

    def __init__(self, registry: stats.ExclusionPolicy) -> None:
        self._registry = registry
        self._changes = stats.change_dates(registry)
        self._answers: dict[tuple[bool, str, str, int | date | None], bool] = {}

    def _span(self, when: date | None) -> int | date | None:
        return bisect_right(self._changes, when) if when is not None and self._changes is not None else when

    def runs_test(self, job: str, test: str, when: date | None = None) -> bool:
        key = (False, job, test, self._span(when))
        if key not in self._answers:
            self._answers[key] = self._registry.runs_test(job, test, when)
        return self._answers[key]

    def ignores(self, job: str, test: str, when: date | None = None) -> bool:
        key = (True, job, test, self._span(when))
        if key not in self._answers:
            self._answers[key] = self._registry.ignores(job, test, when)
        return self._answers[key]


def _how_tests_run(functions: tuple[str, ...]) -> str | None:
    """How a job runs the test suite, from the ci.sh functions the registry lists for it.

    Emulation first: a job whose functions are the `*_qemu_*` ones runs the unix port under
    qemu-user, where timing-sensitive tests time out (thread/stress_aes.py) for reasons a native
    build never meets. Otherwise the shared run-tests helper(s) it calls decide which test
    directories and flags it runs (`ci_unix_run_tests_full_helper`: the full suite;
    `ci_unix_run_tests_helper`: the basic one). None when neither says: such a job has no
    similar jobs.
    """
    if any("_qemu_" in f for f in functions):
        return "under QEMU emulation"
    helpers = sorted(f for f in functions if "run_tests" in f and f.endswith("_helper"))
    return "natively via " + " + ".join(helpers) if helpers else None


def similar_jobs(registry: RegistryView | None) -> dict[str, str]:
    """Job -> the name of its group of similar jobs: same runner OS and same way of running the
    tests. The fallback evidence for a job with no readable failed log of its own.

    A runner label alone is too coarse (MicroPython's QEMU jobs run on ubuntu-latest beside the
    native ones, so their emulation timeouts would be blamed on native jobs); jobs that share
    the OS and the run-tests helper run the same test directories the same way, which is what
    the reference report relied on ("all of these jobs run test_full"). Jobs the registry does
    not know, or whose runner OS or way of running tests it cannot tell, get no group.
    """
    if registry is None:
        return {}
    out = {}
    for name, spec in registry.jobs.items():
        how = _how_tests_run(spec.functions)
        if how is not None and spec.os != "unknown":
            out[name] = f"{spec.os}, {how}"
    return out


@dataclass(frozen=True)
class SimilarGroup:
    """Jobs pooled as one another's fallback evidence, and how many readable failed logs they hold."""

    name: str
    jobs: tuple[str, ...]
    readable_logs: int


@dataclass(frozen=True)
class Report:
    window: Window
    generated_at: datetime
    overview: stats.Overview
    overall: stats.Rate
    histogram: dict[int, int]
    months: list[stats.MonthRate]
    jobs: list[stats.JobRate]
    independence: stats.Independence
    tests: list[stats.TestRates]
    co_failures: list[stats.CoFailure]
    attributions: list[stats.Attribution]
    unattributed: dict[str, int]
    similar: dict[str, str]  # job -> its group of similar jobs (jobs of this window only)
    similar_groups: list[SimilarGroup]
    impacts: list[stats.Impact]
    entry_ages: list[stats.EntryAge]
    spread: list[Spread] = field(default_factory=list)  # tests flaky in several jobs, per job


def build_report(
    store: HistoryStore, window: Window, *, now: datetime, registry: RegistryView | None = None
) -> Report:
    """Everything the report shows, computed once so Markdown and JSON carry the same numbers."""
    view = store.overview(window)
    job_tallies = store.job_tallies(window)
    test_tallies = store.test_tallies(window)
    # Every answer below changes only where a registry entry starts or ends, or the day after a
    # test last flaked: counting executions per span between those dates is exact and keeps the
    # registry from being asked once per day of history.
    cuts = {t.last_seen.date() + timedelta(days=1) for t in test_tallies}
    if registry is not None:
        cuts |= set(stats.change_dates(registry) or ())
    days = store.execution_days(window, cuts=sorted(cuts))
    policy = _Remembered(registry) if registry is not None else None
    jobs = stats.job_rates(job_tallies)
    in_window = {j.job for j in job_tallies}
    similar = {job: group for job, group in similar_jobs(registry).items() if job in in_window}
    attributions, unattributed = stats.attribute(
        job_tallies, store.observed_causes(window), days, policy, now=now.date(), similar=similar
    )
    return Report(
        window=window,
        generated_at=now,
        overview=view,
        overall=stats.overall(view),
        histogram=store.failed_jobs_per_failed_run(window),
        months=stats.monthly(store.monthly(window)),
        jobs=jobs,
        independence=stats.independence(jobs, view),
        tests=(per_test := stats.test_rates(test_tallies, days, policy)),
        spread=spread(per_test, PatchPolicy(), _listed_now(registry, min(now, view.last or now).date())),
        co_failures=store.co_failures(window),
        attributions=attributions,
        unattributed=unattributed,
        similar=similar,
        similar_groups=_groups(similar, job_tallies),
        impacts=stats.impact(job_tallies, store.sole_causes(window), attributions),
        # ages count to the history's last run: a stale store is not a clean streak, and data
        # dated after this machine's clock gives no negative age
        entry_ages=_entry_ages(registry, test_tallies, days, policy, end=view.last or now),
    )


def _listed_now(registry: RegistryView | None, today: date) -> Callable[[str, str], bool]:
    """Whether upstream's list keeps a test's failures in a job from failing it now: ignored
    there, or excluded (a test excluded as flaky cannot fail there at all)."""

    def listed(test: str, job: str) -> bool:
        if registry is None:
            return False
        return registry.ignores(job, test, today) or not registry.runs_test(job, test, today)

    return listed
def _entry_ages(
    registry: RegistryView | None,
    tallies: Sequence[stats.TestTally],
    days: Sequence[stats.ExecutionDay],
    policy: stats.ExclusionPolicy | None,
    *,
    end: datetime,
) -> list[stats.EntryAge]:
    """Per flaky entry and test it names: the clean record where the entry acts (the dashboard's
    retire rule counts the same, `bot.clean_record`)."""
    if not isinstance(registry, Registry):
        return []
    known = sorted({t.test for t in tallies})
    out = []
    for entry in registry.entries:
        if not entry.flaky:
            continue
        label = f"{entry.test} ({entry.where()})"
        tests = [t for t in known if entry.matches_test(t)]
        if not tests and _EXACT_PATH.fullmatch(entry.test):
            tests = [entry.test]
        for test in tests:
            record = clean_record(registry, entry, test, tallies, days, today=end.date(), policy=policy)
            last = record.last_flake
            out.append(stats.EntryAge(test, label, last, record.executions_since,
                                      max(0, (end - last).days) if last else None))
    return sorted(out, key=lambda e: (-e.executions_since, e.test, e.label))


def _groups(similar: Mapping[str, str], jobs: Sequence[stats.JobTally]) -> list[SimilarGroup]:
    members: dict[str, list[str]] = {}
    for job, group in sorted(similar.items()):
        members.setdefault(group, []).append(job)
    readable: dict[str, int] = dict.fromkeys(members, 0)
    for j in jobs:
        if j.job in similar:
            readable[similar[j.job]] += j.failures - j.unread_failures
    return [SimilarGroup(g, tuple(names), readable[g]) for g, names in sorted(members.items())]


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _rate(rate: stats.Rate) -> dict[str, Any]:
    return {"events": rate.events, "trials": rate.trials, "rate": rate.value, "low": rate.low,
            "high": rate.high}


def _flake(rate: Any) -> dict[str, Any]:
    return {
        "job": rate.job,
        "events": rate.events,
        "executions": rate.executions,
        "rate": rate.rate,
        "low": rate.low,
        "high": rate.high,
        "last_seen": _iso(rate.last_seen),
        "symptoms": list(rate.symptoms),
    }


def to_json(report: Report) -> dict[str, Any]:
    """The same numbers as the Markdown, unrounded. Strings from logs are left raw: JSON
    consumers escape for their own medium."""
    w = report.window
    return {
        "generated_at": _iso(report.generated_at),
        "window": {
            "since": _iso(w.since),
            "until": _iso(w.until),
            "branch": w.branch,
            "event": w.event,
            "first_run": _iso(report.overview.first),
            "last_run": _iso(report.overview.last),
        },
        "runs": {
            "total": report.overview.runs,
            "failed": report.overview.failed_runs,
            "rerun_failures": report.overview.rerun_failures,
            **{k: v for k, v in _rate(report.overall).items() if k in ("rate", "low", "high")},
        },
        "failed_jobs_per_failed_run": {str(k): v for k, v in sorted(report.histogram.items())},
        "monthly": [
            {"month": m.month, "runs": m.runs, "failed": m.failed_runs, "rate": m.rate} for m in report.months
        ],
        "jobs": [
            {"job": j.job, "runner": j.runner, "executions": j.rate.trials, "failures": j.rate.events,
             "rate": j.rate.value, "low": j.rate.low, "high": j.rate.high,
             "unread_failures": j.unread_failures}
            for j in report.jobs
        ],
        "independence": {
            "predicted_pass": report.independence.predicted_pass,
            "observed_pass": report.independence.observed_pass,
        },
        "tests": [
            {"test": t.overall.test, "ignored": t.ignored, **_flake(t.overall),
             "jobs": [_flake(r) for r in t.by_job]}
            for t in report.tests
        ],
        "co_failures": [
            {"run_id": c.run_id, "attempt": c.attempt, "created": _iso(c.created), "test": c.test,
             "jobs": list(c.jobs)}
            for c in report.co_failures
        ],
        "attribution": {
            "note": (
                "estimated values are inferred for failed jobs whose logs were unreadable, from the "
                "readable failed logs of the same job, else of similar jobs (same runner OS and same "
                "way of running tests); failures with neither are left unattributed"
            ),
            "causes": [
                {"test": a.test, "observed": a.observed, "estimated": a.estimated,
                 "opportunities": a.opportunities, "estimated_rate": a.estimated_rate,
                 "jobs": [{"job": j, "observed": o, "estimated": e, "basis": b} for j, o, e, b in a.by_job]}
                for a in report.attributions
            ],
            "unattributed": report.unattributed,
            "similar_jobs": [
                {"group": g.name, "jobs": list(g.jobs), "readable_failed_logs": g.readable_logs}
                for g in report.similar_groups
            ],
        },
        "impact": [
            {"test": i.test, "saved_failures": i.saved_failures,
             "predicted_pass_if_ignored": i.predicted_pass_if_ignored}
            for i in report.impacts
        ],
        "registry_entries": [
            {"entry": e.label, "test": e.test, "last_flake": _iso(e.last_flake),
             "executions_since": e.executions_since, "days_since": e.days_since}
            for e in report.entry_ages
        ],
        "several_jobs": [
            {"test": x.test, "add_jobs": list(x.add_jobs),
             "jobs": [{**_flake(j.rate), "listed": j.listed, "meets_rule": j.meets_rule} for j in x.jobs]}
            for x in report.spread
        ],
    }


@dataclass(frozen=True)
class CrossTest:
    """Where one test failed, across the workflows of the store (counts of runs, per job)."""

    test: str
    places: tuple[tuple[str, str, int, int], ...]  # (workflow name, job, failed, ignored)

    @property
    def workflows(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p[0] for p in self.places))

    @property
    def runs(self) -> int:
        return sum(p[2] + p[3] for p in self.places)


def across_workflows(store: HistoryStore, window: Window) -> list[CrossTest]:
    """Tests that failed (or were ignored as known-flaky) in more than one workflow, most runs
    first: rates stay per workflow, but "flaky on qemu arm and on unix macos" is one fact about
    the test, worth seeing in one place."""
    by_test: dict[str, list[tuple[str, str, int, int]]] = {}
    for test, workflow, job, failed, ignored in store.failures_by_workflow(window):
        by_test.setdefault(test, []).append((workflow, job, failed, ignored))
    tests = [CrossTest(t, tuple(p)) for t, p in by_test.items() if len({w for w, *_ in p}) > 1]
    return sorted(tests, key=lambda c: (-c.runs, c.test))


def across_json(workflows: Sequence[tuple[str, str, int]], tests: Sequence[CrossTest]) -> dict[str, Any]:
    return {
        "workflows": [{"path": p, "name": n, "runs": r} for p, n, r in workflows],
        "tests": [
            {
                "test": t.test,
                "workflows": list(t.workflows),
                "jobs": [{"workflow": w, "job": j, "failed": f, "ignored": i} for w, j, f, i in t.places],
            }
            for t in tests
        ],
    }
