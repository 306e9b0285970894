"""The dashboard's read model: the report's tallies (`bot.store.tallies`), and the runners each
failure came from (only run-tests.py's failures can be patched into upstream's lists).
"""

from __future__ import annotations

from bot.store.schema import (
    Window,
)
from bot.store.tallies import ReportReads


class DashboardReads(ReportReads):
    """The dashboard's read model."""

    def failure_runners(self, window: Window = Window()) -> dict[tuple[str, str], frozenset[str]]:
        """(test, job) -> the test runners its failures came from (run-tests, run-multitests...):
        upstream's flaky lists cover run-tests.py only, so only its failures can be patched there."""
        where, params = self._where(window)
        rows = self._db.execute(
            f"""SELECT o.test, o.job, group_concat(DISTINCT o.runner)
                FROM outcomes o JOIN runs r ON r.id = o.run_id
                WHERE {where} GROUP BY o.test, o.job""",
            params,
        )
        return {(str(t), str(j)): frozenset(str(r or "").split(",")) for t, j, r in rows}
