"""The job-log reader: cleaning, numbering, steps, bounds, and the marker fast path."""

from __future__ import annotations

from logfmt import Step, job_log, lines_of, real_log

from bot.joblog import MAX_LINE_BYTES, LineKind, LogLine, LogReader, exit_code


class Collect:
    def __init__(self, markers: tuple[bytes, ...] | None = None) -> None:
        self.lines: list[LogLine] = []
        self.markers = markers

    @property
    def skip_markers(self) -> tuple[bytes, ...] | None:
        return self.markers

    def line(self, line: LogLine) -> None:
        self.lines.append(line)


def read(*chunks: bytes, markers: tuple[bytes, ...] | None = None) -> tuple[list[LogLine], LogReader]:
    sink = Collect(markers)
    reader = LogReader(sink)
    for chunk in chunks:
        reader.feed(chunk)
    reader.close()
    return sink.lines, reader


def test_timestamps_bom_ansi_cr_are_removed_and_lines_numbered() -> None:
    data = (
        "\ufeff2026-03-11T01:02:03.4567890Z first\r\n"
        "continuation without stamp\n"
        "2026-03-11T01:02:03.4567891Z \x1b[31;1mFAIL  a.py \x1b[0m\n"
    ).encode()
    lines, reader = read(data)
    assert [(ln.number, ln.text) for ln in lines] == [
        (1, "first"),
        (2, "continuation without stamp"),
        (3, "FAIL  a.py "),
    ]
    assert reader.timestamped and not reader.ended_mid_line


def test_every_timestamp_shape_is_removed_and_only_timestamps() -> None:
    """GitHub's usual seven-digit stamp is cut without the regex; other shapes still go through it."""
    cases = {
        "2026-03-11T01:02:03.4567890Z x": "x",
        "2026-03-11T01:02:03.4567890Zx": "x",
        "2026-03-11T01:02:03.4567890Z  x": " x",
        "2026-03-11T01:02:03.4567890Z": "",
        "2026-03-11T01:02:03.456Z x": "x",
        "2026-03-11T01:02:03Z x": "x",
        "2026-03-11T01:02:03.45678901Z x": "x",
        "2026-03-11T01:02:03.4567890X x": "2026-03-11T01:02:03.4567890X x",
        "2026-03-11T01:02:03.45678a0Z x": "2026-03-11T01:02:03.45678a0Z x",
        "2026-03-1xT01:02:03.4567890Z x": "2026-03-1xT01:02:03.4567890Z x",
        "2026-03-11T01:02:03,4567890Z x": "2026-03-11T01:02:03,4567890Z x",
    }
    for raw, text in cases.items():
        lines, reader = read(raw.encode() + b"\n")
        assert [ln.text for ln in lines] == [text], raw
        assert reader.timestamped is (text != raw), raw


def test_bom_split_across_chunks_and_raw_output_without_stamps() -> None:
    lines, reader = read(b"\xef", b"\xbb", b"\xbfpass  a.py \n")
    assert [ln.text for ln in lines] == ["pass  a.py "]
    assert not reader.timestamped


def test_steps_headers_and_errors() -> None:
    log = job_log([Step("tools/ci.sh unix_coverage_build", "CC foo.c\n", exit_code=2, env={"X": "1"})])
    lines, _ = read(log)
    kinds = {ln.text: ln.kind for ln in lines}
    assert kinds["Run tools/ci.sh unix_coverage_build"] is LineKind.STEP
    assert kinds["tools/ci.sh unix_coverage_build"] is LineKind.HEADER  # echoed command, ANSI stripped
    assert kinds["  X: 1"] is LineKind.HEADER
    assert kinds["CC foo.c"] is LineKind.TEXT
    assert kinds["Process completed with exit code 2."] is LineKind.ERROR
    assert exit_code("Process completed with exit code 2.") == 2
    assert exit_code("The operation was canceled.") is None


def test_a_forged_header_without_endgroup_cannot_hide_the_rest() -> None:
    data = b"##[group]Run evil\n" + b"x\n" * 1000 + b"FAIL  a.py \n"
    lines, _ = read(data)
    assert lines[-1].kind is LineKind.TEXT and lines[-1].number == 1002


def test_over_long_line_is_cut_and_memory_stays_bounded() -> None:
    big = b"y" * (3 * MAX_LINE_BYTES)
    sink = Collect()
    reader = LogReader(sink)
    reader.feed(b"a\n")
    for i in range(0, len(big), 4096):
        reader.feed(big[i : i + 4096])
        assert len(reader._pending) <= MAX_LINE_BYTES + 4096
    reader.feed(b"\nb\n")
    reader.close()
    assert [(ln.number, len(ln.text), ln.truncated) for ln in sink.lines] == [
        (1, 1, False),
        (2, MAX_LINE_BYTES, True),
        (3, 1, False),
    ]


def test_invalid_utf8_nul_and_unterminated_last_line() -> None:
    lines, reader = read(b"\xff\xfe\x00abc\n\x80tail")
    assert lines[0].text == "\ufffd\ufffd\x00abc"
    assert lines[1].text == "\ufffdtail" and reader.ended_mid_line


def test_fast_path_keeps_line_numbers_and_context_line() -> None:
    log = job_log(
        [
            Step(
                "tools/ci.sh unix_coverage_run_native_mpy_tests",
                real_log("15-natmodtests-coverage-FAILING.log"),
                exit_code=1,
            )
        ]
    )
    every, _ = read(log)
    fast, reader = read(log, markers=(b"FAIL",))
    by_number = {ln.number: ln.text for ln in every}
    assert all(by_number[ln.number] == ln.text for ln in fast)
    fail = lines_of(log, "FAIL  extmod/heapq_zz_scratch.py")[0]
    assert [ln.number for ln in fast] == [fail - 1, fail]  # the repr line before it comes along
    assert fast[0].text == "b'1 micropython\\n'"
    assert reader.lines == len(every)


def test_any_slicing_gives_the_same_lines() -> None:
    log = job_log(
        [Step("x", real_log("14-multitests-FAILING.log"), exit_code=1)], multiline_records=True, ansi=True
    )
    whole, _ = read(log)
    for size in (1, 7, 4093):
        sliced, _ = read(*(log[i : i + size] for i in range(0, len(log), size)))
        assert sliced == whole


def test_over_long_lines_are_judged_whole_whatever_the_slicing() -> None:
    long_hit, long_plain = b"z" * (MAX_LINE_BYTES + 10) + b"FAIL", b"q" * (MAX_LINE_BYTES + 5)
    data = b"platform=x\n" + long_hit + b"\n" + long_plain + b"\nFAIL  a.py \n"
    whole, _ = read(data, markers=(b"FAIL",))
    # line 1 comes along as the context of line 2; line 3 as the context of line 4
    assert [(ln.number, ln.truncated) for ln in whole] == [(1, False), (2, True), (3, True), (4, False)]
    for size in (1000, 4096, 70001):
        sliced, _ = read(*(data[i : i + size] for i in range(0, len(data), size)), markers=(b"FAIL",))
        assert sliced == whole
