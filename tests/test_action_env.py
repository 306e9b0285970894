"""The runner interface: inputs, outputs, step summary and stdout, read the way the runner reads them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from helpers.runner import runner_commands, runner_outputs

from bot.actions_env import (
    ActionsEnv,
    append_summary,
    print_untrusted,
    read_event,
    write_outputs,
)
from bot.errors import InputError


def test_inputs_keep_hyphens_and_token_prefers_the_input() -> None:
    env = ActionsEnv.from_environ(
        {
            "INPUT_GITHUB-TOKEN": "ghs_input",
            "GITHUB_TOKEN": "ghs_env",
            "INPUT_MAX-LOG-MB": " 8 ",
            "INPUT_CHECK-RUN": "",
            "GITHUB_REPOSITORY": "micropython/micropython",
            "GITHUB_API_URL": "https://ghes.example/api/v3/",
        }
    )
    assert env.token == "ghs_input"
    assert env.input("max-log-mb") == "8"
    assert env.input("check-run", "on-push") == "on-push"  # unset inputs arrive as ""
    assert env.api_url == "https://ghes.example/api/v3"
    assert env.server_url == "https://github.com"
    assert "ghs_input" not in repr(env)


def test_token_falls_back_to_github_token() -> None:
    assert ActionsEnv.from_environ({"GITHUB_TOKEN": "ghs_env"}).token == "ghs_env"
    assert ActionsEnv.from_environ({"INPUT_GITHUB-TOKEN": ""}).token is None


def test_outputs_cannot_be_forged_by_a_value(tmp_path: Path) -> None:
    out = tmp_path / "output"
    hostile = "line\nEOF\nnew-failures=999\nghadelimiter_0\nknown-flaky<<X\n7\nX"
    write_outputs(out, {"failures": hostile, "new-failures": "2"})
    write_outputs(out, {"comment-url": "https://github.com/o/r/pull/1#issuecomment-5"})
    parsed = runner_outputs(out.read_text())
    assert parsed == {
        "failures": hostile,
        "new-failures": "2",
        "comment-url": "https://github.com/o/r/pull/1#issuecomment-5",
    }


def test_output_names_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_outputs(tmp_path / "o", {"a\nb": "x"})


def test_summary_is_bounded_and_counts_what_is_already_there(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("x" * 500 + "\n")
    body = "".join(f"line {i} ✓ — ünïcode\n" for i in range(200))
    assert append_summary(summary, body, limit=2000) is False
    data = summary.read_bytes()
    assert len(data) <= 2000
    text = data.decode("utf-8")  # never cut inside a character
    assert "summary cut here" in text
    kept = text[501:].split("\n\n*(summary cut")[0]
    assert all(line.startswith("line ") and line.endswith("ünïcode") for line in kept.splitlines())


def test_summary_fits(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    assert append_summary(summary, "# ok") is True
    assert summary.read_text() == "# ok\n"


def test_untrusted_text_runs_no_workflow_command() -> None:
    log = (
        "::add-mask::secret\n  ::error file=x::boom\n::stop-commands::guess\n::guess::\n"
        "::set-output name=a::b"
    )
    stream = io.StringIO()
    print_untrusted(log, stream)
    printed = stream.getvalue()
    assert log in printed
    acted = runner_commands(printed)
    assert len(acted) == 1 and acted[0].startswith("::stop-commands::")
    token = acted[0].split("::")[2]
    assert token not in log and len(token) >= 32
    # commands work again after the block
    assert runner_commands(printed + "::notice::done\n")[-1] == "::notice::done"


def test_event_file_errors_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read event file"):
        read_event(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not JSON"):
        read_event(bad)
    bad.write_text("[1]")
    with pytest.raises(InputError, match="JSON object"):
        read_event(bad)
    good = tmp_path / "event.json"
    good.write_text('{"action": "completed", "workflow_run": {"id": 1}}')
    assert read_event(good)["workflow_run"] == {"id": 1}
