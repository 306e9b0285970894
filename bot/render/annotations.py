"""Check-run annotations: one plain-text message per failing test, bounded as GitHub requires."""

from __future__ import annotations

import re
from typing import Any

from bot.findings import TriageReport
from bot.render.evidence import repo_url, sentences
from bot.render.fit import CHECK_TITLE_LIMIT, fit_utf8
from bot.render.sanitize import clean, plain
from bot.render.verdict_words import advice, label
from bot.render.words import history, say_text
from bot.verdicts import SETTLED

ANNOTATION_MESSAGE_LIMIT = 2_000
ANNOTATION_DETAILS_LIMIT = 8_000
MAX_ANNOTATIONS = 200  # four requests of 50

_SAFE_TEST_PATH = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9_.+/-]{0,200}")


def check_annotations(report: TriageReport) -> list[dict[str, Any]]:
    """One annotation per failing test at `tests/<path>` line 1: warning for known flakes, failure otherwise.

    Messages are plain text (the Checks API does not render Markdown there), one per finding.
    A test name that does not look like a path under tests/ is annotated on `tests` itself.
    At most `MAX_ANNOTATIONS`, those that need a look first: GitHub takes 50 per request, and a
    fork PR printing thousands of FAIL lines spent the whole request budget on annotations, so
    the PR comment was never posted. The check run's text still lists every failure.
    """
    kept = {id(f) for f in sorted(report.findings, key=lambda f: not f.needs_look)[:MAX_ANNOTATIONS]}
    out = []
    for f in (f for f in report.findings if id(f) in kept):
        test = clean(f.failure.test)
        path = f"tests/{test}" if _SAFE_TEST_PATH.fullmatch(test) and ".." not in test else "tests"
        where = f"{f.failure.test_pass.value} pass of " if f.failure.test_pass else ""
        lines = [f"{label(f)}: {test} failed in the {where}job {clean(f.job.name)}."]
        lines.append(f"What to do: {advice(f)}.")
        if f.failure.symptom:
            lines.append(f"Symptom: {f.failure.symptom}")
        lines.extend(say_text(s) for s in sentences(f, repo_url(report.run)))
        if report.has_history:
            lines.extend(h[0].upper() + h[1:] + "." for h in history(f))
        if f.match.explanation:
            lines.append(f.match.explanation)
        annotation: dict[str, Any] = {
            "path": path,
            "start_line": 1,
            "end_line": 1,
            "annotation_level": "warning" if f.verdict in SETTLED else "failure",
            "title": fit_utf8(plain(f"{test}: {label(f)}", CHECK_TITLE_LIMIT - 40, one_line=True)),
            "message": plain("\n".join(lines), ANNOTATION_MESSAGE_LIMIT),
        }
        if f.failure.diff:
            annotation["raw_details"] = plain(f.failure.diff, ANNOTATION_DETAILS_LIMIT)
        out.append(annotation)
    return out
