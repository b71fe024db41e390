"""What the three exchanges' wire servers share: settings, one websocket connection, the hub they hang off.

A hub (`ExchangeHub`) owns one exchange's connections and subscriptions. The server calls `on_step` with what the
market did and `on_timer` on every tick; the hub encodes each event once per stream and hands the same bytes to
every subscriber's bounded send queue. A `WsConnection` drains its queue on its own task, so one slow client never
holds up the rest: when its queue is full it is dropped, as the real exchanges do.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import itertools
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from liqtui.model.types import Exchange
from liqtui.sim.contract import MarketStep, SimInstrument, SimMarket
from liqtui.sim.faults import FaultState

log = logging.getLogger("liqtui.sim")


@dataclass(frozen=True, slots=True)
class WireConfig:
    """Every interval and knob of the wire servers. The defaults are the real exchanges'; tests shorten them."""

    tick_s: float = 0.05
    """How often the server advances the market and fans the step out."""
    send_queue_bytes: int = 32 << 20
    """Bytes a connection may have waiting; a client that falls this far behind is dropped."""

    binance_ping_s: float = 180.0
    """Binance sends a websocket ping frame this often."""
    binance_pong_timeout_s: float = 600.0
    """Binance closes a connection whose pong is this late."""
    binance_max_msgs_per_s: int = 10
    """Binance disconnects a client that sends more control messages than this in one second."""
    binance_max_streams: int = 1024
    """Streams one Binance connection may hold."""

    bybit_idle_s: float = 600.0
    """Bybit cuts a socket that neither pinged nor received data for this long."""
    bybit_ticker_ms: int = 100
    """Bybit pushes ticker deltas this often."""
    bybit_liquidation_batch_ms: int = 500
    """Bybit batches `allLiquidation` pushes this often."""
    bybit_page_rows: int = 1000
    """The most rows one Bybit REST page holds, whatever `limit` asks (shrink it to exercise pagination)."""

    okx_idle_s: float = 30.0
    """OKX closes a connection with no subscription, or no push, for this long."""
    okx_mark_ms: int = 200
    """OKX pushes a changed mark price this often."""
    okx_mark_unchanged_ms: int = 10_000
    """OKX pushes an unchanged mark price this often."""
    okx_open_interest_ms: int = 3000
    """OKX pushes open interest this often."""
    okx_liquidation_share: float = 0.4
    """The share of liquidations OKX reports on `liquidation-orders` (it says not all are)."""
    okx_liquidation_delay_share: float = 0.1
    """The share of reported liquidations held back and sent after a later one (OKX: not in time order)."""
    okx_liquidation_max_delay_ms: int = 5000
    """A held-back liquidation is sent between a fifth of this and this much later, after newer ones."""
    okx_liquidation_net_share: float = 0.2
    """The share of reported liquidations that say `posSide: net` (one-way mode) with only `side` to go by."""
    okx_notice_close_s: float = 60.0
    """OKX closes a connection this long after its 64008 service-upgrade notice."""

    seed: int = 0
    """Seeds the wire servers' own choices (ids, OKX's reported share), apart from the market's."""


def now_ms() -> int:
    """Wall-clock epoch milliseconds (the market's timestamps are wall clock too)."""
    return time.time_ns() // 1_000_000


def step_decimals(step: float) -> int:
    """The number of decimals a price or size increment has: 0.1 → 1, 0.001 → 3, 1.0 → 0, 1e-05 → 5."""
    exponent = Decimal(repr(step)).normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def fmt_fixed(value: float, decimals: int) -> str:
    """A number as the exchanges send it: a string with a fixed number of decimals."""
    return f"{value:.{decimals}f}"


def fmt_trim(value: float, max_decimals: int = 8) -> str:
    """A number with at most `max_decimals` decimals and no trailing zeros (OKX style: "8.55", "0.0001")."""
    text = f"{value:.{max_decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@dataclass(frozen=True, slots=True)
class InstrumentFormat:
    """How one instrument's numbers are written: decimals of its price and size increments."""

    px_decimals: int
    qty_decimals: int

    @classmethod
    def of(cls, instrument: SimInstrument) -> InstrumentFormat:
        return cls(step_decimals(instrument.tick_size), step_decimals(instrument.qty_step))

    def px(self, value: float) -> str:
        return fmt_fixed(value, self.px_decimals)

    def qty(self, value: float) -> str:
        return fmt_fixed(value, self.qty_decimals)


class Command(enum.Enum):
    """Non-data items on a connection's send queue."""

    PING = "ping"


@dataclass(frozen=True, slots=True)
class CloseCommand:
    """Close the websocket with this code once everything queued before it is sent."""

    code: int
    message: bytes = b""


QueueItem = bytes | Command | CloseCommand

_conn_ids = itertools.count(1)


@dataclass(eq=False)
class WsConnection:
    """One client's websocket on one exchange: its send queue, subscriptions and counters."""

    exchange: Exchange
    path: str
    """The path and query the client connected to."""
    ws: web.WebSocketResponse
    request: web.Request
    faults: FaultState
    """Consulted on every frame: nothing goes out while the exchange is stalled."""
    queue_limit_bytes: int
    """The most bytes that may wait in the send queue before the client is dropped as too slow."""
    conn_id: str = ""
    """The exchange's connection id (Bybit `conn_id`, OKX `connId`); a counter where the exchange has none."""
    routed: bool = True
    """False on Binance's legacy unrouted path: acknowledged, but sent no market data."""
    combined: bool = False
    """Binance: wrap payloads in {"stream":..,"data":..}."""
    subscriptions: dict[str, Any] = field(default_factory=dict)
    """Stream or topic name → what the hub needs to serve it, in subscription order."""
    frames_sent: int = 0
    """Text frames written to the socket."""
    opened_mono: float = field(default_factory=time.monotonic)
    last_recv_mono: float = field(default_factory=time.monotonic)
    """When the client last sent anything (the idle rules)."""
    last_push_mono: float = field(default_factory=time.monotonic)
    """When a text frame last went out (the idle rules)."""
    last_ping_mono: float = field(default_factory=time.monotonic)
    """When the server last sent a websocket ping (Binance)."""
    ping_outstanding_since: float | None = None
    """When the oldest unanswered server ping went out."""
    recv_window_start: float = 0.0
    recv_window_count: int = 0
    """Messages received since `recv_window_start` (Binance's 10 messages a second)."""
    closing: bool = False
    """A close or drop is under way: nothing more is queued."""
    queued_bytes: int = 0
    _queue: asyncio.Queue[QueueItem] = field(init=False)
    _writer: asyncio.Task[None] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if not self.conn_id:
            self.conn_id = f"sim{next(_conn_ids):06d}"
        self._queue = asyncio.Queue()

    def start(self) -> None:
        """Start draining the send queue."""
        self._writer = asyncio.get_running_loop().create_task(self._drain(), name=f"ws-writer-{self.conn_id}")

    async def stop(self) -> None:
        """Stop the writer (the connection is over)."""
        self.closing = True
        if self._writer is not None:
            self._writer.cancel()
            # gather() absorbs the writer's own CancelledError but still raises if *we* are being cancelled.
            await asyncio.gather(self._writer, return_exceptions=True)

    def send(self, frame: bytes) -> None:
        """Queue a text frame: data or a reply. Nothing goes out while the exchange is stalled."""
        if self.closing or self.faults.stalled(self.exchange):
            return
        self._put(frame)

    def send_unstalled(self, item: QueueItem) -> None:
        """Queue a frame or command even during a stall (fault frames, closes)."""
        if not self.closing:
            self._put(item)

    def close(self, code: int, message: str = "") -> None:
        """Close with `code` after what is already queued."""
        if not self.closing:
            self._put(CloseCommand(code, message.encode()))
            self.closing = True

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (the client sees 1006)."""
        self.closing = True
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    def _put(self, item: QueueItem) -> None:
        if isinstance(item, bytes):
            if self.queued_bytes + len(item) > self.queue_limit_bytes:
                log.info(
                    "%s %s: client too slow, %d bytes queued; dropping it",
                    self.exchange,
                    self.conn_id,
                    self.queued_bytes,
                )
                self.abort()
                return
            self.queued_bytes += len(item)
        self._queue.put_nowait(item)

    async def _drain(self) -> None:
        ws = self.ws
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, bytes):
                    await ws.send_frame(item, WSMsgType.TEXT)
                    self.queued_bytes -= len(item)
                    self.frames_sent += 1
                    self.last_push_mono = time.monotonic()
                elif isinstance(item, CloseCommand):
                    await ws.close(code=item.code, message=item.message)
                    return
                else:
                    await ws.ping()
        except (ConnectionError, RuntimeError) as error:
            # The peer went away mid-write (aiohttp raises ClientConnectionResetError, a ConnectionError, or
            # RuntimeError once the transport is closed): nothing left to send to.
            log.debug("%s %s: send failed: %s", self.exchange, self.conn_id, error)
            self.closing = True

    def describe(self) -> dict[str, Any]:
        """The connection as `/sim/status` lists it."""
        return {
            "conn_id": self.conn_id,
            "path": self.path,
            "subscriptions": list(self.subscriptions),
            "frames_sent": self.frames_sent,
            "queued_bytes": self.queued_bytes,
            "routed": self.routed,
        }


def dumps(obj: Any) -> bytes:
    """Encode one frame (orjson: compact, like the exchanges)."""
    return orjson.dumps(obj)


def loads(text: str | bytes) -> Any:
    """Decode a client's frame; ValueError when it is not JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise ValueError(str(error)) from None


class ExchangeHub(abc.ABC):
    """One exchange's websocket server: connections, subscriptions, fan-out and faults. Subclassed per exchange."""

    exchange: Exchange

    def __init__(self, market: SimMarket, config: WireConfig, faults: FaultState) -> None:
        self.market = market
        self.config = config
        self.faults = faults
        self.connections: dict[str, WsConnection] = {}
        self.frames_sent_closed = 0
        """Frames sent on connections that have since closed (status totals)."""
        self.instruments: dict[str, SimInstrument] = {
            inst.symbol: inst for inst in market.instruments.values() if inst.exchange is self.exchange
        }
        self.formats = {symbol: InstrumentFormat.of(inst) for symbol, inst in self.instruments.items()}
        self._subscribers: dict[str, dict[str, WsConnection]] = {}
        """Connections by subscription (a Binance stream, a Bybit topic, an OKX channel key), by connection id."""

    # Subscriptions and fan-out

    def _add_subscriber(self, name: str, conn: WsConnection) -> None:
        self._subscribers.setdefault(name, {})[conn.conn_id] = conn

    def _remove_subscriber(self, name: str, conn: WsConnection) -> None:
        self._subscribers.get(name, {}).pop(conn.conn_id, None)

    def _has_subscribers(self, name: str) -> bool:
        return bool(self._subscribers.get(name))

    def _publish(self, name: str, frame: bytes) -> None:
        """Send one encoded frame to every subscriber of `name` (encoded once, whatever their number)."""
        for conn in self._subscribers.get(name, {}).values():
            conn.send(frame)

    # Symbols

    def listed(self, symbol: str) -> bool:
        """Whether the exchange lists `symbol` now (a rejected symbol is no longer listed)."""
        return symbol in self.instruments and not self.faults.is_rejected(self.exchange, symbol)

    def listed_instruments(self) -> list[SimInstrument]:
        return [inst for symbol, inst in self.instruments.items() if self.listed(symbol)]

    def key(self, symbol: str) -> str:
        return f"{self.exchange.value}:{symbol}"

    # Connections

    async def serve(
        self, request: web.Request, *, routed: bool = True, combined: bool = False, initial: Iterable[str] = ()
    ) -> web.WebSocketResponse:
        """Accept one websocket and run it until either side closes."""
        ws = web.WebSocketResponse(autoping=False, compress=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = WsConnection(
            exchange=self.exchange,
            path=request.path_qs,
            ws=ws,
            request=request,
            faults=self.faults,
            queue_limit_bytes=self.config.send_queue_bytes,
            conn_id=self.new_conn_id(),
            routed=routed,
            combined=combined,
        )
        self.connections[conn.conn_id] = conn
        conn.start()
        try:
            self.on_open(conn, list(initial))
            async for msg in ws:
                conn.last_recv_mono = time.monotonic()
                if msg.type is WSMsgType.TEXT:
                    self.on_text(conn, msg.data)
                elif msg.type is WSMsgType.PING:
                    # Protocol pongs keep flowing even during a stall: only application frames stop.
                    await ws.pong(msg.data)
                elif msg.type is WSMsgType.PONG:
                    conn.ping_outstanding_since = None
                elif msg.type is WSMsgType.BINARY:
                    self.on_binary(conn, msg.data)
        finally:
            self.connections.pop(conn.conn_id, None)
            self.on_closed(conn)
            await conn.stop()
            self.frames_sent_closed += conn.frames_sent
        return ws

    def new_conn_id(self) -> str:
        """The id the exchange gives a new connection ("" for a plain counter)."""
        return ""

    @abc.abstractmethod
    def on_open(self, conn: WsConnection, initial: list[str]) -> None:
        """A connection opened, with the streams its URL named."""

    @abc.abstractmethod
    def on_text(self, conn: WsConnection, text: str) -> None:
        """One text frame from the client."""

    def on_binary(self, conn: WsConnection, data: bytes) -> None:
        """A binary frame: no exchange here accepts one; treated as text that does not parse."""
        self.on_text(conn, data.decode("utf-8", "replace"))

    def on_closed(self, conn: WsConnection) -> None:
        """Forget a closed connection's subscriptions."""
        for name in conn.subscriptions:
            self._remove_subscriber(name, conn)

    @abc.abstractmethod
    def on_step(self, step: MarketStep, now: int) -> None:
        """Fan one market step out to the subscribers."""

    @abc.abstractmethod
    def on_timer(self, now: int, mono: float) -> None:
        """Periodic pushes and per-connection timers (heartbeats, idle cuts)."""

    # Faults

    def drop_all(self) -> int:
        """Drop every connection without a close frame."""
        conns = list(self.connections.values())
        for conn in conns:
            conn.abort()
        return len(conns)

    def close_all(self, code: int, message: str = "") -> int:
        """Close every connection with a close frame."""
        conns = list(self.connections.values())
        for conn in conns:
            conn.close(code, message)
        return len(conns)

    def send_all(self, frames: list[bytes]) -> int:
        """Send the same fault frames to every connection, stall or not."""
        conns = list(self.connections.values())
        for conn in conns:
            for frame in frames:
                conn.send_unstalled(frame)
        return len(conns)

    @abc.abstractmethod
    def reject(self, symbol: str) -> int:
        """`symbol` was just rejected: stop serving it. Returns how many subscriptions ended."""

    @abc.abstractmethod
    def malformed_frames(self) -> list[bytes]:
        """A few broken frames in this exchange's style."""

    @abc.abstractmethod
    def oversized_frame(self) -> bytes:
        """One text frame over 1 MiB in this exchange's style."""

    def status(self) -> dict[str, Any]:
        """Connections and counters for `/sim/status`."""
        conns = [conn.describe() for conn in self.connections.values()]
        return {
            "connections": conns,
            "frames_sent": self.frames_sent_closed + sum(c["frames_sent"] for c in conns),
        }


def json_response(obj: Any, status: int = 200) -> web.Response:
    """A REST answer encoded with orjson."""
    return web.Response(body=dumps(obj), status=status, content_type="application/json")


class BadParam(ValueError):
    """A REST query parameter that is missing or malformed; each exchange words its own error body."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


def int_param(
    request: web.Request, name: str, default: int | None = None, *, low: int | None = None, high: int | None = None
) -> int | None:
    """An integer query parameter within [low, high], `default` when absent; BadParam otherwise."""
    text = request.query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadParam(name, "not an integer") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise BadParam(name, "out of range")
    return value


def candle_turnover(candle: Any) -> float:
    """A candle's quote turnover: the market's own figure where it keeps one, else volume × close."""
    if "turnover_quote" in candle.dtype.names:
        return float(candle["turnover_quote"])
    return float(candle["volume_base"]) * float(candle["close"])


def candle_taker_buy_quote(candle: Any) -> float:
    """A candle's taker-buy quote turnover (0 where the taker split is unknown)."""
    if "taker_buy_quote" in candle.dtype.names:
        return float(candle["taker_buy_quote"])
    taker_buy = float(candle["taker_buy_base"])
    return 0.0 if math.isnan(taker_buy) else taker_buy * float(candle["close"])


def oi_quote(row: Any, mark_px: float) -> float:
    """An open-interest sample's quote value: the market's own figure where it keeps one, else at today's mark."""
    if "oi_quote" in row.dtype.names:
        return float(row["oi_quote"])
    return float(row["oi_base"]) * mark_px
