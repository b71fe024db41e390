"""The estimator's cost per update (issue 6 target: one update of one instrument closing one open-interest interval
under 1 ms), and for 15 instruments per tick, next to the views the screen reads.

A seeded random walk stands in for a live market: every tick brings, per instrument, about a second of trades
(Poisson, 10 a second), one mark price and one open-interest row, so every update closes an interval, the most
expensive kind. A realized liquidation comes every few ticks (scored and learned from). Timings are wall-clock
per call after a warm-up, as median and 99th percentile.

Usage: `python benchmarks/estimator_cost.py [--ticks N] [--instruments K] [--seed S]`
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from liqtui.config import EstimatorConfig
from liqtui.model.estimator import Estimator
from liqtui.model.types import KLINE_DTYPE, LIQUIDATION_DTYPE, MARK_DTYPE, OPEN_INTEREST_DTYPE, TRADE_DTYPE, Side
from liqtui.model.warmstart import warm_start

Rows = npt.NDArray[Any]
T0 = 1_790_000_000_000
KEYS = ("binance:{}USDT", "bybit:{}USDT", "okx:{}-USDT-SWAP")
ASSETS = ("BTC", "ETH", "SOL", "XRP", "DOGE")


def tick_rows(rng: np.random.Generator, ts: int, px: float, oi: float) -> tuple[Rows, Rows, Rows, Rows]:
    n = int(rng.poisson(10))
    trades = np.zeros(n, dtype=TRADE_DTYPE)
    trades["ts_ms"] = ts - 1000 + np.sort(rng.integers(1, 1000, n))
    trades["px"] = px * (1 + 0.0003 * rng.standard_normal(n))
    trades["qty_base"] = rng.exponential(0.1, n)
    trades["taker_buy"] = rng.random(n) < 0.5
    marks = np.array([(ts, px)], dtype=MARK_DTYPE)
    open_interest = np.array([(ts, oi)], dtype=OPEN_INTEREST_DTYPE)
    liquidations = np.zeros(int(rng.random() < 0.3), dtype=LIQUIDATION_DTYPE)
    if liquidations.size:
        side = Side.LONG if rng.random() < 0.5 else Side.SHORT
        liquidations[0] = (ts - 10, px * (1 - 0.001 * side.value), 0.5, side.value)
    return trades, liquidations, marks, open_interest


def warmed(key: str, config: EstimatorConfig, rng: np.random.Generator, px: float) -> tuple[Estimator, float]:
    """An estimator back-filled with a day of one-minute candles and five-minute open interest, and the
    seconds the warm start took."""
    estimator = Estimator(key, config)
    minutes = 1440
    closes = px * np.exp(np.cumsum(0.0007 * rng.standard_normal(minutes)))
    klines = np.zeros(minutes, dtype=KLINE_DTYPE)
    klines["open_ms"] = T0 - (minutes - np.arange(minutes)) * 60_000
    klines["open"] = np.concatenate(([px], closes[:-1]))
    klines["close"] = closes
    klines["high"] = np.maximum(klines["open"], closes) * 1.0005
    klines["low"] = np.minimum(klines["open"], closes) * 0.9995
    klines["volume_base"] = rng.exponential(50.0, minutes)
    klines["taker_buy_base"] = klines["volume_base"] * rng.uniform(0.3, 0.7, minutes)
    oi = np.zeros(minutes // 5, dtype=OPEN_INTEREST_DTYPE)
    oi["ts_ms"] = T0 - (minutes // 5 - np.arange(minutes // 5)) * 300_000
    oi["oi_base"] = 10_000 + np.cumsum(rng.normal(5, 40, oi.size))
    started = time.perf_counter()
    warm_start(estimator, klines, oi)
    return estimator, time.perf_counter() - started


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def summary(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
    return f"| {name} | {statistics.median(ms):.3f} | {p99:.3f} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=2000)
    parser.add_argument("--instruments", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    config = EstimatorConfig()
    keys = [k.format(a) for a in ASSETS for k in KEYS][: args.instruments]
    prices = {k: 100.0 * (1 + i) for i, k in enumerate(keys)}
    warmed_up = {k: warmed(k, config, rng, prices[k]) for k in keys}
    estimators = {k: e for k, (e, _) in warmed_up.items()}
    warm_s = statistics.median(s for _, s in warmed_up.values())
    oi = dict.fromkeys(keys, 10_000.0)
    one: list[float] = []
    all_keys: list[float] = []
    views: list[float] = []
    for tick in range(1, args.ticks + 1):
        ts = T0 + tick * 1000
        batches = {}
        for key in keys:
            prices[key] *= float(np.exp(0.0004 * rng.standard_normal()))
            oi[key] += float(rng.normal(0.5, 5.0))
            batches[key] = tick_rows(rng, ts, prices[key], oi[key])
        started = time.perf_counter()
        per_call = [timed(functools.partial(estimators[k].update, *batches[k])) for k in keys]
        if tick > 100:
            one.extend(per_call)
            all_keys.append(time.perf_counter() - started)
            if tick % 10 == 0:
                first = estimators[keys[0]]
                views.append(timed(functools.partial(first.map_view, 5.0, 130)) + timed(first.clusters))
    print(f"{len(keys)} instruments, {args.ticks} ticks (each closes one open-interest interval per instrument)")
    print()
    print("| what | median ms | p99 ms |")
    print("|---|---|---|")
    print(summary("one update, one instrument, one OI interval", one))
    print(summary(f"one tick, {len(keys)} instruments", all_keys))
    print(summary("map view (130 columns) + top-10 clusters", views))
    print(f"| warm start (1 day of 1-minute candles, 5-minute OI), one instrument | {warm_s * 1000:.1f} | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
