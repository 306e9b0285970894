"""Build a registry from upstream's files, update an existing one, and report drift between them.

Upstream files only say what is in force *now*, so `sync` keeps history itself: an entry that
disappeared upstream is closed with `until` (not deleted), so logs from before that day are still
judged by the rules of their day, and new entries start on the sync date rather than an invented
earlier one (a wrong early `since` could call an old regression a known flake). Hand-written
fields (symptoms, links, notes) are carried over whenever the same fact is still upstream.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from bot.registry.ci_sh import CiScript, bullet_for, bullet_reason, expand, read_ci_sh, says_flaky
from bot.registry.model import Entry, JobSpec, Mechanism, Registry
from bot.registry.run_tests_py import read_ignore_dict
from bot.registry.source import SourceTree
from bot.registry.workflow import read_workflow

CI_SH = "tools/ci.sh"
RUN_TESTS = "tests/run-tests.py"
DEFAULT_WORKFLOW = ".github/workflows/ports_unix.yml"


def read_jobs(
    script: CiScript, workflow_text: str, workflow: str = DEFAULT_WORKFLOW
) -> tuple[str, dict[str, JobSpec]]:
    """The workflow's name and its jobs, each with every ci.sh function it runs (helpers included)."""
    workflow_name, workflow_jobs = read_workflow(workflow_text, workflow)
    return workflow_name, {
        job.name: JobSpec(job.name, job.os, job.runs_on, script.closure(job.functions))
        for job in workflow_jobs
    }


def read_upstream(tree: SourceTree, as_of: date, workflow: str = DEFAULT_WORKFLOW) -> Registry:
    """Everything the registry can learn from a checkout, dated `as_of`: one exclude entry per
    (pattern alternative, ci.sh function), one ignore entry per dict key, and the jobs."""
    script = read_ci_sh(tree.read_text(CI_SH), CI_SH)
    workflow_name, jobs = read_jobs(script, tree.read_text(workflow), workflow)
    entries: list[Entry] = []
    for function in script.functions.values():
        for invocation in function.invocations:
            for flt in invocation.filters:
                if flt.action != "exclude":
                    continue
                for alternative in expand(flt.pattern):
                    reason = bullet_reason(bullet_for(alternative, function.bullets))
                    entry = Entry(
                        test=alternative,
                        mechanism=Mechanism.EXCLUDE,
                        reason=reason,
                        flaky=says_flaky(reason),
                        functions=(function.name,),
                        source=f"{CI_SH}:{invocation.line}",
                        since=as_of,
                    )
                    if not any(e.test == entry.test and e.functions == entry.functions for e in entries):
                        entries.append(entry)
    ignore = read_ignore_dict(tree.read_text(RUN_TESTS), RUN_TESTS)
    for item in ignore.items if ignore else ():
        entries.append(
            Entry(
                test=item.test,
                mechanism=Mechanism.IGNORE,
                reason=item.reason,
                flaky=True,
                platforms=item.platforms,
                source=f"{RUN_TESTS}:{item.line}",
                since=as_of,
            )
        )
    return Registry(tuple(entries), jobs, "", workflow_name)


def _hand(entry: Entry, source: Entry) -> Entry:
    return replace(entry, symptoms=source.symptoms, links=source.links, notes=source.notes)


def _ended(entry: Entry, as_of: date) -> Entry | None:
    """Close an entry on `as_of`; one that started that day or later never really applied."""
    if entry.since is not None and entry.since >= as_of:
        return None
    return replace(entry, until=as_of)


def _lines(source: str) -> list[str]:
    path, _, lines = source.partition(":")
    return [f"{path}:{n}" for n in lines.split(",")] if lines else [source]


def _group(entries: list[Entry]) -> list[Entry]:
    """Merge exclude entries that differ only in function (and ci.sh line) into one entry."""
    out: list[Entry] = []
    for entry in entries:
        if entry.mechanism is Mechanism.EXCLUDE:
            for index, other in enumerate(out):
                if (
                    other.mechanism is Mechanism.EXCLUDE
                    and replace(other, functions=(), source="") == replace(entry, functions=(), source="")
                    and other.source.partition(":")[0] == entry.source.partition(":")[0]
                ):
                    path = other.source.partition(":")[0]
                    numbers = [s.partition(":")[2] for s in _lines(other.source) + _lines(entry.source)]
                    numbers = [n for n in dict.fromkeys(numbers) if n]
                    source = f"{path}:{','.join(numbers)}" if numbers else path
                    out[index] = replace(other, functions=other.functions + entry.functions, source=source)
                    break
            else:
                out.append(entry)
        else:
            out.append(entry)
    return out


def sync_registry(existing: Registry | None, fresh: Registry, as_of: date) -> Registry:
    """`existing` brought up to date with `fresh` (from `read_upstream`), keeping history and
    hand-written fields."""
    up_exclude = {(e.test, e.functions[0]): e for e in fresh.entries if e.mechanism is Mechanism.EXCLUDE}
    up_ignore = {e.test: e for e in fresh.entries if e.mechanism is Mechanism.IGNORE}
    claimed: set[tuple[str, str]] = set()
    result: list[Entry] = []
    for entry in existing.entries if existing else ():
        if entry.until is not None or entry.mechanism is Mechanism.SKIP:
            result.append(entry)
        elif entry.mechanism is Mechanism.IGNORE:
            now = up_ignore.get(entry.test)
            if now is None or now.platforms != entry.platforms:
                ended = _ended(entry, as_of)
                result.extend([ended] if ended else [])
            if now is not None:
                claimed.add(("", entry.test))
                if now.platforms != entry.platforms:
                    result.append(_hand(now, entry))
                else:
                    result.append(replace(entry, reason=now.reason, flaky=now.flaky, source=now.source))
        else:
            gone = tuple(f for f in entry.functions if (entry.test, f) not in up_exclude)
            if gone:
                ended = _ended(replace(entry, functions=gone), as_of)
                result.extend([ended] if ended else [])
            for function in entry.functions:
                now = up_exclude.get((entry.test, function))
                if now is not None:
                    claimed.add((function, entry.test))
                    result.append(
                        replace(
                            entry,
                            functions=(function,),
                            reason=now.reason,
                            flaky=now.flaky,
                            source=now.source,
                        )
                    )
    for entry in fresh.entries:
        key = (entry.functions[0] if entry.functions else "", entry.test)
        if key not in claimed:
            result.append(entry)
    return Registry(
        tuple(_group(result)),
        dict(fresh.jobs),
        existing.repository if existing else "",
        fresh.workflow or (existing.workflow if existing else ""),
    )


def _facts(registry: Registry, when: date | None) -> dict[tuple[str, str, str], tuple[Entry, str]]:
    """Exclude/ignore facts in force on `when` (None: now), keyed by (mechanism, test, function),
    with what they say."""
    facts: dict[tuple[str, str, str], tuple[Entry, str]] = {}
    for entry in registry.entries:
        if not entry.active_on(when) or entry.mechanism is Mechanism.SKIP:
            continue
        if entry.mechanism is Mechanism.EXCLUDE:
            for function in entry.functions:
                facts[("exclude", entry.test, function)] = (
                    entry,
                    f"reason {entry.reason!r}, flaky {entry.flaky}",
                )
        else:
            platforms = "all platforms" if entry.platforms is None else ", ".join(entry.platforms)
            facts[("ignore", entry.test, "")] = (
                entry,
                f"reason {entry.reason!r}, platforms {platforms}, flaky {entry.flaky}",
            )
    return facts


def _describe(key: tuple[str, str, str]) -> str:
    mechanism, test, function = key
    if mechanism == "exclude":
        return f"{function} excludes {test!r}"
    return f"flaky_tests_to_ignore has {test!r}"


def _same(mine: Entry, theirs: Entry) -> bool:
    """Whether two facts agree. A reason the checkout's bullets do not give (no bullet names the
    pattern) but the registry does was attributed by hand from the comment, and is not drift."""
    if theirs.reason == "" and mine.reason and mine.mechanism is Mechanism.EXCLUDE:
        return mine.flaky == theirs.flaky
    return mine.reason == theirs.reason and mine.flaky == theirs.flaky and mine.platforms == theirs.platforms


def drift(registry: Registry, upstream: Registry, as_of: date | None = None) -> list[str]:
    """Readable differences between a registry and a checkout; empty when they agree.

    With `as_of`, the registry's entries in force on that day are compared (for an older
    checkout), and jobs are not: the registry keeps only the current job list. Dates are days,
    so a change made on `as_of` itself is accepted either way. Only ci.sh functions that a job
    runs are compared (ci.sh also serves other ports' workflows).
    """
    run = {f for jobs in (upstream.jobs, registry.jobs) for job in jobs.values() for f in job.functions}
    mine = {k: v for k, v in _facts(registry, as_of).items() if k[0] != "exclude" or k[2] in run}
    theirs = {k: v for k, v in _facts(upstream, None).items() if k[0] != "exclude" or k[2] in run}
    ended = _facts(registry, as_of - timedelta(days=1)) if as_of else {}
    lines: list[str] = []
    on = f"on {as_of}" if as_of else "now"
    for key in theirs.keys() - mine.keys():
        if key in ended and ended[key][0].until == as_of:
            continue
        entry, said = theirs[key]
        lines.append(f"upstream only: {_describe(key)} ({entry.source}; {said}; not in the registry {on})")
    for key in mine.keys() - theirs.keys():
        entry, said = mine[key]
        if as_of is not None and entry.since == as_of:
            continue
        gone = f"in force on {as_of} by the registry, not in the checkout" if as_of else "no longer upstream"
        lines.append(f"registry only: {_describe(key)} (registry line {entry.line}; {gone})")
    for key in mine.keys() & theirs.keys():
        if not _same(mine[key][0], theirs[key][0]):
            lines.append(
                f"differs: {_describe(key)}: registry line {mine[key][0].line} says {mine[key][1]}; "
                f"{theirs[key][0].source} says {theirs[key][1]}"
            )
    if as_of is not None:
        return sorted(lines)
    for name in upstream.jobs.keys() - registry.jobs.keys():
        lines.append(f"upstream only: job {name!r} ({upstream.jobs[name].os})")
    for name in registry.jobs.keys() - upstream.jobs.keys():
        lines.append(f"registry only: job {name!r} (not in the workflow any more)")
    for name in registry.jobs.keys() & upstream.jobs.keys():
        a, b = registry.jobs[name], upstream.jobs[name]
        if (a.os, a.runs_on) != (b.os, b.runs_on):
            lines.append(f"differs: job {name!r} runs on {b.runs_on} ({b.os}), not {a.runs_on} ({a.os})")
        added = [f for f in b.functions if f not in a.functions]
        removed = [f for f in a.functions if f not in b.functions]
        if added or removed:
            change = "; ".join(
                part
                for part in (
                    f"now also runs {', '.join(added)}" if added else "",
                    f"no longer runs {', '.join(removed)}" if removed else "",
                )
                if part
            )
            lines.append(f"differs: job {name!r} {change}")
    return sorted(lines)
