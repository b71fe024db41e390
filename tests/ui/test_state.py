"""The selection logic behind the keys, and the panes' text, without a screen."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqtui.config import Config
from liqtui.model.events import EventBatch
from liqtui.model.store import FeedState, FeedStatus, MarketStore
from liqtui.model.types import Exchange, Side, asset_of
from liqtui.model.views import Cluster, Score
from liqtui.ui.panes.clusters import cluster_text, relative_bar
from liqtui.ui.panes.status import RateMeter, combined_score, feed_words
from liqtui.ui.panes.tape import LARGE_FACTOR, recent_liquidations, tape_text
from liqtui.ui.panes.watchlist import WatchEntry, watchlist_text
from liqtui.ui.state import Selection, find_matches

WATCHLIST = Config().watchlist


@pytest.mark.parametrize(
    ("key", "asset"),
    [
        ("binance:BTCUSDT", "BTC"),
        ("bybit:1000PEPEUSDT", "1000PEPE"),
        ("okx:ETH-USDT-SWAP", "ETH"),
        ("binance:BTCUSDC", "BTC"),
        ("bybit:USDT", "USDT"),
    ],
)
def test_asset_of(key: str, asset: str) -> None:
    assert asset_of(key) == asset


def test_find_matches_every_word_in_any_case() -> None:
    assert [WATCHLIST[i] for i in find_matches(WATCHLIST, "ETH")] == [
        "binance:ETHUSDT",
        "bybit:ETHUSDT",
        "okx:ETH-USDT-SWAP",
    ]
    assert [WATCHLIST[i] for i in find_matches(WATCHLIST, "okx sol")] == ["okx:SOL-USDT-SWAP"]
    assert find_matches(WATCHLIST, "") == list(range(len(WATCHLIST)))
    assert find_matches(WATCHLIST, "doge") == []


def test_cycle_exchange_skips_assets_watched_once() -> None:
    selection = Selection.start(("binance:BTCUSDT", "bybit:ETHUSDT"), 12.0)
    assert selection.cycle_exchange() == selection


def test_cycle_exchange_follows_exchange_order_not_list_order() -> None:
    watchlist = ("okx:BTC-USDT-SWAP", "binance:BTCUSDT", "bybit:BTCUSDT")
    selection = Selection.start(watchlist, 12.0)
    order = []
    for _ in range(4):
        selection = selection.cycle_exchange()
        order.append(selection.title)
    assert order == ["BTC all exchanges", "binance:BTCUSDT", "bybit:BTCUSDT", "okx:BTC-USDT-SWAP"]


@given(st.integers(min_value=0, max_value=8), st.lists(st.sampled_from(["e", "]", "[", "+", "-"]), max_size=30))
def test_selection_stays_valid_under_any_keys(start: int, keys: list[str]) -> None:
    selection = Selection.start(WATCHLIST, 12.0).select(start)
    for key in keys:
        selection = {
            "e": selection.cycle_exchange,
            "]": lambda s=selection: s.step(1),
            "[": lambda s=selection: s.step(-1),
            "+": selection.zoom_in,
            "-": selection.zoom_out,
        }[key]()
        assert 0 <= selection.index < len(WATCHLIST)
        assert selection.range_pct in selection.zoom_levels()
        assert len({asset_of(k) for k in selection.keys}) == 1
        assert selection.key in selection.keys


@given(st.integers(min_value=0, max_value=8))
def test_e_comes_back_after_every_exchange_and_the_aggregate(start: int) -> None:
    selection = Selection.start(WATCHLIST, 12.0).select(start)
    first = selection.siblings()[0]
    cycled = selection
    for _ in range(4):
        cycled = cycled.cycle_exchange()
    assert cycled.index == selection.index or selection.index != first
    assert cycled.select(first).keys == (WATCHLIST[first],)


def test_zoom_stops_at_the_ends() -> None:
    selection = Selection.start(WATCHLIST, 12.0)
    for _ in range(10):
        selection = selection.zoom_in()
    assert selection.range_pct == 1.0
    for _ in range(10):
        selection = selection.zoom_out()
    assert selection.range_pct == 12.0


# -- pane text ------------------------------------------------------------------------------------------------------


def _store_with_liquidations(n: int) -> MarketStore:
    store = MarketStore(liquidation_capacity=16)
    batch = EventBatch()
    for i in range(n):
        qty = 100.0 if i == n - 1 else 1.0
        batch.liquidations["BTCUSDT"].append((1_000 + i, 50_000.0, qty, int(Side.LONG if i % 2 else Side.SHORT)))
    store.apply(Exchange.BINANCE, batch)
    return store


def test_tape_is_newest_first_bounded_and_marks_large_ones() -> None:
    store = _store_with_liquidations(40)
    data = store.get("binance:BTCUSDT")
    assert data is not None
    rows = recent_liquidations([data], 10)
    assert len(rows) == 10
    assert [row.ts_ms for row in rows] == sorted((row.ts_ms for row in rows), reverse=True)
    assert rows[0].ts_ms == 1_039 and rows[0].large
    assert rows[0].notional_usd >= LARGE_FACTOR * float(np.median([r.notional_usd for r in rows]))
    assert not any(row.large for row in rows[1:])
    text = tape_text(rows, 60, 5).plain.splitlines()
    assert len(text) == 5
    assert text[1].startswith("! ") and " LONG " in text[1]


def test_a_short_tape_calls_nothing_large() -> None:
    store = _store_with_liquidations(3)
    data = store.get("binance:BTCUSDT")
    assert data is not None
    assert not any(row.large for row in recent_liquidations([data], 10))


def test_cluster_rows_fit_the_width_and_name_the_side() -> None:
    clusters = [
        Cluster(Side.SHORT, 86_000.0, 86_200.0, 86_100.0, 41.2e6, 1.9, 0.3),
        Cluster(Side.LONG, 83_000.0, 83_100.0, 83_050.0, 10.0e6, -1.8, 0.1),
    ]
    for width in (40, 62, 120):
        lines = cluster_text(clusters, 0, width, 10).plain.splitlines()
        assert all(len(line) <= width for line in lines)
        assert lines[1].startswith("SHORT 86,000-86,200 +1.9%") and lines[2].startswith("LONG ")
    assert cluster_text(clusters, 0, 80, 2).plain.count("\n") == 1


def test_relative_bar() -> None:
    assert relative_bar(1.0, 8) == "█" * 8
    assert relative_bar(0.5, 8) == "█" * 4
    assert relative_bar(0.01, 8) == "▏"
    assert relative_bar(0.0, 8) == ""
    assert relative_bar(0.5, 8, ascii_only=True) == "####"


def test_watchlist_scrolls_around_the_selection_when_narrow() -> None:
    entries = [
        WatchEntry(i + 1, key, asset_of(key), key.partition(":")[0], 100.0 + i) for i, key in enumerate(WATCHLIST)
    ]
    wide = watchlist_text(entries, frozenset({1}), 200, 1).plain
    assert "[1 BTC bin 100.00]" in wide and "9 SOL okx 108.00" in wide
    narrow = watchlist_text(entries, frozenset({9}), 60, 1).plain
    assert narrow.startswith("< ") and "[9 SOL okx 108.00]" in narrow and len(narrow) <= 60
    assert "\n" not in narrow


def test_feed_words_keep_network_text_as_written() -> None:
    status = FeedStatus(Exchange.OKX, state=FeedState.LIVE)
    status.rejected["SOL-USDT-SWAP"] = "[red]nope[/red]"
    assert (
        feed_words(status, ["BTC-USDT-SWAP", "SOL-USDT-SWAP"], 0.0) == "live; SOL-USDT-SWAP rejected: [red]nope[/red]"
    )
    status.state = FeedState.RECONNECTING
    status.retry_at_monotonic = 10.0
    status.last_error = "refused"
    assert feed_words(status, [], 7.5) == "reconnecting in 3s: refused"


def test_rate_meter_and_combined_score() -> None:
    meter = RateMeter(window_s=2.0)
    meter.update({"binance": 100}, 0.0)
    assert meter.rate("binance") is None
    meter.update({"binance": 300}, 2.0)
    assert meter.rate("binance") == pytest.approx(100.0)
    meter.update({"binance": 300}, 3.0)
    assert meter.rate("binance") == pytest.approx(50.0)
    one = Score(checked=10, hits=5, uniform_hit_rate=0.1, mass_near=0.2)
    two = Score(checked=30, hits=3, uniform_hit_rate=0.3, mass_near=0.0)
    both = combined_score([one, two])
    assert both is not None
    assert (both.checked, both.hits) == (40, 8)
    assert both.uniform_hit_rate == pytest.approx(0.25)
    assert combined_score([]) is None
