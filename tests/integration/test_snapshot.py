"""`liqtui snapshot` as a script runs it: a real process against the real simulator (design §7.1, §7.3)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from liqtui.config import default_config
from liqtui.model.persist import load_state


async def snapshot(*args: str, home: Path, timeout: float = 60.0) -> tuple[int, str, str]:
    env = {**os.environ, "XDG_STATE_HOME": str(home / "state"), "XDG_CONFIG_HOME": str(home / "config")}
    env.pop("LIQTUI_CONFIG", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "liqtui",
        "snapshot",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_json_has_the_design_shape_and_covers_ten_percent(sim_server: Any, tmp_path: Path) -> None:
    code, out, err = await snapshot(
        "okx:BTC-USDT-SWAP", "--sim", sim_server.url, "--seconds", "2", "--json", home=tmp_path
    )
    assert code == 0, err
    doc = orjson.loads(out)
    assert doc["instrument"] == "okx:BTC-USDT-SWAP" and isinstance(doc["ts_ms"], int)
    mark = doc["mark_px"]
    assert mark > 0 and doc["open_interest_base"] > 0
    bins = doc["bins"]
    names = ("px_low", "px_high", "long_usd", "short_usd", "realized_long_usd", "realized_short_usd")
    assert set(bins) >= set(names) and len({len(bins[n]) for n in names}) == 1
    low, high = bins["px_low"], bins["px_high"]
    assert all(a < b for a, b in zip(low, high, strict=True))
    assert all(high[i] == low[i + 1] for i in range(len(low) - 1))  # contiguous and ascending
    assert low[0] <= mark * 0.9 and high[-1] >= mark * 1.1
    assert sum(bins["long_usd"]) > 0 and sum(bins["short_usd"]) > 0
    clusters = doc["clusters"]
    assert clusters and [c["notional_usd"] for c in clusters] == sorted(
        (c["notional_usd"] for c in clusters), reverse=True
    )
    for cluster in clusters:
        assert cluster["side"] in ("LONG", "SHORT")
        assert cluster["px_low"] <= cluster["px_peak"] <= cluster["px_high"]
        assert 0 < cluster["share"] <= 1
    assert {"state", "frames", "bad_frames", "age_s"} <= set(doc["feed"])
    assert doc["feed"]["state"] == "live" and doc["feed"]["bad_frames"] == 0
    assert {"checked", "hits", "hit_rate", "uniform_hit_rate"} <= set(doc["score"])
    assert list((tmp_path / "state").rglob("*.npz")), "the estimate is saved for the next start"


async def test_the_table_names_the_instrument_and_the_levels(sim_server: Any, tmp_path: Path) -> None:
    code, out, err = await snapshot("binance:BTCUSDT", "--sim", sim_server.url, "--seconds", "1", home=tmp_path)
    assert code == 0, err
    assert out.startswith("binance:BTCUSDT  mark ")
    assert "LONG" in out and "SHORT" in out and "score:" in out


@pytest.mark.parametrize(
    ("instrument", "words"),
    [
        ("binance:NOSUCHUSDT", "not listed as a USDT perpetual by its exchange: binance:NOSUCHUSDT (it lists "),
        ("binance:BTCUSD", "(did you mean binance:BTCUSDT?)"),
        ("okx:ETH-USDT", "(did you mean okx:ETH-USDT-SWAP?)"),
        ("kraken:BTCUSD", "unknown exchange"),
        ("BTCUSDT", "exchange:SYMBOL"),
    ],
)
async def test_bad_instruments_are_one_sentence_and_exit_2(
    sim_server: Any, tmp_path: Path, instrument: str, words: str
) -> None:
    code, out, err = await snapshot(instrument, "--sim", sim_server.url, "--seconds", "1", home=tmp_path)
    assert code == 2 and out == ""
    assert words in err and err.count("\n") == 1


async def test_an_unreachable_exchange_is_one_sentence_and_a_failure(tmp_path: Path) -> None:
    code, out, err = await snapshot(
        "bybit:BTCUSDT", "--sim", "http://127.0.0.1:9", "--seconds", "1", home=tmp_path, timeout=120
    )
    assert code == 1 and out == ""
    assert err.startswith("liqtui: cannot reach bybit") and err.count("\n") == 1


async def test_a_binance_snapshot_warm_starts_okx_of_the_same_asset_as_its_leverage_reference(
    sim_server: Any, tmp_path: Path
) -> None:
    """Binance publishes no liquidation history; the snapshot warm-starts OKX's BTC swap as well (its state is
    saved beside Binance's), and Binance's map shows the leverage mix OKX's estimator holds. (The hub's tests show
    the following of a learned mix; this short simulated history teaches OKX little.)"""
    code, out, err = await snapshot(
        "binance:BTCUSDT", "--sim", sim_server.url, "--seconds", "1", "--json", home=tmp_path
    )
    assert code == 0, err
    shares = orjson.loads(out)["score"]["leverage_shares"]
    port = sim_server.url.rsplit(":", 1)[1].strip("/")
    saved = tmp_path / "state" / "liqtui" / f"sim-127.0.0.1-{port}" / "okx_BTC-USDT-SWAP.npz"
    okx = load_state(saved, default_config().estimator)
    assert okx is not None and okx.ts_ms > 0
    assert shares == pytest.approx(okx.leverage_shares)


async def test_without_leverage_learning_a_snapshot_streams_no_reference(sim_server: Any, tmp_path: Path) -> None:
    """With `learn_leverage = false` there is no learned mix to follow, so OKX's swap is not streamed for it."""
    config_dir = tmp_path / "config" / "liqtui"
    config_dir.mkdir(parents=True)
    (config_dir / "config.toml").write_text("[estimator]\nlearn_leverage = false\n", encoding="utf-8")
    code, _, err = await snapshot("binance:BTCUSDT", "--sim", sim_server.url, "--seconds", "1", home=tmp_path)
    assert code == 0, err
    port = sim_server.url.rsplit(":", 1)[1].strip("/")
    saved = tmp_path / "state" / "liqtui" / f"sim-127.0.0.1-{port}"
    assert (saved / "binance_BTCUSDT.npz").exists()
    assert not (saved / "okx_BTC-USDT-SWAP.npz").exists()
