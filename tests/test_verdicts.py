"""The verdicts are data: one row per verdict in bot/verdicts.py (how it counts) and one in
bot/render/verdict_words.py (its words), each documented in docs/output.md with its label and
whether it needs a look, and each rendered with its label, advice and brief evidence, so adding
a verdict without its row, its words, its docs or its place in the output fails here."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from test_triage import REGISTRY, RUN, failure, parsed

from bot.findings import TriageReport
from bot.render import render_comment, render_text
from bot.render.verdict_words import WORDS, breakdown, brief, headline
from bot.triage import triage
from bot.verdicts import NOT_A_FLAKE, ROWS, SETTLED, TALLIES, VERDICTS, Counts, Row, Verdict

DOCS = (Path(__file__).resolve().parents[1] / "docs" / "output.md").read_text(encoding="utf-8")


def test_one_row_per_verdict() -> None:
    assert [row.verdict for row in VERDICTS] == list(Verdict)
    assert all(not (row.flake and row.not_a_flake) for row in VERDICTS)
    assert all(not (row.patchable and row.not_a_flake) for row in VERDICTS)
    assert all(row.flake for row in VERDICTS if row.patchable)  # a patch hides only a flake's failures
    assert all(row.settled for row in VERDICTS if row.flake)  # a flake a re-run clears needs no look
    assert set(WORDS) == set(Verdict)


def test_the_table_order_puts_the_settled_verdicts_first() -> None:
    """The headline counts the settled failures and the breakdown the others, both in the table's
    order: settled first, then the warnings, strongest first."""
    settled = [row.settled for row in VERDICTS]
    assert settled == sorted(settled, reverse=True)


@pytest.mark.parametrize("row", VERDICTS, ids=lambda r: r.verdict.value)
def test_every_verdict_is_documented(row: Row) -> None:
    key = re.escape(row.verdict.value)
    found = re.search(rf"^\| \*\*(.+?)\*\* \(`{key}`\) \|(.*)\| (yes|no) \|$", DOCS, re.M)
    assert found, f"docs/output.md has no row for {row.verdict.value}"
    assert found.group(1) == WORDS[row.verdict].label
    assert found.group(3) == ("no" if row.settled else "yes")


@pytest.mark.parametrize("row", VERDICTS, ids=lambda r: r.verdict.value)
def test_every_verdict_has_the_words_its_counting_needs(row: Row) -> None:
    """A settled failure is named in the headline, a failure that needs a look in the breakdown,
    and a verdict that rules out a patch says why."""
    words = WORDS[row.verdict]
    assert (words.counted is not None) is (row.settled and row.failure)
    assert bool(words.look) is (not row.settled)
    assert bool(words.no_patch) is (row.verdict in NOT_A_FLAKE)


def _report_of(verdict: Verdict) -> TriageReport:
    report = triage(RUN, [parsed("standard", failure("basics/x.py"))], REGISTRY)
    [job] = report.jobs
    finding = replace(job.findings[0], verdict=verdict)
    job = replace(job, findings=(finding,))
    return replace(report, jobs=(job,), counts=Counts.of([verdict], jobs_failed=1))


@pytest.mark.parametrize("row", VERDICTS, ids=lambda r: r.verdict.value)
def test_every_verdict_is_rendered(row: Row) -> None:
    report = _report_of(row.verdict)
    words = WORDS[row.verdict]
    text = render_text(report)
    assert words.label in text and words.advice in text and brief(report.findings[0]) in text
    assert words.label in render_comment(report)
    if row.failure and row.settled:
        assert headline(report) == f"1 failure in 1 job: 1 {words.counted[0] if words.counted else '?'}"
    elif row.failure:
        assert breakdown(report) == [f"1 {words.look}"]


def test_counts_are_a_counter_over_the_table() -> None:
    """Each verdict adds to its tallies; failures and needs-a-look follow the rows' columns."""
    counts = Counts.of(list(Verdict), not_a_test_failure=2)
    data = counts.as_json()
    assert list(data) == ["failures", "jobs_failed", "needs_look", *TALLIES, "not_a_test_failure",
                          "unreadable_logs", "problems"]  # fmt: skip
    assert data["failures"] == len(Verdict) - 1 + 2  # every verdict but "ignored" failed its job
    assert data["needs_look"] == len(Verdict) - len(SETTLED) + 2
    assert data["unlisted_flakes"] == 2 and data["proven_flaky"] == 1  # proven flaky counts twice
    assert data["ignored"] == 2  # an ignored failure, and one hidden regression behind the list
    assert all(counts.tally(key) == sum(key in ROWS[v].tallies for v in Verdict) for key in TALLIES)
    assert counts[Verdict.NEW] == 1 and Counts()[Verdict.NEW] == 0


def _reassured(counts: Counts) -> str:
    report = _report_of(Verdict.KNOWN_FLAKE)
    return render_comment(replace(report, jobs=(), counts=counts))


def test_the_comment_calls_flakes_known_only_when_every_one_is_listed() -> None:
    """A flake in other jobs is not on upstream's list: with it, the comment says "flakes with
    evidence", not "known flakes"; and beside failures of the default branch, flakes of any kind
    are "the rest"."""
    known = Counts.of([Verdict.KNOWN_FLAKE] * 2, jobs_failed=2)
    assert "Every failure is a known flake" in _reassured(known)
    mixed = Counts.of([Verdict.KNOWN_FLAKE, Verdict.FLAKY_OTHER_JOBS], jobs_failed=2)
    assert "Every failure is a known flake" not in _reassured(mixed)
    assert "Every failure is a flake with evidence" in _reassured(mixed)
    beside = Counts.of([Verdict.ON_DEFAULT_BRANCH, Verdict.FLAKY_OTHER_JOBS], jobs_failed=2)
    assert "1 failure is failing on the default branch too" in _reassured(beside)
    assert "the rest are flakes with evidence" in _reassured(beside)
    alone = Counts.of([Verdict.ON_DEFAULT_BRANCH], jobs_failed=1)
    assert "the rest" not in _reassured(alone)


def _counted(*verdicts: Verdict, jobs: int = 2) -> TriageReport:
    report = _report_of(Verdict.KNOWN_FLAKE)
    return replace(report, jobs=(), counts=Counts.of(verdicts, jobs_failed=jobs))


def test_the_headline_counts_settled_failures_by_their_noun() -> None:
    """Proven flaky and unlisted flakes are one noun, in the plural when there are more."""
    flakes = _counted(Verdict.KNOWN_FLAKE, Verdict.KNOWN_FLAKE, Verdict.PROVEN_FLAKY, Verdict.UNLISTED_FLAKE)
    assert headline(flakes) == "4 failures in 2 jobs: 2 known flakes, 2 unlisted flakes"
    others = _counted(Verdict.FLAKY_OTHER_JOBS, Verdict.FLAKY_OTHER_JOBS, Verdict.NEW, jobs=1)
    assert headline(others) == "3 failures in 1 job: 2 flaky in other jobs, 1 needs a look"


def test_an_ignored_failure_beside_flakes_leaves_the_run_reassuring() -> None:
    """run-tests.py's ignored failures left their job green: they are no failure to explain."""
    assert _counted(Verdict.KNOWN_FLAKE, Verdict.IGNORED).reassuring
    assert not _counted(Verdict.KNOWN_FLAKE, Verdict.ON_DEFAULT_BRANCH).reassuring
    assert _counted(Verdict.KNOWN_FLAKE, Verdict.ON_DEFAULT_BRANCH).settled
