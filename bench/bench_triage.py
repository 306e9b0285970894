"""Benchmark one action triage against the local fake GitHub (not run by CI).

For a 24-job "unix port" run (by default) with 1 and with 5 failed jobs (real capture 05 wrapped in
the job-log format; the other jobs green), on a push (check run) and on a pull request (sticky comment), it
runs the real `flake-bot triage` in-process and reports:

- HTTP requests the triage made, API and log-blob separately, against a target of 1 (the jobs)
  + 2 per failed job (the log's redirect and blob) + what publishing costs (`PUBLISH`, the
  requests `bot/budget.py` keeps back for it); the history sync is excluded, as no history store
  is configured here. (The first target, 4 + 2 per failed job, predates the write-path checks: a
  pull request's comment now also costs the pull request's lookup, which confirms the run's head
  is the pull request's, and a re-list after a create, which finds a concurrent run's comment.)
- wall time of the whole triage (median of `--repeat` runs), loopback HTTP included.

``--workflow qemu|windows`` triages a run of that workflow instead: its jobs as the jobs API names
the matrix jobs, failing with the qemu or MSVC/mingw fixtures of tests/data/workflows.

Usage: ``python bench/bench_triage.py [--repeat 5] [--workflow unix|qemu|windows]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fake_github import FakeGitHub, FakeServer  # noqa: E402
from helpers.e2e import standard_log  # noqa: E402
from helpers.workflow_logs import mingw_log, msvc_log, qemu_log  # noqa: E402

from bot.cli import main  # noqa: E402
from bot.registry import load_registry  # noqa: E402

JOBS = [
    "minimal", "reproducible", "standard", "standard_v2", "standard_error_terse", "standard_error_none",
    "coverage", "coverage_32bit", "nanbox", "longlong", "float", "gil_enabled", "stackless_clang",
    "float_clang", "settrace_stackless", "repr_b", "macos", "qemu_mips", "qemu_arm", "qemu_riscv64",
    "qemu_loong64", "qemu_x64", "sanitize_address", "sanitize_undefined",
]  # fmt: skip
TOKEN = "ghs_bench"  # noqa: S105 - the fake server checks it; not a secret


def _workflow(workflow: str) -> tuple[str, str, list[str], list[bytes]]:
    """File, name, job names (as the jobs API names them) and failing-job logs of one workflow."""
    if workflow == "unix":
        return "ports_unix.yml", "unix port", JOBS, [standard_log()]
    file = f"ports_{workflow}.yml"
    section = load_registry().for_workflow(file)
    assert section is not None
    jobs = [name for name, spec in section.jobs.items() if spec.targets]  # jobs that run the tests
    logs = [qemu_log()] if workflow == "qemu" else [msvc_log(), mingw_log()]
    return file, section.workflow, jobs, logs


#: Publishing's requests per event: a check run on a push (list the commit's check runs, create);
#: the sticky comment on a pull request (the pull request, the comments, the create, the re-list).
PUBLISH = {"push": 2, "pull_request": 4}

def one_triage(
    server: FakeServer, failed: int, event: str, tmp: Path, workflow: str = "unix"
) -> tuple[int, int, float]:
    fake = FakeGitHub(server)
    server.current = fake
    fake.token = TOKEN
    file, name, jobs, logs = _workflow(workflow)
    sha = "be" * 20
    prs: list[int] = []
    if event == "pull_request":
        prs = [fake.add_pull(head_sha=sha)["number"]]
    run = fake.add_run(event=event, head_sha=sha, pull_requests=prs, workflow=file, workflow_name=name)
    for i, job in enumerate(jobs):
        is_failed = i < failed
        conclusion = "failure" if is_failed else "success"
        fake.add_job(run["id"], job, conclusion, log=logs[i % len(logs)] if is_failed else "missing")
    event_file = tmp / "event.json"
    event_file.write_text(json.dumps(fake.workflow_run_event(run["id"])))
    env = {
        "GITHUB_EVENT_PATH": str(event_file),
        "GITHUB_REPOSITORY": fake.repo,
        "GITHUB_API_URL": fake.api_url,
        "INPUT_GITHUB-TOKEN": TOKEN,
        "GITHUB_STEP_SUMMARY": str(tmp / "summary.md"),
        "GITHUB_OUTPUT": str(tmp / "output"),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        sink = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            code = main(["triage"])
        elapsed = time.perf_counter() - start
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        fake.close()
    if code != 0 or fake.errors:
        raise SystemExit(f"triage failed ({code}): {sink.getvalue()[-2000:]} {fake.errors}")
    blobs = sum(1 for r in fake.requests if r.is_blob)
    return len(fake.requests) - blobs, blobs, elapsed


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="triages per scenario (median wall time)")
    parser.add_argument(
        "--workflow", choices=("unix", "qemu", "windows"), default="unix",
        help="which workflow's run: its jobs (matrix names) and its kind of failing log",
    )  # fmt: skip
    args = parser.parse_args()
    server = FakeServer()
    server.start()
    try:
        header = ("event", "failed", "api", "blob", "total", "target", "wall (median)")
        print("{:<13} {:>6} {:>4} {:>4} {:>5} {:>6} {:>14}".format(*header))
        for event in ("push", "pull_request"):
            for failed in (1, 5):
                times = []
                for _ in range(args.repeat):
                    with tempfile.TemporaryDirectory() as tmp:
                        api, blobs, elapsed = one_triage(server, failed, event, Path(tmp), args.workflow)
                    times.append(elapsed)
                target = 1 + 2 * failed + PUBLISH[event]
                verdict = "ok" if api + blobs <= target else "OVER"
                print(
                    f"{event:<13} {failed:>6} {api:>4} {blobs:>4} {api + blobs:>5} {target:>6} "
                    f"{statistics.median(times) * 1000:>11.0f} ms  {verdict}"
                )
    finally:
        server.stop()


if __name__ == "__main__":
    main_bench()
