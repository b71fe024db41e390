"""The status line: what is on screen and whether to trust it (design §1 "trusts the status line", §6).

First line: the instrument (or asset), mark, open interest, funding and the map's live score. Second line: every
exchange in use with its feed state in words (live, connecting, reconnecting in N s and why, stalled, rejected:
reason), the age of its data and its frames per second. Strings from the network (errors, rejection reasons) are
appended as plain text, never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from liqtui.model.store import FeedState, FeedStatus, InstrumentData, MarketStore
from liqtui.model.types import parse_instrument_key
from liqtui.model.views import Score
from liqtui.ui import fmt
from liqtui.ui.state import Selection

RATE_WINDOW_S = 2.0
"""Frame rates are averaged over about this long (an exponential moving average)."""


class RateMeter:
    """Frames per second per exchange, from the never-decreasing `FeedStatus.frames` counters."""

    def __init__(self, window_s: float = RATE_WINDOW_S) -> None:
        self.window_s = window_s
        self._last: dict[str, tuple[int, float]] = {}
        self._rate: dict[str, float] = {}

    def update(self, frames: Mapping[str, int], now: float) -> None:
        """Take the counters as they are at `now` (monotonic seconds)."""
        for name, count in frames.items():
            previous = self._last.get(name)
            self._last[name] = (count, now)
            if previous is None:
                continue
            elapsed = now - previous[1]
            if elapsed <= 0:
                continue
            instant = max(0, count - previous[0]) / elapsed
            weight = min(1.0, elapsed / self.window_s)
            old = self._rate.get(name)
            self._rate[name] = instant if old is None else old + weight * (instant - old)

    def rate(self, name: str) -> float | None:
        """Frames per second of `name`, or None before two observations."""
        return self._rate.get(name)


def feed_words(status: FeedStatus, symbols: Sequence[str], now: float) -> str:
    """An exchange connection's state in words, then any of the watched `symbols` it rejected, with the reason."""
    words = _state_words(status, now)
    if status.rest_error:
        words += f"; REST: {status.rest_error}"
    for symbol in symbols:
        reason = status.rejected.get(symbol)
        if reason is not None:
            words += f"; {symbol} rejected: {reason}"
    return words


def _state_words(status: FeedStatus, now: float) -> str:
    state = status.state
    if state is FeedState.LIVE:
        return "live"
    if state is FeedState.RECONNECTING:
        wait = None if status.retry_at_monotonic is None else status.retry_at_monotonic - now
        words = fmt.retry_in(wait)
        return f"{words}: {status.last_error}" if status.last_error else words
    if state is FeedState.STALLED:
        last = status.last_data_monotonic
        return "stalled" if last is None else f"stalled, no data for {fmt.age(now - last)}"
    if state is FeedState.FAILED:
        return f"failed: {status.last_error}" if status.last_error else "failed"
    if state is FeedState.CONNECTING and status.last_error:
        return f"connecting (last error: {status.last_error})"
    return state.value


def is_trouble(status: FeedStatus, symbols: Sequence[str]) -> bool:
    """Whether the connection needs the reader's attention (anything but live or a first connect)."""
    if status.rest_error or any(symbol in status.rejected for symbol in symbols):
        return True
    return status.state not in (FeedState.LIVE, FeedState.CONNECTING, FeedState.STOPPED)


@dataclass(frozen=True, slots=True)
class FeedLine:
    """One exchange on the status line."""

    exchange: str
    words: str
    """The state in words (`feed_words`)."""
    age_s: float | None
    """Seconds since its last market data."""
    rate_per_s: float | None
    """Frames per second."""
    on_screen: bool
    """Whether the instrument on screen comes from this exchange."""
    trouble: bool
    """Whether the state needs attention (`is_trouble`)."""


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """Everything the status line shows, gathered by the app on its timer."""

    title: str
    """`binance:BTCUSDT`, or `BTC all exchanges`."""
    asset: str
    mark_px: float | None
    oi_base: float | None
    funding_rate: float | None
    data_age_s: float | None
    """Seconds since anything arrived for what is on screen."""
    score: Score | None
    feeds: tuple[FeedLine, ...]
    range_pct: float
    """The map's half-range, in percent of the mark."""


MAX_ROWS = 4
"""The status line's most rows, where the width allows (at 80x24 the map needs the rest)."""


def gather_status(
    store: MarketStore,
    selection: Selection,
    instruments: Sequence[InstrumentData],
    *,
    score: Score | None,
    rates: RateMeter,
    now: float,
) -> StatusInfo:
    """What the status line shows for `selection`, read from the store at monotonic time `now`."""
    shown = {parse_instrument_key(key)[0] for key in selection.keys}
    feeds = []
    for exchange in selection.exchanges():
        status = store.status(exchange)
        prefix = f"{exchange.value}:"
        symbols = [key.removeprefix(prefix) for key in selection.watchlist if key.startswith(prefix)]
        # A stall's words already say how old the data is.
        last = None if status.state is FeedState.STALLED else status.last_data_monotonic
        feeds.append(
            FeedLine(
                exchange.value,
                feed_words(status, symbols, now),
                None if last is None else now - last,
                rates.rate(exchange.value),
                exchange in shown,
                is_trouble(status, symbols),
            )
        )
    updates = [d.last_update_monotonic for d in instruments if d.last_update_monotonic is not None]
    oi = [d.oi_base for d in instruments if d.oi_base is not None]
    return StatusInfo(
        title=selection.title,
        asset=selection.asset,
        mark_px=next((d.mark_px for d in instruments if d.mark_px is not None), None),
        oi_base=sum(oi) if oi else None,
        funding_rate=instruments[0].funding_rate if len(instruments) == 1 else None,
        data_age_s=now - max(updates) if updates else None,
        score=score,
        feeds=tuple(feeds),
        range_pct=selection.range_pct,
    )


def status_text(info: StatusInfo, width: int, max_rows: int = MAX_ROWS, *, ascii_only: bool = False) -> Text:
    """The status line for a pane `width` cells wide: the figures, then the feeds, each broken between fields.

    Breaking between whole fields (never inside `42% hit`) keeps every figure readable at 80 columns. When the
    feeds' words would need more than the rows left, each is shortened (with an ellipsis) so every exchange still
    shows; the full words are in the log file. `ascii_only` keeps to ASCII (a terminal without UTF-8).
    """
    plus_minus = "+-" if ascii_only else "±"
    figures = [Text.assemble((info.title, "bold"), (f"  {plus_minus}{info.range_pct:g}%", "dim"))]
    figures.append(Text(f"mark {fmt.price(info.mark_px)}"))
    oi = "--" if info.oi_base is None else f"{fmt.qty(info.oi_base)} {info.asset}"
    if info.oi_base is not None and info.mark_px is not None:
        oi += f" ({fmt.usd(info.oi_base * info.mark_px)})"
    figures.append(Text(f"OI {oi}"))
    if info.funding_rate is not None:
        figures.append(Text(f"funding {fmt.funding(info.funding_rate)}"))
    figures.append(Text(f"data {fmt.age(info.data_age_s)}"))
    figures.append(Text(f"score {score_words(info.score)}"))
    feeds = []
    for feed in info.feeds:
        piece = Text()
        piece.append(feed.exchange, style="bold" if feed.on_screen else "")
        piece.append(" ")
        # The words come from the network (error texts, rejection reasons): appended as text, never as markup.
        piece.append(feed.words, style="bold reverse" if feed.trouble else "")
        if feed.age_s is not None:
            piece.append(f" {fmt.age(feed.age_s)}")
        if feed.rate_per_s is not None:
            piece.append(f" {fmt.rate(feed.rate_per_s)}")
        feeds.append(piece)
    ellipsis = "..." if ascii_only else "…"
    text = _flow(figures, "  ", width, width, ellipsis)
    if feeds:
        feed_text = _flow(feeds, " | ", width, width, ellipsis)
        rows_left = max(1, max_rows - text.plain.count("\n") - 1)
        longest = width
        # Shorten only the longest words, a little at a time, until every exchange fits: short ones stay whole.
        while feed_text.plain.count("\n") + 1 > rows_left and longest > 12:
            longest -= 4
            feed_text = _flow(feeds, " | ", width, longest, ellipsis)
        text.append("\n")
        text.append_text(feed_text)
    return text


def _flow(pieces: Sequence[Text], separator: str, width: int, longest: int, ellipsis: str) -> Text:
    """The pieces on as few lines as fit `width`, separated by `separator`, breaking only between pieces; a piece
    longer than `longest` cells is shortened to it, ending in `ellipsis`."""
    text = Text()
    used = 0
    for whole in pieces:
        piece = whole
        if whole.cell_len > longest:
            piece = whole[: max(0, longest - len(ellipsis))]
            piece.append(ellipsis)
        cells = piece.cell_len
        if used and used + len(separator) + cells > width:
            text.append("\n")
            used = 0
        elif used:
            text.append(separator)
            used += len(separator)
        text.append_text(piece)
        used += cells
    return text


def status_rows(info: StatusInfo, width: int, *, ascii_only: bool = False) -> int:
    """How many rows the status line takes at `width`."""
    return status_text(info, width, ascii_only=ascii_only).plain.count("\n") + 1


def score_words(score: Score | None) -> str:
    """The live score: how often realized liquidations landed in a predicted cluster, against a uniform map."""
    if score is None or score.checked == 0:
        return "not scored yet"
    return (
        f"{fmt.pct(score.hit_rate * 100, 0, signed=False)} hit "
        f"(uniform {fmt.pct(score.uniform_hit_rate * 100, 0, signed=False)}, n {score.checked})"
    )


def combined_score(scores: Sequence[Score]) -> Score | None:
    """Several instruments' scores as one (the aggregate view): counts add, rates are weighted by checks."""
    checked = sum(s.checked for s in scores)
    if checked == 0:
        return scores[0] if len(scores) == 1 else None
    return Score(
        checked=checked,
        hits=sum(s.hits for s in scores),
        uniform_hit_rate=sum(s.uniform_hit_rate * s.checked for s in scores) / checked,
        mass_near=sum(s.mass_near * s.checked for s in scores) / checked,
    )


class StatusLine(Widget):
    """The two-line status at the bottom of the screen."""

    DEFAULT_CSS = """
    StatusLine {
        height: auto;
    }
    """

    def __init__(self, *, ascii_only: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ascii_only = ascii_only
        """Keep to ASCII (a terminal without UTF-8)."""
        self._info: StatusInfo | None = None
        self._rows = 0

    @property
    def info(self) -> StatusInfo | None:
        """What the line shows now."""
        return self._info

    def show(self, info: StatusInfo) -> None:
        """Show `info`; repaints only when it changed, and lays out again only when its height changed."""
        if info == self._info:
            return
        self._info = info
        rows = status_rows(info, max(1, self.size.width), ascii_only=self.ascii_only)
        self.refresh(layout=rows != self._rows)
        self._rows = rows

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if self._info is None:
            return 1
        return status_rows(self._info, width, ascii_only=self.ascii_only)

    def render(self) -> Text:
        if self._info is None:
            return Text("starting ...", style="dim")
        return status_text(self._info, self.size.width, ascii_only=self.ascii_only)
