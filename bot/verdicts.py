"""The verdicts flake-bot gives a failing test, as data: one row per verdict, read by the judge
(`bot.triage`: which verdicts need a look, which are flakes a re-run clears, which rule out a
patch), by the counts and the renderers (the label and the advice), and checked against
`docs/output.md` by tests/test_verdicts.py.

Adding a verdict: a `Kind` member and its row here, the rule that gives it in `bot.triage`, its
row in docs/output.md's table, and its brief evidence in `bot/render/evidence.py` (the tests
say which of these is missing).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """The verdict on one failing test, as flake-bot states it to a reader.

    The first group comes from the registry (upstream's own flaky lists); the second from the
    history store's evidence about tests the registry does not list for this job. Without a
    history, an unlisted test stays "new" or "flaky elsewhere": flake-bot does not know more.
    """

    KNOWN_FLAKE = "known-flake"
    NEW_SYMPTOM = "known-flake-new-symptom"
    WIDESPREAD = "known-flake-widespread"
    FLAKY_ELSEWHERE = "flaky-elsewhere"
    NEW = "new"
    IGNORED = "ignored"
    PROVEN_FLAKY = "proven-flaky"
    UNLISTED_FLAKE = "unlisted-flake"
    ON_DEFAULT_BRANCH = "failing-on-default-branch"
    REGRESSION = "failing-since"
    NEW_WAY = "new-way"
    FIRST_FAILURE = "first-failure"
    SEVERAL_JOBS = "several-jobs"
    FAILED_BEFORE = "failed-before"
    FLAKY_OTHER_JOBS = "flaky-in-other-jobs"
    NEWLY_FLAKY = "newly-flaky"
    HIDDEN_REGRESSION = "ignored-failing-since"


@dataclass(frozen=True)
class Row:
    """One verdict: its label and what to do (fixed words, shown as they are), and how it counts.

    `settled`: needs no look (a flake with evidence, or a failure this change did not cause);
    `flake`: a re-run should clear it; `not_a_flake`: rules out a patch however often the test
    failed, each for want of a flake's evidence (the renderers say which, `bot/render/words.py`).
    """

    kind: Kind
    label: str
    advice: str
    settled: bool = False
    flake: bool = False
    not_a_flake: bool = False


VERDICTS: tuple[Row, ...] = (
    Row(
        Kind.KNOWN_FLAKE,
        "known flake here",
        "re-run the failed job",
        settled=True,
        flake=True,
    ),
    Row(
        Kind.NEW_SYMPTOM,
        "known flaky test failing in a new way — may be a real regression",
        "read the diff: a real regression in a flaky test looks like this",
    ),
    Row(
        Kind.WIDESPREAD,
        "known flaky test failing in several jobs at once — may be a real regression",
        "read the diffs: independent flakes rarely line up",
    ),
    Row(
        Kind.FLAKY_ELSEWHERE,
        "flaky elsewhere",
        "look at the failure",
        not_a_flake=True,
    ),
    Row(
        Kind.NEW,
        "new",
        "look at the change",
        not_a_flake=True,
    ),
    Row(
        Kind.IGNORED,
        "ignored by run-tests.py (known flaky)",
        "nothing",
        settled=True,
    ),
    Row(
        Kind.PROVEN_FLAKY,
        "proven flaky",
        "re-run; nothing in the code changed between the two results",
        settled=True,
        flake=True,
    ),
    Row(
        Kind.UNLISTED_FLAKE,
        "unlisted flake",
        "re-run; consider adding it to the flaky list",
        settled=True,
        flake=True,
    ),
    Row(
        Kind.ON_DEFAULT_BRANCH,
        "also failing on the default branch",
        "nothing in this change; the default branch needs a fix",
        settled=True,
        not_a_flake=True,
    ),
    Row(
        Kind.REGRESSION,
        "likely regression",
        "find the cause between the last pass and the first failure; never exclude it",
        not_a_flake=True,
    ),
    Row(
        Kind.NEW_WAY,
        "failing in a new way — may be a real regression",
        "read the diff: it may be a real regression hiding in a flaky test",
        not_a_flake=True,
    ),
    Row(
        Kind.FIRST_FAILURE,
        "first failure here",
        "look at the change",
    ),
    Row(
        Kind.SEVERAL_JOBS,
        "failing in several jobs at once",
        "read the diffs: one cause, often a regression",
        not_a_flake=True,
    ),
    Row(
        Kind.FAILED_BEFORE,
        "failed before, not like a flake",
        "look at the change and at the earlier rows of failures",
        not_a_flake=True,
    ),
    Row(
        Kind.FLAKY_OTHER_JOBS,
        "flaky in other jobs, first time here",
        "re-run; it fails this way in other jobs (no patch until it is flaky here too)",
        settled=True,
        flake=True,
    ),
    Row(
        Kind.NEWLY_FLAKY,
        "newly flaky — failing now and then since an earlier run: may be a real regression",
        "find the cause between the last quiet run and the first failure; never exclude it",
        not_a_flake=True,
    ),
    Row(
        Kind.HIDDEN_REGRESSION,
        "listed, but failing in every run since an earlier one: a real regression hidden by the ignore "
        "list",
        "find the cause between the last pass and the first failure: the ignore list keeps the job green, "
        "so nothing else will tell",
    ),
)

ROWS: dict[Kind, Row] = {row.kind: row for row in VERDICTS}
LABELS: dict[Kind, str] = {row.kind: row.label for row in VERDICTS}
ADVICE: dict[Kind, str] = {row.kind: row.advice for row in VERDICTS}
SETTLED = frozenset(row.kind for row in VERDICTS if row.settled)
FLAKES = frozenset(row.kind for row in VERDICTS if row.flake)
NOT_A_FLAKE = frozenset(row.kind for row in VERDICTS if row.not_a_flake)
