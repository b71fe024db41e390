"""A small synthetic market for tests of the estimator, the hub and persistence."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from liqtui.model.estimator import Estimator
from liqtui.model.types import LIQUIDATION_DTYPE, MARK_DTYPE, OPEN_INTEREST_DTYPE, TRADE_DTYPE, Side

Rows = npt.NDArray[Any]

T0 = 1_790_000_000_000
"""A time in 2026, in epoch milliseconds."""


def market_rows(
    seed: int, minutes: int, start_ms: int = 1_790_000_000_000, px: float = 84_000.0
) -> tuple[Rows, Rows, Rows]:
    """A random walk with a trade and a mark every second and open interest every minute, rising on average."""
    rng = np.random.default_rng(seed)
    seconds = minutes * 60
    ts = start_ms + np.arange(seconds, dtype=np.int64) * 1000
    prices = px * np.exp(np.cumsum(rng.normal(0, 0.0004, seconds)))
    trades = np.zeros(seconds, dtype=TRADE_DTYPE)
    trades["ts_ms"], trades["px"] = ts, prices
    trades["qty_base"] = rng.exponential(0.2, seconds)
    trades["taker_buy"] = rng.random(seconds) < 0.5
    marks = np.zeros(seconds, dtype=MARK_DTYPE)
    marks["ts_ms"], marks["px"] = ts, prices
    oi = np.zeros(minutes, dtype=OPEN_INTEREST_DTYPE)
    oi["ts_ms"] = ts[::60] + 59_000
    oi["oi_base"] = 8_000 + np.cumsum(rng.normal(3.0, 10.0, minutes))
    return trades, marks, oi


def trades(ts: list[int], px: list[float], qty: list[float], buy: list[bool]) -> np.ndarray[Any, Any]:
    rows = np.zeros(len(ts), dtype=TRADE_DTYPE)
    rows["ts_ms"], rows["px"], rows["qty_base"], rows["taker_buy"] = ts, px, qty, buy
    return rows


def marks(ts: list[int], px: list[float]) -> np.ndarray[Any, Any]:
    rows = np.zeros(len(ts), dtype=MARK_DTYPE)
    rows["ts_ms"], rows["px"] = ts, px
    return rows


def oi(ts: int, value: float) -> np.ndarray[Any, Any]:
    rows = np.zeros(1, dtype=OPEN_INTEREST_DTYPE)
    rows["ts_ms"], rows["oi_base"] = ts, value
    return rows


def liquidation(ts: int, px: float, qty: float, side: Side) -> np.ndarray[Any, Any]:
    rows = np.zeros(1, dtype=LIQUIDATION_DTYPE)
    rows["ts_ms"], rows["px"], rows["qty_base"], rows["side"] = ts, px, qty, int(side)
    return rows


def open_longs_at_100k(estimator: Estimator, ts: int, open_interest: float, **update: Any) -> tuple[int, float]:
    """Five one-minute intervals in which open interest rises by 10 and takers buy 10 at 100k (longs open);
    the time and open interest after them."""
    for _ in range(5):
        ts += 60_000
        open_interest += 10.0
        estimator.update(
            trades=trades([ts - 1], [100_000.0], [10.0], [True]),
            marks=marks([ts], [100_000.0]),
            open_interest=oi(ts, open_interest),
            **update,
        )
    return ts, open_interest
