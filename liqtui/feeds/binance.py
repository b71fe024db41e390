"""Binance USD-M futures: the websocket streams liqtui reads and the REST bodies of its warm start.

Streams (`../shared/exchanges.md` §1): `<sym>@aggTrade`, `<sym>@markPrice[@1s]`, `!markPrice@arr[@1s]`,
`<sym>@forceOrder` and `!forceOrder@arr`, on raw `/ws` sockets (bare payloads) or combined `/stream` sockets
(`{"stream": ..., "data": ...}`). Prices and quantities are strings in quote and base units; times are numbers.

Semantics normalized here:
- aggTrade `m` is "buyer is maker": true means the taker *sold*.
- forceOrder `o.S` is the side of the liquidation *order*: `SELL` closes a long, so `Side.LONG` was liquidated.
  The price is the average fill `o.ap` (`o.p` when ap is missing or 0), the quantity the filled `o.z` (`o.q`
  when z is missing or 0), the time `o.T`.
- COIN-M and dated contracts (`BTCUSD_PERP`, `BTCBUSD_210129`: a `_` in the symbol) and anything marked
  `st == 2` are skipped; after the 2026 UM/CM merge the all-market streams carry both.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy.typing as npt
import orjson
from msgspec import UNSET, UnsetType, field

from liqtui.errors import FeedError
from liqtui.feeds.base import FrameKind
from liqtui.feeds.common import (
    FAST_DECODE_ERRORS,
    INF,
    LONG,
    MAX_TS_MS,
    PARSE_ERRORS,
    SHORT,
    SYMBOL_CACHE_LIMIT,
    FundingRate,
    ParserBase,
    PositiveFinite,
    clip,
    error_notice,
    find_handler,
    funding_rate,
    instrument_kinds,
    klines,
    load_body,
    number,
    open_interest_history,
    positive,
    query_param,
    rest_path,
    shape_error,
)
from liqtui.model.events import EventBatch, Notice
from liqtui.model.margin import MarginTier
from liqtui.model.types import ContractKind, Exchange, Instrument

_loads = orjson.loads
_number = number
_EXCHANGE = Exchange.BINANCE
_DATA = FrameKind.DATA
_SKIPPED = FrameKind.SKIPPED

_PERPETUAL_TYPES = frozenset({"PERPETUAL", "TRADIFI_PERPETUAL"})
"""`contractType`s of perpetuals. TradFi perpetuals (gold, indices) are USDT-margined linear perpetuals too."""

_DATED_TYPES = frozenset({"CURRENT_MONTH", "NEXT_MONTH", "CURRENT_QUARTER", "NEXT_QUARTER"})


def _is_error_body(doc: Any) -> bool:
    # Binance's error replies are {"code": -1121, "msg": "Invalid symbol."}; no data body has both keys.
    return type(doc) is dict and "code" in doc and "msg" in doc


# ------------------------------------------------------------------------------------- fast path types


class _AggTrade(msgspec.Struct, tag_field="e", tag="aggTrade", gc=False):
    """The fields the fast path reads of an `aggTrade` payload (`{"e":"aggTrade","s":"BTCUSDT","p":"83434.40",
    "q":"0.016","T":1791391081874,"m":true,...}`)."""

    symbol: str = field(name="s")
    px: PositiveFinite = field(name="p")
    """A decimal string, converted and range-checked by msgspec."""
    qty_base: PositiveFinite = field(name="q")
    ts_ms: Any = field(name="T")
    """A JSON number on the wire, decoded as it is: the fast path takes only an int."""
    buyer_maker: Any = field(name="m")
    """Decoded as it is: the fast path takes only a JSON boolean (strict=False would read "true" as one)."""


class _MarkPrice(msgspec.Struct, tag_field="e", tag="markPriceUpdate", gc=False):
    """The fields the fast path reads of a `markPriceUpdate` payload (`{"e":"markPriceUpdate",
    "E":1790526539000,"s":"BTCUSDT","p":"84551.10762319","r":"0.00000801",...}`)."""

    symbol: str = field(name="s")
    px: PositiveFinite = field(name="p")
    """A decimal string; a zero mark (a contract not trading yet) is refused here and skipped by the general path."""
    ts_ms: Any = field(name="E")
    """The event time, a JSON number, decoded as it is: the fast path takes only an int."""
    funding_rate: FundingRate | UnsetType = field(name="r", default=UNSET)


class _Order(msgspec.Struct, gc=False):
    """The fields the fast path reads of a `forceOrder` payload's order `o` (`{"s":"BTCUSDT","S":"SELL",
    "q":"0.190","p":"82338.30","ap":"82651.90","z":"0.190","T":1791565602120,"st":1,...}`)."""

    symbol: str = field(name="s")
    side: str = field(name="S")
    ts_ms: Any = field(name="T")
    """A JSON number on the wire, decoded as it is: the fast path takes only an int."""
    avg_px: float | UnsetType = field(name="ap", default=UNSET)
    """The average fill; when absent or 0, the order's price `p` is the price."""
    px: float | UnsetType = field(name="p", default=UNSET)
    filled_qty: float | UnsetType = field(name="z", default=UNSET)
    """The filled quantity; when absent or 0, the order's quantity `q` is the quantity."""
    qty: float | UnsetType = field(name="q", default=UNSET)
    symbol_type: Any = field(name="st", default=UNSET)


class _ForceOrder(msgspec.Struct, tag_field="e", tag="forceOrder", gc=False):
    """The fields the fast path reads of a `forceOrder` payload: the order, and `st` when it stands beside it."""

    order: _Order = field(name="o")
    symbol_type: Any = field(name="st", default=UNSET)


class _Combined(msgspec.Struct, gc=False):
    """A combined-stream frame (`{"stream":"btcusdt@aggTrade","data":{...}}`, the only kind liqtui connects to):
    the payload's `e` picks its type in the same pass. Raw `/ws` payloads and arrays take the general path."""

    data: _AggTrade | _MarkPrice | _ForceOrder


_decode_combined = msgspec.json.Decoder(_Combined, strict=False).decode
"""`strict=False` converts the decimal strings to floats in the decoder."""


class BinanceParser(ParserBase):
    """Binance USD-M websocket frames and REST bodies to normalized events."""

    def __init__(self, *, max_frame_bytes: int = 1 << 20, max_rest_bytes: int = 64 << 20, fast: bool = True) -> None:
        super().__init__(max_frame_bytes=max_frame_bytes, max_rest_bytes=max_rest_bytes, fast=fast)
        self.exchange = _EXCHANGE

    # -------------------------------------------------------------------------------------------- websocket

    def parse(self, frame: str | bytes, batch: EventBatch) -> FrameKind:
        """Classify one websocket frame, appending its events to `batch`. Never raises.

        The commonest frame, an aggregated trade (live `/market/stream`, 2026-10-08)::

            {"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1791391082024,"a":3478018549,"s":"BTCUSDT",
             "p":"83434.40","q":"0.016","nq":"0.016","f":8154045700,"l":8154045704,"T":1791391081874,"m":true,
             "st":1}}

        is the trade (1791391081874, 83434.4, 0.016, taker_buy=False): `m` true means the buyer was the maker.
        """
        if len(frame) > self.max_frame_bytes:
            return self._oversized(len(frame), self.max_frame_bytes)
        if self.fast and self._parse_fast(frame, batch):
            return _DATA
        try:
            msg = _loads(frame)
            try:
                data = msg["data"]
            except (KeyError, TypeError, IndexError):
                # A raw `/ws` frame (the bare payload) or a control reply: rarer than combined-stream frames.
                data = msg
            try:
                event = data["e"]
            except (KeyError, TypeError, IndexError):
                return self._other(data, batch)
            if event == "aggTrade":
                symbol = data["s"]
                # `st` is checked when a symbol is first seen: a symbol's type does not change, and COIN-M
                # symbols have names of their own (BTCUSD_PERP), so the hot path need not look again.
                if symbol not in self._linear and not self._accepts(symbol, data.get("st")):
                    return _SKIPPED
                ts_ms = data["T"]
                px = _number(data["p"])
                qty_base = _number(data["q"])
                # The comparisons also reject what `_number` may return besides numbers (TypeError).
                if px > 0.0 and qty_base > 0.0 and 0 < ts_ms < MAX_TS_MS:
                    batch.trades[symbol].append((ts_ms, px, qty_base, not data["m"]))
                    return _DATA
                return self._invalid("aggTrade", symbol)
            if event == "markPriceUpdate":
                return self._mark_price(data, batch)
            if event == "forceOrder":
                return self._force_order(data, batch)
            return self._skipped(clip(f"event {event!r} is not one liqtui reads"))
        except PARSE_ERRORS as exc:
            return self._failed(exc)

    def _parse_fast(self, frame: str | bytes, batch: EventBatch) -> bool:
        """The typed fast path: combined-stream trades, marks and liquidations of symbols already accepted. True
        when the frame's events were appended (the frame is DATA); False, with nothing appended, on any doubt: the
        general path then reads the frame again and classifies it."""
        try:
            data = _decode_combined(frame).data
        except FAST_DECODE_ERRORS:
            return False
        # `type(...) is` rather than isinstance: msgspec's Struct metaclass makes isinstance several times slower.
        # Prices, quantities and the funding rate were range-checked by the decoder; times and the maker flag are
        # checked here, as they must be JSON numbers and booleans.
        if type(data) is _AggTrade:
            symbol = data.symbol
            ts_ms = data.ts_ms
            buyer_maker = data.buyer_maker
            if (
                symbol in self._linear
                and type(ts_ms) is int
                and 0 < ts_ms < MAX_TS_MS
                and (buyer_maker is True or buyer_maker is False)
            ):
                batch.trades[symbol].append((ts_ms, data.px, data.qty_base, buyer_maker is False))
                return True
            return False
        if type(data) is _MarkPrice:
            symbol = data.symbol
            ts_ms = data.ts_ms
            if not (symbol in self._linear and type(ts_ms) is int and 0 < ts_ms < MAX_TS_MS):
                return False
            batch.marks[symbol].append((ts_ms, data.px))
            funding = data.funding_rate
            if funding is not UNSET:
                batch.funding_rate[symbol] = funding + 0.0
            return True
        if type(data) is _ForceOrder:
            return self._force_order_fast(data, batch)
        return False

    def _force_order_fast(self, data: _ForceOrder, batch: EventBatch) -> bool:
        """A liquidation of an accepted USD-M symbol whose fields all pass the general path's checks, appended;
        else False with nothing appended."""
        order = data.order
        symbol = order.symbol
        symbol_type = order.symbol_type if order.symbol_type is not UNSET else data.symbol_type
        if symbol_type == 2 or symbol not in self._linear:
            return False
        order_side = order.side
        if order_side == "SELL":
            side = LONG
        elif order_side == "BUY":
            side = SHORT
        else:
            return False
        px = order.avg_px
        if px is UNSET or px == 0.0:
            px = order.px
        qty_base = order.filled_qty
        if qty_base is UNSET or qty_base == 0.0:
            qty_base = order.qty
        ts_ms = order.ts_ms
        if px is UNSET or qty_base is UNSET:
            return False
        if not (type(ts_ms) is int and 0 < ts_ms < MAX_TS_MS and 0.0 < px < INF and 0.0 < qty_base < INF):
            return False
        batch.liquidations[symbol].append((ts_ms, px, qty_base, side))
        return True

    def _other(self, data: Any, batch: EventBatch) -> FrameKind:
        """A frame without an event type: an array of payloads, or a control reply."""
        if type(data) is list:
            return self._payloads(data, batch)
        if type(data) is dict:
            return self._control(data, batch)
        return self._bad(clip(f"a frame that is neither an object nor an array: {data!r}"))

    def _payloads(self, items: list[Any], batch: EventBatch) -> FrameKind:
        """An array payload: `!markPrice@arr` (every symbol) or a `!forceOrder@arr` array, element by element.

        An element that is skipped or unreadable does not spoil the others: the frame is DATA if any element was
        kept, else BAD if any was unreadable, else SKIPPED. Binance never sends an empty array, so one is BAD.
        """
        if not items:
            return self._bad("an empty array")
        kept = False
        skip_reason = ""
        bad_reason = ""
        for item in items:
            try:
                kind = self._payload(item, batch)
            except PARSE_ERRORS as exc:
                kind = self._failed(exc)
            if kind is FrameKind.DATA:
                kept = True
            elif kind is FrameKind.SKIPPED:
                skip_reason = self.reason
            else:
                bad_reason = self.reason
        if kept:
            return FrameKind.DATA
        return self._bad(bad_reason) if bad_reason else self._skipped(skip_reason)

    def _payload(self, data: Any, batch: EventBatch) -> FrameKind:
        """One element of an array payload."""
        event = data["e"]
        if event == "markPriceUpdate":
            return self._mark_price(data, batch)
        if event == "forceOrder":
            return self._force_order(data, batch)
        return self._bad(clip(f"array element with event {event!r}"))

    def _mark_price(self, data: dict[str, Any], batch: EventBatch) -> FrameKind:
        """A mark price and the current funding rate (2026, combined stream)::

            {"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1790526539000,"s":"BTCUSDT",
             "p":"84551.10762319","ap":"84551.10762319","P":"84559.09090930","i":"84590.87304348",
             "r":"0.00000801","T":1790553600000,"st":1}}

        The time is the event time `E` (`T` is the next funding time); `p` is the mark price, `r` the funding rate.
        """
        symbol = data["s"]
        if symbol not in self._linear and not self._accepts(symbol, data.get("st")):
            return _SKIPPED
        ts_ms = data["E"]
        px = _number(data["p"])
        funding = data.get("r")
        # `_number` gives a number, or something these comparisons reject with TypeError.
        rate = _number(funding) if funding else None
        if not (px >= 0.0 and 0 < ts_ms < MAX_TS_MS and (rate is None or -1.0 < rate < 1.0)):
            return self._invalid("markPriceUpdate", symbol)
        if px == 0.0:
            # A contract that is not trading (settled, about to list) has no mark yet.
            return self._skipped(clip(f"{symbol} has no mark price yet"))
        batch.marks[symbol].append((ts_ms, px))
        if rate is not None:
            batch.funding_rate[symbol] = rate + 0.0
        return _DATA

    def _force_order(self, data: dict[str, Any], batch: EventBatch) -> FrameKind:
        """A liquidation order (`!forceOrder@arr`, live 2026-10-09)::

            {"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":1791565603055,"o":{"s":"BTCUSDT","S":"SELL",
             "o":"LIMIT","f":"IOC","q":"0.190","p":"82338.30","ap":"82651.90","X":"FILLED","l":"0.155",
             "z":"0.190","T":1791565602120,"ps":"BTCUSDT","st":1}}}

        is a LONG liquidated (the order sold): 0.190 BTC at 82,651.90 at 1791565602120. `st` is read inside `o`
        (live) and beside it (the docs).
        """
        order = data["o"]
        symbol = order["s"]
        symbol_type = order.get("st", data.get("st"))
        if not self._accepts(symbol, symbol_type):
            return FrameKind.SKIPPED
        order_side = order["S"]
        if order_side == "SELL":
            side = LONG
        elif order_side == "BUY":
            side = SHORT
        else:
            return self._invalid("forceOrder side", symbol)
        avg_px = order.get("ap")
        px = float(avg_px) if avg_px else 0.0
        if px == 0.0:
            px = float(order["p"])
        filled = order.get("z")
        qty_base = float(filled) if filled else 0.0
        if qty_base == 0.0:
            qty_base = float(order["q"])
        ts_ms = order["T"]
        if not (type(ts_ms) is int and 0 < ts_ms < MAX_TS_MS and 0.0 < px < INF and 0.0 < qty_base < INF):
            return self._invalid("forceOrder", symbol)
        batch.liquidations[symbol].append((ts_ms, px, qty_base, side))
        return FrameKind.DATA

    def _control(self, data: dict[str, Any], batch: EventBatch) -> FrameKind:
        """Replies to SUBSCRIBE and friends: `{"result":null,"id":1}`, `{"result":["btcusdt@aggTrade"],"id":3}`,
        and errors, as the live server wraps them (`"id":null` when the request was not JSON)::

            {"error":{"code":2,"msg":"Invalid request: unknown variant `SUBSCRIB`"},"id":1}

        or bare, as older servers and the docs write them: `{"code":2,"msg":"Invalid request: unknown method"}`
        (sometimes with `"id"`). Either error is a NOTICE (`error`) with the exchange's message.
        """
        if "result" in data and "id" in data:
            return FrameKind.ACK
        error = data.get("error")
        if type(error) is dict and "msg" in error:
            batch.notices.append(Notice(code="error", text=clip(error["msg"])))
            return FrameKind.NOTICE
        if "code" in data and "msg" in data:
            batch.notices.append(Notice(code="error", text=clip(data["msg"])))
            return FrameKind.NOTICE
        return self._bad(clip(f"an object with neither an event type nor a reply: keys {sorted(map(str, data))}"))

    def _accepts(self, symbol: str, symbol_type: object) -> bool:
        """True for a USD-M perpetual; else False with the reason set. Caches accepted symbols."""
        if type(symbol) is not str or not symbol:
            raise TypeError(f"symbol {symbol!r} is not a non-empty string")
        if symbol_type == 2:
            self.reason = clip(f"{symbol} is a COIN-M contract (st 2)")
            return False
        if symbol in self._linear:
            return True
        kind = self._kinds.get(symbol) if self._kinds is not None else None
        if kind is None:
            # No table, or a listing newer than the table: dated and COIN-M symbols have a "_" (BTCUSD_PERP).
            kind = ContractKind.LINEAR_DATED if "_" in symbol else ContractKind.LINEAR_PERPETUAL
        if kind is not ContractKind.LINEAR_PERPETUAL:
            self.reason = clip(f"{symbol} is not a USD-M perpetual ({kind.value})")
            return False
        if len(self._linear) >= SYMBOL_CACHE_LIMIT:
            self._linear.clear()
        self._linear.add(symbol)
        return True

    def set_instruments(self, instruments: list[Instrument]) -> None:
        """Learn the exchange's instrument table: symbols it lists are classified by their kind from now on."""
        self._kinds = instrument_kinds(instruments, _EXCHANGE)
        self._linear.clear()

    # ------------------------------------------------------------------------------------------------- REST

    def parse_rest(self, url: str, body: str | bytes, batch: EventBatch) -> FrameKind:
        """Classify one REST body fetched from `url` (matched on the path's end), appending its events. Never raises.

        - `/fapi/v1/exchangeInfo`: the instrument table, applied with `set_instruments`;
        - `/fapi/v1/openInterest`: `{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}`;
        - `/fapi/v1/premiumIndex`: mark price and funding, one object or an array of them;
        - `/futures/data/openInterestHist`: open-interest history, appended oldest first;
        - `/fapi/v1/klines`, `/fapi/v1/leverageBracket`: checked and DATA without events (read them with
          `parse_klines` and `parse_margin_tiers`);
        - `{"code":-1121,"msg":"Invalid symbol."}` on any path: NOTICE (`error`).
        """
        try:
            path = rest_path(url)
            handler = find_handler(path, _REST_HANDLERS)
            if handler is None:
                return self._skipped(clip(f"no Binance parser for REST path {path!r}"))
            if len(body) > self.max_rest_bytes:
                return self._oversized(len(body), self.max_rest_bytes)
            doc = _loads(body)
            if _is_error_body(doc):
                error_notice(batch, _EXCHANGE, doc["code"], doc["msg"], query_param(url, "symbol"))
                return FrameKind.NOTICE
            return handler(self, doc, batch)
        except FeedError as exc:
            return self._bad(clip(exc))
        except PARSE_ERRORS as exc:
            return self._failed(exc)

    def _rest_instruments(self, doc: Any, batch: EventBatch) -> FrameKind:
        self.set_instruments(_instruments(doc))
        return FrameKind.DATA

    def _rest_open_interest(self, doc: Any, batch: EventBatch) -> FrameKind:
        symbol = doc["symbol"]
        if not self._accepts(symbol, None):
            return FrameKind.SKIPPED
        ts_ms = int(doc["time"])
        oi_base = float(doc["openInterest"])
        if not (0 < ts_ms < MAX_TS_MS and 0.0 <= oi_base < INF):
            return self._invalid("openInterest", symbol)
        batch.open_interest[symbol].append((ts_ms, oi_base))
        return FrameKind.DATA

    def _rest_premium_index(self, doc: Any, batch: EventBatch) -> FrameKind:
        """`{"symbol":"BTCUSDT","markPrice":"11793.63104562","indexPrice":"11781.80495970",
        "estimatedSettlePrice":"11781.16138815","lastFundingRate":"0.00038246","interestRate":"0.00010000",
        "nextFundingTime":1597392000000,"time":1597370495002}`, or an array of them (no `symbol` asked)."""
        kept = False
        skip_reason = ""
        for row in doc if type(doc) is list else [doc]:
            symbol = row["symbol"]
            if not self._accepts(symbol, None):
                skip_reason = self.reason
                continue
            ts_ms = int(row["time"])
            px = float(row["markPrice"])
            if not (0 < ts_ms < MAX_TS_MS and 0.0 < px < INF):
                return self._invalid("premiumIndex", symbol)
            batch.marks[symbol].append((ts_ms, px))
            rate = funding_rate(row.get("lastFundingRate"))
            if rate is not None:
                batch.funding_rate[symbol] = rate
            kept = True
        if kept or not skip_reason:
            return FrameKind.DATA
        return self._skipped(skip_reason)

    def _rest_open_interest_history(self, doc: Any, batch: EventBatch) -> FrameKind:
        if type(doc) is not list:
            return self._bad("openInterestHist body is not an array")
        kept = False
        skip_reason = ""
        rows_by_symbol: dict[str, list[tuple[int, float]]] = {}
        for row in doc:
            symbol = row["symbol"]
            if not self._accepts(symbol, None):
                skip_reason = self.reason
                continue
            rows_by_symbol.setdefault(symbol, []).append((int(row["timestamp"]), float(row["sumOpenInterest"])))
        for symbol, rows in rows_by_symbol.items():
            # A structured array's tolist() is a list of (ts_ms, oi_base) tuples: the batch's row type.
            batch.open_interest[symbol].extend(open_interest_history(rows).tolist())
            kept = True
        if kept or not skip_reason:
            return FrameKind.DATA
        return self._skipped(skip_reason)

    def _rest_klines(self, doc: Any, batch: EventBatch) -> FrameKind:
        _klines(doc)
        return FrameKind.DATA

    def _rest_brackets(self, doc: Any, batch: EventBatch) -> FrameKind:
        _margin_tiers(doc)
        return FrameKind.DATA


_REST_HANDLERS = {
    "/fapi/v1/exchangeInfo": BinanceParser._rest_instruments,
    "/fapi/v1/openInterest": BinanceParser._rest_open_interest,
    "/fapi/v1/premiumIndex": BinanceParser._rest_premium_index,
    "/futures/data/openInterestHist": BinanceParser._rest_open_interest_history,
    "/fapi/v1/klines": BinanceParser._rest_klines,
    "/fapi/v1/leverageBracket": BinanceParser._rest_brackets,
}
"""REST handlers by the end of the URL's path (a prefix such as the simulator's `/binance` may precede it)."""


# ---------------------------------------------------------------------------------------- REST functions


def _checked(doc: Any) -> Any:
    if _is_error_body(doc):
        raise FeedError(f"Binance answered with error {doc['code']}: {clip(doc['msg'])}")
    return doc


def parse_instruments(body: str | bytes) -> list[Instrument]:
    """The instrument table of `GET /fapi/v1/exchangeInfo`. Raises FeedError for an error or malformed body.

    A row (trimmed)::

        {"symbol":"BTCUSDT","pair":"BTCUSDT","contractType":"PERPETUAL","status":"TRADING","baseAsset":"BTC",
         "quoteAsset":"USDT","marginAsset":"USDT","filters":[{"filterType":"PRICE_FILTER","tickSize":"0.10",
         "minPrice":"556.80","maxPrice":"4529764"}, ...]}

    `PERPETUAL` (and `TRADIFI_PERPETUAL`) margined in the quote asset is a linear perpetual; quarterlies are
    linear dated; margined in the base asset (the COIN-M table's `BTCUSD_PERP`) is inverse.
    """
    return _instruments(load_body(body, _EXCHANGE))


def _instruments(doc: Any) -> list[Instrument]:
    try:
        instruments = []
        for row in _checked(doc)["symbols"]:
            symbol = row["symbol"]
            base = row["baseAsset"]
            margin = row.get("marginAsset", row["quoteAsset"])
            contract_type = row.get("contractType", "")
            inverse = margin == base or "_PERP" in symbol
            if contract_type in _PERPETUAL_TYPES:
                kind = ContractKind.INVERSE if inverse else ContractKind.LINEAR_PERPETUAL
            elif contract_type in _DATED_TYPES:
                kind = ContractKind.INVERSE if inverse else ContractKind.LINEAR_DATED
            else:
                kind = ContractKind.OTHER
            tick_size = next(
                (float(f["tickSize"]) for f in row.get("filters", ()) if f.get("filterType") == "PRICE_FILTER"),
                0.0,
            )
            instruments.append(Instrument(_EXCHANGE, symbol, base, row["quoteAsset"], kind, tick_size=tick_size))
        return instruments
    except PARSE_ERRORS as exc:
        raise shape_error(_EXCHANGE, "exchangeInfo", exc) from None


def parse_open_interest_history(body: str | bytes) -> npt.NDArray[Any]:
    """`GET /futures/data/openInterestHist` as an `OPEN_INTEREST_DTYPE` array (`sumOpenInterest`, base units,
    single-sided), oldest first. Raises FeedError for an error or malformed body.

    A row: `{"symbol":"BTCUSDT","sumOpenInterest":"34085.00000000","sumOpenInterestValue":"1927265695.27",
    "timestamp":1616438700000}` (`timestamp` is a number live, a string in the docs: both are read).
    """
    doc = load_body(body, _EXCHANGE)
    try:
        return open_interest_history([(int(row["timestamp"]), float(row["sumOpenInterest"])) for row in _checked(doc)])
    except PARSE_ERRORS as exc:
        raise shape_error(_EXCHANGE, "openInterestHist", exc) from None


def parse_klines(body: str | bytes) -> npt.NDArray[Any]:
    """`GET /fapi/v1/klines` as a `KLINE_DTYPE` array, oldest first. Raises FeedError for an error or bad body.

    A row: `[1499040000000, "0.01634790", "0.80000000", "0.01575800", "0.01577100", "148976.11427815",
    1499644799999, "2434.19055334", 308, "1756.87402397", "28.46694368", "0"]`: open time, OHLC, volume (base),
    close time, quote volume, trade count, **taker buy base volume** (index 9), taker buy quote volume.
    """
    return _klines(load_body(body, _EXCHANGE))


def _klines(doc: Any) -> npt.NDArray[Any]:
    try:
        return klines(
            [
                (int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]), float(r[9]))
                for r in _checked(doc)
            ]
        )
    except PARSE_ERRORS as exc:
        raise shape_error(_EXCHANGE, "klines", exc) from None


def parse_margin_tiers(body: str | bytes) -> dict[str, tuple[MarginTier, ...]]:
    """A `GET /fapi/v1/leverageBracket` table (signed on Binance, so the user supplies it), per symbol, lowest
    tier first. Raises FeedError for an error or malformed body.

    The body is an array (or, for one symbol, one object)::

        [{"symbol":"BTCUSDT","notionalCoef":1.5,"brackets":[{"bracket":1,"initialLeverage":125,"notionalCap":50000,
          "notionalFloor":0,"maintMarginRatio":0.004,"cum":0.0}, ...]}]

    Floors and caps are quote notional; `cum` is the maintenance amount.
    """
    return _margin_tiers(load_body(body, _EXCHANGE))


def _margin_tiers(doc: Any) -> dict[str, tuple[MarginTier, ...]]:
    try:
        tables = {}
        for entry in _checked(doc) if type(doc) is list else [_checked(doc)]:
            tiers = sorted(
                (
                    MarginTier(
                        floor=float(b["notionalFloor"]),
                        cap=positive(b["notionalCap"]),
                        mmr=float(b["maintMarginRatio"]),
                        max_leverage=positive(b["initialLeverage"]),
                        maintenance_amount=float(b.get("cum", 0.0)),
                    )
                    for b in entry["brackets"]
                ),
                key=lambda tier: tier.floor,
            )
            tables[str(entry["symbol"])] = tuple(tiers)
        return tables
    except PARSE_ERRORS as exc:
        raise shape_error(_EXCHANGE, "leverageBracket", exc) from None
