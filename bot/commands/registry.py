"""`flake-bot registry sync|check`: keep the known-flaky registry in step with upstream's files."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from datetime import date
from pathlib import Path

from bot.commands._options import day
from bot.errors import InputError
from bot.registry import dump_registry, load_registry
from bot.registry.scope import drift_workflow, sync_workflow
from bot.registry.source import CheckoutTree
from bot.registry.upstream import COVERED, drift_all, read_all_upstream, sync_all

_WORKFLOW_HELP = (
    "only this workflow's jobs and the entries they can meet (exclusions in the ci.sh functions, "
    "Makefiles and run lines they use, and every ignore entry), as a file name (ports_qemu.yml) or "
    f"its path; the rest of the registry is left as it is. Default: every covered workflow "
    f"({', '.join(COVERED)}) the checkout has"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "registry",
        help="create, update or check the known-flaky registry against a checkout",
        description=(
            "Read tools/ci.sh (--exclude lists), the covered workflows (jobs -> ci.sh functions, Makefiles "
            "or run lines, runner OS), the ports' test Makefiles and tests/run-tests.py "
            "(flaky_tests_to_ignore) of a checkout, and sync or check a registry file."
        ),
    )
    actions = parser.add_subparsers(dest="registry_action", metavar="ACTION", required=True)

    sync = actions.add_parser(
        "sync",
        help="create or update a registry from a checkout, keeping hand-written fields",
        description=(
            "Bring a registry up to date with a checkout. Entries gone upstream are closed with 'until' "
            "(kept for older logs); new ones start on --as-of; symptoms, links and notes are kept."
        ),
    )
    sync.add_argument(
        "--repo-dir", required=True, metavar="DIR", help="path of the upstream checkout to read"
    )
    sync.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="registry file to update in place (created if missing); default: print to stdout",
    )
    sync.add_argument("--workflow", default=None, metavar="FILE", help=_WORKFLOW_HELP)
    sync.add_argument(
        "--as-of",
        type=day,
        default=None,
        metavar="YYYY-MM-DD",
        help=(
            "date of the checkout's state, YYYY-MM-DD: 'since' of new entries, 'until' of removed ones "
            "(default today)"
        ),
    )
    sync.set_defaults(func=run_sync)

    check = actions.add_parser(
        "check",
        help="report drift between a registry and a checkout (exit 1 if they disagree)",
        description=(
            "Exit 0 when the registry's current entries and jobs agree with the checkout, "
            "1 with a report when not."
        ),
    )
    check.add_argument(
        "--repo-dir", required=True, metavar="DIR", help="path of the upstream checkout to read"
    )
    check.add_argument(
        "file", nargs="?", metavar="FILE", help="registry file (default: the bundled MicroPython registry)"
    )
    check.add_argument("--workflow", default=None, metavar="FILE", help=_WORKFLOW_HELP)
    check.add_argument(
        "--as-of",
        type=day,
        default=None,
        metavar="YYYY-MM-DD",
        help=(
            "the checkout's date, for an older tree: compare with the entries in force that day "
            "(jobs are not compared; the registry keeps only today's); default: the current entries"
        ),
    )
    check.set_defaults(func=run_check)


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
    existing = load_registry(output) if output is not None and output.exists() else None
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
    registry = load_registry(args.file)
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
