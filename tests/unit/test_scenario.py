"""Scenario files: the shipped ones load, and a bad file is refused in one sentence naming the file and the
key."""

from __future__ import annotations

from pathlib import Path

import pytest

from liqtui.errors import ScenarioError
from liqtui.sim.scenario import (
    builtin_scenario_path,
    default_scenario,
    load_scenario,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_file_is_exactly_the_defaults() -> None:
    assert load_scenario(builtin_scenario_path("default")) == default_scenario()


def test_degen_file_loads_and_keeps_what_it_leaves_out() -> None:
    degen = load_scenario(builtin_scenario_path("degen"))
    default = default_scenario()
    assert degen.name == "degen"
    assert max(degen.traders.leverage_values) > max(default.traders.leverage_values)
    btc = degen.asset("BTC")
    assert btc.daily_vol != default.asset("BTC").daily_vol
    # Left out of degen.toml: BTC's own tick and contract value, not the field defaults.
    assert (btc.tick_size, btc.okx_ct_val, btc.start_px) == (0.1, 0.01, 84_000.0)


BENCHMARK_SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "benchmarks" / "scenarios").glob("*.toml"))


@pytest.mark.parametrize("path", BENCHMARK_SCENARIOS, ids=[p.stem for p in BENCHMARK_SCENARIOS])
def test_every_benchmark_scenario_loads_under_its_own_name(path: Path) -> None:
    """The benchmarks' markets are read by the same strict loader: a typo would only show in a long run."""
    assert load_scenario(path).name == path.stem


def test_empty_file_is_the_default_scenario(tmp_path: Path) -> None:
    assert load_scenario(write(tmp_path, "")) == default_scenario()


def test_a_new_asset_takes_field_defaults(tmp_path: Path) -> None:
    scenario = load_scenario(
        write(
            tmp_path,
            '[assets.DOGE]\nstart_px = 0.2\ntick_size = 0.00001\n[exchanges.okx]\nassets = ["DOGE"]\n',
        )
    )
    assert [a.name for a in scenario.assets] == ["DOGE"]
    assert [e.name for e in scenario.exchanges] == ["okx"]
    assert scenario.asset("DOGE").okx_ct_val == 1.0


@pytest.mark.parametrize(
    ("text", "key", "suggestion"),
    [
        ("histroy_hours = 3\n", "'histroy_hours'", "'history_hours'"),
        ("[traders]\nleverage_value = [2.0]\n", "'traders.leverage_value'", "'traders.leverage_values'"),
        ("[assets.BTC]\nstart_price = 1.0\n", "'assets.BTC.start_price'", "'assets.BTC.start_px'"),
        (
            "[exchanges.binance]\nopen_per_s = 1.0\n",
            "'exchanges.binance.open_per_s'",
            "'exchanges.binance.opens_per_s'",
        ),
        ("[markets]\n", "'markets'", "'market'"),
    ],
)
def test_unknown_key_names_file_key_and_suggestion(tmp_path: Path, text: str, key: str, suggestion: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert str(path) in message
    assert key in message
    assert f"did you mean {suggestion}" in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("history_hours = -1\n", "history_hours"),
        ('speed = "fast"\n', "speed"),
        ("step_ms = 100.5\n", "step_ms"),
        ("speed = true\n", "speed"),
        ("[traders]\nsize_median_usd = 0\n", "traders.size_median_usd"),
        ("[traders]\nleverage_values = [2.0, 3.0]\nleverage_weights = [1.0]\n", "traders.leverage_weights"),
        ("[traders]\nleverage_values = [0.5]\nleverage_weights = [1.0]\n", "traders.leverage_values"),
        ('[traders]\nleverage_values = ["ten"]\n', "traders.leverage_values[0]"),
        ("[assets.BTC]\ndaily_vol = 2.0\n", "assets.BTC.daily_vol"),
        ('[exchanges.binance]\nassets = ["BTC", "XRP"]\n', "exchanges.binance.assets"),
        ("[exchanges.kraken]\n", "exchanges.kraken"),
        ("market = 3\n", "market"),
        ("[market]\nregime_vol_multipliers = []\n", "market.regime_vol_multipliers"),
    ],
)
def test_bad_value_names_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(path) in str(caught.value)
    assert f"'{key}'" in str(caught.value)


def test_undefined_asset_gets_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="did you mean 'BTC'"):
        load_scenario(write(tmp_path, '[exchanges.okx]\nassets = ["BTCC"]\n'))


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(write(tmp_path, "speed = = 2\n"))


def test_error_is_a_usage_error_with_exit_code_2(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, "speeed = 2\n"))
    assert caught.value.exit_code == 2
    assert "\n" not in str(caught.value)
