"""Loading a registry: every problem is reported as file:line, and every command exits 2 on it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from helpers.checkout import make_checkout
from hypothesis import given
from hypothesis import strategies as st

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
    yaml_io,
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


def test_libyaml_and_pure_python_loaders_report_the_same_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """libyaml loads the registry when PyYAML has it (15x faster); the lines it reports must not move,
    and a YAML error is worded by the pure-Python parser, which names what it did not find."""
    text = bundled_registry_path().read_text()
    fast = parse_registry(text)
    monkeypatch.setattr(yaml_io, "_FAST_LOADER", yaml.SafeLoader)
    slow = parse_registry(text)
    assert [e.line for e in fast.entries] == [e.line for e in slow.entries]
    monkeypatch.undo()
    with pytest.raises(RegistryError, match=r"^bad\.yml:3: not valid YAML: found undefined alias 'nope'"):
        parse_registry("version: 1\nentries:\n  - test: *nope\n", "bad.yml")


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


def _schema_errors(value: object, schema: dict, root: dict, where: str = "$") -> list[str]:
    """The subset of JSON Schema 2020-12 that registry.schema.json uses (no new test dependency)."""
    if "$ref" in schema:
        return _schema_errors(value, root["$defs"][schema["$ref"].rsplit("/", 1)[1]], root, where)
    errors: list[str] = []
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
    if "type" in schema:
        allowed = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(isinstance(value, kinds[k]) for k in allowed):
            return [f"{where}: not {allowed}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: not one of {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{where}: too short")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{where}: too few items")
        if schema.get("uniqueItems") and len({json.dumps(v) for v in value}) != len(value):
            errors.append(f"{where}: repeated items")
        for index, item in enumerate(value):
            errors += _schema_errors(item, schema.get("items", {}), root, f"{where}[{index}]")
    if isinstance(value, dict):
        errors += [f"{where}: missing {key}" for key in schema.get("required", []) if key not in value]
        for key, item in value.items():
            if key in schema.get("properties", {}):
                errors += _schema_errors(item, schema["properties"][key], root, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: unknown key {key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += _schema_errors(item, schema["additionalProperties"], root, f"{where}.{key}")
    if "oneOf" in schema and sum(not _schema_errors(value, s, root, where) for s in schema["oneOf"]) != 1:
        errors.append(f"{where}: not exactly one of oneOf")
    if "anyOf" in schema and all(_schema_errors(value, s, root, where) for s in schema["anyOf"]):
        errors.append(f"{where}: none of anyOf")
    if "not" in schema and not _schema_errors(value, schema["not"], root, where):
        errors.append(f"{where}: matches a forbidden shape")
    for part in schema.get("allOf", []):
        if "if" in part and not _schema_errors(value, part["if"], root, where):
            errors += _schema_errors(value, part["then"], root, where)
    return errors


def _as_json(text: str) -> object:
    return json.loads(json.dumps(yaml.safe_load(text), default=str))


SCHEMA = json.loads((bundled_registry_path().parent / "registry.schema.json").read_text())


def test_bundled_and_example_registries_satisfy_the_schema() -> None:
    assert _schema_errors(_as_json(bundled_registry_path().read_text()), SCHEMA, SCHEMA) == []
    assert _schema_errors(_as_json(GOOD), SCHEMA, SCHEMA) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("    reason: is flaky\n", "    reasons: is flaky\n"),
        ("    os: darwin\n", "    os: macos\n"),
        ("    mechanism: ignore\n", "    mechanism: ignored\n"),
        ("    since: 2025-08-28\n", "    since: 28/08/2025\n"),
        ("    functions: [ci_unix_macos_run_tests]\n    reason", "    reason"),
        ("    platforms: null\n", "    functions: [ci_x]\n"),
        ("version: 1\n", "version: 2\n"),
    ],
)
def test_schema_rejects_what_the_loader_rejects(old: str, new: str) -> None:
    bad = GOOD.replace(old, new, 1)
    assert _schema_errors(_as_json(bad), SCHEMA, SCHEMA)
    with pytest.raises(RegistryError):
        parse_registry(bad)
