"""Loading a registry: every problem is reported as file:line, and every command exits 2 on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_registry_sync import make_checkout

from bot.cli import main
from bot.errors import RegistryError
from bot.registry import (
    Entry,
    Mechanism,
    Registry,
    bundled_registry_path,
    dump_registry,
    load_registry,
    parse_registry,
)
from bot.registry.model import RUNNER_OSES
from bot.registry.yaml_io import ENTRY_KEYS, JOB_KEYS, TOP_KEYS

GOOD = """\
version: 1
jobs:
  macos:
    os: darwin
    functions: [ci_unix_macos_run_tests]
entries:
  - test: thread/thread_gc1.py
    mechanism: exclude
    functions: [ci_unix_macos_run_tests]
    reason: is flaky
    flaky: true
    since: 2025-08-28
    until: 2026-03-11
  - test: thread/thread_gc1.py
    mechanism: ignore
    platforms: null
    reason: GC race condition
    flaky: true
    since: 2026-03-11
"""


def test_good_registry_loads() -> None:
    registry = parse_registry(GOOD, "good.yml")
    assert [e.line for e in registry.entries] == [7, 14]
    assert registry.jobs["macos"].os == "darwin"


@pytest.mark.parametrize(
    ("old", "new", "line", "problem"),
    [
        ("    reason: is flaky\n", "    reasons: is flaky\n", 10, "unknown key 'reasons' in an entry"),
        ("version: 1\n", "version: 1\ncolour: blue\n", 2, "unknown key 'colour' in the registry"),
        ("    os: darwin\n", "    os: darwin\n    cpu: arm\n", 5, "unknown key 'cpu' in job 'macos'"),
        (
            "  - test: thread/thread_gc1.py\n    mechanism: exclude\n",
            "  - test: thread/(gc1.py\n    mechanism: exclude\n",
            7,
            "is not a valid regular expression",
        ),
        ("    since: 2025-08-28\n", "    since: 2025-02-30\n", 12, "'2025-02-30' is not a real date"),
        ("    since: 2025-08-28\n", "    since: 28/08/2025\n", 12, "must be a date written YYYY-MM-DD"),
        ("    until: 2026-03-11\n", "    until: 2025-01-01\n", 13, "until (2025-01-01) must be after since"),
        (
            "    since: 2026-03-11\n",
            "    since: 2026-03-11\n  - test: thread/thread_gc1.py\n    mechanism: ignore\n    "
            "platforms: [darwin]\n",
            20,
            "duplicate entry: ignore 'thread/thread_gc1.py' overlaps the entry at line 14",
        ),
        (
            "    mechanism: ignore\n",
            "    mechanism: ignored\n",
            15,
            "mechanism must be one of exclude, ignore, skip",
        ),
        (
            "    flaky: true\n    since: 2025",
            "    flaky: maybe\n    since: 2025",
            11,
            "flaky must be true or false",
        ),
        (
            "    functions: [ci_unix_macos_run_tests]\n    reason",
            "    reason",
            7,
            "an exclude entry needs 'functions'",
        ),
        ("    platforms: null\n", "    functions: [ci_x]\n", 16, "an ignore entry applies to platforms"),
        ("    os: darwin\n", "    os: macos\n", 4, "os must be one of"),
        ("version: 1\n", "version: 2\n", 1, "unsupported registry version 2"),
        ("    reason: is flaky\n", "    reason: is flaky\n    reason: again\n", 11, "duplicate key 'reason'"),
        (
            "    reason: GC race condition\n",
            "    reason: GC race condition\n    symptoms: ['(']\n",
            18,
            "symptom '('",
        ),
        ("    reason: is flaky\n", "    reason: [is flaky\n", 11, "not valid YAML"),
        ("    platforms: null\n", "    platforms: [Darwin OS]\n", 16, "is not a valid item of platforms"),
    ],
)
def test_bad_registry_names_file_line_and_problem(old: str, new: str, line: int, problem: str) -> None:
    assert old in GOOD
    with pytest.raises(RegistryError) as caught:
        parse_registry(GOOD.replace(old, new, 1), "bad.yml")
    message = str(caught.value)
    assert message.startswith(f"bad.yml:{line}: "), message
    assert problem in message


@pytest.mark.parametrize("text", ["", "[]\n", "version: 1\nentries: {}\n", "entries: []\n"])
def test_structurally_wrong_files(text: str) -> None:
    with pytest.raises(RegistryError, match=r"^x\.yml:\d+: "):
        parse_registry(text, "x.yml")


def test_every_command_exits_2_on_a_bad_registry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(GOOD.replace("    since: 2025-08-28\n", "    since: 2025-13-01\n"))
    repo = make_checkout(tmp_path)
    commands = [
        ["match", "--registry", str(bad), "--job", "macos", "--test", "thread/thread_gc1.py"],
        ["registry", "check", "--repo-dir", str(repo), str(bad)],
        ["registry", "sync", "--repo-dir", str(repo), "-o", str(bad)],
        [
            "suggest-patch",
            "--repo-dir",
            str(repo),
            "--registry",
            str(bad),
            "--test",
            "io/file1.py",
            "--job",
            "macos",
        ],
    ]
    for argv in commands:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert f"{bad}:12: since '2025-13-01' is not a real date" in err, err
    assert bad.read_text().count("2025-13-01") == 1  # sync did not overwrite the file it could not read
    assert main(["match", "--registry", str(tmp_path / "missing.yml"), "--job", "x", "--test", "a/b.py"]) == 2


def test_bundled_registry_loads_and_round_trips() -> None:
    registry = load_registry()
    assert registry == load_registry(bundled_registry_path())
    assert registry.repository == "micropython/micropython"
    again = parse_registry(dump_registry(registry))
    assert again.entries == registry.entries and dict(again.jobs) == dict(registry.jobs)


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(_TEXT, _TEXT, st.lists(_TEXT.filter(bool), max_size=3, unique=True))
def test_any_text_survives_dump_and_load(reason: str, notes: str, links: list[str]) -> None:
    entry = Entry(
        test="thread/x.py", mechanism=Mechanism.IGNORE, reason=reason, notes=notes, links=tuple(links)
    )
    registry = Registry((entry,), {})
    assert parse_registry(dump_registry(registry)).entries == (entry,)


def test_schema_describes_the_same_format() -> None:
    schema = json.loads((bundled_registry_path().parent / "registry.schema.json").read_text())
    assert set(schema["properties"]) == set(TOP_KEYS)
    assert set(schema["$defs"]["entry"]["properties"]) == set(ENTRY_KEYS)
    assert set(schema["$defs"]["job"]["properties"]) == set(JOB_KEYS)
    assert schema["$defs"]["entry"]["properties"]["mechanism"]["enum"] == [m.value for m in Mechanism]
    assert schema["$defs"]["job"]["properties"]["os"]["enum"] == list(RUNNER_OSES)
