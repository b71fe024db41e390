"""The liquidation map as a picture: a `MapView` drawn by plotext 6 into Textual strips (design §6, issue 7).

How the picture reads, left to right in ascending price, one display column per price range:

```
   << LONG liqs (est.)          below 0: realized          SHORT liqs (est.) >>
                                 mark 84,551.1
  ┌──────────────────────────────────┼───────────────────────────────────────┐
 1┤          ▄                       │            █                          │
  │       █  █                       │         ▆  █     ▂                    │
.5┤     ▃ █  █ ▅                     │       █ █  █   ▄ █                    │
  │   ▇ █ █  █ █ ▂                   │     ▁ █ █  █ ▃ █ █                    │
 0┤──────────────────────────────────┼───────────────────────────────────────│
  │         ▒▒                       │                ▒                      │
  └┬────────────┬────────────┬───────┴─────┬────────────┬────────────┬───────┘
 83,000       83,500       84,000        84,500       85,000       85,500
```

- Estimated liquidations stand on the zero line as bars: long positions (mostly left of the mark) in one
  colour, short positions (mostly right of it) in another; heights are relative (1 = the strongest column), to
  1/8 of a row with the block characters on top.
- Realized liquidations hang below the zero line, scaled to their own strongest column, in a shaded glyph.
- The mark price is a vertical line with its price above it. Price labels are few, round, and locale-free.
- Without colour (`NO_COLOR`) the sides differ by glyph (solid for longs, shaded for shorts) as well as by
  their position either side of the mark line, and the caption names them: nothing is told by colour alone.

plotext does all the drawing (axes, ticks, labels, bars, lines). What makes it cheap enough for the budget of
issue 7 (a 130x45 redraw within 15 ms of CPU; `benchmarks/map_render.py` measures it):

- Each bar is a stem (one point filled down to the axis), not `bar()`'s rectangle of four edges: one point per
  column, and the x and y limits are set so one data unit is exactly one character cell.
- Textual writes every segment with its whole style, so the strips are made of as few segments as possible:
  bars are `█` in a foreground colour, which joins with the block on top and the spaces between bars into one
  segment per run of one side (a coloured-background body would be a segment per bar: 1.5x the bytes of a
  repaint).
- plotext's ANSI is turned into Textual `Strip`s by a small SGR parser with a cache of Rich styles, not by
  `Text.from_ansi`; the widget then serves lines from the cache and repaints only the rows that changed.
- Each `MapChart` owns its own plotext figure (plotext 6 has one global one), and keeps the last picture: the
  same data version, size, theme and zoom give back the very same `ChartImage`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import plotext
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from liqtui.model.views import MapView

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

Y_LABELS: Final = ((1.0, " 1"), (0.5, ".5"), (0.0, " 0"))
"""The y axis ticks: relative intensity, no units (design §4 "Bar height is relative"). All one width, because
plotext sizes the label column from the labels and the bar columns must not move."""

Y_LABEL_WIDTH: Final = max(len(label) for _, label in Y_LABELS)
FRAME_COLUMNS: Final = Y_LABEL_WIDTH + 2
"""Columns that are not bars: the y tick labels and the left and right edges of the frame."""
FRAME_ROWS: Final = 5
"""Rows that are not bars: caption, mark label, top edge, bottom edge with ticks, price labels."""
MIN_WIDTH: Final = 24
MIN_HEIGHT: Final = 9
"""Below this size there is no room for a readable chart; a one-line notice is shown instead."""

REALIZED_SHARE: Final = 0.15
"""The share of the bar rows given to the realized band below the zero line (at least one row, at most 8)."""

_EIGHTHS: Final = " ▁▂▃▄▅▆▇"
"""Partial blocks for the top of a bar, by eighths of a row (index 0 unused)."""


@dataclass(frozen=True, slots=True)
class ChartTheme:
    """How the chart is coloured. Colours are ANSI palette indexes 0-15, which survive 16-colour terminals and
    which Textual maps to the app theme's own RGB; `None` means the terminal's default colour.
    """

    name: str
    """The cache key part: two themes with one name draw the same picture."""
    colour: bool
    """False for monochrome (`NO_COLOR`): sides are told apart by glyph, no colour is emitted."""
    long_colour: int | None
    short_colour: int | None
    realized_colour: int | None
    mark_colour: int | None
    axis_colour: int | None
    long_glyph: str
    """The body of a long bar, one row of it."""
    short_glyph: str
    realized_glyph: str
    ascii: bool = False
    """Draw with ASCII only, for a terminal whose encoding has no block or box-drawing characters."""


THEMES: Final[dict[str, ChartTheme]] = {
    "dark": ChartTheme("dark", True, 2, 1, 3, 6, 8, "█", "█", "▒"),
    "light": ChartTheme("light", True, 2, 1, 5, 4, 8, "█", "█", "▒"),
    "mono": ChartTheme("mono", False, None, None, None, None, None, "█", "▒", "░"),
}
"""The built-in chart themes: green longs and red shorts on dark or light backgrounds, and monochrome."""


_TO_ASCII: Final = str.maketrans(
    {
        **dict.fromkeys("─━═╌┄", "-"),
        **dict.fromkeys("│┃║╎┆", "|"),
        **dict.fromkeys("┌┐└┘├┤┬┴┼╭╮╯╰", "+"),
        "█": "#",
        "▒": "%",
        "░": ":",
        "▓": "#",
        **dict.fromkeys(_EIGHTHS[1:], "_"),
        "•": "*",
        "·": ".",
    }
)
"""plotext's drawing characters mapped to the nearest ASCII ones."""


def theme_for(*, dark: bool, no_color: bool, ascii_only: bool = False) -> ChartTheme:
    """The chart theme for the app's theme (`App.current_theme.dark`), `App.no_color` (`NO_COLOR`) and a
    terminal without UTF-8 (`ascii_only`)."""
    theme = THEMES["mono"] if no_color else THEMES["dark" if dark else "light"]
    if ascii_only:
        # Longs and shorts differ by glyph as well as by side of the mark line.
        theme = replace(
            theme, name=f"{theme.name}-ascii", ascii=True, long_glyph="#", short_glyph="%", realized_glyph=":"
        )
    return theme


def columns_for_width(width: int) -> int:
    """How many bar columns a chart `width` cells wide has: ask the estimator for at most this many bins."""
    return max(0, width - FRAME_COLUMNS)


@dataclass(frozen=True, slots=True)
class DisplayColumns:
    """A `MapView` re-binned to the chart's columns: one value, so never more than one bar, per column."""

    px_edges: FloatArray
    """Column boundaries, ascending, one more than there are columns."""
    long_usd: FloatArray
    short_usd: FloatArray
    realized_long_usd: FloatArray
    realized_short_usd: FloatArray

    @property
    def count(self) -> int:
        return len(self.long_usd)

    def column_of(self, px: float) -> int | None:
        """The column whose price range holds `px`, or None when it is off the chart."""
        if not math.isfinite(px) or self.count == 0 or px < self.px_edges[0] or px > self.px_edges[-1]:
            return None
        return min(int(np.searchsorted(self.px_edges, px, side="right")) - 1, self.count - 1)


def display_columns(view: MapView, columns: int) -> DisplayColumns:
    """Fit the view's bins to `columns` columns.

    More bins than columns: adjacent bins are summed in near-equal groups. Fewer bins than columns: each bin
    spans one or more whole columns (one bar, drawn wider), so the chart still fills the pane.
    """
    bins = len(view.px_low)
    if bins == 0 or columns <= 0:
        empty = np.zeros(0)
        return DisplayColumns(np.zeros(1), empty, empty, empty, empty)
    bin_edges = np.append(view.px_low, view.px_high[-1]).astype(np.float64)
    # A bar cannot show a negative or undefined notional: such bins draw as empty rather than break the scale.
    sides = tuple(
        np.clip(np.nan_to_num(np.asarray(side, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)
        for side in (view.long_usd, view.short_usd, view.realized_long_usd, view.realized_short_usd)
    )
    if bins >= columns:
        starts = (np.arange(columns + 1, dtype=np.int64) * bins) // columns
        summed = [np.add.reduceat(side, starts[:-1]) for side in sides]
        return DisplayColumns(bin_edges[starts], *summed)
    positions = np.arange(columns + 1, dtype=np.float64) * bins / columns
    px_edges = np.interp(positions, np.arange(bins + 1, dtype=np.float64), bin_edges)
    owner = (np.arange(columns, dtype=np.int64) * bins) // columns
    spread = [side[owner] for side in sides]
    return DisplayColumns(px_edges, *spread)


def format_price(px: float, decimals: int) -> str:
    """`px` with thousands separators and `decimals` decimals, independent of the locale: 84,551 or 0.1234."""
    return f"{px:,.{max(0, decimals)}f}"


def price_decimals(px: float, significant: int) -> int:
    """Decimals that show `significant` significant digits of `px` (none for the integer part's excess)."""
    if not math.isfinite(px) or px <= 0:
        return 0
    return max(0, significant - 1 - math.floor(math.log10(px)))


def mark_price_label(px: float) -> str:
    """The mark price to six significant digits, no trailing zeros: 84,551.1, 3,112.45, 142.31, 0.123456."""
    if not math.isfinite(px):
        return "n/a"
    text = format_price(px, price_decimals(px, 6))
    return text.rstrip("0").rstrip(".") if "." in text else text


def price_ticks(columns: DisplayColumns, min_gap: int = 4) -> tuple[list[int], list[str]]:
    """Round prices on the x axis: their columns and labels, spaced so that the labels never touch."""
    count = columns.count
    if count < 2:
        return [], []
    lo, hi = float(columns.px_edges[0]), float(columns.px_edges[-1])
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [], []
    wanted = max(2, count // 14)
    magnitude = 10.0 ** math.floor(math.log10((hi - lo) / wanted))
    for multiple in (1.0, 2.0, 2.5, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0):
        step = multiple * magnitude
        values = np.arange(math.ceil(lo / step) * step, hi, step)
        if len(values) == 0:
            continue
        cols = np.searchsorted(columns.px_edges, values, side="right") - 1
        keep = (cols >= 0) & (cols < count)
        values, cols = values[keep], cols[keep]
        decimals = max(0, -math.floor(math.log10(step) + 1e-9)) + (1 if multiple in (2.5, 25.0) else 0)
        labels = [format_price(value, decimals) for value in values.tolist()]
        widest = max((len(label) for label in labels), default=0)
        if len(cols) and (len(cols) == 1 or int(np.diff(cols).min()) >= widest + min_gap):
            return cols.tolist(), labels
    return [], []


def caption(width: int) -> str:
    """The top line, which names the sides and the realized band, in ASCII (wide characters break plotext)."""
    variants = (
        ("<< LONG liqs (est.)", "below 0: realized", "SHORT liqs (est.) >>"),
        ("<< LONG (est.)", "0-: realized", "SHORT (est.) >>"),
        ("<< LONG", "", "SHORT >>"),
    )
    for left, middle, right in variants:
        spare = width - len(left) - len(middle) - len(right)
        if spare >= 2 or (not middle and spare >= 1):
            gap_left = spare // 2
            return left + " " * gap_left + middle + " " * (spare - gap_left) + right
    return "LONG|SHORT"[:width].ljust(width)


@dataclass(frozen=True, slots=True)
class ChartImage:
    """One drawn chart: the lines Textual paints, and what tests and the widget need to know about them."""

    key: tuple[Any, ...]
    """What the picture was drawn from: (instrument, version, width, height, theme name, zoom)."""
    width: int
    height: int
    strips: tuple[Strip, ...]
    """One strip per row, each exactly `width` cells."""
    row_keys: tuple[str, ...]
    """plotext's ANSI text of each row: equal keys, equal rows, so the widget repaints only changed rows."""
    plain: tuple[str, ...]
    """The rows without colour, for tests and snapshots."""
    first_bar_column: int
    """The x of the first bar column in the picture (the columns after the y labels and the left edge)."""
    bar_columns: int
    """How many bar columns the picture has."""
    mark_column: int | None
    """The x of the mark price line in the picture, None when the mark is off the chart."""
    ansi_bytes: int
    """Length of plotext's ANSI output in UTF-8 bytes (0 for a notice): a proxy for what a repaint writes."""


@dataclass(slots=True)
class _StyleCache:
    """Rich styles for the SGR escapes plotext writes, worked out once per distinct run of escapes.

    The key is the SGR state before a run of escapes plus the run itself (plotext starts each run with a
    reset, so in practice the run alone decides); the value is the state after it, its Rich style, and whether
    a space in that style looks like a plain space (no background, no underline or the like), so that spaces
    can join any run.
    """

    runs: dict[tuple[str, str], tuple[str, Style | None, bool]] = field(default_factory=dict)

    def after(self, codes: str, escapes: str) -> tuple[str, Style | None, bool]:
        """The SGR state, Rich style and space-neutrality after `escapes` is applied to the state `codes`."""
        found = self.runs.get((codes, escapes))
        if found is None:
            state = codes
            for param in _SGR.findall(escapes):
                state = "" if param in ("", "0") else (f"{state};{param}" if state else param)
            style = _style_from_sgr(state)
            neutral = style is None or _space_shows_nothing(style)
            found = (state, style, neutral)
            self.runs[(codes, escapes)] = found
        return found


_SGR: Final = re.compile(r"\x1b\[([0-9;]*)m")
_RUN: Final = re.compile(r"((?:\x1b\[[0-9;]*m)*)([^\x1b]*)")
"""A run of SGR escapes and the text they colour."""


def _space_shows_nothing(style: Style) -> bool:
    """True when a space in `style` looks like a plain space: no background, no line through or under it."""
    lines = style.underline or style.strike or style.overline
    return style.bgcolor is None and not lines and not style.reverse


def _style_from_sgr(codes: str) -> Style | None:
    """The Rich style of the SGR parameters plotext writes (colours by index or RGB, bold, italic, ...)."""
    numbers = [int(part) for part in codes.split(";") if part]
    colour: Color | None = None
    background: Color | None = None
    attributes: set[int] = set()
    index = 0
    while index < len(numbers):
        number = numbers[index]
        if number in (38, 48) and index + 1 < len(numbers):
            if numbers[index + 1] == 5 and index + 2 < len(numbers):
                parsed = Color.from_ansi(numbers[index + 2])
                index += 3
            elif numbers[index + 1] == 2 and index + 4 < len(numbers):
                parsed = Color.from_rgb(*numbers[index + 2 : index + 5])
                index += 5
            else:
                index += 1
                continue
            if number == 38:
                colour = parsed
            else:
                background = parsed
            continue
        if 30 <= number <= 37 or 90 <= number <= 97:
            colour = Color.from_ansi(number - 30 if number < 90 else number - 82)
        elif 40 <= number <= 47 or 100 <= number <= 107:
            background = Color.from_ansi(number - 40 if number < 100 else number - 92)
        elif number == 0:
            colour, background, attributes = None, None, set()
        elif number in (1, 2, 3, 4, 5, 7, 9):
            attributes.add(number)
        index += 1
    if colour is None and background is None and not attributes:
        return None
    return Style(
        color=colour,
        bgcolor=background,
        bold=1 in attributes or None,
        dim=2 in attributes or None,
        italic=3 in attributes or None,
        underline=4 in attributes or None,
        blink=5 in attributes or None,
        reverse=7 in attributes or None,
        strike=9 in attributes or None,
    )


def strips_from_ansi(ansi: str, width: int, cache: _StyleCache) -> tuple[list[Strip], list[str]]:
    """Split plotext's ANSI output into one Textual `Strip` per row, each cropped or padded to `width` cells.

    Textual writes every segment with its full style and a reset, so the bytes sent over SSH grow with the
    number of segments: runs of one style are joined, and so are spaces whose style shows nothing (no
    background) with the run around them, which turns a row of green bars and gaps into one segment.
    """
    strips: list[Strip] = []
    rows = ansi.split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    after = cache.after
    for row in rows:
        segments: list[Segment] = []
        codes = ""
        style: Style | None = None
        neutral = True
        run_text = ""
        run_style: Style | None = None
        run_neutral = True
        run_blank = True
        length = 0
        for escapes, text in _RUN.findall(row):
            if escapes:
                codes, style, neutral = after(codes, escapes)
            if not text:
                continue
            length += len(text)
            blank = text.isspace()
            if style is run_style:
                run_text += text
                run_blank = run_blank and blank
                continue
            if blank and neutral and run_neutral and run_text:
                run_text += text
                continue
            if run_blank and run_neutral and neutral:
                run_text += text
                run_style, run_blank = style, blank
                continue
            if run_text:
                segments.append(Segment(run_text, run_style))
            run_text, run_style, run_neutral, run_blank = text, style, neutral, blank
        if run_text:
            segments.append(Segment(run_text, run_style))
        # plotext writes one character per cell (ASCII labels, box drawing, blocks), so the text length is the
        # cell length; only a row of another width pays for Rich's cell measuring.
        if length == width:
            strips.append(Strip(segments, width))
        else:
            strips.append(Strip(segments).adjust_cell_length(width))
    return strips, rows


def _pixel(colour: int | None) -> Any:
    """A plotext pixel in `colour`, or without colour (the terminal's own) for None."""
    return plotext.pixel() if colour is None else plotext.pixel(foreground=colour)


class MapChart:
    """Draws `MapView`s with one private plotext figure, and keeps the last picture.

    `draw()` is the whole job: it returns the cached `ChartImage` when the view's instrument and data version,
    the size, the theme and the zoom are all unchanged, and builds a new one otherwise.
    """

    def __init__(self) -> None:
        # plotext 6 keeps one global figure (`plotext.figure`); a terminal object of our own gives this chart
        # a master figure nobody else touches, and lifting its size limit lets the figure be the pane's size.
        terminal = type(plotext.terminal)()
        terminal.limit(False, False)
        self._figure: Any = terminal._master
        self._figure.theme("colorless")
        self._figure.canvas("default")
        self._styles = _StyleCache()
        self._markers: dict[tuple[str, int | None], Any] = {}
        self._last: ChartImage | None = None
        self.builds = 0
        """How many pictures were built (cache misses), for tests and the status of the widget."""

    @property
    def last(self) -> ChartImage | None:
        """The last picture drawn, if any."""
        return self._last

    @staticmethod
    def key_for(
        view: MapView | None,
        width: int,
        height: int,
        theme: ChartTheme,
        zoom: float = 1.0,
    ) -> tuple[Any, ...]:
        """What a picture depends on: equal keys, equal pictures."""
        if view is None:
            return (None, None, width, height, theme.name, zoom)
        return (view.instrument, view.version, width, height, theme.name, zoom)

    def draw(
        self,
        view: MapView | None,
        width: int,
        height: int,
        theme: ChartTheme,
        zoom: float = 1.0,
    ) -> ChartImage:
        """The picture of `view` in a pane `width` x `height` (the last one when nothing changed)."""
        key = self.key_for(view, width, height, theme, zoom)
        if self._last is not None and self._last.key == key:
            return self._last
        self.builds += 1
        if view is None:
            image = self._notice(key, width, height, "waiting for data ...")
        elif width < MIN_WIDTH or height < MIN_HEIGHT:
            image = self._notice(key, width, height, "map: pane too small")
        else:
            image = self._build(key, view, width, height, theme)
        self._last = image
        return image

    def _notice(self, key: tuple[Any, ...], width: int, height: int, message: str) -> ChartImage:
        """A blank pane with one line of text in the middle, drawn without plotext (nothing to plot)."""
        blank = " " * max(0, width)
        plain = [blank] * max(0, height)
        if height > 0:
            plain[height // 2] = message[:width].center(width)
        strips = tuple(Strip([Segment(row)]).adjust_cell_length(width) for row in plain)
        return ChartImage(key, width, height, strips, tuple(plain), tuple(plain), 0, 0, None, 0)

    def _marker(self, glyph: str, colour: int | None) -> Any:
        """A plotext marker, made once per glyph and colour (making one costs kernel calls)."""
        marker = self._markers.get((glyph, colour))
        if marker is None:
            marker = plotext.marker(glyph, _pixel(colour))
            self._markers[(glyph, colour)] = marker
        return marker

    def _points(self, columns: IntArray, rows: IntArray, marker: Any, stems: bool) -> None:
        """Add one signal: a `marker` at each (column, row), filled to the zero line when `stems`."""
        xs = columns.astype(np.float64).tolist()
        signal = self._figure.signal(xs, rows.astype(np.float64).tolist(), marker=marker)
        if stems:
            # `signal.fillx()` does the same through a Python object per point; the kernel call is 5x cheaper.
            for index, x in enumerate(xs):
                signal._set_fill_point(index, x, 0.0, marker)
        # `figure.draw()` also scans every point's colour to advance plotext's colour cycler, which this chart
        # never uses (its markers carry their colours): 1.3 ms per 126 points, so the signal is added
        # directly.
        self._figure._signals._add(signal)

    def _build(
        self,
        key: tuple[Any, ...],
        view: MapView,
        width: int,
        height: int,
        theme: ChartTheme,
    ) -> ChartImage:
        figure = self._figure
        bar_columns = columns_for_width(width)
        canvas_rows = height - FRAME_ROWS
        realized_rows = int(min(8, max(1, round(canvas_rows * REALIZED_SHARE))))
        estimate_rows = canvas_rows - realized_rows - 1
        data = display_columns(view, bar_columns)
        mark_column = data.column_of(view.mark_px)

        figure.clear.data()
        figure.plot_size(width, height)
        x_max = float(bar_columns - 1)

        # Estimate: heights in eighths of a row, the strongest column full height; a non-zero column shows at
        # least an eighth, so a small cluster is never invisible.
        estimate = np.maximum(data.long_usd, data.short_usd)
        peak = float(estimate.max()) if data.count else 0.0
        eighths = np.zeros(data.count, dtype=np.int64)
        if peak > 0:
            eighths = np.ceil(estimate / peak * (estimate_rows * 8) - 1e-9).astype(np.int64)
        if not theme.colour or theme.ascii:
            # A shaded or ASCII glyph has no partial-block form, so these round to whole rows.
            eighths = ((eighths + 4) // 8) * 8
        long_side = data.long_usd >= data.short_usd
        full_rows = eighths // 8
        partial = eighths % 8
        cols = np.arange(data.count, dtype=np.int64)
        for is_long, glyph, colour in (
            (True, theme.long_glyph, theme.long_colour),
            (False, theme.short_glyph, theme.short_colour),
        ):
            side = long_side if is_long else ~long_side
            bodies = side & (full_rows > 0)
            if bodies.any():
                body = self._marker(glyph, colour)
                self._points(cols[bodies], full_rows[bodies], body, stems=True)
            for eighth in np.unique(partial[side & (partial > 0)]).tolist():
                tops = side & (partial == eighth)
                marker = self._marker(_EIGHTHS[eighth], colour)
                self._points(cols[tops], full_rows[tops] + 1, marker, stems=False)

        # Realized: hangs below the zero line, scaled to its own strongest column, in its own glyph and
        # colour.
        realized = data.realized_long_usd + data.realized_short_usd
        realized_peak = float(realized.max()) if data.count else 0.0
        if realized_peak > 0:
            depth = np.ceil(realized / realized_peak * realized_rows - 1e-9).astype(np.int64)
            shown = depth > 0
            marker = self._marker(theme.realized_glyph, theme.realized_colour)
            self._points(cols[shown], -depth[shown], marker, stems=True)

        zero = figure.segment((0.0, x_max), (0.0, 0.0), marker=plotext.line(0, _pixel(theme.axis_colour)))
        figure.draw(zero.density("full", scope="line"))
        if mark_column is not None:
            mark_line = figure.segment(
                (float(mark_column), float(mark_column)),
                (float(-realized_rows), float(estimate_rows)),
                marker=plotext.line(1, _pixel(theme.mark_colour)),
            )
            figure.draw(mark_line.density("full", scope="line"))

        tick_columns, tick_labels = price_ticks(data)
        mark_px = view.mark_px
        mark_text = mark_price_label(mark_px)
        mark_label = f"mark {mark_text}"
        figure.ruler("x").lim(0.0, x_max)
        figure.ruler("x").ticks([float(col) for col in tick_columns], tick_labels)
        figure.ruler("x", 1).lim(0.0, x_max)
        if mark_column is not None:
            figure.ruler("x", 1).ticks([float(mark_column)], [mark_label])
        else:
            figure.ruler("x", 1).ticks([x_max / 2], [f"{mark_label} (off the map)"])
        figure.ruler("y").lim(float(-realized_rows), float(estimate_rows))
        y_ticks = [value * estimate_rows for value, _ in Y_LABELS]
        figure.ruler("y").ticks(y_ticks, [label for _, label in Y_LABELS])
        figure.title(caption(width))

        ansi = figure.build().string()
        if theme.ascii:
            ansi = ansi.translate(_TO_ASCII).encode("ascii", "replace").decode("ascii")
        strips, rows = strips_from_ansi(ansi, width, self._styles)
        if len(strips) < height:
            blank = Strip.blank(width)
            strips.extend([blank] * (height - len(strips)))
            rows.extend([""] * (height - len(rows)))
        plain = tuple(_SGR.sub("", row) for row in rows[:height])
        first = Y_LABEL_WIDTH + 1  # after the y labels and the left edge of the frame
        return ChartImage(
            key=key,
            width=width,
            height=height,
            strips=tuple(strips[:height]),
            row_keys=tuple(rows[:height]),
            plain=plain,
            first_bar_column=first,
            bar_columns=bar_columns,
            mark_column=None if mark_column is None else first + mark_column,
            ansi_bytes=len(ansi.encode("utf-8")),
        )
