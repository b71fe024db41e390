"""`MapHub`: estimators fed from the store's rings, history before live rows, aggregates, persistence."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from synthetic import T0, liquidation, market_rows, marks, oi, open_longs_at_100k

from liqtui.config import default_config
from liqtui.feeds.engine import History
from liqtui.model import hub as hub_module
from liqtui.model.estimator import liquidation_ratios
from liqtui.model.events import EventBatch
from liqtui.model.hub import MapHub
from liqtui.model.margin import OKX_DEFAULT_TAKER_FEE
from liqtui.model.store import MarketStore
from liqtui.model.types import KLINE_DTYPE, Exchange, Side, reference_of, references_of

CONFIG = default_config().estimator
BTC = "binance:BTCUSDT"


def fill(store: MarketStore, exchange: Exchange, symbol: str, rows: tuple[Any, Any, Any]) -> None:
    """Put synthetic rows into the store as the feeds would: one batch."""
    trades, marks, oi = rows
    batch = EventBatch()
    batch.trades[symbol].extend(
        zip(
            trades["ts_ms"].tolist(),
            trades["px"].tolist(),
            trades["qty_base"].tolist(),
            trades["taker_buy"].tolist(),
            strict=True,
        )
    )
    batch.marks[symbol].extend(zip(marks["ts_ms"].tolist(), marks["px"].tolist(), strict=True))
    batch.open_interest[symbol].extend(zip(oi["ts_ms"].tolist(), oi["oi_base"].tolist(), strict=True))
    store.apply(exchange, batch)


def as_history(rows: tuple[Any, Any, Any]) -> tuple[Any, Any]:
    """One-minute candles of synthetic rows (one trade a second) and their open interest, as REST would give."""
    trades, _, open_interest = rows
    minutes = trades.reshape(-1, 60)
    klines = np.zeros(len(minutes), dtype=KLINE_DTYPE)
    klines["open_ms"] = minutes["ts_ms"][:, 0]
    klines["open"], klines["close"] = minutes["px"][:, 0], minutes["px"][:, -1]
    klines["high"], klines["low"] = minutes["px"].max(axis=1), minutes["px"].min(axis=1)
    klines["volume_base"] = minutes["qty_base"].sum(axis=1)
    klines["taker_buy_base"] = np.where(minutes["taker_buy"], minutes["qty_base"], 0).sum(axis=1)
    return klines, open_interest


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_tick_feeds_each_row_once_and_reports_what_changed() -> None:
    store = MarketStore()
    hub = MapHub(store, CONFIG)
    fill(store, Exchange.BINANCE, "BTCUSDT", market_rows(1, 60))
    assert hub.tick() == {BTC}
    version = hub.version([BTC])
    view = hub.map_view([BTC], 10.0, 80)
    assert view is not None and view.long_usd.sum() > 0 and len(view.px_low) <= 80
    assert hub.tick() == set()  # nothing new in the rings
    assert hub.version([BTC]) == version


def test_live_rows_wait_for_the_history_then_follow_it() -> None:
    store = MarketStore()
    clock = Clock()
    hub = MapHub(store, CONFIG, clock=clock)
    hub.expect_history([BTC])
    history_rows = market_rows(2, 120)
    live_rows = market_rows(3, 30, start_ms=int(history_rows[0]["ts_ms"][-1]) + 1000)
    fill(store, Exchange.BINANCE, "BTCUSDT", live_rows)
    assert hub.tick() == set() and hub.estimator(BTC) is None  # waiting: the history must come first
    klines, oi = as_history(history_rows)
    hub.on_history(History(BTC, klines, oi, ()))
    estimator = hub.estimator(BTC)
    assert estimator is not None and estimator.ts_ms >= int(klines["open_ms"][-1])
    assert hub.tick() == {BTC}
    assert estimator.ts_ms == int(live_rows[0]["ts_ms"][-1])


def test_without_history_the_map_starts_from_live_data_after_a_wait() -> None:
    store = MarketStore()
    clock = Clock()
    hub = MapHub(store, CONFIG, clock=clock)
    hub.expect_history([BTC])
    fill(store, Exchange.BINANCE, "BTCUSDT", market_rows(4, 30))
    assert hub.tick() == set()
    clock.now += hub_module.HISTORY_WAIT_S + 1
    assert hub.tick() == {BTC}


def test_the_aggregate_sums_maps_bin_by_bin_on_the_shared_grid() -> None:
    """Two instruments with the same flow and the same margin tiers: the aggregate is exactly twice one of them.
    (Across exchanges the tiers differ, so equal flow gives slightly different maps.)"""
    store = MarketStore()
    hub = MapHub(store, CONFIG)
    rows = market_rows(5, 60)
    fill(store, Exchange.BINANCE, "BTCUSDT", rows)
    fill(store, Exchange.BINANCE, "BTCUSDC", rows)
    hub.tick()
    single = hub.map_view([BTC], 10.0, None)
    both = hub.map_view([BTC, "binance:BTCUSDC"], 10.0, None)
    assert single is not None and both is not None
    np.testing.assert_allclose(both.long_usd.sum(), 2 * single.long_usd.sum(), rtol=1e-9)
    np.testing.assert_allclose(both.short_usd.sum(), 2 * single.short_usd.sum(), rtol=1e-9)
    np.testing.assert_allclose(both.long_usd, 2 * single.long_usd, rtol=1e-9)
    assert hub.clusters([BTC, "binance:BTCUSDC"], 5)


def test_a_restarted_hub_finds_the_map_as_it_was(tmp_path: Path) -> None:
    store = MarketStore()
    hub = MapHub(store, CONFIG, state_dir=tmp_path)
    fill(store, Exchange.BINANCE, "BTCUSDT", market_rows(6, 60))
    hub.tick()
    assert hub.save() == 1
    before = hub.map_view([BTC], 10.0, 60)

    again = MapHub(MarketStore(), CONFIG, state_dir=tmp_path)
    again.on_history(History(BTC, np.zeros(0, dtype=KLINE_DTYPE), market_rows(6, 1)[2][:0], ()))
    after = again.map_view([BTC], 10.0, 60)
    assert before is not None and after is not None
    np.testing.assert_array_equal(before.long_usd, after.long_usd)
    np.testing.assert_array_equal(before.short_usd, after.short_usd)


def test_the_warm_start_log_counts_what_was_applied_not_what_was_fetched(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """After a restart the same day of history comes again, and the reloaded map already holds it."""
    key = "okx:BTC-USDT-SWAP"
    klines, oi = as_history(market_rows(7, 120))
    reported = np.concatenate([liquidation(int(ts), 99_000.0, 0.1, Side.LONG) for ts in oi["ts_ms"][-3:]])
    history = History(key, klines, oi, (), 0.01, reported, int(oi["ts_ms"][0]))
    caplog.set_level("INFO", logger="liqtui.hub")
    hub = MapHub(MarketStore(), CONFIG, state_dir=tmp_path)
    hub.on_history(history)
    assert f"{klines.size} of {klines.size} candles and {oi.size} of {oi.size} open-interest rows new" in caplog.text
    assert "3 of 3 reported liquidations learned from" in caplog.text
    assert hub.save() == 1

    caplog.clear()
    MapHub(MarketStore(), CONFIG, state_dir=tmp_path).on_history(history)
    assert "state reloaded" in caplog.text
    assert f"0 of {klines.size} candles and 0 of {oi.size} open-interest rows new" in caplog.text
    assert "0 of 3 reported liquidations learned from" in caplog.text

    caplog.clear()
    MapHub(MarketStore(), CONFIG).on_history(replace(history, instrument=BTC, liquidations=None))
    assert "no liquidation history" in caplog.text


@pytest.mark.parametrize("keys", [[], ["okx:NOTHING-USDT-SWAP"]])
def test_no_view_for_instruments_without_data(keys: list[str]) -> None:
    hub = MapHub(MarketStore(), CONFIG)
    assert hub.map_view(keys, 10.0, 50) is None
    assert hub.clusters(keys, 5) == []


def test_instruments_off_screen_are_fed_less_often_and_lose_nothing() -> None:
    store = MarketStore()
    hub = MapHub(store, CONFIG)
    eth = "binance:ETHUSDT"
    fill(store, Exchange.BINANCE, "BTCUSDT", market_rows(7, 30))
    fill(store, Exchange.BINANCE, "ETHUSDT", market_rows(8, 30, px=3_200.0))
    changed = [hub.tick(visible=[BTC]) for _ in range(hub_module.BACKGROUND_EVERY)]
    assert [eth in c for c in changed].count(True) == 1  # once in BACKGROUND_EVERY ticks
    assert all(BTC in c for c in changed[:1])
    reference = MapHub(MarketStore(), CONFIG)
    fill(reference.store, Exchange.BINANCE, "ETHUSDT", market_rows(8, 30, px=3_200.0))
    reference.tick()
    ours, theirs = hub.map_view([eth], 10.0, None), reference.map_view([eth], 10.0, None)
    assert ours is not None and theirs is not None
    np.testing.assert_array_equal(ours.long_usd, theirs.long_usd)


def teach_that_every_position_is(
    hub: MapHub, key: str, leverage: float = 50.0, *, per_crossing: int = 30, start_ms: int = T0
) -> None:
    """Feed one instrument's estimator (straight, not through the store) cycles in which positions open at 100k
    and price falls through every tier's level, with `per_crossing` liquidations at the `leverage` level only, as
    the instrument's exchange reports them (Bybit and OKX at the bankruptcy price)."""
    estimator = hub.estimator(key)
    assert estimator is not None
    ratio = liquidation_ratios(
        estimator.exchange,
        np.array([leverage]),
        estimator.tiers,
        position_usd=1e4,
        ref_px=1e5,
        contract_size_base=1.0,
    )[0, 0]
    reported_px = 100_000.0 * ratio
    if estimator.exchange == "okx":
        reported_px /= 1.0 + estimator.tiers[0].mmr + OKX_DEFAULT_TAKER_FEE
    ts, open_interest = start_ms, 1000.0
    estimator.update(marks=marks([ts], [100_000.0]), open_interest=oi(ts, open_interest))
    for _ in range(6):
        ts, open_interest = open_longs_at_100k(estimator, ts, open_interest)
        for px in 100_000.0 * np.exp(-np.arange(1, 130) * 0.001):
            ts += 1000
            crossing = px <= 100_000.0 * ratio < px * np.exp(0.001)
            level = np.concatenate([liquidation(ts - 1, reported_px, 1.0, Side.LONG)] * per_crossing)
            estimator.update(liquidations=level if crossing else None, marks=marks([ts], [px]))
        ts += 1000
        estimator.update(marks=marks([ts], [100_000.0]))


def test_instruments_that_learned_nothing_follow_the_mix_learned_on_their_asset() -> None:
    """OKX's BTC learned that every position is 50x: Binance's BTC, which has no liquidations of its own yet,
    shows the same mix; ETH, another asset, keeps the prior. Once Binance's BTC learns on its own, it goes its
    own way."""
    config = replace(CONFIG, leverage=(10.0, 25.0, 50.0), leverage_weights=(1.0, 1.0, 1.0))
    store = MarketStore()
    hub = MapHub(store, config)
    okx, binance, eth = "okx:BTC-USDT-SWAP", BTC, "binance:ETHUSDT"
    hub.on_history(History(okx, np.zeros(0, dtype=KLINE_DTYPE), market_rows(1, 1)[2][:0], ()))
    fill(store, Exchange.BINANCE, "BTCUSDT", market_rows(2, 30))
    fill(store, Exchange.BINANCE, "ETHUSDT", market_rows(3, 30))
    teach_that_every_position_is(hub, okx)
    leader = hub.estimator(okx)
    assert leader is not None and leader.leverage_shares[2] > 0.8
    assert hub.tick() == {binance, eth}  # their first rows, and the mix shared
    follower, other = hub.estimator(binance), hub.estimator(eth)
    assert follower is not None and other is not None
    assert follower.mix_steps == 0
    assert follower.leverage_shares == pytest.approx(leader.leverage_shares)
    assert other.leverage_shares == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    teach_that_every_position_is(hub, binance, start_ms=follower.ts_ms + 60_000)
    own = follower.leverage_shares
    assert follower.mix_steps > 0
    leader.follow_mix((0.8, 0.1, 0.1))  # a leader has its own evidence: it follows no one
    for _ in range(hub_module.BACKGROUND_EVERY):
        hub.tick()
    assert follower.leverage_shares == own
    assert leader.leverage_shares[2] > 0.8


def test_an_instrument_with_far_less_evidence_than_its_leader_follows_it_until_it_has_half() -> None:
    """OKX's BTC learned from many liquidations that every position is 50x; Binance's BTC learned from a few of
    its own (and the silence of its sweeps) that they are 10x. A little evidence teaches less than much: while
    Binance's is under `FOLLOW_EVIDENCE_SHARE` of OKX's, it shows OKX's mix; with more, its own."""
    config = replace(CONFIG, leverage=(10.0, 25.0, 50.0), leverage_weights=(1.0, 1.0, 1.0))
    store = MarketStore()
    hub = MapHub(store, config)
    okx, binance = "okx:BTC-USDT-SWAP", BTC
    hub.on_history(History(okx, np.zeros(0, dtype=KLINE_DTYPE), market_rows(1, 1)[2][:0], ()))
    fill(store, Exchange.BINANCE, "BTCUSDT", market_rows(2, 30))
    hub.tick()
    leader, follower = hub.estimator(okx), hub.estimator(binance)
    assert leader is not None and follower is not None
    teach_that_every_position_is(hub, okx, 50.0)
    teach_that_every_position_is(hub, okx, 50.0, start_ms=leader.ts_ms + 60_000)
    teach_that_every_position_is(hub, binance, 10.0, per_crossing=5, start_ms=follower.ts_ms + 60_000)
    assert follower.mix_steps > 0 and follower.leverage_shares[0] > 0.5  # it learned 10x from its own few
    assert 0.0 < follower.evidence < hub_module.FOLLOW_EVIDENCE_SHARE * leader.evidence
    for _ in range(hub_module.BACKGROUND_EVERY):
        hub.tick()
    assert follower.leverage_shares == pytest.approx(leader.leverage_shares)
    assert leader.leverage_shares[2] > 0.8
    teach_that_every_position_is(hub, binance, 10.0, start_ms=follower.ts_ms + 60_000)
    assert follower.evidence >= hub_module.FOLLOW_EVIDENCE_SHARE * leader.evidence
    own = follower.leverage_shares
    assert own[0] > 0.5
    for _ in range(hub_module.BACKGROUND_EVERY):
        hub.tick()
    assert follower.leverage_shares == own
    assert leader.leverage_shares[2] > 0.8


def test_the_leader_is_the_instrument_with_most_evidence_among_those_that_learned_a_mix() -> None:
    """Bybit's BTC has heard a few liquidations, too few to learn from yet; OKX's learned its mix long ago and its
    evidence has faded below Bybit's. The leader is OKX's all the same: evidence that taught nothing yet leads
    nowhere, and Binance's BTC and Bybit's follow the one mix that was learned."""
    config = replace(CONFIG, leverage=(10.0, 25.0, 50.0), leverage_weights=(1.0, 1.0, 1.0))
    store = MarketStore()
    hub = MapHub(store, config)
    okx, bybit = "okx:BTC-USDT-SWAP", "bybit:BTCUSDT"
    for key in (okx, bybit):
        hub.on_history(History(key, np.zeros(0, dtype=KLINE_DTYPE), market_rows(1, 1)[2][:0], ()))
    fill(store, Exchange.BINANCE, "BTCUSDT", market_rows(2, 30))
    hub.tick()
    leader, listener, follower = hub.estimator(okx), hub.estimator(bybit), hub.estimator(BTC)
    assert leader is not None and listener is not None and follower is not None
    teach_that_every_position_is(hub, okx, 50.0)
    leader.update(marks=marks([leader.ts_ms + 10 * 86_400_000], [100_000.0]))  # ten days: its evidence fades
    # Bybit: longs open at 100k, then ten liquidations at its 50x level (reported at the bankruptcy price) with
    # no sweep: evidence, but fewer than `learn_min_events`.
    listener.update(marks=marks([T0], [100_000.0]), open_interest=oi(T0, 1000.0))
    open_longs_at_100k(listener, T0, 1000.0)
    ratio = liquidation_ratios(
        "bybit", np.array([50.0]), listener.tiers, position_usd=1e4, ref_px=1e5, contract_size_base=1.0
    )[0, 0]
    heard = liquidation(listener.ts_ms, 100_000.0 * ratio / (1.0 + listener.tiers[0].mmr), 1.0, Side.LONG)
    listener.update(liquidations=np.concatenate([heard] * 10))
    assert listener.mix_steps == 0 and listener.evidence > leader.evidence > 0.0
    assert follower.mix_steps == 0
    estimators = {okx: leader, bybit: listener, BTC: follower}
    assert hub_module.share_mixes(estimators) == {bybit, BTC}
    assert follower.leverage_shares == pytest.approx(leader.leverage_shares)
    assert listener.leverage_shares == pytest.approx(leader.leverage_shares)
    assert leader.leverage_shares[2] > 0.8


def test_the_references_a_watchlist_needs_are_okx_swaps_of_its_other_venues_assets_it_lacks() -> None:
    """OKX publishes its liquidation history, so it teaches the other venues: the references are the OKX swaps of
    the Binance and Bybit instruments' assets that the watchlist does not hold already, each once, in order."""
    watchlist = ("binance:BTCUSDT", "bybit:BTCUSDT", "okx:ETH-USDT-SWAP", "bybit:ETHUSDT", "binance:SOLUSDT")
    assert references_of(watchlist) == ["okx:BTC-USDT-SWAP", "okx:SOL-USDT-SWAP"]
    assert references_of(["okx:BTC-USDT-SWAP"]) == []
    assert reference_of("bybit:DOGEUSDT") == "okx:DOGE-USDT-SWAP"
