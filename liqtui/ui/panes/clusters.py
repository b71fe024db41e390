"""The cluster list: the strongest estimated liquidation levels, strongest first (design §4 step 8, §6).

One row per cluster: the side (always the word LONG or SHORT, so nothing depends on colour), its price range,
its peak's distance from the mark, its estimated notional and a bar relative to the strongest cluster listed.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

from liqtui.model.types import Side
from liqtui.model.views import Cluster
from liqtui.ui import fmt

SIDE_STYLES = {Side.LONG: "green", Side.SHORT: "red"}
"""Colours of the two sides; the words LONG and SHORT and the mark's position carry the same meaning."""

_EIGHTHS = " ▏▎▍▌▋▊▉"
"""Partial blocks for the end of a horizontal bar, by eighths of a cell (index 0 unused)."""

MAX_BAR_CELLS = 24
"""The longest bar, in cells (wider panes leave space instead of stretching the bar)."""


def relative_bar(fraction: float, cells: int, *, ascii_only: bool = False) -> str:
    """A bar `fraction` (0..1) of `cells` long, to an eighth of a cell (whole cells of `#` in ASCII)."""
    if cells <= 0:
        return ""
    fraction = min(1.0, max(0.0, fraction))
    if ascii_only:
        return "#" * max(1 if fraction > 0 else 0, round(fraction * cells))
    eighths = round(fraction * cells * 8)
    if fraction > 0:
        eighths = max(1, eighths)
    full, rest = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[rest] if rest else "")


def cluster_text(
    clusters: Sequence[Cluster],
    decimals: int,
    width: int,
    height: int,
    *,
    ascii_only: bool = False,
) -> Text:
    """The list as it is drawn in a `width` x `height` pane: a header row, then as many clusters as fit.

    Prices have `decimals` decimals (see `range_decimals`).
    """
    text = Text(no_wrap=True, overflow="crop")
    if not clusters:
        text.append("no clusters yet\n(the estimate builds as\nopen interest changes)", style="dim")
        return text
    ranges = [_price_range(c, decimals) for c in clusters]
    range_width = max(11, *(len(r) for r in ranges))
    dists = [fmt.pct(c.distance_pct) for c in clusters]
    sizes = [fmt.usd(c.notional_usd) for c in clusters]
    dist_width = max(5, *(len(d) for d in dists))
    size_width = max(9, *(len(s) for s in sizes))
    used = 5 + 1 + range_width + 1 + dist_width + 1 + size_width + 1
    bar_cells = min(MAX_BAR_CELLS, max(0, width - used))
    strongest = max(c.notional_usd for c in clusters) or 1.0

    header = f"{'side':<5} {'price range':<{range_width}} {'dist':>{dist_width}} {'est. size':>{size_width}}"
    text.append(header, style="bold")
    for cluster, price_range, dist, size in list(zip(clusters, ranges, dists, sizes, strict=True))[
        : max(0, height - 1)
    ]:
        style = SIDE_STYLES[cluster.side]
        text.append("\n")
        text.append(f"{cluster.side.name:<5}", style=f"bold {style}")
        text.append(f" {price_range:<{range_width}} {dist:>{dist_width}} {size:>{size_width}} ")
        text.append(relative_bar(cluster.notional_usd / strongest, bar_cells, ascii_only=ascii_only), style=style)
    return text


def range_decimals(mark_px: float | None, clusters: Sequence[Cluster]) -> int:
    """Decimals for cluster prices: one fewer than the mark's, since a cluster spans bins of several bps."""
    reference = mark_px if mark_px else (clusters[0].px_peak if clusters else 0.0)
    return max(0, fmt.price_decimals(reference) - 1)


def _price_range(cluster: Cluster, decimals: int) -> str:
    low = fmt.price(cluster.px_low, decimals)
    high = fmt.price(cluster.px_high, decimals)
    return low if low == high else f"{low}-{high}"


class ClusterList(Widget):
    """The strongest estimated liquidation levels of what is on screen."""

    DEFAULT_CSS = """
    ClusterList {
        height: 1fr;
        text-wrap: nowrap;
        text-overflow: clip;
    }
    """

    def __init__(self, *, ascii_only: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ascii_only = ascii_only
        """Draw bars with `#` (for a terminal without UTF-8)."""
        self._clusters: tuple[Cluster, ...] = ()
        self._decimals = 0

    def show(self, clusters: Sequence[Cluster], mark_px: float | None) -> None:
        """Show these clusters (prices to the precision `mark_px` calls for); repaints only on a change."""
        data = tuple(clusters)
        decimals = range_decimals(mark_px, data)
        if data == self._clusters and decimals == self._decimals:
            return
        self._clusters = data
        self._decimals = decimals
        self.refresh()

    @property
    def clusters(self) -> tuple[Cluster, ...]:
        """The clusters shown now."""
        return self._clusters

    def render(self) -> Text:
        return cluster_text(
            self._clusters, self._decimals, self.size.width, self.size.height, ascii_only=self.ascii_only
        )
