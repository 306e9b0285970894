"""Write the exclusion patch a maintainer would write, as a unified diff that `git apply` accepts.

Two styles, both in upstream's house style: a `flaky_tests_to_ignore` entry in
`tests/run-tests.py` (the test still runs, failures are ignored on the given platforms), laid
out as `ruff format` lays it out at the checkout's line length because upstream's CI checks
that, or an extension of the `--exclude` regex of the ci.sh function a job runs plus a
`# - path reason` bullet that says flaky, so that `registry sync` reads the patch back as a
flaky exclusion. Which function a job runs, and on which OS, comes from the checkout's own
workflow and ci.sh (a fork or an older tree may differ from the registry). Test names and
reasons usually come from logs, which fork PRs control, so both are validated against a strict
allow-list before they reach a patch. Every edit is re-checked the way run-tests.py applies
filters: the new regex must exclude the test and nothing else that exists in the checkout's
tests/ tree, or the patch is refused; so is a patch that would be redundant with the other
mechanism or aimed at a test run-tests.py never runs.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from bot.errors import FlakeBotError, InputError
from bot.registry.ci_sh import (
    CiScript,
    Invocation,
    ShellFunction,
    bullet_for,
    bullets_naming,
    excluded,
    expand,
    line_filters,
    read_ci_sh,
    says_flaky,
    split_alternatives,
)
from bot.registry.model import JobSpec, Registry, shown
from bot.registry.run_tests_py import IGNORE_DICT, IgnoreDict, IgnoreItem, read_ignore_dict
from bot.registry.source import SourceTree
from bot.registry.upstream_sync import CI_SH, DEFAULT_WORKFLOW, RUN_TESTS, read_jobs

_TEST_PATH_RE = re.compile(r"(?:[A-Za-z0-9_][A-Za-z0-9_-]*/)+[A-Za-z0-9_][A-Za-z0-9_-]*\.py\Z", re.ASCII)
_REASON_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9 _.,:;/()+=%@-]*\Z", re.ASCII)
_PLATFORM_RE = re.compile(r"[a-z][a-z0-9]{0,19}\Z", re.ASCII)
MAX_TEST_PATH = 200
MAX_REASON = 100
DEFAULT_IGNORE_REASON = "intermittent failure in CI"
DEFAULT_EXCLUDE_REASON = "is flaky"
RUFF_DEFAULT_LINE_LENGTH = 88
#: Where ruff looks for its settings in a directory, highest precedence first.
RUFF_CONFIGS = (".ruff.toml", "ruff.toml", "pyproject.toml")
#: Test directories of other runners: neither an --exclude nor flaky_tests_to_ignore reaches them.
_OTHER_RUNNERS = {"perf_bench": "run-perfbench.py", "internal_bench": "run-internalbench.py"}
_MOVED_ON = "2026-03-11"  # upstream PR #18861 moved flaky tests from ci.sh to flaky_tests_to_ignore


class PatchStyle(StrEnum):
    """How a patch keeps a flaky test from failing a job."""

    IGNORE = "ignore"  # a flaky_tests_to_ignore entry in tests/run-tests.py: it runs, its failure is ignored
    EXCLUDE = "exclude"  # a run-tests.py --exclude filter in tools/ci.sh: it does not run at all


class PatchRefused(FlakeBotError):
    """The patch would do something other than asked (e.g. exclude more tests); exit status 1."""


@dataclass(frozen=True)
class PatchResult:
    diff: str | None
    message: str
    changed: bool


def validate_test_path(test: str) -> str:
    """A test path as run-tests.py prints it, e.g. thread/thread_gc1.py; nothing else reaches a patch."""
    if len(test) > MAX_TEST_PATH or not _TEST_PATH_RE.match(test):
        raise InputError(
            f"'{shown(test, 60)}' is not a MicroPython test path (expected dir/name.py made of letters, "
            "digits, _ and -)"
        )
    return test


def validate_platforms(platforms: Sequence[str]) -> tuple[str, ...]:
    """`sys.platform` names such as linux, darwin, win32: they are written into the patch verbatim."""
    for name in platforms:
        if not _PLATFORM_RE.match(name):
            raise InputError(
                f"'{shown(name, 30)}' is not a sys.platform name (lower-case letters and digits, e.g. linux)"
            )
    if not platforms:
        raise InputError("name at least one platform")
    return tuple(sorted(set(platforms)))


def validate_reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) > MAX_REASON or not _REASON_RE.match(reason):
        raise InputError(
            f"the reason must be 1-{MAX_REASON} characters of letters, digits, spaces and .,:;/()+=%@- "
            "(no quotes, backslashes, $ or newlines)"
        )
    return reason


@dataclass
class _Edits:
    """Line edits on one file, by 1-based line number, applied all at once."""

    lines: list[str]
    replace: dict[int, str] = field(default_factory=dict)
    delete: set[int] = field(default_factory=set)
    insert_after: dict[int, list[str]] = field(default_factory=dict)

    def text(self) -> str:
        out: list[str] = []
        out.extend(self.insert_after.get(0, []))
        for number, line in enumerate(self.lines, start=1):
            if number not in self.delete:
                out.append(self.replace.get(number, line))
            out.extend(self.insert_after.get(number, []))
        return "".join(out)

    def empty(self) -> bool:
        return not (self.replace or self.delete or self.insert_after)


def unified_diff(path: str, before: str, after: str) -> str:
    """A git-style unified diff with `a/`/`b/` paths, marking a missing final newline as git does."""
    out = []
    for line in difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    ):
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)


@dataclass(frozen=True)
class _Checkout:
    """The checkout's job -> ci.sh functions map (and runner OS), and where it was read."""

    jobs: Mapping[str, JobSpec]
    origin: str
    note: str = ""  # why the map is not the checkout's own


@dataclass(frozen=True)
class _Request:
    """One validated request, shared by every operation below."""

    test: str
    jobs: tuple[str, ...]
    checkout: _Checkout
    reason: str | None
    remove: bool
    chosen: tuple[str, ...] | None  # --platform, ignore style only

    @property
    def where(self) -> str:
        return ", ".join(self.jobs)

    def oses(self) -> set[str]:
        return {self.checkout.jobs[job].os for job in self.jobs}

    def universe(self) -> set[str]:
        """Every runner OS of the workflow: how far `None` reaches among the jobs flake-bot sees."""
        return {spec.os for spec in self.checkout.jobs.values() if spec.os != "unknown"}


def _optional_text(tree: SourceTree, path: str) -> str | None:
    """A file the patch can do without (missing from a tarball, or not fetched by the action)."""
    try:
        return tree.read_text(path)
    except FlakeBotError:
        return None


def _read_checkout(tree: SourceTree, registry: Registry, workflow: str, script: CiScript | None) -> _Checkout:
    """The checkout's own workflow says which ci.sh functions a job runs; the registry's copy is
    only a fallback for a tree that lacks one of the two files."""
    text = _optional_text(tree, workflow) if script is not None else None
    if script is not None and text is not None:
        _, jobs = read_jobs(script, text, workflow)
        return _Checkout(jobs, workflow)
    missing = workflow if script is not None else CI_SH
    return _Checkout(
        registry.jobs,
        "the registry",
        f"the checkout has no readable {missing}, so the jobs are the registry's",
    )


def _refuse_other_runner(test: str) -> None:
    top = test.split("/", 1)[0]
    runner = "run-multitests.py" if top.startswith("multi_") else _OTHER_RUNNERS.get(top)
    if runner is not None:
        raise PatchRefused(
            f"{test} is run by {runner}, not by run-tests.py: neither an --exclude in {CI_SH} nor "
            f"{IGNORE_DICT} applies to it"
        )
    if top == "feature_check":
        raise PatchRefused(f"{test} is a feature probe run-tests.py uses, not a test")


def suggest_patch(
    tree: SourceTree,
    registry: Registry,
    *,
    test: str,
    jobs: Sequence[str],
    style: PatchStyle = PatchStyle.IGNORE,
    reason: str | None = None,
    remove: bool = False,
    platforms: Sequence[str] | None = None,
    workflow: str = DEFAULT_WORKFLOW,
) -> PatchResult:
    """The patch that makes `test` excluded/ignored in `jobs` (or stops it being, with `remove`).

    `jobs` are read from `workflow` and ci.sh in `tree`; `registry` stands in only when the
    tree lacks one of them. `platforms` (ignore style only) names the `sys.platform`s to add or
    take away instead of those derived from the jobs, e.g. ("linux",) where None would also
    cover macOS.
    """
    test = validate_test_path(test)
    if reason is not None:
        reason = validate_reason(reason)
    chosen = validate_platforms(platforms) if platforms is not None else None
    if chosen is not None and style != PatchStyle.IGNORE:
        raise InputError("platforms apply to --style ignore only; an exclusion is per ci.sh function")
    if not jobs:
        raise InputError("name at least one job")
    if not remove:
        _refuse_other_runner(test)
    ci_text = tree.read_text(CI_SH) if style == PatchStyle.EXCLUDE else _optional_text(tree, CI_SH)
    script = read_ci_sh(ci_text, CI_SH) if ci_text is not None else None
    checkout = _read_checkout(tree, registry, workflow, script)
    for job in jobs:
        if job not in checkout.jobs:
            names = sorted(checkout.jobs)
            listed = ", ".join(shown(n, 40) for n in names[:40]) + (" ..." if len(names) > 40 else "")
            raise InputError(f"unknown job '{shown(job, 60)}'; {checkout.origin} has: {listed or 'no jobs'}")
    request = _Request(test, tuple(dict.fromkeys(jobs)), checkout, reason, remove, chosen)
    if style == PatchStyle.IGNORE:
        result = _ignore_patch(tree, request, script)
    else:
        assert script is not None and ci_text is not None
        result = _exclude_patch(tree, request, script, ci_text)
    if checkout.note:
        return PatchResult(result.diff, f"{result.message} (Note: {checkout.note}.)", result.changed)
    return result


# ---- flaky_tests_to_ignore ------------------------------------------------------------------


def ruff_line_length(tree: SourceTree) -> int:
    """The line length `ruff format` uses for the checkout (upstream: 99 in pyproject.toml).

    Only the repository root is read: upstream keeps its one ruff configuration there.
    """
    for name in RUFF_CONFIGS:
        text = _optional_text(tree, name)
        if text is None:
            continue
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            continue
        tool = data.get("tool")
        section = data if name != "pyproject.toml" else tool.get("ruff") if isinstance(tool, dict) else None
        if not isinstance(section, dict):
            continue  # a pyproject.toml without [tool.ruff] is not a ruff configuration
        value = section.get("line-length")
        return value if isinstance(value, int) and 1 <= value <= 320 else RUFF_DEFAULT_LINE_LENGTH
    return RUFF_DEFAULT_LINE_LENGTH


def _platforms_text(platforms: tuple[str, ...] | None, quote: str) -> str:
    if platforms is None:
        return "None"
    items = ", ".join(f"{quote}{p}{quote}" for p in platforms)
    return f"({items},)" if len(platforms) == 1 else f"({items})"


@dataclass(frozen=True)
class _DictStyle:
    """How the dict's entries are written: quote, indentation and ruff's line length."""

    quote: str
    indent: str
    width: int

    def quoted(self, text: str) -> str:
        return f"{self.quote}{text}{self.quote}"

    def entry(
        self,
        key: str,
        reason: str,
        platforms: tuple[str, ...] | None,
        suffix: str = ",\n",
        split: bool = False,
    ) -> str:
        """One entry as `ruff format` leaves it: on one line if that fits, else the value's items
        one per line with trailing commas (which ruff then keeps split: they are "magic")."""
        value = _platforms_text(platforms, self.quote)
        one = f"{self.indent}{key}: ({reason}, {value})"
        if not split and len(one + suffix.rstrip("\r\n")) <= self.width:  # a trailing comment counts
            return one + suffix
        inner = self.indent + "    "
        if platforms is not None and len(f"{inner}{value},") > self.width:
            items = "".join(f"{inner}    {self.quoted(p)},\n" for p in platforms)
            value = f"(\n{items}{inner})"
        return f"{self.indent}{key}: (\n{inner}{reason},\n{inner}{value},\n{self.indent}){suffix}"


def _covers(platforms: tuple[str, ...] | None, oses: set[str]) -> bool:
    return platforms is None or oses <= set(platforms)


def _on(platforms: tuple[str, ...] | None) -> str:
    """Where an entry applies, in words: the diff says None, the message says what that means."""
    if platforms is None:
        return "on every platform (every job of every workflow)"
    return "on " + ", ".join(platforms)


def _platforms_for(request: _Request) -> tuple[str, ...] | None:
    """`flaky_tests_to_ignore` platforms covering exactly the jobs' runners: any Linux job means
    every platform (None), since the dict cannot tell one Linux job from another."""
    if request.chosen is not None:
        return request.chosen
    for job in request.jobs:
        if request.checkout.jobs[job].os == "unknown":
            raise InputError(f"the runner OS of job {shown(job, 60)!r} is unknown; name it with --platform")
    oses = request.oses()
    return None if "linux" in oses else tuple(sorted(oses))


def _jobs_excluding(script: CiScript | None, request: _Request) -> list[str]:
    """Jobs whose every run-tests.py command in ci.sh already leaves the test out."""
    if script is None:
        return []
    out = []
    for job in request.jobs:
        invocations = [
            invocation
            for name in request.checkout.jobs[job].functions
            if (function := script.functions.get(name)) is not None
            for invocation in function.invocations
        ]
        if invocations and all(
            excluded([(f.action, f.pattern) for f in i.filters], request.test) for i in invocations
        ):
            out.append(job)
    return out


def _ignore_patch(tree: SourceTree, request: _Request, script: CiScript | None) -> PatchResult:
    before = tree.read_text(RUN_TESTS)
    found = read_ignore_dict(before, RUN_TESTS)
    if found is None:
        raise PatchRefused(f"{RUN_TESTS} has no {IGNORE_DICT} dict (an older tree?); use --style exclude")
    edits = _Edits(before.splitlines(keepends=True))
    existing = next((item for item in found.items if item.test == request.test), None)
    oses = request.oses()
    if request.chosen is not None:
        uncovered = sorted(j for j in request.jobs if request.checkout.jobs[j].os not in request.chosen)
        if uncovered and not request.remove:
            raise InputError(
                f"platform(s) {', '.join(request.chosen)} do not include the runner of {', '.join(uncovered)}"
            )
        oses = set(request.chosen)
    style = _dict_style(edits.lines, found, tree)
    if request.remove:
        message = _ignore_remove(edits, style, request, existing, oses)
    elif existing is None:
        message = _ignore_add(edits, style, request, found, tree)
    else:
        message = _ignore_update(edits, style, request, existing, oses)
    notes = _redundant_with_exclusions(script, request, refuse=not edits.empty())
    message = " ".join([message, *notes])
    if edits.empty():
        return PatchResult(None, message, False)
    after = edits.text()
    _check_ignore(after, found, len(edits.lines), request, oses)
    return PatchResult(unified_diff(RUN_TESTS, before, after), message, True)


def _redundant_with_exclusions(script: CiScript | None, request: _Request, *, refuse: bool) -> list[str]:
    """An ignore entry for a test that ci.sh already keeps from running changes nothing there."""
    excluding = [] if request.remove else _jobs_excluding(script, request)
    if refuse and excluding and len(excluding) == len(request.jobs):
        raise PatchRefused(
            f"{request.test} is already excluded in {CI_SH} for {', '.join(excluding)}, so it does not "
            f"run there and ignoring its failures would change nothing; to move it to {IGNORE_DICT} as "
            f"upstream did on {_MOVED_ON}, also apply the --style exclude --remove patch"
        )
    if excluding:
        return [f"It does not run in {', '.join(excluding)} anyway: {CI_SH} excludes it there."]
    return []


def _ignore_add(
    edits: _Edits, style: _DictStyle, request: _Request, found: IgnoreDict, tree: SourceTree
) -> str:
    _require_known(tree, request.test)
    if edits.lines[found.end - 1].strip() != "}":
        raise PatchRefused(
            f"{RUN_TESTS}:{found.end}: the {IGNORE_DICT} dict does not end on a line of its own"
        )
    text = request.reason or DEFAULT_IGNORE_REASON
    wanted = _platforms_for(request)
    entry = style.entry(style.quoted(request.test), style.quoted(text), wanted)
    edits.insert_after[found.end - 1] = [entry]
    return f"Add {request.test} to {IGNORE_DICT} ({text}) for {request.where}: ignored {_on(wanted)}."


def _ignore_update(
    edits: _Edits, style: _DictStyle, request: _Request, existing: IgnoreItem, oses: set[str]
) -> str:
    """Widen an entry to the jobs' platforms and/or give it the reason asked for."""
    test, where = request.test, request.where
    reason = request.reason if request.reason not in (None, existing.reason) else None
    at = f"{RUN_TESTS}:{existing.line}"
    if _covers(existing.platforms, oses):
        if reason is None:
            return f"{test} is already in {IGNORE_DICT} for {where} ({at}); no patch needed."
        _rewrite_entry(edits, style, existing, existing.platforms, reason)
        return (
            f"{test} is already in {IGNORE_DICT} for {where} ({at}); change its reason from "
            f"'{shown(existing.reason, 100)}' to '{reason}'."
        )
    widened: tuple[str, ...] | None = None
    wanted = _platforms_for(request)
    if wanted is not None and existing.platforms is not None:
        union = set(existing.platforms) | set(wanted)
        collapse = request.chosen is None and union >= request.universe()
        widened = None if collapse else tuple(sorted(union))
    _rewrite_entry(edits, style, existing, widened, reason)
    if reason is not None:
        said = f"its reason becomes '{reason}' (was '{shown(existing.reason, 100)}')"
    else:
        said = f"it keeps its reason '{shown(existing.reason, 100)}' (give --reason to change it)"
    return f"Widen {test} in {IGNORE_DICT} for {where}: ignored {_on(widened)}; {said}."


def _ignore_remove(
    edits: _Edits, style: _DictStyle, request: _Request, existing: IgnoreItem | None, oses: set[str]
) -> str:
    """Narrow an entry to the platforms other jobs still need, or delete it."""
    test, where = request.test, request.where
    if existing is None:
        return f"{test} is not in {IGNORE_DICT}; nothing to remove."
    covered = set(existing.platforms) if existing.platforms is not None else request.universe()
    remaining = covered - oses
    if remaining == covered:
        return f"{test} is not ignored on the platforms of {where} ({RUN_TESTS}:{existing.line})."
    if not remaining:
        if not existing.alone:
            raise PatchRefused(
                f"{RUN_TESTS}:{existing.line}: the entry for {test} does not have a line of its own; "
                "edit it by hand"
            )
        edits.delete.update(range(existing.line, existing.end_line + 1))
        return f"Remove {test} from {IGNORE_DICT}."
    kept = tuple(sorted(remaining))
    _rewrite_entry(edits, style, existing, kept, None)
    # None covered every platform, not only those of the workflow's jobs.
    gone = "any other platform" if existing.platforms is None else ", ".join(sorted(covered & oses))
    return (
        f"Narrow {test} in {IGNORE_DICT} to {', '.join(kept)}: no longer ignored on {gone}, "
        f"in every job there, not only {where}."
    )


def _dict_style(lines: list[str], found: IgnoreDict, tree: SourceTree) -> _DictStyle:
    """Quote and indentation of the dict's existing entries (upstream: `"` and 4 spaces)."""
    width = ruff_line_length(tree)
    for item in found.items:
        line = lines[item.line - 1]
        stripped = line.lstrip()
        if stripped[:1] in ("'", '"'):
            return _DictStyle(stripped[0], line[: len(line) - len(stripped)], width)
    return _DictStyle('"', "    ", width)


def _rewrite_entry(
    edits: _Edits, style: _DictStyle, item: IgnoreItem, platforms: tuple[str, ...] | None, reason: str | None
) -> None:
    """Give an entry new platforms (and a new reason), keeping the key, any reason not replaced
    and a trailing comment as written, and laying it out again as ruff would."""
    first = edits.lines[item.line - 1]
    if item.alone and item.key_text and (reason is not None or item.reason_text):
        last = edits.lines[item.end_line - 1]
        indent = first[: len(first) - len(first.lstrip())]
        layout = _DictStyle(style.quote, indent, style.width)
        reason_text = layout.quoted(reason) if reason is not None else item.reason_text
        suffix = last[item.value_end :]
        split = item.end_line > item.line  # its trailing commas keep ruff from joining it again
        edits.replace[item.line] = layout.entry(item.key_text, reason_text, platforms, suffix, split)
        edits.delete.update(range(item.line + 1, item.end_line + 1))
        return
    if reason is not None:
        raise PatchRefused(
            f"{RUN_TESTS}:{item.line}: the entry for {item.test} does not have lines of its own; "
            "change its reason by hand"
        )
    if item.platforms_at is None:
        raise PatchRefused(
            f"{RUN_TESTS}:{item.line}: the platforms of {item.test} span lines; edit it by hand"
        )
    start, end = item.platforms_at
    edits.replace[item.line] = first[:start] + _platforms_text(platforms, style.quote) + first[end:]


def _check_ignore(after: str, before: IgnoreDict, count: int, request: _Request, oses: set[str]) -> None:
    """Re-read the edited dict the way flake-bot reads upstream, and confirm the edit does what it
    says. Every edit is inside the dict, so only its statement is parsed again (upstream's
    run-tests.py is ~1,500 lines and a whole parse costs as much as the rest of the command)."""
    lines = after.splitlines(keepends=True)
    end = before.end + len(lines) - count
    try:
        found = read_ignore_dict("".join(lines[before.start - 1 : end]), RUN_TESTS)
    except InputError:
        found = None
    item = next((i for i in found.items if i.test == request.test), None) if found else None
    covered = item is not None and _covers(item.platforms, oses)
    wrong_reason = item is not None and request.reason is not None and item.reason != request.reason
    if found is None or covered == request.remove or (not request.remove and wrong_reason):
        raise PatchRefused(f"internal check failed: the edited {RUN_TESTS} does not do what the patch says")


# ---- tools/ci.sh --exclude ------------------------------------------------------------------


def _require_known(tree: SourceTree, test: str) -> set[str]:
    known = set(tree.test_paths())
    if test not in known:
        raise PatchRefused(f"{test} is not a test in the checkout's tests/ tree; is the checkout up to date?")
    return known


def _escaped(test: str) -> str:
    return test.replace(".", r"\.")


def _target_functions(script: CiScript, request: _Request) -> tuple[list[ShellFunction], list[str]]:
    """The ci.sh functions with a run-tests.py command that the jobs run, and notes for the message."""
    targets: list[ShellFunction] = []
    notes: list[str] = []
    jobs = request.checkout.jobs
    for job in request.jobs:
        spec = jobs[job]
        own = [
            script.functions[f]
            for f in spec.functions
            if f in script.functions and script.functions[f].invocations
        ]
        missing = [f for f in spec.functions if f not in script.functions]
        if missing:
            raise PatchRefused(
                f"{CI_SH} has no {', '.join(missing)}, which {request.checkout.origin} says job {job} runs"
            )
        if not own:
            raise PatchRefused(
                f"job {job} runs no run-tests.py command of its own in {CI_SH} (its tests run "
                "through make), so there is no --exclude to extend; use --style ignore"
            )
        commands = [i for f in own for i in f.invocations]
        if not request.remove and not any(i.runs_dir_of(request.test) for i in commands):
            dirs = ", ".join(sorted({d for i in commands for d in i.dirs}))
            raise PatchRefused(
                f"job {job} runs run-tests.py only on {dirs} ({CI_SH}:{commands[0].line}), so it never "
                f"runs {request.test}; there is nothing to exclude"
            )
        for function in own:
            users = sorted(name for name, s in jobs.items() if function.name in s.functions)
            others = [u for u in users if u not in request.jobs]
            if others and not request.remove:
                raise PatchRefused(
                    f"{function.name} is also run by {', '.join(others)}; an --exclude there would "
                    "stop the test running in those jobs too. Name them all with --job, or use "
                    "--style ignore"
                )
            if function not in targets:
                targets.append(function)
                if others:
                    notes.append(
                        f"{function.name} is also run by {', '.join(others)}, which will run the test again"
                    )
    return targets, notes


def _redundant_with_ignore(tree: SourceTree, request: _Request) -> list[str]:
    """An --exclude for a test flaky_tests_to_ignore already covers goes against upstream's move
    to the dict: the test would stop running instead of running with its failures ignored."""
    text = _optional_text(tree, RUN_TESTS)
    try:
        found = read_ignore_dict(text, RUN_TESTS) if text is not None else None
    except InputError:
        return []
    item = next((i for i in found.items if i.test == request.test), None) if found else None
    if item is None:
        return []
    if _covers(item.platforms, request.oses()):
        raise PatchRefused(
            f"{request.test} is already in {IGNORE_DICT} ({RUN_TESTS}:{item.line}, ignored "
            f"{_on(item.platforms)}), so a failure in {request.where} does not fail the job; since "
            f"{_MOVED_ON} upstream keeps flaky tests there instead of excluding them in {CI_SH}"
        )
    return [f"{IGNORE_DICT} also ignores it {_on(item.platforms)} ({RUN_TESTS}:{item.line})"]


def _exclude_patch(tree: SourceTree, request: _Request, script: CiScript, before: str) -> PatchResult:
    test, remove = request.test, request.remove
    targets, notes = _target_functions(script, request)
    if not remove:
        notes.extend(_redundant_with_ignore(tree, request))
    known = set(tree.test_paths()) if remove else _require_known(tree, test)
    known.add(test)
    edits = _Edits(before.splitlines(keepends=True))
    for function in targets:
        changed = False
        dropped: list[str] = []  # alternatives taken out of this function's patterns
        kept: list[str] = []  # alternatives still excluded there after the edit
        for invocation in function.invocations:
            line = script.lines[invocation.line - 1]
            old = [(f.action, f.pattern) for f in invocation.filters]
            if not remove and not invocation.runs_dir_of(test):
                dirs = ", ".join(invocation.dirs)
                notes.append(f"{CI_SH}:{invocation.line} runs only {dirs}, not the test's directory")
                continue
            if excluded(old, test) != remove:
                state = "not excluded" if remove else "already excluded"
                notes.append(f"{test} is {state} in {function.name} ({CI_SH}:{invocation.line})")
                kept.extend(_alternatives(old))
                continue
            if remove:
                new_line, gone = _remove_exclusion(line, invocation, test)
                dropped.extend(gone)
                kept.extend(_alternatives(line_filters(new_line)))
            else:
                new_line = _add_exclusion_checked(line, invocation, test, known, function.name)
            edits.replace[invocation.line] = new_line + (
                "\n" if edits.lines[invocation.line - 1].endswith("\n") else ""
            )
            _check_exclusion(invocation, new_line, test, known, remove)
            changed = True
        if changed and remove:
            notes.extend(_drop_bullets(edits, function, dropped, kept))
        elif not remove:
            notes.extend(_add_bullet(edits, function, test, request.reason, changed))
    if edits.empty():
        return PatchResult(None, "; ".join(notes) + "; no patch needed.", False)
    after = edits.text()
    verb = "Stop excluding" if remove else "Exclude"
    message = f"{verb} {test} in {', '.join(f.name for f in targets)} ({request.where})."
    if notes:
        message += " " + "; ".join(notes) + "."
    return PatchResult(unified_diff(CI_SH, before, after), message, True)


def _check_exclusion(invocation: Invocation, new_line: str, test: str, known: set[str], remove: bool) -> None:
    """Re-read the edited line and compare, over every known test, what runs before and after."""
    old = [(f.action, f.pattern) for f in invocation.filters]
    new = line_filters(new_line)
    if excluded(new, test) == remove:
        raise PatchRefused(
            f"internal check failed: the edited {CI_SH}:{invocation.line} does not do what the patch says"
        )
    changed = sorted(t for t in known if t != test and excluded(old, t) != excluded(new, t))
    if changed:
        raise PatchRefused(
            f"the edited filter on {CI_SH}:{invocation.line} would also change whether these tests run: "
            + ", ".join(changed[:5])
            + (" ..." if len(changed) > 5 else "")
        )


def _add_exclusion_checked(
    line: str, invocation: Invocation, test: str, known: set[str], function: str
) -> str:
    """House style first (unescaped dots); escape the dots only if that is needed to stay exact."""
    old = [(f.action, f.pattern) for f in invocation.filters]
    last_problem = ""
    for alternative in (test, _escaped(test)):
        new_line = _add_exclusion(line, invocation, test, alternative)
        new = line_filters(new_line)
        over = sorted(t for t in known if t != test and excluded(new, t) and not excluded(old, t))
        if excluded(new, test) and not over:
            return new_line
        last_problem = (
            f"would also exclude {', '.join(over[:5])}" if over else "would still not exclude the test"
        )
    raise PatchRefused(
        f"refusing to extend the --exclude in {function} ({CI_SH}:{invocation.line}): the new "
        f"pattern {last_problem}; write that exclusion by hand, or use --style ignore"
    )


def _add_exclusion(line: str, invocation: Invocation, test: str, alternative: str) -> str:
    excludes = [f for f in invocation.filters if f.action == "exclude"]
    if not excludes:
        at = invocation.args_end
        return f"{line[:at]} --exclude '{alternative}'{line[at:]}"
    last = excludes[-1]
    raw = line[last.start : last.end]
    wholly_quoted = last.quote and len(raw) >= 2 and raw[0] == raw[-1] == last.quote
    if len(excludes) == 1 and wholly_quoted:
        inner = last.pattern
        _, prefix, suffix = split_alternatives(inner)
        if prefix:
            tail = suffix[1:]
            close = len(inner) - len(suffix)
            if tail == "":
                new_inner = f"{inner[:close]}|{alternative}{inner[close:]}"
            elif tail in (".py", r"\.py") and test.endswith(".py"):
                stem = alternative[: -len(r"\.py")] if alternative.endswith(r"\.py") else alternative[:-3]
                new_inner = f"{inner[:close]}|{stem}{inner[close:]}"
            else:
                new_inner = f"{inner}|{alternative}"
        else:
            new_inner = f"{inner}|{alternative}"
        return f"{line[: last.start]}{last.quote}{new_inner}{last.quote}{line[last.end :]}"
    # Repeated flags or an unquoted pattern: add one more flag spelled like the last one.
    spelled = last.flag if last.flag.endswith("=") else last.flag + " "
    needs_quotes = bool(last.quote) or "\\" in alternative
    value = f"'{alternative}'" if needs_quotes else alternative
    return f"{line[: last.end]} {spelled}{value}{line[last.end :]}"


def _alternatives(filters: Sequence[tuple[str, str]]) -> list[str]:
    return [alt for action, pattern in filters if action == "exclude" for alt in expand(pattern)]


def _remove_exclusion(line: str, invocation: Invocation, test: str) -> tuple[str, list[str]]:
    """Take `test` out of the --exclude patterns; also returns the alternatives that went."""
    result = line
    gone: list[str] = []
    # Work right to left so earlier columns stay valid.
    for flt in sorted(
        (f for f in invocation.filters if f.action == "exclude"), key=lambda f: f.start, reverse=True
    ):
        if not re.search(flt.pattern, test):
            continue
        alternatives, prefix, suffix = split_alternatives(flt.pattern)
        expanded = expand(flt.pattern)
        # Drop every alternative that matches the test; _check_exclusion then refuses the edit if
        # one of them also covered another test that exists.
        hits = [i for i, alt in enumerate(expanded) if re.search(alt, test)]
        gone.extend(expanded[i] for i in hits)
        rest = [alt for i, alt in enumerate(alternatives) if i not in hits]
        if not rest:
            cut_from = flt.flag_start
            while cut_from > 0 and result[cut_from - 1] in " \t":
                cut_from -= 1
            result = result[:cut_from] + result[flt.end :]
            continue
        if prefix and len(rest) == 1 and suffix[1:2] not in ("*", "+", "?", "{"):
            inner = rest[0] + suffix[1:]  # a group of one is written without the parentheses
        else:
            inner = prefix + "|".join(rest) + suffix
        raw = result[flt.start : flt.end]
        if not (flt.quote and raw[0] == raw[-1] == flt.quote):
            raise PatchRefused(
                f"{CI_SH}:{invocation.line}: the pattern {flt.pattern!r} is not simply quoted; edit it "
                "by hand"
            )
        result = f"{result[: flt.start]}{flt.quote}{inner}{flt.quote}{result[flt.end :]}"
    return result, gone


def _drop_bullets(edits: _Edits, function: ShellFunction, dropped: list[str], kept: list[str]) -> list[str]:
    """Delete the bullets that explained only the dropped alternatives (and an emptied header).

    Bullets are matched to alternatives as `registry sync` matches them, so `ffi_callback` loses
    `# - ffi_callback crashes ...`; a bullet that also explains a kept alternative stays, and
    the returned note says so.
    """
    notes: list[str] = []
    gone: set[int] = set()
    for alternative in dropped:
        bullet = bullet_for(alternative, function.bullets)
        if bullet is None or bullet.line in gone:
            continue
        if any(bullet_for(other, [bullet]) for other in kept):
            notes.append(f"kept the bullet at {CI_SH}:{bullet.line}, which also explains other exclusions")
            continue
        gone.add(bullet.line)
    edits.delete.update(gone)
    if function.header_line is not None and function.bullets and len(gone) == len(function.bullets):
        edits.delete.add(function.header_line)
    return notes


def _add_bullet(
    edits: _Edits, function: ShellFunction, test: str, reason: str | None, changed: bool
) -> list[str]:
    """Say why, in a bullet `registry sync` reads back as flaky with the reason given.

    A bullet that already names the test for another reason ("takes around 90 seconds") does
    not make the exclusion flaky, so a flaky one is added beside it. For a test that is already
    excluded, a bullet is written only when a reason was given; otherwise the note says so.
    """
    named = bullets_naming(test, function.bullets)
    if any(says_flaky(b.text) and (reason is None or reason in b.text) for b in named):
        return []
    if not changed and reason is None:
        if not named:
            return []
        return [
            f"{CI_SH}:{named[0].line} does not call it flaky; give --reason to add a bullet that does"
        ]
    text = reason or DEFAULT_EXCLUDE_REASON
    indent = function.body_indent
    bullet = f"{indent}# - {test} {text if says_flaky(text) else 'is flaky: ' + text}\n"
    if function.bullets:
        edits.insert_after.setdefault(function.bullets[-1].line, []).append(bullet)
    elif function.header_line is not None:
        edits.insert_after.setdefault(function.header_line, []).append(bullet)
    else:
        header = f"{indent}# Issues with {_subject(function.name)} tests:\n"
        edits.insert_after.setdefault(function.start, []).extend([header, bullet])
    return []


def _subject(function: str) -> str:
    """`ci_unix_qemu_mips_run_tests` -> `unix qemu_mips`: the words upstream's headers use."""
    name = function.removeprefix("ci_").removesuffix("_run_tests")
    return name.replace("_", " ", 1)
