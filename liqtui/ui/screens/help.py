"""The help screen (`?`): every key, how to read the map, and what the map cannot know (design §4, §6)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

KEYS = (
    ("1 .. 9", "show the instrument with that number in the watchlist"),
    ("[  ]", "previous / next instrument (wraps around)"),
    (
        "/",
        "find an instrument by name: type part of it (eth, bybit sol), up/down to pick, Enter shows it; "
        "ctrl+g (or Escape) closes the finder without changing anything",
    ),
    ("+  -", "zoom the price range in / out (the range is shown as ±N% in the status line)"),
    ("e", "same asset on the next exchange: binance, bybit, okx, then all three summed, then binance again"),
    ("?", "this help; ?, q or ctrl+g close it (Escape too)"),
    ("q  ctrl+q", "quit"),
    ("up down pgup pgdn", "scroll this help (home, end too)"),
)
"""Every key, as the help lists it. No action needs Escape or a mouse."""

READING = (
    (
        "Map",
        "Where open leveraged positions would be liquidated, estimated, around the mark price. Price runs "
        "left to right; the vertical line is the mark (its price is above it).",
    ),
    ("LONG", "bars left of the mark: long positions that would be liquidated if price fell there (forced sales)."),
    ("SHORT", "bars right of the mark: short positions that would be liquidated if price rose there (forced buys)."),
    ("Height", "relative: the strongest column is 1. The cluster list gives the estimated sizes in dollars."),
    ("Below 0", "liquidations that actually happened, by price, on their own scale."),
    ("Colour", "never needed: sides differ by position either side of the mark and by their labels."),
    (
        "Clusters",
        "adjacent strong levels merged: side, price range, distance from the mark, estimated size and a "
        "bar relative to the strongest listed. Strongest first.",
    ),
    (
        "Tape",
        "realized liquidations, newest first, times in UTC. LONG means a long position was liquidated. "
        "! marks one at least 5x the median size on the tape.",
    ),
    (
        "Status",
        "mark, open interest (OI: one side, base units), funding, the age of the data, and per exchange "
        "the feed in words (live, connecting, reconnecting in N s and why, stalled, rejected: reason), the age of "
        "its data and its frames per second. The watched symbols keep streaming whichever one is on screen.",
    ),
    (
        "Score",
        "each realized liquidation is checked against the map as it stood just before: hit is the share "
        "that landed in a predicted cluster of its side, uniform what a map with no information would score. Well "
        "above uniform means the map is telling you something.",
    ),
)
"""How to read the screen, topic by topic."""

LIMITS = (
    "It is a model, not a list of positions: nobody publishes where positions would be liquidated.",
    "Entries and sides are inferred from open-interest changes and the trades between them (taker buy and sell "
    "shares); who opened and who closed is a guess.",
    "Leverage is not published: new positions are spread over a mix of tiers (config.toml), learned from where "
    "liquidations land and where price passed without any; OKX's published history teaches the other venues.",
    "Cross margin, added margin, partial closes and hedges move real liquidation prices unseen; old positions fade "
    "with a half-life instead.",
    "Positions opened before the history the exchanges publish (about a day) are missing.",
    "Exchanges under-report liquidations: Binance sends at most one per symbol per second, OKX only some.",
    "Only the watched exchanges count; positions elsewhere are invisible.",
    "Read clusters as where forced orders are likely to bunch up, not as exact amounts.",
)
"""What the map cannot know."""

TMUX_TIP = "In tmux, `set -sg escape-time 10` makes Escape prompt; no liqtui action needs it."


def _grid(rows: Sequence[tuple[str, str]]) -> Table:
    """Two columns, the second wrapping under itself (a hanging indent, whatever the width)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, words in rows:
        grid.add_row(Text(label), Text(words))
    return grid


def help_content() -> Group:
    """The help screen's content (fixed text: nothing from the network)."""
    return Group(
        Text("Keys", style="bold underline"),
        _grid(KEYS),
        Text(""),
        Text("How to read the screen", style="bold underline"),
        _grid(READING),
        Text(""),
        Text("What the map cannot know", style="bold underline"),
        _grid([("-", limit) for limit in LIMITS]),
        Text(""),
        Text(TMUX_TIP, style="dim"),
    )


class HelpScreen(Screen[None]):
    """Full-screen help over the main screen (whose refresh timer is paused meanwhile)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "close", "close help", key_display="?"),
        Binding("q", "close", "close help", show=False),
        Binding("ctrl+g", "close", "close help", show=False),
        Binding("escape", "close", "close help", show=False),
    ]

    DEFAULT_CSS = """
    HelpScreen VerticalScroll {
        padding: 0 1;
    }
    HelpScreen #help-hint {
        dock: bottom;
        height: 1;
        padding: 0 1;
        background: $panel;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static("? q ctrl+g: back to the map    up down pgup pgdn: scroll", id="help-hint")
        with VerticalScroll(id="help-scroll"):
            yield Static(help_content(), id="help-text")

    def action_close(self) -> None:
        """Back to the map."""
        self.dismiss(None)
