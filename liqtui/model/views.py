"""Immutable snapshots the screen and the JSON outputs read (design §2 "views"). Pure data, no Textual.

The estimator produces them; the UI panes, `liqtui snapshot --json` and the benchmarks consume them. A view is
built only for what is visible, on the UI's timer, never per frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from liqtui.model.types import Side

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class MapView:
    """The liquidation map of one instrument over a price range, binned for display or for JSON.

    All arrays have the same length; bins are contiguous and ascending (`px_high[i] == px_low[i + 1]`).
    """

    instrument: str
    ts_ms: int
    mark_px: float
    px_low: FloatArray
    px_high: FloatArray
    long_usd: FloatArray
    """Estimated notional of long positions that would be liquidated in each bin (below the mark, mostly)."""
    short_usd: FloatArray
    """Estimated notional of short positions that would be liquidated in each bin (above the mark, mostly)."""
    realized_long_usd: FloatArray
    """Notional of long liquidations that actually happened in each bin (recent window)."""
    realized_short_usd: FloatArray
    """Notional of short liquidations that actually happened in each bin (recent window)."""
    version: int
    """The estimator's data version when the view was built: equal versions mean equal pictures."""

    @property
    def px_mid(self) -> FloatArray:
        return (self.px_low + self.px_high) / 2.0


@dataclass(frozen=True, slots=True)
class Cluster:
    """Adjacent strong bins of one side merged into one level (design §4 step 8)."""

    side: Side
    px_low: float
    px_high: float
    px_peak: float
    notional_usd: float
    distance_pct: float
    """Signed distance of the peak from the mark, in percent of the mark."""
    share: float
    """The cluster's share of its side's total estimated notional (0..1)."""

    def as_json(self) -> dict[str, Any]:
        """The design §7.3 shape of one cluster."""
        return {
            "side": self.side.name,
            "px_low": self.px_low,
            "px_high": self.px_high,
            "px_peak": self.px_peak,
            "notional_usd": self.notional_usd,
            "distance_pct": self.distance_pct,
            "share": self.share,
        }


@dataclass(frozen=True, slots=True)
class Score:
    """How well the map predicted the liquidations that happened (design §4 "Score")."""

    checked: int
    """Realized liquidations checked against the estimate as it stood just before each one."""
    hits: int
    """Of those, how many landed in a predicted cluster of their side."""
    uniform_hit_rate: float
    """The hit rate a map with the same cluster widths placed uniformly over the range would get."""
    mass_near: float
    """Mean share of the side's estimated mass within ±0.25 % of each realized liquidation."""

    @property
    def hit_rate(self) -> float:
        return self.hits / self.checked if self.checked else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "hits": self.hits,
            "hit_rate": self.hit_rate,
            "uniform_hit_rate": self.uniform_hit_rate,
            "mass_near": self.mass_near,
        }
