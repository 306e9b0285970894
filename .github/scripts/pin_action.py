#!/usr/bin/env python3
"""Point action.yml at a published image by digest, for a release commit only.

The default branch keeps `image: Dockerfile`, so the action also works from any commit (the runner
builds the image). A release commit instead names the image the release workflow built, pushed and
attested, by digest: `docker://ghcr.io/OWNER/flake-bot@sha256:...`, which the runner only pulls.

The edit is one line, made on the text so comments and layout survive, and checked before it is
written: this script is what the release workflow runs, and the test suite runs it on a copy of
action.yml, so a malformed digest or an unexpected action.yml is refused here rather than shipped
as a release users cannot start. Standard library only: the release job runs it with the runner's
own python3, without installing anything.

Usage: pin_action.py IMAGE DIGEST [--action PATH]
  IMAGE   registry/path without tag or digest, lower case (e.g. ghcr.io/flake-bot/flake-bot)
  DIGEST  sha256:<64 lower-case hex digits>, the image index digest build-push-action reports
Prints the new `runs.image` value; exit status 2 (file untouched) on any refusal.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# OCI distribution spec: a registry host (with a dot, so it cannot be read as a Docker Hub path),
# then lower-case path components; no tag, no digest, no upper case (registries reject it).
IMAGE = re.compile(
    r"[a-z0-9]+(?:[.-][a-z0-9]+)*\.[a-z0-9]+(?::[0-9]+)?"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+"
)
RUNS = re.compile(r"runs:[ \t]*(?:#.*)?")
IMAGE_LINE = re.compile(r"(?P<indent>[ \t]+)image:[ \t]*(?P<value>[^#\n]*?)[ \t]*(?:#.*)?")
SOURCE = ("Dockerfile", "'Dockerfile'", '"Dockerfile"')


class Refused(Exception):
    """A reason not to write the file, worded for the release log."""


def runs_image_line(lines: list[str]) -> int:
    """Index of the single `image:` line directly under the top-level `runs:` key."""
    try:
        start = next(i for i, line in enumerate(lines) if RUNS.fullmatch(line.rstrip("\n")))
    except StopIteration:
        raise Refused("action.yml has no top-level `runs:` key") from None
    child_indent = None
    found = []
    for i in range(start + 1, len(lines)):
        text = lines[i].rstrip("\n")
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        if not text[0].isspace():
            break  # the next top-level key ends the runs block
        indent = len(text) - len(text.lstrip())
        child_indent = indent if child_indent is None else child_indent
        match = IMAGE_LINE.fullmatch(text)
        if match and indent == child_indent:
            found.append(i)
    if len(found) != 1:
        raise Refused(f"expected one `image:` under `runs:` in action.yml, found {len(found)}")
    return found[0]


def pin(text: str, image: str, digest: str) -> str:
    """action.yml text with `runs.image` replaced by `docker://IMAGE@DIGEST`, or Refused."""
    if not IMAGE.fullmatch(image):
        raise Refused(f"not a lower-case registry/path image name without tag: {image[:200]!r}")
    if not DIGEST.fullmatch(digest):
        raise Refused(f"not a sha256 digest (sha256: and 64 lower-case hex digits): {digest[:200]!r}")
    lines = text.splitlines(keepends=True)
    index = runs_image_line(lines)
    match = IMAGE_LINE.fullmatch(lines[index].rstrip("\n"))
    assert match is not None  # runs_image_line only returns matching lines
    if match["value"] not in SOURCE:
        # Re-pinning would hide which commit the release was made from; start from the source tree.
        raise Refused(f"runs.image is {match['value'][:200]!r}, not Dockerfile: already pinned?")
    reference = f"docker://{image}@{digest}"
    ending = "\n" if lines[index].endswith("\n") else ""
    lines[index] = f"{match['indent']}image: {reference}{ending}"
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", help="e.g. ghcr.io/flake-bot/flake-bot (lower case, no tag)")
    parser.add_argument("digest", help="sha256:<64 hex digits>")
    parser.add_argument("--action", type=Path, default=Path("action.yml"), help="default: action.yml")
    args = parser.parse_args(argv)
    try:
        pinned = pin(args.action.read_text(encoding="utf-8"), args.image, args.digest)
    except (Refused, OSError, UnicodeDecodeError) as error:
        print(f"pin_action: refused: {error}", file=sys.stderr)
        return 2
    # Replace atomically: a half-written action.yml must never be committed.
    fd, tmp = tempfile.mkstemp(dir=args.action.parent, prefix=".action-", suffix=".yml")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
        out.write(pinned)
    os.replace(tmp, args.action)
    print(f"docker://{args.image}@{args.digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
