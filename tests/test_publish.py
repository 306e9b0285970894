"""Publishing through the real gateway to the fake GitHub: sticky comment and check-run rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_github import BOT_LOGIN, FakeGitHub

from bot.actions_env import ActionsEnv
from bot.errors import PublishError
from bot.gateway.client import GitHubGateway
from bot.gateway.models import CommentInfo
from bot.publish.checks import MAX_OUTPUT_BYTES, fit, publish_check_run
from bot.publish.comment import MAX_COMMENT_CHARS, find_sticky, upsert_sticky_comment
from bot.publish.summary import publish_outputs, publish_summary

MARKER = "<!-- flake-bot:triage-comment -->"


@pytest.fixture
def gateway(fake_github: FakeGitHub) -> Iterator[GitHubGateway]:
    gw = GitHubGateway(fake_github.repo, token="ghs_x", api_url=fake_github.api_url, sleep=lambda _: None)
    yield gw
    gw.close()


def comment(id_: int, body: str, user: str) -> CommentInfo:
    return CommentInfo(id=id_, body=body, user_login=user, html_url=f"https://github.com/c/{id_}")


def test_find_sticky_needs_marker_first_and_our_author() -> None:
    comments = [
        comment(1, MARKER + " forged", "mallory"),
        comment(2, "quoting you: " + MARKER, BOT_LOGIN),
        comment(3, MARKER + "\nours", BOT_LOGIN),
        comment(4, MARKER + "\nours, a later duplicate", BOT_LOGIN),
    ]
    assert find_sticky(comments, MARKER, BOT_LOGIN) == comments[2]
    assert find_sticky(comments[:2], MARKER, BOT_LOGIN) is None


def test_failures_mode_on_a_green_run_creates_nothing(
    fake_github: FakeGitHub, gateway: GitHubGateway
) -> None:
    pr = fake_github.add_pull(head_sha="1" * 40)
    result = upsert_sticky_comment(gateway, pr["number"], lambda _: MARKER + "\nall green", marker=MARKER,
                                   author=BOT_LOGIN, create=False)  # fmt: skip
    assert result.action == "not-needed" and result.url == ""
    assert fake_github.requests_to("POST", r"/comments") == []


def test_the_renderer_sees_the_previous_body(fake_github: FakeGitHub, gateway: GitHubGateway) -> None:
    pr = fake_github.add_pull(head_sha="5" * 40)
    seen: list[str | None] = []

    def render(previous: str | None) -> str:
        seen.append(previous)
        return MARKER + f"\nversion {len(seen)}"

    upsert_sticky_comment(gateway, pr["number"], render, marker=MARKER, author=BOT_LOGIN)
    upsert_sticky_comment(gateway, pr["number"], render, marker=MARKER, author=BOT_LOGIN)
    assert seen == [None, MARKER + "\nversion 1"]
    assert [c["body"] for c in fake_github.comments(pr["number"])] == [MARKER + "\nversion 2"]


def test_same_body_is_not_written_again(fake_github: FakeGitHub, gateway: GitHubGateway) -> None:
    pr = fake_github.add_pull(head_sha="2" * 40)
    first = upsert_sticky_comment(
        gateway, pr["number"], lambda _: MARKER + "\nx", marker=MARKER, author=BOT_LOGIN
    )
    again = upsert_sticky_comment(
        gateway, pr["number"], lambda _: MARKER + "\nx", marker=MARKER, author=BOT_LOGIN
    )
    assert (first.action, again.action) == ("created", "unchanged")
    assert first.comment_id == again.comment_id
    assert fake_github.requests_to("PATCH", r"/comments/") == []


def test_oversized_or_unmarked_body_is_never_posted(fake_github: FakeGitHub, gateway: GitHubGateway) -> None:
    pr = fake_github.add_pull(head_sha="4" * 40)
    with pytest.raises(PublishError, match="65,536"):
        upsert_sticky_comment(
            gateway, pr["number"], lambda _: MARKER + "x" * MAX_COMMENT_CHARS, marker=MARKER, author=BOT_LOGIN
        )
    with pytest.raises(ValueError, match="marker"):
        upsert_sticky_comment(gateway, pr["number"], lambda _: "no marker", marker=MARKER, author=BOT_LOGIN)
    assert fake_github.requests_to("POST", r"/comments") == []


def test_missing_permission_names_it(fake_github: FakeGitHub, gateway: GitHubGateway) -> None:
    pr = fake_github.add_pull(head_sha="3" * 40)
    fake_github.deny("POST", r"/comments$", permission="issues=write; pull_requests=write")
    with pytest.raises(PublishError, match="pull"):
        upsert_sticky_comment(
            gateway, pr["number"], lambda _: MARKER + "\nx", marker=MARKER, author=BOT_LOGIN
        )


def annotations(n: int) -> list[dict]:
    return [
        {
            "path": f"tests/t{i}.py",
            "start_line": 1,
            "end_line": 1,
            "annotation_level": "failure",
            "message": f"m{i}",
        }
        for i in range(n)
    ]


def publish(gateway: GitHubGateway, notes: list[dict], *, attempt: int = 1) -> object:
    return publish_check_run(
        gateway, name="flake-bot", head_sha="a" * 40, run_id=42, attempt=attempt, title="t",
        summary="s", text="x", annotations=notes, conclusion="failure",
    )  # fmt: skip


def test_check_run_resumes_annotations_a_crashed_triage_left_out(
    fake_github: FakeGitHub, gateway: GitHubGateway
) -> None:
    notes = annotations(68)
    # a previous triage of this attempt created the run with 30 annotations, then died
    gateway.create_check_run(
        name="flake-bot", head_sha="a" * 40, external_id="42-1", details_url=None, conclusion="failure",
        title="t", summary="s", text="x", annotations=notes[:30],
    )  # fmt: skip
    result = publish(gateway, notes)
    [check] = fake_github.check_runs()
    assert result.action == "updated" and result.annotations_sent == 38
    assert [a["message"] for a in check["annotations"]] == [f"m{i}" for i in range(68)]
    assert len(fake_github.requests_to("POST", r"/check-runs$")) == 1


def test_batches_of_fifty(fake_github: FakeGitHub, gateway: GitHubGateway) -> None:
    publish(gateway, annotations(120))
    posts = fake_github.requests_to("POST", r"/check-runs$")
    patches = fake_github.requests_to("PATCH", r"/check-runs/\d+$")
    assert [len(r.json["output"]["annotations"]) for r in posts + patches] == [50, 50, 20]
    assert all(r.json["output"]["title"] == "t" for r in patches)  # GitHub wants title+summary each time


def test_fit_cuts_on_a_line_with_a_note() -> None:
    text = "".join(f"line {i}\n" for i in range(20_000))
    cut = fit(text)
    assert len(cut.encode("utf-8")) <= MAX_OUTPUT_BYTES
    assert cut.endswith("see the job summary)*\n")
    body = cut.rsplit("\n\n*(cut", 1)[0]
    assert all(line.startswith("line ") for line in body.splitlines())
    assert fit("short") == "short"
    # GitHub counts bytes: 30,000 four-byte characters are 120,000 bytes, cut on a whole character
    wide = fit("\U0001d518" * 30_000)
    assert len(wide.encode("utf-8")) <= MAX_OUTPUT_BYTES and wide.startswith("\U0001d518" * 16_000)


def test_summary_and_outputs_need_the_runner_files(tmp_path: Path) -> None:
    bare = ActionsEnv.from_environ({})
    assert publish_summary(bare, "x") is False
    assert publish_outputs(bare, {"a": "b"}) is False
    env = ActionsEnv.from_environ(
        {"GITHUB_STEP_SUMMARY": str(tmp_path / "s.md"), "GITHUB_OUTPUT": str(tmp_path / "o")}
    )
    assert publish_summary(env, "# report") and publish_outputs(env, {"headline": "1 failure"})
    assert (tmp_path / "s.md").read_text() == "# report\n"
    assert "headline<<" in (tmp_path / "o").read_text()
    unwritable = ActionsEnv.from_environ({"GITHUB_STEP_SUMMARY": str(tmp_path / "missing" / "s.md")})
    with pytest.raises(PublishError):
        publish_summary(unwritable, "x")
