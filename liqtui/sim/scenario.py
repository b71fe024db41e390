"""Simulator scenarios (design §7.4): what the simulated market lists and how its traders behave, read from
TOML.

A scenario is a frozen `Scenario`. `default_scenario()` is built from the dataclass defaults and equals the
shipped `scenarios/default.toml`; `load_scenario(path)` reads a file strictly: an unknown key or a bad value
is a `ScenarioError` that names the file and the key (with a "did you mean" for near misses).

Keys a file leaves out take the defaults: for an asset or exchange the default scenario also has (`BTC`,
`ETH`, `SOL`; `binance`, `bybit`, `okx`), that one's values, else the field defaults below. A file that has an
`[assets]` or `[exchanges]` table lists all of them.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from liqtui.errors import ScenarioError
from liqtui.model.types import Exchange

SCENARIO_DIR = "sim/scenarios"
"""Where the built-in scenarios live inside the package."""


def _num(default: float, *, gt: float | None = None, ge: float | None = None, le: float | None = None) -> Any:
    """A numeric field with its allowed range, checked when a file is loaded."""
    return field(default=default, metadata={"gt": gt, "ge": ge, "le": le})


@dataclass(frozen=True, slots=True)
class AssetSpec:
    """One underlying asset: its price shared by the exchanges, and how that price moves."""

    name: str
    """The base asset (`BTC`); instruments are `BTCUSDT` (Binance, Bybit) and `BTC-USDT-SWAP` (OKX)."""
    start_px: float = _num(100.0, gt=0)
    """The price at the start of the pre-run history, USDT."""
    tick_size: float = _num(0.01, gt=0)
    """The price increment of every exchange's instrument."""
    qty_step: float = _num(0.001, gt=0)
    """The size increment in base units (Binance, Bybit)."""
    okx_ct_val: float = _num(1.0, gt=0)
    """OKX's contract value in base units (`ctVal`: 0.01 BTC, 0.1 ETH, 1 SOL)."""
    daily_vol: float = _num(0.03, ge=0, le=1)
    """The volatility of the price's random walk over one day, in the normal regime (0.03 is 3 %)."""
    jump_rate_per_day: float = _num(2.0, ge=0)
    """How many price jumps happen per day on average."""
    jump_size: float = _num(0.01, ge=0, le=0.5)
    """The mean absolute size of a jump, a fraction of the price."""
    impact_bps_per_musd: float = _num(2.0, ge=0)
    """How far one million USDT of net taker flow (all exchanges together) moves the price, in basis
    points."""
    activity: float = _num(1.0, ge=0)
    """Multiplies each exchange's arrival rates for this asset (BTC trades more than SOL)."""
    size_scale: float = _num(1.0, gt=0)
    """Multiplies the traders' position sizes for this asset."""


@dataclass(frozen=True, slots=True)
class ExchangeSpec:
    """One exchange: what it lists and its own trader population."""

    name: str
    """`binance`, `bybit` or `okx`."""
    assets: tuple[str, ...] = ("BTC", "ETH", "SOL")
    """The assets it lists, each as one linear perpetual."""
    opens_per_s: float = _num(2.0, ge=0)
    """Positions opened per second per instrument (Poisson arrivals), times the asset's `activity`."""
    mean_hold_minutes: float = _num(240.0, gt=0)
    """How long a position stays open on average unless it is liquidated (exponential)."""
    noise_trades_per_s: float = _num(4.0, ge=0)
    """Taker trades per second per instrument that open or close no tracked position (market makers, HFT)."""
    momentum: float = _num(0.25, ge=-1, le=1)
    """How much the last minutes' move tilts new positions: > 0 follows the trend, < 0 fades it."""
    basis_bps: float = _num(1.5, ge=0)
    """The size of the mark price's own noise around the shared price, in basis points."""


@dataclass(frozen=True, slots=True)
class TraderSpec:
    """How traders size and lever their positions (every exchange)."""

    leverage_values: tuple[float, ...] = (2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 33.0, 50.0, 75.0)
    """The leverages traders choose from. Deliberately not the estimator's default mix."""
    leverage_weights: tuple[float, ...] = (0.08, 0.12, 0.18, 0.16, 0.14, 0.14, 0.09, 0.06, 0.03)
    """How often each leverage is chosen (normalised to sum to 1)."""
    size_median_usd: float = _num(10_000.0, gt=0)
    """The median position notional, USDT."""
    size_sigma: float = _num(1.3, ge=0, le=4)
    """The spread of the (log-normal) body of position sizes."""
    whale_share: float = _num(0.02, ge=0, le=1)
    """The share of positions drawn from the heavy (Pareto) tail."""
    whale_alpha: float = _num(1.3, gt=0.5)
    """The Pareto tail index of whale sizes (smaller is heavier)."""
    size_max_usd: float = _num(20_000_000.0, gt=0)
    """No single position is larger than this notional, USDT."""
    funding_aversion: float = _num(0.3, ge=0, le=1)
    """How much a crowded side (long/short imbalance) discourages new positions on that side."""


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """Market-wide dynamics."""

    regime_vol_multipliers: tuple[float, ...] = (0.6, 1.0, 1.8)
    """Volatility regimes, as multiples of each asset's `daily_vol`; the market switches between them."""
    regime_mean_minutes: float = _num(120.0, gt=0)
    """How long a volatility regime lasts on average."""
    temporary_impact_share: float = _num(0.5, ge=0, le=1)
    """The share of a flow's price impact that fades again (the rest is permanent)."""
    impact_half_life_s: float = _num(300.0, gt=0)
    """How fast the temporary part of price impact fades."""
    impact_release_s: float = _num(3.0, ge=0)
    """Flow moves the price over at least this many seconds (how fast a cascade can run)."""
    funding_base_rate: float = _num(0.0001, ge=-0.01, le=0.01)
    """The funding rate of a balanced market (0.0001 is 0.01 % per 8 hours)."""
    funding_per_imbalance: float = _num(0.002, ge=0, le=0.05)
    """How far a fully one-sided market would push the funding rate."""
    liquidation_slippage_bps: float = _num(3.0, ge=0)
    """How much worse than the mark a liquidation order fills, for a small order, in basis points."""


def _default_assets() -> tuple[AssetSpec, ...]:
    return (
        AssetSpec(
            name="BTC",
            start_px=84000.0,
            tick_size=0.1,
            qty_step=0.001,
            okx_ct_val=0.01,
            daily_vol=0.02,
            jump_rate_per_day=1.5,
            jump_size=0.006,
            impact_bps_per_musd=1.0,
            activity=1.0,
            size_scale=1.5,
        ),
        AssetSpec(
            name="ETH",
            start_px=3200.0,
            tick_size=0.01,
            qty_step=0.001,
            okx_ct_val=0.1,
            daily_vol=0.028,
            jump_rate_per_day=1.5,
            jump_size=0.008,
            impact_bps_per_musd=2.0,
            activity=0.7,
            size_scale=1.0,
        ),
        AssetSpec(
            name="SOL",
            start_px=140.0,
            tick_size=0.001,
            qty_step=0.01,
            okx_ct_val=1.0,
            daily_vol=0.04,
            jump_rate_per_day=2.0,
            jump_size=0.012,
            impact_bps_per_musd=5.0,
            activity=0.5,
            size_scale=0.6,
        ),
    )


def _default_exchanges() -> tuple[ExchangeSpec, ...]:
    return (
        ExchangeSpec(
            name="binance",
            opens_per_s=2.0,
            mean_hold_minutes=240.0,
            noise_trades_per_s=10.0,
            momentum=0.25,
            basis_bps=1.0,
        ),
        ExchangeSpec(
            name="bybit",
            opens_per_s=1.2,
            mean_hold_minutes=180.0,
            noise_trades_per_s=7.0,
            momentum=0.35,
            basis_bps=1.5,
        ),
        ExchangeSpec(
            name="okx",
            opens_per_s=0.8,
            mean_hold_minutes=300.0,
            noise_trades_per_s=5.0,
            momentum=0.1,
            basis_bps=2.0,
        ),
    )


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything the simulated market needs to know, besides the seed and the clock."""

    name: str = "default"
    """A label for status pages and logs."""
    history_hours: float = _num(24.0, ge=0, le=24 * 31)
    """How much market history is simulated before the server starts serving."""
    speed: float = _num(1.0, gt=0, le=1000)
    """The default speed factor: market seconds per wall second."""
    step_ms: int = _num(100, ge=10, le=1000)
    """The wall-clock length of one live simulation step."""
    market: MarketSpec = field(default_factory=MarketSpec)
    """Market-wide dynamics."""
    traders: TraderSpec = field(default_factory=TraderSpec)
    """Leverage mix and position sizes."""
    assets: tuple[AssetSpec, ...] = field(default_factory=_default_assets)
    """The underlying assets."""
    exchanges: tuple[ExchangeSpec, ...] = field(default_factory=_default_exchanges)
    """The exchanges and what they list."""

    def asset(self, name: str) -> AssetSpec:
        """The asset called `name`."""
        for spec in self.assets:
            if spec.name == name:
                return spec
        raise KeyError(name)


def default_scenario() -> Scenario:
    """The built-in scenario (equal to `liqtui/sim/scenarios/default.toml`)."""
    return Scenario()


def builtin_scenario_path(name: str) -> Path:
    """The path of a scenario shipped with liqtui (`default`, `degen`, `calm`)."""
    return Path(str(resources.files("liqtui").joinpath(SCENARIO_DIR, f"{name}.toml")))


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file, strictly. Raises ScenarioError naming the file and the offending key."""
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{file}: no such scenario file.") from None
    except OSError as exc:
        raise ScenarioError(f"{file}: cannot be read ({exc.strerror or exc}).") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{file}: is not UTF-8 text.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{file}: is not valid TOML ({exc}).") from None
    return scenario_from_dict(data, source=str(file))


def scenario_from_dict(data: Mapping[str, Any], source: str = "<scenario>") -> Scenario:
    """A scenario from already-parsed TOML (as `load_scenario`, with `source` naming where it came from)."""
    reader = _Reader(source)
    nested = {"market", "traders", "assets", "exchanges"}
    scalars = reader.build(
        Scenario,
        {k: v for k, v in data.items() if k not in nested},
        "",
        extra_keys=nested,
        skip={"market", "traders", "assets", "exchanges"},
    )
    scenario = Scenario(**scalars)
    if "market" in data:
        scenario = replace(
            scenario, market=MarketSpec(**reader.build(MarketSpec, reader.table(data, "market"), "market."))
        )
    if "traders" in data:
        scenario = replace(
            scenario,
            traders=TraderSpec(**reader.build(TraderSpec, reader.table(data, "traders"), "traders.")),
        )
    if "assets" in data:
        assets = []
        for name, table in reader.table(data, "assets").items():
            values = reader.build(
                AssetSpec,
                reader.table({name: table}, name, prefix="assets."),
                f"assets.{name}.",
                skip={"name"},
            )
            known = {a.name: a for a in _default_assets()}
            assets.append(replace(known[name], **values) if name in known else AssetSpec(name=name, **values))
        scenario = replace(scenario, assets=tuple(assets))
    if "exchanges" in data:
        exchanges = []
        for name, table in reader.table(data, "exchanges").items():
            values = reader.build(
                ExchangeSpec,
                reader.table({name: table}, name, prefix="exchanges."),
                f"exchanges.{name}.",
                skip={"name"},
            )
            known_ex = {e.name: e for e in _default_exchanges()}
            exchanges.append(
                replace(known_ex[name], **values) if name in known_ex else ExchangeSpec(name=name, **values)
            )
        scenario = replace(scenario, exchanges=tuple(exchanges))
    _check_consistency(scenario, source)
    return scenario


class _Reader:
    """Turns TOML tables into dataclass keyword arguments, raising ScenarioError on anything unexpected."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, message: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: {message}")

    def table(self, data: Mapping[str, Any], key: str, prefix: str = "") -> Mapping[str, Any]:
        value = data[key]
        if not isinstance(value, dict):
            raise self.fail(f"'{prefix}{key}' must be a table ([{prefix}{key}]), not {_describe(value)}.")
        return value

    def build(
        self,
        cls: type,
        table: Mapping[str, Any],
        prefix: str,
        *,
        extra_keys: set[str] | None = None,
        skip: set[str] | None = None,
    ) -> dict[str, Any]:
        specs = {f.name: f for f in fields(cls) if f.name not in (skip or set())}
        known = sorted(set(specs) | (extra_keys or set()))
        values: dict[str, Any] = {}
        for key, raw in table.items():
            if key not in specs:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean '{prefix}{close[0]}'?" if close else f" (known keys: {', '.join(known)})."
                raise self.fail(f"unknown key '{prefix}{key}'{hint}")
            spec = specs[key]
            values[key] = self.convert(raw, str(spec.type), f"{prefix}{key}", spec.metadata)
        return values

    def convert(self, raw: Any, type_name: str, key: str, limits: Mapping[str, Any]) -> Any:
        if type_name == "str":
            if not isinstance(raw, str) or not raw:
                raise self.fail(f"'{key}' must be a non-empty string, not {_describe(raw)}.")
            return raw
        if type_name in ("float", "int"):
            return self.number(raw, key, limits, integer=type_name == "int")
        if type_name in ("tuple[float, ...]", "tuple[str, ...]"):
            if not isinstance(raw, list) or not raw:
                raise self.fail(f"'{key}' must be a non-empty list, not {_describe(raw)}.")
            item_type = "str" if "str" in type_name else "float"
            return tuple(self.convert(item, item_type, f"{key}[{i}]", {}) for i, item in enumerate(raw))
        raise self.fail(f"'{key}' cannot be set in a scenario file.")

    def number(self, raw: Any, key: str, limits: Mapping[str, Any], *, integer: bool) -> float | int:
        is_number = isinstance(raw, int | float) and not isinstance(raw, bool)
        if not is_number or (integer and not isinstance(raw, int)) or not math.isfinite(float(raw)):
            kind = "a whole number" if integer else "a number"
            raise self.fail(f"'{key}' must be {kind}, not {_describe(raw)}.")
        value = float(raw)
        gt, ge, le = limits.get("gt"), limits.get("ge"), limits.get("le")
        if (
            (gt is not None and not value > gt)
            or (ge is not None and not value >= ge)
            or (le is not None and not value <= le)
        ):
            lower = f"greater than {gt:g}" if gt is not None else f"at least {ge:g}" if ge is not None else ""
            upper = f"at most {le:g}" if le is not None else ""
            bounds = " and ".join(b for b in (lower, upper) if b)
            raise self.fail(f"'{key}' must be {bounds}, not {raw!r}.")
        return int(raw) if integer else value


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _check_consistency(scenario: Scenario, source: str) -> None:
    """Checks that span several keys."""

    def fail(message: str) -> ScenarioError:
        return ScenarioError(f"{source}: {message}")

    traders = scenario.traders
    if len(traders.leverage_values) != len(traders.leverage_weights):
        raise fail(
            f"'traders.leverage_weights' has {len(traders.leverage_weights)} entries for "
            f"{len(traders.leverage_values)} 'traders.leverage_values': give one weight per leverage."
        )
    if any(v < 1 for v in traders.leverage_values):
        raise fail("'traders.leverage_values' must all be at least 1.")
    if any(w < 0 for w in traders.leverage_weights) or not sum(traders.leverage_weights) > 0:
        raise fail("'traders.leverage_weights' must be at least 0 each and not all 0.")
    if any(m <= 0 for m in scenario.market.regime_vol_multipliers):
        raise fail("'market.regime_vol_multipliers' must all be greater than 0.")
    if not scenario.assets:
        raise fail("'assets' lists no asset: add at least one [assets.NAME] table.")
    if not scenario.exchanges:
        raise fail("'exchanges' lists no exchange: add at least one [exchanges.NAME] table.")
    asset_names = [a.name for a in scenario.assets]
    for asset in scenario.assets:
        if not asset.name.isalnum() or asset.name != asset.name.upper():
            raise fail(f"asset name '{asset.name}' must be upper-case letters and digits (e.g. BTC).")
    known_exchanges = [e.value for e in Exchange]
    for exchange in scenario.exchanges:
        if exchange.name not in known_exchanges:
            close = difflib.get_close_matches(exchange.name, known_exchanges, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f" (known: {', '.join(known_exchanges)})."
            raise fail(f"unknown exchange 'exchanges.{exchange.name}'{hint}")
        for asset_name in exchange.assets:
            if asset_name not in asset_names:
                close = difflib.get_close_matches(asset_name, asset_names, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f" (defined: {', '.join(asset_names)})."
                raise fail(f"'exchanges.{exchange.name}.assets' names an undefined asset '{asset_name}'{hint}")
        if len(set(exchange.assets)) != len(exchange.assets):
            raise fail(f"'exchanges.{exchange.name}.assets' lists an asset twice.")
