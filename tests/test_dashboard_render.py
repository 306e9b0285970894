"""The dashboard body: rendered with GitHub's engine, hostile input inert, within the size limit,
and `flake-bot dashboard --dry-run` offline from a history file."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from helpers.dashboard import NOW, seed
from helpers.gfm import analyse, github_refs, visible

from bot.cli import main
from bot.dashboard import build, core
from bot.dashboard.render import MARKER, MAX_BODY_CHARS, PullRequestLink, render_body
from bot.patch_rules import PatchPolicy
from bot.records import Outcome, Runner, TestFailure
from bot.registry import load_registry
from bot.registry.source import MemoryTree
from bot.store.sqlite import HistoryStore

UPSTREAM = Path(__file__).parent / "data" / "upstream"
EVIL_TEST = (
    "misc/x|<img src=x onerror=alert(1)> @maintainer [c](https://evil.example) "
    "<!-- flake-bot:dashboard -->.py"
)
EVIL_SYMPTOM = (
    "```\n</table><script>alert(1)</script>\n| a | b | - [x] <!-- flake-bot-pr:add-000000000000 -->"
)


def upstream_tree(extra: tuple[str, ...] = ()) -> MemoryTree:
    tests = (UPSTREAM / "tests.txt").read_text().split()
    files = {p: (UPSTREAM / p).read_text() for p in ("tests/run-tests.py", "tools/ci.sh")}
    return MemoryTree(files, [*tests, *extra])


def dashboard(tmp_path: Path, **kw: object) -> build.Dashboard:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        seed(store, **kw)  # type: ignore[arg-type]
        return build.build(
            store, load_registry(None), workflow="unix port", branch="master", days=90, now=NOW,
            add_policy=PatchPolicy(), retire_policy=core.RetirePolicy(),
        )  # fmt: skip


def test_lists_and_evidence(tmp_path: Path) -> None:
    d = dashboard(tmp_path)
    assert [i.test for i in d.selection.add] == ["misc/unlisted_flaky.py"]
    add = d.selection.add[0].pairs[0]
    assert (add.job, add.events, add.executions, add.since_last) == ("coverage", 11, 90, 6)
    assert {i.test for i in d.selection.retire} >= {"extmod/time_time_ns.py", "cmdline/repl_lock.py"}
    assert "thread/thread_gc1.py" not in {i.test for i in d.selection.retire}  # flaked 12 days ago
    assert [(i.test, i.reason) for i in d.selection.look] == [
        ("basics/now_broken.py", "streak"),
        ("thread/stress_recurse.py", "new-way"),
    ]
    assert d.coverage.read == d.coverage.executions == 360


def test_body_renders_as_github_markdown(tmp_path: Path) -> None:
    from bot.orchestrate.dashboard_run import with_patches

    d = with_patches(build.Board((dashboard(tmp_path),)), load_registry(None), upstream_tree(
        ("misc/unlisted_flaky.py", "extmod/time_time_ns.py", "cmdline/repl_lock.py")))  # fmt: skip
    key = d.selection.add[0].key
    body = render_body(d, prs={}, pr_mode=True)
    assert body.startswith(MARKER + "\n")
    page = analyse(body)
    assert page.balanced
    assert page.headings[:2] == ["Flaky test dashboard", "Pass rate"]
    assert "Add to the flaky list (1)" in page.headings and "Look at (2)" in page.headings
    # one checkbox per entry with a patch, each on its own task-list item
    boxes = [attrs for tag, attrs in page.elements if tag == "input" and ("type", "checkbox") in attrs]
    assert len(boxes) == len(d.patches) >= 1
    # Retiring a None entry seen stale in unix jobs only would also change the other workflows' jobs.
    notes = [n for section in d.sections for n in section.patch_notes.values()]
    assert any("would also stop ignoring it in 6 qemu jobs" in n for n in notes)
    assert f"<!-- flake-bot-pr:{key} -->" in body
    assert '+    "misc/unlisted_flaky.py": ("intermittent failure in CI", ("linux",)),' in body
    assert body.count("```mermaid") == 2
    # a recorded pull request replaces "open" with "update", keeping its number in the marker
    linked = render_body(
        d, prs={key: PullRequestLink(7, "https://github.com/o/r/pull/7", "open")}, pr_mode=True
    )
    assert (
        f"<!-- flake-bot-pr:{key} pr:7 --> update [pull request 7](<https://github.com/o/r/pull/7>)" in linked
    )
    closed = render_body(
        d, prs={key: PullRequestLink(7, "https://github.com/o/r/pull/7", "closed")}, pr_mode=True
    )
    # a closed one does not block the entry: the box offers a fresh branch and pull request
    assert f"- [ ] <!-- flake-bot-pr:{key} pr:7 --> open a new pull request, from a fresh branch" in closed
    # a tick left for the next run stays ticked, and a line under the box says why (escaped)
    kept = render_body(d, pr_mode=True, ticked={key}, lines={key: "not opened yet: <b>budget</b> @x"})
    assert f"- [x] <!-- flake-bot-pr:{key} -->" in kept
    assert "not opened yet\\: &lt;b&gt;budget" in kept and "<b>" not in kept and "@x" not in kept
    off = render_body(d, pr_mode=False)
    assert (
        "open a pull request (off: the workflow must set the action input `open-pull-requests: true`" in off
    )


def test_hostile_names_and_symptoms_are_inert(tmp_path: Path) -> None:
    def failures(day: int, job: str) -> list[TestFailure]:
        if job == "coverage" and day % 5 == 1:
            return [TestFailure(EVIL_TEST, Runner.RUN_TESTS, Outcome.FAIL, symptom=EVIL_SYMPTOM)]
        if job == "standard" and day == 99:
            return [TestFailure(EVIL_TEST + "2", Runner.RUN_TESTS, Outcome.FAIL, symptom=EVIL_SYMPTOM)]
        return []

    d = dashboard(tmp_path, failures=failures)
    assert [i.test for i in d.selection.add] == [EVIL_TEST]
    body = render_body(d, pr_mode=True)
    assert body.count("<!-- flake-bot:dashboard -->") == 1 and body.startswith(MARKER)
    assert len(re.findall(r"<!-- flake-bot-pr:", body)) == 0  # no patch (hostile path), no forged box
    page = analyse(body)
    assert page.balanced
    html_tags = set(page.tags)
    assert not html_tags & {"img", "script"}
    assert not [c for c in page.comments if "flake-bot" in c and c.strip() != "flake-bot:dashboard"]
    assert github_refs(page) == []
    assert any("misc/x|<img" in visible(c) for c in page.code)  # shown, as code
    for tag, attrs in page.elements:
        if tag == "input":
            raise AssertionError(f"a checkbox came from input: {attrs}")


def test_body_too_long_degrades_within_the_limit(tmp_path: Path) -> None:
    d = dashboard(tmp_path)
    many = tuple(
        dataclasses.replace(d.selection.add[0], test=f"misc/flaky_{n:04d}_{'x' * 60}.py") for n in range(600)
    )
    patches = {
        item.key: "--- a/tests/run-tests.py\n+++ b/tests/run-tests.py\n" + "+x\n" * 40 for item in many
    }
    big = dataclasses.replace(d, selection=dataclasses.replace(d.selection, add=many), patches=patches)
    body = render_body(big, pr_mode=True)
    assert len(body) <= MAX_BODY_CHARS
    assert analyse(body).balanced
    assert re.search(r"\d+ more not shown: the issue body has a size limit", body)
    assert "Retire from the flaky list" in body and "Look at" in body  # later lists still there
    # the job summary (1 MiB) takes everything
    full = render_body(big, pr_mode=True, limit_chars=900_000, marker="")
    assert "more not shown" not in full and full.count("<details><summary>Patch</summary>") == 600


def test_board_of_two_big_workflows_degrades_within_the_limit(tmp_path: Path) -> None:
    from bot.report import CrossTest

    d = dashboard(tmp_path)
    many = tuple(
        dataclasses.replace(d.selection.add[0], test=f"misc/flaky_{n:04d}_{'x' * 60}.py") for n in range(300)
    )
    patches = {
        item.key: "--- a/tests/run-tests.py\n+++ b/tests/run-tests.py\n" + "+x\n" * 40 for item in many
    }
    unix = dataclasses.replace(d, selection=dataclasses.replace(d.selection, add=many), patches=patches)
    qemu_many = tuple(dataclasses.replace(i, workflow="qemu port") for i in many)
    qemu = dataclasses.replace(
        unix, workflow="qemu port", selection=dataclasses.replace(d.selection, add=qemu_many),
        patches={i.key: patches[j.key] for i, j in zip(qemu_many, many, strict=True)},
    )  # fmt: skip
    across = tuple(
        CrossTest(f"misc/t{n:03d}.py", (("qemu port", "arm", 1, 0), ("unix port", "macos", 2, 1)))
        for n in range(400)
    )
    board = build.Board((unix, qemu), across)
    body = render_body(board, pr_mode=True)
    assert len(body) <= MAX_BODY_CHARS and analyse(body).balanced
    assert body.count("more not shown: the issue body has a size limit") >= 3  # both sections and the table
    assert "## ` qemu port `" in body and "#### Look at" not in body and "### Look at" in body
    assert len(board.patches) == 600  # the two workflows' entries have distinct ids
    full = render_body(board, pr_mode=True, limit_chars=900_000, marker="")
    assert "more not shown" not in full and full.count("<details><summary>Patch</summary>") == 600


def test_dry_run_offline_prints_the_body(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    for name in ("GITHUB_ACTIONS", "GITHUB_REPOSITORY", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as store:
        seed(store, now=NOW)
    # a checkout for the patch writer, made of the upstream-style fixtures
    for rel in ("tests/run-tests.py", "tools/ci.sh"):
        (tmp_path / "mp" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "mp" / rel).write_text((UPSTREAM / rel).read_text())
    (tmp_path / "mp/tests/misc").mkdir()
    (tmp_path / "mp/tests/misc/unlisted_flaky.py").write_text("print(1)\n")
    code = main(["dashboard", "--history", str(db), "--dry-run", "--repo-dir", str(tmp_path / "mp"),
                 "--dashboard-days", "365"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith(MARKER)
    assert "### ` misc/unlisted_flaky.py `" in out and '+    "misc/unlisted_flaky.py"' in out
    assert main(["dashboard", "--history", str(db)]) == 2  # nothing to publish with, and not a dry run
    assert "use --dry-run" in capsys.readouterr().err


def test_a_test_failing_only_in_the_latest_run_is_looked_at(tmp_path: Path) -> None:
    def failures(day: int, job: str) -> list[TestFailure]:
        if job == "macos" and day == 99:
            return [TestFailure("basics/just_broke.py", Runner.RUN_TESTS, Outcome.FAIL, symptom="CRASH")]
        return []

    d = dashboard(tmp_path, failures=failures)
    assert [(i.test, i.job, i.reason) for i in d.selection.look] == [
        ("basics/just_broke.py", "macos", "streak")
    ]
    assert d.selection.add == ()


@pytest.mark.parametrize(
    ("streak", "repo_url", "expected"),
    [
        (None, "https://github.com/o/r", ""),
        (core.Streak(0), "https://github.com/o/r", ""),
        (core.Streak(2, 5, "b" * 40, None, "a" * 40), "https://github.com/o/r",
         "culprit range [aaaaaaaaaaaa\\.\\.bbbbbbbbbbbb]"
         f"(<https://github.com/o/r/compare/{'a' * 40}...{'b' * 40}>)"),
        (core.Streak(2, 5, "b" * 40, None, "a" * 40), "", "culprit range aaaaaaaaaaaa\\.\\.bbbbbbbbbbbb"),
        (core.Streak(2, 5, "b" * 40, None, "not-a-sha"), "https://github.com/o/r",
         "culprit range not\\-a\\-sha\\.\\.bbbbbbbbbbbb"),
        (core.Streak(2, 5, "b" * 40, None, None), "https://github.com/o/r",
         "culprit at or before bbbbbbbbbbbb (no earlier pass known)"),
    ],
)  # fmt: skip
def test_culprit_range(streak: core.Streak | None, repo_url: str, expected: str) -> None:
    from bot.dashboard.render import culprit_range

    assert visible(culprit_range(streak, repo_url)) == expected


def test_an_add_entry_shows_the_other_jobs_it_failed_in(tmp_path: Path) -> None:
    from helpers.dashboard import default_failures

    usual = default_failures(100)

    def failures(day: int, job: str) -> list[TestFailure]:
        extra = [TestFailure("misc/unlisted_flaky.py", Runner.RUN_TESTS, Outcome.TIMEOUT,
                             symptom='TIMEOUT after "start"')]  # fmt: skip
        return usual(day, job) + (extra if job == "qemu_arm" and day == 40 else [])

    d = dashboard(tmp_path, failures=failures)
    (item,) = d.selection.add
    assert item.jobs == ("coverage",)
    body = render_body(d)
    shown = "left out of this patch: ` qemu_arm ` 1/90 = 1.1% (below the rule there)."
    assert "Also failed in other jobs, " + shown in body
