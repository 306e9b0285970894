"""End-to-end support (no tests here): run the real `flake-bot triage` against the fake GitHub.

The command runs in-process (`bot.cli.main`) with the environment the runner gives a container
action: `INPUT_*` variables with hyphens kept, `GITHUB_EVENT_PATH` pointing at a `workflow_run`
payload, and file-command files for outputs and the step summary. Tests then look at what the
fake server received and at the files the runner would read; nothing inside flake-bot is mocked.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fake_github import FakeGitHub
from logfmt import Step, job_log, real_log

from bot.cli import main
from helpers.runner import runner_commands, runner_outputs

TOKEN = "ghs_e2eTokenThatMustNeverBePrinted000"


def standard_log(extra_failures: int = 0) -> bytes:
    """Job `standard` failing in pass 1 (real capture 05: 7 failures, 2 ignored flakes).

    `extra_failures` turns that many of the capture's passing basics tests into failures, in the
    capture's own format (FAIL line, count and summary list), for runs with many annotations.
    """
    raw = real_log("05-standard-ci-full-helper-FAILING.log")
    if extra_failures:
        lines = raw.split("\n")
        extra: list[str] = []
        for i, line in enumerate(lines):
            match = re.fullmatch(r"pass  (basics/\S+\.py) ", line)
            if match and len(extra) < extra_failures:
                extra.append(match.group(1))
                lines[i] = f"FAIL  {match.group(1)} "
        raw = "\n".join(lines)
        raw = re.sub(r"^1023 tests passed$", f"{1023 - len(extra)} tests passed", raw, flags=re.M)
        raw = re.sub(
            r"^7 tests failed: (.*)$",
            lambda m: f"{7 + len(extra)} tests failed: {m.group(1)} " + " ".join(extra),
            raw,
            flags=re.M,
        )
    return job_log(
        [
            Step("tools/ci.sh unix_standard_build", "make: Leaving directory\n", name="Build"),
            Step("tools/ci.sh unix_standard_run_tests", raw, exit_code=2, name="Run main test suite"),
            Step(
                "tests/run-tests.py --print-failures",
                real_log("05b-print-failures-FAILING-ci-buffered.log"),
                name="Print failures",
            ),
        ],
        job="standard",
    )


def const_only_log() -> bytes:
    """Job `standard` failing pass 1 on micropython/const.py alone, written in the runner's format:
    a lone failure is what an independent flake looks like (several at once point to one cause)."""
    tests = "/home/runner/work/micropython/micropython/tests"
    run = "\n".join(
        [
            "cd ../../tests && MICROPY_MICROPYTHON=../ports/unix/build-standard/micropython ./run-tests.py ",
            "platform=linux arch=x64 thread=unsafe float=64-bit unicode",
            "pass  basics/int1.py ",
            "FAIL  micropython/const.py ",
            "pass  basics/list1.py ",
            "3 tests performed (61 individual testcases)",
            "2 tests passed",
            "1 tests failed: micropython/const.py",
            "make: *** [Makefile:258: test] Error 1",
        ]
    )
    diff = "\n".join(
        [
            f"--- {tests}/results/micropython_const.py.exp\t2026-05-02 10:04:00.000000000 +0000",
            f"+++ {tests}/results/micropython_const.py.out\t2026-05-02 10:04:00.000000000 +0000",
            "@@ -1,2 +1,2 @@",
            "-123 581",
            "+123 580",
            " 12 46",
            "",
            "FAILURE /home/runner/work/micropython/micropython/tests/results/micropython_const.py",
        ]
    )
    return job_log(
        [
            Step("tools/ci.sh unix_standard_run_tests", run + "\n", exit_code=2, name="Run main test suite"),
            Step("tests/run-tests.py --print-failures", diff + "\n", name="Print failures"),
        ],
        job="standard",
    )


def thread_gc1_log() -> bytes:
    """A v1.25.0-era job whose only failure is thread/thread_gc1.py (real capture 21)."""
    return job_log(
        [
            Step(
                "tools/ci.sh unix_qemu_arm_run_tests",
                real_log("21-v1.25.0-standard-thread-dir-FAILING.log"),
                exit_code=1,
                name="Run main test suite",
            ),
            Step(
                "tests/run-tests.py --print-failures",
                real_log("21b-v1.25.0-thread-print-failures-ci-buffered.log"),
                name="Print failures",
            ),
        ],
        job="qemu_arm",
    )


def green_log() -> bytes:
    return job_log(
        [Step("tools/ci.sh unix_minimal_run_tests", real_log("01-minimal-ci-unix_minimal_run_tests.log"))],
        job="minimal",
    )


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str

    @property
    def failures(self) -> list[dict[str, Any]]:
        return json.loads(self.outputs["failures"])


class Action:
    """One workflow_run-triggered job of the action, with a fresh runner environment per call."""

    def __init__(
        self,
        fake: FakeGitHub,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        self.fake = fake
        self.tmp = tmp_path
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.calls = 0
        fake.token = TOKEN

    def run(
        self, run_id: int, *, attempt: int | None = None, args: tuple[str, ...] = (), **inputs: str
    ) -> Result:
        self.calls += 1
        home = self.tmp / f"call{self.calls}"
        home.mkdir()
        event = home / "event.json"
        event.write_text(json.dumps(self.fake.workflow_run_event(run_id, attempt)))
        output, summary = home / "output", home / "summary.md"
        output.touch()
        summary.touch()
        env = {
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "workflow_run",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_REPOSITORY": self.fake.repo,
            "GITHUB_API_URL": self.fake.api_url,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": "777000111",
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            "INPUT_GITHUB-TOKEN": TOKEN,
        }
        env.update({f"INPUT_{name.replace('_', '-').upper()}": value for name, value in inputs.items()})
        code, out, err = run_as_step(self.monkeypatch, self.capsys, env, ["triage", *args])
        assert TOKEN not in out + err
        assert TOKEN not in output.read_text() + summary.read_text()
        return Result(code, out, err, runner_outputs(output.read_text()), summary.read_text())


def run_as_step(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str], argv: list[str]
) -> tuple[int, str, str]:
    """`main(argv)` as an action step runs: with `env`'s INPUT_* and GITHUB_* variables and no
    others (none leaks in from the test process), returning the exit code, stdout and stderr."""
    with monkeypatch.context() as patch:
        for key in [k for k in os.environ if k.startswith(("INPUT_", "GITHUB_"))]:
            patch.delenv(key)
        for key, value in env.items():
            patch.setenv(key, value)
        capsys.readouterr()
        code = main(argv)
        captured = capsys.readouterr()
    return code, captured.out, captured.err


def commands_acted(stdout: str) -> list[str]:
    """Workflow commands the runner would act on in our stdout (see test_action_env)."""
    return runner_commands(stdout)
