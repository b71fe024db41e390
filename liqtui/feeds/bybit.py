"""Bybit v5 `linear`: the public websocket topics liqtui reads and the REST bodies of its warm start.

Topics (`../shared/exchanges.md` §2): `publicTrade.<SYM>`, `tickers.<SYM>` (snapshot, then deltas),
`allLiquidation.<SYM>` and the deprecated `liquidation.<SYM>`. Numbers are strings; times are numbers.

Semantics normalized here:
- publicTrade `S` is the *taker* side: `Buy` is a taker buy.
- allLiquidation `S` (and the old topic's `side`) is the *position* side: `Buy` means a LONG was liquidated —
  the opposite of Binance's order-side convention. The price `p` is the bankruptcy price, `v` base units.
- tickers: a snapshot replaces the symbol's merged state, a delta updates only the fields it carries. A mark row
  is emitted when a message carries `markPrice`. Open interest is emitted when a message carries either OI
  field: the merged `singleOpenInterest` when the state has one (Bybit split the field in 2026; `openInterest`
  is now documented as both sides), else the frame's `openInterest` as it is (older layouts, from before the
  split, carry only that field).
- Only linear perpetuals are kept: a symbol ending in USDT, USDC or PERP with no `-` (inverse `BTCUSD`, dated
  `BTCUSDU23`, `BTC-26DEC25` are skipped), or, once an instrument table is set, its kind there.
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
    NamingRule,
    NonNegativeFinite,
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
_EXCHANGE = Exchange.BYBIT
_DATA = FrameKind.DATA
_SKIPPED = FrameKind.SKIPPED
_NAN = float("nan")

_CONTRACT_KINDS = {
    "LinearPerpetual": ContractKind.LINEAR_PERPETUAL,
    "LinearFutures": ContractKind.LINEAR_DATED,
    "InversePerpetual": ContractKind.INVERSE,
    "InverseFutures": ContractKind.INVERSE,
}
"""instruments-info `contractType` to kind; spot and option rows have none."""


def looks_linear_perpetual(symbol: str) -> bool:
    """Bybit's naming of linear perpetuals (BTCUSDT, ETHUSDC, BTCPERP): inverse and dated names differ."""
    return "-" not in symbol and symbol.endswith(("USDT", "USDC", "PERP"))


_NAMING = NamingRule(
    looks_linear=looks_linear_perpetual,
    symbol_word="symbol",
    kept="a linear perpetual",
    others="an inverse or dated contract",
)


# ------------------------------------------------------------------------------------- fast path types


class _Row(msgspec.Struct, gc=False):
    """The fields the fast path reads of one element of a `publicTrade` frame's `data` (a trade) or of an
    `allLiquidation` frame's (a liquidation): both are `{"T":1786310819680,"S":"Sell","v":"0.004",
    "p":"65114.20",...}`."""

    ts_ms: Any = field(name="T")
    """A JSON number on the wire, decoded as it is: the fast path takes only an int."""
    px: PositiveFinite = field(name="p")
    """A decimal string, converted and range-checked by msgspec."""
    qty_base: PositiveFinite = field(name="v")
    side: str = field(name="S")
    """The taker's side of a trade, the position's side of a liquidation: `Buy` or `Sell`."""


class _TickerFields(msgspec.Struct, gc=False):
    """The fields liqtui reads of a `tickers` frame's `data` (snapshot or delta); every other field is skipped.
    A field the message does not carry stays UNSET, as a delta leaves it unchanged."""

    mark_px: NonNegativeFinite | UnsetType = field(name="markPrice", default=UNSET)
    """0 for a contract not trading yet: no mark."""
    single_oi: NonNegativeFinite | UnsetType = field(name="singleOpenInterest", default=UNSET)
    frame_oi: NonNegativeFinite | UnsetType = field(name="openInterest", default=UNSET)
    funding_rate: FundingRate | UnsetType = field(name="fundingRate", default=UNSET)


class _Frame(msgspec.Struct, gc=False):
    """A data frame as the fast path reads it, in one pass: `publicTrade` and `allLiquidation` frames carry a
    list of rows, `tickers` frames an object. The topic says which (the data carries no tag)."""

    topic: str
    data: list[_Row] | _TickerFields
    message_type: Any = field(name="type", default=UNSET)
    """`snapshot` or `delta` (read for tickers only), decoded as it is."""
    ts_ms: Any = field(name="ts", default=UNSET)
    """The envelope's time (read for tickers only), decoded as it is: the fast path takes only an int."""


_decode_frame = msgspec.json.Decoder(_Frame, strict=False).decode
"""`strict=False` converts the decimal strings to floats in the decoder."""


def rejected_symbols(ret_msg: str) -> list[str]:
    """The symbols a refusal names, in order, from Bybit's wordings (seen live):

    - `error:handler not found,topic:orderbook.25.BTCUSD` → `[BTCUSD]`
    - `Invalid symbol :[tickers.TAOUSDT]` → `[TAOUSDT]`; `Invalid symbol :[NOTACOINUSDT]` → `[NOTACOINUSDT]`
    - `Invalid symbol :[tickers.AUSDT,allLiquidation.AUSDT,tickers.BUSDT]` → `[AUSDT, BUSDT]`
    - `Params Error`, `args size >10` → `[]`
    """
    start = ret_msg.find("topic:")
    if start >= 0:
        topics = ret_msg[start + 6 :]
    else:
        start = ret_msg.find("[")
        if start < 0:
            return []
        end = ret_msg.find("]", start)
        topics = ret_msg[start + 1 : end if end >= 0 else None]
    symbols = [topic.strip().rsplit(".", 1)[-1].strip() for topic in topics.split(",")]
    return list(dict.fromkeys(symbol for symbol in symbols if symbol))


class BybitParser(ParserBase):
    """Bybit v5 linear websocket frames and REST bodies to normalized events."""

    naming = _NAMING

    def __init__(self, *, max_frame_bytes: int = 1 << 20, max_rest_bytes: int = 64 << 20, fast: bool = True) -> None:
        super().__init__(max_frame_bytes=max_frame_bytes, max_rest_bytes=max_rest_bytes, fast=fast)
        self.exchange = _EXCHANGE
        self._trade_topics: dict[str, str] = {}
        """`publicTrade.<SYM>` → SYM for accepted symbols: the trade hot path's one lookup."""
        self._ticker_topics: dict[str, str] = {}
        """`tickers.<SYM>` → SYM for accepted symbols."""
        self._single_oi: dict[str, float | None] = {}
        """The merged ticker state per symbol, of the one field that outlives a message: `singleOpenInterest`
        of the last snapshot, or of a later delta that carried it (None: the snapshot had no such field)."""

    # -------------------------------------------------------------------------------------------- websocket

    def parse(self, frame: str | bytes, batch: EventBatch) -> FrameKind:
        """Classify one websocket frame, appending its events to `batch`. Never raises.

        The commonest frame, trades (2026-08)::

            {"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1786310819681,"data":[{"T":1786310819680,
             "s":"BTCUSDT","S":"Sell","v":"0.004","p":"65114.20","L":"MinusTick",
             "i":"a9188a0a-82bc-50de-be60-03eedbe3cdd7","BT":false,"RPI":false,"seq":753843954913}]}

        is the trade (1786310819680, 65114.2, 0.004, taker_buy=False): `S` is the taker's side.
        """
        if len(frame) > self.max_frame_bytes:
            return self._oversized(len(frame), self.max_frame_bytes)
        if self.fast and self._parse_fast(frame, batch):
            return _DATA
        try:
            msg = _loads(frame)
            try:
                topic = msg["topic"]
            except (KeyError, TypeError, IndexError):
                return self._control(msg, batch)
            # One dict lookup by the whole topic finds the symbol of an accepted trade topic: cheaper than
            # testing the prefix, slicing the symbol off and looking that up. Tickers have their own.
            symbol = self._trade_topics.get(topic)
            if symbol is None:
                symbol = self._ticker_topics.get(topic)
                if symbol is not None:
                    return self._ticker(symbol, msg, batch)
                symbol = self._trade_topic(topic)
                if symbol is None:
                    return self._topic(topic, msg, batch)
            rows = batch.trades[symbol]
            for trade in msg["data"]:
                ts_ms = trade["T"]
                px = _number(trade["p"])
                qty_base = _number(trade["v"])
                side = trade["S"]
                taker_buy = side == "Buy"
                # The comparisons also reject what `_number` may return besides numbers (TypeError).
                if not (px > 0.0 and qty_base > 0.0 and 0 < ts_ms < MAX_TS_MS and (taker_buy or side == "Sell")):
                    return self._invalid("publicTrade", symbol)
                rows.append((ts_ms, px, qty_base, taker_buy))
            return _DATA
        except PARSE_ERRORS as exc:
            return self._failed(exc)

    def _parse_fast(self, frame: str | bytes, batch: EventBatch) -> bool:
        """The typed fast path: trades, tickers and liquidations of topics already accepted. True when the frame's
        events were appended (the frame is DATA); False, with nothing appended, on any doubt: the general path
        then reads the frame again and classifies it."""
        try:
            msg = _decode_frame(frame)
        except FAST_DECODE_ERRORS:
            return False
        topic = msg.topic
        data = msg.data
        # `type(...) is` rather than isinstance: msgspec's Struct metaclass makes isinstance several times slower.
        if type(data) is _TickerFields:
            symbol = self._ticker_topics.get(topic)
            return symbol is not None and self._ticker_fast(symbol, msg.message_type, msg.ts_ms, data, batch)
        if type(data) is not list:
            return False
        # Prices and quantities were range-checked by the decoder; times are checked here, as they must be JSON ints.
        symbol = self._trade_topics.get(topic)
        if symbol is not None:
            trades = []
            for row in data:
                ts_ms = row.ts_ms
                side = row.side
                taker_buy = side == "Buy"
                if not (type(ts_ms) is int and 0 < ts_ms < MAX_TS_MS and (taker_buy or side == "Sell")):
                    return False
                trades.append((ts_ms, row.px, row.qty_base, taker_buy))
            batch.trades[symbol].extend(trades)
            return True
        if not topic.startswith("allLiquidation."):
            return False
        symbol = topic[15:]
        if symbol not in self._linear:
            return False
        liquidations = []
        for row in data:
            ts_ms = row.ts_ms
            position = row.side
            if position == "Buy":
                side_int = LONG
            elif position == "Sell":
                side_int = SHORT
            else:
                return False
            if not (type(ts_ms) is int and 0 < ts_ms < MAX_TS_MS):
                return False
            liquidations.append((ts_ms, row.px, row.qty_base, side_int))
        batch.liquidations[symbol].extend(liquidations)
        return True

    def _ticker_fast(self, symbol: str, message_type: Any, ts_ms: Any, data: _TickerFields, batch: EventBatch) -> bool:
        """A ticker of an accepted symbol, merged and appended (its fields were range-checked by the decoder), when
        its type and time pass the general path's checks; else False with nothing changed."""
        snapshot = message_type == "snapshot"
        if not ((snapshot or message_type == "delta") and type(ts_ms) is int and 0 < ts_ms < MAX_TS_MS):
            return False
        mark_px = data.mark_px
        px = 0.0 if mark_px is UNSET else mark_px
        single = data.single_oi
        single_oi = None if single is UNSET else single
        both = data.frame_oi
        frame_oi = None if both is UNSET else both
        funding = data.funding_rate
        rate = None if funding is UNSET else funding
        self._merge_ticker(symbol, ts_ms, batch, snapshot=snapshot, px=px, oi=(single_oi, frame_oi), rate=rate)
        return True

    def _trade_topic(self, topic: str) -> str | None:
        """The symbol of a trade topic seen for the first time, if liqtui keeps it (it is remembered then)."""
        if type(topic) is not str or not topic.startswith("publicTrade."):
            return None
        symbol = topic[12:]
        if not self._accepts_linear(symbol):
            return None
        if len(self._trade_topics) >= SYMBOL_CACHE_LIMIT:
            self._trade_topics.clear()
        self._trade_topics[topic] = symbol
        return symbol

    def _topic(self, topic: str, msg: dict[str, Any], batch: EventBatch) -> FrameKind:
        """Every topic but the trades of an already accepted symbol."""
        if topic.startswith("publicTrade."):
            return _SKIPPED  # `_trade_topic` refused the symbol and set the reason
        if topic.startswith("tickers."):
            symbol = topic[8:]
            if not self._accepts_linear(symbol):
                return _SKIPPED
            if len(self._ticker_topics) >= SYMBOL_CACHE_LIMIT:
                self._ticker_topics.clear()
            self._ticker_topics[topic] = symbol
            return self._ticker(symbol, msg, batch)
        if topic.startswith("allLiquidation."):
            return self._all_liquidation(topic[15:], msg["data"], batch)
        if topic.startswith("liquidation."):
            return self._legacy_liquidation(msg["data"], batch)
        return self._skipped(clip(f"topic {topic!r} is not one liqtui reads"))

    def _ticker(self, symbol: str, msg: dict[str, Any], batch: EventBatch) -> FrameKind:
        """A ticker snapshot or delta (linear, 2026-08; snapshot trimmed)::

            {"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","markPrice":"65117.44",
             "indexPrice":"65137.76","openInterest":"59891.732","openInterestValue":"3899996265.01",
             "singleOpenInterest":"29945.866","singleOpenInterestValue":"1949998132.50",
             "nextFundingTime":"1786320000000","fundingRate":"0.0001", ...},"cs":753843900397,"ts":1786310817583}
            {"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","bid1Price":"65114.20",
             "bid1Size":"6.054","ask1Price":"65114.30","ask1Size":"10.486"},"cs":753843907770,"ts":1786310817883}

        The snapshot gives a mark (65117.44), OI 29945.866 (the single side) and funding 0.0001; the delta
        carries none of them, so it emits nothing. Times are the envelope's `ts`.
        """
        data = msg["data"]
        ts_ms = msg["ts"]
        message_type = msg["type"]
        snapshot = message_type == "snapshot"
        if not (snapshot or message_type == "delta"):
            return self._bad(clip(f"ticker message type {message_type!r}"))
        # Every field used is read and checked before any state changes: a bad frame cannot poison the state.
        # (`_number` gives a number, or something the comparisons below reject with TypeError.)
        mark = data.get("markPrice")
        px = _number(mark) if mark else 0.0
        single = data.get("singleOpenInterest")
        single_oi = _number(single) if single else None
        both = data.get("openInterest")
        frame_oi = _number(both) if both else None
        funding = data.get("fundingRate")
        rate = _number(funding) if funding else None
        if not (
            0 < ts_ms < MAX_TS_MS
            and px >= 0.0
            and (single_oi is None or single_oi >= 0.0)
            and (frame_oi is None or frame_oi >= 0.0)
            and (rate is None or -1.0 < rate < 1.0)
        ):
            return self._invalid("tickers", symbol)
        self._merge_ticker(symbol, ts_ms, batch, snapshot=snapshot, px=px, oi=(single_oi, frame_oi), rate=rate)
        return _DATA

    def _merge_ticker(
        self,
        symbol: str,
        ts_ms: int,
        batch: EventBatch,
        *,
        snapshot: bool,
        px: float,
        oi: tuple[float | None, float | None],
        rate: float | None,
    ) -> None:
        """Merge one checked ticker message into the state and append what it carries (both paths' last step).

        `oi` is (`singleOpenInterest`, `openInterest`); `px` is 0.0 and the others None for fields the message
        does not carry.
        """
        single_oi, frame_oi = oi
        if snapshot or single_oi is not None:
            # A snapshot replaces the state (None when it has no single field); a delta changes what it carries.
            if len(self._single_oi) >= SYMBOL_CACHE_LIMIT:
                self._single_oi.clear()
            self._single_oi[symbol] = single_oi
        if px > 0.0:  # a zero mark (a contract not trading yet) is no mark
            batch.marks[symbol].append((ts_ms, px))
        if single_oi is not None or frame_oi is not None:
            oi_base = self._single_oi.get(symbol)
            if oi_base is None:
                oi_base = frame_oi
            if oi_base is not None:
                batch.open_interest[symbol].append((ts_ms, oi_base))
        if rate is not None:
            batch.funding_rate[symbol] = rate + 0.0

    def _all_liquidation(self, symbol: str, data: list[Any], batch: EventBatch) -> FrameKind:
        """Liquidations of one symbol, batched every 500 ms (live 2026-10-09)::

            {"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":1791565601482,"data":[{"T":1791565600992,
             "s":"BTCUSDT","S":"Buy","v":"0.006","p":"82396.90"},{"T":1791565601058,"s":"BTCUSDT","S":"Buy",
             "v":"0.038","p":"82394.30"}]}

        are two LONG liquidations (`S` is the position side): 0.006 BTC at the bankruptcy price 82,396.90, and
        0.038 BTC at 82,394.30.
        """
        if symbol not in self._linear and not self._accepts_linear(symbol):
            return FrameKind.SKIPPED
        rows = batch.liquidations[symbol]
        for item in data:
            ts_ms = item["T"]
            px = float(item["p"])
            qty_base = float(item["v"])
            position = item["S"]
            if position == "Buy":
                side = LONG
            elif position == "Sell":
                side = SHORT
            else:
                return self._invalid("allLiquidation side", symbol)
            if not (type(ts_ms) is int and 0 < ts_ms < MAX_TS_MS and 0.0 < px < INF and 0.0 < qty_base < INF):
                return self._invalid("allLiquidation", symbol)
            rows.append((ts_ms, px, qty_base, side))
        return FrameKind.DATA

    def _legacy_liquidation(self, data: dict[str, Any], batch: EventBatch) -> FrameKind:
        """The deprecated `liquidation.<SYM>` topic (removed from the docs 2025-11; recorded 2023)::

            {"data":{"price":"0.03803","side":"Buy","size":"1637","symbol":"GALAUSDT","updatedTime":1673251091822},
             "topic":"liquidation.GALAUSDT","ts":1673251091822,"type":"snapshot"}

        `side` is the position side too: a LONG of 1637 GALA liquidated at 0.03803.
        """
        symbol = data["symbol"]
        if symbol not in self._linear and not self._accepts_linear(symbol):
            return FrameKind.SKIPPED
        position = data["side"]
        if position == "Buy":
            side = LONG
        elif position == "Sell":
            side = SHORT
        else:
            return self._invalid("liquidation side", symbol)
        ts_ms = data["updatedTime"]
        px = float(data["price"])
        qty_base = float(data["size"])
        if not (type(ts_ms) is int and 0 < ts_ms < MAX_TS_MS and 0.0 < px < INF and 0.0 < qty_base < INF):
            return self._invalid("liquidation", symbol)
        batch.liquidations[symbol].append((ts_ms, px, qty_base, side))
        return FrameKind.DATA

    def _control(self, msg: dict[str, Any], batch: EventBatch) -> FrameKind:
        """Replies to the client's requests (linear, 2026-08)::

            {"success":true,"ret_msg":"","conn_id":"d8bu1olkndm7crnfs1e0-j6akw","req_id":"","op":"subscribe"}
            {"success":true,"ret_msg":"pong","conn_id":"...","req_id":"","op":"ping"}
            {"success":false,"ret_msg":"error:handler not found,topic:tickers.NOPEUSDT","conn_id":"...",
             "req_id":"","op":"subscribe"}

        A refusal is a NOTICE (`rejected`), one per symbol it names, except `error:already subscribed,topic:...`: the
        topic keeps streaming, so that one is an ACK.
        """
        success = msg.get("success")
        ret_msg = msg.get("ret_msg")
        if success is False:
            text = clip(ret_msg if ret_msg is not None else msg)
            if "already subscribed" in text:
                return FrameKind.ACK
            # One notice per symbol named, so each is marked rejected while the others keep streaming.
            symbols: list[str | None] = [*rejected_symbols(text)] or [None]
            batch.notices.extend(Notice(code="rejected", text=text, symbol=symbol) for symbol in symbols)
            return FrameKind.NOTICE
        op = msg.get("op")
        if op in {"ping", "pong"} or ret_msg == "pong":
            return FrameKind.PONG
        if success is True:
            return FrameKind.ACK
        return self._bad(clip(f"an object with neither a topic nor a reply: keys {sorted(map(str, msg))}"))

    def set_instruments(self, instruments: list[Instrument]) -> None:
        """Learn the exchange's instrument table: symbols it lists are classified by their kind from now on."""
        self._kinds = instrument_kinds(instruments, _EXCHANGE)
        self._linear.clear()
        self._trade_topics.clear()
        self._ticker_topics.clear()

    def _add_instruments(self, instruments: list[Instrument]) -> None:
        """Add a further page of the (paginated) instrument table to the one already set."""
        kinds = instrument_kinds(instruments, _EXCHANGE)
        if self._kinds is None:
            self._kinds = kinds
        else:
            self._kinds.update(kinds)
        self._linear.clear()
        self._trade_topics.clear()
        self._ticker_topics.clear()

    # ------------------------------------------------------------------------------------------------- REST

    def parse_rest(self, url: str, body: str | bytes, batch: EventBatch) -> FrameKind:
        """Classify one REST body fetched from `url` (matched on the path's end), appending its events. Never raises.

        - `/v5/market/instruments-info`: the instrument table. The first page (no `cursor` in the URL) replaces
          the table; later pages add to it (there are more than 500 linear symbols);
        - `/v5/market/tickers`: mark, open interest (as the websocket tickers) and funding of every symbol;
        - `/v5/market/open-interest`: open-interest history of one symbol, halved to one side unless rows carry
          `singleOpenInterest`, appended oldest first;
        - `/v5/market/kline`, `/v5/market/risk-limit`: checked and DATA without events (read them with
          `parse_klines` and `parse_margin_tiers`);
        - `{"retCode":10001,"retMsg":"params error",...}` (any retCode but 0): NOTICE (`error`).
        """
        try:
            path = rest_path(url)
            handler = find_handler(path, _REST_HANDLERS)
            if handler is None:
                return self._skipped(clip(f"no Bybit parser for REST path {path!r}"))
            if len(body) > self.max_rest_bytes:
                return self._oversized(len(body), self.max_rest_bytes)
            doc = _loads(body)
            if doc["retCode"] != 0:
                error_notice(batch, _EXCHANGE, doc["retCode"], doc.get("retMsg"), query_param(url, "symbol"))
                return FrameKind.NOTICE
            return handler(self, url, doc, batch)
        except FeedError as exc:
            return self._bad(clip(exc))
        except PARSE_ERRORS as exc:
            return self._failed(exc)

    def _rest_instruments(self, url: str, doc: Any, batch: EventBatch) -> FrameKind:
        instruments = _instruments(doc)
        if query_param(url, "cursor"):
            self._add_instruments(instruments)
        else:
            self.set_instruments(instruments)
        return FrameKind.DATA

    def _rest_tickers(self, url: str, doc: Any, batch: EventBatch) -> FrameKind:
        """`{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[{"symbol":"BTCUSDT",
        "markPrice":"65117.44","openInterest":"59891.732","singleOpenInterest":"29945.866",
        "fundingRate":"0.0001",...}]},"retExtInfo":{},"time":1786310817583}` (rows are stamped with `time`)."""
        ts_ms = doc["time"]
        if not (type(ts_ms) is int and 0 < ts_ms < MAX_TS_MS):
            return self._invalid("tickers time", None)
        kept = False
        skip_reason = ""
        for row in doc["result"]["list"]:
            symbol = row["symbol"]
            if symbol not in self._linear and not self._accepts_linear(symbol):
                skip_reason = self.reason
                continue
            mark = row.get("markPrice")
            if mark:
                batch.marks[symbol].append((ts_ms, positive(mark)))
            oi_text = row.get("singleOpenInterest") or row.get("openInterest")
            if oi_text:
                oi_base = float(oi_text)
                if not 0.0 <= oi_base < INF:
                    return self._invalid("tickers open interest", symbol)
                batch.open_interest[symbol].append((ts_ms, oi_base))
            rate = funding_rate(row.get("fundingRate"))
            if rate is not None:
                batch.funding_rate[symbol] = rate
            kept = True
        if kept or not skip_reason:
            return FrameKind.DATA
        return self._skipped(skip_reason)

    def _rest_open_interest(self, url: str, doc: Any, batch: EventBatch) -> FrameKind:
        result = doc["result"]
        symbol = result["symbol"]
        if symbol not in self._linear and not self._accepts_linear(symbol):
            return FrameKind.SKIPPED
        batch.open_interest[symbol].extend(_open_interest_history(doc).tolist())
        return FrameKind.DATA

    def _rest_klines(self, url: str, doc: Any, batch: EventBatch) -> FrameKind:
        _klines(doc)
        return FrameKind.DATA

    def _rest_risk_limits(self, url: str, doc: Any, batch: EventBatch) -> FrameKind:
        _margin_tiers(doc)
        return FrameKind.DATA


_REST_HANDLERS = {
    "/v5/market/instruments-info": BybitParser._rest_instruments,
    "/v5/market/tickers": BybitParser._rest_tickers,
    "/v5/market/open-interest": BybitParser._rest_open_interest,
    "/v5/market/kline": BybitParser._rest_klines,
    "/v5/market/risk-limit": BybitParser._rest_risk_limits,
}
"""REST handlers by the end of the URL's path (a prefix such as the simulator's `/bybit` may precede it)."""


# ---------------------------------------------------------------------------------------- REST functions


def _result(doc: Any) -> Any:
    if doc["retCode"] != 0:
        raise FeedError(f"Bybit answered with retCode {doc['retCode']}: {clip(doc.get('retMsg'))}")
    return doc["result"]


def parse_instruments(body: str | bytes) -> list[Instrument]:
    """One page of `GET /v5/market/instruments-info`. Raises FeedError for an error or malformed body.

    A row (trimmed)::

        {"symbol":"BTCUSDT","contractType":"LinearPerpetual","status":"Trading","baseCoin":"BTC",
         "quoteCoin":"USDT","settleCoin":"USDT","leverageFilter":{"minLeverage":"1","maxLeverage":"100.00",
         "leverageStep":"0.01"},"priceFilter":{"minPrice":"0.10","maxPrice":"199999.80","tickSize":"0.10"},...}

    Kinds come from `contractType` (`LinearPerpetual`, `LinearFutures`, `InversePerpetual`,
    `InverseFutures`); rows without one are spot (category `spot`) or other (options).
    """
    return _instruments(load_body(body, _EXCHANGE))


def _instruments(doc: Any) -> list[Instrument]:
    try:
        result = _result(doc)
        default_kind = ContractKind.SPOT if result.get("category") == "spot" else ContractKind.OTHER
        instruments = []
        for row in result["list"]:
            leverage = (row.get("leverageFilter") or {}).get("maxLeverage")
            instruments.append(
                Instrument(
                    _EXCHANGE,
                    row["symbol"],
                    row["baseCoin"],
                    row["quoteCoin"],
                    _CONTRACT_KINDS.get(row.get("contractType", ""), default_kind),
                    tick_size=float(row["priceFilter"]["tickSize"]),
                    max_leverage=float(leverage) if leverage else None,
                )
            )
        return instruments
    except PARSE_ERRORS as exc:
        raise shape_error(_EXCHANGE, "instruments-info", exc) from None


def parse_open_interest_history(body: str | bytes) -> npt.NDArray[Any]:
    """`GET /v5/market/open-interest` as an `OPEN_INTEREST_DTYPE` array (base units, single-sided), oldest
    first. Raises FeedError for an error or malformed body.

    Bybit documents `openInterest` here as "the sum of both sides", so it is halved; rows that carry
    `singleOpenInterest` (2026) are read from that field instead. Rows come newest first::

        {"retCode":0,"retMsg":"OK","result":{"symbol":"BTCUSDT","category":"linear","list":[
         {"openInterest":"52664.64200000","singleOpenInterest":"26332.321","timestamp":"1789458600000"}, ...],
         "nextPageCursor":"..."},"retExtInfo":{},"time":1789458612345}
    """
    return _open_interest_history(load_body(body, _EXCHANGE))


def _open_interest_history(doc: Any) -> npt.NDArray[Any]:
    try:
        rows = []
        for row in _result(doc)["list"]:
            single = row.get("singleOpenInterest")
            oi_base = float(single) if single else float(row["openInterest"]) / 2.0
            rows.append((int(row["timestamp"]), oi_base))
        return open_interest_history(rows)
    except PARSE_ERRORS as exc:
        raise shape_error(_EXCHANGE, "open-interest", exc) from None


def parse_klines(body: str | bytes) -> npt.NDArray[Any]:
    """`GET /v5/market/kline` as a `KLINE_DTYPE` array, oldest first (Bybit sends newest first). Raises
    FeedError for an error or malformed body.

    A row: `["1670608800000","17071","17073","17027","17055.5","268611","15.74462667"]`: start time, OHLC,
    volume (base coin for linear), turnover. Bybit does not split volume by taker side: `taker_buy_base` is NaN.
    """
    return _klines(load_body(body, _EXCHANGE))


def _klines(doc: Any) -> npt.NDArray[Any]:
    try:
        return klines(
            [
                (int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]), _NAN)
                for r in _result(doc)["list"]
            ]
        )
    except PARSE_ERRORS as exc:
        raise shape_error(_EXCHANGE, "kline", exc) from None


def parse_margin_tiers(body: str | bytes) -> dict[str, tuple[MarginTier, ...]]:
    """`GET /v5/market/risk-limit` (one page: 15 symbols) per symbol, lowest tier first. Raises FeedError for
    an error or malformed body.

    A row::

        {"id":1,"symbol":"BTCUSDT","riskLimitValue":"2000000","maintenanceMargin":"0.005",
         "initialMargin":"0.01","isLowestRisk":1,"maxLeverage":"100.00","mmDeduction":""}

    `riskLimitValue` is the tier's cap (USDT position value); the floor is the cap of the tier below. Rates
    are decimal fractions for linear contracts, but the docs' (inverse) example writes percent ("0.5" with
    "initialMargin":"1" and 100x): a table whose initial rate × max leverage is near 100, not 1, is in percent
    and is divided by 100.
    """
    return _margin_tiers(load_body(body, _EXCHANGE))


def _margin_tiers(doc: Any) -> dict[str, tuple[MarginTier, ...]]:
    try:
        by_symbol: dict[str, list[dict[str, Any]]] = {}
        for row in _result(doc)["list"]:
            by_symbol.setdefault(str(row["symbol"]), []).append(row)
        tables = {}
        for symbol, rows in by_symbol.items():
            rows.sort(key=lambda r: float(r["riskLimitValue"]))
            tiers = []
            floor = 0.0
            for row in rows:
                cap = positive(row["riskLimitValue"])
                max_leverage = positive(row["maxLeverage"])
                mmr = float(row["maintenanceMargin"])
                initial = float(row.get("initialMargin") or 0.0)
                if initial * max_leverage > 10.0:
                    mmr /= 100.0
                deduction = row.get("mmDeduction")
                tiers.append(
                    MarginTier(
                        floor=floor,
                        cap=cap,
                        mmr=mmr,
                        max_leverage=max_leverage,
                        maintenance_amount=float(deduction) if deduction else 0.0,
                    )
                )
                floor = cap
            tables[symbol] = tuple(tiers)
        return tables
    except PARSE_ERRORS as exc:
        raise shape_error(_EXCHANGE, "risk-limit", exc) from None
