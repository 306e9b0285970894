"""Every covered upstream workflow from a checkout: jobs per workflow and where their exclusions live.

The unix port keeps its run-tests.py arguments in ci.sh functions (read by `sync.read_upstream`).
The other workflows reach run-tests.py through a port's Makefile (`make -C ports/qemu BOARD=X
test_full`, whose arguments come from `RUN_TESTS_*` variables in the Makefile and the board's
`mpconfigboard.mk`), or straight from a workflow `run:` line (the windows MSVC jobs). A job's
`places` name those files, and an exclude entry found in one of them names the same place, so
`Entry.covers` links the two exactly as it links ci.sh functions: a Makefile exclusion covers
only the jobs that run that Makefile's test target (with that board).

Nothing here runs make or the shell: the readers look for the shapes upstream uses (one
assignment or recipe line per filter list, `-e`/`--exclude` words) and say nothing about others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date

from bot.errors import FlakeBotError
from bot.registry.ci_sh import CiScript, expand, line_filters, read_ci_sh, says_flaky
from bot.registry.model import Entry, JobSpec, Mechanism, Registry, WorkflowSpec
from bot.registry.source import SourceTree
from bot.registry.upstream_sync import CI_SH, DEFAULT_WORKFLOW, drift, read_upstream, sync_registry
from bot.registry.workflow import WorkflowJob, read_workflow

WORKFLOWS_DIR = ".github/workflows"
#: The workflows whose jobs run tests/run-tests.py and print its usual output (docs/registry.md,
#: "Workflows beyond the unix port"); the unix port's is the registry's first section.
COVERED = (
    "ports_unix.yml",
    "ports_qemu.yml",
    "ports_windows.yml",
    "ports_webassembly.yml",
    "ports_zephyr.yml",
)
#: Make targets of a port that run tests/run-tests.py (test_natmod runs run-natmodtests.py,
#: which upstream's exclusion lists do not cover; the unix nanbox job runs test_full_no_native).
TEST_TARGETS = ("test", "test_full", "test_min", "test_full_no_native", "test_gcov")
_MAKE_RE = re.compile(r"(?:^|[\s;&(])make\s+([^\n;&|]*)")
_ASSIGN_RE = re.compile(r"^\s*(RUN_TESTS\w*)\s*(?:\+|:|\?)?=\s*(.*)$")
_BOARD_DEFAULT_RE = re.compile(r"^\s*BOARD\s*\?=\s*(\S+)\s*$", re.MULTILINE)
_COMMENT_RE = re.compile(r"^\s*#\s?(.*)$")
_MAX_REASON = 200


def _read_optional(tree: SourceTree, path: str) -> str | None:
    """A file a checkout (or a tree read through the API, whose errors are not InputErrors) may lack."""
    try:
        return tree.read_text(path)
    except FlakeBotError:
        return None


def _make_calls(text: str) -> list[tuple[str, str | None, str]]:
    """(port directory, BOARD or None, target) of every `make -C ports/X ... <test target>`."""
    found: list[tuple[str, str | None, str]] = []
    for m in _MAKE_RE.finditer(text):
        words = m.group(1).split()
        directory = board = None
        targets: list[str] = []
        for index, word in enumerate(words):
            if word == "-C" and index + 1 < len(words):
                directory = words[index + 1]
            elif word.startswith("BOARD="):
                board = word[len("BOARD=") :]
            elif "=" not in word and not word.startswith("-") and (index == 0 or words[index - 1] != "-C"):
                targets.append(word)
        if directory and directory.startswith("ports/"):
            found.extend((directory.rstrip("/"), board, t) for t in targets if t in TEST_TARGETS)
    return found


def _function_text(script: CiScript, names: Iterable[str]) -> str:
    parts = []
    for name in names:
        function = script.functions.get(name)
        if function is not None:
            parts.append("\n".join(script.lines[function.start : function.end - 1]))
    return "\n".join(parts)


def _job_spec(
    tree: SourceTree, script: CiScript, file: str, job: WorkflowJob, *, read_files: bool = True
) -> JobSpec:
    """A job's functions, places and test targets; without `read_files`, no Makefile or board file
    is read (the patch writer, which may pay a request per file, needs only the targets)."""
    functions = script.closure(job.functions)
    places: list[str] = []
    targets: list[str] = []
    texts = [run for _, run in job.runs] + [_function_text(script, functions)]
    for directory, board, target in _make_calls("\n".join(texts)):
        makefile = f"{directory}/Makefile"
        text = _read_optional(tree, makefile) if read_files else None
        if text is None:  # still a test target, though its exclusions are not read
            missing = f"make -C {directory}" + (f" BOARD={board}" if board else "") + f" {target}"
            targets += [missing] if missing not in targets else []
            continue
        if board is None:
            default = _BOARD_DEFAULT_RE.search(text)
            board = default.group(1) if default else None
        shown = f"make -C {directory}" + (f" BOARD={board}" if board else "") + f" {target}"
        if shown not in targets:
            targets.append(shown)
        candidates = [makefile]
        if board:
            candidates += [f"{directory}/boards/{board}/mpconfigboard.mk", f"{directory}/boards/{board}.mk"]
        for path in candidates:
            if path not in places and (path == makefile or _read_optional(tree, path) is not None):
                places.append(path)
    for name in functions:
        function = script.functions.get(name)
        if function is not None and function.invocations:
            shown = f"{name} (tools/ci.sh)"
            if shown not in targets:
                targets.append(shown)
    for directory, run in job.runs:
        if "run-tests.py" in run and "--print-failures" not in run and "tools/ci.sh" not in run:
            place = f"{WORKFLOWS_DIR}/{file}:{job.job_id}"
            if place not in places:
                places.append(place)
            shown = f"{run.strip()} (in {directory or '.'})"
            if shown not in targets:
                targets.append(shown)
    return JobSpec(job.name, job.os, job.runs_on, functions, tuple(places), tuple(targets))


def _reason(lines: list[str], index: int) -> str:
    """The comment block right above line `index` (upstream explains a filter list there)."""
    words: list[str] = []
    at = index - 1
    while at >= 0 and (m := _COMMENT_RE.match(lines[at])):
        words.insert(0, m.group(1).strip())
        at -= 1
    text = " ".join(w for w in words if w)
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


def _line_in(file_lines: list[str], line: str) -> int | None:
    """1-based line of the workflow file holding one line of a `run:` text; None when matrix
    values filled into it make it differ from every line of the file."""
    wanted = line.strip()
    for number, text in enumerate(file_lines, start=1):
        if wanted and wanted in text:
            return number
    return None


def _source(path: str, line: int | None) -> str:
    return f"{path}:{line}" if line else path


def _place_entries(
    path: str, place: str, text: str, as_of: date, *, run_line: bool, file_lines: list[str] | None = None
) -> list[Entry]:
    entries: list[Entry] = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if run_line:
            filters = line_filters(line)
        else:
            assign = _ASSIGN_RE.match(line)
            if assign:
                filters = line_filters("run-tests.py " + assign.group(2))
            elif "run-tests.py" in line:
                filters = line_filters(line)
            else:
                continue
        reason = _reason(lines, index) if filters else ""
        for action, pattern in filters:
            if action != "exclude":
                continue
            for alternative in expand(pattern):
                entry = Entry(
                    test=alternative,
                    mechanism=Mechanism.EXCLUDE,
                    reason=reason,
                    flaky=says_flaky(reason),
                    places=(place,),
                    source=_source(path, index + 1 if file_lines is None else _line_in(file_lines, line)),
                    since=as_of,
                )
                if not any(e.test == entry.test and e.places == entry.places for e in entries):
                    entries.append(entry)
    return entries


def read_workflow_section(
    tree: SourceTree, script: CiScript, file: str, as_of: date
) -> tuple[WorkflowSpec, list[Entry]]:
    """One workflow's jobs, and the exclusions in the Makefiles and run lines those jobs use."""
    path = f"{WORKFLOWS_DIR}/{file}"
    text = tree.read_text(path)
    name, jobs = read_workflow(text, path)
    file_lines = text.splitlines()
    specs = {job.name: _job_spec(tree, script, file, job) for job in jobs}
    entries: list[Entry] = []
    for job in jobs:
        for _directory, run in job.runs:
            if "run-tests.py" in run and "--print-failures" not in run:
                place = f"{path}:{job.job_id}"
                entries += _place_entries(path, place, run, as_of, run_line=True, file_lines=file_lines)
    for place in dict.fromkeys(p for spec in specs.values() for p in spec.places if ":" not in p):
        entries += _place_entries(place, place, tree.read_text(place), as_of, run_line=False)
    unique: list[Entry] = []
    for entry in entries:
        if not any(e.test == entry.test and e.places == entry.places for e in unique):
            unique.append(entry)
    return WorkflowSpec(file, name, specs), unique


def read_sections(
    tree: SourceTree, script: CiScript, files: Sequence[str] = COVERED
) -> tuple[WorkflowSpec, ...]:
    """The workflows of `files` the checkout has (bare file names), each job with its ci.sh
    functions and test targets: what the patch writer needs to know which jobs run run-tests.py
    and on which platform. Only the workflow files are read (no Makefile or board file)."""
    sections: list[WorkflowSpec] = []
    for file in files:
        path = f"{WORKFLOWS_DIR}/{file}"
        text = _read_optional(tree, path)
        if text is None:
            continue
        name, jobs = read_workflow(text, path)
        specs = {job.name: _job_spec(tree, script, file, job, read_files=False) for job in jobs}
        sections.append(WorkflowSpec(file, name, specs))
    return tuple(sections)


def runs_run_tests(spec: JobSpec) -> bool:
    """Whether a job runs tests/run-tests.py: through a ci.sh function with a run-tests.py
    command, a port's test target, or a workflow run line (`targets` lists each way it does)."""
    return bool(spec.targets)


def read_all_upstream(tree: SourceTree, as_of: date) -> Registry:
    """`read_upstream` for the unix port plus every other covered workflow the checkout has."""
    base = read_upstream(tree, as_of, DEFAULT_WORKFLOW)
    script = read_ci_sh(tree.read_text(CI_SH), CI_SH)
    sections: list[WorkflowSpec] = []
    extra: list[Entry] = []
    for file in COVERED[1:]:
        if _read_optional(tree, f"{WORKFLOWS_DIR}/{file}") is None:
            continue
        spec, entries = read_workflow_section(tree, script, file, as_of)
        sections.append(spec)
        extra += [e for e in entries if not any(e.test == x.test and e.places == x.places for x in extra)]
    return replace(
        base,
        entries=base.entries + tuple(extra),
        workflow_file=DEFAULT_WORKFLOW.rsplit("/", 1)[-1],
        workflows=tuple(sections),
    )


def _split(registry: Registry) -> tuple[Registry, list[Entry]]:
    """The registry without place-only exclude entries (what `sync`/`drift` handle), and those."""
    placed = [e for e in registry.entries if e.mechanism is Mechanism.EXCLUDE and not e.functions]
    rest = tuple(e for e in registry.entries if not (e.mechanism is Mechanism.EXCLUDE and not e.functions))
    return replace(registry, entries=rest), placed


def sync_all(existing: Registry | None, fresh: Registry, as_of: date) -> Registry:
    """`sync_registry` for the ci.sh and ignore entries, the same rules for place entries (kept
    with their `since` and hand-written fields while upstream has them, closed when gone, new ones
    from `as_of`), and the workflows' jobs taken from the checkout."""
    old_rest, old_placed = _split(existing) if existing is not None else (None, [])
    fresh_rest, fresh_placed = _split(fresh)
    synced = sync_registry(old_rest, fresh_rest, as_of)
    upstream = {(e.test, e.places): e for e in fresh_placed}
    claimed: set[tuple[str, tuple[str, ...]]] = set()
    placed: list[Entry] = []
    for entry in old_placed:
        now = upstream.get((entry.test, entry.places))
        if entry.until is not None:
            placed.append(entry)
        elif now is None:
            if entry.since is None or entry.since < as_of:
                placed.append(replace(entry, until=as_of))
        else:
            claimed.add((entry.test, entry.places))
            placed.append(replace(entry, reason=now.reason, flaky=now.flaky, source=now.source))
    placed += [e for key, e in upstream.items() if key not in claimed]
    return replace(
        synced,
        entries=synced.entries + tuple(placed),
        workflow_file=fresh.workflow_file or (existing.workflow_file if existing else ""),
        workflows=fresh.workflows,
    )


def drift_all(registry: Registry, upstream: Registry, as_of: date | None = None) -> list[str]:
    """`drift` for the unix section, plus each other workflow's jobs and place exclusions.

    With `as_of` (an older checkout), the registry's place exclusions in force that day are
    compared by pattern and place only (reasons of closed entries are not kept up to date), a
    change made on `as_of` itself is accepted either way, and jobs are not compared: the registry
    keeps only today's."""
    mine_rest, mine_placed = _split(registry)
    theirs_rest, theirs_placed = _split(upstream)
    lines = drift(mine_rest, theirs_rest, as_of)
    mine = {(e.test, e.places): e for e in mine_placed if e.active_on(as_of)}
    theirs = {(e.test, e.places): e for e in theirs_placed}
    for key in theirs.keys() - mine.keys():
        if as_of is not None and any((e.test, e.places) == key and e.until == as_of for e in mine_placed):
            continue
        e = theirs[key]
        lines.append(
            f"upstream only: {', '.join(key[1])} excludes {key[0]!r} ({e.source}; reason {e.reason!r})"
        )
    for key in mine.keys() - theirs.keys():
        if as_of is not None and mine[key].since == as_of:
            continue
        lines.append(
            f"registry only: {', '.join(key[1])} excludes {key[0]!r} (registry line {mine[key].line}; "
            "no longer upstream)"
        )
    for key in mine.keys() & theirs.keys():
        a, b = mine[key], theirs[key]
        if as_of is None and (a.reason, a.flaky) != (b.reason, b.flaky):
            lines.append(
                f"differs: {', '.join(key[1])} excludes {key[0]!r}: registry line {a.line} says reason "
                f"{a.reason!r}, flaky {a.flaky}; {b.source} says reason {b.reason!r}, flaky {b.flaky}"
            )
    if as_of is not None:
        return sorted(lines)
    ours = {s.file: s for s in registry.sections()[1:]}
    for spec in upstream.sections()[1:]:
        have = ours.pop(spec.file, None)
        if have is None:
            lines.append(f"upstream only: workflow {spec.file} ({len(spec.jobs)} jobs)")
            continue
        lines += [f"{spec.file}: {line}" for line in _job_drift(have, spec)]
    lines += [f"registry only: workflow {file} (not in the checkout)" for file in ours]
    return sorted(lines)


def _job_drift(mine: WorkflowSpec, theirs: WorkflowSpec) -> list[str]:
    lines = [f"upstream only: job {n!r} ({theirs.jobs[n].os})" for n in theirs.jobs.keys() - mine.jobs.keys()]
    lines += [
        f"registry only: job {n!r} (not in the workflow any more)"
        for n in mine.jobs.keys() - theirs.jobs.keys()
    ]
    for name in mine.jobs.keys() & theirs.jobs.keys():
        a, b = mine.jobs[name], theirs.jobs[name]
        if (a.os, a.runs_on) != (b.os, b.runs_on):
            lines.append(f"differs: job {name!r} runs on {b.runs_on} ({b.os}), not {a.runs_on} ({a.os})")
        if (a.functions, a.places) != (b.functions, b.places):
            where = ", ".join(b.functions + b.places) or "nothing"
            lines.append(f"differs: job {name!r} now keeps its exclusions in {where}")
    return lines
