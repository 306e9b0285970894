"""Nothing flake-bot prints may be obeyed by the runner as a workflow command.

The runner reads every line a step writes to stdout or stderr (split on CR, LF and CRLF) and
acts on two forms: `::name props::data` after leading whitespace (.NET's idea of whitespace,
which includes NBSP and the Unicode spaces), and the legacy `##[name props]data` anywhere in a
line. Command names are matched case-insensitively, and `::stop-commands::TOKEN` switches both
forms off until `::TOKEN::`. The model below follows those rules, unlike a plain `::` check,
and every command of flake-bot that reads a log is run through it with a log a fork PR wrote.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fake_github import FakeGitHub
from helpers.e2e import Action
from logfmt import Step, job_log, real_log

from bot.cli import main

REGISTERED = {
    "add-mask", "add-matcher", "add-path", "debug", "echo", "endgroup", "error", "group",
    "notice", "remove-matcher", "save-state", "set-env", "set-output", "stop-commands", "warning",
}  # fmt: skip
_DOTNET_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"  # noqa: E501
_V2 = re.compile(r"::([^\s:]+)(?: [^:]*)?::(.*)")
_V1 = re.compile(r"##\[([^\s\]]+)(?: [^\]]*)?\](.*)")


def acted(stream: str) -> list[str]:
    """The lines of `stream` the runner would act on, honouring stop-commands."""
    out: list[str] = []
    stopped: str | None = None
    for line in re.split(r"\r\n|\r|\n", stream):
        match = _V2.match(line.lstrip(_DOTNET_SPACE)) or _V1.search(line)
        if match is None:
            continue
        name, data = match.group(1).lower(), match.group(2)
        if stopped is not None:
            if name == stopped.lower():
                stopped = None
            continue
        if name in REGISTERED:
            out.append(line)
            if name == "stop-commands":
                stopped = data
    return out


def test_the_model_catches_both_forms() -> None:
    assert acted("x ##[add-mask]s\n\u00a0::ADD-MASK::s\r::warning::w") == [
        "x ##[add-mask]s", "\u00a0::ADD-MASK::s", "::warning::w",
    ]  # fmt: skip
    assert acted("::stop-commands::t1\n::add-mask::s\nx ##[add-mask]s\n::t1::\n") == ["::stop-commands::t1"]
    assert acted("FAIL  ::add-mask::s\n#\u200b#[add-mask]s") == []


ATTACK = "##[add-mask]hunter1 ::add-mask::hunter2"
NAMES = ["::add-mask::hunter3", "::ADD-MASK::hunter4.py", "x/\u2028::add-mask::hunter5.py"]


def hostile_log() -> bytes:
    """Capture 05/05b with attacker text in the step command, test names, output and diff."""
    text = real_log("05-standard-ci-full-helper-FAILING.log")
    fails = "".join(f"FAIL  {name} \n" for name in NAMES)
    text = text.replace("FAIL  micropython/const.py \n", "FAIL  micropython/const.py \n" + fails, 1)
    summary = f"{7 + len(NAMES)} tests failed: {' '.join(NAMES)} basics"
    text = text.replace("7 tests failed: basics", summary, 1)
    text += f"\n::add-mask::hunter6\n##[add-mask]hunter7\n\u00a0::add-mask::hunter8\n{ATTACK}\n"
    diffs = real_log("05b-print-failures-FAILING-ci-buffered.log")
    diffs = diffs.replace("\n+123 580\n", f"\n+{ATTACK}\n+\u00a0::add-mask::hunter9\n", 1)
    return job_log(
        [
            Step(f"tools/ci.sh unix_standard_run_tests # {ATTACK}", text, exit_code=2, name="Run tests"),
            Step(f"tests/run-tests.py --print-failures # {ATTACK}", diffs, name="Print failures"),
        ],
        job="standard",
    )


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "job.log"
    path.write_bytes(hostile_log())
    return path


@pytest.mark.parametrize("mode", [[], ["--json"], ["--diff"]])
def test_parse_log_output_is_inert(
    log_file: Path, mode: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert main(["parse-log", str(log_file), *mode]) == 0
    out = capsys.readouterr().out
    assert acted(out) == []
    assert "hunter1" in out and "hunter3" in out  # shown, just not obeyed
    if mode == ["--json"]:
        report = json.loads(out)
        assert ATTACK in report["failed_step"]  # escaping changed no value


@pytest.mark.parametrize("mode", [[], ["--json"]])
def test_offline_triage_output_is_inert(
    log_file: Path, mode: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert main(["triage", "--log", str(log_file), "--job", "standard", *mode]) == 0
    captured = capsys.readouterr()
    if mode == ["--json"]:
        # inert by escaping, with no wrapper, so that it stays JSON for `jq`
        assert acted(captured.out) == []
        assert "hunter3" in json.dumps(json.loads(captured.out))
    else:
        assert [line.split("::")[1] for line in acted(captured.out)] == ["stop-commands"]
        assert "hunter3" in captured.out
    assert acted(captured.err) == []


def test_action_stdout_and_stderr_are_inert(fake_github: FakeGitHub, action: Action) -> None:
    fake = fake_github
    sha = "5e" * 20
    branch = "x##[add-mask]hunterB"
    fake.add_pull(head_sha=sha, head_branch=branch, head_repo="mallory/micropython", title=ATTACK)
    run = fake.add_run(event="pull_request", branch=branch, head_sha=sha, head_repo="mallory/micropython")
    fake.add_job(run["id"], f"standard {ATTACK}", "failure", log=hostile_log())

    result = action.run(run["id"], check_run="always", args=("--dry-run",))

    assert result.code == 0, result.stderr
    assert {line.split("::")[1] for line in acted(result.stdout)} == {"stop-commands"}
    assert acted(result.stderr) == []
    assert "hunter3" in result.stdout


@pytest.mark.parametrize("fmt", ["markdown", "json"])
def test_report_output_is_inert(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The history holds whatever logs said (a sync of pull-request runs included)."""
    from bot.records import JobInfo, JobReport, Outcome, RunInfo, Runner, TestFailure
    from bot.store.sqlite import HistoryStore

    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as store:
        for run_id in (1, 2):
            job = JobInfo(id=run_id, run_id=run_id, attempt=1, name=f"std {ATTACK}", status="completed",
                          conclusion="failure", runner="ubuntu-latest")  # fmt: skip
            failure = TestFailure("x/##[add-mask]hunter3.py", Runner.RUN_TESTS, Outcome.FAIL, symptom=ATTACK)
            run = RunInfo(
                id=run_id, attempt=1, workflow_name="unix port", workflow_path="ports_unix.yml", event="push",
                branch=f"b{ATTACK}", head_sha="f" * 40, head_repo=None,
                created_at=datetime(2026, 1, run_id, tzinfo=UTC), status="completed", conclusion="failure",
            )  # fmt: skip
            store.save_run(run, [job], {job.id: JobReport(job=job.name, complete=True, failures=(failure,))})
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert main(["report", "--db", str(db), "--format", fmt, "--no-registry"]) == 0
    out = capsys.readouterr().out
    assert acted(out) == []
    assert "hunter3" in out
    if fmt == "json":
        assert json.loads(out)["tests"][0]["test"] == "x/##[add-mask]hunter3.py"  # the value is unchanged
