"""What the three exchange parsers share: frame limits, the errors they catch, reasons, REST envelopes and the
arrays their REST history functions return.

The hot paths (one websocket frame at a time) live in each exchange's module and use only the constants here;
everything else in this module runs on slow paths: a skipped or bad frame, a REST body, an instrument table.

Each parser reads a websocket frame in two ways. Its fast path decodes the commonest kinds (trades, marks, open
interest, most liquidations) with msgspec straight into typed fields, numbers already converted, and appends rows
only when the whole frame is of a symbol already accepted and every value passes the range checks; it classifies
nothing itself. Any other frame, or any doubt, goes to the general path (orjson, field by field), which classifies
every frame (DATA, SKIPPED, BAD, ...) and gives the reasons. Both give the same rows for every frame they both
take (`tests/unit/test_parser_fast_path.py`), and they differ only on frames no exchange sends:

- the fast path reads a number by its value: a JSON number where the exchange sends a decimal string
  (`"p":83434.4`), or an OKX time written with an exponent or a fraction of zeros (`"1.64e12"`), is DATA there
  and BAD on the general path. Times and flags that are JSON numbers and booleans on the wire (Binance `T`, `E`
  and `m`, Bybit `T` and `ts`) must be exactly that on both paths (`"m":"false"` is not a boolean);
- msgspec skips the fields the fast path does not read without converting them: a frame whose only fault is an
  integer beyond a double's range in such a field (orjson refuses it) is DATA there.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Final, TypeVar
from urllib.parse import parse_qs, urlsplit

import msgspec
import numpy as np
import numpy.typing as npt
import orjson

from liqtui.errors import FeedError
from liqtui.feeds.base import FrameKind
from liqtui.model.events import EventBatch, Notice
from liqtui.model.types import KLINE_DTYPE, OPEN_INTEREST_DTYPE, ContractKind, Exchange, Instrument, Side

MAX_FRAME_BYTES: Final = 1 << 20
"""The default limit on one websocket frame (1 MiB): the exchanges' own frames are a few KiB at most."""

MAX_REST_BYTES: Final = 64 << 20
"""The default limit on one REST body: instrument tables run to a few MiB (Binance exchangeInfo ~1.5 MiB)."""

PARSE_ERRORS: Final = (
    KeyError,
    TypeError,
    ValueError,
    IndexError,
    AttributeError,
    OverflowError,
    orjson.JSONDecodeError,
)
"""What reading a frame of the wrong shape raises; each is caught and makes the frame BAD, never a crash."""

FAST_DECODE_ERRORS: Final = (msgspec.MsgspecError, ValueError, TypeError, RecursionError)
"""What a fast path's msgspec decode raises for a frame it cannot read: malformed or truncated JSON and fields
of the wrong type (`msgspec.DecodeError`, `ValidationError`), a `str` holding lone surrogates
(`UnicodeEncodeError`), deep nesting (`RecursionError`). Each sends the frame to the general path."""

number: Final = orjson.loads
"""Reads one decimal string the exchange sent (`"83434.40"`) as a number, for the hot paths.

`orjson.loads` parses a decimal string correctly rounded, like `float()`, at half its cost (about 90 ns against
170 ns here), and it never yields NaN or an infinity: `"NaN"`, `"inf"` and `"1e999"` raise `JSONDecodeError`.
It returns an int for `"539"` (numpy makes it a float in the store's rows), and a str, list, dict, bool or None
for strings that hold other JSON: the hot paths' range checks (`px > 0.0`) raise TypeError for all of those but
booleans (True is 1: harmless). A JSON number where the wire format has a string raises TypeError (BAD).
"""

INF: Final = math.inf
"""Upper bound in the slower paths' range checks: `0.0 < px < INF` is False for NaN, infinities and negatives."""

MAX_TS_MS: Final = 100_000_000_000_000
"""Timestamps are epoch milliseconds below this (year 5138): it rejects nanoseconds and absurd numbers, which
would overflow the int64 rings."""

# The fast paths' typed fields check their ranges in the decoder: a value out of range raises ValidationError,
# and the frame goes to the general path, whose checks are the same. NaN fails every bound.

PositiveFinite = Annotated[float, msgspec.Meta(gt=0.0, le=sys.float_info.max)]
"""A price or quantity: `0.0 < x < INF`, as the general path checks it."""

NonNegativeFinite = Annotated[float, msgspec.Meta(ge=0.0, le=sys.float_info.max)]
"""An open interest, or a mark that may be 0 (no mark yet): `0.0 <= x < INF`."""

FundingRate = Annotated[float, msgspec.Meta(gt=-1.0, lt=1.0)]
"""A funding rate: `-1.0 < rate < 1.0`."""

EpochMs = Annotated[int, msgspec.Meta(gt=0, lt=MAX_TS_MS)]
"""A time sent as a decimal string (OKX): `0 < ts_ms < MAX_TS_MS`. Times sent as JSON numbers are decoded as
they are instead, so that the fast path can take only a JSON int, as the general path does."""

LONG: Final = int(Side.LONG)
"""`Side.LONG` as the plain int a liquidation row carries."""

SHORT: Final = int(Side.SHORT)
"""`Side.SHORT` as the plain int a liquidation row carries."""

SYMBOL_CACHE_LIMIT: Final = 10_000
"""Per-symbol caches are cleared when they grow past this: an exchange lists a few hundred symbols, so only
garbage input gets there, and memory stays bounded whatever arrives."""

_REASON_LIMIT = 240

_Handler = TypeVar("_Handler")


def describe_error(exc: BaseException) -> str:
    """A short reason for a frame that raised while being read."""
    if isinstance(exc, KeyError):
        text = f"missing field {exc.args[0]!r}" if exc.args else "missing field"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:_REASON_LIMIT]


def clip(text: object) -> str:
    """Network text cut to a length fit for a log line or a reason."""
    return str(text)[:_REASON_LIMIT]


@dataclass(frozen=True, slots=True)
class NamingRule:
    """How an exchange names the contracts liqtui keeps, for symbols its instrument table does not list (or
    before there is a table), and how a refusal says so."""

    looks_linear: Callable[[str], bool]
    """True for a name of a linear perpetual (`BTCUSDT` on Bybit, `BTC-USDT-SWAP` on OKX)."""
    symbol_word: str
    """What the exchange calls a symbol (`symbol`, `instId`), for the error of one that is not a string."""
    kept: str
    """What liqtui keeps, as a refusal says it: `a linear perpetual`, `a linear swap`."""
    others: str
    """What the naming rule refuses, as a refusal says it: `an inverse or dated contract`."""


class ParserBase:
    """State and slow-path helpers common to the exchange parsers (the `Parser` protocol's attributes)."""

    exchange: Exchange
    """The exchange whose frames this parser reads."""

    naming: ClassVar[NamingRule]
    """The exchange's naming rule, for `_accepts_linear` (Bybit and OKX; Binance classifies its own way)."""

    def __init__(
        self, *, max_frame_bytes: int = MAX_FRAME_BYTES, max_rest_bytes: int = MAX_REST_BYTES, fast: bool = True
    ) -> None:
        self.reason = ""
        """Why the last SKIPPED, UNRESOLVED or BAD frame was classified so (set only on those paths)."""
        self.max_frame_bytes = max_frame_bytes
        """Websocket frames longer than this (bytes, or characters for text) are BAD without being decoded."""
        self.max_rest_bytes = max_rest_bytes
        """REST bodies longer than this are BAD without being decoded."""
        self.fast = fast
        """Whether `parse` tries the typed fast path first; False sends every frame through the general path
        (the same rows and kinds, slower: for tests and measurements)."""
        self._kinds: dict[str, ContractKind] | None = None
        """Symbol → kind from the exchange's instrument table, once one is set."""
        self._linear: set[str] = set()
        """Symbols already known to be linear perpetuals: the hot paths' one set lookup."""

    def _bad(self, reason: str) -> FrameKind:
        self.reason = reason
        return FrameKind.BAD

    def _skipped(self, reason: str) -> FrameKind:
        self.reason = reason
        return FrameKind.SKIPPED

    def _unresolved(self, reason: str) -> FrameKind:
        self.reason = reason
        return FrameKind.UNRESOLVED

    def _failed(self, exc: BaseException) -> FrameKind:
        self.reason = describe_error(exc)
        return FrameKind.BAD

    def _oversized(self, size: int, limit: int) -> FrameKind:
        self.reason = f"frame of {size} bytes is over the {limit} byte limit"
        return FrameKind.BAD

    def _invalid(self, what: str, symbol: object) -> FrameKind:
        """BAD for a row whose values are out of range or of the wrong type (NaN, zero price, string time)."""
        self.reason = clip(f"{what} for {symbol!r} has an out-of-range or mistyped value")
        return FrameKind.BAD

    def _accepts_linear(self, symbol: str) -> bool:
        """True for a linear perpetual, by the instrument table or else the exchange's naming rule; else False
        with the reason set. Caches accepted symbols. TypeError for a symbol that is not a non-empty string."""
        rule = self.naming
        if type(symbol) is not str or not symbol:
            raise TypeError(f"{rule.symbol_word} {symbol!r} is not a non-empty string")
        kind = self._kinds.get(symbol) if self._kinds is not None else None
        if kind is None:
            # No table, or a listing newer than the table: go by the exchange's naming.
            linear = rule.looks_linear(symbol)
            what = rule.others
        else:
            linear = kind is ContractKind.LINEAR_PERPETUAL
            what = kind.value
        if not linear:
            self.reason = clip(f"{symbol} is not {rule.kept} ({what})")
            return False
        if len(self._linear) >= SYMBOL_CACHE_LIMIT:
            self._linear.clear()
        self._linear.add(symbol)
        return True


def combine(appended: bool, skipped_reason: str | None) -> FrameKind:
    """The kind of a frame that carried several instruments: DATA if any event was kept, else SKIPPED."""
    if appended or skipped_reason is None:
        return FrameKind.DATA
    return FrameKind.SKIPPED


# ---------------------------------------------------------------------------------------------------- REST


def rest_path(url: str) -> str:
    """The path of a REST URL, without scheme, host or query (prefixes such as `/binance` stay)."""
    return urlsplit(url).path.rstrip("/")


def find_handler(path: str, handlers: dict[str, _Handler]) -> _Handler | None:
    """The handler whose key ends the path (`/binance/fapi/v1/klines` matches `/fapi/v1/klines`)."""
    for suffix, handler in handlers.items():
        if path.endswith(suffix):
            return handler
    return None


def funding_rate(text: Any) -> float | None:
    """A funding rate the exchange sent, or None when it is empty (dated contracts) or absurd."""
    if not text:
        return None
    rate = float(text)
    return rate if -1.0 < rate < 1.0 else None


def query_param(url: str, name: str) -> str | None:
    """One query parameter of a URL, if present."""
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None


def load_body(body: str | bytes, exchange: Exchange) -> Any:
    """A REST body as JSON, or FeedError in one sentence."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FeedError(f"{exchange.value.capitalize()} sent a REST body that is not JSON ({exc}).") from None


def shape_error(exchange: Exchange, what: str, exc: BaseException) -> FeedError:
    """The FeedError for a REST body that is JSON but not in the documented shape."""
    return FeedError(
        f"{exchange.value.capitalize()} sent a {what} body that is not in the documented format "
        f"({describe_error(exc)})."
    )


def error_notice(batch: EventBatch, exchange: Exchange, code: object, text: object, symbol: str | None) -> None:
    """Append the notice for an exchange's error reply to a REST request."""
    batch.notices.append(Notice(code="error", text=clip(f"{exchange.value} error {code}: {text}"), symbol=symbol))


def open_interest_history(rows: list[tuple[int, float]]) -> npt.NDArray[Any]:
    """(ts_ms, oi_base) rows as an `OPEN_INTEREST_DTYPE` array, oldest first; ValueError on absurd values."""
    arr = np.array(rows, dtype=OPEN_INTEREST_DTYPE)
    if arr.size and not (
        bool(np.all(np.isfinite(arr["oi_base"])))
        and bool(np.all(arr["oi_base"] >= 0.0))
        and bool(np.all((arr["ts_ms"] > 0) & (arr["ts_ms"] < MAX_TS_MS)))
    ):
        raise ValueError("open interest must be finite and not negative, times epoch milliseconds")
    return arr[np.argsort(arr["ts_ms"], kind="stable")]


def klines(rows: list[tuple[int, float, float, float, float, float, float]]) -> npt.NDArray[Any]:
    """Candle rows as a `KLINE_DTYPE` array, oldest first; ValueError on absurd values.

    `taker_buy_base` may be NaN (the exchange does not split volume by taker side); every other field must be
    finite.
    """
    arr = np.array(rows, dtype=KLINE_DTYPE)
    if arr.size:
        finite = all(bool(np.all(np.isfinite(arr[name]))) for name in ("open", "high", "low", "close", "volume_base"))
        times_ok = bool(np.all((arr["open_ms"] > 0) & (arr["open_ms"] < MAX_TS_MS)))
        if not (finite and times_ok):
            raise ValueError("candle prices and volumes must be finite, times epoch milliseconds")
    return arr[np.argsort(arr["open_ms"], kind="stable")]


def instrument_kinds(instruments: list[Instrument], exchange: Exchange) -> dict[str, ContractKind]:
    """Symbol → kind for one exchange's instruments (others' are ignored)."""
    return {i.symbol: i.kind for i in instruments if i.exchange == exchange}


def positive(text: Any) -> float:
    """A number the exchange sent as a string (or number) that must be finite and above zero."""
    value = float(text)
    if not 0.0 < value < INF:
        raise ValueError(f"{text!r} is not a positive finite number")
    return value
