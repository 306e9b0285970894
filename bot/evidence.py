"""What the history says about one failing test in one job: the evidence behind a verdict.

Pure: the history store hands over small `JobRecord` tuples (one per execution of the job it
knows about) and this module reads them the way a maintainer would, before any verdict is
given. Five questions matter, because they call for opposite actions:

- did the test fail *and* pass on the very same commit (a re-run, or another run of that sha)?
  Then nothing in the code changed between the two results: it is flaky, proven;
- did it fail in every execution since some run (a streak)? Then it is how a regression looks,
  and the culprit lies between the last pass and the first failure;
- did it fail before with passes in between (intermittent), the way it usually fails?
- does it fail now in a way none of its earlier failures did?
- did its failure rate rise at some run (`bot.changepoint`)? Then a change made it flaky: the
  cause is a commit, and ignoring the test would hide it.

An execution whose outcome cannot be known (a failed job whose log expired, or a green job of a
test the runner ignores, whose log was not read) is neither a pass nor a failure: it is counted
separately, and a streak through it is said to be one with gaps, never a clean one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple

from bot.changepoint import onset, rise_p_value
from bot.stats import ExclusionPolicy


class Result(StrEnum):
    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    UNKNOWN = "unknown"


class RunRef(NamedTuple):
    """One attempt of one run: enough to name it, link it and compare commits."""

    run_id: int
    attempt: int
    sha: str
    created: datetime


class JobRecord(NamedTuple):
    """What the store knows about one execution of a job (one attempt of one run), for one test.

    `log_read`/`log_complete`/`past_build` say whether a failed job's log can tell that the test
    ran and did not fail; `failed` is True when the test failed there (ignored by the runner or
    not) and `symptom` is that failure's symptom.
    """

    run_id: int
    attempt: int
    sha: str
    created: datetime
    job: str
    conclusion: str
    log_read: bool = False
    log_complete: bool = False
    past_build: bool = False
    failed: bool = False
    symptom: str = ""

    @property
    def ref(self) -> RunRef:
        return RunRef(self.run_id, self.attempt, self.sha, self.created)


@dataclass(frozen=True)
class TestHistory:
    """The records the store found for one test: executions of the job (`here`: the most recent
    ones, every earlier failure with the execution after it, and every run of the commits it
    failed on) and its failures in other jobs (`elsewhere`, for symptoms).

    `default_branch` is True when `here` comes from the default branch's pushes only, so a streak
    there means the test is failing on the default branch now. `capped` is True when the most
    recent executions filled the store's window, so a streak may go back further than shown.
    """

    here: tuple[JobRecord, ...] = ()
    elsewhere: tuple[JobRecord, ...] = ()
    default_branch: bool = False
    capped: bool = False
    # executions of this commit in pull-request attempts (`bot.store.pull_attempts`): read for
    # same-commit flips only, so a contributor's branch never moves a rate or a streak
    same_commit: tuple[JobRecord, ...] = ()


class Execution(NamedTuple):
    ref: RunRef
    result: Result
    symptom: str = ""


def classify(record: JobRecord, test: str, policy: ExclusionPolicy | None = None) -> Result | None:
    """The test's outcome in one job execution; None when it did not run there (excluded that day).

    A failure always counts (it proves the test ran). A green job is a pass, except for a test
    the runner ignored that day: its failure would have left the job green too, so only a read
    log can tell. A failed job is a pass for the tests it does not list only when its log was read
    whole and got past the build.
    """
    if record.failed:
        return Result.FAIL
    day = record.created.date()
    if policy is not None and not policy.runs_test(record.job, test, day):
        return None
    readable = record.log_read and record.log_complete and record.past_build
    if policy is not None and policy.ignores(record.job, test, day):
        return Result.PASS if readable else Result.UNKNOWN
    if record.conclusion == "success":
        return Result.PASS
    return Result.PASS if readable else Result.UNKNOWN


def executions(
    records: Iterable[JobRecord], test: str, policy: ExclusionPolicy | None = None, *, before: RunRef
) -> list[Execution]:
    """Executions strictly before the triaged attempt, oldest first, one per (run, attempt)."""
    seen: dict[tuple[int, int], Execution] = {}
    answers: dict[tuple[str, date, bool, str, bool], Result | None] = {}  # the registry, asked once a day
    for record in records:
        if not _before(record.ref, before):
            continue
        readable = record.log_read and record.log_complete and record.past_build
        question = (record.job, record.created.date(), record.failed, record.conclusion, readable)
        if question not in answers:
            answers[question] = classify(record, test, policy)
        result = answers[question]
        if result is None:
            continue
        key = (record.run_id, record.attempt)
        if key not in seen or result is Result.FAIL:
            seen[key] = Execution(record.ref, result, record.symptom if result is Result.FAIL else "")
    return sorted(seen.values(), key=lambda e: (e.ref.created, e.ref.run_id, e.ref.attempt))


@dataclass(frozen=True)
class Streak:
    """The failing executions in a row right before this run (this run's failure not counted).

    `failures` 0 means the latest known execution passed (or there was none). `unknown` counts
    executions of unknown outcome from the last pass up to this run. `first_failure` is the
    first failing execution of the streak, `last_pass` the pass before it (None: none known).
    """

    failures: int = 0
    unknown: int = 0
    first_failure: RunRef | None = None
    last_pass: RunRef | None = None
    capped: bool = False  # the window ended inside the streak: it may be longer


def is_intermittent(isolated: int, longest_run: int) -> bool:
    """`Evidence.intermittent`'s rule, as a plain function so that mutation testing reaches it
    (mutmut skips property bodies): at least one failure alone, and no row of more than two."""
    return isolated > 0 and longest_run <= 2


@dataclass(frozen=True)
class Evidence:
    """What the history says about one failure; see the module docstring."""

    test: str
    job: str
    known: int  # executions with a known outcome
    failures: int  # of which failed
    unknown: int  # executions whose outcome is unknown (log expired, ignored test not read)
    streak: Streak
    isolated: int  # earlier failures with a pass right before and right after: flake-like
    longest_run: int  # the longest earlier row of failures that ended with a pass
    same_commit_pass: RunRef | None  # an execution of this very commit where the test passed
    flipped_commits: int  # other commits on which it both failed and passed in this job
    symptoms_here: tuple[str, ...]
    symptoms_elsewhere: tuple[str, ...]
    new_way: bool  # a symptom none of its earlier failures (any job) had
    default_branch: bool  # the history is the default branch's own
    flaky_since: FlakyOnset | None = None  # its failure rate rose at some run (`bot.changepoint`)
    rise_p: float = 1.0  # that test's corrected p-value, even when short of a verdict

    @property
    def earlier_failures(self) -> bool:
        return self.failures > 0

    @property
    def intermittent(self) -> bool:
        """Failed before, the way flakes do: alone, with passes around, not in long rows."""
        return is_intermittent(self.isolated, self.longest_run)

    @property
    def flipped(self) -> bool:
        """Failed and passed on one commit: the strongest evidence of a flake there is."""
        return self.same_commit_pass is not None or self.flipped_commits > 0


MAX_SYMPTOMS = 5


def assess(
    test: str,
    job: str,
    symptom: str,
    current: RunRef,
    history: TestHistory,
    policy: ExclusionPolicy | None = None,
) -> Evidence:
    """Read one test's history in one job as of the triaged attempt `current`."""
    runs = executions((r for r in history.here if r.job == job), test, policy, before=current)
    known = [e for e in runs if e.result is not Result.UNKNOWN]
    failures = [e for e in runs if e.result is Result.FAIL]

    streak = _streak(runs, history.capped)
    isolated, longest = _episodes(runs)

    by_sha: dict[str, set[Result]] = {}
    for e in known:
        by_sha.setdefault(e.ref.sha, set()).add(e.result)
    same = next(
        (
            e.ref
            for e in reversed(known)
            if e.result is Result.PASS and e.ref.sha == current.sha and current.sha
        ),
        None,
    )
    if same is None:
        same = pull_request_pass(test, job, current, history.same_commit, policy)
    flipped = sum(1 for sha, results in by_sha.items() if sha != current.sha and len(results) == 2)

    here = _symptoms(e.symptom for e in failures)
    others = [r for r in history.elsewhere if r.job != job and r.failed and _before(r.ref, current)]
    elsewhere = _symptoms(r.symptom for r in others)
    earlier = set(here) | set(elsewhere)
    return Evidence(
        test=test,
        job=job,
        known=len(known),
        failures=len(failures),
        unknown=len(runs) - len(known),
        streak=streak,
        isolated=isolated,
        longest_run=longest,
        same_commit_pass=same,
        flipped_commits=flipped,
        symptoms_here=here[:MAX_SYMPTOMS],
        symptoms_elsewhere=tuple(s for s in elsewhere if s not in here)[:MAX_SYMPTOMS],
        new_way=bool(symptom) and bool(earlier) and symptom not in earlier,
        default_branch=history.default_branch,
        flaky_since=flaky_onset(runs),
        # The hint that holds a patch back reads the known outcomes alone (unknowns dropped),
        # the reading most inclined to see a rise: a patch waits on the slightest sign of one,
        # while the verdict itself needs the rise to hold however the unknowns went.
        rise_p=rise_p_value([e.result is Result.FAIL for e in runs if e.result is not Result.UNKNOWN]),
    )


def _before(ref: RunRef, current: RunRef) -> bool:
    if ref.run_id == current.run_id:
        return ref.attempt < current.attempt
    return (ref.created, ref.run_id) < (current.created, current.run_id)


def _symptoms(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s for s in items if s))


def _streak(runs: Sequence[Execution], capped: bool) -> Streak:
    failures = unknown = 0
    first: RunRef | None = None
    for e in reversed(runs):
        if e.result is Result.PASS:
            return Streak(failures, unknown, first, e.ref)
        if e.result is Result.FAIL:
            failures += 1
            first = e.ref
        else:
            unknown += 1
    return Streak(failures, unknown, first, None, capped=capped and failures > 0)


def _episodes(runs: Sequence[Execution]) -> tuple[int, int]:
    """(isolated failures, longest row of failures) among the earlier rows that ended with a pass
    (the current streak is not one). A failure next to an unknown outcome is not called isolated:
    its neighbour may have failed too."""
    isolated = longest = row = 0
    clean_start = gap = False
    previous: Result | None = None
    for e in runs:
        if e.result is Result.FAIL:
            if row == 0:
                clean_start, gap = previous is Result.PASS, False
            row += 1
        elif e.result is Result.UNKNOWN:
            gap = gap or row > 0
        else:
            if row:
                longest = max(longest, row)
                isolated += row == 1 and clean_start and not gap
            row = 0
        previous = e.result
    return isolated, longest


def pull_request_pass(
    test: str, job: str, current: RunRef, records: Iterable[JobRecord], policy: ExclusionPolicy | None = None
) -> RunRef | None:
    """The latest pull-request execution of this very commit, before this attempt, where the test
    passed in this job: an earlier attempt of the run, or another run of the commit."""
    mine = (r for r in records if r.job == job and r.sha == current.sha and current.sha)
    runs = executions(mine, test, policy, before=current)
    return next((e.ref for e in reversed(runs) if e.result is Result.PASS), None)


@dataclass(frozen=True)
class FlakyOnset:
    """Where a test's failure rate in a job rose (see `bot.changepoint`): the cause lies between
    `last_quiet` (the last execution surely before the change; None: the history starts inside
    the plausible range) and `first_failure` (the first failure after it)."""

    last_quiet: RunRef | None
    first_failure: RunRef
    failures_before: int
    executions_before: int
    failures_after: int
    executions_after: int
    unknown: int  # executions of unknown outcome between `last_quiet` and `first_failure`
    p_value: float


def _outcomes(runs: Sequence[Execution]) -> list[bool | None]:
    """Each execution's outcome for the change-point test: failed, passed, or None (unknown)."""
    return [None if e.result is Result.UNKNOWN else e.result is Result.FAIL for e in runs]


def flaky_onset(runs: Sequence[Execution]) -> FlakyOnset | None:
    """The change-point test on the outcomes, oldest first, unknown ones included as unknown
    (`bot.changepoint` fills them in the way least favourable to a rise: a flake whose older
    failures' logs expired must not look newly flaky).

    Beyond the store's window of recent executions the history holds only failures and the
    execution after each: that can only make the rate before a start point look higher than it
    was, so there the test errs towards "steady" (an unlisted flake, which still needs the
    patch rule's evidence), never towards a false start point.
    """
    found = onset(_outcomes(runs))
    if found is None:
        return None
    quiet = next(
        (runs[i].ref for i in range(found.earliest - 1, -1, -1) if runs[i].result is not Result.UNKNOWN), None
    )
    first = runs[found.first_failure].ref
    unknown = sum(
        1
        for e in runs
        if e.result is Result.UNKNOWN
        and (quiet is None or _before(quiet, e.ref))
        and _before(e.ref, first)
    )
    return FlakyOnset(
        last_quiet=quiet,
        first_failure=first,
        failures_before=found.failures_before,
        executions_before=found.executions_before,
        failures_after=found.failures_after,
        executions_after=found.executions_after,
        unknown=unknown,
        p_value=found.p_value,
    )
