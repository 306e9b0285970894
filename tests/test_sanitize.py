"""The sanitizer against hostile text, checked through GitHub's own Markdown engine."""

from __future__ import annotations

import unicodedata

import pytest
from helpers.gfm import analyse, github_refs, visible
from helpers.hostile import HOSTILE_PIECES
from hypothesis import given
from hypothesis import strategies as st

from bot.render.sanitize import ZWSP, bound, clean, code_span, fence, inline, link, plain

hostile = st.lists(st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=4)), max_size=30).map("".join)


def no_invisible(text: str) -> bool:
    return all(ch in "\n\t" or unicodedata.category(ch)[0] != "C" for ch in visible(text))


@given(hostile)
def test_inline_is_one_paragraph_of_plain_text(text: str) -> None:
    md = inline(text, limit=10_000)
    out = analyse(f"start {md} end\n")
    assert out.tags == ["p"], out.elements
    prose = "".join(out.prose)
    assert visible(prose).split() == ["start", *clean(text).split(), "end"]
    assert github_refs(prose) == []
    assert "<!--" not in md
    assert no_invisible(md)


@given(hostile)
def test_code_span_is_one_code_element(text: str) -> None:
    md = code_span(text, limit=10_000)
    out = analyse(f"start {md} end\n")
    expected = clean(text).replace("\t", " ").replace("\n", " ⏎ ")
    if not expected.strip():
        assert out.tags == ["p", "em"]
        return
    assert out.tags == ["p", "code"], out.elements
    assert visible(out.code[0]) == expected
    assert github_refs("".join(out.prose)) == []
    assert "<!--" not in md


@given(hostile)
def test_fence_holds_everything_inside_a_collapsed_block(text: str) -> None:
    md = fence(text, limit=10_000, lang="diff")
    document = f"<details><summary>diff</summary>\n\n{md}\n</details>\n\nafter\n"
    out = analyse(document)
    assert out.tags == ["details", "summary", "pre", "code", "p"], out.elements
    assert out.balanced
    assert visible(out.code[0]) == clean(text).expandtabs(8).rstrip("\n") + "\n"
    assert not any(line.lstrip().startswith("::") or "##[" in line for line in md.split("\n"))
    assert "".join(out.prose).split() == ["diff", "after"]
    assert "<!--" not in md


@given(hostile)
def test_plain_text_runs_no_workflow_command(text: str) -> None:
    out = plain(text, limit=10_000)
    for line in out.split("\n"):
        assert not line.lstrip().startswith("::")
        assert "##[" not in line
    assert visible(out) == visible(clean(text)).replace(ZWSP, "")
    assert no_invisible(out)


def test_clean_removes_ansi_bidi_and_controls() -> None:
    text = "\x1b[31mred\x1b[0m \u202egnp.exe\u202c a\u2066b\u2069 c\u200ed \x00\x07e\r\nf\rg\u2028h"
    assert clean(text) == "red gnp.exe ab cd e\nf\ng\nh"


def test_bound_says_how_much_was_left_out() -> None:
    assert bound("abcdef", 6) == "abcdef"
    assert bound("abcdefgh", 3) == "abc… (5 more characters)"
    assert bound("x" * 1_000_005, 5).endswith("(1,000,000 more characters)")
    with pytest.raises(ValueError):
        bound("x", -1)


def test_inline_breaks_every_notification_pattern() -> None:
    md = inline("ping @octocat and @org/team about #12, GH-3, owner/repo#4 at https://x.example deadbeef12")
    rendered = analyse(md)
    prose = "".join(rendered.prose)
    assert github_refs(prose) == []
    assert (
        visible(prose).strip()
        == "ping @octocat and @org/team about #12, GH-3, owner/repo#4 at https://x.example deadbeef12"
    )
    assert rendered.links == []


def test_inline_cannot_forge_markup_or_marker() -> None:
    md = inline("<!-- flake-bot:sticky-comment --> <details> [a](https://e.example) # h")
    assert "<" not in md
    out = analyse(f"{md}\n")
    assert out.tags == ["p"]
    assert out.comments == []


def test_bounds_apply_before_escaping() -> None:
    md = inline("<" * 1000, limit=10)
    assert visible("".join(analyse(md).prose)).strip() == "<" * 10 + "… (990 more characters)"
    span = code_span("a" * 500, limit=20)
    assert analyse(span).code == ["a" * 20 + "… (480 more characters)"]


def test_fence_is_longer_than_any_backtick_run() -> None:
    md = fence("a\n`````\nb")
    assert md.startswith("``````\n")
    assert fence("x").startswith("```\n")
    with pytest.raises(ValueError):
        fence("x", lang="diff\n<script>")


def test_fence_bounds_with_visible_note() -> None:
    out = analyse(fence("x" * 2_000_000, limit=100))
    assert out.code == ["x" * 100 + "… (1,999,900 more characters)\n"]


def test_link_accepts_only_plain_https_urls() -> None:
    assert link("job", "https://github.com/o/r/actions/runs/1/job/2#step:3:4") == (
        "[job](<https://github.com/o/r/actions/runs/1/job/2#step:3:4>)"
    )
    out = analyse(link("@x", "https://github.com/o/r"))
    assert out.links == ["https://github.com/o/r"]
    for bad in [
        "javascript:alert(1)",
        "https://x.example/a b",
        "https://x.example/<!--",
        "http://x",
        "",
        None,
        "https://x.example/)(",
        "https://x.example/>",
    ]:
        rendered = analyse(link("label", bad))
        assert rendered.links == [], bad
        assert visible("".join(rendered.prose)).strip() == "label"


def test_plain_neutralises_commands_after_indentation() -> None:
    out = plain("  ::add-mask::secret\n::stop-commands::tok\nx ##[set-output name=a;]b\n::")
    assert out.split("\n") == [
        f"  :{ZWSP}:add-mask::secret",
        f":{ZWSP}:stop-commands::tok",
        f"x #{ZWSP}#[set-output name=a;]b",
        f":{ZWSP}:",
    ]
    assert plain("a\nb  c", one_line=True) == "a b c"
