"""A new user's common mistakes get one clear line and exit status 2, never a traceback.

Each case runs the real command line (`bot.cli.main`); the GitHub cases talk HTTP to the fake.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from fake_github import FakeGitHub

from bot.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "logs" / "coverage-flaky-and-real-failure.log"


def _sync(db: Path, workflow: str = "ports_unix.yml") -> int:
    return main(["sync", "--repo", "micropython/micropython", "--workflow", workflow, "--db", str(db)])


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("flake-bot")]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def store(tmp_path: Path, fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small history store filled by a real sync, for the report cases."""
    monkeypatch.setenv("GITHUB_API_URL", fake_github.api_url)
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_errors")
    run = fake_github.add_run(conclusion="success", branch="master", event="push")
    fake_github.add_job(run["id"], "standard", "success")
    db = tmp_path / "h.sqlite"
    assert _sync(db) == 0
    return db


@pytest.mark.parametrize(
    ("target", "reason"),
    [("missing-dir/report.md", "No such file or directory"), (".", "Is a directory")],
)
def test_report_output_that_cannot_be_written(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, reason: str
) -> None:
    capsys.readouterr()
    output = tmp_path / target
    assert main(["report", "--db", str(store), "--output", str(output)]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("flake-bot: error: ") and str(output) in line and reason in line


def test_report_registry_and_no_registry_exclude_each_other(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["report", "--db", str(store), "--registry", "r.yml", "--no-registry"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_report_help_has_no_doubled_percent(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse %-formats help= strings but not descriptions: a '%%' there is printed as is."""
    for name, sub in _all_parsers(build_parser()).items():
        assert "%%" not in sub.format_help(), name


def _all_parsers(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    found = {prefix or "flake-bot": parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(_all_parsers(sub, f"{prefix} {name}".strip()))
    return found


def test_sync_unknown_workflow_says_what_to_check(
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITHUB_API_URL", fake_github.api_url)
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_errors")
    fake_github.add_run(conclusion="success")
    db = tmp_path / "h.sqlite"
    assert _sync(db, "unix.yml") == 2
    line = _one_error_line(capsys)
    assert "'unix.yml'" in line and "micropython/micropython" in line and "--workflow" in line
    assert "run sync again" not in line


@pytest.mark.parametrize(
    ("token", "hint"), [(None, "GITHUB_TOKEN is not set"), ("ghs_old", "wrong or expired")]
)
def test_sync_refused_credentials_name_the_token(
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    token: str | None,
    hint: str,
) -> None:
    monkeypatch.setenv("GITHUB_API_URL", fake_github.api_url)
    if token is None:
        monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    else:
        monkeypatch.setenv("GITHUB_TOKEN", token)
    fake_github.add_run(conclusion="success")
    fake_github.fail("GET", r"/runs$", 401, times=None)
    db = tmp_path / "h.sqlite"
    assert _sync(db) == 2
    line = _one_error_line(capsys)
    assert "401" in line and hint in line


def test_sync_a_later_404_is_not_blamed_on_the_arguments(
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Runs listed, then a jobs request 404s (run deleted since): not a setup mistake, and not a
    reason to stop either: the run is a gap, said in the line, and the sync ends with exit 0."""
    monkeypatch.setenv("GITHUB_API_URL", fake_github.api_url)
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_errors")
    run = fake_github.add_run(conclusion="failure")
    fake_github.add_job(run["id"], "coverage", "failure", log=SAMPLE.read_bytes())
    fake_github.fail("GET", r"/jobs$", 404, times=None)
    db = tmp_path / "h.sqlite"
    assert _sync(db) == 0
    err = capsys.readouterr().err
    assert f"run {run['id']}: not found (404): deleted?, now a gap" in err and "1 gaps" in err
    assert "error" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["parse-log", "no-such.log"],
        ["triage", "--log", "no-such.log", "--job", "coverage"],
        ["triage", "--job", "coverage"],
        ["match", "--job", "qemu_arm", "--test", "thread/thread_gc1.py", "--registry", "no-such.yml"],
        ["report", "--db", "no-such.sqlite"],
        ["report", "--db", "no-such.sqlite", "--since", "2026/01/01"],
    ],
)
def test_common_mistakes_are_one_line_exit_2(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert _one_error_line(capsys).startswith("flake-bot: error: ")


@pytest.mark.parametrize(
    "argv",
    [
        ["triage", "--log", str(SAMPLE), "--job", "coverage", "--date", "12/03/2026"],
        ["match", "--job", "qemu_arm", "--test", "thread/thread_gc1.py", "--date", "2026-3-1x"],
        ["report", "--format", "html"],
        ["sync", "--repo", "micropython/micropython", "--workflow", "unix port"],
    ],
)
def test_bad_option_values_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.splitlines()[-1].startswith(f"flake-bot {argv[0]}: error: ")


def test_missing_permission_is_said_once_on_a_terminal(
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Outside Actions the warning, the 'Publishing failed' note and the error line were the same
    sentence three times; the error line alone says it (inside Actions the ::warning:: stays)."""
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_EVENT_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_API_URL", fake_github.api_url)
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_errors")
    monkeypatch.setenv("GITHUB_REPOSITORY", "micropython/micropython")
    run = fake_github.add_run(event="push", branch="master")
    fake_github.add_job(run["id"], "coverage", "failure", log=SAMPLE.read_bytes())
    fake_github.deny("*", r"/check-runs", permission="checks=write")
    event = tmp_path / "event.json"
    event.write_text(json.dumps(fake_github.workflow_run_event(run["id"])), encoding="utf-8")
    assert main(["triage", "--event", str(event)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("checks: write") == 1, err
    assert err.splitlines()[-1].startswith("flake-bot: error: ")


def test_sync_rate_limited_without_a_token_says_why(
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITHUB_API_URL", fake_github.api_url)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    fake_github.add_run(conclusion="success")
    fake_github.rate_limit("GET", r"/runs$", kind="primary", reset_in=3600, times=None)
    assert _sync(tmp_path / "h.sqlite") == 1
    assert "GITHUB_TOKEN is not set; GitHub allows 60" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["triage", "--log", str(SAMPLE), "--job", "coverage", "--date", "2026-02-30"],
        ["match", "--job", "qemu_arm", "--test", "thread/thread_gc1.py", "--date", "2026-02-30"],
        ["registry", "sync", "--repo-dir", ".", "--as-of", "2026-02-30"],
        [
            "sync",
            "--repo",
            "micropython/micropython",
            "--workflow",
            "ports_unix.yml",
            "--since",
            "2026-02-30",
        ],
    ],
)
def test_an_impossible_day_is_named_as_such(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """'2026-02-30' is written YYYY-MM-DD: the message must not claim it is not."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "'2026-02-30' is not a day written YYYY-MM-DD" in capsys.readouterr().err


def test_report_impossible_day(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["report", "--db", str(store), "--until", "2026-02-30"]) == 2
    assert _one_error_line(capsys) == (
        "flake-bot: error: --until: '2026-02-30' is not a day written YYYY-MM-DD (e.g. 2026-03-11)"
    )


def test_match_names_the_known_jobs_when_the_job_is_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    """A typo (qemu-arm for qemu_arm) is answered; stderr gives the closest names of each workflow."""
    assert main(["match", "--job", "qemu-arm", "--test", "thread/stress_aes.py"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("new: ")
    assert captured.err.startswith("flake-bot: warning: job 'qemu-arm' is not in the registry; closest: ")
    assert "'qemu_arm' (ports_unix.yml)" in captured.err
    assert main(["match", "--job", "qemu_arm", "--test", "thread/stress_aes.py"]) == 0
    assert capsys.readouterr().err == ""
