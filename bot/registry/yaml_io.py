"""Registry YAML text <-> `Registry`, with validation that names the file and line of every problem.

The file is edited by hand, so errors must point at the line to fix. PyYAML's composed node tree
keeps line marks, so validation walks nodes rather than the loaded dict; that is also how duplicate
mapping keys (which `yaml.safe_load` silently merges) are caught. The JSON Schema shipped beside the
bundled registry describes the same rules for editors; this module is what enforces them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path

import yaml

from bot.errors import RegistryError
from bot.registry.model import RUNNER_OSES, Entry, JobSpec, Mechanism, Registry, WorkflowSpec

FORMAT_VERSION = 1
TOP_KEYS = ("version", "repository", "workflow", "workflow_file", "jobs", "workflows", "entries")
WORKFLOW_KEYS = ("file", "name", "jobs")
JOB_KEYS = ("os", "runs_on", "functions", "places", "targets")
ENTRY_KEYS = (
    "test",
    "mechanism",
    "reason",
    "flaky",
    "functions",
    "platforms",
    "source",
    "places",
    "since",
    "until",
    "symptoms",
    "links",
    "notes",
)
#: Fields nobody can derive from upstream's files; `registry sync` must never drop them.
HAND_WRITTEN_FIELDS = ("symptoms", "links", "notes")
_FUNCTION_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PLATFORM_RE = re.compile(r"[a-z][a-z0-9]*\Z")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_SOURCE_RE = re.compile(r"[^\s:]+(:\d+(,\d+)*)?\Z")
#: A file holding run-tests.py arguments, or `<workflow file>:<job id>` for a workflow's run line.
_PLACE_RE = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_./-]*(:[A-Za-z0-9_-]+)?\Z")


def bundled_registry_path() -> Path:
    """The registry for micropython/micropython shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "data" / "micropython.yml"


class _Reader:
    """Walks composed YAML nodes, raising `RegistryError` with `file:line: problem`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, node: yaml.Node | None, problem: str) -> RegistryError:
        line = node.start_mark.line + 1 if node is not None else 1
        return RegistryError(f"{self.name}:{line}: {problem}")

    def mapping(self, node: yaml.Node, what: str, allowed: tuple[str, ...] | None) -> dict[str, yaml.Node]:
        """Keys of a mapping node; `allowed` None accepts any key (job names)."""
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                raise self.fail(key_node, f"{what} has a key that is not a string")
            if key in out:
                raise self.fail(key_node, f"duplicate key {key!r} in {what}")
            if allowed is not None and key not in allowed:
                raise self.fail(key_node, f"unknown key {key!r} in {what} (allowed: {', '.join(allowed)})")
            out[key] = value_node
        return out

    def scalar(self, node: yaml.Node, what: str) -> yaml.ScalarNode:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a single value")
        return node

    def is_null(self, node: yaml.Node) -> bool:
        return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"

    def string(self, node: yaml.Node, what: str, *, allow_empty: bool = True) -> str:
        scalar = self.scalar(node, what)
        if scalar.tag not in (
            "tag:yaml.org,2002:str",
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
        ) and not (scalar.tag == "tag:yaml.org,2002:timestamp"):
            raise self.fail(node, f"{what} must be text, not {scalar.value!r}")
        if not allow_empty and not scalar.value:
            raise self.fail(node, f"{what} must not be empty")
        return str(scalar.value)

    def boolean(self, node: yaml.Node, what: str) -> bool:
        scalar = self.scalar(node, what)
        if scalar.tag != "tag:yaml.org,2002:bool":
            raise self.fail(node, f"{what} must be true or false, not {scalar.value!r}")
        return scalar.value.lower() in ("true", "yes", "on")

    def integer(self, node: yaml.Node, what: str) -> int:
        scalar = self.scalar(node, what)
        if scalar.tag != "tag:yaml.org,2002:int":
            raise self.fail(node, f"{what} must be a whole number")
        return int(scalar.value)

    def day(self, node: yaml.Node, what: str) -> date | None:
        if self.is_null(node):
            return None
        value = self.scalar(node, what).value
        if not _DATE_RE.match(value):
            raise self.fail(node, f"{what} must be a date written YYYY-MM-DD, not {value!r}")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(node, f"{what} {value!r} is not a real date") from None

    def strings(self, node: yaml.Node, what: str, pattern: re.Pattern[str] | None = None) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        items = []
        for item in node.value:
            value = self.string(item, f"an item of {what}", allow_empty=False)
            if pattern is not None and not pattern.match(value):
                raise self.fail(item, f"{value!r} is not a valid item of {what}")
            if value in items:
                raise self.fail(item, f"{value!r} is listed twice in {what}")
            items.append(value)
        return tuple(items)

    def regex(self, node: yaml.Node, value: str, what: str) -> None:
        try:
            re.compile(value)
        except re.error as exc:
            raise self.fail(node, f"{what} {value!r} is not a valid regular expression: {exc}") from None


#: libyaml's loader when PyYAML was built with it: every command loads the registry, and the
#: pure-Python one costs several times as long. Both keep the line marks validation reports.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose(text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        if _FAST_LOADER is yaml.SafeLoader:
            raise
    # The pure-Python parser words its errors better ("found undefined alias 'x'"); errors are rare.
    return yaml.compose(text, Loader=yaml.SafeLoader)


def parse_registry(text: str, name: str = "<registry>") -> Registry:
    """Parse and validate registry text; `name` is used in error messages."""
    reader = _Reader(name)
    try:
        root = _compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise RegistryError(f"{name}:{line}: not valid YAML: {problem}") from None
    if root is None:
        raise RegistryError(f"{name}:1: the registry is empty")
    top = reader.mapping(root, "the registry", TOP_KEYS)
    if "version" not in top:
        raise reader.fail(root, "missing key 'version'")
    version = reader.integer(top["version"], "version")
    if version != FORMAT_VERSION:
        raise reader.fail(
            top["version"], f"unsupported registry version {version} (this flake-bot reads {FORMAT_VERSION})"
        )
    repository = reader.string(top["repository"], "repository") if "repository" in top else ""
    workflow = reader.string(top["workflow"], "workflow") if "workflow" in top else ""

    jobs = _jobs(reader, top["jobs"]) if "jobs" in top else {}
    workflow_file = reader.string(top["workflow_file"], "workflow_file") if "workflow_file" in top else ""
    workflows: list[WorkflowSpec] = []
    if "workflows" in top and not reader.is_null(top["workflows"]):
        node = top["workflows"]
        if not isinstance(node, yaml.SequenceNode):
            raise reader.fail(node, "workflows must be a list")
        for item in node.value:
            fields = reader.mapping(item, "a workflow", WORKFLOW_KEYS)
            if "file" not in fields:
                raise reader.fail(item, "a workflow needs 'file' (its file name under .github/workflows)")
            spec = WorkflowSpec(
                reader.string(fields["file"], "file", allow_empty=False),
                reader.string(fields["name"], "name") if "name" in fields else "",
                _jobs(reader, fields["jobs"]) if "jobs" in fields else {},
            )
            seen = [w.file for w in workflows] + ([workflow_file] if workflow_file else [])
            if any(spec.is_called(file) for file in seen):
                raise reader.fail(fields["file"], f"workflow {spec.file!r} is described twice")
            workflows.append(spec)

    entries: list[Entry] = []
    if "entries" in top and not reader.is_null(top["entries"]):
        node = top["entries"]
        if not isinstance(node, yaml.SequenceNode):
            raise reader.fail(node, "entries must be a list")
        entries = [_entry(reader, item) for item in node.value]
    _check_overlaps(reader, entries)
    return Registry(tuple(entries), jobs, repository, workflow, name, workflow_file, tuple(workflows))


def _jobs(reader: _Reader, node: yaml.Node) -> dict[str, JobSpec]:
    jobs: dict[str, JobSpec] = {}
    if reader.is_null(node):
        return jobs
    for job_name, job_node in reader.mapping(node, "jobs", None).items():
        fields = reader.mapping(job_node, f"job {job_name!r}", JOB_KEYS)
        if "os" not in fields:
            raise reader.fail(job_node, f"job {job_name!r} is missing key 'os'")
        os_name = reader.string(fields["os"], "os")
        if os_name not in RUNNER_OSES:
            raise reader.fail(fields["os"], f"os must be one of {', '.join(RUNNER_OSES)}, not {os_name!r}")
        jobs[job_name] = JobSpec(
            name=job_name,
            os=os_name,
            runs_on=reader.string(fields["runs_on"], "runs_on") if "runs_on" in fields else "",
            functions=reader.strings(fields["functions"], "functions", _FUNCTION_RE)
            if "functions" in fields
            else (),
            places=reader.strings(fields["places"], "places", _PLACE_RE) if "places" in fields else (),
            targets=reader.strings(fields["targets"], "targets") if "targets" in fields else (),
        )
    return jobs


def _entry(reader: _Reader, node: yaml.Node) -> Entry:
    fields = reader.mapping(node, "an entry", ENTRY_KEYS)
    for required in ("test", "mechanism"):
        if required not in fields:
            raise reader.fail(node, f"entry is missing key {required!r}")
    test = reader.string(fields["test"], "test", allow_empty=False)
    if "\n" in test or test != test.strip():
        raise reader.fail(fields["test"], f"test {test!r} must be one line without surrounding spaces")
    mechanism_text = reader.string(fields["mechanism"], "mechanism")
    try:
        mechanism = Mechanism(mechanism_text)
    except ValueError:
        choices = ", ".join(m.value for m in Mechanism)
        raise reader.fail(
            fields["mechanism"], f"mechanism must be one of {choices}, not {mechanism_text!r}"
        ) from None
    if mechanism is Mechanism.EXCLUDE:
        reader.regex(fields["test"], test, "test pattern")
        if "platforms" in fields:
            raise reader.fail(
                fields["platforms"], "an exclude entry applies to ci.sh functions, not platforms"
            )
        if "functions" not in fields and "places" not in fields:
            raise reader.fail(
                node,
                "an exclude entry needs 'functions' (the ci.sh functions whose --exclude has it) "
                "or 'places' (the Makefiles or workflow run lines that have it)",
            )
        functions = (
            reader.strings(fields["functions"], "functions", _FUNCTION_RE) if "functions" in fields else ()
        )
        places = reader.strings(fields["places"], "places", _PLACE_RE) if "places" in fields else ()
        if not functions and not places:
            raise reader.fail(
                fields.get("functions") or fields["places"], "functions must name at least one ci.sh function"
            )
        platforms = None
    else:
        for key in ("functions", "places"):
            if key in fields:
                raise reader.fail(
                    fields[key],
                    f"an {mechanism.value} entry applies to platforms, not ci.sh functions or files",
                )
        functions = places = ()
        platforms = None
        if "platforms" in fields and not reader.is_null(fields["platforms"]):
            platforms = reader.strings(fields["platforms"], "platforms", _PLATFORM_RE)
            if not platforms:
                raise reader.fail(
                    fields["platforms"], "platforms must be null (all) or name at least one platform"
                )
    symptoms = reader.strings(fields["symptoms"], "symptoms") if "symptoms" in fields else ()
    for item, value in zip(getattr(fields.get("symptoms"), "value", []), symptoms, strict=False):
        reader.regex(item, value, "symptom")
    source = reader.string(fields["source"], "source") if "source" in fields else ""
    if source and not _SOURCE_RE.match(source):
        raise reader.fail(fields["source"], f"source must look like path:line, not {source!r}")
    since = reader.day(fields["since"], "since") if "since" in fields else None
    until = reader.day(fields["until"], "until") if "until" in fields else None
    if since and until and until <= since:
        raise reader.fail(fields["until"], f"until ({until}) must be after since ({since})")
    return Entry(
        test=test,
        mechanism=mechanism,
        reason=reader.string(fields["reason"], "reason") if "reason" in fields else "",
        flaky=reader.boolean(fields["flaky"], "flaky") if "flaky" in fields else False,
        functions=functions,
        platforms=platforms,
        source=source,
        places=places,
        since=since,
        until=until,
        symptoms=symptoms,
        links=reader.strings(fields["links"], "links") if "links" in fields else (),
        notes=reader.string(fields["notes"], "notes") if "notes" in fields else "",
        line=node.start_mark.line + 1,
    )


def _overlap(a: Entry, b: Entry) -> bool:
    if a.mechanism is not b.mechanism or a.test != b.test:
        return False
    if a.mechanism is Mechanism.EXCLUDE:
        scopes = bool(set(a.functions) & set(b.functions) or set(a.places) & set(b.places))
    else:
        scopes = a.platforms is None or b.platforms is None or bool(set(a.platforms) & set(b.platforms))
    starts_before_b_ends = b.until is None or a.since is None or a.since < b.until
    ends_after_b_starts = a.until is None or b.since is None or b.since < a.until
    return scopes and starts_before_b_ends and ends_after_b_starts


def _check_overlaps(reader: _Reader, entries: list[Entry]) -> None:
    """Two entries saying the same thing for the same place and time make matching ambiguous."""
    for index, entry in enumerate(entries):
        for earlier in entries[:index]:
            if _overlap(entry, earlier):
                raise RegistryError(
                    f"{reader.name}:{entry.line}: duplicate entry: {entry.mechanism.value} {entry.test!r} "
                    f"overlaps the entry at line {earlier.line} in place and dates"
                )


def load_registry(path: str | Path | None = None) -> Registry:
    """Load and validate a registry file; None loads the bundled MicroPython registry."""
    file = Path(path) if path is not None else bundled_registry_path()
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        # the codec's own words ("can't decode byte 0xd0 in position 24") say nothing to a user
        what = "binary data" if b"\0" in exc.object[:4096] else "not UTF-8 text"
        raise RegistryError(f"{file}: cannot read registry: it is {what}, not a YAML registry") from None
    except OSError as exc:
        raise RegistryError(f"{file}: cannot read registry: {exc}") from None
    return _parsed(text, str(file))


@functools.lru_cache(maxsize=8)
def _parsed(text: str, name: str) -> Registry:
    """Keyed by the file's content, so an edited file is parsed again. A `Registry` is frozen,
    so one parse can be shared: a process that runs several commands (the test suite, the
    benchmarks) parsed the bundled registry, 30 KB of YAML, a few hundred times."""
    return replace(parse_registry(text, name), path=name)


_PLAIN_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./ ()@:,=+-]*\Z")


def _scalar(value: str) -> str:
    """A plain YAML scalar when it reads back as the same string, else a double-quoted one."""
    if _PLAIN_RE.match(value) and not value.endswith(" "):
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return yaml.safe_dump(value, default_style='"', width=10**9, allow_unicode=True).rstrip("\n")


def _list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(_scalar(v) for v in values) + "]"


HEADER = """\
# flake-bot known-flaky registry (format: docs/registry.md, schema: bot/data/registry.schema.json).
# `flake-bot registry sync` rewrites everything except symptoms, links and notes, which it keeps.
"""


def dump_registry(registry: Registry) -> str:
    """Deterministic YAML text that `parse_registry` reads back to an equal registry."""
    out = [HEADER, f"version: {FORMAT_VERSION}\n"]
    if registry.repository:
        out.append(f"repository: {_scalar(registry.repository)}\n")
    if registry.workflow:
        out.append(f"workflow: {_scalar(registry.workflow)}\n")
    if registry.workflow_file:
        out.append(f"workflow_file: {_scalar(registry.workflow_file)}\n")
    out.append("\njobs:\n" if registry.jobs else "\njobs: {}\n")
    out.extend(_dump_jobs(registry.jobs, "  "))
    if registry.workflows:
        out.append("\nworkflows:\n")
    for spec in registry.workflows:
        out.append(f"  - file: {_scalar(spec.file)}\n")
        if spec.name:
            out.append(f"    name: {_scalar(spec.name)}\n")
        out.append("    jobs:\n" if spec.jobs else "    jobs: {}\n")
        out.extend(_dump_jobs(spec.jobs, "      "))
    out.append("\nentries:\n" if registry.entries else "\nentries: []\n")
    for entry in registry.entries:
        out.append(f"  - test: {_scalar(entry.test)}\n    mechanism: {entry.mechanism.value}\n")
        if entry.mechanism is Mechanism.EXCLUDE:
            if entry.functions or not entry.places:
                out.append(f"    functions: {_list(entry.functions)}\n")
            if entry.places:
                out.append(f"    places: {_list(entry.places)}\n")
        else:
            platforms = "null" if entry.platforms is None else _list(entry.platforms)
            out.append(f"    platforms: {platforms}\n")
        out.append(f"    reason: {_scalar(entry.reason)}\n    flaky: {'true' if entry.flaky else 'false'}\n")
        if entry.source:
            out.append(f"    source: {_scalar(entry.source)}\n")
        out.append(f"    since: {entry.since.isoformat() if entry.since else 'null'}\n")
        if entry.until:
            out.append(f"    until: {entry.until.isoformat()}\n")
        if entry.symptoms:
            out.append("    symptoms:\n" + "".join(f"      - {_scalar(s)}\n" for s in entry.symptoms))
        if entry.links:
            out.append("    links:\n" + "".join(f"      - {_scalar(s)}\n" for s in entry.links))
        if entry.notes:
            out.append(f"    notes: {_scalar(entry.notes)}\n")
    return "".join(out)


def _dump_jobs(jobs: Mapping[str, JobSpec], indent: str) -> list[str]:
    out: list[str] = []
    for name, job in jobs.items():
        out.append(f"{indent}{_scalar(name)}:\n{indent}  os: {job.os}\n")
        if job.runs_on:
            out.append(f"{indent}  runs_on: {_scalar(job.runs_on)}\n")
        out.append(f"{indent}  functions: {_list(job.functions)}\n")
        if job.places:
            out.append(f"{indent}  places: {_list(job.places)}\n")
        if job.targets:
            out.append(f"{indent}  targets: {_list(job.targets)}\n")
    return out
