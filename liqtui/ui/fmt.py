"""Number, time and state formatting for the screen: pure functions, no locale, no Textual.

Python's format mini-language puts "," between thousands whatever the locale says, so every string here is the
same on every machine (and in every snapshot). Missing values (None, NaN, infinities) print as `MISSING`.
"""

from __future__ import annotations

import math
import time

MISSING = "--"
"""What a value that is not known yet prints as (ASCII, so it survives any terminal encoding)."""

_EXCHANGE_SHORT = {"binance": "bin", "bybit": "byb", "okx": "okx"}


def _known(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def price_decimals(px: float) -> int:
    """How many decimals a price of this size is shown with: 1 for 84,551.1, 2 for 3,112.45, 4 for 1.2345.

    Below 1 the price keeps four significant digits (0.0001234 has 7 decimals).
    """
    magnitude = abs(px)
    if magnitude >= 10_000:
        return 1
    if magnitude >= 100:
        return 2
    if magnitude >= 10:
        return 3
    if magnitude >= 1:
        return 4
    if magnitude == 0:
        return 2
    # Four significant digits: 0.01234 -> 5 decimals, 0.0001234 -> 7.
    return min(12, 3 - math.floor(math.log10(magnitude)))


def price(px: float | None, decimals: int | None = None) -> str:
    """A price with thousands separators: `84,551.1`; `decimals` None picks them by magnitude."""
    if px is None or not _known(px):
        return MISSING
    places = price_decimals(px) if decimals is None else max(0, decimals)
    return _no_negative_zero(f"{px:,.{places}f}")


def _no_negative_zero(text: str) -> str:
    # Rounding a tiny negative number gives "-0.0"; a sign on zero is noise.
    if text.startswith("-") and not any(c in "123456789" for c in text):
        return text[1:]
    return text


_SCALES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def compact(value: float | None) -> str:
    """A number in three significant digits with a K/M/B/T suffix: `41.2M`, `950K`, `9.50K`, `812`."""
    if value is None or not _known(value):
        return MISSING
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    for scale, suffix in _SCALES:
        if magnitude >= scale * 0.9995:
            scaled = magnitude / scale
            # Round first, so 999.96K reads 1.00M rather than 1000K.
            text = _three_digits(scaled)
            if float(text) >= 1000 and suffix != "T":
                bigger = {"K": "M", "M": "B", "B": "T"}[suffix]
                return f"{sign}{_three_digits(scaled / 1000)}{bigger}"
            return f"{sign}{text}{suffix}"
    if magnitude >= 100 or magnitude == 0:
        return f"{sign}{magnitude:.0f}"
    return _no_negative_zero(f"{sign}{_three_digits(magnitude)}")


def _three_digits(value: float) -> str:
    """Three significant digits for 0 <= value < 1000; the decimals are chosen after rounding, so 99.95 reads 100
    (not 100.0) and 9.996 reads 10.0 (not 10.00)."""
    two = f"{value:.2f}"
    if float(two) < 10:
        return two
    one = f"{value:.1f}"
    if float(one) < 100:
        return one
    return f"{value:.0f}"


def usd(notional: float | None) -> str:
    """A dollar amount, compact: `$41.2M`, `$950K`, `$812`, `-$5.00K`."""
    text = compact(notional)
    if text == MISSING:
        return text
    return f"-${text[1:]}" if text.startswith("-") else f"${text}"


def qty(qty_base: float | None) -> str:
    """A quantity in base units: `82,345` for open interest, `12.5`, `0.523`, `0.00120`."""
    if qty_base is None or not _known(qty_base):
        return MISSING
    magnitude = abs(qty_base)
    if magnitude >= 1000:
        places = 0
    elif magnitude >= 100:
        places = 1
    elif magnitude >= 1 or magnitude == 0:
        places = 2
    else:
        places = min(10, 2 - math.floor(math.log10(magnitude)))
    return _no_negative_zero(f"{qty_base:,.{places}f}")


def pct(value: float | None, decimals: int = 1, *, signed: bool = True) -> str:
    """A percentage (`value` already in percent): `+1.9%`, `-1.8%`, `0.0%`."""
    if value is None or not _known(value):
        return MISSING
    text = _no_negative_zero(f"{value:.{decimals}f}")
    if signed and not text.startswith("-") and any(c in "123456789" for c in text):
        text = f"+{text}"
    return f"{text}%"


def funding(rate: float | None) -> str:
    """A funding rate given as a fraction (0.0001) in percent with four decimals: `+0.0100%`."""
    if rate is None or not _known(rate):
        return MISSING
    return pct(rate * 100.0, 4)


def age(seconds: float | None) -> str:
    """How old something is: `0.3s`, `12s`, `3m`, `2h`, `4d`."""
    if seconds is None or not _known(seconds):
        return MISSING
    s = max(0.0, seconds)
    if s < 9.95:
        return f"{s:.1f}s"
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{s // 60:.0f}m"
    if s < 86400:
        return f"{s // 3600:.0f}h"
    return f"{s // 86400:.0f}d"


def retry_in(seconds: float | None) -> str:
    """A reconnect countdown in words: `reconnecting in 4s` (whole seconds, rounded up), `reconnecting now`."""
    if seconds is None or not _known(seconds):
        return "reconnecting"
    whole = math.ceil(seconds - 1e-9)
    if whole <= 0:
        return "reconnecting now"
    if whole >= 60:
        return f"reconnecting in {age(whole)}"
    return f"reconnecting in {whole}s"


def rate(per_s: float | None) -> str:
    """A rate per second: `812/s`, `1.25K/s`."""
    if per_s is None or not _known(per_s):
        return MISSING
    return f"{compact(max(0.0, per_s))}/s"


def clock_utc(ts_ms: int) -> str:
    """The time of day of an epoch-millisecond timestamp, in UTC: `17:06:41`."""
    return time.strftime("%H:%M:%S", time.gmtime(ts_ms / 1000.0))


def exchange_short(exchange: str) -> str:
    """A three-letter name for an exchange, for narrow columns: `bin`, `byb`, `okx`."""
    return _EXCHANGE_SHORT.get(exchange, exchange[:3])
