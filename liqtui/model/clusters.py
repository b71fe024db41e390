"""Clusters (design §4 step 8): adjacent strong bins of one side merged into ranked levels.

One pure function, `find_clusters`, used for the estimate, for the score and, in the benchmarks, for the
simulator's truth, so both sides of a comparison are clustered the same way.

A bin is strong when its lightly smoothed mass stands above its neighbourhood (a wide moving average) and is not
negligible next to the side's heaviest bin, so a secondary level counts and thin tails do not; strong bins with at
most a one-bin gap between them form a run; a run with two humps separated by a deep valley is split there, and a
run wider than `max_width_bins` is split at its lowest points until no piece is, so a long ridge of small levels
does not swallow a real peak next to it, and a level on screen is a level, not a region.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from liqtui.model.types import Side
from liqtui.model.views import Cluster

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ClusterRule:
    """How strong bins are found and merged; the defaults are the estimator's."""

    background_bins: int = 21
    """The width of the moving average a bin is compared with (odd)."""
    prominence: float = 1.0
    """A bin is strong when its smoothed mass is at least this many times its neighbourhood's average..."""
    floor_share: float = 0.02
    """...and at least this share of the side's heaviest smoothed bin."""
    max_width_bins: int = 10
    """No cluster is wider than this many bins (a wider run is split at its lowest points)."""
    max_gap_bins: int = 1
    """Strong bins separated by at most this many weak bins belong to the same run."""
    valley_ratio: float = 0.5
    """A run is split at a valley lower than this share of the smaller of the two humps beside it."""
    smooth_bins: int = 3
    """The width of the box filter applied before deciding which bins are strong (odd; 1 turns it off)."""


DEFAULT_RULE = ClusterRule()


def _smooth(mass: FloatArray, width: int) -> FloatArray:
    width = min(width, mass.size - (1 - mass.size % 2))  # odd, and no wider than the bins
    if width <= 1:
        return mass
    kernel = np.full(width, 1.0 / width)
    return np.convolve(mass, kernel, mode="same")


def _runs(strong: npt.NDArray[np.bool_], max_gap: int) -> list[tuple[int, int]]:
    """(start, stop) of every run of strong bins, bridging gaps of up to `max_gap` weak bins."""
    idx = np.flatnonzero(strong)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > max_gap + 1)
    starts = np.concatenate(([idx[0]], idx[breaks + 1]))
    stops = np.concatenate((idx[breaks], [idx[-1]])) + 1
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


def _split_at_valleys(smoothed: FloatArray, start: int, stop: int, ratio: float) -> list[tuple[int, int]]:
    """Split `start..stop` recursively at its deepest valley while that valley is deep enough."""
    segment = smoothed[start:stop]
    if segment.size < 3:
        return [(start, stop)]
    # The deepest valley between the highest point and the highest point on the other side of it.
    peak = int(np.argmax(segment))
    best: tuple[int, float] | None = None
    for lo, hi in ((0, peak), (peak + 1, segment.size)):
        if hi - lo < 2:
            continue
        side = segment[lo:hi]
        other_peak = lo + int(np.argmax(side))
        a, b = sorted((peak, other_peak))
        if b - a < 2:
            continue
        valley = a + 1 + int(np.argmin(segment[a + 1 : b]))
        depth = float(segment[valley]) / max(min(float(segment[a]), float(segment[b])), 1e-300)
        if depth < ratio and (best is None or depth < best[1]):
            best = (valley, depth)
    if best is None:
        return [(start, stop)]
    cut = start + best[0]
    return [
        *_split_at_valleys(smoothed, start, cut, ratio),
        *_split_at_valleys(smoothed, cut + 1, stop, ratio),
    ]


def _split_wide(smoothed: FloatArray, start: int, stop: int, max_width: int) -> list[tuple[int, int]]:
    """Split `start..stop` at its lowest interior point until no piece is wider than `max_width` bins."""
    if stop - start <= max_width or stop - start < 3:
        return [(start, stop)]
    cut = start + 1 + int(np.argmin(smoothed[start + 1 : stop - 1]))
    return [*_split_wide(smoothed, start, cut, max_width), *_split_wide(smoothed, cut + 1, stop, max_width)]


def find_clusters(
    px_low: FloatArray,
    px_high: FloatArray,
    mass: FloatArray,
    side: Side,
    mark_px: float,
    *,
    min_share: float,
    rule: ClusterRule = DEFAULT_RULE,
) -> list[Cluster]:
    """The clusters of one side's binned mass, strongest first.

    `px_low`/`px_high` are contiguous ascending bin edges, `mass` the side's notional per bin (≥ 0). A cluster
    is listed when it holds at least `min_share` of the side's total over these bins.
    """
    total = float(mass.sum())
    if not total > 0.0:
        return []
    smoothed = _smooth(mass, rule.smooth_bins)
    background = _smooth(mass, rule.background_bins)
    strong = (smoothed >= rule.prominence * background) & (smoothed >= rule.floor_share * float(smoothed.max()))
    strong &= mass > 0.0
    clusters: list[Cluster] = []
    cumulative = np.concatenate(([0.0], np.cumsum(mass)))
    for run_start, run_stop in _runs(strong, rule.max_gap_bins):
        pieces = [
            piece
            for valley_piece in _split_at_valleys(smoothed, run_start, run_stop, rule.valley_ratio)
            for piece in _split_wide(smoothed, *valley_piece, rule.max_width_bins)
        ]
        for start, stop in pieces:
            notional = float(cumulative[stop] - cumulative[start])
            share = notional / total
            if notional <= 0.0 or share < min_share:
                continue
            peak = start + int(np.argmax(mass[start:stop]))
            px_peak = float(np.sqrt(px_low[peak] * px_high[peak]))
            clusters.append(
                Cluster(
                    side=side,
                    px_low=float(px_low[start]),
                    px_high=float(px_high[stop - 1]),
                    px_peak=px_peak,
                    notional_usd=notional,
                    distance_pct=(px_peak / mark_px - 1.0) * 100.0,
                    share=share,
                )
            )
    clusters.sort(key=lambda c: c.notional_usd, reverse=True)
    return clusters
