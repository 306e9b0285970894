"""The run of `flake-bot suggest-patch` (its arguments: `bot.commands.suggest_patch`).
"""

from __future__ import annotations

import argparse
import sys

from bot.orchestrate import app
from bot.registry.patch import suggest_patch
from bot.registry.source import CheckoutTree


def run(args: argparse.Namespace) -> int:
    result = suggest_patch(
        CheckoutTree(args.repo_dir),
        app.registry(args.registry),
        test=args.test,
        jobs=args.jobs,
        style=args.style,
        reason=args.reason,
        remove=args.remove,
        platforms=args.platforms,
        workflow=args.workflow,
        all_jobs=args.all_jobs,
    )
    print(result.message, file=sys.stderr)
    if result.diff:
        sys.stdout.write(result.diff)
    return 0
