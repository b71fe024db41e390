"""The liquidation map chart (liqtui.ui.chart) and its pane (liqtui.ui.panes.liq_map): what the picture shows,
where, and that it is drawn only when something it depends on changed.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.style import Style
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip

from liqtui.model.views import MapView
from liqtui.ui.chart import (
    THEMES,
    ChartImage,
    MapChart,
    columns_for_width,
    display_columns,
    format_price,
    mark_price_label,
    price_decimals,
    theme_for,
)
from liqtui.ui.panes.liq_map import LiqMap

PRICE_LABEL = re.compile(r"^\d{1,3}(,\d{3})*(\.\d+)?$")


def make_view(
    bins: int,
    mark_bin: int,
    *,
    version: int = 1,
    instrument: str = "binance:BTCUSDT",
    base_px: float = 80_000.0,
) -> MapView:
    """Log-spaced bins; longs only below the mark's bin and shorts only above it, with uneven heights and a
    few realized liquidations on both sides; the mark in the middle of bin `mark_bin`."""
    edges = np.asarray(base_px * 1.001 ** np.arange(bins + 1), dtype=np.float64)
    index = np.arange(bins)
    heights = (index % 7 + 1) * 1e5
    long_usd = np.where(index < mark_bin, heights, 0.0)
    short_usd = np.where(index > mark_bin, heights, 0.0)
    realized = np.where(index % 5 == 0, 3e4, 0.0)
    mark_px = float((edges[mark_bin] + edges[mark_bin + 1]) / 2)
    return MapView(
        instrument,
        1_760_000_000_000,
        mark_px,
        edges[:-1],
        edges[1:],
        long_usd,
        short_usd,
        np.where(index < mark_bin, realized, 0.0),
        np.where(index > mark_bin, realized, 0.0),
        version,
    )


def cells(strip: Strip) -> list[tuple[str, Style | None]]:
    """Each cell of a strip with its style."""
    return [(char, segment.style) for segment in strip for char in segment.text]


def zero_row(image: ChartImage) -> int:
    """The row of the zero line (its y label is "0")."""
    return next(y for y, row in enumerate(image.plain) if row.startswith(" 0"))


def bar_columns_with(image: ChartImage, rows: range, wanted: set[str]) -> set[int]:
    """The x of every cell in `rows` whose character is in `wanted`."""
    return {x for y in rows for x, char in enumerate(image.plain[y]) if char in wanted}


@pytest.fixture
def chart() -> MapChart:
    return MapChart()


def test_mark_line_stands_at_the_mark_column(chart: MapChart) -> None:
    width, height = 100, 30
    bins = columns_for_width(width)
    view = make_view(bins, mark_bin=40)
    image = chart.draw(view, width, height, THEMES["dark"])
    assert image.bar_columns == bins
    assert image.mark_column == image.first_bar_column + 40
    zero = zero_row(image)
    line_cells = [image.plain[y][image.mark_column] for y in range(3, height - 2)]
    assert set(line_cells) <= {"│", "┼"}, line_cells
    assert image.plain[zero][image.mark_column] == "┼"
    label = "mark " + format_price(view.mark_px, price_decimals(view.mark_px, 6)).rstrip("0").rstrip(".")
    assert label in image.plain[1]


@pytest.mark.parametrize("mark_bin", [10, 48, 85])
def test_longs_left_and_shorts_right_of_the_mark_in_their_colours(chart: MapChart, mark_bin: int) -> None:
    width, height = 100, 30
    theme = THEMES["dark"]
    image = chart.draw(make_view(columns_for_width(width), mark_bin), width, height, theme)
    assert image.mark_column is not None
    long_x: set[int] = set()
    short_x: set[int] = set()
    for y in range(3, zero_row(image)):
        for x, (char, style) in enumerate(cells(image.strips[y])):
            if char.strip() and style is not None and style.color is not None and char not in "│┼":
                number = style.color.number
                (long_x if number == theme.long_colour else short_x).add(x)
                assert number in (theme.long_colour, theme.short_colour)
    assert long_x and short_x
    assert max(long_x) < image.mark_column < min(short_x)


def test_monochrome_tells_the_sides_apart_by_glyph_position_and_caption(chart: MapChart) -> None:
    width, height = 100, 30
    theme = THEMES["mono"]
    image = chart.draw(make_view(columns_for_width(width), 48), width, height, theme)
    assert image.mark_column is not None
    assert theme.long_glyph != theme.short_glyph
    estimate_rows = range(3, zero_row(image))
    long_x = bar_columns_with(image, estimate_rows, {theme.long_glyph})
    short_x = bar_columns_with(image, estimate_rows, {theme.short_glyph})
    assert long_x and short_x
    assert max(long_x) < image.mark_column < min(short_x)
    assert "LONG" in image.plain[0] and "SHORT" in image.plain[0]
    assert image.plain[0].index("LONG") < image.plain[0].index("SHORT")
    colours = {
        (segment.style.color, segment.style.bgcolor)
        for strip in image.strips
        for segment in strip
        if segment.style is not None
    }
    assert colours <= {(None, None)}


def test_realized_liquidations_hang_below_the_zero_line(chart: MapChart) -> None:
    width, height = 100, 30
    theme = THEMES["dark"]
    view = make_view(columns_for_width(width), 48)
    image = chart.draw(view, width, height, theme)
    zero = zero_row(image)
    below = bar_columns_with(image, range(zero + 1, height - 2), {theme.realized_glyph})
    realized_bins = np.flatnonzero(view.realized_long_usd + view.realized_short_usd)
    expected = {image.first_bar_column + int(i) for i in realized_bins}
    assert below == expected - {image.mark_column}
    assert bar_columns_with(image, range(3, zero), {theme.realized_glyph}) == set()


PANE_SIZES = [(100, 30, 96), (130, 45, 200), (80, 20, 500), (60, 12, 20)]


@pytest.mark.parametrize(("width", "height", "bins"), PANE_SIZES)
def test_the_picture_never_overflows_the_pane(chart: MapChart, width: int, height: int, bins: int) -> None:
    image = chart.draw(make_view(bins, bins // 2), width, height, THEMES["dark"])
    assert len(image.strips) == height
    assert all(strip.cell_length == width for strip in image.strips)
    assert all(len(row) == width for row in image.plain)
    assert image.bar_columns == columns_for_width(width) <= width
    first, last = image.first_bar_column, image.first_bar_column + image.bar_columns - 1
    drawn = bar_columns_with(image, range(3, zero_row(image)), set("█▁▂▃▄▅▆▇"))
    assert drawn and min(drawn) >= first and max(drawn) <= last


@settings(max_examples=60, deadline=None)
@given(bins=st.integers(1, 600), columns=st.integers(1, 300), seed=st.integers(0, 2**16))
def test_display_columns_give_one_value_per_column(bins: int, columns: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    view = make_view(bins + 1, bins // 2)
    values = rng.gamma(0.5, 1e5, bins + 1)
    view = MapView(
        view.instrument,
        view.ts_ms,
        view.mark_px,
        view.px_low,
        view.px_high,
        values,
        values[::-1].copy(),
        values * 0,
        values * 0,
        1,
    )
    data = display_columns(view, columns)
    assert data.count == columns
    assert len(data.px_edges) == columns + 1
    assert np.all(np.diff(data.px_edges) > 0)
    assert data.px_edges[0] == pytest.approx(view.px_low[0])
    assert data.px_edges[-1] == pytest.approx(view.px_high[-1])
    if bins + 1 >= columns:
        assert data.long_usd.sum() == pytest.approx(values.sum())


def test_price_labels_are_few_round_and_ascii(chart: MapChart) -> None:
    width, height = 130, 45
    image = chart.draw(make_view(columns_for_width(width), 60), width, height, THEMES["dark"])
    labels = image.plain[-1].split()
    assert 3 <= len(labels) <= 12
    assert all(PRICE_LABEL.match(label) for label in labels), labels
    values = [float(label.replace(",", "")) for label in labels]
    assert values == sorted(values)
    for y in (0, 1, height - 1):
        assert image.plain[y].isascii(), image.plain[y]


@pytest.mark.parametrize(
    ("px", "significant", "text"),
    [(84_551.12, 5, "84,551"), (84_551.12, 6, "84,551.1"), (3_245.61, 5, "3,245.6"), (0.123_44, 4, "0.1234")],
)
def test_prices_are_formatted_without_locale(px: float, significant: int, text: str) -> None:
    assert format_price(px, price_decimals(px, significant)) == text


@pytest.mark.parametrize(
    ("px", "text"),
    [(84_551.12, "84,551.1"), (3_112.45, "3,112.45"), (142.31, "142.31"), (5.0, "5"), (float("nan"), "n/a")],
)
def test_the_mark_label_drops_trailing_zeros(px: float, text: str) -> None:
    assert mark_price_label(px) == text


def test_the_cache_returns_the_same_picture_until_something_changes(chart: MapChart) -> None:
    dark, mono = THEMES["dark"], THEMES["mono"]
    view = make_view(96, 40)
    first = chart.draw(view, 100, 30, dark)
    assert chart.draw(view, 100, 30, dark) is first
    same_version = make_view(96, 40)  # another object, same instrument and version
    assert chart.draw(same_version, 100, 30, dark) is first
    assert chart.builds == 1
    changes = [
        (make_view(96, 40, version=2), 100, 30, dark, 1.0),
        (make_view(96, 40, version=2), 101, 30, dark, 1.0),
        (make_view(96, 40, version=2), 101, 31, dark, 1.0),
        (make_view(96, 40, version=2), 101, 31, mono, 1.0),
        (make_view(96, 40, version=2), 101, 31, mono, 2.0),
        (make_view(96, 40, version=2, instrument="bybit:BTCUSDT"), 101, 31, mono, 2.0),
    ]
    previous = first
    for number, (changed, width, height, theme, zoom) in enumerate(changes, start=2):
        image = chart.draw(changed, width, height, theme, zoom)
        assert image is not previous
        assert chart.builds == number
        assert chart.draw(changed, width, height, theme, zoom) is image
        previous = image


def test_small_panes_and_missing_data_show_a_notice(chart: MapChart) -> None:
    waiting = chart.draw(None, 50, 10, THEMES["dark"])
    assert "waiting for data" in waiting.plain[5]
    small = chart.draw(make_view(20, 10), 20, 6, THEMES["dark"])
    assert any("too small" in row for row in small.plain)
    assert all(strip.cell_length == 20 for strip in small.strips)


def test_theme_follows_no_color_and_the_app_theme() -> None:
    assert theme_for(dark=True, no_color=True) is THEMES["mono"]
    assert theme_for(dark=False, no_color=True) is THEMES["mono"]
    assert theme_for(dark=True, no_color=False) is THEMES["dark"]
    assert theme_for(dark=False, no_color=False) is THEMES["light"]


class MapApp(App[None]):
    """The pane alone on the screen."""

    def __init__(self, pane: LiqMap) -> None:
        super().__init__()
        self.pane = pane

    def compose(self) -> ComposeResult:
        yield self.pane


async def test_the_pane_draws_once_for_unchanged_data() -> None:
    pane = LiqMap(max_hz=1000.0)
    app = MapApp(pane)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert pane.columns_for_bins() == columns_for_width(100)
        builds_before = pane.rebuild_count
        view = make_view(pane.columns_for_bins(), 40)
        pane.update_view(view)
        await pilot.pause()
        assert pane.rebuild_count == builds_before + 1
        for _ in range(4):
            pane.update_view(make_view(pane.columns_for_bins(), 40))  # same instrument and version
            pane.refresh()
            await pilot.pause()
        assert pane.rebuild_count == builds_before + 1
        image = pane.image
        assert image is not None and image.key[1] == view.version
        lines = pane.render_lines(Region(0, 0, 100, 30))
        assert len(lines) == 30 and all(line.cell_length == 100 for line in lines)
        assert "SHORT" in "".join(segment.text for segment in lines[0])


async def test_the_pane_paces_redraws_and_repaints_only_changed_rows() -> None:
    pane = LiqMap(max_hz=10.0)
    app = MapApp(pane)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        bins = pane.columns_for_bins()
        pane.update_view(make_view(bins, 40, version=1))
        await pilot.pause()
        builds = pane.rebuild_count
        repainted: list[Region] = []
        original_refresh = pane.refresh

        def recording_refresh(*regions: Region, **kwargs: bool) -> LiqMap:
            repainted.extend(regions)
            return original_refresh(*regions, **kwargs)

        pane.refresh = recording_refresh  # type: ignore[method-assign]
        changed = make_view(bins, 40, version=2)
        changed.short_usd[60] *= 1.5
        pane.update_view(changed)
        assert pane.rebuild_count == builds  # within 1/max_hz of the last redraw: waits for the pacing timer
        await pilot.pause(0.25)
        assert pane.rebuild_count == builds + 1
        assert pane.image is not None and pane.image.key[1] == 2
        assert repainted and all(region.height == 1 and region.width == 100 for region in repainted)
        assert len(repainted) < 30


def test_ascii_theme_draws_every_cell_in_ascii_and_keeps_the_sides_apart() -> None:
    """Without UTF-8 the chart is all ASCII; longs and shorts differ by glyph as well as by side of the mark."""
    view = make_view(120, 60)
    theme = theme_for(dark=True, no_color=False, ascii_only=True)
    image = MapChart().draw(view, 100, 30, theme)
    text = "".join(image.plain)
    assert text.isascii()
    assert image.mark_column is not None
    bar_rows = [row for row in image.plain if "#" in row or "%" in row]
    assert bar_rows
    for row in bar_rows:
        left, right = row[: image.mark_column], row[image.mark_column + 1 :]
        assert "%" not in left and "#" not in right
    assert theme.name != theme_for(dark=True, no_color=False).name  # cached apart from the UTF-8 picture


async def test_switching_instrument_draws_at_once_despite_the_pacing() -> None:
    """A key press that shows another instrument is drawn in the same refresh, even right after a paced redraw."""
    pane = LiqMap(max_hz=0.5)
    app = MapApp(pane)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        bins = pane.columns_for_bins()
        pane.update_view(make_view(bins, 40, version=1))
        await pilot.pause()
        builds = pane.rebuild_count
        pane.update_view(make_view(bins, 40, version=2))  # same instrument, within 2 s of the last redraw: paced
        assert pane.rebuild_count == builds
        pane.update_view(make_view(bins, 50, version=1, instrument="okx:BTC-USDT-SWAP", base_px=81_000.0))
        assert pane.rebuild_count == builds + 1
        assert pane.image is not None and pane.view is not None and pane.view.instrument == "okx:BTC-USDT-SWAP"


async def test_the_pane_is_monochrome_under_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    pane = LiqMap()
    app = MapApp(pane)
    async with app.run_test(size=(80, 24)) as pilot:
        pane.update_view(make_view(pane.columns_for_bins(), 30))
        await pilot.pause()
        assert pane.image is not None
        assert pane.image.key[4] == "mono"
        assert THEMES["mono"].short_glyph in "".join(pane.image.plain)
