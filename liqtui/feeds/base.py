"""What every exchange parser provides, and how a frame is classified.

A parser turns one raw frame (websocket text or a REST body) into normalized events appended to an `EventBatch`,
and returns what kind of frame it was. It never raises on input: anything it cannot read is `FrameKind.BAD`, with
the reason in `reason`. Parsers are pure (no I/O, no clock) but hold the little state the wire format demands
(Bybit's ticker snapshot to merge deltas into, OKX's contract sizes).
"""

from __future__ import annotations

import enum
from typing import Protocol

from liqtui.model.events import EventBatch
from liqtui.model.types import Exchange, Instrument


class FrameKind(enum.IntEnum):
    """The classification of one frame."""

    DATA = 0
    """Market data, appended to the batch (it may still have carried no event for a watched symbol)."""
    ACK = 1
    """A subscription acknowledgement or another successful control reply."""
    PONG = 2
    """An answer to the client's heartbeat."""
    NOTICE = 3
    """An exchange notice or error reply; a `Notice` was appended to the batch."""
    SKIPPED = 4
    """Deliberately ignored: spot, inverse, dated or COIN-M instruments. The reason is in `parser.reason`."""
    UNRESOLVED = 5
    """Data that cannot be converted without guessing (an OKX contract whose size is not known yet)."""
    BAD = 6
    """Could not be parsed: malformed, truncated, oversized, wrong types. The reason is in `parser.reason`."""


class Parser(Protocol):
    """One exchange's wire format."""

    exchange: Exchange
    """The exchange whose frames this parser reads."""

    reason: str
    """Why the last SKIPPED, UNRESOLVED or BAD frame was classified so (set only on those paths)."""

    def parse(self, frame: str | bytes, batch: EventBatch) -> FrameKind:
        """Classify one websocket frame, appending its events to `batch`. Never raises."""
        ...

    def parse_rest(self, url: str, body: str | bytes, batch: EventBatch) -> FrameKind:
        """Classify one REST response body fetched from `url`, appending its events to `batch`. Never raises."""
        ...

    def set_instruments(self, instruments: list[Instrument]) -> None:
        """Learn the exchange's instrument table (contract sizes, kinds)."""
        ...
