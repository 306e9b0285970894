"""The registry model: which tests upstream excludes, skips or ignores, where, and when.

A registry entry is a fact about upstream's own configuration at some time (a `--exclude` regex in
a `tools/ci.sh` function, a `flaky_tests_to_ignore` key in `tests/run-tests.py`, a skip inside
run-tests.py), plus hand-written knowledge about it (symptoms, links, notes). Matching a failure
against the registry must never be more generous than upstream itself: an entry counts for a job
only if it applied to that job on the day the job ran, and only for the runner it applies to
(run-tests.py), because the worst mistake flake-bot can make is calling a real regression flaky.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

from bot.records import Runner


class Mechanism(StrEnum):
    """How upstream keeps a test from failing a job."""

    EXCLUDE = "exclude"  # run-tests.py --exclude regex in a ci.sh function: the test does not run
    IGNORE = "ignore"  # flaky_tests_to_ignore key: the test runs, a failure is reclassified "ignored"
    SKIP = "skip"  # run-tests.py skips the test by itself (e.g. on GitHub Actions): it does not run


class Listing(StrEnum):
    """What the registry lists about one failure in one job (its match), as opposed to the
    user's verdict (`bot.verdicts.Kind`), which weighs the history too."""

    KNOWN_FLAKE = "known-flake"
    FLAKY_ELSEWHERE = "flaky-elsewhere"
    NEW = "new"


#: `sys.platform` values a job's runner can have; "unknown" when runs-on is an expression.
RUNNER_OSES = ("linux", "darwin", "win32", "unknown")


@dataclass(frozen=True)
class JobSpec:
    """One workflow job: where its run-tests.py exclusions live, and its runner.

    `functions` are the ci.sh functions it runs (including helpers they call). Jobs that reach
    run-tests.py through a port's Makefile or straight from a workflow `run:` line keep their
    exclusions elsewhere, so `places` names those files (`ports/qemu/boards/SABRELITE/
    mpconfigboard.mk`, `ports/windows/Makefile`) or `<workflow file>:<job id>` for a run line;
    `targets` says how the job runs the suite (`make -C ports/qemu BOARD=SABRELITE test_full`),
    for people and for the patch writer.
    """

    name: str
    os: str
    runs_on: str = ""
    functions: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkflowSpec:
    """One upstream workflow: its file under .github/workflows, display name and jobs."""

    file: str
    name: str
    jobs: Mapping[str, JobSpec] = field(default_factory=dict)

    def is_called(self, key: str) -> bool:
        """Whether `key` (a path, a bare file name or the display name, as a run reports them)
        names this workflow."""
        if not key:
            return False
        base = key.rsplit("/", 1)[-1]
        return (bool(self.file) and base == self.file.rsplit("/", 1)[-1]) or key == self.name


@dataclass(frozen=True)
class Entry:
    """One registered test pattern with the place and time it was in force.

    `test` is matched the way upstream matches it: for `exclude` it is a regex searched in the
    test path (unescaped dots match any character, exactly as run-tests.py applies it); for
    `ignore` and `skip` it is an exact path relative to tests/. `since` is inclusive, `until`
    exclusive (the day the entry was removed upstream); None means unbounded.
    """

    test: str
    mechanism: Mechanism
    reason: str = ""
    flaky: bool = False
    functions: tuple[str, ...] = ()
    platforms: tuple[str, ...] | None = None
    source: str = ""
    places: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    symptoms: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    notes: str = ""
    line: int = field(default=0, compare=False)

    def matches_test(self, test: str) -> bool:
        if self.mechanism is Mechanism.EXCLUDE:
            return re.search(self.test, test) is not None
        return self.test == test

    def active_on(self, when: date | None) -> bool:
        """True if in force on `when`; None means "as of the registry's latest state"."""
        if when is None:
            return self.until is None
        if self.since is not None and when < self.since:
            return False
        return self.until is None or when < self.until

    def covers(self, job: JobSpec | None) -> bool:
        """Whether this entry applies to `job` (None: a job the registry does not know)."""
        if self.mechanism is Mechanism.EXCLUDE:
            return job is not None and bool(
                set(self.functions) & set(job.functions) or set(self.places) & set(job.places)
            )
        if self.platforms is None:
            return True
        return job is not None and job.os in self.platforms

    def where(self, job: JobSpec | None = None) -> str:
        """Plain words for where the entry applies; with `job`, only the part that concerns that job."""
        if self.mechanism is Mechanism.EXCLUDE:
            mine = self.functions + self.places
            theirs = (job.functions + job.places) if job is not None else mine
            return "excluded in " + ", ".join([f for f in mine if f in theirs] or list(mine))
        verb = "ignored" if self.mechanism is Mechanism.IGNORE else "skipped"
        if self.platforms is None:
            return f"{verb} by run-tests.py on every platform"
        return f"{verb} by run-tests.py on " + ", ".join(self.platforms)

    def dates(self) -> str:
        if self.since and self.until:
            return f"from {self.since} until {self.until}"
        if self.since:
            return f"since {self.since}"
        if self.until:
            return f"until {self.until}"
        return "with no date limit"


@dataclass(frozen=True, kw_only=True)
class Match:
    """The registry's answer for one failing test in one job (keyword-only: two adjacent flags)."""

    test: str
    job: str
    listing: Listing
    entries: tuple[Entry, ...]
    symptom_mismatch: bool
    should_not_have_failed: bool
    explanation: str

    def to_json(self) -> dict[str, object]:
        return {
            "test": self.test,
            "job": self.job,
            "verdict": self.listing.value,
            "symptom_mismatch": self.symptom_mismatch,
            "should_not_have_failed": self.should_not_have_failed,
            "explanation": self.explanation,
            "entries": [
                {
                    "test": e.test,
                    "mechanism": e.mechanism.value,
                    "where": e.where(),
                    "reason": e.reason,
                    "flaky": e.flaky,
                    "source": e.source,
                    "since": e.since.isoformat() if e.since else None,
                    "until": e.until.isoformat() if e.until else None,
                    "links": list(e.links),
                }
                for e in self.entries
            ],
        }


def _symptom_matches(entries: Sequence[Entry], symptom: str | None) -> bool | None:
    """None when nothing can be said (no known symptoms, or no symptom given)."""
    patterns = [p for e in entries for p in e.symptoms]
    if not patterns or not symptom:
        return None
    return any(re.search(p, symptom) for p in patterns)


_MAX_SHOWN = 120


def shown(text: str, limit: int = _MAX_SHOWN) -> str:
    """A name as it may appear in a message: test and job names can come from a fork's log or
    workflow, so one bounded line with control characters escaped (renderers still escape markup)."""
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _when(when: date | None) -> str:
    return f" on {when}" if when else ""


@dataclass(frozen=True)
class Registry:
    """The whole registry file: the entries, in file order, and the jobs of each workflow.

    Entries are shared by every workflow (a `flaky_tests_to_ignore` key governs every job of every
    workflow on its platforms; an exclusion names the functions or files it lives in), while job
    names belong to one workflow (`build` is a job of both the webassembly and the zephyr
    workflow). `jobs`, `workflow` and `workflow_file` are the *selected* workflow's, the first
    one of the file unless `for_workflow` chose another; `workflows` holds the others.
    """

    entries: tuple[Entry, ...] = ()
    jobs: Mapping[str, JobSpec] = field(default_factory=dict)
    repository: str = ""
    workflow: str = ""
    path: str = field(default="", compare=False)
    workflow_file: str = ""
    workflows: tuple[WorkflowSpec, ...] = ()

    def job(self, name: str) -> JobSpec | None:
        return self.jobs.get(name)

    def sections(self) -> tuple[WorkflowSpec, ...]:
        """Every workflow the registry describes, the selected one first."""
        return (WorkflowSpec(self.workflow_file, self.workflow, self.jobs), *self.workflows)

    def for_workflow(self, key: str) -> Registry | None:
        """The registry seen from the workflow `key` names (path, file name or display name),
        so that job names and runner platforms are that workflow's; None if it is not covered."""
        sections = self.sections()
        for index, spec in enumerate(sections):
            if spec.is_called(key):
                if index == 0:
                    return self
                rest = sections[:index] + sections[index + 1 :]
                return replace(
                    self, jobs=spec.jobs, workflow=spec.name, workflow_file=spec.file, workflows=rest
                )
        return None

    def judging(self, *keys: str) -> Registry:
        """The registry to judge a run with, given what names its workflow (its path, then its
        display name): that workflow's section, or, for a workflow the registry does not cover,
        no jobs at all, so no job of another workflow lends its runner or exclusions (only entries
        that cover every job, like a `None` ignore, still apply). No key: the registry as it is."""
        named = [key for key in keys if key]
        if not named:
            return self
        for key in named:
            found = self.for_workflow(key)
            if found is not None:
                return found
        if not (self.workflow or self.workflow_file):
            return self  # a registry that names no workflow describes whichever one it is given
        rest = self.sections()
        return replace(self, jobs={}, workflow=named[-1], workflow_file="", workflows=rest)

    def is_first(self, *keys: str) -> bool:
        """Whether the keys name the registry's first workflow (the one of its top-level jobs)."""
        return any(WorkflowSpec(self.workflow_file, self.workflow).is_called(k) for k in keys if k)

    def section_of(self, job: str) -> Registry:
        """The section whose jobs include `job` when only one does (commands given a job name
        and no workflow); else the registry as it is."""
        if job in self.jobs:
            return self
        owners = [s for s in self.workflows if job in s.jobs]
        if len(owners) == 1:
            found = self.for_workflow(owners[0].file or owners[0].name)
            if found is not None:
                return found
        return self

    def runs_test(self, job: str, test: str, when: date | None = None) -> bool:
        """False if run-tests.py does not run `test` in `job` on `when` (excluded or skipped)."""
        spec = self.job(job)
        return not any(
            e.mechanism is not Mechanism.IGNORE
            and e.active_on(when)
            and e.covers(spec)
            and e.matches_test(test)
            for e in self.entries
        )

    def ignores(self, job: str, test: str, when: date | None = None) -> bool:
        """True if run-tests.py runs `test` in `job` on `when` but ignores its failure, so a green
        job says nothing about whether the test passed (only its log does)."""
        spec = self.job(job)
        return any(
            e.mechanism is Mechanism.IGNORE and e.active_on(when) and e.covers(spec) and e.matches_test(test)
            for e in self.entries
        )

    def match(
        self,
        job: str,
        test: str,
        *,
        symptom: str | None = None,
        when: date | None = None,
        runner: Runner = Runner.RUN_TESTS,
        ignored: bool | None = None,
    ) -> Match:
        """Judge one failure. KNOWN_FLAKE only if a flaky entry covered this job on that date.

        `ignored` is what run-tests.py's summary said: True (listed as known-flaky, ignored),
        False (listed as failed, so it failed the job) or None when the caller does not know, as
        when someone asks about a `FAIL` line, which run-tests.py prints for ignored tests too.
        Only a definite False may claim the failure failed the job.
        """
        spec = self.job(job)
        active = [e for e in self.entries if e.active_on(when) and e.matches_test(test)]
        name, shown_job = shown(test), shown(job)
        here = [e for e in active if e.covers(spec)]
        elsewhere = tuple(e for e in active if e.flaky and not e.covers(spec))
        unknown_job = "" if spec is not None else f" (job {shown_job!r} is not in the registry)"

        def judged(
            listing: Listing,
            entries: tuple[Entry, ...],
            explanation: str,
            *,
            symptom_mismatch: bool = False,
            should_not_have_failed: bool = False,
        ) -> Match:
            """Every listing is about this test in this job; most claim no more than the listing."""
            return Match(
                test=test,
                job=job,
                listing=listing,
                entries=entries,
                symptom_mismatch=symptom_mismatch,
                should_not_have_failed=should_not_have_failed,
                explanation=explanation,
            )

        if runner is not Runner.RUN_TESTS:
            flaky = tuple(e for e in active if e.flaky)
            if flaky:
                return judged(
                    Listing.FLAKY_ELSEWHERE,
                    flaky,
                    (
                        f"{name} is registered as flaky only for run-tests.py, but this failure came from "
                        f"{runner.value}, which upstream's exclusion and ignore lists do not cover."
                    ),
                )
            return judged(Listing.NEW, (), f"{name} failed under {runner.value} and is not in the registry.")

        flaky_here = tuple(e for e in here if e.flaky)
        if flaky_here:
            symptom_ok = _symptom_matches(flaky_here, symptom)
            mismatch = symptom_ok is False
            entry = flaky_here[0]
            reason = f" ({entry.reason})" if entry.reason else ""
            text = (
                f"{name} is a known flaky test in {shown_job}{_when(when)}{unknown_job}: "
                f"{entry.where(spec)}{reason}."
            )
            not_expected = False
            if entry.mechanism is not Mechanism.IGNORE and not any(
                e.mechanism is Mechanism.IGNORE for e in flaky_here
            ):
                not_expected = True
                text = (
                    f"{name} is registered as flaky in {shown_job}{_when(when)} and {entry.where(spec)}, "
                    "so it should not have run at all; the job may run a different ci.sh function or "
                    "tree than the registry says."
                )
            elif ignored is False:
                not_expected = True
                text = (
                    f"{name} is in flaky_tests_to_ignore for {shown_job}{_when(when)}{reason}, yet "
                    "run-tests.py counted the failure instead of ignoring it, so it failed the job; the "
                    "tested tree may predate the ignore list or change it."
                )
            elif ignored is None:
                text += " run-tests.py reports its failures there as ignored, so they do not fail the job."
            if mismatch:
                text += (
                    " Its symptom matches none of the known symptoms of this flaky test, so it may be a "
                    "real regression."
                )
            return judged(
                Listing.KNOWN_FLAKE,
                flaky_here,
                text,
                symptom_mismatch=mismatch,
                should_not_have_failed=not_expected,
            )

        if here:
            entry = here[0]
            listing = Listing.FLAKY_ELSEWHERE if elsewhere else Listing.NEW
            text = (
                f"{name} is {entry.where(spec)} in {shown_job}{_when(when)} for a reason that is not "
                f"flakiness ({entry.reason or 'no reason given'}), so it should not have failed this job."
            )
            return judged(listing, tuple(here) + elsewhere, text, should_not_have_failed=True)

        if ignored:
            text = (
                f"run-tests.py ignored {name} as a known-flaky failure, but the registry has no entry "
                f"covering {shown_job}{_when(when)}{unknown_job}; the registry may be out of date."
            )
            listing = Listing.FLAKY_ELSEWHERE if elsewhere else Listing.NEW
            return judged(listing, elsewhere, text)

        if elsewhere:
            places = "; ".join(e.where() for e in elsewhere)
            return judged(
                Listing.FLAKY_ELSEWHERE,
                elsewhere,
                (
                    f"{name} is known to be flaky elsewhere ({places}) but not in "
                    f"{shown_job}{_when(when)}{unknown_job}."
                ),
            )
        return judged(
            Listing.NEW, (), f"{name} is not registered as flaky for {shown_job}{_when(when)}{unknown_job}."
        )
