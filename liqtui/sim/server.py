"""The simulated exchange server (design §5, §7.4): one aiohttp port, three exchanges' websockets and REST.

Every exchange lives under its own prefix, below which paths and wire formats are the real exchange's:

    ws://H:P/binance/market/stream?streams=...   ws://H:P/bybit/v5/public/linear   ws://H:P/okx/ws/v5/public
    http://H:P/binance/fapi/v1/...   http://H:P/bybit/v5/market/...   http://H:P/okx/api/v5/...
    http://H:P/sim/truth | /sim/faults | /sim/status   (the simulator's own controls)

A drive task advances the market on the wall clock every `WireConfig.tick_s` and hands each step to the three
hubs, which encode every event once per stream and fan it out to the subscribers' send queues.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from aiohttp import web

from liqtui.model.types import Exchange
from liqtui.sim.contract import SimMarket
from liqtui.sim.control import Control
from liqtui.sim.faults import FaultState
from liqtui.sim.wire.base import ExchangeHub, WireConfig, now_ms
from liqtui.sim.wire.binance import BinanceHub
from liqtui.sim.wire.binance_rest import BinanceRest
from liqtui.sim.wire.bybit import BybitHub
from liqtui.sim.wire.bybit_rest import BybitRest
from liqtui.sim.wire.okx import OkxHub
from liqtui.sim.wire.okx_rest import OkxRest

log = logging.getLogger("liqtui.sim")

OUTAGE_BODY = (
    "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center>"
    "<h1>503 Service Temporarily Unavailable</h1></center></body></html>"
)
"""What a REST outage answers (a gateway's page, not the exchange's JSON)."""
SHUTDOWN_TIMEOUT_S = 2.0
"""How long stopping waits for in-flight requests once every websocket is dropped."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SimServer:
    """The simulated exchange on one port. `start()`, then `url`; `stop()` to end; `restart()` for the fault."""

    def __init__(self, market: SimMarket, config: WireConfig | None = None) -> None:
        self.market = market
        """The market served."""
        self.config = config or WireConfig()
        """Intervals and knobs of the wire formats."""
        self.faults = FaultState()
        """Faults in force."""
        self.binance = BinanceHub(market, self.config, self.faults)
        self.bybit = BybitHub(market, self.config, self.faults)
        self.okx = OkxHub(market, self.config, self.faults)
        self.hubs: dict[Exchange, ExchangeHub] = {
            Exchange.BINANCE: self.binance,
            Exchange.BYBIT: self.bybit,
            Exchange.OKX: self.okx,
        }
        self.host = "127.0.0.1"
        self.port = 0
        """The bound port (the real one once started, also when 0 was asked for)."""
        self._runner: web.AppRunner | None = None
        self._drive: asyncio.Task[None] | None = None
        self._restart: asyncio.Task[None] | None = None
        self._restart_at_mono: float | None = None
        self.failed: BaseException | None = None
        """Why the drive task died, if it did (the server then serves a frozen market)."""
        self.drive_stopped = asyncio.Event()
        """Set when the drive task ends (by `stop()` or by an error in the market)."""

    @property
    def url(self) -> str:
        """`http://H:P`, the base of every exchange's REST and (as ws://) websocket address."""
        return f"http://{self.host}:{self.port}"

    # Lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on host:port (0 picks a free port) and start driving the market."""
        self.host = host
        await self._listen(host, port)
        if self._drive is None:
            self.drive_stopped.clear()
            self._drive = asyncio.get_running_loop().create_task(self._drive_market(), name="sim-drive")
        log.info("sim listening on %s", self.url)

    async def stop(self) -> None:
        """Close every connection, stop listening and stop the market."""
        for task in (self._restart, self._drive):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._restart = self._drive = None
        self.drive_stopped.set()
        await self._close_listener()

    async def restart(self, after_s: float = 2.0) -> None:
        """Go away (listener and connections) and come back on the same port `after_s` later."""
        self._restart_at_mono = time.monotonic() + after_s
        try:
            await self._close_listener()
            await asyncio.sleep(after_s)
            await self._listen(self.host, self.port)
        finally:
            self._restart_at_mono = None

    def schedule_restart(self, after_s: float) -> None:
        """Restart in the background (the fault endpoint answers before the server goes away)."""
        if self._restart is None or self._restart.done():
            self._restart = asyncio.get_running_loop().create_task(self.restart(after_s), name="sim-restart")

    def scheduled_faults(self) -> list[dict[str, Any]]:
        """A restart in progress, for `/sim/status`."""
        if self._restart_at_mono is None:
            return []
        return [{"kind": "restart", "remaining_s": round(max(0.0, self._restart_at_mono - time.monotonic()), 3)}]

    async def _listen(self, host: str, port: int) -> None:
        runner = web.AppRunner(self._build_app(), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        addresses = runner.addresses
        self.port = int(addresses[0][1]) if addresses else port

    async def _close_listener(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            # Stop listening first, so nothing connects between dropping the sockets and the shutdown.
            for site in list(runner.sites):
                await site.stop()
        for hub in self.hubs.values():
            hub.drop_all()
        if runner is not None:
            await runner.cleanup()

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._rest_outage])
        binance = self.binance
        app.add_routes(
            [
                web.get("/binance/market/stream", self._binance_combined),
                web.get("/binance/market/ws", self._binance_raw),
                web.get("/binance/market/ws/{streams:.+}", self._binance_raw),
                # The unrouted legacy paths: since 2026-04-23 they accept and acknowledge, and send no market data.
                web.get("/binance/stream", self._binance_legacy_combined),
                web.get("/binance/ws", self._binance_legacy_raw),
                web.get("/binance/ws/{streams:.+}", self._binance_legacy_raw),
                web.get("/bybit/v5/public/linear", self.bybit.serve),
                web.get("/okx/ws/v5/public", self.okx.serve),
            ]
        )
        app.add_routes(BinanceRest(binance).routes())
        app.add_routes(BybitRest(self.bybit).routes())
        app.add_routes(OkxRest(self.okx).routes())
        app.add_routes(Control(self).routes())
        return app

    # Binance's URL-named streams

    @staticmethod
    def _url_streams(request: web.Request) -> list[str]:
        text = request.match_info.get("streams") or request.query.get("streams", "")
        return [name for name in text.split("/") if name]

    async def _binance_combined(self, request: web.Request) -> web.StreamResponse:
        return await self.binance.serve(request, combined=True, initial=self._url_streams(request))

    async def _binance_raw(self, request: web.Request) -> web.StreamResponse:
        return await self.binance.serve(request, combined=False, initial=self._url_streams(request))

    async def _binance_legacy_combined(self, request: web.Request) -> web.StreamResponse:
        return await self.binance.serve(request, routed=False, combined=True, initial=self._url_streams(request))

    async def _binance_legacy_raw(self, request: web.Request) -> web.StreamResponse:
        return await self.binance.serve(request, routed=False, combined=False, initial=self._url_streams(request))

    @web.middleware
    async def _rest_outage(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        prefix = request.path.split("/", 2)[1] if request.path.count("/") >= 2 else ""
        try:
            exchange = Exchange(prefix)
        except ValueError:
            return await handler(request)
        is_websocket = request.headers.get("Upgrade", "").lower() == "websocket"
        if not is_websocket and self.faults.rest_down(exchange):
            return web.Response(status=503, text=OUTAGE_BODY, content_type="text/html")
        return await handler(request)

    # The market

    async def _drive_market(self) -> None:
        tick_s = self.config.tick_s
        try:
            while True:
                now = now_ms()
                step = self.market.advance(now)
                mono = time.monotonic()
                for hub in self.hubs.values():
                    hub.on_step(step, now)
                    hub.on_timer(now, mono)
                await asyncio.sleep(tick_s)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # A bug in the market or an encoder: keep the reason for the command to report, and stop serving it.
            log.exception("the simulated market stopped")
            self.failed = error
        finally:
            self.drive_stopped.set()


async def serve_sim(
    market: SimMarket, host: str = "127.0.0.1", port: int = 0, config: WireConfig | None = None
) -> SimServer:
    """Start a `SimServer` for `market` on host:port and return it (call `stop()` when done)."""
    server = SimServer(market, config)
    await server.start(host, port)
    return server


def build_market(scenario_path: str | None, seed: int | None, speed: float | None) -> SimMarket:
    """The market `liqtui sim` serves: the scenario file's or the default one. Raises ScenarioError."""
    from liqtui.sim.market import create_market
    from liqtui.sim.scenario import default_scenario, load_scenario

    scenario = load_scenario(scenario_path) if scenario_path else default_scenario()
    return create_market(scenario, seed, now_ms(), speed)


def run_sim_command(args: argparse.Namespace) -> int:
    """`liqtui sim`: serve until SIGINT or SIGTERM. The first line of stdout says where."""
    market = build_market(args.scenario, args.seed, args.speed)
    config = WireConfig() if args.seed is None else replace(WireConfig(), seed=args.seed)
    return asyncio.run(_serve_until_signal(market, config, args.host, args.port))


async def _serve_until_signal(market: SimMarket, config: WireConfig, host: str, port: int) -> int:
    server = SimServer(market, config)
    try:
        await server.start(host, port)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            print(
                f"liqtui: port {port} on {host} is already in use; pick another with --port "
                "(or --port 0 for a free one).",
                file=sys.stderr,
            )
        else:
            print(f"liqtui: cannot listen on {host}:{port} ({error.strerror or error}).", file=sys.stderr)
        return 1
    print(f"liqtui sim listening on {server.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(server.drive_stopped.wait())]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await server.stop()
    if server.failed is not None:
        print(f"liqtui: the simulated market stopped: {server.failed}", file=sys.stderr)
        return 1
    return 0
