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

Over 500 lines, as one module on purpose: both styles share the validation, the re-check
against the checkout and the refusals, and a split would put the rule that makes a patch safe
in one file and the edit it guards in another.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
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
from bot.registry.model import JobSpec, Registry, WorkflowSpec, shown
from bot.registry.platforms import (
    ABSENT,
    UNKNOWN_OS,
    Platforms,
    SuiteJob,
    changed_jobs,
    narrow,
    reaches,
    tally,
    universe,
    widen,
)
from bot.registry.run_tests_py import IGNORE_DICT, IgnoreDict, IgnoreItem, read_ignore_dict
from bot.registry.source import SourceTree
from bot.registry.upstream import COVERED, read_sections, runs_run_tests
from bot.registry.upstream_sync import CI_SH, RUN_TESTS

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
    #: "job (workflow)" of every job whose behaviour the patch changes (the message names them).
    jobs: tuple[str, ...] = ()


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
class _Job:
    """A job the request names, with the workflow it belongs to (names are per workflow)."""

    workflow: str
    spec: JobSpec

    @property
    def name(self) -> str:
        return self.spec.name

    def suite(self) -> SuiteJob:
        return SuiteJob(self.workflow, self.spec.name, self.spec.os)


@dataclass(frozen=True)
class _Checkout:
    """Every covered workflow's jobs (ci.sh functions, test targets, runner OS), and where they
    were read."""

    sections: tuple[WorkflowSpec, ...]
    origin: str
    note: str = ""  # why the named jobs are not the checkout's own
    borrowed: frozenset[str] = frozenset()  # workflow files whose jobs are the registry's

    def jobs(self) -> list[_Job]:
        return [_Job(_file_of(s), spec) for s in self.sections for spec in s.jobs.values()]

    def runs_tests(self, job: _Job) -> bool:
        if runs_run_tests(job.spec) or job.workflow not in self.borrowed:
            return runs_run_tests(job.spec)
        # The registry records test targets for its other workflows only; for its first section
        # (the unix port's) upstream's naming says it: the steps that run the suite are *_run_tests.
        section = next(s for s in self.sections if _file_of(s) == job.workflow)
        if any(runs_run_tests(spec) for spec in section.jobs.values()):
            return False
        return any("run_tests" in function for function in job.spec.functions)

    def suite(self) -> list[SuiteJob]:
        """Every job that runs run-tests.py, in every workflow: where the ignore dict applies."""
        return [job.suite() for job in self.jobs() if self.runs_tests(job)]


def _file_of(section: WorkflowSpec) -> str:
    return section.file.rsplit("/", 1)[-1] or section.name or "the workflow"


@dataclass(frozen=True)
class _Request:
    """One validated request, shared by every operation below."""

    test: str
    jobs: tuple[_Job, ...]
    checkout: _Checkout
    reason: str | None
    remove: bool
    chosen: tuple[str, ...] | None  # --platform, ignore style only
    all_jobs: bool = False  # --all-jobs: a removal may change jobs nobody named

    @property
    def where(self) -> str:
        return ", ".join(job.name for job in self.jobs)

    def oses(self) -> set[str]:
        return {job.spec.os for job in self.jobs}

    def users(self, function: str) -> list[_Job]:
        """Every job of every workflow that runs a ci.sh function."""
        return [job for job in self.checkout.jobs() if function in job.spec.functions]


def _optional_text(tree: SourceTree, path: str) -> str | None:
    """A file the patch can do without (missing from a tarball, or not fetched by the action)."""
    try:
        return tree.read_text(path)
    except FlakeBotError:
        return None


def _read_checkout(
    tree: SourceTree, registry: Registry, workflow: str | None, script: CiScript | None
) -> _Checkout:
    """The jobs as the checkout's own files say: with `workflow`, that workflow's (the jobs named
    are there) and the registry's copy of the others (what the platforms also reach; reading
    them too would cost the action a request each); without, every covered workflow it has. The
    registry stands in whole only for a tree without ci.sh or without the workflow(s)."""
    everything = registry.sections()
    if script is not None:
        if workflow:
            file = workflow.rsplit("/", 1)[-1]
            mine = read_sections(tree, script, [file]) if file.endswith((".yml", ".yaml")) else ()
            if not mine:  # a display name: the registry knows which file it is
                named = next((s for s in everything if s.is_called(workflow) and s.file), None)
                mine = read_sections(tree, script, [_file_of(named)]) if named else ()
            if mine:
                own = mine[0]
                others = tuple(
                    s for s in everything if s.jobs and not (s.is_called(own.file) or s.name == own.name)
                )
                return _Checkout(mine + others, "the checkout", borrowed=frozenset(map(_file_of, others)))
            missing = f"workflow {workflow}"
        else:
            sections = read_sections(tree, script)
            if sections:
                return _Checkout(sections, "the checkout")
            missing = "covered workflow (.github/workflows/ports_*.yml)"
    else:
        missing = CI_SH
    return _Checkout(
        everything,
        "the registry",
        f"the checkout has no readable {missing}, so the jobs are the registry's",
        borrowed=frozenset(map(_file_of, everything)),
    )


def _names(jobs: Sequence[_Job]) -> str:
    return ", ".join(f"'{shown(job.name)}' ({job.workflow})" for job in jobs)


def _resolve(checkout: _Checkout, names: Sequence[str], workflow: str | None) -> tuple[_Job, ...]:
    """Each job name looked up in every covered workflow (or only `workflow`'s): a name two
    workflows have needs --workflow; a typo gets the closest names of all of them."""
    everything = checkout.jobs()
    pool = everything
    if workflow:
        sections = [s for s in checkout.sections if s.is_called(workflow)]
        if not sections:
            have = ", ".join(_file_of(s) for s in checkout.sections) or "none"
            raise InputError(
                f"workflow '{shown(workflow)}' is not one {checkout.origin} has (it has: {have})"
            )
        pool = [job for job in everything if job.workflow == _file_of(sections[0])]
    found: list[_Job] = []
    for name in dict.fromkeys(names):
        owners = [job for job in pool if job.name == name]
        if len(owners) == 1:
            found.append(owners[0])
            continue
        if owners:
            files = " and ".join(job.workflow for job in owners)
            raise InputError(f"job '{shown(name)}' is in {files}; add --workflow with one of them")
        elsewhere = [job for job in everything if job.name == name]
        if elsewhere:
            raise InputError(
                f"job '{shown(name)}' is not in {pool[0].workflow if pool else workflow}; "
                f"{checkout.origin} has it in {' and '.join(job.workflow for job in elsewhere)}"
            )
        close = difflib.get_close_matches(name, [job.name for job in everything], n=6, cutoff=0.5)
        near = [job for c in dict.fromkeys(close) for job in everything if job.name == c]
        hint = (
            f"closest: {_names(near)}"
            if near
            else "see the jobs with: flake-bot registry sync --repo-dir DIR"
        )
        raise InputError(f"unknown job '{shown(name)}' in {checkout.origin}; {hint}")
    return tuple(found)


def _build_only(checkout: _Checkout, named: tuple[_Job, ...]) -> tuple[tuple[_Job, ...], str]:
    """The named jobs that run run-tests.py, and a note on those left out; every named job a
    build-only one is refused, since no failure there is run-tests.py's."""
    idle = [job for job in named if not checkout.runs_tests(job)]
    if not idle:
        return named, ""
    why = "; ".join(
        f"job '{shown(job.name)}' ({job.workflow}) never runs tests/run-tests.py (it runs "
        f"{', '.join(job.spec.functions) or 'no ci.sh function'}, none of which runs the test suite: a "
        "build-only job)"
        for job in idle
    )
    if len(idle) == len(named):
        raise PatchRefused(f"{why}, so no test failure there is run-tests.py's to ignore or exclude")
    return tuple(job for job in named if job not in idle), f"Left out: {why}."


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
    workflow: str | None = None,
    all_jobs: bool = False,
) -> PatchResult:
    """The patch that makes `test` excluded/ignored in `jobs` (or stops it being, with `remove`).

    `jobs` are looked up in every covered workflow of `tree` (only in `workflow` when given), with
    ci.sh; `registry` stands in only when the tree lacks them. `platforms` (ignore style only)
    names the `sys.platform`s to add or take away instead of those derived from the jobs, e.g.
    ("linux",). A removal that would also change jobs not named is refused unless `all_jobs`.
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
    named, left_out = _build_only(checkout, _resolve(checkout, jobs, workflow))
    request = _Request(test, named, checkout, reason, remove, chosen, all_jobs)
    if style == PatchStyle.IGNORE:
        result = _ignore_patch(tree, request, script)
    else:
        assert script is not None and ci_text is not None
        result = _exclude_patch(tree, request, script, ci_text)
    if left_out:
        result = replace(result, message=f"{result.message} {left_out}")
    if checkout.note:
        return replace(result, message=f"{result.message} (Note: {checkout.note}.)")
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


def _on(platforms: tuple[str, ...] | None) -> str:
    """Where an entry applies, in words: the diff says None, the message says what that means."""
    if platforms is None:
        return "on every platform (every job of every workflow)"
    return "on " + ", ".join(platforms)


def _ignore_oses(request: _Request) -> set[str]:
    """The platforms to add or take away: --platform, else the named jobs' runners."""
    if request.chosen is not None:
        return set(request.chosen)
    for job in request.jobs:
        if job.spec.os == UNKNOWN_OS:
            raise InputError(f"the runner OS of job '{shown(job.name)}' is unknown; name it with --platform")
    return request.oses()


def _jobs_excluding(script: CiScript | None, request: _Request) -> list[str]:
    """Jobs whose every run-tests.py command in ci.sh already leaves the test out."""
    if script is None:
        return []
    out = []
    for job in request.jobs:
        invocations = [
            invocation
            for name in job.spec.functions
            if (function := script.functions.get(name)) is not None
            for invocation in function.invocations
        ]
        if invocations and all(
            excluded([(f.action, f.pattern) for f in i.filters], request.test) for i in invocations
        ):
            out.append(job.name)
    return out


@dataclass(frozen=True)
class _Reach:
    """What an ignore edit does to the jobs: the entry before and after, and who it changes."""

    before: Platforms
    after: Platforms
    changed: tuple[SuiteJob, ...]
    others: tuple[SuiteJob, ...]  # changed jobs the request did not name

    def also(self, verb: str) -> str:
        """`; that also stops ignoring it in 19 unix jobs and 9 qemu jobs (every job on linux)`"""
        if not self.others:
            return ""
        oses = ", ".join(sorted({job.os for job in self.others}))
        return (
            f"; that also {verb} it in {tally(self.others, COVERED)} (every job on {oses}: {IGNORE_DICT} "
            "cannot tell jobs on one platform apart)"
        )


def _reach(request: _Request, before: Platforms, oses: set[str]) -> _Reach:
    suite = request.checkout.suite()
    everywhere = universe(suite)
    if request.remove:
        after = narrow(before, oses, everywhere)
    else:
        after = widen(before, oses, everywhere)
        if after is None and request.chosen is not None and after != before:
            after = tuple(sorted(set(before or ()) | oses))  # platforms named by hand stay named
    changed = changed_jobs(before, after, suite)
    named = {job.suite() for job in request.jobs}
    return _Reach(before, after, tuple(changed), tuple(j for j in changed if j not in named))


def _ignore_patch(tree: SourceTree, request: _Request, script: CiScript | None) -> PatchResult:
    before = tree.read_text(RUN_TESTS)
    found = read_ignore_dict(before, RUN_TESTS)
    if found is None:
        raise PatchRefused(f"{RUN_TESTS} has no {IGNORE_DICT} dict (an older tree?); use --style exclude")
    edits = _Edits(before.splitlines(keepends=True))
    existing = next((item for item in found.items if item.test == request.test), None)
    if request.chosen is not None and not request.remove:
        # A runner of unknown OS is what --platform is for: the platforms named are its own.
        uncovered = [j.name for j in request.jobs if j.spec.os not in (*request.chosen, UNKNOWN_OS)]
        if uncovered:
            raise InputError(
                f"platform(s) {', '.join(request.chosen)} do not include the runner of {', '.join(uncovered)}"
            )
    reach = _reach(request, existing.platforms if existing is not None else ABSENT, _ignore_oses(request))
    style = _dict_style(edits.lines, found, tree)
    excluding = [] if request.remove else _jobs_excluding(script, request)
    if request.remove:
        message = _ignore_remove(edits, style, request, existing, reach)
    elif existing is None:
        message = _ignore_add(edits, style, request, found, tree, reach, excluding)
    else:
        message = _ignore_update(edits, style, request, existing, reach)
    if excluding and not edits.empty():
        message += f" It does not run in {', '.join(excluding)} anyway: {CI_SH} excludes it there."
    if edits.empty():
        return PatchResult(None, message, False)
    after = edits.text()
    _check_ignore(after, found, len(edits.lines), request, reach.after)
    return PatchResult(
        unified_diff(RUN_TESTS, before, after), message, True, tuple(j.label() for j in reach.changed)
    )


def _ignore_add(
    edits: _Edits,
    style: _DictStyle,
    request: _Request,
    found: IgnoreDict,
    tree: SourceTree,
    reach: _Reach,
    excluding: list[str],
) -> str:
    if excluding and len(excluding) == len(request.jobs):
        return (
            f"{request.test} is already excluded in {CI_SH} for {', '.join(excluding)}, so it does not "
            "run there and cannot fail the job; nothing to do. To move it to "
            f"{IGNORE_DICT} as upstream did on {_MOVED_ON}, apply the --style exclude --remove patch first."
        )
    _require_known(tree, request.test)
    if edits.lines[found.end - 1].strip() != "}":
        raise PatchRefused(
            f"{RUN_TESTS}:{found.end}: the {IGNORE_DICT} dict does not end on a line of its own"
        )
    text = request.reason or DEFAULT_IGNORE_REASON
    entry = style.entry(style.quoted(request.test), style.quoted(text), reach.after)
    edits.insert_after[found.end - 1] = [entry]
    return (
        f"Add {request.test} to {IGNORE_DICT} ({text}) for {request.where}: ignored {_on(reach.after)}"
        f"{reach.also('ignores')}."
    )


def _ignore_update(
    edits: _Edits, style: _DictStyle, request: _Request, existing: IgnoreItem, reach: _Reach
) -> str:
    """Widen an entry to the jobs' platforms and/or give it the reason asked for."""
    test, where = request.test, request.where
    reason = request.reason if request.reason not in (None, existing.reason) else None
    at = f"{RUN_TESTS}:{existing.line}"
    if reach.after == reach.before:
        if reason is None:
            return (
                f"{test} is already in {IGNORE_DICT} for {where} ({at}, ignored {_on(existing.platforms)}); "
                "nothing to do."
            )
        _rewrite_entry(edits, style, existing, existing.platforms, reason)
        return (
            f"{test} is already in {IGNORE_DICT} for {where} ({at}); change its reason from "
            f"'{shown(existing.reason, 100)}' to '{reason}'."
        )
    _rewrite_entry(edits, style, existing, reach.after, reason)
    if reason is not None:
        said = f"its reason becomes '{reason}' (was '{shown(existing.reason, 100)}')"
    else:
        said = f"it keeps its reason '{shown(existing.reason, 100)}' (give --reason to change it)"
    return (
        f"Widen {test} in {IGNORE_DICT} for {where}: ignored {_on(reach.after)}, was "
        f"{_on(reach.before)}{reach.also('ignores')}; {said}."
    )


def _ignore_remove(
    edits: _Edits, style: _DictStyle, request: _Request, existing: IgnoreItem | None, reach: _Reach
) -> str:
    """Narrow an entry to the platforms it still needs, or delete it: never for jobs not named."""
    test, where = request.test, request.where
    if existing is None:
        return f"{test} is not in {IGNORE_DICT}; nothing to remove."
    at = f"{RUN_TESTS}:{existing.line}"
    if reach.after == reach.before:
        return (
            f"{test} is not ignored in {where} ({at}, ignored {_on(existing.platforms)}); nothing to remove."
        )
    if reach.others and not request.all_jobs:
        listed = ", ".join(f"'{shown(j.name)}' ({j.workflow})" for j in reach.others)  # each one to name
        # The reason first and the long lists last: the dashboard shows this note cut to a few
        # hundred characters, and a reader must see why before the names.
        raise PatchRefused(
            f"removing {test} from {IGNORE_DICT} ({at}, ignored {_on(existing.platforms)}) would also "
            f"stop ignoring it in {tally(reach.others, COVERED)} beyond the jobs asked for, because the "
            "dict applies per platform, not per job; name those jobs with --job too, or give --all-jobs. "
            f"Asked for: {where}. Also reached: {listed}"
        )
    if reach.after == ABSENT:
        if not existing.alone:
            raise PatchRefused(f"{at}: the entry for {test} does not have a line of its own; edit it by hand")
        edits.delete.update(range(existing.line, existing.end_line + 1))
        return (
            f"Remove {test} from {IGNORE_DICT}: no longer ignored in {where}{reach.also('stops ignoring')}."
        )
    _rewrite_entry(edits, style, existing, reach.after, None)
    return (
        f"Narrow {test} in {IGNORE_DICT} to {_on(reach.after).removeprefix('on ')} (was "
        f"{_on(reach.before)}): no longer ignored in {where}{reach.also('stops ignoring')}."
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


def _check_ignore(after: str, before: IgnoreDict, count: int, request: _Request, wanted: Platforms) -> None:
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
    got = item.platforms if item is not None else ABSENT
    wrong_reason = item is not None and request.reason is not None and item.reason != request.reason
    if found is None or got != wanted or (not request.remove and wrong_reason):
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
    """The ci.sh functions with a run-tests.py command that the jobs run, and notes for the message.

    A function other jobs run too would change those jobs as well, so that is refused unless they
    are named (or, for a removal, --all-jobs is given)."""
    targets: list[ShellFunction] = []
    notes: list[str] = []
    for job in request.jobs:
        spec = job.spec
        own = [
            script.functions[f]
            for f in spec.functions
            if f in script.functions and script.functions[f].invocations
        ]
        missing = [f for f in spec.functions if f not in script.functions]
        if missing:
            raise PatchRefused(
                f"{CI_SH} has no {', '.join(missing)}, which {request.checkout.origin} says job "
                f"'{shown(job.name)}' runs"
            )
        if not own:
            raise PatchRefused(
                f"job '{shown(job.name)}' ({job.workflow}) runs no run-tests.py command of its own in "
                f"{CI_SH} (its tests run through make or a workflow run line), so there is no --exclude "
                "to extend; use --style ignore"
            )
        commands = [i for f in own for i in f.invocations]
        if not request.remove and not any(i.runs_dir_of(request.test) for i in commands):
            dirs = ", ".join(sorted({d for i in commands for d in i.dirs}))
            raise PatchRefused(
                f"job '{shown(job.name)}' runs run-tests.py only on {dirs} ({CI_SH}:{commands[0].line}), so "
                f"it never runs {request.test}; there is nothing to exclude"
            )
        for function in own:
            others = [u for u in request.users(function.name) if u not in request.jobs]
            if others and not request.remove:
                raise PatchRefused(
                    f"{function.name} is also run by {_names(others)}; an --exclude there would stop the "
                    "test running in those jobs too. Name them all with --job, or use --style ignore"
                )
            if function not in targets:
                targets.append(function)
                if others:
                    notes.append(
                        f"{function.name} is also run by {_names(others)}, which will run the test again"
                    )
    return targets, notes


def _ignored_anyway(tree: SourceTree, request: _Request) -> PatchResult | str | None:
    """An --exclude for a test flaky_tests_to_ignore already covers in every named job changes
    nothing that matters (its failures already do not fail the job), and goes against upstream's
    move to the dict: nothing to do, with the reason. Covered in some of them: a note saying so."""
    text = _optional_text(tree, RUN_TESTS)
    try:
        found = read_ignore_dict(text, RUN_TESTS) if text is not None else None
    except InputError:
        return None
    item = next((i for i in found.items if i.test == request.test), None) if found else None
    if item is None:
        return None
    if not all(reaches(item.platforms, job.suite()) for job in request.jobs):
        return f"{IGNORE_DICT} also ignores it {_on(item.platforms)} ({RUN_TESTS}:{item.line})"
    return PatchResult(
        None,
        f"{request.test} is already in {IGNORE_DICT} ({RUN_TESTS}:{item.line}, ignored "
        f"{_on(item.platforms)}), so a failure in {request.where} does not fail the job; nothing to do "
        f"(since {_MOVED_ON} upstream keeps flaky tests there instead of excluding them in {CI_SH}).",
        False,
    )


def _exclude_patch(tree: SourceTree, request: _Request, script: CiScript, before: str) -> PatchResult:
    test, remove = request.test, request.remove
    anyway = None if remove else _ignored_anyway(tree, request)
    if isinstance(anyway, PatchResult):
        return anyway
    targets, notes = _target_functions(script, request)
    notes.extend([anyway] if anyway else [])
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
    edited = {f.name for f in targets if any(edits.replace.get(i.line) for i in f.invocations)}
    others = [u for name in sorted(edited) for u in request.users(name) if u not in request.jobs]
    if others and not request.all_jobs:
        raise PatchRefused(
            f"removing the --exclude of {test} from {', '.join(sorted(edited))} would also make it run again "
            f"in {_names(others)}, which run that function too; name them with --job too, or give --all-jobs"
        )
    reached = sorted({job.suite().label() for name in edited for job in request.users(name)})
    return PatchResult(unified_diff(CI_SH, before, after), message, True, tuple(reached))


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
        return [f"{CI_SH}:{named[0].line} does not call it flaky; give --reason to add a bullet that does"]
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
