"""The verdicts in words: one row per verdict of `bot.verdicts`, and the headline and breakdown
built from them.

Every word here is fixed text: the label and advice are shown as they are, the brief evidence
is numbers and fixed words (`bot.render.evidence`). The rows say, for the headline, what a
settled failure is counted as ("known flake"), and for the breakdown of the failures that
need a look, what this one is; `no_patch` says why a verdict rules out a patch however often
the test failed. tests/test_verdicts.py checks that every verdict has its row here, its words
in docs/output.md and a place in what is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.findings import Finding, TriageReport
from bot.render import evidence
from bot.render.evidence import Brief, counted
from bot.verdicts import VERDICTS, Verdict


@dataclass(frozen=True)
class Words:
    """`counted`: for a settled verdict that fails a job, its noun in the headline (one, many);
    `look`: for a verdict that needs a look, its words in the breakdown."""

    label: str
    advice: str
    brief: Brief
    counted: tuple[str, str] | None = None
    look: str = ""
    no_patch: str = ""


_NO_HISTORY = "there is no history of it in this job to show it is flaky"

WORDS: dict[Verdict, Words] = {
    Verdict.KNOWN_FLAKE: Words(
        "known flake here",
        "re-run the failed job",
        evidence.listed_here,
        counted=("known flake", "known flakes"),
    ),
    Verdict.PROVEN_FLAKY: Words(
        "proven flaky",
        "re-run; nothing in the code changed between the two results",
        evidence.same_commit,
        counted=("unlisted flake", "unlisted flakes"),
    ),
    Verdict.UNLISTED_FLAKE: Words(
        "unlisted flake",
        "re-run; consider adding it to the flaky list",
        evidence.alone,
        counted=("unlisted flake", "unlisted flakes"),
    ),
    Verdict.FLAKY_OTHER_JOBS: Words(
        "flaky in other jobs, first time here",
        "re-run; it fails this way in other jobs (no patch until it is flaky here too)",
        evidence.across,
        counted=("flaky in other jobs", "flaky in other jobs"),
    ),
    Verdict.ON_DEFAULT_BRANCH: Words(
        "also failing on the default branch",
        "nothing in this change; the default branch needs a fix",
        evidence.streak,
        counted=("also failing on the default branch", "also failing on the default branch"),
        no_patch="it is failing on the default branch right now; fix that first",
    ),
    Verdict.IGNORED: Words(
        "ignored by run-tests.py (known flaky)",
        "nothing",
        evidence.rate,
    ),
    Verdict.REGRESSION: Words(
        "likely regression",
        "find the cause between the last pass and the first failure; never exclude it",
        evidence.streak,
        look="failing in every run since an earlier one",
        no_patch="it also failed in its latest executions there, with no pass since: that is how a "
        "regression looks",
    ),
    Verdict.NEW_WAY: Words(
        "failing in a new way — may be a real regression",
        "read the diff: it may be a real regression hiding in a flaky test",
        evidence.new_way,
        look="failing in a new way",
        no_patch="it failed in a way none of its earlier failures did, which is how a regression "
        "hiding in a flaky test shows",
    ),
    Verdict.FIRST_FAILURE: Words(
        "first failure here",
        "look at the change",
        evidence.no_failure,
        look="first failure here",
    ),
    Verdict.SEVERAL_JOBS: Words(
        "failing in several jobs at once",
        "read the diffs: one cause, often a regression",
        evidence.in_jobs_of_run,
        look="failing in several jobs at once",
        no_patch="it failed in several jobs of this run at once, which points to a shared cause",
    ),
    Verdict.FAILED_BEFORE: Words(
        "failed before, not like a flake",
        "look at the change and at the earlier rows of failures",
        evidence.in_rows,
        look="failed before in rows, not like a flake",
        no_patch="its earlier failures came in rows, not alone between passes as a flake's do",
    ),
    Verdict.NEWLY_FLAKY: Words(
        "newly flaky — failing now and then since an earlier run: may be a real regression",
        "find the cause between the last quiet run and the first failure; never exclude it",
        evidence.onset,
        look="newly flaky since an earlier run",
        no_patch="it started failing now and then at an earlier run, after a long quiet stretch: a "
        "change made it flaky, and a patch would hide that change's bug",
    ),
    Verdict.HIDDEN_REGRESSION: Words(
        "listed, but failing in every run since an earlier one: a real regression hidden by the ignore list",
        "find the cause between the last pass and the first failure: the ignore list keeps the job green, "
        "so nothing else will tell",
        evidence.ignored_streak,
        look="listed, but failing in every run since an earlier one",
    ),
    Verdict.NEW: Words(
        "new",
        "look at the change",
        evidence.rate,
        look="new, with no history to judge by",
        no_patch=_NO_HISTORY,
    ),
    Verdict.NEW_SYMPTOM: Words(
        "known flaky test failing in a new way — may be a real regression",
        "read the diff: a real regression in a flaky test looks like this",
        evidence.unlike_listed,
        look="known flaky failing in a new way",
    ),
    Verdict.WIDESPREAD: Words(
        "known flaky test failing in several jobs at once — may be a real regression",
        "read the diffs: independent flakes rarely line up",
        evidence.in_jobs_of_run,
        look="known flaky failing in several jobs at once",
    ),
    Verdict.FLAKY_ELSEWHERE: Words(
        "flaky elsewhere",
        "look at the failure",
        evidence.listed_elsewhere,
        look="flaky elsewhere but not listed for this job",
        no_patch=_NO_HISTORY,
    ),
}


def label(f: Finding) -> str:
    return WORDS[f.verdict].label


def advice(f: Finding) -> str:
    return WORDS[f.verdict].advice


def brief(f: Finding) -> str:
    return WORDS[f.verdict].brief(f)


def headline(report: TriageReport) -> str:
    """E.g. "3 failures in 2 jobs: 2 known flakes, 1 needs a look"; numbers and fixed words only."""
    c = report.counts
    hidden = c[Verdict.HIDDEN_REGRESSION]
    if report.run_unexplained:
        return f"No failed job found, yet the run's conclusion is {report.run.conclusion}"
    if c.jobs_failed == 0 and hidden:
        return f"{counted(hidden, 'ignored failure')} of a test failing in every run: needs a look"
    if c.jobs_failed == 0:
        text = "No failures"
        if c.tally("ignored"):
            text += f": {counted(c.tally('ignored'), 'known-flaky failure')} ignored by run-tests.py"
        return text
    if c.failures == 0:
        return f"{counted(c.jobs_failed, 'failed job')}: could not read {counted(c.unreadable_logs, 'log')}"
    read = c.jobs_failed - c.unreadable_logs
    parts = [f"{n:,} {noun}" for noun, n in _settled(report).items() if n]
    if c.needs_look:
        parts.append(f"{c.needs_look} need{'s' if c.needs_look == 1 else ''} a look")
    text = f"{counted(c.failures, 'failure')} in {counted(read, 'job')}: " + ", ".join(parts)
    if c.unreadable_logs:
        text += f"; could not read {counted(c.unreadable_logs, 'log')}"
    return text


def _settled(report: TriageReport) -> dict[str, int]:
    """The settled failures by the noun the headline counts them as, in the table's order."""
    counted: dict[tuple[str, str], int] = {}
    for row in VERDICTS:
        words = WORDS[row.verdict].counted
        if words is not None:
            counted[words] = counted.get(words, 0) + report.counts[row.verdict]
    return {(one if n == 1 else many): n for (one, many), n in counted.items()}


def breakdown(report: TriageReport) -> list[str]:
    """What the failures that need a look are, e.g. ["1 new", "1 not a test failure"], strongest
    warning first."""
    c = report.counts
    parts = [(c[row.verdict], WORDS[row.verdict].look) for row in VERDICTS if not row.settled]
    parts.append((c.not_a_test_failure, "not a test failure"))
    return [f"{n:,} {words}" for n, words in parts if n]
