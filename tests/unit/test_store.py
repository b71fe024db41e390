"""MarketStore with hand-built batches: rings, last values, counters that never wrap, versions, the `only`
filter, frame counts and notices."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqtui.feeds.base import FrameKind
from liqtui.model.events import EventBatch, Notice
from liqtui.model.store import FeedState, MarketStore
from liqtui.model.types import Exchange, Side


def _small_store() -> MarketStore:
    return MarketStore(trade_capacity=4, liquidation_capacity=3, mark_capacity=2, open_interest_capacity=2)


def test_trades_go_to_the_ring_and_the_totals_by_taker_side() -> None:
    store = _small_store()
    batch = EventBatch()
    batch.trades["BTCUSDT"] += [(1000, 100.0, 1.5, True), (1001, 101.0, 0.5, False), (1002, 99.0, 2.0, True)]
    batch.trades["ETHUSDT"] += [(1003, 10.0, 7.0, False)]
    changed = store.apply(Exchange.BINANCE, batch)
    assert changed == {"binance:BTCUSDT", "binance:ETHUSDT"}
    btc = store.get("binance:BTCUSDT")
    assert btc is not None
    assert btc.trades.view()["px"].tolist() == [100.0, 101.0, 99.0]
    assert (btc.trade_count, btc.buy_qty_base, btc.sell_qty_base) == (3, 3.5, 0.5)
    assert btc.last_trade_px == 99.0
    assert btc.last_event_ms == 1002
    assert btc.version == 1
    eth = store.get("binance:ETHUSDT")
    assert eth is not None
    assert (eth.trade_count, eth.buy_qty_base, eth.sell_qty_base) == (1, 0.0, 7.0)
    assert store.instruments() == ["binance:BTCUSDT", "binance:ETHUSDT"]
    assert store.get("bybit:BTCUSDT") is None


def test_counters_keep_counting_after_the_ring_wraps() -> None:
    store = _small_store()
    for start in range(0, 30, 3):
        batch = EventBatch()
        batch.trades["BTCUSDT"] += [(start + i, 100.0 + start + i, 1.0, (start + i) % 2 == 0) for i in range(3)]
        store.apply(Exchange.BYBIT, batch)
    data = store.get("bybit:BTCUSDT")
    assert data is not None
    assert len(data.trades) == 4
    assert data.trades.view()["ts_ms"].tolist() == [26, 27, 28, 29]
    assert data.trades.written == 30
    assert (data.trade_count, data.buy_qty_base, data.sell_qty_base) == (30, 15.0, 15.0)
    assert data.version == 10


def test_liquidations_by_position_side_with_notional_and_out_of_order_times() -> None:
    store = _small_store()
    batch = EventBatch()
    batch.liquidations["BTC-USDT-SWAP"] += [
        (5000, 80_000.0, 0.5, int(Side.LONG)),
        (3000, 81_000.0, 0.25, int(Side.SHORT)),
        (4000, 79_000.0, 2.0, int(Side.LONG)),
    ]
    store.apply(Exchange.OKX, batch)
    data = store.get("okx:BTC-USDT-SWAP")
    assert data is not None
    long_totals, short_totals = data.liquidated[Side.LONG], data.liquidated[Side.SHORT]
    assert (long_totals.count, long_totals.qty_base) == (2, 2.5)
    assert long_totals.notional_usd == pytest.approx(80_000.0 * 0.5 + 79_000.0 * 2.0)
    assert (short_totals.count, short_totals.qty_base, short_totals.notional_usd) == (1, 0.25, 20_250.0)
    # Stored in arrival order; the newest exchange time is the largest, not the last row's.
    assert data.liquidations.view()["ts_ms"].tolist() == [5000, 3000, 4000]
    assert data.last_event_ms == 5000
    assert data.trade_count == 0
    assert data.mark_px is None


def test_mark_open_interest_and_funding_keep_the_last_received() -> None:
    store = _small_store()
    batch = EventBatch()
    batch.marks["BTCUSDT"] += [(10, 100.0), (30, 103.0), (20, 101.0)]
    batch.open_interest["BTCUSDT"] += [(11, 5000.0), (12, 5100.0)]
    batch.funding_rate["BTCUSDT"] = 0.0001
    store.apply(Exchange.BINANCE, batch)
    data = store.get("binance:BTCUSDT")
    assert data is not None
    assert (data.mark_px, data.mark_ts_ms) == (101.0, 20)
    assert (data.oi_base, data.oi_ts_ms) == (5100.0, 12)
    assert data.funding_rate == 0.0001
    assert data.marks.view()["px"].tolist() == [103.0, 101.0]
    assert data.last_event_ms == 20


def test_version_moves_only_for_instruments_in_the_batch() -> None:
    store = _small_store()
    first = EventBatch()
    first.marks["A"].append((1, 1.0))
    first.marks["B"].append((1, 2.0))
    store.apply(Exchange.BYBIT, first)
    second = EventBatch()
    second.funding_rate["B"] = -0.0002
    assert store.apply(Exchange.BYBIT, second) == {"bybit:B"}
    a, b = store.get("bybit:A"), store.get("bybit:B")
    assert a is not None and b is not None
    assert (a.version, b.version) == (1, 2)
    assert b.last_event_ms == 1
    assert store.apply(Exchange.BYBIT, EventBatch()) == set()
    assert b.version == 2


def test_only_keeps_the_watched_symbols() -> None:
    store = _small_store()
    batch = EventBatch()
    batch.trades["BTCUSDT"].append((1, 100.0, 1.0, True))
    batch.trades["DOGEUSDT"].append((1, 0.1, 1000.0, False))
    batch.liquidations["DOGEUSDT"].append((1, 0.1, 10.0, int(Side.SHORT)))
    batch.funding_rate["DOGEUSDT"] = 0.0003
    assert store.apply(Exchange.BINANCE, batch, only={"BTCUSDT"}) == {"binance:BTCUSDT"}
    assert store.instruments() == ["binance:BTCUSDT"]
    assert store.apply(Exchange.BINANCE, batch, only=set()) == set()


def test_the_same_symbol_on_two_exchanges_is_two_instruments() -> None:
    store = _small_store()
    batch = EventBatch()
    batch.marks["BTCUSDT"].append((1, 100.0))
    store.apply(Exchange.BINANCE, batch)
    batch.clear()
    batch.marks["BTCUSDT"].append((2, 200.0))
    store.apply(Exchange.BYBIT, batch)
    binance, bybit = store.get("binance:BTCUSDT"), store.get("bybit:BTCUSDT")
    assert binance is not None and bybit is not None
    assert (binance.mark_px, bybit.mark_px) == (100.0, 200.0)


def test_frame_counts_and_notices_land_in_the_feed_status() -> None:
    store = _small_store()
    status = store.status(Exchange.OKX)
    assert status.state is FeedState.CONNECTING
    assert status.last_frame_monotonic is None
    for kind in (FrameKind.DATA, FrameKind.DATA, FrameKind.BAD, FrameKind.SKIPPED, FrameKind.PONG):
        store.count_frame(Exchange.OKX, kind)
    store.count_frame(Exchange.OKX, FrameKind.UNRESOLVED, 3)
    assert (status.frames, status.bad_frames, status.skipped_frames, status.unresolved_frames) == (8, 1, 1, 3)
    assert status.last_frame_monotonic is not None
    assert status.last_data_monotonic is not None
    assert status.last_data_monotonic <= status.last_frame_monotonic
    assert store.status(Exchange.BINANCE).frames == 0

    batch = EventBatch()
    batch.notices.append(Notice("rejected", "Invalid instId NOPE-USDT-SWAP", "NOPE-USDT-SWAP"))
    batch.notices.append(Notice("disconnect_soon", "The connection will soon be closed"))
    assert store.apply(Exchange.OKX, batch) == set()
    assert status.rejected == {"NOPE-USDT-SWAP": "Invalid instId NOPE-USDT-SWAP"}
    assert status.last_notice == "The connection will soon be closed"


_trade = st.tuples(
    st.integers(min_value=0, max_value=2**41),
    st.floats(min_value=0.01, max_value=1e6),
    st.floats(min_value=0.0, max_value=1e4),
    st.booleans(),
)
_liquidation = st.tuples(
    st.integers(min_value=0, max_value=2**41),
    st.floats(min_value=0.01, max_value=1e6),
    st.floats(min_value=0.0, max_value=1e4),
    st.sampled_from([int(Side.LONG), int(Side.SHORT)]),
)


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(
        st.tuples(st.lists(_trade, max_size=12), st.lists(_liquidation, max_size=4)), min_size=1, max_size=8
    )
)
def test_totals_equal_plain_sums_whatever_the_batching(
    batches: list[tuple[list[tuple[int, float, float, bool]], list[tuple[int, float, float, int]]]],
) -> None:
    store = _small_store()
    all_trades = [row for trades, _ in batches for row in trades]
    all_liquidations = [row for _, liquidations in batches for row in liquidations]
    batch = EventBatch()
    for trades, liquidations in batches:
        batch.clear()
        batch.trades["X"] += trades
        batch.liquidations["X"] += liquidations
        store.apply(Exchange.BYBIT, batch)
    data = store.get("bybit:X")
    if not all_trades and not all_liquidations:
        assert data is None
        return
    assert data is not None
    assert data.trade_count == len(all_trades)
    assert math.isclose(data.buy_qty_base, sum(r[2] for r in all_trades if r[3]), rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(data.sell_qty_base, sum(r[2] for r in all_trades if not r[3]), rel_tol=1e-9, abs_tol=1e-9)
    for side in (Side.LONG, Side.SHORT):
        rows = [r for r in all_liquidations if r[3] == side]
        totals = data.liquidated[side]
        assert totals.count == len(rows)
        assert math.isclose(totals.qty_base, sum(r[2] for r in rows), rel_tol=1e-9, abs_tol=1e-9)
        assert math.isclose(totals.notional_usd, sum(r[1] * r[2] for r in rows), rel_tol=1e-9, abs_tol=1e-6)
    assert len(data.trades) == min(len(all_trades), data.trades.capacity)
    assert data.trades.written == len(all_trades)
    # Trades are taken as time-ordered (the last row is the newest); liquidations are not (their maximum).
    newest = [trades[-1][0] for trades, _ in batches if trades]
    newest += [max(r[0] for r in liquidations) for _, liquidations in batches if liquidations]
    assert data.last_event_ms == max(newest)


@settings(max_examples=80, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=6),
    steps=st.lists(st.tuples(st.lists(_trade, max_size=9), st.booleans()), min_size=1, max_size=12),
)
def test_trade_totals_read_between_batches_equal_the_sums_so_far(
    capacity: int, steps: list[tuple[list[tuple[int, float, float, bool]], bool]]
) -> None:
    # The totals are summed from the ring when read: whether read after every batch, now and then or only at
    # the end, and however often the ring wrapped in between, they are the sums of every trade so far.
    store = MarketStore(trade_capacity=capacity)
    batch = EventBatch()
    so_far: list[tuple[int, float, float, bool]] = []
    for trades, read_now in steps:
        batch.clear()
        batch.trades["X"] += trades
        store.apply(Exchange.OKX, batch)
        so_far += trades
        data = store.get("okx:X")
        if data is None:
            assert not so_far
            continue
        if read_now:
            assert data.trade_count == len(so_far)
            assert math.isclose(data.buy_qty_base, sum(r[2] for r in so_far if r[3]), rel_tol=1e-9, abs_tol=1e-9)
            assert math.isclose(data.sell_qty_base, sum(r[2] for r in so_far if not r[3]), rel_tol=1e-9, abs_tol=1e-9)
            assert type(data.buy_qty_base) is float and type(data.sell_qty_base) is float
    data = store.get("okx:X")
    if so_far:
        assert data is not None
        assert math.isclose(
            data.buy_qty_base + data.sell_qty_base, sum(r[2] for r in so_far), rel_tol=1e-9, abs_tol=1e-9
        )
        assert data.trades.view().tolist() == so_far[-capacity:]
