"""The action with a history store: incremental sync within the budget, rates, and a patch.

A month of `master` pushes where `standard` failed 4 times in 60 runs on micropython/const.py
alone: its next failure comes with its historical rate, and since it is not in the registry,
fails often enough and alone, with a patch against upstream's `tests/run-tests.py` fetched
through the contents API.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_github import FakeGitHub
from helpers.e2e import Action, const_only_log

UPSTREAM = Path(__file__).resolve().parent / "data" / "upstream"


@pytest.fixture
def history(fake_github: FakeGitHub) -> dict:
    fake = fake_github
    fake.add_file("tests/run-tests.py", (UPSTREAM / "tests" / "run-tests.py").read_text())
    fake.add_file("tools/ci.sh", (UPSTREAM / "tools" / "ci.sh").read_text())
    extra = ["micropython/const.py", "cmdline/repl_basic.py"]
    for test in [*(UPSTREAM / "tests.txt").read_text().split(), *extra]:
        fake.add_file(f"tests/{test}", "print(1)\n")
    log = const_only_log()
    for i in range(60):
        failed = i % 15 == 3
        run = fake.add_run(
            event="push",
            created_at=f"2026-04-{1 + i // 3:02d}T{8 + i % 3:02d}:00:00Z",
            conclusion="failure" if failed else "success",
        )
        fake.add_job(
            run["id"], "standard", "failure" if failed else "success", log=log if failed else "missing"
        )
        fake.add_job(run["id"], "minimal", "success", log="missing")
    current = fake.add_run(event="push", created_at="2026-05-02T10:00:00Z")
    fake.add_job(current["id"], "standard", "failure", log=log)
    fake.add_job(current["id"], "minimal", "success", log="missing")
    return current


def test_history_gives_rates_and_a_patch(
    fake_github: FakeGitHub, history: dict, action: Action, tmp_path: Path
) -> None:
    store = tmp_path / "cache" / "history.sqlite"

    result = action.run(history["id"], history=str(store))

    assert result.code == 0, result.stderr
    assert store.exists()
    [check] = fake_github.check_runs()
    text = check["output"]["summary"] + check["output"]["text"]
    assert "4 times in the last 60 executions of this job" in result.summary.replace("\\", "")
    assert '+    "micropython/const.py": (' in result.summary
    assert "micropython/const.py" in text
    # upstream files fetched once each, only because a patch was due
    assert len(fake_github.requests_to("GET", r"/contents/tests/run-tests.py$")) == 1
    assert len(fake_github.requests_to("GET", r"/git/trees/")) == 1

    # the next triage syncs incrementally: one listing page, nothing else for history
    before = len(fake_github.requests_to("GET", r"/workflows/.*/runs$"))
    assert action.run(history["id"], history=str(store)).code == 0
    assert len(fake_github.requests_to("GET", r"/workflows/.*/runs$")) == before + 1


def test_the_patch_follows_the_workflow_at_the_ref(
    fake_github: FakeGitHub, history: dict, action: Action, tmp_path: Path
) -> None:
    """The workflow on the default branch runs `standard` on macOS (unlike the bundled registry):
    the patch reads it there and ignores the test on darwin only."""
    workflow = (UPSTREAM / ".github" / "workflows" / "ports_unix.yml").read_text()
    moved = workflow.replace("  standard:\n    runs-on: ubuntu-latest", "  standard:\n    runs-on: macos-26")
    assert moved != workflow
    fake_github.add_file(".github/workflows/ports_unix.yml", moved)

    result = action.run(history["id"], history=str(tmp_path / "h.sqlite"))

    assert result.code == 0, result.stderr
    assert '+    "micropython/const.py": ("intermittent failure in CI", ("darwin",)),' in result.summary
    assert len(fake_github.requests_to("GET", r"/contents/\.github/workflows/ports_unix\.yml$")) == 1


def test_small_budget_stops_the_sync_not_the_report(
    fake_github: FakeGitHub, history: dict, action: Action, tmp_path: Path
) -> None:
    result = action.run(history["id"], history=str(tmp_path / "h.sqlite"), request_budget="16")

    assert result.code == 0, result.stderr
    assert len(fake_github.api_requests()) + len([r for r in fake_github.requests if r.is_blob]) <= 16
    [check] = fake_github.check_runs()
    assert [a["path"] for a in check["annotations"]] == ["tests/micropython/const.py"]
    assert "stopped early" in result.stderr


def test_a_file_not_ours_is_left_untouched_and_a_store_beside_it_used(
    fake_github: FakeGitHub, history: dict, action: Action, tmp_path: Path
) -> None:
    store = tmp_path / "h.sqlite"
    store.write_bytes(b"this is not a database" * 100)

    result = action.run(history["id"], history=str(store))

    assert result.code == 0, result.stderr
    assert store.read_bytes() == b"this is not a database" * 100
    assert "is not a flake-bot history store (not an SQLite file): left untouched" in result.stdout
    assert f"using {tmp_path / 'h.flake-bot.sqlite'} instead" in result.stdout
    # the store beside it was built from GitHub within the budget: the rates are there
    assert "4 times in the last 60 executions of this job" in result.summary.replace("\\", "")
    assert len(fake_github.check_runs()) == 1


def test_a_damaged_store_of_ours_is_set_aside_and_rebuilt_within_the_budget(
    fake_github: FakeGitHub, history: dict, action: Action, tmp_path: Path
) -> None:
    """Left in place, the cache would save the damaged file again and every later triage would
    go without history: it is moved aside (kept for a bug report) and the history rebuilt."""
    store = tmp_path / "h.sqlite"
    assert action.run(history["id"], history=str(store)).code == 0
    with store.open("r+b") as f:  # a torn write: garbage over the second page
        f.seek(4096)
        f.write(b"\xab" * 4096)
    damaged = store.read_bytes()

    result = action.run(history["id"], history=str(store))

    assert result.code == 0, result.stderr
    assert f"history store {store} is damaged (" in result.stdout  # a warning on the run
    [aside] = tmp_path.glob("h.sqlite.broken-*")
    assert aside.read_bytes() == damaged
    assert "4 times in the last 60 executions of this job" in result.summary.replace("\\", "")


def test_the_time_limit_stops_the_sync_and_the_report_still_goes_out(
    fake_github: FakeGitHub, history: dict, action: Action, tmp_path: Path
) -> None:
    # a slow GitHub: the history's 4 failed runs alone take 0.8 s to list, over the 0.5 s limit
    fake_github.delay("GET", r"/runs/\d+/jobs$", seconds=0.2, times=None)

    result = action.run(history["id"], history=str(tmp_path / "h.sqlite"), time_limit="0.5s")

    assert result.code == 0, result.stderr
    assert "stopped early (time limit reached)" in result.stderr and "runs left" in result.stderr
    # the sync gave up on the history, not the triage: its own failure is reported and published
    [check] = fake_github.check_runs()
    assert [a["path"] for a in check["annotations"]] == ["tests/micropython/const.py"]


def test_a_read_only_store_costs_the_rates_not_the_report(
    fake_github: FakeGitHub, history: dict, action: Action, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    store = tmp_path / "h.sqlite"
    assert action.run(history["id"], history=str(store)).code == 0
    real = sqlite3.connect

    def read_only(*args: object, **kwargs: object) -> sqlite3.Connection:
        """As on a read-only file (the suite may run as root, who can write any file)."""
        db = real(*args, **kwargs)  # type: ignore[arg-type]
        if not kwargs.get("uri"):
            db.execute("PRAGMA query_only = ON")
        return db

    monkeypatch.setattr(sqlite3, "connect", read_only)
    fake_github.add_run(event="push", created_at="2026-05-03T10:00:00Z", conclusion="success")

    result = action.run(history["id"], history=str(store))

    assert result.code == 0, result.stderr
    said = f"history store {store} unusable, rates left out: history store {store} is read-only"
    assert said in result.stdout
    [check] = fake_github.check_runs()  # published (updated) all the same
    assert [a["path"] for a in check["annotations"]] == ["tests/micropython/const.py"]
