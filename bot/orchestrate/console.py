"""How triage speaks on its console: report text that cannot act as a workflow command, and
one-line warnings that become annotations on the bot's own run inside Actions."""

from __future__ import annotations

import sys

from bot.actions_env import ActionsEnv, print_untrusted
from bot.render.sanitize import plain


def say(env: ActionsEnv, text: str) -> None:
    """Print report text: inside Actions within a stop-commands block, so no line acts on our job."""
    if env.in_actions:
        print_untrusted(text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def warn(env: ActionsEnv, message: str) -> None:
    """A one-line warning: an annotation on the bot's run inside Actions, stderr otherwise."""
    line = plain(message, 1000, one_line=True)
    if env.in_actions:
        escaped = line.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        sys.stdout.write(f"::warning title=flake-bot::{escaped}\n")
        sys.stdout.flush()
    else:
        print(f"flake-bot: warning: {line}", file=sys.stderr)


def note(text: str) -> None:
    """A one-line note on stderr (what a sync did, what was left out): bounded, printable."""
    print(f"flake-bot: {plain(text, 500, one_line=True)}", file=sys.stderr)
