"""The contract between the simulated market (`liqtui.sim.market`) and the wire server (`liqtui.sim.server`).

The market knows nothing of wire formats; the server knows nothing of traders. The server calls `advance()` on a
timer with the wall clock and encodes what came out, in each exchange's exact format. Timestamps are wall-clock
epoch milliseconds: the market's history ends at start-up, so the app's time-range requests and data-age figures
mean what they say. The speed factor makes the market move faster per wall second; it never shifts timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from liqtui.model.margin import MarginTier
from liqtui.model.types import Exchange, Side


@dataclass(frozen=True, slots=True)
class SimInstrument:
    """One instrument the simulator lists on one exchange."""

    exchange: Exchange
    symbol: str
    """The exchange's own symbol: `BTCUSDT` (Binance, Bybit), `BTC-USDT-SWAP` (OKX)."""
    asset: str
    """The underlying (`BTC`): one price per asset is shared by the exchanges."""
    contract_size_base: float
    """OKX `ctVal` (with `ctMult` 1); 1.0 on Binance and Bybit."""
    tick_size: float
    qty_step: float
    """The size increment in the exchange's unit (contracts on OKX, base units elsewhere)."""
    max_leverage: float
    tiers: tuple[MarginTier, ...]
    """Maintenance tiers, in the exchange's own unit (see `MarginTier`)."""

    @property
    def key(self) -> str:
        return f"{self.exchange.value}:{self.symbol}"


@dataclass(frozen=True, slots=True)
class SimTrade:
    """One aggressive fill (already aggregated as the exchange would: one taker order at one price)."""

    ts_ms: int
    px: float
    qty_base: float
    taker_buy: bool


@dataclass(frozen=True, slots=True)
class SimLiquidation:
    """One forced close of one simulated position."""

    ts_ms: int
    side: Side
    """The liquidated position's side."""
    qty_base: float
    bankruptcy_px: float
    """The price at which the position's margin is zero (Bybit `p`, OKX `bkPx`)."""
    fill_px: float
    """The average fill of the liquidation order (Binance `ap`)."""


SIM_LIQUIDATION_DTYPE = np.dtype(
    [("ts_ms", "<i8"), ("side", "i1"), ("qty_base", "<f8"), ("bankruptcy_px", "<f8"), ("fill_px", "<f8")]
)
"""`SimLiquidation` as a row (`side` is the `Side` value: 1 long, -1 short), for the liquidation history."""


@dataclass(slots=True)
class InstrumentState:
    """The current ticker of one instrument: what the mark, ticker and open-interest channels report."""

    ts_ms: int
    mark_px: float
    index_px: float
    last_px: float
    funding_rate: float
    next_funding_ms: int
    oi_base: float
    """Single-sided open interest, base units (Bybit's `openInterest` is twice this)."""
    bid_px: float
    ask_px: float
    price_24h_ago: float
    high_24h: float
    low_24h: float
    volume_24h_base: float
    turnover_24h_quote: float


@dataclass(slots=True)
class MarketStep:
    """Everything that happened between two calls of `SimMarket.advance`, per instrument key."""

    ts_ms: int
    trades: dict[str, list[SimTrade]] = field(default_factory=dict)
    liquidations: dict[str, list[SimLiquidation]] = field(default_factory=dict)


class SimMarket(Protocol):
    """The market the server serves."""

    instruments: dict[str, SimInstrument]
    """Every listed instrument, by key (`binance:BTCUSDT`)."""

    def advance(self, now_ms: int) -> MarketStep:
        """Run the market from its last time up to `now_ms` (wall clock) and return what happened."""
        ...

    def state(self, key: str) -> InstrumentState:
        """The current ticker of one instrument."""
        ...

    def truth(self, key: str) -> dict[str, Any]:
        """Design §7.4 `/sim/truth`: every open position's liquidation price and notional, per side."""
        ...

    def klines(self, key: str, interval_ms: int, start_ms: int, end_ms: int, limit: int) -> npt.NDArray[Any]:
        """Candles (`KLINE_DTYPE`, plus taker buy volume) whose open time lies in [start_ms, end_ms], oldest first,
        at most `limit`, the most recent ones when more exist."""
        ...

    def oi_history(self, key: str, period_ms: int, start_ms: int, end_ms: int, limit: int) -> npt.NDArray[Any]:
        """Open interest (`OPEN_INTEREST_DTYPE`, single-sided base units) sampled every `period_ms`, as `klines`."""
        ...

    def liquidation_history(self, key: str, start_ms: int, end_ms: int) -> npt.NDArray[Any]:
        """Every liquidation (`SIM_LIQUIDATION_DTYPE`) with its time in [start_ms, end_ms], oldest first, the
        history run before the server started included; only the last few days are kept."""
        ...
