"""Configuration: the repository's config.toml is the defaults, the lookup order, and strict, named errors."""

from __future__ import annotations

import ast
import dataclasses
import math
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import liqtui.config
from liqtui.config import (
    Config,
    EstimatorConfig,
    FeedConfig,
    LogConfig,
    StateConfig,
    config_path,
    default_config,
    leaf_keys,
    load_config,
    user_config_dir,
)
from liqtui.errors import ConfigError, UsageError
from liqtui.model.types import Exchange, parse_instrument_key

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.toml"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's own configuration and state out of every test."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LIQTUI_CONFIG", raising=False)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _dotted_leaves(obj: object, prefix: str = "") -> Iterator[str]:
    """Every leaf key of a config object, walked from the instances (independently of `leaf_keys`)."""
    assert dataclasses.is_dataclass(obj)
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if dataclasses.is_dataclass(value):
            yield from _dotted_leaves(value, f"{prefix}{field.name}.")
        else:
            yield f"{prefix}{field.name}"


def _toml_leaves(table: dict[str, object], prefix: str = "") -> Iterator[str]:
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _toml_leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


# The defaults and their documented mirror.


def test_repo_config_is_exactly_the_defaults() -> None:
    assert load_config(REPO_CONFIG) == Config()
    assert default_config() == Config()


def test_repo_config_sets_every_key_and_no_other() -> None:
    table = tomllib.loads(REPO_CONFIG.read_text(encoding="utf-8"))
    expected = list(_dotted_leaves(Config()))
    assert sorted(_toml_leaves(table)) == sorted(expected)
    assert list(leaf_keys()) == expected


def test_repo_config_has_a_comment_above_every_key() -> None:
    lines = REPO_CONFIG.read_text(encoding="utf-8").splitlines()
    keys_seen = 0
    for number, line in enumerate(lines):
        if re.match(r"^[a-z_]+\s*=", line):
            keys_seen += 1
            above = lines[number - 1] if number else ""
            assert above.startswith("#"), f"config.toml line {number + 1} ({line!r}) has no comment above it"
    assert keys_seen == len(list(leaf_keys()))


def test_every_config_field_has_a_docstring() -> None:
    tree = ast.parse(Path(liqtui.config.__file__).read_text(encoding="utf-8"))
    checked = 0
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for statement, following in zip(node.body, [*node.body[1:], None], strict=True):
            if isinstance(statement, ast.AnnAssign):
                checked += 1
                assert (
                    isinstance(following, ast.Expr)
                    and isinstance(following.value, ast.Constant)
                    and isinstance(following.value.value, str)
                ), f"{node.name}.{ast.unparse(statement.target)} has no docstring"
    assert checked >= len(list(leaf_keys()))


def test_default_watchlist_is_valid_and_covers_every_exchange() -> None:
    exchanges = {parse_instrument_key(name)[0] for name in Config().watchlist}
    assert exchanges == set(Exchange)


def test_default_okx_url_avoids_the_retired_port() -> None:
    assert ":8443" not in Config().exchanges.okx.ws_url


def test_every_exchange_has_addresses() -> None:
    exchanges = Config().exchanges
    for exchange in Exchange:
        assert exchanges.for_exchange(exchange) is getattr(exchanges, exchange.value)


def test_leverage_shares_sum_to_one() -> None:
    estimator = EstimatorConfig(leverage=(5.0, 10.0), leverage_weights=(1.0, 3.0))
    assert estimator.leverage_shares == (0.25, 0.75)
    assert math.isclose(sum(Config().estimator.leverage_shares), 1.0)


# Lookup order (design §7.5).


def test_lookup_order(tmp_path: Path) -> None:
    given_file = _write(tmp_path / "given.toml", "[ui]\ntape_rows = 1\n")
    env_file = _write(tmp_path / "env.toml", "[ui]\ntape_rows = 2\n")
    xdg_file = _write(tmp_path / "xdg" / "liqtui" / "config.toml", "[ui]\ntape_rows = 3\n")
    environ = {"LIQTUI_CONFIG": str(env_file), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}

    assert config_path(given_file, environ=environ) == given_file
    assert load_config(given_file, environ=environ).ui.tape_rows == 1
    assert config_path(environ=environ) == env_file
    assert load_config(environ=environ).ui.tape_rows == 2
    del environ["LIQTUI_CONFIG"]
    assert config_path(environ=environ) == xdg_file
    assert load_config(environ=environ).ui.tape_rows == 3
    xdg_file.unlink()
    assert config_path(environ=environ) is None
    assert load_config(environ=environ) == Config()


def test_lookup_reads_the_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    xdg_file = _write(tmp_path / "xdg-config" / "liqtui" / "config.toml", "[ui]\ntape_rows = 3\n")
    assert config_path() == xdg_file
    assert load_config().ui.tape_rows == 3
    env_file = _write(tmp_path / "env.toml", "[ui]\ntape_rows = 2\n")
    monkeypatch.setenv("LIQTUI_CONFIG", str(env_file))
    assert load_config().ui.tape_rows == 2
    monkeypatch.setenv("LIQTUI_CONFIG", "")
    assert load_config().ui.tape_rows == 3


def test_relative_xdg_config_home_is_ignored() -> None:
    assert user_config_dir({"XDG_CONFIG_HOME": "relative/dir"}) != Path("relative/dir/liqtui")
    assert user_config_dir({"XDG_CONFIG_HOME": "/abs/dir"}) == Path("/abs/dir/liqtui")


def test_missing_file_named_by_config_option_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing, environ={})
    assert str(caught.value) == f"{missing}: no such configuration file (named by --config)."
    assert caught.value.exit_code == 2


def test_missing_file_named_by_environment_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=re.escape(f"{missing}: no such configuration file")) as caught:
        load_config(environ={"LIQTUI_CONFIG": str(missing)})
    assert "$LIQTUI_CONFIG" in str(caught.value)


# Reading values.


def test_partial_file_keeps_the_other_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", "[feed]\nreconnect_min_s = 2\n")
    config = load_config(path)
    assert config.feed.reconnect_min_s == 2.0
    assert isinstance(config.feed.reconnect_min_s, float)
    assert config == dataclasses.replace(Config(), feed=dataclasses.replace(FeedConfig(), reconnect_min_s=2.0))


def test_partial_exchange_table_keeps_the_other_url(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", '[exchanges.okx]\nws_url = "wss://ws.okx.com:8443/ws/v5/public/"\n')
    okx = load_config(path).exchanges.okx
    assert okx.ws_url == "wss://ws.okx.com:8443/ws/v5/public"  # trailing slash dropped
    assert okx.rest_url == Config().exchanges.okx.rest_url


def test_ints_are_read_as_floats_in_lists(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", "[estimator]\nleverage = [5, 10]\nleverage_weights = [1, 1]\n")
    estimator = load_config(path).estimator
    assert estimator.leverage == (5.0, 10.0)
    assert all(isinstance(x, float) for x in (*estimator.leverage, *estimator.leverage_weights))


def test_watchlist_names_are_normalised(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", 'watchlist = ["Binance:btcusdt", "OKX:eth-usdt-swap"]\n')
    assert load_config(path).watchlist == ("binance:BTCUSDT", "okx:ETH-USDT-SWAP")


def test_log_level_is_case_insensitive(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", '[log]\nlevel = "debug"\n')
    assert load_config(path).log.level == "DEBUG"


def test_paths_expand_home(tmp_path: Path) -> None:
    assert LogConfig().path is None
    assert LogConfig(file="~/x.log").path == tmp_path / "home" / "x.log"
    assert StateConfig().directory() == tmp_path / "xdg-state" / "liqtui"
    assert StateConfig(dir="~/s").directory() == tmp_path / "home" / "s"


# Errors: the file, the key and the fix, in one sentence.


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", "[estimator]\nbin_bsp = 5\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f'{path}: unknown key "estimator.bin_bsp"; did you mean "estimator.bin_bps"?'


def test_key_in_the_wrong_section_suggests_where_it_belongs(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", "[feed]\nbin_bps = 5\n")
    with pytest.raises(ConfigError, match=re.escape('"feed.bin_bps"; did you mean "estimator.bin_bps"?')):
        load_config(path)


def test_unknown_section_suggests_the_close_one(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", "[estimater]\nbin_bps = 5\n")
    with pytest.raises(ConfigError, match=re.escape('unknown key "estimater"; did you mean "estimator"?')):
        load_config(path)


def test_unknown_key_without_a_close_one_lists_the_section(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", "[ui]\nzzzz = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f'{path}: unknown key "ui.zzzz"; the keys of [ui] are refresh_hz,')


def test_bad_value_message(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", '[feed]\nreconnect_min_s = "fast"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f'{path}: "feed.reconnect_min_s" must be a positive number, got "fast".'


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[feed]\nreconnect_min_s = true", "feed.reconnect_min_s"),
        ("[feed]\nreconnect_min_s = 0", "feed.reconnect_min_s"),
        ("[feed]\nreconnect_min_s = -1.5", "feed.reconnect_min_s"),
        ("[feed]\nsilence_timeout_s = nan", "feed.silence_timeout_s"),
        ("[feed]\nrest_timeout_s = inf", "feed.rest_timeout_s"),
        ("[feed]\nwarm_start_hours = -1", "feed.warm_start_hours"),
        ("[feed]\nmax_frame_bytes = 1.5", "feed.max_frame_bytes"),
        ("[feed]\nmax_frame_bytes = true", "feed.max_frame_bytes"),
        ("[feed]\nmax_frame_bytes = 0", "feed.max_frame_bytes"),
        ("[ui]\nmouse = 1", "ui.mouse"),
        ('[ui]\nmouse = "yes"', "ui.mouse"),
        ("[estimator]\nrange_pct = 100", "estimator.range_pct"),
        ("[estimator]\ndefault_mmr = 1.0", "estimator.default_mmr"),
        ("[estimator]\ncluster_min_share = -0.1", "estimator.cluster_min_share"),
        ("[estimator]\nleverage = []", "estimator.leverage"),
        ("[estimator]\nleverage = [0.5, 10, 20, 25, 50, 100]", "estimator.leverage"),
        ('[estimator]\nleverage = ["5", 10, 20, 25, 50, 100]', "estimator.leverage"),
        ("[estimator]\nleverage_weights = [-0.1, 0.3, 0.2, 0.2, 0.2, 0.2]", "estimator.leverage_weights"),
        ("[estimator]\nleverage_weights = [0, 0, 0, 0, 0, 0]", "estimator.leverage_weights"),
        ("[estimator]\nleverage_weights = [0.5, 0.5]", "estimator.leverage_weights"),
        ("[estimator]\nleverage = [10, 20]", "estimator.leverage_weights"),
        ("[feed]\nreconnect_min_s = 40", "feed.reconnect_max_s"),
        ('[exchanges.okx]\nws_url = "https://ws.okx.com/ws/v5/public"', "exchanges.okx.ws_url"),
        ('[exchanges.okx]\nws_url = "wss://"', "exchanges.okx.ws_url"),
        ('[exchanges.okx]\nws_url = "wss://ws.okx.com:99999/x"', "exchanges.okx.ws_url"),
        ('[exchanges.bybit]\nrest_url = "wss://api.bybit.com"', "exchanges.bybit.rest_url"),
        ("[exchanges.bybit]\nrest_url = 443", "exchanges.bybit.rest_url"),
        ('[log]\nlevel = "LOUD"', "log.level"),
        ('[log]\nlevel = "NOTSET"', "log.level"),
        ("[state]\ndir = 5", "state.dir"),
        ('watchlist = "binance:BTCUSDT"', "watchlist"),
        ("watchlist = []", "watchlist"),
        ('watchlist = ["kraken:BTCUSD"]', "watchlist"),
        ('watchlist = ["BTCUSDT"]', "watchlist"),
        ('watchlist = ["binance:BTCUSDT", "Binance:btcusdt"]', "watchlist"),
        ("feed = 3", "feed"),
        ('exchanges = { okx = "wss://ws.okx.com" }', "exchanges.okx"),
    ],
)
def test_bad_value_is_named(tmp_path: Path, toml: str, key: str) -> None:
    path = _write(tmp_path / "c.toml", toml + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f'{path}: "{key}" must ')
    assert message.endswith(".")
    assert "\n" not in message
    assert caught.value.exit_code == 2


def test_bad_instrument_says_why(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", 'watchlist = ["kraken:BTCUSD"]\n')
    with pytest.raises(ConfigError, match="unknown exchange 'kraken'"):
        load_config(path)


def test_toml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", "[ui]\nrefresh_hz = = 4\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not valid TOML: ")
    assert "line 2" in message and "column" in message


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    directory = tmp_path / "a-directory.toml"
    directory.mkdir()
    with pytest.raises(ConfigError, match=re.escape(f"{directory}: cannot read the configuration file")):
        load_config(directory)


def test_non_utf8_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(b'[log]\nfile = "\xff"\n')
    with pytest.raises(ConfigError, match=re.escape(f"{path}: not UTF-8 text")):
        load_config(path)


# Properties over many inputs.

_SECTIONS = ("", "feed", "estimator", "ui", "state", "log", "exchanges", "exchanges.bybit")
_ALL_NAMES = {part for key in leaf_keys() for part in key.split(".")}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    section=st.sampled_from(_SECTIONS),
    name=st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True).filter(lambda n: n not in _ALL_NAMES),
)
def test_any_unknown_key_is_rejected_and_named(tmp_path: Path, section: str, name: str) -> None:
    header = f"[{section}]\n" if section else ""
    path = _write(tmp_path / "c.toml", f"{header}{name} = 1\n")
    dotted = f"{section}.{name}" if section else name
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f'{path}: unknown key "{dotted}"; ')


_POSITIVE_KEYS = (
    "feed.binance_oi_poll_s",
    "feed.silence_timeout_s",
    "feed.rest_timeout_s",
    "estimator.bin_bps",
    "estimator.half_life_hours",
    "ui.refresh_hz",
    "state.save_interval_s",
)
_numbers = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(_POSITIVE_KEYS), value=_numbers)
def test_positive_number_fields_accept_exactly_the_positive_numbers(tmp_path: Path, key: str, value: float) -> None:
    section, _, name = key.partition(".")
    path = _write(tmp_path / "c.toml", f"[{section}]\n{name} = {value!r}\n")
    if value > 0:
        config = load_config(path)
        read = getattr(getattr(config, section), name)
        assert isinstance(read, float)
        assert read == float(value)
    else:
        with pytest.raises(ConfigError, match=re.escape(f'"{key}" must be a positive number')):
            load_config(path)


# Pointing at the simulator (design §7.4).


def test_with_sim_points_every_exchange_at_the_simulator() -> None:
    base = Config()
    sim = base.with_sim("http://127.0.0.1:43210/")
    assert sim.exchanges.binance.ws_url == "ws://127.0.0.1:43210/binance/market"
    assert sim.exchanges.binance.rest_url == "http://127.0.0.1:43210/binance"
    assert sim.exchanges.bybit.ws_url == "ws://127.0.0.1:43210/bybit/v5/public/linear"
    assert sim.exchanges.bybit.rest_url == "http://127.0.0.1:43210/bybit"
    assert sim.exchanges.okx.ws_url == "ws://127.0.0.1:43210/okx/ws/v5/public"
    assert sim.exchanges.okx.rest_url == "http://127.0.0.1:43210/okx"
    assert dataclasses.replace(sim, exchanges=base.exchanges) == base


def test_with_sim_over_https_uses_wss() -> None:
    sim = Config().with_sim("https://sim.example:8443")
    assert sim.exchanges.okx.ws_url == "wss://sim.example:8443/okx/ws/v5/public"
    assert sim.exchanges.okx.rest_url == "https://sim.example:8443/okx"


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ws://127.0.0.1:8000", "http://", "http://h:notaport", ""])
def test_with_sim_rejects_what_is_not_an_address(url: str) -> None:
    with pytest.raises(UsageError, match="is not a simulator address") as caught:
        Config().with_sim(url)
    assert caught.value.exit_code == 2
