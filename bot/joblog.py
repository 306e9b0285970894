"""Turn the bytes of a GitHub Actions job log into numbered, cleaned lines, streaming.

A job log is UTF-8 with a BOM; each record starts with an ISO-8601 timestamp and a space,
continuation lines of a multi-line record have none; ANSI colour codes are left in; each step
starts with ``##[group]Run <command>`` and its echoed command, ``shell:`` and ``env:`` lines up
to ``##[endgroup]``; a failed step ends with ``##[error]Process completed with exit code N.``.
Raw runner output (no timestamps, no markers) is read the same way, as one unnamed step.

The reader is a push parser: ``feed()`` any slicing of the bytes, then ``close()``. It never
holds more than one chunk plus one capped line, so a 2 GB log or a 50 MB line costs the same
memory as a small one. Line numbers are the 1-based numbers GitHub's log viewer shows (lines
split on ``\\n``), counted even for lines that are skipped, so findings can link back.

Speed: almost every line of a big log is a ``pass``/``skip`` line that cannot change the
outcome. The consumer says, through ``LineSink.skip_markers``, which byte strings a line must
contain to matter in its current state; the reader then jumps from one marker occurrence to
the next with ``bytes.find`` (C speed) and only decodes lines that contain one, plus the line
just before each (runners print context there, e.g. run-natmodtests' output repr). A consumer
that needs every line (inside a diff, a dump, a build step) returns ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

# A run-tests summary line lists every test of its kind on one line; ~35 bytes a path, so
# 256 KiB still holds ~7000 failed tests, while a hostile 50 MB line costs at most this much.
MAX_LINE_BYTES = 256 * 1024
# A step header holds the echoed command (one line per script line), ``shell:`` and ``env:``;
# real ones are a few dozen lines. Past this, the header is taken to be forged or broken
# (a step's output can print ``::group::Run x`` itself) and lines count as output again, so
# a missing ``##[endgroup]`` cannot hide the rest of the log from the runner parsers.
MAX_HEADER_LINES = 400

BOM = b"\xef\xbb\xbf"
_TIMESTAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?")
# The shape GitHub always writes (seven fractional digits): matched without the regex, which
# costs several times more on every line. ``_DIGITS`` maps each ASCII digit to "0".
_STAMP_SHAPE = b"0000-00-00T00:00:00.0000000Z"
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else b for b in range(256))
# CSI sequences (colours, cursor moves) and OSC sequences (titles, hyperlinks).
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_EXIT_CODE = re.compile(r"Process completed with exit code (\d+)\.")


class LineKind(StrEnum):
    """What a log line is, as far as the job-log wrapper tells."""

    TEXT = "text"  # output of a step (or raw runner output)
    STEP = "step"  # ``##[group]Run <command>``: a new step starts; text is "Run <command>"
    HEADER = "header"  # echoed command / shell / env lines of the step header group
    ERROR = "error"  # ``##[error]<message>``: text is the message
    MARKER = "marker"  # any other ``##[...]`` line (group, warning, debug, command ...)


# An enum member read through its class costs ~0.1 us (the metaclass's attribute lookup), a
# module global a sixth of that: the per-line code below uses these.
_TEXT, _STEP, _HEADER, _ERROR, _MARKER = (
    LineKind.TEXT, LineKind.STEP, LineKind.HEADER, LineKind.ERROR, LineKind.MARKER
)


@dataclass(slots=True)
class LogLine:
    """One line, cleaned: no timestamp, no ANSI codes, no trailing CR, decoded leniently."""

    number: int
    text: str
    kind: LineKind = LineKind.TEXT
    truncated: bool = False  # the raw line was longer than MAX_LINE_BYTES and was cut


class LineSink(Protocol):
    """Where the reader pushes lines; see the module docstring for ``skip_markers``."""

    @property
    def skip_markers(self) -> tuple[bytes, ...] | None: ...

    def line(self, line: LogLine) -> None: ...


def exit_code(message: str) -> int | None:
    """The N of an ``##[error]Process completed with exit code N.`` message, else None."""
    match = _EXIT_CODE.fullmatch(message.strip())
    return int(match.group(1)) if match else None


class LogReader:
    """Push parser from job-log bytes to ``LogLine`` events (see the module docstring).

    The lines delivered do not depend on how the input is sliced: a line longer than
    MAX_LINE_BYTES is judged (marker or not) on all of its bytes and delivered cut, whether it
    arrived in one chunk or a thousand; the context line before a marker line is delivered
    even when it ended a previous chunk.
    """

    def __init__(self, sink: LineSink) -> None:
        self._sink = sink
        self._pending = b""  # an incomplete last line, at most MAX_LINE_BYTES long
        self._long: bytes | None = None  # first MAX_LINE_BYTES of an over-long line being dropped
        self._long_hit = False  # that line contains a marker (or every line matters)
        self._long_tail = b""  # its last bytes, so a marker split between chunks is still seen
        self._carry: tuple[bytes, int, bool] | None = None  # last skipped line, number, was cut
        self._started = False  # BOM check done
        self._in_header = False  # between ``##[group]Run`` and its ``##[endgroup]``
        self._header_lines = 0
        self.lines = 0  # lines consumed so far (delivered or skipped)
        self.bytes = 0
        self.timestamped = False  # at least one line carried a job-log timestamp
        self.ended_mid_line = False  # the input did not end with a newline

    def feed(self, data: bytes) -> None:
        if not data:
            return
        self.bytes += len(data)
        if not self._started:
            data = self._pending + data
            self._pending = b""
            if len(data) < len(BOM) and BOM.startswith(data):
                self._pending = data
                return
            self._started = True
            if data.startswith(BOM):
                data = data[len(BOM) :]
        start = 0
        if self._long is not None:
            newline = data.find(b"\n")
            self._watch_long(data if newline < 0 else data[:newline])
            if newline < 0:
                return
            self._end_long()
            start = newline + 1
        last = data.rfind(b"\n", start)
        if last < 0:
            self._pending += data[start:]
            self._cap_pending()
            return
        if self._pending:  # finish the line begun in an earlier chunk, without copying this one
            first = data.find(b"\n", start) + 1
            head, self._pending = self._pending + data[start:first], b""
            self._scan(head, 0, len(head))
            start = first
        self._scan(data, start, last + 1)
        self._pending = data[last + 1 :]
        self._cap_pending()

    def close(self) -> None:
        """Deliver a final line that had no newline (a log cut off mid-line)."""
        if not self._started and self._pending:
            self._started = True
            if self._pending.startswith(BOM):
                self._pending = self._pending[len(BOM) :]
        if self._long is not None:
            self.ended_mid_line = True
            self._end_long()
        elif self._pending:
            self.ended_mid_line = True
            last = self._pending + b"\n"
            self._pending = b""
            self._scan(last, 0, len(last))

    def _hit(self, data: bytes) -> bool:
        markers = self._sink.skip_markers
        return not markers or any(marker in data for marker in markers)

    def _cap_pending(self) -> None:
        if len(self._pending) > MAX_LINE_BYTES:
            self._long = self._pending[:MAX_LINE_BYTES]
            self._long_hit = self._hit(self._pending)
            self._long_tail = self._pending[-64:]
            self._pending = b""

    def _watch_long(self, data: bytes) -> None:
        if not self._long_hit:
            self._long_hit = self._hit(self._long_tail + data)
        self._long_tail = (self._long_tail + data[-64:])[-64:]

    def _end_long(self) -> None:
        assert self._long is not None
        head, self._long = self._long, None
        if self._long_hit:
            if self._carry is not None:
                self._deliver(*self._carry)
            self._deliver(head, self.lines + 1, True)
        else:
            self._carry = (head, self.lines + 1, True)
            self.lines += 1

    def _skip(self, buf: bytes, pos: int, end: int) -> None:
        """Count the lines in buf[pos:end] (end is a line start) and keep the last as context."""
        before = buf.rfind(b"\n", pos, end - 1)
        count = buf.count(b"\n", pos, end)
        self._carry = (buf[before + 1 if before >= 0 else pos : end - 1], self.lines + count, False)
        self.lines += count

    def _scan(self, buf: bytes, pos: int, end: int) -> None:
        """Deliver the complete lines of ``buf[pos:end]``, jumping over unimportant ones."""
        # marker -> its next occurrence at or after pos (end if none); kept for the whole
        # buffer, even while the sink switches marker sets, so no stretch is searched twice
        next_at: dict[bytes, int] = {}
        sink, deliver = self._sink, self._deliver
        while pos < end:
            markers = sink.skip_markers
            if markers:
                hit = end
                for marker in markers:
                    at = next_at.get(marker, -1)
                    if at < pos:
                        at = buf.find(marker, pos, end)
                        next_at[marker] = at = end if at < 0 else at
                    if at < hit:
                        hit = at
                if hit >= end:
                    self._skip(buf, pos, end)
                    return
                start = buf.rfind(b"\n", pos, hit) + 1
                if start > pos:
                    self._skip(buf, pos, start)
                    pos = start
                if self._carry is not None:
                    deliver(*self._carry)
                    continue  # the sink may have changed its markers
            self._carry = None
            newline = buf.find(b"\n", pos)
            deliver(buf[pos:newline], self.lines + 1, False)
            pos = newline + 1

    def _deliver(self, raw: bytes, number: int, cut: bool) -> None:
        """Clean one raw line (timestamp, CR, ANSI; lenient UTF-8) and push it to the sink."""
        self._carry = None
        if number > self.lines:
            self.lines = number
        if len(raw) > MAX_LINE_BYTES:
            raw, cut = raw[:MAX_LINE_BYTES], True
        if len(raw) >= 20 and raw[10] == 0x54 and raw[4] == 0x2D:  # "YYYY-" ... "T": cheap pre-check
            if raw[:28].translate(_DIGITS) == _STAMP_SHAPE:
                raw = raw[29:] if raw[28:29] == b" " else raw[28:]
                self.timestamped = True
            else:
                match = _TIMESTAMP.match(raw)
                if match:
                    raw = raw[match.end() :]
                    self.timestamped = True
        if raw[-1:] == b"\r":
            raw = raw[:-1]
        text = raw.decode("utf-8", "replace")
        if "\x1b" in text:
            text = _ANSI.sub("", text)
        kind = _TEXT
        if text[:3] == "##[":
            if text.startswith("##[group]Run "):
                kind, text = _STEP, text[len("##[group]") :]
                self._in_header, self._header_lines = True, 0
            elif text.startswith("##[endgroup]") and self._in_header:
                kind, self._in_header = _MARKER, False
            elif text.startswith("##[error]"):
                kind, text = _ERROR, text[len("##[error]") :]
            else:
                kind = _MARKER
        elif self._in_header:
            self._header_lines += 1
            if self._header_lines > MAX_HEADER_LINES:
                self._in_header = False
            else:
                kind = _HEADER
        self._sink.line(LogLine(number, text, kind, cut))
