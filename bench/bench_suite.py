"""The test suite's own time, for two commits side by side (not run by CI).

Issue 9 asks for the whole suite in under 25 s on 2 cores. This machine's speed drifts by a
third from one minute to the next (shared hosts), so one run says little, and two runs minutes
apart say less. This checks each commit out the way `.ci/run` does (a fresh copy of the commit
in an empty folder, nothing beside it), installs it with the README's command into a virtual
environment of its own, then runs the README's test command (`python -m pytest`) alternately
for each commit, `--rounds` times, with a fresh TMPDIR each time (a fresh machine: no earlier
run's temporary folders to clean up).

It reports, per commit, the median wall time and CPU time (user + system of pytest and all its
workers) and the ratio of the two commits. CPU time is the steadier figure on a busy machine;
wall time is what the issue's target is about.

Usage: ``python bench/bench_suite.py [--base REV] [--head REV] [--rounds 3] [--beside DIR]``
(default: base = HEAD~1, head = HEAD; commits, not the working tree). Every commit from d546ebe
on needs nothing but itself. Older ones, the issue's own starting point a6f10e6 among them, read
reference material from a folder beside the repository that a clone does not have; where that
folder exists, ``--beside DIR`` links it beside the fresh copies, where those commits look for it.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def checkout(rev: str, where: Path) -> Path:
    """A fresh copy of `rev`, as .ci/run makes one, with its own venv holding `.[test]`."""
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    repo = where / sha[:10]
    subprocess.run(["git", "init", "--quiet", str(repo)], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "fetch", "--quiet", "--depth=1", f"file://{ROOT}", sha], check=True
    )
    subprocess.run(["git", "-C", str(repo), "checkout", "--quiet", "--detach", "FETCH_HEAD"], check=True)
    subprocess.run([sys.executable, "-m", "venv", str(repo / ".venv")], check=True)
    python = repo / ".venv" / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", ".[test]"], cwd=repo, capture_output=True, text=True
    )
    if installed.returncode != 0:
        sys.exit(f"{rev}: pip install failed:\n{installed.stderr}")
    return repo


def run_suite(repo: Path, tmp: Path) -> tuple[float, float, str]:
    """Wall and CPU seconds of one `python -m pytest`, and its last line ("N passed in ...")."""
    env = dict(os.environ, TMPDIR=str(tmp))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [str(repo / ".venv" / "bin" / "python"), "-m", "pytest"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0:
        sys.exit(f"{repo.name}: the suite failed:\n" + "\n".join(lines[-20:]))
    return wall, cpu, lines[-1] if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD~1", help="the commit to compare against (default HEAD~1)")
    parser.add_argument("--head", default="HEAD", help="the commit measured (default HEAD)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per commit, alternating (default 3)")
    parser.add_argument(
        "--beside",
        type=Path,
        action="append",
        default=[],
        help="a folder to link beside the fresh copies, for commits older than d546ebe; repeatable",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-suite-") as scratch:
        where = Path(scratch)
        for folder in args.beside:
            (where / folder.resolve().name).symlink_to(folder.resolve(), target_is_directory=True)
        print(f"installing {args.base} and {args.head} in fresh copies ...", file=sys.stderr)
        repos = {args.base: checkout(args.base, where), args.head: checkout(args.head, where)}
        times: dict[str, list[tuple[float, float]]] = {rev: [] for rev in repos}
        for n in range(args.rounds):
            for rev, repo in repos.items():
                tmp = where / f"tmp-{repo.name}-{n}"
                tmp.mkdir()
                wall, cpu, last = run_suite(repo, tmp)
                times[rev].append((wall, cpu))
                print(
                    f"round {n + 1}: {rev:>12} ({repo.name}): {wall:5.1f} s wall, {cpu:5.1f} s CPU  [{last}]"
                )

    medians = {
        rev: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t))
        for rev, t in times.items()
    }
    print(f"\nmedians of {args.rounds} alternating runs, {os.cpu_count()} cores:")
    print(f"{'commit':>14} {'wall':>8} {'CPU':>8}")
    for rev, (wall, cpu) in medians.items():
        print(f"{rev:>14} {wall:7.1f}s {cpu:7.1f}s")
    (base_wall, base_cpu), (head_wall, head_cpu) = medians[args.base], medians[args.head]
    print(f"{'head / base':>14} {head_wall / base_wall:8.2f} {head_cpu / base_cpu:8.2f}")


if __name__ == "__main__":
    main()
