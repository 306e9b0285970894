"""The release workflow keeps its safety properties, and its scripts do what the workflow relies on.

A later edit must not silently drop the tag trigger, widen a job's permissions, unpin an action, or
lose the digest pin or the attestation. The two scripts the release job runs are run for real:
pin_action.py on a copy of action.yml, release_commit.sh against a local bare repository standing
in for GitHub (nothing here can reach GitHub, a registry or Docker).
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
SCRIPTS = ROOT / ".github" / "scripts"
RELEASE_TEXT = (WORKFLOWS / "release.yml").read_text()
RELEASE = yaml.safe_load(RELEASE_TEXT)
JOBS: dict[str, Any] = RELEASE["jobs"]
IMAGE = "ghcr.io/flake-bot/flake-bot"
DIGEST = "sha256:" + "0123456789abcdef" * 4
SHA_PIN = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}")


def steps(job: str) -> list[dict[str, Any]]:
    return list(JOBS[job]["steps"])


def step_using(job: str, action: str) -> dict[str, Any]:
    [step] = [s for s in steps(job) if s.get("uses", "").startswith(action + "@")]
    return step


def step_running(job: str, command: str) -> tuple[int, dict[str, Any]]:
    [found] = [(i, s) for i, s in enumerate(steps(job)) if command in s.get("run", "")]
    return found


# --- the workflow ------------------------------------------------------------------------------


def test_runs_only_for_version_tags() -> None:
    # `on:` parses as True. No branch pushes, PRs or manual runs: only a maintainer's tag releases.
    assert RELEASE[True] == {"push": {"tags": ["v[0-9]+.[0-9]+.[0-9]+"]}}
    on_default_branch = step_running("ci", "merge-base --is-ancestor")[1]
    assert on_default_branch["env"]["DEFAULT_BRANCH"] == "${{ github.event.repository.default_branch }}"


def test_every_job_has_only_the_permissions_it_uses() -> None:
    assert RELEASE["permissions"] == {}
    assert {name: job["permissions"] for name, job in JOBS.items()} == {
        "ci": {"contents": "read"},
        "image": {"contents": "read", "packages": "write", "id-token": "write", "attestations": "write"},
        "release": {"contents": "write"},
    }


def test_jobs_prove_then_build_then_release() -> None:
    assert "needs" not in JOBS["ci"]
    assert JOBS["image"]["needs"] == "ci" and JOBS["release"]["needs"] == "image"
    assert step_running("ci", ".ci/run")[1]["run"].strip() == ".ci/run"


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version(path: Path) -> None:
    text = path.read_text()
    workflow = yaml.safe_load(text)
    uses = [s["uses"] for job in workflow["jobs"].values() for s in job["steps"] if "uses" in s]
    assert uses
    for ref in uses:
        assert SHA_PIN.fullmatch(ref), ref
        # the version comment is what Dependabot updates alongside the SHA, and what a reviewer reads
        assert re.search(rf"uses: {re.escape(ref)}  # v\d+\.\d+\.\d+$", text, flags=re.M), ref


def test_one_sha_per_action_across_workflows() -> None:
    seen: dict[str, set[str]] = {}
    for path in WORKFLOWS.glob("*.yml"):
        for ref in re.findall(r"uses: (\S+@[0-9a-f]{40})", path.read_text()):
            action, sha = ref.split("@")
            seen.setdefault(action, set()).add(sha)
    assert seen and all(len(shas) == 1 for shas in seen.values()), seen


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_no_persisted_credentials_secrets_or_expressions_in_scripts(path: Path) -> None:
    text = path.read_text()
    workflow = yaml.safe_load(text)
    assert workflow["permissions"] == {}
    assert "secrets." not in text  # the job token is the only credential
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
            # values reach shell scripts through env:, never spliced in (template injection)
            assert "${{" not in step.get("run", ""), step["name"]


def test_image_is_built_for_both_architectures_and_attested_by_digest() -> None:
    build = step_using("image", "docker/build-push-action")
    assert build["id"] == "build"
    assert build["with"]["platforms"] == "linux/amd64,linux/arm64"
    assert build["with"]["push"] is True and build["with"]["file"] == "Dockerfile"
    assert JOBS["image"]["outputs"]["digest"] == "${{ steps.build.outputs.digest }}"
    attest = step_using("image", "actions/attest")
    assert attest["with"] == {
        "subject-name": "${{ steps.name.outputs.image }}",
        "subject-digest": "${{ steps.build.outputs.digest }}",
        "push-to-registry": True,
        "create-storage-record": False,
    }
    names = [s.get("uses", "").split("@")[0] for s in steps("image")]
    assert (
        names.index("docker/login-action")
        < names.index("docker/build-push-action")
        < names.index("actions/attest")
    )


def test_release_pins_the_attested_digest_before_moving_the_tag_and_publishing() -> None:
    pull_check, check = step_running("release", "docker manifest inspect")
    pin, substitution = step_running("release", ".github/scripts/release_commit.sh")
    publish, release = step_running("release", "gh release create")
    assert pull_check < pin < publish
    for step in (check, substitution, release):
        env = step["env"]
        digest = env.get("DIGEST") or env["REFERENCE"]
        assert "${{ needs.image.outputs.digest }}" in digest
    assert substitution["env"]["IMAGE"] == "${{ needs.image.outputs.image }}"
    assert '"$DIGEST"' in substitution["run"] and "--verify-tag" in release["run"]
    assert 'pin_action.py" "$image" "$digest"' in (SCRIPTS / "release_commit.sh").read_text()


def test_dependabot_watches_actions_and_the_base_image_and_a_job_watches_the_lock() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    by_ecosystem = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(by_ecosystem) == {"github-actions", "docker"}
    assert "/" in by_ecosystem["github-actions"]["directories"]
    assert "/examples/workflows" in by_ecosystem["github-actions"]["directories"]
    assert by_ecosystem["docker"]["directory"] == "/"
    # Dependabot's pip support reads *.txt/*.in only: the lock is re-made on a schedule instead
    locks = yaml.safe_load((WORKFLOWS / "locks.yml").read_text())
    assert "schedule" in locks[True]
    [job] = locks["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    assert any("sh image/lock.sh" in s.get("run", "") for s in job["steps"])


# --- pin_action.py: dry runs on a copy of action.yml ---------------------------------------------


def load_pin_action() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pin_action", SCRIPTS / "pin_action.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PIN_ACTION = load_pin_action()


def pin(action: Path, image: str = IMAGE, digest: str = DIGEST) -> subprocess.CompletedProcess[str]:
    """The script's own entry point, in-process (the release job's command line is run below)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = PIN_ACTION.main([image, digest, "--action", str(action)])
    return subprocess.CompletedProcess([], code, out.getvalue(), err.getvalue())


@pytest.fixture
def action(tmp_path: Path) -> Path:
    copy = tmp_path / "action.yml"
    shutil.copy(ROOT / "action.yml", copy)
    return copy


def test_pin_changes_only_the_image_line(action: Path) -> None:
    before = action.read_text()
    # exactly as release_commit.sh runs it
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "pin_action.py"), IMAGE, DIGEST, "--action", str(action)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    reference = f"docker://{IMAGE}@{DIGEST}"
    assert done.stdout.strip() == reference
    after = action.read_text()
    changed = [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), n=0)
               if line[:1] in "+-" and line[:3] not in ("+++", "---")]  # fmt: skip
    assert changed == ["-  image: Dockerfile", f"+  image: {reference}"]
    pinned, original = yaml.safe_load(after), yaml.safe_load(before)
    assert pinned["runs"] == {**original["runs"], "image": reference}
    del pinned["runs"], original["runs"]
    assert pinned == original


@pytest.mark.parametrize(
    "digest",
    [
        "",
        "sha256:" + "A" * 64,  # registries print lower case; anything else is not what was pushed
        "sha256:" + "a" * 63,
        "sha256:" + "a" * 65,
        "sha256:" + "g" * 64,
        "sha512:" + "a" * 128,
        "a" * 64,
        "sha256:" + "a" * 64 + "\n",
        "sha256:" + "a" * 64 + " ",
        "sha256:" + "a" * 60 + "\nrm -rf /",
    ],
)
def test_pin_refuses_a_malformed_digest_and_leaves_the_file(action: Path, digest: str) -> None:
    before = action.read_bytes()
    done = pin(action, digest=digest)
    assert done.returncode == 2 and "refused" in done.stderr and "sha256 digest" in done.stderr
    assert done.stdout == "" and action.read_bytes() == before


@pytest.mark.parametrize(
    "image",
    [
        "ghcr.io/Flake-Bot/flake-bot",  # GitHub owners may be upper case; image names may not
        "ghcr.io/flake-bot/flake-bot:v1.2.3",
        f"ghcr.io/flake-bot/flake-bot@{DIGEST}",
        "flake-bot/flake-bot",  # no registry host: would silently mean Docker Hub
        "ghcr.io/flake bot/flake-bot",
        "docker://ghcr.io/flake-bot/flake-bot",
        "ghcr.io/",
    ],
)
def test_pin_refuses_a_malformed_image_name(action: Path, image: str) -> None:
    before = action.read_bytes()
    done = pin(action, image=image)
    assert done.returncode == 2 and "image name" in done.stderr and action.read_bytes() == before


def test_pin_refuses_an_already_pinned_action(action: Path) -> None:
    assert pin(action).returncode == 0
    pinned = action.read_bytes()
    again = pin(action, digest="sha256:" + "f" * 64)
    assert again.returncode == 2 and "already pinned" in again.stderr and action.read_bytes() == pinned


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("name: x\nruns:\n  using: composite\n  steps: []\n", "found 0"),
        ("name: x\nruns:\n  using: docker\n  image: Dockerfile\n  image: Dockerfile\n", "found 2"),
        ("name: x\nimage: Dockerfile\n", "no top-level `runs:`"),
    ],
)
def test_pin_refuses_an_unexpected_action_yml(tmp_path: Path, text: str, problem: str) -> None:
    action = tmp_path / "action.yml"
    action.write_text(text)
    done = pin(action)
    assert done.returncode == 2 and problem in done.stderr and action.read_text() == text


def test_pin_touches_no_image_key_outside_runs(tmp_path: Path) -> None:
    action = tmp_path / "action.yml"
    action.write_text(
        "inputs:\n  image:\n    default: Dockerfile\nruns:  # the container\n  using: docker\n"
        "  # image: Dockerfile (a comment)\n  image: 'Dockerfile'\n  args:\n    - image: Dockerfile\n"
        "other:\n  image: Dockerfile\n"
    )
    assert pin(action).returncode == 0
    parsed = yaml.safe_load(action.read_text())
    assert parsed["runs"]["image"] == f"docker://{IMAGE}@{DIGEST}"
    assert parsed["other"] == {"image": "Dockerfile"} and parsed["runs"]["args"] == [{"image": "Dockerfile"}]
    assert "  # image: Dockerfile (a comment)\n" in action.read_text()


# --- release_commit.sh: the tag move, against a local stand-in for GitHub --------------------------


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(
        ["git", "-c", "user.name=Maintainer", "-c", "user.email=m@example.org", *args],
        cwd=cwd, capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture
def released(tmp_path: Path) -> tuple[Path, Path, str]:
    """origin (bare) with main and an annotated v9.9.9 tag on it, and a checkout of the tag."""
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(work))
    shutil.copy(ROOT / "action.yml", work / "action.yml")
    (work / "README.md").write_text("flake-bot\n")
    git(work, "add", ".")
    git(work, "commit", "--quiet", "-m", "source")
    git(work, "tag", "--annotate", "v9.9.9", "-m", "v9.9.9 by a maintainer")
    git(work, "remote", "add", "origin", str(origin))
    git(work, "push", "--quiet", "origin", "main", "refs/tags/v9.9.9")
    return origin, work, git(work, "rev-parse", "HEAD")


def release_commit(work: Path, source: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(
        [str(SCRIPTS / "release_commit.sh"), "v9.9.9", source, IMAGE, DIGEST],
        cwd=work, capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip


def test_release_commit_moves_the_tag_to_a_child_changing_only_the_image(
    released: tuple[Path, Path, str],
) -> None:
    origin, work, source = released
    done = release_commit(work, source)
    assert done.returncode == 0, done.stderr
    tagged = git(origin, "rev-parse", "v9.9.9^{commit}")
    assert tagged != source and git(origin, "rev-parse", "v9.9.9^{commit}^") == source
    assert git(origin, "diff", "--name-only", source, tagged) == "action.yml"
    assert f"  image: docker://{IMAGE}@{DIGEST}\n" in git(origin, "show", f"{tagged}:action.yml") + "\n"
    assert git(origin, "cat-file", "-t", "v9.9.9") == "tag"  # annotated, naming image and source
    tag_message = git(origin, "cat-file", "-p", "v9.9.9")
    assert DIGEST in tag_message and source in tag_message
    # the default branch keeps building from the Dockerfile
    assert git(origin, "rev-parse", "main") == source
    assert "  image: Dockerfile" in git(origin, "show", "main:action.yml")


def test_release_commit_rerun_is_a_no_op(released: tuple[Path, Path, str]) -> None:
    origin, work, source = released
    assert release_commit(work, source).returncode == 0
    moved = git(origin, "rev-parse", "v9.9.9")
    again = release_commit(work, source)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert git(origin, "rev-parse", "v9.9.9") == moved


def test_release_commit_refuses_a_tag_moved_by_someone_else(released: tuple[Path, Path, str]) -> None:
    origin, work, source = released
    (work / "README.md").write_text("something else\n")
    git(work, "commit", "--quiet", "-am", "another commit")
    git(work, "tag", "--force", "--annotate", "v9.9.9", "-m", "re-tagged")
    git(work, "push", "--quiet", "--force", "origin", "refs/tags/v9.9.9")
    retagged = git(origin, "rev-parse", "v9.9.9")
    done = release_commit(work, source)
    assert done.returncode == 1 and "refusing to move it" in done.stderr
    assert git(origin, "rev-parse", "v9.9.9") == retagged
