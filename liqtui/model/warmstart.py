"""Warm start (design §4): back-fill an estimator from REST history, candles and open interest, before going live.

Each candle stands for the trades of its minute(s): its taker-buy volume bought and the rest sold, both at the
candle's typical price (an estimate of its VWAP), and its high and low sweep levels as trades through them would.
The open-interest history closes the intervals, exactly as live open-interest rows do, so the warm start and the
live feed go through the same `Estimator.update`. Only history newer than what the estimator already holds is
applied, so a reloaded state is continued, not counted twice. Where the exchange publishes its liquidation
history (OKX), sweeps that brought fewer liquidations than they should teach the leverage mix, as live ones do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from liqtui.model.estimator import Estimator
from liqtui.model.types import MARK_DTYPE, OPEN_INTEREST_DTYPE, TRADE_DTYPE

Rows = npt.NDArray[Any]

_NEVER_REPORTED = np.iinfo(np.int64).max


@dataclass(frozen=True, slots=True)
class Applied:
    """What a warm start fed the estimator: only history newer than the state it already held counts."""

    candles: int
    open_interest: int
    liquidations: int
    """Reported liquidations within the stretch the history is complete for (the ones learned from)."""


def kline_interval_ms(klines: Rows) -> int:
    """The candles' interval: the most common gap between consecutive open times (one minute if unknown)."""
    if klines.size < 2:
        return 60_000
    gaps = np.diff(np.sort(klines["open_ms"]))
    gaps = gaps[gaps > 0]
    if gaps.size == 0:
        return 60_000
    values, counts = np.unique(gaps, return_counts=True)
    return int(values[int(np.argmax(counts))])


def candle_rows(klines: Rows, interval_ms: int) -> tuple[Rows, Rows]:
    """The trades and marks that stand for the candles (`KLINE_DTYPE` fields), stamped at each candle's end.

    Two trades per candle at the typical price `(high + low + close) / 3`: the taker-buy volume bought and the
    rest sold (half each when the exchange does not split volume by taker side). Three marks per candle: low and
    high one millisecond before the end, then the close at the end, so the close is the newest price.
    """
    n = klines.size
    end_ms = klines["open_ms"].astype(np.int64) + interval_ms - 1
    typical = (klines["high"] + klines["low"] + klines["close"]) / 3.0
    volume = np.maximum(np.nan_to_num(klines["volume_base"].astype(np.float64)), 0.0)
    buy = klines["taker_buy_base"].astype(np.float64)
    buy = np.clip(np.where(np.isnan(buy), volume / 2.0, buy), 0.0, volume)
    trades = np.zeros(2 * n, dtype=TRADE_DTYPE)
    trades["ts_ms"] = np.repeat(end_ms, 2)
    trades["px"] = np.repeat(typical, 2)
    trades["qty_base"] = np.column_stack((buy, volume - buy)).reshape(-1)
    trades["taker_buy"] = np.tile([True, False], n)
    trades = trades[trades["qty_base"] > 0.0]
    marks = np.zeros(3 * n, dtype=MARK_DTYPE)
    marks["ts_ms"] = np.column_stack((end_ms - 1, end_ms - 1, end_ms)).reshape(-1)
    marks["px"] = np.column_stack((klines["low"], klines["high"], klines["close"])).reshape(-1)
    return trades, marks


def warm_start(
    estimator: Estimator,
    klines: Rows,
    open_interest: Rows,
    interval_ms: int | None = None,
    *,
    liquidations: Rows | None = None,
    reported_since_ms: int | None = None,
) -> Applied:
    """Feed the estimator the history it does not hold yet; returns what of it was applied.

    `klines` are `KLINE_DTYPE` rows (extra fields are ignored), `open_interest` `OPEN_INTEREST_DTYPE` rows, any
    order. `interval_ms` is the candles' interval (inferred when None).

    `liquidations` (`LIQUIDATION_DTYPE`) are the exchange's liquidation history where it publishes one (OKX),
    complete as the live feed would be after `reported_since_ms`: sweeps after that time that brought fewer of
    them than they should are learned from (`Estimator.update(coarse=True)`); history before it, and all of it
    without `reported_since_ms`, teaches nothing.
    """
    interval = interval_ms if interval_ms is not None else kline_interval_ms(klines)
    klines = np.sort(klines, order="open_ms") if klines.size else klines
    held_ms = estimator.ts_ms
    if klines.size:
        klines = klines[klines["open_ms"] + interval - 1 > held_ms]
    oi = np.zeros(open_interest.size, dtype=OPEN_INTEREST_DTYPE)
    oi["ts_ms"] = open_interest["ts_ms"]
    oi["oi_base"] = open_interest["oi_base"]
    oi = np.sort(oi[np.isfinite(oi["oi_base"]) & (oi["ts_ms"] > max(held_ms, estimator.oi_ts_ms))], order="ts_ms")
    trades, marks = candle_rows(klines, interval)
    since = _NEVER_REPORTED if liquidations is None or reported_since_ms is None else reported_since_ms
    before = [rows[rows["ts_ms"] <= since] for rows in (trades, marks, oi)]
    estimator.update(trades=before[0], marks=before[1], open_interest=before[2], liquidations_reported=False)
    after = [rows[rows["ts_ms"] > since] for rows in (trades, marks, oi)]
    heard = 0
    if any(rows.size for rows in after):
        assert liquidations is not None
        reported = liquidations[(liquidations["ts_ms"] > max(since, held_ms))]
        heard = int(reported.size)
        estimator.update(
            trades=after[0],
            marks=after[1],
            open_interest=after[2],
            liquidations=np.sort(reported, order="ts_ms"),
            liquidations_reported=True,
            coarse=True,
        )
    return Applied(candles=int(klines.size), open_interest=int(oi.size), liquidations=heard)
