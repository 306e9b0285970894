"""Markdown escaped by where text comes from: the bot's own words read as written, names are code.

The comment source is read in notification e-mails, the edit box, `--dry-run` output and by API
readers, where a backslash before every `%`, `.` and `(` is noise. Escaping by origin must not
cost safety: hostile names still render as inert code, and a sentence wrongly marked as the
bot's own is escaped anyway.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from test_render import BENIGN, DETAILS, scenario, skeleton
from test_render_gfm import analyse, github_refs

from bot.findings import Note, NoteReason, TriageReport
from bot.render import render_comment, render_step_summary, render_text
from bot.render.sanitize import inline, prose
from bot.verdicts import Verdict

HOSTILE = "<img src=x onerror=alert(1)> @maintainer #1 [x](https://evil.example) *a*_b_ | `c` %d 1.0 (e)"

NOTES = (
    Note(NoteReason.NOT_A_FLAKE, test="basics/x2.py", job="xjob", verdict=Verdict.REGRESSION),
    Note(NoteReason.STILL_FAILING, test="basics/x2.py", job="xjob"),
    Note(NoteReason.CROWDED_JOB, job="xjob", count=7),
    Note(NoteReason.PATCH_REFUSED, test="basics/x2.py", detail="unknown job 'xjob'"),
)


def _with_notes(report: TriageReport, name: str | None = None) -> TriageReport:
    """`report` with one note of each reason; `name`, if given, in every name field."""
    if name is None:
        return replace(report, notes=NOTES)
    notes = tuple(
        replace(n, test=name and n.test, job=name and n.job, detail=name if n.detail else "") for n in NOTES
    )
    return replace(report, notes=notes)


def _outside_code(markdown: str) -> str:
    """The source without fenced blocks, code spans, link targets and the hidden attempt lines."""
    text = re.sub(r"(?ms)^(`{3,})[a-z]*\n.*?^\1\n", "", markdown)
    text = re.sub(r"(`+) .*? \1", "", text)
    text = re.sub(r"\]\(<https://[^>]*>\)", "]", text)
    return "\n".join(line for line in text.split("\n") if not line.startswith("[flake-bot attempt "))


@pytest.mark.parametrize("render", [render_comment, render_step_summary])
def test_a_normal_report_has_no_needless_escapes_in_the_bots_own_words(render: object) -> None:
    markdown = render(_with_notes(BENIGN), details_url=DETAILS)  # type: ignore[operator]
    source = _outside_code(markdown)
    # the registry's explanation of a match is still a sentence with names in it, escaped whole
    explanations = {f"- {inline(f.match.explanation, 1_000)}" for f in BENIGN.findings}
    own = "\n".join(line for line in source.split("\n") if line not in explanations)
    assert re.findall(r"\\[%.(),:\-_/]", own) == []
    for phrase in (
        "(1.3%, 95% CI 0.8–2.1%), last seen 2026-05-30",
        "flake-bot 0.",
        "4 failures in 2 jobs: 1 known flake",
        "(` pull_request ` on ` bx `)",
        "No patch for ` basics/x2.py ` in ` xjob `: it also failed",
        "No patches for ` xjob `: 7 tests",
    ):
        assert phrase in markdown, phrase


def test_hostile_names_in_notes_stay_code() -> None:
    """The same report with a hostile name in every note renders to the same element structure."""
    for render in (render_comment, render_step_summary):
        benign = analyse(render(_with_notes(BENIGN, "xjob"), details_url=DETAILS))
        hostile_md = render(_with_notes(scenario(HOSTILE), HOSTILE), details_url=DETAILS)
        hostile = analyse(hostile_md)
        assert skeleton(hostile) == skeleton(benign)
        assert hostile.balanced and not hostile.comments[1:]
        assert github_refs(hostile) == github_refs(benign) == []
        assert all(link.startswith("https://github.com/micropython/micropython/") for link in hostile.links)
        assert any("@maintainer" in code for code in hostile.code)  # shown, as code


def test_hostile_names_in_notes_are_plain_on_a_terminal() -> None:
    text = render_text(_with_notes(scenario("::warning::x"), "::error::x\n##[error]y"))
    notes = [line for line in text.split("\n") if line.startswith("Note: ")]
    assert len(notes) == 4
    assert not any(line.lstrip().startswith("::") or "##[" in line for line in text.split("\n"))


@pytest.mark.parametrize(
    "words",
    [
        "failed 15 times in the last 1,150 executions of this job (1.3%, 95% CI 0.8–2.1%)",
        "could not read the log: the log has expired (GitHub's log retention ran out)",
        "0.1.0",
        "1 failure in 1 job: 1 needs a look",
        "re-run; nothing in the code changed between the two results",
    ],
)
def test_the_bots_words_pass_as_written(words: str) -> None:
    assert prose(words) == words


@pytest.mark.parametrize(
    "text",
    [
        "<b>x</b>",
        "*em* _em_",
        "[x](https://evil.example)",
        "`code`",
        "a | b",
        "- list item",
        "1. ordered",
        "1) ordered",
        "===",
        "x://y",
        "@maintainer",
        "#1",
        "~~gone~~",
        "$x$",
        "a\\b",
        "x&amp;y",
    ],
)
def test_words_that_could_be_markup_are_escaped_anyway(text: str) -> None:
    """A wrong `words` mark costs readability, never safety: such text gets the inline escaper."""
    assert prose(text) == inline(text, 1_000)


def test_words_keep_commit_like_digit_runs_out_of_reach_of_links_without_invisible_characters() -> None:
    """A run id of 7+ digits could be taken for a commit: it becomes a code span, which GitHub
    never links, and reads (and copies) as the number itself."""
    rendered = analyse(prose("since run 16001234567, 3 of 4"))
    assert github_refs("".join(rendered.plain)) == []
    assert "".join(rendered.text).strip() == "since run 16001234567, 3 of 4"
