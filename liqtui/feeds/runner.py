"""`FeedRunner`: one exchange websocket connection that never gives up and never loses state.

It runs on the app's asyncio loop (no thread, so the store needs no lock) and does, per connection:

- connect with the websockets library's own reconnect loop (`async for ws in connect(...)`), exponential backoff
  with jitter between attempts, and a bounded `max_size`;
- send the plan's subscriptions after every (re)connect, paced to the exchange's control-message limit;
- read frames, parse them into one `EventBatch`, and apply the batch to the store every few hundred frames or every
  `FLUSH_INTERVAL_S`, never per frame;
- keep the connection alive by the exchange's rules (Bybit JSON ping every 20 s, OKX text ping when idle; Binance's
  server pings are answered by the library);
- watch for silence: the mark price must keep arriving even when the liquidation channel is quiet, so a connection
  with no market data for `silence_timeout_s` is called stalled and re-opened;
- replace a connection before a planned close (Binance's 24 h limit, OKX's 64008 notice) by opening the new socket
  first and closing the old one only once the new one delivers data, so the handover leaves no gap.

Frames in flight during a handover may arrive on both sockets; a duplicate is preferred over a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Generator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from liqtui.feeds.base import FrameKind, Parser
from liqtui.feeds.sessions import ConnectionPlan, HeartbeatMode
from liqtui.model.events import EventBatch
from liqtui.model.store import FeedState, MarketStore

if TYPE_CHECKING:
    from liqtui.config import FeedConfig
    from liqtui.record import Recorder

log = logging.getLogger("liqtui.feeds")

FLUSH_FRAMES = 256
"""Apply the batch to the store after this many frames..."""

FLUSH_INTERVAL_S = 0.05
"""...or when the oldest pending frame is this old, whichever comes first."""

HOUSEKEEPING_INTERVAL_S = 0.25
"""How often the runner checks the watchdog, the heartbeat and the connection's age."""

STABLE_CONNECTION_S = 30.0
"""A connection that lived this long resets the backoff; one that dies sooner keeps backing off."""

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class Backoff:
    """Exponential backoff with jitter: each delay is drawn from the upper half of a doubling window."""

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self.min_s = min_s
        self.max_s = max_s
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """The delay before the next attempt; every call doubles the window up to `max_s`."""
        window = min(self.max_s, self.min_s * (2.0**self.attempt))
        self.attempt += 1
        return window / 2.0 + self._rng.uniform(0.0, window / 2.0)

    def reset(self) -> None:
        """Start again from the smallest delay (after a connection proved stable)."""
        self.attempt = 0


class FeedRunner:
    """Streams one `ConnectionPlan` into the store for as long as it runs."""

    def __init__(
        self,
        plan: ConnectionPlan,
        parser: Parser,
        store: MarketStore,
        config: FeedConfig,
        *,
        watched: set[str] | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.plan = plan
        self.parser = parser
        self.store = store
        self.config = config
        self.watched = watched
        """Exchange symbols to keep (others on shared channels, like OKX's liquidations, are dropped)."""
        self.recorder = recorder
        self.status = store.status(plan.exchange)
        self.backoff = Backoff(config.reconnect_min_s, config.reconnect_max_s)
        self.handovers = 0
        """Planned replacements of the connection (new socket first, then the old one closed)."""
        self._batch = EventBatch()
        self._pending = 0
        self._first_pending_at = 0.0
        self._counts = [0] * len(FrameKind)
        self._notices_handled = 0
        self._ws: ClientConnection | None = None
        self._last_data_at = 0.0
        self._last_recv_at = 0.0
        self._ping_sent_at: float | None = None
        self._last_heartbeat_at = 0.0
        self._connected_at = 0.0
        self._handover_task: asyncio.Task[None] | None = None
        self._handover_ready: tuple[ClientConnection, str | bytes] | None = None
        self._log_counts: dict[str, int] = {}

    # -- the connection loop -------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, stream, and reconnect until cancelled."""
        host = urlsplit(self.plan.url).hostname or ""
        connections = connect(
            self.plan.url,
            # Loopback (the simulator) must not go through a developer's HTTPS_PROXY (websockets >= 15 uses it).
            proxy=None if host in LOOPBACK_HOSTS else True,
            max_size=self.config.max_frame_bytes * 4,
            # Large enough that a burst never blocks the exchange's socket while a batch is applied.
            max_queue=1024,
            open_timeout=self.config.rest_timeout_s,
            process_exception=self._on_connect_error,
            reconnect_delays=self._connect_delays,
        )
        self.status.state = FeedState.CONNECTING
        try:
            async for ws in connections:
                lived = await self._stream(ws)
                if lived >= STABLE_CONNECTION_S:
                    self.backoff.reset()
                await self._wait_before_reconnect(self.backoff.next_delay())
        finally:
            self._flush()
            if self._handover_task is not None:
                self._handover_task.cancel()

    def _on_connect_error(self, error: Exception) -> Exception | None:
        """Every failure to connect is retried; the status says why in words."""
        self.status.last_error = _describe_connect_error(error, self.plan.url)
        log.warning("%s: %s", self.plan.exchange.value, self.status.last_error)
        return None

    def _connect_delays(self) -> Generator[float]:
        while True:
            delay = self.backoff.next_delay()
            self._mark_reconnecting(delay)
            yield delay

    async def _wait_before_reconnect(self, delay: float) -> None:
        self._mark_reconnecting(delay)
        await asyncio.sleep(delay)
        self.status.state = FeedState.CONNECTING

    def _mark_reconnecting(self, delay: float) -> None:
        self.status.state = FeedState.RECONNECTING
        self.status.retry_at_monotonic = time.monotonic() + delay
        self.status.reconnects += 1

    async def _stream(self, ws: ClientConnection) -> float:
        """Subscribe and read until the connection (after any handovers) closes; returns how long it lived."""
        started = time.monotonic()
        await self._start_session(ws)
        housekeeping = asyncio.create_task(self._housekeeping(), name=f"housekeeping:{self.plan.exchange}")
        self._ws = current = ws
        try:
            while True:
                # Iteration ends quietly on a normal close and raises on an abnormal one; both end the socket.
                with contextlib.suppress(ConnectionClosed):
                    await self._read(current)
                ready = self._handover_ready
                if ready is None:
                    self._note_close(current)
                    return time.monotonic() - started
                new_ws, first_frame = ready
                self._handover_ready = None
                self._ws = current = new_ws
                self.handovers += 1
                self._on_frame(first_frame, time.monotonic())
                log.info("%s: handed over to a new connection", self.plan.exchange.value)
        finally:
            housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await housekeeping
            self._flush()

    async def _start_session(self, ws: ClientConnection) -> None:
        now = time.monotonic()
        self._connected_at = now
        self._last_data_at = now
        self._last_recv_at = now
        self._last_heartbeat_at = now
        self._ping_sent_at = None
        for i, message in enumerate(self.plan.subscribe_messages):
            if i and self.plan.send_interval_s:
                await asyncio.sleep(self.plan.send_interval_s)
            await ws.send(message)
        self.status.state = FeedState.LIVE
        self.status.retry_at_monotonic = None
        self.status.last_error = ""

    async def _read(self, ws: ClientConnection) -> None:
        on_frame = self._on_frame
        monotonic = time.monotonic
        async for frame in ws:
            on_frame(frame, monotonic())

    def _on_frame(self, frame: str | bytes, now: float) -> None:
        """The hot path: record, parse into the batch, count, flush when the batch is due."""
        if self.recorder is not None:
            self.recorder.write(self.plan.exchange.value, self.plan.url, frame)
        self._last_recv_at = now
        kind = self.parser.parse(frame, self._batch)
        self._counts[kind] += 1
        if kind is FrameKind.DATA:
            self._last_data_at = now
        elif kind is FrameKind.PONG:
            self._ping_sent_at = None
        elif kind >= FrameKind.SKIPPED:
            self._log_rare(kind, self.parser.reason)
        if len(self._batch.notices) > self._notices_handled:
            self._handle_notices()
        if self._pending == 0:
            self._first_pending_at = now
        self._pending += 1
        if self._pending >= FLUSH_FRAMES or now - self._first_pending_at >= FLUSH_INTERVAL_S:
            self._flush()

    def _flush(self) -> None:
        """Apply the pending batch and the frame counts to the store."""
        if self._pending:
            self.store.apply(self.plan.exchange, self._batch, only=self.watched)
            self._batch.clear()
            self._notices_handled = 0
            self._pending = 0
        counts = self._counts
        if any(counts):
            status = self.status
            status.frames += sum(counts)
            status.bad_frames += counts[FrameKind.BAD]
            status.skipped_frames += counts[FrameKind.SKIPPED]
            status.unresolved_frames += counts[FrameKind.UNRESOLVED]
            status.last_frame_monotonic = self._last_recv_at
            status.last_data_monotonic = self._last_data_at
            self._counts = [0] * len(FrameKind)

    def _handle_notices(self) -> None:
        for notice in self._batch.notices[self._notices_handled :]:
            if notice.code == "rejected":
                # The store records the rejection when the batch is applied.
                log.warning("%s rejected %s: %s", self.plan.exchange.value, notice.symbol, notice.text)
            elif notice.code == "disconnect_soon":
                log.info("%s: planned disconnect announced: %s", self.plan.exchange.value, notice.text)
                self._start_handover()
            else:
                self.status.last_error = notice.text
                log.warning("%s says: %s", self.plan.exchange.value, notice.text)
        self._notices_handled = len(self._batch.notices)

    def _note_close(self, ws: ClientConnection) -> None:
        code = ws.close_code if ws.close_code is not None else 1006
        reason = ws.close_reason or ""
        if code == 1009:
            # The library refused a frame over max_size: count it like any other bad frame.
            self.status.bad_frames += 1
            self.status.frames += 1
            text = "a frame larger than the size limit; reconnected"
        elif self.status.state is FeedState.STALLED:
            text = f"no market data for {self.config.silence_timeout_s:.0f} s; reconnected"
        else:
            text = f"connection closed ({code}{': ' + reason if reason else ''})"
        self.status.last_error = text
        log.warning("%s: %s", self.plan.exchange.value, text)

    # -- keepalive, watchdog, planned handover ----------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        heartbeat = self.plan.heartbeat
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL_S)
            now = time.monotonic()
            if self._pending and now - self._first_pending_at >= FLUSH_INTERVAL_S:
                self._flush()
            ws = self._ws
            if ws is None:
                continue
            if now - self._last_data_at > self.config.silence_timeout_s:
                self.status.state = FeedState.STALLED
                log.warning("%s: no market data for %.0f s", self.plan.exchange.value, now - self._last_data_at)
                await ws.close(code=4000, reason="stalled")
                return
            if heartbeat.mode is HeartbeatMode.FIXED and now - self._last_heartbeat_at >= heartbeat.interval_s:
                self._last_heartbeat_at = now
                await ws.send(heartbeat.payload)
            elif heartbeat.mode is HeartbeatMode.IDLE:
                if self._ping_sent_at is not None and now - self._ping_sent_at >= heartbeat.interval_s:
                    self.status.state = FeedState.STALLED
                    await ws.close(code=4000, reason="no pong")
                    return
                if self._ping_sent_at is None and now - self._last_recv_at >= heartbeat.interval_s:
                    self._ping_sent_at = now
                    await ws.send(heartbeat.payload)
            lifetime = self.plan.max_lifetime_s
            if lifetime is not None and now - self._connected_at >= lifetime:
                self._start_handover()

    def _start_handover(self) -> None:
        if self._handover_task is None or self._handover_task.done():
            self._handover_task = asyncio.create_task(self._handover(), name=f"handover:{self.plan.exchange}")

    async def _handover(self) -> None:
        """Open the replacement first; close the old socket only once the new one delivers a frame."""
        old = self._ws
        if old is None:
            return
        host = urlsplit(self.plan.url).hostname or ""
        try:
            new = await connect(
                self.plan.url,
                proxy=None if host in LOOPBACK_HOSTS else True,
                max_size=self.config.max_frame_bytes * 4,
                max_queue=1024,
                open_timeout=self.config.rest_timeout_s,
            )
            for message in self.plan.subscribe_messages:
                await new.send(message)
            first = await asyncio.wait_for(new.recv(), timeout=self.config.silence_timeout_s)
        except (OSError, TimeoutError, ConnectionClosed, InvalidStatus) as error:
            # The old socket keeps streaming; the next housekeeping pass (or its close) tries again.
            log.warning("%s: handover failed: %s", self.plan.exchange.value, error)
            self._connected_at = time.monotonic() - (self.plan.max_lifetime_s or 0.0) + 30.0
            return
        self._connected_at = time.monotonic()
        self._handover_ready = (new, first)
        await old.close(code=1000, reason="handover")

    def _log_rare(self, kind: FrameKind, reason: str) -> None:
        """Log bad and skipped frames without flooding the log: the 1st, 2nd, 4th, 8th... of each reason."""
        key = f"{kind.name}:{reason}"
        seen = self._log_counts.get(key, 0) + 1
        self._log_counts[key] = seen
        if seen & (seen - 1) == 0:
            level = logging.WARNING if kind is FrameKind.BAD else logging.INFO
            log.log(
                level,
                "%s %s frame (%d so far): %s",
                self.plan.exchange.value,
                kind.name.lower(),
                seen,
                reason,
            )


def _describe_connect_error(error: Exception, url: str) -> str:
    if isinstance(error, InvalidStatus):
        return f"the exchange answered HTTP {error.response.status_code} to {url}"
    if isinstance(error, TimeoutError):
        return f"timed out connecting to {url}"
    if isinstance(error, OSError):
        return f"cannot connect to {url}: {error.strerror or error}"
    return f"cannot connect to {url}: {error}"
