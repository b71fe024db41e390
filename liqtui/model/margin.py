"""Maintenance-margin tiers and isolated-margin liquidation prices, per exchange (`../shared/exchanges.md` §1.9,
§2.6, §3.7, with the test vectors of §4). Used by the simulator (the truth) and by the estimator.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MarginTier:
    """One row of an exchange's maintenance-margin (risk limit) table.

    `floor` and `cap` are in the exchange's own unit for the table: quote notional on Binance (`notionalFloor`,
    `notionalCap`) and Bybit (`riskLimitValue` is the cap), **contracts** on OKX (`minSz`, `maxSz`).
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
