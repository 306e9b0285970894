"""The known-flaky registry: upstream's exclusion and ignore lists, matching, and exclusion patches."""

from bot.registry.model import Entry, JobSpec, Listing, Match, Mechanism, Registry
from bot.registry.patch import PatchRefused, PatchResult, suggest_patch
from bot.registry.source import CheckoutTree, MemoryTree, SourceTree
from bot.registry.yaml_io import bundled_registry_path, dump_registry, load_registry, parse_registry

__all__ = [
    "CheckoutTree",
    "Entry",
    "JobSpec",
    "Listing",
    "Match",
    "Mechanism",
    "MemoryTree",
    "PatchRefused",
    "PatchResult",
    "Registry",
    "SourceTree",
    "bundled_registry_path",
    "dump_registry",
    "load_registry",
    "parse_registry",
    "suggest_patch",
]
