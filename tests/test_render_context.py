"""Numbers and text as readers see them (issue 21): each value escaped for the context it lands in,
checked by rendering with cmarkgfm (GitHub's engine) and reading the visible text.

An HTML block such as `<summary>` is not Markdown, so a backslash escape shows there; a zero-width
space inside a run number is copied with it; "0.0%" for a rate that is not zero reads as "never".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.gfm import analyse, shown

from bot.cli import main
from bot.findings import JobInput
from bot.parse import parse_job_log
from bot.records import JobInfo, JobReport, LogState, Outcome, RunInfo, Runner, TestFailure
from bot.registry import load_registry
from bot.render import render_comment, render_step_summary
from bot.render.environment import MARKDOWN, percent
from bot.render.report import TOP_JOBS, render_report
from bot.render.sanitize import ZWSP
from bot.report import build_report
from bot.store.sqlite import HistoryStore, Window
from bot.triage import triage

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "logs"
RUN_ID = 19000002252
URL = f"https://github.com/micropython/micropython/actions/runs/{RUN_ID}"


def comment_for(log: str) -> list[str]:
    report = parse_job_log([(EXAMPLES / log).read_bytes()])
    run = RunInfo(id=RUN_ID, attempt=1, workflow_name="unix port",
                  workflow_path=".github/workflows/ports_unix.yml", event="pull_request", branch="fix-x",
                  head_sha="0123456789abcdef0123456789abcdef01234567", head_repo="someone/micropython",
                  created_at=datetime(2026, 3, 12, tzinfo=UTC), status="completed", conclusion="failure",
                  html_url=URL)
    job = JobInfo(id=5, run_id=RUN_ID, attempt=1, name=report.job or "?", status="completed",
                  conclusion="failure", html_url=f"{URL}/job/5")
    judged = triage(run, [JobInput(job, LogState.PARSED, report)], load_registry(None))
    return [render_comment(judged), render_step_summary(judged)]


def test_the_pass_in_a_summary_element_reads_as_written() -> None:
    """`<summary>` holds HTML text: "(via-mpy pass)", not "(via\\-mpy pass)"."""
    for markdown in comment_for("coverage-flaky-and-real-failure.log"):
        assert "extmod/json_dumps_float.py (via-mpy pass) in coverage" in shown(markdown)


def test_a_run_number_carries_no_invisible_character() -> None:
    for markdown in comment_for("coverage-flaky-and-real-failure.log"):
        assert f"run {RUN_ID}" in shown(markdown)


@pytest.mark.parametrize("log", sorted(p.name for p in EXAMPLES.glob("*.log")))
def test_visible_text_has_no_stray_escapes_or_invisible_characters(log: str) -> None:
    """Outside code blocks (where a diff's own backslashes belong) a reader sees no backslash,
    and no zero-width space next to a digit, in anything flake-bot writes for the bundled logs."""
    for markdown in comment_for(log):
        rendered = analyse(markdown)
        prose = "".join(rendered.prose)
        assert "\\" not in prose
        assert not re.search(f"\\d{ZWSP}|{ZWSP}\\d", "".join(rendered.text))


def test_dashboard_patch_note_is_shown_verbatim_not_backslash_escaped() -> None:
    note = "unknown job 'coverage'; .github/workflows/ports_unix.yml has: macos, standard"
    markdown = MARKDOWN.get_template("_dashboard_controls.md.j2").render(
        key="k", prs={}, patches={}, patch_notes={"k": note}, with_patches=lambda key: True,
        box=lambda *a: "", pr_mode=False,
    )
    assert f"No patch: {note}." in shown(markdown)
    # a code span: the Markdown source reads as written too, not "job \\'coverage\\'\\;"
    assert note in markdown


@pytest.mark.parametrize(("share", "digits", "text"), [
    (0.2512, 1, "25.1%"),
    (0.0, 1, "0.0%"),
    (0.001, 1, "0.1%"),
    (0.00035, 1, "0.035%"),
    (0.0000423, 1, "0.0042%"),
    (0.0000423, 2, "0.0042%"),
    (0.00012, 2, "0.01%"),
    (0.0001, 2, "0.01%"),
    (1e-12, 1, "< 0.000001%"),
])
def test_small_rates_keep_their_digits(share: float, digits: int, text: str) -> None:
    assert percent(share, digits) == text


def _many_jobs_history(db: Path) -> None:
    """500 runs of twelve jobs: basics/x.py failed twice in each job, basics/rare.py once in job00."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with HistoryStore(db) as store:
        for n in range(500):
            failing = {f"job{k:02}" for k in range(12) if n in (7, k * 10)}
            run = RunInfo(id=n + 1, attempt=1, workflow_name="unix port",
                          workflow_path=".github/workflows/ports_unix.yml", event="push", branch="master",
                          head_sha=f"{n:040x}", head_repo=None, created_at=start + timedelta(hours=n),
                          status="completed", conclusion="failure" if failing else "success")
            jobs, logs = [], {}
            for k in range(12):
                name = f"job{k:02}"
                job = JobInfo(id=(n + 1) * 100 + k, run_id=n + 1, attempt=1, name=name, status="completed",
                              conclusion="failure" if name in failing else "success", runner="ubuntu-latest")
                jobs.append(job)
                if name in failing:
                    tests = ["basics/x.py"] + (["basics/rare.py"] if n == 7 and k == 0 else [])
                    logs[job.id] = JobReport(job=name, complete=True, failures=tuple(
                        TestFailure(t, Runner.RUN_TESTS, Outcome.FAIL) for t in tests))
            store.save_run(run, jobs, logs)


def test_report_per_job_cell_is_compact_and_small_rates_are_not_zero(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    _many_jobs_history(db)
    with HistoryStore(db) as store:
        report = build_report(store, Window(), now=datetime(2026, 2, 1, tzinfo=UTC))
    rows = {shown(cells[0].strip("| ")).strip(): cells for cells in
            (line.split(" | ") for line in render_report(report).splitlines()) if len(cells) == 9}
    cell = shown(rows["basics/x.py"][6])
    assert cell.count("/500 = ") == TOP_JOBS and cell.strip().endswith(f", +{12 - TOP_JOBS} more")
    rare = shown(rows["basics/rare.py"][6])
    assert "0.0%" not in rare and re.search(r"1/500 = 0\.2% \(0\.0\d+%–", rare), rare


def test_parse_log_diff_shows_tabs_as_spaces(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse-log", str(EXAMPLES / "coverage-flaky-and-real-failure.log"), "--diff"]) == 0
    out = capsys.readouterr().out
    assert "\\x09" not in out and "\t" not in out
    assert "extmod_json_dumps_float.py.exp      2026-03-12" in out


def test_a_binary_registry_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = tmp_path / "registry.yml"
    registry.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(56) + b"\xd0\xff")
    assert main(["match", "--registry", str(registry), "--job", "coverage", "--test", "x.py"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.endswith("cannot read registry: it is binary data, not a YAML registry")
    assert "codec" not in line


def test_dashboard_reads_as_meant_in_its_source_and_rendered(tmp_path: Path) -> None:
    """The dashboard is read as an issue body, also in its Markdown source: flake-bot's own
    sentences (a look item's detail) are not backslash-escaped there, and the rendered page has
    no stray backslash outside code and no invisible character next to a digit."""
    from helpers.dashboard import NOW, seed

    from bot.dashboard import build, core
    from bot.dashboard.render import render_body
    from bot.patch_rules import PatchPolicy

    with HistoryStore(tmp_path / "h.sqlite") as store:
        seed(store)
        board = build.build(store, load_registry(None), workflow="unix port", branch="master", days=90,
                            now=NOW, add_policy=PatchPolicy(), retire_policy=core.RetirePolicy())
    body = render_body(build.Board((board,)), prs={}, pr_mode=False)
    details = [item.detail for item in board.selection.look]
    assert details and all(f": {detail}" in body for detail in details)
    rendered = analyse(body)
    assert "\\" not in "".join(rendered.prose)
    assert not re.search(f"\\d{ZWSP}|{ZWSP}\\d", "".join(rendered.text))
