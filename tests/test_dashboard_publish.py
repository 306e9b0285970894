"""The publisher's pure parts: who ticked which box, what to do with each tick, and applying
the patch writer's diffs."""

from __future__ import annotations

import pytest

from bot.gateway.issues import BodyEdit
from bot.publish.dashboard import PatchDoesNotApply, Tick, apply_diff, split_diff
from bot.publish.ticks import (
    Act,
    authors,
    boxes,
    carried_over,
    event_ticks,
    history_ticks,
    judge_tick,
    may_act,
    ticked,
)

A, B = "add-0123456789ab", "retire-ba9876543210"
BODY = f"""<!-- flake-bot:dashboard -->
- [ ] <!-- flake-bot-pr:{A} --> open a pull request
- [x] <!-- flake-bot-pr:{B} pr:12 --> update pull request 12
  - [x] <!-- flake-bot-pr:add-ffffffffffff --> indented: not one of ours
- [x] <!-- flake-bot-pr:add-xyz --> not an id
"""
BOT = "github-actions[bot]"


def tick_box(body: str, key: str) -> str:
    return body.replace(f"- [ ] <!-- flake-bot-pr:{key}", f"- [x] <!-- flake-bot-pr:{key}", 1)


def untick_box(body: str, key: str) -> str:
    return body.replace(f"- [x] <!-- flake-bot-pr:{key}", f"- [ ] <!-- flake-bot-pr:{key}", 1)


def test_boxes_reads_only_the_bots_own_lines() -> None:
    assert boxes(BODY) == {A: (False, None), B: (True, 12)}
    assert ticked(BODY) == {B}
    assert ticked(BODY.replace("- [ ]", "- [X]")) == {A, B}


CLEAN = untick_box(BODY, B)  # as the bot writes it: nothing ticked
BOTH = tick_box(BODY, A)


def edits(*revisions: tuple[str | None, str | None]) -> list[BodyEdit]:
    """(editor, body after) oldest first, handed over newest first as GitHub lists them."""
    return [BodyEdit(who, f"2026-05-01T08:{i:02d}:00Z", body) for i, (who, body) in
            reversed(list(enumerate(revisions)))]  # fmt: skip


HISTORY_CASES = [
    # (why, body now, revisions oldest first, expected box -> author)
    ("one tick, one edit", BODY, [(BOT, CLEAN), ("dpgeorge", BODY)], {B: "dpgeorge"}),
    ("a writer's edit after a non-writer's tick does not take the tick over", BOTH,
     [(BOT, CLEAN), ("mallory", BODY), ("dpgeorge", BOTH)], {B: "mallory", A: "dpgeorge"}),
    ("the bot's carry-over keeps the tick's author", BOTH,
     [(BOT, CLEAN), ("dpgeorge", BODY), (BOT, BODY), ("mallory", BOTH)], {B: "dpgeorge", A: "mallory"}),
    ("the body now is not the last revision: an edit is missing", BOTH,
     [(BOT, CLEAN), ("dpgeorge", BODY)], {A: None, B: None}),
    ("ticked before the first revision read", BODY, [("dpgeorge", BODY)], {B: None}),
    ("a deleted revision on the way", BODY, [(BOT, CLEAN), ("mallory", None), ("dpgeorge", BODY)],
     {B: None}),
    ("a deleted revision before the tick does not matter", BODY,
     [(BOT, CLEAN), ("x", None), (BOT, CLEAN), ("dpgeorge", BODY)], {B: "dpgeorge"}),
    ("the bot never ticks: a revision of its own turning a box on is not certain", BODY,
     [(BOT, CLEAN), (BOT, BODY)], {B: None}),
    ("an editor GitHub no longer knows (deleted account)", BODY, [(BOT, CLEAN), (None, BODY)], {B: None}),
    ("GraphQL names the bot without [bot]: still the bot", BODY, [(BOT, CLEAN), ("github-actions", BODY)],
     {B: None}),
    ("ticked, unticked, ticked again: the last tick counts", BODY,
     [(BOT, CLEAN), ("mallory", BODY), ("mallory", CLEAN), ("dpgeorge", BODY)], {B: "dpgeorge"}),
    ("no history at all", BODY, [], {B: None}),
    ("nothing ticked", CLEAN, [(BOT, CLEAN)], {}),
]  # fmt: skip


@pytest.mark.parametrize(("why", "body", "revisions", "expected"), HISTORY_CASES,
                         ids=[c[0] for c in HISTORY_CASES])  # fmt: skip
def test_history_ticks(why, body, revisions, expected) -> None:
    assert history_ticks(body, edits(*revisions), bot=BOT) == expected, why


AUTHOR_CASES = [
    # (why, body now, event (sender, before, after) from the payload, history, expected)
    ("the event's sender made exactly that edit's ticks", BOTH, ("dpgeorge", BODY, BOTH), {B: "x", A: "y"},
     {A: "dpgeorge", B: "x"}),
    ("a tick made after the event is not the sender's", BOTH, ("dpgeorge", CLEAN, BODY), {A: "mallory"},
     {A: "mallory", B: "dpgeorge"}),
    ("an edit that ticked nothing vouches for nothing", BODY, ("dpgeorge", BODY, BODY), {B: None}, {B: None}),
    ("the event's tick undone since: not acted on", CLEAN, ("dpgeorge", CLEAN, BODY), {}, {}),
    ("no event: the history alone", BODY, None, {B: "dpgeorge"}, {B: "dpgeorge"}),
]  # fmt: skip


@pytest.mark.parametrize(("why", "body", "event", "history", "expected"), AUTHOR_CASES,
                         ids=[c[0] for c in AUTHOR_CASES])  # fmt: skip
def test_authors(why, body, event, history, expected) -> None:
    assert authors(body, event=event, history=history) == expected, why


JUDGE_CASES = [
    # (why, author, permission, pull requests on, patch, expected act, words in the line)
    ("a writer's tick opens", "dpgeorge", "write", True, True, Act.OPEN, ""),
    ("a maintainer's too", "dpgeorge", "maintain", True, True, Act.OPEN, ""),
    ("triage access is not enough", "mallory", "triage", True, True, Act.UNTICK, "mallory, who has triage"),
    ("read access", "mallory", "read", True, True, Act.UNTICK, "only people with write access"),
    ("author not certain", None, None, True, True, Act.UNTICK, "not certain"),
    ("permission not known yet: kept for the next run", "dpgeorge", None, True, True, Act.KEEP, "could not"),
    ("pull requests off", "dpgeorge", "admin", False, True, Act.UNTICK, "open-pull-requests"),
    ("no patch now", "dpgeorge", "admin", True, False, Act.UNTICK, "no patch"),
]  # fmt: skip


@pytest.mark.parametrize(("why", "author", "permission", "on", "patch", "act", "words"), JUDGE_CASES,
                         ids=[c[0] for c in JUDGE_CASES])  # fmt: skip
def test_judge_tick(why, author, permission, on, patch, act, words) -> None:
    verdict = judge_tick(author, permission, open_pull_requests=on, has_patch=patch)
    assert verdict.act is act, why
    assert words in verdict.line and (verdict.line == "") == (act is Act.OPEN), why


def test_history_error_is_named_in_the_line() -> None:
    verdict = judge_tick(None, None, open_pull_requests=True, has_patch=True, history_error="HTTP 403")
    assert verdict.act is Act.UNTICK and "could not be checked (HTTP 403)" in verdict.line


def test_carried_over_keeps_only_ticks_made_meanwhile() -> None:
    assert carried_over(CLEAN, BODY) == {B}
    assert carried_over(BODY, BOTH) == {A}  # B was read ticked: this run dealt with it
    assert carried_over(BODY, CLEAN) == set()
    assert event_ticks(CLEAN, BOTH) == {A, B} and event_ticks(BOTH, CLEAN) == set()


@pytest.mark.parametrize(("permission", "allowed"), [
    ("admin", True), ("maintain", True), ("write", True), ("triage", False), ("read", False), ("none", False),
])  # fmt: skip
def test_only_writers_act(permission: str, allowed: bool) -> None:
    assert may_act(permission) is allowed


def test_tick_from_event() -> None:
    event = {"action": "edited", "issue": {"number": 5, "body": "now"}, "sender": {"login": "u"},
             "changes": {"body": {"from": "before"}}}  # fmt: skip
    assert Tick.from_event("issues", event) == Tick(5, "u", "before", "now")
    title_only = {**event, "changes": {"title": {"from": "t"}}}
    assert Tick.from_event("issues", title_only) == Tick(5, "u", "now", "now")  # the body did not change
    no_body = {**event, "issue": {"number": 5}}
    assert Tick.from_event("issues", no_body) == Tick(5, "u", "before", None)
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
