"""Rendered comment, check run, job summary and terminal text: content, bounds and hostile input.

Every Markdown output is rendered with cmarkgfm (GitHub's engine). The hostile-input tests
render the same report twice, once with harmless names and once with attacker-chosen ones, and
require the same HTML element structure: whatever a log says, it cannot add an element, a link,
a heading or a mention, or unbalance a collapsed block.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from helpers.gfm import Rendered, analyse, github_refs, shown, visible
from helpers.histories import history
from helpers.hostile import HOSTILE_PIECES
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.findings import JobInput, TriageReport
from bot.patch_rules import write_patches
from bot.records import (
    FlakeRate,
    JobInfo,
    JobReport,
    LogState,
    Outcome,
    Problem,
    ProblemKind,
    RunInfo,
    Runner,
    TestFailure,
    TestPass,
)
from bot.registry.model import Entry, JobSpec, Mechanism, Registry
from bot.render import (
    CHECK_LIMIT,
    COMMENT_MARKER,
    MAX_ANNOTATIONS,
    outputs,
    rate_text,
    render_check,
    render_comment,
    render_step_summary,
    render_text,
)
from bot.render.verdict_words import headline
from bot.triage import triage

DETAILS = "https://github.com/micropython/micropython/runs/777"


def make_registry(flaky_test: str, job_name: str) -> Registry:
    return Registry(
        entries=(
            Entry(
                flaky_test,
                Mechanism.IGNORE,
                reason="races",
                flaky=True,
                since=date(2026, 1, 1),
                symptoms=("timeout",),
            ),
            Entry("thread/stress_aes.py", Mechanism.IGNORE, reason="slow", flaky=True, platforms=("darwin",)),
        ),
        jobs={job_name: JobSpec(job_name, "linux"), "macos": JobSpec("macos", "darwin")},
    )


def make_run(branch: str = "feature", name: str = "unix port") -> RunInfo:
    return RunInfo(
        id=9001,
        attempt=3,
        workflow_name=name,
        workflow_path=".github/workflows/ports_unix.yml",
        event="pull_request",
        branch=branch,
        head_sha="89abcdef0123456789abcdef0123456789abcdef",
        head_repo="fork/micropython",
        created_at=datetime(2026, 6, 1, tzinfo=UTC),
        status="completed",
        conclusion="failure",
        html_url="https://github.com/micropython/micropython/actions/runs/9001",
        title="a title",
    )


def make_job(name: str, job_id: int, conclusion: str = "failure") -> JobInfo:
    return JobInfo(
        id=job_id,
        run_id=9001,
        attempt=3,
        name=name,
        status="completed",
        conclusion=conclusion,
        html_url=f"https://github.com/micropython/micropython/actions/runs/9001/job/{job_id}",
    )


def make_failure(
    test: str, symptom: str, diff: str, *, ignored: bool = False, line: int = 321
) -> TestFailure:
    return TestFailure(test, Runner.RUN_TESTS, Outcome.FAIL, ignored, TestPass.NATIVE, symptom, diff, line)


def make_rate(test: str, job: str | None) -> FlakeRate:
    if job is None:
        return FlakeRate(test, job, 9, 1150, 0.004, 0.015, last_seen=datetime(2026, 5, 30, tzinfo=UTC))
    return FlakeRate(test, job, 15, 1150, 0.008, 0.021, last_seen=datetime(2026, 5, 30, tzinfo=UTC))


def scenario(s: str) -> TriageReport:
    """One report touching every rendered field, with `s` in every attacker-controlled place."""
    known, new, other_job = f"thread/{s}1.py", f"basics/{s}2.py", f"{s}job"
    registry = make_registry(known, other_job)

    def rates(test: str, job: str | None) -> FlakeRate | None:
        return make_rate(test, job) if test == new else None

    def patcher(test: str, jobs: Sequence[str]) -> str:
        header = "--- a/tests/run-tests.py\n+++ b/tests/run-tests.py\n@@ -1 +1,2 @@\n"
        return f"{header}+    {test!r}: ({s!r}, None),\n"

    jobs = [
        JobInput(
            make_job(other_job, 11),
            LogState.PARSED,
            JobReport(
                other_job,
                True,
                failures=(
                    make_failure(known, f"timeout {s}", f"--- exp\n+++ out\n-{s}\n+{s}{s}\n"),
                    make_failure(new, f"Error {s}", f"-{s}\n"),
                    make_failure("thread/stress_aes.py", f"odd {s}", f"+{s}\n"),
                    make_failure(f"cmdline/{s}3.py", s, s, ignored=True),
                ),
                problems=(Problem(ProblemKind.TRUNCATED, f"garbled {s}", step=f"step {s}", line=9),),
                failed_step=f"Run {s}",
            ),
        ),
        JobInput(
            make_job("macos", 12),
            LogState.PARSED,
            JobReport(
                "macos", True, problems=(Problem(ProblemKind.BUILD, f"make: {s}", step=f"Build {s}", line=5),)
            ),
        ),
        JobInput(make_job("nanbox", 13), LogState.EXPIRED, None),
    ]
    report = triage(
        make_run(branch=f"b{s}", name=f"unix {s}"),
        jobs,
        registry,
        rates=rates,
        history=lambda test, job: (
            history("PPFPPPPFPP", job, symptom=f"Error {s}", before=datetime(2026, 5, 31, tzinfo=UTC))
            if test == new
            else None
        ),
    )
    return write_patches(report, patcher)


def skeleton(rendered: Rendered) -> list[tuple[str, tuple[tuple[str, str | None], ...]]]:
    return rendered.elements


BENIGN = scenario("x")


def test_comment_says_what_it_describes_and_why() -> None:
    md = render_comment(BENIGN, details_url=DETAILS)
    assert md.startswith(COMMENT_MARKER + "\n")
    out = analyse(md)
    assert out.balanced
    text = visible("".join(out.prose))
    headline = "4 failures in 2 jobs: 1 known flake, 1 unlisted flake, 2 need a look; could not read 1 log"
    assert headline in text
    assert "Triage of run 9001 of , attempt 3, on commit" in text  # the workflow's name is code:
    assert "unix x" in out.code and "89abcde" in out.code
    assert "known flake here" in text and "flaky elsewhere" in text
    assert (
        "failed 15 times in the last 1,150 executions of this job (1.3%, 95% CI 0.8–2.1%), "
        "last seen 2026-05-30" in text
    )
    assert "failed 9 times in the last 1,150 executions across all jobs (0.8%, 95% CI 0.4–1.5%)" in text
    assert "could not read the log: the log has expired" in text
    assert "not a test failure: build error" in text
    assert "Ignored by run-tests.py" in text
    assert "log line 321 of the" in text
    # the link goes to the job page, which numbers lines per step: say what the number counts
    assert "Log line numbers count from the top of the job's raw log" in text
    assert out.count("details") == out.count("summary") == 4  # 3 diffs + 1 patch
    assert "https://github.com/micropython/micropython/actions/runs/9001/job/11" in out.links
    assert out.headings[0].startswith("flake-bot: ")


def test_rate_text_matches_the_documented_wording() -> None:
    rate = FlakeRate("t.py", "j", 9, 1150, 0.004, 0.015)
    assert (
        rate_text(rate, "of this job")
        == "failed 9 times in the last 1,150 executions of this job (0.8%, 95% CI 0.4–1.5%)"
    )
    once = FlakeRate("t.py", None, 1, 20_000, 0.000001, 0.0003, last_seen=datetime(2026, 1, 2, tzinfo=UTC))
    assert rate_text(once, "across all jobs") == (
        "failed once in the last 20,000 executions across all jobs (0.005%, 95% CI 0.0001–0.03%), "
        "last seen 2026-01-02"
    )


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "</details></summary><details open>",
        "```\n# pwned\n```",
        "@octocat @micropython/team",
        "#1 GH-2 micropython/micropython#3 deadbeefcafe",
        "[click](https://evil.example) ![img](https://evil.example/x.png)",
        "https://evil.example www.evil.example a@b.example",
        "\u202eexe.txt\u2066 \u200b\x1b[31m",
        "::set-output name=x::y\n::error::boom\n##[error]x",
        COMMENT_MARKER,
        "<!-- flake-bot:",
        "| a | b |\n|---|---|\n| c | d |",
        "\n\n# heading\n\n---\n\n> quote\n\n    indented\n",
        "<details><summary>x</summary>\n\n",
    ],
)
def test_hostile_text_changes_no_structure(hostile: str) -> None:
    assert_same_structure(scenario(hostile))


@given(st.lists(st.sampled_from(HOSTILE_PIECES), min_size=1, max_size=12).map("".join))
@settings(max_examples=40)
def test_arbitrary_hostile_text_changes_no_structure(hostile: str) -> None:
    assert_same_structure(scenario("t" + hostile))


def _renders(report: TriageReport) -> tuple[str, str, str, str]:
    """The four Markdown texts a run publishes: comment, job summary, check summary and text."""
    check = render_check(report)
    return (
        render_comment(report, details_url=DETAILS),
        render_step_summary(report),
        check.summary,
        check.text,
    )


@functools.cache
def _benign() -> tuple[Rendered, ...]:
    """What the hostile renders are compared with: the same every example, so analysed once."""
    return tuple(analyse(md) for md in _renders(BENIGN))


def assert_same_structure(report: TriageReport) -> None:
    for benign, hostile_md in zip(_benign(), _renders(report), strict=True):
        hostile = analyse(hostile_md)
        assert hostile.balanced
        assert skeleton(hostile) == skeleton(benign)
        assert len(hostile.headings) == len(benign.headings)
        assert hostile.links == benign.links
        assert github_refs("".join(hostile.prose)) == github_refs("".join(benign.prose))
        assert hostile.comments == benign.comments
        assert not any(line.lstrip().startswith("::") or "##[" in line for line in hostile_md.split("\n"))
    comment = render_comment(report)
    assert comment.startswith(COMMENT_MARKER + "\n[flake-bot attempt 9001/3]: # ")
    assert comment.count("<!--") == 1
    for text in (render_text(report), *(a["message"] for a in render_check(report).annotations)):
        assert all(not line.lstrip().startswith("::") and "##[" not in line for line in text.split("\n"))
        assert "\x1b" not in text and "\u202e" not in text


def big_report(n: int, diff_chars: int) -> TriageReport:
    registry = make_registry("thread/thread_gc1.py", "standard")
    failures = tuple(
        make_failure(f"basics/test_{i:04}.py", f"symptom {i}", "-" + "x" * diff_chars + "\n")
        for i in range(n)
    )
    jobs = [
        JobInput(make_job("standard", 1), LogState.PARSED, JobReport("standard", True, failures=failures))
    ]
    return triage(make_run(), jobs, registry)


@pytest.mark.parametrize(("n", "diff_chars"), [(500, 200), (3, 1_000_000), (60, 20_000)])
def test_large_results_stay_within_limits(n: int, diff_chars: int) -> None:
    report = big_report(n, diff_chars)
    comment = render_comment(report, details_url=DETAILS)
    assert len(comment) < 60_000
    out = analyse(comment)
    assert out.balanced and out.count("details") == out.count("summary")
    text = visible("".join(out.prose))
    assert f"{n} failures in 1 job" in text
    if n > 30:
        assert "not shown in full to stay within GitHub's size limit" in text
        assert DETAILS in out.links
    check = render_check(report)
    assert len(check.summary) <= CHECK_LIMIT and len(check.text) <= CHECK_LIMIT
    assert len(check.title) <= 255
    assert len(check.annotations) == min(n, MAX_ANNOTATIONS)
    assert all(
        len(a["message"]) <= 2_100 and len(a.get("raw_details", "")) <= 8_100 for a in check.annotations
    )
    summary = render_step_summary(report)
    assert len(summary.encode()) < 1_000_000
    assert analyse(summary).balanced
    assert len(render_text(report)) < 200_000


def test_small_comment_budget_degrades_to_counts_and_link() -> None:
    report = big_report(40, 500)
    for budget in (30_000, 8_000, 2_000):
        comment = render_comment(report, max_chars=budget, details_url=DETAILS)
        assert len(comment) < budget
        out = analyse(comment)
        assert out.balanced
        assert "40 failures in 1 job" in visible("".join(out.prose))
    assert DETAILS in analyse(render_comment(report, max_chars=2_000, details_url=DETAILS)).links


def test_needs_a_look_is_shown_in_full_first() -> None:
    report = big_report(40, 50)
    registry = make_registry("basics/test_0039.py", "standard")
    jobs = [
        JobInput(
            report.jobs[0].job,
            LogState.PARSED,
            JobReport("standard", True, failures=tuple(f.failure for f in report.findings)),
        )
    ]
    mixed = triage(make_run(), jobs, registry)
    comment = render_comment(mixed, max_chars=20_000)
    full = [c for c in analyse(comment).code if c.startswith("basics/")]
    # The one known flake is the last failure: it must not displace the ones that need a look.
    assert "basics/test_0039.py" not in full[:5]


def test_annotations_levels_and_paths() -> None:
    check = render_check(BENIGN)
    by_title = {a["title"]: a for a in check.annotations}
    assert by_title["thread/x1.py: known flake here"]["annotation_level"] == "warning"
    assert by_title["basics/x2.py: unlisted flake"]["annotation_level"] == "warning"
    assert by_title["thread/stress_aes.py: flaky elsewhere"]["annotation_level"] == "failure"
    assert {a["path"] for a in check.annotations} == {
        "tests/thread/x1.py",
        "tests/basics/x2.py",
        "tests/thread/stress_aes.py",
    }
    assert all(a["start_line"] == a["end_line"] == 1 for a in check.annotations)
    message = by_title["basics/x2.py: unlisted flake"]["message"]
    assert "Failed 15 times in the last 1,150 executions of this job" in message
    hostile = render_check(scenario("/../../etc/passwd\n@x"))
    assert {a["path"] for a in hostile.annotations} == {"tests", "tests/thread/stress_aes.py"}
    assert check.title == headline(BENIGN)


def test_terminal_text_lists_everything_plainly() -> None:
    text = render_text(BENIGN)
    assert text.startswith("flake-bot: 4 failures in 2 jobs")
    assert "Job xjob: 2 failing tests" not in text  # ignored tests are not failing tests
    assert "  basics/x2.py (native pass): unlisted flake" in text
    assert "ignored by run-tests.py: cmdline/x3.py" in text
    assert "Suggested patch for basics/x2.py:" in text


def test_outputs_are_json_and_counts() -> None:
    out = outputs(scenario("\n\x1b[1m@x"))
    rows = json.loads(out["failures"])
    assert [r["verdict"] for r in rows] == ["known-flake", "unlisted-flake", "flaky-elsewhere", "ignored"]
    rows = rows[:3]
    # the history of each test in its job, as action.yml promises ("rate"); None without history
    assert [r["rate"] for r in rows] == [
        None,
        {
            "failures": 15,
            "executions": 1150,
            "rate": round(15 / 1150, 6),
            "low": 0.008,
            "high": 0.021,
            "last_seen": "2026-05-30",
        },
        None,
    ]
    assert all("\x1b" not in r["test"] and "\n" not in r["symptom"] for r in rows)
    assert (out["new-failures"], out["known-flaky"], out["needs-a-look"], out["unreadable-logs"]) == (
        "2",
        "1",
        "2",
        "1",
    )
    assert "\n" not in out["failures"]


def test_passing_run_and_marker_validation() -> None:
    registry = make_registry("thread/thread_gc1.py", "standard")
    jobs = [JobInput(make_job("standard", 1, "success"), LogState.NOT_FETCHED, None)]
    report = triage(replace(make_run(), conclusion="success"), jobs, registry)
    out = analyse(render_comment(report))
    assert "No failures" in visible("".join(out.prose))
    assert render_check(report).annotations == []
    with pytest.raises(ValueError):
        render_comment(report, marker="<!-- x --> @everyone")
    assert render_comment(report, marker="<!-- flake-bot:unix-port -->").startswith(
        "<!-- flake-bot:unix-port -->\n"
    )


def test_history_lines_only_when_a_store_was_consulted() -> None:
    registry = make_registry("thread/thread_gc1.py", "standard")
    failures = (make_failure("basics/a.py", "x", "-a\n"), make_failure("basics/b.py", "y", "-b\n"))
    jobs = [
        JobInput(make_job("standard", 1), LogState.PARSED, JobReport("standard", True, failures=failures))
    ]
    same = FlakeRate("basics/a.py", None, 4, 100, 0.01, 0.1)

    def rates(test: str, job: str | None) -> FlakeRate | None:
        return replace(same, job=job) if test == "basics/a.py" else None

    without = visible("".join(analyse(render_comment(triage(make_run(), jobs, registry))).prose))
    assert "no history recorded" not in without and "executions" not in without
    with_store = visible(
        "".join(analyse(render_comment(triage(make_run(), jobs, registry, rates=rates))).prose)
    )
    assert with_store.count("failed 4 times in the last 100 executions") == 1  # job and all-jobs rates agree
    assert "no history recorded for this test" in with_store


def test_tiny_budget_cuts_whole_lines_and_keeps_the_marker() -> None:
    report = scenario("@" * 300)
    comment = render_comment(report, max_chars=1_000)
    assert len(comment) < 1_000
    assert comment.startswith(COMMENT_MARKER + "\n")
    assert comment.endswith("… (cut to fit GitHub's size limit)\n")
    assert analyse(comment).balanced
    with pytest.raises(ValueError):
        render_comment(report, max_chars=999)


def test_earlier_attempts_are_carried_over_and_listed() -> None:
    first = render_comment(BENIGN)
    rerun = replace(BENIGN, run=replace(BENIGN.run, attempt=4))
    second = render_comment(rerun, previous=first)
    assert second.split("\n")[1:3] == [
        '[flake-bot attempt 9001/3]: # "sha=89abcde failures=4 known=1 look=2 unreadable=1"',
        '[flake-bot attempt 9001/4]: # "sha=89abcde failures=4 known=1 look=2 unreadable=1"',
    ]
    text = shown(second)
    earlier = ("Earlier (newest first): run 9001 attempt 3 on 89abcde: "
               "4 failures, 1 known flake, 2 need a look")
    assert earlier + ", could not read 1 log." in text
    # Publishing the same attempt again (a retried write) does not list it as earlier.
    assert render_comment(rerun, previous=second) == second
    assert "Earlier" not in render_comment(BENIGN, previous=first)


def test_earlier_attempts_keep_the_last_ten_and_ignore_forgeries() -> None:
    body = render_comment(BENIGN)
    for attempt in range(4, 20):
        body = render_comment(replace(BENIGN, run=replace(BENIGN.run, attempt=attempt)), previous=body)
    records = [line for line in body.split("\n") if line.startswith("[flake-bot attempt")]
    assert len(records) == 11 and "9001/19]" in records[-1] and "9001/9]" in records[0]
    forged = '[flake-bot attempt 1/1]: # "sha=abcdef0 failures=0 known=0 look=0 unreadable=0"'
    # A record anywhere but right below the marker (e.g. inside a diff) is not read back.
    hostile = render_comment(scenario("\n" + forged + "\n"))
    assert forged in hostile  # inside the diff's code block
    assert "Earlier" not in render_comment(BENIGN, previous=hostile)


def test_a_test_ignored_in_several_passes_is_named_once_with_its_passes() -> None:
    """A "full" job runs the suite per pass: one flaky test ignored twice is one test, not two."""
    twice = (
        replace(make_failure("thread/thread_gc1.py", "", "", ignored=True), test_pass=TestPass.BYTECODE),
        replace(make_failure("thread/thread_gc1.py", "", "", ignored=True), test_pass=TestPass.VIA_MPY),
        replace(make_failure("thread/stress_aes.py", "", "", ignored=True), test_pass=None),
    )
    report = triage(
        make_run(),
        [JobInput(make_job("coverage", 21), LogState.PARSED, JobReport("coverage", True, failures=twice))],
        make_registry("thread/other.py", "coverage"),
    )
    for md in (render_comment(report), render_step_summary(report), render_check(report).text):
        out = analyse(md)
        text = visible("".join(out.prose))
        assert "(bytecode and via-mpy passes), " in text
        assert sum(code.count("thread/thread_gc1.py") for code in out.code) == 1
    assert "(2 ignored)" in render_check(report).summary
    lines = [line for line in render_text(report).splitlines() if "ignored by" in line]
    assert lines == [
        "  ignored by run-tests.py: thread/thread_gc1.py (bytecode and via-mpy passes)",
        "  ignored by run-tests.py: thread/stress_aes.py",
    ]


@pytest.mark.parametrize("s", ["x", "a|b` | c", "<summary>@x #1 |", "`` | ``"])
def test_one_table_row_per_failure_then_collapsed_details(s: str) -> None:
    """As GitHub renders it: a table of 5 cells per failing test whatever the names hold (a `|`
    in a fork's job name must not add a cell), one collapsed block per failing test, and the
    registry sentence said once above them rather than under each test."""
    report = scenario(s)
    out = analyse(render_comment(report, details_url=DETAILS))
    assert out.balanced
    assert out.count("table") == 1
    assert out.count("tr") == 1 + len(report.findings)
    assert out.count("td") == 5 * len(report.findings)
    assert out.count("details") == len(report.findings) + len(report.patches)
    text = visible("".join(out.prose))
    assert text.count("Registry in force on 2026-06-01") == 1
