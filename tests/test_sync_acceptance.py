"""Acceptance: a fake GitHub holding the reference report's history, synced and reported for real.

The reference analysis (figures in `tests/data/reference-figures.yaml`) counted 575
master push runs of the unix workflow, 103 of them failed. `seed_reference_history` builds runs
and jobs with exactly its monthly counts, per-job failure counts and failed-jobs-per-run
histogram, serves them from the fake GitHub server (failed jobs older than 2026-01-05 have
expired logs, newer ones have real-format logs naming a flaky test), and the test runs the real
`flake-bot sync` and `flake-bot report` commands against it over HTTP.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import cmarkgfm
import pytest
import yaml
from fake_github import FakeGitHub
from logfmt import Step, job_log

from bot.cli import main
from bot.render.environment import percent
from bot.render.report import TOP_JOBS

FIGURES = Path(__file__).resolve().parent / "data" / "reference-figures.yaml"

# The reference report's figures, in this project's words (checked against the figures file below).
MONTHLY = {
    "2024-12": (10, 3), "2025-01": (32, 5), "2025-02": (41, 8), "2025-03": (37, 3), "2025-04": (40, 4),
    "2025-05": (50, 7), "2025-06": (48, 5), "2025-07": (55, 15), "2025-08": (48, 15), "2025-09": (46, 2),
    "2025-10": (49, 8), "2025-11": (37, 8), "2025-12": (28, 5), "2026-01": (32, 8), "2026-02": (22, 7),
}  # fmt: skip
UBUNTU = "ubuntu-latest"
JOB_FAILURES = {
    "settrace_stackless": (25, UBUNTU), "macos": (25, "macos-26"), "qemu_mips": (11, UBUNTU),
    "qemu_arm": (9, UBUNTU), "qemu_riscv64": (8, UBUNTU), "standard_v2": (8, UBUNTU),
    "settrace": (7, UBUNTU), "coverage": (7, UBUNTU), "sanitize_undefined": (6, UBUNTU),
    "float": (5, UBUNTU), "standard": (4, UBUNTU), "coverage_32bit": (3, UBUNTU),
    "nanbox": (2, UBUNTU), "float_clang": (2, UBUNTU), "longlong": (2, UBUNTU),
    "minimal": (0, UBUNTU), "reproducible": (0, UBUNTU), "gil_enabled": (0, UBUNTU),
    "stackless_clang": (0, UBUNTU), "repr_b": (0, UBUNTU), "sanitize_address": (0, UBUNTU),
}  # fmt: skip
HISTOGRAM = {1: 90, 2: 9, 3: 2, 5: 2}
FIRST_DAY, LAST_DAY = date(2024, 12, 19), date(2026, 2, 12)
LOGS_KEPT_FROM = datetime(2026, 1, 5, tzinfo=UTC)  # GitHub's retention: older logs answer 410

# Which flaky test a readable failed log of each job shows (the reference report's observations).
FLAKE_OF_JOB = {
    "qemu_arm": ("thread/stress_aes.py", "done", "TIMEOUT"),
    "qemu_riscv64": ("thread/stress_aes.py", "done", "TIMEOUT"),
    "qemu_mips": ("thread/stress_aes.py", "done", "TIMEOUT"),
    "macos": ("cmdline/repl_cont.py", ">>> '\\''", '>>> "\'"'),
    "float": ("extmod/time_time_ns.py", "True", "False"),
    "longlong": ("extmod/time_time_ns.py", "True", "False"),
    "float_clang": ("extmod/time_time_ns.py", "True", "False"),
}
DEFAULT_FLAKE = ("thread/thread_gc1.py", "True", "False")


def run_tests_output(test: str, expected: str, got: str, *, ignored: str | None = None) -> tuple[str, str]:
    """Output of run-tests.py (v1.26+ summary) for one failing test, and of --print-failures."""
    stem = test.replace("/", "_")
    results = "/home/runner/work/micropython/micropython/tests/results"
    lines = ["platform=linux arch=x64", "pass  basics/0prelim.py ", "pass  basics/andor.py "]
    if ignored:
        lines.append(f"FAIL  {ignored} ")
    if test:
        lines.append(f"FAIL  {test} ")
    lines.append("pass  thread/thread_start1.py ")
    failed = 1 if test else 0
    performed = 4 + failed + (1 if ignored else 0)
    lines += [
        f"{performed} tests performed (88 individual testcases)",
        f"{4 + (1 if ignored else 0)} tests passed",
    ]
    if ignored:
        lines.append(f"1 tests had known-flaky failures (ignored): {ignored} [flaky: GC race condition]")
    if test:
        lines.append(f"{failed} tests failed: {test}")
        lines.append("make: *** [Makefile:258: test] Error 1")
    printed = ""
    if test:
        printed = "\n".join([
            f"--- {results}/{stem}.exp\t2026-01-13 10:22:33.000000000 +0000",
            f"+++ {results}/{stem}.out\t2026-01-13 10:22:33.000000000 +0000",
            "@@ -1 +1 @@",
            f"-{expected}",
            f"+{got}",
            f"FAILURE {results}/{stem}",
        ]) + "\n"  # fmt: skip
    return "\n".join(lines) + "\n", printed


def failed_job_log(job: str, when: datetime) -> bytes:
    test, expected, got = FLAKE_OF_JOB.get(job, DEFAULT_FLAKE)
    output, printed = run_tests_output(test, expected, got)
    return job_log(
        [
            Step(f"tools/ci.sh unix_{job}_build", "make: Entering directory 'ports/unix'\n", name="Build"),
            Step(f"tools/ci.sh unix_{job}_run_tests", output, exit_code=2, name="Run main test suite"),
            Step("tests/run-tests.py --print-failures", printed, name="Print failures"),
        ],
        job=job,
        start=when + timedelta(minutes=3),
    )


def green_job_log(job: str, when: datetime, ignored: str | None = None) -> bytes:
    output, _ = run_tests_output("", "", "", ignored=ignored)
    return job_log(
        [
            Step(f"tools/ci.sh unix_{job}_build", "make: Entering directory 'ports/unix'\n", name="Build"),
            Step(f"tools/ci.sh unix_{job}_run_tests", output, name="Run main test suite"),
        ],
        job=job,
        start=when + timedelta(minutes=3),
    )


@dataclass
class SeededHistory:
    """Ground truth of what was served, for the assertions."""

    runs: list[tuple[int, datetime, list[str]]] = field(default_factory=list)  # (id, created, failed jobs)
    expired: int = 0
    parsed: int = 0
    flakes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (test, job) seen in readable logs

    @property
    def failed_runs(self) -> int:
        return sum(1 for _, _, failed in self.runs if failed)


def _text(cell: str) -> str:
    return re.sub(r"<[^>]+>", "", cell).strip()


def _run_times(month: str, count: int) -> list[datetime]:
    year, mon = map(int, month.split("-"))
    start = date(year, mon, 1)
    end = date(year + (mon == 12), mon % 12 + 1, 1)
    start, end = max(start, FIRST_DAY), min(end, LAST_DAY + timedelta(days=1))
    span = (end - start).total_seconds()
    base = datetime(start.year, start.month, start.day, tzinfo=UTC)
    return [base + timedelta(seconds=span * (i + 0.5) / count) for i in range(count)]


def _failed_job_sets(rng: random.Random) -> list[list[str]]:
    """Distinct jobs for each failed run so that per-job totals and the histogram both hold:
    bigger runs first, each taking the jobs with the most failures left (ties broken at random)."""
    left = {job: n for job, (n, _) in JOB_FAILURES.items() if n}
    sizes = sorted((k for k, n in HISTOGRAM.items() for _ in range(n)), reverse=True)
    sets = []
    for size in sizes:
        ranked = sorted(left, key=lambda j: (-left[j], rng.random()))
        chosen = ranked[:size]
        for job in chosen:
            left[job] -= 1
            if not left[job]:
                del left[job]
        sets.append(chosen)
    assert not left
    rng.shuffle(sets)
    return sets


def seed_reference_history(fake: FakeGitHub, *, seed: int = 2026, green_logs: bool = False) -> SeededHistory:
    rng = random.Random(seed)
    truth = SeededHistory()
    failed_sets = iter(_failed_job_sets(rng))
    for month, (count, failures) in MONTHLY.items():
        times = _run_times(month, count)
        failing = set(rng.sample(range(count), failures))
        for i, when in enumerate(times):
            failed_jobs = next(failed_sets) if i in failing else []
            run = fake.add_run(
                conclusion="failure" if failed_jobs else "success", created_at=when, branch="master"
            )
            for job, (_, runner) in JOB_FAILURES.items():
                if job in failed_jobs:
                    if when < LOGS_KEPT_FROM:
                        log: bytes | str = "expired"
                        truth.expired += 1
                    else:
                        log = failed_job_log(job, when)
                        truth.parsed += 1
                        truth.flakes[(FLAKE_OF_JOB.get(job, DEFAULT_FLAKE)[0], job)] += 1
                    fake.new_job(run["id"], job, "failure", log=log, runner=runner)
                else:
                    log = "missing"
                    if green_logs:
                        log = green_job_log(job, when) if when >= LOGS_KEPT_FROM else "expired"
                    fake.new_job(run["id"], job, "success", log=log, runner=runner)
            truth.runs.append((run["id"], when, failed_jobs))
    assert next(failed_sets, None) is None
    return truth


def test_constants_are_the_reference_figures() -> None:
    seed = yaml.safe_load(FIGURES.read_text())
    assert {str(k): tuple(v) for k, v in seed["monthly"].items()} == MONTHLY
    assert {k: (v[0], v[1]) for k, v in seed["job_failures"].items()} == JOB_FAILURES
    assert seed["failed_jobs_per_run_histogram"] == HISTOGRAM
    assert (seed["runs"], seed["failed_runs"]) == (575, 103)


def _sync(
    fake: FakeGitHub, db: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, int]:
    before = len(fake.requests)
    code = main(["sync", "--repo", fake.repo, "--workflow", "ports_unix.yml", "--branch", "master",
                 "--event", "push", "--db", str(db), *extra])  # fmt: skip
    line = capsys.readouterr().err.strip().splitlines()[-1]
    return code, line, len(fake.requests) - before


@pytest.fixture
def github_env(fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> FakeGitHub:
    monkeypatch.setenv("GITHUB_API_URL", fake_github.api_url)
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_acceptance")
    return fake_github


def test_reference_history_is_reproduced_through_sync_and_report(
    github_env: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = github_env
    truth = seed_reference_history(fake)
    assert (len(truth.runs), truth.failed_runs) == (575, 103)
    db = tmp_path / "history.sqlite"

    code, line, used = _sync(fake, db, capsys)
    assert code == 0, line
    # 6 pages of runs, the jobs of each failed run, one 410 per expired log, API + blob per readable log
    assert used == 6 + 103 + truth.expired + 2 * truth.parsed
    assert used < 800
    assert f"{used} requests used" in line
    assert (
        f"575 runs added, {575 * 21} jobs, {truth.parsed} logs parsed, {truth.expired} logs expired" in line
    )
    assert len(fake.requests_to("GET", r"/actions/runs/\d+/jobs$")) == 103  # green runs cost nothing

    code, line, used = _sync(fake, db, capsys)
    assert code == 0
    assert used == 1
    assert line.startswith("sync: 0 runs added")

    out = tmp_path / "report.json"
    assert main(["report", "--db", str(db), "--format", "json", "--output", str(out)]) == 0
    data = json.loads(out.read_text())
    assert (data["runs"]["total"], data["runs"]["failed"]) == (575, 103)
    assert round(100 * data["runs"]["rate"], 1) == 17.9
    assert {int(k): v for k, v in data["failed_jobs_per_failed_run"].items()} == HISTOGRAM
    assert {m["month"]: (m["runs"], m["failed"]) for m in data["monthly"]} == MONTHLY
    assert round(100 * data["independence"]["predicted_pass"], 1) == 80.4
    assert round(100 * data["independence"]["observed_pass"], 1) == 82.1
    jobs = {j["job"]: j for j in data["jobs"]}
    assert {name: (j["failures"], j["executions"], j["runner"]) for name, j in jobs.items()} == {
        name: (n, 575, runner) for name, (n, runner) in JOB_FAILURES.items()
    }
    assert round(100 * jobs["settrace_stackless"]["rate"], 1) == 4.3
    assert round(100 * jobs["qemu_mips"]["rate"], 1) == 1.9
    assert data["window"]["first_run"].startswith("2024-12-19")
    # test level: what the readable logs held, per job
    seen = Counter({(t["test"], j["job"]): j["events"] for t in data["tests"] for j in t["jobs"]})
    assert seen == truth.flakes
    unread = sum(j["unread_failures"] for j in data["jobs"])
    assert unread == truth.expired
    estimated = sum(c["observed"] + c["estimated"] for c in data["attribution"]["causes"])
    assert estimated + sum(data["attribution"]["unattributed"].values()) == pytest.approx(124)
    # The reference report's attribution, where this history holds its evidence: a job with no
    # readable log of its own borrows only from jobs of the same runner OS that run the tests the
    # same way (its QEMU jobs share ubuntu-latest with the native ones, but a native job is never
    # blamed for their emulation timeout).
    causes = {c["test"]: c for c in data["attribution"]["causes"]}
    blamed = {test: {j["job"] for j in c["jobs"]} for test, c in causes.items()}
    aes, repl = causes["thread/stress_aes.py"], causes["cmdline/repl_cont.py"]
    gc1 = causes["thread/thread_gc1.py"]
    assert blamed["thread/stress_aes.py"] == {"qemu_mips", "qemu_arm", "qemu_riscv64"}
    assert (aes["observed"] + aes["estimated"], aes["opportunities"]) == (pytest.approx(28), 3 * 575)
    assert blamed["cmdline/repl_cont.py"] == {"macos"}
    assert (repl["observed"] + repl["estimated"], repl["opportunities"]) == (pytest.approx(25), 575)
    # its 8 full-suite jobs, plus longlong: the reference saw time_time_ns.py in longlong's logs,
    # which this history's readable window does not hold, so longlong's 2 go by its peers
    assert blamed["thread/thread_gc1.py"] == {
        "settrace_stackless", "standard_v2", "coverage", "settrace", "sanitize_undefined", "standard",
        "coverage_32bit", "nanbox", "longlong",
    }  # fmt: skip
    assert gc1["observed"] + gc1["estimated"] == pytest.approx(62 + 2)
    # float and float_clang run the basic suite; no job of that kind left a readable failed log,
    # so nothing is guessed for them (the reference blamed float on time_time_ns.py from logs
    # this history does not have)
    assert data["attribution"]["unattributed"] == {"float": 5, "float_clang": 2}

    md_out = tmp_path / "report.md"
    assert main(["report", "--db", str(db), "--output", str(md_out)]) == 0
    markdown = md_out.read_text()
    assert "**103 of 575 runs failed: 17.9%**" in markdown
    assert "**80.4%**" in markdown and "**82.1%**" in markdown
    html = cmarkgfm.github_flavored_markdown_to_html(markdown)
    cells = [re.sub(r"<[^>]+>", "", row) for row in re.findall(r"<tr>(.*?)</tr>", html, re.S)]
    # cell text without markup (names are <code> spans)
    rows = {tuple(_text(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, re.S))
            for r in re.findall(r"<tr>(.*?)</tr>", html, re.S)}  # fmt: skip
    assert cells
    for month, (runs, failed) in MONTHLY.items():
        assert (month, str(runs), str(failed), f"{100 * failed / runs:.1f}%") in rows
    assert ("1", "90") in rows and ("5", "2") in rows
    settrace = next(r for r in rows if r and r[0] == "settrace_stackless")
    assert settrace[1:4] == ("25", "575", "4.3%") and settrace[-1] == "ubuntu-latest"
    assert next(r for r in rows if r and r[0] == "macos")[-1] == "macos-26"
    assert markdown.count("xychart-beta") == 2
    qemu_logs = sum(n for (_test, job), n in truth.flakes.items() if job.startswith("qemu_"))
    assert ("linux, under QEMU emulation", "qemu_arm, qemu_mips, qemu_riscv64", str(qemu_logs)) in rows
    aes_row = next(r for r in rows if r and r[0] == "thread/stress_aes.py" and len(r) == 6)
    assert "similar jobs" not in aes_row[5] and "coverage" not in aes_row[5]
    # the per-test table carries the JSON's numbers, per job with its Wilson interval
    for t in data["tests"]:
        row = next(r for r in rows if r and r[0] == t["test"] and len(r) == 9)
        assert row[1:3] == (str(t["events"]), str(t["executions"]))
        for j in t["jobs"][:TOP_JOBS]:  # the most events first; the rest as "+N more"
            rate, low, high = (percent(j[k]) for k in ("rate", "low", "high"))
            assert f"{j['job']} {j['events']}/{j['executions']} = {rate} ({low}–{high})" in row[6]
        more = len(t["jobs"]) - TOP_JOBS
        assert row[6].endswith(f", +{more} more") if more > 0 else "more" not in row[6]
