"""Mutation testing of the verdict core: how much of each rule do the tests actually pin down?

The product's promise (never call a regression "flaky") rests on a few pure modules. This runs
mutmut (pinned below; configured in pyproject.toml's [tool.mutmut]) on them and prints, per
module, how many mutants the tests kill, the score, and every surviving mutant that is not
listed as equivalent in bench/mutation-equivalents.txt, with the line it changed. It exits 1
when a module scores under --min-score (the weekly workflow .github/workflows/mutation.yml runs
it so), and says which listed equivalents no longer match a surviving mutant.

    pip install mutmut==3.8.1
    python bench/mutation.py                      # every module: ~1,700 mutants, ~16 min on 2 shared cores
    python bench/mutation.py --module evidence    # one module (repeatable)
    python bench/mutation.py --no-run             # only score what mutants/ already holds

score = (killed + timeouts) / (mutants - listed equivalents). For bot/parse.py and
bot/registry/patch.py only the functions named below are scored (the completeness check and
the platform logic of ignore entries); the other modules, bot/registry/platforms.py (the
platform model) among them, are scored whole. mutmut 3 does not mutate @property
bodies, module constants or dataclass defaults: rules live in plain functions, and the
constants (KNOWN_FLAKE_STREAK, WIDESPREAD_JOBS, PatchPolicy's defaults) are pinned at their
boundary by tests/test_verdict_rules.py instead (docs/mutation.md).
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS = ROOT / "bench" / "mutation-equivalents.txt"
MUTMUT_VERSION = "3.8.1"


@dataclass(frozen=True)
class Module:
    name: str  # short name for --module
    path: str
    functions: tuple[str, ...] = ()  # mangled mutmut names (x_f, xǁClassǁmethod); empty: all

    @property
    def dotted(self) -> str:
        return self.path.removesuffix(".py").replace("/", ".")

    def patterns(self) -> list[str]:
        if not self.functions:
            return [f"{self.dotted}.*"]
        return [f"{self.dotted}.{f}__mutmut_*" for f in self.functions]

    def selects(self, mutant: str) -> bool:
        function = mutant.removeprefix(self.dotted + ".").rsplit("__mutmut_", 1)[0]
        return not self.functions or function in self.functions


MODULES = (
    Module("evidence", "bot/evidence.py"),
    Module("triage", "bot/triage.py"),
    Module("verdicts", "bot/verdicts.py"),
    Module("findings", "bot/findings.py"),
    Module("patch_rules", "bot/patch_rules.py"),
    Module(
        "verdict_words",
        "bot/render/verdict_words.py",
        ("x_headline", "x__settled", "x_breakdown"),
    ),
    Module("decisions", "bot/orchestrate/decisions.py"),
    Module(
        "parse",
        "bot/parse.py",
        (
            "xǁJobParserǁ_close_invocation",
            "xǁJobParserǁ_add_failure",
            "xǁJobParserǁ_problem",
            "xǁJobParserǁ_attach_print_failures",
            "xǁJobParserǁreport",
        ),
    ),
    Module(
        "patch",
        "bot/registry/patch.py",
        (
            "x_validate_platforms",
            "x__platforms_text",
            "x__on",
            "x__ignore_update",
            "x__ignore_remove",
            "x__check_ignore",
            "xǁ_Requestǁoses",
            "x__ignore_oses",
            "x__reach",
            "xǁ_Reachǁalso",
        ),
    ),
    Module("platforms", "bot/registry/platforms.py"),
)

KILLED = {1, 3, 24, -24, 36}  # a failing test, pytest's internal error, or a timeout (SIGXCPU)
SURVIVED = {0}


@dataclass
class Tally:
    module: Module
    total: int = 0
    killed: int = 0
    equivalent: int = 0
    other: dict[str, int] = field(default_factory=dict)  # no tests, suspicious, not checked
    survivors: list[tuple[str, str]] = field(default_factory=list)  # (mutant, its diff)

    @property
    def score(self) -> float:
        judged = self.total - self.equivalent
        return 100.0 if judged <= 0 else 100.0 * self.killed / judged


def load_equivalents(path: Path = EQUIVALENTS) -> dict[tuple[str, str], str]:
    """(function, the mutated line as it reads after the mutation) -> why no test can tell.

    Keyed by the changed line, not by mutmut's mutant number: the numbers shift whenever a
    function changes, the line does not."""
    out: dict[tuple[str, str], str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = [p.strip() for p in raw.split(" ;; ")]
        if len(parts) != 3 or not all(parts):
            sys.exit(f"{path.name}:{number}: expected 'function ;; mutated line ;; reason'")
        out[(parts[0], parts[1])] = parts[2]
    return out


def _functions(path: Path) -> dict[str, list[str]]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    out = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and "__mutmut_" in node.name:
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            out[node.name] = lines[start - 1 : node.end_lineno]
    return out


def mutated_lines(functions: dict[str, list[str]], mutant: str) -> tuple[str, list[str]]:
    """The mutant's function (module-qualified) and its diff against the original, as lines."""
    module, name = mutant.rsplit(".", 1)
    base = name.rsplit("__mutmut_", 1)[0]
    original = [line.replace(f"{base}__mutmut_orig", base) for line in functions[f"{base}__mutmut_orig"]]
    changed = [line.replace(name, base) for line in functions[name]]
    diff = [
        line
        for line in difflib.unified_diff(original, changed, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    return f"{module}.{base}", diff


def tally(module: Module, equivalents: dict[tuple[str, str], str], used: set[tuple[str, str]]) -> Tally:
    meta = ROOT / "mutants" / (module.path + ".meta")
    result = Tally(module)
    if not meta.exists():
        return result
    codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    functions = _functions(ROOT / "mutants" / module.path)
    for mutant, code in sorted(codes.items(), key=lambda kv: _natural(kv[0])):
        if not module.selects(mutant):
            continue
        result.total += 1
        if code in KILLED:
            result.killed += 1
            continue
        qualified, diff = mutated_lines(functions, mutant)
        added = " / ".join(line[1:].strip() for line in diff if line.startswith("+")) or "(line removed)"
        if code in SURVIVED and (qualified, added) in equivalents:
            result.equivalent += 1
            used.add((qualified, added))
            continue
        if code in SURVIVED:
            result.survivors.append((mutant, "\n".join(f"      {line.strip()}" for line in diff)))
        else:
            status = {33: "no tests", 5: "no tests", 34: "skipped", None: "not checked"}.get(
                code, "suspicious"
            )
            result.other[status] = result.other.get(status, 0) + 1
            result.survivors.append((f"{mutant} ({status})", ""))
    return result


def _natural(name: str) -> tuple[str, int]:
    base, _, number = name.rpartition("__mutmut_")
    return base, int(number) if number.isdigit() else 0


def run_mutmut(modules: list[Module], max_children: int) -> None:
    # mutmut keeps which tests reach which function between runs; a function added since is then
    # "not covered by any test". Collecting that again costs one run of the selected tests.
    (ROOT / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    patterns = [p for m in modules for p in m.patterns()]
    command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children), *patterns]
    print("$", " ".join(command[2:]), flush=True)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-4000:], sep="\n")
        sys.exit(f"mutmut exited with {done.returncode}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", choices=[m.name for m in MODULES],
                        help="score only this module (repeatable; default: all)")  # fmt: skip
    parser.add_argument("--min-score", type=float, default=95.0, help="fail under this score (default 95)")
    parser.add_argument("--max-children", type=int, default=2, help="mutmut workers (default 2)")
    parser.add_argument("--no-run", action="store_true", help="score the results already in mutants/")
    args = parser.parse_args(argv)
    modules = [m for m in MODULES if not args.module or m.name in args.module]

    try:
        from importlib.metadata import version

        found = version("mutmut")
    except Exception:
        found = None
    if found != MUTMUT_VERSION and not args.no_run:
        sys.exit(f"mutmut {MUTMUT_VERSION} is needed (found {found}): pip install mutmut=={MUTMUT_VERSION}")
    if not args.no_run:
        run_mutmut(modules, args.max_children)

    equivalents = load_equivalents()
    used: set[tuple[str, str]] = set()
    tallies = [tally(m, equivalents, used) for m in modules]
    print(f"\n{'module':<30} {'mutants':>7} {'killed':>6} {'equiv':>5} {'survived':>8} {'score':>7}")
    for t in tallies:
        print(f"{t.module.path:<30} {t.total:>7} {t.killed:>6} {t.equivalent:>5} "
              f"{len(t.survivors):>8} {t.score:>6.1f}%")  # fmt: skip
    for t in tallies:
        if t.survivors:
            print(f"\nSurvivors in {t.module.path} (kill them, or list them in {EQUIVALENTS.name}):")
            for mutant, diff in t.survivors:
                print(f"  {mutant}\n{diff}" if diff else f"  {mutant}")
    checked = {m.dotted for m in modules}
    stale = [k for k in equivalents if k not in used and k[0].rsplit(".", 1)[0] in checked]
    for function, line in stale:
        print(f"\nstale in {EQUIVALENTS.name} (no surviving mutant reads so): {function} ;; {line}")
    failing = [t for t in tallies if t.total == 0 or t.score < args.min_score]
    for t in failing:
        print(f"\n{t.module.path}: " + ("no mutation results" if t.total == 0 else
              f"score {t.score:.1f}% is under {args.min_score:g}%"))  # fmt: skip
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
