"""What publishing costs in requests, in one place: the triage run and the dashboard both keep
these back from log reading and the history sync, so that what they found gets out.

Pure numbers and sums; the commands decide when to spend.
"""

from __future__ import annotations

# Triage: PR lookup, comment list + write (+ re-list after a create), check-run list + create,
# the patch writer's files. One more is kept per 50 annotations (see bot.orchestrate.decisions).
TRIAGE_PUBLISH = 8

# The dashboard, besides the sync: repository and workflow listings are spent before it; kept
# back are the patch writer's three files and one per watched workflow, the base branch's head,
# the editors' history and permissions (2), the known pull requests' states (2), the issue read
# again, written, and re-listed after a create (3), and a margin of 2 for a retried create.
DASHBOARD_PUBLISH = 3 + 1 + 2 + 2 + 3 + 2
# One ticked entry's pull request: its two files at the base, per branch name tried a comparison
# and a pull-request listing, a tree, a commit, the ref, the comparison before opening, the
# opening itself.
PULL_REQUEST_REQUESTS = 2 + 2 + 3 + 1 + 1
# What finishing the issue needs once the pull requests are done: read again, write, re-list.
ISSUE_WRITE_REQUESTS = 3


def dashboard_reserve(workflows: int, ticked_boxes: int) -> int:
    """Requests the dashboard keeps back from its sync: publishing, plus a pull request for every
    ticked box (a box that is not honoured costs less; what is left goes to the next run)."""
    return DASHBOARD_PUBLISH + workflows + PULL_REQUEST_REQUESTS * max(0, ticked_boxes)
