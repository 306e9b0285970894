"""Verdicts from evidence through the real action path against the fake GitHub.

Thirty `master` pushes in which `standard` failed on micropython/const.py twice, alone between
passes (a flake), then in the last two pushes in a row (a regression starting at a known commit).
The next push's failure is a likely regression with the culprit range, never a patch; a pull
request failing the same way reads "also failing on the default branch". The evidence comes
from the store: no request beyond those the triage made before it had evidence.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_github import FakeGitHub
from helpers.e2e import Action, const_only_log

FAILED_AT = {5, 15, 28, 29}  # isolated at 5 and 15, then a streak from 28


@pytest.fixture
def pushes(fake_github: FakeGitHub) -> list[dict]:
    fake, log = fake_github, const_only_log()
    runs = []
    for i in range(30):
        failed = i in FAILED_AT
        run = fake.add_run(
            event="push", created_at=f"2026-04-{1 + i // 2:02d}T{8 + i % 2:02d}:00:00Z",
            conclusion="failure" if failed else "success",
        )  # fmt: skip
        fake.add_job(
            run["id"], "standard", "failure" if failed else "success", log=log if failed else "missing"
        )
        runs.append(run)
    return runs


def test_a_streak_on_master_is_a_likely_regression_with_its_range(
    fake_github: FakeGitHub, pushes: list[dict], action: Action, tmp_path: Path
) -> None:
    current = fake_github.add_run(event="push", created_at="2026-05-02T10:00:00Z")
    fake_github.add_job(current["id"], "standard", "failure", log=const_only_log())

    # 4 failures in 30 executions would pass a patch policy of 1% over 20 runs
    result = action.run(current["id"], history=str(tmp_path / "h.sqlite"), suggest_patches="0.01,20")

    assert result.code == 0, result.stderr
    (row,) = result.failures
    assert row["verdict"] == "failing-since" and row["needs_look"]
    evidence = row["evidence"]
    assert (evidence["streak"], evidence["first_failing_run"], evidence["last_passing_run"]) == (
        2, pushes[28]["id"], pushes[27]["id"],
    )  # fmt: skip
    compare = f"/compare/{pushes[27]['head_sha']}...{pushes[28]['head_sha']}"
    assert evidence["compare_url"].endswith(compare)
    assert result.outputs["needs-a-look"] == "1"
    assert "likely regression" in result.summary
    assert compare in result.summary
    assert "No patch for ` micropython/const.py ` in ` standard `: it also failed" in result.summary
    assert '"micropython/const.py": (' not in result.summary
    [check] = fake_github.check_runs()
    assert check["conclusion"] == "failure"
    assert check["annotations"][0]["annotation_level"] == "failure"
    assert not fake_github.requests_to("GET", r"/contents/")  # no patch, so no upstream file read


def test_a_pull_request_reads_also_failing_on_the_default_branch(
    fake_github: FakeGitHub, pushes: list[dict], action: Action, tmp_path: Path
) -> None:
    pr = fake_github.add_pull(head_sha="c0ffee" * 6 + "abcd", head_branch="fix-const")
    run = fake_github.add_run(
        event="pull_request", branch="fix-const", head_sha=pr["head"]["sha"], pull_requests=[pr["number"]],
        created_at="2026-05-02T11:00:00Z",
    )  # fmt: skip
    fake_github.add_job(run["id"], "standard", "failure", log=const_only_log())

    result = action.run(run["id"], history=str(tmp_path / "h.sqlite"))

    assert result.code == 0, result.stderr
    (row,) = result.failures
    assert row["verdict"] == "failing-on-default-branch" and not row["needs_look"]
    assert row["evidence"]["history"] == "default-branch"
    [comment] = fake_github.comments(pr["number"])
    assert "also failing on the default branch" in comment["body"]
    assert "not caused by this change" in comment["body"]
    assert json.loads(result.outputs["failures"])[0]["evidence"]["streak"] == 2


def test_offline_triage_with_a_history_shows_the_same_evidence(
    fake_github: FakeGitHub,
    pushes: list[dict],
    action: Action,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`flake-bot triage --log F --job J --history H`: the store filled by the action, read offline."""
    from bot.cli import main

    store = tmp_path / "h.sqlite"
    current = fake_github.add_run(event="push", created_at="2026-05-02T10:00:00Z")
    fake_github.add_job(current["id"], "standard", "failure", log=const_only_log())
    assert action.run(current["id"], history=str(store)).code == 0
    log = tmp_path / "standard.log"
    log.write_bytes(const_only_log())
    capsys.readouterr()

    assert (
        main(
            [
                "triage",
                "--log",
                str(log),
                "--job",
                "standard",
                "--history",
                str(store),
                "--date",
                "2026-05-03",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "micropython/const.py (bytecode pass): likely regression (failed in the last 3 executions" in text
    assert f"since run {pushes[28]['id']}" in text

    assert main(["triage", "--log", str(log), "--job", "standard", "--history", str(store), "--json",
                 "--date", "2026-05-03"]) == 0  # fmt: skip
    (row,) = json.loads(capsys.readouterr().out)["failures"]
    assert row["verdict"] == "failing-since" and row["evidence"]["streak"] == 3
