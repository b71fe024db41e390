"""Warm start (issue 6 item 2): the estimator back-filled from candles and open-interest history."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from liqtui.config import EstimatorConfig
from liqtui.model.estimator import Estimator
from liqtui.model.types import KLINE_DTYPE, LIQUIDATION_DTYPE, MARK_DTYPE, OPEN_INTEREST_DTYPE, TRADE_DTYPE, Side
from liqtui.model.warmstart import Applied, candle_rows, kline_interval_ms, warm_start

CONFIG = replace(EstimatorConfig(), learn_leverage=False)
KEY = "bybit:ETHUSDT"
T0 = 1_790_000_000_000


def history(minutes: int, *, taker_buy_share: float | None = 0.5, seed: int = 1) -> tuple[Any, Any]:
    """`minutes` one-minute candles of a random walk and open interest every 5 minutes, rising."""
    rng = np.random.default_rng(seed)
    closes = 3000.0 * np.exp(np.cumsum(0.001 * rng.standard_normal(minutes)))
    klines = np.zeros(minutes, dtype=KLINE_DTYPE)
    klines["open_ms"] = T0 + np.arange(minutes) * 60_000
    klines["open"] = np.concatenate(([3000.0], closes[:-1]))
    klines["close"] = closes
    klines["high"] = np.maximum(klines["open"], closes) * 1.001
    klines["low"] = np.minimum(klines["open"], closes) * 0.999
    klines["volume_base"] = 100.0
    klines["taker_buy_base"] = np.nan if taker_buy_share is None else 100.0 * taker_buy_share
    oi = np.zeros(minutes // 5, dtype=OPEN_INTEREST_DTYPE)
    oi["ts_ms"] = T0 + (np.arange(minutes // 5) + 1) * 300_000
    oi["oi_base"] = 50_000.0 + np.arange(minutes // 5) * 100.0
    return klines, oi


def test_candles_stand_for_trades_at_the_typical_price_and_marks_at_their_range() -> None:
    klines, _ = history(3, taker_buy_share=0.7)
    trades, marks = candle_rows(klines, 60_000)
    assert kline_interval_ms(klines) == 60_000
    typical = (klines["high"] + klines["low"] + klines["close"]) / 3
    np.testing.assert_allclose(trades["px"], np.repeat(typical, 2))
    assert trades["qty_base"][trades["taker_buy"]].sum() == pytest.approx(210.0)
    assert trades["qty_base"][~trades["taker_buy"]].sum() == pytest.approx(90.0)
    assert np.all(trades["ts_ms"] == np.repeat(klines["open_ms"] + 59_999, 2))
    assert set(marks["px"]) == set(klines["low"]) | set(klines["high"]) | set(klines["close"])
    # The close is the newest price of each candle.
    assert marks["px"][np.argmax(marks["ts_ms"])] == klines["close"][-1]
    unknown, _ = candle_rows(history(3, taker_buy_share=None)[0], 60_000)
    assert unknown["qty_base"][unknown["taker_buy"]].sum() == pytest.approx(150.0)


def test_a_day_of_history_fills_the_map_and_applies_only_once() -> None:
    klines, oi = history(24 * 60)
    estimator = Estimator(KEY, CONFIG)
    assert warm_start(estimator, klines, oi) == Applied(candles=klines.size, open_interest=oi.size, liquidations=0)
    held = estimator.totals(Side.LONG).held
    assert held > 0 and estimator.totals(Side.SHORT).held > 0
    assert estimator.mark_px == pytest.approx(klines["close"][-1])
    assert estimator.oi_latest == oi["oi_base"][-1]
    # The same history again adds nothing (a reloaded estimator only takes what it does not hold yet).
    version = estimator.version
    assert warm_start(estimator, klines, oi) == Applied(candles=0, open_interest=0, liquidations=0)
    assert estimator.totals(Side.LONG).held == pytest.approx(held)
    assert estimator.version == version


def test_candle_ranges_sweep_levels_and_history_teaches_no_leverage() -> None:
    def long_mass_above(low: float, crash: bool) -> tuple[float, Estimator]:
        klines, oi = history(600)
        if crash:
            klines["low"][-1] = low
        estimator = Estimator(KEY, replace(CONFIG, learn_leverage=True))
        warm_start(estimator, klines, oi)
        grid = estimator.grid
        assert grid is not None
        longs = estimator.side_mass(Side.LONG)
        return float(longs[grid.edges()[1:] > low].sum()), estimator

    low = float(history(600)[0]["close"][-2]) * 0.8
    calm, _ = long_mass_above(low, crash=False)
    # The last candle wicks 20 % down: the long levels above its low are gone, but for the positions that the
    # last interval opened (a candle does not say whether they came before or after the wick).
    crashed, estimator = long_mass_above(low, crash=True)
    assert crashed < 0.2 * calm
    assert estimator.totals(Side.LONG).swept > 0
    # Sweeps without reported liquidations are no evidence about the leverage mix.
    assert estimator.leverage_shares == pytest.approx(CONFIG.leverage_shares)


def test_history_with_the_exchanges_liquidation_history_hears_silence_from_when_it_is_complete() -> None:
    """OKX publishes its liquidations: a day in which price swept the high-leverage levels again and again and
    nothing was liquidated moves share to the low tiers, but only over the stretch the history is complete for."""
    klines, oi = history(24 * 60)
    none = np.zeros(0, dtype=LIQUIDATION_DTYPE)

    def shares(**liquidation_history: Any) -> tuple[float, ...]:
        estimator = Estimator(KEY, replace(CONFIG, learn_leverage=True))
        warm_start(estimator, klines, oi, **liquidation_history)
        return estimator.leverage_shares

    prior = shares()
    assert prior == pytest.approx(CONFIG.leverage_shares)
    heard = shares(liquidations=none, reported_since_ms=T0)
    assert heard[-1] < prior[-1] / 2 and heard[0] > prior[0]  # 100x gave up share to 5x
    assert shares(liquidations=none) == pytest.approx(prior)  # complete since when is not known
    assert shares(liquidations=none, reported_since_ms=int(oi["ts_ms"][-1])) == pytest.approx(prior)


def test_where_the_historys_liquidations_landed_is_not_learned_live_either() -> None:
    """Coarse history teaches how many liquidations came, never where (`Estimator.update`). Its evidence stays in
    the learning after the warm start, so it must not carry placement into the live steps: two histories that
    differ only in where their liquidations landed lead the same live data to the same mix."""
    klines, oi = history(24 * 60)
    # Long liquidations every half hour of the last half day, 2 % or 4 % below the lowest price so far, where
    # no sweep has cleared the levels and different tiers' levels lie.
    minute = np.arange(12 * 60, 24 * 60, 30)
    lowest = np.minimum.accumulate(klines["low"])[minute - 1]
    config = replace(CONFIG, learn_leverage=True)

    def warmed(below_lowest: float) -> Estimator:
        reported = np.zeros(minute.size, dtype=LIQUIDATION_DTYPE)
        reported["ts_ms"] = klines["open_ms"][minute] + 30_000
        reported["px"] = lowest * (1.0 - below_lowest)
        reported["qty_base"] = 15_000.0 / reported["px"]  # the same notional either way
        reported["side"] = Side.LONG.value
        estimator = Estimator(KEY, config)
        warm_start(estimator, klines, oi, liquidations=reported, reported_since_ms=T0)
        return estimator

    at_low, above = warmed(0.02), warmed(0.04)
    assert at_low.leverage_shares == pytest.approx(above.leverage_shares, rel=1e-12)
    # Live: price falls 3 % over ten minutes with long liquidations along the way, identical for both.
    start, px = int(oi["ts_ms"][-1]), float(klines["close"][-1])
    path = px * np.linspace(1.0, 0.97, 600)
    ts = start + 1000 * np.arange(1, 601)
    for estimator in (at_low, above):
        for i in range(0, 600, 5):
            trades = np.zeros(5, dtype=TRADE_DTYPE)
            trades["ts_ms"], trades["px"], trades["qty_base"] = ts[i : i + 5], path[i : i + 5], 1.0
            marks = np.zeros(5, dtype=MARK_DTYPE)
            marks["ts_ms"], marks["px"] = ts[i : i + 5], path[i : i + 5]
            liquidation = np.zeros(1, dtype=LIQUIDATION_DTYPE)
            liquidation["ts_ms"], liquidation["px"], liquidation["qty_base"] = ts[i + 4], path[i + 4], 2.0
            liquidation["side"] = Side.LONG.value
            live_oi = np.zeros(1, dtype=OPEN_INTEREST_DTYPE)
            live_oi["ts_ms"], live_oi["oi_base"] = ts[i + 4], float(oi["oi_base"][-1]) - i
            estimator.update(trades=trades, marks=marks, liquidations=liquidation, open_interest=live_oi)
    assert at_low.mix_steps > 0
    assert at_low.leverage_shares != pytest.approx(config.leverage_shares, rel=1e-3)  # the live data did teach
    assert at_low.leverage_shares == pytest.approx(above.leverage_shares, rel=1e-9)
