"""liqtui's configuration (design §7.5): frozen dataclasses, read from TOML and checked strictly.

Lookup: `--config PATH`, else `$LIQTUI_CONFIG`, else `$XDG_CONFIG_HOME/liqtui/config.toml`, else the built-in
defaults. The built-in defaults are the dataclass defaults below; the repository's `config.toml` is their
documented mirror, and a test proves the two are equal.

A file may set any subset of the keys. Every key it sets must exist and hold a good value, or loading fails
with a `ConfigError` (exit code 2) that names the file, the key and the fix. The TOML is read generically:
each leaf field's type is `Annotated[T, _Rule(...)]`, and the rule says what the value must be and how to read
it, so a key is written once, here.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, get_args, get_origin, get_type_hints
from urllib.parse import SplitResult, urlsplit

import platformdirs

from liqtui.errors import ConfigError, UnknownInstrumentError, UsageError
from liqtui.model.types import Exchange, instrument_key, parse_instrument_key

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

APP_NAME = "liqtui"
"""The directory name under the XDG config and state directories."""

CONFIG_ENV = "LIQTUI_CONFIG"
"""The environment variable naming a configuration file, when `--config` does not."""

CONFIG_FILE_NAME = "config.toml"
"""The configuration file's name under `$XDG_CONFIG_HOME/liqtui/`."""


# Rules: what a value must be, in words for the error message, and how to read it from what tomllib returns.


@dataclass(frozen=True, slots=True)
class _Rule:
    """What a leaf value must be, and how to read it from the parsed TOML."""

    what: str
    """The requirement as an error message says it: "a positive number"."""

    read: Callable[[object], object]
    """Returns the value to store; raises ValueError (with an optional detail) when the value does not fit."""


def _finite_number(value: object) -> float:
    # TOML `true` arrives as a Python bool, and bool is an int subclass: it must not pass for 1.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError
    try:
        number = float(value)
    except OverflowError:
        raise ValueError from None
    if not math.isfinite(number):
        raise ValueError
    return number


def _number_rule(what: str, accept: Callable[[float], bool]) -> _Rule:
    def read(value: object) -> float:
        number = _finite_number(value)
        if not accept(number):
            raise ValueError
        return number

    return _Rule(what, read)


def _read_count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError
    return value


def _read_flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError
    return value


def _read_text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError
    return value


def _port_is_valid(parts: SplitResult) -> bool:
    # urllib checks the port (digits, 0-65535) only when the attribute is read.
    try:
        _ = parts.port
    except ValueError:
        return False
    return True


def _url_rule(schemes: tuple[str, str]) -> _Rule:
    def read(value: object) -> str:
        if not isinstance(value, str):
            raise ValueError
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname or not _port_is_valid(parts):
            raise ValueError
        # Feed code appends paths to these bases; a trailing slash would double the separator.
        return value.rstrip("/")

    return _Rule(f"a {schemes[0]}:// or {schemes[1]}:// URL", read)


def _read_instruments(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise ValueError
    keys: list[str] = []
    for name in value:
        try:
            exchange, symbol = parse_instrument_key(name)
        except UnknownInstrumentError as error:
            raise ValueError(str(error)) from None
        key = instrument_key(exchange, symbol)
        if key in keys:
            raise ValueError(f"{key} is listed twice")
        keys.append(key)
    return tuple(keys)


def _number_list_rule(what: str, accept: Callable[[float], bool]) -> _Rule:
    def read(value: object) -> tuple[float, ...]:
        if not isinstance(value, list) or not value:
            raise ValueError
        numbers = tuple(_finite_number(item) for item in value)
        if not all(accept(number) for number in numbers):
            raise ValueError
        return numbers

    return _Rule(what, read)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
"""The log levels a configuration may name, lowest first."""


def _read_log_level(value: object) -> str:
    if not isinstance(value, str) or value.upper() not in LOG_LEVELS:
        raise ValueError
    return value.upper()


PositiveFloat = Annotated[float, _number_rule("a positive number", lambda x: x > 0)]
NonNegativeFloat = Annotated[float, _number_rule("a number of 0 or more", lambda x: x >= 0)]
Fraction = Annotated[float, _number_rule("a number from 0 up to, but not including, 1", lambda x: 0 <= x < 1)]
Percent = Annotated[float, _number_rule("a number above 0 and below 100", lambda x: 0 < x < 100)]
Count = Annotated[int, _Rule("a whole number of 1 or more", _read_count)]
Flag = Annotated[bool, _Rule("true or false", _read_flag)]
Text = Annotated[str, _Rule("a string", _read_text)]
WsUrl = Annotated[str, _url_rule(("ws", "wss"))]
HttpUrl = Annotated[str, _url_rule(("http", "https"))]
InstrumentList = Annotated[
    tuple[str, ...],
    _Rule("a non-empty list of instrument names (exchange:SYMBOL)", _read_instruments),
]
LeverageList = Annotated[
    tuple[float, ...], _number_list_rule("a non-empty list of leverages, each 1 or more", lambda x: x >= 1)
]
WeightList = Annotated[
    tuple[float, ...], _number_list_rule("a non-empty list of weights, each 0 or more", lambda x: x >= 0)
]
LogLevel = Annotated[str, _Rule(f"a log level ({', '.join(LOG_LEVELS)})", _read_log_level)]


class _FieldConflict(ValueError):
    """A value that does not fit with another in its section; the loader adds the file and the section."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f'"{name}" {problem}')
        self.name = name
        self.problem = problem


# The schema. Every leaf field's docstring is what config.toml says about the key.


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    """Where one exchange's public market data is served."""

    ws_url: WsUrl
    """The public websocket base URL (Binance: the feed appends `/stream?streams=...`)."""

    rest_url: HttpUrl
    """The REST base URL; the feed appends the API paths (`/fapi/v1/...`, `/v5/market/...`, `/api/v5/...`)."""


@dataclass(frozen=True, slots=True)
class ExchangesConfig:
    """The addresses of every exchange liqtui reads (live by default; `Config.with_sim` for the simulator)."""

    binance: ExchangeConfig = ExchangeConfig(
        ws_url="wss://fstream.binance.com/market", rest_url="https://fapi.binance.com"
    )
    """Binance USD-M futures. The routed `/market` path carries mark price, forceOrder and aggTrade."""

    bybit: ExchangeConfig = ExchangeConfig(
        ws_url="wss://stream.bybit.com/v5/public/linear", rest_url="https://api.bybit.com"
    )
    """Bybit v5, linear contracts."""

    okx: ExchangeConfig = ExchangeConfig(ws_url="wss://ws.okx.com/ws/v5/public", rest_url="https://www.okx.com")
    """OKX v5. Port 443: the old port 8443 is being retired."""

    def for_exchange(self, exchange: Exchange) -> ExchangeConfig:
        """The addresses of one exchange."""
        return {Exchange.BINANCE: self.binance, Exchange.BYBIT: self.bybit, Exchange.OKX: self.okx}[exchange]


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """How the websocket and REST clients behave."""

    reconnect_min_s: PositiveFloat = 1.0
    """The first wait before reconnecting after a drop, in seconds; it doubles (with jitter) per failure."""

    reconnect_max_s: PositiveFloat = 30.0
    """The longest wait between reconnect attempts, in seconds (at least `reconnect_min_s`)."""

    silence_timeout_s: PositiveFloat = 20.0
    """A connection with no mark price for this many seconds is treated as dead and reopened."""

    max_frame_bytes: Count = 1048576
    """The largest websocket frame accepted, in bytes; a bigger one is counted and dropped."""

    rest_timeout_s: PositiveFloat = 10.0
    """The time allowed for one REST request, in seconds."""

    binance_oi_poll_s: PositiveFloat = 5.0
    """How often Binance's open interest is polled over REST, in seconds (no open-interest stream there)."""

    warm_start_hours: NonNegativeFloat = 24.0
    """Hours of REST history (open interest, klines) to back-fill on start; 0 starts from live data only."""

    binance_tiers_file: Text = ""
    """Binance's maintenance tiers as its signed `GET /fapi/v1/leverageBracket` returns them (JSON), fetched with
    your own key; empty uses liqtui's built-in table (Binance publishes the tiers only to signed requests)."""

    def __post_init__(self) -> None:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise _FieldConflict(
                "reconnect_max_s",
                f"must be at least reconnect_min_s ({self.reconnect_min_s:g}), got {self.reconnect_max_s:g}.",
            )


@dataclass(frozen=True, slots=True)
class EstimatorConfig:
    """The liquidation-level estimator's parameters (design §4)."""

    bin_bps: PositiveFloat = 10.0
    """The width of one price bin, in basis points (bins are log-spaced)."""

    range_pct: Percent = 12.0
    """The bins cover this many percent either side of the mark price."""

    leverage: LeverageList = (5.0, 10.0, 20.0, 25.0, 50.0, 100.0)
    """The leverage tiers new positions are spread over."""

    leverage_weights: WeightList = (0.15, 0.30, 0.20, 0.15, 0.12, 0.08)
    """The share of new positions at each tier of `leverage` (same length; relative, normalised to 1)."""

    default_mmr: Fraction = 0.005
    """The maintenance margin rate where the exchange's margin tiers are not known."""

    half_life_hours: PositiveFloat = 36.0
    """The longest half-life of an estimated position, in hours (closes the data cannot show); a market that turns
    over faster (taker volume against open interest) ages its positions sooner."""

    cluster_min_share: Fraction = 0.02
    """A cluster is listed when it holds at least this share of its side's estimated total."""

    learn_leverage: Flag = True
    """Learn the leverage weights, and how long positions are held, from where realized liquidations land (and
    from levels price traded through without liquidating anything); until an instrument has learned its own from
    at least half the evidence another venue of the same asset learned from, it follows that venue's weights.
    False keeps the configured weights."""

    def __post_init__(self) -> None:
        if len(self.leverage_weights) != len(self.leverage):
            raise _FieldConflict(
                "leverage_weights",
                f"must have one weight per leverage tier ({len(self.leverage)}), got {len(self.leverage_weights)}.",
            )
        if not sum(self.leverage_weights) > 0:
            raise _FieldConflict("leverage_weights", "must have at least one weight above 0.")

    @property
    def leverage_shares(self) -> tuple[float, ...]:
        """`leverage_weights` normalised to sum to 1."""
        total = sum(self.leverage_weights)
        return tuple(weight / total for weight in self.leverage_weights)


@dataclass(frozen=True, slots=True)
class UiConfig:
    """The terminal user interface."""

    refresh_hz: PositiveFloat = 4.0
    """How often the text panes are refreshed, per second."""

    map_max_hz: PositiveFloat = 2.0
    """The most times per second the map is redrawn (drawing it costs tens of milliseconds)."""

    mouse: Flag = True
    """Capture the mouse; false is kinder over SSH and in tmux (same as --no-mouse)."""

    tape_rows: Count = 200
    """How many realized liquidations the tape keeps."""


@dataclass(frozen=True, slots=True)
class StateConfig:
    """The estimator state saved between runs."""

    save_interval_s: PositiveFloat = 60.0
    """How often the state is saved while running, in seconds (it is also saved on exit)."""

    dir: Text = ""
    """The directory the state is saved in; empty means the XDG state directory ($XDG_STATE_HOME/liqtui)."""

    def directory(self, environ: Mapping[str, str] | None = None) -> Path:
        """The state directory: `dir` with `~` expanded, or the XDG state directory when `dir` is empty."""
        return Path(self.dir).expanduser() if self.dir else user_state_dir(environ)


@dataclass(frozen=True, slots=True)
class LogConfig:
    """The log file (the terminal is the TUI's, so liqtui never logs to it)."""

    file: Text = ""
    """The log file; empty means $XDG_STATE_HOME/liqtui/liqtui.log."""

    level: LogLevel = "INFO"
    """The lowest level logged: DEBUG, INFO, WARNING, ERROR or CRITICAL."""

    @property
    def path(self) -> Path | None:
        """`file` with `~` expanded, or None for the default under the XDG state directory."""
        return Path(self.file).expanduser() if self.file else None


@dataclass(frozen=True, slots=True)
class Config:
    """Everything liqtui can be configured with. `Config()` is the built-in defaults."""

    watchlist: InstrumentList = (
        "binance:BTCUSDT",
        "binance:ETHUSDT",
        "binance:SOLUSDT",
        "bybit:BTCUSDT",
        "bybit:ETHUSDT",
        "bybit:SOLUSDT",
        "okx:BTC-USDT-SWAP",
        "okx:ETH-USDT-SWAP",
        "okx:SOL-USDT-SWAP",
    )
    """The instruments to watch, named exchange:SYMBOL with the exchange's own symbol."""

    exchanges: ExchangesConfig = ExchangesConfig()
    """Exchange addresses."""

    feed: FeedConfig = FeedConfig()
    """Connections, reconnects and REST back-fill."""

    estimator: EstimatorConfig = EstimatorConfig()
    """The liquidation-level estimator."""

    ui: UiConfig = UiConfig()
    """The terminal user interface."""

    state: StateConfig = StateConfig()
    """Saved state."""

    log: LogConfig = LogConfig()
    """Logging."""

    def with_sim(self, base_url: str) -> Config:
        """This configuration with every exchange pointed at a running simulator (design §7.4).

        `base_url` is the simulator's address as `liqtui sim` prints it, `http://HOST:PORT`. Raises UsageError
        when it is not an http(s) URL with a host.
        """
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or not _port_is_valid(parts) or parts.query:
            raise UsageError(
                f"{base_url!r} is not a simulator address: write http://HOST:PORT, as `liqtui sim` prints it."
            )
        root = f"{parts.netloc}{parts.path.rstrip('/')}"
        http = f"{parts.scheme}://{root}"
        ws = f"{'ws' if parts.scheme == 'http' else 'wss'}://{root}"
        exchanges = ExchangesConfig(
            binance=ExchangeConfig(ws_url=f"{ws}/binance/market", rest_url=f"{http}/binance"),
            bybit=ExchangeConfig(ws_url=f"{ws}/bybit/v5/public/linear", rest_url=f"{http}/bybit"),
            okx=ExchangeConfig(ws_url=f"{ws}/okx/ws/v5/public", rest_url=f"{http}/okx"),
        )
        return dataclasses.replace(self, exchanges=exchanges)


def default_config() -> Config:
    """The built-in defaults (equal to the repository's config.toml)."""
    return Config()


# Where the file is.


def _xdg_home(variable: str, environ: Mapping[str, str] | None) -> Path | None:
    value = (os.environ if environ is None else environ).get(variable, "")
    # The XDG spec says a relative path in these variables is invalid and must be ignored.
    return Path(value) if value and Path(value).is_absolute() else None


def user_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CONFIG_HOME/liqtui`, or the platform's user config directory when that is unset."""
    home = _xdg_home("XDG_CONFIG_HOME", environ)
    return home / APP_NAME if home else platformdirs.user_config_path(APP_NAME, appauthor=False)


def user_state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_STATE_HOME/liqtui`, or the platform's user state directory when that is unset."""
    home = _xdg_home("XDG_STATE_HOME", environ)
    return home / APP_NAME if home else platformdirs.user_state_path(APP_NAME, appauthor=False)


def _locate(path: str | Path | None, environ: Mapping[str, str] | None) -> tuple[Path, str] | None:
    if path is not None:
        return Path(path).expanduser(), "--config"
    env_path = (os.environ if environ is None else environ).get(CONFIG_ENV, "")
    if env_path:
        return Path(env_path).expanduser(), f"${CONFIG_ENV}"
    user_file = user_config_dir(environ) / CONFIG_FILE_NAME
    # Only the XDG file is optional: a file named by --config or $LIQTUI_CONFIG must exist.
    return (user_file, "$XDG_CONFIG_HOME") if user_file.exists() else None


def config_path(path: str | Path | None = None, *, environ: Mapping[str, str] | None = None) -> Path | None:
    """The configuration file to read (design §7.5), or None for the built-in defaults.

    `path` is the `--config` argument. Without it, `$LIQTUI_CONFIG` names the file; without that, the file is
    `$XDG_CONFIG_HOME/liqtui/config.toml` if it exists. `environ` defaults to `os.environ`.
    """
    located = _locate(path, environ)
    return None if located is None else located[0]


# Reading it.


def load_config(path: str | Path | None = None, *, environ: Mapping[str, str] | None = None) -> Config:
    """Find, read and check the configuration (see `config_path`); the built-in defaults when there is none.

    Keys the file leaves out keep their defaults. Raises ConfigError, in one sentence that names the file,
    when the file is missing (named by --config or $LIQTUI_CONFIG), unreadable, not TOML, or has an unknown
    key or a bad value.
    """
    located = _locate(path, environ)
    if located is None:
        return default_config()
    file, origin = located
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such configuration file (named by {origin}).") from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(f"{file}: cannot read the configuration file ({reason}).") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{file}: not UTF-8 text (bad byte at offset {error.start}).") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{file}: not valid TOML: {error}.") from None
    return _read_section(Config(), table, "", file)


_Section = TypeVar("_Section", bound="DataclassInstance")


@cache
def _field_hints(cls: type[DataclassInstance]) -> dict[str, Any]:
    hints = get_type_hints(cls, include_extras=True)
    return {field.name: hints[field.name] for field in dataclasses.fields(cls)}


def _is_section(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def _rule_of(hint: Any) -> _Rule:
    if get_origin(hint) is Annotated:
        for extra in get_args(hint)[1:]:
            if isinstance(extra, _Rule):
                return extra
    raise TypeError(f"configuration field type {hint!r} has no _Rule: annotate it with one of the aliases")


def _read_section(default: _Section, table: Mapping[str, object], prefix: str, file: Path) -> _Section:
    """`default` with the values `table` sets, each read by its field's rule; `prefix` is the section key."""
    hints = _field_hints(type(default))
    changes: dict[str, object] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if name not in hints:
            raise ConfigError(f'{file}: unknown key "{key}"; {_suggestion(name, prefix, hints)}')
        hint = hints[name]
        if _is_section(hint):
            if not isinstance(value, dict):
                raise ConfigError(f'{file}: "{key}" must be a table ([{key}]), got {_show(value)}.')
            changes[name] = _read_section(getattr(default, name), value, f"{key}.", file)
            continue
        rule = _rule_of(hint)
        try:
            changes[name] = rule.read(value)
        except ValueError as error:
            detail = f" ({str(error).rstrip('.')})" if str(error) else ""
            raise ConfigError(f'{file}: "{key}" must be {rule.what}, got {_show(value)}{detail}.') from None
    try:
        return dataclasses.replace(default, **changes)
    except _FieldConflict as conflict:
        raise ConfigError(f'{file}: "{prefix}{conflict.name}" {conflict.problem}') from None


def leaf_keys(cls: type[DataclassInstance] = Config, prefix: str = "") -> Iterator[str]:
    """Every leaf key of the schema, dotted (`feed.reconnect_min_s`), in declaration order."""
    for name, hint in _field_hints(cls).items():
        if _is_section(hint):
            yield from leaf_keys(hint, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def _suggestion(name: str, prefix: str, hints: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(hints), n=1)
    if close:
        return f'did you mean "{prefix}{close[0]}"?'
    # A key written in the wrong section: look for it among every section's keys.
    keys = list(leaf_keys())
    leaves = {key.rpartition(".")[2]: key for key in keys}
    close = difflib.get_close_matches(name, list(leaves), n=1)
    if close:
        return f'did you mean "{leaves[close[0]]}"?'
    where = f"[{prefix.rstrip('.')}]" if prefix else "the top level"
    return f"the keys of {where} are {', '.join(hints)}."


def _show(value: object) -> str:
    """A value as the error message quotes it: TOML-like, and short."""
    shown = json.dumps(value, ensure_ascii=False, default=str)
    return shown if len(shown) <= 80 else f"{shown[:77]}..."
