"""Read a GitHub Actions workflow (e.g. `ports_unix.yml`): which ci.sh functions each job calls, on which OS.

Upstream has used two call styles (`tools/ci.sh unix_x` since 2025-10, `source tools/ci.sh &&
ci_unix_x` before), so both are recognised. The job name is what the jobs API reports: the
`name:` if it is a fixed string, else the job id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from bot.errors import InputError

_SCRIPT_CALL_RE = re.compile(r"tools/ci\.sh\s+([A-Za-z_]\w*)")
_SOURCED_CALL_RE = re.compile(r"\b(ci_\w+)\b")
#: libyaml when available: suggest-patch reads the workflow on every call, and upstream's 460-line
#: ports_unix.yml takes ~90 ms with the pure-Python loader, ~5 ms with libyaml.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class WorkflowJob:
    name: str
    runs_on: str
    os: str
    functions: tuple[str, ...]  # called directly from steps, in step order


def runner_os(runs_on: str) -> str:
    """`sys.platform` of a GitHub-hosted runner label (what run-tests.py's platform check sees)."""
    label = runs_on.lower()
    if "${{" in label:
        return "unknown"
    if "macos" in label or "darwin" in label:
        return "darwin"
    if "windows" in label:
        return "win32"
    if "ubuntu" in label or "linux" in label:
        return "linux"
    return "unknown"


def _calls(run: str) -> list[str]:
    found: list[str] = []
    if "tools/ci.sh" not in run and "ci_" not in run:
        return found
    for m in _SCRIPT_CALL_RE.finditer(run):
        name = m.group(1)
        found.append(name if name.startswith("ci_") else "ci_" + name)
    if "source tools/ci.sh" in run or ". tools/ci.sh" in run:
        found.extend(_SOURCED_CALL_RE.findall(run))
    return found


def read_workflow(text: str, path: str = ".github/workflows/ports_unix.yml") -> tuple[str, list[WorkflowJob]]:
    """Return the workflow's name and its jobs, in file order."""
    try:
        data = yaml.load(text, Loader=_FAST_LOADER)  # noqa: S506 (CSafeLoader or SafeLoader)
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), dict):
        raise InputError(f"{path}: no jobs mapping found")
    jobs: list[WorkflowJob] = []
    for job_id, job in data["jobs"].items():
        if not isinstance(job, dict):
            raise InputError(f"{path}: job {job_id!r} is not a mapping")
        name = job.get("name")
        if not isinstance(name, str) or "${{" in name:
            name = str(job_id)
        runs_on = job.get("runs-on", "")
        runs_on_text = ",".join(map(str, runs_on)) if isinstance(runs_on, list) else str(runs_on)
        functions: list[str] = []
        for step in job.get("steps") or []:
            run = step.get("run") if isinstance(step, dict) else None
            if isinstance(run, str):
                for call in _calls(run):
                    if call not in functions:
                        functions.append(call)
        jobs.append(WorkflowJob(name, runs_on_text, runner_os(runs_on_text), tuple(functions)))
    workflow_name = data.get("name")
    return (workflow_name if isinstance(workflow_name, str) else ""), jobs
