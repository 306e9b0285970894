#!/bin/sh
# Install flake-bot and its locked dependencies into a fresh virtual environment.
#
# The Dockerfile runs exactly this script, and .ci/run runs it too (in a throwaway directory) and then
# starts `flake-bot --version`: base images cannot be pulled on every machine that builds this project,
# so sharing the script is what keeps that proof from drifting away from the image.
#
# Usage: sh image/install.sh TARGET_VENV SOURCE_TREE
# - dependencies come only from image/requirements.lock, hash-checked, binary wheels only (no compiler);
# - flake-bot itself is built into a wheel by a throwaway build environment (setuptools from
#   image/build.lock), so neither pip, setuptools nor the source tree end up in TARGET_VENV.
set -eu
target=$1
src=$(cd "$2" && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_NO_INPUT=1

"$python" -m venv "$work/build"
"$work/build/bin/python" -m pip install --quiet --require-hashes --only-binary=:all: \
    -r "$src/image/build.lock"

# Build from a copy: an in-tree build would leave build/ and *.egg-info in the caller's checkout.
mkdir "$work/src"
cp -R "$src/pyproject.toml" "$src/README.md" "$src/bot" "$work/src/"
"$work/build/bin/python" -m pip wheel --quiet --no-deps --no-build-isolation \
    --wheel-dir "$work/dist" "$work/src"

"$python" -m venv --without-pip "$target"
"$work/build/bin/python" -m pip --python "$target/bin/python" install --quiet \
    --require-hashes --only-binary=:all: --no-deps -r "$src/image/requirements.lock"
"$work/build/bin/python" -m pip --python "$target/bin/python" install --quiet --no-deps "$work"/dist/*.whl
# Fails if the lock no longer satisfies pyproject.toml (a dependency added without re-locking).
"$work/build/bin/python" -m pip --python "$target/bin/python" check
