"""Fixtures for tests against the real simulated exchange (`liqtui.sim`) on 127.0.0.1, port 0.

`sim_server` starts a `SimServer` over the real market (one hour of history, seeded) with short intervals, and
yields a `RunningSim`: `.url`, `.port`, `.server`, `.market` (the real `Market`, for `shock()`), `.recorded` (every
liquidation the market produced, as the server saw it), and small client helpers (`connect`, `get`, `fault`).
Override wire settings per test with `@pytest.mark.sim_config(okx_idle_s=1.0, ...)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from liqtui.sim.contract import InstrumentState, MarketStep, SimLiquidation, SimMarket
from liqtui.sim.market import create_market
from liqtui.sim.scenario import default_scenario
from liqtui.sim.server import SimServer
from liqtui.sim.wire.base import WireConfig, now_ms

TEST_CONFIG = WireConfig(
    tick_s=0.02,
    binance_ping_s=30.0,
    okx_idle_s=30.0,
    okx_notice_close_s=0.5,
    bybit_page_rows=2,
    seed=11,
)
"""Wire settings for tests: the exchanges' behaviour, a faster tick and small REST pages."""
HISTORY_HOURS = 1.0
SEED = 7


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sim_config(**fields): WireConfig overrides for the sim_server fixture")


class RecordingMarket:
    """The real market, passed through, remembering every liquidation it reported (to check the wire's sides)."""

    def __init__(self, inner: SimMarket) -> None:
        self.inner = inner
        self.instruments = inner.instruments
        self.liquidations: list[tuple[str, SimLiquidation]] = []

    def advance(self, now: int) -> MarketStep:
        step = self.inner.advance(now)
        for key, liquidations in step.liquidations.items():
            self.liquidations.extend((key, liq) for liq in liquidations)
        return step

    def state(self, key: str) -> InstrumentState:
        return self.inner.state(key)

    def truth(self, key: str) -> dict[str, Any]:
        return self.inner.truth(key)

    def klines(self, key: str, interval_ms: int, start_ms: int, end_ms: int, limit: int) -> Any:
        return self.inner.klines(key, interval_ms, start_ms, end_ms, limit)

    def oi_history(self, key: str, period_ms: int, start_ms: int, end_ms: int, limit: int) -> Any:
        return self.inner.oi_history(key, period_ms, start_ms, end_ms, limit)

    def liquidation_history(self, key: str, start_ms: int, end_ms: int) -> Any:
        return self.inner.liquidation_history(key, start_ms, end_ms)

    def status(self) -> Any:
        return getattr(self.inner, "status", dict)()


@dataclass
class Client:
    """A websocket client (the `websockets` library, as liqtui's feeds use it) with bounded-time helpers."""

    ws: ClientConnection

    async def send(self, message: str | dict[str, Any]) -> None:
        await self.ws.send(message if isinstance(message, str) else orjson.dumps(message).decode())

    async def recv(self, timeout: float = 5.0) -> str:
        frame = await asyncio.wait_for(self.ws.recv(), timeout)
        return frame if isinstance(frame, str) else frame.decode()

    async def recv_json(self, timeout: float = 5.0) -> Any:
        return orjson.loads(await self.recv(timeout))

    async def until(self, predicate: Callable[[Any], bool], timeout: float = 5.0) -> Any:
        """The first frame (parsed; raw text when it is not JSON) for which `predicate` holds."""
        async with asyncio.timeout(timeout):
            while True:
                text = await self.recv(timeout)
                try:
                    frame: Any = orjson.loads(text)
                except orjson.JSONDecodeError:
                    frame = text
                if predicate(frame):
                    return frame

    async def collect(self, seconds: float) -> list[str]:
        """Every frame received in the next `seconds` (fewer if the server closes)."""
        frames: list[str] = []
        deadline = time.monotonic() + seconds
        with contextlib.suppress(TimeoutError, ConnectionClosed):
            while (left := deadline - time.monotonic()) > 0:
                frames.append(await self.recv(left))
        return frames

    async def closed(self, timeout: float = 5.0) -> tuple[int | None, float]:
        """Wait until the server closes: (close code, or 1006 when dropped without one; seconds waited)."""
        start = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self.ws.recv()
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else 1006
            return code, time.monotonic() - start


@dataclass
class RunningSim:
    """A started simulator and helpers to talk to it."""

    server: SimServer
    recording: RecordingMarket
    session: aiohttp.ClientSession
    clients: list[ClientConnection] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def market(self) -> Any:
        """The real market (`liqtui.sim.market.Market`)."""
        return self.recording.inner

    @property
    def recorded(self) -> list[tuple[str, SimLiquidation]]:
        return self.recording.liquidations

    def ws_url(self, path: str) -> str:
        return "ws" + self.url.removeprefix("http") + path

    @contextlib.asynccontextmanager
    async def connect(self, path: str, **kwargs: Any) -> AsyncIterator[Client]:
        """A websocket on `path`; the library's own pings are off so the server's heartbeat rules decide."""
        async with connect(
            self.ws_url(path), proxy=None, ping_interval=None, open_timeout=5, close_timeout=1, **kwargs
        ) as ws:
            yield Client(ws)

    async def get(self, path: str) -> tuple[int, Any]:
        """GET a REST path: (status, parsed JSON or text)."""
        async with self.session.get(self.url + path, timeout=aiohttp.ClientTimeout(total=5)) as response:
            text = await response.text()
            try:
                return response.status, orjson.loads(text)
            except orjson.JSONDecodeError:
                return response.status, text

    async def fault(self, **body: Any) -> tuple[int, Any]:
        """POST /sim/faults."""
        async with self.session.post(
            self.url + "/sim/faults", data=orjson.dumps(body), timeout=aiohttp.ClientTimeout(total=5)
        ) as response:
            return response.status, orjson.loads(await response.read())


@pytest.fixture
async def sim_server(request: pytest.FixtureRequest) -> AsyncIterator[RunningSim]:
    """The simulator over the real market, listening on 127.0.0.1 with an ephemeral port."""
    marker = request.node.get_closest_marker("sim_config")
    config = replace(TEST_CONFIG, **(marker.kwargs if marker else {}))
    scenario = replace(default_scenario(), history_hours=HISTORY_HOURS)
    recording = RecordingMarket(create_market(scenario, SEED, now_ms()))
    server = SimServer(recording, config)
    await server.start("127.0.0.1", 0)
    session = aiohttp.ClientSession(trust_env=False)
    try:
        yield RunningSim(server, recording, session)
    finally:
        await session.close()
        await asyncio.wait_for(server.stop(), 10)
