"""Which branch a ticked entry's pull request may use, decided from what GitHub shows. Pure.

A branch named `flake-bot/<entry id>` proves nothing: anybody who can push may create one (a
maintainer's own work, or a branch carrying an extra file). So the bot calls a branch its own
only when GitHub shows that it made it: exactly one commit on top of the base, authored by the
bot's login **and** signed by GitHub (commits made through the API by the token are; an author
email can be claimed by anyone, GitHub's signature cannot), with the entry's marker in its
message. A pull request is the bot's only when the bot's login opened it and its body carries
the entry's marker. Anything else is never written, reset or adopted: the next name
(`flake-bot/<entry id>-2`, ...) is tried, and when none is free the entry says so.

A branch that is provably the bot's and differs from what the patch wants (the base moved, or
the patch changed) is rewritten: one new commit on the current base, the ref forced to it. The
file list of a branch must be exactly the patch's files with exactly the patch's content (blob
shas), checked again right before a pull request is opened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.gateway.issues import Comparison, PullInfo

NAMES_PER_ENTRY = 4  # flake-bot/<id>, then -2, -3, -4: past that a person should look


def branch_names(key: str) -> list[str]:
    """The names an entry's branch may take, in the order tried."""
    return [f"flake-bot/{key}"] + [f"flake-bot/{key}-{n}" for n in range(2, NAMES_PER_ENTRY + 1)]


def commit_marker(key: str) -> str:
    return f"flake-bot-entry: {key}"


def pull_marker(key: str) -> str:
    return f"<!-- flake-bot-entry:{key} -->"


def not_ours(comparison: Comparison, key: str, bot: str) -> str | None:
    """Why the branch is not provably the bot's (None: it is)."""
    if len(comparison.ahead) != 1:
        return f"it has {len(comparison.ahead)} commits of its own, flake-bot makes exactly one"
    commit = comparison.ahead[0]
    if commit.author_login != bot:
        return f"its commit is by {commit.author_login or 'an unknown author'}, not {bot}"
    if not commit.verified:
        return "its commit is not signed by GitHub"
    if commit_marker(key) not in commit.message:
        return "its commit does not carry this entry's marker"
    if commit.parents != (comparison.merge_base,):
        return "its commit does not sit on the base branch"
    return None


def pull_is_ours(pull: PullInfo, key: str, bot: str) -> bool:
    return pull.user_login == bot and pull_marker(key) in pull.body


def diff_is_patch(comparison: Comparison, wanted: Mapping[str, str]) -> bool:
    """The branch changes exactly the patch's files, to exactly the patch's content (path ->
    blob sha): no other file, no other line."""
    return comparison.files == dict(wanted)


class Step(StrEnum):
    CREATE = "create"  # no such branch: make it
    KEEP = "keep"  # ours and already the patch
    REWRITE = "rewrite"  # ours, but not the patch (any more): a new commit on the base
    SKIP = "skip"  # not usable: try the next name


@dataclass(frozen=True)
class BranchVerdict:
    step: Step
    reason: str = ""  # why it is skipped (for the entry's line)
    pull: PullInfo | None = None  # our open pull request from it, to update rather than open


def judge_branch(
    name: str,
    comparison: Comparison | None,
    pulls: Sequence[PullInfo],
    wanted: Mapping[str, str],
    *,
    key: str,
    bot: str,
) -> BranchVerdict:
    """What to do with branch `name` for entry `key`, from its comparison with the base (None:
    it does not exist) and the pull requests ever opened from it."""
    foreign = [p for p in pulls if not pull_is_ours(p, key, bot)]
    if foreign:
        return BranchVerdict(
            Step.SKIP, f"{name} is used by pull request {foreign[0].number}, not flake-bot's"
        )
    finished = [p for p in pulls if p.state != "open"]
    if finished:
        what = "merged" if finished[0].merged else "closed"
        return BranchVerdict(Step.SKIP, f"pull request {finished[0].number} from {name} was {what}")
    open_pull = pulls[0] if pulls else None
    if comparison is None:
        if open_pull is not None:  # an open pull request whose branch is gone: GitHub closes it
            return BranchVerdict(Step.SKIP, f"{name} is gone but pull request {open_pull.number} is open")
        return BranchVerdict(Step.CREATE)
    reason = not_ours(comparison, key, bot)
    if reason is not None:
        return BranchVerdict(Step.SKIP, f"{name} exists and is not flake-bot's: {reason}")
    if diff_is_patch(comparison, wanted):
        return BranchVerdict(Step.KEEP, pull=open_pull)
    return BranchVerdict(Step.REWRITE, pull=open_pull)


def ready_to_open(comparison: Comparison | None, wanted: Mapping[str, str], *, key: str, bot: str,
                  made: str) -> str | None:  # fmt: skip
    """Why a pull request must not be opened from the branch as it is now (None: it may): it
    must still be the commit the bot made or kept, provably the bot's, and exactly the patch."""
    if comparison is None:
        return "the branch disappeared"
    if comparison.head_sha != made:
        return "the branch moved while the bot was writing it"
    reason = not_ours(comparison, key, bot)
    if reason is not None:
        return f"the branch is not flake-bot's: {reason}"
    if not diff_is_patch(comparison, wanted):
        extra = sorted(set(comparison.files) ^ set(wanted))
        return f"the branch's diff is not the patch's ({', '.join(extra[:3]) or 'other content'})"
    return None
