"""OKX v5 `SWAP`: the public websocket channels liqtui reads and the REST bodies of its warm start.

Channels (`../shared/exchanges.md` §3): `trades`, `mark-price`, `open-interest` (per instId) and
`liquidation-orders` (per instType: every swap at once). Numbers *and* times are strings.

Semantics normalized here:
- Sizes of trades and liquidations are **contracts**: base units = `sz` × `ctVal` × `ctMult`. Contract sizes are
  never guessed: the parser starts from a small seed of published values (`SEED_CONTRACT_SIZES`), replaced by
  the REST instrument table once `set_instruments` is called. A trade or liquidation of a linear swap whose
  size is unknown is UNRESOLVED (the reason names the instId); mark price and open interest (`oiCcy`, already
  in base units) need no size.
- trades `side` is the taker's side.
- liquidation-orders `posSide` is the liquidated position (`long` / `short`); in one-way mode it is `net`, and the
  position is read from the order `side`: `sell` closes a LONG, `buy` a SHORT. The price is `bkPx` (bankruptcy).
  The channel is incomplete and not in time order; rows are appended as they come.
- Only linear swaps (`-USDT-SWAP`, `-USDC-SWAP`, or linear SWAP in the instrument table) are kept; futures,
  inverse swaps (`-USD-SWAP`) and spot are skipped.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt
import orjson
from msgspec import field

from liqtui.errors import FeedError
from liqtui.feeds.base import FrameKind
from liqtui.feeds.common import (
    FAST_DECODE_ERRORS,
    INF,
    LONG,
    MAX_TS_MS,
    PARSE_ERRORS,
    SHORT,
    EpochMs,
    NamingRule,
    NonNegativeFinite,
    ParserBase,
    PositiveFinite,
    clip,
    error_notice,
    find_handler,
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
from liqtui.model.types import LIQUIDATION_DTYPE, ContractKind, Exchange, Instrument

_loads = orjson.loads
_number = number
_EXCHANGE = Exchange.OKX
_DATA = FrameKind.DATA
_SKIPPED = FrameKind.SKIPPED
_PONG = FrameKind.PONG
_NAN = float("nan")

SEED_CONTRACT_SIZES: Final[dict[str, float]] = {
    "BTC-USDT-SWAP": 0.01,
    "ETH-USDT-SWAP": 0.1,
    "SOL-USDT-SWAP": 1.0,
    "XRP-USDT-SWAP": 100.0,
    "DOGE-USDT-SWAP": 1000.0,
}
"""Published `ctVal` (with `ctMult` 1) of the largest linear swaps, base units per contract, from OKX's
`GET /api/v5/public/instruments?instType=SWAP` (exchanges.md §3.6). Used only until the REST table is set."""

_LINEAR_SWAP_SUFFIXES = ("-USDT-SWAP", "-USDC-SWAP")


def looks_linear_swap(inst_id: str) -> bool:
    """OKX's naming of linear swaps: `BTC-USDT-SWAP`, `BTC-USDC-SWAP` (inverse is `BTC-USD-SWAP`)."""
    return inst_id.endswith(_LINEAR_SWAP_SUFFIXES)


_NAMING = NamingRule(
    looks_linear=looks_linear_swap,
    symbol_word="instId",
    kept="a linear swap",
    others="a future, an inverse swap or spot",
)


# ------------------------------------------------------------------------------------- fast path types


class _Arg(msgspec.Struct, gc=False):
    """A data frame's subscription, `{"channel":"trades","instId":"BTC-USDT-SWAP"}` (`liquidation-orders` has
    `instType` instead of an instId: "" here)."""

    channel: str
    inst_id: str = field(name="instId", default="")


class _Row(msgspec.Struct, gc=False):
    """The fields the fast path reads of one element of a `trades`, `mark-price` or `open-interest` frame's
    `data` (`{"instId":"BTC-USDT-SWAP","px":"48938.5","sz":"5","side":"buy","ts":"1640131236050",...}`, `markPx`,
    `oiCcy`), in one type so that one pass reads any of the three. Each channel's rows carry their own fields,
    converted and range-checked by msgspec; a field a row lacks keeps a default that the fast path refuses
    (0, NaN, "")."""

    ts_ms: EpochMs = field(name="ts", default=0)
    px: PositiveFinite = field(name="px", default=_NAN)
    contracts: PositiveFinite = field(name="sz", default=_NAN)
    side: str = field(name="side", default="")
    mark_px: PositiveFinite = field(name="markPx", default=_NAN)
    oi_base: NonNegativeFinite = field(name="oiCcy", default=_NAN)


class _Frame(msgspec.Struct, gc=False):
    """A data frame as the fast path reads it: `{"arg":{...},"data":[...]}`."""

    arg: _Arg
    data: list[_Row]


_decode_frame = msgspec.json.Decoder(_Frame, strict=False).decode
"""`strict=False` converts the decimal strings (prices, sizes, times) to numbers in the decoder."""


def rejected_inst_id(msg: str) -> str | None:
    """The instId an error names: `Wrong URL or channel:trades,instId:NOPE-USDT-SWAP doesn't exist. ...`."""
    start = msg.find("instId:")
    if start < 0:
        return None
    rest = msg[start + 7 :]
    end = len(rest)
    for stop in (" ", ",", '"', "}"):
        found = rest.find(stop)
        if 0 <= found < end:
            end = found
    return rest[:end] or None


class OkxParser(ParserBase):
    """OKX v5 public websocket frames and REST bodies to normalized events."""

    naming = _NAMING

    def __init__(self, *, max_frame_bytes: int = 1 << 20, max_rest_bytes: int = 64 << 20, fast: bool = True) -> None:
        super().__init__(max_frame_bytes=max_frame_bytes, max_rest_bytes=max_rest_bytes, fast=fast)
        self.exchange = _EXCHANGE
        self._sizes: dict[str, float] = dict(SEED_CONTRACT_SIZES)
        """Base units per contract of each linear swap whose size is known: the hot path's one dict lookup.
        (`_linear` holds the instIds known to be linear swaps, for mark price and open interest, which need
        no size.)"""

    @property
    def contract_sizes(self) -> dict[str, float]:
        """A copy of the contract sizes in use (base units per contract, by instId)."""
        return dict(self._sizes)

    # -------------------------------------------------------------------------------------------- websocket

    def parse(self, frame: str | bytes, batch: EventBatch) -> FrameKind:
        """Classify one websocket frame, appending its events to `batch`. Never raises.

        The commonest frame, trades (2021-12; current frames add `count`, `source`, `seqId`)::

            {"arg":{"channel":"trades","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP",
             "tradeId":"148266905","px":"48938.5","sz":"5","side":"buy","ts":"1640131236050"}]}

        is the trade (1640131236050, 48938.5, 5 × 0.01 = 0.05 BTC, taker_buy=True). The next commonest, a mark
        price (2021-12)::

            {"arg":{"channel":"mark-price","instId":"WNCG-USDT-SWAP"},"data":[{"instId":"WNCG-USDT-SWAP",
             "instType":"SWAP","markPx":"2.1729","ts":"1640131259180"}]}

        is the mark (1640131259180, 2.1729). The heartbeat answer is the bare text `pong`.
        """
        if len(frame) > self.max_frame_bytes:
            return self._oversized(len(frame), self.max_frame_bytes)
        if self.fast and self._parse_fast(frame, batch):
            return _DATA
        try:
            msg = _loads(frame)
        except PARSE_ERRORS as exc:
            # The heartbeat answer is the only frame that is not JSON.
            return _PONG if frame in ("pong", b"pong") else self._failed(exc)
        try:
            try:
                arg = msg["arg"]
                data = msg["data"]
            except (KeyError, TypeError, IndexError):
                return self._event(msg, batch)
            channel = arg["channel"]
            if channel == "trades":
                inst_id = arg["instId"]
                contract_base = self._sizes.get(inst_id)
                if contract_base is None:
                    return self._no_size(inst_id, channel)
                rows = batch.trades[inst_id]
                for trade in data:
                    ts_ms = int(trade["ts"])
                    px = _number(trade["px"])
                    # Contracts to base units; the product is a float, or TypeError for what is not a number.
                    qty_base = _number(trade["sz"]) * contract_base
                    side = trade["side"]
                    taker_buy = side == "buy"
                    # The product may overflow: a size of "1e308" contracts is no trade.
                    if not (
                        px > 0.0 and 0.0 < qty_base < INF and 0 < ts_ms < MAX_TS_MS and (taker_buy or side == "sell")
                    ):
                        return self._invalid("trades", inst_id)
                    rows.append((ts_ms, px, qty_base, taker_buy))
                return _DATA
            if channel == "mark-price":
                inst_id = arg["instId"]
                if inst_id not in self._linear and not self._accepts_linear(inst_id):
                    return _SKIPPED
                marks = batch.marks[inst_id]
                for item in data:
                    ts_ms = int(item["ts"])
                    px = _number(item["markPx"])
                    if not (px > 0.0 and 0 < ts_ms < MAX_TS_MS):
                        return self._invalid("mark-price", inst_id)
                    marks.append((ts_ms, px))
                return _DATA
            return self._channel(channel, arg, data, batch)
        except PARSE_ERRORS as exc:
            return self._failed(exc)

    def _parse_fast(self, frame: str | bytes, batch: EventBatch) -> bool:
        """The typed fast path: trades of swaps of known contract size, marks and open interest of instIds
        already accepted. True when the frame's events were appended (the frame is DATA); False, with nothing
        appended, on any doubt: the general path then reads the frame again and classifies it."""
        try:
            msg = _decode_frame(frame)
        except FAST_DECODE_ERRORS:
            return False
        channel = msg.arg.channel
        inst_id = msg.arg.inst_id
        if channel == "trades":
            contract_base = self._sizes.get(inst_id)
            if contract_base is None:
                return False
            trades = []
            for row in msg.data:
                ts_ms = row.ts_ms
                px = row.px
                # The product of two positive finite numbers may still round to 0 or overflow.
                qty_base = row.contracts * contract_base
                side = row.side
                taker_buy = side == "buy"
                # Each test also refuses its field's default: a time of 0, a NaN (False in every comparison), "".
                if not (ts_ms and px > 0.0 and 0.0 < qty_base < INF and (taker_buy or side == "sell")):
                    return False
                trades.append((ts_ms, px, qty_base, taker_buy))
            batch.trades[inst_id].extend(trades)
            return True
        if inst_id not in self._linear:
            return False
        if channel == "mark-price":
            marks = []
            for row in msg.data:
                ts_ms = row.ts_ms
                px = row.mark_px
                if not (ts_ms and px > 0.0):
                    return False
                marks.append((ts_ms, px))
            batch.marks[inst_id].extend(marks)
            return True
        if channel == "open-interest":
            open_interest = []
            for row in msg.data:
                ts_ms = row.ts_ms
                oi_base = row.oi_base
                if not (ts_ms and oi_base >= 0.0):
                    return False
                open_interest.append((ts_ms, oi_base))
            batch.open_interest[inst_id].extend(open_interest)
            return True
        return False

    def _channel(self, channel: object, arg: dict[str, Any], data: list[Any], batch: EventBatch) -> FrameKind:
        """Every channel but trades and mark price."""
        if channel == "liquidation-orders":
            return self._liquidations(data, batch)
        if channel == "open-interest":
            return self._open_interest(arg["instId"], data, batch)
        return self._skipped(clip(f"channel {channel!r} is not one liqtui reads"))

    def _liquidations(self, data: list[Any], batch: EventBatch) -> FrameKind:
        """Liquidations across every swap (live 2026-10-09)::

            {"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0",
             "bkPx":"82655.7","ccy":"","posSide":"long","side":"sell","sz":"8.55","ts":"1791565600771"}],
             "instFamily":"BTC-USDT","instId":"BTC-USDT-SWAP","instType":"SWAP","uly":"BTC-USDT"}]}

        is a LONG liquidated: 8.55 contracts × 0.01 = 0.0855 BTC at the bankruptcy price 82,655.7 (7,067.06 USDT).

        Entries of instruments that are skipped or of unknown size do not spoil the others. The frame is
        UNRESOLVED if any entry's size was unknown (the others' rows are still appended), SKIPPED if every
        entry was skipped, else DATA.
        """
        kept = False
        skip_reason = ""
        unresolved: list[str] = []
        for entry in data:
            inst_id = entry["instId"]
            contract_base = self._sizes.get(inst_id)
            if contract_base is None:
                if self._no_size(inst_id, "liquidation-orders") is FrameKind.UNRESOLVED:
                    unresolved.append(inst_id)
                else:
                    skip_reason = self.reason
                continue
            rows = batch.liquidations[inst_id]
            for detail in entry["details"]:
                side = _liquidated_side(detail)
                if side is None:
                    return self._invalid("liquidation-orders posSide/side", inst_id)
                ts_ms = int(detail["ts"])
                px = float(detail["bkPx"])
                qty_base = float(detail["sz"]) * contract_base
                if not (0 < ts_ms < MAX_TS_MS and 0.0 < px < INF and 0.0 < qty_base < INF):
                    return self._invalid("liquidation-orders", inst_id)
                rows.append((ts_ms, px, qty_base, side))
                kept = True
        if unresolved:
            return self._unresolved(
                clip(f"contract size unknown for {', '.join(unresolved)}: their liquidations were dropped")
            )
        if kept or not skip_reason:
            return FrameKind.DATA
        return self._skipped(skip_reason)

    def _open_interest(self, inst_id: str, data: list[Any], batch: EventBatch) -> FrameKind:
        """Open interest, about every 3 s (2021-12)::

            {"arg":{"channel":"open-interest","instId":"WNCG-USDT-SWAP"},"data":[{"instId":"WNCG-USDT-SWAP",
             "instType":"SWAP","oi":"644195","oiCcy":"644195","ts":"1640131258756"}]}

        `oi` is contracts, `oiCcy` base units (single-sided): the row is (1640131258756, 644195.0).
        """
        if inst_id not in self._linear and not self._accepts_linear(inst_id):
            return FrameKind.SKIPPED
        rows = batch.open_interest[inst_id]
        for item in data:
            ts_ms = int(item["ts"])
            oi_base = float(item["oiCcy"])
            if not (0 < ts_ms < MAX_TS_MS and 0.0 <= oi_base < INF):
                return self._invalid("open-interest", inst_id)
            rows.append((ts_ms, oi_base))
        return FrameKind.DATA

    def _event(self, msg: Any, batch: EventBatch) -> FrameKind:
        """Control events::

            {"id":"1","event":"subscribe","arg":{"channel":"mark-price","instId":"BTC-USDT-SWAP"},"connId":"a4d3ae55"}
            {"event":"error","code":"60018","msg":"Wrong URL or channel:trades,instId:NOPE-USDT-SWAP doesn't exist.
             Please use the correct URL, channel and parameters referring to API document.","connId":"a4d3ae55"}
            {"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade.
             Please reconnect.","connId":"..."}
            {"event":"channel-conn-count","channel":"orders","connCount":"2","connId":"..."}

        are an ACK, a NOTICE `rejected` naming NOPE-USDT-SWAP, a NOTICE `disconnect_soon` and an ACK.
        """
        if type(msg) is not dict or "event" not in msg:
            return self._bad(clip(f"a frame with neither data nor an event: {msg!r}"))
        event = msg["event"]
        if event in ("subscribe", "unsubscribe", "login", "channel-conn-count"):
            return FrameKind.ACK
        text = clip(msg.get("msg") or msg)
        if event == "error":
            arg = msg.get("arg")
            symbol = arg.get("instId") if type(arg) is dict else None
            symbol = symbol if type(symbol) is str and symbol else rejected_inst_id(text)
            batch.notices.append(Notice(code="rejected", text=text, symbol=symbol))
            return FrameKind.NOTICE
        if event == "notice":
            code = "disconnect_soon" if str(msg.get("code")) == "64008" else "notice"
            batch.notices.append(Notice(code=code, text=text))
            return FrameKind.NOTICE
        if event == "channel-conn-count-error":
            batch.notices.append(Notice(code="error", text=text))
            return FrameKind.NOTICE
        return self._skipped(clip(f"event {event!r} is not one liqtui reads"))

    def _no_size(self, inst_id: str, channel: str) -> FrameKind:
        """SKIPPED for an instrument liqtui does not map, UNRESOLVED for a linear swap of unknown size."""
        if not self._accepts_linear(inst_id):
            return FrameKind.SKIPPED
        return self._unresolved(clip(f"{channel}: the contract size of {inst_id} is not known yet"))

    def set_instruments(self, instruments: list[Instrument]) -> None:
        """Learn the exchange's instrument table: it replaces the seed contract sizes, and its kinds classify
        instIds from now on."""
        mine = [i for i in instruments if i.exchange == _EXCHANGE]
        self._kinds = {i.symbol: i.kind for i in mine}
        self._sizes = {
            i.symbol: i.contract_size_base
            for i in mine
            if i.kind is ContractKind.LINEAR_PERPETUAL and 0.0 < i.contract_size_base < INF
        }
        self._linear.clear()

    # ------------------------------------------------------------------------------------------------- REST

    def parse_rest(self, url: str, body: str | bytes, batch: EventBatch) -> FrameKind:
        """Classify one REST body fetched from `url` (matched on the path's end), appending its events. Never raises.

        - `/api/v5/public/instruments`: the instrument table, applied with `set_instruments`;
        - `/api/v5/public/open-interest`: `oiCcy` of each row (base units);
        - `/api/v5/public/mark-price`: `markPx` of each row;
        - `/api/v5/rubik/stat/contracts/open-interest-history`: open-interest history of the URL's `instId`,
          appended oldest first;
        - `/api/v5/market/candles`, `/api/v5/market/history-candles`, `/api/v5/public/position-tiers`: checked
          and DATA without events (read them with `parse_klines` and `parse_margin_tiers`);
        - `{"code":"51001","msg":"Instrument ID does not exist","data":[]}` (any code but "0"): NOTICE (`error`).
        """
        try:
            path = rest_path(url)
            handler = find_handler(path, _REST_HANDLERS)
            if handler is None:
                return self._skipped(clip(f"no OKX parser for REST path {path!r}"))
            if len(body) > self.max_rest_bytes:
                return self._oversized(len(body), self.max_rest_bytes)
            doc = _loads(body)
            if str(doc["code"]) != "0":
                error_notice(batch, _EXCHANGE, doc["code"], doc.get("msg"), query_param(url, "instId"))
                return FrameKind.NOTICE
            return handler(self, url, doc["data"], batch)
        except FeedError as exc:
            return self._bad(clip(exc))
        except PARSE_ERRORS as exc:
            return self._failed(exc)

    def _rest_instruments(self, url: str, data: Any, batch: EventBatch) -> FrameKind:
        self.set_instruments(_instruments(data))
        return FrameKind.DATA

    def _rest_rows(self, data: Any, batch: EventBatch, field: str, what: str) -> FrameKind:
        """Rows `{"instType":"SWAP","instId":...,<field>:...,"ts":...}` of the open-interest or mark-price
        endpoints, appended to the matching batch list."""
        lists = batch.open_interest if field == "oiCcy" else batch.marks
        kept = False
        skip_reason = ""
        for row in data:
            inst_id = row["instId"]
            if inst_id not in self._linear and not self._accepts_linear(inst_id):
                skip_reason = self.reason
                continue
            ts_ms = int(row["ts"])
            value = float(row[field])
            if not (0 < ts_ms < MAX_TS_MS and 0.0 <= value < INF) or (field == "markPx" and value == 0.0):
                return self._invalid(what, inst_id)
            lists[inst_id].append((ts_ms, value))
            kept = True
        if kept or not skip_reason:
            return FrameKind.DATA
        return self._skipped(skip_reason)

    def _rest_open_interest(self, url: str, data: Any, batch: EventBatch) -> FrameKind:
        """`{"code":"0","msg":"","data":[{"instType":"SWAP","instId":"BTC-USDT-SWAP","oi":"5000",
        "oiCcy":"555.55","oiUsd":"50000","ts":"1597026383085"}]}`"""
        return self._rest_rows(data, batch, "oiCcy", "open-interest")

    def _rest_mark_price(self, url: str, data: Any, batch: EventBatch) -> FrameKind:
        """`{"code":"0","msg":"","data":[{"instType":"SWAP","instId":"BTC-USDT-SWAP","markPx":"200",
        "ts":"1597026383085"}]}`"""
        return self._rest_rows(data, batch, "markPx", "mark-price")

    def _rest_open_interest_history(self, url: str, data: Any, batch: EventBatch) -> FrameKind:
        inst_id = query_param(url, "instId")
        if inst_id is None:
            return self._bad("open-interest-history URL has no instId, so its rows name no instrument")
        if inst_id not in self._linear and not self._accepts_linear(inst_id):
            return FrameKind.SKIPPED
        batch.open_interest[inst_id].extend(_open_interest_history(data).tolist())
        return FrameKind.DATA

    def _rest_candles(self, url: str, data: Any, batch: EventBatch) -> FrameKind:
        _candles(data)
        return FrameKind.DATA

    def _rest_position_tiers(self, url: str, data: Any, batch: EventBatch) -> FrameKind:
        _margin_tiers(data)
        return FrameKind.DATA


_REST_HANDLERS = {
    "/api/v5/public/instruments": OkxParser._rest_instruments,
    "/api/v5/public/open-interest": OkxParser._rest_open_interest,
    "/api/v5/public/mark-price": OkxParser._rest_mark_price,
    "/api/v5/rubik/stat/contracts/open-interest-history": OkxParser._rest_open_interest_history,
    "/api/v5/market/candles": OkxParser._rest_candles,
    "/api/v5/market/history-candles": OkxParser._rest_candles,
    "/api/v5/public/position-tiers": OkxParser._rest_position_tiers,
}
"""REST handlers by the end of the URL's path (a prefix such as the simulator's `/okx` may precede it)."""


# ---------------------------------------------------------------------------------------- REST functions


def _data(body: str | bytes) -> Any:
    doc = load_body(body, _EXCHANGE)
    try:
        if str(doc["code"]) != "0":
            raise FeedError(f"OKX answered with code {doc['code']}: {clip(doc.get('msg'))}")
        return doc["data"]
    except PARSE_ERRORS as exc:
        raise shape_error(_EXCHANGE, "REST", exc) from None


def _optional_number(text: Any) -> float:
    """An optional OKX number: "" (not applicable) is 0."""
    return float(text) if text else 0.0


def parse_instruments(body: str | bytes) -> list[Instrument]:
    """`GET /api/v5/public/instruments` (any instType). Raises FeedError for an error or malformed body.

    A SWAP row (trimmed)::

        {"instType":"SWAP","instId":"BTC-USDT-SWAP","instFamily":"BTC-USDT","uly":"BTC-USDT","settleCcy":"USDT",
         "ctVal":"0.01","ctMult":"1","ctValCcy":"BTC","ctType":"linear","lotSz":"0.01","minSz":"0.01",
         "tickSz":"0.1","lever":"100","state":"live","listTime":"1573557408000","expTime":""}

    Only linear SWAPs are linear perpetuals (linear FUTURES are dated, inverse anything is inverse, SPOT and
    MARGIN spot). `contract_size_base` is `ctVal × ctMult` for linear contracts (base units per contract).
    """
    return _instruments(_data(body))


def _instruments(data: Any) -> list[Instrument]:
    try:
        instruments = []
        for row in data:
            inst_type = row["instType"]
            linear = row.get("ctType") == "linear"
            if inst_type == "SWAP":
                kind = ContractKind.LINEAR_PERPETUAL if linear else ContractKind.INVERSE
            elif inst_type == "FUTURES":
                kind = ContractKind.LINEAR_DATED if linear else ContractKind.INVERSE
            elif inst_type in ("SPOT", "MARGIN"):
                kind = ContractKind.SPOT
            else:
                kind = ContractKind.OTHER
            family = row.get("instFamily") or row.get("uly")
            if family:
                base, _, quote = family.partition("-")
            else:
                base, quote = row["baseCcy"], row["quoteCcy"]
            contract_base = (
                _optional_number(row.get("ctVal")) * _optional_number(row.get("ctMult") or "1") if linear else 1.0
            )
            lever = row.get("lever")
            instruments.append(
                Instrument(
                    _EXCHANGE,
                    row["instId"],
                    base,
                    quote,
                    kind,
                    tick_size=float(row["tickSz"]),
                    contract_size_base=contract_base,
                    max_leverage=float(lever) if lever else None,
                )
            )
        return instruments
    except PARSE_ERRORS as exc:
        raise shape_error(_EXCHANGE, "instruments", exc) from None


def parse_open_interest_history(body: str | bytes) -> npt.NDArray[Any]:
    """`GET /api/v5/rubik/stat/contracts/open-interest-history?instId=...` as an `OPEN_INTEREST_DTYPE` array
    (`oiCcy`, base units, single-sided), oldest first. Raises FeedError for an error or malformed body.

    Rows are arrays `[ts, oi (contracts), oiCcy (coin), oiUsd]`, newest first::

        {"code":"0","msg":"","data":[["1701417600000","731377.57500501","111","8888888"], ...]}

    This is OKX's per-instrument history (5m bars reach back a few days, 1H two months). The older
    `/api/v5/rubik/stat/contracts/open-interest-volume` is per currency across all contracts, in USD, and is not
    read.
    """
    return _open_interest_history(_data(body))


def _open_interest_history(data: Any) -> npt.NDArray[Any]:
    try:
        return open_interest_history([(int(r[0]), float(r[2])) for r in data])
    except PARSE_ERRORS as exc:
        raise shape_error(_EXCHANGE, "open-interest-history", exc) from None


def _liquidated_side(detail: dict[str, Any]) -> int | None:
    """The liquidated position's `Side` value of one `liquidation-orders` detail, None if it says neither."""
    position = detail.get("posSide")
    if position == "long":
        return LONG
    if position == "short":
        return SHORT
    if position == "net" or not position:
        # One-way mode: the liquidation order closes the position, so a sell closes a long.
        return {"sell": LONG, "buy": SHORT}.get(str(detail.get("side")))
    return None


def parse_liquidation_history(body: str | bytes, inst_id: str, contract_size_base: float) -> npt.NDArray[Any]:
    """`GET /api/v5/public/liquidation-orders?instType=SWAP&instFamily=...&state=filled` as `LIQUIDATION_DTYPE`
    rows of `inst_id` (sizes in contracts times `contract_size_base`), oldest first. Raises FeedError for an
    error or malformed body.

    The same entries as the `liquidation-orders` channel, newest first::

        {"code":"0","msg":"","data":[{"details":[{"bkLoss":"0","bkPx":"82655.7","ccy":"","posSide":"long",
         "side":"sell","sz":"8.55","ts":"1791565600771"}],"instFamily":"BTC-USDT","instId":"BTC-USDT-SWAP",
         "instType":"SWAP","totalLoss":"0","uly":"BTC-USDT"}]}
    """
    data = _data(body)
    rows: list[tuple[int, float, float, int]] = []
    try:
        for entry in data:
            if entry.get("instId") != inst_id:
                continue
            for detail in entry["details"]:
                side = _liquidated_side(detail)
                ts_ms, px = int(detail["ts"]), float(detail["bkPx"])
                qty_base = float(detail["sz"]) * contract_size_base
                if side is None or not (0 < ts_ms < MAX_TS_MS and 0.0 < px < INF and 0.0 < qty_base < INF):
                    raise ValueError(f"liquidation {detail!r} is unreadable or out of range")
                rows.append((ts_ms, px, qty_base, side))
    except PARSE_ERRORS as exc:
        raise shape_error(_EXCHANGE, "liquidation-orders", exc) from None
    result = np.array(rows, dtype=LIQUIDATION_DTYPE)
    return np.sort(result, order="ts_ms")


def parse_klines(body: str | bytes) -> npt.NDArray[Any]:
    """`GET /api/v5/market/candles` (or `history-candles`) as a `KLINE_DTYPE` array, oldest first (OKX sends
    newest first). Raises FeedError for an error or malformed body.

    A row: `["1597026383085","3.721","3.743","3.677","3.708","8422410","22698348.04828491",
    "12698348.04828491","0"]`: time, OHLC, `vol` (contracts for swaps), `volCcy` (base currency for
    derivatives: the volume read here), `volCcyQuote`, `confirm`. No taker split: `taker_buy_base` is NaN.
    """
    return _candles(_data(body))


def _candles(data: Any) -> npt.NDArray[Any]:
    try:
        return klines(
            [(int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[6]), _NAN) for r in data]
        )
    except PARSE_ERRORS as exc:
        raise shape_error(_EXCHANGE, "candles", exc) from None


def parse_margin_tiers(body: str | bytes) -> dict[str, tuple[MarginTier, ...]]:
    """`GET /api/v5/public/position-tiers?instType=SWAP&tdMode=isolated&instFamily=...` per instId, lowest
    tier first. Raises FeedError for an error or malformed body.

    A row::

        {"uly":"BTC-USDT","instFamily":"BTC-USDT","instId":"","tier":"1","minSz":"0","maxSz":"1000",
         "mmr":"0.004","imr":"0.01","maxLever":"100","optMgnFactor":"0","quoteMaxLoan":"","baseMaxLoan":""}

    `minSz` / `maxSz` are position sizes in **contracts** (`MarginTier` keeps the exchange's unit). SWAP rows
    leave `instId` empty; they are keyed `<instFamily>-SWAP` (`BTC-USDT-SWAP`).
    """
    return _margin_tiers(_data(body))


def _margin_tiers(data: Any) -> dict[str, tuple[MarginTier, ...]]:
    try:
        by_inst: dict[str, list[MarginTier]] = {}
        for row in data:
            inst_id = row.get("instId") or f"{row.get('instFamily') or row['uly']}-SWAP"
            by_inst.setdefault(inst_id, []).append(
                MarginTier(
                    floor=float(row["minSz"]),
                    cap=positive(row["maxSz"]),
                    mmr=float(row["mmr"]),
                    max_leverage=positive(row["maxLever"]),
                )
            )
        return {inst_id: tuple(sorted(tiers, key=lambda t: t.floor)) for inst_id, tiers in by_inst.items()}
    except PARSE_ERRORS as exc:
        raise shape_error(_EXCHANGE, "position-tiers", exc) from None
