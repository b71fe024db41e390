"""`liqtui snapshot INSTRUMENT [--demo | --sim URL] [--seconds N] [--json]`: the map, once, for scripts.

Headless and Textual-free: connect (the warm start included), collect for N seconds, print the map as a readable
table or as the JSON of design §7.3, exit. An unknown instrument or exchange, or an exchange that cannot be
reached, is one sentence on stderr and a non-zero exit (2 for what the user typed, 1 for the network).

Binance and Bybit publish no liquidation history, so on its own their warm-start map could only show the configured
leverage prior. OKX publishes one: a snapshot of a Binance or Bybit instrument also streams OKX's swap of the same
asset as a reference (`liqtui.model.types.reference_of`, `FeedEngine`'s `references`), whose learned leverage mix
the instrument follows until it has learned its own (`liqtui.model.hub`). The reference is a help, never a
condition: if OKX lists no such swap or cannot be reached, the snapshot goes on with the prior and says so in the
log.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from typing import Any

import orjson

from liqtui.config import Config, load_config
from liqtui.errors import FeedError, LiqtuiError
from liqtui.feeds.engine import FeedEngine
from liqtui.logs import setup_logging
from liqtui.model.hub import HISTORY_WAIT_S, MapHub
from liqtui.model.persist import state_directory
from liqtui.model.store import FeedStatus, MarketStore
from liqtui.model.types import instrument_key, parse_instrument_key, references_of

log = logging.getLogger("liqtui.snapshot")

TICK_S = 0.25
"""How often the estimator takes the rows that arrived (as the app's timer does)."""

TABLE_CLUSTERS = 12
"""Clusters listed in the readable table."""


def run_snapshot_command(args: argparse.Namespace) -> int:
    """Entry point of `liqtui snapshot` (see liqtui.cli)."""
    exchange, symbol = parse_instrument_key(args.instrument)
    key = instrument_key(exchange, symbol)
    config = load_config(args.config)
    # Warnings go to the log file: stdout is the snapshot, stderr the one-sentence error.
    setup_logging(config.log.path, config.log.level)
    snapshot = asyncio.run(_collect(config, key, args.seconds, demo=args.demo, sim_url=args.sim))
    if args.json:
        sys.stdout.write(orjson.dumps(snapshot, option=orjson.OPT_SERIALIZE_NUMPY).decode() + "\n")
    else:
        sys.stdout.write(format_table(snapshot))
    return 0


async def _collect(config: Config, key: str, seconds: float, *, demo: bool, sim_url: str | None) -> dict[str, Any]:
    state_dir = state_directory(config.state.directory(), sim_url=sim_url, demo=demo)
    server = None
    if demo:
        from liqtui.sim.server import SimServer, build_market

        server = SimServer(build_market(None, None, None))
        await server.start()
        sim_url = server.url
    if sim_url:
        config = config.with_sim(sim_url)
    store = MarketStore()
    hub = MapHub(store, config.estimator, state_dir=state_dir)
    references = references_of([key]) if config.estimator.learn_leverage else []
    engine = FeedEngine(config, [key], store, on_history=hub.on_history, references=references)
    try:
        # Raises for the user's instrument; a reference OKX does not list (or an unreachable OKX) is dropped.
        await engine.check_instruments(require_reachable=True)
        waiting = [key, *engine.reference_keys()]
        hub.expect_history(waiting)
        await engine.start()
        exchange = parse_instrument_key(key)[0]
        status = store.status(exchange)
        deadline = time.monotonic() + HISTORY_WAIT_S
        while any(hub.estimator(k) is None for k in waiting) and time.monotonic() < deadline:
            _raise_if_rejected(status, key)
            hub.tick()
            await asyncio.sleep(TICK_S / 2)
        end = time.monotonic() + seconds
        next_save = time.monotonic() + config.state.save_interval_s
        while time.monotonic() < end:
            _raise_if_rejected(status, key)
            hub.tick()
            if time.monotonic() >= next_save:
                hub.save()
                next_save += config.state.save_interval_s
            await asyncio.sleep(min(TICK_S, max(0.0, end - time.monotonic())))
        hub.tick()
        snapshot = hub.snapshot_json(key)
        if snapshot is None:
            problem = status.last_error or "no market data arrived"
            raise FeedError(f"no map for {key} after {seconds:g} s: {problem}.")
        snapshot["feed"] = _feed_json(status)
        hub.save()
        return snapshot
    finally:
        await engine.stop()
        if server is not None:
            await server.stop()


def _raise_if_rejected(status: FeedStatus, key: str) -> None:
    symbol = key.partition(":")[2]
    if symbol in status.rejected:
        raise LiqtuiError(f"{key} was rejected: {status.rejected[symbol]}")


def _feed_json(status: FeedStatus) -> dict[str, Any]:
    last = status.last_data_monotonic
    return {
        "state": status.state.value,
        "frames": status.frames,
        "bad_frames": status.bad_frames,
        "age_s": round(time.monotonic() - last, 3) if last is not None else None,
        "reconnects": status.reconnects,
        "last_error": status.last_error,
        "rest_error": status.rest_error,
    }


def format_table(snapshot: dict[str, Any]) -> str:
    """The snapshot as text: the instrument line, the strongest clusters, and the score."""
    mark = snapshot["mark_px"]
    oi = snapshot["open_interest_base"]
    score = snapshot["score"]
    lines = [
        f"{snapshot['instrument']}  mark {_px(mark)}  OI {'-' if oi is None else f'{oi:,.2f}'}  "
        f"feed {snapshot['feed']['state']}",
        "",
        f"{'side':<6} {'price range':>25} {'peak':>12} {'dist':>8} {'est. size':>12} {'share':>6}",
    ]
    for cluster in snapshot["clusters"][:TABLE_CLUSTERS]:
        lines.append(
            f"{cluster['side']:<6} {_px(cluster['px_low']):>12}-{_px(cluster['px_high']):<12} "
            f"{_px(cluster['px_peak']):>12} {cluster['distance_pct']:>+7.2f}% {_usd(cluster['notional_usd']):>12} "
            f"{cluster['share'] * 100:>5.1f}%"
        )
    if not snapshot["clusters"]:
        lines.append("(no clusters yet)")
    lines += [
        "",
        f"score: {score['hits']} of {score['checked']} realized liquidations hit a predicted cluster "
        f"({score['hit_rate'] * 100:.0f}%; a uniform map: {score['uniform_hit_rate'] * 100:.0f}%)",
        "Sizes are estimates of open positions; bar heights on the map are relative.",
        "",
    ]
    return "\n".join(lines)


def _px(px: float) -> str:
    decimals = 1 if px >= 1000 else 2 if px >= 10 else 4 if px >= 0.1 else 6
    return f"{px:,.{decimals}f}"


def _usd(value: float) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"${value / scale:.1f}{unit}"
    return f"${value:.0f}"
