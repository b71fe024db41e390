"""`MarketStore`: what liqtui knows per instrument (rings, last values, counters) and per feed connection.

Feeds parse frames into an `EventBatch` and hand the whole batch to `MarketStore.apply` every few hundred
frames: each symbol's row list is converted by numpy straight into its ring (at most two slice assignments).
The trade totals are summed from the ring when they are read, not per row as trades arrive: they are read
rarely (`replay --summary`), while trades are the bulk of the ingest. Views read the rings
on a timer and compare `version` to skip work when nothing changed. Feeds and the UI share one asyncio loop,
so nothing here is locked.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from liqtui.feeds.base import FrameKind
from liqtui.model.events import EventBatch, LiquidationRow, MarkRow, OpenInterestRow, TradeRow
from liqtui.model.ring import RingBuffer
from liqtui.model.types import (
    LIQUIDATION_DTYPE,
    MARK_DTYPE,
    OPEN_INTEREST_DTYPE,
    TRADE_DTYPE,
    Exchange,
    Side,
    instrument_key,
)

_LONG = int(Side.LONG)

DEFAULT_TRADE_CAPACITY = 200_000
"""Trades kept per instrument (about 6 MB of rows; hours of a busy major)."""

DEFAULT_LIQUIDATION_CAPACITY = 20_000
"""Realized liquidations kept per instrument."""

DEFAULT_MARK_CAPACITY = 20_000
"""Mark prices kept per instrument (more than 5 h at Binance's 1 s pace)."""

DEFAULT_OPEN_INTEREST_CAPACITY = 20_000
"""Open-interest observations kept per instrument."""


class SideTotals:
    """Cumulative realized liquidations of one position side (they never wrap, unlike the ring)."""

    __slots__ = ("count", "notional_usd", "qty_base")

    def __init__(self) -> None:
        self.count = 0
        """Liquidations seen."""
        self.qty_base = 0.0
        """Their quantity, base units."""
        self.notional_usd = 0.0
        """Their notional in quote currency: Σ px × qty_base."""


class InstrumentData:
    """One instrument's streams, last values and running totals."""

    __slots__ = (
        "_buy_qty_base",
        "_long",
        "_sell_qty_base",
        "_short",
        "_trades_summed",
        "exchange",
        "funding_rate",
        "key",
        "last_event_ms",
        "last_trade_px",
        "last_update_monotonic",
        "liquidated",
        "liquidations",
        "mark_px",
        "mark_ts_ms",
        "marks",
        "oi_base",
        "oi_ts_ms",
        "open_interest",
        "symbol",
        "trades",
        "version",
    )

    def __init__(
        self,
        exchange: Exchange,
        symbol: str,
        *,
        trade_capacity: int = DEFAULT_TRADE_CAPACITY,
        liquidation_capacity: int = DEFAULT_LIQUIDATION_CAPACITY,
        mark_capacity: int = DEFAULT_MARK_CAPACITY,
        open_interest_capacity: int = DEFAULT_OPEN_INTEREST_CAPACITY,
    ) -> None:
        self.exchange = exchange
        """The exchange that lists it."""
        self.symbol = symbol
        """The exchange's own symbol."""
        self.key = instrument_key(exchange, symbol)
        """The liqtui name, `exchange:SYMBOL`."""
        self.trades = RingBuffer(TRADE_DTYPE, trade_capacity)
        """The newest trades, in arrival order."""
        self.liquidations = RingBuffer(LIQUIDATION_DTYPE, liquidation_capacity)
        """The newest realized liquidations, in arrival order (OKX's may be out of time order)."""
        self.marks = RingBuffer(MARK_DTYPE, mark_capacity)
        """The newest mark prices."""
        self.open_interest = RingBuffer(OPEN_INTEREST_DTYPE, open_interest_capacity)
        """The newest open-interest observations, single-sided, base units."""
        self.mark_px: float | None = None
        """The last mark price received."""
        self.mark_ts_ms: int | None = None
        """Its exchange time."""
        self.oi_base: float | None = None
        """The last open interest received, single-sided, base units."""
        self.oi_ts_ms: int | None = None
        """Its exchange time."""
        self.funding_rate: float | None = None
        """The last funding rate received (a decimal fraction: 0.0001 is 0.01 %)."""
        self.last_trade_px: float | None = None
        """The price of the last trade received."""
        self._buy_qty_base = 0.0
        self._sell_qty_base = 0.0
        self._trades_summed = 0
        """The ring's `written` count up to which the trades are in `_buy_qty_base` and `_sell_qty_base`."""
        self._long = SideTotals()
        self._short = SideTotals()
        self.liquidated: dict[Side, SideTotals] = {Side.LONG: self._long, Side.SHORT: self._short}
        """Realized liquidations since start, by the side of the liquidated position."""
        self.version = 0
        """Goes up whenever anything about the instrument changes; views redraw when it moved."""
        self.last_event_ms: int | None = None
        """The newest exchange timestamp among the events received."""
        self.last_update_monotonic: float | None = None
        """`time.monotonic()` when events for it were last applied (for "data age" on screen)."""

    @property
    def trade_count(self) -> int:
        """Trades seen since start (never wraps: the trade ring's `written` count)."""
        return self.trades.written

    @property
    def buy_qty_base(self) -> float:
        """Base quantity of the trades whose taker bought, since start."""
        self._sum_trades()
        return self._buy_qty_base

    @property
    def sell_qty_base(self) -> float:
        """Base quantity of the trades whose taker sold, since start."""
        self._sum_trades()
        return self._sell_qty_base

    def _sum_trades(self) -> None:
        """Add the trades written since the last call to the totals (one numpy pass over the ring's tail)."""
        ring = self.trades
        if ring.written != self._trades_summed:
            self._add_to_totals(ring.since(self._trades_summed))
            self._trades_summed = ring.written

    def _add_to_totals(self, rows: npt.NDArray[Any]) -> None:
        qty = rows["qty_base"]
        buy = rows["taker_buy"]
        self._buy_qty_base += float(qty[buy].sum())
        self._sell_qty_base += float(qty[~buy].sum())

    # The appenders below run for every symbol of every batch: each writes the rows straight into its ring
    # (one numpy conversion, no temporary array) and keeps only the last values; the trade totals wait in
    # the ring until they are read (`_sum_trades`).

    def _add_trades(self, rows: list[TradeRow]) -> None:
        ring = self.trades
        n = len(rows)
        if ring.written + n - self._trades_summed > ring.capacity:
            # Rare (a reader slower than a whole ring of trades, or a batch larger than the ring): the rows
            # not yet summed would be overwritten, so they are summed now, and so are the batch's rows that
            # will not fit in the ring.
            self._sum_trades()
            lost = n - ring.capacity
            if lost > 0:
                self._add_to_totals(np.array(rows[:lost], dtype=ring.dtype))
                self._trades_summed += lost
        ring.extend_rows(rows)
        # A symbol's trades arrive in time order, so the last row carries the newest time.
        ts_ms, self.last_trade_px = rows[-1][0], rows[-1][1]
        if self.last_event_ms is None or ts_ms > self.last_event_ms:
            self.last_event_ms = ts_ms

    def _add_liquidations(self, rows: list[LiquidationRow]) -> None:
        self.liquidations.extend_rows(rows)
        long_totals, short_totals = self._long, self._short
        newest_ms = -1
        for ts_ms, px, qty_base, side in rows:
            totals = long_totals if side == _LONG else short_totals
            totals.count += 1
            totals.qty_base += qty_base
            totals.notional_usd += px * qty_base
            # OKX reports liquidations out of time order: the newest is the largest time, not the last row.
            newest_ms = max(newest_ms, ts_ms)
        if self.last_event_ms is None or newest_ms > self.last_event_ms:
            self.last_event_ms = newest_ms

    def _add_marks(self, rows: list[MarkRow]) -> None:
        self.marks.extend_rows(rows)
        ts_ms, self.mark_px = rows[-1]
        self.mark_ts_ms = ts_ms
        if self.last_event_ms is None or ts_ms > self.last_event_ms:
            self.last_event_ms = ts_ms

    def _add_open_interest(self, rows: list[OpenInterestRow]) -> None:
        self.open_interest.extend_rows(rows)
        ts_ms, self.oi_base = rows[-1]
        self.oi_ts_ms = ts_ms
        if self.last_event_ms is None or ts_ms > self.last_event_ms:
            self.last_event_ms = ts_ms


class FeedState(enum.StrEnum):
    """What an exchange connection is doing, as the status line says it."""

    CONNECTING = "connecting"
    """Opening the first connection."""
    LIVE = "live"
    """Connected and receiving frames."""
    STALLED = "stalled"
    """Connected, but nothing arrived within the exchange's heartbeat window."""
    RECONNECTING = "reconnecting"
    """The connection dropped; a new one is being opened with backoff."""
    FAILED = "failed"
    """Gave up (the exchange refused what was asked); `last_error` says why."""
    STOPPED = "stopped"
    """Not connected on purpose: shutting down, or a replay that ended."""


@dataclass(slots=True)
class FeedStatus:
    """One exchange connection's health and frame counts (the status line and `snapshot --json` read it)."""

    exchange: Exchange
    """The exchange this connection reads."""
    state: FeedState = FeedState.CONNECTING
    """What the connection is doing now."""
    frames: int = 0
    """Every frame received, whatever its kind."""
    bad_frames: int = 0
    """Frames that could not be parsed (`FrameKind.BAD`)."""
    skipped_frames: int = 0
    """Frames deliberately ignored: spot, inverse, dated, COIN-M (`FrameKind.SKIPPED`)."""
    unresolved_frames: int = 0
    """Frames that could not be converted yet: an OKX contract of unknown size (`FrameKind.UNRESOLVED`)."""
    reconnects: int = 0
    """Connections re-opened after a drop."""
    last_frame_monotonic: float | None = None
    """`time.monotonic()` when the last frame of any kind arrived."""
    last_data_monotonic: float | None = None
    """`time.monotonic()` when the last market-data frame arrived (the liveness the watchdog checks)."""
    retry_at_monotonic: float | None = None
    """`time.monotonic()` of the next connection attempt while reconnecting."""
    last_error: str = ""
    """The last problem, in one sentence of text (never markup); empty when all is well."""
    last_notice: str = ""
    """The exchange's own words in its last notice (a rejection, a planned disconnect, an error reply)."""
    rest_error: str = ""
    """The last REST problem (an outage, a rate limit), in words; empty once REST answers again. Kept apart from
    `last_error`, which the websocket sets and clears, so a connecting socket never hides a REST outage."""
    rejected: dict[str, str] = field(default_factory=dict)
    """Symbols the exchange refused, with the exchange's reason."""

    def count(self, kind: FrameKind, n: int = 1, now_monotonic: float | None = None) -> None:
        """Count `n` frames of one kind, received at `now_monotonic` (default: now)."""
        now = time.monotonic() if now_monotonic is None else now_monotonic
        self.frames += n
        self.last_frame_monotonic = now
        if kind is FrameKind.DATA:
            self.last_data_monotonic = now
        elif kind is FrameKind.BAD:
            self.bad_frames += n
        elif kind is FrameKind.SKIPPED:
            self.skipped_frames += n
        elif kind is FrameKind.UNRESOLVED:
            self.unresolved_frames += n


class MarketStore:
    """Every instrument's data and every feed's status; the one place events land."""

    def __init__(
        self,
        *,
        trade_capacity: int = DEFAULT_TRADE_CAPACITY,
        liquidation_capacity: int = DEFAULT_LIQUIDATION_CAPACITY,
        mark_capacity: int = DEFAULT_MARK_CAPACITY,
        open_interest_capacity: int = DEFAULT_OPEN_INTEREST_CAPACITY,
    ) -> None:
        self._capacities = {
            "trade_capacity": trade_capacity,
            "liquidation_capacity": liquidation_capacity,
            "mark_capacity": mark_capacity,
            "open_interest_capacity": open_interest_capacity,
        }
        self._instruments: dict[str, InstrumentData] = {}
        # Per exchange, by the exchange's own symbol: a batch is keyed by symbol, and this lookup spares
        # formatting `exchange:SYMBOL` for every symbol of every batch.
        self._by_symbol: dict[Exchange, dict[str, InstrumentData]] = {exchange: {} for exchange in Exchange}
        self._status: dict[Exchange, FeedStatus] = {}

    def get(self, key: str) -> InstrumentData | None:
        """The instrument named `exchange:SYMBOL`, or None if nothing arrived for it yet."""
        return self._instruments.get(key)

    def instruments(self) -> list[str]:
        """The names of the instruments that have data (or were `ensure`d), in order of appearance."""
        return list(self._instruments)

    def ensure(self, exchange: Exchange, symbol: str) -> InstrumentData:
        """The instrument's data, created empty if it is not there yet (a watched symbol before its data)."""
        data = self._by_symbol[exchange].get(symbol)
        if data is None:
            data = InstrumentData(exchange, symbol, **self._capacities)
            self._by_symbol[exchange][symbol] = data
            self._instruments[data.key] = data
        return data

    def status(self, exchange: Exchange) -> FeedStatus:
        """The exchange connection's status (created on first use)."""
        status = self._status.get(exchange)
        if status is None:
            status = self._status[exchange] = FeedStatus(exchange)
        return status

    def count_frame(self, exchange: Exchange, kind: FrameKind, n: int = 1) -> None:
        """Count `n` frames of one kind received from the exchange just now."""
        self.status(exchange).count(kind, n)

    def apply(self, exchange: Exchange, batch: EventBatch, *, only: set[str] | None = None) -> set[str]:
        """Apply one exchange's batch; return the names of the instruments that changed.

        `only` is a set of the exchange's own symbols (`BTCUSDT`, `BTC-USDT-SWAP`) to keep; None keeps every
        symbol. The batch is read, not cleared: the caller clears it for reuse.
        """
        by_symbol = self._by_symbol[exchange]
        changed: dict[str, InstrumentData] = {}
        # One loop per stream, written out: this runs for every symbol of every batch, and a loop over
        # (stream, appender) pairs costs a tuple unpacking and an unbound call more per symbol.
        for symbol, trades in batch.trades.items():
            if trades and (only is None or symbol in only):
                data = by_symbol.get(symbol) or self.ensure(exchange, symbol)
                data._add_trades(trades)
                changed[symbol] = data
        for symbol, marks in batch.marks.items():
            if marks and (only is None or symbol in only):
                data = by_symbol.get(symbol) or self.ensure(exchange, symbol)
                data._add_marks(marks)
                changed[symbol] = data
        for symbol, open_interest in batch.open_interest.items():
            if open_interest and (only is None or symbol in only):
                data = by_symbol.get(symbol) or self.ensure(exchange, symbol)
                data._add_open_interest(open_interest)
                changed[symbol] = data
        for symbol, liquidations in batch.liquidations.items():
            if liquidations and (only is None or symbol in only):
                data = by_symbol.get(symbol) or self.ensure(exchange, symbol)
                data._add_liquidations(liquidations)
                changed[symbol] = data
        for symbol, rate in batch.funding_rate.items():
            if only is None or symbol in only:
                data = by_symbol.get(symbol) or self.ensure(exchange, symbol)
                data.funding_rate = rate
                changed[symbol] = data
        if batch.notices:
            self._record_notices(exchange, batch)
        if not changed:
            return set()
        now = time.monotonic()
        for data in changed.values():
            data.version += 1
            data.last_update_monotonic = now
        return {data.key for data in changed.values()}

    def _record_notices(self, exchange: Exchange, batch: EventBatch) -> None:
        status = self.status(exchange)
        for notice in batch.notices:
            status.last_notice = notice.text
            if notice.code == "rejected" and notice.symbol is not None:
                status.rejected[notice.symbol] = notice.text
