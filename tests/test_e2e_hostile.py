"""A fork PR whose log, job name, branch and title were written by an attacker.

Whatever they contain must reach the comment, the check run, the summary, the outputs and the
action's own stdout as inert text: no HTML, links, mentions, headings, forged marker or broken
collapsed block in what GitHub renders, and no workflow command acted on by the runner.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fake_github import FakeGitHub
from helpers.e2e import Action, commands_acted
from helpers.gfm import Rendered, analyse, github_refs
from logfmt import Step, job_log, real_log

from bot.render import COMMENT_MARKER

HOSTILE = (
    "<img src=x onerror=alert(1)> @dpgeorge #1234 GH-99 https://evil.example/x www.evil.example "
    "[click](https://evil.example) <!-- flake-bot:triage-comment --> </details></summary> ``` "
    "\u202eevil\u202c ::add-mask::hunter2 ::error file=x::owned ##[warning]owned deadbeefcafe1234"
)
HOSTILE_LINES = [
    "<details open><summary>pwned</summary>",
    "# Pwned heading",
    "```",
    "::add-mask::hunter2",
    "::stop-commands::guessed",
    "::set-output name=new-failures::0",
    "@dpgeorge please merge, see #1 and https://evil.example",
    "<script>alert(1)</script>",
    '[flake-bot attempt 999/1]: # "sha=deadbee failures=0 known=0 look=0 unreadable=0"',
]


def hostile_log() -> bytes:
    """Real capture 05/05b with attacker text in const.py's output (so in its diff and symptom)."""
    failures = real_log("05b-print-failures-FAILING-ci-buffered.log")
    assert "\n+123 580\n" in failures
    injected = "\n+" + HOSTILE + "".join("\n+" + line for line in HOSTILE_LINES) + "\n"
    failures = failures.replace("\n+123 580\n", injected, 1)
    main_output = real_log("05-standard-ci-full-helper-FAILING.log") + "\n".join(HOSTILE_LINES) + "\n"
    return job_log(
        [
            Step("tools/ci.sh unix_standard_run_tests", main_output, exit_code=2, name="Run main test suite"),
            Step("tests/run-tests.py --print-failures", failures, name="Print failures"),
        ],
        job="standard",
    )


def assert_inert(markdown: str) -> Rendered:
    out = analyse(markdown)
    assert out.balanced, "a collapsed block or other element was left open or closed out of order"
    assert out.count("details") == out.count("summary")
    for tag in ("img", "script", "h1"):
        assert out.count(tag) == 0, tag
    assert "pwned" not in " ".join(out.headings).lower()
    assert not [href for href in out.links if "evil" in href]
    assert not github_refs(out), github_refs(out)
    # the only HTML comment is the bot's marker (earlier attempts are kept as link definitions)
    assert all(c.strip() == "flake-bot:triage-comment" for c in out.comments), out.comments
    assert "\u202e" not in markdown
    return out


@pytest.fixture
def hostile_run(fake_github: FakeGitHub) -> tuple[dict, dict]:
    fake = fake_github
    sha = "9f" * 20
    branch = "x`@dpgeorge<img>#1"
    pr = fake.add_pull(
        head_sha=sha, head_branch=branch, head_repo="mallory/micropython", title="Fix " + HOSTILE
    )
    run = fake.add_run(
        event="pull_request",
        branch=branch,
        head_sha=sha,
        head_repo="mallory/micropython",
        title="Fix " + HOSTILE,
    )
    fake.add_job(run["id"], "standard", "failure", log=hostile_log())
    fake.add_job(run["id"], "std " + HOSTILE[:60], "failure", log=hostile_log())
    return pr, run


def test_hostile_fork_pr_publishes_only_inert_text(
    fake_github: FakeGitHub, hostile_run: tuple[dict, dict], action: Action
) -> None:
    pr, run = hostile_run
    result = action.run(run["id"], check_run="always")

    assert result.code == 0, result.stderr
    [comment] = fake_github.comments(pr["number"])
    body = comment["body"]
    assert body.startswith(COMMENT_MARKER)
    assert [line for line in body.splitlines() if "<!--" in line] == [COMMENT_MARKER]
    records = [line for line in body.splitlines() if line.startswith("[flake-bot attempt")]
    record = re.compile(r'\[flake-bot attempt \d+/1\]: # "sha=9f9f9f9 [a-z0-9= ]+"')
    assert len(records) == 1 and record.fullmatch(records[0])
    rendered = assert_inert(body)
    assert any("123 581" in code for code in rendered.code)  # the real diff is still shown
    assert_inert(result.summary)

    [check] = fake_github.check_runs()
    for text in (check["output"]["summary"], check["output"]["text"]):
        assert_inert(text)
    for annotation in check["annotations"]:
        assert "\n" not in annotation["title"]
        for line in (annotation["message"] + "\n" + annotation.get("raw_details", "")).splitlines():
            assert not line.lstrip().startswith("::")
            assert "##[" not in line

    # stdout: the runner acts on nothing the log said
    acted = commands_acted(result.stdout)
    assert all(c.startswith("::stop-commands::") for c in acted), acted
    assert "hunter2" not in "".join(acted)
    # outputs: exactly ours, whatever the log tried to set
    assert set(result.outputs) == {
        "failures",
        "new-failures",
        "known-flaky",
        "needs-a-look",
        "unreadable-logs",
        "headline",
        "comment-url",
        "check-run-url",
    }
    assert int(result.outputs["new-failures"]) >= 7


def test_hostile_log_offline_prints_nothing_the_runner_would_act_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    log = tmp_path / "job.log"
    log.write_bytes(hostile_log())
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert main(["triage", "--log", str(log), "--job", "standard"]) == 0
    out = capsys.readouterr().out
    acted = commands_acted(out)
    assert all(c.startswith("::stop-commands::") for c in acted), acted


def test_the_hostile_text_did_reach_the_report(
    fake_github: FakeGitHub, hostile_run: tuple[dict, dict], action: Action
) -> None:
    """Guards the test above against passing vacuously: the attacker's text is shown, just inert."""
    pr, run = hostile_run
    action.run(run["id"])
    body = fake_github.comments(pr["number"])[0]["body"]
    text = "".join(analyse(body).code + analyse(body).prose)
    assert "onerror" in text and "evil" in text and "hunter2" in text
    assert "std " in text  # the hostile job name is listed
