"""Statistics over hand-built counts: the numbers a maintainer reads must be right by construction."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import stats
from bot.stats import ExecutionDay, JobTally, ObservedCause, Overview, SoleCause, TestTally

T0 = datetime(2026, 1, 10, tzinfo=UTC)


class DatedExclusions:
    """A registry in miniature: `test` is excluded from `jobs` before `until` (like ci.sh --exclude
    before upstream moved to flaky_tests_to_ignore)."""

    def __init__(self, test: str, jobs: set[str], until: date) -> None:
        self.test, self.jobs, self.until = test, jobs, until

    def runs_test(self, job: str, test: str, when: date | None = None) -> bool:
        excluded = test == self.test and job in self.jobs and (when is None or when < self.until)
        return not excluded

    def ignores(self, job: str, test: str, when: date | None = None) -> bool:
        return False


def test_wilson_edges_match_the_closed_form() -> None:
    z2 = stats.Z95**2
    low, high = stats.wilson(0, 10)
    assert low == 0.0
    assert high == pytest.approx(z2 / (10 + z2))
    low, high = stats.wilson(10, 10)
    assert low == pytest.approx(10 / (10 + z2))
    assert high == pytest.approx(1.0)
    assert stats.wilson(0, 0) == (0.0, 1.0)


def test_wilson_for_the_issue_example() -> None:
    # "failed 9 times in the last 1,150 executions of this job (0.8%, 95% CI 0.4-1.5%)"
    low, high = stats.wilson(9, 1150)
    assert round(100 * low, 1) == 0.4
    assert round(100 * high, 1) == 1.5


def test_wilson_bounds_are_exact_at_the_edges() -> None:
    """0 failures in n: the low bound is 0, not a rounding error above the observed 0%."""
    for trials in range(1, 3000):
        assert stats.wilson(0, trials)[0] == 0.0, trials
        assert stats.wilson(trials, trials)[1] == 1.0, trials


@given(st.integers(0, 5000), st.integers(1, 5000))
def test_wilson_brackets_the_rate(events: int, extra: int) -> None:
    trials = events + extra
    low, high = stats.wilson(events, trials)
    assert 0.0 <= low <= events / trials <= high <= 1.0


def test_job_rates_sort_worst_first_and_independence_multiplies_pass_rates() -> None:
    tallies = [
        JobTally("a", "ubuntu-latest", 100, 2, 0),
        JobTally("b", "macos-26", 100, 10, 3),
        JobTally("c", None, 100, 0, 0),
    ]
    jobs = stats.job_rates(tallies)
    assert [j.job for j in jobs] == ["b", "a", "c"]
    assert jobs[0].rate.value == pytest.approx(0.10)
    check = stats.independence(jobs, Overview(100, 11, T0, T0, 0))
    assert check.predicted_pass == pytest.approx(0.98 * 0.90 * 1.0)
    assert check.observed_pass == pytest.approx(0.89)


def test_monthly_sorted_with_rates() -> None:
    months = stats.monthly([("2025-02", 41, 8), ("2024-12", 10, 3)])
    assert [(m.month, round(100 * m.rate, 1)) for m in months] == [("2024-12", 30.0), ("2025-02", 19.5)]


DAYS = [
    ExecutionDay("macos", date(2026, 1, 1), 10),
    ExecutionDay("macos", date(2026, 4, 1), 5),
    ExecutionDay("coverage", date(2026, 1, 1), 10),
    ExecutionDay("coverage", date(2026, 4, 1), 5),
]


def test_executions_follow_the_registry_in_force_on_each_day() -> None:
    registry = DatedExclusions("thread/thread_gc1.py", {"macos"}, until=date(2026, 3, 11))
    assert stats.executions_of("thread/thread_gc1.py", DAYS, registry) == {"macos": 5, "coverage": 15}
    assert stats.executions_of("other.py", DAYS, registry) == {"macos": 15, "coverage": 15}
    assert stats.executions_of("thread/thread_gc1.py", DAYS, None, after=date(2026, 2, 1)) == {
        "macos": 5,
        "coverage": 5,
    }


def test_flake_rates_overall_and_per_job() -> None:
    tallies = [
        TestTally("thread/thread_gc1.py", "coverage", 3, 1, T0, ("Expected True, got False",)),
        TestTally("thread/thread_gc1.py", "macos", 1, 0, T0.replace(day=20), ("CRASH",)),
        TestTally("extmod/time_time_ns.py", "coverage", 1, 0, T0, ()),
    ]
    registry = DatedExclusions("thread/thread_gc1.py", {"macos"}, until=date(2026, 3, 11))
    rates = stats.test_rates(tallies, DAYS, registry)
    assert [r.overall.test for r in rates] == ["thread/thread_gc1.py", "extmod/time_time_ns.py"]
    gc1 = rates[0]
    assert (gc1.overall.events, gc1.overall.executions, gc1.ignored) == (4, 20, 1)
    assert gc1.overall.last_seen == T0.replace(day=20)
    assert gc1.overall.symptoms == ("Expected True, got False", "CRASH")
    assert [(r.job, r.events, r.executions) for r in gc1.by_job] == [("coverage", 3, 15), ("macos", 1, 5)]
    assert gc1.overall.low == pytest.approx(stats.wilson(4, 20)[0])


def test_a_failure_proves_an_execution_even_where_the_registry_says_excluded() -> None:
    tallies = [TestTally("t.py", "macos", 3, 0, T0, ())]
    rate = stats.flake_rate("t.py", tallies, {"macos": 1}, job="macos")
    assert (rate.events, rate.executions) == (3, 3)


def test_attribution_shares_unread_failures_by_what_readable_logs_showed() -> None:
    jobs = [
        JobTally("settrace_stackless", None, 575, 14, 10),
        JobTally("standard_v2", None, 575, 8, 8),  # no readable log at all
        JobTally("standard", None, 575, 2, 0),
    ]
    causes = [
        ObservedCause("settrace_stackless", "thread/thread_gc1.py", 3),
        ObservedCause("settrace_stackless", None, 1),
        ObservedCause("standard", "thread/stress_heap.py", 2),
    ]
    registry = DatedExclusions("thread/stress_heap.py", {"standard_v2"}, until=date(2100, 1, 1))
    found, unattributed = stats.attribute(
        jobs, causes, DAYS, registry, now=date(2026, 2, 1), similar=dict.fromkeys(FULL_SUITE, "linux, full")
    )
    assert unattributed == {}
    by_test = {a.test: a for a in found}
    gc1 = by_test["thread/thread_gc1.py"]
    assert gc1.observed == 3
    # settrace_stackless: 10 x 3/4; standard_v2 has no log: its group's causes minus stress_heap
    # (excluded there)
    assert dict((j, e) for j, _o, e, _b in gc1.by_job) == pytest.approx(
        {"settrace_stackless": 7.5, "standard_v2": 8 * 3 / 4}
    )
    bases = {j: b for j, _o, _e, b in gc1.by_job}
    assert bases == {"settrace_stackless": "same job", "standard_v2": "similar jobs"}
    assert by_test[None].estimated == pytest.approx(2.5 + 2.0)
    assert by_test["thread/stress_heap.py"].estimated == 0.0
    assert found[0].test == "thread/thread_gc1.py"
    # opportunities: executions of the jobs it is blamed in (DAYS has none of theirs), plus their
    # unread failures; not the macos and coverage executions of DAYS, where nothing blamed it
    assert gc1.opportunities == 10 + 8


def test_attribution_without_any_readable_log_is_unattributed() -> None:
    found, unattributed = stats.attribute([JobTally("x", None, 10, 2, 2)], [], [], None, now=date(2026, 1, 1))
    assert found == []
    assert unattributed == {"x": 2}


def test_impact_removes_only_the_failures_the_test_alone_caused() -> None:
    jobs = [JobTally("a", None, 100, 10, 0), JobTally("b", None, 100, 5, 0)]
    sole = [SoleCause("a", "t.py", 6), SoleCause("b", "t.py", 5), SoleCause("a", "u.py", 1)]
    impacts = stats.impact(jobs, sole, [])
    assert [i.test for i in impacts] == ["t.py", "u.py"]
    assert impacts[0].predicted_pass_if_ignored == pytest.approx((1 - 4 / 100) * 1.0)
    assert impacts[0].saved_failures == 11
    assert impacts[1].predicted_pass_if_ignored == pytest.approx((1 - 9 / 100) * (1 - 5 / 100))


FULL_SUITE = ("settrace_stackless", "standard_v2", "standard")


def test_a_native_job_without_logs_is_not_blamed_for_an_emulation_only_flake() -> None:
    """MicroPython's QEMU jobs share the ubuntu-latest runner with the native ones; their
    stress_aes.py timeouts say nothing about why a native full-suite job failed."""
    native, qemu = "linux, natively via ci_unix_run_tests_full_helper", "linux, under QEMU emulation"
    similar = {"standard": native, "coverage": native, "qemu_arm": qemu, "qemu_mips": qemu}
    jobs = [
        JobTally("standard", "ubuntu-latest", 500, 2, 0),
        JobTally("qemu_arm", "ubuntu-latest", 500, 5, 0),
        JobTally("coverage", "ubuntu-latest", 500, 4, 4),  # native, no readable log of its own
        JobTally("qemu_mips", "ubuntu-latest", 500, 3, 3),  # emulated, no readable log of its own
    ]
    causes = [
        ObservedCause("standard", "thread/thread_gc1.py", 2),
        ObservedCause("qemu_arm", "thread/stress_aes.py", 4),
        ObservedCause("qemu_arm", "cmdline/repl_lock.py", 1),
    ]
    found, unattributed = stats.attribute(jobs, causes, DAYS, None, now=date(2026, 2, 1), similar=similar)
    assert unattributed == {}
    by_test = {a.test: {job: (e, b) for job, _o, e, b in a.by_job} for a in found}
    assert by_test["thread/thread_gc1.py"]["coverage"] == (4.0, "similar jobs")
    assert set(by_test["thread/stress_aes.py"]) == {"qemu_arm", "qemu_mips"}
    assert by_test["thread/stress_aes.py"]["qemu_mips"] == (pytest.approx(3 * 4 / 5), "similar jobs")
    assert by_test["cmdline/repl_lock.py"]["qemu_mips"] == (pytest.approx(3 * 1 / 5), "similar jobs")
    assert "qemu_mips" not in by_test["thread/thread_gc1.py"]
    # opportunities count only the jobs blamed: the emulated flake is not diluted by native jobs
    aes = next(a for a in found if a.test == "thread/stress_aes.py")
    assert aes.opportunities == 3  # the unread failures of qemu_mips; DAYS has no QEMU executions


def test_a_shared_runner_label_alone_is_no_ground_for_attribution() -> None:
    """Without a group of similar jobs (no registry, or a job it does not describe), a job with no
    readable log of its own stays unattributed, even beside jobs on the same runner that have some."""
    jobs = [
        JobTally("qemu_arm", "ubuntu-latest", 500, 5, 0),
        JobTally("float", "ubuntu-latest", 500, 4, 4),
        JobTally("settrace", "ubuntu-latest", 500, 2, 2),  # unknown to the grouping
    ]
    causes = [ObservedCause("qemu_arm", "thread/stress_aes.py", 5)]
    found, unattributed = stats.attribute(jobs, causes, DAYS, None, now=date(2026, 2, 1))
    assert unattributed == {"float": 4, "settrace": 2}
    assert [(a.test, a.estimated) for a in found] == [("thread/stress_aes.py", 0.0)]
    # a group whose members have no readable failed log leaves it unattributed too
    similar = {"float": "linux, natively via ci_unix_run_tests_helper", "qemu_arm": "linux, under QEMU"}
    _found, unattributed = stats.attribute(jobs, causes, DAYS, None, now=date(2026, 2, 1), similar=similar)
    assert unattributed == {"float": 4, "settrace": 2}


def test_a_job_that_has_readable_logs_keeps_its_own_evidence_over_its_group() -> None:
    similar = dict.fromkeys(("standard", "coverage"), "linux, full")
    jobs = [JobTally("standard", None, 100, 3, 2), JobTally("coverage", None, 100, 5, 0)]
    causes = [ObservedCause("standard", "extmod/time_time_ns.py", 1), ObservedCause("coverage", "t.py", 5)]
    found, unattributed = stats.attribute(jobs, causes, DAYS, None, now=date(2026, 2, 1), similar=similar)
    assert unattributed == {}
    by_test = {a.test: {job: (e, b) for job, _o, e, b in a.by_job} for a in found}
    assert by_test["extmod/time_time_ns.py"]["standard"] == (2.0, "same job")
    assert "standard" not in by_test["t.py"]


def test_change_dates_come_from_entries_when_a_registry_has_them() -> None:
    class Entry:
        def __init__(self, since: date | None, until: date | None) -> None:
            self.since, self.until = since, until

    class WithEntries(DatedExclusions):
        entries = (Entry(None, date(2026, 3, 11)), Entry(date(2025, 6, 12), None), Entry(None, None))

    assert stats.change_dates(WithEntries("t.py", set(), date(2026, 3, 11))) == (
        date(2025, 6, 12),
        date(2026, 3, 11),
    )
    assert stats.change_dates(DatedExclusions("t.py", set(), date(2026, 3, 11))) is None
