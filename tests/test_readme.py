"""The README's first commands are what a new user runs: they must keep working as written."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _first_block() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_opens_with_install_and_test_commands() -> None:
    first, second = _first_block()
    assert first.startswith("pip install . && flake-bot ")
    assert second == "pip install '.[test]' && python -m pytest"


def test_readme_main_job_runs_on_the_bundled_sample() -> None:
    """Run the flake-bot half of the first line (the package is already installed here)."""
    command = shlex.split(_first_block()[0].split("&&", 1)[1])
    assert command[0] == "flake-bot"
    result = subprocess.run(
        [sys.executable, "-m", "bot", *command[1:]],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    # The bundled sample holds a real failure next to an ignored flaky one: both must be told apart.
    assert "needs a look" in result.stdout
    assert "thread/thread_gc1.py" in result.stdout


def test_ci_runs_the_readme_test_command_once_in_a_clean_copy() -> None:
    """CI must fail when a test reads something a fresh clone lacks (a test once read reference
    material kept beside the repository, not in it)."""
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    commands = [ln for ln in lines if ln and not ln.startswith("#")]
    assert commands[-4:] == [
        'cd "$clean/flake-bot"',
        "python -m pip install --quiet --no-deps --no-build-isolation .",
        "python -m pytest",
        ")",
    ]
    assert sum(ln.startswith("python -m pytest") for ln in commands) == 1  # once, in the clean copy
    assert 'clean=$(mktemp -d)' in commands
    assert 'git -C "$clean/flake-bot" checkout --quiet --detach FETCH_HEAD' in commands
