"""The liquidation-level estimator (design §4): where open leveraged positions would be liquidated.

Per instrument, the estimate is a set of dense numpy arrays over log-spaced price bins (`liqtui.model.bins`). The
mass is kept apart by *component*: one leverage tier crossed with one holding-time class. A component's "unit map"
holds the notional it would hold if every position belonged to it; the picture is their mix,
`Σ_k m_k · unit_k`, with `m = holding shares ⊗ leverage shares`. Keeping components apart costs a few hundred
kilobytes at most and buys two things: the mix can be learned from realized liquidations and applied to the
whole map at once, and mass accounting stays exact for any mix, because every running total is kept per
component and the mix is linear.

The model (every user parameter from the configuration, the rest in `EstimatorTuning`):

1. Between two open-interest observations, `dOI > 0` opens positions: longs at the taker buys' prices and shorts
   at the taker sells', split by the taker buy / sell volume shares (50/50 at the mark when no trade was seen).
2. Each new position is spread over the leverage tiers. A tier stands for the band of leverages around it (half
   way, in log terms, to its neighbours), sampled at a few points; each point's liquidation price comes from the
   exchange's own isolated-margin formula with the instrument's maintenance tiers (`liqtui.model.margin`).
3. `dOI < 0` closes positions: taker sells close longs, taker buys close shorts, proportionally across the
   side's bins, as a share of the open interest (the map holds a sample of all positions, not all of them).
4. When price trades through a level the positions there are gone: long bins at or above the low and short bins
   at or below the high are cleared.
5. Mass decays with a half-life: positions are closed in ways the open interest does not show. The open interest
   did not fall, so as many positions were opened unseen: the aged notional is re-opened at the interval's trade
   prices. With learning on, there are several holding-time classes (fractions of `half_life_hours`).
6. Bins re-centre as price moves; 7. realized liquidations are binned apart; 8. clusters rank the strong levels
   (`liqtui.model.clusters`).

Learning the mix: a realized liquidation of side S at price P is attributed to the components by their share of
the estimate near P (responsibilities). Over a slow window, a component's attributed notional divided by the
notional the estimate swept from it says whether it is over- or under-weighted; this is the EM (Richardson–Lucy)
update of mixture weights for a Poisson process, done for the leverage shares and the holding shares in turn. Only
ratios enter, so exchanges that report a fraction of their liquidations (Binance at most one per second, OKX a
share) teach the same mix, only more slowly.

Silence is evidence too. Ratios alone cannot tell that a market has no high-leverage traders at all: when price
sweeps through the estimate's 50x levels and nothing is liquidated, no tier is credited with anything and the
ratios stay as they were. So every sweep also counts the reports it should at least bring: its swept notional in
typical liquidations, times the share the exchange reports at the least (Bybit reports every liquidation; Binance
at most one a second, so a second's sweeps can expect one report at most; OKX an undisclosed share, taken as
`report_floor`). While fewer liquidations came than that, the swept tiers are credited with the few that came
and lose their share to the tiers that were not swept (the lower leverages). The converse holds as well: when
far more liquidations came than the sweeps could bring even if the exchange reported every one, the swept tiers
hold too little, and gain share from tiers price never reached (a market of 15-125x traders has no 5x or 10x
positions, and no liquidation at those levels can say so within a day). Where an exchange publishes its
liquidation history (OKX), the warm start learns from both before going live; live, only silence is heard this
way (see `EstimatorTuning.learn_from_excess`). History's evidence is then dropped: live learning starts from the
mix it taught, on live evidence alone (see `Estimator.update`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from liqtui.model import margin
from liqtui.model.bins import LogGrid, bin_log_width, global_index, regroup, shift_window
from liqtui.model.clusters import DEFAULT_RULE, ClusterRule, find_clusters
from liqtui.model.margin import MarginTier
from liqtui.model.score import ScoreKeeper, cluster_hits, mass_near, uniform_hit_rate
from liqtui.model.types import LIQUIDATION_DTYPE, MARK_DTYPE, OPEN_INTEREST_DTYPE, TRADE_DTYPE, Side, asset_of
from liqtui.model.views import Cluster, MapView, Score

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Rows = npt.NDArray[Any]

LONG = 0
"""Index of the long side in every (side, ...) array."""
SHORT = 1
"""Index of the short side in every (side, ...) array."""
SIDE_SIGN = np.array([1.0, -1.0])
"""`Side` value of each side index."""
SIDES = (Side.LONG, Side.SHORT)

_MS_PER_HOUR = 3_600_000.0
_NEVER_MS = np.iinfo(np.int64).min // 2
"""A timestamp older than any event (for bins never swept)."""
_TOTALS = ("opened", "closed", "swept", "aged")


class EstimatorSettings(Protocol):
    """The configuration the estimator reads (`liqtui.config.EstimatorConfig` has these attributes)."""

    @property
    def bin_bps(self) -> float: ...
    @property
    def range_pct(self) -> float: ...
    @property
    def leverage(self) -> tuple[float, ...]: ...
    @property
    def leverage_weights(self) -> tuple[float, ...]: ...
    @property
    def default_mmr(self) -> float: ...
    @property
    def half_life_hours(self) -> float: ...
    @property
    def cluster_min_share(self) -> float: ...
    @property
    def learn_leverage(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class EstimatorTuning:
    """Parameters of the estimator that are not user settings; the defaults are the tuned ones."""

    position_usd: float = 10_000.0
    """The notional of a typical new position, which picks its maintenance tier."""
    band_points: int = 5
    """Each leverage tier stands for the band of leverages around it, sampled at this many points."""
    band_width: float = 1.0
    """How much of the way toward its neighbours' midpoints a tier's band reaches (0: the tier alone)."""
    holding_scales: tuple[float, ...] = (0.5, 1.0, 2.0)
    """With learning on, the holding-time classes' half-lives as multiples of the market's half-life (off: 1.0)."""
    turnover_factor: float = 4.0
    """Mean holding time ≈ this × open interest / taker volume: each position is opened and closed by a taker
    order, and single-sided open interest counts half of all open positions (noise trading makes it shorter)."""
    turnover_window_hours: float = 6.0
    """The taker volume that gauges turnover is averaged with this half-life."""
    span_pct: float = 30.0
    """The internal bins reach at least this far from the mark (beyond it, mass is kept as one total)."""
    recentre_pct: float = 1.0
    """The bins re-centre when the mark is this far from their middle."""
    realized_half_life_hours: float = 12.0
    """Realized liquidations fade from the map with this half-life."""
    late_liquidation_s: float = 30.0
    """A liquidation reported up to this long after the sweep that caused it is still checked (and learned from)
    against the estimate as it stood before that sweep."""
    sweep_with_trades: bool = True
    """Trade prices sweep levels as well as the mark (a wick through a level liquidates on most venues)."""
    min_interval_s: float = 0.0
    """An open-interest interval closes at the first row at least this long after the previous close. Open
    interest is the net of opens and closes: over a second it is mostly noise, and every upward wiggle would
    open positions that proportional closes then take from everywhere, so the map would forget too fast."""
    reopen_aged: bool = True
    """Re-open the aged notional each interval (see step 5 in the module docstring)."""
    learn_half_life_hours: float = 24.0
    """The evidence the mix is learned from fades with this half-life."""
    learn_step: float = 0.02
    """How far each attributed liquidation moves the shares toward what the evidence says."""
    learn_prior_events: float = 5.0
    """The prior's weight, in liquidations: a tier's rate moves from 1 only as its evidence outweighs this."""
    learn_min_events: int = 20
    """Learning starts once this many liquidations were attributed (or, in silence, expected)."""
    learn_from_silence: bool = True
    """Sweeps that bring fewer liquidations than the exchange reports at the least are evidence too."""
    learn_from_excess: bool = True
    """In coarse history, so are more liquidations than the sweeps could bring, even if the exchange reported
    every one. Live, where they landed teaches the swept tiers, and excess measured worse: liquidations of
    positions the estimate misses (opened while open interest fell) pulled Binance's mix toward 25-50x."""
    excess_factor: float = 2.0
    """How many times the most the sweeps could bring is excess. The estimate holds the open interest split
    between the sides, while the leveraged positions of one side are at most the open interest: its scale may be
    low by up to 2×, and only liquidations beyond that say the swept tiers hold too little."""
    report_floor: float = 0.1
    """The least share of its liquidations an exchange that reports only some (OKX) is taken to report."""
    weight_floor: float = 0.01
    """No share falls below this: an unseen tier may be real on another market or another day."""
    attribution_bins: int = 2
    """A realized liquidation is attributed by the mass within this many bins of its price."""
    cluster: ClusterRule = DEFAULT_RULE
    """How strong bins merge into clusters."""


DEFAULT_TUNING = EstimatorTuning()


@dataclass(frozen=True, slots=True)
class MassTotals:
    """Running totals of the estimated notional of one side, in USD, under the current mix.

    They always satisfy `opened − closed − swept − aged = held` (up to rounding).
    """

    opened: float
    closed: float
    swept: float
    aged: float
    held: float


def default_tiers_for(instrument_key: str, default_mmr: float) -> tuple[MarginTier, ...]:
    """The default maintenance table for an instrument, or one tier at `default_mmr` on an unknown exchange."""
    exchange = instrument_key.partition(":")[0]
    try:
        return margin.default_tiers(exchange, asset_of(instrument_key))
    except ValueError:
        return (MarginTier(floor=0.0, cap=math.inf, mmr=default_mmr, max_leverage=125.0),)


def leverage_bands(leverage: FloatArray, points: int, width: float = 1.0) -> FloatArray:
    """Leverages sampling the band each tier stands for, shape (tiers, points).

    A band reaches `width` of the way (in log terms) to the midpoints with the neighbouring tiers; the outer bands
    are as wide on their open side as on the other. With an odd number of points the middle one is the band's
    centre in log terms: the tier itself where its neighbours are equally far (5x, 10x, 50x, 100x of the default
    tiers), off it where they are not (the default 20x band's centre is 17.8x, 25x's 28.1x).
    """
    order = np.argsort(leverage)
    logs = np.log(np.maximum(leverage[order], 1.0))
    if points <= 1 or logs.size == 1:
        return np.asarray(leverage[:, None], dtype=np.float64)
    mids = (logs[1:] + logs[:-1]) / 2.0
    lower = np.concatenate(([logs[0] - (mids[0] - logs[0])], mids))
    upper = np.concatenate((mids, [logs[-1] + (logs[-1] - mids[-1])]))
    lower = logs - width * (logs - lower)
    upper = logs + width * (upper - logs)
    quantile = (np.arange(points) + 0.5) / points
    sorted_bands = np.exp(lower[:, None] + (upper - lower)[:, None] * quantile[None, :])
    bands = np.empty_like(sorted_bands)
    bands[order] = sorted_bands
    return np.asarray(np.maximum(bands, 1.0), dtype=np.float64)


def liquidation_ratios(
    exchange: str,
    leverage: FloatArray,
    tiers: Sequence[MarginTier],
    *,
    position_usd: float,
    ref_px: float,
    contract_size_base: float,
) -> FloatArray:
    """Liquidation price over entry price, shape (2 sides, *leverage.shape), for a position of `position_usd`.

    Each exchange's isolated-margin formula with its maintenance tiers (rate and maintenance amount), for an
    initial margin of notional / leverage. A leverage above what the tiers allow is lowered to the allowed one.
    A ratio ≤ 0 means the position cannot be liquidated.
    """
    qty = position_usd / ref_px
    table_size = qty / contract_size_base if exchange == "okx" else position_usd
    flat = np.minimum(leverage.reshape(-1), margin.max_leverage_for(tiers, table_size))
    side = np.repeat(SIDE_SIGN, flat.size)
    lev2 = np.tile(flat, 2)
    if exchange == "bybit":
        lp = margin.bybit_liquidation_px_array(side, qty, ref_px, lev2, tiers)
    elif exchange == "okx":
        lp = margin.okx_liquidation_px_array(
            side, qty / contract_size_base, contract_size_base, ref_px, position_usd / lev2, tiers
        )
    else:
        lp = margin.binance_liquidation_px_array(side, qty, ref_px, position_usd / lev2, tiers)
    return np.asarray(lp / ref_px, dtype=np.float64).reshape((2, *leverage.shape))


def _floor_normalise(weights: FloatArray, floor: float) -> FloatArray:
    weights = np.maximum(weights, floor)
    return np.asarray(weights / weights.sum(), dtype=np.float64)


class Estimator:
    """The liquidation map of one instrument, fed with new rows as they arrive (see the module docstring)."""

    def __init__(
        self,
        instrument_key: str,
        config: EstimatorSettings,
        tiers: Sequence[MarginTier] | None = None,
        contract_size_base: float = 1.0,
        tuning: EstimatorTuning = DEFAULT_TUNING,
    ) -> None:
        self.instrument_key = instrument_key
        """The instrument, `exchange:SYMBOL`."""
        self.config = config
        """The user's estimator settings."""
        self.tuning = tuning
        """The model's internal parameters."""
        self.exchange = instrument_key.partition(":")[0].lower()
        """The exchange, which decides the liquidation-price formula and the reported price's meaning."""
        self.contract_size_base = contract_size_base
        """Base units per contract (OKX's maintenance tiers are in contracts)."""
        self.tiers: tuple[MarginTier, ...] = (
            tuple(tiers) if tiers else default_tiers_for(instrument_key, config.default_mmr)
        )
        """The instrument's maintenance-margin tiers (a default table when unknown)."""
        self.version = 0
        """Goes up whenever the picture changes."""
        self.mark_px: float | None = None
        """The last mark (or, without marks, trade) price seen."""
        self.ts_ms = 0
        """The newest event time seen."""
        self.oi_base: float | None = None
        """The open interest that closed the last interval (single-sided, base units)."""
        self.oi_ts_ms = 0
        """The time of the open interest that closed the last interval."""
        self.oi_latest: float | None = None
        """The newest open interest seen (intervals close at most once per `min_interval_s`)."""
        self.score_keeper = ScoreKeeper()
        """The running score (design §4 "Score")."""
        self.mix_steps = 0
        """How many times the mix was learned from this instrument's own evidence (0: still the prior, or a mix
        followed from another venue, `follow_mix`)."""

        self._bin_log = bin_log_width(config.bin_bps)
        self._bin_factor = math.exp(self._bin_log)
        self._bands = leverage_bands(
            np.asarray(config.leverage, dtype=np.float64), tuning.band_points, tuning.band_width
        )
        scales = tuning.holding_scales if config.learn_leverage else (1.0,)
        self._holding_scales = np.asarray(scales, dtype=np.float64)
        self._half_lives = self._holding_scales * config.half_life_hours
        prior = np.asarray(config.leverage_weights, dtype=np.float64)
        self._leverage_shares = prior / prior.sum()
        self._holding_shares = np.full(self._half_lives.size, 1.0 / self._half_lives.size)
        half_pct = max(config.range_pct, tuning.span_pct) + 2.0 * tuning.recentre_pct
        self._half_bins = math.ceil(-math.log1p(-half_pct / 100.0) / self._bin_log)
        self._grid: LogGrid | None = None
        self._shift = np.zeros((2, *self._bands.shape))
        self._never = np.zeros((2, *self._bands.shape), dtype=np.bool_)
        self._ratio_px = 0.0
        self._ratio_tiers_hash = 0
        self._allocate()

    def _allocate(self) -> None:
        n = 2 * self._half_bins
        k = self._half_lives.size * self._bands.shape[0]
        self._unit = np.zeros((2, k, n))
        self._far = np.zeros((2, k))
        self._realized = np.zeros((2, n))
        self._swept_unit = np.zeros((2, k, n))
        self._swept_ts = np.full((2, n), _NEVER_MS, dtype=np.int64)
        self._pending_qty = np.zeros((2, n))
        self._totals = np.zeros((len(_TOTALS), 2, k))
        self._aged_pending = np.zeros((2, k))
        self._fresh_evidence()
        self._event_usd = self.tuning.position_usd
        self._report_second = 0
        self._report_second_events = 0.0
        self._reported = True
        self._coarse = False
        self._aged_ts_ms = 0
        self._unreported_decay = 1.0
        self._volume_base = 0.0
        self._volume_hours = 0.0

    def _fresh_evidence(self) -> None:
        """Start the evidence the mix is learned from anew."""
        k = self._unit.shape[1]
        self._learn_attributed = np.zeros((2, k))
        self._learn_swept = np.zeros((2, k))
        self._learn_events = 0
        self._learned_events = 0
        self._learn_count = 0.0
        self._learn_floor = 0.0
        self._learn_floor_total = 0.0
        self._learn_ceiling = 0.0
        self._learned_floor_total = 0.0

    # -- public reads ---------------------------------------------------------------------------------------

    @property
    def leverage_shares(self) -> tuple[float, ...]:
        """The current share of positions at each leverage tier (learned when `learn_leverage`)."""
        return tuple(float(w) for w in self._leverage_shares)

    @property
    def evidence(self) -> float:
        """How much the mix learned from lately, in liquidations: those attributed, or, while fewer came than the
        sweeps should bring at the least, that least (silence weighs as much as the reports it should have
        brought); fading with `learn_half_life_hours`."""
        return float(max(self._learn_count, self._learn_floor))

    def follow_mix(self, leverage_shares: Sequence[float], *, even_if_learned: bool = False) -> bool:
        """Take another instrument's learned leverage shares as this one's, if learning is on; True when the
        picture changed. Only while this one has learned nothing of its own, unless `even_if_learned` (the hub's
        call, `liqtui.model.hub.share_mixes`: its own evidence is far less than the other's). The shares weigh the
        whole map at once (the components are kept apart), and the instrument's own evidence moves on from them."""
        shares = np.asarray(leverage_shares, dtype=np.float64)
        if (
            not self.config.learn_leverage
            or (self.mix_steps and not even_if_learned)
            or shares.shape != self._leverage_shares.shape
        ):
            return False
        # Compared once normalised: the same mix must not count as a change (a redraw) on every tick.
        shares = shares / shares.sum()
        if np.array_equal(shares, self._leverage_shares):
            return False
        self._leverage_shares = shares
        self.version += 1
        return True

    @property
    def holding_shares(self) -> dict[float, float]:
        """The current share of each holding-time class, by its half-life in hours (learned)."""
        return {float(h): float(v) for h, v in zip(self._half_lives, self._holding_shares, strict=True)}

    @property
    def half_life_hours(self) -> float:
        """The market's half-life of positions now: `half_life_hours` of the configuration, shortened by the
        turnover the taker volume shows (mean holding ≈ `turnover_factor` × open interest / volume; the
        half-life of an exponential holding time is ln 2 × its mean)."""
        cap = self.config.half_life_hours
        if self._volume_hours < 0.25 or not self._volume_base > 0.0 or not self.oi_latest:
            return cap
        rate = self._volume_base / self._volume_hours
        holding = self.tuning.turnover_factor * self.oi_latest / rate
        return float(min(cap, max(holding * math.log(2.0), 0.05)))

    @property
    def grid(self) -> LogGrid | None:
        """The internal bins, once a price has been seen."""
        return self._grid

    def _mix(self) -> FloatArray:
        """The weight of every component: holding share × leverage share, flattened as the unit maps are."""
        return np.asarray(np.outer(self._holding_shares, self._leverage_shares).reshape(-1), dtype=np.float64)

    def side_mass(self, side: Side) -> FloatArray:
        """The estimated notional per internal bin for one side, under the current mix."""
        return np.asarray(self._mix() @ self._unit[_index(side)], dtype=np.float64)

    def totals(self, side: Side) -> MassTotals:
        """The running mass totals of one side (design §4 invariants)."""
        s = _index(side)
        mix = self._mix()
        opened, closed, swept, aged = (float(mix @ t[s]) for t in self._totals)
        held = float(mix @ (self._unit[s].sum(axis=1) + self._far[s]))
        return MassTotals(opened=opened, closed=closed, swept=swept, aged=aged, held=held)

    def score(self) -> Score:
        """The running score of this instrument's map."""
        return self.score_keeper.score()

    # -- feeding --------------------------------------------------------------------------------------------

    def update(
        self,
        trades: Rows | None = None,
        liquidations: Rows | None = None,
        marks: Rows | None = None,
        open_interest: Rows | None = None,
        *,
        liquidations_reported: bool = True,
        coarse: bool = False,
    ) -> bool:
        """Take the rows that arrived since the last call (any may be None or empty); True when the picture
        changed.

        `liquidations_reported=False` says the rows come from a source without liquidations (REST history): its
        sweeps are then no evidence that levels held fewer positions than estimated, and are not learned from.
        `coarse=True` says they are history in coarse intervals (5-minute candles and open interest) with the
        exchange's liquidation history: its liquidations are binned, and teach the mix only while fewer came than
        the sweeps should bring (silence) or far more than they could (excess); they are not scored. Positions
        opened and liquidated within one interval are missing from the estimate, so where plentiful liquidations
        landed would credit the wrong tiers (measured: on the benchmark's busy markets the mix drifted from the
        truth, and the map with it); how many came, against what the sweeps bring, does not depend on that.
        The first call that is not coarse drops the evidence gathered so far: live learning starts from the mix
        history taught, on live evidence alone. (When history's evidence stayed, where its liquidations landed
        reached the first live steps: a market without 10x traders went to 65 % at 10x on OKX. Kept but spread as
        the sweeps would bring it, it held live learning back on busy markets.) After a restart whose gap history
        (OKX) holds liquidations, the evidence from before the restart goes with it; the mix stays.

        Trades between two open-interest rows are accumulated and the interval is processed when the closing
        open-interest row arrives; marks and trades sweep levels and move the bins at once. Rows are split at
        each open-interest row's time, so one call may close several intervals.
        """
        trades = _rows(trades, TRADE_DTYPE)
        liquidations = _rows(liquidations, LIQUIDATION_DTYPE)
        marks = _rows(marks, MARK_DTYPE)
        open_interest = _rows(open_interest, OPEN_INTEREST_DTYPE)
        version = self.version
        self._reported = liquidations_reported
        if self._coarse and not coarse:
            # Coarse history is over: its evidence taught the mix by its count and goes, so live learning starts
            # from that mix on live evidence alone (see the docstring).
            self._fresh_evidence()
        self._coarse = coarse
        if open_interest.size == 0:
            self._segment(trades, liquidations, marks)
        else:
            lower = np.iinfo(np.int64).min
            for row in open_interest[np.argsort(open_interest["ts_ms"], kind="stable")]:
                upper = int(row["ts_ms"])
                self._segment(
                    _between(trades, lower, upper),
                    _between(liquidations, lower, upper),
                    _between(marks, lower, upper),
                )
                self._close_interval(upper, float(row["oi_base"]))
                lower = upper
            tail = np.iinfo(np.int64).max
            self._segment(
                _between(trades, lower, tail), _between(liquidations, lower, tail), _between(marks, lower, tail)
            )
        return self.version != version

    def _segment(self, trades: Rows, liquidations: Rows, marks: Rows) -> None:
        """Apply the trades, liquidations and marks of one stretch between open-interest rows."""
        if trades.size == 0 and liquidations.size == 0 and marks.size == 0:
            return
        latest = max(
            int(trades["ts_ms"].max()) if trades.size else 0,
            int(marks["ts_ms"].max()) if marks.size else 0,
            int(liquidations["ts_ms"].max()) if liquidations.size else 0,
        )
        if marks.size:
            self.mark_px = float(marks["px"][int(np.argmax(marks["ts_ms"]))])
        elif trades.size:
            self.mark_px = float(trades["px"][int(np.argmax(trades["ts_ms"]))])
        if self.mark_px is None:
            return
        if self._grid is None:
            self._grid = LogGrid.around(self.mark_px, self._bin_log, self._half_bins)
            self._aged_ts_ms = max(latest, self._aged_ts_ms)
            self._refresh_ratios(self.mark_px)
            self.version += 1
        else:
            self._recentre(self.mark_px)
            if self._ratio_tiers_hash != hash(self.tiers):
                # New maintenance tiers (they arrived after the estimator was made) price new positions.
                self._refresh_ratios(self.mark_px)
        if liquidations.size:
            self._check_and_learn(liquidations)
            self._bin_realized(liquidations)
        prices = [marks["px"]] if marks.size else []
        if trades.size and (self.tuning.sweep_with_trades or not marks.size):
            prices.append(trades["px"])
        if prices:
            joined = np.concatenate(prices) if len(prices) > 1 else prices[0]
            self._sweep(float(joined.min()), float(joined.max()), latest)
        if trades.size:
            self._accumulate_trades(trades)
        self.ts_ms = max(self.ts_ms, latest)
        self._age_to(self.ts_ms)

    # -- steps of the model ---------------------------------------------------------------------------------

    def _refresh_ratios(self, px: float) -> None:
        ratio = liquidation_ratios(
            self.exchange,
            self._bands,
            self.tiers,
            position_usd=self.tuning.position_usd,
            ref_px=px,
            contract_size_base=self.contract_size_base,
        )
        self._never = ratio <= 0.0
        self._shift = np.log(np.where(self._never, 1.0, ratio)) / self._bin_log
        self._ratio_px = px
        self._ratio_tiers_hash = hash(self.tiers)

    def _recentre(self, px: float) -> None:
        grid = self._grid
        assert grid is not None
        middle = grid.first + self._half_bins
        limit = max(1, round(math.log1p(self.tuning.recentre_pct / 100.0) / self._bin_log))
        delta = global_index(px, self._bin_log) - middle
        if abs(delta) < limit:
            return
        self._grid = grid.shifted(delta)
        _, below, above = shift_window(self._unit, delta)
        # Longs that fall below the window and shorts above it are far from price: kept as totals. Longs above
        # it and shorts below it lie where price has already been: they were liquidated.
        self._far[LONG] += below[LONG]
        self._far[SHORT] += above[SHORT]
        self._totals[2, LONG] += above[LONG]
        self._totals[2, SHORT] += below[SHORT]
        shift_window(self._realized, delta)
        shift_window(self._swept_unit, delta)
        shift_window(self._pending_qty, delta)
        ts = self._swept_ts
        if abs(delta) >= ts.shape[1]:
            ts[...] = _NEVER_MS
        elif delta > 0:
            ts[:, :-delta] = ts[:, delta:].copy()
            ts[:, -delta:] = _NEVER_MS
        else:
            ts[:, -delta:] = ts[:, :delta].copy()
            ts[:, :-delta] = _NEVER_MS
        if abs(math.log(px / self._ratio_px)) > 0.05:
            self._refresh_ratios(px)
        self.version += 1

    def _sweep(self, low_px: float, high_px: float, ts_ms: int) -> None:
        grid = self._grid
        assert grid is not None
        n = grid.size
        changed = False
        i_low = max(grid.index_of(low_px), 0)
        if i_low < n:
            changed |= self._clear(LONG, slice(i_low, n), ts_ms)
            if i_low == 0 and self._far[LONG].any():
                self._totals[2, LONG] += self._far[LONG]
                self._far[LONG] = 0.0
                changed = True
        i_high = min(grid.index_of(high_px), n - 1)
        if i_high >= 0:
            changed |= self._clear(SHORT, slice(0, i_high + 1), ts_ms)
            if i_high == n - 1 and self._far[SHORT].any():
                self._totals[2, SHORT] += self._far[SHORT]
                self._far[SHORT] = 0.0
                changed = True
        if changed:
            self.version += 1

    def _clear(self, s: int, bins: slice, ts_ms: int) -> bool:
        block = self._unit[s, :, bins]
        removed = block.sum(axis=1)
        if not removed.any():
            return False
        # Remember what was swept for a little while: a liquidation reported late is checked against it.
        stale = self._swept_ts[s, bins] < ts_ms - int(self.tuning.late_liquidation_s * 1000)
        memory = self._swept_unit[s, :, bins]
        memory[:, stale] = 0.0
        memory += block
        self._swept_ts[s, bins] = ts_ms
        self._totals[2, s] += removed
        if self._reported:
            self._learn_swept[s] += removed
            self._count_expected_reports(float(self._mix() @ removed) / self._event_usd, ts_ms)
        block[...] = 0.0
        return True

    def _count_expected_reports(self, events: float, ts_ms: int) -> None:
        """Count the liquidation reports a sweep of `events` typical liquidations brings at the least.

        Only the silence test uses them. Weighing the learning's exposure by them as well (a cascade second on
        Binance is one report however many it liquidated) was measured, and over-corrected toward high leverage
        on Binance instruments (the benchmark's default and degen markets got worse), so exposure stays in
        notional."""
        if self.exchange == "binance":
            # At most one report per symbol per second: P(at least one of the second's liquidations).
            second = ts_ms // 1000
            if second != self._report_second:
                self._report_second, self._report_second_events = second, 0.0
            before = self._report_second_events
            self._report_second_events += events
            reports = math.exp(-before) - math.exp(-self._report_second_events)
            ceiling = reports
        elif self.exchange == "bybit":
            reports = ceiling = events
        else:
            reports = self.tuning.report_floor * events
            ceiling = events
        self._learn_ceiling += ceiling
        self._learn_floor += reports
        self._learn_floor_total += reports

    def _accumulate_trades(self, trades: Rows) -> None:
        grid = self._grid
        assert grid is not None
        idx = np.clip(grid.index(trades["px"]), 0, grid.size - 1)
        buys = trades["taker_buy"]
        qty = trades["qty_base"]
        self._pending_qty[LONG] += np.bincount(idx[buys], weights=qty[buys], minlength=grid.size)
        self._pending_qty[SHORT] += np.bincount(idx[~buys], weights=qty[~buys], minlength=grid.size)
        self._volume_base += float(qty.sum())

    def _close_interval(self, ts_ms: int, oi_base: float) -> None:
        """Process the open-interest interval that ends at `ts_ms` (design §4 steps 1, 3 and 5)."""
        previous = self.oi_base
        if previous is not None and ts_ms < self.oi_ts_ms + self.tuning.min_interval_s * 1000:
            # A repeated or late observation, or one too soon after the last close: the interval goes on.
            self.oi_latest = oi_base
            return
        self.oi_latest = oi_base
        self.oi_base = oi_base
        self.oi_ts_ms = ts_ms
        self.ts_ms = max(self.ts_ms, ts_ms)
        self._age_to(self.ts_ms)
        pending = self._pending_qty
        buy_qty, sell_qty = float(pending[LONG].sum()), float(pending[SHORT].sum())
        traded = buy_qty + sell_qty
        buy_share = buy_qty / traded if traded > 0.0 else 0.5
        if previous is not None and self._grid is not None and self.mark_px is not None:
            change = oi_base - previous
            opened = np.zeros((2, self._unit.shape[1]))
            if change > 0.0:
                opened[LONG] += change * buy_share
                opened[SHORT] += change * (1.0 - buy_share)
            elif change < 0.0:
                self._close(LONG, -change * (1.0 - buy_share) / previous if previous > 0.0 else 1.0)
                self._close(SHORT, -change * buy_share / previous if previous > 0.0 else 1.0)
            if self.tuning.reopen_aged:
                # The unseen opens replacing the aged positions follow the current leverage mix, whichever
                # tiers the aged ones came from; each holding class replaces its own.
                n_tiers = self._bands.shape[0]
                aged = self._aged_pending.reshape(2, -1, n_tiers) @ self._leverage_shares
                opened += np.repeat(aged, n_tiers, axis=1) / self.mark_px
            for s in (LONG, SHORT):
                if opened[s].any():
                    self._open(s, opened[s])
            # A level already beyond the mark (a maintenance rate above 1/leverage) is liquidated at once.
            reported, self._reported = self._reported, False
            self._sweep(self.mark_px, self.mark_px, ts_ms)
            self._reported = reported
            if change != 0.0 or opened.any():
                self.version += 1
        self._aged_pending[...] = 0.0
        pending[...] = 0.0
        if self.config.learn_leverage and self._reported:
            self._learn()

    def _open(self, s: int, qty_base: FloatArray) -> None:
        """Open `qty_base[k]` base units in each component k at the interval's taker prices of side `s`."""
        grid = self._grid
        assert grid is not None and self.mark_px is not None
        profile = self._pending_qty[s]
        entries = np.flatnonzero(profile)
        if entries.size:
            qty = profile[entries]
            notional = qty / qty.sum() * grid.mids()[entries]
        else:
            mark_pos = grid.position(self.mark_px)
            entries = np.array([min(max(int(mark_pos), 0), grid.size - 1)])
            notional = np.array([self.mark_px])
        n_tiers, n_points = self._bands.shape
        n = grid.size
        # One unit of base spread over each tier's band points, each point split linearly between the two
        # nearest bin centres: the (tiers, bins) map one base unit opens, and what falls beyond the window.
        centre = entries[None, None, :] + self._shift[s][:, :, None]
        lower = np.floor(centre).astype(np.int64)
        upper_w = centre - lower
        per_point = notional[None, None, :] / n_points
        weights = np.concatenate(((1.0 - upper_w) * per_point, upper_w * per_point), axis=2)
        index = np.concatenate((lower, lower + 1), axis=2)
        tier_of = np.broadcast_to(np.arange(n_tiers)[:, None, None], index.shape)
        outward = index < 0 if s == LONG else index >= n
        outward |= self._never[s][:, :, None]
        far = np.bincount(tier_of[outward], weights=weights[outward], minlength=n_tiers)
        inside = ~outward
        flat = tier_of[inside] * n + np.clip(index[inside], 0, n - 1)
        unit_map = np.bincount(flat, weights=weights[inside], minlength=n_tiers * n).reshape(n_tiers, n)
        per_class = qty_base.reshape(-1, n_tiers)
        unit = self._unit[s].reshape(per_class.shape[0], n_tiers, n)
        unit += per_class[:, :, None] * unit_map[None, :, :]
        self._far[s] += (per_class * far[None, :]).reshape(-1)
        self._totals[0, s] += (per_class * (unit_map.sum(axis=1) + far)[None, :]).reshape(-1)

    def _close(self, s: int, fraction: float) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        removed = fraction * (self._unit[s].sum(axis=1) + self._far[s])
        self._totals[1, s] += removed
        self._unit[s] *= 1.0 - fraction
        self._far[s] *= 1.0 - fraction

    def _age_to(self, ts_ms: int) -> None:
        dt_ms = ts_ms - self._aged_ts_ms
        if dt_ms <= 0:
            return
        self._aged_ts_ms = ts_ms
        hours = dt_ms / _MS_PER_HOUR
        window = 0.5 ** (hours / self.tuning.turnover_window_hours)
        self._volume_base *= window
        self._volume_hours = self._volume_hours * window + hours
        self._half_lives = self._holding_scales * self.half_life_hours
        per_class = 0.5 ** (hours / self._half_lives)
        decay = np.repeat(per_class, self._bands.shape[0])
        aged = (1.0 - decay)[None, :] * (self._unit.sum(axis=2) + self._far)
        self._totals[3] += aged
        self._aged_pending += aged
        self._unit *= decay[None, :, None]
        self._far *= decay[None, :]
        self._realized *= 0.5 ** (hours / self.tuning.realized_half_life_hours)
        learn_decay = 0.5 ** (hours / self.tuning.learn_half_life_hours)
        self._learn_attributed *= learn_decay
        self._learn_swept *= learn_decay
        self._learn_count *= learn_decay
        self._learn_floor *= learn_decay
        self._learn_ceiling *= learn_decay
        self._unreported_decay *= float(per_class.max())
        if self._unreported_decay < 0.99:
            self._unreported_decay = 1.0
            self.version += 1

    def _bin_realized(self, liquidations: Rows) -> None:
        grid = self._grid
        assert grid is not None
        idx = grid.index(liquidations["px"])
        ok = (idx >= 0) & (idx < grid.size)
        if not ok.any():
            return
        side = np.where(liquidations["side"] == Side.LONG, LONG, SHORT)
        notional = liquidations["px"] * liquidations["qty_base"]
        np.add.at(self._realized, (side[ok], idx[ok]), notional[ok])
        self.version += 1

    # -- the score and the learning -------------------------------------------------------------------------

    def _liquidation_level(self, side_sign: float, px: FloatArray) -> FloatArray:
        """Where the estimate would have put a reported liquidation: Bybit and OKX report the bankruptcy price,
        one maintenance margin beyond the liquidation price."""
        if self.exchange not in ("bybit", "okx"):
            return px
        mmr = self.tiers[0].mmr + (margin.OKX_DEFAULT_TAKER_FEE if self.exchange == "okx" else 0.0)
        return px * (1.0 + side_sign * mmr)

    def _check_and_learn(self, liquidations: Rows) -> None:
        """Score each liquidation against the estimate as it stood before the move that caused it, and learn."""
        late_ms = int(self.tuning.late_liquidation_s * 1000)
        mix = self._mix()
        for s, side in enumerate(SIDES):
            rows = liquidations[liquidations["side"] == side.value]
            if rows.size == 0:
                continue
            px = self._liquidation_level(float(SIDE_SIGN[s]), rows["px"].astype(np.float64))
            recent = self._swept_ts[s] >= int(rows["ts_ms"].min()) - late_ms
            weighted = (self._unit[s] + self._swept_unit[s] * recent) * mix[:, None]
            if not self._coarse:
                # The score checks the estimate just before each liquidation; coarse history cannot.
                self._record_score(side, px, weighted.sum(axis=0))
            # Learning credits held mass near the price too, even mass price has not crossed yet. Crediting only
            # crossed levels removes a bias toward tiers just past the sweep, but measured a trade, not a gain
            # (README, "tried and rejected", 2026-12-08): that bias moves share off never-swept tiers.
            self._attribute(s, px, rows["qty_base"] * rows["px"], weighted)
        if self.config.learn_leverage:
            self._learn()

    def _record_score(self, side: Side, px: FloatArray, mass: FloatArray) -> None:
        """Did each liquidation at `px` land in a cluster of its side's `mass` within the configured range?"""
        grid = self._grid
        assert grid is not None and self.mark_px is not None
        edges = grid.edges()
        lo_i, hi_i = self._range_indices(self.config.range_pct)
        window = mass[lo_i:hi_i]
        clusters = find_clusters(
            edges[lo_i:hi_i],
            edges[lo_i + 1 : hi_i + 1],
            window,
            side,
            self.mark_px,
            min_share=self.config.cluster_min_share,
            rule=self.tuning.cluster,
        )
        hits = cluster_hits(px, clusters, self._bin_factor)
        uniform = uniform_hit_rate(clusters, float(edges[lo_i]), float(edges[hi_i]), self._bin_factor)
        self.score_keeper.record(hits, uniform, mass_near(px, edges[lo_i : hi_i + 1], window))

    def _attribute(self, s: int, px: FloatArray, notional: FloatArray, weighted: FloatArray) -> None:
        """Add each liquidation's notional to the components in proportion to their mass near its price."""
        grid = self._grid
        assert grid is not None
        k = self.tuning.attribution_bins
        idx = grid.index(px)
        ok = (idx >= 0) & (idx < grid.size)
        if not ok.any():
            return
        cumulative = np.concatenate((np.zeros((weighted.shape[0], 1)), np.cumsum(weighted, axis=1)), axis=1)
        lo = np.clip(idx[ok] - k, 0, grid.size)
        hi = np.clip(idx[ok] + k + 1, 0, grid.size)
        near = cumulative[:, hi] - cumulative[:, lo]  # (components, liquidations)
        total = near.sum(axis=0)
        seen = total > 0.0
        if not seen.any():
            return
        responsibility = near[:, seen] / total[seen]
        self._learn_attributed[s] += responsibility @ notional[ok][seen]
        self._learn_events += int(np.count_nonzero(seen))
        self._learn_count += float(np.count_nonzero(seen))

    def _learn(self) -> None:
        """EM step for the leverage shares, then the holding shares (see the module docstring)."""
        n_tiers = self._bands.shape[0]
        attributed = self._learn_attributed.sum(axis=0).reshape(-1, n_tiers)
        swept = self._learn_swept.sum(axis=0).reshape(-1, n_tiers)
        tuning = self.tuning
        reported = float(attributed.sum())
        if self._learn_count >= 1.0 and reported > 0.0:
            # The liquidations' typical notional converts notional to events (for the prior and the step).
            self._event_usd = reported / self._learn_count
        per_event = self._event_usd
        silent = tuning.learn_from_silence and self._learn_count < self._learn_floor
        if silent:
            evidence = self._learn_floor
            new_events = self._learn_floor_total - self._learned_floor_total
        else:
            evidence = float(self._learn_events)
            new_events = float(self._learn_events - self._learned_events)
        if evidence < tuning.learn_min_events or new_events <= 0.0 or not swept.sum() > 0.0:
            return
        least = self._learn_floor if silent else 0.0
        most = tuning.excess_factor * self._learn_ceiling
        excess = tuning.learn_from_excess and self._coarse and not silent and self._learn_count > most
        if not excess:
            most = math.inf
        step = 1.0 - (1.0 - tuning.learn_step) ** new_events
        self._learned_events = self._learn_events
        self._learned_floor_total = self._learn_floor_total
        if self._coarse and not (silent or excess):
            return
        floor = tuning.weight_floor
        prior = tuning.learn_prior_events
        if self._coarse:
            # Only the count is trusted in coarse history: it is spread over the swept components in proportion
            # to what each should have brought, so silence and excess move the swept tiers against the others.
            expected = np.outer(self._holding_shares, self._leverage_shares) * swept
            attributed = expected * (attributed.sum() / expected.sum())
        self._leverage_shares = _floor_normalise(
            _em_target(
                self._leverage_shares,
                attributed.sum(axis=0) / per_event,
                self._holding_shares @ swept / per_event,
                step=step,
                prior_events=prior,
                least_events=least,
                most_events=most,
            ),
            floor,
        )
        if self._holding_shares.size > 1:
            self._holding_shares = _floor_normalise(
                _em_target(
                    self._holding_shares,
                    attributed.sum(axis=1) / per_event,
                    swept @ self._leverage_shares / per_event,
                    step=step,
                    prior_events=prior,
                    least_events=least,
                    most_events=most,
                ),
                floor,
            )
        self.mix_steps += 1
        self.version += 1

    # -- views ----------------------------------------------------------------------------------------------

    def _range_indices(self, range_pct: float) -> tuple[int, int]:
        """The window indices [lo, hi) of the bins covering mark·(1 ± range_pct / 100)."""
        grid = self._grid
        assert grid is not None and self.mark_px is not None
        lo = grid.index_of(self.mark_px * (1.0 - range_pct / 100.0))
        hi = grid.index_of(self.mark_px * (1.0 + range_pct / 100.0)) + 1
        return max(lo, 0), min(max(hi, lo + 1), grid.size)

    def map_view(self, range_pct: float, n_bins: int | None = None) -> MapView:
        """The map over mark·(1 ± range_pct / 100), re-aggregated to at most `n_bins` bins (native when None)."""
        if self._grid is None or self.mark_px is None:
            empty = np.zeros(0)
            return MapView(
                instrument=self.instrument_key,
                ts_ms=self.ts_ms,
                mark_px=self.mark_px or 0.0,
                px_low=empty,
                px_high=empty,
                long_usd=empty,
                short_usd=empty,
                realized_long_usd=empty,
                realized_short_usd=empty,
                version=self.version,
            )
        lo, hi = self._range_indices(range_pct)
        mix = self._mix()
        stacked = np.stack(
            (mix @ self._unit[LONG], mix @ self._unit[SHORT], self._realized[LONG], self._realized[SHORT])
        )
        sums, bounds = regroup(stacked, lo, hi, n_bins if n_bins else hi - lo)
        edges = self._grid.edges()
        return MapView(
            instrument=self.instrument_key,
            ts_ms=self.ts_ms,
            mark_px=self.mark_px,
            px_low=edges[bounds[:-1]],
            px_high=edges[bounds[1:]],
            long_usd=sums[0],
            short_usd=sums[1],
            realized_long_usd=sums[2],
            realized_short_usd=sums[3],
            version=self.version,
        )

    def clusters(self, n: int | None = None, range_pct: float | None = None) -> list[Cluster]:
        """The strongest levels of both sides within the range (default: the configured one), strongest first,
        at most `n`."""
        if self._grid is None or self.mark_px is None:
            return []
        view = self.map_view(range_pct if range_pct is not None else self.config.range_pct)
        found: list[Cluster] = []
        for side, mass in ((Side.LONG, view.long_usd), (Side.SHORT, view.short_usd)):
            found.extend(
                find_clusters(
                    view.px_low,
                    view.px_high,
                    mass,
                    side,
                    view.mark_px,
                    min_share=self.config.cluster_min_share,
                    rule=self.tuning.cluster,
                )
            )
        found.sort(key=lambda c: c.notional_usd, reverse=True)
        return found[:n] if n is not None else found

    def snapshot_json(self, open_interest_base: float | None = None, range_pct: float = 10.0) -> dict[str, Any]:
        """The design §7.3 dict without its "feed" part: native bins covering at least ±10 % of the mark."""
        reach = max(range_pct, 10.0)
        view = self.map_view(reach)
        oi = open_interest_base if open_interest_base is not None else self.oi_latest
        return {
            "instrument": self.instrument_key,
            "ts_ms": int(self.ts_ms),
            "mark_px": float(view.mark_px),
            "open_interest_base": float(oi) if oi is not None else None,
            "bins": {
                "px_low": view.px_low.tolist(),
                "px_high": view.px_high.tolist(),
                "long_usd": view.long_usd.tolist(),
                "short_usd": view.short_usd.tolist(),
                "realized_long_usd": view.realized_long_usd.tolist(),
                "realized_short_usd": view.realized_short_usd.tolist(),
            },
            "clusters": [c.as_json() for c in self.clusters(range_pct=reach)],
            "score": {
                **self.score().as_json(),
                "leverage": list(self.config.leverage),
                "leverage_shares": list(self.leverage_shares),
            },
        }


def _em_target(
    shares: FloatArray,
    attributed: FloatArray,
    exposure: FloatArray,
    *,
    step: float,
    prior_events: float,
    least_events: float = 0.0,
    most_events: float = math.inf,
) -> FloatArray:
    """Shares moved by `step` toward their EM update, each tier's rate shrunk toward the prior.

    `attributed` is each entry's attributed liquidations, `exposure` the liquidations the estimate swept from it
    per unit share, both in events. Under the current shares an entry expects `E = c · share · exposure` events,
    with `c` making them add up to what was attributed, clipped to [`least_events`, `most_events`]: when far
    fewer liquidations were reported than the sweeps should bring at the least, the swept entries lose share to
    those not swept, and when far more than they could bring, they gain it.
    Each rate `attributed / E` gets a Gamma prior of `prior_events` pseudo-events at rate 1, so an entry the
    sweeps barely touched keeps its share, and a handful of events cannot zero a tier.
    """
    expected = shares * exposure
    total = expected.sum()
    if not total > 0.0:
        return shares
    expected *= max(min(attributed.sum(), most_events), least_events) / total
    rate = (prior_events + attributed) / (prior_events + expected)
    target = shares * rate
    target /= target.sum()
    return np.asarray((1.0 - step) * shares + step * target, dtype=np.float64)


def _index(side: Side) -> int:
    return LONG if side is Side.LONG else SHORT


def _rows(rows: Rows | None, dtype: np.dtype[Any]) -> Rows:
    if rows is None:
        return np.zeros(0, dtype=dtype)
    return rows


def _between(rows: Rows, lower: int, upper: int) -> Rows:
    """The rows with lower < ts_ms ≤ upper."""
    if rows.size == 0:
        return rows
    ts = rows["ts_ms"]
    return rows[(ts > lower) & (ts <= upper)]
