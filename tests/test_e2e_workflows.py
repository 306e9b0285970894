"""A failed qemu run and a failed windows run, triaged end to end against the fake GitHub.

The jobs carry the names the jobs API gives matrix jobs, the logs are the real-format fixtures of
tests/data/workflows (Windows ones with CRLF), and the registry is the bundled one: the run's
workflow must select its own jobs and runners (win32 for the windows jobs), and each workflow must
keep its own sticky comment and check run beside the unix port's. (`action` is the conftest
fixture that runs `flake-bot triage` as the action step.)
"""

from __future__ import annotations

from typing import Any

from fake_github import FakeGitHub
from helpers.workflow_logs import mingw_log, msvc_log, qemu_log, unix_log

from bot.render import COMMENT_MARKER

SABRELITE = "build_and_test_arm (sabrelite)"
MSVC = "build-vs (x64, Release, dev, 2022, [17, 18), v143)"
MINGW = "build-mingw (dev, mingw32, i686)"
WINDOWS_MARKER = "<!-- flake-bot:triage-comment:ports_windows.yml -->"


def test_failed_qemu_push_gets_its_own_check_run_with_matrix_job_names(
    fake_github: FakeGitHub, action: Any
) -> None:
    fake = fake_github
    run = fake.add_run(
        event="push", workflow="ports_qemu.yml", workflow_name="qemu port", created_at="2026-08-20T02:00:00Z"
    )
    fake.add_job(run["id"], "build_and_test_arm (bigendian)", "success", log=b"")
    fake.add_job(run["id"], SABRELITE, "failure", log=qemu_log())
    fake.add_job(run["id"], "build_and_test_rv32", "success", log=b"")

    result = action.run(run["id"])

    assert result.code == 0, result.stderr
    [check] = fake.check_runs(head_sha=run["head_sha"])
    assert check["name"] == "flake-bot (qemu port)"
    assert check["conclusion"] == "failure"
    levels = {(a["path"], a["annotation_level"]) for a in check["annotations"]}
    assert levels == {  # the ignored known flake failed nothing: no annotation
        ("tests/micropython/viper_ptr32_store.py", "failure"),
        ("tests/basics/gen_yield_from_close.py", "failure"),
    }
    assert result.outputs["new-failures"] == "2"  # the known flake was ignored: it failed nothing
    by_test = {f["test"]: f for f in result.failures}
    assert {f["job"] for f in result.failures} == {SABRELITE}
    assert by_test["micropython/viper_ptr32_store.py"]["pass"] == "via-mpy-native"
    assert set(by_test) == {"micropython/viper_ptr32_store.py", "basics/gen_yield_from_close.py",
                            "extmod/time_time_ns.py"}  # fmt: skip
    assert by_test["extmod/time_time_ns.py"]["verdict"] == "ignored"  # in the output, failing nothing
    # green jobs' logs are never downloaded: one log, the jobs list, check-run list and create
    assert len([r for r in fake.requests if r.is_blob]) == 1
    assert len(fake.requests) <= 4 + 2 * 1


def test_failed_windows_pull_request_and_a_unix_run_keep_separate_sticky_comments(
    fake_github: FakeGitHub, action: Any
) -> None:
    fake = fake_github
    pr = fake.add_pull(head_sha="5eed" * 10, head_branch="fix-windows")
    windows = fake.add_run(
        event="pull_request", workflow="ports_windows.yml", workflow_name="windows port",
        branch="fix-windows", head_sha=pr["head"]["sha"], pull_requests=[pr["number"]],
        created_at="2026-08-20T02:30:00Z",
    )  # fmt: skip
    fake.add_job(windows["id"], MSVC, "failure", log=msvc_log())
    fake.add_job(windows["id"], MINGW, "failure", log=mingw_log())
    fake.add_job(windows["id"], "cross-build-on-linux", "success", log=b"")

    result = action.run(windows["id"])

    assert result.code == 0, result.stderr
    [comment] = fake.comments(pr["number"])
    assert comment["body"].startswith(WINDOWS_MARKER)
    assert MSVC in comment["body"] and MINGW in comment["body"]
    verdicts = {(f["job"], f["test"]): f["verdict"] for f in result.failures}
    assert verdicts == {  # the two ignored known flakes failed nothing
        (MSVC, "extmod/vfs_posix_paths.py"): "new",
        (MINGW, "basics/string_format_modulo.py"): "new",
        (MSVC, "thread/thread_gc1.py"): "ignored",
        (MINGW, "thread/stress_schedule.py"): "ignored",
    }
    assert not fake.check_runs(head_sha=pr["head"]["sha"])  # a pull request gets the comment only

    unix = fake.add_run(
        event="pull_request", branch="fix-windows", head_sha=pr["head"]["sha"], pull_requests=[pr["number"]],
        created_at="2026-08-20T02:40:00Z",
    )  # fmt: skip
    fake.add_job(unix["id"], "standard", "failure", log=unix_log())
    assert action.run(unix["id"]).code == 0
    again = action.run(windows["id"])  # the windows run triaged again edits its own comment
    assert again.code == 0, again.stderr

    comments = fake.comments(pr["number"])
    assert len(comments) == 2
    markers = sorted(c["body"].splitlines()[0] for c in comments)
    assert markers == sorted([COMMENT_MARKER, WINDOWS_MARKER])
    assert [c["id"] for c in comments if c["body"].startswith(WINDOWS_MARKER)] == [comment["id"]]


def test_a_failure_ignored_only_on_macos_is_a_real_failure_on_windows(
    fake_github: FakeGitHub, action: Any
) -> None:
    fake = fake_github
    text = msvc_log().replace(b"extmod/vfs_posix_paths.py", b"thread/stress_heap.py")
    run = fake.add_run(
        event="push", workflow="ports_windows.yml", workflow_name="windows port",
        created_at="2026-08-20T03:00:00Z",
    )  # fmt: skip
    fake.add_job(run["id"], MSVC, "failure", log=text)

    result = action.run(run["id"])

    assert result.code == 0, result.stderr
    heap = next(f for f in result.failures if f["test"] == "thread/stress_heap.py")
    assert heap["verdict"] == "flaky-elsewhere"  # flaky_tests_to_ignore says darwin only
    [check] = fake.check_runs(head_sha=run["head_sha"])
    assert check["name"] == "flake-bot (windows port)"
    assert ("tests/thread/stress_heap.py", "failure") in {
        (a["path"], a["annotation_level"]) for a in check["annotations"]
    }
