"""The liquidation map pane: a Textual widget that shows the latest `MapView` as drawn by `liqtui.ui.chart`.

The app hands the pane a view on its refresh tick (`update_view`); the pane redraws only when the picture
would differ (the view's instrument or data version, the pane's size, the theme, the zoom), and at most
`max_hz` times a second for data changes (design §2: "the chart only when its data version, size or theme
changed, and at most ~2 Hz"). A resize or a theme change redraws at once, since the old picture no longer
fits.

It is a Line API widget: `render_line` serves rows of the cached picture, and after a redraw only the rows
whose text changed are repainted, which keeps the bytes sent over SSH to what actually moved.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.events import Resize
from textual.geometry import Region
from textual.strip import Strip
from textual.theme import Theme
from textual.timer import Timer
from textual.widget import Widget

from liqtui.model.views import MapView
from liqtui.ui.chart import ChartImage, ChartTheme, MapChart, columns_for_width, theme_for


class LiqMap(Widget):
    """The liquidation map of the instrument on screen, redrawn only when it changed and at most `max_hz`."""

    DEFAULT_CSS = """
    LiqMap {
        width: 1fr;
        height: 1fr;
    }
    """

    def __init__(
        self,
        *,
        max_hz: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        ascii_only: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """Create the pane.

        Args:
            max_hz: The most redraws per second for data changes (`[ui] map_max_hz`).
            clock: Seconds on a monotonic clock; tests pass their own.
            ascii_only: Draw with ASCII only (the terminal's encoding has no block or box-drawing characters).
            name: The widget's name.
            id: The widget's id.
            classes: The widget's CSS classes.
        """
        super().__init__(name=name, id=id, classes=classes)
        self._chart = MapChart()
        self._view: MapView | None = None
        self._zoom = 1.0
        self._image: ChartImage | None = None
        self._min_interval_s = 1.0 / max_hz
        self._clock = clock
        self.ascii_only = ascii_only
        self._last_redraw_s = -float("inf")
        self._pending: Timer | None = None

    @property
    def rebuild_count(self) -> int:
        """How many pictures were built so far (each costs milliseconds; equal data must not add any)."""
        return self._chart.builds

    @property
    def image(self) -> ChartImage | None:
        """The picture on screen, None before the first one."""
        return self._image

    @property
    def view(self) -> MapView | None:
        """The latest view handed to the pane (it may not be drawn yet, when redraws are being paced)."""
        return self._view

    def columns_for_bins(self) -> int:
        """How many bar columns the pane has now: ask the estimator for at most this many bins.

        0 before the pane has a size (before its first layout).
        """
        return columns_for_width(self.size.width)

    def chart_theme(self) -> ChartTheme:
        """The chart theme for the app's theme and `NO_COLOR`."""
        return theme_for(dark=self.app.current_theme.dark, no_color=self.app.no_color, ascii_only=self.ascii_only)

    def update_view(self, view: MapView | None, *, zoom: float = 1.0) -> None:
        """Show `view` (None: waiting for data); `zoom` is the app's zoom level, part of the picture's key.

        Cheap when nothing changed: the pane compares what the picture depends on and returns.
        """
        shown = self._view
        switched = (
            zoom != self._zoom
            or (view is not None) != (shown is not None)
            or (view is not None and shown is not None and view.instrument != shown.instrument)
        )
        self._view = view
        self._zoom = zoom
        if not self.is_mounted or self._current_image_fits():
            return
        if switched:
            # Another instrument or zoom is the person's own key press: draw it now, pacing is for data updates.
            if self._pending is not None:
                self._pending.stop()
                self._pending = None
            self._redraw(paced=True)  # drawn at once, and counted: the next data update waits its turn
            return
        wait_s = self._last_redraw_s + self._min_interval_s - self._clock()
        if wait_s <= 0:
            self._redraw(paced=True)
        elif self._pending is None:
            self._pending = self.set_timer(wait_s, self._on_pacing_timer)

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._on_theme_changed)

    def on_resize(self, event: Resize) -> None:
        del event
        self._redraw()

    def _on_theme_changed(self, theme: Theme) -> None:
        del theme
        self._redraw()

    def _on_pacing_timer(self) -> None:
        self._pending = None
        self._redraw(paced=True)

    def _current_image_fits(self) -> bool:
        """True when the picture on screen is the one the current view, size, theme and zoom would give."""
        if self._image is None:
            return False
        width, height = self.size
        return self._image.key == MapChart.key_for(self._view, width, height, self.chart_theme(), self._zoom)

    def _redraw(self, *, paced: bool = False) -> None:
        """Draw the current view (free when nothing changed: the chart caches) and repaint what moved.

        Only `paced` redraws (data changes) count towards the `max_hz` limit; a resize or a theme change must
        be drawn at once whatever the pace.
        """
        width, height = self.size
        if width <= 0 or height <= 0:
            return
        previous = self._image
        image = self._chart.draw(self._view, width, height, self.chart_theme(), self._zoom)
        if image is previous:
            return
        self._image = image
        if paced:
            self._last_redraw_s = self._clock()
        if previous is None or (previous.width, previous.height) != (width, height):
            self.refresh()
            return
        # Same size: repaint only the rows whose text changed (a new theme changes them all).
        for y, (old_row, new_row) in enumerate(zip(previous.row_keys, image.row_keys, strict=True)):
            if old_row != new_row:
                self.refresh(Region(0, y, width, 1))

    def render_line(self, y: int) -> Strip:
        """Row `y` of the picture (blank until the first picture fits the pane)."""
        image = self._image
        width = self.size.width
        # A Line API widget paints its own background and text colour: Textual puts the strip on screen as it
        # is.
        base_style = self.rich_style
        if image is None or image.width != width or not 0 <= y < len(image.strips):
            return Strip.blank(width, base_style)
        return image.strips[y].apply_style(base_style)
