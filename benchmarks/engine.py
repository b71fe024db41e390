"""The feed engine end to end: the simulator's sockets → parsers → store, for 15 instruments on 3 exchanges.

    python benchmarks/engine.py [--seconds 20] [--speeds 1,4,16] [--soak-minutes 0]

The simulator runs as its own process (`liqtui sim`), so its CPU and the engine's are measured apart, side by side
in the same run. For each market speed it reports the frames per second that reached the store, the engine's CPU
as a share of one core, its CPU per frame, and the simulator's CPU share. The engine's share at 2,000 frames/s is
read off the measured CPU per frame (the target: under 10 % of one core).

`--soak-minutes M` then runs the engine at the highest speed for M minutes and samples its resident memory every
10 s: once the rings are full, memory must stay flat however long it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from liqtui.config import default_config
from liqtui.feeds.engine import FeedEngine
from liqtui.model.store import MarketStore
from liqtui.model.types import Exchange

HERE = Path(__file__).parent
SCENARIO = HERE / "scenarios" / "fifteen.toml"
ASSETS = ("BTC", "ETH", "SOL", "XRP", "DOGE")
INSTRUMENTS = tuple(
    name for asset in ASSETS for name in (f"binance:{asset}USDT", f"bybit:{asset}USDT", f"okx:{asset}-USDT-SWAP")
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds_of(pid: int) -> float:
    """User + system CPU of another process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def start_sim(speed: float) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable,
        "-m",
        "liqtui",
        "sim",
        "--port",
        "0",
        "--seed",
        "1",
        "--speed",
        str(speed),
        "--scenario",
        str(SCENARIO),
    ]
    sim = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert sim.stdout is not None
    line = sim.stdout.readline().strip()
    if not line.startswith("liqtui sim listening on "):
        sim.kill()
        raise SystemExit(f"the simulator did not start: {line!r}")
    return sim, line.rsplit(" ", 1)[1]


def total_frames(store: MarketStore) -> int:
    return sum(store.status(exchange).frames for exchange in Exchange)


SMALL_RINGS = {
    "trade_capacity": 5_000,
    "liquidation_capacity": 1_000,
    "mark_capacity": 1_000,
    "open_interest_capacity": 1_000,
}
"""Ring sizes for the soak: full within a minute, so a few minutes show whether memory stays flat once they are."""


def ring_bytes(store: MarketStore) -> int:
    """The memory the rings of every instrument hold when full (they never grow past it)."""
    total = 0
    for key in store.instruments():
        data = store.get(key)
        assert data is not None
        total += sum(
            r.capacity * r.dtype.itemsize for r in (data.trades, data.liquidations, data.marks, data.open_interest)
        )
    return total


async def measure(speed: float, seconds: float, soak_minutes: float, small_rings: bool) -> dict[str, float]:
    sim, url = start_sim(speed)
    try:
        config = default_config().with_sim(url)
        config = replace(config, feed=replace(config.feed, warm_start_hours=0.0))
        store = MarketStore(**SMALL_RINGS) if small_rings else MarketStore()
        engine = FeedEngine(config, INSTRUMENTS, store)
        await engine.start()
        await asyncio.sleep(3.0)  # connect, subscribe, first snapshots
        frames0, cpu0, sim0, wall0 = total_frames(store), time.process_time(), cpu_seconds_of(sim.pid), time.monotonic()
        await asyncio.sleep(seconds)
        frames1, cpu1, sim1, wall1 = total_frames(store), time.process_time(), cpu_seconds_of(sim.pid), time.monotonic()
        wall = wall1 - wall0
        result = {
            "speed": speed,
            "frames_per_s": (frames1 - frames0) / wall,
            "engine_cpu_pct": 100 * (cpu1 - cpu0) / wall,
            "us_per_frame": 1e6 * (cpu1 - cpu0) / max(1, frames1 - frames0),
            "sim_cpu_pct": 100 * (sim1 - sim0) / wall,
            "bad_frames": sum(store.status(e).bad_frames for e in Exchange),
            "instruments_live": sum(1 for k in INSTRUMENTS if (d := store.get(k)) and d.trades.written),
            "ring_mib": ring_bytes(store) / 2**20,
        }
        if soak_minutes > 0:
            samples = []
            end = time.monotonic() + soak_minutes * 60
            while time.monotonic() < end:
                await asyncio.sleep(10.0)
                samples.append((time.monotonic() - wall0, rss_mib(), total_frames(store)))
                print(
                    f"  soak {samples[-1][0]:7.0f} s  rss {samples[-1][1]:7.1f} MiB  frames {samples[-1][2]:,}",
                    flush=True,
                )
            half = samples[len(samples) // 2][1]
            result |= {"rss_mid_mib": half, "rss_end_mib": samples[-1][1], "rss_max_mib": max(s[1] for s in samples)}
        await engine.stop()
        return result
    finally:
        sim.terminate()
        sim.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--speeds", default="1,4,16", help="market speeds to measure, comma-separated")
    parser.add_argument("--soak-minutes", type=float, default=0.0)
    parser.add_argument("--small-rings", action="store_true", help="soak with small rings, full within a minute")
    args = parser.parse_args()
    speeds = [float(s) for s in args.speeds.split(",")]
    rows = []
    for i, speed in enumerate(speeds):
        soak = args.soak_minutes if i == len(speeds) - 1 else 0.0
        rows.append(asyncio.run(measure(speed, args.seconds, soak, args.small_rings and soak > 0)))
    print(f"\n{len(INSTRUMENTS)} instruments, {args.seconds:g} s per speed\n")
    print(
        "| market speed | frames/s into the store | engine CPU (% of a core) | engine µs/frame "
        "| engine at 2,000 frames/s | simulator CPU |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['speed']:g}x | {r['frames_per_s']:,.0f} | {r['engine_cpu_pct']:.1f} % | {r['us_per_frame']:.1f} "
            f"| {r['us_per_frame'] * 2000 / 1e4:.1f} % | {r['sim_cpu_pct']:.1f} % |"
        )
    for r in rows:
        if r["bad_frames"] or r["instruments_live"] != len(INSTRUMENTS):
            print(
                f"WARNING at {r['speed']:g}x: {r['bad_frames']} bad frames, "
                f"{r['instruments_live']}/{len(INSTRUMENTS)} instruments with trades"
            )
    last = rows[-1]
    if "rss_end_mib" in last:
        print(f"\nrings when full: {last['ring_mib']:.1f} MiB for {len(INSTRUMENTS)} instruments")
        print(
            f"memory over the soak: {last['rss_mid_mib']:.1f} MiB at half time, {last['rss_end_mib']:.1f} MiB at "
            f"the end, {last['rss_max_mib']:.1f} MiB at most"
        )


if __name__ == "__main__":
    main()
