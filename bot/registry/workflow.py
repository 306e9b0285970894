"""Read a GitHub Actions workflow (e.g. `ports_unix.yml`): its jobs as the jobs API names them,
which ci.sh functions and `run:` lines each runs, on which OS.

Upstream has used two call styles (`tools/ci.sh unix_x` since 2025-10, `source tools/ci.sh &&
ci_unix_x` before), so both are recognised. The job name is what the jobs API reports: the
`name:` with `${{ matrix.x }}` filled in, else the job id; for a matrix job whose name has no
expression, that followed by every value of its matrix cell in parentheses, as GitHub builds
it (`build_and_test_arm (sabrelite)`, `build-mingw (dev, mingw32, i686)`: values that `include`
adds are part of the name too). A job of the wrong name would match nothing in the registry, so
the expansion follows GitHub's rules: the product of the matrix keys in file order, minus every
`exclude` that matches a cell, then each `include` either extends the cells it does not
contradict or, when it extends none, becomes a cell of its own.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from bot.errors import InputError

_SCRIPT_CALL_RE = re.compile(r"tools/ci\.sh\s+([A-Za-z_]\w*)")
_SOURCED_CALL_RE = re.compile(r"\b(ci_\w+)\b")
#: libyaml when available: suggest-patch reads the workflow on every call, and upstream's 460-line
#: ports_unix.yml takes ~90 ms with the pure-Python loader, ~5 ms with libyaml.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MATRIX_EXPR_RE = re.compile(r"\$\{\{\s*matrix\.([A-Za-z_][\w-]*)\s*\}\}")
#: A matrix bigger than this is not expanded (a hostile or generated workflow); upstream's
#: largest has 10 cells.
MAX_CELLS = 256

Cell = dict[str, object]


@dataclass(frozen=True)
class WorkflowJob:
    name: str
    runs_on: str
    os: str
    functions: tuple[str, ...]  # called directly from steps, in step order
    job_id: str = ""
    runs: tuple[tuple[str, str], ...] = ()  # (working-directory, run text) of each step, matrix filled in


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


def _shown(value: object) -> str:
    """A matrix value as GitHub writes it in a job name."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _matches(cell: Mapping[str, object], pattern: Mapping[str, object]) -> bool:
    return all(key in cell and cell[key] == value for key, value in pattern.items())


def expand_matrix(matrix: object) -> list[Cell]:
    """The cells of a `strategy.matrix`, in GitHub's order; [] when there is no matrix (or it is an
    expression GitHub evaluates at run time, which cannot be expanded here)."""
    if not isinstance(matrix, dict):
        return []
    keys = [k for k in matrix if k not in ("include", "exclude")]
    axes = []
    for key in keys:
        values = matrix[key]
        if not isinstance(values, list):
            return []
        axes.append(values)
    size = 1
    for values in axes:
        size *= len(values)
    if size > MAX_CELLS:
        raise InputError(f"matrix of {size} cells is larger than {MAX_CELLS}")
    cells: list[Cell] = (
        [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*axes)] if keys else []
    )
    excludes = matrix.get("exclude") or []
    if isinstance(excludes, list):
        cells = [c for c in cells if not any(isinstance(e, dict) and _matches(c, e) for e in excludes)]
    originals = [dict(c) for c in cells]
    includes = matrix.get("include") or []
    for extra in includes if isinstance(includes, list) else []:
        if not isinstance(extra, dict):
            continue
        extended = False
        for original, cell in zip(originals, cells, strict=True):
            if all(original[k] == v for k, v in extra.items() if k in original):
                for key, value in extra.items():
                    if key not in original:
                        cell[key] = value
                extended = True
        if not extended:
            cells.append(dict(extra))
            originals.append(dict(extra))
        if len(cells) > MAX_CELLS:
            raise InputError(f"matrix of more than {MAX_CELLS} cells")
    return cells


def _fill(text: str, cell: Mapping[str, object]) -> str:
    return _MATRIX_EXPR_RE.sub(lambda m: _shown(cell[m.group(1)]) if m.group(1) in cell else m.group(0), text)


def read_workflow(text: str, path: str = ".github/workflows/ports_unix.yml") -> tuple[str, list[WorkflowJob]]:
    """Return the workflow's name and its jobs (matrix jobs expanded), in file order."""
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
        strategy = job.get("strategy")
        cells = expand_matrix(strategy.get("matrix")) if isinstance(strategy, dict) else []
        defaults = job.get("defaults")
        default_dir = ""
        if isinstance(defaults, dict) and isinstance(defaults.get("run"), dict):
            default_dir = str(defaults["run"].get("working-directory") or "")
        for cell in cells or [{}]:
            jobs.append(_job(str(job_id), job, cell, bool(cells), default_dir))
    workflow_name = data.get("name")
    return (workflow_name if isinstance(workflow_name, str) else ""), jobs


def _job(
    job_id: str, job: Mapping[str, object], cell: Cell, is_matrix: bool, default_dir: str
) -> WorkflowJob:
    name = job.get("name")
    suffix = " (" + ", ".join(_shown(v) for v in cell.values()) + ")" if is_matrix else ""
    if isinstance(name, str) and "${{" in name:
        name = _fill(name, cell)  # a name with expressions is used as evaluated, without the suffix
        if "${{" in name:
            name = job_id + suffix
    elif isinstance(name, str):
        name += suffix
    else:
        name = job_id + suffix
    runs_on = job.get("runs-on", "")
    runs_on_text = ",".join(map(str, runs_on)) if isinstance(runs_on, list) else str(runs_on)
    runs_on_text = _fill(runs_on_text, cell)
    functions: list[str] = []
    runs: list[tuple[str, str]] = []
    steps = job.get("steps")
    for step in steps if isinstance(steps, list) else []:
        run = step.get("run") if isinstance(step, dict) else None
        if isinstance(run, str):
            run = _fill(run, cell)
            directory = step.get("working-directory") if isinstance(step, dict) else None
            runs.append((str(directory) if isinstance(directory, str) else default_dir, run))
            for call in _calls(run):
                if call not in functions:
                    functions.append(call)
    return WorkflowJob(name, runs_on_text, runner_os(runs_on_text), tuple(functions), job_id, tuple(runs))
