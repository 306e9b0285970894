"""The run of `flake-bot match` (its arguments: `bot.commands.match`).
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys

from bot.errors import InputError
from bot.orchestrate import app
from bot.records import Runner
from bot.registry import Registry
from bot.registry.model import shown


def run(args: argparse.Namespace) -> int:
    loaded = app.registry(args.registry)
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
    print(f"{answer.listing.value}: {answer.explanation}")
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
