"""Every key of the main screen through the real app (Pilot): what is selected, and what the screen says."""

from __future__ import annotations

import dataclasses

import pytest
from screen import visible
from textual.widget import Widget

from liqtui.config import Config
from liqtui.model.store import FeedState
from liqtui.model.types import Exchange
from liqtui.ui.app import build_app
from liqtui.ui.panes.clusters import ClusterList
from liqtui.ui.panes.liq_map import LiqMap
from liqtui.ui.panes.status import StatusLine
from liqtui.ui.panes.tape import LiquidationTape
from liqtui.ui.panes.watchlist import Watchlist
from liqtui.ui.screens.find import FindScreen
from liqtui.ui.screens.help import HelpScreen

from .conftest import NOW_S, WATCHLIST, AppFactory, FixedHub, fill_store

SIZE = (100, 30)


@pytest.mark.parametrize(("key", "index"), [("1", 0), ("2", 1), ("5", 4), ("9", 8)])
async def test_number_keys_select_the_watchlist_entry(make_app: AppFactory, key: str, index: int) -> None:
    app, _, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_panes()
        await pilot.press(key)
        await pilot.pause()
        assert app.selection.key == WATCHLIST[index]
        assert app.selection.keys == (WATCHLIST[index],)
        assert visible(app.query_one(StatusLine)).startswith(WATCHLIST[index])
        assert f"[{index + 1} " in visible(app.query_one(Watchlist))


async def test_a_number_past_the_watchlist_changes_nothing(make_app: AppFactory) -> None:
    config = dataclasses.replace(Config(), watchlist=("binance:BTCUSDT", "bybit:ETHUSDT"))
    app, _, _ = make_app(config)
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_panes()
        await pilot.press("2", "7")
        assert app.selection.key == "bybit:ETHUSDT"


async def test_brackets_step_through_the_watchlist_and_wrap(make_app: AppFactory) -> None:
    app, _, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_panes()
        await pilot.press("right_square_bracket")
        assert app.selection.key == WATCHLIST[1]
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert app.selection.key == WATCHLIST[-1]
        await pilot.pause()
        assert visible(app.query_one(StatusLine)).startswith(WATCHLIST[-1])


async def test_switching_reads_other_data_and_opens_no_connection(make_app: AppFactory) -> None:
    """The tape and clusters follow the selection at once; the feeds are not touched."""

    class CountingEngine:
        def __init__(self) -> None:
            self.starts = 0
            self.stops = 0

        async def start(self) -> None:
            self.starts += 1

        async def stop(self) -> None:
            self.stops += 1

    engine = CountingEngine()
    app, _, hub = make_app()
    app.engine = engine
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_panes()
        tape = app.query_one(LiquidationTape)
        assert {row.exchange for row in tape.rows} == {"binance"}
        await pilot.press("4")
        await pilot.pause()
        assert {row.exchange for row in tape.rows} == {"bybit"}
        assert hub.views[-1][0] == ("bybit:BTCUSDT",)
        assert app.query_one(ClusterList).clusters[0].px_peak > 80_000
        await pilot.press("8")
        await pilot.pause()
        assert app.query_one(ClusterList).clusters[0].px_peak < 4_000
        assert (engine.starts, engine.stops) == (1, 0)
        await pilot.press("q")
    assert (engine.starts, engine.stops) == (1, 1)


async def test_slash_finds_by_name_and_enter_shows_it(make_app: AppFactory) -> None:
    app, _, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_panes()
        await pilot.press("slash")
        assert isinstance(app.screen, FindScreen)
        await pilot.press(*"bybit sol")
        await pilot.pause()
        assert [WATCHLIST[i] for i in app.screen.matches] == ["bybit:SOLUSDT"]
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, FindScreen)
        assert app.selection.key == "bybit:SOLUSDT"
        assert visible(app.query_one(StatusLine)).startswith("bybit:SOLUSDT")


async def test_finder_moves_with_arrows_and_closes_with_ctrl_g(make_app: AppFactory) -> None:
    app, _, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_panes()
        await pilot.press("slash", *"eth", "down", "down", "enter")
        await pilot.pause()
        assert app.selection.key == "okx:ETH-USDT-SWAP"
        await pilot.press("slash", *"btc", "ctrl+g")
        await pilot.pause()
        assert not isinstance(app.screen, FindScreen)
        assert app.selection.key == "okx:ETH-USDT-SWAP"
        # Nothing matches: Enter keeps the finder open and changes nothing.
        await pilot.press("slash", *"doge", "enter")
        await pilot.pause()
        assert isinstance(app.screen, FindScreen)
        await pilot.press("ctrl+g")
        assert app.selection.key == "okx:ETH-USDT-SWAP"


async def test_plus_and_minus_zoom_the_price_range(make_app: AppFactory) -> None:
    app, _, hub = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_panes()
        assert app.selection.range_pct == 5.0
        await pilot.press("plus")
        await pilot.pause()
        assert app.selection.range_pct == 3.0
        assert hub.views[-1][1] == 3.0
        assert "±3%" in visible(app.query_one(StatusLine))
        await pilot.press("minus", "minus", "minus", "minus")
        await pilot.pause()
        # The estimator keeps ±12% by default: zooming out stops there.
        assert app.selection.range_pct == 12.0
        assert "±12%" in visible(app.query_one(StatusLine))
        await pilot.press("equals_sign")
        assert app.selection.range_pct == 8.0


async def test_e_cycles_the_exchanges_then_the_aggregate(make_app: AppFactory) -> None:
    app, _, hub = make_app()
    async with app.run_test(size=(200, 40)) as pilot:
        app.refresh_panes()
        seen = []
        for _ in range(4):
            await pilot.press("e")
            await pilot.pause()
            seen.append(app.selection.keys)
        assert seen == [
            ("bybit:BTCUSDT",),
            ("okx:BTC-USDT-SWAP",),
            ("binance:BTCUSDT", "bybit:BTCUSDT", "okx:BTC-USDT-SWAP"),
            ("binance:BTCUSDT",),
        ]
        await pilot.press("e", "e", "e")
        await pilot.pause()
        status = visible(app.query_one(StatusLine))
        assert status.startswith("BTC all exchanges")
        tabs = visible(app.query_one(Watchlist))
        assert "[1 BTC bin" in tabs and "[4 BTC byb" in tabs and "[7 BTC okx" in tabs
        assert hub.views[-1][0] == ("binance:BTCUSDT", "bybit:BTCUSDT", "okx:BTC-USDT-SWAP")
        assert {row.exchange for row in app.query_one(LiquidationTape).rows} == {"binance", "bybit", "okx"}


async def test_question_mark_shows_help_and_pauses_the_refresh(make_app: AppFactory) -> None:
    _, store, _ = make_app()
    hub = FixedHub()
    app = build_app(Config(), store=store, hub=hub, clock=lambda: NOW_S, live=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.6)
        assert hub.ticks >= 2
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        help_text = visible(app.screen.query_one("#help-text", Widget))
        assert "What the map cannot know" in help_text
        for key in ("1 .. 9", "[  ]", "+  -", "ctrl+q"):
            assert key in help_text
        ticks = hub.ticks
        await pilot.pause(0.8)
        assert hub.ticks == ticks, "the main screen's timer must rest while help covers it"
        await pilot.press("question_mark")
        await pilot.pause(0.6)
        assert not isinstance(app.screen, HelpScreen)
        assert hub.ticks > ticks
        await pilot.press("question_mark", "q")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        assert app.is_running


@pytest.mark.parametrize("key", ["q", "ctrl+q"])
async def test_q_and_ctrl_q_quit(make_app: AppFactory, key: str) -> None:
    app, _, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.refresh_panes()
        await pilot.press(key)
        await pilot.pause()
    assert app.return_code == 0
    assert not app.is_running


# -- feed failures in the status line -----------------------------------------------------------------------------


async def test_reconnecting_shows_the_countdown_and_the_reason(make_app: AppFactory) -> None:
    app, store, _ = make_app()
    status = store.status(Exchange.BINANCE)
    status.state = FeedState.RECONNECTING
    status.retry_at_monotonic = NOW_S + 3.2
    status.last_error = "cannot connect to fstream.binance.com: name resolution failed"
    async with app.run_test(size=(200, 40)) as pilot:
        app.refresh_panes()
        await pilot.pause()
        text = visible(app.query_one(StatusLine))
        assert "binance reconnecting in 4s: cannot connect to fstream.binance.com: name resolution failed" in text
        assert "bybit live" in text


async def test_stalled_and_failed_are_said_in_words(make_app: AppFactory) -> None:
    app, store, _ = make_app()
    bybit = store.status(Exchange.BYBIT)
    bybit.state = FeedState.STALLED
    bybit.last_data_monotonic = NOW_S - 25.0
    okx = store.status(Exchange.OKX)
    okx.state = FeedState.FAILED
    okx.last_error = "the exchange closed the connection (4004)"
    async with app.run_test(size=(200, 40)) as pilot:
        app.refresh_panes()
        await pilot.pause()
        text = visible(app.query_one(StatusLine))
        assert "bybit stalled, no data for 25s" in text
        assert "okx failed: the exchange closed the connection (4004)" in text


async def test_a_rejection_reason_with_markup_is_shown_literally(make_app: AppFactory) -> None:
    app, store, _ = make_app()
    store.status(Exchange.BINANCE).rejected["BTCUSDT"] = "[bold]x[/] invalid symbol [link=http://e]y[/link]"
    async with app.run_test(size=(200, 40)) as pilot:
        app.refresh_panes()
        await pilot.pause()
        text = visible(app.query_one(StatusLine))
        assert "BTCUSDT rejected: [bold]x[/] invalid symbol [link=http://e]y[/link]" in text
        assert "1 BTC bin rejected" in visible(app.query_one(Watchlist))


async def test_an_empty_store_says_it_is_waiting(make_app: AppFactory) -> None:
    app, _, _ = make_app(fill=False)
    async with app.run_test(size=(80, 24)) as pilot:
        app.refresh_panes()
        await pilot.pause()
        assert "no liquidations yet" in visible(app.query_one(LiquidationTape))
        status = visible(app.query_one(StatusLine))
        assert "mark --" in status and "binance connecting" in status


def test_fill_store_marks_every_feed_live() -> None:
    """The fixture the other tests rely on: every exchange live, every instrument with data."""
    from liqtui.model.store import MarketStore

    store = MarketStore()
    fill_store(store, WATCHLIST)
    assert all(store.status(e).state is FeedState.LIVE for e in Exchange)
    assert all(store.get(key) is not None and store.get(key).mark_px for key in WATCHLIST)  # type: ignore[union-attr]


async def test_the_first_map_after_waiting_for_data_is_shown_at_once(make_app: AppFactory) -> None:
    """The map's pacing is for new data on a picture already shown, not for the first picture of a start-up."""
    app, _, hub = make_app()
    hub.empty = True
    async with app.run_test(size=(120, 40)) as pilot:
        app.refresh_panes()
        await pilot.pause()
        liq_map = app.query_one(LiqMap)
        assert liq_map.view is None
        hub.empty = False
        hub.data_version += 1
        app.refresh_panes()  # within the pacing window of the tick above, with the frozen clock
        await pilot.pause()
        assert liq_map.view is not None


async def test_a_rest_outage_is_said_beside_a_live_websocket(make_app: AppFactory) -> None:
    app, store, _ = make_app()
    store.status(Exchange.OKX).rest_error = "okx REST /api/v5/public/instruments: HTTP 503"
    async with app.run_test(size=(200, 40)) as pilot:
        for _ in range(6):
            await pilot.press("]")  # to an OKX instrument
        app.refresh_panes()
        await pilot.pause()
        text = visible(app.query_one(StatusLine))
        assert "okx live; REST: okx REST /api/v5/public/instruments: HTTP 503" in text
