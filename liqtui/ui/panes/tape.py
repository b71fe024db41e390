"""The tape: realized liquidations of what is on screen, newest first, large ones marked (design §1, §6).

Rows come from the instruments' liquidation rings (`RingBuffer.last`), at most `limit` of them, so the tape is
bounded whatever the rate. A liquidation is *large* when its notional is at least `LARGE_FACTOR` times the median of
the rows listed: it gets a `!` in the first column and bold text, which survives any colour setting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from rich.text import Text
from textual.widget import Widget

from liqtui.model.store import InstrumentData
from liqtui.model.types import Side
from liqtui.ui import fmt
from liqtui.ui.panes.clusters import SIDE_STYLES

LARGE_FACTOR = 5.0
"""A liquidation at least this many times the median notional on the tape stands out."""

LARGE_MIN_ROWS = 5
"""With fewer rows than this on the tape, nothing is called large (there is no typical size yet)."""


class TapeRow(NamedTuple):
    """One realized liquidation as the tape lists it."""

    ts_ms: int
    exchange: str
    side: Side
    """The liquidated position's side."""
    px: float
    qty_base: float
    notional_usd: float
    large: bool


def tape_signature(instruments: Sequence[InstrumentData]) -> tuple[tuple[str, int], ...]:
    """What the tape depends on: equal signatures mean no new liquidation arrived."""
    return tuple((data.key, data.liquidations.written) for data in instruments)


def recent_liquidations(instruments: Sequence[InstrumentData], limit: int) -> list[TapeRow]:
    """The newest `limit` liquidations of these instruments, merged and newest first."""
    parts = [data.liquidations.last(limit) for data in instruments]
    names = [data.exchange.value for data in instruments]
    if limit <= 0 or not any(len(part) for part in parts):
        return []
    rows = np.concatenate(parts)
    owner = np.concatenate([np.full(len(part), i, dtype=np.int64) for i, part in enumerate(parts)])
    # Newest first; a stable sort keeps arrival order among equal times (OKX may send them out of order).
    order = np.argsort(-rows["ts_ms"], kind="stable")[:limit]
    rows, owner = rows[order], owner[order]
    notional = rows["px"] * rows["qty_base"]
    threshold = LARGE_FACTOR * float(np.median(notional)) if len(rows) >= LARGE_MIN_ROWS else float("inf")
    return [
        TapeRow(int(ts), names[int(o)], Side(int(side)), float(px), float(q), float(n), bool(n >= threshold))
        for ts, o, side, px, q, n in zip(
            rows["ts_ms"].tolist(),
            owner.tolist(),
            rows["side"].tolist(),
            rows["px"].tolist(),
            rows["qty_base"].tolist(),
            notional.tolist(),
            strict=True,
        )
    ]


def tape_text(rows: Sequence[TapeRow], width: int, height: int) -> Text:
    """The tape as drawn in a `width` x `height` pane: a header, then the newest rows that fit."""
    text = Text(no_wrap=True, overflow="crop")
    if not rows:
        text.append("no liquidations yet", style="dim")
        return text
    shown = list(rows[: max(0, height - 1)])
    prices = [fmt.price(row.px) for row in shown]
    px_width = max(5, *(len(p) for p in prices)) if prices else 5
    sizes = [fmt.qty(row.qty_base) for row in shown]
    qty_width = max(4, *(len(s) for s in sizes)) if sizes else 4
    # Columns give way from the least needed when the pane is narrow: exchange names shrink, then size goes.
    fixed = 2 + 8 + 1 + 5 + 1 + px_width + 1 + 8
    long_names = fixed + 1 + 7 + 1 + qty_width + 1 <= width
    ex_width = 7 if long_names else 3
    with_size = fixed + 1 + ex_width + 1 + qty_width + 1 <= width
    header = f"  {'UTC':<8} {'ex':<{ex_width}} {'side':<5} {'price':>{px_width}}"
    if with_size:
        header += f" {'size':>{qty_width}}"
    text.append(header + f" {'notional':>8}", style="bold")
    for row, price, size in zip(shown, prices, sizes, strict=True):
        text.append("\n")
        weight = "bold" if row.large else ""
        exchange = row.exchange if long_names else fmt.exchange_short(row.exchange)
        text.append("!" if row.large else " ", style="bold reverse" if row.large else "")
        text.append(f" {fmt.clock_utc(row.ts_ms)} {exchange:<{ex_width}} ", style=weight)
        text.append(f"{row.side.name:<5}", style=f"{weight} {SIDE_STYLES[row.side]}".strip())
        cells = f" {price:>{px_width}}" + (f" {size:>{qty_width}}" if with_size else "")
        text.append(f"{cells} {fmt.usd(row.notional_usd):>8}", style=weight)
    return text


class LiquidationTape(Widget):
    """Realized liquidations scrolling by, newest at the top."""

    DEFAULT_CSS = """
    LiquidationTape {
        height: 1fr;
        text-wrap: nowrap;
        text-overflow: clip;
    }
    """

    def __init__(self, limit: int = 200, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.limit = limit
        """The most rows the tape keeps (config `ui.tape_rows`)."""
        self._rows: list[TapeRow] = []
        self._signature: tuple[tuple[str, int], ...] | None = None

    @property
    def rows(self) -> list[TapeRow]:
        """The rows listed now, newest first."""
        return self._rows

    def show_from(self, instruments: Sequence[InstrumentData]) -> None:
        """List these instruments' newest liquidations; does nothing when none arrived since the last call."""
        signature = tape_signature(instruments)
        if signature == self._signature:
            return
        self._signature = signature
        self._rows = recent_liquidations(instruments, self.limit)
        self.refresh()

    def render(self) -> Text:
        return tape_text(self._rows, self.size.width, self.size.height)
