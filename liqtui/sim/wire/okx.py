"""OKX v5 public websocket, as `wss://ws.okx.com/ws/v5/public` serves it in 2026.

Frames (`../shared/exchanges.md` §3); numbers *and* timestamps are strings, sizes are contracts:

    {"arg":{"channel":"mark-price","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP","instType":"SWAP",
     "markPx":"84551.1","ts":"1791565600771"}]}
    {"arg":{"channel":"trades","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP","tradeId":"148266905",
     "px":"48938.5","sz":"5","side":"buy","ts":"1640131236050","count":"2","source":"0","seqId":1234}]}
    {"arg":{"channel":"open-interest","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP",
     "instType":"SWAP","oi":"644195","oiCcy":"6441.95","oiUsd":"544661234.5","ts":"1640131258756"}]}
    {"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0","bkPx":"82655.7",
     "ccy":"","posSide":"long","side":"sell","sz":"8.55","ts":"1791565600771"}],"instFamily":"BTC-USDT",
     "instId":"BTC-USDT-SWAP","instType":"SWAP","uly":"BTC-USDT"}]}

Quirks kept on purpose: `liquidation-orders` is subscribed by instType, reports only a share of the liquidations
and not always in time order, sometimes with `posSide: net` (then only `side`, the order's side, tells); the
keepalive is the text `ping` answered by the text `pong`; a connection with no subscription, or no push, for 30 s is
closed; unknown instruments get error 60018.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from liqtui.model.types import Exchange, Side
from liqtui.sim.contract import MarketStep, SimLiquidation, SimMarket, SimTrade
from liqtui.sim.faults import FaultState
from liqtui.sim.wire.base import ExchangeHub, WireConfig, WsConnection, dumps, fmt_trim, loads, now_ms

INSTRUMENT_CHANNELS = ("mark-price", "trades", "open-interest")
LIQUIDATIONS = "liquidation-orders"
INST_TYPES = ("SWAP", "FUTURES", "MARGIN", "OPTION")
IDLE_CLOSE_CODE = 4004
"""OKX's close code for "No data received in 30s"."""
UPGRADE_CLOSE_CODE = 1001
NOTICE_64008 = "The connection will soon be closed for a service upgrade. Please reconnect."


def inst_family(inst_id: str) -> str:
    """`BTC-USDT-SWAP` → `BTC-USDT`."""
    return inst_id.removesuffix("-SWAP")


def okx_reports(ts_ms: npt.ArrayLike, qty_base: npt.ArrayLike, share: float, seed: int) -> npt.NDArray[np.bool_]:
    """Whether OKX reports each liquidation ("not all liquidations"): a `share` of them, picked by a hash of the
    liquidation's time and size, so the websocket and the REST history report the same ones."""
    ts = np.asarray(ts_ms, dtype=np.int64).astype(np.uint64)
    qty = np.ascontiguousarray(qty_base, dtype=np.float64).view(np.uint64)
    x = ts * np.uint64(0x9E3779B97F4A7C15) ^ qty ^ np.uint64(seed & 0xFFFFFFFF)
    # splitmix64's finaliser: every input bit moves about half the output bits.
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return np.asarray((x >> np.uint64(11)).astype(np.float64) / float(1 << 53) < share)


def channel_error(channel: Any, name: str, value: Any) -> str:
    """OKX's 60018 message for a channel or instrument that does not exist."""
    return (
        f"Wrong URL or channel:{channel},{name}:{value} doesn't exist. "
        "Please use the correct URL, channel and parameters referring to API document."
    )


@dataclass(slots=True)
class HeldLiquidation:
    """A reported liquidation held back to arrive after newer ones."""

    symbol: str
    liquidation: SimLiquidation
    release_ms: int


class OkxHub(ExchangeHub):
    """OKX's public websocket."""

    exchange = Exchange.OKX

    def __init__(self, market: SimMarket, config: WireConfig, faults: FaultState) -> None:
        super().__init__(market, config, faults)
        self._rng = random.Random(config.seed * 7919 + 3)
        self._symbol_of_key = {inst.key: inst.symbol for inst in self.instruments.values()}
        self._last_mark: dict[str, tuple[str, int]] = {}
        """Per instrument: the mark last pushed, and when (ms)."""
        self._last_mark_tick_ms = 0
        self._last_oi_ms = 0
        self._trade_id = 140_000_000
        self._seq_id = 30_000_000_000
        self._held: list[HeldLiquidation] = []
        self._close_at: dict[str, float] = {}
        """Connections told 64008, and when (monotonic) they are closed."""

    def new_conn_id(self) -> str:
        return f"{self._rng.getrandbits(32):08x}"

    # Control messages

    def on_open(self, conn: WsConnection, initial: list[str]) -> None:
        """OKX names no channels in its URL: subscriptions come by message only."""

    def _event(self, conn: WsConnection, request_id: Any, **fields: Any) -> None:
        frame: dict[str, Any] = {"id": request_id} if isinstance(request_id, str) else {}
        frame.update(fields)
        frame["connId"] = conn.conn_id
        conn.send(dumps(frame))

    def _error(self, conn: WsConnection, request_id: Any, code: str, msg: str) -> None:
        self._event(conn, request_id, event="error", code=code, msg=msg)

    def on_text(self, conn: WsConnection, text: str) -> None:
        if text == "ping":
            conn.send(b"pong")
            return
        try:
            request = loads(text)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            self._error(conn, None, "60012", f"Invalid request: {text}")
            return
        request_id = request.get("id")
        op = request.get("op")
        args = request.get("args")
        if op not in ("subscribe", "unsubscribe") or not isinstance(args, list) or not args:
            self._error(conn, request_id, "60012", f"Invalid request: {text}")
            return
        for arg in args:
            if not isinstance(arg, dict) or not isinstance(arg.get("channel"), str):
                self._error(conn, request_id, "60012", f"Invalid request: {text}")
                return
        for arg in args:
            if op == "subscribe":
                self._subscribe(conn, arg, request_id)
            else:
                key, echo = self._arg_key(arg)
                conn.subscriptions.pop(key, None)
                self._remove_subscriber(key, conn)
                self._event(conn, request_id, event="unsubscribe", arg=echo)

    @staticmethod
    def _arg_key(arg: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        channel = arg["channel"]
        if channel == LIQUIDATIONS:
            return f"{channel}:{arg.get('instType')}", {"channel": channel, "instType": arg.get("instType")}
        return f"{channel}:{arg.get('instId')}", {"channel": channel, "instId": arg.get("instId")}

    def _subscribe(self, conn: WsConnection, arg: dict[str, Any], request_id: Any) -> None:
        channel = arg["channel"]
        if channel == LIQUIDATIONS:
            inst_type = arg.get("instType")
            if inst_type not in INST_TYPES:
                self._error(conn, request_id, "60018", channel_error(channel, "instType", inst_type))
                return
        elif channel in INSTRUMENT_CHANNELS:
            inst_id = arg.get("instId")
            if not isinstance(inst_id, str) or not self.listed(inst_id):
                self._error(conn, request_id, "60018", channel_error(channel, "instId", inst_id))
                return
        else:
            self._error(conn, request_id, "60018", channel_error(channel, "instId", arg.get("instId")))
            return
        key, echo = self._arg_key(arg)
        conn.subscriptions[key] = echo
        self._add_subscriber(key, conn)
        self._event(conn, request_id, event="subscribe", arg=echo)
        # The value channels push the current value straight after the ack.
        if channel == "mark-price":
            conn.send(self._mark_message(echo["instId"], now_ms(), pushed=False))
        elif channel == "open-interest":
            conn.send(self._open_interest_message(echo["instId"], now_ms()))

    def on_closed(self, conn: WsConnection) -> None:
        self._close_at.pop(conn.conn_id, None)
        super().on_closed(conn)

    # Fan-out

    def on_step(self, step: MarketStep, now: int) -> None:
        for key, trades in step.trades.items():
            symbol = self._symbol_of_key.get(key)
            if symbol is None or not trades or not self.listed(symbol):
                continue
            channel_key = f"trades:{symbol}"
            if self._has_subscribers(channel_key):
                self._publish(channel_key, self._trades_message(symbol, trades))
        reported: list[tuple[str, SimLiquidation]] = []
        for key, liquidations in step.liquidations.items():
            symbol = self._symbol_of_key.get(key)
            if symbol is None:
                continue
            chosen = okx_reports(
                [liq.ts_ms for liq in liquidations],
                [liq.qty_base for liq in liquidations],
                self.config.okx_liquidation_share,
                self.config.seed,
            )
            for liquidation, report in zip(liquidations, chosen.tolist(), strict=True):
                if not report:
                    continue  # OKX: "does not represent all liquidations"
                if self._rng.random() < self.config.okx_liquidation_delay_share:
                    longest = self.config.okx_liquidation_max_delay_ms
                    delay = self._rng.randint(longest // 5, longest)
                    self._held.append(HeldLiquidation(symbol, liquidation, now + delay))
                else:
                    reported.append((symbol, liquidation))
        # Held-back ones go out after newer ones: "not guaranteed to arrive in time order".
        due = [held for held in self._held if held.release_ms <= now]
        if due:
            self._held = [held for held in self._held if held.release_ms > now]
            reported.extend((held.symbol, held.liquidation) for held in due)
        if reported:
            self._publish_liquidations(reported)

    def _publish_liquidations(self, reported: list[tuple[str, SimLiquidation]]) -> None:
        key = f"{LIQUIDATIONS}:SWAP"
        if not self._has_subscribers(key):
            return
        by_symbol: dict[str, list[dict[str, str]]] = {}
        for symbol, liquidation in reported:
            if self.listed(symbol):
                by_symbol.setdefault(symbol, []).append(self._liquidation_detail(symbol, liquidation))
        data = [
            {
                "details": details,
                "instFamily": inst_family(symbol),
                "instId": symbol,
                "instType": "SWAP",
                "uly": inst_family(symbol),
            }
            for symbol, details in by_symbol.items()
        ]
        if data:
            self._publish(key, dumps({"arg": {"channel": LIQUIDATIONS, "instType": "SWAP"}, "data": data}))

    def on_timer(self, now: int, mono: float) -> None:
        if now - self._last_mark_tick_ms >= self.config.okx_mark_ms:
            self._last_mark_tick_ms = now
            for symbol in self.instruments:
                key = f"mark-price:{symbol}"
                if not self._has_subscribers(key) or not self.listed(symbol):
                    continue
                mark = self.formats[symbol].px(self.market.state(self.key(symbol)).mark_px)
                last = self._last_mark.get(symbol)
                if last is None or last[0] != mark or now - last[1] >= self.config.okx_mark_unchanged_ms:
                    self._publish(key, self._mark_message(symbol, now))
        if now - self._last_oi_ms >= self.config.okx_open_interest_ms:
            self._last_oi_ms = now
            for symbol in self.instruments:
                key = f"open-interest:{symbol}"
                if self._has_subscribers(key) and self.listed(symbol):
                    self._publish(key, self._open_interest_message(symbol, now))
        idle_s = self.config.okx_idle_s
        for conn in list(self.connections.values()):
            close_at = self._close_at.get(conn.conn_id)
            if close_at is not None and mono >= close_at:
                del self._close_at[conn.conn_id]
                conn.close(UPGRADE_CLOSE_CODE, "service upgrade")
            elif (not conn.subscriptions and mono - conn.opened_mono >= idle_s) or (
                mono - conn.last_push_mono >= idle_s
            ):
                conn.close(IDLE_CLOSE_CODE, "No data received in 30s.")

    # Encoders

    def _mark_message(self, symbol: str, now: int, *, pushed: bool = True) -> bytes:
        """A mark-price push; `pushed` when it goes to every subscriber (not a new one's first value)."""
        mark = self.formats[symbol].px(self.market.state(self.key(symbol)).mark_px)
        if pushed:
            self._last_mark[symbol] = (mark, now)
        return dumps(
            {
                "arg": {"channel": "mark-price", "instId": symbol},
                "data": [{"instId": symbol, "instType": "SWAP", "markPx": mark, "ts": str(now)}],
            }
        )

    def _open_interest_message(self, symbol: str, now: int) -> bytes:
        inst = self.instruments[symbol]
        state = self.market.state(self.key(symbol))
        contracts = state.oi_base / inst.contract_size_base
        return dumps(
            {
                "arg": {"channel": "open-interest", "instId": symbol},
                "data": [
                    {
                        "instId": symbol,
                        "instType": "SWAP",
                        "oi": fmt_trim(contracts, self.formats[symbol].qty_decimals),
                        "oiCcy": fmt_trim(state.oi_base, 8),
                        "oiUsd": fmt_trim(state.oi_base * state.mark_px, 4),
                        "ts": str(now),
                    }
                ],
            }
        )

    def contracts(self, symbol: str, qty_base: float) -> str:
        """A base quantity as OKX writes it: contracts, trimmed to the lot size's decimals."""
        inst = self.instruments[symbol]
        return fmt_trim(qty_base / inst.contract_size_base, self.formats[symbol].qty_decimals)

    def _trades_message(self, symbol: str, trades: list[SimTrade]) -> bytes:
        fmt = self.formats[symbol]
        data = []
        for trade in trades:
            count = 1 + self._rng.randrange(4)
            self._trade_id += count
            self._seq_id += 1
            data.append(
                {
                    "instId": symbol,
                    "tradeId": str(self._trade_id),
                    "px": fmt.px(trade.px),
                    "sz": self.contracts(symbol, trade.qty_base),
                    "side": "buy" if trade.taker_buy else "sell",
                    "ts": str(trade.ts_ms),
                    "count": str(count),
                    "source": "0",
                    "seqId": self._seq_id,
                }
            )
        return dumps({"arg": {"channel": "trades", "instId": symbol}, "data": data})

    def _liquidation_detail(self, symbol: str, liquidation: SimLiquidation) -> dict[str, str]:
        net = self._rng.random() < self.config.okx_liquidation_net_share
        return self.liquidation_detail(
            symbol,
            is_long=liquidation.side is Side.LONG,
            qty_base=liquidation.qty_base,
            bankruptcy_px=liquidation.bankruptcy_px,
            ts_ms=liquidation.ts_ms,
            net=net,
        )

    def liquidation_detail(
        self, symbol: str, *, is_long: bool, qty_base: float, bankruptcy_px: float, ts_ms: int, net: bool = False
    ) -> dict[str, str]:
        """One `details` entry of `liquidation-orders` (the channel's and the REST history's)."""
        return {
            "bkLoss": "0",
            "bkPx": self.formats[symbol].px(bankruptcy_px),
            "ccy": "",
            "posSide": "net" if net else ("long" if is_long else "short"),
            # The order side: a long is closed by a sell.
            "side": "sell" if is_long else "buy",
            "sz": self.contracts(symbol, qty_base),
            "ts": str(ts_ms),
        }

    # Faults

    def reject(self, symbol: str) -> int:
        self._held = [held for held in self._held if held.symbol != symbol]
        ended = 0
        for conn in list(self.connections.values()):
            keys = [k for k, arg in conn.subscriptions.items() if arg.get("instId") == symbol]
            for key in keys:
                arg = conn.subscriptions.pop(key)
                self._remove_subscriber(key, conn)
                self._error(conn, None, "60018", channel_error(arg["channel"], "instId", symbol))
            ended += len(keys)
        return ended

    def notice_64008(self, close_after_s: float, mono: float) -> int:
        """Send the service-upgrade notice to every connection and close each `close_after_s` later."""
        conns = list(self.connections.values())
        for conn in conns:
            conn.send_unstalled(
                dumps({"event": "notice", "code": "64008", "msg": NOTICE_64008, "connId": conn.conn_id})
            )
            self._close_at[conn.conn_id] = mono + close_after_s
        return len(conns)

    def malformed_frames(self) -> list[bytes]:
        """Broken frames: truncated JSON, wrong types, not JSON at all."""
        symbol = next(iter(self.instruments), "BTC-USDT-SWAP")
        good = dumps(
            {
                "arg": {"channel": "mark-price", "instId": symbol},
                "data": [{"instId": symbol, "instType": "SWAP", "markPx": "1.0", "ts": "1"}],
            }
        )
        wrong_types = dumps(
            {
                "arg": {"channel": LIQUIDATIONS, "instType": "SWAP"},
                "data": [{"details": [{"bkPx": 82655.7, "posSide": 1, "side": None, "sz": [], "ts": 17}], "instId": 9}],
            }
        )
        return [good[: len(good) // 2], wrong_types, b"pon", b'{"arg":{},"data":{}}', b"null"]

    def oversized_frame(self) -> bytes:
        """One text frame over 1 MiB."""
        symbol = next(iter(self.instruments), "BTC-USDT-SWAP")
        return dumps({"arg": {"channel": "trades", "instId": symbol}, "data": [], "pad": "x" * (1 << 20)})
