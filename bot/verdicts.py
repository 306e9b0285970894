"""The verdicts flake-bot gives a failing test, as data: one row per verdict saying how it counts
(whether it needs a look, is a flake a re-run clears, earns or rules out a patch, and which of
the `counts` it adds to), read by the judge (`bot.triage`), the patch rules
(`bot.patch_rules`) and `Counts`, the counter over this table. The words for each verdict
(label, advice, brief evidence) are the renderers', one row each in `bot/render/verdict_words.py`;
tests/test_verdicts.py checks both tables and `docs/output.md` against each other.

Adding a verdict: a `Verdict` member and its row here, its words in `bot/render/verdict_words.py`,
the rule that gives it in `bot.triage`, its row in docs/output.md's table (the tests say which of
these is missing).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Verdict(StrEnum):
    """What flake-bot tells the reader about one failing test (its value is the `verdict` of
    the `failures` output). Listed in the table's order: the settled verdicts, then the ones
    that need a look, strongest warning first (the headline and its breakdown follow it).

    Some come from the registry alone (upstream's own flaky lists: known flake, new symptom,
    widespread, flaky elsewhere, ignored), the rest from the history store's evidence about a
    test the registry does not list for the job. Without a history, an unlisted test stays
    "new" or "flaky elsewhere": flake-bot does not know more.
    """

    KNOWN_FLAKE = "known-flake"
    PROVEN_FLAKY = "proven-flaky"
    UNLISTED_FLAKE = "unlisted-flake"
    FLAKY_OTHER_JOBS = "flaky-in-other-jobs"
    ON_DEFAULT_BRANCH = "failing-on-default-branch"
    IGNORED = "ignored"
    REGRESSION = "failing-since"
    NEW_WAY = "new-way"
    FIRST_FAILURE = "first-failure"
    SEVERAL_JOBS = "several-jobs"
    FAILED_BEFORE = "failed-before"
    NEWLY_FLAKY = "newly-flaky"
    HIDDEN_REGRESSION = "ignored-failing-since"
    NEW = "new"
    NEW_SYMPTOM = "known-flake-new-symptom"
    WIDESPREAD = "known-flake-widespread"
    FLAKY_ELSEWHERE = "flaky-elsewhere"


@dataclass(frozen=True)
class Row:
    """How one verdict counts.

    `tallies`: its keys in the `counts` JSON, the first its own (a proven flaky test is also one
    of the unlisted flakes the headline counts); `settled`: needs no look (a flake with evidence,
    or a failure this change did not cause); `flake`: a re-run should clear it; `patchable`: the
    evidence a patch needs (the history shows it flaky in this very job); `not_a_flake`: rules
    out a patch however often the test failed, for want of a flake's evidence (the renderers say
    which); `failure`: it failed its job (run-tests.py's ignored failures left the job green).
    """

    verdict: Verdict
    tallies: tuple[str, ...]
    settled: bool = False
    flake: bool = False
    patchable: bool = False
    not_a_flake: bool = False
    failure: bool = True


VERDICTS: tuple[Row, ...] = (
    Row(Verdict.KNOWN_FLAKE, ("known_flakes",), settled=True, flake=True),
    Row(Verdict.PROVEN_FLAKY, ("proven_flaky", "unlisted_flakes"), settled=True, flake=True, patchable=True),
    Row(Verdict.UNLISTED_FLAKE, ("unlisted_flakes",), settled=True, flake=True, patchable=True),
    Row(Verdict.FLAKY_OTHER_JOBS, ("flaky_other_jobs",), settled=True, flake=True),
    Row(Verdict.ON_DEFAULT_BRANCH, ("on_default_branch",), settled=True, not_a_flake=True),
    Row(Verdict.IGNORED, ("ignored",), settled=True, failure=False),
    Row(Verdict.REGRESSION, ("regressions",), not_a_flake=True),
    Row(Verdict.NEW_WAY, ("new_way",), not_a_flake=True),
    Row(Verdict.FIRST_FAILURE, ("first_failures",)),
    Row(Verdict.SEVERAL_JOBS, ("several_jobs",), not_a_flake=True),
    Row(Verdict.FAILED_BEFORE, ("failed_before",), not_a_flake=True),
    Row(Verdict.NEWLY_FLAKY, ("newly_flaky",), not_a_flake=True),
    Row(Verdict.HIDDEN_REGRESSION, ("hidden_regressions", "ignored")),
    Row(Verdict.NEW, ("new",), not_a_flake=True),
    Row(Verdict.NEW_SYMPTOM, ("new_symptom",)),
    Row(Verdict.WIDESPREAD, ("widespread",)),
    Row(Verdict.FLAKY_ELSEWHERE, ("flaky_elsewhere",), not_a_flake=True),
)

ROWS: dict[Verdict, Row] = {row.verdict: row for row in VERDICTS}
SETTLED = frozenset(row.verdict for row in VERDICTS if row.settled)
FLAKES = frozenset(row.verdict for row in VERDICTS if row.flake)
PATCHABLE = frozenset(row.verdict for row in VERDICTS if row.patchable)
NOT_A_FLAKE = frozenset(row.verdict for row in VERDICTS if row.not_a_flake)
#: The verdicts' keys in the `counts` JSON, in the table's order.
TALLIES: tuple[str, ...] = tuple(dict.fromkeys(key for row in VERDICTS for key in row.tallies))


@dataclass(frozen=True)
class Counts:
    """The numbers behind the headline: how many findings got each verdict, and the jobs' own
    counts. `failures` = the settled failures + `needs_look`; `as_json()` is the `counts` object
    of `triage --json`, one key per tally plus the totals.

    `not_a_test_failure` counts failed jobs without a failing test flake-bot could see, and jobs
    whose failing tests came with a build error, runner error or failed step besides: each
    needs a look, and is one failure.
    """

    verdicts: Mapping[Verdict, int] = field(default_factory=dict)
    jobs_failed: int = 0
    not_a_test_failure: int = 0
    unreadable_logs: int = 0
    problems: int = 0

    @classmethod
    def of(cls, verdicts: Iterable[Verdict], **jobs: int) -> Counts:
        return cls(dict(Counter(verdicts)), **jobs)

    def __getitem__(self, verdict: Verdict) -> int:
        return self.verdicts.get(verdict, 0)

    def tally(self, key: str) -> int:
        """The count under one `counts` key: every verdict that adds to it."""
        return sum(n for verdict, n in self.verdicts.items() if key in ROWS[verdict].tallies)

    @property
    def failures(self) -> int:
        return self._failures()

    def _failures(self) -> int:
        # Plain methods behind the properties, so that mutation testing reaches them.
        return sum(n for v, n in self.verdicts.items() if ROWS[v].failure) + self.not_a_test_failure

    @property
    def needs_look(self) -> int:
        return self._needs_look()

    def _needs_look(self) -> int:
        return sum(n for v, n in self.verdicts.items() if v not in SETTLED) + self.not_a_test_failure

    def as_json(self) -> dict[str, int]:
        totals = {"failures": self.failures, "jobs_failed": self.jobs_failed, "needs_look": self.needs_look}
        jobs = {
            "not_a_test_failure": self.not_a_test_failure,
            "unreadable_logs": self.unreadable_logs,
            "problems": self.problems,
        }
        return {**totals, **{key: self.tally(key) for key in TALLIES}, **jobs}
