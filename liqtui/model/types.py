"""Normalized market data (design §3): exchanges, sides, instruments and the numpy row types.

Units are in the names: prices in quote currency (USDT), quantities in base asset, times in epoch milliseconds.
`Side` always names the *position* that was liquidated; each exchange's own convention is translated at the edge,
in `liqtui.feeds.<exchange>`, and never passed through.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from liqtui.errors import UnknownInstrumentError


class Exchange(enum.StrEnum):
    """The exchanges liqtui reads. The value is the prefix of an instrument name (`binance:BTCUSDT`)."""

    BINANCE = "binance"
    BYBIT = "bybit"
    OKX = "okx"


class Side(enum.IntEnum):
    """The side of the liquidated position (never the side of the liquidation order).

    The value is the sign of the position: a long liquidation is a forced sale.
    """

    LONG = 1
    SHORT = -1


class ContractKind(enum.StrEnum):
    """What kind of contract an instrument is. liqtui maps only `LINEAR_PERPETUAL`; the rest are skipped."""

    LINEAR_PERPETUAL = "linear_perpetual"
    LINEAR_DATED = "linear_dated"
    INVERSE = "inverse"
    SPOT = "spot"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable contract, as its exchange's REST instrument table describes it."""

    exchange: Exchange
    """The exchange that lists it."""

    symbol: str
    """The exchange's own name: `BTCUSDT` on Binance and Bybit, `BTC-USDT-SWAP` on OKX."""

    base: str
    """The base asset (`BTC`); quantities are in this unit."""

    quote: str
    """The quote (and settlement) currency (`USDT`); prices are in this unit."""

    kind: ContractKind
    """Perpetual or dated, linear or inverse."""

    tick_size: float
    """The price increment."""

    contract_size_base: float = 1.0
    """Base units in one contract: OKX `ctVal × ctMult`; 1.0 where sizes are already in base units."""

    max_leverage: float | None = None
    """The highest leverage the exchange allows, where its table says."""

    @property
    def key(self) -> str:
        """The instrument's liqtui name, `exchange:SYMBOL`."""
        return f"{self.exchange.value}:{self.symbol}"


def parse_instrument_key(name: str) -> tuple[Exchange, str]:
    """Split `exchange:SYMBOL` into its exchange and the exchange's own symbol.

    Raises UnknownInstrumentError, in one sentence that says what a valid name looks like.
    """
    exchange_name, sep, symbol = name.partition(":")
    if not sep or not symbol or not exchange_name:
        raise UnknownInstrumentError(
            f"{name!r} is not an instrument name: write exchange:SYMBOL, "
            "e.g. binance:BTCUSDT, bybit:BTCUSDT or okx:BTC-USDT-SWAP."
        )
    try:
        exchange = Exchange(exchange_name.lower())
    except ValueError:
        known = ", ".join(e.value for e in Exchange)
        raise UnknownInstrumentError(
            f"{name!r} names an unknown exchange {exchange_name!r}: liqtui knows {known}."
        ) from None
    if symbol != symbol.strip() or any(c.isspace() for c in symbol):
        raise UnknownInstrumentError(f"{name!r} has white space in its symbol.")
    return exchange, symbol.upper()


def instrument_key(exchange: Exchange, symbol: str) -> str:
    """The liqtui name of an exchange's symbol, `exchange:SYMBOL`."""
    return f"{exchange.value}:{symbol}"


_QUOTE_SUFFIXES = ("USDT", "USDC", "BUSD", "USD")


def asset_of(key: str) -> str:
    """The base asset an instrument trades, from its name: `BTC` for binance:BTCUSDT and okx:BTC-USDT-SWAP.

    Names that follow no known pattern are their own asset, so they are never grouped with another.
    """
    symbol = key.partition(":")[2] or key
    if "-" in symbol:
        return symbol.split("-", 1)[0]
    for suffix in _QUOTE_SUFFIXES:
        if symbol.endswith(suffix) and len(symbol) > len(suffix):
            return symbol[: -len(suffix)]
    return symbol


def reference_of(key: str) -> str | None:
    """The instrument whose published liquidation history teaches `key`'s leverage mix: OKX's USDT swap of the
    same asset, for Binance and Bybit instruments (None for OKX's own)."""
    if parse_instrument_key(key)[0] is Exchange.OKX:
        return None
    return instrument_key(Exchange.OKX, f"{asset_of(key)}-USDT-SWAP")


def references_of(keys: Sequence[str]) -> list[str]:
    """The references `keys` need that are not among them, once each, in order."""
    wanted = (reference_of(key) for key in keys)
    return [ref for ref in dict.fromkeys(wanted) if ref is not None and ref not in keys]


# Row types of the rings and batches. Structured dtypes keep one event in one row of one array: no per-event
# Python object outlives the batch it arrived in.

TRADE_DTYPE = np.dtype([("ts_ms", "<i8"), ("px", "<f8"), ("qty_base", "<f8"), ("taker_buy", "?")])
"""A trade: time, price, quantity in base units, and whether the aggressor bought."""

LIQUIDATION_DTYPE = np.dtype([("ts_ms", "<i8"), ("px", "<f8"), ("qty_base", "<f8"), ("side", "i1")])
"""A realized liquidation: time, price, quantity in base units, and the liquidated position's `Side`.

`px` is the price the exchange reports: Binance's average fill `ap`, Bybit's and OKX's bankruptcy price.
"""

MARK_DTYPE = np.dtype([("ts_ms", "<i8"), ("px", "<f8")])
"""A mark price observation."""

OPEN_INTEREST_DTYPE = np.dtype([("ts_ms", "<i8"), ("oi_base", "<f8")])
"""An open-interest observation, single-sided, in base units."""

KLINE_DTYPE = np.dtype(
    [
        ("open_ms", "<i8"),
        ("open", "<f8"),
        ("high", "<f8"),
        ("low", "<f8"),
        ("close", "<f8"),
        ("volume_base", "<f8"),
        ("taker_buy_base", "<f8"),
    ]
)
"""A candle from REST history. `taker_buy_base` is NaN where the exchange does not split volume by taker side."""
