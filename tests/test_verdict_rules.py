"""Every verdict rule at its boundary: a row just inside and a row just outside each rule.

Each row is a sentence of docs/output.md ("Verdicts", "The evidence", "Suggested patches") with
a small written history, and asserts both the verdict and whether a patch is offered, so that
the docs and the tests say the same thing and a mutant that moves a boundary changes a row
(bench/mutation.py measures that).

A history is a string, oldest execution first, one execution of the job per day, each on its
own commit (`shas` names one per execution instead; `c` is the triaged run's own commit):

    P  green job: the test passed
    p  failed job whose log was read whole, past the build, without this test: passed
    F  failed the usual way            X  failed another way
    ?  failed job whose log expired: unknown
    T  failed job whose log was read but cut short: unknown
    B  failed job whose log was read whole but stopped at the build: unknown
    E  the registry excluded the test from the job that day: not an execution at all
    I  green job on a day run-tests.py ignored the test, log not read: unknown
    i  the same day, with the log read whole: passed

The triaged run fails the usual way one day after the last execution. Its rates are a long
history's (20 failures in 600 executions of the job), with "executions since the last failure"
taken from the string, so a patch is offered exactly when the verdict and the patch rules allow.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.evidence import JobRecord, RunRef, Streak, TestHistory, assess, executions, is_intermittent
from bot.findings import JobInput, Note, NoteReason, TriageReport
from bot.patch_rules import PATCH_STEADY_P, PatchPolicy, looks_persistent, rising, write_patches
from bot.records import (
    FlakeRate,
    JobInfo,
    JobReport,
    LogState,
    Outcome,
    Problem,
    ProblemKind,
    RunInfo,
    Runner,
    TestFailure,
)
from bot.registry.model import Entry, JobSpec, Mechanism, Registry
from bot.render.verdict_words import breakdown
from bot.triage import triage
from bot.verdicts import Counts, Verdict

TEST = "basics/t.py"
USUAL = "expected 'a' got 'b'"
DAY0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SHA = "c" * 40
JOBS = {
    name: JobSpec(name, "linux", functions=(f"ci_unix_{name}_run_tests",))
    for name in ("standard", "qemu_arm", "nanbox")
}
#: Listed for every job on every day: a known flake (run-tests.py ignores its failures).
LISTED = Entry(TEST, Mechanism.IGNORE, reason="timing", flaky=True)
DEFAULT_POLICY = PatchPolicy()
#: Listed with symptom patterns: the patterns, not the history, say what is usual.
PATTERNED = replace(LISTED, symptoms=(r"^timeout",))
JOB = "standard"
WORKFLOW = ".github/workflows/ports_unix.yml"


def at(day: int) -> datetime:
    return DAY0 + timedelta(days=day)


def records(
    pattern: str,
    job: str = "standard",
    *,
    shas: str | None = None,
    symptom: str = USUAL,
    first_run: int = 1000,
) -> tuple[JobRecord, ...]:
    out = []
    for i, mark in enumerate(pattern):
        failed = mark in "FX"
        read = mark in "FXpTBi"
        out.append(
            JobRecord(
                run_id=first_run + i,
                attempt=1,
                sha=shas[i] * 40 if shas else f"{i + 1:x}".ljust(40, "0"),
                created=at(i),
                job=job,
                conclusion="success" if mark in "PEIi" else "failure",
                log_read=read,
                log_complete=read and mark != "T",
                past_build=read and mark != "B",
                failed=failed,
                symptom=(symptom if mark == "F" else "other way") if failed else "",
            )
        )
    return tuple(out)


def registry(pattern: str, *entries: Entry) -> Registry:
    """The jobs, the given entries, and one entry per `E` or `I` day in force that day only."""
    days = []
    for i, mark in enumerate(pattern):
        day = at(i).date()
        if mark == "E":
            days.append(Entry(TEST, Mechanism.EXCLUDE, reason="slow", functions=(f"ci_unix_{JOB}_run_tests",),
                              since=day, until=day + timedelta(days=1)))  # fmt: skip
        elif mark in "Ii":
            days.append(Entry(TEST, Mechanism.IGNORE, reason="flaky", flaky=True, platforms=("linux",),
                              since=day, until=day + timedelta(days=1)))  # fmt: skip
    return Registry(entries=(*entries, *days), jobs=JOBS)


def since_last(pattern: str) -> int | None:
    known = pattern.replace("E", "")
    last = max(known.rfind("F"), known.rfind("X"))
    return None if last < 0 else len(known) - 1 - last


@dataclass(frozen=True)
class Judged:
    report: TriageReport

    @property
    def verdict(self) -> Verdict:
        return self.report.findings[0].verdict

    @property
    def patched(self) -> bool:
        return bool(self.report.candidates)

    @property
    def notes(self) -> set[NoteReason]:
        return {n.reason for n in self.report.notes}


def judge(
    pattern: str,
    *,
    symptom: str = USUAL,
    shas: str | None = None,
    jobs: tuple[str, ...] = ("standard",),
    entries: tuple[Entry, ...] = (),
    here: tuple[JobRecord, ...] = (),
    elsewhere: tuple[JobRecord, ...] = (),
    default_branch: bool = False,
    on_default: bool = True,
    run_id: int = 5000,
    attempt: int = 1,
    runner: Runner = Runner.RUN_TESTS,
    history_symptom: str = USUAL,
    policy: PatchPolicy = DEFAULT_POLICY,
    rate: FlakeRate | None = None,
    ignored: bool = False,
    conclusion: str = "failure",
    same_commit: tuple[JobRecord, ...] = (),
) -> Judged:
    created = at(len(pattern))
    run = RunInfo(
        id=run_id, attempt=attempt, workflow_name="unix port", workflow_path=WORKFLOW,
        event="push", branch="master", head_sha=SHA, head_repo=None, created_at=created, status="completed",
        conclusion="failure", html_url=f"https://github.com/micropython/micropython/actions/runs/{run_id}",
    )  # fmt: skip
    failure = TestFailure(TEST, runner, Outcome.FAIL, symptom=symptom, ignored=ignored)
    inputs = [
        JobInput(JobInfo(i + 1, run_id, attempt, name, "completed", conclusion), LogState.PARSED,
                 JobReport(name, True, failures=(failure,)))
        for i, name in enumerate(jobs)
    ]  # fmt: skip
    found = TestHistory(
        here=(
            *(r for name in jobs for r in records(pattern, name, shas=shas, symptom=history_symptom)),
            *here,
        ),
        elsewhere=elsewhere,
        default_branch=default_branch,
        same_commit=same_commit,
    )

    def rates(test: str, job: str | None) -> FlakeRate:
        return rate or FlakeRate(test, job, 20, 600, 0.01, 0.05, since_last=since_last(pattern))

    def history(test: str, job: str) -> TestHistory | None:
        """The run's jobs share the written history; another job's is its own records."""
        if test != TEST:  # the store is asked about the failing test, by its name
            return None
        if job in jobs:
            return found
        return TestHistory(here=tuple(r for r in (*here, *elsewhere) if r.job == job))

    report = triage(
        run, inputs, registry(pattern, *entries), rates=rates, history=history,
        patch_policy=policy, on_default_branch=on_default,
    )  # fmt: skip
    return Judged(report)


# Rows: (the docs' sentence, history, verdict, patch offered, options for `judge`).
ROWS = [
    # -- no history, first failure
    ("new: no history of this job to judge by", "", Verdict.NEW, False, {}),
    ("days the test was excluded are not executions: still no history", "EE", Verdict.NEW, False, {}),
    ("first failure here: the store has executions of this job, and none failed", "PPPP",
     Verdict.FIRST_FAILURE, False, {}),
    ("executions of unknown outcome are executions too: first failure, not new", "??", Verdict.FIRST_FAILURE,
     False, {}),
    ("... also beside as many known ones", "P?", Verdict.FIRST_FAILURE, False, {}),
    ("one earlier failure alone between passes is a flake's", "PFPPP", Verdict.UNLISTED_FLAKE, True, {}),
    # -- intermittency: alone between passes, no row of more than two
    ("unlisted flake: each failure alone between passes", "PPFPPFPP", Verdict.UNLISTED_FLAKE, True, {}),
    ("unlisted flake: a row of two besides a lone failure is still a flake's", "PPFPPFFPP",
     Verdict.UNLISTED_FLAKE, True, {}),
    ("failed before: a row of three is not a flake's", "PPFPPFFFPP", Verdict.FAILED_BEFORE, False, {}),
    ("failed before: rows of two and never alone between passes", "PPFFPPPP", Verdict.FAILED_BEFORE, False,
     {}),
    ("failed before: an unknown outcome right before its failure, so not alone", "PP?FPP",
     Verdict.FAILED_BEFORE, False, {}),
    ("failed before: an unknown outcome right after its failure, so not alone", "PPF?PP",
     Verdict.FAILED_BEFORE, False, {}),
    ("a truncated log after a failure is unknown too, not a pass", "PPFTPP", Verdict.FAILED_BEFORE, False,
     {}),
    ("a log that stopped at the build is unknown too, not a pass", "PPFBPP", Verdict.FAILED_BEFORE, False,
     {}),
    ("a failed job whose whole log lacks the test is a pass", "PPFpPP", Verdict.UNLISTED_FLAKE, True, {}),
    ("an unknown outcome away from the failure changes nothing", "PPFPP?PP", Verdict.UNLISTED_FLAKE, True,
     {}),
    # -- the streak: failing in its latest execution(s), no pass since
    ("likely regression: it also failed in its latest execution here", "PPPF", Verdict.REGRESSION, False, {}),
    ("an earlier flake that also failed in its latest execution: likely regression", "PPFPPF",
     Verdict.REGRESSION, False, {}),
    ("a truncated log does not break a streak", "PPPFT", Verdict.REGRESSION, False, {}),
    ("... but a whole log without the test does", "PPPFp", Verdict.UNLISTED_FLAKE, True, {}),
    ("an expired log does not break a streak", "PPPF?", Verdict.REGRESSION, False, {}),
    ("never passed in the stored window: a streak as long as the window", "FFF", Verdict.REGRESSION, False,
     {}),
    ("also failing on the default branch: a pull request, the default branch's history failing",
     "PPPF", Verdict.ON_DEFAULT_BRANCH, False, {"default_branch": True, "on_default": False}),
    ("on a push, the default branch's own streak is this run's regression", "PPPF", Verdict.REGRESSION, False,
     {"default_branch": True, "on_default": True}),
    ("a pull request judged against all runs: a streak is a regression", "PPPF", Verdict.REGRESSION, False,
     {"default_branch": False, "on_default": False}),
    # -- the test excluded or ignored that day (the registry in force on each day)
    ("a day the test was excluded is not a pass: the failure before it is the latest", "PPPFE",
     Verdict.REGRESSION, False, {}),
    ("... and executions after an excluded day still count", "PEPFPPFPP", Verdict.UNLISTED_FLAKE, True, {}),
    ("a green job on a day run-tests.py ignored the test is unknown, not a pass", "PPPFI", Verdict.REGRESSION,
     False, {}),
    ("... unless its log was read whole", "PPPFi", Verdict.UNLISTED_FLAKE, True, {}),
    # -- same-commit flips
    ("proven flaky: it passed on this very commit", "FFFP", Verdict.PROVEN_FLAKY, True, {"shas": "abdc"}),
    ("the same history on another commit is rows of failures", "FFFP", Verdict.FAILED_BEFORE, False,
     {"shas": "abde"}),
    ("proven flaky wins over a streak, but no patch: it failed in its latest execution", "PPF",
     Verdict.PROVEN_FLAKY, False, {"shas": "acb"}),
    ("failing twice on this commit proves nothing: a streak", "PFF", Verdict.REGRESSION, False,
     {"shas": "acc"}),
    ("unlisted flake: it flipped on an earlier commit", "PFFFPFPP", Verdict.UNLISTED_FLAKE, True,
     {"shas": "abhdeffg"}),
    ("the same rows without the flip: failed before", "PFFFPFPP", Verdict.FAILED_BEFORE, False,
     {"shas": "abhdefgk"}),
    ("failing twice on one earlier commit is no flip", "PFFFPFFP", Verdict.FAILED_BEFORE, False,
     {"shas": "abhdeffg"}),
    # -- symptoms: new way
    ("failing in a new way: never with this symptom before", "PPFPPFPP", Verdict.NEW_WAY, False,
     {"symptom": "CRASH: KeyError"}),
    ("a failure without a symptom is not a new way", "PPFPPFPP", Verdict.UNLISTED_FLAKE, True,
     {"symptom": ""}),
    ("earlier failures without symptoms cannot make a new way", "PPFPPFPP", Verdict.UNLISTED_FLAKE, True,
     {"symptom": "CRASH", "history_symptom": ""}),
    ("a new way wins over a streak", "PPPF", Verdict.NEW_WAY, False, {"symptom": "CRASH"}),
    ("a new way wins over a pass on this commit", "PPFP", Verdict.NEW_WAY, False,
     {"symptom": "CRASH", "shas": "abdc"}),
    # -- newly flaky: the rate rose after a quiet stretch (bot/changepoint.py)
    ("newly flaky: failing now and then since an earlier run, after a quiet stretch", "P" * 30 + "FPFPFPFP",
     Verdict.NEWLY_FLAKY, False, {}),
    ("... a likely regression when it also failed in its latest execution", "P" * 30 + "FPFPFPFF",
     Verdict.REGRESSION, False, {}),
    ("a rise of three failures is not yet newly flaky: an unlisted flake, whose recent failures get a note, "
     "no patch", "P" * 30 + "FPFPFP", Verdict.UNLISTED_FLAKE, False, {}),
    # -- flaky in other jobs, first time here
    ("flaky in other jobs, first time here: alone between passes there and passed since, no patch",
     "PPPPPPPP", Verdict.FLAKY_OTHER_JOBS, False,
     {"elsewhere": records("PPFPPFPP", "qemu_arm", first_run=2000)}),
    ("... a row of two there is still a flake's", "PPPPPPPP", Verdict.FLAKY_OTHER_JOBS, False,
     {"elsewhere": records("PPFPPFFP", "qemu_arm", first_run=2000)}),
    ("... but not when it has not passed there since its last failure: first failure", "PPPPPPPP",
     Verdict.FIRST_FAILURE, False, {"elsewhere": records("PPFPPFPF", "qemu_arm", first_run=2000)}),
    ("... only a row of two there is not a flake's...", "PPPPPPPP", Verdict.FIRST_FAILURE, False,
     {"elsewhere": records("PPFFPPPP", "qemu_arm", first_run=2000)}),
    ("... unless it failed and passed on one commit there (Evidence.flipped)", "PPPPPPPP",
     Verdict.FLAKY_OTHER_JOBS,
     False, {"elsewhere": records("PPFFPPPP", "qemu_arm", first_run=2000, shas="abcddfgh")}),
    ("... nor when it fails there in a row of three", "PPPPPPPP", Verdict.FIRST_FAILURE, False,
     {"elsewhere": records("PPFFFPPP", "qemu_arm", first_run=2000)}),
    ("... and a streak here wins", "PPPPPPPF", Verdict.REGRESSION, False,
     {"elsewhere": records("PPFPPFPP", "qemu_arm", first_run=2000)}),
    # -- several jobs at once
    ("failing in two jobs of the run: still a flake each", "PPFPPFPP", Verdict.UNLISTED_FLAKE, True,
     {"jobs": ("standard", "qemu_arm")}),
    ("failing in several jobs at once: three jobs", "PPFPPFPP", Verdict.SEVERAL_JOBS, False,
     {"jobs": ("standard", "qemu_arm", "nanbox")}),
    ("several jobs at once is said even of a test that flipped", "PFFFPFPP", Verdict.SEVERAL_JOBS, False,
     {"jobs": ("standard", "qemu_arm", "nanbox"), "shas": "abhdeffg"}),
    ("a first failure in several jobs is a first failure", "PPPP", Verdict.FIRST_FAILURE, False,
     {"jobs": ("standard", "qemu_arm", "nanbox")}),
    # -- known flakes (listed for the job on the run's date)
    ("known flake here: listed, and it did not also fail in its last two executions", "iiiF",
     Verdict.KNOWN_FLAKE, False, {"entries": (LISTED,)}),
    ("a known flake that also failed in its last two executions: likely regression", "iiFF",
     Verdict.REGRESSION, False, {"entries": (LISTED,)}),
    ("... its last two with an unknown outcome between", "iiF?F", Verdict.REGRESSION, False,
     {"entries": (LISTED,)}),
    ("... its last two with a cut log between", "iiFTF", Verdict.REGRESSION, False, {"entries": (LISTED,)}),
    ("... and on a pull request, failing on the default branch", "iiFF", Verdict.ON_DEFAULT_BRANCH, False,
     {"entries": (LISTED,), "default_branch": True, "on_default": False}),
    ("a whole log without the test between breaks a known flake's streak", "iiFpF", Verdict.KNOWN_FLAKE,
     False,
     {"entries": (LISTED,)}),
    ("a listed test's green jobs are unknown unless their logs were read: never passed", "PPF",
     Verdict.KNOWN_FLAKE, False, {"entries": (LISTED,)}),
    ("... so two failures among them are a streak", "PPFF", Verdict.REGRESSION, False,
     {"entries": (LISTED,)}),
    ("known flake failing in a new way: without patterns, unlike every symptom in the history", "iiFi",
     Verdict.NEW_SYMPTOM, False, {"entries": (LISTED,), "symptom": "CRASH"}),
    ("a known flake's registry patterns decide its symptoms, not the history", "iiFi", Verdict.KNOWN_FLAKE,
     False, {"entries": (PATTERNED,), "symptom": "timeout 2",
             "history_symptom": "timeout 1"}),
    ("... and a symptom against the patterns is a new one", "iiFi", Verdict.NEW_SYMPTOM, False,
     {"entries": (PATTERNED,), "symptom": "CRASH", "history_symptom": "CRASH"}),
    ("a known flake failing in two jobs is still a known flake", "iiii", Verdict.KNOWN_FLAKE, False,
     {"entries": (LISTED,), "jobs": ("standard", "qemu_arm")}),
    ("known flaky test failing in several jobs at once: three jobs", "iiii", Verdict.WIDESPREAD, False,
     {"entries": (LISTED,), "jobs": ("standard", "qemu_arm", "nanbox")}),
    ("flaky elsewhere: listed for other jobs only, no history here", "", Verdict.FLAKY_ELSEWHERE, False,
     {"entries": (replace(LISTED, platforms=("darwin",)),)}),
    ("listed for other jobs only, with a history here: the history decides", "PPFPPFPP",
     Verdict.UNLISTED_FLAKE,
     True, {"entries": (replace(LISTED, platforms=("darwin",)),)}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("sentence", "pattern", "kind", "patched", "options"), ROWS, ids=[r[0] for r in ROWS]
)
def test_each_rule_at_its_boundary(
    sentence: str, pattern: str, kind: Verdict, patched: bool, options: dict[str, object]
) -> None:
    judged = judge(pattern, **options)  # type: ignore[arg-type]
    assert {f.verdict for f in judged.report.findings} == {kind}, sentence
    assert judged.patched is patched, sentence
    n = len(judged.report.findings)
    counted = {COUNTED[kind]: n, **({"unlisted_flakes": n} if kind is Verdict.PROVEN_FLAKY else {})}
    assert judged.report.counts.as_json() == counts_json(
        failures=n, jobs_failed=n, needs_look=0 if kind in NO_LOOK else n, **counted
    ), sentence


#: The docs' "needs a look: no" verdicts (the table's last column), written out rather than taken
#: from `bot.triage.SETTLED`, so that the constant is pinned too.
NO_LOOK = {
    Verdict.KNOWN_FLAKE,
    Verdict.PROVEN_FLAKY,
    Verdict.UNLISTED_FLAKE,
    Verdict.ON_DEFAULT_BRANCH,
    Verdict.FLAKY_OTHER_JOBS,
}
def counts_json(**fields: int) -> dict[str, int]:
    """The `counts` object of `triage --json` with these keys set and every other at 0."""
    return {**dict.fromkeys(COUNTS_KEYS, 0), **fields}


#: The keys of the `counts` object, written out so that its shape is pinned.
COUNTS_KEYS = (
    "failures", "jobs_failed", "needs_look", "known_flakes", "proven_flaky", "unlisted_flakes",
    "flaky_other_jobs", "on_default_branch", "ignored", "regressions", "new_way", "first_failures",
    "several_jobs", "failed_before", "newly_flaky", "hidden_regressions", "new", "new_symptom",
    "widespread", "flaky_elsewhere", "not_a_test_failure", "unreadable_logs", "problems",
)  # fmt: skip
#: The `counts` key each verdict adds to (proven flaky adds to unlisted flakes too).
COUNTED = {
    Verdict.KNOWN_FLAKE: "known_flakes", Verdict.NEW_SYMPTOM: "new_symptom", Verdict.WIDESPREAD: "widespread",
    Verdict.FLAKY_ELSEWHERE: "flaky_elsewhere", Verdict.NEW: "new", Verdict.PROVEN_FLAKY: "proven_flaky",
    Verdict.UNLISTED_FLAKE: "unlisted_flakes", Verdict.ON_DEFAULT_BRANCH: "on_default_branch",
    Verdict.REGRESSION: "regressions", Verdict.NEW_WAY: "new_way", Verdict.FIRST_FAILURE: "first_failures",
    Verdict.SEVERAL_JOBS: "several_jobs", Verdict.FAILED_BEFORE: "failed_before",
    Verdict.FLAKY_OTHER_JOBS: "flaky_other_jobs", Verdict.NEWLY_FLAKY: "newly_flaky",
}  # fmt: skip


#: An ignored failure (run-tests.py reclassified it, its job stayed green) of a listed test:
#: (the docs' sentence, history, verdict). "ignored-failing-since" is a failure again and needs a
#: look; "ignored" is informational. Neither is ever patched.
IGNORED_ROWS = [
    ("ignored by run-tests.py: a listed test's failure it reclassified", "iiiF", Verdict.IGNORED),
    ("... also after failing once before, with no pass since", "iiF", Verdict.IGNORED),
    ("listed, but failing in every run since an earlier one: its last two executions, no pass since",
     "iiFF", Verdict.HIDDEN_REGRESSION),
    ("... two failures with one unknown outcome between count", "iiF?F", Verdict.HIDDEN_REGRESSION),
    ("... with two unknown outcomes between they do not", "iiF??F", Verdict.IGNORED),
    ("... three failures in a row of the logs read count whatever the unknowns between", "iiF??F?F",
     Verdict.HIDDEN_REGRESSION),
    ("... a whole log without the test between breaks the row", "iiFiF", Verdict.IGNORED),
]  # fmt: skip


@pytest.mark.parametrize(("sentence", "pattern", "kind"), IGNORED_ROWS, ids=[r[0] for r in IGNORED_ROWS])
def test_an_ignored_failure_at_its_boundary(sentence: str, pattern: str, kind: Verdict) -> None:
    judged = judge(pattern, entries=(LISTED,), ignored=True, conclusion="success")
    assert [f.verdict for f in judged.report.jobs[0].ignored] == [kind], sentence
    assert judged.patched is False, sentence
    assert judged.report.jobs[0].ignored[0].evidence is not None, sentence  # the history is read
    hidden = int(kind is Verdict.HIDDEN_REGRESSION)
    assert [f.verdict for f in judged.report.findings] == [kind] * hidden, sentence
    assert judged.report.counts.as_json() == counts_json(
        failures=hidden, needs_look=hidden, hidden_regressions=hidden, ignored=1
    ), sentence


def test_the_rows_cover_every_verdict() -> None:
    """Every verdict of the docs' table has a row."""
    assert {row[2] for row in ROWS} | {row[2] for row in IGNORED_ROWS} == set(Verdict)


def test_an_ignored_failure_without_history_is_ignored() -> None:
    run = RunInfo(5000, 1, "unix port", ".github/workflows/ports_unix.yml", "push", "master", SHA, None,
                  at(3), "completed", "success", "")  # fmt: skip
    failure = TestFailure(TEST, Runner.RUN_TESTS, Outcome.FAIL, ignored=True, symptom=USUAL)
    job = JobInput(JobInfo(1, 5000, 1, "standard", "completed", "success"), LogState.PARSED,
                   JobReport("standard", True, failures=(failure,)))  # fmt: skip
    report = triage(run, [job], registry("", LISTED))
    assert [f.verdict for f in report.jobs[0].ignored] == [Verdict.IGNORED]
    assert report.findings == () and not report.candidates
    assert report.jobs[0].ignored[0].evidence is None


# ---------------------------------------------------------------------------- the evidence itself


def evidence(pattern: str = "", *, current: RunRef | None = None, **kw: object):
    found = kw.pop("history", None) or TestHistory(records(pattern, shas=kw.pop("shas", None)))  # type: ignore[arg-type]
    current = current or RunRef(5000, 1, SHA, at(len(pattern)))
    return assess(TEST, "standard", str(kw.pop("symptom", USUAL)), current, found,  # type: ignore[arg-type]
                  registry(pattern))  # fmt: skip


@pytest.mark.parametrize(
    ("pattern", "isolated", "longest"),
    [("PPPP", 0, 0), ("FPP", 0, 1), ("PFP", 1, 1), ("PFFP", 0, 2), ("PFPFFFP", 1, 3), ("PFPPFP", 2, 1),
     ("P?FP", 0, 1), ("PF?P", 0, 1), ("PF?FP", 0, 2), ("PFPF", 1, 1), ("?FP?FPF?P", 0, 1)],
)  # fmt: skip
def test_isolated_failures_and_the_longest_row(pattern: str, isolated: int, longest: int) -> None:
    """Only rows that ended with a pass count (the current streak is not one); a failure next to
    an unknown outcome is not isolated, and the row's length counts failures only."""
    e = evidence(pattern)
    assert (e.isolated, e.longest_run) == (isolated, longest)


@pytest.mark.parametrize(
    ("isolated", "longest", "intermittent"),
    [(1, 1, True), (1, 2, True), (1, 3, False), (0, 1, False), (0, 2, False), (2, 0, True)],
)
def test_intermittent_means_a_lone_failure_and_no_row_over_two(
    isolated: int, longest: int, intermittent: bool
) -> None:
    assert is_intermittent(isolated, longest) is intermittent


def test_the_streak_names_its_ends_and_counts_unknowns() -> None:
    e = evidence("PPF?F??")
    first = RunRef(1002, 1, "3".ljust(40, "0"), at(2))
    assert e.streak == Streak(2, 3, first, RunRef(1001, 1, "2".ljust(40, "0"), at(1)), capped=False)
    assert (e.known, e.failures, e.unknown) == (4, 2, 3)


def test_no_streak_names_no_first_failure() -> None:
    e = evidence("FPP?")
    assert e.streak == Streak(0, 1, None, RunRef(1002, 1, "3".ljust(40, "0"), at(2)))


@pytest.mark.parametrize(
    ("pattern", "capped", "streak"),
    [
        ("FFF", True, Streak(3, 0, RunRef(1000, 1, "1".ljust(40, "0"), at(0)), None, capped=True)),
        ("F", True, Streak(1, 0, RunRef(1000, 1, "1".ljust(40, "0"), at(0)), None, capped=True)),
        ("F?", False, Streak(1, 1, RunRef(1000, 1, "1".ljust(40, "0"), at(0)), None, capped=False)),
        ("??", True, Streak(0, 2, None, None, capped=False)),
        ("", True, Streak(0, 0, None, None, capped=False)),
    ],
)
def test_never_passed_in_the_stored_window(pattern: str, capped: bool, streak: Streak) -> None:
    """No pass in the window: the streak has no last pass, and may be longer than shown only if
    the window is full (capped) and the test failed in it."""
    found = TestHistory(records(pattern), capped=capped)
    assert evidence(pattern, history=found).streak == streak


def test_failures_in_another_job_are_not_this_jobs_executions() -> None:
    found = TestHistory(here=(*records("PPPP"), *records("PPFF", "qemu_arm", first_run=2000)))
    e = evidence("PPPP", history=found)
    assert (e.known, e.failures, e.streak.failures) == (4, 0, 0)
    assert e.test == TEST and e.job == "standard"
    assert judge("PPPP", here=records("PPFF", "qemu_arm", first_run=2000)).verdict is Verdict.FIRST_FAILURE


def test_symptoms_here_and_elsewhere() -> None:
    """Symptoms of earlier failures in this job, and in other jobs before this run (those not
    already seen here): a failure in another job counts only if it came before this run."""
    other = records("XF", "qemu_arm", first_run=3000)  # at(0): "other way", at(1): USUAL
    later = JobRecord(6000, 1, "9" * 40, at(30), "qemu_arm", "failure", True, True, True, True, "later way")
    passing = JobRecord(3005, 1, "8" * 40, at(2), "qemu_arm", "success")
    found = TestHistory(records("PXPP", symptom=USUAL), elsewhere=(*other, later, passing))
    e = evidence("PXPP", history=found, symptom="later way")
    assert e.symptoms_here == ("other way",)
    assert e.symptoms_elsewhere == (USUAL,)
    assert e.new_way  # "later way" came after this run: no earlier failure had it


@pytest.mark.parametrize(
    ("elsewhere_symptom", "kind", "patched"),
    [
        ("", Verdict.NEW_WAY, False),
        (USUAL, Verdict.UNLISTED_FLAKE, True),
        ("third way", Verdict.NEW_WAY, False),
    ],
)
def test_a_symptom_seen_in_another_job_is_not_new(
    elsewhere_symptom: str, kind: Verdict, patched: bool
) -> None:
    """new way: it failed before, but never with this symptom *in any job*."""
    elsewhere = (
        (
            JobRecord(
                3000, 1, "7" * 40, at(0), "qemu_arm", "failure", True, True, True, True, elsewhere_symptom
            ),
        )
        if elsewhere_symptom
        else ()
    )
    judged = judge("PPXPPXPP", elsewhere=elsewhere)
    assert (judged.verdict, judged.patched) == (kind, patched)


def test_a_failure_elsewhere_after_this_run_is_no_earlier_symptom() -> None:
    after = JobRecord(9000, 1, "7" * 40, at(99), "qemu_arm", "failure", True, True, True, True, USUAL)
    assert judge("PPXPPXPP", elsewhere=(after,)).verdict is Verdict.NEW_WAY


def test_symptoms_are_bounded_and_deduplicated() -> None:
    rows = tuple(
        JobRecord(1000 + i, 1, f"{i + 1:x}".ljust(40, "0"), at(i), JOB, "failure", True, True, True, True,
                  f"way {i % 7}")
        for i in range(14)
    )  # fmt: skip
    e = evidence(history=TestHistory(rows), current=RunRef(5000, 1, SHA, at(20)), symptom="way 0")
    assert e.symptoms_here == ("way 0", "way 1", "way 2", "way 3", "way 4")


def test_same_commit_pass_and_flips() -> None:
    e = evidence("FPFPP", shas="cchhk")
    assert e.same_commit_pass == RunRef(1001, 1, SHA, at(1))
    assert e.flipped_commits == 1  # h failed and passed; c is this commit, proven instead
    two = evidence("FPFPFP", shas="hhkkmm")
    assert (two.same_commit_pass, two.flipped_commits) == (None, 3)
    assert evidence("FPP", shas="chh").same_commit_pass is None  # c only failed


def test_without_a_commit_nothing_is_proven() -> None:
    current = RunRef(5000, 1, "", at(3))
    e = assess(TEST, "standard", USUAL, current, TestHistory(records("FPP", shas="   ")), registry(""))
    assert e.same_commit_pass is None


# ---------------------------------------------------------------------------- executions and attempts


def test_a_run_counted_once_a_failure_wins_over_a_pass() -> None:
    """Two records of one attempt in the job (a matrix entry twice): a failure in either counts,
    in whichever order the store returns them."""
    fail = JobRecord(1004, 1, "5" * 40, at(4), "standard", "failure", True, True, True, True, USUAL)
    ok = fail._replace(conclusion="success", failed=False, log_read=False, log_complete=False,
                       past_build=False, symptom="")  # fmt: skip
    before = RunRef(5000, 1, SHA, at(9))
    for extra in ((fail, ok), (ok, fail)):
        judged = judge("PPFP", here=extra)
        assert (judged.verdict, judged.patched) == (Verdict.REGRESSION, False)
        runs = executions([*records("PPFP"), *extra], TEST, None, before=before)
        assert [(e.ref.run_id, e.result.value, e.symptom) for e in runs] == [
            (1000, "pass", ""), (1001, "pass", ""), (1002, "fail", USUAL), (1003, "pass", ""),
            (1004, "fail", USUAL),
        ]  # fmt: skip


def test_a_rerun_of_an_older_run_after_a_newer_pass_is_the_latest_execution() -> None:
    """Executions are ordered by when they ran: run 1003 passed, then run 1002 was re-run and
    failed again, so the latest execution failed."""
    rerun = JobRecord(
        1002,
        2,
        "3".ljust(40, "0"),
        at(3) + timedelta(hours=6),
        "standard",
        "failure",
        True,
        True,
        True,
        True,
        USUAL,
    )
    judged = judge("PPFP", here=(rerun,))
    assert (judged.verdict, judged.patched) == (Verdict.REGRESSION, False)


def test_only_executions_before_the_triaged_attempt_count() -> None:
    """The triaged attempt itself, later attempts of its run and later runs are not its history;
    earlier attempts of its run are, whatever the store returns first."""
    this = JobRecord(5000, 2, SHA, at(8), "standard", "failure", True, True, True, True, USUAL)
    later = JobRecord(5000, 3, SHA, at(9), "standard", "failure", True, True, True, True, USUAL)
    newer = JobRecord(5001, 1, "e" * 40, at(9), "standard", "failure", True, True, True, True, USUAL)
    earlier = JobRecord(5000, 1, SHA, at(8), "standard", "success")
    judged = judge("PPFPPFPP", here=(this, later, newer), run_id=5000, attempt=2)
    assert (judged.verdict, judged.patched) == (Verdict.UNLISTED_FLAKE, True)
    proven = judge("PPFPPFPP", here=(earlier,), run_id=5000, attempt=2)
    assert proven.verdict is Verdict.PROVEN_FLAKY
    first = RunRef(5000, 2, SHA, at(8))
    runs = executions([newer, later, this, *records("PF")], TEST, None, before=first)
    assert [e.ref.run_id for e in runs] == [1000, 1001]
    failed_first = JobRecord(5000, 1, SHA, at(8), "standard", "failure", True, True, True, True, USUAL)
    assert judge("PPFPPFPP", here=(failed_first,), run_id=5000, attempt=2).verdict is Verdict.REGRESSION


def test_one_day_answers_are_not_shared_between_different_logs() -> None:
    """Outcomes are worked out once per (job, day, failed, conclusion, readable log): two failed
    jobs on one day, one with its log read whole and one not, are a pass and an unknown."""
    day = at(0)
    base = JobRecord(1000, 1, "1" * 40, day, "standard", "failure", True, True, True)
    for other in (
        base._replace(run_id=1001, log_read=False, log_complete=False, past_build=False),
        base._replace(run_id=1001, log_complete=False),
        base._replace(run_id=1001, past_build=False),
    ):
        for pair in ((base, other), (other, base)):
            runs = executions(pair, TEST, registry(""), before=RunRef(5000, 1, SHA, at(1)))
            assert sorted(e.result.value for e in runs) == ["pass", "unknown"], (pair, runs)


def test_a_log_not_read_is_unknown_whatever_else_it_says() -> None:
    record = JobRecord(1000, 1, "1" * 40, at(0), "standard", "failure", False, True, True)
    (run,) = executions([record], TEST, registry(""), before=RunRef(5000, 1, SHA, at(1)))
    assert run.result.value == "unknown"


# ---------------------------------------------------------------------------- the patch rules


def rate(events: int, executions_: int, since: int | None = 5) -> FlakeRate:
    return FlakeRate(TEST, "standard", events, executions_, 0.0, 1.0, since_last=since)


@pytest.mark.parametrize(
    ("events", "executions_", "patched"),
    [
        (3, 50, True),  # at least 50 executions ...
        (3, 49, False),
        (3, 300, True),  # ... at a rate of at least 1% ...
        (3, 301, False),
        (3, 100, True),  # ... with at least 3 failures
        (2, 100, False),
    ],
)
def test_patch_thresholds_at_their_boundary(events: int, executions_: int, patched: bool) -> None:
    """the rate in this job is at least 1% over at least 50 executions, with at least 3 failures"""
    judged = judge("PPFPPFPP", rate=rate(events, executions_))
    assert judged.verdict is Verdict.UNLISTED_FLAKE
    assert judged.patched is patched


@pytest.mark.parametrize(
    ("policy", "patched"),
    [
        (PatchPolicy(min_executions=600), True),
        (PatchPolicy(min_executions=601), False),
        (PatchPolicy(min_events=20), True),
        (PatchPolicy(min_events=21), False),
        (PatchPolicy(min_rate=20 / 600), True),
        (PatchPolicy(min_rate=21 / 600), False),
        (PatchPolicy(enabled=False), False),
    ],
)
def test_patch_policy_is_what_the_action_inputs_set(policy: PatchPolicy, patched: bool) -> None:
    assert judge("PPFPPFPP", policy=policy).patched is patched


@pytest.mark.parametrize(("since", "patched"), [(0, False), (1, True), (None, True)])
def test_patch_only_after_a_pass_since_the_last_failure(since: int | None, patched: bool) -> None:
    """the test passed at least once in this job since its last failure"""
    judged = judge("PPFPPFPP", rate=rate(20, 600, since))
    assert judged.patched is patched
    assert (NoteReason.STILL_FAILING in judged.notes) is not patched


@pytest.mark.parametrize(
    ("events", "since", "persistent"), [(1, 0, True), (0, 0, False), (1, 1, False), (1, None, False)]
)
def test_looks_persistent(events: int, since: int | None, persistent: bool) -> None:
    """A test that never failed has no failing latest execution; one that failed in it has."""
    assert looks_persistent(rate(events, 600, since)) is persistent
    assert looks_persistent(None) is False


@pytest.mark.parametrize(("jobs", "allowed", "patched"), [(2, 2, True), (2, 1, False), (1, 1, True)])
def test_patch_jobs_in_the_run(jobs: int, allowed: int, patched: bool) -> None:
    names = ("standard", "qemu_arm")[:jobs]
    judged = judge("PPFPPFPP", jobs=names, policy=PatchPolicy(max_jobs_in_run=allowed))
    assert judged.patched is patched
    if patched:
        assert judged.report.candidates[0].jobs == names


def test_patch_only_for_run_tests_failures() -> None:
    assert judge("PPFPPFPP").patched
    other = judge("PPFPPFPP", runner=Runner.MULTITESTS)
    assert other.verdict is Verdict.UNLISTED_FLAKE and not other.patched


def test_patch_never_for_a_test_upstream_keeps_out() -> None:
    """A test excluded from the job on the run's date should not have run: no patch."""
    today = at(8).date()
    keep_out = Entry(TEST, Mechanism.EXCLUDE, reason="broken", functions=("ci_unix_standard_run_tests",),
                     since=today)  # fmt: skip
    judged = judge("PPFPPFPP", entries=(keep_out,))
    assert judged.report.findings[0].match.should_not_have_failed
    assert not judged.patched


def many(
    kinds: dict[str, str],
    *,
    crowd: int = 0,
    still: frozenset[str] = frozenset(),
    policy: PatchPolicy = DEFAULT_POLICY,
) -> TriageReport:
    """One job failing several tests, each with its own history (test name -> pattern); the
    rates of the tests in `still` say they failed in their latest execution too."""
    run = RunInfo(5000, 1, "unix port", ".github/workflows/ports_unix.yml", "push", "master", SHA, None,
                  at(8), "completed", "failure", "")  # fmt: skip
    names = [*kinds, *(f"basics/crowd{i}.py" for i in range(crowd))]
    failures = tuple(TestFailure(t, Runner.RUN_TESTS, Outcome.FAIL, symptom=USUAL) for t in names)
    job = JobInput(JobInfo(1, 5000, 1, "standard", "completed", "failure"), LogState.PARSED,
                   JobReport("standard", True, failures=failures))  # fmt: skip

    def history(test: str, job_name: str) -> TestHistory:
        return TestHistory(records(kinds.get(test, "PPPPPPPP"), job_name))

    def rates(test: str, job_name: str | None) -> FlakeRate:
        since = 0 if test in still else since_last(kinds.get(test, "P"))
        return FlakeRate(test, job_name, 20, 600, 0.0, 1.0, since_last=since)

    return triage(run, [job], registry(""), rates=rates, history=history, patch_policy=policy)


def test_a_declined_test_does_not_stop_the_next_ones() -> None:
    """Patch proposal goes on past a test it declines, whatever the reason (continue, not break)."""
    flakes = {"b/flake.py": "PPFPPFPP", "c/flake.py": "PFPPPFPP"}
    report = many({"a/regression.py": "PPPPPPPF", **flakes}, policy=PatchPolicy(max_tests_in_job=3))
    assert [c.test for c in report.candidates] == list(flakes)
    assert [(n.reason, n.test, n.job, n.verdict) for n in report.notes] == [
        (NoteReason.NOT_A_FLAKE, "a/regression.py", "standard", Verdict.REGRESSION)
    ]
    report = many({"a/still.py": "PPFPPFPP", **flakes}, still=frozenset({"a/still.py"}),
                  policy=PatchPolicy(max_tests_in_job=3))  # fmt: skip
    assert [c.test for c in report.candidates] == list(flakes)
    assert [(n.reason, n.test, n.job) for n in report.notes] == [
        (NoteReason.STILL_FAILING, "a/still.py", "standard")
    ]


@pytest.mark.parametrize(("crowd", "patched"), [(0, True), (1, True), (2, False)])
def test_crowded_job(crowd: int, patched: bool) -> None:
    """at most 2 tests that are not known flakes failed in its job"""
    report = many({"a/flake.py": "PFPPPFPP"}, crowd=crowd)
    assert bool(report.candidates) is patched
    crowded = [n for n in report.notes if n.reason is NoteReason.CROWDED_JOB]
    assert crowded == ([] if patched else [crowded[0]])
    if not patched:
        assert (crowded[0].job, crowded[0].count) == ("standard", crowd + 1)
        assert not any(n.reason is NoteReason.NOT_A_FLAKE for n in report.notes)


def test_known_flakes_do_not_crowd_a_job() -> None:
    run = RunInfo(5000, 1, "unix port", ".github/workflows/ports_unix.yml", "push", "master", SHA, None,
                  at(8), "completed", "failure", "")  # fmt: skip
    listed = tuple(Entry(f"thread/k{i}.py", Mechanism.IGNORE, flaky=True) for i in range(3))
    tests = [TEST, *(e.test for e in listed)]
    job = JobInput(JobInfo(1, 5000, 1, "standard", "completed", "failure"), LogState.PARSED,
                   JobReport("standard", True, failures=tuple(TestFailure(t, Runner.RUN_TESTS, Outcome.FAIL)
                                                              for t in tests)))  # fmt: skip
    report = triage(
        run, [job], registry("", *listed), history=lambda t, j: TestHistory(records("PPFPPFPP", j)),
        rates=lambda t, j: FlakeRate(t, j, 20, 600, 0.0, 1.0, since_last=2),
    )  # fmt: skip
    assert [c.test for c in report.candidates] == [TEST]


def test_not_a_flake_note_only_when_the_rate_alone_would_allow_a_patch() -> None:
    often = judge("PPPPPPPF")
    assert often.notes == {NoteReason.NOT_A_FLAKE}
    rare = judge("PPPPPPPF", rate=rate(1, 600, 0))
    assert rare.notes == set()
    off = judge("PPPPPPPF", policy=PatchPolicy(enabled=False))
    assert off.notes == set() and not off.patched


def test_write_patches_goes_on_past_a_refusal() -> None:
    from bot.errors import InputError

    report = many({"a/flake.py": "PFPPPFPP", "b/flake.py": "PPFPPPFP"})
    written: list[str] = []

    def patcher(test: str, jobs: object) -> str | None:
        if test == "a/flake.py":
            raise InputError("no")
        written.append(test)
        return "--- a\n+++ b\n"

    done = write_patches(report, patcher)
    assert written == ["b/flake.py"]
    assert [p.test for p in done.patches] == ["b/flake.py"]
    assert [f.patch is not None for f in done.findings] == [False, True]
    empty = write_patches(report, lambda test, jobs: "")
    assert empty.patches == () and all(f.patch is None for f in empty.findings)


# ---------------------------------------------------------------------------- the breakdown


BREAKDOWN = [
    (Verdict.REGRESSION, "failing in every run since an earlier one"),
    (Verdict.NEW_WAY, "failing in a new way"),
    (Verdict.FIRST_FAILURE, "first failure here"),
    (Verdict.SEVERAL_JOBS, "failing in several jobs at once"),
    (Verdict.FAILED_BEFORE, "failed before in rows, not like a flake"),
    (Verdict.NEWLY_FLAKY, "newly flaky since an earlier run"),
    (Verdict.HIDDEN_REGRESSION, "listed, but failing in every run since an earlier one"),
    (Verdict.NEW, "new, with no history to judge by"),
    (Verdict.NEW_SYMPTOM, "known flaky failing in a new way"),
    (Verdict.WIDESPREAD, "known flaky failing in several jobs at once"),
    (Verdict.FLAKY_ELSEWHERE, "flaky elsewhere but not listed for this job"),
    (None, "not a test failure"),
]


def test_breakdown_names_every_kind_of_failure_that_needs_a_look_in_order() -> None:
    run = RunInfo(5000, 1, "unix port", ".github/workflows/ports_unix.yml", "push", "master", SHA, None,
                  at(0), "completed", "failure", "")  # fmt: skip
    counts = Counts(
        {verdict: i + 1 for i, (verdict, _) in enumerate(BREAKDOWN[:-1])}
        | {Verdict.KNOWN_FLAKE: 7, Verdict.IGNORED: 2},
        not_a_test_failure=len(BREAKDOWN),
    )
    report = TriageReport(run=run, jobs=(), counts=counts)
    assert breakdown(report) == [f"{i + 1} {words}" for i, (_, words) in enumerate(BREAKDOWN)]
    big = TriageReport(run=run, jobs=(), counts=Counts({Verdict.NEW: 1234}))
    assert breakdown(big) == ["1,234 new, with no history to judge by"]
    assert breakdown(TriageReport(run=run, jobs=(), counts=Counts({Verdict.KNOWN_FLAKE: 3}))) == []


def test_breakdown_follows_the_verdicts() -> None:
    assert breakdown(judge("PPPF").report) == ["1 failing in every run since an earlier one"]
    assert breakdown(judge("PPPP").report) == ["1 first failure here"]
    assert breakdown(judge("PPFPPFPP").report) == []


# ---------------------------------------------------------------------------- around the verdicts


def run_of(conclusion: str = "failure") -> RunInfo:
    return RunInfo(
        5000, 1, "unix port", WORKFLOW, "push", "master", SHA, None, at(8), "completed", conclusion, ""
    )


def parsed(
    name: str, *failures: TestFailure, conclusion: str = "failure", complete: bool = True, **report: object
) -> JobInput:
    job = JobInfo(sum(name.encode()), 5000, 1, name, "completed", conclusion)
    return JobInput(job, LogState.PARSED, JobReport(name, complete, failures=failures, **report))  # type: ignore[arg-type]


def fail(test: str = TEST, *, ignored: bool = False) -> TestFailure:
    return TestFailure(test, Runner.RUN_TESTS, Outcome.FAIL, ignored=ignored, symptom=USUAL)


def test_a_test_failing_twice_in_one_job_is_one_job() -> None:
    """A test failing in two passes of one job and in one other job failed in two jobs, not three."""
    jobs = [parsed("standard", fail(), fail()), parsed("qemu_arm", fail())]
    report = triage(run_of(), jobs, registry(""), history=lambda t, j: TestHistory(records("PPFPPFPP", j)))
    assert {f.failed_in_jobs for f in report.findings} == {("standard", "qemu_arm")}
    assert {f.verdict for f in report.findings} == {Verdict.UNLISTED_FLAKE}


def test_ignored_failures_are_no_job_the_test_failed_in() -> None:
    jobs = [
        parsed("standard", fail(ignored=True)),
        parsed("nanbox", fail(ignored=True)),
        parsed("qemu_arm", fail()),
    ]
    report = triage(run_of(), jobs, registry(""), history=lambda t, j: TestHistory(records("PPFPPFPP", j)))
    (finding,) = report.findings
    assert finding.failed_in_jobs == ("qemu_arm",) and finding.verdict is Verdict.UNLISTED_FLAKE
    assert [f.failed_in_jobs for j in report.jobs for f in j.ignored] == [(), ()]


def test_a_listed_test_that_failed_the_job_should_not_have() -> None:
    """run-tests.py said the failure was not ignored: the registry says it should have been."""
    report = triage(run_of(), [parsed("standard", fail())], registry("", LISTED))
    (finding,) = report.findings
    assert finding.verdict is Verdict.KNOWN_FLAKE and finding.match.should_not_have_failed


def test_a_green_job_with_a_counted_failure_failed() -> None:
    report = triage(
        run_of(conclusion="success"), [parsed("standard", fail(), conclusion="success")], registry("")
    )
    assert report.jobs[0].failed and report.counts.jobs_failed == 1


def test_job_fields_come_from_the_log_when_read() -> None:
    problem = Problem(ProblemKind.BUILD, "make: *** Error 1", step="Build", line=3)
    read = parsed("standard", fail(), failed_step="Build", problems=(problem,))
    unread = JobInput(JobInfo(9, 5000, 1, "nanbox", "completed", "failure"), LogState.EXPIRED, None)
    report = triage(run_of(), [read, unread], registry(""))
    first, second = report.jobs
    assert (first.log_state, first.failed_step, first.complete, first.problems) == (
        LogState.PARSED, "Build", True, (problem,)
    )  # fmt: skip
    assert (second.log_state, second.failed_step, second.complete) == (LogState.EXPIRED, None, False)
    assert report.counts.problems == 1 and report.counts.unreadable_logs == 1


@pytest.mark.parametrize(
    ("rates", "history", "has"),
    [(True, False, True), (False, True, True), (False, False, False), (True, True, True)],
)
def test_has_history_when_either_lookup_is_given(rates: bool, history: bool, has: bool) -> None:
    report = triage(
        run_of(), [parsed("standard", fail())], registry(""),
        rates=(lambda t, j: None) if rates else None, history=(lambda t, j: None) if history else None,
    )  # fmt: skip
    assert report.has_history is has


def test_a_run_is_a_push_to_the_default_branch_unless_said() -> None:
    found = TestHistory(records("PPPF"), default_branch=True)
    report = triage(run_of(), [parsed("standard", fail())], registry(""), history=lambda t, j: found)
    assert report.findings[0].verdict is Verdict.REGRESSION


def test_candidates_and_patches_carry_the_job_rates() -> None:
    job_rate = FlakeRate(TEST, "standard", 20, 600, 0.0, 1.0, since_last=2)
    report = triage(
        run_of(), [parsed("standard", fail())], registry(""), rates=lambda t, j: job_rate if j else None,
        history=lambda t, j: TestHistory(records("PPFPPFPP", j)),
    )  # fmt: skip
    (candidate,) = report.candidates
    assert (candidate.test, candidate.jobs, candidate.evidence) == (TEST, ("standard",), (job_rate,))
    (patch,) = write_patches(report, lambda test, jobs: "--- a\n+++ b\n").patches
    assert patch.evidence == (job_rate,)


def test_a_test_without_flake_evidence_does_not_stop_the_next_ones() -> None:
    report = many({"a/first.py": "PPPPPPPP", "b/flake.py": "PFPPPFPP"})
    assert report.findings[0].verdict is Verdict.FIRST_FAILURE
    assert [c.test for c in report.candidates] == ["b/flake.py"]


# ---------------------------------------------------------------------------- the outcome as a whole


def outcome(*jobs: JobInput, conclusion: str = "failure", history: str | None = None) -> TriageReport:
    def found(test: str, job: str) -> TestHistory:
        return TestHistory(records(history or "", job), default_branch=True)

    return triage(run_of(conclusion), list(jobs), registry("", LISTED), on_default_branch=False,
                  history=found if history else None)  # fmt: skip


def other(name: str, *failures: TestFailure, **report: object) -> JobInput:
    return parsed(name, *failures, **report)


@pytest.mark.parametrize(
    ("case", "reassuring", "settled"),
    [
        # the only reassuring outcome: every failure a flake with evidence, every log read
        ("known flakes only", True, True),
        # besides flakes, only tests already failing on the default branch: nothing needs a look
        ("failing on the default branch", False, True),
        ("a failure that needs a look", False, False),
        ("a log that could not be read", False, False),
        ("a log not fully understood", False, False),
        ("a run that failed with no failed job", False, False),
        ("no failure at all", True, True),
    ],
)
def test_reassuring_and_settled(case: str, reassuring: bool, settled: bool) -> None:
    """docs/output.md: "That is the only reassuring outcome. When, besides flakes, the only failures
    are tests already failing on the default branch, it says that nothing needs a look"."""
    known = other("standard", fail())
    report = {
        "known flakes only": lambda: outcome(known),
        "failing on the default branch": lambda: outcome(
            known, other("qemu_arm", fail("basics/b.py")), history="PPPF"
        ),
        "a failure that needs a look": lambda: outcome(known, other("qemu_arm", fail("basics/b.py"))),
        "a log that could not be read": lambda: outcome(
            known, JobInput(JobInfo(7, 5000, 1, "nanbox", "completed", "failure"), LogState.EXPIRED, None)
        ),
        "a log not fully understood": lambda: triage(
            run_of(), [parsed("standard", fail(), complete=False)], registry("", LISTED)
        ),
        "a run that failed with no failed job": lambda: outcome(other("standard", conclusion="cancelled")),
        "no failure at all": lambda: outcome(other("standard", conclusion="success"), conclusion="success"),
    }[case]()
    assert (report.reassuring, report.settled) == (reassuring, settled), case
    assert report.run_unexplained is (case == "a run that failed with no failed job")


@pytest.mark.parametrize("conclusion", ["failure", "timed_out", "startup_failure", "cancelled"])
def test_a_run_that_did_not_succeed_without_a_failed_job_is_unexplained(conclusion: str) -> None:
    report = outcome(other("standard", conclusion="cancelled"), conclusion=conclusion)
    assert report.run_unexplained and not report.reassuring and not report.settled
    assert not outcome(other("standard", conclusion="cancelled"), conclusion="success").run_unexplained
    assert not outcome(other("standard", fail()), conclusion=conclusion).run_unexplained


@pytest.mark.parametrize(
    ("kind", "other_failure"),
    [(ProblemKind.BUILD, True), (ProblemKind.RUNNER_ERROR, True), (ProblemKind.STEP, True),
     (ProblemKind.TRUNCATED, False), (ProblemKind.CANCELLED, False)],
)  # fmt: skip
def test_a_known_flake_cannot_explain_another_failure_in_its_job(
    kind: ProblemKind, other_failure: bool
) -> None:
    report = outcome(other("standard", fail(), problems=(Problem(kind, "x"),)))
    assert report.jobs[0].other_failure is other_failure
    assert report.counts.needs_look == int(other_failure)
    without_tests = outcome(other("standard", problems=(Problem(kind, "x"),)))
    assert without_tests.jobs[0].other_failure is False  # not a test failure: counted once, as such


def test_where_the_failure_rate_rose() -> None:
    """Newly flaky: the cause lies between the last quiet execution (the plausible range reaches
    back a few passes before the first failure) and the first failure; the unknown outcomes
    between them are counted, and only they (not those after the first failure)."""
    from bot.evidence import flaky_onset

    pattern = "P" * 100 + "?P??FP?FPFPFP"
    runs = executions(records(pattern), TEST, before=RunRef(5000, 1, SHA, at(len(pattern))))
    onset = flaky_onset(runs)
    assert onset is not None
    quiet, first = records(pattern)[97], records(pattern)[104]
    assert (onset.last_quiet, onset.first_failure) == (quiet.ref, first.ref)
    assert (onset.failures_before, onset.executions_before) == (0, 101)
    assert (onset.failures_after, onset.executions_after) == (4, 8)
    assert onset.unknown == 3
    assert 0 < onset.p_value < 0.01
    assert flaky_onset(executions(records("FPFPFPFPFPFP"), TEST, before=RunRef(5000, 1, SHA, at(12)))) is None
    # The same rise right after a short quiet stretch: had the three unknowns been failures, the
    # rate did not rise at all, so the verdict waits (it must hold however the unknowns went).
    short = "P" * 30 + "?P??FP?FPFPFP"
    assert flaky_onset(executions(records(short), TEST, before=RunRef(5000, 1, SHA, at(len(short))))) is None


def test_a_rise_whose_range_reaches_back_over_unknowns_only_has_no_last_quiet_run() -> None:
    """The last quiet run is the nearest execution of known outcome before the range where the
    cause lies; when only unknown outcomes come before it, there is none (the store's history
    starts inside the range), and every unknown before the first failure is counted."""
    from bot.evidence import flaky_onset

    pattern = "???" + "P" * 22 + "?" + "P" * 44 + "FFF?PPFFP"
    recs = records(pattern)
    onset = flaky_onset(executions(recs, TEST, before=RunRef(5000, 1, SHA, at(len(pattern)))))
    assert onset is not None
    assert onset.last_quiet is None
    assert onset.first_failure == recs[70].ref
    assert onset.unknown == 4  # the three at the start and the one among the passes


def test_a_flake_whose_older_failures_logs_expired_is_not_newly_flaky() -> None:
    """GitHub keeps logs 90 days: a test flaky at a steady 5% shows its older failures as unknown
    (failed jobs, expired logs) and its older passes as passes. Dropping the unknowns made the
    recent failures look like a rise after a quiet stretch; they are filled as failures before a
    candidate start, so the steady flake stays an unlisted flake."""
    from bot.evidence import flaky_onset

    older = ("P" * 19 + "?") * 15  # 300 executions, 15 failures whose logs expired
    recent = ("P" * 19 + "F") * 3  # the same 5% with logs
    history = older + recent
    runs = executions(records(history), TEST, before=RunRef(5000, 1, SHA, at(len(history))))
    assert flaky_onset(runs) is None
    # with the older failures read, it is the same steady flake
    read = history.replace("?", "F")
    assert flaky_onset(executions(records(read), TEST, before=RunRef(5000, 1, SHA, at(len(read))))) is None


def test_failures_crowding_into_the_latest_executions_get_a_note_not_a_patch() -> None:
    """A rise too young for the newly-flaky verdict: the note says why no patch is proposed yet."""
    judged = judge("P" * 30 + "FPFPFP")
    assert judged.verdict is Verdict.UNLISTED_FLAKE and not judged.patched
    assert judged.report.notes == (Note(NoteReason.RECENT, test=TEST, job=JOB),)
    steady = judge("PFPPEPPFPP")
    assert steady.patched and steady.report.notes == ()
    finding = steady.report.findings[0]
    assert finding.evidence is not None

    def at_p(p: float) -> bool:
        return rising(replace(finding, evidence=replace(finding.evidence, rise_p=p)))  # type: ignore[arg-type]

    assert (at_p(PATCH_STEADY_P - 1e-9), at_p(PATCH_STEADY_P)) == (True, False)  # "at least 0.5" is steady


def test_without_a_history_store_an_unlisted_failure_is_new() -> None:
    report = triage(run_of(), [parsed(JOB, fail())], registry(""))
    assert [f.verdict for f in report.findings] == [Verdict.NEW]
    assert report.findings[0].evidence is None and not report.candidates


def test_a_recent_rise_does_not_stop_the_next_tests_patch() -> None:
    other = "basics/u.py"
    written = {TEST: "P" * 30 + "FPFPFP", other: "PFPPEPPFPP"}

    def rates(test: str, job: str | None) -> FlakeRate:
        return FlakeRate(test, job, 20, 600, 0.01, 0.05, since_last=since_last(written[test]))

    report = triage(
        replace(run_of(), created_at=at(36)), [parsed(JOB, fail(), fail(other))], registry("PFPPEPPFPP"),
        rates=rates, history=lambda t, j: TestHistory(records(written[t], j)),
    )  # fmt: skip
    assert report.notes == (Note(NoteReason.RECENT, test=TEST, job=JOB),)
    assert [c.test for c in report.candidates] == [other]


@pytest.mark.parametrize(("day", "kind"), [(4, Verdict.PROVEN_FLAKY), (5, Verdict.UNLISTED_FLAKE)])
def test_a_pull_request_pass_of_this_commit_on_a_day_the_test_was_excluded_proves_nothing(
    day: int, kind: Verdict
) -> None:
    """Another run of this very commit (a pull request's) passed: proven flaky, unless the test
    was excluded from the job that day (day 5 of "PPFPPE"), so it did not run to pass."""
    same = (records("PPPPPP", first_run=3000)[day]._replace(sha=SHA),)
    assert judge("PPFPPE", same_commit=same).verdict is kind
