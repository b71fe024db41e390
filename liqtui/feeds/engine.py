"""`FeedEngine`: every watched instrument, on every exchange, streaming all the time from one process.

Per exchange it loads the instrument table over REST (unknown symbols are rejected by name, the rest go on), opens
the websocket connections the exchange's rules call for (`liqtui.feeds.sessions`), polls what only REST offers
(Binance open interest), fetches the warm-start history (open-interest history and candles) for the estimator, and
refreshes the instrument table now and then. Switching what the screen shows never opens or closes a connection:
the engine knows nothing of the screen.

Every task is held by the engine (an unreferenced task can be garbage-collected mid-flight) and cancelled by `stop`.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
import numpy as np
import numpy.typing as npt

from liqtui.errors import ConfigError, FeedError, UnknownInstrumentError
from liqtui.feeds import binance, history
from liqtui.feeds.registry import parser_for
from liqtui.feeds.rest import RestClient
from liqtui.feeds.runner import LOOPBACK_HOSTS, FeedRunner
from liqtui.feeds.sessions import connection_plans
from liqtui.model.events import EventBatch
from liqtui.model.margin import MarginTier
from liqtui.model.store import FeedState, MarketStore
from liqtui.model.types import Exchange, Instrument, instrument_key, parse_instrument_key

if TYPE_CHECKING:
    from liqtui.config import Config, ExchangeConfig
    from liqtui.feeds.base import Parser
    from liqtui.record import Recorder

log = logging.getLogger("liqtui.engine")

INSTRUMENT_REFRESH_S = 3600.0
"""How often the instrument tables are fetched again (new listings, changed contract sizes)."""

RECORDER_FLUSH_S = 1.0
"""How often a recording is written out: a crash loses at most this much of it."""


@dataclass(frozen=True, slots=True)
class History:
    """The warm-start history of one instrument, as fetched over REST."""

    instrument: str
    klines: npt.NDArray[Any]
    """`KLINE_DTYPE` rows, oldest first."""
    open_interest: npt.NDArray[Any]
    """`OPEN_INTEREST_DTYPE` rows, oldest first; empty where the exchange publishes no history."""
    tiers: tuple[MarginTier, ...]
    """The instrument's maintenance tiers, empty where unknown (the estimator's defaults apply)."""
    contract_size_base: float = 1.0
    """Base units per contract (OKX's tiers are in contracts)."""
    liquidations: npt.NDArray[Any] | None = None
    """`LIQUIDATION_DTYPE` rows, oldest first, where the exchange publishes its liquidation history (OKX)."""
    liquidations_since_ms: int | None = None
    """`liquidations` are complete (as the live feed would be) after this time; None: not known to be."""


HistoryCallback = Callable[[History], None]


def _unlisted(exchange: Exchange, symbol: str, table: dict[str, Instrument]) -> str:
    """An unlisted symbol, named with the exchange's nearest spellings when it has any (`BTCUSD` on Binance:
    did you mean binance:BTCUSDT?), else with what a short list holds or how that exchange spells its symbols."""
    typed = symbol.upper()
    # A wrong suffix on a listed asset (BTCUSD, ETH-USDT) names that asset's perpetual; otherwise only a close
    # spelling of a whole symbol does (DOGUSDT), not every symbol that shares the suffix.
    near = [
        s for s in difflib.get_close_matches(typed, list(table), n=3, cutoff=0.6) if typed.startswith(table[s].base)
    ]
    near = near or difflib.get_close_matches(typed, list(table), n=3, cutoff=0.85)
    if near:
        return f"{exchange.value}:{symbol} (did you mean {' or '.join(f'{exchange.value}:{n}' for n in near)}?)"
    if len(table) <= 5:  # a simulator's short list says more than a spelling example
        return f"{exchange.value}:{symbol} (it lists {', '.join(sorted(table)) or 'none'})"
    example = "BTC-USDT-SWAP" if exchange is Exchange.OKX else "BTCUSDT"
    return f"{exchange.value}:{symbol} (it spells them like {exchange.value}:{example})"


def load_binance_tiers(path: str) -> dict[str, tuple[MarginTier, ...]]:
    """The tiers of `[feed] binance_tiers_file`, by symbol; {} when none is configured. ConfigError if unusable."""
    if not path:
        return {}
    try:
        return binance.parse_margin_tiers(Path(path).expanduser().read_bytes())
    except OSError as error:
        raise ConfigError(f'feed.binance_tiers_file: cannot read "{path}": {error.strerror or error}.') from error
    except FeedError as error:
        raise ConfigError(
            f'feed.binance_tiers_file: "{path}" is not a leverageBracket response ({error}); '
            "save the body of GET /fapi/v1/leverageBracket, or leave the key empty."
        ) from error


class FeedEngine:
    """Streams a watchlist across Binance, Bybit and OKX into one `MarketStore`."""

    def __init__(
        self,
        config: Config,
        instruments: Sequence[str],
        store: MarketStore,
        *,
        recorder: Recorder | None = None,
        on_history: HistoryCallback | None = None,
        references: Sequence[str] = (),
    ) -> None:
        self.config = config
        self.store = store
        self.recorder = recorder
        self.on_history = on_history
        self.symbols: dict[Exchange, list[str]] = {}
        self.references: dict[Exchange, set[str]] = {}
        """Symbols streamed only for what their history teaches other instruments (`reference_of`): streamed
        where the exchange lists them, dropped with a log line where it does not (or its table cannot be had),
        never checked or reported as rejected, since the user did not ask for them."""
        asked = set(instruments)
        for name in (*instruments, *references):
            exchange, symbol = parse_instrument_key(name)
            symbols = self.symbols.setdefault(exchange, [])
            if symbol not in symbols:
                symbols.append(symbol)
                if name not in asked:
                    self.references.setdefault(exchange, set()).add(symbol)
        self.parsers: dict[Exchange, Parser] = {exchange: parser_for(exchange) for exchange in self.symbols}
        self.binance_tiers = load_binance_tiers(config.feed.binance_tiers_file)
        """Binance tiers from the configured file, by symbol (empty: the estimator's built-in table applies)."""
        self.tables: dict[Exchange, dict[str, Instrument]] = {}
        """The instrument tables fetched so far, per exchange, by symbol."""
        self.runners: list[FeedRunner] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._rest: dict[Exchange, RestClient] = {}

    # -- lifecycle ------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start streaming every exchange; returns at once (the work goes on in the engine's tasks)."""
        if self._session is not None:
            return
        loopback = all(
            (urlsplit(self._endpoints(exchange).rest_url).hostname or "") in LOOPBACK_HOSTS for exchange in self.symbols
        )
        # Loopback (the simulator) must not go through a developer's proxy settings.
        self._session = aiohttp.ClientSession(trust_env=not loopback)
        for exchange in self.symbols:
            self.store.status(exchange).state = FeedState.CONNECTING
            for symbol in self.symbols[exchange]:
                self.store.ensure(exchange, symbol)
            self._spawn(self._run_exchange(exchange), f"exchange:{exchange.value}")
        if self.recorder is not None:
            self._spawn(self._flush_recorder(self.recorder), "recorder")

    async def stop(self) -> None:
        """Cancel every task, close the HTTP session and flush the recorder."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        for exchange in self.symbols:
            self.store.status(exchange).state = FeedState.STOPPED
        if self.recorder is not None:
            self.recorder.flush()

    async def check_instruments(self, *, require_reachable: bool = False) -> None:
        """Fetch the instrument tables and raise `UnknownInstrumentError` naming any symbol an exchange does not
        list (the CLI calls this before the screen opens). An exchange whose table cannot be fetched is not checked,
        unless `require_reachable`: then its `FeedError` is raised (a one-shot command cannot wait for it).
        References are never an error: those the exchange does not list, or whose exchange cannot be reached, are
        dropped with a log line, so `reference_keys()` afterwards names the ones that will stream.
        """
        owns_session = self._session is None
        if owns_session:
            self._session = aiohttp.ClientSession()
        try:
            unknown: list[str] = []
            for exchange, symbols in self.symbols.items():
                references = self.references.get(exchange, set())
                table: dict[str, Instrument] | None
                try:
                    table = await self._fetch_instruments(exchange, attempts=2)
                except FeedError as error:
                    if require_reachable and any(s not in references for s in symbols):
                        raise FeedError(f"cannot reach {exchange.value}: {error}") from error
                    log.warning("cannot check %s instruments: %s", exchange.value, error)
                    table = None
                self._drop_unlisted_references(exchange, table)
                if table is not None:  # a table that came back empty lists nothing: every symbol is unknown
                    unknown.extend(_unlisted(exchange, s, table) for s in symbols if s not in table)
            if unknown:
                raise UnknownInstrumentError(f"not listed as a USDT perpetual by its exchange: {'; '.join(unknown)}.")
        finally:
            if owns_session and self._session is not None:
                await self._session.close()
                self._session = None
                self._rest.clear()  # those clients hold the closed session

    def reference_keys(self) -> list[str]:
        """The references this engine streams (or will, once its tables confirm them)."""
        return sorted(
            instrument_key(exchange, symbol) for exchange, symbols in self.references.items() for symbol in symbols
        )

    def _drop_unlisted_references(self, exchange: Exchange, table: dict[str, Instrument] | None) -> None:
        """Forget the references of `exchange` that `table` does not list (all of them without a table)."""
        for symbol in sorted(self.references.get(exchange, set()) - set(table or ())):
            log.info(
                "no %s to learn the leverage mix from: %s",
                instrument_key(exchange, symbol),
                "not listed" if table is not None else "no instrument table",
            )
            self.references[exchange].discard(symbol)
            self.symbols[exchange].remove(symbol)

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s stopped: %r", task.get_name(), task.exception(), exc_info=task.exception())

    # -- per exchange ---------------------------------------------------------------------------------------------

    def _endpoints(self, exchange: Exchange) -> ExchangeConfig:
        return self.config.exchanges.for_exchange(exchange)

    def _rest_client(self, exchange: Exchange) -> RestClient:
        client = self._rest.get(exchange)
        if client is None:
            assert self._session is not None
            client = RestClient(
                self._session,
                exchange,
                self._endpoints(exchange).rest_url,
                timeout_s=self.config.feed.rest_timeout_s,
                recorder=self.recorder,
                status=self.store.status(exchange),
            )
            self._rest[exchange] = client
        return client

    async def _run_exchange(self, exchange: Exchange) -> None:
        refresh_after_s = INSTRUMENT_REFRESH_S
        table: dict[str, Instrument] | None
        try:
            table = await self._fetch_instruments(exchange)
        except FeedError as error:
            # Stream anyway: the websocket may be fine, and the exchange will reject what it does not list.
            log.warning("%s", error)
            self.store.status(exchange).rest_error = str(error)
            table = None
            refresh_after_s = 10.0
        self._drop_unlisted_references(exchange, table)
        symbols = list(self.symbols[exchange])
        if not symbols:
            # Only references were asked of this exchange, and it lists none of them.
            self.store.status(exchange).state = FeedState.STOPPED
            return
        self._spawn(self._refresh_instruments(exchange, first_delay_s=refresh_after_s), f"instruments:{exchange.value}")
        if table is not None:
            for symbol in [s for s in symbols if s not in table]:
                self.store.status(exchange).rejected[symbol] = f"{exchange.value} does not list {symbol}"
                symbols.remove(symbol)
        watched = set(symbols)
        for plan in connection_plans(exchange, self._endpoints(exchange).ws_url, symbols):
            runner = FeedRunner(
                plan, self.parsers[exchange], self.store, self.config.feed, watched=watched, recorder=self.recorder
            )
            self.runners.append(runner)
            self._spawn(runner.run(), f"feed:{exchange.value}:{len(self.runners)}")
        if exchange is Exchange.BINANCE and symbols:
            self._spawn(self._poll_binance_open_interest(symbols), "poll:binance:oi")
        if self.on_history is not None:
            for symbol in symbols:
                self._spawn(self._warm_start(exchange, symbol), f"history:{exchange.value}:{symbol}")

    async def _fetch_instruments(self, exchange: Exchange, attempts: int | None = None) -> dict[str, Instrument]:
        instruments = await history.fetch_instruments(self._rest_client(exchange), attempts=attempts)
        self.parsers[exchange].set_instruments(instruments)
        table = {i.symbol: i for i in instruments}
        self.tables[exchange] = table
        return table

    async def _refresh_instruments(self, exchange: Exchange, first_delay_s: float) -> None:
        delay = first_delay_s
        while True:
            await asyncio.sleep(delay)
            try:
                await self._fetch_instruments(exchange)
                delay = INSTRUMENT_REFRESH_S
            except FeedError as error:
                log.warning("instrument refresh: %s", error)
                delay = min(INSTRUMENT_REFRESH_S, delay * 2)

    @staticmethod
    async def _flush_recorder(recorder: Recorder) -> None:
        while True:
            await asyncio.sleep(RECORDER_FLUSH_S)
            recorder.flush()

    async def _poll_binance_open_interest(self, symbols: list[str]) -> None:
        """Binance has no open-interest stream: poll REST, spread evenly over the poll interval (weight 1 each)."""
        client = self._rest_client(Exchange.BINANCE)
        parser = self.parsers[Exchange.BINANCE]
        interval = self.config.feed.binance_oi_poll_s
        gap = interval / max(1, len(symbols))
        batch = EventBatch()
        status = self.store.status(Exchange.BINANCE)
        while True:
            started = time.monotonic()
            for symbol in symbols:
                try:
                    url, body, _ = await client.get("/fapi/v1/openInterest", {"symbol": symbol}, attempts=2)
                except FeedError as error:
                    log.warning("%s", error)
                else:
                    status.count(parser.parse_rest(url, body, batch))
                    self.store.apply(Exchange.BINANCE, batch, only=set(symbols))
                    batch.clear()
                await asyncio.sleep(gap)
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    async def _warm_start(self, exchange: Exchange, symbol: str) -> None:
        """Fetch about a day of history for the estimator; an exchange that fails here costs the map its head start,
        never the live stream."""
        assert self.on_history is not None
        client = self._rest_client(exchange)
        hours = self.config.feed.warm_start_hours
        try:
            klines = await history.fetch_klines(client, symbol, hours)
        except FeedError as error:
            log.warning("warm start of %s:%s has no candles: %s", exchange.value, symbol, error)
            klines = np.zeros(0, dtype=history.KLINE_DTYPE)
        try:
            open_interest = await history.fetch_open_interest_history(client, symbol, hours)
        except FeedError as error:
            log.warning("warm start of %s:%s has no open-interest history: %s", exchange.value, symbol, error)
            open_interest = np.zeros(0, dtype=history.OPEN_INTEREST_DTYPE)
        try:
            tiers = (
                self.binance_tiers.get(symbol, ())
                if exchange is Exchange.BINANCE
                else await history.fetch_tiers(client, symbol)
            )
        except FeedError as error:
            log.info("no maintenance tiers for %s:%s (%s); defaults apply", exchange.value, symbol, error)
            tiers = ()
        listed = self.tables.get(exchange, {}).get(symbol)
        contract_size = listed.contract_size_base if listed is not None else 1.0
        liquidations: npt.NDArray[Any] | None = None
        since_ms: int | None = None
        if exchange is Exchange.OKX and listed is not None:
            try:
                liquidations, since_ms = await history.fetch_liquidation_history(
                    client, symbol, hours, contract_size, int(time.time() * 1000)
                )
            except FeedError as error:
                log.warning("warm start of %s:%s has no liquidation history: %s", exchange.value, symbol, error)
        self.on_history(
            History(f"{exchange.value}:{symbol}", klines, open_interest, tiers, contract_size, liquidations, since_ms)
        )
