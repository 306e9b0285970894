"""A repository's files at one ref, read through the API: the patch writer's view of upstream.

The action never checks out the repository it triages (a fork's code must not run), yet the
patch writer needs `tools/ci.sh`, `tests/run-tests.py`, the workflow and the list of tests. This
satisfies the registry's `SourceTree` protocol structurally, so the gateway does not import the
registry, and it fetches each file once and only when a patch is actually written.

A file that could not be read is remembered as such: every patch probes `.ruff.toml`,
`ruff.toml` and `pyproject.toml` for the line length, and upstream has only the last, so asking
again cost two 404s for every patch after the first (in the suite's dashboard test, a day with six
patches went from 31 requests to 11). Retries have already happened inside the gateway by the
time an error arrives here.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.errors import GatewayError
from bot.gateway.client import GitHubGateway


class ApiTree:
    def __init__(self, gateway: GitHubGateway, ref: str) -> None:
        self._gateway = gateway
        self._ref = ref
        self._files: dict[str, str | GatewayError] = {}
        self._tests: list[str] | None = None

    def read_text(self, path: str) -> str:
        if path not in self._files:
            try:
                self._files[path] = self._gateway.get_file_text(path, self._ref)
            except GatewayError as exc:
                self._files[path] = exc
        found = self._files[path]
        if isinstance(found, GatewayError):
            raise found.with_traceback(None)  # not one traceback grown by every caller
        return found

    def test_paths(self) -> Iterable[str]:
        """Test paths relative to tests/, as run-tests.py names them."""
        if self._tests is None:
            self._tests = [
                p.removeprefix("tests/")
                for p in self._gateway.list_tree_paths(self._ref, "tests/")
                if p.endswith(".py")
            ]
        return self._tests
