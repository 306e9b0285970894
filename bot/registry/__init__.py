"""The known-flaky registry: upstream's exclusion and ignore lists, matching, and exclusion patches."""

from bot.registry.model import Entry, JobSpec, Match, Mechanism, Registry, Verdict
from bot.registry.patch import PatchRefused, PatchResult, suggest_patch
from bot.registry.source import CheckoutTree, MemoryTree, SourceTree
from bot.registry.yaml_io import bundled_registry_path, dump_registry, load_registry, parse_registry

__all__ = [
    "CheckoutTree",
    "Entry",
    "JobSpec",
    "Match",
    "Mechanism",
    "MemoryTree",
    "PatchRefused",
    "PatchResult",
    "Registry",
    "SourceTree",
    "Verdict",
    "bundled_registry_path",
    "dump_registry",
    "load_registry",
    "parse_registry",
    "suggest_patch",
]
