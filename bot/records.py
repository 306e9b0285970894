"""Plain records shared by every layer.

These frozen dataclasses are the contract between the pure core (log reading, runner
parsers, registry, statistics) and the edges (gateway, store, rendering, publishing).
They hold only data; the JSON shape produced by `JobReport.to_json()` is the documented
`parse-log --json` schema and must stay stable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """How a test failed, as derived from its output diff."""

    FAIL = "fail"
    TIMEOUT = "timeout"
    CRASH = "crash"


class Runner(StrEnum):
    """Which MicroPython test runner produced a failure line."""

    RUN_TESTS = "run-tests"
    MULTITESTS = "run-multitests"
    NATMODTESTS = "run-natmodtests"
    PERFBENCH = "run-perfbench"


class TestPass(StrEnum):
    """The pass of a "full" job (ports/unix Makefile test_full) a run-tests failure belongs to."""

    BYTECODE = "bytecode"
    VIA_MPY = "via-mpy"
    NATIVE = "native"
    VIA_MPY_NATIVE = "via-mpy-native"


class ProblemKind(StrEnum):
    """A reason a job failed, or a log was not fully understood, that is not a test failure."""

    BUILD = "build"
    RUNNER_ERROR = "runner-error"
    STEP = "step"
    TRUNCATED = "truncated"
    CANCELLED = "cancelled"
    UNREADABLE = "unreadable"  # empty, binary, not UTF-8, or nothing like a job log: no verdict


@dataclass(frozen=True)
class TestFailure:
    """One failing test in one pass of one job.

    `line` is the 1-based line number in the original log (so a comment can link to it).
    `symptom` is short and normalised so that equal failures in different runs compare equal;
    `diff` is bounded in length. Both come from untrusted log text and must be escaped by
    whoever renders them.
    """

    test: str
    runner: Runner
    outcome: Outcome
    ignored: bool = False
    test_pass: TestPass | None = None
    symptom: str = ""
    diff: str = ""
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "runner": self.runner.value,
            "outcome": self.outcome.value,
            "ignored": self.ignored,
            "pass": self.test_pass.value if self.test_pass else None,
            "symptom": self.symptom,
            "diff": self.diff,
            "line": self.line,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TestFailure:
        return cls(
            test=data["test"],
            runner=Runner(data["runner"]),
            outcome=Outcome(data["outcome"]),
            ignored=bool(data.get("ignored", False)),
            test_pass=TestPass(data["pass"]) if data.get("pass") else None,
            symptom=data.get("symptom", ""),
            diff=data.get("diff", ""),
            line=data.get("line"),
        )


@dataclass(frozen=True)
class Problem:
    """A job failure that is not a test failure, or a part of the log that was not understood."""

    kind: ProblemKind
    message: str
    step: str | None = None
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "step": self.step, "message": self.message, "line": self.line}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Problem:
        return cls(
            kind=ProblemKind(data["kind"]),
            message=data.get("message", ""),
            step=data.get("step"),
            line=data.get("line"),
        )


@dataclass(frozen=True)
class JobReport:
    """Everything read from one job log.

    `complete` is False whenever part of the log could not be understood; a report with no
    failures and `complete=True` is the only one that may be called clean.
    """

    job: str | None
    complete: bool
    failures: tuple[TestFailure, ...] = ()
    problems: tuple[Problem, ...] = ()
    failed_step: str | None = None
    steps: tuple[str, ...] = field(default=())

    @property
    def unreadable(self) -> str | None:
        """Why nothing could be read from the log (empty, binary ...), or None if it was read.

        Such a log says nothing about the job, so it is never "no failures"."""
        if self.failures:
            return None
        return next((p.message for p in self.problems if p.kind is ProblemKind.UNREADABLE), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "complete": self.complete,
            "failed_step": self.failed_step,
            "steps": list(self.steps),
            "failures": [f.to_json() for f in self.failures],
            "problems": [p.to_json() for p in self.problems],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobReport:
        return cls(
            job=data.get("job"),
            complete=bool(data.get("complete", False)),
            failures=tuple(TestFailure.from_json(f) for f in data.get("failures", [])),
            problems=tuple(Problem.from_json(p) for p in data.get("problems", [])),
            failed_step=data.get("failed_step"),
            steps=tuple(data.get("steps", [])),
        )


class LogState(StrEnum):
    """What became of a job's log: the difference matters for rates and for "was that me?"."""

    PARSED = "parsed"
    EXPIRED = "expired"  # 410: GitHub's retention ran out
    MISSING = "missing"  # 404: the job never uploaded a log
    NOT_FETCHED = "not-fetched"  # not downloaded (green job, budget exhausted, or not yet)


@dataclass(frozen=True)
class PullRef:
    """A pull request as the run payload names it; must be confirmed before it is trusted."""

    number: int
    head_sha: str
    base_repo: str | None = None


@dataclass(frozen=True)
class RunInfo:
    """One attempt of one workflow run. `branch` and `title` are attacker-controlled for fork PRs."""

    id: int
    attempt: int
    workflow_name: str
    workflow_path: str
    event: str
    branch: str | None
    head_sha: str
    head_repo: str | None
    created_at: datetime
    status: str
    conclusion: str | None
    html_url: str = ""
    title: str = ""
    pull_requests: tuple[PullRef, ...] = ()


@dataclass(frozen=True)
class StepInfo:
    """A step of a job as the jobs API lists it (its number anchors log links)."""

    number: int
    name: str
    conclusion: str | None = None


@dataclass(frozen=True)
class JobInfo:
    """One job of one run attempt, as the jobs API lists it."""

    id: int
    run_id: int
    attempt: int
    name: str
    status: str
    conclusion: str | None
    runner: str | None = None
    html_url: str = ""
    started_at: datetime | None = None
    completed_at: datetime | None = None
    steps: tuple[StepInfo, ...] = ()


@dataclass(frozen=True)
class FlakeRate:
    """How often a test failed (or failed-and-was-ignored) per execution, from the history store.

    `low`/`high` are the Wilson 95% interval; `job` None means across all jobs.
    `since_last` counts executions after the last event (None when there was none): a flaky test
    passes between its failures, while a test that failed in its latest executions too looks like
    a regression, whatever its long-run rate.
    """

    test: str
    job: str | None
    events: int
    executions: int
    low: float
    high: float
    last_seen: datetime | None = None
    symptoms: tuple[str, ...] = ()
    since_last: int | None = None

    @property
    def rate(self) -> float:
        return self.events / self.executions if self.executions else 0.0
