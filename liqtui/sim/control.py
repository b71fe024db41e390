"""The simulator's own endpoints (design §7.4), not an exchange's: `/sim/truth`, `/sim/faults`, `/sim/status`.

GET  /sim/truth?instrument=binance:BTCUSDT   every open position's liquidation price and notional
POST /sim/faults {"kind": "stall", "exchange": "bybit", "seconds": 5}   inject a fault; 200 says what it did
GET  /sim/status                              instruments, connections and their subscriptions, faults, frames
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from liqtui.model.types import Exchange
from liqtui.sim.faults import FaultKind, FaultRequest, FaultRequestError, parse_fault_request
from liqtui.sim.wire.base import json_response, loads, now_ms

if TYPE_CHECKING:
    from liqtui.sim.server import SimServer


def control_error(status: int, message: str) -> web.Response:
    """An error from the simulator's own endpoints: {"error": one sentence}."""
    return json_response({"error": message}, status)


def jsonable(value: Any) -> Any:
    """`value` with integers JSON cannot carry exactly (a 128-bit drawn seed) written as strings."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return str(value)
    return value


class Control:
    """The `/sim/*` handlers, bound to the server they control."""

    def __init__(self, server: SimServer) -> None:
        self.server = server

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/sim/truth", self.truth),
            web.post("/sim/faults", self.faults),
            web.get("/sim/status", self.status),
        ]

    async def truth(self, request: web.Request) -> web.Response:
        key = request.query.get("instrument")
        if not key:
            return control_error(400, "Name the instrument: /sim/truth?instrument=binance:BTCUSDT.")
        market = self.server.market
        if key not in market.instruments:
            known = ", ".join(market.instruments)
            return control_error(404, f"The simulator lists no {key!r}; it lists {known}.")
        return json_response(market.truth(key))

    async def status(self, request: web.Request) -> web.Response:
        server = self.server
        exchanges = {exchange.value: hub.status() for exchange, hub in server.hubs.items()}
        body: dict[str, Any] = {
            "url": server.url,
            "ts_ms": now_ms(),
            "instruments": list(server.market.instruments),
            "connections": {name: info["connections"] for name, info in exchanges.items()},
            "frames_sent": {name: info["frames_sent"] for name, info in exchanges.items()},
            "faults": server.faults.in_force() + server.scheduled_faults(),
        }
        market_status = getattr(server.market, "status", None)
        if callable(market_status):
            body["market"] = jsonable(market_status())
        return json_response(body)

    async def faults(self, request: web.Request) -> web.StreamResponse:
        try:
            fault = parse_fault_request(loads(await request.read()))
        except FaultRequestError as error:
            return control_error(400, str(error))
        except ValueError:
            return control_error(400, 'The body is not JSON: send e.g. {"kind": "drop"}.')
        try:
            done = self.apply(fault)
        except FaultRequestError as error:
            return control_error(400, str(error))
        if fault.kind is not FaultKind.RESTART:
            return json_response(done)
        # Answer first, then go away: the client must see the 200 before the listener closes.
        response = json_response(done)
        await response.prepare(request)
        await response.write_eof()
        self.server.schedule_restart(fault.seconds or 0.0)
        return response

    def apply(self, fault: FaultRequest) -> dict[str, Any]:
        """Carry out one fault; returns what was done, per exchange."""
        server = self.server
        mono = time.monotonic()
        done: dict[str, Any] = {"kind": fault.kind.value, "exchanges": {}}
        if fault.seconds is not None:
            done["seconds"] = fault.seconds
        if fault.symbol is not None:
            done["symbol"] = fault.symbol
        per_exchange: dict[str, Any] = done["exchanges"]
        if fault.kind is FaultKind.REJECT:
            assert fault.symbol is not None
            listing = [ex for ex in fault.exchanges if fault.symbol in server.hubs[ex].instruments]
            if not listing:
                names = ", ".join(ex.value for ex in fault.exchanges)
                raise FaultRequestError(f"{fault.symbol!r} is not listed on {names}.")
            for exchange in listing:
                server.faults.reject(exchange, fault.symbol)
                per_exchange[exchange.value] = {"subscriptions_ended": server.hubs[exchange].reject(fault.symbol)}
            return done
        for exchange in fault.exchanges:
            per_exchange[exchange.value] = self._apply_one(fault, exchange, mono)
        return done

    def _apply_one(self, fault: FaultRequest, exchange: Exchange, mono: float) -> dict[str, Any]:
        server = self.server
        hub = server.hubs[exchange]
        kind = fault.kind
        if kind is FaultKind.DROP:
            return {"connections_dropped": hub.drop_all()}
        if kind is FaultKind.STALL:
            assert fault.seconds is not None
            server.faults.stall(exchange, fault.seconds)
            return {"connections_stalled": len(hub.connections)}
        if kind is FaultKind.MALFORMED:
            frames = hub.malformed_frames()
            return {"connections": hub.send_all(frames), "frames_each": len(frames)}
        if kind is FaultKind.OVERSIZED:
            frame = hub.oversized_frame()
            return {"connections": hub.send_all([frame]), "frame_bytes": len(frame)}
        if kind is FaultKind.CLOSE_24H:
            return {"connections_closed": hub.close_all(1000)}
        if kind is FaultKind.NOTICE_64008:
            delay = server.config.okx_notice_close_s if fault.seconds is None else fault.seconds
            # parse_fault_request allows this fault on OKX only.
            return {"connections_noticed": server.okx.notice_64008(delay, mono), "close_after_s": delay}
        if kind is FaultKind.REST_OUTAGE:
            assert fault.seconds is not None
            server.faults.outage(exchange, fault.seconds)
            return {"rest_down_s": fault.seconds}
        if kind is FaultKind.RESTART:
            return {"connections_closed": len(hub.connections), "back_after_s": fault.seconds}
        raise AssertionError(kind)
