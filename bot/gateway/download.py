"""Streaming a job log from the blob host GitHub redirects to.

PyGithub is used for the API call that yields the signed URL; the blob itself is fetched with
plain `requests` because PyGithub never streams (a 70 MB log would sit in memory) and would
send our token along. The signed URL lives about a minute, so it is fetched right before the
download and fetched once more if the blob host refuses it (403/404). The log size is
attacker-controlled: reading stops at `max_bytes` and says so. So is its pace: the read time-out
restarts with every byte, so a host trickling a byte a second would hold a sync for days; each
download also has a wall-clock limit (`time_limit`), checked between reads that return whatever
has arrived (`read1`) rather than wait for a full chunk.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from types import TracebackType

import requests
import urllib3.exceptions

from bot.errors import GatewayError
from bot.gateway.policy import HttpError, RetryPolicy

CHUNK_SIZE = 64 * 1024
BLOB_WHAT = "GET job log blob"


class LogDownload:
    """One job log, streamed. Iterate (once) for bytes chunks exactly as GitHub serves them,
    UTF-8 BOM included; afterwards `truncated` tells whether the cap cut it short.

    If the connection breaks mid-stream the log is fetched again from a fresh URL (up to
    `resumes` times) and the bytes already delivered are skipped, so the consumer sees one
    unbroken stream. Use as a context manager (or iterate to the end) to release the connection.
    """

    def __init__(
        self,
        response: requests.Response,
        *,
        max_bytes: int,
        reopen: Callable[[], requests.Response] | None = None,
        resumes: int = 2,
        chunk_size: int = CHUNK_SIZE,
        time_limit: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._ends = None if time_limit is None else clock() + time_limit
        self._time_limit = time_limit
        self._response = response
        self._max_bytes = max_bytes
        self._reopen = reopen
        self._resumes_left = resumes
        self._chunk_size = chunk_size
        self._started = False
        self.truncated = False
        self.bytes_read = 0

    def __iter__(self) -> Iterator[bytes]:
        if self._started:
            raise RuntimeError("a LogDownload can be read only once")
        self._started = True
        skip = 0  # bytes of a re-fetched body that were already delivered
        try:
            while True:
                try:
                    for chunk in self._chunks():
                        if self._ends is not None and self._clock() > self._ends:
                            raise GatewayError(
                                f"{BLOB_WHAT}: took longer than {self._time_limit:g} s "
                                f"({self.bytes_read} bytes read)"
                            )
                        if skip:
                            dropped = min(skip, len(chunk))
                            chunk, skip = chunk[dropped:], skip - dropped
                        room = self._max_bytes - self.bytes_read
                        if len(chunk) > room:
                            if room > 0:
                                self.bytes_read += room
                                yield chunk[:room]
                            self.truncated = True
                            return
                        if chunk:
                            self.bytes_read += len(chunk)
                            yield chunk
                    return
                except requests.RequestException as exc:
                    self._response.close()
                    if self._reopen is None or self._resumes_left <= 0:
                        raise GatewayError(
                            f"{BLOB_WHAT}: interrupted after {self.bytes_read} bytes ({type(exc).__name__})"
                        ) from exc
                    self._resumes_left -= 1
                    self._response = self._reopen()
                    skip = self.bytes_read
        finally:
            self.close()

    def _chunks(self) -> Iterator[bytes]:
        """The body as it arrives: `read1` returns what one read of the socket gave (a trickle
        comes a byte at a time), where `iter_content` would wait for a whole chunk. Errors are
        raised as `requests` would raise them, for the resume logic."""
        raw = self._response.raw
        while True:
            try:
                chunk = raw.read1(self._chunk_size, decode_content=True)
            except urllib3.exceptions.HTTPError as exc:
                raise requests.exceptions.ChunkedEncodingError(exc) from exc
            if not chunk:
                return
            yield chunk

    def read(self) -> bytes:
        """The whole (capped) log in memory, for callers that parse it at once."""
        return b"".join(self)

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> LogDownload:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _get_blob(session: requests.Session, url: str, timeout: float) -> requests.Response:
    response = session.get(url, stream=True, timeout=(min(10.0, timeout), timeout))
    if response.status_code >= 500 or response.status_code == 429:
        body = response.raw.read(4096, decode_content=True) or b""
        response.close()
        headers = {k.lower(): v for k, v in response.headers.items()}
        raise HttpError(response.status_code, headers, body)
    return response


def open_log(
    locate: Callable[[], str],
    *,
    session: requests.Session,
    policy: RetryPolicy,
    timeout: float,
    max_bytes: int,
    time_limit: float | None = None,
) -> LogDownload:
    """Get a fresh signed URL from `locate` and start the download (headers only, body streamed)."""

    def start(location: str) -> requests.Response:
        if not location.startswith(("https://", "http://")):
            raise GatewayError("GitHub redirected the job log to a URL that is not HTTP(S)")
        return policy.run(lambda: _get_blob(session, location, timeout), what=BLOB_WHAT)

    def fresh() -> requests.Response:
        response = start(locate())
        if response.status_code in (403, 404):
            # The signed URL expired (it lives about a minute) or was refused: ask GitHub for a new one, once.
            response.close()
            response = start(locate())
        if response.status_code != 200:
            response.close()
            raise GatewayError(f"{BLOB_WHAT}: answered {response.status_code}", response.status_code)
        return response

    return LogDownload(fresh(), max_bytes=max_bytes, reopen=fresh, time_limit=time_limit)
