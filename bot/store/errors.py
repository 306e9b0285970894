"""The one line a store failure ends with: what went wrong, on which file, and what to do.

SQLite reports a full disk, a read-only file or a corrupt page as an exception whose text names
neither the file nor a way out, and it can come from any statement of any command. Every
command's store is opened as a context manager that hands such an exception to `store_failure`,
so `bot.cli` prints one line and the right exit status: 2 when the path given cannot be used
(read-only, its folder is a file), 1 when the operation failed (damage, full disk, I/O).
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from bot.errors import FlakeBotError, InputError, StoreError

# SQLite's primary result codes (the low byte of an extended code)
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26

class UnusableStore(InputError):
    """The history path given cannot hold a store we may write: read-only, through a file, or a
    file that is not ours (exit 2). The action goes on without history instead."""


REBUILD = "run `flake-bot sync` to set it aside and build a new one from GitHub"
FULL = "free space there and run again; the runs already written are kept"
READ_ONLY = "make it writable, or pass a path you can write"


def store_failure(path: Path, exc: BaseException) -> FlakeBotError:
    """The error to raise instead of `exc`, an SQLite or OS error met while using `path`."""
    if isinstance(exc, FlakeBotError):
        return exc
    text = str(exc) or type(exc).__name__
    if isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
        if code == SQLITE_FULL or "disk is full" in text:
            return StoreError(f"history store {path}: no space left on its file system ({text}); {FULL}")
        if code == SQLITE_READONLY or "readonly" in text:
            return UnusableStore(f"history store {path} is read-only ({text}); {READ_ONLY}")
        if code in (SQLITE_CORRUPT, SQLITE_NOTADB) or "malformed" in text:
            return StoreError(f"history store {path} is damaged ({text}); {REBUILD}")
        if code == SQLITE_CANTOPEN:
            return UnusableStore(f"history store {path} cannot be opened ({text}); pass a path you can write")
        return StoreError(f"history store {path}: {text}")
    if isinstance(exc, OSError):
        reason = exc.strerror or text
        if exc.errno == errno.ENOSPC:
            return StoreError(f"history store {path}: no space left on its file system ({reason}); {FULL}")
        if exc.errno == errno.ENOTDIR:
            why = f"a folder on its path is a file ({reason})"
            return UnusableStore(f"history store {path}: {why}; pass another path")
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return UnusableStore(f"history store {path} is read-only ({reason}); {READ_ONLY}")
        return StoreError(f"history store {path}: {reason}")
    return StoreError(f"history store {path}: {text}")
