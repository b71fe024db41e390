"""What the screen shows: which instrument (or which asset across exchanges) and how far either side of the mark.

Pure: no Textual. Every key that changes what is shown maps to one method here that returns a new `Selection`,
so the key logic is tested without a screen. The app holds one `Selection`; switching changes only what the panes
read, never what streams.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from liqtui.model.types import Exchange, asset_of, parse_instrument_key

ZOOM_LEVELS_PCT = (1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 30.0)
"""The map's half-ranges, in percent of the mark, that `+` and `-` step through."""

DEFAULT_RANGE_PCT = 5.0
"""The half-range shown at start (design §6: "±5%")."""

_EXCHANGE_ORDER = {exchange.value: rank for rank, exchange in enumerate(Exchange)}
"""binance, bybit, okx: the order `e` cycles through."""


def exchange_of(key: str) -> str:
    """The exchange part of an instrument name: `binance` for binance:BTCUSDT."""
    return key.partition(":")[0]


def find_matches(watchlist: Sequence[str], query: str) -> list[int]:
    """The watchlist positions whose name holds every word of `query` (case does not matter), in list order.

    `eth` finds every ETH instrument, `bybit eth` the one on Bybit; an empty query finds them all.
    """
    words = query.lower().split()
    return [index for index, key in enumerate(watchlist) if all(word in key.lower() for word in words)]


@dataclass(frozen=True, slots=True)
class Selection:
    """The instrument on screen (or one asset aggregated across its exchanges) and the map's price range."""

    watchlist: tuple[str, ...]
    """The watched instruments, in the order the keys 1-9 and `[` / `]` walk them."""
    index: int = 0
    """The watchlist position on screen."""
    aggregate: bool = False
    """Whether the screen sums the asset over every watched exchange instead of showing one instrument."""
    range_pct: float = DEFAULT_RANGE_PCT
    """The map covers this many percent either side of the mark."""
    max_range_pct: float = ZOOM_LEVELS_PCT[-1]
    """The widest half-range the estimator keeps bins for; zooming out stops there."""

    def __post_init__(self) -> None:
        if not self.watchlist:
            raise ValueError("a Selection needs at least one instrument")
        if not 0 <= self.index < len(self.watchlist):
            raise ValueError(f"index {self.index} is outside the watchlist of {len(self.watchlist)}")

    @classmethod
    def start(cls, watchlist: Sequence[str], max_range_pct: float) -> Selection:
        """The first instrument of the watchlist at the default range (or the widest allowed, if narrower)."""
        return cls(tuple(watchlist), range_pct=min(DEFAULT_RANGE_PCT, max_range_pct), max_range_pct=max_range_pct)

    @property
    def key(self) -> str:
        """The instrument at the selected position."""
        return self.watchlist[self.index]

    @property
    def asset(self) -> str:
        """The base asset of the selected instrument."""
        return asset_of(self.key)

    @property
    def keys(self) -> tuple[str, ...]:
        """The instruments the panes read: the selected one, or every watched instrument of its asset."""
        if self.aggregate:
            return tuple(self.watchlist[i] for i in self.siblings())
        return (self.key,)

    @property
    def title(self) -> str:
        """The name of what is on screen: `binance:BTCUSDT`, or `BTC all exchanges`."""
        if self.aggregate:
            return f"{self.asset} all exchanges"
        return self.key

    def siblings(self) -> list[int]:
        """The watchlist positions of the selected asset's instruments, in exchange order (binance, bybit, okx)."""
        asset = self.asset
        same = [i for i, key in enumerate(self.watchlist) if asset_of(key) == asset]
        return sorted(same, key=lambda i: (_EXCHANGE_ORDER.get(exchange_of(self.watchlist[i]), 99), i))

    @property
    def numbers(self) -> frozenset[int]:
        """The watchlist numbers (from 1) on screen: one, or every instrument of the asset when aggregated."""
        if self.aggregate:
            return frozenset(i + 1 for i in self.siblings())
        return frozenset({self.index + 1})

    def exchanges(self) -> list[Exchange]:
        """The exchanges the watchlist uses, in the usual order (binance, bybit, okx)."""
        used = {parse_instrument_key(key)[0] for key in self.watchlist}
        return [exchange for exchange in Exchange if exchange in used]

    def select(self, index: int) -> Selection:
        """Show the instrument at watchlist position `index` (0-based); out of range changes nothing."""
        if not 0 <= index < len(self.watchlist):
            return self
        return dataclasses.replace(self, index=index, aggregate=False)

    def step(self, delta: int) -> Selection:
        """Show the next (`delta` 1) or previous (-1) instrument, wrapping around the watchlist."""
        return dataclasses.replace(self, index=(self.index + delta) % len(self.watchlist), aggregate=False)

    def cycle_exchange(self) -> Selection:
        """The same asset on the next exchange: binance, bybit, okx, then all of them summed, then binance again.

        Only watched instruments take part; an asset watched on one exchange has nothing to cycle to.
        """
        siblings = self.siblings()
        if len(siblings) < 2:
            return self
        if self.aggregate:
            return dataclasses.replace(self, index=siblings[0], aggregate=False)
        position = siblings.index(self.index)
        if position + 1 < len(siblings):
            return dataclasses.replace(self, index=siblings[position + 1])
        return dataclasses.replace(self, aggregate=True)

    def zoom_levels(self) -> tuple[float, ...]:
        """The half-ranges `+` and `-` step through, within what the estimator keeps."""
        levels = tuple(level for level in ZOOM_LEVELS_PCT if level <= self.max_range_pct)
        return levels or (self.max_range_pct,)

    def zoom_in(self) -> Selection:
        """A narrower price range (more detail near the mark); the narrowest level stays put."""
        narrower = [level for level in self.zoom_levels() if level < self.range_pct]
        return dataclasses.replace(self, range_pct=narrower[-1]) if narrower else self

    def zoom_out(self) -> Selection:
        """A wider price range; the widest level the estimator keeps stays put."""
        wider = [level for level in self.zoom_levels() if level > self.range_pct]
        return dataclasses.replace(self, range_pct=wider[0]) if wider else self
