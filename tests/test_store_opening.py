"""Only our own files, and one line for every store failure.

`report`, `sync`, `triage --history` and `dashboard --offline` open a history store only if it is
flake-bot's; anything else is refused with one line (exit 2) and left byte for byte as it was.
A damaged or future-schema store of ours is one line (exit 1) for the readers, and is set aside
and rebuilt by `sync`. A read-only file, a full disk and a path through a file each end with one
line naming the file and what to do. Read-only and full disk are injected (the suite may run as
root, who can write any file, and on a disk with room): SQLite's own `query_only` and
`max_page_count` make it fail exactly as it does on such a file or disk.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fake_github import FakeGitHub
from test_sync_gaps import cli_sync, complete_runs, failed_runs

from bot.cli import main
from bot.store import opening
from bot.store.opening import APPLICATION_ID, FileKind, inspect
from bot.store.sqlite import SCHEMA_VERSION, HistoryStore

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "logs" / "coverage-flaky-and-real-failure.log"


@pytest.fixture
def env(fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> FakeGitHub:
    monkeypatch.setenv("GITHUB_API_URL", fake_github.api_url)
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_opening")
    for name in ("GITHUB_ACTIONS", "GITHUB_REPOSITORY", "GITHUB_EVENT_PATH", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    return fake_github


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def store_with_runs(path: Path, runs: int = 3000) -> None:
    """A store of ours spanning many pages."""
    with HistoryStore(path) as s:
        s._db.execute("BEGIN")
        s._db.executemany(
            """INSERT INTO runs (id, attempt, workflow, workflow_name, event, branch, head_sha, created,
                   status, conclusion, jobs_state, complete)
               VALUES (?, 1, '.github/workflows/ports_unix.yml', 'unix port', 'push', 'master', ?, ?,
                   'completed', 'success', 'none', 1)""",
            [(i, f"{i:040x}", f"2026-01-{1 + i % 28:02d}T{i % 24:02d}:00:00Z") for i in range(1, runs + 1)],
        )
        s._db.execute("COMMIT")


def corrupt_a_page(path: Path) -> None:
    """Garbage over a page in the middle of the file, as a torn write or a bad disk leaves it."""
    size = path.stat().st_size
    page = 4096
    with path.open("r+b") as f:
        f.seek((size // page // 2) * page)
        f.write(b"\xab" * page)


def report(db: Path) -> int:
    return main(["report", "--db", str(db), "--no-registry"])


def triage_with(db: Path) -> int:
    return main(["triage", "--log", str(SAMPLE), "--job", "coverage", "--history", str(db)])


def dashboard_offline(db: Path) -> int:
    return main(["dashboard", "--offline", "--dry-run", "--history", str(db)])


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [line] = err.strip().splitlines()
    return line


FOREIGN: dict[str, Callable[[Path], None]] = {
    "0-byte log file": lambda p: p.write_bytes(b""),
    "text": lambda p: p.write_text("2026-01-05 build log\n" * 50),
}


def _sqlite_with(*statements: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        db = sqlite3.connect(path)
        for s in statements:
            db.execute(s)
        db.commit()
        db.close()

    return make


FOREIGN["another program's SQLite"] = _sqlite_with("CREATE TABLE notes (id INTEGER, body TEXT)")
FOREIGN["SQLite with user_version 3"] = _sqlite_with("CREATE TABLE t (x)", "PRAGMA user_version = 3")
FOREIGN["SQLite in WAL mode"] = _sqlite_with("PRAGMA journal_mode = WAL", "CREATE TABLE t (x)")
FOREIGN["SQLite with another application_id"] = _sqlite_with(
    "CREATE TABLE runs (id)", "PRAGMA application_id = 1234"
)
COMMANDS: dict[str, Callable[[Path], int]] = {
    "report": report,
    "sync": cli_sync,
    "triage --history": triage_with,
    "dashboard --offline": dashboard_offline,
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("kind", FOREIGN)
def test_a_file_not_ours_is_refused_in_one_line_and_left_byte_for_byte(
    kind: str, command: str, env: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "build.log"
    FOREIGN[kind](path)
    before = digest(path)

    assert COMMANDS[command](path) == 2
    line = one_line(capsys)
    assert line.startswith(f"flake-bot: error: {path} is not a flake-bot history store (")
    assert "left untouched" in line
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build.log"]  # no -wal, -shm or journal
    assert env.requests == []


def test_a_missing_store_is_created_only_by_the_writers_and_said(
    env: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "typo.sqlite"
    assert report(typo) == 2
    assert "no history store at" in one_line(capsys)
    assert not typo.exists()

    assert triage_with(typo) in (0, 1)
    said = f"flake-bot: new empty history store at {typo}: no history to judge with"
    out = capsys.readouterr()
    assert said in out.err
    # and the report does not then claim its verdicts rest on "evidence from the history store"
    assert "Evidence from the history store" not in out.out
    assert "holds no earlier execution of these jobs" in out.out
    assert inspect(typo, SCHEMA_VERSION).kind is FileKind.OURS

    fresh = tmp_path / "fresh.sqlite"
    failed_runs(env, 1)
    assert cli_sync(fresh) == 0
    assert f"sync: new empty history store at {fresh}" in capsys.readouterr().err
    with HistoryStore(fresh) as s:
        assert s._db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_a_corrupt_page_is_one_line_for_readers_and_rebuilt_by_sync(
    env: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "h.sqlite"
    store_with_runs(db)
    corrupt_a_page(db)
    damaged = digest(db)

    for read in (report, dashboard_offline, triage_with):
        assert read(db) == 1
        line = one_line(capsys)
        assert f"history store {db} is damaged (" in line
        assert "run `flake-bot sync` to set it aside and build a new one from GitHub" in line
        assert digest(db) == damaged

    runs = failed_runs(env, 3)
    assert cli_sync(db) == 0
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    err = capsys.readouterr().err
    assert f"sync: history store {db} is damaged (" in err
    assert f"moved to h.sqlite.broken-{day}, building a new one from GitHub" in err
    assert digest(tmp_path / f"h.sqlite.broken-{day}") == damaged  # kept for a bug report
    assert complete_runs(db) == {r for r, _ in runs}
    assert report(db) == 0


def test_a_store_from_a_newer_flake_bot_is_one_line_and_set_aside_by_sync(
    env: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "h.sqlite"
    store_with_runs(db, runs=10)
    raw = sqlite3.connect(db)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    future = digest(db)

    assert report(db) == 1
    line = one_line(capsys)
    assert f"history store {db} is from a newer flake-bot (schema version {SCHEMA_VERSION + 1}" in line
    assert "upgrade flake-bot, or run `flake-bot sync`" in line
    assert digest(db) == future

    failed_runs(env, 2)
    assert cli_sync(db) == 0
    assert "is from a newer flake-bot" in capsys.readouterr().err
    assert len(complete_runs(db)) == 2
    [aside] = tmp_path.glob("h.sqlite.broken-*")
    assert digest(aside) == future


def pages(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA page_count").fetchone()[0])


def _inject(monkeypatch: pytest.MonkeyPatch, pragma: Callable[[sqlite3.Connection], str]) -> None:
    """Every connection the store opens for writing runs `pragma` first (the read-only look at
    what a file is, `bot.store.opening.inspect`, opens by URI and is left alone)."""
    real = sqlite3.connect

    def connect(*args: object, **kwargs: object) -> sqlite3.Connection:
        db = real(*args, **kwargs)  # type: ignore[arg-type]
        if not kwargs.get("uri"):
            db.execute(pragma(db))
        return db

    monkeypatch.setattr(sqlite3, "connect", connect)


def test_a_read_only_store_is_one_line_exit_2_and_still_readable(
    env: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "h.sqlite"
    store_with_runs(db, runs=10)
    before = digest(db)
    failed_runs(env, 2)
    _inject(monkeypatch, lambda _: "PRAGMA query_only = ON")

    assert report(db) == 0  # reading needs no write
    capsys.readouterr()
    assert cli_sync(db) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"flake-bot: error: history store {db} is read-only (attempt to write a readonly database); "
        "make it writable, or pass a path you can write"
    )
    assert digest(db) == before


def test_a_full_disk_is_one_line_exit_1_and_keeps_the_runs_written(
    env: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "h.sqlite"
    store_with_runs(db)  # its pages full: the next rows need new ones
    failed_runs(env, 10)
    # the disk has room for the file as it is now and not one page more
    _inject(monkeypatch, lambda db: f"PRAGMA max_page_count = {pages(db)}")

    assert cli_sync(db) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith(f"flake-bot: history store {db}: no space left on its file system (")
    assert line.endswith("free space there and run again; the runs already written are kept")
    monkeypatch.undo()
    assert len(complete_runs(db)) == 3000
    assert inspect(db, SCHEMA_VERSION).kind is FileKind.OURS


@pytest.mark.parametrize("command", COMMANDS)
def test_a_history_path_through_a_file_is_one_line_exit_2(
    command: str, env: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where a folder should be")

    assert COMMANDS[command](blocker / "history.sqlite") == 2
    line = one_line(capsys)
    assert f"{blocker} is a file, not a directory; pass another path" in line or (
        command == "dashboard --offline" and f"no history store at {blocker}/history.sqlite" in line
    )
    assert blocker.read_text() == "a file where a folder should be"


def test_the_look_at_a_file_writes_nothing_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    FOREIGN["SQLite in WAL mode"](path)
    before = digest(path)
    assert inspect(path, SCHEMA_VERSION).kind is FileKind.FOREIGN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.sqlite"]
    assert digest(path) == before


def test_a_store_killed_before_its_first_checkpoint_is_still_ours(tmp_path: Path) -> None:
    """The marker and the tables may be in the -wal only: the look reads through it."""
    db = tmp_path / "h.sqlite"
    s = HistoryStore(db)  # left open: the -wal holds the schema
    try:
        copy = tmp_path / "copy.sqlite"
        copy.write_bytes(db.read_bytes())
        (tmp_path / "copy.sqlite-wal").write_bytes((tmp_path / "h.sqlite-wal").read_bytes())
        assert inspect(copy, SCHEMA_VERSION).kind is FileKind.OURS
    finally:
        s.close()


def test_set_aside_never_overwrites_an_earlier_broken_copy(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    when = datetime(2026, 3, 1, tzinfo=UTC)
    for n in range(3):
        db.write_text(f"copy {n}")
        (tmp_path / "h.sqlite-wal").write_text(f"wal {n}")
        opening.set_aside(db, when)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "h.sqlite.broken-2026-03-01", "h.sqlite.broken-2026-03-01-wal",
        "h.sqlite.broken-2026-03-01.2", "h.sqlite.broken-2026-03-01.2-wal",
        "h.sqlite.broken-2026-03-01.3", "h.sqlite.broken-2026-03-01.3-wal",
    ]  # fmt: skip
    assert (tmp_path / "h.sqlite.broken-2026-03-01.3").read_text() == "copy 2"
