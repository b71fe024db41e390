"""The whole app on screen, streaming from the real simulator, while the simulator misbehaves (issue 7).

The app must keep running through every fault, say what happens in the status line in words, and be live again
afterwards with its map drawn.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from screen import visible

from liqtui.config import Config, default_config
from liqtui.feeds.engine import FeedEngine
from liqtui.model.hub import MapHub
from liqtui.model.store import FeedState, MarketStore
from liqtui.model.types import Exchange
from liqtui.ui.app import build_app
from liqtui.ui.panes.liq_map import LiqMap
from liqtui.ui.panes.status import StatusLine

WATCHLIST = ("binance:BTCUSDT", "bybit:BTCUSDT", "okx:BTC-USDT-SWAP")


def sim_config(url: str) -> Config:
    config = default_config().with_sim(url)
    feed = replace(config.feed, silence_timeout_s=2.0, reconnect_min_s=0.2, reconnect_max_s=0.5, warm_start_hours=1.0)
    return replace(config, watchlist=WATCHLIST, feed=feed)


async def until(predicate: Callable[[], bool], timeout: float, what: str, seen: Callable[[], None]) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        seen()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_the_app_survives_every_fault_on_screen(sim_server: Any) -> None:
    config = sim_config(sim_server.url)
    store = MarketStore()
    hub = MapHub(store, config.estimator)
    hub.expect_history(WATCHLIST)
    engine = FeedEngine(config, WATCHLIST, store, on_history=hub.on_history)
    app = build_app(config, store=store, hub=hub, engine=engine)
    shown: list[str] = []

    def all_live() -> bool:
        return all(store.status(e).state is FeedState.LIVE for e in Exchange)

    async with app.run_test(size=(160, 44)) as pilot:
        status = app.query_one(StatusLine)

        def remember() -> None:
            shown.append(visible(status))

        await until(all_live, 20, "all three feeds live", lambda: None)
        await until(
            lambda: app.query_one(LiqMap).image is not None and hub.map_view(WATCHLIST[:1], 5, 50) is not None,
            20,
            "a map",
            lambda: None,
        )
        faults: list[dict[str, Any]] = [
            {"kind": "drop"},
            {"kind": "stall", "exchange": "bybit", "seconds": 4.0},
            {"kind": "malformed"},
            {"kind": "oversized", "exchange": "okx"},
            {"kind": "close_24h", "exchange": "binance"},
            {"kind": "notice_64008", "exchange": "okx"},
            {"kind": "restart", "seconds": 1.0},
        ]
        for fault in faults:
            reconnects = sum(store.status(e).reconnects for e in Exchange)
            code, _ = await sim_server.fault(**fault)
            assert code == 200
            if fault["kind"] in ("drop", "stall", "close_24h", "restart"):
                await until(
                    lambda r=reconnects: sum(store.status(e).reconnects for e in Exchange) > r,
                    15,
                    f"a reconnect after {fault['kind']}",
                    remember,
                )
            await until(all_live, 20, f"live again after {fault['kind']}", remember)
            assert app.is_running, fault
        assert sum(store.status(e).bad_frames for e in Exchange) > 0
        app.refresh_panes()
        await pilot.pause()
        assert app.query_one(LiqMap).image is not None
        said = "\n".join(shown)
        assert "reconnecting" in said or "stalled" in said or "connecting" in said, said[-500:]
        await pilot.press("q")
