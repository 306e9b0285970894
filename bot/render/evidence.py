"""The evidence behind a verdict, in words: a few for the table, whole sentences for the details.

Sentences are built as segments (trusted words, untrusted code, links) so the Markdown and the
plain-text renderers say the same thing, each escaping in its own way. Only numbers, fixed
words, run ids and commit shas from the store go into the words; symptoms (log text) are code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.across_jobs import AcrossJobs, SiblingRecord
from bot.evidence import Evidence, FlakyOnset, RunRef
from bot.findings import Finding
from bot.records import RunInfo
from bot.verdicts import Verdict


@dataclass(frozen=True)
class Code:
    """Untrusted text (a symptom), shown as code."""

    text: str


@dataclass(frozen=True)
class Link:
    """Trusted words linking to a page of the repository."""

    text: str
    url: str | None


Segment = str | Code | Link
Sentence = tuple[Segment, ...]

_REPO_URL = re.compile(r"(https://[A-Za-z0-9.-]+(?::\d+)?/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)/actions/runs/\d+")


def repo_url(run: RunInfo) -> str | None:
    """https://github.com/OWNER/REPO, read from the run's own page (an API value, not a log's)."""
    found = _REPO_URL.match(run.html_url or "")
    return found.group(1) if found else None


def _short(sha: str) -> str:
    return sha[:7] if re.fullmatch(r"[0-9a-f]{7,40}", sha) else "?"


def _run(ref: RunRef, base: str | None, this_run: int | None = None) -> Link:
    """A link to one attempt of a run; an attempt of `this_run` (the triaged one) is named so."""
    mine = ref.run_id == this_run
    text = f"attempt {ref.attempt} of this run" if mine else f"run {ref.run_id}" + (
        f" attempt {ref.attempt}" if ref.attempt > 1 else ""
    )
    url = f"{base}/actions/runs/{ref.run_id}" if base else None
    if url and (ref.attempt > 1 or mine):
        url += f"/attempts/{ref.attempt}"
    return Link(text, url)


def _commit(ref: RunRef, base: str | None) -> Link:
    short = _short(ref.sha)
    return Link(short, f"{base}/commit/{ref.sha}" if base and short != "?" else None)


def counted(n: int, noun: str = "execution") -> str:
    """E.g. "1 execution", "1,150 executions": the one plural the renderers' words use."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _where(e: Evidence) -> str:
    return "on the default branch" if e.default_branch else "in this job"


#: The evidence in a few words, for the table: fixed words and numbers only. One function per
#: verdict, named in its row of `bot/render/verdict_words.py`; those that read the history say
#: "no history here" (or, for a test listed elsewhere, where it is listed) without one.
Brief = Callable[[Finding], str]


def listed_here(f: Finding) -> str:
    return "on upstream's flaky list for this job"


def unlike_listed(f: Finding) -> str:
    return "on the flaky list, but not failing the known way"


def in_jobs_of_run(f: Finding) -> str:
    return f"failed in {len(f.failed_in_jobs)} jobs of this run"


def _with_history(say: Callable[[Finding, Evidence], str], without: str = "no history here") -> Brief:
    def brief(f: Finding) -> str:
        e = f.evidence
        return without if e is None or e.known + e.unknown == 0 else say(f, e)

    return brief


def _rate(f: Finding, e: Evidence) -> str:
    return f"failed {e.failures:,} of {counted(e.known)} {_where(e)}"


def _same_commit(f: Finding, e: Evidence) -> str:
    if e.same_commit_pass is None:
        return _rate(f, e)
    return f"passed on this commit in {_run(e.same_commit_pass, None, f.job.run_id).text}"


def _streak(f: Finding, e: Evidence, lead: str = "failed") -> str:
    text = f"{lead} in the last {counted(e.streak.failures)} {_where(e)}"
    if e.streak.first_failure is not None:
        text += f", since run {e.streak.first_failure.run_id}"
    return text + (f" ({e.streak.unknown:,} unknown)" if e.streak.unknown else "")


def _ignored_streak(f: Finding, e: Evidence) -> str:
    return _streak(f, e, "ignored, yet failed")


def _onset(f: Finding, e: Evidence) -> str:
    return _rate(f, e) if e.flaky_since is None else _onset_brief(e.flaky_since)


def _new_way(f: Finding, e: Evidence) -> str:
    return f"{counted(e.failures, 'earlier failure')}, none failing this way"


def _no_failure(f: Finding, e: Evidence) -> str:
    text = f"no failure in {counted(e.known)} {_where(e)}"
    return text + (f" ({e.unknown:,} unknown)" if e.unknown else "")


def _alone(f: Finding, e: Evidence) -> str:
    text = f"failed {e.failures:,} of {counted(e.known)} {_where(e)}, alone between passes"
    if e.flipped_commits:
        text += f"; flipped on {counted(e.flipped_commits, 'commit')}"
    return text


def _in_rows(f: Finding, e: Evidence) -> str:
    return f"{counted(e.failures, 'earlier failure')}, in rows of up to {e.longest_run}"


rate = _with_history(_rate)
same_commit = _with_history(_same_commit)
streak = _with_history(_streak)
ignored_streak = _with_history(_ignored_streak)
onset = _with_history(_onset)
new_way = _with_history(_new_way)
no_failure = _with_history(_no_failure)
alone = _with_history(_alone)
in_rows = _with_history(_in_rows)
listed_elsewhere = _with_history(_rate, "on the flaky list for other jobs only")


def across(f: Finding) -> str:
    """The record in the other jobs, even with no history here (it says so)."""
    if f.across is not None and f.evidence is not None:
        return across_brief(f.across, f.evidence)
    return rate(f)


def sentences(f: Finding, base: str | None) -> list[Sentence]:
    """The evidence in whole sentences, for the details of one failure."""
    e = f.evidence
    if e is None:
        return []
    if e.known + e.unknown == 0:
        none = "The history store holds no execution of this job before this run."
        return [(none,), *across_sentences(f, base)]
    out: list[Sentence] = []
    where = _where(e)
    s = e.streak
    if e.same_commit_pass is not None:
        out.append(
            (
                "It passed on this same commit (",
                _commit(e.same_commit_pass, base),
                ") in ",
                _run(e.same_commit_pass, base, f.job.run_id),
                ": nothing in the code changed between the two results.",
            )
        )
    if s.failures:
        head: list[Segment] = [
            f"It also failed in its last {counted(s.failures)} {where} before this run",
        ]
        if s.unknown:
            head.append(f" (besides {counted(s.unknown)} whose outcome is unknown: log expired or not read)")
        if s.first_failure is not None:
            head += [", since ", _run(s.first_failure, base), " on ", _commit(s.first_failure, base)]
        out.append((*head, "."))
        if s.last_pass is not None and s.first_failure is not None:
            compare = (
                f"{base}/compare/{s.last_pass.sha}...{s.first_failure.sha}"
                if base and _short(s.last_pass.sha) != "?" and _short(s.first_failure.sha) != "?"
                else None
            )
            out.append(
                (
                    "Last pass: ",
                    _run(s.last_pass, base),
                    " on ",
                    _commit(s.last_pass, base),
                    "; the cause is likely in ",
                    Link("the changes between them", compare),
                    ".",
                )
            )
        elif s.capped:
            out.append((f"No pass in the {counted(e.known + e.unknown)} the store holds {where}.",))
    elif s.unknown:
        out.append(
            (
                f"Its last {counted(s.unknown)} {where} have an unknown outcome (log expired or not "
                "read), so this may not be its first failure in a row.",
            )
        )
    if e.flaky_since is not None and f.verdict is Verdict.NEWLY_FLAKY:
        out.extend(_onset_sentences(e.flaky_since, where, base))
    if e.failures:
        text = f"It failed {e.failures:,} times in {counted(e.known)} {where} with a known outcome"
        if e.isolated:
            text += f"; {e.isolated:,} of them alone between passes"
        if e.longest_run > 1:
            text += f"; the longest row of failures was {e.longest_run:,}"
        out.append((text + ".",))
    elif not s.unknown:
        out.append((f"No failure in {counted(e.known)} {where} before this run.",))
    if e.flipped_commits:
        out.append(
            (
                f"It failed and passed on the same commit {e.flipped_commits:,} "
                f"time{'' if e.flipped_commits == 1 else 's'} before (re-runs): flaky, proven.",
            )
        )
    if e.symptoms_here or e.symptoms_elsewhere:
        parts: list[Segment] = ["Symptoms of its earlier failures"]
        if e.symptoms_here:
            parts.append(" here: ")
            parts.extend(_listed(e.symptoms_here))
        if e.symptoms_elsewhere:
            parts.append("; in other jobs: " if e.symptoms_here else " in other jobs: ")
            parts.extend(_listed(e.symptoms_elsewhere))
        if e.new_way:
            parts.append(". This failure is unlike all of them")
        out.append((*parts, "."))
    out.extend(across_sentences(f, base))
    return out


def _job(s: SiblingRecord) -> Sentence:
    """A sibling job, with its workflow when it is another workflow's."""
    return (Code(s.job), " of the workflow ", Code(s.workflow)) if s.workflow else (Code(s.job),)


def _listed(items: Sequence[str]) -> list[Segment]:
    out: list[Segment] = []
    for i, item in enumerate(items):
        if i:
            out.append(", ")
        out.append(Code(item))
    return out


def across_brief(a: AcrossJobs, e: Evidence) -> str:
    """E.g. "failed this way in 2 other jobs (3 of 400 executions), last 2026-02-04; none of
    120 here": numbers, dates and fixed words (job names are in the sentences, as code)."""
    here = f"none of {counted(e.known)} here" if e.known else "no history here"
    if a.matching:
        failures = sum(s.same_symptom for s in a.matching)
        known = sum(s.known for s in a.matching)
        jobs = counted(len(a.matching), "other job")
        last = f", last {a.last_seen:%Y-%m-%d}" if a.last_seen is not None else ""
        return f"failed this way in {jobs} ({failures:,} of {counted(known)}){last}; {here}"
    return f"on the flaky list for {counted(len(a.listed), 'other job')}; {here}"


def across_sentences(f: Finding, base: str | None) -> list[Sentence]:
    """The test's record in the other jobs, when it was read: what lends the evidence and what
    vetoes it (job names and symptoms are code)."""
    a = f.across
    if a is None or not a.siblings:
        return []
    out: list[Sentence] = []
    for s in a.matching:
        head: list[Segment] = [
            "In ",
            *_job(s),
            f" it failed {s.failures:,} of {counted(s.known)}, alone between passes, "
            f"{s.same_symptom:,} of them the way it fails now",
        ]
        if s.last_failure is not None:
            head += [", last in ", _run(s.last_failure, base), f" on {s.last_failure.created:%Y-%m-%d}"]
        out.append((*head, "; it passed there since."))
    for s in a.vetoes:
        why = (
            f" it failed in its last {counted(s.streak)}"
            if s.streak
            else f" its failures came in rows of up to {s.longest_run:,}"
        )
        out.append(("In ", *_job(s), f"{why}: not a flake's pattern, so no other job vouches for it."))
    if a.listed:
        out.append(("Upstream lists it as flaky for ", *_listed([s.job for s in a.listed]), "."))
    if f.verdict is Verdict.FLAKY_OTHER_JOBS:
        out.append(
            (
                "It has not failed in this job before, so a re-run should clear it; no patch is "
                "proposed until its history in this job shows it flaky too.",
            )
        )
    return out


def _onset_brief(o: FlakyOnset) -> str:
    return (
        f"failed {o.failures_after:,} of {counted(o.executions_after)} since run {o.first_failure.run_id}, "
        f"{o.failures_before:,} of {o.executions_before:,} before"
    )


def _onset_sentences(o: FlakyOnset, where: str, base: str | None) -> list[Sentence]:
    """The start point of a new flakiness and where its cause lies, like a streak's culprit range
    but wider: at a rate of a few percent, the runs right before the first failure may already
    have had the bug and passed by chance."""
    out: list[Sentence] = [
        (
            f"Its failure rate {where} rose: {o.failures_after:,} failures in {counted(o.executions_after)} "
            "since ",
            _run(o.first_failure, base),
            " on ",
            _commit(o.first_failure, base),
            f", against {o.failures_before:,} in {counted(o.executions_before)} before "
            f"(change-point test, p = {o.p_value:.2g} after correcting for every start point tried).",
        )
    ]
    if o.last_quiet is None:
        out.append(("The store's history starts inside the range where the change may lie.",))
        return out
    compare = (
        f"{base}/compare/{o.last_quiet.sha}...{o.first_failure.sha}"
        if base and _short(o.last_quiet.sha) != "?" and _short(o.first_failure.sha) != "?"
        else None
    )
    gaps = f" ({counted(o.unknown)} between them with an unknown outcome)" if o.unknown else ""
    out.append(
        (
            "Last quiet run: ",
            _run(o.last_quiet, base),
            " on ",
            _commit(o.last_quiet, base),
            f"{gaps}; find the cause in ",
            Link("the changes between it and the first failure", compare),
            ".",
        )
    )
    return out
