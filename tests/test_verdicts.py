"""The verdicts are data (bot/verdicts.py): one row per verdict, each documented in
docs/output.md with its label and whether it needs a look, and each rendered with its label and
advice, so adding a verdict without its row, its docs or its words fails here."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from test_triage import REGISTRY, RUN, failure, parsed

from bot.render import render_comment, render_text
from bot.triage import TriageReport, triage
from bot.verdicts import ROWS, VERDICTS, Kind, Row

DOCS = (Path(__file__).resolve().parents[1] / "docs" / "output.md").read_text(encoding="utf-8")


def test_one_row_per_verdict() -> None:
    assert [row.kind for row in VERDICTS] == list(Kind)
    assert all(not (row.flake and row.not_a_flake) for row in VERDICTS)
    assert all(row.settled for row in VERDICTS if row.flake)  # a flake a re-run clears needs no look


@pytest.mark.parametrize("row", VERDICTS, ids=lambda r: r.kind.value)
def test_every_verdict_is_documented(row: Row) -> None:
    key = re.escape(row.kind.value)
    found = re.search(rf"^\| \*\*(.+?)\*\* \(`{key}`\) \|(.*)\| (yes|no) \|$", DOCS, re.M)
    assert found, f"docs/output.md has no row for {row.kind.value}"
    assert found.group(1) == row.label
    assert found.group(3) == ("no" if row.settled else "yes")


def _report_of(kind: Kind) -> TriageReport:
    report = triage(RUN, [parsed("standard", failure("basics/x.py"))], REGISTRY)
    [job] = report.jobs
    finding = replace(job.findings[0], kind=kind, verdict_label=ROWS[kind].label)
    return replace(report, jobs=(replace(job, findings=(finding,)),))


@pytest.mark.parametrize("row", VERDICTS, ids=lambda r: r.kind.value)
def test_every_verdict_is_rendered(row: Row) -> None:
    report = _report_of(row.kind)
    text = render_text(report)
    assert row.label in text and row.advice in text
    assert row.label in render_comment(report)
