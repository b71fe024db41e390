"""SVG snapshots of the screen at 80x24 and 200x60 (pytest-textual-snapshot).

The store is filled from hand-built batches, the clock is frozen, the refresh timer is off and one tick is run by
hand, so each picture depends only on the code. Regenerate with `pytest tests/ui/test_snapshots.py
--snapshot-update` after a deliberate change, and look at the SVGs in tests/ui/__snapshots__/ before committing.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from liqtui.model.store import FeedState
from liqtui.model.types import Exchange

from .conftest import NOW_S, AppFactory

SnapCompare = Callable[..., bool]


async def one_tick(pilot: Pilot[int]) -> None:
    """The refresh timer's work, once, after the first layout (so every pane knows its size)."""
    await pilot.pause()
    pilot.app.refresh_panes()  # type: ignore[attr-defined]
    await pilot.pause()


class TestMainScreen:
    def test_narrow(self, make_app: AppFactory, snap_compare: SnapCompare) -> None:
        """80x24: the panes stack; the map on top, clusters beside the tape, tabs scrolled to the selection."""
        app, _, _ = make_app()
        assert snap_compare(app, terminal_size=(80, 24), run_before=one_tick)

    def test_wide(self, make_app: AppFactory, snap_compare: SnapCompare) -> None:
        """200x60: map on the left, clusters over the tape on the right, every tab with its price."""
        app, _, _ = make_app()
        assert snap_compare(app, terminal_size=(200, 60), run_before=one_tick)

    def test_aggregate_wide(self, make_app: AppFactory, snap_compare: SnapCompare) -> None:
        """`e` three times: BTC summed over the three exchanges; its three tabs are bracketed."""
        app, _, _ = make_app()
        assert snap_compare(app, press=["e", "e", "e"], terminal_size=(200, 60), run_before=one_tick)

    def test_no_color(self, make_app: AppFactory, snap_compare: SnapCompare, monkeypatch: pytest.MonkeyPatch) -> None:
        """NO_COLOR: sides still read by the words LONG / SHORT, their place either side of the mark and glyphs."""
        monkeypatch.setenv("NO_COLOR", "1")
        app, _, _ = make_app()
        assert snap_compare(app, terminal_size=(80, 24), run_before=one_tick)


class TestFeedTrouble:
    def test_reconnecting_stalled_and_rejected(self, make_app: AppFactory, snap_compare: SnapCompare) -> None:
        """Feed problems in words on the status line; a rejection reason with markup is printed as written."""
        app, store, _ = make_app()
        binance = store.status(Exchange.BINANCE)
        binance.state = FeedState.RECONNECTING
        binance.retry_at_monotonic = NOW_S + 3.5
        binance.last_error = "cannot connect to fstream.binance.com (name resolution failed)"
        bybit = store.status(Exchange.BYBIT)
        bybit.state = FeedState.STALLED
        bybit.last_data_monotonic = NOW_S - 25.0
        store.status(Exchange.OKX).rejected["SOL-USDT-SWAP"] = "[bold]x[/] doesn't exist"
        assert snap_compare(app, terminal_size=(80, 24), run_before=one_tick)

    def test_empty_store(self, make_app: AppFactory, snap_compare: SnapCompare) -> None:
        """Before any data: every pane says what it is waiting for."""
        app, _, _ = make_app(fill=False)
        assert snap_compare(app, terminal_size=(80, 24), run_before=one_tick)


class TestOverlays:
    def test_help(self, make_app: AppFactory, snap_compare: SnapCompare) -> None:
        """`?`: every key, how to read the map, what it cannot know."""
        app, _, _ = make_app()
        assert snap_compare(app, press=["question_mark"], terminal_size=(80, 24), run_before=one_tick)

    def test_find(self, make_app: AppFactory, snap_compare: SnapCompare) -> None:
        """`/` then `eth`: the finder lists the three ETH instruments, the first picked."""
        app, _, _ = make_app()
        assert snap_compare(app, press=["slash", "e", "t", "h"], terminal_size=(80, 24), run_before=one_tick)
