"""Benchmark: requests, time and memory of `flake-bot dashboard` at MicroPython's scale.

A fake GitHub (the test suite's, on a local socket) serves the watched workflow's pushes to
master: `--pushes` a day for `--days` days, each with the 24 jobs of the bundled registry and a
log for every job (green ones too: the dashboard reads them, since ignored flakes are only in
logs). A few tests flake: thread/thread_gc1.py (listed, ignored) and misc/unlisted_flaky.py
(not listed). Each dashboard run is the real command in a child process, so its peak RSS is its
own:

1. a first run over the whole window with a 1,000-request budget, repeated (as the daily schedule
   would) until the history is complete;
2. one day of activity: `--pushes` new pushes, then one run;
3. a maintainer ticks every entry's box: one run with pull requests on (what the write path
   costs: requests per ticked entry), then one more run with nothing new ticked.

With `--qemu` the qemu port (its jobs from the registry's qemu section) pushes as often beside
the unix port, and the dashboard watches both, splitting the budget between them.

    python bench/bench_dashboard.py [--days 90] [--pushes 3] [--budget 1000] [--qemu]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fake_github import FakeGitHub, running_fake  # noqa: E402
from logfmt import Step, job_log  # noqa: E402

from bot.registry import load_registry  # noqa: E402
from bot.store.sqlite import HistoryStore  # noqa: E402

UPSTREAM = ROOT / "tests" / "data" / "upstream"
# The child's own peak RSS: VmHWM belongs to the process image after exec, whereas getrusage's
# maxrss of children also counts the parent's pages the child held between fork and exec (here
# the fake GitHub with every log and recorded request), which is not the dashboard's memory.
CHILD = """
import sys
from bot.cli import main
code = main(["dashboard"])
with open("/proc/self/status") as status:
    sys.stderr.write("".join(line for line in status if line.startswith("VmHWM:")))
sys.exit(code)
"""


def output(failing: str | None, ignored: str | None) -> str:
    lines = ["platform=linux arch=x64 thread=unsafe float=64-bit unicode"]
    lines += [f"pass  basics/t{i}.py " for i in range(200)]
    if failing:
        lines.append(f"FAIL  {failing} ")
    if ignored:
        lines.append(f"FAIL  {ignored} ")
    lines.append("1000 tests performed (20000 individual testcases)")
    lines.append(f"{999 if failing else 1000} tests passed")
    if ignored:
        lines.append(f"1 tests had known-flaky failures (ignored): {ignored}")
    if failing:
        lines += [f"1 tests failed: {failing}", "make: *** [Makefile:258: test] Error 1"]
    return "\n".join(lines) + "\n"


def log(job: str, failing: str | None = None, ignored: str | None = None) -> bytes:
    step = Step("tools/ci.sh unix_run_tests", output(failing, ignored), exit_code=2 if failing else 0)
    return job_log([step], job=job)


def add_pushes(
    fake: FakeGitHub, jobs: list[str], start: datetime, count: int, every: timedelta, seq: int,
    workflow: tuple[str, str] = ("ports_unix.yml", "unix port"),
) -> int:  # fmt: skip
    green = {job: log(job) for job in jobs}
    for n in range(count):
        i = seq + n
        failing = "misc/unlisted_flaky.py" if i % 40 == 7 else None
        run = fake.add_run(event="push", branch="master", created_at=start + n * every,
                           conclusion="failure" if failing else "success",
                           workflow=workflow[0], workflow_name=workflow[1])  # fmt: skip
        for job in jobs:
            if job in ("coverage", "build_and_test_rv32") and failing:
                fake.add_job(run["id"], job, "failure", log=log(job, failing=failing))
            elif job == "standard" and i % 25 == 3:
                fake.add_job(run["id"], job, "success", log=log(job, ignored="thread/thread_gc1.py"))
            else:
                fake.add_job(run["id"], job, "success", log=green[job])
    return seq + count


def dashboard(
    fake: FakeGitHub, db: Path, budget: int, pull_requests: bool = False
) -> tuple[int, int, float, int, str]:
    """(exit status, requests the server saw, seconds, child peak RSS in KiB, last stderr line)."""
    before = len(fake.requests)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
    env.update({
        "GITHUB_REPOSITORY": fake.repo, "GITHUB_TOKEN": "bench", "GITHUB_API_URL": fake.api_url,
        "INPUT_HISTORY": str(db), "INPUT_REQUEST-BUDGET": str(budget), "PYTHONPATH": str(ROOT),
        "INPUT_OPEN-PULL-REQUESTS": "true" if pull_requests else "false",
    })  # fmt: skip
    began = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    _, err = child.communicate()
    took = time.perf_counter() - began
    peak = next((int(line.split()[1]) for line in err.splitlines() if line.startswith("VmHWM:")), 0)
    lines = [line for line in err.splitlines() if "sync:" in line] or err.splitlines()[-1:]
    return child.returncode, len(fake.requests) - before, took, peak, " | ".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--pushes", type=int, default=3)
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--qemu", action="store_true", help="the qemu port pushes too")
    args = parser.parse_args()
    jobs = sorted(load_registry(None).jobs)
    qemu = load_registry(None).for_workflow("ports_qemu.yml")
    qemu_jobs = sorted(qemu.jobs) if args.qemu and qemu is not None else []
    now = datetime.now(UTC).replace(microsecond=0)
    every = timedelta(days=1) / args.pushes
    with running_fake() as fake, tempfile.TemporaryDirectory() as tmp:
        fake.add_workflow()
        fake.add_file("tests/run-tests.py", (UPSTREAM / "tests" / "run-tests.py").read_text())
        fake.add_file("tools/ci.sh", (UPSTREAM / "tools" / "ci.sh").read_text())
        for test in [*(UPSTREAM / "tests.txt").read_text().split(), "misc/unlisted_flaky.py"]:
            fake.add_file(f"tests/{test}", "print(1)\n")
        total = args.days * args.pushes
        seq = add_pushes(fake, jobs, now - timedelta(days=args.days), total, every, 0)
        qemu_port = ("ports_qemu.yml", "qemu port")
        if qemu_jobs:
            start = now - timedelta(days=args.days, minutes=30)
            add_pushes(fake, qemu_jobs, start, total, every, 0, qemu_port)
        print(f"history: {total} pushes x {len(jobs)} jobs (+ {total} x {len(qemu_jobs)} qemu port jobs), "
              f"every log readable; budget {args.budget}")  # fmt: skip
        db = Path(tmp) / "dashboard.sqlite"
        print(f"1. first run over {args.days} days, then daily runs until the history is complete:")
        rounds, spent, seconds = 0, 0, 0.0
        while True:
            rounds += 1
            code, used, took, rss, line = dashboard(fake, db, args.budget)
            spent, seconds = spent + used, seconds + took
            with HistoryStore(db) as store:
                counts = store.counts()
            stored = f"{counts['runs']} runs stored, {counts['pending']} pending"
            memory = f"peak RSS {rss / 1024:.0f} MiB"
            print(f"   run {rounds}: exit {code}, {used} requests, {took:.1f} s, {memory}, {stored}")
            if (counts["pending"] == 0 and counts["runs"] >= total) or rounds >= 40 or code:
                break
        print(f"   = {rounds} runs, {spent} requests, {seconds:.0f} s in all; last: {line}")
        add_pushes(fake, jobs, now + timedelta(hours=1), args.pushes, every, seq)
        if qemu_jobs:
            add_pushes(fake, qemu_jobs, now + timedelta(minutes=90), args.pushes, every, seq, qemu_port)
        code, used, took, rss, line = dashboard(fake, db, args.budget)
        print(f"2. one day of activity ({args.pushes} pushes x {len(jobs)} + {len(qemu_jobs)} jobs): "
              f"exit {code}, "
              f"{used} requests, {took:.1f} s, peak RSS {rss / 1024:.0f} MiB  ({line})")  # fmt: skip
        issues = [i for i in fake.issues() if i["body"].startswith("<!-- flake-bot:dashboard -->")]
        print(
            f"   dashboard issues: {len(issues)}, body {len(issues[0]['body']) if issues else 0} characters"
        )
        if issues:
            fake.collaborators["dpgeorge"] = "maintain"
            body = issues[0]["body"].replace("- [ ] <!-- flake-bot-pr:", "- [x] <!-- flake-bot-pr:")
            ticked = body.count("- [x] <!-- flake-bot-pr:")
            fake.edit_issue_as(issues[0]["number"], body, "dpgeorge")
            code, used, took, rss, _ = dashboard(fake, db, args.budget, pull_requests=True)
            opened = len(fake.pulls())
            print(f"3. {ticked} boxes ticked by a maintainer: exit {code}, {used} requests, {took:.1f} s, "
                  f"{opened} pull requests opened")  # fmt: skip
            code, used, took, rss, _ = dashboard(fake, db, args.budget, pull_requests=True)
            print(f"   the next run, nothing new ticked: exit {code}, {used} requests, {took:.1f} s, "
                  f"{len(fake.pulls())} pull requests")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
