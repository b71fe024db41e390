"""`LiqtuiApp`: the screen of design §6. Thin: it owns the selection and one refresh timer, the panes draw.

Every watched instrument streams into the `MarketStore` all the time (the feed engine runs on the app's loop);
the app never gets a message per frame. Its timer (~4 Hz, `[ui] refresh_hz`) feeds the estimator hub, then hands
each pane what it shows; a pane repaints only when its content changed. The map is read from the hub only when its
data version, the selection or the pane's size changed, and `LiqMap` paces its own redraws (~2 Hz). While the help
screen covers the main one the timer is paused: nothing invisible is drawn (the hub catches up from the rings on
resume). Switching instrument changes what the panes read, nothing else.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer

from liqtui.config import Config
from liqtui.model.store import MarketStore
from liqtui.model.views import Cluster, MapView, Score
from liqtui.ui.panes.clusters import ClusterList
from liqtui.ui.panes.liq_map import LiqMap
from liqtui.ui.panes.status import RateMeter, StatusLine, combined_score, gather_status
from liqtui.ui.panes.tape import LiquidationTape
from liqtui.ui.panes.watchlist import Watchlist, find_label, watch_entries
from liqtui.ui.screens.find import FindScreen
from liqtui.ui.screens.help import HelpScreen
from liqtui.ui.state import Selection

CLUSTER_ROWS = 30
"""Clusters asked of the hub per tick; the list shows as many as fit."""


class MapSource(Protocol):
    """What the app needs of the estimator hub (`liqtui.model.hub.MapHub`)."""

    def tick(self, visible: Collection[str] | None = None) -> set[str]: ...
    def map_view(self, keys: Sequence[str], range_pct: float, n_bins: int) -> MapView | None: ...
    def clusters(self, keys: Sequence[str], n: int) -> list[Cluster]: ...
    def score(self, key: str) -> Score | None: ...
    def version(self, keys: Sequence[str]) -> int: ...
    def save(self) -> int: ...


class Engine(Protocol):
    """What the app needs of the feed engine (`liqtui.feeds.engine.FeedEngine`)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class LiqtuiApp(App[int]):
    """The live liquidation map: watchlist, map, clusters, tape and status line."""

    CSS_PATH = Path(__file__).with_name("liqtui.tcss")
    TITLE = "liqtui"
    ENABLE_COMMAND_PALETTE = False
    # Below 120 columns the panes stack (the tcss keys on these classes of the screen).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # noqa: RUF012 - typed by textual.App
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "select(0)", "symbol", key_display="1-9"),
        *(Binding(str(n), f"select({n - 1})", f"symbol {n}", show=False) for n in range(2, 10)),
        Binding("left_square_bracket", "step(-1)", "previous", show=False),
        Binding("right_square_bracket", "step(1)", "prev/next", key_display="[ ]"),
        Binding("slash", "find", "find"),
        Binding("plus,equals_sign", "zoom(1)", "zoom", key_display="+ -"),
        Binding("minus", "zoom(-1)", "zoom out", show=False),
        Binding("e", "cycle_exchange", "exchange"),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
        Binding("ctrl+q", "quit", "quit", show=False, priority=True),
    ]

    def __init__(
        self,
        config: Config,
        *,
        store: MarketStore,
        hub: MapSource,
        engine: Engine | None = None,
        clock: Callable[[], float] = time.monotonic,
        live: bool = True,
        ascii_only: bool = False,
    ) -> None:
        super().__init__()
        self.config = config
        self.store = store
        self.hub = hub
        self.engine = engine
        self.clock = clock
        """Monotonic seconds, the clock `FeedStatus` and `InstrumentData` times are on (tests freeze it)."""
        self.live = live
        """Run the refresh timer; tests and snapshots turn it off and call `refresh_panes` by hand."""
        self.ascii_only = ascii_only
        """Draw with ASCII only (the terminal's encoding has no box drawing or block characters)."""
        self.selection = Selection.start(config.watchlist, config.estimator.range_pct)
        """What is on screen."""
        self.rates = RateMeter()
        self._timer: Timer | None = None
        self._map_signature: tuple[object, ...] | None = None
        self._map_read_at = -math.inf
        self._clusters_signature: tuple[tuple[str, ...], int] | None = None
        self._clusters_cache: list[Cluster] = []
        self._panes: tuple[Screen[Any], Watchlist, ClusterList, LiquidationTape, StatusLine, LiqMap] | None = None
        """The main screen and its panes, looked up once they are mounted."""

    def compose(self) -> ComposeResult:
        yield Watchlist(id="watchlist")
        with Horizontal(id="body"):
            yield LiqMap(id="map", max_hz=self.config.ui.map_max_hz, clock=self.clock, ascii_only=self.ascii_only)
            with Vertical(id="side"):
                yield ClusterList(id="clusters", ascii_only=self.ascii_only)
                yield LiquidationTape(self.config.ui.tape_rows, id="tape")
        yield StatusLine(id="status", ascii_only=self.ascii_only)
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        # Without UTF-8 the borders are drawn in ASCII (box drawing would print as "?").
        self.screen.set_class(self.ascii_only, "-ascii")
        self.query_one("#clusters").border_title = "Clusters (estimated)"
        self.query_one("#tape").border_title = "Liquidations (realized)"
        self._panes = (
            self.screen,
            self.query_one(Watchlist),
            self.query_one(ClusterList),
            self.query_one(LiquidationTape),
            self.query_one(StatusLine),
            self.query_one(LiqMap),
        )
        if self.engine is not None:
            await self.engine.start()
        if self.live:
            self._timer = self.set_interval(1.0 / self.config.ui.refresh_hz, self.refresh_panes)
            # SIGKILL loses at most one interval of the estimate.
            self.set_interval(self.config.state.save_interval_s, self.hub.save)
            # The first tick waits for the first layout, so the map knows its width.
            self.call_after_refresh(self.refresh_panes)

    # -- the tick --------------------------------------------------------------------------------------------------

    def refresh_panes(self) -> None:
        """One tick: feed the hub, then give every pane of the main screen what it shows.

        Nothing is drawn while the main screen is not on top (help open, or mounting, or shutting down).
        """
        panes = self._panes
        if panes is None or not self.screen_stack or self.screen_stack[-1] is not panes[0]:
            return
        _, watchlist, cluster_list, tape, status_line, liq_map = panes
        now = self.clock()
        selection = self.selection
        keys = selection.keys
        # The instruments on screen are fed every tick, the rest of the watchlist once a second.
        self.hub.tick(keys)
        instruments = [data for key in keys if (data := self.store.get(key)) is not None]
        exchanges = selection.exchanges()
        self.rates.update({e.value: self.store.status(e).frames for e in exchanges}, now)
        scores = [score for key in keys if (score := self.hub.score(key)) is not None]
        with self.batch_update():
            watchlist.show(watch_entries(self.store, selection.watchlist), selection.numbers)
            mark_px = next((d.mark_px for d in instruments if d.mark_px is not None), None)
            cluster_list.show(self._clusters(keys), mark_px)
            tape.show_from(instruments)
            score = combined_score(scores)
            info = gather_status(self.store, selection, instruments, score=score, rates=self.rates, now=now)
            status_line.show(info)
            self._refresh_map(liq_map, now)

    def _clusters(self, keys: tuple[str, ...]) -> list[Cluster]:
        """The hub's clusters, asked again only when the estimate changed (finding them costs numpy work)."""
        signature = (keys, self.hub.version(keys))
        if signature != self._clusters_signature:
            self._clusters_signature = signature
            self._clusters_cache = self.hub.clusters(keys, CLUSTER_ROWS)
        return self._clusters_cache

    def _refresh_map(self, liq_map: LiqMap, now: float) -> None:
        selection = self.selection
        n_bins = liq_map.columns_for_bins()
        what = (selection.keys, selection.range_pct, n_bins)
        signature = (*what, self.hub.version(selection.keys))
        if signature == self._map_signature:
            return
        # A new selection, zoom or size is read at once; new data at most at the map's own pace.
        # The first real picture (after "waiting for data") is not new data either: it is shown at once.
        data_only = self._map_signature is not None and self._map_signature[:3] == what and liq_map.view is not None
        if data_only and now - self._map_read_at < 1.0 / self.config.ui.map_max_hz:
            return
        self._map_signature = signature
        self._map_read_at = now
        view = self.hub.map_view(selection.keys, selection.range_pct, n_bins) if n_bins > 0 else None
        liq_map.update_view(view, zoom=selection.range_pct)

    # -- actions ---------------------------------------------------------------------------------------------------

    def _show(self, selection: Selection) -> None:
        """Switch what is on screen, and redraw at once (switching must feel instant)."""
        if selection == self.selection:
            return
        self.selection = selection
        self.refresh_panes()

    def action_select(self, index: int) -> None:
        """Show watchlist entry `index` (0-based)."""
        self._show(self.selection.select(index))

    def action_step(self, delta: int) -> None:
        """Show the next (1) or previous (-1) instrument."""
        self._show(self.selection.step(delta))

    def action_zoom(self, direction: int) -> None:
        """Narrow (1) or widen (-1) the price range."""
        selection = self.selection
        self._show(selection.zoom_in() if direction > 0 else selection.zoom_out())

    def action_cycle_exchange(self) -> None:
        """The same asset on the next exchange, then all of them summed."""
        cycled = self.selection.cycle_exchange()
        if cycled == self.selection:
            self.notify(f"{self.selection.asset} is watched on one exchange only.", timeout=3)
        self._show(cycled)

    def action_find(self) -> None:
        """Open the finder; picking an entry shows it."""
        labels = [find_label(entry) for entry in watch_entries(self.store, self.selection.watchlist)]
        self.push_screen(FindScreen(self.selection.watchlist, labels), self._found)

    def _found(self, index: int | None) -> None:
        if index is not None:
            self.action_select(index)

    def action_help(self) -> None:
        """Show the help screen; the main screen's timer rests while it is covered."""
        if self._timer is not None:
            self._timer.pause()
        self.push_screen(HelpScreen(), self._help_closed)

    def _help_closed(self, result: None) -> None:
        del result
        if self._timer is not None:
            self._timer.resume()
            self.refresh_panes()

    def history_arrived(self, instrument: str) -> None:
        """An instrument's warm start was applied: if it is on screen, show its map now, not at the next tick."""
        if self.live and instrument in self.selection.keys:
            self.call_later(self.refresh_panes)

    async def action_quit(self) -> None:
        """Stop the feeds, then leave."""
        if self._timer is not None:
            self._timer.stop()
        if self.engine is not None:
            await self.engine.stop()
        self.exit(0)


def build_app(
    config: Config,
    *,
    store: MarketStore,
    hub: MapSource,
    engine: Engine | None = None,
    clock: Callable[[], float] = time.monotonic,
    live: bool = True,
    ascii_only: bool = False,
) -> LiqtuiApp:
    """The app as the CLI and the tests build it (one factory for both, so tests run the real thing)."""
    return LiqtuiApp(config, store=store, hub=hub, engine=engine, clock=clock, live=live, ascii_only=ascii_only)
