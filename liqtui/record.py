"""`Recorder`: writes every frame received to a recording (design §7.5), for `liqtui replay`.

The format is JSON Lines, one object per frame in the order received:
`{"recv_ns": int, "exchange": "binance"|"bybit"|"okx", "url": str, "frame": str}`, gzip-compressed when the
file name ends in `.gz`. `recv_ns` is wall-clock epoch nanoseconds at receipt, `url` the websocket or REST URL
the frame came from, `frame` its text exactly as received. Exchanges send text frames; a frame that arrives as
bytes is decoded as UTF-8, with undecodable bytes replaced by U+FFFD (so the line stays valid JSON; replay
then counts such a frame as bad, as the live parser would have).

Recording sits on the ingest hot path, so `write` only appends an encoded line to a list; the lines reach the
file in one write when the buffer holds `flush_lines` lines or `flush_bytes` bytes, or when the owner calls
`flush()` on its timer. No frame costs a system call of its own.
"""

from __future__ import annotations

import gzip
import io
import os
import time
from types import TracebackType

import orjson

from liqtui.errors import RecordingError
from liqtui.model.types import Exchange

DEFAULT_FLUSH_LINES = 1000
"""Write the buffer to the file once it holds this many lines..."""

DEFAULT_FLUSH_BYTES = 1 << 20
"""...or this many bytes (a few REST bodies can be large), whichever comes first."""

GZIP_LEVEL = 6
"""zlib's default trade-off: level 9 costs several times the CPU for a few percent smaller files."""


def open_for_writing(path: str | os.PathLike[str]) -> io.BufferedIOBase:
    """Open a recording file for writing, gzip-compressed when its name ends in `.gz`.

    Raises RecordingError, in one sentence, when the file cannot be created.
    """
    name = os.fspath(path)
    try:
        if name.endswith(".gz"):
            return gzip.open(name, "wb", compresslevel=GZIP_LEVEL)
        return open(name, "wb")
    except OSError as error:
        raise RecordingError(f"Cannot write the recording {name}: {error.strerror or error}.") from None


def _without_surrogates(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD, as a UTF-8 decoder would show those bytes."""
    return text.encode("utf-8", errors="surrogatepass").decode("utf-8", errors="replace")


class Recorder:
    """Appends frames to a recording file, in batches."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        flush_lines: int = DEFAULT_FLUSH_LINES,
        flush_bytes: int = DEFAULT_FLUSH_BYTES,
    ) -> None:
        self.path = os.fspath(path)
        """Where the recording goes."""
        self.frames = 0
        """Frames written so far (buffered ones included)."""
        self._file: io.BufferedIOBase | None = open_for_writing(self.path)
        self._lines: list[bytes] = []
        self._buffered_bytes = 0
        self._flush_lines = max(1, flush_lines)
        self._flush_bytes = max(1, flush_bytes)

    def write(self, exchange: Exchange | str, url: str, frame: str | bytes, recv_ns: int | None = None) -> None:
        """Record one frame as received from `url` (at `recv_ns`, wall-clock epoch ns; default now)."""
        if self._file is None:
            raise ValueError(f"the recording {self.path} is closed")
        if isinstance(frame, bytes):
            frame = frame.decode("utf-8", errors="replace")
        record = {
            "recv_ns": time.time_ns() if recv_ns is None else recv_ns,
            "exchange": exchange.value if isinstance(exchange, Exchange) else exchange,
            "url": url,
            "frame": frame,
        }
        try:
            line = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        except orjson.JSONEncodeError:
            # Only a str holding lone surrogates gets here (it is not valid UTF-8); keep it, with U+FFFD.
            record["frame"] = _without_surrogates(frame)
            record["url"] = _without_surrogates(url)
            line = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        self._lines.append(line)
        self._buffered_bytes += len(line)
        self.frames += 1
        if len(self._lines) >= self._flush_lines or self._buffered_bytes >= self._flush_bytes:
            self.flush()

    def flush(self) -> None:
        """Write the buffered lines to the file (call it on a timer: a quiet feed reaches the disk too)."""
        if self._file is None or not self._lines:
            return
        data = b"".join(self._lines)
        self._lines.clear()
        self._buffered_bytes = 0
        try:
            self._file.write(data)
            self._file.flush()
        except OSError as error:
            raise RecordingError(f"Cannot write the recording {self.path}: {error.strerror or error}.") from None

    def close(self) -> None:
        """Write what is buffered and close the file (a gzip file gets its end marker). Safe to call twice."""
        if self._file is None:
            return
        try:
            self.flush()
        finally:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError as error:
                message = f"Cannot finish the recording {self.path}: {error.strerror or error}."
                raise RecordingError(message) from None

    @property
    def closed(self) -> bool:
        """Whether `close()` was called."""
        return self._file is None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
