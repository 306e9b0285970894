"""The flakiness report as Markdown, rendered by the same environment as every other Markdown.

The Markdown mirrors the hand-written reference report (overall rate, failed-jobs histogram,
months, jobs, tests, attribution of expired logs, impact) and adds mermaid charts, which GitHub
renders natively. Test names, symptoms, job, runner and branch names come from logs and
workflow files that a pull request can change: the templates show them as code (`cell` in a
table) and as mermaid labels (`label`); numbers go through `num`, `pct`, `dec` and `day`.

`bot/templates/_job_rates.md.j2` (the job rates table and chart) and `_across_workflows.md.j2`
(tests failing in more than one workflow) are the tables other Markdown shares with the report:
the dashboard includes them with the same data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.render.environment import MARKDOWN
from bot.render.sanitize import code_span

if TYPE_CHECKING:
    from bot.report import CrossTest, Report

MAX_ROWS = 100  # per test table: a broken build can fail hundreds of tests; the JSON keeps them all
# Per-job figures shown in a test's row: a test flaky in twenty jobs would otherwise fill the cell
# with a wall of text that pushes "Last seen" and "Symptoms" off screen; the JSON keeps every job.
TOP_JOBS = 3


def _why_unattributed(report: Report) -> dict[str, str]:
    sizes = {g.name: len(g.jobs) for g in report.similar_groups}
    out = {}
    for job in report.unattributed:
        group = report.similar.get(job)
        if group is not None and sizes.get(group, 0) > 1:
            out[job] = "no readable failed log in it or in its similar jobs"
        else:
            out[job] = "no readable failed log, and no similar job known"
    return out


def report_context(report: Report) -> dict[str, Any]:
    """What `report.md.j2` and `_job_rates.md.j2` are given, for any template that shows the report."""
    months = report.months
    failed = sum(report.histogram.values())
    chart_jobs = [j for j in report.jobs if j.rate.trials]
    return {
        "r": report,
        "month_max": max([m.rate for m in months] + [0.01]) * 100,
        "job_max": max([j.rate.value for j in chart_jobs] + [0.001]) * 100,
        "chart_jobs": chart_jobs,
        "single_job_share": report.histogram.get(1, 0) / failed if failed else 0.0,
        "failing_jobs": sum(1 for j in report.jobs if j.rate.events),
        "max_rows": MAX_ROWS,
        "top_jobs": TOP_JOBS,
        "similar_groups": [g for g in report.similar_groups if len(g.jobs) > 1],
        "why_unattributed": _why_unattributed(report),
    }


def render_report(report: Report) -> str:
    """The whole flakiness report (`flake-bot report`)."""
    return MARKDOWN.get_template("report.md.j2").render(report_context(report))


def render_across(workflows: Sequence[tuple[str, str, int]], tests: Sequence[CrossTest]) -> str:
    """The head of a report over a store that holds several workflows (each workflow's own report
    follows it): which workflows, and the tests that failed in more than one, with where."""
    listed = ", ".join(f"{code_span(name or path, 60)} ({runs} runs)" for path, name, runs in workflows)
    out = [
        "# Flaky tests across workflows",
        "",
        f"The store holds {len(workflows)} workflows: {listed}. Each is reported below on its own: "
        "rates and attributions never borrow runs from another workflow.",
        "",
    ]
    if not tests:
        out.append("No test failed in more than one workflow.")
        return "\n".join(out) + "\n"
    out += [
        'Tests that failed in more than one workflow (runs per job; "ignored" = listed by run-tests.py '
        "as a known-flaky failure, so the job did not fail for it):",
        "",
        MARKDOWN.get_template("_across_workflows.md.j2").render(tests=tests, max_rows=MAX_ROWS).rstrip("\n"),
    ]
    if len(tests) > MAX_ROWS:
        out.append(f"\n{len(tests) - MAX_ROWS} more in the JSON report.")
    return "\n".join(out) + "\n"
