"""Benchmark `suggest-patch` and `registry check` on a small and a real checkout (not run by CI).

Issue 10 asks for each command to stay under 0.3 s. Two checkouts:

- the upstream-style fixture (tests/data/upstream, with its test files created empty);
- a real MicroPython tree, exported from a local git repository (default: the mirror this
  project's sessions use; give `--upstream GIT_DIR [--rev REV]` for another), files that the
  commands read only: tools/, tests/, .github/workflows/, pyproject.toml.

For each command it reports the median of `--repeat` runs, in milliseconds, of the whole command
as a user runs it (a new `python -m bot` process: start-up and imports included), as wall time
and as CPU time (user + system, which a busy shared machine inflates less), and of the command's
own work in-process (`bot.cli.main` after a warm-up, CPU time). `--version` shows what start-up
alone costs (the CLI imports every command module).

Usage: ``python bench/bench_patch.py [--repeat 7] [--upstream GIT_DIR] [--rev REV]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "upstream"
MIRROR = Path("/work/.mirror/micropython+micropython/repo")

from bot.cli import main  # noqa: E402


def fixture_checkout(root: Path) -> Path:
    repo = root / "fixture"
    for relative in ("tools/ci.sh", ".github/workflows/ports_unix.yml", "tests/run-tests.py"):
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURE / relative, repo / relative)
    for test in (FIXTURE / "tests.txt").read_text().split():
        (repo / "tests" / test).parent.mkdir(parents=True, exist_ok=True)
        (repo / "tests" / test).write_text("print('ok')\n")
    return repo


def upstream_checkout(root: Path, git_dir: Path, rev: str) -> Path:
    repo = root / "upstream"
    repo.mkdir()
    paths = ["tools", "tests", ".github/workflows", "pyproject.toml"]
    archive = subprocess.run(
        ["git", "--git-dir", str(git_dir), "archive", "--format=tar", rev, *paths],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(repo, filter="data")
    return repo


def commands(repo: Path, test: str) -> dict[str, list[str]]:
    base = ["suggest-patch", "--repo-dir", str(repo), "--test", test]
    return {
        "suggest-patch (ignore)": [*base, "--job", "qemu_arm", "--reason", "crashes under emulation"],
        "suggest-patch (exclude)": [*base, "--job", "qemu_loong64", "--style", "exclude"],
        "registry check": ["registry", "check", "--repo-dir", str(repo)],
    }


def in_process(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat + 1):
        start = time.process_time()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            main(argv)
        times.append(time.process_time() - start)
    return statistics.median(times[1:]) * 1000


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def whole(argv: list[str], repeat: int, env: dict[str, str]) -> tuple[float, float]:
    walls, cpus = [], []
    subprocess.run([sys.executable, "-m", "bot", *argv], capture_output=True, check=False, env=env)
    for _ in range(repeat):
        start, cpu = time.perf_counter(), _children_cpu()
        subprocess.run([sys.executable, "-m", "bot", *argv], capture_output=True, check=False, env=env)
        walls.append(time.perf_counter() - start)
        cpus.append(_children_cpu() - cpu)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--upstream", type=Path, default=MIRROR, help="a MicroPython git directory")
    parser.add_argument("--rev", default="HEAD")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        # As installed for a user: bytecode cached (a warm-up run writes it, outside the tree).
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(temp) / "pycache")
        trees = {"fixture": fixture_checkout(Path(temp))}
        if args.upstream.exists():
            trees[f"upstream {args.rev}"] = upstream_checkout(Path(temp), args.upstream, args.rev)
        else:
            print(f"({args.upstream} not found: the real checkout is skipped)")
        print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")
        print(f"{'checkout':<16} {'command':<24} {'whole wall':>10} {'whole CPU':>10} {'in-process CPU':>15}")
        wall, cpu = whole(["--version"], args.repeat, env)
        print(f"{'-':<16} {'start-up (--version)':<24} {wall:10.0f} {cpu:10.0f} {'-':>15}")
        for name, repo in trees.items():
            for label, argv in commands(repo, "micropython/heapalloc.py").items():
                wall, cpu = whole(argv, args.repeat, env)
                own = in_process(argv, args.repeat)
                print(f"{name:<16} {label:<24} {wall:10.0f} {cpu:10.0f} {own:15.1f}")


if __name__ == "__main__":
    main_bench()
