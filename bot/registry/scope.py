"""`registry check --workflow W` and `registry sync --workflow W`: one workflow's section and entries.

A registry describes five workflows, and a maintainer who fixes one wants that one checked and
updated without the others being read through its eyes (a qemu job list compared with the unix
port's) or rewritten. So both commands work on a *scoped* registry: W's section as the only one,
and the entries W's jobs can meet (exclusions in the ci.sh functions its jobs run or in the
Makefiles and run lines they use, and every ignore and skip entry, which run-tests.py applies in
every workflow). `sync` then puts the result back: W's section and W's entries are replaced,
everything else is carried over as it was, in place, so the file changes only where W changed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from bot.errors import InputError
from bot.registry.model import Entry, Mechanism, Registry, WorkflowSpec, shown
from bot.registry.upstream import COVERED, WORKFLOWS_DIR, drift_all, sync_all


def workflow_file(key: str) -> str:
    """`--workflow` as a bare file name, whatever form it was given in (ports_qemu.yml, its path,
    or the workflow's display name, which the sections resolve)."""
    base = key.strip().rsplit("/", 1)[-1]
    if not base or (base.endswith((".yml", ".yaml")) and base not in COVERED):
        raise InputError(
            f"--workflow '{shown(key)}' is not a covered workflow; the registry covers {', '.join(COVERED)}"
        )
    return base


def workflow_path(key: str) -> str:
    """The workflow's path in a checkout, from a bare name or a path."""
    return f"{WORKFLOWS_DIR}/{workflow_file(key)}"


def _section(registry: Registry, file: str) -> WorkflowSpec | None:
    for spec in registry.sections():
        if spec.is_called(file):
            return spec
    return None


def _owned(sections: list[WorkflowSpec]) -> tuple[set[str], set[str]]:
    """The ci.sh functions and the places (Makefiles, run lines) the workflow's jobs use."""
    functions = {f for s in sections for job in s.jobs.values() for f in job.functions}
    places = {p for s in sections for job in s.jobs.values() for p in job.places}
    return functions, places


def _part(entry: Entry, functions: set[str], places: set[str]) -> Entry | None:
    """The part of an entry the workflow's jobs can meet; None when none of it."""
    if entry.mechanism is not Mechanism.EXCLUDE:
        return entry
    if entry.functions:
        mine = tuple(f for f in entry.functions if f in functions)
        return replace(entry, functions=mine) if mine else None
    return entry if set(entry.places) & places else None


def _scoped(registry: Registry, section: WorkflowSpec, functions: set[str], places: set[str]) -> Registry:
    entries = tuple(p for e in registry.entries if (p := _part(e, functions, places)) is not None)
    return Registry(entries, section.jobs, registry.repository, section.name, registry.path, section.file)


def drift_workflow(registry: Registry, upstream: Registry, key: str, as_of: date | None = None) -> list[str]:
    """`drift_all` for one workflow: its jobs, and the entries its jobs can meet."""
    file = workflow_file(key)
    mine, theirs = _section(registry, file), _section(upstream, file)
    if theirs is None and mine is None:
        raise InputError(f"neither the registry nor the checkout has the workflow {file}")
    if theirs is None:
        return [f"registry only: workflow {file} (not in the checkout)"]
    if mine is None:
        return [f"upstream only: workflow {file} ({len(theirs.jobs)} jobs)"]
    functions, places = _owned([mine, theirs])
    lines = drift_all(
        _scoped(registry, mine, functions, places), _scoped(upstream, theirs, functions, places), as_of
    )
    if as_of is None:  # drift() compares a section's runners and functions; its places are compared here
        for name in mine.jobs.keys() & theirs.jobs.keys():
            a, b = mine.jobs[name], theirs.jobs[name]
            if a.places != b.places:
                where = ", ".join(b.places) or "no Makefile or run line"
                lines.append(f"differs: job {name!r} now keeps its exclusions in {where}")
    return sorted(lines)


def sync_workflow(existing: Registry | None, upstream: Registry, key: str, as_of: date) -> Registry:
    """`existing` with only `key`'s section and entries brought up to date with `upstream`."""
    file = workflow_file(key)
    theirs = _section(upstream, file)
    if theirs is None:
        raise InputError(f"the checkout has no {WORKFLOWS_DIR}/{file}, so there is nothing to sync it from")
    mine = (_section(existing, file) or _section(existing, theirs.name)) if existing is not None else None
    functions, places = _owned([s for s in (mine, theirs) if s is not None])
    before = _scoped(existing, mine, functions, places) if existing is not None and mine else None
    if existing is not None and mine is None:
        before = _scoped(existing, WorkflowSpec(file, theirs.name), functions, places)
    synced = sync_all(before, _scoped(upstream, theirs, functions, places), as_of)
    if existing is None:
        return synced
    entries = _merge(existing.entries, synced.entries, functions, places)
    spec = WorkflowSpec(theirs.file or file, synced.workflow or theirs.name, synced.jobs)
    if mine is not None and mine == existing.sections()[0]:
        return replace(existing, entries=entries, jobs=spec.jobs, workflow=spec.name or existing.workflow)
    if mine is None:
        return replace(existing, entries=entries, workflows=(*existing.workflows, spec))
    workflows = tuple(replace(spec, name=spec.name or s.name) if s is mine else s for s in existing.workflows)
    return replace(existing, entries=entries, workflows=workflows)


def _merge(
    old: tuple[Entry, ...], new: tuple[Entry, ...], functions: set[str], places: set[str]
) -> tuple[Entry, ...]:
    """The registry's entries with the workflow's part replaced by `new`, in place.

    An entry whose part is unchanged stays as written (byte for byte once dumped); a changed
    one is replaced where it stood by every new entry about the same test and mechanism (the
    closed old fact and the new one); entries about tests new to the registry go at the end.
    """
    remaining = list(new)
    out: list[Entry] = []
    for entry in old:
        part = _part(entry, functions, places)
        if part is None:
            out.append(entry)
            continue
        if part in remaining:
            remaining.remove(part)
            out.append(entry)
            continue
        if entry.functions and len(part.functions) < len(entry.functions):  # other workflows' part stays
            out.append(replace(entry, functions=tuple(f for f in entry.functions if f not in part.functions)))
        same = [e for e in remaining if (e.test, e.mechanism) == (entry.test, entry.mechanism)]
        out.extend(same)
        remaining = [e for e in remaining if e not in same]
    return tuple(out + remaining)
