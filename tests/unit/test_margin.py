"""Liquidation prices per exchange formula, against every vector of exchanges.md §4 and a few properties."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqtui.model.margin import (
    MarginTier,
    approx_liquidation_px,
    bankruptcy_px_array,
    binance_cum,
    binance_liquidation_price,
    binance_liquidation_px_array,
    binance_next_cum,
    build_tiers,
    bybit_liquidation_price,
    default_tiers,
    max_leverage_for,
    okx_liquidation_price,
    tier_for,
)
from liqtui.model.types import Side

LONG, SHORT = int(Side.LONG), int(Side.SHORT)


def one_tier(mmr: float, max_leverage: float = 125.0) -> tuple[MarginTier, ...]:
    """A table with a single tier, for vectors that give the maintenance rate directly."""
    return (MarginTier(floor=0.0, cap=1e18, mmr=mmr, max_leverage=max_leverage),)


# Binance FAQ's example table: 0-50k 0.4 %, 50k-250k 0.5 %, 250k-1M 1 % (cum from the recursion).
FAQ_TIERS = build_tiers([50_000, 250_000, 1_000_000], [0.004, 0.005, 0.01], [125, 100, 50], with_deduction=True)


class TestBybitVectors:
    @pytest.mark.parametrize(
        "vector",
        [
            pytest.param((LONG, 20_000, 50, 0.0, 19_700), id="B1"),
            pytest.param((SHORT, 20_000, 50, 3_000.0, 23_300), id="B2"),
            pytest.param((LONG, 20_000, 50, -200.0, 19_900), id="B3"),
            pytest.param((LONG, 10_000, 50, 0.0, 9_850), id="B4"),
            pytest.param((SHORT, 8_000, 40, 0.0, 8_160), id="B5"),
        ],
    )
    def test_published_examples(self, vector: tuple[int, float, float, float, float]) -> None:
        """Bybit's help-centre examples, 1 BTC at MMR 0.5 %: (side, entry, leverage, extra margin,
        expected)."""
        side, entry, leverage, extra, expected = vector
        lp = bybit_liquidation_price(side, 1.0, entry, leverage, one_tier(0.005), extra)
        assert lp == pytest.approx(expected, abs=1e-9)

    def test_mm_deduction_moves_the_price_as_the_formula_says(self) -> None:
        tiers = (MarginTier(0.0, 1e12, 0.01, 50, maintenance_amount=500.0),)
        # PV 100k, IM 5k, MM 1000 - 500 = 500: LP = 100,000 - 4,500.
        assert bybit_liquidation_price(LONG, 1.0, 100_000, 20, tiers) == pytest.approx(95_500)


class TestBinanceVectors:
    def test_n1_position_264k_is_in_the_1_percent_tier(self) -> None:
        assert tier_for(FAQ_TIERS, 264_000).mmr == 0.01

    def test_n2_maintenance_amount_recursion(self) -> None:
        assert binance_next_cum(50.0, 250_000, 0.005, 0.01) == pytest.approx(1_300)
        assert tier_for(FAQ_TIERS, 500_000).maintenance_amount == pytest.approx(1_300)

    def test_d5_cum_matches_the_published_btcusdt_table(self) -> None:
        cums = binance_cum([0, 50_000, 600_000, 3_000_000, 12_000_000], [0.004, 0.005, 0.0065, 0.01, 0.02])
        assert cums == [0, 50, 950, 11_450, 131_450]

    def test_default_btcusdt_table_is_the_published_one(self) -> None:
        tiers = default_tiers("binance", "BTC")
        assert [t.maintenance_amount for t in tiers[:5]] == [0, 50, 950, 11_450, 131_450]
        assert tiers[-1].maintenance_amount == 421_481_450
        assert [t.max_leverage for t in tiers[:5]] == [125, 100, 75, 50, 25]

    @pytest.mark.parametrize(
        "vector",
        [
            pytest.param((LONG, 1.0, 6_000, 0.005, 50, 54_221.1055276), id="D1"),
            pytest.param((SHORT, 1.0, 6_000, 0.005, 50, 65_721.3930348), id="D2"),
            pytest.param((LONG, 0.1, 600, 0.004, 0, 54_216.8674698), id="D3"),
            pytest.param((SHORT, 0.1, 600, 0.004, 0, 65_737.0517928), id="D4"),
        ],
    )
    def test_derived_vectors(self, vector: tuple[int, float, float, float, float, float]) -> None:
        """Entry 60,000 through the real BTCUSDT table, whose bracket has the vector's MMR and cum:
        (side, qty, wallet balance, mmr, cum, expected)."""
        side, qty, wallet, mmr, cum, expected = vector
        tiers = default_tiers("binance", "BTC")
        chosen = tier_for(tiers, qty * 60_000)
        assert (chosen.mmr, chosen.maintenance_amount) == (mmr, cum)
        assert binance_liquidation_price(side, qty, 60_000, wallet, tiers) == pytest.approx(expected, abs=1e-6)

    def test_d3_differs_from_the_popular_approximation(self) -> None:
        assert float(approx_liquidation_px(LONG, 60_000, 10, 0.004)) == pytest.approx(54_240)

    def test_bracket_is_chosen_again_when_the_liquidation_notional_falls_below_it(self) -> None:
        """Entry notional 60k is tier 2, but a 3x long liquidates near 40k, which is tier 1 (0.4 %, cum 0)."""
        lp = binance_liquidation_price(LONG, 1.0, 60_000, 20_000, default_tiers("binance", "BTC"))
        assert lp == pytest.approx((60_000 - 20_000) / (1 - 0.004))


class TestOkxVectors:
    @pytest.mark.parametrize(
        "vector",
        [
            pytest.param((LONG, 50, 0.01, 4_000, 20, 3_977.90055249), id="O1"),
            pytest.param((SHORT, 50, 0.01, 4_000, 20, 4_021.90144350), id="O2"),
            pytest.param((LONG, 100, 0.01, 60_000, 6_000, 54_244.0984430), id="O3"),
            pytest.param((SHORT, 100, 0.01, 60_000, 6_000, 65_704.3305127), id="O4"),
        ],
    )
    def test_derived_vectors(self, vector: tuple[int, float, float, float, float, float]) -> None:
        """(side, contracts, ctVal, entry, margin, expected) at MMR 0.4 %, taker fee 0.05 %; O1/O2 have
        ctVal × N = 0.5."""
        side, contracts, ct_val, entry, margin, expected = vector
        tiers = (MarginTier(0.0, 1_000, 0.004, 100), MarginTier(1_000, 3_000, 0.005, 75))
        assert okx_liquidation_price(side, contracts, ct_val, entry, margin, tiers) == pytest.approx(expected, abs=1e-6)

    def test_tier_is_chosen_by_contracts(self) -> None:
        tiers = default_tiers("okx", "BTC")
        assert tier_for(tiers, 1_000).mmr == 0.004
        assert tier_for(tiers, 1_000.01).mmr == 0.005


class TestTiers:
    def test_sizes_above_the_last_cap_use_the_last_tier(self) -> None:
        tiers = default_tiers("bybit", "ETH")
        assert tier_for(tiers, 1e15) is tiers[-1]

    def test_cap_belongs_to_its_tier(self) -> None:
        assert tier_for(FAQ_TIERS, 50_000).mmr == 0.004
        assert tier_for(FAQ_TIERS, 50_000.01).mmr == 0.005

    @pytest.mark.parametrize("exchange", ["binance", "bybit", "okx"])
    @pytest.mark.parametrize("asset", ["BTC", "ETH", "SOL", "DOGE"])
    def test_default_tables_allow_no_leverage_that_liquidates_at_entry(self, exchange: str, asset: str) -> None:
        tiers = default_tiers(exchange, asset)
        assert all(a.cap == b.floor for a, b in itertools.pairwise(tiers))
        # OKX adds the taker fee to the maintenance rate.
        fee = 0.0005 if exchange == "okx" else 0.0
        assert all(1 / t.max_leverage > t.mmr + fee for t in tiers)

    def test_max_leverage_for_sizes(self) -> None:
        got = max_leverage_for(default_tiers("binance", "BTC"), np.array([1_000, 100_000, 5e6]))
        assert got.tolist() == [125, 100, 50]

    def test_unknown_exchange_is_refused(self) -> None:
        with pytest.raises(ValueError, match="kraken"):
            default_tiers("kraken", "BTC")


entries = st.floats(1.0, 200_000.0)
leverages = st.floats(1.5, 100.0)
sides = st.sampled_from([LONG, SHORT])


@settings(max_examples=200, deadline=None)
@given(side=sides, entry=entries, leverage=leverages, mmr=st.floats(0.001, 0.006))
def test_bybit_single_tier_is_the_approximation(side: int, entry: float, leverage: float, mmr: float) -> None:
    """With no deduction Bybit's formula is exactly E·(1 ∓ 1/L ± m), the estimator's approximation."""
    tiers = one_tier(mmr)
    exact = bybit_liquidation_price(side, 0.7, entry, leverage, tiers)
    assert exact == pytest.approx(float(approx_liquidation_px(side, entry, leverage, mmr)), rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(side=sides, qty=st.floats(0.001, 50.0), entry=entries, leverage=st.floats(1.5, 100.0))
def test_liquidation_lies_between_entry_and_bankruptcy(side: int, qty: float, entry: float, leverage: float) -> None:
    """For every formula, with leverage the tier allows: the position liquidates before its margin is gone."""
    margin = qty * entry / leverage
    binance_tiers = default_tiers("binance", "BTC")
    if leverage > float(max_leverage_for(binance_tiers, qty * entry)):
        return
    bankrupt = float(bankruptcy_px_array(side, qty, entry, margin))
    lps = [
        binance_liquidation_price(side, qty, entry, margin, binance_tiers),
        bybit_liquidation_price(side, qty, entry, leverage, one_tier(0.005)),
        okx_liquidation_price(side, qty / 0.01, 0.01, entry, margin, one_tier(0.004)),
    ]
    for lp in lps:
        if side == LONG:
            assert bankrupt < lp < entry
        else:
            assert entry < lp < bankrupt


@settings(max_examples=50, deadline=None)
@given(data=st.lists(st.tuples(sides, st.floats(0.001, 100.0), entries, leverages), min_size=1, max_size=20))
def test_array_form_equals_scalar_form(data: list[tuple[int, float, float, float]]) -> None:
    tiers = default_tiers("binance", "BTC")
    side, qty, entry, lev = (np.array(column) for column in zip(*data, strict=True))
    wallet = qty * entry / lev
    arr = binance_liquidation_px_array(side, qty, entry, wallet, tiers)
    scalars = [
        binance_liquidation_price(int(s), q, e, w, tiers) for s, q, e, w in zip(side, qty, entry, wallet, strict=True)
    ]
    assert arr.tolist() == scalars
