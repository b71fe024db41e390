"""Bybit v5 public `linear` websocket, as `wss://stream.bybit.com/v5/public/linear` serves it in 2026.

Frames (`../shared/exchanges.md` §2):

    {"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","tickDirection":"ZeroPlusTick",
     "markPrice":"65117.44","openInterest":"59891.732","singleOpenInterest":"29945.866",...},"cs":753843900397,
     "ts":1786310817583}
    {"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","bid1Size":"6.054"},"cs":..,"ts":..}
    {"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1786310819681,"data":[{"T":1786310819680,
     "s":"BTCUSDT","S":"Sell","v":"0.004","p":"65114.20","L":"MinusTick","i":"a9188a0a-...","BT":false,
     "RPI":false,"seq":753843954913}]}
    {"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":1791565601482,"data":[{"T":1791565600992,
     "s":"BTCUSDT","S":"Buy","v":"0.006","p":"82396.90"}]}

Quirks kept on purpose: tickers are a snapshot on subscribe, then every 100 ms a delta with only the fields that
changed; `openInterest` is both sides (twice `singleOpenInterest`); `allLiquidation` comes in 500 ms batches and its
`S` is the liquidated *position's* side (Buy = a long); an unknown symbol is refused with
{"success":false,"ret_msg":"Invalid symbol :[tickers.NOPEUSDT]",...}; a socket with neither pings nor data for
10 minutes is cut.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from liqtui.model.types import Exchange, Side
from liqtui.sim.contract import InstrumentState, MarketStep, SimLiquidation, SimMarket, SimTrade
from liqtui.sim.faults import FaultState
from liqtui.sim.wire.base import ExchangeHub, WireConfig, WsConnection, dumps, fmt_fixed, fmt_trim, loads

TOPICS = ("tickers", "publicTrade", "allLiquidation")
MAX_TRADES_PER_MESSAGE = 1024
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
_ALPHABET = "0123456789abcdefghijklmnopqrstuv"


def tick_direction(previous: str, px: float, last_px: float | None) -> str:
    """Bybit's tick direction of a price against the one before it."""
    if last_px is None or px == last_px:
        return "ZeroPlusTick" if previous in ("PlusTick", "ZeroPlusTick") else "ZeroMinusTick"
    return "PlusTick" if px > last_px else "MinusTick"


class BybitHub(ExchangeHub):
    """Bybit's public linear websocket."""

    exchange = Exchange.BYBIT

    def __init__(self, market: SimMarket, config: WireConfig, faults: FaultState) -> None:
        super().__init__(market, config, faults)
        self._rng = random.Random(config.seed * 7919 + 2)
        self._symbol_of_key = {inst.key: inst.symbol for inst in self.instruments.values()}
        self._ticker: dict[str, dict[str, str]] = {}
        """The last ticker fields pushed per symbol: the base the next delta is computed against."""
        self._tick_direction: dict[str, str] = {}
        self._last_px: dict[str, float] = {}
        self._trade_tick: dict[str, str] = {}
        self._trade_last_px: dict[str, float] = {}
        self._prev_1h: dict[str, tuple[int, float]] = {}
        self._pending_liquidations: dict[str, list[SimLiquidation]] = {}
        self._cross_seq = 750_000_000_000
        self._last_ticker_ms = 0
        self._next_liquidation_flush_ms = 0

    def new_conn_id(self) -> str:
        chars = "".join(self._rng.choice(_ALPHABET) for _ in range(20))
        return f"{chars}-{''.join(self._rng.choice(_ALPHABET) for _ in range(5))}"

    # Control messages

    def on_open(self, conn: WsConnection, initial: list[str]) -> None:
        """Bybit names no topics in its URL: subscriptions come by message only."""

    def _reply(self, conn: WsConnection, op: str, req_id: Any, success: bool, ret_msg: str) -> None:
        conn.send(
            dumps(
                {
                    "success": success,
                    "ret_msg": ret_msg,
                    "conn_id": conn.conn_id,
                    "req_id": req_id if isinstance(req_id, str) else "",
                    "op": op,
                }
            )
        )

    def on_text(self, conn: WsConnection, text: str) -> None:
        try:
            request = loads(text)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            self._reply(conn, "", "", False, "error:request not json")
            return
        op = request.get("op")
        req_id = request.get("req_id", "")
        if op == "ping":
            self._reply(conn, "ping", req_id, True, "pong")
            return
        if op not in ("subscribe", "unsubscribe"):
            self._reply(conn, str(op) if op is not None else "", req_id, False, f"error:unsupported op {op!r}")
            return
        args = request.get("args")
        if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
            self._reply(conn, op, req_id, False, "error:args must be a non-empty list of topics")
            return
        if op == "unsubscribe":
            for topic in args:
                conn.subscriptions.pop(topic, None)
                self._remove_subscriber(topic, conn)
            self._reply(conn, op, req_id, True, "")
            return
        self._subscribe(conn, args, req_id)

    def _subscribe(self, conn: WsConnection, topics: list[str], req_id: Any) -> None:
        bad_symbols: list[str] = []
        no_handler: list[str] = []
        already: list[str] = []
        accepted: list[str] = []
        for topic in topics:
            name, _, symbol = topic.partition(".")
            if name not in TOPICS or not symbol:
                no_handler.append(topic)
            elif not self.listed(symbol):
                bad_symbols.append(topic)
            elif topic in conn.subscriptions:
                already.append(topic)
            else:
                accepted.append(topic)
        for topic in accepted:
            symbol = topic.partition(".")[2]
            if topic.startswith("tickers.") and not self._has_subscribers(topic):
                # Nobody else watches this ticker: start its delta base afresh so the snapshot is current.
                self._ticker[symbol] = self._ticker_fields(symbol, self.market.state(self.key(symbol)))
            conn.subscriptions[topic] = symbol
            self._add_subscriber(topic, conn)
        if bad_symbols:
            self._reply(conn, "subscribe", req_id, False, f"Invalid symbol :[{','.join(bad_symbols)}]")
        elif no_handler:
            self._reply(conn, "subscribe", req_id, False, f"error:handler not found,topic:{no_handler[0]}")
        elif already:
            self._reply(conn, "subscribe", req_id, False, f"error:already subscribed,topic:{already[0]}")
        else:
            self._reply(conn, "subscribe", req_id, True, "")
        for topic in accepted:
            if topic.startswith("tickers."):
                symbol = topic.partition(".")[2]
                conn.send(self._ticker_message(symbol, "snapshot", self._ticker[symbol], 0))

    # Fan-out

    def on_step(self, step: MarketStep, now: int) -> None:
        for key, trades in step.trades.items():
            symbol = self._symbol_of_key.get(key)
            if symbol is None or not trades or not self.listed(symbol):
                continue
            topic = f"publicTrade.{symbol}"
            if self._has_subscribers(topic):
                for start in range(0, len(trades), MAX_TRADES_PER_MESSAGE):
                    chunk = trades[start : start + MAX_TRADES_PER_MESSAGE]
                    self._publish(topic, self._trades_message(symbol, chunk, now))
            else:
                self._trade_last_px[symbol] = trades[-1].px
        for key, liquidations in step.liquidations.items():
            symbol = self._symbol_of_key.get(key)
            if symbol is not None and liquidations:
                self._pending_liquidations.setdefault(symbol, []).extend(liquidations)

    def on_timer(self, now: int, mono: float) -> None:
        if now - self._last_ticker_ms >= self.config.bybit_ticker_ms:
            self._last_ticker_ms = now
            self._push_ticker_deltas(now)
        if now >= self._next_liquidation_flush_ms:
            self._next_liquidation_flush_ms = now + self.config.bybit_liquidation_batch_ms
            self._flush_liquidations(now)
        for conn in list(self.connections.values()):
            if mono - max(conn.last_recv_mono, conn.last_push_mono) >= self.config.bybit_idle_s:
                conn.abort()

    def _push_ticker_deltas(self, now: int) -> None:
        for symbol in self.instruments:
            topic = f"tickers.{symbol}"
            if not self._has_subscribers(topic) or not self.listed(symbol):
                continue
            fields = self._ticker_fields(symbol, self.market.state(self.key(symbol)))
            base = self._ticker.get(symbol, {})
            changed = {name: value for name, value in fields.items() if base.get(name) != value}
            self._ticker[symbol] = fields
            if changed:
                self._publish(topic, self._ticker_message(symbol, "delta", {"symbol": symbol, **changed}, now))

    def _flush_liquidations(self, now: int) -> None:
        pending, self._pending_liquidations = self._pending_liquidations, {}
        for symbol, liquidations in pending.items():
            topic = f"allLiquidation.{symbol}"
            if not self._has_subscribers(topic) or not self.listed(symbol):
                continue
            fmt = self.formats[symbol]
            data = [
                # S is the liquidated position's side: Buy means a long was liquidated.
                {
                    "T": liq.ts_ms,
                    "s": symbol,
                    "S": "Buy" if liq.side is Side.LONG else "Sell",
                    "v": fmt.qty(liq.qty_base),
                    "p": fmt.px(liq.bankruptcy_px),
                }
                for liq in liquidations
            ]
            self._publish(topic, dumps({"topic": topic, "type": "snapshot", "ts": now, "data": data}))

    # Encoders

    def _trades_message(self, symbol: str, trades: list[SimTrade], now: int) -> bytes:
        fmt = self.formats[symbol]
        data = []
        last_px = self._trade_last_px.get(symbol)
        direction = self._trade_tick.get(symbol, "ZeroPlusTick")
        for trade in trades:
            direction = tick_direction(direction, trade.px, last_px)
            last_px = trade.px
            self._cross_seq += 1
            data.append(
                {
                    "T": trade.ts_ms,
                    "s": symbol,
                    "S": "Buy" if trade.taker_buy else "Sell",
                    "v": fmt.qty(trade.qty_base),
                    "p": fmt.px(trade.px),
                    "L": direction,
                    "i": str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
                    "BT": False,
                    "RPI": False,
                    "seq": self._cross_seq,
                }
            )
        if last_px is not None:
            self._trade_last_px[symbol] = last_px
        self._trade_tick[symbol] = direction
        return dumps({"topic": f"publicTrade.{symbol}", "type": "snapshot", "ts": now, "data": data})

    def _ticker_message(self, symbol: str, kind: str, data: dict[str, str], now: int) -> bytes:
        self._cross_seq += 1
        ts = now or self.market.state(self.key(symbol)).ts_ms
        return dumps({"topic": f"tickers.{symbol}", "type": kind, "data": data, "cs": self._cross_seq, "ts": ts})

    def price_1h_ago(self, symbol: str, state: InstrumentState) -> float:
        """The price an hour ago (`prevPrice1h`), from the minute candles, looked up once a minute."""
        minute = state.ts_ms // MINUTE_MS
        cached = self._prev_1h.get(symbol)
        if cached is not None and cached[0] == minute:
            return cached[1]
        start = (minute * MINUTE_MS) - HOUR_MS
        candles = self.market.klines(self.key(symbol), MINUTE_MS, start, start, 1)
        px = float(candles["open"][0]) if len(candles) else state.price_24h_ago
        self._prev_1h[symbol] = (minute, px)
        return px

    def _ticker_fields(self, symbol: str, state: InstrumentState) -> dict[str, str]:
        """Every ticker field of the linear snapshot, as strings, in the live order."""
        fmt = self.formats[symbol]
        direction = tick_direction(
            self._tick_direction.get(symbol, "ZeroPlusTick"), state.last_px, self._last_px.get(symbol)
        )
        self._tick_direction[symbol], self._last_px[symbol] = direction, state.last_px
        change = state.last_px / state.price_24h_ago - 1.0 if state.price_24h_ago > 0 else 0.0
        # Book sizes are not simulated; a plausible quote size keeps the deltas as busy as the live ones.
        bid_size = fmt.qty(self._rng.uniform(20_000.0, 800_000.0) / state.mark_px)
        ask_size = fmt.qty(self._rng.uniform(20_000.0, 800_000.0) / state.mark_px)
        oi_both = 2.0 * state.oi_base
        return {
            "symbol": symbol,
            "tickDirection": direction,
            "price24hPcnt": fmt_fixed(change, 6),
            "lastPrice": fmt.px(state.last_px),
            "prevPrice24h": fmt.px(state.price_24h_ago),
            "highPrice24h": fmt.px(state.high_24h),
            "lowPrice24h": fmt.px(state.low_24h),
            "prevPrice1h": fmt.px(self.price_1h_ago(symbol, state)),
            "markPrice": fmt.px(state.mark_px),
            "indexPrice": fmt.px(state.index_px),
            "openInterest": fmt.qty(oi_both),
            "openInterestValue": fmt_fixed(oi_both * state.mark_px, 2),
            "turnover24h": fmt_fixed(state.turnover_24h_quote, 4),
            "volume24h": fmt_fixed(state.volume_24h_base, 4),
            "fundingIntervalHour": "8",
            "fundingCap": "0.005",
            "singleOpenInterest": fmt.qty(state.oi_base),
            "singleOpenInterestValue": fmt_fixed(state.oi_base * state.mark_px, 2),
            "nextFundingTime": str(state.next_funding_ms),
            "fundingRate": fmt_trim(state.funding_rate, 8),
            "bid1Price": fmt.px(state.bid_px),
            "bid1Size": bid_size,
            "ask1Price": fmt.px(state.ask_px),
            "ask1Size": ask_size,
            "preOpenPrice": "",
            "preQty": "",
            "curPreListingPhase": "",
        }

    def ticker_fields(self, symbol: str) -> dict[str, str]:
        """The current ticker of `symbol` (REST `/v5/market/tickers`), without moving the websocket's delta base."""
        fields = self._ticker.get(symbol)
        if fields is None or not self._has_subscribers(f"tickers.{symbol}"):
            fields = self._ticker_fields(symbol, self.market.state(self.key(symbol)))
        return fields

    # Faults

    def reject(self, symbol: str) -> int:
        ended = 0
        self._pending_liquidations.pop(symbol, None)
        for conn in list(self.connections.values()):
            topics = [t for t, s in conn.subscriptions.items() if s == symbol]
            for topic in topics:
                del conn.subscriptions[topic]
                self._remove_subscriber(topic, conn)
            if topics:
                ended += len(topics)
                self._reply(conn, "subscribe", "", False, f"Invalid symbol :[{','.join(topics)}]")
        return ended

    def malformed_frames(self) -> list[bytes]:
        """Broken frames: truncated JSON, wrong types, not JSON at all."""
        symbol = next(iter(self.instruments), "BTCUSDT")
        good = dumps(
            {
                "topic": f"tickers.{symbol}",
                "type": "delta",
                "data": {"symbol": symbol, "markPrice": "1.00"},
                "cs": 1,
                "ts": 1,
            }
        )
        wrong_types = dumps(
            {
                "topic": f"allLiquidation.{symbol}",
                "type": "snapshot",
                "ts": "late",
                "data": [{"T": "x", "s": 5, "S": True, "v": None, "p": [1]}],
            }
        )
        return [good[: len(good) // 2], wrong_types, b"}{", b'{"topic":null}', b"42"]

    def oversized_frame(self) -> bytes:
        """One text frame over 1 MiB."""
        symbol = next(iter(self.instruments), "BTCUSDT")
        return dumps({"topic": f"publicTrade.{symbol}", "type": "snapshot", "ts": 1, "pad": "x" * (1 << 20)})
