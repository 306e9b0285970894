"""`flake-bot dashboard` end to end against the fake GitHub: one issue, found again, never
duplicated, never someone else's; ticked boxes open one pull request each, only for writers;
the sync goes on across runs when the budget runs out."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
from fake_github import BOT_LOGIN, FakeGitHub, FakeServer
from helpers.e2e import Result, run_as_step
from helpers.runner import runner_outputs
from logfmt import Step, job_log

from bot.cli import main
from bot.dashboard.render import MARKER
from bot.publish.dashboard import boxes
from bot.store.sqlite import HistoryStore

TOKEN = "ghs_dashboardTokenThatMustNeverBePrinted0"
UPSTREAM = Path(__file__).resolve().parent / "data" / "upstream"
FLAKY = "misc/unlisted_flaky.py"
RUNS = 12


def run_tests_output(failing: str | None) -> str:
    lines = ["platform=linux arch=x64 thread=unsafe float=64-bit unicode", "pass  basics/int1.py "]
    if failing:
        lines.append(f"FAIL  {failing} ")
    lines += ["pass  basics/list1.py ", "3 tests performed (61 individual testcases)"]
    lines.append(f"{2 if failing else 3} tests passed")
    if failing:
        lines += [f"1 tests failed: {failing}", "make: *** [Makefile:258: test] Error 1"]
    return "\n".join(lines) + "\n"


def coverage_log(failing: str | None) -> bytes:
    step = Step(
        "tools/ci.sh unix_coverage_run_tests", run_tests_output(failing), exit_code=2 if failing else 0
    )
    return job_log([step], job="coverage")


def seed(fake: FakeGitHub, runs: int = RUNS, start_day: int = 1) -> None:
    """`runs` pushes to master, one a day, each with a `coverage` job whose log says which test failed."""
    fake.add_workflow()
    fake.add_file("tests/run-tests.py", (UPSTREAM / "tests" / "run-tests.py").read_text())
    fake.add_file("tools/ci.sh", (UPSTREAM / "tools" / "ci.sh").read_text())
    for test in [*(UPSTREAM / "tests.txt").read_text().split(), FLAKY]:
        fake.add_file(f"tests/{test}", "print(1)\n")
    for i in range(runs):
        failed = i % 4 == 2
        day = start_day + i
        run = fake.add_run(
            event="push",
            branch="master",
            created_at=f"2026-{4 + (day - 1) // 28:02d}-{1 + (day - 1) % 28:02d}T08:00:00Z",
            conclusion="failure" if failed else "success",
        )
        fake.add_job(
            run["id"],
            "coverage",
            "failure" if failed else "success",
            log=coverage_log(FLAKY if failed else None),
        )


class Dashboard:
    """The action step in dashboard mode, with a fresh runner environment per call."""

    def __init__(
        self, fake: FakeGitHub, tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        self.fake, self.tmp, self.monkeypatch, self.capsys = fake, tmp, monkeypatch, capsys
        self.calls = 0
        self.history = tmp / "cache" / "dashboard.sqlite"
        fake.token = TOKEN

    def env(
        self, home: Path, event_name: str, event: dict[str, object], inputs: dict[str, str]
    ) -> dict[str, str]:
        path = home / "event.json"
        path.write_text(json.dumps(event))
        (home / "output").touch()
        (home / "summary.md").touch()
        env = {
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": str(path),
            "GITHUB_REPOSITORY": self.fake.repo,
            "GITHUB_API_URL": self.fake.api_url,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_OUTPUT": str(home / "output"),
            "GITHUB_STEP_SUMMARY": str(home / "summary.md"),
            "INPUT_GITHUB-TOKEN": TOKEN,
            "INPUT_MODE": "dashboard",
            "INPUT_HISTORY": str(self.history),
            "INPUT_SUGGEST-PATCHES": "0.1,10",
            "INPUT_RETIRE-AFTER": "10,10",
            "INPUT_DASHBOARD-DAYS": "400",
        }
        env.update({f"INPUT_{k.replace('_', '-').upper()}": v for k, v in inputs.items()})
        return env

    def run(
        self,
        *,
        event_name: str = "schedule",
        event: dict[str, object] | None = None,
        args: tuple[str, ...] = (),
        **inputs: str,
    ) -> Result:
        self.calls += 1
        home = self.tmp / f"call{self.calls}"
        home.mkdir()
        env = self.env(home, event_name, event or {}, inputs)
        code, out, err = run_as_step(self.monkeypatch, self.capsys, env, ["dashboard", *args])
        summary = (home / "summary.md").read_text()
        assert TOKEN not in out + err + summary
        return Result(code, out, err, runner_outputs((home / "output").read_text()), summary)


@pytest.fixture
def dashboard(
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Dashboard:
    seed(fake_github)
    return Dashboard(fake_github, tmp_path, monkeypatch, capsys)


@pytest.fixture(scope="module")
def seeded_history(fake_github_server: FakeServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The history of `seed` as `flake-bot sync --scan-green` leaves it, made once per module.

    Tests about publishing (ticks, locks, duplicates, failed writes) start from it, as the
    dashboard does every day but the first; each of them syncing the same twelve pushes again
    cost two thirds of its requests. The first run's sync stays covered by the tests that start
    empty (first run, budget cuts, green logs, several workflows)."""
    with fake_github_server.serving() as fake, pytest.MonkeyPatch.context() as patch:
        seed(fake)
        path = tmp_path_factory.mktemp("seeded") / "dashboard.sqlite"
        patch.setenv("GITHUB_API_URL", fake.api_url)
        patch.setenv("GITHUB_TOKEN", TOKEN)
        args = ["sync", "--repo", fake.repo, "--workflow", "ports_unix.yml", "--branch", "master"]
        assert main([*args, "--event", "push", "--scan-green", "--db", str(path)]) == 0
    assert not fake.errors, fake.errors
    return path


@pytest.fixture
def synced(dashboard: Dashboard, seeded_history: Path) -> Dashboard:
    """`dashboard` whose history file already holds the seeded pushes (see `seeded_history`)."""
    dashboard.history.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(seeded_history, dashboard.history)
    return dashboard


def ours(fake: FakeGitHub) -> list[dict]:
    return [i for i in fake.issues() if i["user"]["login"] == BOT_LOGIN and i["body"].startswith(MARKER)]


def test_first_run_creates_one_issue_the_next_updates_it(
    fake_github: FakeGitHub, dashboard: Dashboard
) -> None:
    first = dashboard.run()
    assert first.code == 0, first.stderr
    [issue] = ours(fake_github)
    assert issue["title"] == "Flaky test dashboard" and issue["state"] == "open"
    body = issue["body"]
    assert "Add to the flaky list (1)" in body and "### ` misc/unlisted_flaky.py `" in body
    # patch via the API; ("linux",): the jobs named all run on Linux, None would reach macOS and Windows too
    assert '+    "misc/unlisted_flaky.py": ("intermittent failure in CI", ("linux",)),' in body
    assert "Read from 12 job logs out of 12 job executions" in body  # green logs scanned too
    assert first.outputs["dashboard-url"] == issue["html_url"]
    assert "# Flaky test dashboard" in first.summary and MARKER not in first.summary

    fake_github.add_run(
        event="push", branch="master", created_at="2026-05-10T08:00:00Z", conclusion="success"
    )
    second = dashboard.run()
    assert second.code == 0, second.stderr
    assert [i["number"] for i in ours(fake_github)] == [issue["number"]]
    assert len(fake_github.requests_to("POST", r"/issues$")) == 1
    assert len(fake_github.requests_to("PATCH", rf"/issues/{issue['number']}$")) == 1
    assert "13 runs" in ours(fake_github)[0]["body"]
    assert "dashboard updated" in second.stderr


def test_dry_run_posts_nothing(fake_github: FakeGitHub, synced: Dashboard) -> None:
    result = synced.run(dry_run="true")
    assert result.code == 0, result.stderr
    assert result.stdout.count(MARKER) == 1 and "Add to the flaky list (1)" in result.stdout
    assert fake_github.issues() == []
    assert not [r for r in fake_github.api_requests() if r.method in ("POST", "PATCH", "PUT")]


def test_suggest_patches_off_proposes_nothing_to_add(fake_github: FakeGitHub, synced: Dashboard) -> None:
    """`suggest-patches: off`, which action.yml documents, made the dashboard exit 2."""
    result = synced.run(dry_run="true", suggest_patches="off")
    assert result.code == 0, result.stderr
    assert result.stdout.count(MARKER) == 1
    assert "Add to the flaky list (0)" in result.stdout and "the patch rule is off" in result.stdout
    assert synced.run(dry_run="true").stdout.count("Add to the flaky list (1)") == 1  # on: proposed


def test_a_marked_issue_by_someone_else_is_never_edited(fake_github: FakeGitHub, synced: Dashboard) -> None:
    forged = fake_github.add_issue(MARKER + "\nplease edit me", user="mallory")
    assert synced.run().code == 0
    assert fake_github.issues()[0]["body"] == forged["body"]
    assert len(ours(fake_github)) == 1
    assert not fake_github.requests_to("PATCH", rf"/issues/{forged['number']}$")


def test_deleted_issue_is_replaced_locked_issue_is_left_alone(
    fake_github: FakeGitHub, synced: Dashboard
) -> None:
    assert synced.run().code == 0
    [first] = ours(fake_github)
    fake_github.delete_issue(first["number"])
    assert synced.run().code == 0
    [second] = ours(fake_github)
    assert second["number"] != first["number"]

    fake_github.lock_issue(second["number"])
    before = second["body"]
    result = synced.run()
    assert result.code == 0
    assert [i["number"] for i in ours(fake_github)] == [second["number"]]
    assert ours(fake_github)[0]["body"] == before
    assert "is locked: left as it is" in result.stderr


def test_duplicates_from_overlapping_runs_end_as_one(
    fake_github: FakeGitHub, synced: Dashboard, tmp_path: Path
) -> None:
    # a run that overlapped an earlier one left two; the newer is closed, its marker removed
    fake_github.add_issue(MARKER + "\nold", user=BOT_LOGIN, title="Flaky test dashboard")
    fake_github.add_issue(MARKER + "\nnewer", user=BOT_LOGIN, title="Flaky test dashboard")
    assert synced.run().code == 0
    [kept] = ours(fake_github)
    assert kept["body"].startswith(MARKER + "\n# Flaky test dashboard")
    closed = [i for i in fake_github.issues() if i["number"] != kept["number"]]
    assert [(i["state"], i["state_reason"]) for i in closed] == [("closed", "not_planned")]
    assert closed[0]["body"].startswith(f"Duplicate of #{kept['number']}")


def test_concurrent_runs_leave_one_open_issue(
    fake_github: FakeGitHub, dashboard: Dashboard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # each create is held until the other has arrived, so both runs (the same work on two
    # threads) have listed no issue and both create one
    fake_github.hold_together("POST", r"/issues$", 2)
    home = tmp_path / "concurrent"
    home.mkdir()
    for key, value in dashboard.env(home, "schedule", {}, {}).items():
        monkeypatch.setenv(key, value)
    codes: list[int] = []

    def one(n: int) -> None:
        codes.append(main(["dashboard", "--history", str(tmp_path / f"h{n}.sqlite")]))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert codes == [0, 0]
    assert len(fake_github.requests_to("POST", r"/issues$")) == 2
    opened = [i for i in ours(fake_github) if i["state"] == "open"]
    assert len(opened) == 1 and opened[0]["number"] == min(i["number"] for i in fake_github.issues())


def tick(body: str, key: str) -> str:
    return body.replace(f"- [ ] <!-- flake-bot-pr:{key}", f"- [x] <!-- flake-bot-pr:{key}", 1)


def test_ticked_box_opens_one_pull_request(fake_github: FakeGitHub, synced: Dashboard) -> None:
    assert synced.run(open_pull_requests="true").code == 0
    [issue] = ours(fake_github)
    [key] = [k for k in boxes(issue["body"]) if k.startswith("add-")]
    fake_github.collaborators["dpgeorge"] = "maintain"
    fake_github.edit_issue_as(issue["number"], tick(issue["body"], key), "dpgeorge")

    result = synced.run(open_pull_requests="true")
    assert result.code == 0, result.stderr
    [pull] = fake_github.pulls()
    assert pull["head"]["ref"] == f"flake-bot/{key}" and pull["base"]["ref"] == "master"
    patched = fake_github.branch_files(f"flake-bot/{key}")["tests/run-tests.py"]
    assert '    "misc/unlisted_flaky.py": ("intermittent failure in CI", ("linux",)),\n' in patched
    assert (
        fake_github.branch_files("master")["tests/run-tests.py"]
        == (UPSTREAM / "tests/run-tests.py").read_text()
    )
    body = ours(fake_github)[0]["body"]
    assert boxes(body)[key] == (False, pull["number"])  # unticked, the pull request recorded
    assert f"update [pull request {pull['number']}]" in body

    # ticked again (through the issues: edited event this time): the same pull request, no second
    before = body
    fake_github.edit_issue_as(issue["number"], tick(body, key), "dpgeorge")
    event = {
        "action": "edited",
        "issue": {"number": issue["number"], "body": tick(body, key)},
        "sender": {"login": "dpgeorge"},
        "changes": {"body": {"from": before}},
    }
    assert synced.run(event_name="issues", event=event, open_pull_requests="true").code == 0
    assert len(fake_github.pulls()) == 1
    assert len(fake_github.requests_to("POST", r"/pulls$")) == 1
    assert boxes(ours(fake_github)[0]["body"])[key] == (False, pull["number"])
    assert not fake_github.requests_to("POST", r"/graphql$")[1:]  # the event said who ticked it

    # a closed pull request is not replaced unasked, and does not block the entry: a new tick
    # opens a fresh one from a fresh branch
    fake_github.close_pull(pull["number"])
    assert synced.run(open_pull_requests="true").code == 0
    body = ours(fake_github)[0]["body"]
    assert f"open a new pull request, from a fresh branch ([pull request {pull['number']}]" in body
    assert len(fake_github.pulls()) == 1
    fake_github.edit_issue_as(issue["number"], tick(body, key), "dpgeorge")
    assert synced.run(open_pull_requests="true").code == 0
    [_, fresh] = fake_github.pulls()
    assert fresh["head"]["ref"] == f"flake-bot/{key}-2" and fresh["state"] == "open"
    assert boxes(ours(fake_github)[0]["body"])[key] == (False, fresh["number"])


def test_tick_without_write_access_is_ignored(fake_github: FakeGitHub, synced: Dashboard) -> None:
    assert synced.run(open_pull_requests="true").code == 0
    [issue] = ours(fake_github)
    [key] = [k for k in boxes(issue["body"]) if k.startswith("add-")]
    fake_github.collaborators["mallory"] = "triage"
    fake_github.edit_issue_as(issue["number"], tick(issue["body"], key), "mallory")
    result = synced.run(open_pull_requests="true")
    assert result.code == 0
    assert fake_github.pulls() == [] and not fake_github.requests_to("POST", r"/git/refs$")
    assert "ticked by mallory, who has read access" in result.stderr
    assert boxes(ours(fake_github)[0]["body"])[key] == (False, None)  # the tick is undone
    assert "ticked by mallory, who has read access" in ours(fake_github)[0]["body"].replace("\\", "")
    # an event naming a writer as sender cannot vouch for a tick it did not make
    fake_github.collaborators["dpgeorge"] = "write"
    body = ours(fake_github)[0]["body"]
    fake_github.edit_issue_as(issue["number"], tick(body, key), "mallory")
    event = {
        "action": "edited",
        "issue": {"number": issue["number"], "body": tick(body, key)},
        "sender": {"login": "dpgeorge"},
        "changes": {"body": {"from": tick(body, key)}},
    }
    assert synced.run(event_name="issues", event=event, open_pull_requests="true").code == 0
    assert fake_github.pulls() == []


def test_tick_with_pull_requests_off_opens_nothing(fake_github: FakeGitHub, synced: Dashboard) -> None:
    assert synced.run().code == 0
    [issue] = ours(fake_github)
    assert "open a pull request (off:" in issue["body"]
    [key] = [k for k in boxes(issue["body"]) if k.startswith("add-")]
    fake_github.collaborators["dpgeorge"] = "admin"
    fake_github.edit_issue_as(issue["number"], tick(issue["body"], key), "dpgeorge")
    result = synced.run()
    assert result.code == 0 and fake_github.pulls() == []
    assert "opening pull requests is off" in result.stderr


def test_budget_cut_mid_scan_is_resumed(fake_github: FakeGitHub, dashboard: Dashboard) -> None:
    first = dashboard.run(request_budget="30")
    assert first.code == 0, first.stderr
    assert "stopped early" in first.stderr
    assert len(ours(fake_github)) == 1  # the issue still got out, from what was synced
    with HistoryStore(dashboard.history) as store:
        partial = store.counts()
    assert 0 < partial["runs"] < RUNS and partial["pending"] > 0
    second = dashboard.run(request_budget="200")
    assert second.code == 0, second.stderr
    with HistoryStore(dashboard.history) as store:
        done = store.counts()
    assert (done["runs"], done["pending"]) == (RUNS, 0)
    assert "Add to the flaky list (1)" in ours(fake_github)[0]["body"]
    total = len(fake_github.api_requests())
    assert total <= 30 + 200


HOSTILE_JOB = "cov <img src=x onerror=alert(1)> @maintainer | x `y` <!-- flake-bot:dashboard --> ::warning::"


def test_hostile_names_from_the_api_are_escaped_and_bounded(
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Test names from logs are paths (the parser keeps nothing else); job names come from the jobs
    API, which a workflow file change controls, and reach the body through tables and messages."""
    from helpers.gfm import analyse, github_refs

    fake_github.add_workflow()
    job = HOSTILE_JOB + "x" * 400
    for i in range(RUNS):
        failed = i % 4 == 2
        run = fake_github.add_run(event="push", branch="master", created_at=f"2026-04-{i + 1:02d}T08:00:00Z",
                                  conclusion="failure" if failed else "success")  # fmt: skip
        fake_github.add_job(run["id"], job, "failure" if failed else "success",
                            log=coverage_log(FLAKY if failed else None))  # fmt: skip
    result = Dashboard(fake_github, tmp_path, monkeypatch, capsys).run()
    assert result.code == 0, result.stderr
    [issue] = ours(fake_github)
    body = issue["body"]
    assert "Add to the flaky list (1)" in body and "No patch:" in body  # an unknown job: no patch, no box
    assert "- [ ]" not in body
    page = analyse(body)
    assert page.balanced and not {"img", "script"} & set(page.tags)
    assert [c.strip() for c in page.comments if "flake-bot" in c] == ["flake-bot:dashboard"]
    assert github_refs(page) == []  # names are code spans: no mention, link or reference
    assert any("@maintainer" in c for c in page.code)
    assert "x" * 400 not in body  # bounded
    assert "::warning::" not in result.stdout + result.stderr


def test_a_create_that_failed_but_landed_is_not_repeated(fake_github: FakeGitHub, synced: Dashboard) -> None:
    fake_github.fail("POST", r"/issues$", 502, apply=True)  # GitHub made it, then answered 502
    result = synced.run()
    assert result.code == 0, result.stderr
    assert len(ours(fake_github)) == 1 and len(fake_github.issues()) == 1
    assert len(fake_github.requests_to("POST", r"/issues$")) == 1
    assert "dashboard created" in result.stderr


def test_editor_lookup_failing_ignores_ticks_but_publishes(
    fake_github: FakeGitHub, synced: Dashboard
) -> None:
    assert synced.run(open_pull_requests="true").code == 0
    [issue] = ours(fake_github)
    [key] = [k for k in boxes(issue["body"]) if k.startswith("add-")]
    fake_github.collaborators["dpgeorge"] = "write"
    fake_github.edit_issue_as(issue["number"], tick(issue["body"], key), "dpgeorge")
    fake_github.fail("POST", r"/graphql$", 403, body={"message": "Resource not accessible by integration"})
    result = synced.run(open_pull_requests="true")
    assert result.code == 0, result.stderr
    assert fake_github.pulls() == []
    assert "who ticked it could not be checked" in result.stderr
    assert boxes(ours(fake_github)[0]["body"])[key] == (False, None)


QEMU_JOB = "build_and_test_arm (sabrelite)"
QEMU_ONLY = "basics/qemu_only_flaky.py"
QEMU_RUNS = 10


def seed_qemu(fake: FakeGitHub) -> None:
    """`QEMU_RUNS` pushes of the qemu port: a test of its own failing in 3 of them, and the unix
    port's flaky test failing once (the cross-workflow row)."""
    fake.add_file(f"tests/{QEMU_ONLY}", "print(1)\n")
    for i in range(QEMU_RUNS):
        failing = QEMU_ONLY if i % 3 == 1 else FLAKY if i == 5 else None
        run = fake.add_run(
            event="push", branch="master", workflow="ports_qemu.yml", workflow_name="qemu port",
            created_at=f"2026-04-{1 + i:02d}T09:00:00Z", conclusion="failure" if failing else "success",
        )  # fmt: skip
        step = Step(
            "tools/ci.sh qemu_build_arm_sabrelite", run_tests_output(failing), exit_code=2 if failing else 0
        )
        fake.add_job(
            run["id"], QEMU_JOB, "failure" if failing else "success", log=job_log([step], job=QEMU_JOB)
        )


def test_two_workflows_get_a_section_each_after_the_cross_workflow_table(
    fake_github: FakeGitHub, dashboard: Dashboard
) -> None:
    import cmarkgfm

    seed_qemu(fake_github)
    result = dashboard.run()
    assert result.code == 0, result.stderr
    assert "has no workflow 'ports_windows.yml': not watched" in result.stderr  # covered, not in this repo
    body = ours(fake_github)[0]["body"]
    headings = [line for line in body.splitlines() if line.startswith("## ")]
    assert headings == ["## Flaky tests across workflows", "## ` unix port `", "## ` qemu port `"]
    html = cmarkgfm.github_flavored_markdown_to_html(body)
    row = (
        f"<td><code>{FLAKY}</code></td>\n<td><code>qemu port</code>: <code>{QEMU_JOB}</code> 1; "
        "<code>unix port</code>: <code>coverage</code> 3</td>"
    )
    assert row in html
    unix, qemu = body.split("## ` unix port `")[1].split("## ` qemu port `")
    assert "12 runs" in unix and f"{QEMU_RUNS} runs" in qemu
    assert QEMU_ONLY not in unix
    # the qemu-only flake is counted over the qemu port's own executions: 3 of its 10 runs, not
    # diluted by the unix port's 12 (rates are never borrowed across workflows)
    assert f"#### ` {QEMU_ONLY} `" in qemu
    assert f"| ` {QEMU_JOB} ` | 3 / {QEMU_RUNS} |" in qemu
    assert f'+    "{QEMU_ONLY}": ("intermittent failure in CI", ("linux",)),' in qemu
    assert "Add to the flaky list (1)" in unix and "#### ` misc/unlisted_flaky.py `" in unix
    adds = [k for k in boxes(body) if k.startswith("add-")]
    assert len(adds) == 2  # the qemu entry's id is its own, not the unix one's


def test_one_workflow_asked_for_by_name_keeps_the_single_layout(
    fake_github: FakeGitHub, dashboard: Dashboard
) -> None:
    seed_qemu(fake_github)
    result = dashboard.run(workflow="qemu port")
    assert result.code == 0, result.stderr
    body = ours(fake_github)[0]["body"]
    assert "across workflows" not in body and "## Add to the flaky list (1)" in body
    assert f"### ` {QEMU_ONLY} `" in body and FLAKY not in body
    assert not fake_github.requests_to("GET", r"/workflows/ports_unix\.yml/runs")
    missing = dashboard.run(workflow="unix port, ports_nope.yml")
    assert missing.code == 2 and "has no workflow 'ports_nope.yml'" in missing.stderr


def test_a_small_budget_is_shared_by_the_workflows(fake_github: FakeGitHub, dashboard: Dashboard) -> None:
    seed_qemu(fake_github)
    first = dashboard.run(request_budget="60")
    assert first.code == 0, first.stderr
    with HistoryStore(dashboard.history) as store:
        synced = {name: runs for _, name, runs in store.workflows()}
    assert synced.get("unix port", 0) > 0 and synced.get("qemu port", 0) > 0  # neither starved
    assert dashboard.run(request_budget="400").code == 0
    with HistoryStore(dashboard.history) as store:
        assert {name: runs for _, name, runs in store.workflows()} == {
            "unix port": RUNS,
            "qemu port": QEMU_RUNS,
        }
        assert store.counts()["pending"] == 0


def test_green_logs_a_triage_sync_skipped_are_read_by_the_dashboard(
    fake_github: FakeGitHub, dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the triage workflow's sync (no --scan-green) fills the shared file first: green pushes are
    # recorded with their job names copied from a neighbour, no log read
    monkeypatch.setenv("GITHUB_API_URL", fake_github.api_url)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    args = ["sync", "--repo", fake_github.repo, "--workflow", "ports_unix.yml", "--branch", "master"]
    assert main([*args, "--event", "push", "--db", str(dashboard.history)]) == 0
    with HistoryStore(dashboard.history) as store:
        before = store.counts()
    assert before["runs"] == RUNS and before.get("log_parsed", 0) == 3  # the failed runs' logs only

    result = dashboard.run(workflow="unix port")
    assert result.code == 0, result.stderr
    assert "green logs read for 9 runs recorded earlier without them" in result.stderr
    with HistoryStore(dashboard.history) as store:
        assert store.counts()["log_parsed"] == RUNS
    assert "Read from 12 job logs out of 12 job executions" in ours(fake_github)[0]["body"]
    again = dashboard.run(workflow="unix port")  # nothing left to read: no log downloaded again
    assert again.code == 0 and "recorded earlier" not in again.stderr
