"""The gateway against the fake GitHub over real HTTP: paging, log download, reads and writes.

Faults and retries are in test_gateway_faults.py; fork-PR resolution in test_gateway_pulls.py.
"""

from __future__ import annotations

import pytest

from bot.errors import GatewayError, InputError, LogUnavailable
from bot.gateway import GitHubGateway
from bot.gateway.client import next_link
from bot.gateway.tree import ApiTree

TOKEN = "ghs_s3cretTokenValue"
BOM = b"\xef\xbb\xbf"


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def gateway(fake_github, waits):
    gw = GitHubGateway(
        fake_github.repo, token=TOKEN, api_url=fake_github.api_url, timeout=5, sleep=waits.append
    )
    yield gw
    gw.close()


def test_iter_runs_follows_link_pages_newest_first(fake_github, gateway):
    added = [fake_github.add_run(conclusion="success" if i % 6 else "failure") for i in range(250)]
    runs = list(gateway.iter_runs("ports_unix.yml"))
    assert [r.id for r in runs] == [r["id"] for r in reversed(added)]
    pages = fake_github.requests_to("GET", r"/actions/workflows/ports_unix\.yml/runs$")
    assert [(p.query.get("page"), p.query["per_page"]) for p in pages] == [
        (None, "100"),
        ("2", "100"),
        ("3", "100"),
    ]
    assert gateway.requests_made == 3
    assert runs[0].workflow_path == ".github/workflows/ports_unix.yml"
    assert runs[0].created_at.tzinfo is not None


def test_iter_runs_is_lazy(fake_github, gateway):
    for _ in range(250):
        fake_github.add_run()
    first = []
    for run in gateway.iter_runs("ports_unix.yml"):
        first.append(run)
        if len(first) == 5:
            break
    assert gateway.requests_made == 1


def test_iter_runs_passes_filters(fake_github, gateway):
    fake_github.add_run(branch="master", event="push", created_at="2026-02-03T10:00:00Z")
    wanted = fake_github.add_run(branch="master", event="push", created_at="2026-03-03T10:00:00Z")
    fake_github.add_run(branch="feature", event="pull_request", created_at="2026-03-04T10:00:00Z")
    runs = list(gateway.iter_runs("ports_unix.yml", branch="master", event="push", created=">=2026-03-01"))
    assert [r.id for r in runs] == [wanted["id"]]
    assert fake_github.requests[-1].query == {
        "branch": "master",
        "event": "push",
        "created": ">=2026-03-01",
        "per_page": "100",
    }


def test_iter_runs_lists_a_rerun_at_its_latest_attempt(fake_github, gateway):
    run = fake_github.add_run(conclusion="failure", head_sha="c0ffee" * 6 + "abcd")
    fake_github.add_attempt(run["id"], conclusion="success")
    [latest] = gateway.iter_runs("ports_unix.yml")
    assert latest.id == run["id"]
    assert (latest.attempt, latest.conclusion) == (2, "success")
    assert latest.head_sha == "c0ffee" * 6 + "abcd"
    assert latest.head_repo == "micropython/micropython"
    assert latest.workflow_name == "unix port"


def test_list_jobs_latest_all_and_one_attempt(fake_github, gateway):
    run = fake_github.add_run()
    fake_github.add_job(run["id"], "standard", "failure", runner="ubuntu-24.04")
    fake_github.add_job(run["id"], "macos", "success", runner="macos-26")
    fake_github.add_attempt(run["id"])
    fake_github.add_job(run["id"], "standard", "success", attempt=2)
    latest = gateway.list_jobs(run["id"])
    assert sorted((j.name, j.attempt, j.conclusion) for j in latest) == [
        ("macos", 1, "success"),
        ("standard", 2, "success"),
    ]
    every = gateway.list_jobs(run["id"], all_attempts=True)
    assert len(every) == 3
    first = gateway.list_jobs(run["id"], attempt=1)
    assert {(j.name, j.conclusion, j.runner) for j in first} == {
        ("standard", "failure", "ubuntu-24.04"),
        ("macos", "success", "macos-26"),
    }
    standard = next(j for j in first if j.name == "standard")
    assert [s.name for s in standard.steps][3] == "Run main test suite"
    assert standard.steps[3].conclusion == "failure"
    assert standard.steps[3].number == 4


def test_list_jobs_pages_many_jobs(fake_github, gateway):
    run = fake_github.add_run()
    for i in range(130):
        fake_github.add_job(run["id"], f"job {i}", "success")
    assert len(gateway.list_jobs(run["id"])) == 130
    assert gateway.requests_made == 2


def test_job_log_follows_302_without_token_and_keeps_bom(fake_github, gateway):
    log = (
        "2026-01-13T10:22:33.1234567Z ##[group]Run tests\n"
        "2026-01-13T10:22:34.0000000Z FAIL  thread/thread_gc1.py\n"
    )
    run = fake_github.add_run()
    job = fake_github.add_job(run["id"], "standard", log=log.encode())
    with gateway.job_log(job["id"], max_bytes=10_000_000) as download:
        data = b"".join(download)
    assert data == BOM + log.encode()
    assert not download.truncated
    api, blob = fake_github.requests
    assert api.path.endswith(f"/actions/jobs/{job['id']}/logs")
    assert api.headers["authorization"] == f"token {TOKEN}"
    assert blob.is_blob
    assert "authorization" not in blob.headers
    assert gateway.requests_made == 2


def test_job_log_streams_in_chunks_and_caps_bytes(fake_github, gateway):
    body = b"".join(b"2026-01-13T10:22:33.1234567Z line %06d\n" % i for i in range(20_000))  # ~800 kB
    run = fake_github.add_run()
    job = fake_github.add_job(run["id"], "standard", log=body)
    download = gateway.job_log(job["id"], max_bytes=100_000)
    chunks = list(download)
    assert len(chunks) > 1
    assert b"".join(chunks) == (BOM + body)[:100_000]
    assert download.truncated
    assert download.bytes_read == 100_000


def test_job_log_exactly_at_cap_is_not_truncated(fake_github, gateway):
    run = fake_github.add_run()
    job = fake_github.add_job(run["id"], "standard", log=b"x" * 997)
    download = gateway.job_log(job["id"], max_bytes=1000)
    assert download.read() == BOM + b"x" * 997
    assert not download.truncated


@pytest.mark.parametrize(("state", "status"), [("expired", 410), ("missing", 404)])
def test_job_log_unavailable(fake_github, gateway, waits, state, status):
    run = fake_github.add_run()
    job = fake_github.add_job(run["id"], "standard", log=state)
    with pytest.raises(LogUnavailable) as caught:
        gateway.job_log(job["id"], max_bytes=1000)
    assert caught.value.status == status
    assert gateway.requests_made == 1
    assert waits == []


def test_job_log_asks_for_a_fresh_url_when_the_blob_refuses(fake_github, gateway):
    run = fake_github.add_run()
    job = fake_github.add_job(run["id"], "standard", log=b"hello\n")
    fake_github.fail("GET", r"^/_blob/", 403, body=b"<Error><Code>AuthenticationFailed</Code></Error>")
    assert gateway.job_log(job["id"], max_bytes=1000).read() == BOM + b"hello\n"
    assert [r.is_blob for r in fake_github.requests] == [False, True, False, True]


def test_job_log_gives_up_after_one_fresh_url(fake_github, gateway):
    run = fake_github.add_run()
    job = fake_github.add_job(run["id"], "standard", log=b"hello\n")
    fake_github.fail("GET", r"^/_blob/", 404, times=None)
    with pytest.raises(GatewayError) as caught:
        gateway.job_log(job["id"], max_bytes=1000)
    assert caught.value.status == 404
    assert gateway.requests_made == 4


def test_job_log_retries_blob_5xx(fake_github, gateway, waits):
    run = fake_github.add_run()
    job = fake_github.add_job(run["id"], "standard", log=b"hello\n")
    fake_github.fail("GET", r"^/_blob/", 503)
    assert gateway.job_log(job["id"], max_bytes=1000).read() == BOM + b"hello\n"
    assert len(waits) == 1


def test_comments_create_list_edit(fake_github, gateway):
    pr = fake_github.add_pull(head_sha="a" * 40)
    fake_github.add_comment(pr["number"], "LGTM", user="dpgeorge")
    created = gateway.create_issue_comment(pr["number"], "<!-- flake-bot -->\nfirst")
    assert created.user_login == "github-actions[bot]"
    assert created.html_url.endswith(f"#issuecomment-{created.id}")
    edited = gateway.edit_issue_comment(created.id, "<!-- flake-bot -->\nsecond")
    assert edited.id == created.id
    listed = gateway.list_issue_comments(pr["number"])
    assert [(c.user_login, c.body) for c in listed] == [
        ("dpgeorge", "LGTM"),
        ("github-actions[bot]", "<!-- flake-bot -->\nsecond"),
    ]
    post = fake_github.requests_to("POST", r"/comments$")[0]
    assert post.json == {"body": "<!-- flake-bot -->\nfirst"}


def test_comments_list_pages(fake_github, gateway):
    pr = fake_github.add_pull(head_sha="a" * 40)
    for i in range(205):
        fake_github.add_comment(pr["number"], f"comment {i}")
    comments = gateway.list_issue_comments(pr["number"])
    assert [c.body for c in comments][-1] == "comment 204"
    assert len(comments) == 205
    assert gateway.requests_made == 3


def annotation(i: int, level: str = "warning") -> dict:
    return {
        "path": f"tests/thread/t{i}.py",
        "start_line": 1,
        "end_line": 1,
        "annotation_level": level,
        "message": f"failed {i}",
    }


def test_check_run_with_many_annotations_posts_in_batches(fake_github, gateway):
    sha = "b" * 40
    info = gateway.create_check_run(
        name="flake-bot",
        head_sha=sha,
        external_id="19000000001-1",
        details_url="https://github.com/micropython/micropython/actions/runs/19000000001",
        conclusion="neutral",
        title="3 failures",
        summary="summary",
        text="details",
        annotations=[annotation(i) for i in range(120)],
    )
    [stored] = fake_github.check_runs(sha)
    assert [a["message"] for a in stored["annotations"]] == [f"failed {i}" for i in range(120)]
    output = stored["output"]
    assert (output["title"], output["summary"], output["text"]) == ("3 failures", "summary", "details")
    assert info.annotations_count == 120
    assert info.external_id == "19000000001-1"
    writes = [r for r in fake_github.requests if r.method != "GET"]
    assert [(r.method, len(r.json["output"].get("annotations", []))) for r in writes] == [
        ("POST", 50),
        ("PATCH", 50),
        ("PATCH", 20),
    ]
    assert all(r.json["output"]["title"] == "3 failures" for r in writes)


def test_check_run_list_and_update(fake_github, gateway):
    sha = "c" * 40
    created = gateway.create_check_run(
        name="flake-bot",
        head_sha=sha,
        external_id="7-1",
        details_url=None,
        conclusion="neutral",
        title="t",
        summary="s",
        text="",
        annotations=[annotation(1)],
    )
    assert "details_url" not in fake_github.requests_to("POST", "/check-runs")[0].json
    with GitHubGateway(fake_github.repo, token=TOKEN, api_url=fake_github.api_url) as other:
        [found] = other.list_check_runs(sha, "flake-bot")
        assert (found.id, found.external_id, found.annotations_count) == (created.id, "7-1", 1)
        updated = other.update_check_run(
            found.id, conclusion="failure", annotations=[annotation(2, "failure")]
        )
    assert updated.conclusion == "failure"
    assert updated.annotations_count == 2
    patch = fake_github.requests_to("PATCH", "/check-runs/")[-1]
    assert patch.json["output"]["title"] == "t"  # carried over: GitHub requires it with any output


def test_update_check_run_of_unseen_check_reads_its_output_first(fake_github, gateway):
    sha = "d" * 40
    created = gateway.create_check_run(
        name="flake-bot",
        head_sha=sha,
        external_id="8-1",
        details_url=None,
        conclusion="neutral",
        title="title",
        summary="summary",
        text="",
        annotations=[],
    )
    fresh = GitHubGateway(fake_github.repo, token=TOKEN, api_url=fake_github.api_url)
    fresh.update_check_run(created.id, annotations=[annotation(1)])
    assert [r.method for r in fake_github.requests[-2:]] == ["GET", "PATCH"]
    assert fake_github.check_runs(sha)[0]["output"]["summary"] == "summary"
    fresh.close()


def test_get_file_text_and_tree(fake_github, gateway):
    text = "#!/bin/bash\n# exclusions: thread/stress_aes.py\n" + "echo é\n" * 200
    fake_github.add_file("tools/ci.sh", text, ref="v1.27.0")
    fake_github.add_file("tests/thread/thread_gc1.py", "print(1)\n", ref="v1.27.0")
    fake_github.add_file("tests/run-tests.py", "x = 1\n", ref="v1.27.0")
    assert gateway.get_file_text("tools/ci.sh", "v1.27.0") == text
    assert fake_github.requests[-1].query == {"ref": "v1.27.0"}
    assert gateway.list_tree_paths("v1.27.0", "tests/") == [
        "tests/run-tests.py",
        "tests/thread/thread_gc1.py",
    ]
    with pytest.raises(GatewayError) as caught:
        gateway.get_file_text("tools/missing.sh", "v1.27.0")
    assert caught.value.status == 404


def test_next_link_parsing():
    header = (
        '<https://api.github.com/x?page=1>; rel="prev", <https://api.github.com/x?page=3>; rel="next", '
        '<https://api.github.com/x?page=9>; rel="last"'
    )
    assert next_link(header) == "https://api.github.com/x?page=3"
    assert next_link('<https://api.github.com/x?page=1>; rel="first"') is None
    assert next_link(None) is None


def test_rejects_malformed_repository_and_url():
    with pytest.raises(InputError):
        GitHubGateway("not a repo", token=None)
    with pytest.raises(InputError):
        GitHubGateway("o/r", token=None, api_url="ftp://example")


def test_job_log_resumes_after_a_break_mid_stream(fake_github, gateway):
    body = b"".join(b"2026-01-13T10:22:33.1234567Z line %06d\n" % i for i in range(10_000))
    run = fake_github.add_run()
    job = fake_github.add_job(run["id"], "standard", log=body)
    fake_github.cut_body("GET", r"^/_blob/", after_bytes=150_001)
    download = gateway.job_log(job["id"], max_bytes=10_000_000)
    assert download.read() == BOM + body
    assert not download.truncated
    assert [r.is_blob for r in fake_github.requests] == [False, True, False, True]


def test_job_log_gives_up_after_repeated_breaks(fake_github, gateway):
    run = fake_github.add_run()
    job = fake_github.add_job(run["id"], "standard", log=b"y" * 200_000)
    fake_github.cut_body("GET", r"^/_blob/", after_bytes=1000, times=None)
    download = gateway.job_log(job["id"], max_bytes=10_000_000)
    with pytest.raises(GatewayError, match=r"interrupted after 1000 bytes \(ChunkedEncodingError\)"):
        download.read()
    assert len(fake_github.requests_to("GET", r"^/_blob/")) == 3  # first try and two resumes


def test_job_log_url_that_expired_meanwhile_is_renewed(fake_github, gateway):
    run = fake_github.add_run()
    job = fake_github.add_job(run["id"], "standard", log=b"z" * 200_000)
    fake_github.cut_body("GET", r"^/_blob/", after_bytes=5000)
    download = gateway.job_log(job["id"], max_bytes=10_000_000)
    fake_github.expire_blob_urls()  # any URL handed out so far is now refused with 403
    assert download.read() == BOM + b"z" * 200_000
    assert len(fake_github.requests_to("GET", r"/logs$")) == 2


def test_github_enterprise_api_prefix(fake_github, waits):
    fake_github.prefix = "/api/v3"
    for _ in range(150):
        fake_github.add_run()
    run = fake_github.add_run()
    job = fake_github.add_job(run["id"], "standard", log=b"log line\n")
    with GitHubGateway(fake_github.repo, token=TOKEN, api_url=fake_github.api_url, sleep=waits.append) as gh:
        assert len(list(gh.iter_runs("ports_unix.yml"))) == 151
        assert gh.job_log(job["id"], max_bytes=1000).read() == BOM + b"log line\n"
    api = fake_github.api_requests()
    assert [r.raw_path.startswith("/api/v3/repos/") for r in api] == [True] * 3
    assert waits == []


def test_api_root_without_the_enterprise_prefix_finds_nothing(fake_github):
    fake_github.prefix = "/api/v3"
    run = fake_github.add_run()
    gh = GitHubGateway(fake_github.repo, token=TOKEN, api_url=fake_github.server.url)
    with pytest.raises(GatewayError) as caught:
        gh.list_jobs(run["id"], attempt=1)
    assert caught.value.status == 404


def test_api_tree_asks_once_per_file_found_or_missing(fake_github, gateway):
    fake_github.add_file("pyproject.toml", "[tool.ruff]\nline-length = 99\n", ref="master")
    tree = ApiTree(gateway, "master")
    for _ in range(3):
        assert "line-length = 99" in tree.read_text("pyproject.toml")
        with pytest.raises(GatewayError) as caught:
            tree.read_text("ruff.toml")
        assert caught.value.status == 404
    asked = [r.path.rsplit("/", 1)[-1] for r in fake_github.requests_to("GET", r"/contents/")]
    assert asked == ["pyproject.toml", "ruff.toml"]
