"""Write the exclusion patch a maintainer would write, as a unified diff that `git apply` accepts.

Two styles, both in upstream's house style: a `flaky_tests_to_ignore` line in
`tests/run-tests.py` (the test still runs, failures are ignored on the given platforms), or an
extension of the `--exclude` regex of the ci.sh function a job runs plus a `# - path reason`
bullet. Test names and reasons usually come from logs, which fork PRs control, so both are
validated against a strict allow-list before they reach a patch. Every edit is re-checked the
way run-tests.py applies filters: the new regex must exclude the test and nothing else that
exists in the checkout's tests/ tree, or the patch is refused.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.errors import FlakeBotError, InputError
from bot.registry.ci_sh import (
    CiScript,
    Invocation,
    ShellFunction,
    bullet_for,
    excluded,
    expand,
    line_filters,
    read_ci_sh,
    split_alternatives,
)
from bot.registry.model import Registry, shown
from bot.registry.run_tests_py import IGNORE_DICT, IgnoreDict, IgnoreItem, read_ignore_dict
from bot.registry.source import SourceTree
from bot.registry.sync import CI_SH, RUN_TESTS

_TEST_PATH_RE = re.compile(r"(?:[A-Za-z0-9_][A-Za-z0-9_-]*/)+[A-Za-z0-9_][A-Za-z0-9_-]*\.py\Z", re.ASCII)
_REASON_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9 _.,:;/()+=%@-]*\Z", re.ASCII)
_PLATFORM_RE = re.compile(r"[a-z][a-z0-9]{0,19}\Z", re.ASCII)
MAX_TEST_PATH = 200
MAX_REASON = 100
DEFAULT_IGNORE_REASON = "intermittent failure in CI"
DEFAULT_EXCLUDE_REASON = "is flaky"
STYLES = ("ignore", "exclude")


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


def suggest_patch(
    tree: SourceTree,
    registry: Registry,
    *,
    test: str,
    jobs: Sequence[str],
    style: str = "ignore",
    reason: str | None = None,
    remove: bool = False,
    platforms: Sequence[str] | None = None,
) -> PatchResult:
    """The patch that makes `test` excluded/ignored in `jobs` (or stops it being, with `remove`).

    `platforms` (ignore style only) names the `sys.platform`s to add or take away instead of
    those derived from the jobs, e.g. ("linux",) where None would also cover macOS.
    """
    test = validate_test_path(test)
    if reason is not None:
        reason = validate_reason(reason)
    chosen = validate_platforms(platforms) if platforms is not None else None
    if chosen is not None and style != "ignore":
        raise InputError("platforms apply to --style ignore only; an exclusion is per ci.sh function")
    if not jobs:
        raise InputError("name at least one job")
    for job in jobs:
        if registry.job(job) is None:
            raise InputError(
                f"unknown job '{shown(job, 60)}'; the registry knows: {', '.join(sorted(registry.jobs))}"
            )
    if style == "ignore":
        return _ignore_patch(tree, registry, test, list(jobs), reason, remove, chosen)
    if style == "exclude":
        return _exclude_patch(tree, registry, test, list(jobs), reason, remove)
    raise InputError(f"unknown patch style {style!r}; choose one of {', '.join(STYLES)}")


# ---- flaky_tests_to_ignore ------------------------------------------------------------------


def _platforms_text(platforms: tuple[str, ...] | None, quote: str) -> str:
    if platforms is None:
        return "None"
    items = ", ".join(f"{quote}{p}{quote}" for p in platforms)
    return f"({items},)" if len(platforms) == 1 else f"({items})"


def _entry_line(indent: str, quote: str, test: str, reason: str, platforms: tuple[str, ...] | None) -> str:
    return f"{indent}{quote}{test}{quote}: ({quote}{reason}{quote}, {_platforms_text(platforms, quote)}),\n"


def _covers(platforms: tuple[str, ...] | None, oses: set[str]) -> bool:
    return platforms is None or oses <= set(platforms)


def _job_oses(registry: Registry, jobs: Sequence[str]) -> set[str]:
    return {spec.os for job in jobs if (spec := registry.job(job)) is not None}


def _on(platforms: tuple[str, ...] | None) -> str:
    """Where an entry applies, in words: the diff says None, the message says what that means."""
    if platforms is None:
        return "on every platform (every job of every workflow)"
    return "on " + ", ".join(platforms)


def _universe(registry: Registry) -> set[str]:
    return {spec.os for spec in registry.jobs.values() if spec.os != "unknown"}


def _own_line(item: IgnoreItem) -> int:
    """The entry's line, if deleting that line removes exactly this entry."""
    if not item.alone:
        raise PatchRefused(
            f"{RUN_TESTS}:{item.line}: the entry for {item.test} does not have a line of its own; "
            "edit it by hand"
        )
    return item.line


def _ignore_patch(
    tree: SourceTree,
    registry: Registry,
    test: str,
    jobs: list[str],
    reason: str | None,
    remove: bool,
    chosen: tuple[str, ...] | None,
) -> PatchResult:
    before = tree.read_text(RUN_TESTS)
    found = read_ignore_dict(before, RUN_TESTS)
    if found is None:
        raise PatchRefused(f"{RUN_TESTS} has no {IGNORE_DICT} dict (an older tree?); use --style exclude")
    lines = before.splitlines(keepends=True)
    edits = _Edits(lines)
    existing = next((item for item in found.items if item.test == test), None)
    quote, indent = _dict_style(lines, found)
    oses = _job_oses(registry, jobs)
    where = ", ".join(jobs)
    if chosen is not None:
        uncovered = sorted(j for j in jobs if (spec := registry.job(j)) and spec.os not in chosen)
        if uncovered and not remove:
            raise InputError(
                f"platform(s) {', '.join(chosen)} do not include the runner of {', '.join(uncovered)}"
            )
        oses = set(chosen)
    if remove:
        if existing is None:
            return PatchResult(None, f"{test} is not in {IGNORE_DICT}; nothing to remove.", False)
        line = lines[existing.line - 1]
        covered = set(existing.platforms) if existing.platforms is not None else _universe(registry)
        remaining = covered - oses
        if remaining == covered:
            return PatchResult(
                None,
                f"{test} is not ignored on the platforms of {where} ({RUN_TESTS}:{existing.line}).",
                False,
            )
        if remaining:
            kept = tuple(sorted(remaining))
            edits.replace[existing.line] = _rewrite_platforms(line, existing, kept, quote)
            # None covered every platform, not only those of the registry's jobs.
            gone = "any other platform" if existing.platforms is None else ", ".join(sorted(covered & oses))
            message = (
                f"Narrow {test} in {IGNORE_DICT} to {', '.join(kept)}: no longer ignored on {gone}, "
                f"in every job there, not only {where}."
            )
        else:
            edits.delete.add(_own_line(existing))
            message = f"Remove {test} from {IGNORE_DICT}."
    else:
        wanted = chosen if chosen is not None else registry.platforms_for_jobs(jobs)
        if existing is not None:
            if _covers(existing.platforms, oses):
                return PatchResult(
                    None,
                    f"{test} is already in {IGNORE_DICT} for {where} ({RUN_TESTS}:{existing.line}); no "
                    "patch needed.",
                    False,
                )
            line = lines[existing.line - 1]
            widened: tuple[str, ...] | None = None
            if wanted is not None and existing.platforms is not None:
                union = set(existing.platforms) | set(wanted)
                collapse = chosen is None and union >= _universe(registry)
                widened = None if collapse else tuple(sorted(union))
            edits.replace[existing.line] = _rewrite_platforms(line, existing, widened, quote)
            message = f"Widen {test} in {IGNORE_DICT} for {where}: ignored {_on(widened)}."
        else:
            _require_known(tree, test)
            text = reason or DEFAULT_IGNORE_REASON
            edits.insert_after[found.end - 1] = [_entry_line(indent, quote, test, text, wanted)]
            if lines[found.end - 1].strip() != "}":
                raise PatchRefused(
                    f"{RUN_TESTS}:{found.end}: the {IGNORE_DICT} dict does not end on a line of its own"
                )
            message = f"Add {test} to {IGNORE_DICT} ({text}) for {where}: ignored {_on(wanted)}."
    after = edits.text()
    _check_ignore(after, test, oses, remove, registry)
    return PatchResult(unified_diff(RUN_TESTS, before, after), message, True)


def _dict_style(lines: list[str], found: IgnoreDict) -> tuple[str, str]:
    """Quote character and indentation used by the dict's existing entries (upstream: `"` and 4 spaces)."""
    for item in found.items:
        line = lines[item.line - 1]
        stripped = line.lstrip()
        if stripped[:1] in ("'", '"'):
            return stripped[0], line[: len(line) - len(stripped)]
    return '"', "    "


def _rewrite_platforms(line: str, item: IgnoreItem, platforms: tuple[str, ...] | None, quote: str) -> str:
    """The same line with only the platforms replaced, so the reason and layout stay as written."""
    if item.platforms_at is None:
        raise PatchRefused(
            f"{RUN_TESTS}:{item.line}: the platforms of {item.test} span lines; edit it by hand"
        )
    start, end = item.platforms_at
    return line[:start] + _platforms_text(platforms, quote) + line[end:]


def _check_ignore(after: str, test: str, oses: set[str], remove: bool, registry: Registry) -> None:
    """Re-read the edited file the way flake-bot reads upstream, and confirm the edit does what it says."""
    found = read_ignore_dict(after, RUN_TESTS)
    item = next((i for i in found.items if i.test == test), None) if found else None
    covered = item is not None and _covers(item.platforms, oses)
    if covered == remove:
        raise PatchRefused(f"internal check failed: the edited {RUN_TESTS} does not do what the patch says")


# ---- tools/ci.sh --exclude ------------------------------------------------------------------


def _require_known(tree: SourceTree, test: str) -> set[str]:
    known = set(tree.test_paths())
    if test not in known:
        raise PatchRefused(f"{test} is not a test in the checkout's tests/ tree; is the checkout up to date?")
    return known


def _escaped(test: str) -> str:
    return test.replace(".", r"\.")


def _target_functions(
    script: CiScript, registry: Registry, jobs: list[str], remove: bool
) -> tuple[list[ShellFunction], list[str]]:
    """The ci.sh functions with a run-tests.py command that the jobs run, and notes for the message."""
    targets: list[ShellFunction] = []
    notes: list[str] = []
    for job in jobs:
        spec = registry.jobs[job]
        own = [
            script.functions[f]
            for f in spec.functions
            if f in script.functions and script.functions[f].invocations
        ]
        missing = [f for f in spec.functions if f not in script.functions]
        if missing:
            raise PatchRefused(
                f"{CI_SH} has no {', '.join(missing)}, which the registry says job {job} runs; "
                "is the registry for this checkout?"
            )
        if not own:
            raise PatchRefused(
                f"job {job} runs no run-tests.py command of its own in {CI_SH} (its tests run "
                "through make), so there is no --exclude to extend; use --style ignore"
            )
        for function in own:
            users = sorted(name for name, s in registry.jobs.items() if function.name in s.functions)
            others = [u for u in users if u not in jobs]
            if others and not remove:
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


def _exclude_patch(
    tree: SourceTree, registry: Registry, test: str, jobs: list[str], reason: str | None, remove: bool
) -> PatchResult:
    before = tree.read_text(CI_SH)
    script = read_ci_sh(before, CI_SH)
    targets, notes = _target_functions(script, registry, jobs, remove)
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
        elif changed:
            _add_bullet(edits, function, test, reason)
    if edits.empty():
        return PatchResult(None, "; ".join(notes) + "; no patch needed.", False)
    after = edits.text()
    verb = "Stop excluding" if remove else "Exclude"
    message = f"{verb} {test} in {', '.join(f.name for f in targets)} ({', '.join(jobs)})."
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


def _add_bullet(edits: _Edits, function: ShellFunction, test: str, reason: str | None) -> None:
    if bullet_for(test, function.bullets) is not None:
        return
    indent = function.body_indent
    bullet = f"{indent}# - {test} {reason or DEFAULT_EXCLUDE_REASON}\n"
    if function.bullets:
        edits.insert_after.setdefault(function.bullets[-1].line, []).append(bullet)
    elif function.header_line is not None:
        edits.insert_after.setdefault(function.header_line, []).append(bullet)
    else:
        header = f"{indent}# Issues with {_subject(function.name)} tests:\n"
        edits.insert_after.setdefault(function.start, []).extend([header, bullet])


def _subject(function: str) -> str:
    """`ci_unix_qemu_mips_run_tests` -> `unix qemu_mips`: the words upstream's headers use."""
    name = function.removeprefix("ci_").removesuffix("_run_tests")
    return name.replace("_", " ", 1)
