"""The screen's number formatting: exact strings, independent of the locale."""

from __future__ import annotations

import locale
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqtui.ui import fmt


@pytest.mark.parametrize(
    ("px", "expected"),
    [
        (84551.14, "84,551.1"),
        (3112.456, "3,112.46"),
        (142.3149, "142.31"),
        (42.12345, "42.123"),
        (1.23456, "1.2346"),
        (0.01234567, "0.01235"),
        (0.0001234567, "0.0001235"),
        (0.0, "0.00"),
        (1_234_567.0, "1,234,567.0"),
        (None, fmt.MISSING),
        (math.nan, fmt.MISSING),
        (math.inf, fmt.MISSING),
    ],
)
def test_price_picks_decimals_by_magnitude(px: float | None, expected: str) -> None:
    assert fmt.price(px) == expected


def test_price_with_fixed_decimals_and_no_negative_zero() -> None:
    assert fmt.price(86120.4, 0) == "86,120"
    assert fmt.price(-0.04, 1) == "0.0"
    assert fmt.price(12.5, -3) == "12"


@pytest.mark.parametrize(
    ("notional", "expected"),
    [
        (41_234_567.0, "$41.2M"),
        (950_000.0, "$950K"),
        (9_500.0, "$9.50K"),
        (812.4, "$812"),
        (1_234_000_000.0, "$1.23B"),
        (999_960.0, "$1.00M"),
        (999.7, "$1.00K"),
        (12.345, "$12.3"),
        (0.0, "$0"),
        (-5_000.0, "-$5.00K"),
        (None, fmt.MISSING),
    ],
)
def test_usd_is_three_significant_digits_with_a_suffix(notional: float | None, expected: str) -> None:
    assert fmt.usd(notional) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.94, "+1.9%"), (-1.84, "-1.8%"), (0.0, "0.0%"), (-0.04, "0.0%"), (0.04, "0.0%"), (12.0, "+12.0%")],
)
def test_pct_signs_only_nonzero_values(value: float, expected: str) -> None:
    assert fmt.pct(value) == expected


def test_pct_unsigned_and_funding() -> None:
    assert fmt.pct(41.26, 0, signed=False) == "41%"
    assert fmt.funding(0.0001) == "+0.0100%"
    assert fmt.funding(-0.00025) == "-0.0250%"
    assert fmt.funding(None) == fmt.MISSING


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0.34, "0.3s"), (9.9, "9.9s"), (12.2, "12s"), (59.4, "59s"), (185.0, "3m"), (7300.0, "2h"), (-1.0, "0.0s")],
)
def test_age(seconds: float, expected: str) -> None:
    assert fmt.age(seconds) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (3.2, "reconnecting in 4s"),
        (4.0, "reconnecting in 4s"),
        (0.0, "reconnecting now"),
        (-2.0, "reconnecting now"),
        (None, "reconnecting"),
        (125.0, "reconnecting in 2m"),
    ],
)
def test_retry_in_rounds_up_to_whole_seconds(seconds: float | None, expected: str) -> None:
    assert fmt.retry_in(seconds) == expected


def test_qty_rate_clock_and_exchange_names() -> None:
    assert fmt.qty(82345.4) == "82,345"
    assert fmt.qty(123.45) == "123.5"
    assert fmt.qty(1.5) == "1.50"
    assert fmt.qty(0.5234) == "0.523"
    assert fmt.qty(0.001234) == "0.00123"
    assert fmt.rate(812.2) == "812/s"
    assert fmt.rate(1250.0) == "1.25K/s"
    assert fmt.clock_utc(1_700_000_000_000) == "22:13:20"
    assert fmt.exchange_short("binance") == "bin"
    assert fmt.exchange_short("bybit") == "byb"
    assert fmt.exchange_short("okx") == "okx"


def test_output_does_not_follow_the_locale() -> None:
    """Formatting must not change when the process locale does (snapshots run anywhere)."""
    before = (fmt.price(84551.14), fmt.usd(41_234_567.0), fmt.qty(82345.4))
    for name in ("de_DE.UTF-8", "fr_FR.UTF-8", "C.UTF-8", "C"):
        try:
            old = locale.setlocale(locale.LC_ALL, name)
        except locale.Error:
            continue
        try:
            assert (fmt.price(84551.14), fmt.usd(41_234_567.0), fmt.qty(82345.4)) == before
        finally:
            locale.setlocale(locale.LC_ALL, old)


@given(st.floats(min_value=1e-8, max_value=1e9, allow_nan=False))
def test_price_reads_back_within_its_last_decimal(px: float) -> None:
    text = fmt.price(px)
    places = fmt.price_decimals(px)
    assert abs(float(text.replace(",", "")) - px) <= 0.5 * 10.0**-places + 1e-12 * px


@given(st.floats(min_value=0, max_value=1e14, allow_nan=False))
def test_usd_reads_back_within_half_a_percent(notional: float) -> None:
    text = fmt.usd(notional)
    assert text.startswith("$")
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}.get(text[-1], 1.0)
    number = float(text[1:].rstrip("KMBT")) * scale
    assert abs(number - notional) <= max(0.005 * notional, 0.5)
    # Never more than three significant digits before the suffix (plus a decimal point).
    assert len(text[1:].rstrip("KMBT").replace(".", "").lstrip("0")) <= 3 or notional < 1
