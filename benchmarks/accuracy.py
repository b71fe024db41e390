"""Accuracy of the liquidation map against the simulator's truth, next to the public tools' baseline method.

For each scenario and seed, the simulated market (`liqtui.sim.market.create_market`) runs in-process: its history
back-fills the estimator (`warm_start` from `klines()` and `oi_history()`, as the app does over REST), then the
market advances one second at a time and its events reach the estimator as the wire would deliver them:

- every trade; a mark price every second; open interest every 5 s on Binance (REST polling), every second on
  Bybit (ticker) and every 3 s on OKX;
- liquidations with each exchange's quirks: Binance only the latest per symbol per second, at its average fill
  price; Bybit all of them, at the bankruptcy price; OKX a share of them (40 %, some late), at the bankruptcy price.

At several moments the estimate is compared with `market.truth(key)` (every open position's liquidation price and
notional), per side, within ±10 % of the mark:

- `EMD ratio`: the earth mover's distance between the normalised estimated and true distributions, divided by the
  same distance for a uniform map over the range (lower is better; 1 is no better than uniform);
- `top-5 hit`: the share of the truth's five largest clusters (clustered with the estimator's own rule) that have
  one of the estimate's ten largest clusters of that side within 0.5 % of their peak price.

The BASELINE is what the public liquidation maps do: every trade (and, in the warm start, every candle) is projected
to fixed leverage tiers (liquidation at `E·(1 ∓ 1/L)`), and a level is removed when price crosses it; no open
interest, no ageing. Its figures are from the same run, the same events and the same truth.

Targets (issue 6): EMD ratio ≤ 0.35, at least 30 % below the baseline's, and top-5 hit ≥ 0.8.

`--oracle-mix` is a diagnostic, not a result: both methods are given the scenario's true leverage mix (its
traders' leverages as the tiers, exactly, without bands, at its weights; the estimator then learns no mix and keeps
one holding-time class). What error is left then comes from the positions' dynamics (where and when they open,
close and age), the rest of the usual figure from the mix.

Usage: `python benchmarks/accuracy.py [--seeds N] [--hours H] [--scenario FILE ...] [--instruments KEY ...]
[--oracle-mix]`
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from liqtui.config import EstimatorConfig
from liqtui.feeds.history import MAX_PAGES
from liqtui.model.bins import LogGrid, bin_log_width
from liqtui.model.clusters import find_clusters
from liqtui.model.estimator import Estimator, EstimatorTuning
from liqtui.model.hub import BACKGROUND_EVERY, share_mixes
from liqtui.model.types import LIQUIDATION_DTYPE, MARK_DTYPE, OPEN_INTEREST_DTYPE, TRADE_DTYPE, Side
from liqtui.model.views import Cluster
from liqtui.model.warmstart import warm_start
from liqtui.sim.contract import SimLiquidation, SimMarket, SimTrade
from liqtui.sim.market import create_market
from liqtui.sim.scenario import Scenario, builtin_scenario_path, default_scenario, load_scenario

FloatArray = npt.NDArray[np.float64]
Rows = npt.NDArray[Any]

HERE = Path(__file__).resolve().parent
SCENARIO_DIR = HERE / "scenarios"
START_MS = 1_780_000_000_000
"""Wall-clock time the simulated history ends at (any fixed value: the run is seeded)."""
RANGE_PCT = 10.0
"""Distributions are compared within ±10 % of the mark."""
TOP_TRUE = 5
TOP_ESTIMATED = 10
HIT_DISTANCE = 0.005
OI_EVERY_S = {"binance": 5, "bybit": 1, "okx": 3}
OKX_REPORTED_SHARE = 0.4
OKX_LATE_SHARE = 0.1
OKX_HISTORY_ROWS = MAX_PAGES * 100
"""The rows the app's warm start reads of OKX's liquidation history: its page budget, 100 rows a page."""


# -------------------------------------------------------------------------------------------- the wire


@dataclass
class Wire:
    """Turns one instrument's simulator events into the rows its exchange's feed would deliver."""

    key: str
    rng: np.random.Generator
    exchange: str = field(init=False)
    _pending_force: SimLiquidation | None = None
    _last_force_ms: int = -(10**15)
    _late: list[tuple[int, SimLiquidation]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.exchange = self.key.partition(":")[0]

    def trades(self, trades: Sequence[SimTrade]) -> Rows:
        rows = np.zeros(len(trades), dtype=TRADE_DTYPE)
        if trades:
            rows["ts_ms"] = [t.ts_ms for t in trades]
            rows["px"] = [t.px for t in trades]
            rows["qty_base"] = [t.qty_base for t in trades]
            rows["taker_buy"] = [t.taker_buy for t in trades]
        return rows

    def liquidations(self, events: Sequence[SimLiquidation], now_ms: int) -> Rows:
        chosen: list[tuple[int, SimLiquidation]] = []
        if self.exchange == "binance":
            # At most one per symbol per 1000 ms: the latest of the window.
            if events:
                self._pending_force = events[-1]
            if self._pending_force is not None and now_ms - self._last_force_ms >= 1000:
                chosen.append((now_ms, self._pending_force))
                self._pending_force = None
                self._last_force_ms = now_ms
        elif self.exchange == "okx":
            due = [item for item in self._late if item[0] <= now_ms]
            self._late = [item for item in self._late if item[0] > now_ms]
            chosen.extend((e.ts_ms, e) for _, e in due)
            for event in events:
                if self.rng.random() >= OKX_REPORTED_SHARE:
                    continue
                if self.rng.random() < OKX_LATE_SHARE:
                    self._late.append((now_ms + int(self.rng.integers(1000, 5000)), event))
                else:
                    chosen.append((event.ts_ms, event))
        else:
            chosen.extend((e.ts_ms, e) for e in events)
        rows = np.zeros(len(chosen), dtype=LIQUIDATION_DTYPE)
        for i, (ts, event) in enumerate(chosen):
            rows[i]["ts_ms"] = ts if self.exchange == "binance" else event.ts_ms
            rows[i]["px"] = event.fill_px if self.exchange == "binance" else event.bankruptcy_px
            rows[i]["qty_base"] = event.qty_base
            rows[i]["side"] = int(event.side)
        return rows


def okx_liquidation_history(
    market: SimMarket, key: str, start_ms: int, rng: np.random.Generator
) -> tuple[Rows | None, int | None]:
    """What the app's warm start gets from OKX's REST liquidation history (None elsewhere): the reported share
    of the liquidations, the newest `OKX_HISTORY_ROWS` (the pages it reads), complete from `start_ms` on when
    they are all there were, else from the oldest on."""
    if not key.startswith("okx:"):
        return None, None
    events = market.liquidation_history(key, start_ms, START_MS)
    events = events[rng.random(len(events)) < OKX_REPORTED_SHARE][-OKX_HISTORY_ROWS:]
    rows = np.zeros(len(events), dtype=LIQUIDATION_DTYPE)
    rows["ts_ms"], rows["px"] = events["ts_ms"], events["bankruptcy_px"]
    rows["qty_base"], rows["side"] = events["qty_base"], events["side"]
    return rows, start_ms if len(rows) < OKX_HISTORY_ROWS else int(rows["ts_ms"][0]) - 1


# -------------------------------------------------------------------------------------------- the baseline


class BaselineMap:
    """The public tools' method: each trade projected to fixed leverage tiers at `E·(1 ∓ 1/L)`, levels removed
    when price crosses them; no open interest, no ageing."""

    def __init__(self, config: EstimatorConfig, px: float) -> None:
        self.bin_log = bin_log_width(config.bin_bps)
        self.grid = LogGrid.around(px, self.bin_log, math.ceil(math.log(4.0) / self.bin_log))
        leverage = np.asarray(config.leverage)
        self.ratio = np.stack((1.0 - 1.0 / leverage, 1.0 + 1.0 / leverage))
        self.weights = np.asarray(config.leverage_shares)
        self.mass = np.zeros((2, self.grid.size))

    def add(self, px: FloatArray, notional: FloatArray, taker_buy: npt.NDArray[np.bool_]) -> None:
        for s, mine in ((0, taker_buy), (1, ~taker_buy)):
            if not mine.any():
                continue
            liq = px[mine][None, :] * self.ratio[s][:, None]
            value = notional[mine][None, :] * self.weights[:, None]
            idx = self.grid.index(liq.reshape(-1))
            ok = (idx >= 0) & (idx < self.grid.size)
            self.mass[s] += np.bincount(idx[ok], weights=value.reshape(-1)[ok], minlength=self.grid.size)

    def sweep(self, low: float, high: float) -> None:
        i_low = max(self.grid.index_of(low), 0)
        self.mass[0, i_low:] = 0.0
        i_high = min(self.grid.index_of(high), self.grid.size - 1)
        if i_high >= 0:
            self.mass[1, : i_high + 1] = 0.0

    def on_candles(self, klines: Rows) -> None:
        for k in klines:
            self.sweep(float(k["low"]), float(k["high"]))
            typical = (k["high"] + k["low"] + k["close"]) / 3.0
            volume = float(k["volume_base"])
            buy = float(k["taker_buy_base"]) if np.isfinite(k["taker_buy_base"]) else volume / 2.0
            self.add(np.array([typical, typical]), np.array([buy, volume - buy]) * typical, np.array([True, False]))

    def side_on(self, edges: FloatArray, side: int) -> FloatArray:
        """The side's mass re-binned onto `edges` (by bin middle)."""
        mids = self.grid.mids()
        return np.histogram(mids, bins=edges, weights=self.mass[side])[0].astype(np.float64)


# -------------------------------------------------------------------------------------------- metrics


def truth_of(market: SimMarket, key: str) -> dict[str, Any]:
    """`market.truth(key)`: every open position's liquidation price and entry notional, per side."""
    return market.truth(key)


def emd(a: FloatArray, b: FloatArray) -> float:
    """The earth mover's distance between two distributions over the same equal-width bins, in bins."""
    sa, sb = a.sum(), b.sum()
    if not sa > 0 or not sb > 0:
        return float("nan")
    return float(np.abs(np.cumsum(a / sa) - np.cumsum(b / sb)).sum())


def hit_share(true_clusters: Sequence[Cluster], estimated: Sequence[Cluster]) -> float:
    if not true_clusters:
        return float("nan")
    hits = 0
    for t in true_clusters:
        if any(e.px_low * (1 - HIT_DISTANCE) <= t.px_peak <= e.px_high * (1 + HIT_DISTANCE) for e in estimated):
            hits += 1
    return hits / len(true_clusters)


@dataclass
class Tally:
    """Figures collected over checkpoints, instruments and seeds."""

    emd_ratio: list[float] = field(default_factory=list)
    top5: list[float] = field(default_factory=list)

    def add(self, emd_ratio: float, top5: float) -> None:
        if math.isfinite(emd_ratio):
            self.emd_ratio.append(emd_ratio)
        if math.isfinite(top5):
            self.top5.append(top5)

    def summary(self) -> tuple[float, float]:
        return _mean(self.emd_ratio), _mean(self.top5)


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def compare(
    edges: FloatArray,
    mark_px: float,
    *,
    truth: dict[str, Any],
    estimate: dict[int, FloatArray],
    config: EstimatorConfig,
    tuning: EstimatorTuning,
    tally: Tally,
) -> None:
    """Add one checkpoint's figures for both sides of one method."""
    n = edges.size - 1
    uniform = np.ones(n)
    for s, (name, side) in enumerate((("long", Side.LONG), ("short", Side.SHORT))):
        levels = np.asarray(truth[name], dtype=np.float64).reshape(-1, 2)
        true_mass = np.histogram(levels[:, 0], bins=edges, weights=levels[:, 1])[0].astype(np.float64)
        mass = estimate[s]
        ratio = emd(mass, true_mass) / emd(uniform, true_mass) if mass.sum() > 0 else 1.0
        true_top = find_clusters(
            edges[:-1], edges[1:], true_mass, side, mark_px, min_share=config.cluster_min_share, rule=tuning.cluster
        )[:TOP_TRUE]
        est_top = find_clusters(
            edges[:-1], edges[1:], mass, side, mark_px, min_share=config.cluster_min_share, rule=tuning.cluster
        )[:TOP_ESTIMATED]
        tally.add(ratio, hit_share(true_top, est_top))


# -------------------------------------------------------------------------------------------- one run


@dataclass
class RunResult:
    estimator: Tally = field(default_factory=Tally)
    baseline: Tally = field(default_factory=Tally)
    hit_rate: list[float] = field(default_factory=list)
    uniform_rate: list[float] = field(default_factory=list)
    checked: int = 0
    leverage_shares: dict[str, tuple[float, ...]] = field(default_factory=dict)
    holding: str = ""


def run(
    scenario: Scenario,
    seed: int,
    *,
    hours: float,
    checks: int,
    config: EstimatorConfig,
    tuning: EstimatorTuning,
    only: Sequence[str] | None,
) -> RunResult:
    scenario = dataclasses.replace(scenario, step_ms=1000)
    market = create_market(scenario, seed, START_MS, 1.0)
    keys = [k for k in market.instruments if not only or k in only]
    rng = np.random.default_rng(seed + 1)
    estimators: dict[str, Estimator] = {}
    baselines: dict[str, BaselineMap] = {}
    wires = {k: Wire(k, rng) for k in keys}
    # Its own stream, so the live wire's choices do not depend on whether history was drawn from.
    history_rng = np.random.default_rng(seed + 2)
    history_ms = int(scenario.history_hours * 3_600_000)
    for key in keys:
        spec = market.instruments[key]
        est = Estimator(key, config, tiers=spec.tiers, contract_size_base=spec.contract_size_base, tuning=tuning)
        klines = market.klines(key, 60_000, START_MS - history_ms, START_MS, 1500)
        oi_history = market.oi_history(key, 300_000, START_MS - history_ms, START_MS, 500)
        liquidations, since = okx_liquidation_history(market, key, START_MS - history_ms, history_rng)
        warm_start(est, klines, oi_history, liquidations=liquidations, reported_since_ms=since)
        estimators[key] = est
        base = BaselineMap(config, float(klines["close"][-1]))
        base.on_candles(klines)
        baselines[key] = base
    # As the app's hub does: instruments that learned nothing follow the mix learned on their asset elsewhere.
    share_mixes(estimators)
    result = RunResult()
    total_s = int(hours * 3600)
    check_at = {int(total_s * i / checks) for i in range(checks + 1)}
    for second in range(total_s + 1):
        now = START_MS + second * 1000
        step = market.advance(now) if second else None
        if second % BACKGROUND_EVERY == 0:
            share_mixes(estimators)
        for key in keys:
            wire, est, base = wires[key], estimators[key], baselines[key]
            state = market.state(key)
            marks = np.array([(now, state.mark_px)], dtype=MARK_DTYPE)
            trades = wire.trades(step.trades.get(key, [])) if step else np.zeros(0, TRADE_DTYPE)
            liqs = wire.liquidations(step.liquidations.get(key, []), now) if step else np.zeros(0, LIQUIDATION_DTYPE)
            oi: Rows | None = None
            if second % OI_EVERY_S[wire.exchange] == 0:
                oi = np.array([(now, state.oi_base)], dtype=OPEN_INTEREST_DTYPE)
            est.update(trades=trades, liquidations=liqs, marks=marks, open_interest=oi)
            prices = np.concatenate((trades["px"], marks["px"]))
            base.sweep(float(prices.min()), float(prices.max()))
            if trades.size:
                base.add(trades["px"], trades["px"] * trades["qty_base"], trades["taker_buy"])
            if second in check_at:
                view = est.map_view(RANGE_PCT)
                edges = np.concatenate((view.px_low, view.px_high[-1:]))
                truth = truth_of(market, key)
                compare(
                    edges,
                    view.mark_px,
                    truth=truth,
                    estimate={0: view.long_usd, 1: view.short_usd},
                    config=config,
                    tuning=tuning,
                    tally=result.estimator,
                )
                compare(
                    edges,
                    view.mark_px,
                    truth=truth,
                    estimate={0: base.side_on(edges, 0), 1: base.side_on(edges, 1)},
                    config=config,
                    tuning=tuning,
                    tally=result.baseline,
                )
    for key, est in estimators.items():
        score = est.score()
        result.checked += score.checked
        if score.checked:
            result.hit_rate.append(score.hit_rate)
            result.uniform_rate.append(score.uniform_hit_rate)
        result.leverage_shares[key] = est.leverage_shares
        result.holding += f"{key}: " + " ".join(f"{h:g}h={v:.2f}" for h, v in est.holding_shares.items()) + "; "
    return result


def oracle_mix(
    scenario: Scenario, config: EstimatorConfig, tuning: EstimatorTuning
) -> tuple[EstimatorConfig, EstimatorTuning]:
    """The configuration and tuning that give the estimator the scenario's true leverage mix (see the docstring)."""
    traders = scenario.traders
    config = dataclasses.replace(
        config,
        leverage=traders.leverage_values,
        leverage_weights=traders.leverage_weights,
        learn_leverage=False,
    )
    return config, dataclasses.replace(tuning, band_points=1, band_width=0.0)


def scenario_files(paths: Iterable[str]) -> list[tuple[str, Scenario]]:
    chosen = list(paths)
    if not chosen:
        found = [("default", default_scenario())]
        degen = builtin_scenario_path("degen")
        if degen.exists():
            found.append(("degen", load_scenario(degen)))
        found.extend((p.stem, load_scenario(p)) for p in sorted(SCENARIO_DIR.glob("accuracy_*.toml")))
        return found
    return [(Path(p).stem, load_scenario(p)) for p in chosen]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--hours", type=float, default=6.0, help="live hours after the warm start")
    parser.add_argument("--checks", type=int, default=6, help="comparisons after the warm start (plus one at 0)")
    parser.add_argument("--scenario", action="append", default=[], help="scenario TOML (default: all)")
    parser.add_argument("--instruments", nargs="*", default=None, help="instrument keys (default: all)")
    parser.add_argument(
        "--oracle-mix", action="store_true", help="give both methods the scenario's true leverage mix (diagnostic)"
    )
    args = parser.parse_args(argv)
    rows: list[tuple[str, float, float, float, float, float, float, int]] = []
    for name, scenario in scenario_files(args.scenario):
        config, tuning = EstimatorConfig(), EstimatorTuning()
        if args.oracle_mix:
            config, tuning = oracle_mix(scenario, config, tuning)
        est, base = Tally(), Tally()
        hit_rate: list[float] = []
        uniform_rate: list[float] = []
        checked = 0
        shares: dict[str, list[tuple[float, ...]]] = defaultdict(list)
        started = time.perf_counter()
        for seed in range(1, args.seeds + 1):
            result = run(
                scenario,
                seed,
                hours=args.hours,
                checks=args.checks,
                config=config,
                tuning=tuning,
                only=args.instruments,
            )
            est.emd_ratio += result.estimator.emd_ratio
            est.top5 += result.estimator.top5
            base.emd_ratio += result.baseline.emd_ratio
            base.top5 += result.baseline.top5
            hit_rate += result.hit_rate
            uniform_rate += result.uniform_rate
            checked += result.checked
            for key, value in result.leverage_shares.items():
                shares[key].append(value)
            print(
                f"  {name} seed {seed}: EMD {result.estimator.summary()[0]:.3f} vs {result.baseline.summary()[0]:.3f}, "
                f"top-5 {result.estimator.summary()[1]:.2f} vs {result.baseline.summary()[1]:.2f}, "
                f"holding {result.holding}",
                file=sys.stderr,
                flush=True,
            )
        e_emd, e_top = est.summary()
        b_emd, b_top = base.summary()
        score = statistics.fmean(hit_rate) if hit_rate else float("nan")
        uniform = statistics.fmean(uniform_rate) if uniform_rate else float("nan")
        rows.append((name, e_emd, b_emd, e_top, b_top, score, uniform, checked))
        print(
            f"{name}: {args.seeds} seeds in {time.perf_counter() - started:.0f} s; learned leverage shares "
            f"(config {config.leverage}):",
            file=sys.stderr,
        )
        for key, values in shares.items():
            mean = np.mean(np.asarray(values), axis=0)
            print(f"  {key:22s} {' '.join(f'{v:.3f}' for v in mean)}", file=sys.stderr)
    print()
    print(
        "| scenario | EMD ratio (liqtui) | EMD ratio (baseline) | liqtui vs baseline | top-5 hit (liqtui) "
        "| top-5 hit (baseline) | score hit rate | uniform hit rate | liquidations scored |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, e_emd, b_emd, e_top, b_top, score, uniform, checked in rows:
        print(
            f"| {name} | {e_emd:.3f} | {b_emd:.3f} | {(e_emd / b_emd - 1) * 100:+.0f} % | {e_top:.2f} | {b_top:.2f} "
            f"| {score:.2f} | {uniform:.2f} | {checked} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
