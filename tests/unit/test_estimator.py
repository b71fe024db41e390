"""The liquidation-level estimator (design §4, issue 6): invariants under hypothesis, and each model step."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from synthetic import T0, liquidation, marks, oi, open_longs_at_100k, trades

from liqtui.config import EstimatorConfig
from liqtui.model import margin
from liqtui.model.estimator import Estimator, EstimatorTuning, leverage_bands, liquidation_ratios
from liqtui.model.types import Side

CONFIG = EstimatorConfig()
FIXED = replace(CONFIG, learn_leverage=False)
KEY = "binance:BTCUSDT"


def opened_at(px: float, config: Any = FIXED, buy_qty: float = 3.0, sell_qty: float = 1.0) -> Estimator:
    """An estimator with one interval of new positions entered at `px` (3:1 taker buys)."""
    estimator = Estimator(KEY, config)
    estimator.update(marks=marks([T0], [px]), open_interest=oi(T0, 1000.0))
    estimator.update(trades=trades([T0 + 1000, T0 + 2000], [px, px], [buy_qty, sell_qty], [True, False]))
    estimator.update(open_interest=oi(T0 + 5000, 1100.0))
    return estimator


def assert_conserved(estimator: Estimator) -> None:
    for side in Side:
        t = estimator.totals(side)
        assert t.opened - t.closed - t.swept - t.aged == pytest.approx(t.held, rel=1e-9, abs=1e-6 * (1 + t.opened))
        assert min(t.opened, t.closed, t.swept, t.aged, t.held) >= -1e-9


# -- hypothesis: the invariants ---------------------------------------------------------------------------------

steps = st.lists(
    st.tuples(
        st.floats(min_value=-0.03, max_value=0.03),  # log price move
        st.floats(min_value=-40.0, max_value=60.0),  # open-interest change
        st.integers(min_value=0, max_value=6),  # trades in the step
        st.floats(min_value=0.0, max_value=1.0),  # taker buy share
        st.integers(min_value=1, max_value=7200),  # seconds
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(steps=steps, learn=st.booleans())
def test_mass_is_conserved_and_bins_are_monotone(
    steps: list[tuple[float, float, int, float, int]], learn: bool
) -> None:
    estimator = Estimator(KEY, replace(CONFIG, learn_leverage=learn))
    ts, px, open_interest = T0, 84_000.0, 1_000.0
    estimator.update(marks=marks([ts], [px]), open_interest=oi(ts, open_interest))
    rng = np.random.default_rng(len(steps))
    for move, d_oi, n_trades, buy_share, seconds in steps:
        ts += seconds * 1000
        px *= math.exp(move)
        open_interest = max(open_interest + d_oi, 1.0)
        offsets = list(range(1, n_trades + 1))
        rows = trades(
            [ts - o for o in offsets],
            [px * (1 + 0.001 * rng.standard_normal()) for _ in offsets],
            [float(rng.exponential(1.0)) for _ in offsets],
            [bool(rng.random() < buy_share) for _ in offsets],
        )
        side = Side.LONG if move < 0 else Side.SHORT
        liqs = liquidation(ts - 1, px, 0.5, side) if abs(move) > 0.01 else None
        estimator.update(trades=rows, liquidations=liqs, marks=marks([ts], [px]), open_interest=oi(ts, open_interest))
        assert_conserved(estimator)
    view = estimator.map_view(10.0)
    assert np.all(np.diff(view.px_low) > 0) and np.all(view.px_high > view.px_low)
    np.testing.assert_allclose(view.px_high[:-1], view.px_low[1:], rtol=1e-12)
    assert view.px_low[0] <= px * 0.9 * (1 + 1e-3) and view.px_high[-1] >= px * 1.1 * (1 - 1e-3)
    assert np.all(view.long_usd >= 0) and np.all(view.short_usd >= 0)
    assert sum(estimator.leverage_shares) == pytest.approx(1.0)
    assert min(estimator.leverage_shares) > 0.0


@settings(max_examples=40, deadline=None)
@given(
    entry=st.floats(min_value=0.01, max_value=1e6),
    buy=st.floats(min_value=0.1, max_value=10.0),
    sell=st.floats(min_value=0.1, max_value=10.0),
)
def test_longs_liquidate_below_entry_and_shorts_above(entry: float, buy: float, sell: float) -> None:
    estimator = opened_at(entry, buy_qty=buy, sell_qty=sell)
    grid = estimator.grid
    assert grid is not None
    mids = grid.mids()
    longs, shorts = estimator.side_mass(Side.LONG), estimator.side_mass(Side.SHORT)
    assert longs.sum() > 0 and shorts.sum() > 0
    assert np.all(mids[longs > 0] < entry)
    assert np.all(mids[shorts > 0] > entry)
    # The split follows the taker shares (all tiers see the same base quantity).
    t_long, t_short = estimator.totals(Side.LONG), estimator.totals(Side.SHORT)
    assert t_long.opened / t_short.opened == pytest.approx(buy / sell, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(drop=st.floats(min_value=0.001, max_value=0.2), rise=st.floats(min_value=0.001, max_value=0.2))
def test_a_sweep_leaves_nothing_on_the_swept_side(drop: float, rise: float) -> None:
    entry = 84_000.0
    estimator = opened_at(entry)
    low, high = entry * (1 - drop), entry * (1 + rise)
    estimator.update(marks=marks([T0 + 6000, T0 + 7000, T0 + 8000], [low, high, entry]))
    grid = estimator.grid
    assert grid is not None
    edges = grid.edges()
    longs, shorts = estimator.side_mass(Side.LONG), estimator.side_mass(Side.SHORT)
    assert not longs[edges[1:] > low].any()
    assert not shorts[edges[:-1] < high].any()
    assert_conserved(estimator)
    t = estimator.totals(Side.LONG)
    assert t.swept > 0 or longs.sum() == pytest.approx(t.opened - t.aged)


# -- the model's steps --------------------------------------------------------------------------------------


def test_liquidation_prices_use_the_exchange_formula_with_its_tiers() -> None:
    tiers = margin.default_tiers("binance", "BTC")
    leverage = np.array([[10.0], [50.0]])
    ratio = liquidation_ratios("binance", leverage, tiers, position_usd=10_000.0, ref_px=84_000.0, contract_size_base=1)
    for i, lev in enumerate((10.0, 50.0)):
        qty = 10_000.0 / 84_000.0
        long_px = margin.binance_liquidation_price(1, qty, 84_000.0, 10_000.0 / lev, tiers)
        short_px = margin.binance_liquidation_price(-1, qty, 84_000.0, 10_000.0 / lev, tiers)
        assert ratio[0, i, 0] * 84_000.0 == pytest.approx(long_px)
        assert ratio[1, i, 0] * 84_000.0 == pytest.approx(short_px)
    # Not the 1/L shortcut: the maintenance rate moves the level toward the entry.
    assert ratio[0, 0, 0] > 1 - 1 / 10.0
    # A leverage above what the tiers allow is capped (the ALT table stops at 75x on Binance).
    alt = margin.default_tiers("binance", "SOL")
    capped = liquidation_ratios(
        "binance", np.array([100.0, 75.0]), alt, position_usd=1e3, ref_px=100.0, contract_size_base=1
    )
    assert capped[0, 0] == pytest.approx(capped[0, 1])
    bybit = liquidation_ratios(
        "bybit",
        np.array([20.0]),
        margin.default_tiers("bybit", "BTC"),
        position_usd=1e4,
        ref_px=1e4,
        contract_size_base=1.0,
    )
    assert bybit[0, 0] == pytest.approx(1 - 1 / 20 + 0.005)


def test_leverage_bands_cover_each_tier_between_its_neighbours() -> None:
    bands = leverage_bands(np.array([5.0, 10.0, 20.0]), 5)
    assert bands.shape == (3, 5)
    assert np.all(np.diff(bands, axis=1) > 0)
    assert bands[1, 2] == pytest.approx(10.0)
    assert bands[0].max() < bands[1].min() and bands[1].max() < bands[2].min()


def test_without_trades_new_positions_enter_at_the_mark_half_and_half() -> None:
    estimator = Estimator(KEY, FIXED)
    estimator.update(marks=marks([T0], [50_000.0]), open_interest=oi(T0, 100.0))
    estimator.update(marks=marks([T0 + 1000], [50_000.0]), open_interest=oi(T0 + 2000, 110.0))
    t_long, t_short = estimator.totals(Side.LONG), estimator.totals(Side.SHORT)
    assert t_long.opened == pytest.approx(t_short.opened)
    assert t_long.opened == pytest.approx(5.0 * 50_000.0, rel=1e-6)


def test_open_interest_decreases_close_each_side_proportionally() -> None:
    estimator = opened_at(84_000.0)
    before_long = estimator.side_mass(Side.LONG)
    before_short = estimator.side_mass(Side.SHORT)
    # OI falls 10 % of 1100 with taker sells only: longs lose 10 %, shorts nothing (no time passes: no ageing).
    estimator.update(trades=trades([T0 + 5500], [84_000.0], [2.0], [False]), open_interest=oi(T0 + 6000, 990.0))
    np.testing.assert_allclose(estimator.side_mass(Side.LONG), before_long * 0.9, rtol=1e-3)
    np.testing.assert_allclose(estimator.side_mass(Side.SHORT), before_short, rtol=1e-3)
    assert_conserved(estimator)


def test_mass_ages_with_the_half_life() -> None:
    estimator = opened_at(84_000.0)
    held = estimator.totals(Side.LONG).held
    hours = FIXED.half_life_hours
    estimator.update(marks=marks([T0 + 5000 + int(hours * 3_600_000)], [84_000.0]))
    assert estimator.totals(Side.LONG).held == pytest.approx(held / 2, rel=1e-6)
    assert_conserved(estimator)


def test_recentring_keeps_the_mass_still_in_range_where_it_was() -> None:
    estimator = opened_at(84_000.0)
    before = estimator.map_view(30.0)
    estimator.update(marks=marks([T0 + 5000], [84_000.0 * 1.08]))  # up: no long level is crossed, shorts below are
    grid = estimator.grid
    assert grid is not None and grid.first != before.px_low[0]
    after = estimator.map_view(30.0)
    common = np.intersect1d(np.round(before.px_low, 6), np.round(after.px_low, 6))
    b = dict(zip(np.round(before.px_low, 6), before.long_usd, strict=True))
    a = dict(zip(np.round(after.px_low, 6), after.long_usd, strict=True))
    assert sum(b[k] for k in common) > 0
    for k in common:
        assert a[k] == pytest.approx(b[k])


def test_realized_liquidations_are_binned_apart_and_scored_before_the_sweep() -> None:
    estimator = opened_at(84_000.0)
    # The strongest long cluster, then price falls into it and a long is liquidated there in the same update.
    target = next(c for c in estimator.clusters() if c.side is Side.LONG)
    fall_to = target.px_low * 0.999
    estimator.update(
        liquidations=liquidation(T0 + 6000, target.px_peak, 1.0, Side.LONG),
        marks=marks([T0 + 6000], [fall_to]),
    )
    score = estimator.score()
    assert score.checked == 1 and score.hits == 1
    assert 0.0 < score.uniform_hit_rate < 1.0 and 0.0 < score.mass_near <= 1.0
    view = estimator.map_view(20.0)
    assert view.realized_long_usd.sum() == pytest.approx(target.px_peak, rel=1e-3)
    assert view.realized_short_usd.sum() == 0.0
    # The same level is gone from the estimate after the sweep.
    assert not view.long_usd[view.px_high > fall_to].any()


def test_a_liquidation_where_the_map_has_nothing_is_a_miss() -> None:
    estimator = opened_at(84_000.0)
    estimator.update(liquidations=liquidation(T0 + 6000, 84_000.0 * 1.5, 1.0, Side.LONG))
    assert estimator.score().checked == 1 and estimator.score().hits == 0


def learning_cycles(*, reports: int = 5, coarse: bool = False, reported_at: float = 50.0) -> Estimator:
    """In truth every position is 50x. Cycle after cycle, positions open at 100k and price falls through every
    tier's level, but liquidations are reported only as it crosses the 50x level (`reports` of them in one
    second), at the level of the `reported_at` tier. `coarse` feeds it all as coarse history would be fed."""
    config = replace(CONFIG, leverage=(10.0, 25.0, 50.0), leverage_weights=(1.0, 1.0, 1.0), half_life_hours=1000.0)
    tuning = EstimatorTuning(band_points=1, holding_scales=(1.0,), learn_min_events=3, learn_step=0.05)
    estimator = Estimator(KEY, config, tuning=tuning)
    ratio50, ratio_reported = liquidation_ratios(
        "binance", np.array([50.0, reported_at]), estimator.tiers, position_usd=1e4, ref_px=1e5, contract_size_base=1.0
    )[0]
    ts, open_interest = T0, 1000.0
    estimator.update(marks=marks([ts], [100_000.0]), open_interest=oi(ts, open_interest), coarse=coarse)
    for _ in range(6):
        ts, open_interest = open_longs_at_100k(estimator, ts, open_interest, coarse=coarse)
        for px in 100_000.0 * np.exp(-np.arange(1, 130) * 0.001):
            ts += 1000
            crossing = px <= 100_000.0 * ratio50 < px * math.exp(0.001)
            # The positions opened this cycle (five intervals) go one after the other at their level.
            level = liquidation(ts - 1, 100_000.0 * ratio_reported, 1.0, Side.LONG)
            liqs = np.concatenate([level] * reports) if crossing else None
            estimator.update(liquidations=liqs, marks=marks([ts], [px]), coarse=coarse)
        ts += 1000
        estimator.update(marks=marks([ts], [100_000.0]), coarse=coarse)
    return estimator


def test_leverage_learning_moves_toward_where_liquidations_land() -> None:
    estimator = learning_cycles()
    shares = estimator.leverage_shares
    assert shares[2] > 0.5 > 1 / 3
    assert shares[2] > shares[0] and shares[2] > shares[1]
    assert min(shares) >= estimator.tuning.weight_floor / 1.5


def test_coarse_history_liquidations_are_binned_and_counted_but_neither_placed_nor_scored() -> None:
    """In 5-minute history, positions opened and liquidated within one interval are missing from the estimate,
    so where liquidations land would credit the wrong tiers: coarse history learns from how many came, never
    from where. Reported at the 50x or at the 10x level, the same liquidations teach it the same mix, where live
    they teach opposite ones."""
    live = learning_cycles(reports=20)
    live_at_10x = learning_cycles(reports=20, reported_at=10.0)
    coarse = learning_cycles(reports=20, coarse=True)
    coarse_at_10x = learning_cycles(reports=20, coarse=True, reported_at=10.0)
    assert live.leverage_shares[2] > 0.9
    assert live_at_10x.leverage_shares[0] > 0.5
    assert coarse.leverage_shares == pytest.approx(coarse_at_10x.leverage_shares, abs=0.02)
    assert coarse.score().checked == 0 < live.score().checked
    realized = sum(coarse.snapshot_json()["bins"]["realized_long_usd"])
    assert realized > 0
    assert realized == pytest.approx(sum(live.snapshot_json()["bins"]["realized_long_usd"]))


def sweep_cycles(
    key: str,
    *,
    cycles: int,
    reported: bool = True,
    report_at_50x_each_second: bool = False,
    report_qty: float = 0.1,
    learn_from_silence: bool = True,
    learn_from_excess: bool = True,
    coarse: bool = False,
) -> Estimator:
    """Positions open at 100k (taker buys: longs) at 10x and 50x, equal shares; then price falls 4 % a step a
    second, through the 50x level but not the 10x one, and comes back. Liquidations: none, or (with
    `report_at_50x_each_second`) one report of `report_qty` at the 50x level in every second that sweeps mass."""
    config = replace(CONFIG, leverage=(10.0, 50.0), leverage_weights=(1.0, 1.0), half_life_hours=1000.0)
    tuning = EstimatorTuning(
        band_points=1,
        holding_scales=(1.0,),
        learn_from_silence=learn_from_silence,
        learn_from_excess=learn_from_excess,
    )
    estimator = Estimator(key, config, tuning=tuning)
    ratio50 = liquidation_ratios(
        key.partition(":")[0], np.array([50.0]), estimator.tiers, position_usd=1e4, ref_px=1e5, contract_size_base=1.0
    )[0, 0]
    ts, open_interest = T0, 1000.0
    estimator.update(marks=marks([ts], [100_000.0]), open_interest=oi(ts, open_interest))
    for _ in range(cycles):
        ts, open_interest = open_longs_at_100k(
            estimator, ts, open_interest, liquidations_reported=reported, coarse=coarse
        )
        for px in 100_000.0 * np.exp(-np.arange(1, 41) * 0.001):
            ts += 1000
            swept = px <= 100_000.0 * ratio50 * 1.002
            liqs = liquidation(ts - 1, px, report_qty, Side.LONG) if swept and report_at_50x_each_second else None
            estimator.update(
                liquidations=liqs,
                marks=marks([ts], [px]),
                open_interest=oi(ts, open_interest),
                liquidations_reported=reported,
                coarse=coarse,
            )
        ts += 1000
        estimator.update(marks=marks([ts], [100_000.0]), liquidations_reported=reported, coarse=coarse)
    return estimator


def test_sweeps_that_liquidate_nothing_move_share_to_the_tiers_not_swept() -> None:
    """Bybit reports every liquidation: price trades through the 50x level again and again and none comes, so
    there were few 50x positions. Relative rates alone would keep the prior (no tier was credited with anything)."""
    estimator = sweep_cycles("bybit:BTCUSDT", cycles=6)
    low, high = estimator.leverage_shares
    assert high < 0.2
    assert low > 0.8
    ratios_alone = sweep_cycles("bybit:BTCUSDT", cycles=6, learn_from_silence=False)
    assert ratios_alone.leverage_shares == pytest.approx((0.5, 0.5))


def test_silence_in_coarse_history_with_the_liquidation_history_teaches_as_live_silence_does() -> None:
    """OKX publishes its liquidation history: a day of sweeps that brought none is silence heard at the warm
    start (here on Bybit's terms, which report every liquidation)."""
    estimator = sweep_cycles("bybit:BTCUSDT", cycles=6, coarse=True)
    low, high = estimator.leverage_shares
    assert high < 0.2
    assert low > 0.8


def test_silence_in_history_without_liquidations_teaches_nothing() -> None:
    """REST history carries no liquidations: its sweeps are no evidence of silence."""
    estimator = sweep_cycles("bybit:BTCUSDT", cycles=6, reported=False)
    assert estimator.leverage_shares == pytest.approx((0.5, 0.5))


def test_far_more_liquidated_than_swept_in_history_moves_share_from_the_tiers_price_never_reached() -> None:
    """Price trades through the 50x level, never the 10x one, and in each such second the history holds one
    liquidation worth far more than the estimate swept there: the 50x tier held far more than estimated, which
    only the tier price never reached can have held instead. Where they landed alone cannot say it: every one is
    credited to 50x, the only tier swept, so its rate stays 1. Live, only where they landed teaches (excess
    measured worse there)."""
    big = {"report_at_50x_each_second": True, "report_qty": 250.0}
    estimator = sweep_cycles("binance:BTCUSDT", cycles=6, coarse=True, **big)
    low, high = estimator.leverage_shares
    assert high > 0.8
    assert low < 0.2
    ratios_alone = sweep_cycles("binance:BTCUSDT", cycles=6, coarse=True, learn_from_excess=False, **big)
    assert ratios_alone.leverage_shares == pytest.approx((0.5, 0.5))
    live = sweep_cycles("binance:BTCUSDT", cycles=6, **big)
    assert live.leverage_shares == pytest.approx((0.5, 0.5))


def test_following_the_same_mix_again_changes_nothing() -> None:
    """The hub offers the leader's mix on every background tick: only a new mix may change the picture (and make
    the map redraw). Shares that do not sum to exactly 1 in floating point are the case that matters."""
    rng = np.random.default_rng(1)
    for _ in range(50):
        estimator = Estimator(KEY, CONFIG)
        weights = rng.random(len(CONFIG.leverage))
        mix = tuple((weights / weights.sum()).tolist())
        assert estimator.follow_mix(mix)
        version = estimator.version
        assert not estimator.follow_mix(mix)
        assert estimator.version == version
        assert estimator.leverage_shares == pytest.approx(mix)


def test_binance_one_report_a_second_is_not_silence() -> None:
    """Binance reports at most one liquidation a second: one report in every second that swept 50x mass is all
    that a crowded 50x level can show, so it must not read as silence; on Bybit, which reports all of them, the
    same few reports are far fewer than the sweeps should bring."""
    binance = sweep_cycles("binance:BTCUSDT", cycles=6, report_at_50x_each_second=True)
    bybit = sweep_cycles("bybit:BTCUSDT", cycles=6, report_at_50x_each_second=True)
    assert binance.leverage_shares[1] >= 0.5
    assert bybit.leverage_shares[1] < binance.leverage_shares[1] - 0.2


def test_views_regroup_to_the_columns_and_the_snapshot_has_the_design_shape() -> None:
    estimator = opened_at(84_000.0)
    native = estimator.map_view(10.0)
    small = estimator.map_view(10.0, 37)
    assert len(small.px_low) <= 37 < len(native.px_low)
    assert small.long_usd.sum() == pytest.approx(native.long_usd.sum())
    assert small.px_low[0] == native.px_low[0] and small.px_high[-1] == native.px_high[-1]
    snap = estimator.snapshot_json()
    assert set(snap) == {"instrument", "ts_ms", "mark_px", "open_interest_base", "bins", "clusters", "score"}
    bins = snap["bins"]
    assert set(bins) == {"px_low", "px_high", "long_usd", "short_usd", "realized_long_usd", "realized_short_usd"}
    assert len({len(v) for v in bins.values()}) == 1
    assert bins["px_low"][0] <= 84_000.0 * 0.9 and bins["px_high"][-1] >= 84_000.0 * 1.1
    assert snap["open_interest_base"] == 1100.0
    notionals = [c["notional_usd"] for c in snap["clusters"]]
    assert notionals == sorted(notionals, reverse=True) and notionals
    assert {"checked", "hits", "hit_rate", "uniform_hit_rate", "mass_near"} <= set(snap["score"])


def test_the_version_moves_only_when_the_picture_changes() -> None:
    estimator = opened_at(84_000.0)
    version = estimator.version
    assert not estimator.update()
    assert estimator.version == version
    assert estimator.update(marks=marks([T0 + 6000], [60_000.0]))
    assert estimator.version > version


def test_new_tiers_price_new_positions() -> None:
    config = replace(FIXED, leverage=(5.0,), leverage_weights=(1.0,))
    estimator = Estimator(KEY, config, tuning=EstimatorTuning(band_points=1))
    estimator.update(marks=marks([T0], [84_000.0]), open_interest=oi(T0, 1000.0))
    estimator.tiers = (margin.MarginTier(floor=0.0, cap=math.inf, mmr=0.05, max_leverage=125.0),)
    estimator.update(trades=trades([T0 + 1000], [84_000.0], [1.0], [True]), marks=marks([T0 + 1000], [84_000.0]))
    estimator.update(open_interest=oi(T0 + 2000, 1100.0))
    grid = estimator.grid
    assert grid is not None
    longs = estimator.side_mass(Side.LONG)
    level = 84_000.0 * (1 - 1 / 5) / (1 - 0.05)  # Binance's formula with the new 5 % rate, not the default 0.4 %
    held = grid.mids()[longs > 0]
    assert held.min() >= level / grid.px_of(1.5) * grid.px_of(0.0) and held.max() <= level * grid.px_of(
        1.5
    ) / grid.px_of(0)
