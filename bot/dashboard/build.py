"""The dashboard's numbers, gathered from the history store and handed to `core` to decide.

Everything is counted over one window: each watched workflow's pushes to the default branch in
the last `days` days. Pull-request runs are left out on purpose: a PR's own bug is not a flake
of the default branch, and a fork can fail any test it likes. Each workflow is one `Dashboard`,
judged by its own registry section, with rates from its own runs only (job names such as `build`
repeat across workflows); a `Board` puts them together under the tests that failed in more than
one of them (the report's `across_workflows`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot import stats
from bot.dashboard import core
from bot.patch_rules import PatchPolicy
from bot.registry.model import Registry
from bot.report import CrossTest, _Remembered, across_workflows
from bot.store.sqlite import HistoryStore, Window

RECENT = timedelta(days=7)  # a test that failed this recently may be failing on every run now


@dataclass(frozen=True)
class WeekRate:
    start: datetime
    runs: int
    failed: int

    @property
    def pass_rate(self) -> float:
        return 1 - self.failed / self.runs if self.runs else 0.0


@dataclass(frozen=True)
class LogCoverage:
    """What the numbers rest on: job executions, of which logs read, and failed jobs whose log
    could not be read (expired, missing or not downloaded), per job."""

    executions: int
    read: int
    unread_failed: Mapping[str, int]


@dataclass(frozen=True)
class Dashboard:
    workflow: str
    branch: str
    window: Window
    generated_at: datetime
    overview: stats.Overview
    overall: stats.Rate
    weeks: tuple[WeekRate, ...]
    jobs: tuple[stats.JobRate, ...]
    coverage: LogCoverage
    selection: core.Selection
    add_policy: PatchPolicy
    retire_policy: core.RetirePolicy
    repo_url: str = ""  # https://github.com/OWNER/NAME, for links to culprit ranges
    patches: Mapping[str, str] = field(default_factory=dict)  # item key -> diff
    patch_notes: Mapping[str, str] = field(default_factory=dict)  # item key -> why no patch


EvidenceFactory = Callable[[HistoryStore, Window, stats.ExclusionPolicy], core.EvidenceSource]


class NoEvidence:
    """The evidence source used until a richer one is wired in: nothing beyond the counts."""

    def evidence(self, test: str, job: str) -> core.PairEvidence:
        return core.PairEvidence()


def _weeks(store: HistoryStore, window: Window, first: datetime, last: datetime) -> tuple[WeekRate, ...]:
    out = []
    start = first.replace(hour=0, minute=0, second=0, microsecond=0)
    while start <= last:
        end = start + timedelta(days=7) - timedelta(seconds=1)
        view = store.overview(
            Window(since=start, until=end, branch=window.branch, event=window.event, workflow=window.workflow)
        )
        out.append(WeekRate(start, view.runs, view.failed_runs))
        start += timedelta(days=7)
    return tuple(out)


def _since_last(
    store: HistoryStore,
    window: Window,
    pairs: Sequence[tuple[str, str, datetime]],
    policy: stats.ExclusionPolicy,
    cuts: Sequence[datetime],
) -> dict[tuple[str, str], int]:
    """Executions of each (test, job) after its last event; one store scan per distinct time."""
    out = {}
    for test, job, last in pairs:
        later = Window(
            since=last + timedelta(seconds=1),
            until=window.until,
            branch=window.branch,
            event=window.event,
            workflow=window.workflow,
        )
        days = store.execution_days(later, job=job, cuts=[c.date() for c in cuts])
        out[(test, job)] = sum(stats.executions_of(test, days, policy, job=job).values())
    return out


def build(
    store: HistoryStore,
    registry: Registry,
    *,
    workflow: str,
    branch: str,
    days: int,
    now: datetime,
    add_policy: PatchPolicy,
    retire_policy: core.RetirePolicy,
    evidence: EvidenceFactory | None = None,
) -> Dashboard:
    """The dashboard over the window ending `now`. `evidence` builds the source of streaks,
    flips and new-way symptoms for that window (default: none beyond the counts)."""
    window = Window(
        since=now - timedelta(days=days), until=now, branch=branch, event="push", workflow=workflow
    )
    view = store.overview(window)
    job_tallies = store.job_tallies(window)
    tallies = store.test_tallies(window)
    policy = _Remembered(registry)
    cuts = {t.last_seen.date() + timedelta(days=1) for t in tallies} | set(stats.change_dates(registry) or ())
    exec_days = store.execution_days(window, cuts=sorted(cuts))
    executions: dict[tuple[str, str], int] = {}
    for test in {t.test for t in tallies}:
        for job, n in stats.executions_of(test, exec_days, policy).items():
            executions[(test, job)] = n
    together: dict[tuple[str, str], int] = {}
    for co in store.co_failures(window):
        for job in co.jobs:
            key = (co.test, job)
            together[key] = max(together.get(key, 1), len(co.jobs))
    # since-last counts and evidence cost queries each: only for pairs whose answer can change a
    # list (add candidates, listed tests, and anything that failed in the last week: a streak)
    latest = view.last or now
    wanted = []
    for t in tallies:
        runs = max(executions.get((t.test, t.job), 0), t.events)
        worthy = runs >= add_policy.min_executions and t.events >= add_policy.min_events
        recent = latest - t.last_seen <= RECENT
        if worthy or recent or core.covered(registry, t.test, t.job, latest.date()):
            wanted.append((t.test, t.job, t.last_seen))
    since_last = _since_last(store, window, wanted, policy, [])
    source = evidence(store, window, policy) if evidence is not None else NoEvidence()
    found = {(test, job): source.evidence(test, job) for test, job, _ in wanted}
    pairs = core.pairs_from(
        tallies,
        executions,
        since_last=since_last,
        together=together,
        evidence=found,
        runners=store.failure_runners(window),
    )
    end = min(now, view.last or now)
    selection = core.select(
        pairs,
        registry,
        tallies,
        exec_days,
        add_policy=add_policy,
        retire_policy=retire_policy,
        now=end,
        first=view.first,
    )
    coverage = LogCoverage(
        executions=sum(d.executions for d in exec_days),
        read=sum(d.read for d in exec_days),
        unread_failed={j.job: j.unread_failures for j in job_tallies if j.unread_failures},
    )
    return Dashboard(
        workflow=workflow,
        branch=branch,
        window=window,
        generated_at=now,
        overview=view,
        overall=stats.overall(view),
        weeks=_weeks(store, window, view.first, view.last) if view.first and view.last else (),
        jobs=tuple(stats.job_rates(job_tallies)),
        coverage=coverage,
        selection=selection,
        add_policy=add_policy,
        retire_policy=retire_policy,
    )


@dataclass(frozen=True)
class Board:
    """The whole dashboard: one `Dashboard` per watched workflow, in the order watched, and the
    tests that failed in more than one of them."""

    sections: tuple[Dashboard, ...]
    across: tuple[CrossTest, ...] = ()
    # retire entries held back: key -> (test, the other workflows where it still flakes)
    held_back: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    gaps: int = 0  # runs and logs in the window GitHub would not give: counted as unknown

    @property
    def selection(self) -> core.Selection:
        """Every section's entries (their ids are distinct: see `core.AddItem.workflow`)."""
        return core.Selection(
            tuple(i for d in self.sections for i in d.selection.add),
            tuple(i for d in self.sections for i in d.selection.retire),
            tuple(i for d in self.sections for i in d.selection.look),
        )

    @property
    def patches(self) -> Mapping[str, str]:
        return {k: v for d in self.sections for k, v in d.patches.items()}


def watched_across(tests: Sequence[CrossTest], names: Sequence[str]) -> tuple[CrossTest, ...]:
    """The cross-workflow rows restricted to the watched workflows (the store may hold others,
    synced by triage), keeping the tests still seen in more than one of them."""
    out = []
    for test in tests:
        places = tuple(p for p in test.places if p[0] in names)
        if len({p[0] for p in places}) > 1:
            out.append(CrossTest(test.test, places))
    return tuple(out)


def build_board(
    store: HistoryStore,
    registry: Registry,
    *,
    workflows: Sequence[tuple[str, str]],
    branch: str,
    days: int,
    now: datetime,
    add_policy: PatchPolicy,
    retire_policy: core.RetirePolicy,
    evidence: EvidenceFactory | None = None,
) -> Board:
    """A section per workflow, given as (path, display name), each judged by its registry
    section (`Registry.judging`, as triage does) over that workflow's runs only.

    Registry entries are shared by the workflows, so a retire entry appears once (in the first
    section that proposes it) and is held back while the test still flakes where the entry acts
    in another watched workflow."""
    sections: list[Dashboard] = []
    judges: dict[str, Registry] = {}
    for path, name in workflows:
        judged = registry.judging(path, name)
        judges[name or path] = judged
        d = build(
            store, judged, workflow=path or name, branch=branch, days=days, now=now,
            add_policy=add_policy, retire_policy=retire_policy, evidence=evidence,
        )  # fmt: skip
        if (registry.workflow or registry.workflow_file) and not registry.is_first(path, name):
            add = tuple(replace(i, workflow=name or path) for i in d.selection.add)
            d = replace(d, selection=replace(d.selection, add=add))
        sections.append(replace(d, workflow=name or path))
    window = Window(since=now - timedelta(days=days), until=now, branch=branch, event="push")
    failures = store.failures_by_workflow(window) if len(sections) > 1 else []
    held: dict[str, tuple[str, tuple[str, ...]]] = {}
    seen: set[str] = set()
    for i, d in enumerate(sections):
        kept = []
        for item in d.selection.retire:
            elsewhere = core.flaked_elsewhere(item, d.workflow, judges, failures)
            if elsewhere:
                held[item.key] = (item.test, elsewhere)
            elif item.key not in seen:
                kept.append(item)
            seen.add(item.key)
        sections[i] = replace(d, selection=replace(d.selection, retire=tuple(kept)))
    across = watched_across(across_workflows(store, window), [d.workflow for d in sections])
    return Board(tuple(sections), across, held, gaps=len(store.gaps(window)))
