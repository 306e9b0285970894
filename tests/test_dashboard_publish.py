"""The publisher's pure parts: which ticks count, and applying the patch writer's diffs."""

from __future__ import annotations

import pytest

from bot.publish.dashboard import (
    PatchDoesNotApply,
    Tick,
    apply_diff,
    boxes,
    candidate_ticks,
    may_act,
    split_diff,
    ticked,
)

A, B = "add-0123456789ab", "retire-ba9876543210"
BODY = f"""<!-- flake-bot:dashboard -->
- [ ] <!-- flake-bot-pr:{A} --> open a pull request
- [x] <!-- flake-bot-pr:{B} pr:12 --> update pull request 12
  - [x] <!-- flake-bot-pr:add-ffffffffffff --> indented: not one of ours
- [x] <!-- flake-bot-pr:add-xyz --> not an id
"""


def test_boxes_reads_only_the_bots_own_lines() -> None:
    assert boxes(BODY) == {A: (False, None), B: (True, 12)}
    assert ticked(BODY) == {B}
    assert ticked(BODY.replace("- [ ]", "- [X]")) == {A, B}


TICK_CASES = [
    # (why, body now, event, last editor, expected keys, expected actor)
    ("scheduled: all ticks, on the last editor's word", BODY, None, "dpgeorge", {B}, "dpgeorge"),
    ("scheduled: nobody edited", BODY, None, None, {B}, None),
    ("event for this issue: only the sender's new ticks", BODY, Tick(7, "dpgeorge", BODY), None,
     set(), "dpgeorge"),
    ("event: a box the sender ticked", BODY.replace("- [ ]", "- [x]", 1), Tick(7, "dpgeorge", BODY), None,
     {A}, "dpgeorge"),
    ("event for another issue: as scheduled", BODY, Tick(8, "x", ""), "dpgeorge", {B}, "dpgeorge"),
]  # fmt: skip


@pytest.mark.parametrize(("why", "body", "tick", "editor", "keys", "actor"), TICK_CASES,
                         ids=[c[0] for c in TICK_CASES])  # fmt: skip
def test_candidate_ticks(why, body, tick, editor, keys, actor) -> None:
    assert candidate_ticks(body, 7, tick, editor) == (keys, actor), why


@pytest.mark.parametrize(("permission", "allowed"), [
    ("admin", True), ("maintain", True), ("write", True), ("triage", False), ("read", False), ("none", False),
])  # fmt: skip
def test_only_writers_act(permission: str, allowed: bool) -> None:
    assert may_act(permission) is allowed


def test_tick_from_event() -> None:
    event = {"action": "edited", "issue": {"number": 5, "body": "now"}, "sender": {"login": "u"},
             "changes": {"body": {"from": "before"}}}  # fmt: skip
    assert Tick.from_event("issues", event) == Tick(5, "u", "before")
    title_only = {**event, "changes": {"title": {"from": "t"}}}
    assert Tick.from_event("issues", title_only) == Tick(5, "u", "now")  # the body did not change
    assert Tick.from_event("schedule", event) is None
    assert Tick.from_event("issues", {**event, "action": "opened"}) is None
    assert Tick.from_event("issues", {"action": "edited", "issue": "x", "sender": None}) is None


TEXT = "a\nb\nc\nd\n"
DIFF = "--- a/f.py\n+++ b/f.py\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n+B2\n c\n"


def test_apply_diff_checks_context() -> None:
    assert apply_diff(TEXT, DIFF) == "a\nB\nB2\nc\nd\n"
    with pytest.raises(PatchDoesNotApply):
        apply_diff("a\nX\nc\nd\n", DIFF)
    no_newline = "--- a/f.py\n+++ b/f.py\n@@ -4 +4 @@\n-d\n+e\n\\ No newline at end of file\n"
    assert apply_diff(TEXT, no_newline) == "a\nb\nc\ne"


def test_split_diff_by_file() -> None:
    two = DIFF + DIFF.replace("f.py", "g.sh")
    assert split_diff(two) == {"f.py": DIFF, "g.sh": DIFF.replace("f.py", "g.sh")}
