"""The map keeps score of itself (design §4 "Score"): realized liquidations checked against the estimate.

`ScoreKeeper` holds the running figures of one instrument; the pure functions below decide, for a batch of
liquidations of one side, whether each landed in a predicted cluster, how much of the side's estimated mass lay
near it, and what hit rate a uniform map with the same cluster widths would have had.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from liqtui.model.views import Cluster, Score

FloatArray = npt.NDArray[np.float64]

NEAR_FRACTION = 0.0025
"""A liquidation's neighbourhood for the `mass_near` figure: ±0.25 % of its price."""


class ScoreKeeper:
    """The running score of one instrument."""

    __slots__ = ("checked", "hits", "mass_near_sum", "uniform_sum")

    def __init__(self, checked: int = 0, hits: int = 0, uniform_sum: float = 0.0, mass_near_sum: float = 0.0):
        self.checked = checked
        """Realized liquidations checked."""
        self.hits = hits
        """Of those, the ones that landed in a predicted cluster of their side."""
        self.uniform_sum = uniform_sum
        """Σ of the uniform map's hit probability at each check."""
        self.mass_near_sum = mass_near_sum
        """Σ of the side's estimated mass share within ±0.25 % of each liquidation."""

    def record(self, hits: npt.NDArray[np.bool_], uniform_rate: float, mass_near: FloatArray) -> None:
        """Add one batch of checks of one side."""
        self.checked += int(hits.size)
        self.hits += int(np.count_nonzero(hits))
        self.uniform_sum += uniform_rate * hits.size
        self.mass_near_sum += float(mass_near.sum())

    def score(self) -> Score:
        """The figures as the views show them."""
        n = self.checked
        return Score(
            checked=n,
            hits=self.hits,
            uniform_hit_rate=self.uniform_sum / n if n else 0.0,
            mass_near=self.mass_near_sum / n if n else 0.0,
        )

    def as_array(self) -> FloatArray:
        """The figures as one array, for the saved state."""
        return np.array([self.checked, self.hits, self.uniform_sum, self.mass_near_sum], dtype=np.float64)

    @classmethod
    def from_array(cls, values: FloatArray) -> ScoreKeeper:
        """The keeper `as_array` saved."""
        return cls(int(values[0]), int(values[1]), float(values[2]), float(values[3]))


def cluster_hits(px: FloatArray, clusters: Sequence[Cluster], bin_factor: float) -> npt.NDArray[np.bool_]:
    """Whether each price lies within a cluster's range widened by one bin (`bin_factor` = e^bin_log)."""
    if not clusters or px.size == 0:
        return np.zeros(px.shape, dtype=np.bool_)
    low = np.array([c.px_low for c in clusters]) / bin_factor
    high = np.array([c.px_high for c in clusters]) * bin_factor
    inside = (px[:, None] >= low[None, :]) & (px[:, None] <= high[None, :])
    return np.asarray(inside.any(axis=1), dtype=np.bool_)


def uniform_hit_rate(clusters: Sequence[Cluster], range_low: float, range_high: float, bin_factor: float) -> float:
    """The share of `[range_low, range_high]` (in log price) covered by the clusters widened by one bin.

    A liquidation placed uniformly at random over the range lands in a cluster with this probability.
    """
    if not clusters or not range_high > range_low:
        return 0.0
    spans = sorted((max(c.px_low / bin_factor, range_low), min(c.px_high * bin_factor, range_high)) for c in clusters)
    covered = 0.0
    cur_lo, cur_hi = spans[0]
    for lo, hi in spans[1:]:
        if lo > cur_hi:
            covered += np.log(cur_hi / cur_lo) if cur_hi > cur_lo else 0.0
            cur_lo, cur_hi = lo, hi
        else:
            cur_hi = max(cur_hi, hi)
    covered += np.log(cur_hi / cur_lo) if cur_hi > cur_lo else 0.0
    return float(covered / np.log(range_high / range_low))


def mass_near(px: FloatArray, edges: FloatArray, mass: FloatArray, fraction: float = NEAR_FRACTION) -> FloatArray:
    """The share of `mass` (binned by `edges`) within ±`fraction` of each price; bins count by overlap."""
    total = float(mass.sum())
    if px.size == 0 or not total > 0.0:
        return np.zeros(px.shape)
    cumulative = np.concatenate(([0.0], np.cumsum(mass)))
    lo = px * (1.0 - fraction)
    hi = px * (1.0 + fraction)
    return (_mass_below(hi, edges, mass, cumulative) - _mass_below(lo, edges, mass, cumulative)) / total


def _mass_below(px: FloatArray, edges: FloatArray, mass: FloatArray, cumulative: FloatArray) -> FloatArray:
    """The mass below each price, with the bin holding the price counted by the log share below it."""
    n = mass.size
    i = np.clip(np.searchsorted(edges, px, side="right") - 1, 0, n - 1)
    frac = np.clip(np.log(px / edges[i]) / np.log(edges[i + 1] / edges[i]), 0.0, 1.0)
    return np.asarray(cumulative[i] + frac * mass[i], dtype=np.float64)
