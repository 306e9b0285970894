"""The job summary and the step outputs: the part of a triage that must always get out.

They are written independently of the comment and the check run, so that when GitHub refuses
those (missing permission, outage) the analysis still reaches the run page and any later step
that reads the outputs.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.actions_env import ActionsEnv, append_summary, write_outputs
from bot.errors import PublishError


def publish_summary(env: ActionsEnv, markdown: str) -> bool:
    """Append the rendered summary to the step summary; False when there is none to write to."""
    if env.summary_path is None:
        return False
    try:
        append_summary(env.summary_path, markdown)
    except OSError as exc:
        raise PublishError(f"cannot write the job summary: {exc.strerror or exc}") from exc
    return True


def publish_outputs(env: ActionsEnv, outputs: Mapping[str, str]) -> bool:
    """Set the step outputs; False when not running as an action step."""
    if env.output_path is None:
        return False
    try:
        write_outputs(env.output_path, outputs)
    except OSError as exc:
        raise PublishError(f"cannot write the step outputs: {exc.strerror or exc}") from exc
    return True
