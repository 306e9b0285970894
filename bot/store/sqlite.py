"""The history store: every run of the watched workflow, its jobs, and the tests seen failing.

One SQLite file, so it can travel between action runs in a cache. The schema is versioned with
`PRAGMA user_version` and only ever migrated forward. Writes go through `_transaction()`; a run is
written with all its jobs, outcomes and problems in one transaction and only then marked
complete, so a crash or Ctrl-C in the middle of a sync leaves either the whole run or none of it.

The store may hold 100,000 runs x 20 jobs and the report must stay under two seconds, so
executions are not stored one row per job: every run points at the set of jobs that ran in its
latest attempt (`job_sets`), job rows are kept only for runs whose jobs were fetched (failed or
re-run ones), and run-level figures come from one indexed scan grouped by (job set, day). SQL
does the grouping; Python sees a few thousand rows at most.

The class is put together from one part per reader (see `bot.store.schema`); importers keep
importing `HistoryStore`, `Window` and the constants from here.
"""

from __future__ import annotations

from pathlib import Path

from bot.store.dashboard_reads import DashboardReads
from bot.store.evidence_reads import EvidenceReads
from bot.store.opening import (
    BrokenStore,
    FileKind,
    NotOurStore,
    beside,
    set_aside,
)
from bot.store.schema import (
    _MIGRATIONS,
    CHECKPOINT_EVERY,
    DEFAULT_PATH,
    FAILED_JOB,
    NOT_A_RESULT,
    RAN_JOB,
    RUN_TRIES,
    SCHEMA_VERSION,
    JobsState,
    Template,
    Window,
)
from bot.store.writes import SyncWrites

__all__ = [
    "CHECKPOINT_EVERY",
    "DEFAULT_PATH",
    "FAILED_JOB",
    "NOT_A_RESULT",
    "RAN_JOB",
    "RUN_TRIES",
    "SCHEMA_VERSION",
    "_MIGRATIONS",
    "HistoryStore",
    "JobsState",
    "Template",
    "Window",
    "open_healing",
]


class HistoryStore(SyncWrites, DashboardReads, EvidenceReads):
    """A SQLite history of workflow runs. Use as a context manager, or call `close()`."""


def open_healing(path: str | Path, *, beside_foreign: bool = False) -> tuple[HistoryStore, list[str]]:
    """The store for a writer that can rebuild it from GitHub (`sync`, the action), and the lines
    that say what opening it took.

    A store of ours that is damaged or from a newer flake-bot is moved aside
    (`<path>.broken-<date>`) and a new one built in its place: left there, the cache would save
    it again and every later run would go without history. A file that is not ours is never
    touched; with `beside_foreign` (the action, which must not fail over its cache) a store of
    our own next to it is used instead, otherwise it is refused.
    """
    path = Path(path)
    notes: list[str] = []
    try:
        store = HistoryStore(path)
    except BrokenStore as exc:
        moved = set_aside(path)
        what = "is from a newer flake-bot" if exc.found.kind is FileKind.FUTURE else "is damaged"
        notes.append(f"history store {path} {what} ({exc.found.why}): moved to {moved.name}, "
                     "building a new one from GitHub")  # fmt: skip
        store = HistoryStore(path)
        return store, notes
    except NotOurStore as exc:
        if not beside_foreign:
            raise
        other = beside(path)
        store, more = open_healing(other)
        notes.append(f"{exc}; using {other} instead")
        return store, [*notes, *more]
    if store.created:
        notes.append(f"new empty history store at {path}")
    return store, notes
