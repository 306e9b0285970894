"""Which tests belong on each of the dashboard's three lists. Pure: no I/O, `now` is passed in.

The lists are decisions a maintainer acts on, so each rule is written to fail safe:

- **add** asks for the same evidence as triage's patch rule (`bot.patch_rules.PatchPolicy`): enough
  events over enough executions of that very job, passes since the last failure, and no
  failure in many jobs of one run at once. A test failing in every recent execution is a
  regression in the making and goes to **look** instead: an ignore entry would hide it.
- **retire** needs a long clean record *where the entry acts*: for an ignore entry, the jobs it
  covers, counting only executions whose log was read (an ignored failure leaves the job
  green); for an exclusion, the jobs that still run the test (the excluded ones cannot show
  anything). No record, no retirement.
- **look** collects what contradicts the list: a listed test failing in a way its entry does
  not describe, any test failing in every execution since some run, and candidates whose
  failures coincide across jobs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Protocol

from bot import stats
from bot.clean_record import clean_record
from bot.patch_rules import PatchPolicy
from bot.registry.model import Entry, Mechanism, Registry

_EXACT_PATH = re.compile(r"[\w/.-]+\.py")


@dataclass(frozen=True)
class Streak:
    """Failing in every execution of the job since `first_run` (the culprit lies between
    `last_pass_sha` and `first_sha`). `failures` 0 means no streak."""

    failures: int
    first_run: int | None = None
    first_sha: str = ""
    first_created: datetime | None = None
    last_pass_sha: str | None = None
    capped: bool = False  # the history ends inside the streak: it may be longer


@dataclass(frozen=True)
class PairEvidence:
    """What the history says about one test in one job beyond its counts. Every field may be
    unknown (None) when the evidence source cannot tell."""

    streak: Streak | None = None
    flips: int | None = None  # commits on which it both failed and passed in this job
    new_way: bool | None = None  # its latest symptom is one none of its earlier failures had
    # its failure rate rose at `first_run` after a quiet stretch ending at `last_pass_sha`
    # (`bot.changepoint`); `failures` counts those since
    flaky_since: Streak | None = None


class EvidenceSource(Protocol):
    """Per-(test, job) evidence; the dashboard does not compute streaks or flips itself."""

    def evidence(self, test: str, job: str) -> PairEvidence: ...


@dataclass(frozen=True)
class Pair:
    """One test in one job over the dashboard's window."""

    test: str
    job: str
    events: int
    executions: int
    low: float
    high: float
    ignored: int  # events the runner ignored
    last_seen: datetime | None
    symptoms: tuple[str, ...]
    since_last: int | None  # executions after the last event (None: unknown)
    max_jobs_at_once: int = 1  # most jobs of one run it failed in together
    evidence: PairEvidence = PairEvidence()
    runners: frozenset[str] = frozenset({"run-tests"})  # the test runners its failures came from

    @property
    def rate(self) -> float:
        return self.events / self.executions if self.executions else 0.0


@dataclass(frozen=True)
class RetirePolicy:
    """A clean record long enough to retire an entry: at 1% flake rate, 300 clean executions in
    a row happen by chance 5% of the time; 30 days covers a month of upstream changes."""

    min_executions: int = 300
    min_days: int = 30


@dataclass(frozen=True)
class OtherJob:
    """A job the test failed in that an add item's patch leaves out, and why (fixed words)."""

    pair: Pair
    reason: str


@dataclass(frozen=True)
class AddItem:
    test: str
    jobs: tuple[str, ...]
    widen: bool  # a flaky entry already covers the test in other jobs
    pairs: tuple[Pair, ...]
    # the jobs' workflow when it is not the registry's first one: a test can be an add entry in
    # two workflows, each with its own patch and pull request; the first workflow's entries keep
    # the ids they had before the dashboard watched several (ticks and branches carry over)
    workflow: str = ""
    # its record in the other jobs it failed in, so the patch's set of jobs reads against them
    elsewhere: tuple[OtherJob, ...] = ()

    @property
    def key(self) -> str:
        return item_key("add", f"{self.workflow}\n{self.test}" if self.workflow else self.test)


@dataclass(frozen=True)
class RetireItem:
    test: str
    entry: Entry
    jobs: tuple[str, ...]  # jobs the entry acts in (the remove patch's jobs)
    evidence_jobs: tuple[str, ...]  # jobs whose executions are the clean record
    last_flake: datetime | None
    executions_since: int
    days_since: int  # since the last flake, or the history's span when none was seen

    @property
    def key(self) -> str:
        return item_key("retire", f"{self.entry.mechanism.value}:{self.entry.test}:{self.test}")


@dataclass(frozen=True)
class LookItem:
    test: str
    job: str
    reason: str  # "streak" | "newly-flaky" | "new-way" | "together"
    pair: Pair
    listed: bool
    detail: str  # plain words; untrusted parts are escaped by the template


@dataclass(frozen=True)
class Selection:
    add: tuple[AddItem, ...]
    retire: tuple[RetireItem, ...]
    look: tuple[LookItem, ...]

    def actionable(self) -> tuple[AddItem | RetireItem, ...]:
        """The entries a pull request can act on, in the order they are shown."""
        return (*self.add, *self.retire)


def item_key(kind: str, what: str) -> str:
    """A short stable id for an entry (checkbox marker and branch name): hashed, so a hostile
    test name never reaches a marker or a ref."""
    return f"{kind}-{hashlib.sha256(what.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


def flaky_entries(registry: Registry, test: str, when: date) -> list[Entry]:
    return [e for e in registry.entries if e.flaky and e.active_on(when) and e.matches_test(test)]


def covered(registry: Registry, test: str, job: str, when: date) -> bool:
    """A flaky entry in force on `when` keeps this test's failures in this job from failing it."""
    spec = registry.job(job)
    return any(e.covers(spec) for e in flaky_entries(registry, test, when))


def _kept_out(registry: Registry, test: str, job: str, when: date) -> bool:
    """A non-flaky entry keeps the test out of this job: it should not run at all."""
    spec = registry.job(job)
    return any(
        not e.flaky and e.active_on(when) and e.covers(spec) and e.matches_test(test)
        for e in registry.entries
    )


def streaking(pair: Pair) -> bool:
    """Failing in its latest execution(s): the evidence source's streak when it has one, else
    the counts (a failure with no execution after it)."""
    streak = pair.evidence.streak
    if streak is not None:
        return streak.failures > 0
    return pair.events > 0 and pair.since_last == 0


def newly_flaky(pair: Pair) -> bool:
    """Its failure rate rose at some run (the evidence source's change-point test): an ignore
    entry would hide the change that made it flaky."""
    return pair.evidence.flaky_since is not None


def add_worthy(pair: Pair, policy: PatchPolicy) -> bool:
    """The counts meet the rule (whether it is covered or persistent is judged by the caller);
    with the rule off (`suggest-patches: off`) nothing is proposed for adding."""
    return policy.enabled and policy.counts_meet(pair.executions, pair.events, pair.rate)


def select_add(
    pairs: Iterable[Pair], registry: Registry, policy: PatchPolicy, *, today: date
) -> tuple[list[AddItem], list[LookItem]]:
    """Add candidates per test (the jobs where it meets the rule and no flaky entry covers it),
    and the candidates held back for a look (streaking, or failing in many jobs at once)."""
    by_test: dict[str, list[Pair]] = {}
    look: list[LookItem] = []
    every: dict[str, list[Pair]] = {}
    for pair in pairs:
        every.setdefault(pair.test, []).append(pair)
        if covered(registry, pair.test, pair.job, today) or _kept_out(registry, pair.test, pair.job, today):
            continue
        if not add_worthy(pair, policy) or pair.runners != {"run-tests"}:
            continue  # upstream's lists cover run-tests.py only: no patch there hides another runner's
        if streaking(pair) or newly_flaky(pair):
            continue  # listed under look by select_look
        if pair.max_jobs_at_once > policy.max_jobs_in_run:
            look.append(
                LookItem(
                    pair.test,
                    pair.job,
                    "together",
                    pair,
                    False,
                    f"failed in {pair.max_jobs_at_once} jobs of one run at once: a shared cause is "
                    "likelier than independent flakes, so no patch is offered",
                )
            )
            continue
        by_test.setdefault(pair.test, []).append(pair)
    items = []
    for test, found in by_test.items():
        found.sort(key=lambda p: (-p.rate, p.job))
        widen = bool(flaky_entries(registry, test, today))
        items.append(AddItem(test, tuple(sorted(p.job for p in found)), widen, tuple(found)))
    items = [replace(i, elsewhere=left_out(i, every, registry, policy, today)) for i in items]
    items.sort(key=lambda i: (-max(p.rate for p in i.pairs), i.test))
    return items, look


def left_out(
    item: AddItem, every: Mapping[str, Sequence[Pair]], registry: Registry, policy: PatchPolicy, today: date
) -> tuple[OtherJob, ...]:
    """The other jobs the test failed in, most flaky first, each with the reason the one patch
    leaves it out: a test flaking in several jobs is shown across all of them, and the patch
    covers exactly those where it meets the rule on its own."""
    others = sorted((p for p in every.get(item.test, ()) if p.job not in item.jobs and p.events),
                    key=lambda p: (-p.rate, p.job))  # fmt: skip
    return tuple(OtherJob(p, _why_left_out(p, registry, policy, today)) for p in others)


def _why_left_out(pair: Pair, registry: Registry, policy: PatchPolicy, today: date) -> str:
    if covered(registry, pair.test, pair.job, today):
        return "listed as flaky there"
    if _kept_out(registry, pair.test, pair.job, today):
        return "kept out of that job for another reason"
    if pair.runners != {"run-tests"}:
        return "failures from another test runner"
    if streaking(pair):
        return "failing in its latest execution there: see Look at"
    if pair.max_jobs_at_once > policy.max_jobs_in_run:
        return f"failed in {pair.max_jobs_at_once} jobs of one run at once"
    return "below the rule there"


def _symptom_known(entries: Sequence[Entry], symptom: str) -> bool | None:
    patterns = [p for e in entries for p in e.symptoms]
    if not patterns:
        return None
    return any(re.search(p, symptom) for p in patterns)


def select_look(pairs: Iterable[Pair], registry: Registry, *, today: date) -> list[LookItem]:
    """Streaks (listed or not: an ignored test failing every time is broken, not flaky) and
    listed tests failing in a new way."""
    out: list[LookItem] = []
    for pair in pairs:
        listed = covered(registry, pair.test, pair.job, today)
        if streaking(pair):
            streak = pair.evidence.streak
            if streak is not None and streak.failures:
                since = f"since run {streak.first_run}" if streak.first_run else "in every known execution"
                detail = f"failing in every execution ({streak.failures}) {since}"
                if streak.capped:
                    detail += " (the history ends inside the streak: it may be longer)"
            else:
                detail = "failed in its latest execution, with no pass since"
            out.append(LookItem(pair.test, pair.job, "streak", pair, listed, detail))
            continue
        onset = pair.evidence.flaky_since
        if onset is not None and not listed:
            since = f"since run {onset.first_run}" if onset.first_run else "lately"
            detail = (
                f"newly flaky: {onset.failures} failures {since} after a quiet stretch, a change made it "
                "flaky, so no patch is offered"
            )
            out.append(LookItem(pair.test, pair.job, "newly-flaky", pair, listed, detail))
            continue
        if not listed or not pair.symptoms:
            continue
        entries = [e for e in flaky_entries(registry, pair.test, today) if e.covers(registry.job(pair.job))]
        unknown = [s for s in pair.symptoms if _symptom_known(entries, s) is False]
        if unknown or pair.evidence.new_way:
            detail = "fails in a way its registry entry does not describe"
            if unknown:
                detail += f" ({len(unknown)} of {len(pair.symptoms)} symptoms unknown to the entry)"
            out.append(LookItem(pair.test, pair.job, "new-way", pair, listed, detail))
    order = {"streak": 0, "newly-flaky": 1, "new-way": 2, "together": 3}
    out.sort(key=lambda i: (order[i.reason], i.test, i.job))
    return out


def select_retire(
    registry: Registry,
    tallies: Sequence[stats.TestTally],
    days: Sequence[stats.ExecutionDay],
    policy: RetirePolicy,
    *,
    now: datetime,
    first: datetime | None,
    known_tests: Iterable[str] = (),
) -> list[RetireItem]:
    """Flaky entries in force now (ignore or exclude) with a clean record long enough.

    `now` is the end of the history (a stale store is not a clean streak) and `first` its
    start: an entry that never flaked in the window has been clean for the window's length.
    """
    today = now.date()
    known = sorted(set(known_tests) | {t.test for t in tallies})
    out = []
    for entry in registry.entries:
        if not entry.flaky or entry.mechanism is Mechanism.SKIP or not entry.active_on(today):
            continue
        tests = [t for t in known if entry.matches_test(t)]
        if not tests and _EXACT_PATH.fullmatch(entry.test):
            tests = [entry.test]
        for test in tests:
            item = _retire_item(entry, test, tallies, days, registry, policy, now, first)
            if item is not None:
                out.append(item)
    out.sort(key=lambda i: (-i.executions_since, i.test))
    return out


def _retire_item(
    entry: Entry,
    test: str,
    tallies: Sequence[stats.TestTally],
    days: Sequence[stats.ExecutionDay],
    registry: Registry,
    policy: RetirePolicy,
    now: datetime,
    first: datetime | None,
) -> RetireItem | None:
    record = clean_record(registry, entry, test, tallies, days, today=now.date())
    if not record.acting or not record.evidence_jobs:
        return None
    start = record.last_flake or first
    if start is None:
        return None
    clean_days = (now - start).days
    if record.executions_since < policy.min_executions or clean_days < policy.min_days:
        return None
    return RetireItem(test, entry, record.acting, record.evidence_jobs, record.last_flake,
                      record.executions_since, clean_days)


def select(
    pairs: Sequence[Pair],
    registry: Registry,
    tallies: Sequence[stats.TestTally],
    days: Sequence[stats.ExecutionDay],
    *,
    add_policy: PatchPolicy,
    retire_policy: RetirePolicy,
    now: datetime,
    first: datetime | None,
) -> Selection:
    add, held = select_add(pairs, registry, add_policy, today=now.date())
    look = select_look(pairs, registry, today=now.date())
    retire = select_retire(registry, tallies, days, retire_policy, now=now, first=first)
    return Selection(tuple(add), tuple(retire), tuple(look + held))


Failure = tuple[str, str, str, int, int]  # (test, workflow name, job, runs failed, runs ignored)


def flaked_elsewhere(
    item: RetireItem, own: str, others: Mapping[str, Registry], failures: Iterable[Failure]
) -> tuple[str, ...]:
    """The other watched workflows (name -> their registry section) whose record speaks against
    retiring: the test failed or was ignored there in the window, in a job the entry covers (an
    ignore entry) or in any job (an exclusion: as within one workflow, the jobs that still run
    the test are its record). An ignore key governs every workflow, so a clean record in one is
    no reason to remove it while it still flakes in another: that one would start failing."""
    found = []
    for test, workflow, job, failed, ignored in failures:
        section = others.get(workflow)
        if workflow == own or section is None or test != item.test or not failed + ignored:
            continue
        if item.entry.mechanism is not Mechanism.IGNORE or item.entry.covers(section.job(job)):
            found.append(workflow)
    return tuple(dict.fromkeys(found))


def pairs_from(
    tallies: Sequence[stats.TestTally],
    executions: Mapping[tuple[str, str], int],
    *,
    since_last: Mapping[tuple[str, str], int | None] | None = None,
    together: Mapping[tuple[str, str], int] | None = None,
    evidence: Mapping[tuple[str, str], PairEvidence] | None = None,
    runners: Mapping[tuple[str, str], frozenset[str]] | None = None,
) -> list[Pair]:
    """Pairs from the store's tallies and the executions of each (test, job)."""
    out = []
    for t in tallies:
        key = (t.test, t.job)
        runs = max(executions.get(key, 0), t.events)
        low, high = stats.wilson(t.events, runs)
        out.append(
            Pair(
                test=t.test,
                job=t.job,
                events=t.events,
                executions=runs,
                low=low,
                high=high,
                ignored=t.ignored,
                last_seen=t.last_seen,
                symptoms=t.symptoms,
                since_last=(since_last or {}).get(key),
                max_jobs_at_once=(together or {}).get(key, 1),
                evidence=(evidence or {}).get(key, PairEvidence()),
                runners=(runners or {}).get(key, frozenset({"run-tests"})),
            )
        )
    return out
