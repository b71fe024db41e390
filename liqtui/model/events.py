"""`EventBatch`: normalized events from many frames, collected cheaply and handed to the store at once.

A parser appends plain tuples to per-symbol lists (the cheapest thing CPython can do per event); the store turns
each list into one numpy array when the batch is applied. Nothing here outlives its batch.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from liqtui.model.types import LIQUIDATION_DTYPE, MARK_DTYPE, OPEN_INTEREST_DTYPE, TRADE_DTYPE

TradeRow = tuple[int, float, float, bool]
"""(ts_ms, px, qty_base, taker_buy)"""

LiquidationRow = tuple[int, float, float, int]
"""(ts_ms, px, qty_base, side) where side is `Side.LONG` or `Side.SHORT` as an int."""

MarkRow = tuple[int, float]
"""(ts_ms, px)"""

OpenInterestRow = tuple[int, float]
"""(ts_ms, oi_base)"""


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the exchange said that is not market data: a rejected subscription, a planned disconnect."""

    code: str
    """A stable name for what happened: `rejected`, `disconnect_soon`, `error`."""

    text: str
    """The exchange's own words, as text (never interpreted as markup)."""

    symbol: str | None = None
    """The exchange symbol it concerns, where it names one."""


class EventBatch:
    """Events of one exchange, per exchange symbol, accumulated from one or more frames."""

    __slots__ = ("funding_rate", "liquidations", "marks", "notices", "open_interest", "trades")

    def __init__(self) -> None:
        self.trades: defaultdict[str, list[TradeRow]] = defaultdict(list)
        """Trades per symbol, in arrival order."""
        self.liquidations: defaultdict[str, list[LiquidationRow]] = defaultdict(list)
        """Realized liquidations per symbol, in arrival order (OKX's may be out of time order)."""
        self.marks: defaultdict[str, list[MarkRow]] = defaultdict(list)
        """Mark prices per symbol."""
        self.open_interest: defaultdict[str, list[OpenInterestRow]] = defaultdict(list)
        """Open interest per symbol, single-sided, base units."""
        self.funding_rate: dict[str, float] = {}
        """The latest funding rate per symbol (a decimal fraction: 0.0001 is 0.01 %)."""
        self.notices: list[Notice] = []
        """Rare control events for the connection runner (rejections, planned disconnects)."""

    def __bool__(self) -> bool:
        return bool(
            self.trades or self.liquidations or self.marks or self.open_interest or self.funding_rate or self.notices
        )

    def clear(self) -> None:
        """Empty the batch so it can be reused for the next frames."""
        self.trades.clear()
        self.liquidations.clear()
        self.marks.clear()
        self.open_interest.clear()
        self.funding_rate.clear()
        self.notices.clear()

    def symbols(self) -> set[str]:
        """Every symbol that has market data in this batch."""
        return (
            set(self.trades)
            | set(self.liquidations)
            | set(self.marks)
            | set(self.open_interest)
            | set(self.funding_rate)
        )


def rows_to_array(rows: list[Any], dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    """One structured array from a list of row tuples (one C-level conversion for the whole list)."""
    return np.array(rows, dtype=dtype)


def trades_array(rows: list[TradeRow]) -> npt.NDArray[Any]:
    """Trade rows as a `TRADE_DTYPE` array."""
    return rows_to_array(rows, TRADE_DTYPE)


def liquidations_array(rows: list[LiquidationRow]) -> npt.NDArray[Any]:
    """Liquidation rows as a `LIQUIDATION_DTYPE` array."""
    return rows_to_array(rows, LIQUIDATION_DTYPE)


def marks_array(rows: list[MarkRow]) -> npt.NDArray[Any]:
    """Mark rows as a `MARK_DTYPE` array."""
    return rows_to_array(rows, MARK_DTYPE)


def open_interest_array(rows: list[OpenInterestRow]) -> npt.NDArray[Any]:
    """Open-interest rows as an `OPEN_INTEREST_DTYPE` array."""
    return rows_to_array(rows, OPEN_INTEREST_DTYPE)
