"""Estimate what the action's image adds and how fast its entry point starts (not run by CI).

There is no Docker daemon on the machines this project is built on, so the image itself cannot be
built or timed here. This measures the part the project controls, with the script the Dockerfile
runs: `image/install.sh` into a fresh environment (the image's /opt/flake-bot), then reports

- the environment's size on disk (apparent bytes) and as a gzip-compressed tar, which is roughly
  the layer a runner pulls (Docker layers are gzip-compressed tars);
- the install's wall time (what a runner repeats on every run when it builds the Dockerfile, minus
  pulling the base image);
- the start time of `flake-bot --version` and of the offline triage of a bundled sample log from
  that environment (median of `--repeat` runs, wall and CPU).

The base image's own size is not measurable here; docs/action.md adds the published figure.

Usage: ``python bench/bench_image.py [--repeat 5]``
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import resource
import statistics
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "logs" / "coverage-flaky-and-real-failure.log"


def apparent_size(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def layer_size(path: Path) -> int:
    """Bytes of a gzip -6 tar of `path`, the compression Docker uses for layers."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        tar.add(path, arcname=path.name)
    return len(gzip.compress(raw.getvalue(), compresslevel=6))


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "flake-bot"
        start = time.perf_counter()
        subprocess.run(["sh", str(ROOT / "image" / "install.sh"), str(venv), str(ROOT)], check=True)
        install = time.perf_counter() - start
        print(f"install.sh: {install:.1f} s wall (includes downloading the locked wheels)")
        print(f"environment: {apparent_size(venv) / 1e6:.1f} MB on disk, "
              f"{layer_size(venv) / 1e6:.1f} MB as a gzip tar (the layer)")  # fmt: skip
        flake_bot = str(venv / "bin" / "flake-bot")
        triage = [flake_bot, "triage", "--log", str(SAMPLE), "--job", "coverage"]
        for name, command in (("flake-bot --version", [flake_bot, "--version"]), ("offline triage", triage)):
            runs = [timed(command) for _ in range(args.repeat)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            print(f"{name}: {wall:.2f} s wall, {cpu:.2f} s CPU (median of {args.repeat})")
    print(f"load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
