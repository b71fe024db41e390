"""One instrument's market history at one-minute resolution: candles from its trades, and open interest.

Rows are contiguous minutes (a minute without trades is a flat candle at the previous close), stored in one
growing numpy structured array. Any multiple of a minute is served by aggregating rows; open interest is
sampled at the end of each minute.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

MINUTE_MS = 60_000

SIM_KLINE_DTYPE = np.dtype(
    [
        ("open_ms", "<i8"),
        ("open", "<f8"),
        ("high", "<f8"),
        ("low", "<f8"),
        ("close", "<f8"),
        ("volume_base", "<f8"),
        ("taker_buy_base", "<f8"),
        ("turnover_quote", "<f8"),
        ("taker_buy_quote", "<f8"),
        ("trade_count", "<i8"),
    ]
)
"""`KLINE_DTYPE` (same fields first) plus what the exchanges' kline endpoints also report: quote turnover, the
taker-buy share of it, and the number of trades."""

SIM_OPEN_INTEREST_DTYPE = np.dtype([("ts_ms", "<i8"), ("oi_base", "<f8"), ("oi_quote", "<f8")])
"""`OPEN_INTEREST_DTYPE` (same fields first) plus the open interest's value in quote currency at the close of
the minute it was sampled in."""

_ROW_DTYPE = np.dtype([*SIM_KLINE_DTYPE.descr, ("long_base", "<f8"), ("short_base", "<f8")])

POSITION_DELTA_DTYPE = np.dtype([("ts_ms", "<i8"), ("long_base", "<f8"), ("short_base", "<f8")])
"""A change of an instrument's open long and short size (base units) at a time."""


class CandleStore:
    """Minute candles and end-of-minute open positions of one instrument, oldest first."""

    __slots__ = ("_n", "_rows", "retention_minutes")

    def __init__(self, first_minute_ms: int, open_px: float, retention_minutes: int) -> None:
        self.retention_minutes = retention_minutes
        """Rows older than this many minutes (before the newest) are dropped, in chunks."""
        self._rows: npt.NDArray[Any] = np.zeros(max(1024, min(retention_minutes, 1 << 14)), dtype=_ROW_DTYPE)
        self._n = 1
        first = self._rows[0]
        first["open_ms"] = first_minute_ms - first_minute_ms % MINUTE_MS
        for name in ("open", "high", "low", "close"):
            first[name] = open_px

    @property
    def rows(self) -> npt.NDArray[Any]:
        """The stored minutes (a view; oldest first)."""
        return self._rows[: self._n]

    @property
    def last_close(self) -> float:
        return float(self._rows[self._n - 1]["close"])

    def _extend_to(self, minute_ms: int) -> None:
        """Adds flat rows up to and including the minute starting at `minute_ms`."""
        last = self._rows[self._n - 1]
        missing = (minute_ms - int(last["open_ms"])) // MINUTE_MS
        if missing <= 0:
            return
        if self._n + missing > len(self._rows):
            self._trim_and_grow(missing)
            last = self._rows[self._n - 1]
        new = self._rows[self._n : self._n + missing]
        new[:] = np.zeros(1, dtype=_ROW_DTYPE)
        new["open_ms"] = int(last["open_ms"]) + MINUTE_MS * np.arange(1, missing + 1, dtype=np.int64)
        close = last["close"]
        for name in ("open", "high", "low", "close"):
            new[name] = close
        new["long_base"] = last["long_base"]
        new["short_base"] = last["short_base"]
        self._n += missing

    def _trim_and_grow(self, extra: int) -> None:
        keep_from = max(0, self._n - self.retention_minutes)
        kept = self._rows[keep_from : self._n]
        size = max(len(self._rows), 1024)
        while size < len(kept) + extra + 64:
            size *= 2
        rows = np.zeros(size, dtype=_ROW_DTYPE)
        rows[: len(kept)] = kept
        self._rows = rows
        self._n = len(kept)

    def record(self, end_ms: int, trades: npt.NDArray[Any], deltas: npt.NDArray[Any]) -> None:
        """Adds one simulation step: its trades (`TRADE_DTYPE`, sorted by time) and its changes of open long
        and short size (`POSITION_DELTA_DTYPE`).

        Rows are created up to the minute that holds `end_ms`; open positions carry forward between changes.
        """
        self._extend_to(end_ms - end_ms % MINUTE_MS)
        first_ms = int(self._rows[0]["open_ms"])
        if len(trades):
            self._add_trades(first_ms, trades["ts_ms"], trades["px"], trades["qty_base"], trades["taker_buy"])
        if len(deltas):
            self._add_deltas(first_ms, deltas["ts_ms"], deltas["long_base"], deltas["short_base"])

    def _add_trades(
        self,
        first_ms: int,
        ts_ms: npt.NDArray[np.int64],
        px: npt.NDArray[np.float64],
        qty_base: npt.NDArray[np.float64],
        taker_buy: npt.NDArray[np.bool_],
    ) -> None:
        row = (ts_ms - first_ms) // MINUTE_MS
        rows, start = np.unique(row, return_index=True)
        end = np.append(start[1:], len(row)) - 1
        target = self._rows[rows]
        fresh = target["trade_count"] == 0
        first_px = px[start]
        high = np.maximum.reduceat(px, start)
        low = np.minimum.reduceat(px, start)
        quote = px * qty_base
        buy_qty = np.where(taker_buy, qty_base, 0.0)
        target["open"] = np.where(fresh, first_px, target["open"])
        target["high"] = np.where(fresh, high, np.maximum(target["high"], high))
        target["low"] = np.where(fresh, low, np.minimum(target["low"], low))
        target["close"] = px[end]
        target["volume_base"] += np.add.reduceat(qty_base, start)
        target["taker_buy_base"] += np.add.reduceat(buy_qty, start)
        target["turnover_quote"] += np.add.reduceat(quote, start)
        target["taker_buy_quote"] += np.add.reduceat(np.where(taker_buy, quote, 0.0), start)
        target["trade_count"] += np.diff(np.append(start, len(row)))
        self._rows[rows] = target
        # A minute without trades closes where the last traded minute before it closed (flat candle).
        lo = int(rows[0])
        span = self._rows[lo : self._n]
        traded = span["trade_count"] > 0
        source = np.maximum.accumulate(np.where(traded, np.arange(len(span)), 0))
        close = span["close"][source]
        for name in ("open", "high", "low", "close"):
            span[name] = np.where(traded, span[name], close)

    def _add_deltas(
        self,
        first_ms: int,
        ts_ms: npt.NDArray[np.int64],
        d_long: npt.NDArray[np.float64],
        d_short: npt.NDArray[np.float64],
    ) -> None:
        row = (ts_ms - first_ms) // MINUTE_MS
        lo = int(row.min())
        span = self._n - lo
        per_long = np.bincount(row - lo, weights=d_long, minlength=span)[:span]
        per_short = np.bincount(row - lo, weights=d_short, minlength=span)[:span]
        self._rows["long_base"][lo : self._n] += np.cumsum(per_long)
        self._rows["short_base"][lo : self._n] += np.cumsum(per_short)

    def set_open(self, long_base: float, short_base: float) -> None:
        """Overwrites the newest row's open positions with exact sums (drops accumulated rounding)."""
        self._rows[self._n - 1]["long_base"] = long_base
        self._rows[self._n - 1]["short_base"] = short_base

    def klines(self, interval_ms: int, start_ms: int, end_ms: int, limit: int) -> npt.NDArray[Any]:
        """Candles of `interval_ms` (a multiple of a minute, aligned to the epoch) opening in [start_ms,
        end_ms], oldest first, at most `limit` (the most recent ones)."""
        if interval_ms <= 0 or interval_ms % MINUTE_MS:
            raise ValueError(f"a candle interval must be a whole number of minutes, not {interval_ms} ms")
        rows = self.rows
        group = rows["open_ms"] // interval_ms
        first_group = -(-start_ms // interval_ms)
        last_group = end_ms // interval_ms
        lo = int(np.searchsorted(group, first_group, side="left"))
        hi = int(np.searchsorted(group, last_group, side="right"))
        if hi <= lo or limit <= 0:
            return np.zeros(0, dtype=SIM_KLINE_DTYPE)
        group = group[lo:hi]
        rows = rows[lo:hi]
        groups, start = np.unique(group, return_index=True)
        if len(groups) > limit:
            start = start[-limit:]
            groups = groups[-limit:]
            cut = int(start[0])
            rows, group, start = rows[cut:], group[cut:], start - cut
        end = np.append(start[1:], len(rows)) - 1
        out = np.zeros(len(groups), dtype=SIM_KLINE_DTYPE)
        out["open_ms"] = groups * interval_ms
        out["open"] = rows["open"][start]
        out["close"] = rows["close"][end]
        out["high"] = np.maximum.reduceat(rows["high"], start)
        out["low"] = np.minimum.reduceat(rows["low"], start)
        for name in ("volume_base", "taker_buy_base", "turnover_quote", "taker_buy_quote", "trade_count"):
            out[name] = np.add.reduceat(rows[name], start)
        return out

    def open_interest(self, period_ms: int, start_ms: int, end_ms: int, limit: int, now_ms: int) -> npt.NDArray[Any]:
        """Single-sided open interest (the larger of open long and open short size) at every multiple of
        `period_ms` in [start_ms, end_ms] that has passed by `now_ms`, oldest first, at most `limit`."""
        if period_ms <= 0 or period_ms % MINUTE_MS:
            raise ValueError(f"an open-interest period must be a whole number of minutes, not {period_ms} ms")
        rows = self.rows
        first_sample = int(rows[0]["open_ms"]) + MINUTE_MS
        last_sample = min(end_ms, now_ms, int(rows[-1]["open_ms"]))
        lo = max(start_ms, first_sample)
        ts = np.arange(-(-lo // period_ms) * period_ms, last_sample + 1, period_ms, dtype=np.int64)
        if limit <= 0:
            ts = ts[:0]
        ts = ts[-limit:] if len(ts) > limit else ts
        row = (ts - MINUTE_MS - int(rows[0]["open_ms"])) // MINUTE_MS
        picked = rows[row]
        out = np.zeros(len(ts), dtype=SIM_OPEN_INTEREST_DTYPE)
        out["ts_ms"] = ts
        out["oi_base"] = np.maximum(picked["long_base"], picked["short_base"])
        out["oi_quote"] = out["oi_base"] * picked["close"]
        return out

    def window(self, since_ms: int) -> npt.NDArray[Any]:
        """The rows whose minute starts at or after `since_ms`."""
        rows = self.rows
        return rows[int(np.searchsorted(rows["open_ms"], since_ms, side="left")) :]
