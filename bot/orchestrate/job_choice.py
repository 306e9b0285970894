"""Which job an offline log is judged as: the one the log names, else the one `--job` gives.

The job picks the registry's entries, so a wrong one turns "known flake here" into "flaky
elsewhere" (`qemu-arm` for `qemu_arm`). The log's own `Complete job name:` line is evidence; a
name typed by hand is not, so when both exist and differ the log wins, with a warning. A name the
registry does not know is still used (a job added upstream since is real) with the closest
known names, as `match` does.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass

from bot.errors import InputError
from bot.render.sanitize import plain

# Names come from a log a fork controls: bounded and printable before they reach a warning.
_SHOWN = 60


def _shown(name: str) -> str:
    return repr(plain(name, _SHOWN, one_line=True))


@dataclass(frozen=True)
class JobChoice:
    job: str
    warnings: tuple[str, ...] = ()


def closest(name: str, known: Collection[str], n: int = 3) -> list[str]:
    """The known names most like `name` (typos, `-` for `_`), best first."""
    return difflib.get_close_matches(name, sorted(known), n=n, cutoff=0.6)


def choose_job(given: str | None, from_log: str | None, known: Collection[str]) -> JobChoice:
    """The job to judge a log as, and what to warn about (see the module docstring)."""
    warnings: list[str] = []
    if from_log and given and from_log != given:
        warnings.append(f"--job {_shown(given)} is not the job the log names ({_shown(from_log)}); "
                        f"using {_shown(from_log)}, the log's")
    job = from_log or given
    if not job:
        raise InputError("the log does not name its job (no 'Complete job name:' line): pass --job NAME")
    if known and job not in known:
        near = closest(job, known)
        hint = f"closest: {', '.join(near)}" if near else f"it knows: {', '.join(sorted(known))}"
        warnings.append(f"job {_shown(job)} is not in the registry ({hint}); judged as a job it has no "
                        "entries for")
    return JobChoice(job, tuple(warnings))
