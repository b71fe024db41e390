"""The finder (`/`): type part of an instrument's name, the watchlist below narrows, Enter shows the one picked.

It closes with Enter (picking), ctrl+g or Escape (picking nothing), or a click on an entry; Escape is never the
only way (tmux delays it). Up and down move the pick while the typing stays in the input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from liqtui.ui.state import find_matches


class FindScreen(ModalScreen[int | None]):
    """Picks one watchlist position by name; dismisses with it, or with None when closed without a pick."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+g", "close", "close", key_display="ctrl+g"),
        Binding("escape", "close", "close", show=False),
        Binding("down", "move(1)", "next match", show=False),
        Binding("up", "move(-1)", "previous match", show=False),
    ]

    DEFAULT_CSS = """
    FindScreen {
        align: center top;
    }
    FindScreen > Vertical {
        width: 60;
        max-width: 100%;
        height: auto;
        max-height: 80%;
        margin-top: 2;
        border: round $accent;
        background: $surface;
    }
    FindScreen OptionList {
        height: auto;
        max-height: 12;
        border: none;
    }
    FindScreen #find-hint {
        color: $text-muted;
    }
    """

    def __init__(self, watchlist: Sequence[str], labels: Sequence[str]) -> None:
        """`labels[i]` is how watchlist entry i is listed (its name and price)."""
        super().__init__()
        self.watchlist = tuple(watchlist)
        self.labels = tuple(labels)
        self._matches: list[int] = list(range(len(self.watchlist)))

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Input(placeholder="instrument: e.g. eth, bybit sol", id="find-input")
            yield OptionList(*self._options(), id="find-list")
            yield Static("Enter shows it; up/down pick; ctrl+g closes", id="find-hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0 if self._matches else None
        self.query_one(Input).focus()

    def _options(self) -> list[Option]:
        # Text, not a markup string: a label is shown exactly as written.
        return [Option(Text(self.labels[i]), id=str(i)) for i in self._matches]

    @property
    def matches(self) -> list[int]:
        """The watchlist positions that match what is typed."""
        return self._matches

    @on(Input.Changed)
    def _filter(self, event: Input.Changed) -> None:
        self._matches = find_matches(self.watchlist, event.value)
        options = self.query_one(OptionList)
        options.set_options(self._options())
        options.highlighted = 0 if self._matches else None

    @on(Input.Submitted)
    def _pick_highlighted(self) -> None:
        highlighted = self.query_one(OptionList).highlighted
        if highlighted is None or not self._matches:
            self.app.bell()
            return
        self.dismiss(self._matches[highlighted])

    @on(OptionList.OptionSelected)
    def _pick_clicked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._matches[event.option_index])

    def action_move(self, delta: int) -> None:
        """Move the pick down (1) or up (-1) the matches."""
        options = self.query_one(OptionList)
        if delta > 0:
            options.action_cursor_down()
        else:
            options.action_cursor_up()

    def action_close(self) -> None:
        """Close without changing what is shown."""
        self.dismiss(None)
