"""Do the registry commands change only what they were asked about, on a real upstream tree? (issue 20)

Against a checkout of micropython/micropython (made from a git mirror with `git archive` into a
temporary directory, never committed) and the bundled registry (or --registry), it measures:

1. `registry check --workflow W` for each covered workflow: exit code and differences.
2. `registry sync --workflow W -o COPY` for each W, then `registry check` of the whole COPY: exit
   code, and whether COPY still holds the same registry (YAML comments and quoting aside, which
   sync never keeps) as before.
3. For one test-running job of each workflow, every `flaky_tests_to_ignore` entry at that tree:
   `suggest-patch --remove` when the entry ignores the test in that job, else `suggest-patch`
   (widen); a removal reaching jobs not named is counted as refused and then written with
   --all-jobs. Each patch is applied with `git apply`, the tree is read back as `registry sync`
   reads it, and the jobs whose failures of the test are ignored before and after are compared
   with the jobs the patch says it changes: they must be the same set, and every job outside the
   one named must be counted in the explanation. The ci.sh `--exclude` entries in force for the
   job are removed the same way (--style exclude).

Usage: ``python bench/bench_registry_scope.py --mirror /path/to/micropython.git [--rev 1c3c201149]``
or ``--checkout DIR`` for a tree already on disk (e.g. tests/data/five-workflows after
`make_five_checkout`). Prints one line per measurement and a summary; exit 1 if any check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.cli import main  # noqa: E402
from bot.errors import FlakeBotError  # noqa: E402
from bot.registry import CheckoutTree, Registry, load_registry  # noqa: E402
from bot.registry.ci_sh import read_ci_sh  # noqa: E402
from bot.registry.model import Mechanism  # noqa: E402
from bot.registry.patch import PatchRefused, PatchStyle, suggest_patch  # noqa: E402
from bot.registry.platforms import SuiteJob, reaches  # noqa: E402
from bot.registry.run_tests_py import read_ignore_dict  # noqa: E402
from bot.registry.upstream import COVERED, read_all_upstream, read_sections, runs_run_tests  # noqa: E402
from bot.registry.upstream_sync import CI_SH, RUN_TESTS  # noqa: E402

DAY = date(2026, 8, 19)
#: The job of each workflow the patches are written for (the first test-running one if absent).
JOBS = {
    "ports_unix.yml": "macos",
    "ports_qemu.yml": "build_and_test_arm (sabrelite)",
    "ports_windows.yml": "build-mingw (dev, mingw64, x86_64)",
    "ports_webassembly.yml": "build",
    "ports_zephyr.yml": "build",
}


def quiet(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(argv)
    return code, out.getvalue()


@contextlib.contextmanager
def checkout(args: argparse.Namespace) -> Iterator[Path]:
    if args.checkout:
        yield Path(args.checkout)
        return
    with tempfile.TemporaryDirectory(prefix="bench-scope-") as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        archive = subprocess.run(
            ["git", "--git-dir", args.mirror, "archive", args.rev], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        yield tree


def suite(tree: Path) -> list[SuiteJob]:
    script = read_ci_sh((tree / CI_SH).read_text(), CI_SH)
    return [
        SuiteJob(s.file, name, spec.os)
        for s in read_sections(CheckoutTree(tree), script)
        for name, spec in s.jobs.items()
        if runs_run_tests(spec)
    ]


def ignored_in(tree: Path, test: str, jobs: list[SuiteJob]) -> set[str]:
    """Read back as `registry sync` reads the tree: the jobs whose failures of `test` are ignored."""
    read = read_all_upstream(CheckoutTree(tree), DAY)
    entry = next((e for e in read.entries if e.mechanism is Mechanism.IGNORE and e.test == test), None)
    platforms = entry.platforms if entry is not None else ()
    return {j.label() for j in jobs if reaches(platforms, j)}


def runs_in(tree: Path, registry: Registry, test: str, jobs: list[SuiteJob]) -> set[str]:
    """Read back: the jobs (by their ci.sh functions) in which run-tests.py leaves `test` out."""
    read = read_all_upstream(CheckoutTree(tree), DAY)
    out = set()
    for job in jobs:
        section = read.for_workflow(job.workflow)
        if section is not None and not section.runs_test(job.name, test):
            out.add(job.label())
    return out


def patch_round(tree: Path, registry: Registry, workflow: str, job: str, jobs: list[SuiteJob]) -> list[str]:
    """Every ignore entry (and ci.sh exclusion) for one job, applied and read back; problems found."""
    problems: list[str] = []
    text = (tree / RUN_TESTS).read_text()
    ci = (tree / CI_SH).read_text()
    found = read_ignore_dict(text, RUN_TESTS)
    me = next(j for j in jobs if j.workflow == workflow and j.name == job)
    cases: list[tuple[str, PatchStyle, bool]] = [
        (item.test, PatchStyle.IGNORE, reaches(item.platforms, me)) for item in (found.items if found else [])
    ]
    section = read_all_upstream(CheckoutTree(tree), DAY).for_workflow(workflow)
    assert section is not None
    spec = section.job(job)
    paths = sorted(CheckoutTree(tree).test_paths())
    for entry in section.entries:
        in_force = entry.mechanism is Mechanism.EXCLUDE and entry.functions and entry.active_on(None)
        if in_force and entry.covers(spec):  # a ci.sh exclusion: remove it for the first test it matches
            test = next((t for t in paths if entry.matches_test(t)), None)
            if test is not None:
                cases.append((test, PatchStyle.EXCLUDE, True))
    counts = {
        "removed": 0,
        "refused then --all-jobs": 0,
        "widened": 0,
        "nothing to do": 0,
        "other refusal": 0,
    }
    for test, style, remove in cases:
        read = ignored_in if style is PatchStyle.IGNORE else lambda t, x, j: runs_in(t, registry, x, j)
        before = read(tree, test, jobs)
        kwargs = {"test": test, "jobs": [job], "style": style, "remove": remove, "workflow": workflow}
        try:
            result = suggest_patch(CheckoutTree(tree), registry, **kwargs)  # type: ignore[arg-type]
            counts["removed" if remove else "widened"] += 1
        except PatchRefused as exc:
            if "--all-jobs" not in str(exc):
                counts["other refusal"] += 1
                print(f"    {style.value} {'--remove ' if remove else ''}{test}: refused: {exc}")
                continue
            counts["refused then --all-jobs"] += 1
            result = suggest_patch(CheckoutTree(tree), registry, all_jobs=True, **kwargs)  # type: ignore[arg-type]
        if result.diff is None:
            counts["nothing to do"] += 1
            continue
        subprocess.run(["git", "apply", "-"], input=result.diff, text=True, cwd=tree, check=True)
        after = read(tree, test, jobs)
        (tree / RUN_TESTS).write_text(text)
        (tree / CI_SH).write_text(ci)
        changed = before ^ after
        if changed != set(result.jobs):
            problems.append(f"{workflow} {job} {test}: changed {sorted(changed)}, patch says {result.jobs}")
        others = changed - {me.label()}
        said = re.search(r"also (?:stops ignoring|ignores) it in ([^(]*) \(", result.message)
        told = sum(int(n) for n in re.findall(r"(\d+) \w+ jobs?", said.group(1))) if said else 0
        if style is PatchStyle.IGNORE and told != len(others):
            problems.append(
                f"{workflow} {job} {test}: {len(others)} other jobs change, message counts {told}"
            )
    print(
        f"  patches for {job!r} ({workflow}): {len(cases)} entries; "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    return problems


def run(args: argparse.Namespace) -> int:
    registry_file = Path(args.registry) if args.registry else None
    registry = load_registry(registry_file)
    problems: list[str] = []
    with checkout(args) as tree, tempfile.TemporaryDirectory(prefix="bench-scope-reg-") as scratch:
        original = Path(scratch) / "registry.yml"
        shutil.copyfile(registry.path, original)
        present = [w for w in COVERED if (tree / ".github/workflows" / w).exists()]
        print(f"tree {args.checkout or args.rev}: workflows {', '.join(present)}")
        for workflow in present:
            started = time.perf_counter()
            code, out = quiet(
                ["registry", "check", "--repo-dir", str(tree), "--workflow", workflow, str(original)]
            )
            lines = [line for line in out.splitlines() if line.startswith("  ")]
            print(
                f"  check --workflow {workflow}: exit {code}, {len(lines)} differences "
                f"({time.perf_counter() - started:.2f} s)"
            )
            problems += [f"check --workflow {workflow}: {line.strip()}" for line in lines]
        for workflow in present:
            copy = Path(scratch) / f"synced-{workflow}"
            shutil.copyfile(original, copy)
            sync_code, _ = quiet(
                ["registry", "sync", "--repo-dir", str(tree), "--workflow", workflow, "-o", str(copy)]
            )
            check_code, out = quiet(["registry", "check", "--repo-dir", str(tree), str(copy)])
            same = load_registry(copy) == load_registry(original)
            print(
                f"  sync --workflow {workflow} -o copy: exit {sync_code}; check (all): exit {check_code}; "
                f"same registry: {same}"
            )
            if check_code != 0 or not same:
                problems.append(f"sync --workflow {workflow}: check {check_code}, same {same}")
        jobs = suite(tree)
        sections = {w: {j.name for j in jobs if j.workflow == w} for w in present}
        for workflow in present:
            job = JOBS.get(workflow, "")
            if job not in sections[workflow]:
                job = sorted(sections[workflow])[0] if sections[workflow] else ""
            if not job:
                continue
            try:
                problems += patch_round(tree, registry, workflow, job, jobs)
            except FlakeBotError as exc:
                problems.append(f"{workflow} {job}: {exc}")
    print(f"problems: {len(problems)}")
    for line in problems[:30]:
        print(f"  {line}")
    return 1 if problems else 0


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--mirror", help="a micropython git dir (bare clone or .git); nothing is checked out there"
    )
    where.add_argument("--checkout", help="an upstream-shaped tree on disk instead")
    parser.add_argument(
        "--rev", default="1c3c201149", help="the commit to read (default: the bundled registry's)"
    )
    parser.add_argument("--registry", help="registry file (default: the bundled one)")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(run(parse()))
