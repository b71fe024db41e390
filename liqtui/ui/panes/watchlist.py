"""The watchlist: one tab per watched instrument with its number key and live price (design §6, top line).

The selected tab is bracketed and reversed (brackets survive `NO_COLOR`); in the aggregate view every tab of the
asset is. When the full tabs do not fit in the pane's lines, the other tabs drop their prices, and when even that
does not fit, the line shows the tabs around the selected one with `<` and `>` where more are hidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.widget import Widget

from liqtui.model.store import MarketStore
from liqtui.model.types import asset_of, parse_instrument_key
from liqtui.ui import fmt


@dataclass(frozen=True, slots=True)
class WatchEntry:
    """One watched instrument as its tab shows it."""

    number: int
    """Its position, from 1; keys 1-9 select the first nine."""
    key: str
    asset: str
    exchange: str
    px: float | None
    """The last mark price (or trade price before the first mark)."""
    problem: str = ""
    """A short word instead of the price when the instrument is not streaming (`rejected`)."""


def _label(entry: WatchEntry, with_price: bool) -> str:
    number = str(entry.number) if entry.number <= 9 else " "
    name = f"{number} {entry.asset} {fmt.exchange_short(entry.exchange)}"
    if not with_price:
        return name
    return f"{name} {entry.problem or fmt.price(entry.px)}"


def watch_entries(store: MarketStore, watchlist: Sequence[str]) -> list[WatchEntry]:
    """The tabs of the watchlist, with each instrument's last price (mark, else last trade) from the store."""
    entries = []
    for number, key in enumerate(watchlist, start=1):
        exchange, symbol = parse_instrument_key(key)
        data = store.get(key)
        px = None if data is None else (data.mark_px if data.mark_px is not None else data.last_trade_px)
        problem = "rejected" if symbol in store.status(exchange).rejected else ""
        entries.append(WatchEntry(number, key, asset_of(key), exchange.value, px, problem))
    return entries


def find_label(entry: WatchEntry) -> str:
    """How the finder lists an entry: number, full name and price."""
    return f"{entry.number:>2}  {entry.key:<24} {entry.problem or fmt.price(entry.px)}"


def _layout(labels: Sequence[str], width: int) -> int:
    """How many lines these tabs (each padded by one cell either side, one space apart) take at `width`."""
    lines, used = 1, 0
    for label in labels:
        cells = len(label) + 2
        if used and used + 1 + cells > width:
            lines, used = lines + 1, cells
        else:
            used += cells + (1 if used else 0)
    return lines


def watchlist_text(entries: Sequence[WatchEntry], selected: frozenset[int], width: int, max_lines: int) -> Text:
    """The tabs as drawn in a pane `width` cells wide and at most `max_lines` high; `selected` holds numbers."""
    text = Text(overflow="crop")
    if not entries:
        return text
    full = [_label(e, True) for e in entries]
    brief = [_label(e, e.number in selected) for e in entries]
    for labels in (full, brief):
        if _layout(labels, width) <= max(1, max_lines):
            _append_tabs(text, entries, labels, selected, width)
            return text
    _append_window(text, entries, brief, selected, width)
    return text


def _append_tabs(
    text: Text, entries: Sequence[WatchEntry], labels: Sequence[str], selected: frozenset[int], width: int
) -> None:
    used = 0
    for entry, label in zip(entries, labels, strict=True):
        cells = len(label) + 2
        if used:
            if used + 1 + cells > width:
                text.append("\n")
                used = 0
            else:
                text.append(" ")
                used += 1
        _append_tab(text, entry, label, selected)
        used += cells


def _append_tab(text: Text, entry: WatchEntry, label: str, selected: frozenset[int]) -> None:
    if entry.number in selected:
        text.append(f"[{label}]", style="bold reverse")
    else:
        text.append(f" {label} ", style="red" if entry.problem else "")


def _append_window(
    text: Text, entries: Sequence[WatchEntry], labels: Sequence[str], selected: frozenset[int], width: int
) -> None:
    """One line of the tabs around the first selected one, with `<` / `>` for the hidden ones."""
    centre = next((i for i, e in enumerate(entries) if e.number in selected), 0)
    first = last = centre
    used = len(labels[centre]) + 2
    # Grow alternately right and left while the next tab (and the two scroll marks) still fit.
    while True:
        grown = False
        for side in (1, -1):
            index = last + 1 if side == 1 else first - 1
            if 0 <= index < len(entries) and used + 1 + len(labels[index]) + 2 + 4 <= width:
                used += 1 + len(labels[index]) + 2
                first, last = (first, index) if side == 1 else (index, last)
                grown = True
        if not grown:
            break
    text.append("< " if first > 0 else "  ", style="bold")
    for index in range(first, last + 1):
        if index > first:
            text.append(" ")
        _append_tab(text, entries[index], labels[index], selected)
    if last < len(entries) - 1:
        text.append(" >", style="bold")


class Watchlist(Widget):
    """Tabs of the watched instruments with live prices."""

    DEFAULT_CSS = """
    Watchlist {
        height: 1;
        text-wrap: nowrap;
        text-overflow: clip;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._entries: tuple[WatchEntry, ...] = ()
        self._selected: frozenset[int] = frozenset()

    @property
    def entries(self) -> tuple[WatchEntry, ...]:
        """The tabs shown now."""
        return self._entries

    def show(self, entries: Sequence[WatchEntry], selected: frozenset[int]) -> None:
        """Show these tabs with `selected` (tab numbers) highlighted; repaints only on a change."""
        data = tuple(entries)
        if data == self._entries and selected == self._selected:
            return
        self._entries = data
        self._selected = selected
        self.refresh()

    def render(self) -> Text:
        # The height is fixed by the stylesheet (one line when wide, two when narrow); the tabs fit into it.
        return watchlist_text(self._entries, self._selected, self.size.width, self.size.height)
