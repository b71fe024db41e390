"""Maintenance-margin tiers and isolated-margin liquidation prices, per exchange (`../shared/exchanges.md`
§1.9, §2.6, §3.7, with the test vectors of §4). Used by the simulator (the truth) and by the estimator.

Each exchange formula exists once, vectorised over numpy arrays (`*_liquidation_px_array`), so the simulator
can price thousands of positions in one call; the scalar functions wrap the array ones, so both give the same
digits. Side is the sign of the position: `Side.LONG` (+1) or `Side.SHORT` (-1), or a plain +1 / -1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

OKX_DEFAULT_TAKER_FEE = 0.0005
"""OKX's base taker fee rate, which its isolated liquidation formula adds to the maintenance rate."""


@dataclass(frozen=True, slots=True)
class MarginTier:
    """One row of an exchange's maintenance-margin (risk limit) table.

    `floor` and `cap` are in the exchange's own unit for the table: quote notional on Binance
    (`notionalFloor`, `notionalCap`) and Bybit (`riskLimitValue` is the cap), **contracts** on OKX (`minSz`,
    `maxSz`).
    """

    floor: float
    """The position size at which this tier starts (exclusive of the tier below)."""

    cap: float
    """The largest position size in this tier."""

    mmr: float
    """The maintenance margin rate, a decimal fraction (0.004 is 0.4 %)."""

    max_leverage: float
    """The highest leverage allowed in this tier."""

    maintenance_amount: float = 0.0
    """Binance `cum` / Bybit `mmDeduction`, in quote currency; 0 on OKX."""


# ------------------------------------------------------------------------------------------------------------
# Tier tables


def tier_index(tiers: Sequence[MarginTier], size: ArrayLike) -> npt.NDArray[np.intp]:
    """The index of the tier each size falls in: the first tier whose `cap` is at least the size.

    Sizes above the last cap are put in the last tier (the exchange would refuse them; the simulator never
    opens them, the estimator needs an answer).
    """
    caps = np.fromiter((t.cap for t in tiers), dtype=np.float64, count=len(tiers))
    index = np.searchsorted(caps, np.abs(np.asarray(size, dtype=np.float64)), side="left")
    return np.minimum(index, len(tiers) - 1)


def tier_for(tiers: Sequence[MarginTier], size: float) -> MarginTier:
    """The tier a position of `size` (in the table's unit) falls in; see `tier_index`."""
    if not tiers:
        raise ValueError("a margin tier table needs at least one tier")
    return tiers[int(tier_index(tiers, size))]


def binance_next_cum(prev_cum: float, floor: float, prev_mmr: float, mmr: float) -> float:
    """One step of Binance's maintenance-amount recursion.

    cum_n = cum_(n-1) + floor_n × (mmr_n − mmr_(n-1))
    """
    return prev_cum + floor * (mmr - prev_mmr)


def binance_cum(floors: Sequence[float], mmrs: Sequence[float]) -> list[float]:
    """The maintenance amount (`cum`) of every tier, from the tiers' floors and maintenance rates.

    `floors` and `mmrs` have one entry per tier, lowest tier first; the first tier's cum is 0 (its floor is
    not used). Bybit's `mmDeduction` follows the same recursion.
    """
    if len(floors) != len(mmrs):
        raise ValueError(f"{len(floors)} floors for {len(mmrs)} maintenance rates: give one of each per tier")
    cums: list[float] = []
    for i, (floor, mmr) in enumerate(zip(floors, mmrs, strict=True)):
        cums.append(0.0 if i == 0 else binance_next_cum(cums[-1], floor, mmrs[i - 1], mmr))
    # The exchanges publish exact decimals; rounding drops the binary noise (949.9999999999998 → 950).
    return [round(cum, 8) for cum in cums]


def build_tiers(
    caps: Sequence[float], mmrs: Sequence[float], max_leverages: Sequence[float], *, with_deduction: bool
) -> tuple[MarginTier, ...]:
    """A tier table from its caps (each tier's floor is the cap below it), rates and leverage limits.

    With `with_deduction` the maintenance amounts follow `binance_cum` (Binance `cum`, Bybit `mmDeduction`,
    which keep the maintenance margin continuous across tiers); without it they are 0 (OKX).
    """
    if not len(caps) == len(mmrs) == len(max_leverages) or not caps:
        raise ValueError("a tier table needs the same number (at least one) of caps, rates and leverages")
    floors = [0.0, *caps[:-1]]
    cums = binance_cum(floors, mmrs) if with_deduction else [0.0] * len(caps)
    return tuple(
        MarginTier(floor=float(f), cap=float(c), mmr=float(m), max_leverage=float(lev), maintenance_amount=cum)
        for f, c, m, lev, cum in zip(floors, caps, mmrs, max_leverages, cums, strict=True)
    )


def _tier_columns(tiers: Sequence[MarginTier]) -> tuple[FloatArray, FloatArray, FloatArray]:
    mmr = np.array([t.mmr for t in tiers], dtype=np.float64)
    amount = np.array([t.maintenance_amount for t in tiers], dtype=np.float64)
    max_lev = np.array([t.max_leverage for t in tiers], dtype=np.float64)
    return mmr, amount, max_lev


def max_leverage_for(tiers: Sequence[MarginTier], size: ArrayLike) -> FloatArray:
    """The highest leverage the table allows for each position size (in the table's unit)."""
    _, _, max_lev = _tier_columns(tiers)
    return max_lev[tier_index(tiers, size)]


# Default tables for the simulator and as the estimator's fallback. Binance BTCUSDT is the freqtrade snapshot
# of the signed leverageBracket endpoint (exchanges.md §1.8); the others are plausible tables of the same
# shape (not copies of live tables, which change often).

_BINANCE_TABLES: dict[str, tuple[list[float], list[float], list[float]]] = {
    "BTC": (
        [50e3, 600e3, 3e6, 12e6, 70e6, 100e6, 230e6, 480e6, 600e6, 800e6, 1.2e9, 1.8e9],
        [0.004, 0.005, 0.0065, 0.01, 0.02, 0.025, 0.05, 0.1, 0.125, 0.15, 0.25, 0.5],
        [125, 100, 75, 50, 25, 20, 10, 5, 4, 3, 2, 1],
    ),
    "ETH": (
        [50e3, 500e3, 2e6, 10e6, 50e6, 80e6, 150e6, 300e6, 500e6],
        [0.004, 0.005, 0.0065, 0.01, 0.02, 0.025, 0.05, 0.1, 0.125],
        [125, 100, 75, 50, 25, 20, 10, 5, 4],
    ),
    "ALT": (
        [10e3, 100e3, 500e3, 2e6, 10e6, 20e6, 50e6, 100e6],
        [0.005, 0.0065, 0.01, 0.02, 0.025, 0.05, 0.1, 0.125],
        [75, 50, 40, 25, 20, 10, 5, 4],
    ),
}

_BYBIT_TABLES: dict[str, tuple[list[float], list[float], list[float]]] = {
    "BTC": (
        [2e6, 10e6, 20e6, 40e6, 80e6, 150e6, 300e6],
        [0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1],
        [100, 50, 33.33, 25, 16.67, 10, 5],
    ),
    "ETH": (
        [1e6, 5e6, 10e6, 20e6, 40e6, 80e6, 150e6],
        [0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1],
        [100, 50, 33.33, 25, 16.67, 10, 5],
    ),
    "ALT": (
        [200e3, 1e6, 3e6, 6e6, 12e6, 25e6, 50e6],
        [0.01, 0.015, 0.02, 0.025, 0.035, 0.05, 0.1],
        [75, 50, 33.33, 25, 16.67, 10, 5],
    ),
}

# OKX tables are in contracts of the instrument (BTC ctVal 0.01, ETH 0.1, SOL-like 1).
_OKX_TABLES: dict[str, tuple[list[float], list[float], list[float]]] = {
    "BTC": (
        [1000, 3000, 5000, 10000, 20000, 40000, 80000],
        [0.004, 0.005, 0.0075, 0.01, 0.02, 0.03, 0.05],
        [100, 75, 50, 40, 20, 10, 5],
    ),
    "ETH": (
        [5000, 15000, 30000, 60000, 120000, 250000, 500000],
        [0.004, 0.005, 0.0075, 0.01, 0.02, 0.03, 0.05],
        [100, 75, 50, 40, 20, 10, 5],
    ),
    "ALT": (
        [5000, 20000, 50000, 100000, 200000, 400000, 800000],
        [0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05],
        [75, 50, 40, 25, 20, 10, 5],
    ),
}


def default_tiers(exchange: str, asset: str) -> tuple[MarginTier, ...]:
    """A default maintenance table for `asset` on `exchange` (`binance`, `bybit`, `okx`).

    BTC and ETH have their own tables; any other asset gets an alt-coin table (SOL-like). OKX tables are in
    contracts of the instrument liqtui's simulator lists (ctVal 0.01 BTC, 0.1 ETH, 1 otherwise).
    """
    tables = {"binance": _BINANCE_TABLES, "bybit": _BYBIT_TABLES, "okx": _OKX_TABLES}.get(exchange)
    if tables is None:
        raise ValueError(f"no default margin tiers for exchange {exchange!r}: use binance, bybit or okx")
    caps, mmrs, levs = tables.get(asset.upper(), tables["ALT"])
    return build_tiers(caps, mmrs, levs, with_deduction=exchange != "okx")


# ------------------------------------------------------------------------------------------------------------
# Liquidation prices, vectorised


def _as_f64(value: ArrayLike) -> FloatArray:
    return np.asarray(value, dtype=np.float64)


def binance_liquidation_px_array(
    side: ArrayLike,
    qty_base: ArrayLike,
    entry_px: ArrayLike,
    wallet_balance: ArrayLike,
    tiers: Sequence[MarginTier],
) -> FloatArray:
    """Binance USDⓈ-M isolated, one-way mode (exchanges.md §1.9), for many positions at once.

    long `LP = (Q·EP − WB − cum) / (Q·(1 − MMR))`, short `LP = (Q·EP + WB + cum) / (Q·(1 + MMR))`, with the
    bracket chosen by the position's notional at entry and chosen again while `Q·LP` falls in another bracket.
    A result ≤ 0 means the position cannot be liquidated (Binance shows "--").
    """
    s = _as_f64(side)
    q = np.abs(_as_f64(qty_base))
    ep = _as_f64(entry_px)
    wb = _as_f64(wallet_balance)
    mmr, cum, _ = _tier_columns(tiers)
    tier = tier_index(tiers, q * ep)
    lp = (q * ep - s * (wb + cum[tier])) / (q * (1.0 - s * mmr[tier]))
    # Re-choosing can only move a bracket or two; the bound stops a (theoretical) oscillation between two.
    for _ in range(len(tiers)):
        again = tier_index(tiers, q * np.maximum(lp, 0.0))
        if np.array_equal(again, tier):
            break
        tier = again
        lp = (q * ep - s * (wb + cum[tier])) / (q * (1.0 - s * mmr[tier]))
    return np.asarray(lp, dtype=np.float64)


def bybit_liquidation_px_array(  # noqa: PLR0917 - the exchange formula's inputs, in the documented order
    side: ArrayLike,
    qty_base: ArrayLike,
    entry_px: ArrayLike,
    leverage: ArrayLike,
    tiers: Sequence[MarginTier],
    extra_margin: ArrayLike = 0.0,
) -> FloatArray:
    """Bybit USDT contracts, isolated (exchanges.md §2.6), for many positions at once.

    `LP = EP ∓ (IM − MM)/Q ∓ Extra/Q` with `IM = PV/leverage`, `MM = PV·MMR − mmDeduction`, `PV = Q·EP`; the
    risk-limit tier is chosen by the position value. Fees to close are ignored, as in Bybit's published
    examples.
    """
    s = _as_f64(side)
    q = np.abs(_as_f64(qty_base))
    ep = _as_f64(entry_px)
    lev = _as_f64(leverage)
    extra = _as_f64(extra_margin)
    mmr, deduction, _ = _tier_columns(tiers)
    pv = q * ep
    tier = tier_index(tiers, pv)
    im = pv / lev
    mm = pv * mmr[tier] - deduction[tier]
    return np.asarray(ep - s * (im - mm) / q - s * extra / q, dtype=np.float64)


def okx_liquidation_px_array(  # noqa: PLR0917 - the exchange formula's inputs, in the documented order
    side: ArrayLike,
    contracts: ArrayLike,
    ct_val: float,
    entry_px: ArrayLike,
    margin: ArrayLike,
    tiers: Sequence[MarginTier],
    taker_fee: float = OKX_DEFAULT_TAKER_FEE,
) -> FloatArray:
    """OKX USDT-margined swaps, isolated (exchanges.md §3.7), for many positions at once.

    long `LP = (ctVal·N·EP − M) / (ctVal·N·(1 − MMR − fee))`, short `LP = (ctVal·N·EP + M) /
    (ctVal·N·(1 + MMR + fee))`; the tier is chosen by the size in contracts. `M` is the position's margin.
    """
    s = _as_f64(side)
    n = np.abs(_as_f64(contracts))
    ep = _as_f64(entry_px)
    m = _as_f64(margin)
    mmr, _, _ = _tier_columns(tiers)
    tier = tier_index(tiers, n)
    base = ct_val * n
    return np.asarray((base * ep - s * m) / (base * (1.0 - s * (mmr[tier] + taker_fee))), dtype=np.float64)


def bankruptcy_px_array(side: ArrayLike, qty_base: ArrayLike, entry_px: ArrayLike, margin: ArrayLike) -> FloatArray:
    """The price at which an isolated position's margin is exactly lost: `EP ∓ margin/Q` (fees ignored)."""
    s = _as_f64(side)
    return np.asarray(_as_f64(entry_px) - s * _as_f64(margin) / np.abs(_as_f64(qty_base)), dtype=np.float64)


def approx_liquidation_px(side: ArrayLike, entry_px: ArrayLike, leverage: ArrayLike, mmr: ArrayLike) -> FloatArray:
    """The estimator's approximation (design §4): long `E·(1 − 1/L + m)`, short `E·(1 + 1/L − m)`.

    Every argument broadcasts, so one call prices many positions over many leverages.
    """
    s = _as_f64(side)
    return np.asarray(_as_f64(entry_px) * (1.0 - s * (1.0 / _as_f64(leverage) - _as_f64(mmr))), dtype=np.float64)


# ------------------------------------------------------------------------------------------------------------
# Scalar forms


def _scalar(value: npt.NDArray[Any]) -> float:
    return float(value.reshape(-1)[0])


def binance_liquidation_price(
    side: int, qty_base: float, entry_px: float, wallet_balance: float, tiers: Sequence[MarginTier]
) -> float:
    """One Binance isolated position's liquidation price; see `binance_liquidation_px_array`."""
    return _scalar(binance_liquidation_px_array(side, qty_base, entry_px, wallet_balance, tiers))


def bybit_liquidation_price(  # noqa: PLR0917 - the exchange formula's inputs, in the documented order
    side: int,
    qty_base: float,
    entry_px: float,
    leverage: float,
    tiers: Sequence[MarginTier],
    extra_margin: float = 0.0,
) -> float:
    """One Bybit isolated position's liquidation price; see `bybit_liquidation_px_array`."""
    return _scalar(bybit_liquidation_px_array(side, qty_base, entry_px, leverage, tiers, extra_margin))


def okx_liquidation_price(  # noqa: PLR0917 - the exchange formula's inputs, in the documented order
    side: int,
    contracts: float,
    ct_val: float,
    entry_px: float,
    margin: float,
    tiers: Sequence[MarginTier],
    taker_fee: float = OKX_DEFAULT_TAKER_FEE,
) -> float:
    """One OKX isolated position's liquidation price; see `okx_liquidation_px_array`."""
    return _scalar(okx_liquidation_px_array(side, contracts, ct_val, entry_px, margin, tiers, taker_fee))
