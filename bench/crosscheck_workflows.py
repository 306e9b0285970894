"""Cross-check the bundled registry's non-unix workflows with upstream's history (not run by CI).

For every first-parent upstream commit since --since that touches a file the readers use (ci.sh,
run-tests.py, the covered workflows, the qemu/windows/webassembly/zephyr Makefiles and board
files), it reads that commit with the same readers `registry sync` uses and compares what they
find with the bundled registry *as of that commit's UTC day*:

- the Makefile / board-file / workflow-run-line exclusions in force (test pattern and place);
- at the newest commit, the jobs of every covered workflow (names, runner OS, places), which the
  registry keeps only in their current form.

A commit that landed earlier on the same UTC day as a change disagrees by construction (dates are
per day); those are reported apart. With --timeline it prints when each exclusion appeared and
disappeared instead, which is how the bundled entries' dates were derived.

Usage: ``python bench/crosscheck_workflows.py --mirror /path/to/micropython.git [--since 2024-06-01]``
(a bare clone or a checkout's .git; nothing is checked out).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.errors import InputError  # noqa: E402
from bot.registry import load_registry  # noqa: E402
from bot.registry.model import Registry  # noqa: E402
from bot.registry.upstream import read_all_upstream  # noqa: E402

PATHS = [
    "tools/ci.sh",
    "tests/run-tests.py",
    ".github/workflows/ports_qemu.yml",
    ".github/workflows/ports_windows.yml",
    ".github/workflows/ports_webassembly.yml",
    ".github/workflows/ports_zephyr.yml",
    "ports/qemu",
    "ports/windows/Makefile",
    "ports/webassembly/Makefile",
    "ports/zephyr",
]


class GitTree:
    """One commit of a git directory, read with a single `git cat-file --batch` process."""

    def __init__(self, batch: subprocess.Popen[bytes], commit: str) -> None:
        self.batch, self.commit = batch, commit

    def read_text(self, path: str) -> str:
        assert self.batch.stdin is not None and self.batch.stdout is not None
        self.batch.stdin.write(f"{self.commit}:{path}\n".encode())
        self.batch.stdin.flush()
        header = self.batch.stdout.readline().split()
        if len(header) < 3 or header[1] != b"blob":
            raise InputError(f"{path}: not in {self.commit[:10]}")
        data = self.batch.stdout.read(int(header[2]) + 1)[:-1]
        return data.decode("utf-8")

    def test_paths(self) -> Iterable[str]:
        return []


Fact = tuple[str, str]  # (test pattern, place)


def registry_facts(registry: Registry, day: date) -> set[Fact]:
    return {(e.test, p) for e in registry.entries if e.places and e.active_on(day) for p in e.places}


def upstream_facts(upstream: Registry) -> set[Fact]:
    return {(e.test, p) for e in upstream.entries if e.places for p in e.places}


def job_facts(registry: Registry) -> set[tuple[str, str, str, tuple[str, ...]]]:
    return {(s.file, n, j.os, j.places) for s in registry.sections()[1:] for n, j in s.jobs.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", required=True, help="git directory of upstream MicroPython")
    parser.add_argument("--since", default="2024-06-01")
    parser.add_argument("--rev", default="HEAD")
    parser.add_argument("--registry", default=None, help="registry file (default: the bundled one)")
    parser.add_argument("--timeline", action="store_true", help="print when each exclusion came and went")
    args = parser.parse_args()
    git = ["git", "-C", args.mirror]
    log = subprocess.run(
        [
            *git,
            "log",
            "--first-parent",
            "--reverse",
            "--format=%H %ct",
            f"--since={args.since}",
            args.rev,
            "--",
            *PATHS,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    commits = [
        (c, datetime.fromtimestamp(int(t), UTC).date()) for c, t in (line.split() for line in log if line)
    ]
    registry = load_registry(args.registry)
    batch = subprocess.Popen([*git, "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    started = time.perf_counter()
    agree = same_day = 0
    disagree: list[str] = []
    seen: dict[Fact, tuple[date, str, str]] = {}
    gone: dict[Fact, date] = {}
    previous: set[Fact] = set()
    upstream = None
    for index, (commit, day) in enumerate(commits):
        tree = GitTree(batch, commit)
        try:
            upstream = read_all_upstream(tree, day)
        except InputError as exc:
            disagree.append(f"{commit[:10]} {day}: unreadable: {exc}")
            continue
        theirs = upstream_facts(upstream)
        for fact in theirs - previous:
            entry = next(e for e in upstream.entries if e.places and (e.test, e.places[0]) == fact)
            seen.setdefault(fact, (day, commit[:10], entry.source))
            gone.pop(fact, None)
        for fact in previous - theirs:
            gone[fact] = day
        previous = theirs
        mine = registry_facts(registry, day)
        if mine == theirs:
            agree += 1
            continue
        later_same_day = any(d == day for _, d in commits[index + 1 :])
        if later_same_day:
            same_day += 1
            continue
        missing, extra = sorted(theirs - mine), sorted(mine - theirs)
        disagree.append(f"{commit[:10]} {day}: upstream only {missing}; registry only {extra}")
    batch.stdin.close()  # type: ignore[union-attr]
    batch.wait()
    if args.timeline:
        for fact, (day, commit, source) in sorted(seen.items(), key=lambda item: item[1][0]):
            until = gone.get(fact)
            print(
                f"{fact[0]!r} in {fact[1]}: since {day} ({commit}, {source})"
                + (f" until {until}" if until else "")
            )
        return 0
    if upstream is not None:
        head_jobs, our_jobs = job_facts(upstream), job_facts(registry)
        print(
            f"jobs at {commits[-1][0][:10]}: {len(head_jobs)} upstream, {len(our_jobs)} in the registry, "
            f"{'agree' if head_jobs == our_jobs else 'DIFFER: ' + str(sorted(head_jobs ^ our_jobs))}"
        )
    print(
        f"{len(commits)} commits since {args.since}: {agree} agree, {same_day} earlier on the day of a "
        f"change, {len(disagree)} disagree ({time.perf_counter() - started:.1f} s)"
    )
    for line in disagree:
        print("  " + line)
    return 0 if not disagree else 1


if __name__ == "__main__":
    sys.exit(main())
