#!/usr/bin/env bash
# Make the release commit and move the version tag to it (run by .github/workflows/release.yml).
#
# Usage: release_commit.sh TAG SOURCE_SHA IMAGE DIGEST   (in a checkout of SOURCE_SHA, remote `origin`)
#
# The maintainer's tag TAG points at SOURCE_SHA, a default-branch commit whose action.yml builds the
# Dockerfile. This script commits, on top of SOURCE_SHA, the same tree with only `runs.image` pinned to
# IMAGE@DIGEST (pin_action.py), and moves TAG to that commit, so `uses: OWNER/flake-bot@TAG` and the
# release commit's SHA both run the attested image, and `git diff TAG^ TAG` shows the one line.
#
# The move is guarded by --force-with-lease on the tag object this run started from: a tag that was
# moved or re-pushed meanwhile is never overwritten. Running it again after a successful move (a
# re-run of the job) recognises its own release commit and changes nothing; any other state is an
# error, because a second build would have a different digest and the published one must not change.
set -euo pipefail
tag=$1 source_sha=$2 image=$3 digest=$4
here=$(cd "$(dirname "$0")" && pwd)
reference="docker://$image@$digest"
bot=(-c "user.name=github-actions[bot]" -c "user.email=41898282+github-actions[bot]@users.noreply.github.com")

git fetch --quiet --no-tags origin "+refs/tags/$tag:refs/tags/$tag"
lease=$(git rev-parse "refs/tags/$tag")
target=$(git rev-parse "refs/tags/$tag^{commit}")

if [ "$target" != "$source_sha" ]; then
    if [ "$(git rev-parse --verify --quiet "$target^")" = "$source_sha" ] &&
        git show "$target:action.yml" | grep -xF "  image: $reference" >/dev/null; then
        echo "$tag already points at its release commit $target (re-run): nothing to do"
        exit 0
    fi
    echo "::error::$tag points at $target, not at $source_sha where this release started;" \
        "refusing to move it (release a new version; if nothing was published, delete the tag and push it again)" >&2
    exit 1
fi

git checkout --quiet --detach "$source_sha"
python3 "$here/pin_action.py" "$image" "$digest" --action action.yml
if [ "$(git diff --name-only)" != "action.yml" ]; then
    echo "::error::the release commit must change action.yml only" >&2
    exit 1
fi
git "${bot[@]}" commit --quiet --no-verify -m "Release $tag: run the prebuilt image" \
    -m "action.yml runs $reference instead of building the Dockerfile. The image was built, pushed and attested from $source_sha, this commit's parent; this commit changes nothing else." \
    -- action.yml
git "${bot[@]}" tag --force --annotate "$tag" \
    -m "flake-bot $tag" -m "Image: $image@$digest" -m "Source: $source_sha (the parent commit)"
git push --quiet --force-with-lease="refs/tags/$tag:$lease" origin "refs/tags/$tag"
echo "$tag -> $(git rev-parse HEAD) (parent $source_sha): $reference"
