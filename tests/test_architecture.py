"""Dependencies point inward: the pure core never reaches the network, a database or the CLI.

The rules are checked on the source with `ast`, so a forbidden import fails the suite the
moment it is written, whatever code path would (or would not) execute it.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest
from helpers.source import BOT, MODULES
from helpers.source import tree as _tree

NETWORK_AND_STORAGE = ("github", "requests", "urllib3", "urllib", "http", "socket", "sqlite3", "tenacity")
EDGE = ("bot.gateway", "bot.store", "bot.publish", "bot.actions_env", "bot.cli", "bot.commands")

# module prefix -> forbidden import prefixes
RULES: dict[str, tuple[str, ...]] = {
    "bot.records": (*NETWORK_AND_STORAGE, *EDGE, "bot.registry", "bot.render", "bot.triage", "jinja2"),
    "bot.errors": (*NETWORK_AND_STORAGE, *EDGE, "bot.registry", "bot.render", "bot.triage", "jinja2"),
    "bot.joblog": (*NETWORK_AND_STORAGE, *EDGE, "bot.registry", "bot.render", "bot.triage", "jinja2"),
    "bot.runners": (*NETWORK_AND_STORAGE, *EDGE, "bot.registry", "bot.render", "bot.triage", "jinja2"),
    "bot.parse": (*NETWORK_AND_STORAGE, *EDGE, "bot.registry", "bot.render", "bot.triage", "jinja2"),
    "bot.symptom": (*NETWORK_AND_STORAGE, *EDGE, "bot.registry", "bot.render", "bot.triage", "jinja2"),
    "bot.registry": (*NETWORK_AND_STORAGE, *EDGE, "bot.render", "bot.triage", "jinja2"),
    "bot.stats": (*NETWORK_AND_STORAGE, *EDGE, "bot.render", "jinja2"),
    "bot.clean_record": (*NETWORK_AND_STORAGE, *EDGE, "bot.render", "bot.triage", "jinja2"),
    "bot.changepoint": (*NETWORK_AND_STORAGE, *EDGE, "bot.registry", "bot.render", "bot.triage",
                        "bot.evidence", "jinja2"),
    "bot.evidence": (*NETWORK_AND_STORAGE, *EDGE, "bot.registry", "bot.render", "bot.triage", "jinja2"),
    "bot.across_jobs": (*NETWORK_AND_STORAGE, *EDGE, "bot.registry", "bot.render", "bot.triage", "jinja2"),
    "bot.spread": (*NETWORK_AND_STORAGE, *EDGE, "bot.render", "jinja2"),
    # the verdicts' table is the innermost of the judge's modules: it knows no finding, no rule, no word
    "bot.verdicts": (*NETWORK_AND_STORAGE, *EDGE, "bot.registry", "bot.render", "bot.triage", "bot.findings",
                     "bot.patch_rules", "bot.evidence", "jinja2"),
    "bot.findings": (*NETWORK_AND_STORAGE, *EDGE, "bot.render", "bot.triage", "bot.patch_rules", "jinja2"),
    "bot.patch_rules": (*NETWORK_AND_STORAGE, *EDGE, "bot.render", "bot.triage", "jinja2"),
    "bot.triage": (*NETWORK_AND_STORAGE, *EDGE, "bot.render", "jinja2"),
    "bot.render": (*NETWORK_AND_STORAGE, *EDGE),
    "bot.budget": (*NETWORK_AND_STORAGE, *EDGE, "bot.orchestrate", "bot.dashboard", "jinja2"),
    # the triage run's decisions are pure; the I/O around them may use every edge but the CLI
    "bot.orchestrate.decisions": (*NETWORK_AND_STORAGE, *EDGE, "bot.orchestrate.triage_run", "jinja2"),
    "bot.orchestrate.dashboard_decisions": (*NETWORK_AND_STORAGE, *EDGE, "bot.orchestrate.dashboard_run",
                                            "jinja2"),
    "bot.orchestrate.sync_decisions": (*NETWORK_AND_STORAGE, *EDGE, "bot.orchestrate.sync_run", "jinja2"),
    "bot.orchestrate": ("bot.cli", "bot.commands"),
    "bot.report": (*NETWORK_AND_STORAGE, "bot.gateway", "bot.publish", "bot.cli", "bot.commands"),
    "bot.dashboard.core": (*NETWORK_AND_STORAGE, *EDGE, "bot.render", "bot.report", "jinja2"),
    "bot.dashboard": (*NETWORK_AND_STORAGE, "bot.gateway", "bot.publish", "bot.cli", "bot.commands"),
    "bot.gateway": ("bot.render", "bot.publish", "bot.store", "bot.registry", "bot.triage", "bot.cli",
                    "bot.commands", "jinja2", "sqlite3"),
    "bot.store": ("bot.render", "bot.publish", "bot.cli", "bot.commands", "jinja2"),
    "bot.publish": ("bot.store", "bot.cli", "bot.commands", "jinja2", "sqlite3"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache  # two tests read every module; parsing them is most of this file's time
def _imports(path: Path, module: str) -> frozenset[str]:
    tree = _tree(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return frozenset(found)


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(BOT.parent)))
def test_imports_point_inward(path: Path) -> None:
    module = _module_name(path)
    forbidden = next((rules for prefix, rules in RULES.items() if _matches(module, prefix)), ())
    bad = sorted(
        name for name in _imports(path, module) for rule in forbidden if _matches(name, rule)
    )
    assert not bad, f"{module} must not import {bad}"


def test_rules_cover_a_forbidden_import(tmp_path: Path) -> None:
    """The checker itself must be able to fail: a pure module importing requests is caught."""
    fake = BOT / "runners" / "example.py"
    source = "import requests\nfrom ..gateway import client\n"
    path = tmp_path / "example.py"
    path.write_text(source)
    names = _imports(path, "bot.runners.example")
    assert {"requests", "bot.gateway", "bot.gateway.client"} <= names
    assert _module_name(fake) == "bot.runners.example"


def test_nothing_imports_the_cli_but_the_entry_points() -> None:
    offenders = [
        str(path.relative_to(BOT.parent))
        for path in MODULES
        if path.name not in {"cli.py", "__main__.py"}
        and any(_matches(name, "bot.cli") for name in _imports(path, _module_name(path)))
    ]
    assert not offenders


def _sets_test_flag(source: str | ast.Module) -> bool:
    """Whether a module (its source or its tree) assigns `__test__` anywhere (a class body included)."""
    tree = ast.parse(source) if isinstance(source, str) else source
    targets = (
        target
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
    )
    return any(isinstance(target, ast.Name) and target.id == "__test__" for target in targets)


def test_product_code_leaves_test_collection_to_pytest_config() -> None:
    """Records named Test* (TestHistory, TestFailure, ...) are kept out of collection by
    pyproject's `python_classes`, not by a `__test__ = False` the product would carry for pytest."""
    assert _sets_test_flag("class TestThing:\n    __test__ = False\n")
    assert not _sets_test_flag("class TestThing:\n    test: str = ''\n")
    offenders = [str(path.relative_to(BOT.parent)) for path in MODULES if _sets_test_flag(_tree(path))]
    assert not offenders


LAYERS = {"commands", "orchestrate", "render", "publish", "store", "gateway"}


def test_a_file_name_names_one_thing() -> None:
    """Two modules share a file name only when they are the same thing at two layers, the layer in
    the path (`triage.py` and `commands/triage.py`); `dashboard/evidence.py` beside `evidence.py`
    was a third meaning of "evidence" without a layer to tell it apart."""
    by_name: dict[str, list[Path]] = {}
    for path in MODULES:
        if path.name != "__init__.py":
            by_name.setdefault(path.name, []).append(path)
    unlayered = {
        name: [str(p.relative_to(BOT.parent)) for p in paths
               if p.parent != BOT and p.parent.name not in LAYERS]
        for name, paths in by_name.items() if len(paths) > 1
    }  # fmt: skip
    assert not {name: paths for name, paths in unlayered.items() if paths}


WIRING = {"GitHubGateway", "IssueGateway", "HistoryStore", "open_healing", "load_registry", "sync"}
WIRED_IN = ("bot.orchestrate.app", "bot.gateway", "bot.store", "bot.registry")


def _calls(path: Path) -> set[str]:
    return {
        node.func.id if isinstance(node.func, ast.Name) else node.func.attr
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute)
    }


def test_the_application_is_wired_in_one_place() -> None:
    """The gateway was built in five places, the store opened in seven and the sync wired three
    ways, and the copies drifted; now only `bot.orchestrate.app` builds them for a command."""
    offenders = {
        str(path.relative_to(BOT.parent)): sorted(_calls(path) & WIRING)
        for path in MODULES
        if not any(_matches(_module_name(path), prefix) for prefix in WIRED_IN)
    }
    assert not {path: calls for path, calls in offenders.items() if calls}


def test_only_actions_env_reads_the_environment() -> None:
    """`flake-bot sync` read `os.environ` for its token and missed the action's `github-token`
    input; every command now gets the environment from `bot.actions_env`, and every input through
    `bot.orchestrate.inputs`."""
    readers = {"environ", "getenv"}
    offenders = {
        str(path.relative_to(BOT.parent))
        for path in MODULES
        if path.name != "actions_env.py"
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Attribute) and node.attr in readers
    }
    assert not offenders
    inputs_read = {
        str(path.relative_to(BOT.parent))
        for path in MODULES
        if path.name not in {"actions_env.py", "inputs.py"} and ".input(" in path.read_text(encoding="utf-8")
    }
    assert not inputs_read
