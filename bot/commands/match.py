"""`flake-bot match`: what the registry says about one failing test in one job."""

from __future__ import annotations

import argparse
import difflib
import json
import sys

from bot.commands._options import day
from bot.errors import InputError
from bot.records import Runner
from bot.registry import Registry, load_registry
from bot.registry.model import shown


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "match",
        help="judge one failing test in one job against the known-flaky registry",
        description=(
            "Say whether a failing test is a known flake in this job on that date, flaky only "
            "elsewhere, or new, and whether it should not have failed the job at all."
        ),
    )
    parser.add_argument(
        "--registry", metavar="FILE", help="registry file (default: the bundled MicroPython registry)"
    )
    parser.add_argument(
        "--job",
        required=True,
        help="job name as the GitHub jobs API reports it, e.g. qemu_arm or 'build_and_test_arm (sabrelite)'",
    )
    parser.add_argument(
        "--workflow",
        metavar="NAME",
        help="the job's workflow, by file or name (default: the one workflow the registry lists the job in)",
    )
    parser.add_argument(
        "--test", required=True, help="test path relative to tests/, e.g. thread/thread_gc1.py"
    )
    parser.add_argument(
        "--symptom", help="the failure's symptom as parse-log reports it, checked against known symptoms"
    )
    parser.add_argument(
        "--date",
        type=day,
        metavar="YYYY-MM-DD",
        help="day the job ran, YYYY-MM-DD (default: the registry's current state)",
    )
    parser.add_argument(
        "--runner",
        choices=[r.value for r in Runner],
        default=Runner.RUN_TESTS.value,
        help="test runner that reported the failure (the registry covers run-tests only)",
    )
    summary = parser.add_mutually_exclusive_group()
    summary.add_argument(
        "--ignored",
        dest="ignored",
        action="store_const",
        const=True,
        help="run-tests.py's summary listed the test under 'known-flaky failures (ignored)'",
    )
    summary.add_argument(
        "--not-ignored",
        dest="ignored",
        action="store_const",
        const=False,
        help="run-tests.py's summary listed the test under 'tests failed', so it failed the job "
        "(default: unknown, as for a FAIL line, which ignored tests print too)",
    )
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    loaded = load_registry(args.registry)
    # job names and runners are per workflow ("build" is a job of two of them)
    if args.workflow:
        registry = loaded.judging(args.workflow)
    else:
        owners = [s.file or s.name for s in loaded.sections() if args.job in s.jobs]
        if len(owners) > 1:
            raise InputError(
                f"job '{shown(args.job)}' is in {' and '.join(owners)}; add --workflow with one of them"
            )
        registry = loaded.section_of(args.job)
    answer = registry.match(
        args.job,
        args.test,
        symptom=args.symptom,
        when=args.date,
        runner=Runner(args.runner),
        ignored=args.ignored,
    )
    if registry.jobs and args.job not in registry.jobs:
        # Still answered (a job added upstream since is a real case), but a typo should show.
        print(f"flake-bot: warning: {_unknown(loaded, args.job)}", file=sys.stderr)
    if args.json:
        print(json.dumps(answer.to_json(), indent=2, ensure_ascii=True))
        return 0
    print(f"{answer.verdict.value}: {answer.explanation}")
    for entry in answer.entries:
        print(
            f"  - {entry.test!r} {entry.where()} {entry.dates()} ({entry.source or 'no source'}): "
            f"{entry.reason}"
        )
    return 0


def _unknown(registry: Registry, job: str) -> str:
    """The closest job names of every workflow the registry describes, with their workflow."""
    names = [(s.file or s.name, name) for s in registry.sections() for name in s.jobs]
    close = difflib.get_close_matches(job, [name for _, name in names], n=6, cutoff=0.5)
    near = [f"'{shown(name)}' ({file})" for c in dict.fromkeys(close) for file, name in names if name == c]
    hint = (
        f"closest: {', '.join(near)}"
        if near
        else f"it knows {len(names)} jobs in {len(registry.sections())} workflows"
    )
    return f"job '{shown(job)}' is not in the registry; {hint}"
