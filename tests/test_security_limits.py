"""Hostile logs that try to blow GitHub's size limits through the real action run.

A fork PR controls job names (it can edit the workflow) and the test names a runner prints, so
it decides how long every row of the report is and how many rows there are. Whatever it does,
each place flake-bot writes to must stay within the limit GitHub enforces there, or GitHub drops
the whole thing (a step whose outputs exceed 1 MB loses them all).
"""

from __future__ import annotations

import json
import re

from fake_github import FakeGitHub
from helpers.e2e import Action, thread_gc1_log
from logfmt import Step, job_log, real_log

# GitHub: "Outputs can be a maximum of 1 MB per job ... Size is approximated based on UTF-16."
JOB_OUTPUTS_LIMIT = 1024 * 1024
CHECK_BYTES = 65535


def many_failures_log(count: int, name_length: int) -> bytes:
    """Real capture 05 with `count` extra FAIL lines of long, distinct test names."""
    names = [f"x/{i:05d}{'a' * name_length}.py" for i in range(count)]
    text = real_log("05-standard-ci-full-helper-FAILING.log")
    fails = "".join(f"FAIL  {name} \n" for name in names)
    assert "FAIL  micropython/const.py \n" in text and "7 tests failed: basics" in text
    text = text.replace("FAIL  micropython/const.py \n", "FAIL  micropython/const.py \n" + fails, 1)
    text = text.replace("7 tests failed: basics", f"{7 + count} tests failed: {' '.join(names)} basics", 1)
    return job_log(
        [Step("tools/ci.sh unix_standard_run_tests", text, exit_code=2, name="Run main test suite")],
        job="standard",
    )


def test_outputs_stay_under_githubs_limit_whatever_the_names(fake_github: FakeGitHub, action: Action) -> None:
    fake = fake_github
    sha = "7c" * 20
    pr = fake.add_pull(head_sha=sha, head_branch="b", head_repo="mallory/micropython", title="t")
    run = fake.add_run(event="pull_request", branch="b", head_sha=sha, head_repo="mallory/micropython")
    # Non-ASCII job names cost six characters each in ensure_ascii JSON.
    fake.add_job(run["id"], "é" * 300, "failure", log=many_failures_log(520, 190))

    result = action.run(run["id"])

    assert result.code == 0, result.stderr
    size = sum(len(value.encode("utf-16-le")) for value in result.outputs.values())
    assert size < JOB_OUTPUTS_LIMIT, size
    rows = result.failures  # still one valid JSON list, of whole rows
    assert 50 < len(rows) < 500
    assert all(row["job"].startswith("é" * 100) and row["verdict"] for row in rows)
    assert int(result.outputs["new-failures"]) > 500  # the counts still tell the whole story
    assert len(fake.comments(pr["number"])) == 1


def test_outputs_keep_every_row_when_they_fit(fake_github: FakeGitHub, action: Action) -> None:
    """Guards the bound above against cutting what it need not."""
    fake = fake_github
    sha = "7d" * 20
    fake.add_pull(head_sha=sha, head_branch="b", head_repo="mallory/micropython", title="t")
    run = fake.add_run(event="pull_request", branch="b", head_sha=sha, head_repo="mallory/micropython")
    fake.add_job(run["id"], "standard", "failure", log=many_failures_log(40, 20))

    result = action.run(run["id"])

    assert len(result.failures) == 47 + 2  # and the 2 run-tests.py ignored
    assert json.loads(result.outputs["failures"]) == result.failures


def test_thousands_of_failures_cannot_starve_the_pr_comment(fake_github: FakeGitHub, action: Action) -> None:
    """Annotations go 50 per request; a log of 1,000 FAIL lines must not spend the request budget."""
    fake = fake_github
    sha = "7e" * 20
    pr = fake.add_pull(head_sha=sha, head_branch="b", head_repo="mallory/micropython", title="t")
    run = fake.add_run(event="pull_request", branch="b", head_sha=sha, head_repo="mallory/micropython")
    fake.add_job(run["id"], "standard", "failure", log=many_failures_log(1000, 5))

    result = action.run(run["id"], check_run="always", request_budget="20")

    assert result.code == 0, result.stderr
    assert len(fake.comments(pr["number"])) == 1, result.stderr
    [check] = fake.check_runs()
    assert 50 <= len(check["annotations"]) <= 200
    # the ones that need a look are annotated first; the text still names every failure
    assert all(a["annotation_level"] == "failure" for a in check["annotations"])
    assert int(result.outputs["new-failures"]) > 1000


def wide_diffs_log() -> bytes:
    """Capture 05/05b with every diff filled with four-byte characters (an attacker's test output)."""
    wide = "\n".join("+" + "\U0001d518" * 300 for _ in range(6))
    diffs = real_log("05b-print-failures-FAILING-ci-buffered.log")
    diffs = re.sub(r"(?m)^(@@ .* @@)$", lambda m: m.group(1) + "\n" + wide, diffs)
    main = real_log("05-standard-ci-full-helper-FAILING.log")
    return job_log(
        [
            Step("tools/ci.sh unix_standard_run_tests", main, exit_code=2),
            Step("tests/run-tests.py --print-failures", diffs, name="Print failures"),
        ],
        job="standard",
    )


def test_check_run_texts_fit_githubs_byte_limit(fake_github: FakeGitHub, action: Action) -> None:
    """GitHub measures output.summary and output.text in UTF-8 bytes ("exceeds a maximum bytesize
    of 65535", github/docs#35252), not characters: four-byte characters in diffs, and the
    zero-width spaces the sanitizer adds (three bytes each), must not push them over."""
    fake = fake_github
    sha = "7f" * 20
    run = fake.add_run(event="push", branch="master", head_sha=sha)
    for n in range(4):
        fake.add_job(run["id"], f"standard {n} " + "@#" * 40, "failure", log=wide_diffs_log())

    result = action.run(run["id"])

    assert result.code == 0, result.stderr
    [check] = fake.check_runs()
    for key in ("summary", "text"):
        assert len(check["output"][key].encode("utf-8")) <= CHECK_BYTES, key
    assert "\U0001d518" * 20 in check["output"]["text"]  # the diffs are still shown where they fit


def test_annotation_titles_fit_255_bytes(fake_github: FakeGitHub, action: Action) -> None:
    wide = "x/" + "\U0001d518" * 190 + ".py"
    text = real_log("05-standard-ci-full-helper-FAILING.log")
    text = text.replace("FAIL  micropython/const.py \n", f"FAIL  micropython/const.py \nFAIL  {wide} \n", 1)
    text = text.replace("7 tests failed: basics", f"8 tests failed: {wide} basics", 1)
    log = job_log([Step("tools/ci.sh unix_standard_run_tests", text, exit_code=2)], job="standard")
    run = fake_github.add_run(event="push", branch="master", head_sha="80" * 20)
    fake_github.add_job(run["id"], "standard", "failure", log=log)

    result = action.run(run["id"])

    assert result.code == 0, result.stderr
    [check] = fake_github.check_runs()
    titles = [a["title"] for a in check["annotations"]]
    assert any("\U0001d518" * 10 in title for title in titles)
    assert all(len(title.encode("utf-8")) <= 255 for title in titles)


def test_hundreds_of_failed_jobs_cannot_starve_the_comment(fake_github: FakeGitHub, action: Action) -> None:
    """A fork can give its workflow a matrix of 256 failing jobs; reading every log spent the budget."""
    fake = fake_github
    sha = "81" * 20
    pr = fake.add_pull(head_sha=sha, head_branch="b", head_repo="mallory/micropython", title="t")
    run = fake.add_run(event="pull_request", branch="b", head_sha=sha, head_repo="mallory/micropython")
    log = thread_gc1_log()  # a short real log: the number of jobs is the point, not their logs' size
    for n in range(256):
        fake.add_job(run["id"], f"standard {n}", "failure", log=log)

    # A budget below the default 300 starves the same way (the publishing reserve does not scale
    # with it) for less than half the requests.
    result = action.run(run["id"], request_budget="120")

    assert result.code == 0, result.stderr
    assert len(fake.comments(pr["number"])) == 1, result.stderr
    unread = int(result.outputs["unreadable-logs"])
    assert 0 < unread < 256  # some logs were read, the rest are said to be unread
    assert len(fake.requests) <= 120
    assert f"Could not read {unread} logs" in fake.comments(pr["number"])[0]["body"]
