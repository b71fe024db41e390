"""Binance USD-M futures market streams, as `wss://fstream.binance.com/market/...` serves them in 2026.

Frames (`../shared/exchanges.md` §1), payload shown bare; the combined route wraps it as {"stream": .., "data": ..}:

    {"e":"aggTrade","E":1791391082024,"a":3478018549,"s":"BTCUSDT","p":"83434.40","q":"0.016","nq":"0.016",
     "f":8154045700,"l":8154045704,"T":1791391081874,"m":true,"st":1}
    {"e":"markPriceUpdate","E":1790526539000,"s":"BTCUSDT","p":"84551.10762319","ap":"84551.10762319",
     "P":"84559.09090930","i":"84590.87304348","r":"0.00000801","T":1790553600000,"st":1}
    {"e":"forceOrder","E":1791565603055,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.190",
     "p":"82338.30","ap":"82651.90","X":"FILLED","l":"0.155","z":"0.190","T":1791565602120,"ps":"BTCUSDT","st":1}}

Quirks kept on purpose: `forceOrder` carries at most one liquidation per symbol per 1000 ms (the latest; the rest
are never sent), `S` is the liquidation *order's* side (SELL closes a long), a stream for an unknown symbol is
acknowledged and stays silent, and the legacy unrouted `/ws` path acknowledges everything and sends no data.
Control errors come as the live server sends them: {"error":{"code":2,"msg":"Invalid request: ..."},"id":1}.
"""

from __future__ import annotations

import enum
import re
import time
from dataclasses import dataclass
from typing import Any

from liqtui.model.types import Exchange, Side
from liqtui.sim.contract import MarketStep, SimLiquidation, SimMarket, SimTrade
from liqtui.sim.faults import FaultState
from liqtui.sim.wire.base import Command, ExchangeHub, WireConfig, WsConnection, dumps, fmt_fixed, loads

METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
FORCE_ORDER_WINDOW_MS = 1000
MARK_AVERAGE_ALPHA = 1.0 / 60.0
"""Weight of each 1 s mark in the `ap` moving average (about a one-minute average)."""

_STREAM_RE = re.compile(r"^(?:!|[a-z0-9_\-\u0080-\U0010ffff]+@)[A-Za-z0-9_@!]+$")


AGG_TRADES_PER_PUSH = 200
"""Taker orders of one symbol in one push above which same-price, same-side fills are merged into one aggTrade."""


class StreamKind(enum.Enum):
    """The streams the simulator serves with data; anything else well-formed is acknowledged and silent."""

    AGG_TRADE = "aggTrade"
    MARK_3S = "markPrice"
    MARK_1S = "markPrice@1s"
    FORCE_ORDER = "forceOrder"
    ALL_FORCE_ORDERS = "!forceOrder@arr"
    ALL_MARKS_3S = "!markPrice@arr"
    ALL_MARKS_1S = "!markPrice@arr@1s"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Stream:
    """A parsed stream name."""

    name: str
    kind: StreamKind
    symbol: str | None
    """The exchange symbol (upper case) for per-symbol streams."""


def parse_stream(name: str) -> Stream | None:
    """Parse `btcusdt@aggTrade`, `!forceOrder@arr`, ...; None when the name is not a stream name at all."""
    if not _STREAM_RE.match(name):
        return None
    for kind in (StreamKind.ALL_FORCE_ORDERS, StreamKind.ALL_MARKS_1S, StreamKind.ALL_MARKS_3S):
        if name == kind.value:
            return Stream(name, kind, None)
    if name.startswith("!"):
        return Stream(name, StreamKind.OTHER, None)
    lower_symbol, _, suffix = name.partition("@")
    kinds = {k.value: k for k in (StreamKind.AGG_TRADE, StreamKind.MARK_3S, StreamKind.MARK_1S, StreamKind.FORCE_ORDER)}
    return Stream(name, kinds.get(suffix, StreamKind.OTHER), lower_symbol.upper())


def error_frame(code: int, msg: str, request_id: Any) -> bytes:
    """A control-message error as the live server sends it."""
    return dumps({"error": {"code": code, "msg": msg}, "id": request_id})


def combined(stream: str, payload: bytes) -> bytes:
    """Wrap an encoded payload for the combined route without re-encoding it."""
    return b'{"stream":' + dumps(stream) + b',"data":' + payload + b"}"


class BinanceHub(ExchangeHub):
    """Binance's `/market` websocket route."""

    exchange = Exchange.BINANCE

    def __init__(self, market: SimMarket, config: WireConfig, faults: FaultState) -> None:
        super().__init__(market, config, faults)
        self._agg_id = 3_000_000_000
        self._trade_id = 8_000_000_000
        self._pending_force: dict[str, SimLiquidation] = {}
        self._last_force_ms: dict[str, int] = {}
        self._mark_average: dict[str, float] = {}
        self._last_mark_second = 0
        self._symbol_of_key = {inst.key: inst.symbol for inst in self.instruments.values()}

    # Connections and control messages

    def on_open(self, conn: WsConnection, initial: list[str]) -> None:
        for name in initial:
            stream = parse_stream(name)
            if stream is not None:
                self._subscribe(conn, stream)

    def _subscribe(self, conn: WsConnection, stream: Stream) -> None:
        conn.subscriptions[stream.name] = stream
        if conn.routed:
            self._add_subscriber(stream.name, conn)

    def on_text(self, conn: WsConnection, text: str) -> None:
        mono = time.monotonic()
        if mono - conn.recv_window_start >= 1.0:
            conn.recv_window_start, conn.recv_window_count = mono, 0
        conn.recv_window_count += 1
        if conn.recv_window_count > self.config.binance_max_msgs_per_s:
            # Binance disconnects a client over 10 incoming messages a second, without a word.
            conn.abort()
            return
        try:
            request = loads(text)
        except ValueError:
            conn.send(error_frame(3, "Invalid JSON: expected value at line 1 column 1", None))
            return
        if not isinstance(request, dict):
            conn.send(error_frame(2, "Invalid request: expected a JSON object", None))
            return
        request_id = request.get("id")
        if "id" not in request:
            conn.send(error_frame(2, "Invalid request: missing field `id`", None))
            return
        if isinstance(request_id, bool) or not isinstance(request_id, int) or request_id < 0:
            conn.send(error_frame(2, "Invalid request: request ID must be an unsigned integer", None))
            return
        method = request.get("method")
        if method is None:
            conn.send(error_frame(2, "Invalid request: missing field `method`", request_id))
            return
        if method not in METHODS:
            expected = ", ".join(f"`{m}`" for m in METHODS)
            msg = f"Invalid request: unknown variant `{method}`, expected one of {expected}"
            conn.send(error_frame(2, msg, request_id))
            return
        params = request.get("params", [])
        if not isinstance(params, list):
            conn.send(error_frame(2, "Invalid request: params must be an array", request_id))
            return
        conn.send(self._control(conn, method, params, request_id))

    def _control(self, conn: WsConnection, method: str, params: list[Any], request_id: int) -> bytes:
        if method == "LIST_SUBSCRIPTIONS":
            return dumps({"result": list(conn.subscriptions), "id": request_id})
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            if not params or not isinstance(params[0], str):
                return error_frame(2, "Invalid request: property name must be a string", request_id)
            if params[0] != "combined":
                return error_frame(0, "Unknown property", request_id)
            if method == "GET_PROPERTY":
                return dumps({"result": conn.combined, "id": request_id})
            if len(params) != 2 or not isinstance(params[1], bool):
                return error_frame(1, "Invalid value type: expected Boolean", request_id)
            conn.combined = params[1]
            return dumps({"result": None, "id": request_id})
        streams: list[Stream] = []
        for name in params:
            stream = parse_stream(name) if isinstance(name, str) else None
            if stream is None:
                return error_frame(2, "Invalid request: invalid stream", request_id)
            streams.append(stream)
        if method == "SUBSCRIBE":
            new = {s.name for s in streams} - set(conn.subscriptions)
            if len(conn.subscriptions) + len(new) > self.config.binance_max_streams:
                return error_frame(2, "Invalid request: too many parameters", request_id)
            for stream in streams:
                self._subscribe(conn, stream)
        else:
            for stream in streams:
                conn.subscriptions.pop(stream.name, None)
                self._remove_subscriber(stream.name, conn)
        return dumps({"result": None, "id": request_id})

    # Fan-out

    def _publish(self, stream: str, payload: bytes) -> None:
        subscribers = self._subscribers.get(stream)
        if not subscribers:
            return
        wrapped: bytes | None = None
        for conn in subscribers.values():
            if conn.combined:
                if wrapped is None:
                    wrapped = combined(stream, payload)
                conn.send(wrapped)
            else:
                conn.send(payload)

    def on_step(self, step: MarketStep, now: int) -> None:
        for key, trades in step.trades.items():
            symbol = self._symbol_of_key.get(key)
            if symbol is None or not trades or not self.listed(symbol):
                continue
            stream = f"{symbol.lower()}@aggTrade"
            if self._has_subscribers(stream):
                for payload in self._agg_trades(symbol, trades, now):
                    self._publish(stream, payload)
        for key, liquidations in step.liquidations.items():
            symbol = self._symbol_of_key.get(key)
            if symbol is not None and liquidations:
                # Binance keeps only the latest liquidation of each 1000 ms window per symbol.
                latest = max(liquidations, key=lambda liq: liq.ts_ms)
                pending = self._pending_force.get(symbol)
                if pending is None or latest.ts_ms >= pending.ts_ms:
                    self._pending_force[symbol] = latest
        for symbol in list(self._pending_force):
            if now - self._last_force_ms.get(symbol, 0) < FORCE_ORDER_WINDOW_MS:
                continue
            liquidation = self._pending_force.pop(symbol)
            if not self.listed(symbol):
                continue
            self._last_force_ms[symbol] = now
            payload = self._force_order(symbol, liquidation, now)
            self._publish(f"{symbol.lower()}@forceOrder", payload)
            self._publish(StreamKind.ALL_FORCE_ORDERS.value, payload)

    def on_timer(self, now: int, mono: float) -> None:
        second = now // 1000
        if second != self._last_mark_second:
            self._last_mark_second = second
            self._publish_marks(second * 1000, every_3s=second % 3 == 0)
        stalled = self.faults.stalled(self.exchange)
        for conn in list(self.connections.values()):
            waiting = conn.ping_outstanding_since
            if waiting is not None and mono - waiting >= self.config.binance_pong_timeout_s:
                conn.abort()
            elif not stalled and mono - conn.last_ping_mono >= self.config.binance_ping_s:
                conn.send_unstalled(Command.PING)
                conn.last_ping_mono = mono
                if waiting is None:
                    conn.ping_outstanding_since = mono

    def _publish_marks(self, event_ms: int, *, every_3s: bool) -> None:
        all_marks: list[dict[str, Any]] = []
        want_all = self._has_subscribers(StreamKind.ALL_MARKS_1S.value) or (
            every_3s and self._has_subscribers(StreamKind.ALL_MARKS_3S.value)
        )
        for symbol in self.instruments:
            if not self.listed(symbol):
                continue
            lower = symbol.lower()
            want_1s = self._has_subscribers(f"{lower}@markPrice@1s")
            want_3s = every_3s and self._has_subscribers(f"{lower}@markPrice")
            mark = self._mark_update(symbol, event_ms)
            if not (want_1s or want_3s or want_all):
                continue
            if want_all:
                all_marks.append(mark)
            payload = dumps(mark)
            if want_1s:
                self._publish(f"{lower}@markPrice@1s", payload)
            if want_3s:
                self._publish(f"{lower}@markPrice", payload)
        if all_marks:
            payload = dumps(all_marks)
            self._publish(StreamKind.ALL_MARKS_1S.value, payload)
            if every_3s:
                self._publish(StreamKind.ALL_MARKS_3S.value, payload)

    # Encoders

    def _agg_trades(self, symbol: str, trades: list[SimTrade], now: int) -> list[bytes]:
        """aggTrade payloads: one per taker order at one price, as Binance aggregates (a `SimTrade` is exactly that).

        In a push with more than `AGG_TRADES_PER_PUSH` orders of one symbol (a cascade at high speed), fills at the
        same price on the same taker side are merged, so a client is not flooded beyond what Binance would send.
        """
        if len(trades) <= AGG_TRADES_PER_PUSH:
            return [self._agg_trade(symbol, [trade], now) for trade in trades]
        groups: dict[tuple[float, bool], list[SimTrade]] = {}
        for trade in trades:
            groups.setdefault((trade.px, trade.taker_buy), []).append(trade)
        return [self._agg_trade(symbol, fills, now) for fills in groups.values()]

    def _agg_trade(self, symbol: str, fills: list[SimTrade], now: int) -> bytes:
        fmt = self.formats[symbol]
        first = fills[0]
        self._agg_id += 1
        first_id = self._trade_id + 1
        self._trade_id += len(fills)
        qty = fmt.qty(sum(fill.qty_base for fill in fills))
        return dumps(
            {
                "e": "aggTrade",
                "E": now,
                "a": self._agg_id,
                "s": symbol,
                "p": fmt.px(first.px),
                "q": qty,
                "nq": qty,
                "f": first_id,
                "l": self._trade_id,
                "T": fills[-1].ts_ms,
                "m": not first.taker_buy,
                "st": 1,
            }
        )

    def _mark_update(self, symbol: str, event_ms: int) -> dict[str, Any]:
        state = self.market.state(self.key(symbol))
        average = self._mark_average.get(symbol, state.mark_px)
        average += MARK_AVERAGE_ALPHA * (state.mark_px - average)
        self._mark_average[symbol] = average
        return {
            "e": "markPriceUpdate",
            "E": event_ms,
            "s": symbol,
            "p": fmt_fixed(state.mark_px, 8),
            "ap": fmt_fixed(average, 8),
            "P": fmt_fixed(state.index_px, 8),
            "i": fmt_fixed(state.index_px, 8),
            "r": fmt_fixed(state.funding_rate, 8),
            "T": state.next_funding_ms,
            "st": 1,
        }

    def _force_order(self, symbol: str, liquidation: SimLiquidation, now: int) -> bytes:
        fmt = self.formats[symbol]
        qty = fmt.qty(liquidation.qty_base)
        return dumps(
            {
                "e": "forceOrder",
                "E": now,
                "o": {
                    # The liquidation order closes the position: a long is closed by a SELL.
                    "s": symbol,
                    "S": "SELL" if liquidation.side is Side.LONG else "BUY",
                    "o": "LIMIT",
                    "f": "IOC",
                    "q": qty,
                    "p": fmt.px(liquidation.bankruptcy_px),
                    "ap": fmt.px(liquidation.fill_px),
                    "X": "FILLED",
                    "l": qty,
                    "z": qty,
                    "T": liquidation.ts_ms,
                    "ps": symbol,
                    "st": 1,
                },
            }
        )

    # Faults

    def reject(self, symbol: str) -> int:
        # Binance has no way to tell a client a stream died: the data just stops (filtered in the fan-out).
        self._pending_force.pop(symbol, None)
        lower = symbol.lower() + "@"
        return sum(len(subs) for name, subs in self._subscribers.items() if name.startswith(lower))

    def malformed_frames(self) -> list[bytes]:
        """Broken frames: truncated JSON, wrong types, not JSON at all."""
        symbol = next(iter(self.instruments), "BTCUSDT")
        good = combined(
            f"{symbol.lower()}@aggTrade",
            dumps(
                {"e": "aggTrade", "E": 1, "a": 1, "s": symbol, "p": "1.0", "q": "1", "f": 1, "l": 1, "T": 1, "m": True}
            ),
        )
        wrong_types = dumps(
            {
                "stream": f"{symbol.lower()}@markPrice@1s",
                "data": {"e": "markPriceUpdate", "E": "soon", "s": 7, "p": None, "r": [], "T": {}},
            }
        )
        return [good[: len(good) // 2], wrong_types, b"\x7fnot json at all", b"[]", b'{"stream":"x","data":']

    def oversized_frame(self) -> bytes:
        """One text frame over 1 MiB."""
        return combined("!forceOrder@arr", dumps({"e": "forceOrder", "E": 1, "pad": "x" * (1 << 20)}))
