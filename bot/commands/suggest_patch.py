"""`flake-bot suggest-patch`: the exclusion patch a maintainer would write, ready for `git apply`.

This module parses arguments only; the run is `bot.orchestrate.suggest_patch_run`.
"""

from __future__ import annotations

import argparse

from bot.orchestrate import suggest_patch_run
from bot.registry.patch import DEFAULT_EXCLUDE_REASON, DEFAULT_IGNORE_REASON, PatchStyle


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "suggest-patch",
        help="print a unified diff that ignores or excludes a flaky test in upstream's house style",
        description=(
            "Write a patch against a checkout: 'ignore' adds the test to flaky_tests_to_ignore in "
            "tests/run-tests.py (laid out as ruff format would, at the checkout's line length); "
            "'exclude' extends the --exclude of the ci.sh function the job runs, as the checkout's own "
            "workflow and ci.sh say. Prints nothing but an explanation when the test is already covered; "
            "refuses (exit 1) a patch that would exclude other tests too, duplicate the other mechanism, "
            "or target a test run-tests.py never runs."
        ),
    )
    parser.add_argument(
        "--repo-dir", required=True, metavar="DIR", help="path of the upstream checkout the patch is for"
    )
    parser.add_argument(
        "--test", required=True, metavar="PATH",
        help="test path relative to tests/, e.g. thread/thread_gc1.py"
    )
    parser.add_argument(
        "--job",
        required=True,
        action="append",
        dest="jobs",
        metavar="NAME",
        help="job the test flakes in (repeat for several); decides the platforms or the ci.sh function",
    )
    parser.add_argument(
        "--style",
        type=PatchStyle,
        choices=list(PatchStyle),
        default=PatchStyle.IGNORE,
        help="ignore (default) or exclude",
    )
    parser.add_argument(
        "--reason",
        help=f"reason to write (default: '{DEFAULT_IGNORE_REASON}' for ignore, '{DEFAULT_EXCLUDE_REASON}' "
        "for exclude, where a reason that does not say flaky is written 'is flaky: REASON' so that "
        "registry sync reads the exclusion as flaky)",
    )
    parser.add_argument(
        "--platform",
        action="append",
        dest="platforms",
        metavar="NAME",
        help="ignore style: sys.platform to ignore on (repeat for several), e.g. linux; default: the "
        "platforms of the jobs' runners (None only when that is every platform the covered workflows run "
        "tests on)",
    )
    parser.add_argument("--remove", action="store_true", help="write the reverse patch, for a stale entry")
    parser.add_argument(
        "--all-jobs",
        action="store_true",
        help="with --remove: accept that the removal also changes jobs not named with --job (an ignore "
        "entry applies to every job on a platform, an exclusion to every job running that ci.sh function)",
    )
    parser.add_argument(
        "--workflow",
        default=None,
        metavar="FILE",
        help="the workflow whose jobs --job names, as ports_qemu.yml, its path or its name; needed only "
        "when two covered workflows have a job of that name (default: looked up in all of them)",
    )
    parser.add_argument(
        "--registry",
        metavar="FILE",
        help="registry whose job mapping stands in when the checkout lacks the workflow or ci.sh "
        "(default: the bundled one)",
    )
    parser.set_defaults(func=suggest_patch_run.run)
