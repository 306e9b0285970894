"""Render Markdown the way GitHub does (cmarkgfm) and look at what came out.

cmarkgfm is GitHub's own Markdown engine; GitHub then runs further filters over the text of
the rendered HTML (mentions, issue references, commit links). `github_refs` imitates those
patterns so tests can assert that none survive in text that came from a log. Other test files
(and the action's end-to-end tests) import these helpers; tests/test_render_gfm.py tests them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import cmarkgfm
from cmarkgfm.cmark import Options

from bot.render.sanitize import ZWSP

# Patterns GitHub acts on in rendered text outside code: @mentions and team mentions, issue
# and PR references (#1, GH-1, owner/repo#1), commit SHAs, and autolinked URLs.
_REFS = re.compile(
    r"(?<![\w`])@[A-Za-z0-9]"
    r"|#\d"
    r"|\bGH-\d"
    r"|(?<![0-9A-Za-z])[0-9a-fA-F]{7,40}(?![0-9A-Za-z])"
    r"|[A-Za-z][A-Za-z0-9+.-]*://"
    r"|\bwww\.",
    re.IGNORECASE,
)
_VOID = {"br", "hr", "img", "input", "meta", "link", "wbr", "area", "col", "embed", "source", "track"}


def gfm_html(markdown: str) -> str:
    """Markdown as GitHub renders it, with raw HTML let through so nothing is hidden from tests."""
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


@dataclass
class Rendered:
    """The element structure and the text of one rendered document."""

    elements: list[tuple[str, tuple[tuple[str, str | None], ...]]] = field(default_factory=list)
    prose: list[str] = field(default_factory=list)  # text outside <code>/<pre>
    text: list[str] = field(default_factory=list)  # all the text a reader sees, in order
    plain: list[str] = field(default_factory=list)  # text outside <code>/<pre>/<a>: GitHub's filters act here
    code: list[str] = field(default_factory=list)  # text of each <code> element
    headings: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # href of each <a>
    balanced: bool = True
    comments: list[str] = field(default_factory=list)

    @property
    def tags(self) -> list[str]:
        return [tag for tag, _ in self.elements]

    def count(self, tag: str) -> int:
        return self.tags.count(tag)


class _Walker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = Rendered()
        self.stack: list[str] = []
        self._code: list[str] | None = None
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.elements.append((tag, tuple(attrs)))
        if tag == "a":
            self.out.links.append(dict(attrs).get("href") or "")
        if tag in _VOID:
            return
        self.stack.append(tag)
        if tag == "code":
            self._code = []
        if re.fullmatch(r"h[1-6]", tag):
            self._heading = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.elements.append((tag, tuple(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.out.balanced = False
            return
        self.stack.pop()
        if tag == "code" and self._code is not None:
            self.out.code.append("".join(self._code))
            self._code = None
        if re.fullmatch(r"h[1-6]", tag) and self._heading is not None:
            self.out.headings.append("".join(self._heading))
            self._heading = None

    def handle_data(self, data: str) -> None:
        self.out.text.append(data)
        if self._heading is not None:
            self._heading.append(data)
        if "code" in self.stack or "pre" in self.stack:
            if self._code is not None:
                self._code.append(data)
        else:
            self.out.prose.append(data)
            if "a" not in self.stack:
                self.out.plain.append(data)

    def handle_comment(self, data: str) -> None:
        self.out.comments.append(data)


def analyse(markdown: str) -> Rendered:
    """Render with cmarkgfm and walk the HTML; `balanced` is False if any tag closes out of order."""
    walker = _Walker()
    walker.feed(gfm_html(markdown))
    walker.close()
    if walker.stack:
        walker.out.balanced = False
    return walker.out


def github_refs(text: str | Rendered) -> list[str]:
    """What GitHub would turn into a mention, reference or link in this text (or document).

    For a rendered document only text outside code, pre and links counts: GitHub leaves those alone.
    """
    if isinstance(text, Rendered):
        text = "".join(text.plain)
    return [m.group(0) for m in _REFS.finditer(text)]


def shown(markdown: str) -> str:
    """Everything a reader sees of rendered Markdown (code included), as one string: what the
    text means must survive escaping, with no stray backslash or invisible character."""
    return "".join(analyse(markdown).text)


def visible(text: str) -> str:
    """Text as a reader sees it: the zero-width spaces the sanitizer inserts are invisible."""
    return text.replace(ZWSP, "")
