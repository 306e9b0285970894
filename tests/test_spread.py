"""A test's flakiness across jobs in the report (issue 26): per job its rate, whether the list
covers it there, whether it meets the patch rule there; the jobs that do make one add patch."""

from __future__ import annotations

from pathlib import Path

from helpers.dashboard import NOW, seed

from bot.patch_rules import PatchPolicy
from bot.records import FlakeRate, Outcome, Runner, TestFailure
from bot.registry import load_registry
from bot.render.report import render_report
from bot.report import build_report, to_json
from bot.spread import spread
from bot.stats import TestRates
from bot.store.sqlite import HistoryStore, Window


def rate(job: str | None, events: int, executions: int) -> FlakeRate:
    return FlakeRate("misc/a.py", job, events, executions, 0.0, 1.0)


def meets_rule(r: FlakeRate, policy: PatchPolicy) -> bool:
    return policy.counts_meet(r.executions, r.events, r.rate)


def test_the_rule_per_job_and_the_jobs_of_one_patch() -> None:
    policy = PatchPolicy()
    assert meets_rule(rate("a", 3, 50), policy)  # 6%: every bound met
    assert not meets_rule(rate("a", 2, 50), policy)  # too few events
    assert not meets_rule(rate("a", 3, 49), policy)  # too few executions
    assert not meets_rule(rate("a", 3, 301), policy)  # under 1%
    assert meets_rule(rate("a", 3, 300), policy)  # exactly 1%
    rates = TestRates(rate(None, 12, 800), 0, (rate("b", 5, 100), rate("a", 4, 100), rate("c", 1, 100),
                                               rate("d", 3, 100), rate("e", 0, 100)))  # fmt: skip
    (found,) = spread([rates, TestRates(rate(None, 5, 100), 0, (rate("b", 5, 100),))], policy,
                      lambda test, job: job == "d")  # fmt: skip
    assert [(j.rate.job, j.status) for j in found.jobs] == [
        ("b", "meets the rule"), ("a", "meets the rule"), ("d", "listed"), ("c", "below the rule"),
    ]  # fmt: skip
    assert found.add_jobs == ("a", "b")


def test_the_report_shows_a_test_across_its_jobs(tmp_path: Path) -> None:
    def failures(day: int, job: str) -> list[TestFailure]:
        flaky = TestFailure("misc/unlisted_flaky.py", Runner.RUN_TESTS, Outcome.TIMEOUT, symptom="TIMEOUT")
        gc = TestFailure("thread/thread_gc1.py", Runner.RUN_TESTS, Outcome.FAIL, ignored=True, symptom="x")
        out = []
        if (job == "coverage" and day % 8 == 5) or (job == "standard" and day % 10 == 3) or (
            job == "macos" and day == 50
        ):
            out.append(flaky)
        if job in ("standard", "coverage") and day % 15 == 3:
            out.append(gc)
        return out

    with HistoryStore(tmp_path / "h.sqlite") as store:
        seed(store, failures=failures)
        report = build_report(store, Window(), now=NOW, registry=load_registry(None))
    by_test = {x.test: x for x in report.spread}
    flaky = by_test["misc/unlisted_flaky.py"]
    assert [(j.rate.job, j.rate.events, j.status) for j in flaky.jobs] == [
        ("coverage", 12, "meets the rule"),
        ("standard", 10, "meets the rule"),
        ("macos", 1, "below the rule"),
    ]
    assert flaky.add_jobs == ("coverage", "standard")
    assert {j.status for j in by_test["thread/thread_gc1.py"].jobs} == {"listed"}
    markdown = render_report(report)
    assert "## Flaky in several jobs" in markdown
    assert (
        "| ` misc/unlisted_flaky.py ` | ` coverage ` 12/100 = 12.0% (meets the rule), ` standard ` 10/100 = "
        "10.0% (meets the rule), ` macos ` 1/100 = 1.0% (below the rule) | ` coverage `, ` standard ` |"
    ) in markdown
    (row,) = [x for x in to_json(report)["several_jobs"] if x["test"] == "misc/unlisted_flaky.py"]
    assert row["add_jobs"] == ["coverage", "standard"] and row["jobs"][2]["meets_rule"] is False
