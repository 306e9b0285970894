"""Benchmark the verdicts: can flake-bot tell unlisted flakes from regressions? (not run by CI)

Part 1 simulates a history of the "unix port" workflow on the local fake GitHub: several hundred
`master` pushes of the 24 real jobs (from bot/data/micropython.yml), unlisted flaky tests at
0.5-3% per execution in their jobs, regressions starting at known commits (one job, several
jobs at once, one fixed after a dozen pushes, one a flaky test that starts failing every run in
a new way), re-runs of failed jobs, pull requests branched from master, and failed logs expired
for the oldest runs. The store is filled once with `flake-bot sync`; then every failed push and
pull request after the warm-up is triaged through the real action path (`flake-bot triage` on
a workflow_run event, history configured), and every failing test's verdict is compared with
the truth the simulation knows. It prints the confusion table, regressions given a reassuring
verdict or a patch (must be 0), flakes with evidence told apart from first failures, and the
requests and wall time per triage.

The seed part (`--part seed`, `seed_history.py`) serves a history shaped like the seed report
(575 master pushes, its per-job failure counts, the six flaky tests' 23 failures on their days
and jobs, logs expired before the last 90 days), triages every failed push with a log in order,
and prints how many failing tests are told re-run next to the ideal (every failure but a test's
first anywhere, unless it was listed as flaky for some job that day), and how many genuine first
failures were reassured (must be 0).

Part 2 measures the evidence lookup alone on a 100,000-run store (built as bench_report.py
builds it): the time `HistoryStore.test_history` + `bot.evidence.assess` add to a triage with
five failing tests, cold (a fresh connection) and warm, and with the other jobs read too.

Part 3 (issue 23) measures the newly-flaky detector alone on simulated outcome sequences: after
how many failures a rise to 5%, 10% or 25% is detected, whether a patch would have been offered
first, and how often a steady 1-3% flake is misread as newly flaky.

    python bench/bench_verdicts.py [--part all|simulated|seed|store|detector] [--pushes 400]
                                   [--seed 3] [--store-runs 100000] [--detector-trials 300]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import json  # noqa: E402

from fake_github import FakeGitHub, FakeServer  # noqa: E402
from helpers.runner import runner_outputs  # noqa: E402
from logfmt import Step, job_log  # noqa: E402

from bot.cli import main  # noqa: E402
from bot.registry import Listing, load_registry  # noqa: E402

TOKEN = "ghs_bench"  # noqa: S105 - the fake server checks it; not a secret
REGISTRY = load_registry(None)
JOBS = list(REGISTRY.jobs)
START = datetime(2026, 4, 1, tzinfo=UTC)
REASSURING = {"known-flake", "proven-flaky", "unlisted-flake", "flaky-in-other-jobs"}

SPREAD_JOBS = ("standard", "coverage", "settrace_stackless", "nanbox")
# (test, job, rate): unlisted flaky tests, each failing its own way
FLAKES = [
    ("extmod/select_poll_eintr.py", "standard", 0.03),
    ("misc/sys_settrace_cov.py", "settrace_stackless", 0.025),
    ("extmod/asyncio_event_fair.py", "macos", 0.02),
    ("thread/thread_lock5.py", "qemu_arm", 0.02),
    ("extmod/socket_udp_nonblock.py", "coverage", 0.015),
    ("micropython/schedule.py", "qemu_riscv64", 0.01),
    ("basics/gc_collect_pressure.py", "nanbox", 0.01),
    ("extmod/time_res.py", "float", 0.008),
    ("thread/mutate_bytearray.py", "qemu_mips", 0.005),
    ("stress/recursive_iternext.py", "sanitize_address", 0.005),
    # one test flaky in several jobs, the same way (as thread_gc1.py is): its first failure in
    # each job should be "flaky in other jobs", not "first failure here"
    *(("extmod/asyncio_wait_task.py", job, 0.02) for job in SPREAD_JOBS),
]


@dataclass(frozen=True)
class Regression:
    """`test` fails in `jobs` on every push from index `start` (its commit) until `end` (fixed)."""

    test: str
    jobs: tuple[str, ...]
    start_frac: float
    end_frac: float | None


@dataclass(frozen=True)
class NewFlake:
    """`test` starts failing now and then in `job` at `rate` from push index `start_frac` on (a
    race brought in by that commit), failing the way flakes do: a regression all the same."""

    test: str
    job: str
    rate: float
    start_frac: float


NEW_FLAKES = [
    NewFlake("extmod/select_poll_race.py", "standard", 0.25, 0.45),
    NewFlake("misc/heap_race.py", "coverage", 0.10, 0.40),
    NewFlake("thread/thread_race.py", "qemu_arm", 0.05, 0.35),
]

# A test run-tests.py ignores in `standard` (so its failures leave the job green): flaky at 3%,
# then failing in every run from 0.75 to 0.85 of the pushes (a regression the ignore list hides),
# then flaky again. Green `standard` logs are read (--scan-green, as the dashboard's sync does).
IGNORED_TEST, IGNORED_JOB, IGNORED_RATE = "thread/thread_gc1.py", "standard", 0.03
IGNORED_STREAK = (0.75, 0.85)

REGRESSIONS = [
    Regression("basics/int_big_div.py", ("standard",), 0.50, 0.53),  # fixed after a few pushes
    Regression("float/float_format_ints.py", ("float", "float_clang", "nanbox"), 0.65, 0.68),  # several jobs
    Regression("thread/thread_lock5.py", ("qemu_arm",), 0.80, None),  # a flaky test turned regression
    Regression("extmod/vfs_blockdev_ioctl.py", ("coverage",), 0.90, None),  # to the end
    Regression("extmod/asyncio_wait_task.py", ("float",), 0.72, 0.76),  # flaky in other jobs, regressing here
]


def symptom_text(test: str, regression: bool) -> tuple[str, str]:
    """Expected and actual output lines: a flake fails its usual way, a regression another."""
    if regression:
        return "ok", f"Traceback: AssertionError in {test.split('/')[-1]}"
    return "done", "TIMEOUT waiting for event"


def failing_log(job: str, failures: list[tuple[str, bool]], ignored: tuple[str, ...] = ()) -> bytes:
    return output_log(job, [(t, *symptom_text(t, regression)) for t, regression in failures], ignored)


def output_log(job: str, failures: list[tuple[str, str, str]], ignored: tuple[str, ...] = ()) -> bytes:
    """A failed job's log in which each (test, expected line, actual line) failed, and each of
    `ignored` failed and was ignored by run-tests.py as a known flake."""
    tests = "/home/runner/work/micropython/micropython/tests"
    names = [t for t, _, _ in failures]
    flaky = [f"{len(ignored)} tests had known-flaky failures (ignored): "
             + " ".join(f"{t} [flaky: GC race condition]" for t in ignored)] if ignored else []  # fmt: skip
    run = "\n".join(
        [
            f"cd ../../tests && MICROPY_MICROPYTHON=../ports/unix/build-{job}/micropython ./run-tests.py ",
            "platform=linux arch=x64 thread=unsafe float=64-bit unicode",
            "pass  basics/int1.py ",
            *(f"FAIL  {t} " for t in (*names, *ignored)),
            f"{len(names) + len(ignored) + 1} tests performed (61 individual testcases)",
            "1 tests passed",
            *flaky,
            *([f"{len(names)} tests failed: {' '.join(names)}", "make: *** [Makefile:258: test] Error 1"]
              if names else []),
        ]
    )  # fmt: skip
    diffs = []
    for test, exp, out in failures:
        mangled = test.replace("/", "_")
        diffs += [
            f"--- {tests}/results/{mangled}.exp\t2026-05-02 10:04:00.000000000 +0000",
            f"+++ {tests}/results/{mangled}.out\t2026-05-02 10:04:00.000000000 +0000",
            "@@ -1,2 +1,2 @@",
            f"-{exp}",
            f"+{out}",
            " 12 46",
            "",
            f"FAILURE {tests}/results/{mangled}",
        ]
    if not names:  # a green job: run-tests.py ignored every failure
        step = Step(f"tools/ci.sh unix_{job}_run_tests", run + "\n", name="Run main test suite")
        return job_log([step], job=job)
    return job_log(
        [
            Step(f"tools/ci.sh unix_{job}_run_tests", run + "\n", exit_code=2, name="Run main test suite"),
            Step("tests/run-tests.py --print-failures", "\n".join(diffs) + "\n", name="Print failures"),
        ],
        job=job,
    )


@dataclass
class Sim:
    fake: FakeGitHub
    truth: dict[tuple[int, int, str, str], str]  # (run, attempt, job, test) -> flake / regression
    triage: list[tuple[int, int, str]]  # (run id, attempt, event) to triage
    order: dict[int, tuple[int, str, bool]]  # run id -> (push index, event, logs expired)

    def failed_before(self, run_id: int, attempt: int, job: str, test: str, *, here: bool = True) -> bool:
        """Did the store see this test fail in this job (`here`, else in another) before this run
        (a readable push log)?"""
        index = self.order[run_id][0]
        for (r, a, j, t), _ in self.truth.items():
            if t != test or (j == job) is not here:
                continue
            i, event, expired = self.order[r]
            if event == "push" and not expired and (i < index or (r == run_id and a < attempt)):
                return True
        return False


def simulate(fake: FakeGitHub, pushes: int, rng: random.Random) -> Sim:
    truth: dict[tuple[int, int, str, str], str] = {}
    to_triage: list[tuple[int, int, str]] = []
    order: dict[int, tuple[int, str, bool]] = {}
    warmup = int(pushes * 0.3)
    expired_before = int(pushes * 0.2)
    windows = [
        (r, int(r.start_frac * pushes), int(r.end_frac * pushes) if r.end_frac else pushes)
        for r in REGRESSIONS
    ]

    def active(i: int) -> dict[str, list[str]]:
        failing: dict[str, list[str]] = defaultdict(list)
        for r, start, end in windows:
            if start <= i < end:
                for job in r.jobs:
                    failing[job].append(r.test)
        return failing

    new_from = {(n.job, n.test): int(n.start_frac * pushes) for n in NEW_FLAKES}
    hidden = range(int(IGNORED_STREAK[0] * pushes), int(IGNORED_STREAK[1] * pushes))

    def roll(i: int) -> dict[str, list[str]]:
        failing: dict[str, list[str]] = defaultdict(list)
        for test, job, rate in FLAKES:
            if rng.random() < rate:
                failing[job].append(test)
        for n in NEW_FLAKES:
            if i >= new_from[(n.job, n.test)] and rng.random() < n.rate:
                failing[n.job].append(n.test)
        return failing

    def ignored(i: int) -> tuple[str, ...]:
        return (IGNORED_TEST,) if i in hidden or rng.random() < IGNORED_RATE else ()

    def add_jobs(run_id: int, attempt: int, i: int, flakes: dict[str, list[str]], regs: dict[str, list[str]],
                 expired: bool, only: set[str] | None = None) -> set[str]:  # fmt: skip
        failed_jobs = set()
        for job in JOBS:
            reg = regs.get(job, []) if only is None or job in only else []
            flk = [t for t in flakes.get(job, []) if t not in reg] if only is None or job in only else []
            quiet = ignored(i) if job == IGNORED_JOB and (only is None or job in only) else ()
            log: bytes | str = "expired" if expired else failing_log(
                job, [(t, False) for t in flk] + [(t, True) for t in reg], quiet
            )  # fmt: skip
            if reg or flk:
                failed_jobs.add(job)
                fake.add_job(run_id, job, "failure", log=log, attempt=attempt)
                for t in flk:
                    truth[(run_id, attempt, job, t)] = "newly flaky" if (job, t) in new_from else "flake"
                for t in reg:
                    truth[(run_id, attempt, job, t)] = "regression"
            else:  # green: only the ignore-listed test's job keeps a log worth reading
                read = job == IGNORED_JOB and (only is None or job in only)
                fake.add_job(run_id, job, "success", log=log if read else "missing", attempt=attempt)
            for t in quiet:
                truth[(run_id, attempt, job, t)] = "ignored, in a streak" if i in hidden else "ignored flake"
        return failed_jobs

    for i in range(pushes):
        created = START + timedelta(hours=2 * i)
        flakes, regs = roll(i), active(i)
        failing = bool(regs) or any(flakes.values())
        run = fake.add_run(event="push", created_at=created, conclusion="failure" if failing else "success")
        order[run["id"]] = (i, "push", i < expired_before)
        failed_jobs = add_jobs(run["id"], 1, i, flakes, regs, expired=i < expired_before)
        if i >= warmup and failed_jobs:
            to_triage.append((run["id"], 1, "push"))
        if failed_jobs and rng.random() < 0.4:  # re-run of the failed jobs
            again = roll(i)
            still = {j for j in failed_jobs if regs.get(j) or again.get(j)}
            fake.add_attempt(run["id"], conclusion="failure" if still else "success")
            add_jobs(run["id"], 2, i, again, regs, expired=i < expired_before, only=failed_jobs)
            if i >= warmup and still:
                to_triage.append((run["id"], 2, "push"))
        if i >= warmup and i % 15 == 7:  # a pull request branched from here
            sha = f"{i:06x}" + "fe" * 17
            pr = fake.add_pull(head_sha=sha, head_branch=f"pr-{i}")
            pr_flakes = roll(i)
            pr_regs = active(i)
            pr_failing = bool(pr_regs) or any(pr_flakes.values())
            pr_run = fake.add_run(
                event="pull_request", branch=f"pr-{i}", head_sha=sha, pull_requests=[pr["number"]],
                created_at=created + timedelta(minutes=30), conclusion="failure" if pr_failing else "success",
            )  # fmt: skip
            order[pr_run["id"]] = (i, "pull_request", False)
            if add_jobs(pr_run["id"], 1, i, pr_flakes, pr_regs, expired=False):
                to_triage.append((pr_run["id"], 1, "pull_request"))
                # the contributor re-runs every job: a flaky test that passed on attempt 1 fails now
                passed = [f for f in FLAKES if f[0] not in pr_flakes.get(f[1], []) + pr_regs.get(f[1], [])]
                test, job, _ = rng.choice(passed)
                fake.add_attempt(pr_run["id"], conclusion="failure")
                add_jobs(pr_run["id"], 2, i, {job: [test]}, pr_regs, expired=False)
                truth[(pr_run["id"], 2, job, test)] = "flake, passed on attempt 1"
                to_triage.append((pr_run["id"], 2, "pull_request"))
    return Sim(fake, truth, to_triage, order)


def run_cli(argv: list[str], env: dict[str, str]) -> tuple[int, str, float]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    sink = io.StringIO()
    try:
        start = time.perf_counter()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            code = main(argv)
        return code, sink.getvalue(), time.perf_counter() - start
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def initial_sync(fake: FakeGitHub, store: Path, *flags: str) -> tuple[dict[str, str], float]:
    """`flake-bot sync` of the fake's master pushes into `store`, as the action's cache would hold
    it before the triages; the runner environment the triages add to, and the sync's seconds."""
    base = {"GITHUB_REPOSITORY": fake.repo, "GITHUB_API_URL": fake.api_url, "GITHUB_TOKEN": TOKEN,
            "INPUT_GITHUB-TOKEN": TOKEN}  # fmt: skip
    code, out, took = run_cli(
        ["sync", "--repo", fake.repo, "--workflow", "ports_unix.yml", "--branch", "master",
         "--event", "push", "--db", str(store), *flags], base,
    )  # fmt: skip
    if code != 0:
        raise SystemExit(f"sync failed: {out[-2000:]}")
    return base, took


def part1(pushes: int, seed: int) -> None:
    for test, job, _ in FLAKES:
        assert REGISTRY.match(job, test).listing is Listing.NEW, (test, job)
    server = FakeServer()
    server.start()
    try:
        fake = FakeGitHub(server)
        server.current = fake
        fake.token = TOKEN
        upstream = ROOT / "tests" / "data" / "upstream"  # what the patch writer reads
        fake.add_file("tests/run-tests.py", (upstream / "tests" / "run-tests.py").read_text())
        fake.add_file("tools/ci.sh", (upstream / "tools" / "ci.sh").read_text())
        simulated = [t for t, _, _ in FLAKES] + [r.test for r in REGRESSIONS] + [n.test for n in NEW_FLAKES]
        for test in [*(upstream / "tests.txt").read_text().split(), *simulated]:
            fake.add_file(f"tests/{test}", "print(1)\n")
        sim = simulate(fake, pushes, random.Random(seed))
        with tempfile.TemporaryDirectory() as tmp_dir:
            tmp = Path(tmp_dir)
            store = tmp / "history.sqlite"
            base, took = initial_sync(fake, store, "--scan-green")
            print(f"history: {pushes} master pushes, {len(sim.triage)} failed runs/attempts to triage; "
                  f"initial sync {took:.1f} s")  # fmt: skip
            confusion: dict[str, Counter[str]] = defaultdict(Counter)
            patched: Counter[str] = Counter()
            requests: list[int] = []
            walls: list[float] = []
            bad: list[str] = []
            seen: list[tuple[int, int, str, str, str, str]] = []  # (run, attempt, event, job, test, verdict)
            for run_id, attempt, event in sim.triage:
                event_file = tmp / "event.json"
                event_file.write_text(json.dumps(fake.workflow_run_event(run_id, attempt)))
                output = tmp / "output"
                output.write_text("")
                env = {
                    **base,
                    "GITHUB_EVENT_PATH": str(event_file),
                    "GITHUB_STEP_SUMMARY": str(tmp / "summary.md"),
                    "GITHUB_OUTPUT": str(output),
                    "INPUT_HISTORY": str(store),
                }
                before = len(fake.requests)
                code, out, took = run_cli(["triage"], env)
                if code != 0 or fake.errors:
                    raise SystemExit(f"triage failed ({code}): {out[-2000:]} {fake.errors}")
                requests.append(len(fake.requests) - before)
                walls.append(took)
                rows = json.loads(runner_outputs(output.read_text())["failures"])
                for row in rows:
                    key = (run_id, attempt, row["job"], row["test"])
                    kind = sim.truth.get(key, "?")
                    earlier = sim.failed_before(run_id, attempt, row["job"], row["test"])
                    if kind == "flake" and not earlier and sim.failed_before(
                        run_id, attempt, row["job"], row["test"], here=False
                    ):
                        kind = "flake, first here, failed in other jobs"
                    elif kind == "flake":
                        kind = "flake, failed before here" if earlier else "flake, first time here"
                    elif kind == "regression" and event != "push":
                        kind = "regression on master, in a PR"
                    elif kind == "regression":
                        kind = "regression, later push" if earlier else "regression, first push"
                    confusion[kind][row["verdict"]] += 1
                    passed = (row["evidence"] or {}).get("same_commit_pass_run")
                    named = " (attempt 1 of this run)" if passed == run_id and attempt == 2 else ""
                    seen.append((run_id, attempt, event, row["job"], row["test"], row["verdict"] + named))
                    if row["patch"]:
                        patched[kind] += 1
                    if kind.startswith("regression") and (row["verdict"] in REASSURING or row["patch"]):
                        bad.append(f"run {run_id}/{attempt} {row['job']} {row['test']}: {row['verdict']}")
        verdicts = sorted({v for c in confusion.values() for v in c})
        width = max(len(k) for k in confusion) + 2
        print()
        cell = max(17, *(len(v) + 2 for v in verdicts))
        print("truth \\ verdict".ljust(width) + "".join(f"{v:>{cell}}" for v in verdicts) + f"{'patched':>9}")
        for kind in sorted(confusion):
            print(
                kind.ljust(width)
                + "".join(f"{confusion[kind][v]:>{cell}}" for v in verdicts)
                + f"{patched[kind]:>9}"
            )
        print()
        regressions = sum(sum(c.values()) for k, c in confusion.items() if k.startswith("regression"))
        print(f"regressions given a reassuring verdict or a patch: {len(bad)} of {regressions}")
        for line in bad[:10]:
            print("   ", line)
        with_evidence = confusion["flake, failed before here"]
        told = sum(n for v, n in with_evidence.items() if v in REASSURING)
        print(f"flakes that failed here before, called a flake: {told} of {sum(with_evidence.values())}")
        first = confusion["flake, first time here"]
        print(f"flakes failing here for the first time, called 'first failure here': "
              f"{first['first-failure']} of {sum(first.values())}")  # fmt: skip
        other = confusion["flake, first here, failed in other jobs"]
        print(f"flakes failing here for the first time that failed in other jobs before, told re-run: "
              f"{sum(n for v, n in other.items() if v in REASSURING)} of {sum(other.values())}")  # fmt: skip
        issue23(sim, seen, confusion, patched, pushes)
        print(f"requests per triage: median {statistics.median(requests):.0f}, max {max(requests)}; "
              f"wall time per triage: median {statistics.median(walls) * 1000:.0f} ms, "
              f"max {max(walls) * 1000:.0f} ms")  # fmt: skip
    finally:
        server.stop()


def part_seed(seed: int) -> None:
    """The seed report's history (`seed_history.py`): how many failing tests are told re-run,
    next to the ideal, and how thread/thread_gc1.py fares."""
    from seed_history import JOB_FAILURES, build, ideal_reruns

    history = build(seed)
    server = FakeServer()
    server.start()
    try:
        fake = FakeGitHub(server)
        server.current = fake
        fake.token = TOKEN
        upstream = ROOT / "tests" / "data" / "upstream"
        fake.add_file("tests/run-tests.py", (upstream / "tests" / "run-tests.py").read_text())
        fake.add_file("tools/ci.sh", (upstream / "tools" / "ci.sh").read_text())
        runs: dict[int, int] = {}  # push index -> run id
        for i, created in enumerate(history.pushes):
            failed = history.failed_jobs(i)
            conclusion = "failure" if failed else "success"
            run = fake.add_run(event="push", created_at=created, conclusion=conclusion)
            runs[i] = run["id"]
            readable: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
            for f in history.failures.get(i, ()):
                readable[f.job].append((f.test, f.expected, f.actual))
            for job in JOB_FAILURES:
                if job in readable:
                    fake.add_job(run["id"], job, "failure", log=output_log(job, readable[job]))
                elif job in failed:
                    fake.add_job(run["id"], job, "failure", log="expired")
                else:
                    fake.add_job(run["id"], job, "success", log="missing")
        listed = {
            (i, f.test)
            for i, fs in history.failures.items()
            for f in fs
            if any(
                REGISTRY.match(job, f.test, when=history.pushes[i].date()).listing is not Listing.NEW
                for job in REGISTRY.jobs
            )
        }
        ideal = ideal_reruns(history, listed)
        with tempfile.TemporaryDirectory() as tmp_dir:
            tmp = Path(tmp_dir)
            store = tmp / "history.sqlite"
            base, took = initial_sync(fake, store)
            expired = sum(len(v) for v in history.expired.values())
            print(f"\nseed-shaped history: {len(history.pushes)} master pushes x {len(JOB_FAILURES)} jobs, "
                  f"{expired} failed jobs with expired logs, {len(ideal)} failing tests in "
                  f"{len(history.failures)} pushes with logs; initial sync {took:.1f} s")  # fmt: skip
            verdicts: dict[tuple[int, str, str], str] = {}
            for i in sorted(history.failures):
                event_file = tmp / "event.json"
                event_file.write_text(json.dumps(fake.workflow_run_event(runs[i], 1)))
                output = tmp / "output"
                output.write_text("")
                env = {**base, "GITHUB_EVENT_PATH": str(event_file), "INPUT_HISTORY": str(store),
                       "GITHUB_STEP_SUMMARY": str(tmp / "summary.md"),
                       "GITHUB_OUTPUT": str(output)}  # fmt: skip
                code, out, _ = run_cli(["triage"], env)
                if code != 0 or fake.errors:
                    raise SystemExit(f"triage failed ({code}): {out[-2000:]} {fake.errors}")
                for row in json.loads(runner_outputs(output.read_text())["failures"]):
                    verdicts[(i, row["job"], row["test"])] = row["verdict"]
    finally:
        server.stop()
    told = sum(1 for key in ideal if verdicts.get(key) in REASSURING)
    should = sum(ideal.values())
    wrong = [key for key, rerun in ideal.items() if not rerun and verdicts.get(key) in REASSURING]
    print(f"failing tests told re-run: {told} of {len(ideal)} (ideal: {should} of {len(ideal)}, every "
          f"failure but a test's first anywhere unless listed as flaky for some job that day)")  # fmt: skip
    print(f"genuine first failures told re-run (must be 0): {len(wrong)}")
    by_test: dict[str, list[str]] = defaultdict(list)
    for (i, job, test), rerun in sorted(ideal.items()):
        verdict = verdicts.get((i, job, test), "?")
        mark = "ok" if (verdict in REASSURING) == rerun else "MISS"
        by_test[test].append(f"{history.pushes[i]:%m-%d} {job}: {verdict} ({mark})")
    for test, lines in by_test.items():
        n = sum(1 for line in lines if any(f"{v} (" in line for v in REASSURING))
        print(f"  {test}: re-run {n} of {len(lines)}")
        for line in lines:
            print(f"      {line}")


def issue23(sim: Sim, seen: list[tuple[int, int, str, str, str, str]], confusion: dict[str, Counter[str]],
            patched: Counter[str], pushes: int) -> None:  # fmt: skip
    """The figures issue 23 asks for: newly flaky tests, ignored streaks, pull-request flips."""
    print(f"newly flaky tests given a patch: {patched['newly flaky']} (must be 0); given a reassuring "
          f"verdict: {sum(n for v, n in confusion['newly flaky'].items() if v in REASSURING)} "
          f"of {sum(confusion['newly flaky'].values())} triaged failures")  # fmt: skip
    for n in NEW_FLAKES:
        # the test's failures on master pushes with a readable log, in order: the n-th is failure n
        fails = sorted(
            (sim.order[r][0], a, r)
            for (r, a, j, t), kind in sim.truth.items()
            if (j, t) == (n.job, n.test) and sim.order[r][1] == "push" and not sim.order[r][2]
        )
        number = {(r, a): k + 1 for k, (_, a, r) in enumerate(fails)}
        verdicts = sorted(
            (number[(r, a)], v) for r, a, event, j, t, v in seen
            if (j, t) == (n.job, n.test) and event == "push"
        )  # fmt: skip
        first = next((k for k, v in verdicts if v == "newly-flaky"), None)
        before = Counter(
            "reassuring" if v in REASSURING else "another warning"
            for k, v in verdicts if first is None or k < first
        )  # fmt: skip
        delay = f"at its failure {first}" if first else "not in the pushes simulated"
        print(f"  {n.test} in {n.job}, flaky at {n.rate:.0%} from push {int(n.start_frac * pushes)}: "
              f"{len(fails)} failures, first called newly flaky {delay}; before that, triaged "
              f"{before['reassuring']} times as a flake, {before['another warning']} times with another "
              "warning (first failure, likely regression)")  # fmt: skip
    flakes = Counter(v for (_, _, _, j, t, v) in seen if (t, j) in {(t, j) for t, j, _ in FLAKES})
    misread = flakes["newly-flaky"]
    print(f"steady flakes (0.5-3%) misread as newly flaky: {misread} of {sum(flakes.values())} triaged "
          f"failures ({misread / max(1, sum(flakes.values())):.1%})")  # fmt: skip
    start = int(IGNORED_STREAK[0] * pushes)
    streak = [
        (sim.order[r][0], v) for r, a, event, j, t, v in seen
        if (j, t) == (IGNORED_JOB, IGNORED_TEST) and sim.truth.get((r, a, j, t)) == "ignored, in a streak"
    ]  # fmt: skip
    knowable = [v for i, v in streak if i >= start + 2]  # two earlier runs of the streak in the store
    told = sum(1 for v in knowable if v == "ignored-failing-since")
    print(f"ignored streaks told: {told} of {len(knowable)} triaged ignored failures at least two runs into "
          f"the streak ({len(streak) - len(knowable)} earlier)")  # fmt: skip
    flips = [v for r, a, _, j, t, v in seen if sim.truth.get((r, a, j, t)) == "flake, passed on attempt 1"]
    told = sum(1 for v in flips if v == "proven-flaky (attempt 1 of this run)")
    print(f"pull-request flips told (proven flaky, passed on attempt 1 of this run): {told} of {len(flips)}")
    outside = confusion["ignored flake"]
    false, total = outside["ignored-failing-since"], sum(outside.values())
    print(f"ignored flakes outside the streak told as one: {false} of {total}")


def part2(runs: int) -> None:
    from bench_report import build

    from bot.evidence import RunRef, assess
    from bot.orchestrate.history import RECENT
    from bot.store.sqlite import HistoryStore

    with tempfile.TemporaryDirectory() as tmp_dir:
        db = Path(tmp_dir) / "big.sqlite"
        start = time.perf_counter()
        build(db, runs)
        print(f"\nstore of {runs:,} runs built in {time.perf_counter() - start:.1f} s")
        pairs = [
            ("thread/thread_gc1.py", "standard"),
            ("thread/stress_aes.py", "qemu_arm"),
            ("cmdline/repl_cont.py", "macos"),
            ("extmod/time_time_ns.py", "float"),
            ("basics/never_failed.py", "coverage"),
        ]
        for label in ("cold", "warm"):
            with HistoryStore(db) as store:
                last = store._db.execute("SELECT max(created), max(id) FROM runs").fetchone()
                until = datetime.strptime(last[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
                current = RunRef(int(last[1]) + 1, 1, "f" * 40, until + timedelta(minutes=30))
                if label == "warm":
                    for test, job in pairs:
                        store.test_history(test, job, until=until, recent=RECENT)
                t0 = time.perf_counter()
                sizes = []
                for test, job in pairs:
                    found = store.test_history(test, job, until=until, branch=None, recent=RECENT)
                    evidence = assess(test, job, "TIMEOUT", current, found, REGISTRY)
                    sizes.append(len(found.here))
                took = time.perf_counter() - t0
            print(f"evidence for 5 failing tests on {runs:,} runs ({label}): {took * 1000:.0f} ms "
                  f"({sizes} records; last: streak {evidence.streak.failures})")  # fmt: skip
            across_cost(db, pairs, until, current, label, runs)


def across_cost(db: Path, pairs: list[tuple[str, str]], until: datetime, current: object, label: str,
                runs: int) -> None:  # fmt: skip
    """What reading the other jobs adds when every one of the failing tests is a first failure
    here (the only case in which triage reads them): one history per other job it failed in."""
    from bot.across_jobs import across_jobs
    from bot.evidence import RunRef
    from bot.store.sqlite import HistoryStore

    assert isinstance(current, RunRef)
    with HistoryStore(db) as store:
        t0 = time.perf_counter()
        siblings = []
        for test, job in pairs:
            found = store.test_history(test, job, until=until, branch=None)

            def lookup(t: str, j: str) -> object:
                return store.test_history(t, j, until=until, branch=None)

            across = across_jobs(test, job, "TIMEOUT", current, found, lookup, (), REGISTRY)  # type: ignore[arg-type]
            siblings.append(len(across.siblings))
        took = time.perf_counter() - t0
    print(f"  the same with every other job they failed in read too ({label}): {took * 1000:.0f} ms "
          f"({siblings} other jobs)")  # fmt: skip


def part3(trials: int, seed: int) -> None:
    """The newly-flaky detector alone (`bot.changepoint`, as triage runs it on the latest
    executions it reads), on simulated outcome sequences: its delay and its false alarms."""
    from bot.changepoint import onset, rise_p_value
    from bot.orchestrate.history import RECENT
    from bot.patch_rules import PATCH_STEADY_P, PatchPolicy

    rng = random.Random(seed)
    policy = PatchPolicy()

    def patchable(history: list[bool]) -> bool:
        """The patch rule's counts and steadiness (a pass last, enough failures, not rising)."""
        events = sum(history)
        return (
            bool(history) and not history[-1] and len(history) >= policy.min_executions
            and events >= policy.min_events and events / len(history) >= policy.min_rate
            and rise_p_value(history) >= PATCH_STEADY_P
        )  # fmt: skip

    print(f"\nnewly-flaky detector ({trials} simulated tests per line, triaged at each failure, "
          f"latest {RECENT} executions; a rise is followed for 400 executions):")  # fmt: skip
    for before, quiet in ((0.0, 150), (0.0, 400), (0.0, 1000), (0.01, 600)):
        for rate in (0.05, 0.10, 0.25):
            delays: list[int] = []
            patch_first = 0
            for _ in range(trials):
                history = [rng.random() < before for _ in range(quiet)]
                failures = 0
                offered = False
                for _ in range(400):  # executions after the start
                    failed = rng.random() < rate
                    if failed:
                        failures += 1
                        window = history[-RECENT:]
                        if onset(window) is not None:
                            delays.append(failures)
                            break
                        offered = offered or patchable(window)
                    history.append(failed)
                patch_first += offered
            delays.sort()
            median, p90, worst = (_quantile(delays, f) for f in (0.5, 0.9, 1.0))
            print(f"  {before:.0%} for {quiet} executions, then {rate:.0%}: detected in {len(delays)} of "
                  f"{trials}, at failure median {median}, 90th percentile {p90}, worst {worst} (counting "
                  f"the triaged one); a patch offered after the rise, before it: {patch_first}")  # fmt: skip
    for rate in (0.01, 0.02, 0.03):
        alarms = triages = tests_alarmed = held = 0
        for _ in range(trials):
            history = []
            alarmed = False
            for _ in range(1000):
                failed = rng.random() < rate
                if failed and len(history) >= 50:
                    triages += 1
                    window = history[-RECENT:]
                    if onset(window) is not None:
                        alarms += 1
                        alarmed = True
                    elif rise_p_value(window) < PATCH_STEADY_P:
                        held += 1
                history.append(failed)
            tests_alarmed += alarmed
        print(f"  steady {rate:.0%} over 1,000 executions: misread as newly flaky in {alarms} of {triages} "
              f"triages ({alarms / max(1, triages):.2%}); {tests_alarmed} of {trials} tests ever "
              f"({tests_alarmed / trials:.1%}); patch held back as 'recent' in {held / max(1, triages):.0%} "
              f"of triages")  # fmt: skip


def _quantile(ordered: list[int], fraction: float) -> int:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=400)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--store-runs", type=int, default=100_000)
    parser.add_argument("--detector-trials", type=int, default=300)
    parser.add_argument("--part", choices=["all", "simulated", "seed", "store", "detector"], default="all")
    args = parser.parse_args()
    if args.part in ("all", "simulated"):
        part1(args.pushes, args.seed)
    if args.part in ("all", "seed"):
        part_seed(args.seed)
    if args.part in ("all", "store"):
        part2(args.store_runs)
    if args.part in ("all", "detector"):
        part3(args.detector_trials, args.seed)


if __name__ == "__main__":
    main_bench()
