"""The simulated market: history, truth, accounting, cascades, determinism, and the leverage mix it draws
from."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from liqtui.model.types import KLINE_DTYPE, OPEN_INTEREST_DTYPE, Side
from liqtui.sim.candles import MINUTE_MS
from liqtui.sim.contract import MarketStep, SimMarket
from liqtui.sim.market import LIVE_CATCHUP_MS, Market, create_market
from liqtui.sim.scenario import Scenario, default_scenario

NOW_MS = 1_790_000_123_456
"""Not on a minute boundary, on purpose."""
DAY_MS = 86_400_000
KEYS = ("binance:BTCUSDT", "bybit:ETHUSDT", "okx:SOL-USDT-SWAP", "okx:BTC-USDT-SWAP")


def calm(scenario: Scenario, hours: float) -> Scenario:
    """No volatility, no jumps, no impact: nothing moves the price unless a test does."""
    assets = tuple(replace(a, daily_vol=1e-6, jump_rate_per_day=0.0, impact_bps_per_musd=0.0) for a in scenario.assets)
    market = replace(scenario.market, regime_vol_multipliers=(1.0,))
    return replace(scenario, assets=assets, market=market, history_hours=hours)


@pytest.fixture(scope="module")
def day() -> Market:
    """The default scenario with its full 24 h history (built once; tests must not advance it)."""
    return Market(default_scenario(), 7, NOW_MS)


@pytest.fixture
def short() -> Market:
    return Market(replace(default_scenario(), history_hours=1.0), 11, NOW_MS)


def run(market: Market, start_ms: int, seconds: float, step_ms: int = 100) -> list[MarketStep]:
    return [market.advance(start_ms + i * step_ms) for i in range(1, int(seconds * 1000 / step_ms) + 1)]


def open_sums(positions: np.ndarray[Any, Any]) -> tuple[float, float]:
    longs = positions["side"] > 0
    return float(positions["qty_base"][longs].sum()), float(positions["qty_base"][~longs].sum())


def test_factory_gives_a_sim_market() -> None:
    market: SimMarket = create_market(replace(default_scenario(), history_hours=0.1), 1, NOW_MS, 2.0)
    assert isinstance(market, Market)
    assert market.speed == 2.0
    assert set(KEYS) <= set(market.instruments)
    okx_btc = market.instruments["okx:BTC-USDT-SWAP"]
    assert (okx_btc.contract_size_base, okx_btc.asset) == (0.01, "BTC")
    assert market.instruments["okx:ETH-USDT-SWAP"].contract_size_base == 0.1
    assert market.instruments["binance:SOLUSDT"].contract_size_base == 1.0


class TestHistory:
    def test_one_minute_klines_cover_the_day_ending_now(self, day: Market) -> None:
        for key in KEYS:
            k = day.klines(key, MINUTE_MS, NOW_MS - DAY_MS, NOW_MS, 5000)
            assert len(k) == 1440
            assert np.all(np.diff(k["open_ms"]) == MINUTE_MS)
            assert k["open_ms"][-1] == NOW_MS - NOW_MS % MINUTE_MS
            assert np.all(k["low"] <= np.minimum(k["open"], k["close"]))
            assert np.all(k["high"] >= np.maximum(k["open"], k["close"]))
            assert np.all(k["taker_buy_base"] <= k["volume_base"])
            traded = k["volume_base"] > 0
            assert traded.mean() > 0.99
            vwap = k["turnover_quote"][traded] / k["volume_base"][traded]
            assert np.all((vwap >= k["low"][traded] * (1 - 1e-9)) & (vwap <= k["high"][traded] * (1 + 1e-9)))
            assert set(KLINE_DTYPE.names or ()) <= set(k.dtype.names or ())

    @pytest.mark.parametrize("minutes", [5, 15, 60, 240])
    def test_longer_klines_aggregate_the_minutes(self, day: Market, minutes: int) -> None:
        key = "bybit:ETHUSDT"
        interval = minutes * MINUTE_MS
        ones = day.klines(key, MINUTE_MS, 0, NOW_MS, 5000)
        bars = day.klines(key, interval, NOW_MS - DAY_MS, NOW_MS, 5000)
        assert np.all(bars["open_ms"] % interval == 0)
        for bar in bars[1:]:
            inside = ones[(ones["open_ms"] >= bar["open_ms"]) & (ones["open_ms"] < bar["open_ms"] + interval)]
            assert bar["open"] == inside["open"][0] and bar["close"] == inside["close"][-1]
            assert bar["high"] == inside["high"].max() and bar["low"] == inside["low"].min()
            assert bar["volume_base"] == pytest.approx(inside["volume_base"].sum())
            assert bar["trade_count"] == inside["trade_count"].sum()

    def test_limit_keeps_the_most_recent(self, day: Market) -> None:
        k = day.klines("binance:BTCUSDT", 15 * MINUTE_MS, NOW_MS - DAY_MS, NOW_MS, 10)
        assert len(k) == 10
        assert k["open_ms"][-1] == NOW_MS - NOW_MS % (15 * MINUTE_MS)

    def test_open_interest_history_covers_the_day(self, day: Market) -> None:
        for key in KEYS:
            oi = day.oi_history(key, 5 * MINUTE_MS, NOW_MS - DAY_MS, NOW_MS, 500)
            assert len(oi) >= 287
            assert np.all(np.diff(oi["ts_ms"]) == 5 * MINUTE_MS)
            assert oi["ts_ms"][-1] > NOW_MS - 5 * MINUTE_MS
            assert oi["ts_ms"][0] >= NOW_MS - DAY_MS
            assert set(OPEN_INTEREST_DTYPE.names or ()) <= set(oi.dtype.names or ())
            assert np.all(oi["oi_base"] >= 0)
            # After the first hours positions are open all day.
            assert np.all(oi["oi_base"][len(oi) // 2 :] > 0)

    def test_positions_are_open_after_the_history(self, day: Market) -> None:
        for key in KEYS:
            assert len(day.positions(key)) > 1000

    def test_state_matches_positions_and_candles(self, day: Market) -> None:
        for key in KEYS:
            state = day.state(key)
            long_base, short_base = open_sums(day.positions(key))
            assert state.oi_base == pytest.approx(max(long_base, short_base), rel=1e-9)
            assert state.ts_ms == NOW_MS
            assert state.next_funding_ms % (8 * 3_600_000) == 0 and 0 < state.next_funding_ms - NOW_MS <= 8 * 3_600_000
            assert state.bid_px < state.ask_px
            assert abs(state.mark_px / state.index_px - 1) < 0.01
            assert state.low_24h <= state.last_px <= state.high_24h
            k = day.klines(key, MINUTE_MS, NOW_MS - DAY_MS, NOW_MS, 5000)
            assert state.volume_24h_base == pytest.approx(k["volume_base"].sum())
            assert -0.003 <= state.funding_rate <= 0.003

    def test_liquidations_happened_in_the_history(self, day: Market) -> None:
        status = day.status()
        assert status["liquidations"] > 100
        assert status["instruments"]["binance:BTCUSDT"]["liquidations"] > 0


class TestTruth:
    def test_every_position_liquidates_between_entry_and_bankruptcy(self, day: Market) -> None:
        for key in KEYS:
            p = day.positions(key)
            longs, shorts = p[p["side"] > 0], p[p["side"] < 0]
            assert np.all((longs["bankruptcy_px"] < longs["liq_px"]) & (longs["liq_px"] < longs["entry_px"]))
            assert np.all((shorts["bankruptcy_px"] > shorts["liq_px"]) & (shorts["liq_px"] > shorts["entry_px"]))

    def test_truth_is_the_positions_grouped_by_price(self, day: Market) -> None:
        for key in KEYS:
            truth = day.truth(key)
            tick = day.instruments[key].tick_size
            assert truth["instrument"] == key and truth["ts_ms"] == NOW_MS
            p = day.positions(key)
            for name, sign in (("long", 1), ("short", -1)):
                levels = np.array(truth[name])
                mine = p[p["side"] == sign]
                assert np.all(np.diff(levels[:, 0]) > 0)
                assert levels[:, 1].sum() == pytest.approx(float((mine["qty_base"] * mine["entry_px"]).sum()))
                assert np.allclose(levels[:, 0] / tick, np.round(levels[:, 0] / tick))
            # Open positions are those the mark has not reached yet.
            assert max(px for px, _ in truth["long"]) <= truth["mark_px"] + tick
            assert min(px for px, _ in truth["short"]) >= truth["mark_px"] - tick


class TestLive:
    def test_events_are_stamped_in_the_interval_and_in_order(self, short: Market) -> None:
        last = NOW_MS
        for step_ms in (100, 250, 37, 1000, 2000):
            now = last + step_ms
            out = short.advance(now)
            assert out.ts_ms == now
            for trades in out.trades.values():
                ts = [t.ts_ms for t in trades]
                assert ts == sorted(ts) and last < ts[0] and ts[-1] <= now
            for liquidations in out.liquidations.values():
                assert all(last < q.ts_ms <= now and q.qty_base > 0 for q in liquidations)
            last = now
        assert short.advance(last) == MarketStep(ts_ms=last)
        assert short.advance(last - 500).trades == {}

    def test_mass_is_conserved(self, short: Market) -> None:
        steps = run(short, NOW_MS, 20)
        liquidated = Counter[str]()
        for step in steps:
            for key, events in step.liquidations.items():
                liquidated[key] += len(events)
        status = short.status()["instruments"]
        for key in short.instruments:
            s = status[key]
            long_base, short_base = open_sums(short.positions(key))
            opened_long = s["opened_long_base"] - s["closed_long_base"] - s["liquidated_long_base"]
            opened_short = s["opened_short_base"] - s["closed_short_base"] - s["liquidated_short_base"]
            assert opened_long == pytest.approx(long_base, rel=1e-9, abs=1e-6)
            assert opened_short == pytest.approx(short_base, rel=1e-9, abs=1e-6)
            assert s["open_positions"] == len(short.positions(key))

    def test_open_interest_samples_are_the_positions_at_that_time(self, short: Market) -> None:
        sample_ms = (NOW_MS // MINUTE_MS + 1) * MINUTE_MS
        short.advance(sample_ms - 1)  # everything up to, not including, the sample time
        before = {key: short.state(key).oi_base for key in KEYS}
        run(short, sample_ms - 1, 5)
        for key in KEYS:
            oi = short.oi_history(key, MINUTE_MS, sample_ms, sample_ms, 10)
            assert oi["ts_ms"].tolist() == [sample_ms]
            assert oi["oi_base"][0] == pytest.approx(before[key], rel=1e-9)
            assert oi["oi_quote"][0] > 0

    def test_a_late_call_catches_up_without_reporting_old_events(self, short: Market) -> None:
        now = NOW_MS + 3_600_000
        out = short.advance(now)
        stamps = [t.ts_ms for trades in out.trades.values() for t in trades]
        assert stamps and min(stamps) > now - LIVE_CATCHUP_MS - 1
        k = short.klines("binance:BTCUSDT", MINUTE_MS, NOW_MS, now, 1000)
        assert np.all(np.diff(k["open_ms"]) == MINUTE_MS) and len(k) == 60
        assert np.all(k["volume_base"][1:-1] > 0)

    def test_speed_runs_more_market_per_wall_second(self) -> None:
        scenario = replace(default_scenario(), history_hours=0.5)
        slow, fast = Market(scenario, 5, NOW_MS, 1.0), Market(scenario, 5, NOW_MS, 20.0)
        counts = [sum(len(v) for s in run(m, NOW_MS, 5) for v in s.trades.values()) for m in (slow, fast)]
        assert counts[1] > 5 * counts[0]


class TestCascade:
    def test_a_price_shock_liquidates_and_the_price_moves_further(self) -> None:
        scenario = calm(default_scenario(), hours=3.0)
        # Only BTC's price feels the liquidation orders; the other assets stay still.
        btc = replace(scenario.asset("BTC"), impact_bps_per_musd=default_scenario().asset("BTC").impact_bps_per_musd)
        assets = tuple(btc if a.name == "BTC" else a for a in scenario.assets)
        market = Market(replace(scenario, assets=assets), 3, NOW_MS)
        run(market, NOW_MS, 1)
        before = market.asset_px("BTC")
        cascades = market.cascades
        market.shock("BTC", -0.04)
        shocked = market.asset_px("BTC")
        steps = run(market, NOW_MS + 1000, 20)
        times = [q.ts_ms for s in steps for k, v in s.liquidations.items() if "BTC" in k for q in v]
        sides = {q.side for s in steps for k, v in s.liquidations.items() if "BTC" in k for q in v}
        assert shocked == pytest.approx(before * 0.96)
        assert len(times) > 300
        assert sides == {Side.LONG}
        assert max(times) - min(times) < 20_000
        assert market.asset_px("BTC") < shocked * 0.995
        assert market.cascades > cascades
        # ETH was not shocked, and its traders were not liquidated.
        assert not any("ETH" in k for s in steps for k in s.liquidations)

    def test_liquidation_fills_are_a_little_worse_than_the_mark(self) -> None:
        market = Market(calm(default_scenario(), hours=2.0), 4, NOW_MS)
        key = "bybit:SOLUSDT"
        before = market.state(key).mark_px
        market.shock("SOL", 0.05)
        steps = run(market, NOW_MS, 2)
        shorts = [q for s in steps for q in s.liquidations.get(key, [])]
        assert shorts and all(q.side is Side.SHORT for q in shorts)
        mark = market.state(key).mark_px
        assert all(mark < q.fill_px < mark * 1.01 for q in shorts)
        # A jump can carry the mark past a short's bankruptcy price (the insurance fund pays the rest).
        assert all(before < q.bankruptcy_px < mark * 1.01 for q in shorts)


class TestDeterminism:
    def test_same_seed_same_market(self) -> None:
        scenario = replace(default_scenario(), history_hours=0.5)
        a, b, c = Market(scenario, 42, NOW_MS), Market(scenario, 42, NOW_MS), Market(scenario, 43, NOW_MS)
        calls = [NOW_MS + ms for ms in (100, 200, 350, 1000, 9000, 9100)]
        out_a, out_b, out_c = ([m.advance(t) for t in calls] for m in (a, b, c))
        assert out_a == out_b
        assert out_a != out_c
        for key in KEYS:
            assert a.truth(key) == b.truth(key)
            assert np.array_equal(
                a.klines(key, MINUTE_MS, 0, NOW_MS * 2, 100), b.klines(key, MINUTE_MS, 0, NOW_MS * 2, 100)
            )
            assert a.state(key) == b.state(key)
        assert a.truth(KEYS[0]) != c.truth(KEYS[0])

    def test_seed_none_draws_and_keeps_a_seed(self) -> None:
        scenario = replace(default_scenario(), history_hours=0.1)
        market = Market(scenario, None, NOW_MS)
        again = Market(scenario, market.seed, NOW_MS)
        assert market.truth(KEYS[0]) == again.truth(KEYS[0])


def test_opened_positions_follow_the_scenario_leverage_mix() -> None:
    """In a still market nothing is liquidated, so the open positions are a fair sample of what traders
    chose."""
    base = calm(default_scenario(), hours=1.0)
    scenario = replace(base, traders=replace(base.traders, size_max_usd=9_000.0))  # below every tier-1 cap
    market = Market(scenario, 9, NOW_MS)
    assert market.status()["liquidations"] == 0
    leverage = np.concatenate([market.positions(key)["leverage"] for key in market.instruments])
    values = np.array(scenario.traders.leverage_values)
    weights = np.array(scenario.traders.leverage_weights) / sum(scenario.traders.leverage_weights)
    assert set(np.unique(leverage).tolist()) <= set(values.tolist())
    observed = np.array([(leverage == v).sum() for v in values])
    expected = weights * len(leverage)
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert len(leverage) > 5000
    assert chi2 < 26.1, f"chi-square {chi2:.1f} over {len(values) - 1} degrees of freedom (p < 0.001)"
    # And it is not the estimator's default mix (5/10/20/25/50/100).
    assert not math.isclose(float(np.mean(leverage)), 26.0, rel_tol=0.05)


def test_funding_settlement_moves_margins_and_liquidation_prices() -> None:
    """At 00:00, 08:00 and 16:00 UTC longs pay shorts the funding rate (or the reverse); isolated margins
    change, so liquidation prices move."""
    funding_ms = (NOW_MS // (8 * 3_600_000) + 1) * 8 * 3_600_000
    market = Market(replace(default_scenario(), history_hours=2.0), 8, funding_ms - 50)
    key = "binance:ETHUSDT"
    before = market.positions(key)
    rate = market.state(key).funding_rate
    market.advance(funding_ms + 50)
    after = market.positions(key)
    mark = market.state(key).mark_px
    index = {(int(r["opened_ms"]), float(r["entry_px"]), float(r["qty_base"])): r for r in before}
    matched = [
        (index[k], r)
        for r in after
        if (k := (int(r["opened_ms"]), float(r["entry_px"]), float(r["qty_base"]))) in index
    ]
    assert len(matched) > 0.9 * len(before) and rate != 0
    for old, new in matched:
        paid = old["side"] * rate * old["qty_base"] * mark
        assert new["margin_usd"] == pytest.approx(old["margin_usd"] - paid, rel=1e-9)
        # Paying funding brings the liquidation price closer to the price; receiving it pushes it away.
        moved = (new["liq_px"] - old["liq_px"]) * old["side"]
        assert moved > 0 if paid > 0 else moved < 0
