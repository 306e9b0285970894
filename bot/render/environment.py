"""The Jinja environments: one for all Markdown (comment, check run, job summary, flakiness
report), one for plain text (stdout).

Templates live in `bot/templates/`. They are rendered with autoescape off (this is Markdown, not
HTML) but with a `finalize` hook that sends every `{{ value }}` through the inline escaper
unless the value is already `Md`. So a template cannot forget to escape: anything unmarked comes
out as inert Markdown text, and the only structure in the output is the template's own.

What is marked depends on where the text comes from:
- flake-bot's own prose is template text, or a fixed sentence from `bot/render/words.py`
  printed through `words` (readable; escaped anyway if it holds a character that could be
  markup);
- numbers, percentages and dates go through `num`, `pct`, `dec`, `day`: digits need no escape;
- names from logs and workflow files (tests, jobs, steps, branches, symptoms) go through
  `code` (or `cell` in a table, `html` inside `<summary>`), diffs and patches through `fence`,
  chart labels through `label`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Any

import jinja2

from bot import __version__
from bot.render.sanitize import (
    Md,
    cell_code,
    code_span,
    fence,
    html_text,
    inline,
    link,
    mermaid_label,
    plain,
    prose,
)
from bot.render.verdict_words import advice, breakdown, brief, headline, label
from bot.render.words import (
    PROBLEM_WORDS,
    PlainText,
    common_notes,
    history,
    ignored_tests,
    job_status,
    note_sentence,
    rate_text,
    say_md,
    say_text,
)


def _finalize_md(value: object) -> str:
    if isinstance(value, Md):
        return value
    if value is None:
        raise ValueError("a template printed None; render an explicit placeholder instead")
    return inline(str(value), 1_000)


def _finalize_text(value: object) -> str:
    if isinstance(value, PlainText):
        return value
    if value is None:
        raise ValueError("a template printed None; render an explicit placeholder instead")
    return plain(str(value), 1_000, one_line=True)


def _num(value: int) -> Md:
    return Md(f"{int(value):,}")


def percent(value: float, digits: int = 1) -> str:
    """A share as a percentage, e.g. 0.2512 -> "25.1%".

    A share too small for `digits` keeps two significant digits ("0.0042%"), never "0.0%",
    which reads as "never"; below a millionth of a percent it is "< 0.000001%".
    """
    share = 100 * float(value)
    if 0 < share < 10**-digits:
        places = 1 - math.floor(math.log10(share))
        return f"{share:.{places}f}%" if places <= 6 else "< 0.000001%"
    return f"{share:.{digits}f}%"


def _pct(value: float, digits: int = 1) -> Md:
    return Md(percent(value, digits))


def _dec(value: float, digits: int = 1) -> Md:
    return Md(f"{float(value):.{digits}f}")


def _day(moment: date, fmt: str = "%Y-%m-%d") -> Md:
    """A date (or a time, with `fmt`) in digits and fixed words; `fmt` is the template's own."""
    return Md(prose(moment.strftime(fmt)))


def _environment(
    finalize: Callable[[object], str], filters: dict[str, Callable[..., Any]]
) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot", "templates"),
        autoescape=False,  # noqa: S701 - Markdown, escaped by `finalize` instead
        undefined=jinja2.StrictUndefined,
        finalize=finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(filters)
    env.globals.update(
        brief=brief,
        breakdown=breakdown,
        headline=headline,
        verdict_advice=advice,
        verdict_label=label,
        common_notes=common_notes,
        history=history,
        ignored_tests=ignored_tests,
        job_status=job_status,
        note_sentence=note_sentence,
        rate_text=rate_text,
        problem_words=PROBLEM_WORDS,
        version=__version__,
    )
    return env


MARKDOWN = _environment(
    _finalize_md,
    {
        "code": lambda v, limit=200: code_span(str(v), limit),
        "fence": lambda v, lang="", limit=4_000: fence(str(v), limit, lang),
        "link": lambda v, url, limit=200: link(str(v), url, limit),
        "num": _num,
        "ident": lambda v: Md(str(int(v))),
        "step": lambda v: code_span(str(v), 100),
        "cell": lambda v, limit=200: cell_code(str(v), limit),
        "html": lambda v, limit=200: html_text(str(v), limit),
        "say": say_md,
        "words": lambda v: prose(str(v)),
        "pct": _pct,
        "dec": _dec,
        "day": _day,
        "label": lambda v: Md(mermaid_label(str(v))),
    },
)
TEXT = _environment(
    _finalize_text,
    {
        "block": lambda v, limit=4_000, indent=4: PlainText(
            "\n".join(" " * indent + line for line in plain(str(v).rstrip("\n"), limit).split("\n"))
        ),
        "num": lambda v: PlainText(f"{int(v):,}"),
        "ident": lambda v: PlainText(str(int(v))),
        "say": say_text,
        "words": lambda v: v,  # plain text: `finalize` makes every value safe alike
    },
)
