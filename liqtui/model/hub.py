"""`MapHub`: one estimator per instrument, fed from the store on a timer, and the views everything else reads.

The feeds write rows into the store's rings; the hub's `tick()` (the UI's ~4 Hz timer, or the snapshot command's
loop) hands each estimator the rows written since its last tick, in one batch per ring. History comes first: an
instrument whose warm-start history is on its way is not fed live rows until the history arrived (or
`HISTORY_WAIT_S` passed), because the estimator takes history only for times it does not hold yet; the rows wait
in the rings meanwhile. The same rule back-fills the gap after a restart: a reloaded estimator takes the history
newer than its saved state.

One asset's traders are much the same people on every venue, but only some venues show how they are leveraged:
OKX publishes its liquidation history, Binance and Bybit do not, so their warm start can only show the configured
leverage prior. So each instrument follows the leverage mix of the instrument of the same asset with the most
evidence among those that learned one (`share_mixes`, `Estimator.follow_mix`), until its own liquidations have
taught it from at least half as much.

For the aggregate view of one asset across exchanges, the estimators' bins share one global log grid (bin k spans
the same prices everywhere), so their maps add bin by bin.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from liqtui.model.bins import regroup
from liqtui.model.clusters import find_clusters
from liqtui.model.estimator import Estimator, EstimatorSettings
from liqtui.model.persist import load_state, save_state
from liqtui.model.store import InstrumentData, MarketStore
from liqtui.model.types import Side, asset_of
from liqtui.model.views import Cluster, MapView, Score
from liqtui.model.warmstart import warm_start

if TYPE_CHECKING:
    from liqtui.feeds.engine import History

log = logging.getLogger("liqtui.hub")

BACKGROUND_EVERY = 4
"""Instruments that are not on screen are fed every this many ticks (1 Hz at the UI's 4 Hz)."""

HISTORY_WAIT_S = 20.0
"""How long live rows wait for an instrument's warm-start history before the estimator starts without it."""


@dataclass(slots=True)
class _Feed:
    """One instrument's estimator and how far into each ring it has read."""

    estimator: Estimator
    cursors: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    """`written` of the trades, liquidations, marks and open-interest rings at the last tick."""


class MapHub:
    """Estimators for every instrument in the store, and their views."""

    def __init__(
        self,
        store: MarketStore,
        config: EstimatorSettings,
        *,
        state_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.config = config
        self.state_dir = state_dir
        """Where estimator state is saved and reloaded from; None keeps nothing across runs."""
        self._clock = clock
        self._feeds: dict[str, _Feed] = {}
        self._expecting: dict[str, float] = {}
        self._ticks = 0

    # -- wiring ---------------------------------------------------------------------------------------------------

    def expect_history(self, keys: Sequence[str]) -> None:
        """Hold live rows of these instruments until their warm-start history arrives (at most HISTORY_WAIT_S)."""
        now = self._clock()
        for key in keys:
            self._expecting[key] = now

    def on_history(self, history: History) -> None:
        """Warm-start the instrument's estimator (the feed engine's callback)."""
        feed = self._feed(history.instrument, tiers=history.tiers, contract_size_base=history.contract_size_base)
        if history.tiers:
            # An estimator made before the tiers came (reloaded, or tired of waiting) takes them for new positions.
            feed.estimator.tiers = tuple(history.tiers)
        if history.klines.size or history.open_interest.size:
            applied = warm_start(
                feed.estimator,
                history.klines,
                history.open_interest,
                liquidations=history.liquidations,
                reported_since_ms=history.liquidations_since_ms,
            )
            if history.liquidations is None:
                heard = "no liquidation history"
            else:
                heard = f"{applied.liquidations} of {history.liquidations.size} reported liquidations learned from"
            log.info(
                "%s warm start: %d of %d candles and %d of %d open-interest rows new to the estimator, %s",
                history.instrument,
                applied.candles,
                history.klines.size,
                applied.open_interest,
                history.open_interest.size,
                heard,
            )
        self._expecting.pop(history.instrument, None)
        self._share_mixes()

    def estimator(self, key: str) -> Estimator | None:
        feed = self._feeds.get(key)
        return feed.estimator if feed is not None else None

    def _feed(self, key: str, **estimator_args: Any) -> _Feed:
        feed = self._feeds.get(key)
        if feed is None:
            path = self._state_path(key)
            loaded = load_state(path, self.config, **estimator_args) if path is not None else None
            if loaded is not None:
                log.info("%s: estimator state reloaded from %s", key, path)
            estimator = loaded or Estimator(key, self.config, **estimator_args)
            feed = _Feed(estimator)
            self._feeds[key] = feed
        return feed

    # -- the tick ---------------------------------------------------------------------------------------------------

    def tick(self, visible: Collection[str] | None = None) -> set[str]:
        """Feed the estimators the rows their instruments received since they were last fed; return those that
        changed.

        With `visible` (the instruments on screen), the others are fed only every `BACKGROUND_EVERY` ticks: they get
        the same rows in the same order, in larger batches, at a fraction of the per-call cost, and catch up at
        once when they come on screen. None feeds every instrument every tick.
        """
        changed: set[str] = set()
        now = self._clock()
        self._ticks += 1
        background = visible is None or self._ticks % BACKGROUND_EVERY == 0
        for key in self.store.instruments():
            if not background and visible is not None and key not in visible:
                continue
            data = self.store.get(key)
            if data is None or data.mark_px is None:
                continue
            since = self._expecting.get(key)
            if since is not None:
                if now - since < HISTORY_WAIT_S:
                    continue
                log.warning("%s: no warm-start history after %.0f s; the map starts from live data", key, now - since)
                del self._expecting[key]
            if self._feed_rows(self._feed(key), data):
                changed.add(key)
        if background:
            changed |= self._share_mixes()
        return changed

    def _share_mixes(self) -> set[str]:
        return share_mixes({key: feed.estimator for key, feed in self._feeds.items()})

    @staticmethod
    def _feed_rows(feed: _Feed, data: InstrumentData) -> bool:
        rings = (data.trades, data.liquidations, data.marks, data.open_interest)
        fresh = []
        for i, ring in enumerate(rings):
            new = ring.written - feed.cursors[i]
            feed.cursors[i] = ring.written
            # Rows older than the ring's capacity are gone; the estimator takes what the ring still holds.
            fresh.append(ring.last(min(new, len(ring))) if new > 0 else None)
        if all(rows is None for rows in fresh):
            return False
        trades, liquidations, marks, open_interest = fresh
        return feed.estimator.update(trades=trades, liquidations=liquidations, marks=marks, open_interest=open_interest)

    # -- views ----------------------------------------------------------------------------------------------------

    def version(self, keys: Sequence[str]) -> int:
        """A number that changes whenever any of these instruments' pictures changes."""
        return sum(feed.estimator.version for key in keys if (feed := self._feeds.get(key)) is not None)

    def score(self, key: str) -> Score | None:
        estimator = self.estimator(key)
        return estimator.score() if estimator is not None else None

    def map_view(self, keys: Sequence[str], range_pct: float, n_bins: int | None) -> MapView | None:
        """One instrument's map, or the sum of several (one asset on several exchanges) on their shared grid."""
        estimators = [e for key in keys if (e := self.estimator(key)) is not None and e.mark_px is not None]
        if not estimators:
            return None
        if len(estimators) == 1:
            return estimators[0].map_view(range_pct, n_bins)
        return _sum_views([e.map_view(range_pct, None) for e in estimators], ",".join(keys), n_bins)

    def clusters(self, keys: Sequence[str], n: int) -> list[Cluster]:
        """The strongest levels, strongest first; for several instruments, clusters of their summed map."""
        estimators = [e for key in keys if (e := self.estimator(key)) is not None and e.mark_px is not None]
        if len(estimators) == 1:
            return estimators[0].clusters(n)
        view = self.map_view(keys, self.config.range_pct, None)
        if view is None or not view.px_low.size:
            return []
        found: list[Cluster] = []
        for side, mass in ((Side.LONG, view.long_usd), (Side.SHORT, view.short_usd)):
            found.extend(
                find_clusters(
                    view.px_low, view.px_high, mass, side, view.mark_px, min_share=self.config.cluster_min_share
                )
            )
        found.sort(key=lambda c: c.notional_usd, reverse=True)
        return found[:n]

    def snapshot_json(self, key: str) -> dict[str, Any] | None:
        """Design §7.3 for one instrument, without the "feed" part the caller adds."""
        estimator = self.estimator(key)
        data = self.store.get(key)
        if estimator is None or estimator.mark_px is None:
            return None
        return estimator.snapshot_json(open_interest_base=data.oi_base if data is not None else None)

    # -- persistence ----------------------------------------------------------------------------------------------

    def _state_path(self, key: str) -> Path | None:
        if self.state_dir is None:
            return None
        return self.state_dir / f"{key.replace(':', '_').replace('/', '_')}.npz"

    def save(self) -> int:
        """Save every estimator that has a picture, atomically; returns how many were saved."""
        saved = 0
        for key, feed in self._feeds.items():
            path = self._state_path(key)
            if path is not None and feed.estimator.mark_px is not None:
                save_state(path, feed.estimator)
                saved += 1
        return saved


FOLLOW_EVIDENCE_SHARE = 0.5
"""An instrument that has learned a mix of its own still follows its asset's leader while its own evidence is
less than this share of the leader's. Measured on the accuracy benchmark's six 3-hour markets against following
only while an instrument learned nothing (EMD ratio): check_bimodal 0.443 -> 0.424, midlev_churn 0.154 -> 0.144,
degen 0.182 -> 0.177, default 0.092 -> 0.090, check_roundlow 0.150 -> 0.155, calm_lowlev unchanged."""


def share_mixes(estimators: Mapping[str, Estimator]) -> set[str]:
    """Each asset's instruments follow the mix of the one with the most evidence among those that learned one:
    those that learned nothing yet, and those whose own evidence is still far less than the leader's
    (`FOLLOW_EVIDENCE_SHARE`), since a few liquidations teach a venue less than many teach another. Returns the
    instruments whose picture changed."""
    by_asset: dict[str, list[tuple[str, Estimator]]] = {}
    for key, estimator in estimators.items():
        by_asset.setdefault(asset_of(key), []).append((key, estimator))
    changed: set[str] = set()
    for members in by_asset.values():
        learned = [member for member in members if member[1].mix_steps]
        if not learned:
            continue
        leader_key, leader = max(learned, key=lambda member: (member[1].evidence, member[1].mix_steps))
        for key, estimator in members:
            if key == leader_key:
                continue
            outweighed = estimator.evidence < FOLLOW_EVIDENCE_SHARE * leader.evidence
            if estimator.follow_mix(leader.leverage_shares, even_if_learned=outweighed):
                log.debug("%s follows the leverage mix learned on %s", key, leader_key)
                changed.add(key)
    return changed


def _sum_views(views: list[MapView], name: str, n_bins: int | None) -> MapView:
    """Add maps whose bins lie on one global log grid: align them by price and sum bin by bin."""
    reference = max(views, key=lambda v: v.px_low.size)
    edges = np.append(reference.px_low, reference.px_high[-1:])
    total = np.zeros((4, reference.px_low.size))
    for view in views:
        if not view.px_low.size:
            continue
        mids = (view.px_low + view.px_high) / 2.0
        index = np.searchsorted(edges, mids, side="right") - 1
        inside = (index >= 0) & (index < reference.px_low.size)
        for row, values in enumerate((view.long_usd, view.short_usd, view.realized_long_usd, view.realized_short_usd)):
            total[row] += np.bincount(index[inside], weights=values[inside], minlength=reference.px_low.size)
    size = reference.px_low.size
    sums, bounds = regroup(total, 0, size, n_bins if n_bins else size)
    return MapView(
        instrument=name,
        ts_ms=max(v.ts_ms for v in views),
        mark_px=reference.mark_px,
        px_low=edges[bounds[:-1]],
        px_high=edges[bounds[1:]],
        long_usd=sums[0],
        short_usd=sums[1],
        realized_long_usd=sums[2],
        realized_short_usd=sums[3],
        version=sum(v.version for v in views),
    )
