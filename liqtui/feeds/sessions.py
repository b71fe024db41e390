"""Each exchange's connection rules (`../shared/exchanges.md` §0, §5): URLs, subscription messages within the
exchange's limits, heartbeats, and planned reconnects. Pure: builds strings, opens nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import quote

import orjson

from liqtui.model.types import Exchange

T = TypeVar("T")


class HeartbeatMode(enum.Enum):
    """When the client must send an application-level ping."""

    NONE = "none"
    """The exchange pings (Binance sends websocket ping frames; the library answers them)."""
    FIXED = "fixed"
    """Every `interval_s`, whatever arrives (Bybit: `{"op":"ping"}` every 20 s)."""
    IDLE = "idle"
    """When nothing has arrived for `interval_s` (OKX: text `ping` before its 30 s idle cut)."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """An application-level keepalive."""

    mode: HeartbeatMode
    interval_s: float
    payload: str


@dataclass(frozen=True, slots=True)
class ConnectionPlan:
    """One websocket connection: where to connect, what to send after connecting, which symbols it carries."""

    exchange: Exchange
    url: str
    subscribe_messages: tuple[str, ...]
    """Sent in order right after every (re)connect; restores the subscriptions."""
    symbols: tuple[str, ...]
    heartbeat: Heartbeat
    max_lifetime_s: float | None
    """Reconnect (opening the new socket before closing the old) when a connection gets this old."""
    send_interval_s: float
    """The least time between two control messages (Binance allows 10 incoming messages per second)."""


BINANCE_STREAMS_PER_CONNECTION = 1024
"""Binance USD-M: at most 1024 streams on one connection."""

BINANCE_LIFETIME_S = 24 * 3600.0
"""Binance closes every connection at 24 h."""

BINANCE_HANDOVER_MARGIN_S = 30 * 60.0
"""Replace a Binance connection this long before its 24 h close, so the close never makes a gap."""

BYBIT_ARGS_CHARS_PER_CONNECTION = 21_000
"""Bybit: at most 21,000 characters of topics on one public connection."""

BYBIT_TOPICS_PER_MESSAGE = 10
"""Topics per Bybit subscribe request (the pattern tardis uses; futures allow more, this is the safe size)."""

OKX_ARGS_BYTES_PER_MESSAGE = 60_000
"""OKX: the args of one request may total 64 KB; stay below it."""


def binance_streams(symbol: str) -> tuple[str, ...]:
    """The /market streams liqtui reads for one Binance symbol (lowercase names, as Binance wants them)."""
    name = symbol.lower()
    return (f"{name}@aggTrade", f"{name}@markPrice@1s", f"{name}@forceOrder")


def binance_plans(ws_base: str, symbols: Sequence[str], lifetime_s: float = BINANCE_LIFETIME_S) -> list[ConnectionPlan]:
    """Combined-stream URLs on the routed `/market` path.

    The streams ride in the URL, so every reconnect restores them without a SUBSCRIBE message.

    Non-ASCII symbols (Binance lists some) are percent-encoded in the URL.
    """
    per_connection = BINANCE_STREAMS_PER_CONNECTION // len(binance_streams("x"))
    plans = []
    for chunk in _chunks(list(symbols), per_connection):
        streams = "/".join(stream for symbol in chunk for stream in binance_streams(symbol))
        plans.append(
            ConnectionPlan(
                exchange=Exchange.BINANCE,
                url=f"{ws_base.rstrip('/')}/stream?streams={quote(streams, safe='/@!')}",
                subscribe_messages=(),
                symbols=tuple(chunk),
                heartbeat=Heartbeat(HeartbeatMode.NONE, 0.0, ""),
                max_lifetime_s=max(lifetime_s - BINANCE_HANDOVER_MARGIN_S, lifetime_s / 2),
                send_interval_s=0.2,
            )
        )
    return plans


def bybit_topics(symbol: str) -> tuple[str, ...]:
    """The topics liqtui reads for one Bybit linear symbol."""
    return (f"tickers.{symbol}", f"publicTrade.{symbol}", f"allLiquidation.{symbol}")


def bybit_plans(ws_url: str, symbols: Sequence[str]) -> list[ConnectionPlan]:
    """Symbols packed into connections of at most 21,000 characters of topics, 10 topics per request."""
    plans = []
    for chunk in _pack(list(symbols), lambda s: sum(len(t) for t in bybit_topics(s)), BYBIT_ARGS_CHARS_PER_CONNECTION):
        topics = [topic for symbol in chunk for topic in bybit_topics(symbol)]
        messages = tuple(
            orjson.dumps({"req_id": f"sub{i}", "op": "subscribe", "args": part}).decode()
            for i, part in enumerate(_chunks(topics, BYBIT_TOPICS_PER_MESSAGE))
        )
        plans.append(
            ConnectionPlan(
                exchange=Exchange.BYBIT,
                url=ws_url,
                subscribe_messages=messages,
                symbols=tuple(chunk),
                heartbeat=Heartbeat(HeartbeatMode.FIXED, 20.0, '{"op":"ping"}'),
                max_lifetime_s=None,
                send_interval_s=0.0,
            )
        )
    return plans


def okx_args(symbol: str) -> list[dict[str, str]]:
    """The channels liqtui reads for one OKX swap."""
    return [
        {"channel": "mark-price", "instId": symbol},
        {"channel": "trades", "instId": symbol},
        {"channel": "open-interest", "instId": symbol},
    ]


OKX_LIQUIDATIONS_ARG = {"channel": "liquidation-orders", "instType": "SWAP"}
"""OKX liquidations are subscribed per instrument type, once, and filtered by instId."""


def okx_plans(ws_url: str, symbols: Sequence[str]) -> list[ConnectionPlan]:
    """One connection; as few requests as fit in 64 KB each (OKX allows 480 subscribe requests per hour)."""
    if not symbols:
        return []
    args = [OKX_LIQUIDATIONS_ARG, *(arg for symbol in symbols for arg in okx_args(symbol))]
    messages: list[str] = []
    part: list[dict[str, str]] = []
    for arg in args:
        candidate = [*part, arg]
        if part and len(orjson.dumps(candidate)) > OKX_ARGS_BYTES_PER_MESSAGE:
            messages.append(orjson.dumps({"id": f"sub{len(messages)}", "op": "subscribe", "args": part}).decode())
            candidate = [arg]
        part = candidate
    messages.append(orjson.dumps({"id": f"sub{len(messages)}", "op": "subscribe", "args": part}).decode())
    return [
        ConnectionPlan(
            exchange=Exchange.OKX,
            url=ws_url,
            subscribe_messages=tuple(messages),
            symbols=tuple(symbols),
            heartbeat=Heartbeat(HeartbeatMode.IDLE, 25.0, "ping"),
            max_lifetime_s=None,
            send_interval_s=0.0,
        )
    ]


def connection_plans(exchange: Exchange, ws_base: str, symbols: Sequence[str]) -> list[ConnectionPlan]:
    """The connections that carry `symbols` on `exchange`."""
    if not symbols:
        return []
    if exchange is Exchange.BINANCE:
        return binance_plans(ws_base, symbols)
    if exchange is Exchange.BYBIT:
        return bybit_plans(ws_base, symbols)
    return okx_plans(ws_base, symbols)


def _chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _pack(items: list[T], weight: Callable[[T], int], budget: int) -> list[list[T]]:
    """Greedy packing of items into groups whose total weight stays within budget."""
    groups: list[list[T]] = []
    current: list[T] = []
    total = 0
    for item in items:
        w = weight(item)
        if current and total + w > budget:
            groups.append(current)
            current, total = [], 0
        current.append(item)
        total += w
    if current:
        groups.append(current)
    return groups
