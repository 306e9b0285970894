"""The action's step outputs: counts, the headline and one JSON row per failure for later steps."""

from __future__ import annotations

import json

from bot.across_jobs import AcrossJobs
from bot.evidence import Evidence
from bot.findings import Finding, TriageReport
from bot.records import FlakeRate
from bot.render.evidence import repo_url
from bot.render.sanitize import plain
from bot.render.verdict_words import headline
from bot.render.words import day
from bot.verdicts import Verdict

# Characters of the `failures` output: all ASCII (JSON-escaped), so 500 KB of GitHub's 1 MB per job.
OUTPUT_FAILURES_LIMIT = 250_000


def _rate_json(rate: FlakeRate | None) -> dict[str, object] | None:
    """The test's history in this job, for a later step deciding what to do; None without one."""
    if rate is None or not rate.executions:
        return None
    return {
        "failures": rate.events,
        "executions": rate.executions,
        "rate": round(rate.rate, 6),
        "low": round(rate.low, 6),
        "high": round(rate.high, 6),
        "last_seen": day(rate.last_seen) if rate.last_seen else None,
    }


def _evidence_json(f: Finding, base: str | None) -> dict[str, object] | None:
    """The evidence behind the verdict, as fields a later step can test; None without a history."""
    e: Evidence | None = f.evidence
    if e is None:
        return None
    s = e.streak

    def ref(r: object) -> int | None:
        return getattr(r, "run_id", None)

    compare = None
    if base and s.last_pass is not None and s.first_failure is not None:
        compare = f"{base}/compare/{s.last_pass.sha}...{s.first_failure.sha}"
    return {
        "history": "default-branch" if e.default_branch else "all-runs",
        "executions": e.known,
        "failures": e.failures,
        "unknown": e.unknown,
        "streak": s.failures,
        "streak_unknown": s.unknown,
        "first_failing_run": ref(s.first_failure),
        "first_failing_sha": s.first_failure.sha if s.first_failure else None,
        "last_passing_run": ref(s.last_pass),
        "last_passing_sha": s.last_pass.sha if s.last_pass else None,
        "compare_url": compare,
        "same_commit_pass_run": ref(e.same_commit_pass),
        "flipped_commits": e.flipped_commits,
        "isolated_failures": e.isolated,
        "longest_row": e.longest_run,
        "new_way": e.new_way,
        "earlier_symptoms": [plain(x, 200, one_line=True) for x in (*e.symptoms_here, *e.symptoms_elsewhere)],
        "other_jobs": _across_json(f.across),
        **_onset_json(e, base),
    }


def _across_json(a: AcrossJobs | None) -> list[dict[str, object]] | None:
    """The test's record in the other jobs (None: not read, as for any verdict but a first failure
    here): per job, what made it lend evidence (`flaky`, `same_symptom`) or veto it."""
    if a is None:
        return None
    return [
        {
            "job": plain(s.job, 200, one_line=True),
            "workflow": plain(s.workflow, 200, one_line=True) or None,
            "executions": s.known,
            "failures": s.failures,
            "isolated_failures": s.isolated,
            "longest_row": s.longest_run,
            "streak": s.streak,
            "same_symptom": s.same_symptom,
            "last_failing_run": s.last_failure.run_id if s.last_failure else None,
            "last_seen": day(s.last_failure.created) if s.last_failure else None,
            "listed": s.listed,
            "flaky": s.flaky,
        }
        for s in a.siblings
    ]


def _onset_json(e: Evidence, base: str | None) -> dict[str, object]:
    """Where its failure rate rose (`bot.changepoint`): all None when it did not."""
    o = e.flaky_since
    quiet = o.last_quiet if o is not None else None
    compare = f"{base}/compare/{quiet.sha}...{o.first_failure.sha}" if base and o and quiet else None
    return {
        "flaky_since_run": o.first_failure.run_id if o else None,
        "flaky_since_sha": o.first_failure.sha if o else None,
        "last_quiet_run": quiet.run_id if quiet else None,
        "last_quiet_sha": quiet.sha if quiet else None,
        "flaky_compare_url": compare,
    }


def _ignored(report: TriageReport) -> list[Finding]:
    """Failures run-tests.py ignored (verdict "ignored"), after the failures: a later step sees
    every failing test, and those failing in every run are among the failures already."""
    return [f for j in report.jobs for f in j.ignored if f.verdict is Verdict.IGNORED]


def outputs(
    report: TriageReport, *, max_failures: int = 500, max_chars: int = OUTPUT_FAILURES_LIMIT
) -> dict[str, str]:
    """The action's outputs.

    `failures` holds log-derived text: one line per field, control characters removed, bounded,
    JSON-escaped. A workflow must still never splice it into `run:` with `${{ }}`; use `env:`.
    It keeps the first rows that fit in `max_chars`: GitHub allows a job 1 MB of outputs counted
    in UTF-16, and 500 rows of hostile 200-character names and symptoms (each non-ASCII
    character escaped as six) came to 1.6 MB, which would lose every output of the step.
    """
    rows = [
        {
            "job": plain(f.job.name, 200, one_line=True),
            "test": plain(f.failure.test, 200, one_line=True),
            "pass": f.failure.test_pass.value if f.failure.test_pass else None,
            "runner": f.failure.runner.value,
            "verdict": f.verdict.value,
            "needs_look": f.needs_look,
            "symptom": plain(f.failure.symptom, 200, one_line=True),
            "line": f.failure.line,
            "job_url": f.job.html_url,
            "rate": _rate_json(f.job_rate),
            "evidence": _evidence_json(f, repo_url(report.run)),
            "patch": f.patch is not None,
        }
        for f in [*report.findings, *_ignored(report)][:max_failures]
    ]
    kept: list[str] = []
    used = 2  # the brackets
    for row in rows:
        text = json.dumps(row, ensure_ascii=True, separators=(",", ":"))
        if used + len(text) + 1 > max_chars:
            break
        kept.append(text)
        used += len(text) + 1
    c = report.counts
    return {
        "failures": "[" + ",".join(kept) + "]",
        "new-failures": str(sum(1 for f in report.findings if f.verdict is not Verdict.KNOWN_FLAKE)),
        "known-flaky": str(c[Verdict.KNOWN_FLAKE]),
        "needs-a-look": str(c.needs_look),
        "unreadable-logs": str(c.unreadable_logs),
        "headline": headline(report),
    }
