"""Hostile text that is inert Markdown but still misleads a reader of what GitHub renders."""

from __future__ import annotations

import re
import unicodedata

from fake_github import FakeGitHub
from helpers.e2e import Action, standard_log
from helpers.gfm import analyse

from bot.render.sanitize import MAX_MARKS, clean, code_span, inline

ZALGO = "x" + "\u0301\u0300\u0302" * 200 + "y"


def longest_mark_run(text: str) -> int:
    runs = re.findall(r"(?:[^\x00-\x7f])+", text)
    longest = 0
    for run in runs:
        count = 0
        for ch in run:
            count = count + 1 if unicodedata.category(ch).startswith("M") else 0
            longest = max(longest, count)
    return longest


def test_stacks_of_combining_marks_are_cut() -> None:
    assert longest_mark_run(clean(ZALGO)) == MAX_MARKS
    assert longest_mark_run(inline(ZALGO)) == MAX_MARKS
    assert longest_mark_run(code_span(ZALGO)) == MAX_MARKS
    # real text keeps its marks: é as e + acute, Devanagari conjuncts, Vietnamese stacked tones
    for word in ("e\u0301", "\u0915\u094d\u0937", "a\u0302\u0301"):
        assert clean(word) == word


def test_zalgo_job_name_and_branch_cannot_smear_the_comment(fake_github: FakeGitHub, action: Action) -> None:
    fake = fake_github
    sha = "3a" * 20
    branch = "b" + ZALGO
    pr = fake.add_pull(head_sha=sha, head_branch=branch, head_repo="mallory/micropython", title=ZALGO)
    run = fake.add_run(event="pull_request", branch=branch, head_sha=sha, head_repo="mallory/micropython")
    fake.add_job(run["id"], "standard " + ZALGO, "failure", log=standard_log())

    result = action.run(run["id"], check_run="always")

    assert result.code == 0, result.stderr
    body = fake.comments(pr["number"])[0]["body"]
    [check] = fake.check_runs()
    for text in (body, result.summary, check["output"]["summary"], check["output"]["text"], result.stdout):
        assert longest_mark_run(text) <= MAX_MARKS
    assert any("x\u0301\u0300\u0302y" in code for code in analyse(body).code)  # still shown, shortened
