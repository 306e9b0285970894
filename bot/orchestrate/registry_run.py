"""The run of `flake-bot registry` (its arguments: `bot.commands.registry`).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from datetime import date
from pathlib import Path

from bot.errors import InputError
from bot.orchestrate import app
from bot.registry import dump_registry
from bot.registry.scope import drift_workflow, sync_workflow
from bot.registry.source import CheckoutTree
from bot.registry.upstream import drift_all, read_all_upstream, sync_all


def _write_atomically(path: Path, text: str) -> None:
    """A crash half-way must not leave a truncated registry that every later command rejects."""
    temp: str | None = None
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, path)
    except OSError as exc:
        if temp is not None:
            Path(temp).unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write registry: {exc.strerror or exc}") from None


def run_sync(args: argparse.Namespace) -> int:
    as_of = args.as_of or date.today()
    tree = CheckoutTree(args.repo_dir)
    output = Path(args.output) if args.output else None
    existing = app.registry(output) if output is not None and output.exists() else None
    if args.workflow:
        text = dump_registry(sync_workflow(existing, read_all_upstream(tree, as_of), args.workflow, as_of))
    else:
        text = dump_registry(sync_all(existing, read_all_upstream(tree, as_of), as_of))
    if output is None:
        sys.stdout.write(text)
        return 0
    _write_atomically(output, text)
    print(f"{'updated' if existing else 'created'} {output}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    registry = app.registry(args.file)
    tree = CheckoutTree(args.repo_dir)
    when = args.as_of or date.today()
    if args.workflow:
        lines = drift_workflow(registry, read_all_upstream(tree, when), args.workflow, args.as_of)
    else:
        lines = drift_all(registry, read_all_upstream(tree, when), args.as_of)
    on = f" as of {args.as_of}" if args.as_of else ""
    if not lines:
        print(f"{registry.path}{on} agrees with {args.repo_dir}")
        return 0
    print(f"{registry.path}{on} differs from {args.repo_dir} ({len(lines)} differences):")
    for line in lines:
        print(f"  {line}")
    if args.as_of is None:
        command = sync_command(args.repo_dir, registry.path, args.workflow)
        print(f"to bring it up to date, run: {shlex.join(command)}")
    return 1


def sync_command(repo_dir: str, registry: str, workflow: str | None) -> list[str]:
    """The `registry sync` that makes `check` with the same arguments pass (it writes the file checked)."""
    scope = ["--workflow", workflow] if workflow else []
    return ["flake-bot", "registry", "sync", "--repo-dir", repo_dir, *scope, "-o", registry]
