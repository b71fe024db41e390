"""The naive baseline for `benchmarks/app.py`: a Textual app that redraws a plotext 6 bar chart at 2 Hz.

    python benchmarks/naive_app.py [--bins 200] [--hz 2]

What a plotext widget does when nobody counts the cost: on every tick the data moves a little (as a live map's
does), the widget calls `refresh()`, and its `render()` builds the whole chart with plotext's `bar()` (longs
and shorts, default theme and ticks, a mark line), then hands plotext's ANSI to Textual through
`Text.from_ansi`, so Textual re-renders and rewrites the whole pane. The chart fills the terminal (200x60 in
the benchmark). No feeds, no estimator: everything it costs is the redraw. `q` quits.
"""

from __future__ import annotations

import argparse
from typing import Any, ClassVar

import numpy as np
import plotext
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widget import Widget

MARK_PX = 84_000.0
RANGE_PCT = 5.0


class NaivePlot(Widget):
    """Builds plotext in `render()` on every repaint, as textual-plotext does."""

    DEFAULT_CSS = """
    NaivePlot {
        width: 1fr;
        height: 1fr;
    }
    """

    def __init__(self, bins: int, seed: int = 1) -> None:
        super().__init__()
        self._rng = np.random.default_rng(seed)
        self.mark_px = MARK_PX
        self.px_mid = MARK_PX * (1 + np.linspace(-RANGE_PCT, RANGE_PCT, bins) / 100)
        self.long_usd = self._rng.lognormal(15, 1.2, bins)
        self.short_usd = self._rng.lognormal(15, 1.2, bins)
        # plotext 6 has one global figure; a terminal of its own keeps this widget's figure apart.
        terminal = type(plotext.terminal)()
        terminal.limit(False, False)
        self._figure: Any = terminal._master

    def step(self) -> None:
        """Move the data a little, as a live estimate moves between two redraws, and ask for a repaint."""
        bins = len(self.px_mid)
        self.mark_px *= 1 + self._rng.normal(0, 2e-4)
        self.long_usd *= self._rng.lognormal(0, 0.05, bins)
        self.short_usd *= self._rng.lognormal(0, 0.05, bins)
        self.refresh()

    def render(self) -> Text:
        figure = self._figure
        figure.clear.data()
        figure.plot_size(self.size.width, self.size.height)
        below = self.px_mid < self.mark_px
        longs = np.where(below, self.long_usd, 0.0)
        shorts = np.where(below, 0.0, self.short_usd)
        mid = self.px_mid.tolist()
        figure.draw(figure.bar(mid, longs.tolist()))
        figure.draw(figure.bar(mid, shorts.tolist()))
        figure.line(self.mark_px, orientation=1)
        figure.title(f"Liquidation map (naive)  mark {self.mark_px:,.1f}")
        return Text.from_ansi(figure.build().string())


class NaiveApp(App[None]):
    """One plotext chart filling the screen, redrawn whole at `hz`."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "quit")]

    def __init__(self, bins: int, hz: float) -> None:
        super().__init__()
        self._bins = bins
        self._hz = hz

    def compose(self) -> ComposeResult:
        yield NaivePlot(self._bins)

    def on_mount(self) -> None:
        self.set_interval(1.0 / self._hz, self.query_one(NaivePlot).step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--bins", type=int, default=200, help="bars in the chart (default 200)")
    parser.add_argument("--hz", type=float, default=2.0, help="redraws per second (default 2)")
    args = parser.parse_args()
    NaiveApp(args.bins, args.hz).run(mouse=False)


if __name__ == "__main__":
    main()
