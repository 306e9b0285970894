"""Which branch a ticked entry may use: the pure decisions of `bot.publish.ownership`, as tables.

A branch or pull request is the bot's only when GitHub shows that the bot made it; everything
else is left alone, whatever its name says."""

from __future__ import annotations

import pytest

from bot.gateway.issues import BranchCommit, Comparison, PullInfo
from bot.publish.ownership import (
    Step,
    branch_names,
    commit_marker,
    judge_branch,
    not_ours,
    pull_marker,
    ready_to_open,
)

KEY = "add-0123456789ab"
BOT = "github-actions[bot]"
BASE = "b" * 40
WANTED = {"tests/run-tests.py": "1" * 40}


def commit(author: str | None = BOT, *, verified: bool = True, message: str = "",
           parents: tuple[str, ...] = (BASE,), sha: str = "c" * 40) -> BranchCommit:  # fmt: skip
    text = message or f"Flaky list: add x\n\n{commit_marker(KEY)}\n"
    return BranchCommit(sha, author, verified, text, parents)


def compared(*commits: BranchCommit, files: dict[str, str | None] | None = None) -> Comparison:
    head = commits[-1].sha if commits else BASE
    return Comparison(head, tuple(commits), BASE, dict(WANTED if files is None else files))


def pull(number: int = 7, *, user: str = BOT, state: str = "open", merged: bool = False,
         body: str | None = None) -> PullInfo:  # fmt: skip
    return PullInfo(number, state, merged, f"https://github.com/o/r/pull/{number}", f"flake-bot/{KEY}",
                    user, pull_marker(KEY) if body is None else body, "c" * 40)  # fmt: skip


OWNER_CASES = [
    # (why, comparison, reason expected (None: ours))
    ("one signed commit by the bot with the marker, on the base", compared(commit()), None),
    ("no commit of its own (a branch pointing at the base)", compared(), "0 commits"),
    ("two commits", compared(commit(), commit(sha="d" * 40, parents=("c" * 40,))), "2 commits"),
    ("someone else's commit", compared(commit("mallory")), "by mallory"),
    ("an author GitHub cannot map to a user", compared(commit(None)), "unknown author"),
    ("the bot's email claimed in an unsigned commit", compared(commit(verified=False)), "not signed"),
    ("the bot's signed commit for another entry",
     compared(commit(message="x\nflake-bot-entry: add-ffffffffffff")), "marker"),
    ("a merge commit", compared(commit(parents=(BASE, "e" * 40))), "base branch"),
]  # fmt: skip


@pytest.mark.parametrize(("why", "comparison", "reason"), OWNER_CASES, ids=[c[0] for c in OWNER_CASES])
def test_not_ours(why: str, comparison: Comparison, reason: str | None) -> None:
    found = not_ours(comparison, KEY, BOT)
    assert (found is None) == (reason is None), why
    assert reason is None or reason in (found or ""), (why, found)


NAME = f"flake-bot/{KEY}"
BRANCH_CASES = [
    # (why, comparison (None: no such branch), pulls from it, expected step, pull reused, reason words)
    ("free name: create", None, [], Step.CREATE, None, ""),
    ("ours and already the patch: keep", compared(commit()), [], Step.KEEP, None, ""),
    ("ours with our open pull request: keep, update that one", compared(commit()), [pull()], Step.KEEP, 7,
     ""),
    ("ours but the base moved the patched file: rewrite",
     compared(commit(), files={"tests/run-tests.py": "2" * 40}), [pull()], Step.REWRITE, 7, ""),
    ("ours but carrying another file: rewrite (a forced new commit drops it)",
     compared(commit(), files={**WANTED, "x.sh": "3" * 40}), [], Step.REWRITE, None, ""),
    ("someone's branch: never touched", compared(commit("dpgeorge")), [], Step.SKIP, None, "not flake-bot's"),
    ("someone's extra commit on our branch", compared(commit(), commit("mallory", sha="d" * 40,
     parents=("c" * 40,))), [pull()], Step.SKIP, None, "2 commits"),
    ("someone's pull request from our branch", compared(commit()), [pull(user="mallory")], Step.SKIP, None,
     "pull request 7, not flake-bot's"),
    ("a pull request by the bot's login for another entry", compared(commit()), [pull(body="")], Step.SKIP,
     None, "not flake-bot's"),
    ("our pull request was closed: a fresh name", compared(commit()), [pull(state="closed")], Step.SKIP, None,
     "was closed"),
    ("our pull request was merged", compared(commit()), [pull(state="closed", merged=True)], Step.SKIP, None,
     "was merged"),
    ("a closed pull request of a deleted branch", None, [pull(state="closed")], Step.SKIP, None,
     "was closed"),
    ("someone's closed pull request once used the name", None, [pull(user="x", state="closed")], Step.SKIP,
     None, "not flake-bot's"),
]  # fmt: skip


@pytest.mark.parametrize(("why", "comparison", "pulls", "step", "reused", "words"), BRANCH_CASES,
                         ids=[c[0] for c in BRANCH_CASES])  # fmt: skip
def test_judge_branch(why, comparison, pulls, step, reused, words) -> None:
    verdict = judge_branch(NAME, comparison, pulls, WANTED, key=KEY, bot=BOT)
    assert verdict.step is step, (why, verdict)
    assert (verdict.pull.number if verdict.pull else None) == reused, why
    assert words in verdict.reason and bool(verdict.reason) == (step is Step.SKIP), (why, verdict.reason)


READY_CASES = [
    ("the commit made, exactly the patch", compared(commit()), None),
    ("gone", None, "disappeared"),
    ("moved on", compared(commit(sha="d" * 40)), "moved"),
    ("an extra file", compared(commit(), files={**WANTED, "install.sh": "4" * 40}), "install.sh"),
    ("other content in the patch's file", compared(commit(), files={"tests/run-tests.py": "5" * 40}),
     "other content"),
    ("a file of the patch missing", compared(commit(), files={}), "tests/run-tests.py"),
]  # fmt: skip


@pytest.mark.parametrize(("why", "comparison", "words"), READY_CASES, ids=[c[0] for c in READY_CASES])
def test_ready_to_open(why: str, comparison: Comparison | None, words: str | None) -> None:
    found = ready_to_open(comparison, WANTED, key=KEY, bot=BOT, made="c" * 40)
    assert (found is None) == (words is None), why
    assert words is None or words in (found or ""), (why, found)


def test_branch_names_are_the_entry_then_numbered() -> None:
    assert branch_names(KEY) == [NAME, f"{NAME}-2", f"{NAME}-3", f"{NAME}-4"]
