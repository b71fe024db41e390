"""Log-spaced price bins (design §4 step 6): a window of a global grid, so re-centring is an integer shift.

Bin `k` of the global grid covers prices `[exp(k·w), exp((k+1)·w))` with `w = ln(1 + bin_bps / 10 000)`. A
`LogGrid` is a window of `size` consecutive global bins starting at `first`. Every estimator array is indexed by
the window; moving the window by whole bins moves the arrays without touching a value, so re-centring keeps the
mass that stays in range exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def bin_log_width(bin_bps: float) -> float:
    """The width of one bin in natural-log price units, from its width in basis points."""
    if not bin_bps > 0:
        raise ValueError(f"a bin must be wider than 0 bps, not {bin_bps}")
    return math.log1p(bin_bps / 10_000.0)


@dataclass(frozen=True, slots=True)
class LogGrid:
    """A window of `size` bins of the global log grid, starting at global bin `first`."""

    bin_log: float
    """The width of one bin in natural-log price units."""
    first: int
    """The global index of the window's first (lowest) bin."""
    size: int
    """The number of bins in the window."""

    @classmethod
    def around(cls, px: float, bin_log: float, half_bins: int) -> LogGrid:
        """The window of `2·half_bins` bins whose middle is the bin holding `px`."""
        return cls(bin_log=bin_log, first=global_index(px, bin_log) - half_bins, size=2 * half_bins)

    def shifted(self, delta: int) -> LogGrid:
        """The same window moved up by `delta` bins (down when negative)."""
        return LogGrid(bin_log=self.bin_log, first=self.first + delta, size=self.size)

    def edges(self) -> FloatArray:
        """The `size + 1` bin edges, ascending."""
        return np.exp((self.first + np.arange(self.size + 1, dtype=np.float64)) * self.bin_log)

    def mids(self) -> FloatArray:
        """The geometric middle of every bin."""
        return np.exp((self.first + 0.5 + np.arange(self.size, dtype=np.float64)) * self.bin_log)

    def position(self, px: npt.ArrayLike) -> FloatArray:
        """The continuous position of prices in the window, in bins: bin `i` holds positions `[i, i + 1)`."""
        return np.asarray(np.log(np.asarray(px, dtype=np.float64)) / self.bin_log - self.first, dtype=np.float64)

    def index(self, px: npt.ArrayLike) -> IntArray:
        """The window index of the bin holding each price (may fall outside `[0, size)`)."""
        return np.floor(self.position(px)).astype(np.int64)

    def index_of(self, px: float) -> int:
        """The window index of the bin holding one price (may fall outside `[0, size)`)."""
        return math.floor(math.log(px) / self.bin_log) - self.first

    def px_of(self, position: float) -> float:
        """The price at a continuous window position (the inverse of `position`)."""
        return math.exp((self.first + position) * self.bin_log)


def global_index(px: float, bin_log: float) -> int:
    """The global grid index of the bin holding `px`."""
    return math.floor(math.log(px) / bin_log)


def shift_window(values: FloatArray, delta: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Move the last axis of `values` by `delta` bins (the window moves up by `delta`), in place.

    Returns (values, fell_below, fell_above): the totals over the last axis of what left the window through its
    low end and its high end. The vacated bins are zero.
    """
    size = values.shape[-1]
    lead = values.shape[:-1]
    if delta == 0:
        return values, np.zeros(lead), np.zeros(lead)
    if abs(delta) >= size:
        below = values.sum(axis=-1) if delta > 0 else np.zeros(lead)
        above = values.sum(axis=-1) if delta < 0 else np.zeros(lead)
        values[...] = 0.0
        return values, below, above
    if delta > 0:
        below = values[..., :delta].sum(axis=-1)
        values[..., :-delta] = values[..., delta:].copy()
        values[..., -delta:] = 0.0
        return values, below, np.zeros(lead)
    above = values[..., size + delta :].sum(axis=-1)
    values[..., -delta:] = values[..., : size + delta].copy()
    values[..., :-delta] = 0.0
    return values, np.zeros(lead), above


def regroup(values: FloatArray, start: int, stop: int, n_out: int) -> tuple[FloatArray, IntArray]:
    """Sum the bins `start..stop` (exclusive) of the last axis into `n_out` contiguous groups of whole bins.

    Returns (sums, bounds): `sums[..., j]` is the total of bins `bounds[j]..bounds[j + 1]`; `bounds` has
    `n_out + 1` ascending window indices from `start` to `stop`. Groups differ in width by at most one bin.
    """
    count = stop - start
    if count <= 0 or n_out <= 0:
        raise ValueError("regrouping needs at least one bin and one group")
    n_out = min(n_out, count)
    bounds = start + np.floor(np.arange(n_out + 1) * count / n_out).astype(np.int64)
    sums = np.add.reduceat(values[..., start:stop], bounds[:-1] - start, axis=-1)
    return np.asarray(sums, dtype=np.float64), bounds
