"""Cross-check the bundled registry's history against upstream's git history (not run by CI).

For every commit of a MicroPython git repository that touches tools/ci.sh, tests/run-tests.py or
.github/workflows/ports_unix.yml (since `--since`), it reads those three files at that commit
(never executing them) and runs what `flake-bot registry check --as-of <the commit's UTC day>`
runs: the differences between that tree and the bundled entries in force on that day. It prints
how many commits agree, the time taken, and the first differences.

Usage: ``python bench/bench_history_check.py [--upstream GIT_DIR] [--since 2020-11-29] [--show 10]``
"""

from __future__ import annotations

import argparse
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.errors import FlakeBotError
from bot.registry import MemoryTree, load_registry
from bot.registry.upstream_sync import CI_SH, DEFAULT_WORKFLOW, RUN_TESTS, drift, read_upstream

MIRROR = Path("/work/.mirror/micropython+micropython/repo")
FILES = (CI_SH, RUN_TESTS, DEFAULT_WORKFLOW)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", type=Path, default=MIRROR, help="a MicroPython git directory")
    parser.add_argument("--since", default="2020-11-29")
    parser.add_argument("--show", type=int, default=10, help="commits with differences to print")
    args = parser.parse_args()
    git = ["git", "--git-dir", str(args.upstream)]
    log = subprocess.run(
        [*git, "log", "--format=%h %ct", f"--since={args.since}", "--", *FILES],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    registry = load_registry(None)
    start = time.perf_counter()
    checked = agree = 0
    shown = 0
    for rev, stamp in zip(log[::2], log[1::2], strict=True):
        files = {}
        for path in FILES:
            found = subprocess.run([*git, "show", f"{rev}:{path}"], capture_output=True, text=True)
            if found.returncode == 0:
                files[path] = found.stdout
        if len(files) < len(FILES):
            continue  # before the workflow or the script existed
        day = datetime.fromtimestamp(int(stamp), UTC).date()
        try:
            lines = drift(registry, read_upstream(MemoryTree(files, []), day), day)
        except FlakeBotError as exc:
            lines = [f"cannot read: {exc}"]
        checked += 1
        agree += not lines
        if lines and shown < args.show:
            shown += 1
            print(f"{rev} {day}:")
            for line in lines[:8]:
                print(f"    {line}")
    print(f"{agree}/{checked} commits agree with the bundled registry as of their UTC day "
          f"({time.perf_counter() - start:.1f} s, git show included)")


if __name__ == "__main__":
    main()
