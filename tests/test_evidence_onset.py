"""Newly flaky (issue 23): a test that starts failing now and then at some run is a regression
with a culprit range, never an unlisted flake to ignore. Histories as in `helpers/histories.py`
(P pass, F fail the usual way, ? unknown outcome), oldest first; the triaged run fails after them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fake_github import FakeGitHub
from helpers.e2e import Action, const_only_log
from helpers.histories import BEFORE, history
from hypothesis import given, settings
from hypothesis import strategies as st
from test_evidence import RUN, SHA, USUAL, judge

from bot.evidence import RunRef, assess
from bot.findings import NoteReason
from bot.patch_rules import PATCH_STEADY_P
from bot.render.evidence import sentences
from bot.render.verdict_words import brief
from bot.render.words import note_sentence, say_md, say_text
from bot.verdicts import FLAKES, Verdict

QUIET = "P" * 300
ISO = "%Y-%m-%dT%H:%M:%SZ"


def onset_of(pattern: str):
    found = history(pattern, "standard", symptom=USUAL)
    return assess("basics/t.py", "standard", USUAL, RunRef(RUN.id, 1, SHA, BEFORE), found).flaky_since


@pytest.mark.parametrize("every", [4, 10, 20])  # 25%, 10%, 5% since the start point
def test_flaky_since_a_run_is_a_regression_without_a_patch(every: int) -> None:
    pattern = QUIET + ("P" * (every - 1) + "F") * 4 + "P"
    report = judge(history(pattern, "standard", symptom=USUAL), events=20)
    (finding,) = report.findings
    assert finding.verdict is Verdict.NEWLY_FLAKY and finding.needs_look
    assert finding.verdict not in FLAKES
    assert not report.candidates and report.counts.tally("newly_flaky") == 1
    # the rates alone would have earned a patch: the note says why there is none
    (note,) = report.notes
    assert note.reason is NoteReason.NOT_A_FLAKE and "made it flaky" in say_text(note_sentence(note))
    onset = finding.evidence.flaky_since if finding.evidence else None
    assert onset is not None
    assert onset.first_failure.run_id == 1000 + 300 + every - 1
    assert onset.last_quiet is not None and onset.last_quiet.run_id < onset.first_failure.run_id


def test_the_same_failures_spread_over_the_whole_history_are_an_unlisted_flake() -> None:
    pattern = ("P" * 79 + "F") * 4 + "P" * 10  # steady 1.25%, as long as the store knows
    report = judge(history(pattern, "standard", symptom=USUAL), events=20)
    (finding,) = report.findings
    assert finding.verdict is Verdict.UNLISTED_FLAKE and report.candidates
    assert finding.evidence is not None and finding.evidence.flaky_since is None


def test_a_flake_that_stopped_is_not_newly_flaky() -> None:
    assert onset_of(("P" * 9 + "F") * 20 + "P" * 300) is None


def test_a_start_point_straddled_by_unknown_outcomes_puts_them_in_the_range() -> None:
    """Failed jobs with expired logs right where the change happened: the last quiet run is the
    last known pass before them, and the words say how many lie between."""
    onset = onset_of(QUIET + "???" + "FPPPPPPFPPPPPF" + "P")
    assert onset is not None
    assert onset.last_quiet is not None and onset.last_quiet.run_id <= 1000 + 299
    assert onset.first_failure.run_id == 1000 + 303
    assert onset.unknown == 3


def test_a_streak_stays_a_streak() -> None:
    """Failing in every execution since the start: the streak's verdict (its range is exact)."""
    (finding,) = judge(history(QUIET + "PPPFPPPPFPPFF", "standard", symptom=USUAL)).findings
    assert finding.verdict is Verdict.REGRESSION


def test_words_name_the_quiet_run_the_first_failure_and_the_compare_link() -> None:
    pattern = QUIET + ("P" * 9 + "F") * 4 + "P"
    (finding,) = judge(history(pattern, "standard", symptom=USUAL)).findings
    assert brief(finding).startswith("failed 4 of 32 executions since run 1309, 0 of 309 before")
    base = "https://github.com/micropython/micropython"
    text = [say_text(s) for s in sentences(finding, base)]
    rose = "Its failure rate in this job rose: 4 failures in 32 executions since run 1309"
    assert any(t.startswith(rose) for t in text), text
    quiet = next(s for s in sentences(finding, base) if say_text(s).startswith("Last quiet run: run "))
    assert f"{base}/compare/" in say_md(quiet)
    assert "find the cause in the changes between it and the first failure" in say_text(quiet)


def test_the_failures_output_gives_the_start_point_and_its_range() -> None:
    import json

    from bot.render import outputs

    report = judge(history(QUIET + ("P" * 9 + "F") * 4 + "P", "standard", symptom=USUAL))
    (row,) = json.loads(outputs(report)["failures"])
    e = row["evidence"]
    assert row["verdict"] == "newly-flaky" and row["needs_look"] and not row["patch"]
    assert e["flaky_since_run"] == 1309 and e["last_quiet_run"] < 1309
    assert e["flaky_compare_url"].endswith(f"/compare/{e['last_quiet_sha']}...{e['flaky_since_sha']}")
    steady = judge(history(("P" * 79 + "F") * 4 + "P" * 10, "standard", symptom=USUAL))
    (row,) = json.loads(outputs(steady)["failures"])
    assert row["evidence"]["flaky_since_run"] is None and row["evidence"]["flaky_compare_url"] is None


def test_a_hint_of_a_rise_short_of_the_verdict_holds_the_patch_back() -> None:
    """Two failures in the last 20 of 121 executions: not enough to call it newly flaky (p about
    0.01), enough to wait before hiding it; the same failures spread out earn the patch."""
    recent = judge(history("P" * 100 + "PPPPPPPPPF" * 2 + "P", "standard", symptom=USUAL))
    (finding,) = recent.findings
    assert finding.verdict is Verdict.UNLISTED_FLAKE and finding.evidence is not None
    assert 0.005 < finding.evidence.rise_p < PATCH_STEADY_P
    assert not recent.candidates
    (note,) = recent.notes
    assert note.reason is NoteReason.RECENT
    assert "crowd into its latest executions" in say_text(note_sentence(note))
    spread = judge(history("PPPPPPPPPF" + "P" * 100 + "PPPPPPPPPF" + "P", "standard", symptom=USUAL))
    assert spread.findings[0].verdict is Verdict.UNLISTED_FLAKE and spread.candidates and not spread.notes


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=0, max_value=400),
    st.text(alphabet="PPPPPPPPPF?", min_size=10, max_size=80),
)
def test_newly_flaky_or_recent_is_never_patched(quiet: int, tail: str) -> None:
    """Whatever the quiet stretch and what follows: a test called newly flaky, or whose failures
    crowd into its latest executions, gets no patch; a rise is never called a flake."""
    report = judge(history("P" * quiet + tail + "P", "standard", symptom=USUAL), events=20)
    (finding,) = report.findings
    e = finding.evidence
    assert e is not None
    if finding.verdict is Verdict.NEWLY_FLAKY:
        assert e.flaky_since is not None and finding.needs_look
    if e.flaky_since is not None:
        assert finding.verdict not in FLAKES
    if e.flaky_since is not None or e.rise_p < PATCH_STEADY_P:
        assert not report.candidates


def test_a_test_that_became_flaky_on_master_is_told_through_the_action(
    fake_github: FakeGitHub, action: Action, tmp_path: Path
) -> None:
    """120 quiet master pushes, then const.py failing alone at pushes 124, 131 and 137: the next
    failure is newly flaky, with the last quiet run and the compare range, and no patch even
    though 3 failures in 141 executions would meet a patch policy of 1% over 20."""
    fake = fake_github
    pushes = []
    for i in range(141):
        failed = i in (124, 131, 137)
        push = fake.add_run(event="push", created_at=(BEFORE - timedelta(hours=200 - i)).strftime(ISO),
                            conclusion="failure" if failed else "success")  # fmt: skip
        fake.add_job(push["id"], "standard", "failure" if failed else "success",
                     log=const_only_log() if failed else "missing")  # fmt: skip
        pushes.append(push)
    current = fake.add_run(event="push", created_at=BEFORE.strftime(ISO))
    fake.add_job(current["id"], "standard", "failure", log=const_only_log())

    result = action.run(current["id"], history=str(tmp_path / "h.sqlite"), suggest_patches="0.01,20")

    assert result.code == 0, result.stderr
    (row,) = result.failures
    assert (row["verdict"], row["needs_look"], row["patch"]) == ("newly-flaky", True, False)
    e = row["evidence"]
    assert e["flaky_since_run"] == pushes[124]["id"]
    assert e["last_quiet_run"] is not None and e["last_quiet_run"] < pushes[124]["id"]
    assert "Last quiet run" in result.summary and "/compare/" in result.summary
    [check] = fake.check_runs()
    assert check["conclusion"] == "failure"
