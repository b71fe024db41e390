"""A small synthetic market for tests of the estimator, the hub and persistence."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from liqtui.model.types import MARK_DTYPE, OPEN_INTEREST_DTYPE, TRADE_DTYPE

Rows = npt.NDArray[Any]


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
