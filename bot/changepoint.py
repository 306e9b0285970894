"""Did a test's failure rate rise at some run? A change-point test on one (test, job) history.

Pure statistics, no I/O. A race brought in by a commit makes a test that passed for hundreds of
runs fail now and then: its failures, alone between passes, look like an unlisted flake's, and
an ignore patch would hide the bug. What tells the two apart is *when* the failures happen: a
steady flake's are spread over the whole history, a new one's crowd after one point.

The test is conditional and exact. Given the history's `n` known outcomes and `k` failures,
under "the rate never changed" (any steady rate, whatever it is) every placement of the `k`
failures among the `n` executions is equally likely. For each candidate start point (each
failure that still has at least `MIN_FAILURES_AFTER - 1` failures after it), the p-value is the
chance that the failures from that one on crowd into the executions from it to the end at
least as much as they did: a hypergeometric tail. The smallest p-value, multiplied by the
number of candidate points (Bonferroni), is compared with `FALSE_ALARM`. So for a test flaky at
any steady rate, the chance of a "flaky since" verdict on one triage is at most `FALSE_ALARM`
(`bench/bench_verdicts.py` measures it, and the detector's delay, by simulation).

The triaged failure itself is not part of the sequence: it is why the question is asked, so
counting it would make the most recent stretch look worse than it is by selection alone.

Unknown outcomes (None: a failed job whose log expired, a green job whose log was not read for a
test the runner ignores) are filled in the way least favourable to a rise, separately for each
candidate start: failures before it, passes after it. The p-value only grows with either choice,
so the test stays valid whatever the unknowns were. This matters: GitHub keeps logs for 90 days,
so a flaky test's older failures are mostly unknown while its older passes (green jobs) are not;
dropping the unknowns would make every long-standing flake look newly flaky.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import exp, lgamma, log

#: The chance, for one triage of a test flaky at a steady rate, of calling it newly flaky.
FALSE_ALARM = 0.005
#: Failures after the start point (before the triaged one) needed to speak of a new flakiness:
#: the triaged failure is then at least the third; one or two are a streak's or a first failure's.
MIN_FAILURES_AFTER = 2
#: The start point's plausible range: every start whose log-likelihood is within this of the best
#: one (half the 95% point of a chi-squared with one degree of freedom, an approximation).
RANGE_DROP = 1.92


@dataclass(frozen=True)
class Onset:
    """Where the failure rate rose, as indices into the outcomes given to `onset`.

    `first_failure` is the first failure after the start; `earliest` the earliest start the data
    leave plausible, so the cause lies in the executions `earliest`..`first_failure` (the one
    right before `earliest`, if any, is the last one surely before the change).
    """

    first_failure: int
    earliest: int
    failures_before: int
    executions_before: int
    failures_after: int
    executions_after: int
    p_value: float  # corrected for the number of start points tried


def _log_comb(n: int, k: int) -> float:
    return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1)


def upper_tail(total: int, failures: int, draws: int, at_least: int) -> float:
    """P(X >= at_least) for X hypergeometric: `draws` executions taken from `total` of which
    `failures` failed. Summed in log space: the counts here run to thousands."""
    high = min(failures, draws)
    low = max(at_least, draws - (total - failures), 0)
    if low > high:
        return 0.0
    denom = _log_comb(total, draws)
    terms = [
        _log_comb(failures, x) + _log_comb(total - failures, draws - x) - denom for x in range(low, high + 1)
    ]
    top = max(terms)
    return min(1.0, exp(top) * sum(exp(t - top) for t in terms))


def _bernoulli_ll(failures: int, trials: int) -> float:
    """The log-likelihood of `failures` in `trials` at their own rate (0 for an empty or pure side)."""
    if failures in (0, trials):
        return 0.0
    p = failures / trials
    return failures * log(p) + (trials - failures) * log(1 - p)


def onset(
    failed: Sequence[bool | None], *, false_alarm: float = FALSE_ALARM, min_after: int = MIN_FAILURES_AFTER
) -> Onset | None:
    """The point where the failure rate of these outcomes (oldest first; None: unknown) rose
    significantly, or None. Only a rise counts: a flake that stopped, or one that never
    changed, gives None. The counts in the answer are of known outcomes."""
    positions = [i for i, f in enumerate(failed) if f]
    best = _best(failed, positions, min_after)
    if best is None or best[0] > false_alarm:
        return None
    corrected, j = best
    start = positions[j]
    n, k = len(failed), len(positions)
    unknown_before = sum(1 for f in failed[:start] if f is None)
    if (k - j) / (n - start) <= ((j + unknown_before) / start if start else 1.0):
        return None  # no rise after all (a history of failures only)
    known_before = sum(1 for f in failed[:start] if f is not None)
    return Onset(
        first_failure=start,
        earliest=_earliest(failed, start),
        failures_before=j,
        executions_before=known_before,
        failures_after=k - j,
        executions_after=sum(1 for f in failed[start:] if f is not None),
        p_value=corrected,
    )


def rise_p_value(failed: Sequence[bool | None], *, min_after: int = MIN_FAILURES_AFTER) -> float:
    """The corrected p-value `onset` compares with its threshold; 1 when there is no start point
    to try. A small one short of the threshold is a hint of a rise: reason to wait before
    proposing to ignore the test."""
    best = _best(failed, [i for i, f in enumerate(failed) if f], min_after)
    return 1.0 if best is None else best[0]


def _best(
    failed: Sequence[bool | None], positions: Sequence[int], min_after: int
) -> tuple[float, int] | None:
    """(corrected p-value, known failures before the start point) of the most significant start
    point, each tried with the unknowns before it counted as failures and those after it as
    passes (see the module's docstring)."""
    n, k = len(failed), len(positions)
    candidates = k - min_after + 1
    if candidates <= 0 or min_after <= 0:
        return None
    unknown_before = [0] * (n + 1)  # unknown_before[i]: unknowns at indices below i
    for i, f in enumerate(failed):
        unknown_before[i + 1] = unknown_before[i] + (f is None)
    tails = []
    for j in range(candidates):
        start = positions[j]
        total_failures = k + unknown_before[start]
        tails.append((upper_tail(n, total_failures, n - start, k - j), j))
    p, j = min(tails)
    return min(1.0, p * candidates), j


def _earliest(failed: Sequence[bool | None], start: int) -> int:
    """The earliest start at or before `start` whose two-rate likelihood stays within
    `RANGE_DROP` of the best such start's: the passes right before the first failure may already
    have come after the change (at a rate of a few percent, most executions pass). Unknowns are
    filled as for the test (failures before `start`, passes after), which can only widen the
    range where the cause lies."""
    filled = [bool(f) if f is not None else i < start for i, f in enumerate(failed)]
    n, k = len(filled), sum(filled)
    before = [0] * (start + 1)  # before[s]: failures at indices below s
    for s in range(1, start + 1):
        before[s] = before[s - 1] + filled[s - 1]
    ll = [_bernoulli_ll(before[s], s) + _bernoulli_ll(k - before[s], n - s) for s in range(start + 1)]
    best = max(ll)
    return min(s for s in range(start + 1) if ll[s] >= best - RANGE_DROP)
