"""Escape and bound untrusted text before it reaches GitHub Markdown, annotations or stdout.

Job logs, job and step names, test names, branch names and titles of fork pull requests are
written by whoever opened the pull request. GitHub renders a comment as Markdown, then runs
its own filters over the resulting text (mentions, issue references, commit links, autolinks),
and the bot finds its sticky comment again by a hidden marker. So untrusted text must not be
able to: inject HTML or Markdown structure, escape from a code block, notify anybody, link
anywhere, hide content with bidi or zero-width characters, forge the marker, or run a
workflow command when printed on the action's stdout.

Every function here takes arbitrary `str` and returns text that is safe in one context only;
`Md` marks text that is already safe Markdown so the renderer never escapes it twice.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Zero-width space: invisible, and breaks GitHub's mention, reference and autolink patterns.
# Input text never keeps one (clean() drops every format character), so each one in the
# output was put there by this module.
ZWSP = "\u200b"

_ANSI = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]             # CSI: colours, cursor movement
    | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?  # OSC: titles, hyperlinks
    | \x1b[@-Z\\-_]                       # other two-character escapes
    """,
    re.VERBOSE,
)
MAX_MARKS = 3  # combining marks in a row
_SUSPECT = re.compile(r"[^\x20-\x7e\n\t]+")
_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\x85\x0b\x0c]")
_HEX_RUN = re.compile(r"[0-9a-fA-F]{7,}")
_ASCII_PUNCT = frozenset("!\"#$%'()*+,-./:;=?@[\\]^_`{|}~")
_HTML_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_BACKTICK_RUN = re.compile(r"`+")
_URL_OK = re.compile(r"https://[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._~%!$&'*+,;=:@/?#-]*)?")


# Every renderer tries several levels of detail and several templates (comment, check run, job
# summary, stdout) over the same values, so each sanitizer would otherwise run a dozen times per
# value: with thousands of failures and non-ASCII names a hostile log took 20 s to publish. The
# functions are pure, so their results are kept; the bounds cap memory at tens of MB at worst.
_memo = lru_cache(maxsize=8192)


class Md(str):
    """Text that is already safe GitHub Markdown (built by this module or by a template)."""

    __slots__ = ()


def clean(text: str) -> str:
    """Remove what a reader cannot see but a renderer or terminal would act on.

    ANSI escapes go first (they carry printable bytes after ESC); then every control character
    except newline and tab, every format character (bidi embeddings and isolates, LRM/RLM,
    zero-width joiners, BOM, soft hyphen), surrogates, unassigned code points, and combining
    marks beyond `MAX_MARKS` in a row. Newline variants become `\\n` so later line-based rules
    see every line.
    """
    text = _ANSI.sub("", text)
    text = _NEWLINES.sub("\n", text)
    # Logs are mostly printable ASCII: look up the category only of everything else.
    return _SUSPECT.sub(_drop_invisible, text)


def _drop_invisible(found: re.Match[str]) -> str:
    return _visible_part(found.group(0))


@lru_cache(maxsize=4096)
def _visible_part(run: str) -> str:
    """A run of non-ASCII characters without Cc, Cf, Cs, Co and Cn; the same runs recur in a log.

    Combining marks are kept only `MAX_MARKS` in a row: real text stacks two or three on a
    letter, while hundreds ("Zalgo" text) paint a tall smear over the lines around them, which
    could hide the verdict next to an attacker's test name.
    """
    out = []
    marks = 0
    for ch in run:
        category = unicodedata.category(ch)
        if category[0] == "C":
            continue
        marks = marks + 1 if category[0] == "M" else 0
        if marks <= MAX_MARKS:
            out.append(ch)
    return "".join(out)


def bound(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters plus a visible note of what was left out.

    The note is what keeps a cut from reading as the whole story. `limit` counts characters of
    the kept text; the note adds at most ~40 more.
    """
    if limit < 0:
        raise ValueError("limit must be >= 0")
    if len(text) <= limit:
        return text
    more = len(text) - limit
    return f"{text[:limit]}… ({more:,} more characters)"


def _neutralise_refs(text: str) -> str:
    """Break the patterns GitHub turns into mentions, references and links in rendered text."""
    text = text.replace("@", "@" + ZWSP)
    text = text.replace("#", "#" + ZWSP)
    text = re.sub(r"(?i)\b(gh)-", lambda m: m.group(1) + ZWSP + "-", text)
    text = text.replace("://", ":" + ZWSP + "//")
    text = re.sub(r"(?i)\bwww\.", lambda m: m.group(0)[:3] + ZWSP + ".", text)
    # Commit SHAs (7 to 40 hex digits) are linked when they name a commit of the repository.
    return _HEX_RUN.sub(lambda m: ZWSP.join(re.findall(".{1,6}", m.group(0))), text)


def _neutralise_marker(text: str) -> str:
    """Make the opening of an HTML comment impossible, so no input can forge the bot's marker."""
    return text.replace("<!--", "<!" + ZWSP + "--")


@_memo
def inline(text: str, limit: int = 300, *, refs: bool = True) -> Md:
    """Untrusted text as Markdown prose on one line.

    Every ASCII punctuation character is backslash-escaped (no emphasis, links, images,
    headings, lists, tables or code from input), `&`, `<` and `>` become entities (no HTML, no
    marker), whitespace runs collapse to one space (no line breaks, no indented code), and
    mentions, references and URLs are broken with a zero-width space; with `refs=False` (a
    link's label: GitHub links and mentions nothing inside a link) they are left as they are,
    so a run number in "run 19000002252" copies without an invisible character in it.
    """
    text = " ".join(clean(text).split())
    text = bound(text, limit)
    if refs:
        text = _neutralise_refs(text)
    out = []
    for ch in text:
        if ch in _HTML_ENTITIES:
            out.append(_HTML_ENTITIES[ch])
        elif ch in _ASCII_PUNCT:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return Md("".join(out))


# What flake-bot's own sentences are made of: letters, digits, spaces and punctuation that starts
# no Markdown, HTML, link, mention or reference in the middle of a line.
_PROSE = re.compile(r"[A-Za-z0-9 ,.;:()%'/?!=+\-–—…·’\"]*")
# Digits only, as many as a commit SHA prefix GitHub would link, standing alone.
_LONG_NUMBER = re.compile(r"(?<![\w.,])(\d{7,})(?![\w])")
# ...nor at the start of one: a list item, a setext underline.
_PROSE_LINE_START = re.compile(r"(?:[-+=]+|\d{1,9}[.)])(?: |$)")


@_memo
def prose(text: str, limit: int = 1_000) -> Md:
    """flake-bot's own words (fixed text and numbers) as Markdown prose, without needless escapes.

    Templates mark the bot's sentences with the `words` filter so that "(100%, 95% CI 21–100%)"
    reads as written, not as `\\(100\\%\\, …`. The mark is no promise taken on trust: text with
    any character that could start markup (or a line that would become a list item) is escaped
    by `inline` instead, and commit-like digit runs still get a zero-width space, so wrongly
    marked input stays as inert as any other.
    """
    text = " ".join(text.split())
    if len(text) > limit or not _PROSE.fullmatch(text) or _PROSE_LINE_START.match(text) or "://" in text:
        return inline(text, limit)
    # A long number (a run id) could be taken for a commit: a code span stops the link without
    # an invisible character that would be copied with the number.
    parts = _LONG_NUMBER.split(text)
    return Md("".join(f"`{part}`" if odd % 2 else _neutralise_refs(part) for odd, part in enumerate(parts)))


@_memo
def code_span(text: str, limit: int = 300) -> Md:
    """Untrusted text as an inline code span, the most readable form for names and symptoms.

    Inside a code span GitHub neither links nor mentions, so only the delimiter needs care: it
    is one backtick longer than the longest run inside, padded by a space on each side (which
    CommonMark strips again). Newlines become "⏎" so the span stays on one line, and the legacy
    `##[` workflow command is broken as in `plain`. Not safe in a table cell, where `|` still
    splits cells: use `cell_code` there.
    """
    text = clean(text).replace("\t", " ").replace("\n", " ⏎ ")
    text = _neutralise_commands(_neutralise_marker(bound(text, limit)))
    if not text.strip():
        return Md("*(empty)*")
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    tick = "`" * (longest + 1)
    return Md(f"{tick} {text} {tick}")


def cell_code(text: str, limit: int = 300) -> Md:
    """`code_span` for a GFM table cell: GitHub splits cells at `|` even inside a code span unless
    it is escaped, and shows `\\|` there as `|`."""
    return Md(code_span(text, limit).replace("|", "\\|"))


@_memo
def html_text(text: str, limit: int = 300) -> Md:
    """Untrusted text inside a raw HTML element such as `<summary>`, where Markdown is not parsed
    (so backslash escapes would show): one line, `&`, `<`, `>` and quotes as entities, and
    mentions, references and URLs broken, since GitHub links those in HTML text too."""
    text = _neutralise_commands(_neutralise_refs(bound(" ".join(clean(text).split()), limit)))
    for ch, entity in (*_HTML_ENTITIES.items(), ('"', "&quot;")):
        text = text.replace(ch, entity)
    return Md(text)


@lru_cache(maxsize=1024)  # diffs and patches: fewer, and up to 6,000 characters each
def fence(text: str, limit: int = 4000, lang: str = "") -> Md:
    """Untrusted multi-line text as a fenced code block that nothing inside can close.

    The fence is longer than any backtick run in the text, so no line can close it early. The
    block must start at column 0 of the template (not inside a list item); it ends with a
    newline so the template can put a blank line or closing tag right after it. Lines that a
    runner would take for a workflow command get a zero-width space too, so that printing the
    Markdown (a dry run) is as harmless as posting it.
    """
    if lang and not re.fullmatch(r"[a-z0-9+-]{1,20}", lang):
        raise ValueError(f"not a fence language: {lang!r}")
    text = clean(text).expandtabs(8).rstrip("\n")
    text = _neutralise_commands(_neutralise_marker(bound(text, limit)))
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    tick = "`" * max(3, longest + 1)
    return Md(f"{tick}{lang}\n{text}\n{tick}\n")


def link(text: str, url: str | None, limit: int = 200) -> Md:
    """A Markdown link whose label is untrusted text and whose URL must be a plain https URL.

    URLs come from the API (job and run pages), never from logs; anything that does not look
    like a plain https URL is dropped and the label rendered as text, so a bad URL loses a link
    rather than injecting markup.
    """
    if url is None or not _URL_OK.fullmatch(url) or "<!--" in url:
        return inline(text, limit)
    return Md(f"[{inline(text, limit, refs=False)}](<{url}>)")


@_memo
def plain(text: str, limit: int = 4000, *, one_line: bool = False) -> str:
    """Untrusted text for stdout, annotation messages and other plain-text places.

    Control and bidi characters are removed and the length bounded. Workflow commands are
    neutralised: the runner acts on a line that starts with `::` after leading whitespace, and
    on the legacy `##[` form anywhere in a line, so both get a zero-width space in the middle.
    """
    text = clean(text)
    if one_line:
        text = " ".join(text.split())
    return _neutralise_commands(bound(text, limit))


def _neutralise_commands(text: str) -> str:
    lines = []
    for line in text.split("\n"):
        stripped = line.lstrip()
        if stripped.startswith("::"):
            indent = line[: len(line) - len(stripped)]
            line = indent + ":" + ZWSP + stripped[1:]
        lines.append(line.replace("##[", "#" + ZWSP + "#["))
    return "\n".join(lines)


def mermaid_label(text: str) -> str:
    """A chart label: mermaid has no escaping inside quotes, so keep only harmless characters."""
    return '"' + (re.sub(r"[^A-Za-z0-9_./ -]", "_", text)[:40] or "_") + '"'
