"""Clusters (design §4 step 8): strong bins merged into ranked levels, the same rule for estimate and truth."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqtui.model.bins import LogGrid
from liqtui.model.clusters import ClusterRule, find_clusters
from liqtui.model.types import Side

GRID = LogGrid.around(100.0, np.log1p(0.001), 100)
EDGES = GRID.edges()
LOW, HIGH = EDGES[:-1], EDGES[1:]


def humps(*centres_heights: tuple[int, float], width: float = 2.0) -> np.ndarray:
    i = np.arange(GRID.size)
    mass = np.zeros(GRID.size)
    for centre, height in centres_heights:
        mass += height * np.exp(-0.5 * ((i - centre) / width) ** 2)
    return mass


def test_two_separate_humps_are_two_clusters_strongest_first() -> None:
    mass = humps((40, 1.0), (150, 3.0))
    clusters = find_clusters(LOW, HIGH, mass, Side.SHORT, 100.0, min_share=0.02)
    assert len(clusters) == 2
    big, small = clusters
    assert big.notional_usd > small.notional_usd
    assert big.px_low <= EDGES[150] <= big.px_high
    assert small.px_low <= EDGES[40] <= small.px_high
    assert big.distance_pct == pytest.approx((big.px_peak / 100.0 - 1) * 100)
    assert big.distance_pct > 0 > small.distance_pct
    assert big.side is Side.SHORT
    assert sum(c.share for c in clusters) <= 1.0 + 1e-12
    assert big.share == pytest.approx(big.notional_usd / mass.sum())


def test_a_deep_valley_splits_a_run_and_a_shallow_one_does_not() -> None:
    deep = humps((90, 1.0), (100, 1.0), width=1.5)
    assert len(find_clusters(LOW, HIGH, deep, Side.LONG, 100.0, min_share=0.0)) == 2
    shallow = humps((95, 1.0), (98, 1.0), width=2.0)
    assert len(find_clusters(LOW, HIGH, shallow, Side.LONG, 100.0, min_share=0.0)) == 1


def test_no_cluster_is_wider_than_the_rule_allows() -> None:
    mass = np.ones(GRID.size)
    rule = ClusterRule(max_width_bins=7)
    clusters = find_clusters(LOW, HIGH, mass, Side.LONG, 100.0, min_share=0.0, rule=rule)
    assert clusters
    for c in clusters:
        assert np.log(c.px_high / c.px_low) <= 7 * GRID.bin_log + 1e-9


def test_small_clusters_are_left_out_and_an_empty_side_has_none() -> None:
    mass = humps((40, 1.0), (150, 100.0))
    assert len(find_clusters(LOW, HIGH, mass, Side.LONG, 100.0, min_share=0.05)) == 1
    assert find_clusters(LOW, HIGH, np.zeros(GRID.size), Side.LONG, 100.0, min_share=0.0) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1e6), min_size=GRID.size, max_size=GRID.size))
def test_clusters_are_disjoint_inside_the_range_and_ranked(values: list[float]) -> None:
    mass = np.asarray(values)
    clusters = find_clusters(LOW, HIGH, mass, Side.LONG, 100.0, min_share=0.0)
    notionals = [c.notional_usd for c in clusters]
    assert notionals == sorted(notionals, reverse=True)
    spans = sorted((c.px_low, c.px_high) for c in clusters)
    for (_, hi), (lo, _) in itertools.pairwise(spans):
        assert hi <= lo * (1 + 1e-12)
    for c in clusters:
        assert EDGES[0] * (1 - 1e-12) <= c.px_low <= c.px_peak <= c.px_high <= EDGES[-1] * (1 + 1e-12)
        assert 0.0 < c.share <= 1.0 + 1e-12
