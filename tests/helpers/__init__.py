"""Helpers shared by the tests (no tests here).

- `e2e`: run the real `flake-bot triage` as the action step against the fake GitHub (`Action`),
  and the job logs the end-to-end tests use.
- `gfm`: render Markdown with GitHub's engine and look at the result (`analyse`, `github_refs`).
- `runner`: read stdout and the output file the way the Actions runner does.
- `checkout`: a checkout of the upstream-style fixture in tests/data/upstream.
- `hostile`: pieces of hostile text.
- `histories`: small hand-written histories for the evidence behind verdicts.
- `workflow_logs`: job logs of the qemu and windows workflows (tests/data/workflows) and a small
  unix one, for the parser, end-to-end and benchmark code.
- `source`: bot/'s modules as syntax trees, parsed once per process (`MODULES`, `tree`).
- `stable_id`: a number from a name that is the same in every process.

The fake GitHub (`fake_github.py`) and the job-log writer (`logfmt.py`) sit beside the tests.
"""

from __future__ import annotations

import zlib


def stable_id(name: str, modulo: int = 10**8) -> int:
    """A positive id derived from `name`, equal in every process: `hash()` of a string changes
    with PYTHONHASHSEED, and ids that collide or reorder between runs make a test flaky."""
    return zlib.crc32(name.encode("utf-8")) % modulo or modulo
