"""The GitHub Actions runtime as flake-bot sees it: inputs, event payload, file commands, stdout.

Everything the runner hands a container action arrives through environment variables and a few
files; this module is the one place that reads and writes them, so the rest of the program gets
plain values and never has to remember the file-command rules:

- inputs arrive as `INPUT_<NAME>` with the name upper-cased, spaces turned into `_` and hyphens
  kept (`INPUT_GITHUB-TOKEN`), so they cannot be read as shell variables - only from the
  environment mapping;
- outputs go to `GITHUB_OUTPUT` in heredoc form with a delimiter nobody can predict, so a value
  built from a log cannot end its own block early and set another output;
- the step summary (`GITHUB_STEP_SUMMARY`) is capped at 1 MiB per step by GitHub, and an
  oversize summary is dropped entirely, so appends are bounded here;
- stdout is parsed by the runner for `::workflow-commands::`; text that may come from a log is only
  printed inside a `::stop-commands::` block whose token is random.

The token is kept out of `repr()` and never printed.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bot.errors import InputError

# GitHub refuses a step summary over 1 MiB; keep a margin for the note that says it was cut.
SUMMARY_LIMIT_BYTES = 1024 * 1024 - 4096

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_SERVER_URL = "https://github.com"


@dataclass(frozen=True)
class ActionsEnv:
    """The parts of the runner environment that flake-bot uses."""

    repository: str | None
    api_url: str
    server_url: str
    event_name: str | None
    event_path: Path | None
    output_path: Path | None
    summary_path: Path | None
    in_actions: bool
    token: str | None = field(default=None, repr=False)
    run_id: str | None = None  # the bot's own run (GITHUB_RUN_ID), whose page holds the summary
    inputs: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ActionsEnv:
        env = os.environ if environ is None else environ
        inputs = {
            key[len("INPUT_") :].lower(): value for key, value in env.items() if key.startswith("INPUT_")
        }
        token = inputs.get("github-token") or env.get("GITHUB_TOKEN") or None
        return cls(
            repository=env.get("GITHUB_REPOSITORY") or None,
            api_url=(env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
            server_url=(env.get("GITHUB_SERVER_URL") or DEFAULT_SERVER_URL).rstrip("/"),
            event_name=env.get("GITHUB_EVENT_NAME") or None,
            event_path=_path(env.get("GITHUB_EVENT_PATH")),
            output_path=_path(env.get("GITHUB_OUTPUT")),
            summary_path=_path(env.get("GITHUB_STEP_SUMMARY")),
            in_actions=env.get("GITHUB_ACTIONS") == "true",
            token=token,
            run_id=env.get("GITHUB_RUN_ID") or None,
            inputs=inputs,
        )

    def input(self, name: str, default: str = "") -> str:
        """An action input, stripped; empty means "not given" (the runner sets unset inputs to "")."""
        value = self.inputs.get(name.replace(" ", "_").lower(), "").strip()
        return value or default


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def read_event(path: Path) -> dict[str, Any]:
    """The webhook payload the run was started with (a `workflow_run` event for the action)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read event file {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"event file {path} is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"event file {path} does not hold a JSON object")
    return data


def _delimiter(value: str) -> str:
    while True:
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        if delimiter not in value:
            return delimiter


def write_outputs(path: Path, outputs: Mapping[str, str]) -> None:
    """Append step outputs in heredoc form, one random delimiter per value."""
    chunks = []
    for name, value in outputs.items():
        if not name or any(ch in name for ch in "\r\n<=") or name.strip() != name:
            raise ValueError(f"not an output name: {name!r}")
        delimiter = _delimiter(value)
        chunks.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    with path.open("a", encoding="utf-8") as fh:
        fh.write("".join(chunks))


def append_summary(path: Path, markdown: str, limit: int = SUMMARY_LIMIT_BYTES) -> bool:
    """Append Markdown to the step summary, cut so the file stays under GitHub's limit.

    Returns False when the text had to be cut. The cut falls on a line boundary and outside any
    HTML block the renderer opened (callers give us text whose blocks close on their own lines),
    followed by a plain note, so a truncated summary still renders.
    """
    try:
        used = path.stat().st_size
    except FileNotFoundError:
        used = 0
    room = max(limit - used, 0)
    data = markdown if markdown.endswith("\n") else markdown + "\n"
    encoded = data.encode("utf-8")
    complete = len(encoded) <= room
    if not complete:
        note = "\n\n*(summary cut here: GitHub limits a step summary to 1 MiB)*\n"
        keep = encoded[: max(room - len(note.encode("utf-8")), 0)]
        text = keep.decode("utf-8", errors="ignore")
        text = text[: text.rfind("\n") + 1] if "\n" in text else ""
        data = text + note if room > len(note) else ""
    with path.open("a", encoding="utf-8") as fh:
        fh.write(data)
    return complete


def inert_json(data: object) -> str:
    """Indented JSON that is safe to print where a GitHub Actions runner reads stdout.

    The runner obeys `::command::` only at the start of a line, which indented JSON never has,
    and the legacy `##[command]` form anywhere in a line, which can only occur inside a string
    here: written `#\\u0023[` it is the same value for every JSON reader, yet inert. So no
    stop-commands wrapper is needed and the output stays valid JSON for `jq`.
    """
    return json.dumps(data, indent=2, ensure_ascii=True).replace("##[", "#\\u0023[")


def print_untrusted(text: str, stream: TextIO | None = None) -> None:
    """Print text that may contain log content so the runner does not act on any of it.

    Workflow commands are switched off around the text with a token the text cannot know, so
    a log line such as `::add-mask::` or `::stop-commands::x` printed here stays text.
    """
    out = sys.stdout if stream is None else stream
    token = secrets.token_hex(16)
    while token in text:
        token = secrets.token_hex(16)
    out.write(f"::stop-commands::{token}\n")
    out.write(text if text.endswith("\n") else text + "\n")
    out.write(f"::{token}::\n")
    out.flush()
