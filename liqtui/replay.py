"""`liqtui replay FILE [--speed X] [--summary]`: a recording (design §7.5) through the live parsers and store.

Each record goes to its exchange's parser exactly as the live feed would hand it over (`parse` for a
websocket URL, `parse_rest` for an HTTP one), the events collect in one `EventBatch` per exchange, and the
batches are applied to a `MarketStore` every `BATCH_FRAMES` records, as the feed runner does. `--speed X`
keeps the recorded pacing, X times faster; without it the file is read as fast as possible. `--summary`
prints the JSON of design §7.2; otherwise a short table.

What is and is not a recording: a missing, unreadable or directory path, a binary file, or a file none of
whose first `SNIFF_LINES` non-empty lines is a record is refused with a `RecordingError`. An empty file is a
recording of no frames (a session that received nothing). Inside a recording, a line that is not a record
counts as a bad frame, like a frame the parser cannot read, and the replay goes on. A gzip file that ends
abruptly (the recording process was killed) is replayed up to where it ends, with a warning.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from liqtui.errors import LiqtuiError, RecordingError
from liqtui.feeds.base import FrameKind, Parser
from liqtui.feeds.registry import parser_for
from liqtui.model.events import EventBatch
from liqtui.model.store import InstrumentData, MarketStore
from liqtui.model.types import Exchange, Side

BATCH_FRAMES = 256
"""Records parsed into the batches before they are applied to the store (the feed runner's batch size)."""

SNIFF_LINES = 20
"""A file is a recording if one of its first this many non-empty lines is a record."""

MAX_LINE_BYTES = 256 << 20
"""A longer line is counted bad without being decoded (a REST body of a few MiB is far below this)."""

_SNIFF_BYTES = 8192
_GZIP_MAGIC = b"\x1f\x8b"
_EXCHANGES = {exchange.value: exchange for exchange in Exchange}
_MIN_SLEEP_S = 0.001

Record = tuple[int, Exchange, str, str]
"""(recv_ns, exchange, url, frame) of one recorded frame."""


def _describe_path_error(path: str, error: OSError) -> RecordingError:
    if isinstance(error, FileNotFoundError):
        return RecordingError(f"The recording {path} does not exist.")
    if isinstance(error, IsADirectoryError):
        return RecordingError(f"{path} is a directory, not a recording file.")
    return RecordingError(f"Cannot read the recording {path}: {error.strerror or error}.")


def open_recording(path: str | os.PathLike[str]) -> io.BufferedIOBase:
    """Open a recording for reading, decompressing it if it is gzip (told by its first bytes, not its name).

    Raises RecordingError, in one sentence, for a path that is missing, a directory, unreadable, or binary.
    """
    name = os.fspath(path)
    if os.path.isdir(name):
        raise RecordingError(f"{name} is a directory, not a recording file.")
    try:
        raw = open(name, "rb")  # noqa: SIM115 (returned to the caller, who closes it)
    except OSError as error:
        raise _describe_path_error(name, error) from None
    stream: io.BufferedIOBase = raw
    compressed = False
    try:
        compressed = raw.read(len(_GZIP_MAGIC)) == _GZIP_MAGIC
        raw.seek(0)
        if compressed:
            stream = gzip.GzipFile(fileobj=raw, mode="rb")
        start = stream.read(_SNIFF_BYTES)
        stream.seek(0)
    except (OSError, EOFError, zlib.error) as error:
        raw.close()
        what = "a gzip file that cannot be decompressed" if compressed else "not a readable recording"
        raise RecordingError(f"{name} is {what} ({error}).") from None
    # JSON text never holds a raw NUL byte (it must be escaped): one in the first block means a binary file.
    if b"\x00" in start:
        raw.close()
        raise RecordingError(f"{name} is a binary file, not a liqtui recording (JSON Lines, optionally gzipped).")
    return stream


def decode_record(line: bytes) -> Record | None:
    """One recording line as a record, or None if it is not one (bad JSON, wrong shape, unknown exchange)."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict:
        return None
    recv_ns = obj.get("recv_ns")
    exchange_name = obj.get("exchange")
    exchange = _EXCHANGES.get(exchange_name) if type(exchange_name) is str else None
    url = obj.get("url")
    frame = obj.get("frame")
    if type(recv_ns) is not int or exchange is None or type(url) is not str or type(frame) is not str:
        return None
    return recv_ns, exchange, url, frame


@dataclass(slots=True)
class RecordingReader:
    """The records of one recording file, in order; `None` stands for a line that is not a record."""

    path: str
    """The file being read."""
    truncated: str = ""
    """Why the file ended early (a gzip stream cut off), or empty if it ended properly."""
    _stream: io.BufferedIOBase | None = field(default=None, repr=False)
    _first: list[bytes] = field(default_factory=list, repr=False)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RecordingReader:
        """Open and check a recording; RecordingError if it is not one (see the module docstring)."""
        reader = cls(os.fspath(path))
        reader._stream = open_recording(reader.path)
        try:
            reader._sniff()
        except RecordingError:
            reader.close()
            raise
        return reader

    def _sniff(self) -> None:
        """Read up to `SNIFF_LINES` non-empty lines and make sure one of them is a record."""
        non_empty = 0
        found = False
        for line in self._lines():
            self._first.append(line)
            if line.strip():
                non_empty += 1
                found = found or decode_record(line) is not None
                if found or non_empty >= SNIFF_LINES:
                    break
        if non_empty and not found:
            which = "its first line is not" if non_empty == 1 else f"none of its first {non_empty} lines is"
            raise RecordingError(
                f"{self.path} is not a liqtui recording: {which} a JSON object with recv_ns, exchange, url and frame."
            )
        if self.truncated and not found:
            raise RecordingError(f"{self.path} is not a readable recording: {self.truncated}.")

    def _lines(self) -> Iterator[bytes]:
        """Raw lines of the file; an over-long line comes back cut at `MAX_LINE_BYTES` (so not JSON)."""
        stream = self._stream
        if stream is None:
            return
        while True:
            try:
                line = stream.readline(MAX_LINE_BYTES)
                if len(line) == MAX_LINE_BYTES and not line.endswith(b"\n"):
                    # Drop the rest of the over-long line so the next one starts where it should.
                    while True:
                        rest = stream.readline(MAX_LINE_BYTES)
                        if not rest or rest.endswith(b"\n"):
                            break
            except (OSError, EOFError, zlib.error) as error:
                self.truncated = f"the file ends abruptly ({error})"
                return
            if not line:
                return
            yield line

    def __iter__(self) -> Iterator[Record | None]:
        first, self._first = self._first, []
        for line in first:
            if line.strip():
                yield decode_record(line)
        for line in self._lines():
            if line.strip():
                yield decode_record(line)

    def close(self) -> None:
        """Close the file."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None


@dataclass(slots=True)
class ReplayResult:
    """What a replay saw: the store it filled and the frame counts."""

    store: MarketStore
    """Every instrument the recording had data for."""
    frames: int = 0
    """Records read (lines that are not records included)."""
    bad_frames: int = 0
    """Lines that are not records, and frames the parser could not read."""
    skipped_frames: int = 0
    """Frames deliberately ignored (spot, inverse, dated, COIN-M)."""
    unresolved_frames: int = 0
    """Frames that could not be converted (an OKX contract whose size the recording never gave)."""
    invalid_lines: int = 0
    """Lines that are not records (part of `bad_frames`)."""
    truncated: str = ""
    """Why the file ended early, or empty."""
    unresolved_reasons: dict[str, int] = field(default_factory=dict)
    """The parsers' reasons for unresolved frames, with how often each was given."""


def _frame_kind(parser: Parser, url: str, frame: str, batch: EventBatch) -> FrameKind:
    if url.startswith(("ws://", "wss://")):
        return parser.parse(frame, batch)
    if url.startswith(("http://", "https://")):
        try:
            return parser.parse_rest(url, frame, batch)
        except LiqtuiError as error:
            # Parsers should never raise; a REST body a parser refuses in words is still just a bad frame.
            parser.reason = str(error)
            return FrameKind.BAD
    parser.reason = f"the record's URL {url[:80]!r} is neither a websocket nor an HTTP URL"
    return FrameKind.BAD


def replay(
    path: str | os.PathLike[str],
    *,
    speed: float | None = None,
    store: MarketStore | None = None,
    batch_frames: int = BATCH_FRAMES,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayResult:
    """Feed a recording through fresh parsers into `store` (a new one by default) and count its frames.

    With `speed`, records are released at their recorded pace divided by `speed` (`sleep` waits); without
    it, as fast as they can be read. RecordingError if the file is not a recording.
    """
    result = ReplayResult(store=store if store is not None else MarketStore())
    reader = RecordingReader.open(path)
    parsers: dict[Exchange, Parser] = {}
    batches: dict[Exchange, EventBatch] = {}
    counts: dict[Exchange, list[int]] = {}
    pending = 0
    first_recv_ns: int | None = None
    started_ns = time.monotonic_ns()

    def flush() -> None:
        for exchange, batch in batches.items():
            if batch:
                result.store.apply(exchange, batch)
                batch.clear()
            kind_counts = counts[exchange]
            for kind in FrameKind:
                n = kind_counts[kind]
                if n:
                    result.store.status(exchange).count(kind, n)
                    kind_counts[kind] = 0
                    if kind is FrameKind.BAD:
                        result.bad_frames += n
                    elif kind is FrameKind.SKIPPED:
                        result.skipped_frames += n
                    elif kind is FrameKind.UNRESOLVED:
                        result.unresolved_frames += n

    try:
        for record in reader:
            result.frames += 1
            if record is None:
                result.invalid_lines += 1
                continue
            recv_ns, exchange, url, frame = record
            if speed is not None:
                if first_recv_ns is None:
                    first_recv_ns = recv_ns
                due_s = ((recv_ns - first_recv_ns) / speed - (time.monotonic_ns() - started_ns)) / 1e9
                if due_s >= _MIN_SLEEP_S:
                    flush()
                    pending = 0
                    sleep(due_s)
            parser = parsers.get(exchange)
            if parser is None:
                parser = parsers[exchange] = parser_for(exchange)
                batches[exchange] = EventBatch()
                counts[exchange] = [0] * len(FrameKind)
            kind = _frame_kind(parser, url, frame, batches[exchange])
            counts[exchange][kind] += 1
            if kind is FrameKind.UNRESOLVED:
                result.unresolved_reasons[parser.reason] = result.unresolved_reasons.get(parser.reason, 0) + 1
            pending += 1
            if pending >= batch_frames:
                flush()
                pending = 0
        flush()
    finally:
        reader.close()
    result.truncated = reader.truncated
    result.bad_frames += result.invalid_lines
    return result


def _side_summary(data: InstrumentData, side: Side) -> dict[str, Any]:
    totals = data.liquidated[side]
    return {"count": totals.count, "qty": totals.qty_base, "notional": totals.notional_usd}


def instrument_summary(data: InstrumentData) -> dict[str, Any]:
    """One instrument's entry in the `replay --summary` JSON (design §7.2)."""
    return {
        "mark_price": data.mark_px,
        "open_interest": data.oi_base,
        "trades": {"count": data.trade_count, "buy_qty": data.buy_qty_base, "sell_qty": data.sell_qty_base},
        "liquidations": {"long": _side_summary(data, Side.LONG), "short": _side_summary(data, Side.SHORT)},
    }


def summary(result: ReplayResult) -> dict[str, Any]:
    """The `replay --summary` JSON (design §7.2), plus `unresolved_frames`."""
    instruments: dict[str, Any] = {}
    for key in sorted(result.store.instruments()):
        data = result.store.get(key)
        if data is not None:
            instruments[key] = instrument_summary(data)
    return {
        "frames": result.frames,
        "bad_frames": result.bad_frames,
        "skipped_frames": result.skipped_frames,
        "unresolved_frames": result.unresolved_frames,
        "instruments": instruments,
    }


def _number(value: float | None, digits: int = 2) -> str:
    """A number with thousands separators, independent of the locale; `-` for none."""
    return "-" if value is None else f"{value:,.{digits}f}"


def format_table(result: ReplayResult) -> str:
    """A short readable report of a replay: the frame counts, then one line per instrument."""
    lines = [
        f"{result.frames} frames: {result.bad_frames} bad, {result.skipped_frames} skipped, "
        f"{result.unresolved_frames} unresolved"
    ]
    header = (
        f"{'instrument':<24} {'mark':>14} {'open interest':>16} {'trades':>8} {'buy qty':>14}"
        f" {'sell qty':>14} {'long liq':>8} {'long $':>14} {'short liq':>9} {'short $':>14}"
    )
    lines += ["", header, "-" * len(header)]
    for key in sorted(result.store.instruments()):
        data = result.store.get(key)
        if data is None:
            continue
        long_totals, short_totals = data.liquidated[Side.LONG], data.liquidated[Side.SHORT]
        lines.append(
            f"{key:<24} {_number(data.mark_px, 4):>14} {_number(data.oi_base, 3):>16} {data.trade_count:>8,}"
            f" {_number(data.buy_qty_base, 3):>14} {_number(data.sell_qty_base, 3):>14}"
            f" {long_totals.count:>8,} {_number(long_totals.notional_usd):>14}"
            f" {short_totals.count:>9,} {_number(short_totals.notional_usd):>14}"
        )
    if not result.store.instruments():
        lines.append("(no market data in the recording)")
    for reason, times in sorted(result.unresolved_reasons.items(), key=lambda item: -item[1]):
        lines.append(f"unresolved x{times}: {reason}")
    return "\n".join(lines)


def run_replay_command(args: argparse.Namespace) -> int:
    """`liqtui replay`: replay `args.file`, print the summary JSON or the table; 0 on success."""
    result = replay(args.file, speed=args.speed)
    if result.truncated:
        print(f"liqtui: warning: {args.file}: {result.truncated}; replayed what came before.", file=sys.stderr)
    if args.summary:
        out = orjson.dumps(summary(result), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
        sys.stdout.write(out.decode("utf-8"))
    else:
        sys.stdout.write(format_table(result) + "\n")
    sys.stdout.flush()
    return 0


__all__ = [
    "BATCH_FRAMES",
    "RecordingReader",
    "ReplayResult",
    "decode_record",
    "format_table",
    "instrument_summary",
    "open_recording",
    "replay",
    "run_replay_command",
    "summary",
]
