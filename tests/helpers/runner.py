"""Read our stdout and file-command files the way the GitHub Actions runner reads them."""

from __future__ import annotations

import re


def runner_outputs(text: str) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT file as the runner does (heredoc `name<<DELIM` or `name=value`)."""
    lines = text.split("\n")
    found: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            found[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
        else:
            name, value = line.split("=", 1)
            found[name] = value
            i += 1
    return found


def runner_commands(stdout: str) -> list[str]:
    """The workflow commands the runner would act on, honouring ::stop-commands::."""
    acted = []
    stopped: str | None = None
    for line in stdout.splitlines():
        stripped = line.lstrip()
        if stopped is not None:
            if stripped == f"::{stopped}::":
                stopped = None
            continue
        match = re.match(r"::([a-z-]+)(?: [^:]*)?::(.*)", stripped)
        if match:
            if match.group(1) == "stop-commands":
                stopped = match.group(2)
            acted.append(stripped)
    return acted
