"""A repository's files at one ref, read through the API: the patch writer's view of upstream.

The action never checks out the repository it triages (a fork's code must not run), yet the
patch writer needs `tools/ci.sh`, `tests/run-tests.py`, the workflow and the list of tests. This
satisfies the registry's `SourceTree` protocol structurally, so the gateway does not import the
registry, and it fetches each file once and only when a patch is actually written.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.gateway.client import GitHubGateway


class ApiTree:
    def __init__(self, gateway: GitHubGateway, ref: str) -> None:
        self._gateway = gateway
        self._ref = ref
        self._files: dict[str, str] = {}
        self._tests: list[str] | None = None

    def read_text(self, path: str) -> str:
        if path not in self._files:
            self._files[path] = self._gateway.get_file_text(path, self._ref)
        return self._files[path]

    def test_paths(self) -> Iterable[str]:
        """Test paths relative to tests/, as run-tests.py names them."""
        if self._tests is None:
            self._tests = [
                p.removeprefix("tests/")
                for p in self._gateway.list_tree_paths(self._ref, "tests/")
                if p.endswith(".py")
            ]
        return self._tests
