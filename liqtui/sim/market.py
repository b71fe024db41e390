"""The simulated market (design §5): one price per asset shared by the exchanges, and per exchange its own
leveraged traders whose isolated positions are liquidated, by that exchange's formula, when the mark crosses
them.

How it works, per simulation step (`_step`):

1. Each asset's price moves: a correlated random walk (volatility regimes shared by the market) with jumps,
   plus the price impact of the previous step's net taker flow on every exchange (part permanent, part
   fading).
2. Per instrument, the mark is that price times a small index deviation and premium; positions whose
   liquidation price the mark crossed are liquidated (a `SimLiquidation` at the bankruptcy price, filled a
   little worse than the crossing price); their market orders are taker flow that pushes the price in the next
   step, so cascades emerge on their own.
3. Traders close positions (exponential holding times), open new ones (Poisson arrivals, heavy-tailed sizes,
   leverage from the scenario's mix, side tilted by momentum and by the crowded side), and noise traders trade
   without changing positions. Every order is one taker trade.

Live steps (`advance`) are short (the scenario's `step_ms` of wall time) and report every event; the pre-run
history and a late catch-up run in coarse steps of five market minutes with a one-second price path inside,
and report nothing (their trades still go into the candles).

Open interest: an opening trader's counterparty is a market maker who is not leveraged, is never liquidated
and is not in the truth. Market makers hold whatever the traders' longs and shorts do not match, so the
single-sided open interest is `max(open long size, open short size)` of the traders.

Truth notional (design §7.4) is the entry notional, `qty_base × entry_px`, the quantity the estimator puts in
its bins; truth prices are rounded to the instrument's tick, and positions that share a rounded price are
summed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from liqtui.model.margin import (
    MarginTier,
    bankruptcy_px_array,
    binance_liquidation_px_array,
    bybit_liquidation_px_array,
    default_tiers,
    max_leverage_for,
    okx_liquidation_px_array,
)
from liqtui.model.types import TRADE_DTYPE, Exchange, Side
from liqtui.sim.candles import MINUTE_MS, POSITION_DELTA_DTYPE, CandleStore
from liqtui.sim.contract import (
    SIM_LIQUIDATION_DTYPE,
    InstrumentState,
    MarketStep,
    SimInstrument,
    SimLiquidation,
    SimMarket,
    SimTrade,
)
from liqtui.sim.scenario import AssetSpec, ExchangeSpec, Scenario
from liqtui.sim.traders import POSITION_DTYPE, PositionBook, TraderDraws

FloatArray = npt.NDArray[np.float64]
LiqPxFn = Callable[[npt.NDArray[np.int8], FloatArray, FloatArray, FloatArray, FloatArray], FloatArray]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
FUNDING_INTERVAL_MS = 8 * HOUR_MS
"""Funding settles at 00:00, 08:00 and 16:00 UTC on all three exchanges."""

COARSE_STEP_MARKET_S = 300.0
"""The market time of one coarse (history, catch-up) step."""
COARSE_NOISE_PRINTS = 60
"""A coarse step reports its noise trades as at most this many prints."""
MAX_LIVE_STEP_MARKET_S = 1.0
"""A live step never covers more market time than this, whatever the speed."""
LIVE_CATCHUP_MS = 5_000
"""When `advance` is called later than this after the previous call, the older part runs coarsely."""
MAX_CATCHUP_MS = DAY_MS
"""A gap longer than this (a suspended machine) is skipped: the market resumes where it stood."""

ASSET_CORRELATION = 0.7
"""The correlation of the assets' random-walk increments (crypto moves together)."""
HALF_SPREAD = 0.5e-4
"""A taker pays this fraction of the price over the mark (half the quoted spread)."""
PREMIUM_TAU_S = 30.0
INDEX_TAU_S = 60.0
INDEX_NOISE = 0.3e-4
TREND_TAU_S = 600.0
FUNDING_TAU_S = 1800.0
CASCADE_TAU_S = 10.0
CASCADE_START = 0.005
"""A cascade starts when an asset's recent liquidations (decaying over 10 s) pass this share of its open
size."""
CASCADE_END = 0.001
MAX_IMPACT_PER_STEP = 0.05


def _decimals(tick: float) -> int:
    """How many decimals a price on this tick has (0.1 → 1, 0.25 → 2, 1 → 0)."""
    return len(f"{tick:.12f}".rstrip("0").partition(".")[2])


@dataclass(slots=True)
class _Counters:
    opened_long_base: float = 0.0
    opened_short_base: float = 0.0
    closed_long_base: float = 0.0
    closed_short_base: float = 0.0
    liquidated_long_base: float = 0.0
    liquidated_short_base: float = 0.0
    liquidations: int = 0
    opened: int = 0


@dataclass(slots=True)
class _StepContext:
    """What one simulation step shares across the instruments it runs."""

    t0: int
    t1: int
    dt_s: float
    """Market seconds in the step."""
    flow_usd: FloatArray
    """Net taker flow per asset (buys positive), quote currency: the next step's price impact."""
    liquidated_base: FloatArray
    """Size liquidated per asset in this step, base units (all exchanges)."""
    out: MarketStep | None
    """Where events are reported; None in coarse steps."""


@dataclass(slots=True)
class _Listing:
    """The simulator's state of one instrument."""

    spec: SimInstrument
    exchange: ExchangeSpec
    asset: AssetSpec
    asset_index: int
    unit_base: float
    """Base units per unit of the exchange's size (OKX contracts: ctVal; else 1)."""
    liq_px: LiqPxFn
    tier_size: Callable[[FloatArray, FloatArray], FloatArray]
    book: PositionBook
    candles: CandleStore
    px_decimals: int
    mark_px: float
    index_px: float
    last_px: float
    liquidations: LiquidationLog
    """Every liquidation, reported or not, for the exchanges' liquidation history."""
    premium: float = 0.0
    index_dev: float = 0.0
    funding_rate: float = 0.0
    counters: _Counters = field(default_factory=_Counters)

    def round_px(self, px: FloatArray) -> FloatArray:
        tick = self.spec.tick_size
        return np.asarray(np.round(np.round(px / tick) * tick, self.px_decimals), dtype=np.float64)


def _liq_fn(exchange: Exchange, tiers: tuple[MarginTier, ...], ct_val: float) -> LiqPxFn:
    """The exchange's liquidation formula as (side, qty_base, entry_px, leverage, margin_usd) -> liq_px."""
    if exchange is Exchange.BINANCE:
        return lambda side, qty, entry, lev, margin: binance_liquidation_px_array(side, qty, entry, margin, tiers)
    if exchange is Exchange.BYBIT:
        # Bybit's formula counts the initial margin from the leverage; margin beyond it (or taken from it by
        # funding) is "extra margin".
        return lambda side, qty, entry, lev, margin: bybit_liquidation_px_array(
            side, qty, entry, lev, tiers, margin - qty * entry / lev
        )
    return lambda side, qty, entry, lev, margin: okx_liquidation_px_array(
        side, qty / ct_val, ct_val, entry, margin, tiers
    )


def _symbol(exchange: Exchange, asset: str) -> str:
    return f"{asset}-USDT-SWAP" if exchange is Exchange.OKX else f"{asset}USDT"


class Market:
    """A seeded, deterministic simulated market implementing `SimMarket`.

    The constructor runs `scenario.history_hours` of market history ending at `now_ms`, so positions are open
    and the candle and open-interest history covers that time. `seed=None` draws a seed (kept in `seed`).
    """

    def __init__(self, scenario: Scenario, seed: int | None, now_ms: int, speed: float | None = None) -> None:
        self.scenario = scenario
        """The scenario the market runs."""
        self.seed: int = int(np.random.SeedSequence().entropy) if seed is None else int(seed)  # type: ignore[arg-type]
        """The seed: the same seed, scenario and sequence of `advance` calls give the same market."""
        self.speed: float = scenario.speed if speed is None else float(speed)
        """Market seconds per wall second (events are still stamped with wall-clock times)."""
        self._rng = np.random.Generator(np.random.PCG64(self.seed))
        self._draws = TraderDraws(scenario.traders)
        market = scenario.market
        self._regimes = np.asarray(market.regime_vol_multipliers, dtype=np.float64)
        self._regime = int(np.argmin(np.abs(self._regimes - 1.0)))
        assets = scenario.assets
        self._asset_names = [a.name for a in assets]
        self._daily_vol = np.array([a.daily_vol for a in assets])
        self._jump_rate = np.array([a.jump_rate_per_day for a in assets])
        self._jump_size = np.array([a.jump_size for a in assets])
        self._impact = np.array([a.impact_bps_per_musd for a in assets]) * 1e-4 / 1e6
        self._log_perm = np.log(np.array([a.start_px for a in assets]))
        self._temp = np.zeros(len(assets))
        self._trend_log = self._log_perm.copy()
        self._fair = np.exp(self._log_perm)
        # Price impact not yet applied (log units) and the rate it is released at: a step's flow moves the
        # price over the next step's length, or `impact_release_s` if longer (books refill, liquidation
        # engines work through their orders), so a coarse step's impact is not dumped into one live step and
        # cascades unfold over seconds rather than in one step.
        self._impact_left = np.zeros(len(assets))
        self._impact_rate = np.zeros(len(assets))
        self._signal = np.zeros(len(assets))
        self._heat = np.zeros(len(assets))
        self._in_cascade = np.zeros(len(assets), dtype=bool)
        self.cascades = 0
        """How many liquidation cascades have happened (an asset's recent liquidations passed a threshold)."""

        start_ms = int(now_ms - scenario.history_hours * HOUR_MS)
        self._now_ms = start_ms
        retention_min = int(max(scenario.history_hours * 60, 24 * 60) + 3 * 24 * 60)
        self.instruments: dict[str, SimInstrument] = {}
        """Every listed instrument, by key (`binance:BTCUSDT`)."""
        self._listings: dict[str, _Listing] = {}
        for ex_spec in scenario.exchanges:
            exchange = Exchange(ex_spec.name)
            for asset_name in ex_spec.assets:
                index = self._asset_names.index(asset_name)
                asset = assets[index]
                tiers = default_tiers(exchange.value, asset_name)
                ct_val = asset.okx_ct_val if exchange is Exchange.OKX else 1.0
                spec = SimInstrument(
                    exchange=exchange,
                    symbol=_symbol(exchange, asset_name),
                    asset=asset_name,
                    contract_size_base=ct_val,
                    tick_size=asset.tick_size,
                    qty_step=0.01 if exchange is Exchange.OKX else asset.qty_step,
                    max_leverage=tiers[0].max_leverage,
                    tiers=tiers,
                )

                def tier_size(
                    qty: FloatArray,
                    entry: FloatArray,
                    okx: bool = exchange is Exchange.OKX,
                    ct: float = ct_val,
                ) -> FloatArray:
                    return qty / ct if okx else qty * entry

                self.instruments[spec.key] = spec
                self._listings[spec.key] = _Listing(
                    spec=spec,
                    exchange=ex_spec,
                    asset=asset,
                    asset_index=index,
                    unit_base=ct_val,
                    liq_px=_liq_fn(exchange, tiers, ct_val),
                    tier_size=tier_size,
                    book=PositionBook(),
                    candles=CandleStore(start_ms, asset.start_px, retention_min),
                    px_decimals=_decimals(asset.tick_size),
                    mark_px=asset.start_px,
                    index_px=asset.start_px,
                    last_px=asset.start_px,
                    funding_rate=market.funding_base_rate,
                    liquidations=LiquidationLog(retention_min * MINUTE_MS),
                )
        self._run_coarse(start_ms, int(now_ms), speed=1.0)
        self._now_ms = int(now_ms)

    # --------------------------------------------------------------------------------------------------------
    # The SimMarket protocol

    def advance(self, now_ms: int) -> MarketStep:
        """Run the market from its last time up to `now_ms` (wall clock) and return what happened.

        Events are stamped in (last, now_ms]. A call more than `LIVE_CATCHUP_MS` late runs the older part
        coarsely (no events reported, candles kept); a gap over `MAX_CATCHUP_MS` is skipped.
        """
        now_ms = int(now_ms)
        out = MarketStep(ts_ms=now_ms)
        if now_ms <= self._now_ms:
            return out
        if now_ms - self._now_ms > LIVE_CATCHUP_MS:
            coarse_end = now_ms - LIVE_CATCHUP_MS
            self._now_ms = max(self._now_ms, coarse_end - MAX_CATCHUP_MS)
            self._run_coarse(self._now_ms, coarse_end, self.speed)
        wall_per_step = float(self.scenario.step_ms)
        if wall_per_step * self.speed > MAX_LIVE_STEP_MARKET_S * 1000:
            wall_per_step = MAX_LIVE_STEP_MARKET_S * 1000 / self.speed
        steps = max(1, math.ceil((now_ms - self._now_ms) / wall_per_step))
        edges = np.linspace(self._now_ms, now_ms, steps + 1).round().astype(np.int64)
        for t0, t1 in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
            if t1 > t0:
                self._step(t0, t1, self.speed, out)
        self._now_ms = now_ms
        return out

    def state(self, key: str) -> InstrumentState:
        """The current ticker of one instrument."""
        listing = self._listings[key]
        day = listing.candles.window(self._now_ms - DAY_MS)
        traded = day[day["trade_count"] > 0]
        price_24h_ago = float(day["open"][0]) if len(day) else listing.last_px
        tick = listing.spec.tick_size
        bid = float(listing.round_px(np.floor(listing.mark_px * (1 - HALF_SPREAD) / tick) * tick))
        return InstrumentState(
            ts_ms=self._now_ms,
            mark_px=listing.mark_px,
            index_px=listing.index_px,
            last_px=listing.last_px,
            funding_rate=listing.funding_rate,
            next_funding_ms=(self._now_ms // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS,
            oi_base=max(listing.book.long_base, listing.book.short_base),
            bid_px=bid,
            ask_px=float(listing.round_px(np.asarray(bid + tick))),
            price_24h_ago=price_24h_ago,
            high_24h=float(traded["high"].max()) if len(traded) else listing.last_px,
            low_24h=float(traded["low"].min()) if len(traded) else listing.last_px,
            volume_24h_base=float(day["volume_base"].sum()),
            turnover_24h_quote=float(day["turnover_quote"].sum()),
        )

    def truth(self, key: str) -> dict[str, Any]:
        """Every open position's liquidation price (rounded to the tick) and entry notional, per side, summed
        over positions that share a price, ascending by price. Positions that cannot be liquidated are left
        out."""
        listing = self._listings[key]
        book = listing.book
        side, liq_px = book.column("side"), book.column("liq_px")
        notional_usd = book.column("qty_base") * book.column("entry_px")
        result: dict[str, Any] = {"instrument": key, "ts_ms": self._now_ms, "mark_px": listing.mark_px}
        for name, sign in (("long", 1), ("short", -1)):
            mine = (side == sign) & (liq_px > 0)
            levels, inverse = np.unique(listing.round_px(liq_px[mine]), return_inverse=True)
            notional = np.bincount(inverse, weights=notional_usd[mine], minlength=len(levels))
            result[name] = [[float(p), float(n)] for p, n in zip(levels.tolist(), notional.tolist(), strict=True)]
        return result

    def klines(self, key: str, interval_ms: int, start_ms: int, end_ms: int, limit: int) -> npt.NDArray[Any]:
        """Candles (`SIM_KLINE_DTYPE`: `KLINE_DTYPE` plus turnover, taker-buy turnover and trade count) of the
        last trade price, whose open time lies in [start_ms, end_ms], oldest first, at most `limit` (the most
        recent). The newest candle is the one still forming."""
        return self._listings[key].candles.klines(interval_ms, start_ms, end_ms, limit)

    def oi_history(self, key: str, period_ms: int, start_ms: int, end_ms: int, limit: int) -> npt.NDArray[Any]:
        """Open interest (`SIM_OPEN_INTEREST_DTYPE`: single-sided base units, plus its quote value) at every
        multiple of `period_ms` in [start_ms, end_ms] that has passed, as `klines`."""
        return self._listings[key].candles.open_interest(period_ms, start_ms, end_ms, limit, self._now_ms)

    def liquidation_history(self, key: str, start_ms: int, end_ms: int) -> npt.NDArray[Any]:
        """Every liquidation (`SIM_LIQUIDATION_DTYPE`) with its time in [start_ms, end_ms], oldest first: the
        history and catch-up runs' as well as the reported ones, kept as long as the candles."""
        return self._listings[key].liquidations.between(start_ms, end_ms)

    # --------------------------------------------------------------------------------------------------------
    # Extras for the server's status page, demos and tests

    @property
    def now_ms(self) -> int:
        """The wall-clock time the market has run up to."""
        return self._now_ms

    def status(self) -> dict[str, Any]:
        """Counts for `/sim/status`: open positions, liquidations, size flows per instrument, cascades."""
        instruments: dict[str, Any] = {}
        for key, listing in self._listings.items():
            c = listing.counters
            instruments[key] = {
                "open_positions": len(listing.book),
                "open_long_base": listing.book.long_base,
                "open_short_base": listing.book.short_base,
                "oi_base": max(listing.book.long_base, listing.book.short_base),
                "mark_px": listing.mark_px,
                "funding_rate": listing.funding_rate,
                "positions_opened": c.opened,
                "liquidations": c.liquidations,
                "opened_long_base": c.opened_long_base,
                "opened_short_base": c.opened_short_base,
                "closed_long_base": c.closed_long_base,
                "closed_short_base": c.closed_short_base,
                "liquidated_long_base": c.liquidated_long_base,
                "liquidated_short_base": c.liquidated_short_base,
            }
        return {
            "seed": self.seed,
            "scenario": self.scenario.name,
            "speed": self.speed,
            "ts_ms": self._now_ms,
            "regime_vol_multiplier": float(self._regimes[self._regime]),
            "liquidations": sum(li.counters.liquidations for li in self._listings.values()),
            "cascades": self.cascades,
            "instruments": instruments,
        }

    def positions(self, key: str) -> npt.NDArray[Any]:
        """A copy of one instrument's open positions (`POSITION_DTYPE`)."""
        return self._listings[key].book.rows

    def asset_px(self, asset: str) -> float:
        """The shared (fair) price of an asset."""
        return float(self._fair[self._asset_names.index(asset)])

    def shock(self, asset: str, fraction: float) -> None:
        """Moves an asset's price by `fraction` (-0.03 is a 3 % drop) at once, for demos and tests; what
        follows (liquidations, their impact) is the market's own doing."""
        index = self._asset_names.index(asset)
        self._log_perm[index] += math.log1p(fraction)
        self._fair[index] = math.exp(self._log_perm[index] + self._temp[index])

    # --------------------------------------------------------------------------------------------------------
    # The engine

    def _run_coarse(self, start_ms: int, end_ms: int, speed: float) -> None:
        wall_per_step = COARSE_STEP_MARKET_S * 1000 / speed
        t0 = start_ms
        while t0 < end_ms:
            # Steps end on multiples of the step length so candles and samples line up with minutes.
            t1 = min(end_ms, int((t0 // wall_per_step + 1) * wall_per_step))
            t1 = max(t1, t0 + 1)
            self._step(t0, t1, speed, None)
            t0 = t1
        self._now_ms = end_ms

    def _step(self, t0: int, t1: int, speed: float, out: MarketStep | None) -> None:
        dt_s = (t1 - t0) * speed / 1000.0
        n_sub = 1 if out is not None else int(min(300, max(1, round(dt_s))))
        paths = self._price_paths(dt_s, n_sub)
        n_assets = len(self._asset_names)
        ctx = _StepContext(t0, t1, dt_s, np.zeros(n_assets), np.zeros(n_assets), out)
        for listing in self._listings.values():
            self._step_listing(listing, ctx, paths[listing.asset_index])
        impact = np.clip(self._impact * ctx.flow_usd, -MAX_IMPACT_PER_STEP, MAX_IMPACT_PER_STEP)
        self._impact_left += impact
        self._impact_rate = self._impact_left / max(dt_s, self.scenario.market.impact_release_s)
        open_base = np.zeros(n_assets)
        for listing in self._listings.values():
            open_base[listing.asset_index] += listing.book.long_base + listing.book.short_base
        decay = math.exp(-dt_s / CASCADE_TAU_S)
        self._heat = self._heat * decay + ctx.liquidated_base / np.maximum(open_base, 1e-12)
        starting = (self._heat >= CASCADE_START) & ~self._in_cascade
        self.cascades += int(starting.sum())
        self._in_cascade = (self._in_cascade | starting) & (self._heat >= CASCADE_END)

    def _price_paths(self, dt_s: float, n_sub: int) -> FloatArray:
        """Each asset's shared price over the step, `n_sub` points ending at the step's end."""
        rng = self._rng
        market = self.scenario.market
        if rng.random() < -math.expm1(-dt_s / (market.regime_mean_minutes * 60.0)):
            self._regime = int(rng.integers(len(self._regimes)))
        n_assets = len(self._asset_names)
        sigma = self._daily_vol * self._regimes[self._regime] * math.sqrt(dt_s / n_sub / 86400.0)
        common = rng.standard_normal(n_sub)
        own = rng.standard_normal((n_assets, n_sub))
        incr = sigma[:, None] * (ASSET_CORRELATION * common[None, :] + math.sqrt(1 - ASSET_CORRELATION**2) * own)
        jumps = rng.poisson(self._jump_rate * dt_s / 86400.0)
        for a in np.nonzero(jumps)[0].tolist():
            where = rng.integers(0, n_sub, int(jumps[a]))
            np.add.at(incr[a], where, rng.laplace(0.0, self._jump_size[a], int(jumps[a])))
        due = self._impact_rate * dt_s
        release = np.where(np.abs(due) >= np.abs(self._impact_left), self._impact_left, due)
        self._impact_left -= release
        share = market.temporary_impact_share
        incr += ((1 - share) * release / n_sub)[:, None]
        self._temp += share * release
        perm_path = self._log_perm[:, None] + np.cumsum(incr, axis=1)
        decay = 0.5 ** (dt_s / n_sub * np.arange(1, n_sub + 1) / market.impact_half_life_s)
        log_path = perm_path + self._temp[:, None] * decay[None, :]
        self._log_perm = perm_path[:, -1].copy()
        self._temp = self._temp * decay[-1]
        end = log_path[:, -1]
        self._fair = np.exp(end)
        self._trend_log += (end - self._trend_log) * -math.expm1(-dt_s / TREND_TAU_S)
        scale = np.maximum(self._daily_vol * math.sqrt(TREND_TAU_S / 86400.0), 1e-6)
        self._signal = np.tanh((end - self._trend_log) / scale)
        return np.asarray(np.exp(log_path), dtype=np.float64)

    def _step_listing(self, li: _Listing, ctx: _StepContext, fair_path: FloatArray) -> None:
        mark_path = self._move_mark(li, ctx, fair_path)
        tape = _Tape(ctx.t0, ctx.t1, len(mark_path))
        if ctx.t0 // FUNDING_INTERVAL_MS != ctx.t1 // FUNDING_INTERVAL_MS:
            self._settle_funding(li)
        # Liquidations first: the mark crossed their price during the step.
        crossed = li.book.crossed(float(mark_path.min()), float(mark_path.max()))
        if len(crossed):
            gone = li.book.remove(crossed)
            self._liquidate(li, ctx, tape, gone, _first_crossing(gone, mark_path), mark_path)
        self._close(li, ctx, tape, mark_path)
        self._open(li, ctx, tape, mark_path)
        self._noise(li, ctx, tape, mark_path)
        self._record(li, ctx, tape)
        self._drift_funding(li, ctx.dt_s)

    def _move_mark(self, li: _Listing, ctx: _StepContext, fair_path: FloatArray) -> FloatArray:
        """The instrument's mark over the step: the shared price times slow, small deviations of the
        exchange's index basket and of its premium (which leans with funding)."""
        rng = self._rng
        market = self.scenario.market
        k_idx = math.exp(-ctx.dt_s / INDEX_TAU_S)
        li.index_dev = li.index_dev * k_idx + INDEX_NOISE * math.sqrt(1 - k_idx * k_idx) * rng.standard_normal()
        k_prem = math.exp(-ctx.dt_s / PREMIUM_TAU_S)
        premium_mean = 0.5 * (li.funding_rate - market.funding_base_rate)
        noise = li.exchange.basis_bps * 1e-4 * math.sqrt(1 - k_prem * k_prem) * rng.standard_normal()
        li.premium = premium_mean + (li.premium - premium_mean) * k_prem + noise
        index_path = fair_path * (1 + li.index_dev)
        mark_path = index_path * (1 + li.premium)
        li.index_px = float(index_path[-1])
        li.mark_px = float(mark_path[-1])
        return np.asarray(mark_path, dtype=np.float64)

    def _settle_funding(self, li: _Listing) -> None:
        """Funding settles: longs pay shorts when the rate is positive. Isolated margin changes, so every
        position's liquidation price moves (away from the mark for those who receive)."""
        book = li.book
        if not len(book):
            return
        side = book.column("side")
        qty = book.column("qty_base")
        entry = book.column("entry_px")
        leverage = book.column("leverage")
        margin = book.column("margin_usd") - side * li.funding_rate * qty * li.mark_px
        book.reprice(
            margin,
            li.liq_px(side, qty, entry, leverage, margin),
            bankruptcy_px_array(side, qty, entry, margin),
        )

    def _liquidate(  # noqa: PLR0917 - one step's pieces, passed on from `_step_listing`
        self,
        li: _Listing,
        ctx: _StepContext,
        tape: _Tape,
        gone: npt.NDArray[Any],
        first: npt.NDArray[np.intp],
        mark_path: FloatArray,
    ) -> None:
        """Reports removed positions as liquidated at the sub-step `first` where the mark crossed their price.

        The order fills a little worse than the crossing price (more so for large orders) and is taker flow
        that moves the price in the next step.
        """
        side = gone["side"].astype(np.float64)
        liq = gone["liq_px"]
        qty = gone["qty_base"]
        ref = mark_path[first]
        trigger = np.where(side > 0, np.minimum(liq, ref), np.maximum(liq, ref))
        slip_bps = self.scenario.market.liquidation_slippage_bps * (1 + 0.5 * np.log1p(qty * trigger / 1e5))
        fill = li.round_px(trigger * (1 - side * slip_bps * 1e-4))
        bankrupt = li.round_px(gone["bankruptcy_px"])
        ts = tape.stamp((first + self._rng.random(len(gone))) / tape.n_sub)
        order = np.argsort(ts, kind="stable")
        ts, side, qty, fill, bankrupt = ts[order], side[order], qty[order], fill[order], bankrupt[order]
        a = li.asset_index
        ctx.flow_usd[a] -= float(np.sum(side * qty * fill))
        ctx.liquidated_base[a] += float(qty.sum())
        longs = side > 0
        c = li.counters
        c.liquidations += len(gone)
        c.liquidated_long_base += float(qty[longs].sum())
        c.liquidated_short_base += float(qty[~longs].sum())
        tape.add(ts, fill, qty, ~longs, delta_sign=-1.0)
        li.liquidations.append(ts, side, qty, bankrupt, fill)
        if ctx.out is not None:
            ctx.out.liquidations.setdefault(li.spec.key, []).extend(
                SimLiquidation(ts_ms=t, side=Side.LONG if s > 0 else Side.SHORT, qty_base=q, bankruptcy_px=b, fill_px=f)
                for t, s, q, b, f in zip(
                    ts.tolist(), side.tolist(), qty.tolist(), bankrupt.tolist(), fill.tolist(), strict=True
                )
            )

    def _close(self, li: _Listing, ctx: _StepContext, tape: _Tape, mark_path: FloatArray) -> None:
        """Traders close positions after exponential holding times (a market order each)."""
        rng = self._rng
        n_open = len(li.book)
        if not n_open:
            return
        n_close = int(rng.poisson(n_open * ctx.dt_s / (li.exchange.mean_hold_minutes * 60.0)))
        if not n_close:
            return
        gone = li.book.remove(np.unique(rng.integers(0, n_open, n_close)))
        side = gone["side"].astype(np.float64)
        qty = gone["qty_base"]
        pos = rng.random(len(gone))
        px = li.round_px(mark_path[(pos * tape.n_sub).astype(np.intp)] * (1 - side * HALF_SPREAD))
        ctx.flow_usd[li.asset_index] -= float(np.sum(side * qty * px))
        longs = side > 0
        li.counters.closed_long_base += float(qty[longs].sum())
        li.counters.closed_short_base += float(qty[~longs].sum())
        tape.add(tape.stamp(pos), px, qty, ~longs, delta_sign=-1.0)

    def _open(self, li: _Listing, ctx: _StepContext, tape: _Tape, mark_path: FloatArray) -> None:
        """Traders open positions: Poisson arrivals, heavy-tailed sizes, leverage from the scenario's mix
        (capped by the tier's maximum), side tilted by momentum and away from the crowded side."""
        rng = self._rng
        draws = self._draws
        book = li.book
        n_new = int(rng.poisson(li.exchange.opens_per_s * li.asset.activity * ctx.dt_s))
        if not n_new:
            return
        total = book.long_base + book.short_base
        imbalance = (book.long_base - book.short_base) / total if total > 0 else 0.0
        p_long = 0.5 + 0.5 * li.exchange.momentum * float(self._signal[li.asset_index])
        p_long -= 0.5 * self.scenario.traders.funding_aversion * imbalance
        sides = draws.sides(rng, n_new, min(0.95, max(0.05, p_long)))
        side = sides.astype(np.float64)
        notional = draws.notional_usd(rng, n_new, li.asset.size_scale)
        leverage = draws.leverage(rng, n_new)
        pos = rng.random(n_new)
        sub = (pos * tape.n_sub).astype(np.intp)
        entry = li.round_px(mark_path[sub] * (1 + side * HALF_SPREAD))
        step_base = li.spec.qty_step * li.unit_base
        qty = np.maximum(1.0, np.round(notional / entry / step_base)) * step_base
        leverage = np.minimum(leverage, max_leverage_for(li.spec.tiers, li.tier_size(qty, entry)))
        margin = qty * entry / leverage
        rows = np.zeros(n_new, dtype=POSITION_DTYPE)
        rows["side"] = sides
        rows["qty_base"] = qty
        rows["entry_px"] = entry
        rows["leverage"] = leverage
        rows["margin_usd"] = margin
        rows["liq_px"] = li.liq_px(sides, qty, entry, leverage, margin)
        rows["bankruptcy_px"] = bankruptcy_px_array(side, qty, entry, margin)
        ts = tape.stamp(pos)
        rows["opened_ms"] = ts
        ctx.flow_usd[li.asset_index] += float(np.sum(side * qty * entry))
        longs = side > 0
        c = li.counters
        c.opened += n_new
        c.opened_long_base += float(qty[longs].sum())
        c.opened_short_base += float(qty[~longs].sum())
        tape.add(ts, entry, qty, longs, delta_sign=1.0)
        if tape.n_sub > 1:
            # A coarse step: the rest of the step's path may already cross a new position's price.
            doomed, first = _crossed_after(rows, sub, mark_path)
            if len(doomed):
                keep = np.ones(n_new, dtype=bool)
                keep[doomed] = False
                self._liquidate(li, ctx, tape, rows[doomed], first, mark_path)
                rows = rows[keep]
        book.add(rows)

    def _noise(self, li: _Listing, ctx: _StepContext, tape: _Tape, mark_path: FloatArray) -> None:
        """Takers that open or close nothing tracked (market makers and arbitrageurs among themselves)."""
        rng = self._rng
        n_noise = int(rng.poisson(li.exchange.noise_trades_per_s * li.asset.activity * ctx.dt_s))
        if not n_noise:
            return
        # Coarse steps merge noise into fewer, larger prints: the candles' volume is the same, the cost is
        # not.
        prints = n_noise if ctx.out is not None else min(n_noise, COARSE_NOISE_PRINTS)
        pos = rng.random(prints)
        buy = rng.random(prints) < 0.5
        sign = np.where(buy, 1.0, -1.0)
        ref = mark_path[(pos * tape.n_sub).astype(np.intp)]
        step_base = li.spec.qty_step * li.unit_base
        median_usd = 0.25 * self.scenario.traders.size_median_usd * li.asset.size_scale * (n_noise / prints)
        usd = median_usd * np.exp(rng.standard_normal(prints))
        qty = np.maximum(1.0, np.round(usd / ref / step_base)) * step_base
        px = li.round_px(ref * (1 + sign * HALF_SPREAD))
        ctx.flow_usd[li.asset_index] += float(np.sum(sign * qty * px))
        tape.add(tape.stamp(pos), px, qty, buy, delta_sign=0.0)

    def _record(self, li: _Listing, ctx: _StepContext, tape: _Tape) -> None:
        """Sends the step's trades to the tape (live steps) and to the candles, with the open-size changes."""
        trades, deltas = tape.arrays()
        if len(trades):
            li.last_px = float(trades["px"][-1])
            if ctx.out is not None:
                ctx.out.trades.setdefault(li.spec.key, []).extend(
                    SimTrade(ts_ms=t, px=p, qty_base=q, taker_buy=b)
                    for t, p, q, b in zip(
                        trades["ts_ms"].tolist(),
                        trades["px"].tolist(),
                        trades["qty_base"].tolist(),
                        trades["taker_buy"].tolist(),
                        strict=True,
                    )
                )
        li.candles.record(ctx.t1, trades, deltas)
        if ctx.t1 % HOUR_MS < ctx.t1 - ctx.t0 or not len(li.book):
            # Once an hour, replace the running sums by exact ones so no rounding drift accumulates.
            li.candles.set_open(*li.book.exact_sums())

    def _drift_funding(self, li: _Listing, dt_s: float) -> None:
        """Funding drifts towards what the long/short imbalance says."""
        market = self.scenario.market
        book = li.book
        total = book.long_base + book.short_base
        imbalance = (book.long_base - book.short_base) / total if total > 0 else 0.0
        target = market.funding_base_rate + market.funding_per_imbalance * imbalance
        li.funding_rate += (target - li.funding_rate) * -math.expm1(-dt_s / FUNDING_TAU_S)


def _first_crossing(gone: npt.NDArray[Any], mark_path: FloatArray) -> npt.NDArray[np.intp]:
    """For positions the step's mark crossed, the first sub-step at which it did."""
    if len(mark_path) == 1:
        return np.zeros(len(gone), dtype=np.intp)
    run_min = np.minimum.accumulate(mark_path)
    run_max = np.maximum.accumulate(mark_path)
    liq = gone["liq_px"]
    first = np.where(
        gone["side"] > 0,
        np.searchsorted(-run_min, -liq, side="left"),
        np.searchsorted(run_max, liq, side="left"),
    )
    return np.minimum(first, len(mark_path) - 1).astype(np.intp)


def _crossed_after(
    rows: npt.NDArray[Any], sub: npt.NDArray[np.intp], mark_path: FloatArray
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Positions opened at sub-step `sub` whose price the rest of the path crosses, and where it first
    does."""
    ahead_min = np.append(np.minimum.accumulate(mark_path[::-1])[::-1][1:], np.inf)
    ahead_max = np.append(np.maximum.accumulate(mark_path[::-1])[::-1][1:], -np.inf)
    liq = rows["liq_px"]
    longs = rows["side"] > 0
    doomed = np.flatnonzero(np.where(longs, ahead_min[sub] <= liq, ahead_max[sub] >= liq))
    first = np.empty(len(doomed), dtype=np.intp)
    # Rare (a highly levered position opened just before a large move), so a short loop is fine.
    for i, row in enumerate(doomed.tolist()):
        after = mark_path[sub[row] + 1 :]
        hit = after <= liq[row] if longs[row] else after >= liq[row]
        first[i] = sub[row] + 1 + int(np.argmax(hit))
    return doomed, first


class LiquidationLog:
    """One instrument's liquidations, oldest first, for the exchanges' liquidation history (OKX REST).

    Appended a step's batch at a time; batches are merged once many have gathered, and rows older than
    `retention_ms` before the newest are dropped then.
    """

    __slots__ = ("_chunks", "retention_ms")

    MERGE_AT = 256
    """Batches kept apart before they are merged into one array."""

    def __init__(self, retention_ms: int) -> None:
        self.retention_ms = retention_ms
        self._chunks: list[npt.NDArray[Any]] = []

    def append(
        self, ts: npt.NDArray[np.int64], side: FloatArray, qty: FloatArray, bankrupt: FloatArray, fill: FloatArray
    ) -> None:
        """Adds one step's liquidations (sorted by time, after every earlier batch's)."""
        if not len(ts):
            return
        rows = np.zeros(len(ts), dtype=SIM_LIQUIDATION_DTYPE)
        rows["ts_ms"], rows["side"], rows["qty_base"] = ts, side, qty
        rows["bankruptcy_px"], rows["fill_px"] = bankrupt, fill
        self._chunks.append(rows)
        if len(self._chunks) >= self.MERGE_AT:
            self._merge()

    def between(self, start_ms: int, end_ms: int) -> npt.NDArray[Any]:
        """The rows with their time in [start_ms, end_ms], oldest first."""
        self._merge()
        if not self._chunks:
            return np.zeros(0, dtype=SIM_LIQUIDATION_DTYPE)
        rows = self._chunks[0]
        lo = int(np.searchsorted(rows["ts_ms"], start_ms, side="left"))
        hi = int(np.searchsorted(rows["ts_ms"], end_ms, side="right"))
        return rows[lo:hi].copy()

    def _merge(self) -> None:
        if len(self._chunks) < 2 and not (self._chunks and self._due(self._chunks[0])):
            return
        rows = np.concatenate(self._chunks)
        rows = rows[np.argsort(rows["ts_ms"], kind="stable")]
        self._chunks = [rows[rows["ts_ms"] >= rows["ts_ms"][-1] - self.retention_ms]] if len(rows) else []

    def _due(self, rows: npt.NDArray[Any]) -> bool:
        return bool(len(rows)) and int(rows["ts_ms"][0]) < int(rows["ts_ms"][-1]) - self.retention_ms


class _Tape:
    """One instrument's events in one step, collected as arrays and merged once."""

    __slots__ = ("_deltas", "_trades", "n_sub", "span", "t0", "t1")

    def __init__(self, t0: int, t1: int, n_sub: int) -> None:
        self.t0 = t0
        self.t1 = t1
        self.span = t1 - t0
        self.n_sub = n_sub
        """Points of the price path in the step (1 in live steps)."""
        self._trades: list[tuple[npt.NDArray[np.int64], FloatArray, FloatArray, npt.NDArray[np.bool_]]] = []
        self._deltas: list[tuple[npt.NDArray[np.int64], FloatArray, FloatArray]] = []

    def stamp(self, pos: FloatArray) -> npt.NDArray[np.int64]:
        """Wall-clock times in (t0, t1] for fractions of the step in [0, 1)."""
        return np.minimum(self.t0 + 1 + np.floor(pos * self.span).astype(np.int64), self.t1)

    def add(
        self,
        ts: npt.NDArray[np.int64],
        px: FloatArray,
        qty: FloatArray,
        taker_buy: npt.NDArray[np.bool_],
        delta_sign: float,
    ) -> None:
        """Adds trades; `delta_sign` says whether they opened (+1), closed (-1) or left alone (0) positions
        whose side is long where the taker bought to open or sold to close."""
        self._trades.append((ts, px, qty, taker_buy))
        if delta_sign:
            longs = taker_buy if delta_sign > 0 else ~taker_buy
            signed = delta_sign * qty
            self._deltas.append((ts, np.where(longs, signed, 0.0), np.where(longs, 0.0, signed)))

    def arrays(self) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        """The trades (`TRADE_DTYPE`, by time) and open-size changes (`POSITION_DELTA_DTYPE`)."""
        trades = np.zeros(sum(len(p[0]) for p in self._trades), dtype=TRADE_DTYPE)
        if self._trades:
            for name, column in zip(TRADE_DTYPE.names or (), zip(*self._trades, strict=True), strict=True):
                trades[name] = np.concatenate(column)
            trades = trades[np.argsort(trades["ts_ms"], kind="stable")]
        deltas = np.zeros(sum(len(p[0]) for p in self._deltas), dtype=POSITION_DELTA_DTYPE)
        if self._deltas:
            for name, column in zip(POSITION_DELTA_DTYPE.names or (), zip(*self._deltas, strict=True), strict=True):
                deltas[name] = np.concatenate(column)
        return trades, deltas


def create_market(scenario: Scenario, seed: int | None, now_ms: int, speed: float | None = None) -> SimMarket:
    """The simulated market for the server: history already run up to `now_ms`."""
    return Market(scenario, seed, now_ms, speed)
