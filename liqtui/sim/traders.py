"""The simulated traders: their open positions (numpy columns per instrument, `POSITION_DTYPE` rows in and
out) and how new positions are drawn (side, size, leverage).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from liqtui.sim.scenario import TraderSpec

POSITION_DTYPE = np.dtype(
    [
        ("side", "i1"),
        ("qty_base", "<f8"),
        ("entry_px", "<f8"),
        ("leverage", "<f8"),
        ("margin_usd", "<f8"),
        ("liq_px", "<f8"),
        ("bankruptcy_px", "<f8"),
        ("opened_ms", "<i8"),
    ]
)
"""One open isolated position: side (+1 long, -1 short), size in base units, entry price, leverage, the margin
in quote currency (its isolated wallet), the exact liquidation price by its exchange's formula, the bankruptcy
price, and when it was opened (wall-clock ms)."""


class PositionBook:
    """The open positions of one instrument, as one contiguous numpy column per `POSITION_DTYPE` field.

    Columns rather than one structured array because the hot scans (liquidation crossings, sums) read one or
    two fields of every row, and a contiguous column is several times faster to scan than a strided field.
    Removal moves rows from the end into the holes, so it costs the number of removed rows, not the book's
    size. `long_base` and `short_base` are running sums of open size per side.
    """

    __slots__ = ("_cols", "_n", "long_base", "max_long_liq_px", "min_short_liq_px", "short_base")

    def __init__(self, capacity: int = 4096) -> None:
        self._cols: dict[str, npt.NDArray[Any]] = {
            name: np.zeros(capacity, dtype=POSITION_DTYPE.fields[name][0])  # type: ignore[index]
            for name in POSITION_DTYPE.names or ()
        }
        self._n = 0
        self.long_base = 0.0
        """Open long size, base units."""
        self.short_base = 0.0
        """Open short size, base units."""
        self.max_long_liq_px = -np.inf
        """No long is liquidated while the mark stays above this (an upper bound, refreshed on each scan)."""
        self.min_short_liq_px = np.inf
        """No short is liquidated while the mark stays below this (a lower bound, refreshed on each scan)."""

    def __len__(self) -> int:
        return self._n

    def column(self, name: str) -> npt.NDArray[Any]:
        """One field of the open positions (a view, valid until the next change)."""
        return self._cols[name][: self._n]

    @property
    def rows(self) -> npt.NDArray[Any]:
        """The open positions as a `POSITION_DTYPE` array (a copy)."""
        rows = np.zeros(self._n, dtype=POSITION_DTYPE)
        for name, col in self._cols.items():
            rows[name] = col[: self._n]
        return rows

    def add(self, new: npt.NDArray[Any]) -> None:
        """Opens positions (rows of `POSITION_DTYPE`)."""
        count = len(new)
        if not count:
            return
        capacity = len(self._cols["side"])
        if self._n + count > capacity:
            while capacity < self._n + count:
                capacity *= 2
            for name, col in self._cols.items():
                grown = np.zeros(capacity, dtype=col.dtype)
                grown[: self._n] = col[: self._n]
                self._cols[name] = grown
        for name, col in self._cols.items():
            col[self._n : self._n + count] = new[name]
        self._n += count
        longs = new["side"] > 0
        self.long_base += float(new["qty_base"][longs].sum())
        self.short_base += float(new["qty_base"][~longs].sum())
        if longs.any():
            self.max_long_liq_px = max(self.max_long_liq_px, float(new["liq_px"][longs].max()))
        if not longs.all():
            self.min_short_liq_px = min(self.min_short_liq_px, float(new["liq_px"][~longs].min()))

    def remove(self, index: npt.NDArray[np.intp]) -> npt.NDArray[Any]:
        """Closes the positions at `index` (unique, ascending) and returns them (`POSITION_DTYPE`)."""
        removed = np.zeros(len(index), dtype=POSITION_DTYPE)
        if not len(index):
            return removed
        new_n = self._n - len(index)
        holes = index[index < new_n]
        tail = np.ones(self._n - new_n, dtype=bool)
        tail[index[index >= new_n] - new_n] = False
        movers = np.nonzero(tail)[0] + new_n
        for name, col in self._cols.items():
            removed[name] = col[index]
            col[holes] = col[movers]
        self._n = new_n
        longs = removed["side"] > 0
        self.long_base -= float(removed["qty_base"][longs].sum())
        self.short_base -= float(removed["qty_base"][~longs].sum())
        if self._n == 0:
            self.long_base = self.short_base = 0.0
        return removed

    def crossed(self, low_px: float, high_px: float) -> npt.NDArray[np.intp]:
        """The positions a mark price that ranged over [low_px, high_px] liquidates: longs whose liquidation
        price is at or above the low, shorts whose liquidation price is at or below the high."""
        if low_px > self.max_long_liq_px and high_px < self.min_short_liq_px:
            return np.zeros(0, dtype=np.intp)
        longs = self.column("side") > 0
        liq = self.column("liq_px")
        hit = np.where(longs, liq >= low_px, liq <= high_px)
        # Refresh the bounds over the survivors so quiet steps skip the scan again.
        self.max_long_liq_px = float(np.where(longs & ~hit, liq, -np.inf).max(initial=-np.inf))
        self.min_short_liq_px = float(np.where(~longs & ~hit, liq, np.inf).min(initial=np.inf))
        return np.flatnonzero(hit)

    def reprice(
        self,
        margin_usd: npt.NDArray[np.float64],
        liq_px: npt.NDArray[np.float64],
        bankruptcy_px: npt.NDArray[np.float64],
    ) -> None:
        """Replaces every open position's margin, liquidation and bankruptcy price (after funding)."""
        n = self._n
        self._cols["margin_usd"][:n] = margin_usd
        self._cols["liq_px"][:n] = liq_px
        self._cols["bankruptcy_px"][:n] = bankruptcy_px
        longs = self.column("side") > 0
        self.max_long_liq_px = float(np.where(longs, liq_px, -np.inf).max(initial=-np.inf))
        self.min_short_liq_px = float(np.where(longs, np.inf, liq_px).min(initial=np.inf))

    def exact_sums(self) -> tuple[float, float]:
        """Open long and short size recomputed from the rows (also resets the running sums to them)."""
        longs = self.column("side") > 0
        qty = self.column("qty_base")
        self.long_base = float(np.sum(qty, where=longs))
        self.short_base = float(np.sum(qty, where=~longs))
        return self.long_base, self.short_base


class TraderDraws:
    """Draws the attributes of new positions from a scenario's `TraderSpec`."""

    __slots__ = ("_lev_cdf", "_lev_values", "spec")

    def __init__(self, spec: TraderSpec) -> None:
        self.spec = spec
        weights = np.asarray(spec.leverage_weights, dtype=np.float64)
        self._lev_values = np.asarray(spec.leverage_values, dtype=np.float64)
        self._lev_cdf = np.cumsum(weights / weights.sum())

    def leverage(self, rng: np.random.Generator, count: int) -> npt.NDArray[np.float64]:
        """Leverages from the scenario's mix."""
        pick = np.searchsorted(self._lev_cdf, rng.random(count), side="right")
        return np.asarray(self._lev_values[np.minimum(pick, len(self._lev_values) - 1)], dtype=np.float64)

    def notional_usd(self, rng: np.random.Generator, count: int, scale: float) -> npt.NDArray[np.float64]:
        """Position notionals: a log-normal body with a Pareto tail of whales, capped at `size_max_usd`."""
        spec = self.spec
        body = spec.size_median_usd * scale * np.exp(spec.size_sigma * rng.standard_normal(count))
        whale = rng.random(count) < spec.whale_share
        if whale.any():
            tail_start = spec.size_median_usd * scale * np.exp(2.0 * spec.size_sigma)
            pareto = tail_start * (1.0 - rng.random(int(whale.sum()))) ** (-1.0 / spec.whale_alpha)
            body[whale] = pareto
        return np.asarray(np.minimum(body, spec.size_max_usd), dtype=np.float64)

    def sides(self, rng: np.random.Generator, count: int, p_long: float) -> npt.NDArray[np.int8]:
        """+1 (long) with probability `p_long`, else -1."""
        return np.where(rng.random(count) < p_long, 1, -1).astype(np.int8)
