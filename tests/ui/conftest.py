"""Fixtures for the app tests: a store filled from hand-built batches, a frozen clock, and a hub of fixed views.

Nothing here reads the user's home, the wall clock or the network: the XDG directories point into tmp_path, the
app's clock is a constant, the refresh timer is off (tests call `refresh_panes` by hand), and the hub serves views
built from fixed numbers, so the screen depends only on this file.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest
from textual.widgets import Input

from liqtui.config import Config
from liqtui.model.events import EventBatch
from liqtui.model.store import FeedState, MarketStore
from liqtui.model.types import Exchange, Side, parse_instrument_key
from liqtui.model.views import Cluster, MapView, Score
from liqtui.ui.app import LiqtuiApp, build_app

NOW_S = 5_000.0
"""The frozen monotonic clock of every app under test."""

NOW_MS = 1_764_000_000_000
"""The exchange time of the newest event in the test store (2025-11-24 16:00:00 UTC)."""

START_PX = {"BTC": 84_551.1, "ETH": 3_112.45, "SOL": 142.31}
"""Mark prices by asset; each exchange is a little off the first, as real venues are."""

EXCHANGE_OFFSET = {Exchange.BINANCE: 0.0, Exchange.BYBIT: 0.0004, Exchange.OKX: -0.0003}


def asset_px(key: str) -> float:
    """The mark price the test store holds for `key`."""
    exchange, symbol = parse_instrument_key(key)
    asset = symbol.split("-")[0].removesuffix("USDT")
    return round(START_PX[asset] * (1 + EXCHANGE_OFFSET[exchange]), 2)


def fill_store(store: MarketStore, watchlist: Sequence[str], now_s: float = NOW_S) -> None:
    """Marks, open interest, funding, trades and a dozen liquidations per instrument, all feeds live."""
    rng = np.random.default_rng(7)
    for key in watchlist:
        exchange, symbol = parse_instrument_key(key)
        px = asset_px(key)
        batch = EventBatch()
        batch.marks[symbol].append((NOW_MS - 1000, px * 0.999))
        batch.marks[symbol].append((NOW_MS, px))
        batch.open_interest[symbol].append((NOW_MS, round(2_000_000 / px * 41.0, 1)))
        batch.funding_rate[symbol] = 0.0001
        batch.trades[symbol].append((NOW_MS - 500, px, 0.5, True))
        for i in range(12):
            side = int(Side.LONG if i % 3 else Side.SHORT)
            liq_px = round(px * (1 - 0.004 * side * (1 + i % 4)), 2)
            qty = round(float(rng.uniform(2_000, 40_000)) / px, 6)
            if i == 5:
                qty *= 40  # one that stands out on the tape
            batch.liquidations[symbol].append((NOW_MS - 60_000 * (12 - i), liq_px, qty, side))
        store.apply(exchange, batch)
        data = store.ensure(exchange, symbol)
        data.last_update_monotonic = now_s - 0.3
    for exchange in {parse_instrument_key(key)[0] for key in watchlist}:
        status = store.status(exchange)
        status.state = FeedState.LIVE
        status.frames = 1_000
        status.last_frame_monotonic = now_s - 0.2
        status.last_data_monotonic = now_s - 0.3


def map_view_for(key: str, range_pct: float, n_bins: int, version: int) -> MapView:
    """A deterministic map: long clusters below the mark, short ones above, a few realized bars."""
    mark = asset_px(key)
    edges = mark * np.exp(np.linspace(-range_pct / 100, range_pct / 100, n_bins + 1))
    mid = (edges[:-1] + edges[1:]) / 2
    rel = (mid / mark - 1) * 100
    bump = lambda centre, width, height: height * np.exp(-(((rel - centre) / width) ** 2))  # noqa: E731
    longs = np.where(rel < 0, bump(-1.8, 0.25, 40e6) + bump(-3.5, 0.4, 25e6) + 2e6 * np.exp(rel / 3), 0.0)
    shorts = np.where(rel > 0, bump(1.9, 0.3, 45e6) + bump(4.2, 0.5, 20e6) + 2e6 * np.exp(-rel / 3), 0.0)
    realized_long = np.where((rel < -0.3) & (rel > -1.0), 1e6, 0.0)
    realized_short = np.where((rel > 0.2) & (rel < 0.6), 5e5, 0.0)
    return MapView(key, NOW_MS, mark, edges[:-1], edges[1:], longs, shorts, realized_long, realized_short, version)


@dataclass
class FixedHub:
    """A stand-in for `MapHub` that serves `map_view_for` views, fixed clusters and a fixed score."""

    ticks: int = 0
    views: list[tuple[tuple[str, ...], float, int]] = field(default_factory=list)
    """Every map_view request: (keys, range_pct, n_bins)."""
    data_version: int = 1
    empty: bool = False
    """Serve nothing, as the real hub does before any data."""

    def tick(self, visible: Collection[str] | None = None) -> set[str]:
        self.ticks += 1
        return set()

    def map_view(self, keys: Sequence[str], range_pct: float, n_bins: int) -> MapView | None:
        self.views.append((tuple(keys), range_pct, n_bins))
        if self.empty:
            return None
        return map_view_for(keys[0], range_pct, n_bins, self.data_version)

    def clusters(self, keys: Sequence[str], n: int) -> list[Cluster]:
        if self.empty:
            return []
        mark = asset_px(keys[0])
        scale = float(len(keys))
        rows = [
            (Side.SHORT, 1.9, 41.2e6, 0.31),
            (Side.LONG, -1.8, 37.9e6, 0.28),
            (Side.LONG, -3.5, 24.1e6, 0.18),
            (Side.SHORT, 4.2, 19.6e6, 0.15),
            (Side.SHORT, 0.7, 6.3e6, 0.05),
            (Side.LONG, -0.6, 4.1e6, 0.03),
        ]
        return [
            Cluster(
                side,
                mark * (1 + (dist - 0.1) / 100),
                mark * (1 + (dist + 0.1) / 100),
                mark * (1 + dist / 100),
                notional * scale,
                dist,
                share,
            )
            for side, dist, notional, share in rows[:n]
        ]

    def score(self, key: str) -> Score | None:
        if self.empty:
            return None
        return Score(checked=57, hits=24, uniform_hit_rate=0.12, mass_near=0.08)

    def version(self, keys: Sequence[str]) -> int:
        return self.data_version

    def save(self) -> int:
        """Nothing to keep: the views are fixed."""
        return 0


WATCHLIST = Config().watchlist
"""The default watchlist: BTC, ETH and SOL on Binance, Bybit and OKX."""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No user config, state or colour preferences leak in; the input cursor does not blink."""
    home = tmp_path_factory.mktemp("home")
    for variable in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(variable, str(home / variable.lower()))
    monkeypatch.delenv("LIQTUI_CONFIG", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)


AppFactory = Callable[..., tuple[LiqtuiApp, MarketStore, FixedHub]]


@pytest.fixture
def make_app() -> Iterator[AppFactory]:
    """Builds the real app over a filled store and a `FixedHub`, with the clock frozen at `NOW_S`."""

    def factory(config: Config | None = None, fill: bool = True) -> tuple[LiqtuiApp, MarketStore, FixedHub]:
        config = config or Config()
        store = MarketStore(trade_capacity=64, liquidation_capacity=64, mark_capacity=64, open_interest_capacity=64)
        if fill:
            fill_store(store, config.watchlist)
        hub = FixedHub(empty=not fill)
        app = build_app(config, store=store, hub=hub, clock=lambda: NOW_S, live=False)
        return app, store, hub

    yield factory
