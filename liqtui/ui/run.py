"""`liqtui [INSTRUMENT ...] [--demo | --sim URL] ...`: check everything that can be wrong, then open the screen.

Everything a person can get wrong (the configuration, an instrument name, a recording path, the log file, an
instrument its exchange does not list) is reported before the screen opens, as one sentence on stderr with exit
code 2 (`LiqtuiError`s, printed by `liqtui.cli`). Once the screen is open, problems show in the status line and
go to the log file, never to the terminal.

`--demo` runs the simulated exchange in this process, in a daemon thread with its own event loop, so the
simulator's CPU never sits in the UI loop between a key press and its handling.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import dataclasses
import logging
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from liqtui.config import Config, load_config
from liqtui.errors import LiqtuiError
from liqtui.logs import setup_logging
from liqtui.model.persist import state_directory
from liqtui.model.types import instrument_key, parse_instrument_key

if TYPE_CHECKING:
    from liqtui.record import Recorder
    from liqtui.sim.server import SimServer

log = logging.getLogger("liqtui.ui")

SIM_START_TIMEOUT_S = 180.0
"""How long `--demo` waits for the simulator to run its history and listen (seconds)."""

CHECK_TIMEOUT_S = 20.0
"""How long the instrument check before the screen opens may take; past it, the feeds report what is unknown."""


class DemoSimulator:
    """The simulated exchange (`liqtui.sim`) served from a daemon thread with its own event loop."""

    def __init__(self) -> None:
        self.url = ""
        """The simulator's base URL, `http://127.0.0.1:PORT`, once started."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: SimServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout_s: float = SIM_START_TIMEOUT_S) -> str:
        """Build the market (its history included), listen on a free loopback port, and return the URL."""
        self._thread = threading.Thread(target=self._serve, name="liqtui-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise LiqtuiError(f"the simulated exchange did not start within {timeout_s:.0f} s.")
        if self._error is not None:
            if isinstance(self._error, LiqtuiError):
                raise self._error
            raise LiqtuiError(f"the simulated exchange could not start: {self._error}.") from self._error
        return self.url

    def _serve(self) -> None:
        from liqtui.sim.server import SimServer, build_market

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            server = SimServer(build_market(None, None, None))
            loop.run_until_complete(server.start("127.0.0.1", 0))
        except BaseException as error:  # reported by start(), in the main thread
            self._error = error
            loop.close()
            self._ready.set()
            return
        self._server = server
        self.url = server.url
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(server.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop serving and wait for the thread to end."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout_s)


def _instruments(names: list[str]) -> tuple[str, ...]:
    """Command-line instrument names, normalized (`binance:btcusdt` -> `binance:BTCUSDT`), duplicates dropped."""
    keys: list[str] = []
    for name in names:
        key = instrument_key(*parse_instrument_key(name))
        if key not in keys:
            keys.append(key)
    return tuple(keys)


def _utf8_terminal() -> bool:
    """Whether the terminal's encoding can show box drawing and block characters."""
    stream = sys.__stderr__  # Textual writes the screen to stderr
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


def _tolerate_narrow_encoding() -> None:
    """Make an encoding without box drawing (LANG=C on an old system) print `?` instead of stopping the app."""
    stream = sys.__stderr__
    if stream is not None and hasattr(stream, "reconfigure"):
        stream.reconfigure(errors="replace")


async def _check_instruments(config: Config, instruments: tuple[str, ...]) -> None:
    """Ask the exchanges whether they list the instruments; raise UnknownInstrumentError for any they do not."""
    from liqtui.feeds.engine import FeedEngine
    from liqtui.model.store import MarketStore

    engine = FeedEngine(config, instruments, MarketStore())
    try:
        await asyncio.wait_for(engine.check_instruments(), CHECK_TIMEOUT_S)
    except TimeoutError:
        log.warning("the instrument check took longer than %.0f s; the feeds will report unknown ones", CHECK_TIMEOUT_S)


def run_app_command(args: argparse.Namespace) -> int:
    """Run the app for the parsed command line; returns the exit code."""
    config = load_config(args.config)
    if args.sim:
        config = config.with_sim(args.sim)
    chosen = _instruments(list(args.instruments))
    if chosen:
        config = dataclasses.replace(config, watchlist=chosen)
    log_path = setup_logging(Path(args.log_file) if args.log_file else config.log.path, config.log.level)
    log.info("liqtui starting; log file %s", log_path)

    recorder: Recorder | None = None
    if args.record:
        from liqtui.record import Recorder

        recorder = Recorder(args.record)
    simulator = DemoSimulator() if args.demo else None
    state_dir = state_directory(config.state.directory(), sim_url=args.sim, demo=args.demo)
    try:
        if simulator is not None:
            print("liqtui: starting the simulated exchange ...", file=sys.stderr, flush=True)
            config = config.with_sim(simulator.start())
        if chosen:
            asyncio.run(_check_instruments(config, chosen))
        return _run_screen(config, recorder, state_dir, mouse=config.ui.mouse and not args.no_mouse)
    finally:
        if simulator is not None:
            simulator.stop()
        if recorder is not None:
            recorder.close()


def _run_screen(config: Config, recorder: Recorder | None, state_dir: Path | None, *, mouse: bool) -> int:
    """Build the store, the hub, the feeds and the app, and run the app until it quits."""
    from liqtui.feeds.engine import FeedEngine, History
    from liqtui.model.hub import MapHub
    from liqtui.model.store import MarketStore
    from liqtui.model.types import references_of
    from liqtui.ui.app import build_app

    store = MarketStore()
    hub = MapHub(store, config.estimator, state_dir=state_dir)
    # A Binance or Bybit instrument whose asset's OKX swap is not on the watchlist streams it, unseen, for the
    # leverage mix OKX's liquidation history teaches (as `liqtui snapshot` does); OKX may not list it. Without
    # learning there is nothing to follow.
    references = references_of(config.watchlist) if config.estimator.learn_leverage else []
    # The warm start is on its way for every watched instrument: live rows wait for it (the hub's rule).
    hub.expect_history([*config.watchlist, *references])

    def on_history(history: History) -> None:
        hub.on_history(history)
        app.history_arrived(history.instrument)  # the engine starts on the app's mount, so `app` exists by now

    engine = FeedEngine(
        config, config.watchlist, store, recorder=recorder, on_history=on_history, references=references
    )
    utf8 = _utf8_terminal()
    if not utf8:
        _tolerate_narrow_encoding()
    app = build_app(config, store=store, hub=hub, engine=engine, ascii_only=not utf8)
    result = app.run(mouse=mouse)
    # However the app ended, the estimate is kept for the next start (the app also saves on a timer).
    log.info("liqtui stopped; %d estimator states saved", hub.save())
    if app.return_code not in (None, 0):
        return app.return_code
    return 0 if result is None else result
