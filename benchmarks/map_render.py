"""Map redraw cost: plotext 6.1 drawn the default way, liqtui's chart, and a bare numpy renderer.

Target (issue 7): a map redraw (build plus render) of a 130x45 pane with 200 bins within 15 ms of CPU. Design
§6 gives the references measured on this kind of machine: plotext 5.3.2 through textual-plotext about 115 ms,
plotext 6.1.0 about 25 ms per full cycle, a numpy bar renderer 1-2 ms.

Each variant draws a sequence of views whose data changes a little every time (as the estimator's does between
two redraws), so no cache can answer; CPU time is `time.process_time`, median of `--repeat` redraws per size:

- `plotext default`: what a plotext widget does on every repaint: `bar()` for longs and for shorts with the
  default theme and automatic ticks, `build()`, then `Text.from_ansi` and Rich's rendering of that Text into
  lines (as Textual's `render()` path does). Drawn from the raw bins (`raw`) and from bins summed to the
  pane's columns.
- `plotext + from_ansi`: liqtui's chart configuration, but converted by `Text.from_ansi` and rendered as a
  Text.
- `liqtui chart`: `MapChart.draw` (plotext build, SGR parse into strips) plus the widget's per-row styling.
- `numpy blocks`: bars of `▁▂▃▄▅▆▇█` per column built with numpy, with a mark line and price labels: the
  floor.

Then the same redraws inside a running Textual app (`App.run_test`, headless): the whole cycle from handing
the widget a view to the screen update, for `liqtui chart` in `LiqMap` and for the default plotext path in a
widget whose `render()` builds plotext, as textual-plotext does.

Bytes: `plotext ansi` is the length of plotext's own output; `full repaint` is what Textual would write to a
256-colour terminal for the whole pane; `row diff` is the mean for the rows that changed between two
consecutive redraws, which is what `LiqMap` repaints.

Usage: `python benchmarks/map_render.py [--repeat R] [--sizes 130x45,80x20,200x55] [--bins 200] [--no-app]`
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import itertools
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import plotext
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.strip import Strip
from textual.widget import Widget

from liqtui.model.views import MapView
from liqtui.ui.chart import (
    THEMES,
    ChartTheme,
    DisplayColumns,
    MapChart,
    columns_for_width,
    display_columns,
    format_price,
    price_decimals,
    price_ticks,
)
from liqtui.ui.panes.liq_map import LiqMap

# ------------------------------------------------------------------------------------------------- the views


def view_sequence(bins: int, mark_px: float = 84_551.1, seed: int = 7) -> Iterator[MapView]:
    """Views of one instrument as an estimator hands them over: two cluster regions either side of the mark,
    a floor of small bins, realized liquidations here and there; each next view adds mass to ~5 % of the bins
    and decays the rest a little, and the mark walks a bin now and then.
    """
    rng = np.random.default_rng(seed)
    edges = mark_px * np.exp(np.linspace(np.log(0.95), np.log(1.05), bins + 1))
    mid = (edges[:-1] + edges[1:]) / 2
    below = mid < mark_px

    def bump(centre: float) -> np.ndarray:
        return np.asarray(np.exp(-(((mid - centre) / (mark_px * 0.006)) ** 2)))

    floor = rng.gamma(0.5, 2e5, bins)
    long_usd = np.where(below, 4e6 * bump(mark_px * 0.982) * rng.gamma(0.8, 1.0, bins) + floor, 0.0)
    short_usd = np.where(~below, 4e6 * bump(mark_px * 1.019) * rng.gamma(0.8, 1.0, bins) + floor, 0.0)
    realized_long = np.where(below & (rng.random(bins) < 0.08), rng.gamma(1.0, 1e5, bins), 0.0)
    realized_short = np.where(~below & (rng.random(bins) < 0.08), rng.gamma(1.0, 1e5, bins), 0.0)
    version = 0
    mark = mark_px
    while True:
        version += 1
        yield MapView(
            "binance:BTCUSDT",
            1_760_000_000_000 + version * 500,
            mark,
            edges[:-1].copy(),
            edges[1:].copy(),
            long_usd.copy(),
            short_usd.copy(),
            realized_long.copy(),
            realized_short.copy(),
            version,
        )
        touched = rng.random(bins) < 0.05
        long_usd = long_usd * 0.999 + np.where(touched & below, rng.gamma(0.7, 3e5, bins), 0.0)
        short_usd = short_usd * 0.999 + np.where(touched & ~below, rng.gamma(0.7, 3e5, bins), 0.0)
        if rng.random() < 0.2:
            mark *= float(np.exp(rng.normal(0.0, 0.0008)))


# ------------------------------------------------------------------------------------------- the variants


@dataclass(slots=True)
class Drawn:
    """One redraw's output: the rows as Textual would paint them, and plotext's ANSI length if any."""

    strips: list[Strip]
    ansi_bytes: int


Variant = Callable[[MapView], Drawn]


def _text_console(width: int, height: int) -> Console:
    """A Rich console of the pane's size, as Textual's own for rendering a widget's Text."""
    return Console(
        width=width,
        height=height,
        color_system="truecolor",
        force_terminal=True,
        file=io.StringIO(),
    )


def _text_to_strips(text: Text, width: int, height: int, console: Console) -> list[Strip]:
    """What Textual does with a `render()` that returns a Text: Rich renders it into lines."""
    lines = console.render_lines(text, console.options.update_dimensions(width, height), pad=True)
    return [Strip(line, width) for line in lines]


def plotext_default(width: int, height: int, aggregate: bool) -> Variant:
    """plotext 6.1 as a plotext widget uses it: `bar()` per side, default theme and ticks, per repaint."""
    terminal = type(plotext.terminal)()
    terminal.limit(False, False)
    figure = terminal._master
    console = _text_console(width, height)

    def draw(view: MapView) -> Drawn:
        figure.clear.data()
        figure.plot_size(width, height)
        data = display_columns(view, columns_for_width(width) if aggregate else len(view.px_low))
        mid = ((data.px_edges[:-1] + data.px_edges[1:]) / 2).tolist()
        below = [px < view.mark_px for px in mid]
        figure.draw(
            figure.bar(
                [m for m, b in zip(mid, below, strict=True) if b],
                [v for v, b in zip(data.long_usd.tolist(), below, strict=True) if b],
            )
        )
        figure.draw(
            figure.bar(
                [m for m, b in zip(mid, below, strict=True) if not b],
                [v for v, b in zip(data.short_usd.tolist(), below, strict=True) if not b],
            )
        )
        figure.line(view.mark_px, orientation=1)
        ansi = figure.build().string()
        return Drawn(_text_to_strips(Text.from_ansi(ansi), width, height, console), len(ansi.encode()))

    return draw


def chart_from_ansi(width: int, height: int) -> Variant:
    """liqtui's plotext configuration, converted by `Text.from_ansi` instead of liqtui's SGR parser."""
    chart = MapChart()
    console = _text_console(width, height)
    theme = THEMES["dark"]

    def draw(view: MapView) -> Drawn:
        image = chart.draw(view, width, height, theme)
        ansi = "\n".join(image.row_keys)
        return Drawn(_text_to_strips(Text.from_ansi(ansi), width, height, console), image.ansi_bytes)

    return draw


def liqtui_chart(width: int, height: int, theme: ChartTheme) -> Variant:
    """`MapChart.draw` and the widget's per-row styling: what `LiqMap` pays per redraw."""
    chart = MapChart()

    def draw(view: MapView) -> Drawn:
        image = chart.draw(view, width, height, theme)
        return Drawn([strip.apply_style(_SCREEN) for strip in image.strips], image.ansi_bytes)

    return draw


_BLOCKS = np.array(list(" ▁▂▃▄▅▆▇█"))


def numpy_blocks(width: int, height: int) -> Variant:
    """The floor: block characters per column from numpy, a mark column, and a row of price labels."""
    long_style, short_style, mark_style = Style(color="green"), Style(color="red"), Style(color="cyan")

    def draw(view: MapView) -> Drawn:
        columns = columns_for_width(width)
        rows = height - 2
        data: DisplayColumns = display_columns(view, columns)
        estimate = np.maximum(data.long_usd, data.short_usd)
        peak = float(estimate.max()) or 1.0
        eighths = np.ceil(estimate / peak * rows * 8).astype(np.int64)
        levels = np.clip(eighths[None, :] - (rows - 1 - np.arange(rows))[:, None] * 8, 0, 8)
        cells = _BLOCKS[levels]
        mark = data.column_of(view.mark_px)
        if mark is not None:
            cells[:, mark] = "│"
        row_text = cells.view(f"<U{columns}").ravel().tolist()
        split = mark if mark is not None else columns
        strips = []
        for text in row_text:
            segments = [Segment("  "), Segment(text[:split], long_style)]
            if mark is not None:
                segments += [Segment(text[split], mark_style), Segment(text[split + 1 :], short_style)]
            strips.append(Strip([*segments, Segment("  ")], width))
        axis = "  " + "─" * columns + "  "
        ticks, labels = price_ticks(data)
        label_row = [" "] * width
        for col, label in zip(ticks, labels, strict=True):
            start = max(0, min(width - len(label), col + 2 - len(label) // 2))
            label_row[start : start + len(label)] = label
        strips.append(Strip([Segment(axis)], width))
        strips.append(Strip([Segment("".join(label_row))], width))
        if mark is not None:
            mark_label = format_price(view.mark_px, price_decimals(view.mark_px, 6))
            strips[0] = Strip([Segment(mark_label.center(width))], width)
        return Drawn(strips, 0)

    return draw


# ----------------------------------------------------------------------------------------------- measuring


_SCREEN = Style(color="#e0e0e0", bgcolor="#1e1e1e")
"""The style Textual puts under a pane's content (the theme's text colour on its background)."""


def terminal_bytes(strips: list[Strip], console: Console) -> int:
    """Bytes a 256-colour terminal receives to paint these rows: Textual's own `Strip.render`, one style and
    reset per segment, with the screen's colours under the pane's, plus a cursor move per row.
    """
    move = len("\x1b[12;1H")
    return sum(len(strip.apply_style(_SCREEN).render(console).encode()) + move for strip in strips)


@dataclass(slots=True)
class Result:
    name: str
    cpu_ms: float
    ansi_bytes: int
    full_bytes: int
    diff_bytes: float


def measure(name: str, variant: Variant, views: list[MapView], console: Console) -> Result:
    """Median CPU time of `variant` over `views` (after one warm-up), and its bytes."""
    variant(views[0])
    gc.collect()
    times: list[float] = []
    outputs: list[Drawn] = []
    for view in views[1:]:
        start = time.process_time()
        outputs.append(variant(view))
        times.append(time.process_time() - start)
    diff_bytes = []
    for before, after in itertools.pairwise(outputs):
        pairs = zip(before.strips, after.strips, strict=True)
        changed = [new for old, new in pairs if list(old) != list(new)]
        diff_bytes.append(terminal_bytes(changed, console))
    last = outputs[-1]
    return Result(
        name,
        statistics.median(times) * 1000,
        last.ansi_bytes,
        terminal_bytes(last.strips, console),
        statistics.mean(diff_bytes) if diff_bytes else 0.0,
    )


class PlotextRenderWidget(Widget):
    """A widget that rebuilds plotext in `render()` on every repaint, as textual-plotext does."""

    def __init__(self) -> None:
        super().__init__()
        self.view: MapView | None = None
        terminal = type(plotext.terminal)()
        terminal.limit(False, False)
        self._figure = terminal._master

    def render(self) -> Text:
        figure = self._figure
        figure.clear.data()
        figure.plot_size(self.size.width, self.size.height)
        if self.view is not None:
            view = self.view
            mid = view.px_mid.tolist()
            figure.draw(figure.bar(mid, view.long_usd.tolist()))
            figure.draw(figure.bar(mid, view.short_usd.tolist()))
            figure.line(view.mark_px, orientation=1)
        return Text.from_ansi(figure.build().string())


class BenchApp(App[None]):
    """One pane filling the screen."""

    def __init__(self, pane: Widget) -> None:
        super().__init__()
        self.pane = pane

    def compose(self) -> ComposeResult:
        yield self.pane


async def app_cycle_ms(width: int, height: int, views: list[MapView], liqtui: bool) -> float:
    """Median CPU time of one full redraw cycle inside a running (headless) Textual app."""
    pane: Widget = LiqMap(max_hz=1e9) if liqtui else PlotextRenderWidget()
    app = BenchApp(pane)
    times: list[float] = []
    async with app.run_test(size=(width, height)) as pilot:
        await pilot.pause()
        for index, view in enumerate(views):
            start = time.process_time()
            if isinstance(pane, LiqMap):
                pane.update_view(view)
            else:
                assert isinstance(pane, PlotextRenderWidget)
                pane.view = view
                pane.refresh()
            await pilot.pause()
            if index:
                times.append(time.process_time() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=25, help="redraws per variant and size")
    parser.add_argument("--sizes", default="130x45,80x20,200x55", help="pane sizes, WxH, comma-separated")
    parser.add_argument("--bins", type=int, default=200, help="bins per view (re-aggregated to the columns)")
    parser.add_argument("--no-app", action="store_true", help="skip the in-app cycles")
    args = parser.parse_args()
    console = Console(color_system="256", force_terminal=True, width=400, file=io.StringIO())
    for size in args.sizes.split(","):
        width, height = (int(part) for part in size.lower().split("x"))
        views = [view for _, view in zip(range(args.repeat + 1), view_sequence(args.bins), strict=False)]
        variants: list[tuple[str, Variant]] = [
            (f"plotext default, {args.bins} raw bars", plotext_default(width, height, aggregate=False)),
            (
                f"plotext default, {columns_for_width(width)} bars",
                plotext_default(width, height, aggregate=True),
            ),
            ("plotext + Text.from_ansi", chart_from_ansi(width, height)),
            ("liqtui chart (dark)", liqtui_chart(width, height, THEMES["dark"])),
            ("liqtui chart (mono)", liqtui_chart(width, height, THEMES["mono"])),
            ("numpy blocks (floor)", numpy_blocks(width, height)),
        ]
        results = [measure(name, variant, views, console) for name, variant in variants]
        floor = next(result.cpu_ms for result in results if result.name.startswith("numpy"))
        print(
            f"\n{width}x{height} pane, {args.bins} bins, {columns_for_width(width)} bar columns, median of "
            f"{args.repeat} redraws (CPU ms; bytes at 256 colours)"
        )
        header = ("variant", "CPU ms", "x floor", "plotext ansi", "full repaint", "row diff")
        print("  {:34} {:>8} {:>8} {:>13} {:>13} {:>9}".format(*header))
        for result in results:
            ratio = result.cpu_ms / floor
            print(
                f"  {result.name:34} {result.cpu_ms:8.2f} {ratio:8.1f} {result.ansi_bytes:13,d} "
                f"{result.full_bytes:13,d} {result.diff_bytes:9,.0f}"
            )
        if not args.no_app:
            liqtui_ms = asyncio.run(app_cycle_ms(width, height, views, liqtui=True))
            default_ms = asyncio.run(app_cycle_ms(width, height, views, liqtui=False))
            print(
                f"  in a running app, per full cycle: LiqMap {liqtui_ms:.2f} ms, plotext render() widget "
                f"{default_ms:.2f} ms ({default_ms / liqtui_ms:.1f}x)"
            )


if __name__ == "__main__":
    main()
