"""The feed engine against the real simulator: every exchange rule and every fault of issue 5.

Each test starts `FeedEngine` (or one `FeedRunner`) on the simulator's loopback port, injects what the exchanges
do, and checks the store and the status afterwards: what arrived is kept, subscriptions come back, and the status
says what happened in words. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import numpy as np
import numpy.typing as npt
import pytest

from liqtui.config import Config, default_config
from liqtui.feeds.engine import FeedEngine, History, _unlisted
from liqtui.feeds.history import MAX_PAGES
from liqtui.feeds.registry import parser_for
from liqtui.feeds.runner import FeedRunner
from liqtui.feeds.sessions import connection_plans
from liqtui.model.store import FeedState, MarketStore
from liqtui.model.types import ContractKind, Exchange, Instrument
from liqtui.record import Recorder
from liqtui.replay import replay

if TYPE_CHECKING:
    from liqtui.sim.market import SimMarket

BTC = ("binance:BTCUSDT", "bybit:BTCUSDT", "okx:BTC-USDT-SWAP")


def fast_config(url: str, **feed: float) -> Config:
    """The simulator's addresses, with short watchdog and backoff windows so faults resolve in seconds."""
    config = default_config().with_sim(url)
    settings = {"silence_timeout_s": 3.0, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5, "binance_oi_poll_s": 0.5}
    settings.update(feed)
    return replace(config, feed=replace(config.feed, **settings))


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


def streaming(store: MarketStore, *keys: str) -> Callable[[], bool]:
    """True once every instrument has a mark price and trades."""

    def check() -> bool:
        for key in keys:
            data = store.get(key)
            if data is None or data.mark_px is None or data.trades.written == 0:
                return False
        return True

    return check


def more_trades_than(store: MarketStore, before: dict[str, int]) -> Callable[[], bool]:
    return lambda: all(store.get(key) is not None and store.get(key).trades.written > n for key, n in before.items())  # type: ignore[union-attr]


def trade_counts(store: MarketStore, keys: tuple[str, ...]) -> dict[str, int]:
    counts = {}
    for key in keys:
        data = store.get(key)
        counts[key] = 0 if data is None else data.trades.written
    return counts


@pytest.fixture
async def engine_on_sim(sim_server) -> AsyncIterator[tuple[FeedEngine, MarketStore, object]]:  # type: ignore[no-untyped-def]
    store = MarketStore()
    engine = FeedEngine(fast_config(sim_server.url), BTC, store)
    await engine.start()
    try:
        await wait_until(streaming(store, *BTC), what="all three exchanges streaming")
        yield engine, store, sim_server
    finally:
        await asyncio.wait_for(engine.stop(), 10)


async def test_streams_all_three_exchanges_at_once(engine_on_sim) -> None:  # type: ignore[no-untyped-def]
    _, store, _ = engine_on_sim
    for exchange in Exchange:
        status = store.status(exchange)
        assert status.state is FeedState.LIVE
        assert status.frames > 0 and status.bad_frames == 0
    for key in BTC:
        data = store.get(key)
        assert data is not None and data.oi_base is not None and data.oi_base > 0, key


async def test_server_drop_reconnects_and_resubscribes(engine_on_sim) -> None:  # type: ignore[no-untyped-def]
    _, store, sim = engine_on_sim
    status, _ = await sim.fault(kind="drop")
    assert status == 200
    await wait_until(lambda: all(store.status(e).reconnects >= 1 for e in Exchange), what="reconnects")
    # Counted once every feed saw the drop: trades that arrived before it cannot stand for data after it.
    before = trade_counts(store, BTC)
    await wait_until(more_trades_than(store, before), what="data after the drop")
    for exchange in Exchange:
        assert store.status(exchange).state is FeedState.LIVE
        assert "closed" in store.status(exchange).last_error or store.status(exchange).last_error == ""


async def test_stalled_connection_is_detected_and_reopened(engine_on_sim) -> None:  # type: ignore[no-untyped-def]
    _, store, sim = engine_on_sim
    status = store.status(Exchange.BYBIT)
    await sim.fault(kind="stall", exchange="bybit", seconds=6.0)
    await wait_until(lambda: status.reconnects >= 1, timeout=10, what="the watchdog")
    assert "no market data" in status.last_error or status.state is not FeedState.LIVE
    before = trade_counts(store, ("bybit:BTCUSDT",))
    await wait_until(more_trades_than(store, before), timeout=10, what="data after the stall")
    assert status.state is FeedState.LIVE


async def test_malformed_frames_are_counted_and_the_connection_kept(engine_on_sim) -> None:  # type: ignore[no-untyped-def]
    _, store, sim = engine_on_sim
    reconnects = {e: store.status(e).reconnects for e in Exchange}
    before = trade_counts(store, BTC)
    await sim.fault(kind="malformed")
    await wait_until(lambda: all(store.status(e).bad_frames > 0 for e in Exchange), what="bad frames counted")
    await wait_until(more_trades_than(store, before), what="data after the malformed frames")
    assert {e: store.status(e).reconnects for e in Exchange} == reconnects


async def test_oversized_frame_is_counted_and_streaming_goes_on(engine_on_sim) -> None:  # type: ignore[no-untyped-def]
    _, store, sim = engine_on_sim
    before = trade_counts(store, BTC)
    await sim.fault(kind="oversized", exchange="okx")
    await wait_until(lambda: store.status(Exchange.OKX).bad_frames > 0, what="the oversized frame counted")
    await wait_until(more_trades_than(store, before), what="data after the oversized frame")


async def test_rejected_symbol_is_reported_and_the_others_keep_streaming(sim_server) -> None:  # type: ignore[no-untyped-def]
    store = MarketStore()
    keys = ("bybit:BTCUSDT", "bybit:ETHUSDT", "binance:NOSUCHUSDT", "binance:BTCUSDT")
    engine = FeedEngine(fast_config(sim_server.url), keys, store)
    await engine.start()
    try:
        await wait_until(streaming(store, "bybit:BTCUSDT", "bybit:ETHUSDT", "binance:BTCUSDT"), what="streaming")
        assert "does not list NOSUCHUSDT" in store.status(Exchange.BINANCE).rejected["NOSUCHUSDT"]
        await sim_server.fault(kind="reject", exchange="bybit", symbol="ETHUSDT")
        await sim_server.fault(kind="drop", exchange="bybit")
        bybit = store.status(Exchange.BYBIT)
        await wait_until(lambda: "ETHUSDT" in bybit.rejected, what="the rejection after resubscribing")
        before = trade_counts(store, ("bybit:BTCUSDT", "binance:BTCUSDT"))
        await wait_until(more_trades_than(store, before), what="the other symbols streaming")
    finally:
        await asyncio.wait_for(engine.stop(), 10)


async def test_binance_daily_close_reconnects(engine_on_sim) -> None:  # type: ignore[no-untyped-def]
    _, store, sim = engine_on_sim
    status = store.status(Exchange.BINANCE)
    await sim.fault(kind="close_24h", exchange="binance")
    await wait_until(lambda: status.reconnects >= 1, what="a reconnect after the 24 h close")
    before = trade_counts(store, ("binance:BTCUSDT",))
    await wait_until(more_trades_than(store, before), what="data after the close")


async def test_planned_handover_opens_the_new_socket_first(sim_server) -> None:  # type: ignore[no-untyped-def]
    """A connection past its lifetime is replaced without a reconnect and without a gap in the mark price."""
    store = MarketStore()
    config = fast_config(sim_server.url)
    [plan] = connection_plans(Exchange.BINANCE, config.exchanges.binance.ws_url, ["BTCUSDT"])
    runner = FeedRunner(replace(plan, max_lifetime_s=1.5), parser_for(Exchange.BINANCE), store, config.feed)
    task = asyncio.create_task(runner.run())
    try:
        await wait_until(lambda: runner.handovers >= 2, timeout=15, what="two handovers")
        await asyncio.sleep(1.2)  # marks arrive every second: take one after the second handover too
        marks = store.get("binance:BTCUSDT").marks.view()  # type: ignore[union-attr]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert store.status(Exchange.BINANCE).reconnects == 0
    gaps = (marks["ts_ms"][1:] - marks["ts_ms"][:-1]) / 1000.0
    assert len(marks) >= 3 and gaps.max() <= 2.5, f"mark price gap of {gaps.max():.1f} s around a handover"


async def test_okx_upgrade_notice_hands_over_before_the_close(engine_on_sim) -> None:  # type: ignore[no-untyped-def]
    engine, store, sim = engine_on_sim
    status = store.status(Exchange.OKX)
    [runner] = [r for r in engine.runners if r.plan.exchange is Exchange.OKX]
    await sim.fault(kind="notice_64008", exchange="okx")
    await wait_until(lambda: runner.handovers >= 1, what="the handover on 64008")
    before = trade_counts(store, ("okx:BTC-USDT-SWAP",))
    await wait_until(more_trades_than(store, before), what="data after the upgrade close")
    assert status.reconnects == 0


async def test_rest_outage_at_start_does_not_stop_the_websockets(sim_server) -> None:  # type: ignore[no-untyped-def]
    store = MarketStore()
    histories: list[History] = []
    await sim_server.fault(kind="rest_outage", seconds=4.0)
    engine = FeedEngine(fast_config(sim_server.url), BTC, store, on_history=histories.append)
    await engine.start()
    try:
        await wait_until(lambda: all(store.get(k) and store.get(k).trades.written for k in BTC), what="ws data")  # type: ignore[union-attr]
        await wait_until(lambda: any("REST" in store.status(e).rest_error for e in Exchange), timeout=4, what="REST")
        await wait_until(lambda: len(histories) == len(BTC), timeout=30, what="warm-start history after the outage")
    finally:
        await asyncio.wait_for(engine.stop(), 10)


async def test_rest_outage_mid_run_pauses_binance_open_interest_only(engine_on_sim) -> None:  # type: ignore[no-untyped-def]
    _, store, sim = engine_on_sim
    binance = store.get("binance:BTCUSDT")
    assert binance is not None
    await sim.fault(kind="rest_outage", exchange="binance", seconds=2.0)
    binance_status = store.status(Exchange.BINANCE)
    await wait_until(lambda: "REST" in binance_status.rest_error, what="the outage reported")
    oi_seen = binance.open_interest.written
    await wait_until(lambda: binance.open_interest.written > oi_seen, timeout=15, what="OI polling back")
    assert binance_status.rest_error == ""  # cleared once REST answers again
    assert store.status(Exchange.BINANCE).state is FeedState.LIVE


async def test_whole_server_restart(engine_on_sim) -> None:  # type: ignore[no-untyped-def]
    _, store, sim = engine_on_sim
    await sim.fault(kind="restart", seconds=1.0)
    await wait_until(lambda: all(store.status(e).reconnects >= 1 for e in Exchange), what="reconnects")
    before = trade_counts(store, BTC)
    await wait_until(more_trades_than(store, before), timeout=15, what="data after the restart")


async def test_recording_replays_into_the_same_store(sim_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "session.jsonl.gz"
    store = MarketStore()
    recorder = Recorder(path)
    engine = FeedEngine(fast_config(sim_server.url), BTC, store, recorder=recorder)
    await engine.start()
    try:
        await wait_until(streaming(store, *BTC), what="streaming")
        await asyncio.sleep(1.0)
    finally:
        await asyncio.wait_for(engine.stop(), 10)
        recorder.close()
    replayed = replay(path).store
    for key in BTC:
        live, again = store.get(key), replayed.get(key)
        assert live is not None and again is not None
        assert again.trades.written == live.trades.written, key
        assert again.liquidations.written == live.liquidations.written, key
        assert again.mark_px == live.mark_px and again.oi_base == live.oi_base, key


async def test_recording_reaches_the_file_while_running(sim_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The recorder is flushed on a timer, so a crash loses at most a second of the recording."""
    path = tmp_path / "live.jsonl"
    store = MarketStore()
    recorder = Recorder(path)
    engine = FeedEngine(fast_config(sim_server.url), BTC[:1], store, recorder=recorder)
    await engine.start()
    try:
        await wait_until(streaming(store, BTC[0]), what="streaming")
        await wait_until(lambda: path.exists() and path.stat().st_size > 0, timeout=5, what="lines on disk")
    finally:
        await asyncio.wait_for(engine.stop(), 10)
        recorder.close()


async def test_binance_tiers_come_from_the_configured_file(sim_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Binance's tiers need a key: a leverageBracket body saved by the user replaces the built-in table."""
    body = (
        '[{"symbol":"BTCUSDT","notionalCoef":1.0,"brackets":['
        '{"bracket":1,"initialLeverage":50,"notionalCap":10000,"notionalFloor":0,"maintMarginRatio":0.01,"cum":0.0},'
        '{"bracket":2,"initialLeverage":20,"notionalCap":100000,"notionalFloor":10000,"maintMarginRatio":0.025,'
        '"cum":150.0}]}]'
    )
    tiers_file = tmp_path / "brackets.json"
    tiers_file.write_text(body)
    config = fast_config(sim_server.url)
    config = replace(config, feed=replace(config.feed, binance_tiers_file=str(tiers_file)))
    histories: list[History] = []
    engine = FeedEngine(config, ("binance:BTCUSDT",), MarketStore(), on_history=histories.append)
    await engine.start()
    try:
        await wait_until(lambda: bool(histories), timeout=15, what="the warm start")
    finally:
        await asyncio.wait_for(engine.stop(), 10)
    [history] = histories
    assert [t.mmr for t in history.tiers] == [0.01, 0.025] and history.tiers[1].maintenance_amount == 150.0


def test_an_unusable_binance_tiers_file_is_a_configuration_error(tmp_path: Path) -> None:
    from liqtui.errors import ConfigError

    bad = tmp_path / "brackets.json"
    bad.write_text('{"code":-2015,"msg":"Invalid API-key"}')
    for path in (str(bad), str(tmp_path / "missing.json")):
        config = default_config()
        config = replace(config, feed=replace(config.feed, binance_tiers_file=path))
        with pytest.raises(ConfigError, match="binance_tiers_file"):
            FeedEngine(config, ("binance:BTCUSDT",), MarketStore())


async def test_the_warm_start_pages_through_a_long_history_on_every_exchange() -> None:
    """18 h of 5-minute open interest is 216 rows: two Bybit pages (200 a page) and three OKX pages (100 a page)."""
    from liqtui.sim.market import create_market
    from liqtui.sim.scenario import default_scenario
    from liqtui.sim.server import SimServer
    from liqtui.sim.wire.base import now_ms
    from liqtui.sim.wire.okx import okx_reports

    server = SimServer(create_market(replace(default_scenario(), history_hours=18.0), 5, now_ms()))
    await server.start()
    histories: list[History] = []
    config = fast_config(server.url, warm_start_hours=18.0)
    engine = FeedEngine(config, BTC, MarketStore(), on_history=histories.append)
    await engine.start()
    try:
        await wait_until(lambda: len(histories) == len(BTC), timeout=30, what="three warm starts")
    finally:
        await asyncio.wait_for(engine.stop(), 10)
        await server.stop()
    for history in histories:
        oi = history.open_interest["ts_ms"]
        assert len(oi) >= 214, (history.instrument, len(oi))
        assert (np.diff(oi) == 300_000).all(), history.instrument  # oldest first, no gap, no row twice
        assert len(history.klines) >= 214 and (np.diff(history.klines["open_ms"]) == 300_000).all()
        if not history.instrument.startswith("okx:"):
            assert history.liquidations is None and history.liquidations_since_ms is None
    # OKX publishes the liquidations its channel reports: many pages of them, each once, oldest first. The
    # simulator's history began after the 18 hours asked for started, so the pages reach its first reported
    # liquidation unless the page budget ran out first: how many the market had in 18 h depends on the wall-clock
    # time it was built at (from about 250 to over 2,000 for this seed). Pages that ran out say there were none
    # older: complete over all 18 hours; a spent budget, only from the oldest fetched on.
    [okx] = [h for h in histories if h.instrument.startswith("okx:")]
    rows = okx.liquidations
    assert rows is not None and rows.size > 100
    assert (np.diff(rows["ts_ms"]) >= 0).all() and np.unique(rows).size == rows.size
    since_ms = okx.liquidations_since_ms
    assert since_ms is not None
    everything = server.market.liquidation_history(okx.instrument, 0, now_ms())
    reported = everything[okx_reports(everything["ts_ms"], everything["qty_base"], 0.4, 0)]
    assert 0.3 < reported.size / everything.size < 0.5
    reported = np.sort(reported[reported["ts_ms"] <= rows["ts_ms"][-1]], order=["ts_ms", "qty_base"])
    # Each page after the first may repeat the rows sharing the time the previous one ended on (several, where a
    # cascade liquidated several positions in one millisecond).
    most_at_one_ms = int(np.unique(reported["ts_ms"], return_counts=True)[1].max())
    budget_may_be_spent = rows.size >= MAX_PAGES * 100 - (MAX_PAGES - 1) * most_at_one_ms
    if since_ms == int(rows["ts_ms"][0]) - 1:
        assert budget_may_be_spent, rows.size
    else:
        assert rows["ts_ms"][0] == reported["ts_ms"][0]
        assert now_ms() - 18 * 3_600_000 - 60_000 < since_ms < now_ms() - 18 * 3_600_000
    reported = reported[reported["ts_ms"] >= rows["ts_ms"][0]]
    assert rows["ts_ms"].tolist() == reported["ts_ms"].tolist()
    np.testing.assert_allclose(np.sort(rows, order=["ts_ms", "qty_base"])["qty_base"], reported["qty_base"], rtol=1e-6)


async def test_an_okx_liquidation_history_longer_than_the_page_budget_is_complete_only_where_fetched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the page budget runs out before the hours asked for, the rows are the newest ones, and completeness is
    claimed only from the oldest of them: silence before it is not evidence of no liquidations."""
    from liqtui.feeds import history
    from liqtui.sim.market import create_market
    from liqtui.sim.scenario import default_scenario
    from liqtui.sim.wire.base import now_ms
    from liqtui.sim.wire.okx import okx_reports

    market = create_market(replace(default_scenario(), history_hours=18.0), 5, now_ms())
    everything = market.liquidation_history("okx:BTC-USDT-SWAP", 0, market.now_ms)
    reported = np.sort(everything[okx_reports(everything["ts_ms"], everything["qty_base"], 0.4, 0)], order="ts_ms")
    # About half of what the 18 hours hold: the count depends on the clock the market was built at (239 to 1,724
    # reported in 25 builds here), so the budget is set from it.
    pages = max(1, reported.size // 200)
    assert reported.size > pages * 100, reported.size
    monkeypatch.setattr(history, "MAX_PAGES", pages)
    rows, since_ms, now = await _fetch_okx_btc_liquidation_history(market, 18.0)
    # The market ran on while the pages were fetched; compare up to the newest row the first page carried.
    newer = market.liquidation_history("okx:BTC-USDT-SWAP", int(reported["ts_ms"][-1]) + 1, int(rows["ts_ms"][-1]))
    newer = newer[okx_reports(newer["ts_ms"], newer["qty_base"], 0.4, 0)]
    reported = np.sort(np.concatenate([reported, newer]), order="ts_ms")
    # Each page after the first repeats the rows sharing the time the previous one ended on: one, or several where
    # a cascade liquidated several positions in one millisecond.
    most_at_one_ms = int(np.unique(reported["ts_ms"], return_counts=True)[1].max())
    assert pages * 100 - (pages - 1) * most_at_one_ms <= rows.size <= pages * 100
    assert rows["ts_ms"].tolist() == reported["ts_ms"][-rows.size :].tolist()
    assert since_ms == int(rows["ts_ms"][0]) - 1 > now - 18 * 3_600_000


async def test_an_okx_liquidation_history_that_runs_out_is_complete_over_all_the_hours_asked() -> None:
    """OKX keeps about a week of reports: a market of 1x traders, which nothing liquidates, has an empty history,
    and that is evidence of a quiet day over every hour asked for, not "nothing known"."""
    from liqtui.sim.market import create_market
    from liqtui.sim.scenario import default_scenario
    from liqtui.sim.wire.base import now_ms

    scenario = default_scenario()
    unlevered = replace(scenario.traders, leverage_values=(1.0,), leverage_weights=(1.0,))
    market = create_market(replace(scenario, history_hours=2.0, traders=unlevered), 5, now_ms())
    assert market.liquidation_history("okx:BTC-USDT-SWAP", 0, market.now_ms).size == 0
    rows, since_ms, now = await _fetch_okx_btc_liquidation_history(market, 6.0)
    assert rows.size == 0
    assert since_ms == now - 6 * 3_600_000


async def _fetch_okx_btc_liquidation_history(
    market: SimMarket, hours: float
) -> tuple[npt.NDArray[Any], int | None, int]:
    """Serve `market` and fetch OKX's BTC swap liquidation history over the last `hours`: the rows, the time after
    which they are complete, and the clock reading the fetch was given."""
    from liqtui.feeds import history
    from liqtui.feeds.rest import RestClient
    from liqtui.sim.server import SimServer
    from liqtui.sim.wire.base import now_ms

    server = SimServer(market)
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            client = RestClient(session, Exchange.OKX, fast_config(server.url).exchanges.okx.rest_url)
            now = now_ms()
            rows, since_ms = await history.fetch_liquidation_history(client, "BTC-USDT-SWAP", hours, 0.01, now)
    finally:
        await server.stop()
    return rows, since_ms, now


async def test_a_history_shorter_than_one_page_arrives_whole(sim_server) -> None:  # type: ignore[no-untyped-def]
    """The simulator keeps one hour: every exchange's open-interest history is one short page, then an empty one."""
    histories: list[History] = []
    engine = FeedEngine(fast_config(sim_server.url), BTC, MarketStore(), on_history=histories.append)
    await engine.start()
    try:
        await wait_until(lambda: len(histories) == len(BTC), timeout=20, what="three warm starts")
    finally:
        await asyncio.wait_for(engine.stop(), 10)
    for history in histories:
        assert 11 <= len(history.open_interest) <= 13, (history.instrument, len(history.open_interest))
        assert len(history.klines) >= 11, history.instrument


async def test_references_stream_where_listed_and_are_never_an_error(sim_server) -> None:  # type: ignore[no-untyped-def]
    """A reference (an instrument streamed for the leverage mix its history teaches, not asked for by the user)
    streams and warm-starts where the exchange lists it; one it does not list is dropped with a log line, is not
    reported as rejected and does not fail the instrument check, whether the check runs first (the snapshot) or
    the engine finds out on its own (the app)."""
    references = ["okx:BTC-USDT-SWAP", "okx:NOSUCH-USDT-SWAP"]
    checked = FeedEngine(fast_config(sim_server.url), ["binance:BTCUSDT"], MarketStore(), references=references)
    await checked.check_instruments(require_reachable=True)
    assert checked.reference_keys() == ["okx:BTC-USDT-SWAP"]
    histories: list[History] = []
    store = MarketStore()
    engine = FeedEngine(
        fast_config(sim_server.url), ["binance:BTCUSDT"], store, on_history=histories.append, references=references
    )
    await engine.start()
    try:
        await wait_until(streaming(store, "binance:BTCUSDT", "okx:BTC-USDT-SWAP"), what="the reference streaming")
        await wait_until(lambda: len(histories) == 2, timeout=20, what="both warm starts")
    finally:
        await asyncio.wait_for(engine.stop(), 10)
    assert sorted(h.instrument for h in histories) == ["binance:BTCUSDT", "okx:BTC-USDT-SWAP"]
    assert store.status(Exchange.OKX).rejected == {} and store.status(Exchange.BINANCE).rejected == {}
    assert engine.reference_keys() == ["okx:BTC-USDT-SWAP"]


async def test_an_exchange_asked_only_for_unlisted_references_streams_nothing(sim_server) -> None:  # type: ignore[no-untyped-def]
    store = MarketStore()
    engine = FeedEngine(fast_config(sim_server.url), ["bybit:BTCUSDT"], store, references=["okx:NOSUCH-USDT-SWAP"])
    await engine.start()
    try:
        await wait_until(streaming(store, "bybit:BTCUSDT"), what="bybit streaming")
        await wait_until(lambda: store.status(Exchange.OKX).state is FeedState.STOPPED, what="okx standing down")
    finally:
        await asyncio.wait_for(engine.stop(), 10)
    assert store.status(Exchange.OKX).rejected == {} and store.status(Exchange.OKX).frames == 0
    assert engine.reference_keys() == []


def test_an_unlisted_symbol_is_named_with_the_exchanges_nearest_spellings_or_its_way_of_spelling() -> None:
    """A real exchange lists hundreds of perpetuals: a typo gets the near names, a well-formed name it does not
    list gets how that exchange spells them (the simulator's short lists are named whole, as the snapshot tests
    show)."""
    bases = ("BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "LINK", "AVAX")

    def table(exchange: Exchange, suffix: str) -> dict[str, Instrument]:
        listed = (Instrument(exchange, b + suffix, b, "USDT", ContractKind.LINEAR_PERPETUAL, 0.01) for b in bases)
        return {i.symbol: i for i in listed}

    binance, okx = table(Exchange.BINANCE, "USDT"), table(Exchange.OKX, "-USDT-SWAP")
    assert _unlisted(Exchange.BINANCE, "DOGEUSD", binance) == "binance:DOGEUSD (did you mean binance:DOGEUSDT?)"
    assert _unlisted(Exchange.BINANCE, "DOGUSDT", binance) == "binance:DOGUSDT (did you mean binance:DOGEUSDT?)"
    assert _unlisted(Exchange.BINANCE, "QQQQQQ", binance) == "binance:QQQQQQ (it spells them like binance:BTCUSDT)"
    assert _unlisted(Exchange.OKX, "avax-usdt", okx) == "okx:avax-usdt (did you mean okx:AVAX-USDT-SWAP?)"
    assert _unlisted(Exchange.OKX, "QQQQQQ", okx) == "okx:QQQQQQ (it spells them like okx:BTC-USDT-SWAP)"


async def test_an_exchange_that_lists_nothing_makes_every_symbol_unknown_not_unreachable() -> None:
    """A simulator without Binance answers Binance's instrument table with no symbols. That table was fetched, so
    binance:BTCUSDT is unknown (the check names it at once, the stream rejects it), not "no data yet"."""
    from liqtui.errors import UnknownInstrumentError
    from liqtui.sim.market import create_market
    from liqtui.sim.scenario import ExchangeSpec, default_scenario
    from liqtui.sim.server import SimServer
    from liqtui.sim.wire.base import now_ms

    okx_only = replace(default_scenario(), history_hours=1.0, exchanges=(ExchangeSpec("okx"),))
    server = SimServer(create_market(okx_only, 5, now_ms()))
    await server.start()
    try:
        config = fast_config(server.url)
        with pytest.raises(UnknownInstrumentError, match=r"binance:BTCUSDT \(it lists none\)"):
            await FeedEngine(config, ("binance:BTCUSDT",), MarketStore()).check_instruments(require_reachable=True)
        store = MarketStore()
        engine = FeedEngine(config, ("binance:BTCUSDT", "okx:BTC-USDT-SWAP"), store)
        await engine.start()
        try:
            await wait_until(lambda: "BTCUSDT" in store.status(Exchange.BINANCE).rejected, what="the rejection")
            await wait_until(lambda: store.status(Exchange.OKX).frames > 0, what="OKX streaming on")
        finally:
            await asyncio.wait_for(engine.stop(), 10)
    finally:
        await server.stop()
    assert store.status(Exchange.BINANCE).rejected["BTCUSDT"] == "binance does not list BTCUSDT"
