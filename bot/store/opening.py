"""Which file a history path holds, and what a command may do with it.

A history path comes from a command line or an action input, so it can name anything: a typo, a
log file, another program's SQLite database, a store a newer flake-bot wrote, or a store of ours
damaged by a full disk. Only a store of ours is ever written to. The rest is refused and left
byte for byte as it was (SQLite would happily turn a 0-byte file into a database, or add our
tables next to someone else's), and the question "is it ours?" is answered without writing:
the header first (`PRAGMA application_id` sits at a fixed offset), SQL through a read-only
connection only when the header cannot tell (a store made before the marker existed).

What follows from the answer is a policy of the caller: `report` refuses a damaged store,
`sync` and the action move it aside and build a new one from the API; the action uses a new
store beside a file that is not ours, the command line refuses it.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

from bot.errors import StoreError
from bot.store.errors import SQLITE_CORRUPT, SQLITE_NOTADB, UnusableStore, store_failure

APPLICATION_ID = 0x666C6B62  # "flkb": PRAGMA application_id of every store flake-bot writes
SQLITE_MAGIC = b"SQLite format 3\x00"
# Tables every schema version has: a file holding them all was made by flake-bot before the marker.
OUR_TABLES = frozenset({"job_sets", "job_set_jobs", "runs", "jobs", "outcomes", "problems"})
QUICK_CHECK_ERRORS = 5  # problems quick_check reports at most: enough for the one-line reason


class FileKind(Enum):
    """What a history path holds, as far as flake-bot is concerned."""

    MISSING = "missing"  # nothing there: a store may be created
    OURS = "ours"  # marked, or recognised by its tables: open it
    DAMAGED = "damaged"  # ours, but SQLite finds it corrupt
    FUTURE = "future"  # ours, from a newer flake-bot (schema version above ours)
    FOREIGN = "foreign"  # not a flake-bot store: never written to


@dataclass(frozen=True)
class FileCheck:
    """What `inspect` found at a history path."""

    kind: FileKind
    why: str = ""  # for the one-line message


class NotOurStore(UnusableStore):
    """The path holds a file flake-bot did not make: refused, left untouched (exit 2)."""


class BrokenStore(StoreError):
    """A store of ours that cannot be used as it is: damaged, or from a newer flake-bot."""

    def __init__(self, message: str, found: FileCheck) -> None:
        super().__init__(message)
        self.found = found


def _ro_uri(path: Path, *, immutable: bool) -> str:
    """A read-only URI: `immutable` also stops SQLite from creating -shm/-wal beside the file,
    which it would do for a WAL-mode file without them; with a -wal present, its content is
    part of the store and must be read (a store killed before a checkpoint)."""
    query = "mode=ro&immutable=1" if immutable else "mode=ro"
    return f"file:{urllib.parse.quote(str(path.absolute()))}?{query}"


def inspect(path: Path, schema_version: int, *, check: bool = True) -> FileCheck:
    """What `path` holds, found without writing to it or beside it. `check` runs SQLite's
    quick_check over the whole file (0.1-0.3 s for 100,000 runs): the writers, which can
    rebuild a damaged store, want it; a reader meets a corrupt page as an error anyway."""
    if path.parent.exists() and not path.parent.is_dir():
        why = f"{path.parent} is a file, not a directory"
        raise UnusableStore(f"history store {path}: {why}; pass another path")
    if not path.exists():
        return FileCheck(FileKind.MISSING)
    if not path.is_file():
        return FileCheck(FileKind.FOREIGN, "not a regular file")
    try:
        with path.open("rb") as f:
            header = f.read(100)
    except OSError as exc:
        raise StoreError(f"history store {path}: cannot read it: {exc.strerror or exc}") from None
    if not header:
        return FileCheck(FileKind.FOREIGN, "an empty file")
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        return FileCheck(FileKind.FOREIGN, "not an SQLite file")
    app_id = int.from_bytes(header[68:72], "big")
    if app_id not in (0, APPLICATION_ID):
        return FileCheck(FileKind.FOREIGN, f"an SQLite file of another program (application_id {app_id:#x})")
    wal = path.with_name(path.name + "-wal")
    try:
        db = sqlite3.connect(_ro_uri(path, immutable=not wal.exists()), uri=True)
    except sqlite3.Error as exc:
        return FileCheck(FileKind.FOREIGN, f"SQLite cannot open it ({exc})")
    try:
        return _look_inside(db, schema_version, header_marked=app_id == APPLICATION_ID, check=check)
    except sqlite3.DatabaseError as exc:
        raise store_failure(path, exc) from exc  # busy, I/O: not a verdict on the file
    finally:
        db.close()


def _corrupt(exc: sqlite3.DatabaseError) -> bool:
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    return code in (SQLITE_CORRUPT, SQLITE_NOTADB) or "malformed" in str(exc)


def _look_inside(
    db: sqlite3.Connection, schema_version: int, *, header_marked: bool, check: bool
) -> FileCheck:
    try:
        app_id = int(db.execute("PRAGMA application_id").fetchone()[0])
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        tables = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        if not _corrupt(exc):
            raise
        # The header said SQLite but the schema cannot be read: whose it is cannot be told.
        if header_marked:
            return FileCheck(FileKind.DAMAGED, str(exc))
        return FileCheck(FileKind.FOREIGN, f"an SQLite file SQLite cannot read ({exc})")
    marked = app_id == APPLICATION_ID
    if not marked and not tables >= OUR_TABLES:
        shown = ", ".join(sorted(tables)[:5]) or "no tables"
        return FileCheck(FileKind.FOREIGN, f"an SQLite file without flake-bot's tables ({shown})")
    if version > schema_version:
        why = f"schema version {version}, newer than this flake-bot's ({schema_version})"
        return FileCheck(FileKind.FUTURE, why)
    try:
        problems = (
            [str(r[0]) for r in db.execute(f"PRAGMA quick_check({QUICK_CHECK_ERRORS})")] if check else ["ok"]
        )
    except sqlite3.DatabaseError as exc:
        if not _corrupt(exc):
            raise
        problems = [str(exc)]
    if problems != ["ok"]:
        why = " ".join("; ".join(problems).replace("*** in database main ***", "").split())
        return FileCheck(FileKind.DAMAGED, why[:300])
    return FileCheck(FileKind.OURS)


def set_aside(path: Path, now: datetime | None = None) -> Path:
    """Move a store of ours that cannot be used to `<path>.broken-<date>` (kept for a bug report),
    with its -wal and -shm: a stale -wal left behind would be replayed into the new store."""
    day = (now or datetime.now(UTC)).strftime("%Y-%m-%d")
    target = path.with_name(f"{path.name}.broken-{day}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.broken-{day}.{n}")
    try:
        path.rename(target)
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                side.rename(target.with_name(target.name + suffix))
    except OSError as exc:
        raise StoreError(
            f"history store {path} is unusable and cannot be moved aside ({exc.strerror or exc}); "
            "remove it by hand"
        ) from None
    return target


def beside(path: Path) -> Path:
    """Where the action keeps a store of its own when its history path holds someone else's file."""
    return path.with_name(f"{path.stem}.flake-bot{path.suffix or '.sqlite'}")


def broken_message(path: Path, found: FileCheck, *, remedy: str) -> str:
    what = "is from a newer flake-bot" if found.kind is FileKind.FUTURE else "is damaged"
    return f"history store {path} {what} ({found.why}); {remedy}"
