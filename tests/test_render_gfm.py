"""The GitHub-Markdown helpers (tests/helpers/gfm.py) see what GitHub would show."""

from __future__ import annotations

from helpers.gfm import analyse, github_refs


def test_walker_sees_structure_and_refs() -> None:
    out = analyse(
        "# Title\n\nHi @octocat see #12 and `@x #3`\n\n<details><summary>s</summary>\n\nx\n\n</details>\n"
    )
    assert out.headings == ["Title"]
    assert out.count("details") == 1
    assert out.balanced
    prose = "".join(out.prose)
    assert github_refs(prose) == ["@o", "#1"]
    assert out.code == ["@x #3"]


def test_walker_detects_unbalanced_html() -> None:
    assert not analyse("<details>\n\n</summary>\n").balanced
    assert github_refs("see https://example.com and www.example.com, commit deadbeef1") == [
        "https://",
        "www.",
        "deadbeef1",
    ]
