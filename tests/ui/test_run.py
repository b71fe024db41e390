"""`liqtui [INSTRUMENT ...]`: errors before the screen opens, and the whole `--demo` pipeline run headless."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from textual.pilot import Pilot

from liqtui.cli import main
from liqtui.ui.app import LiqtuiApp
from liqtui.ui.panes.liq_map import LiqMap
from liqtui.ui.panes.status import StatusLine
from liqtui.ui.run import DemoSimulator


def test_a_bad_config_is_exit_2_in_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[ui]\nrefresh_hz = "fast"\n')
    assert main(["--config", str(config), "--log-file", str(tmp_path / "log")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and '"ui.refresh_hz" must be a positive number' in err


@pytest.mark.parametrize("name", ["BTCUSDT", "kraken:BTCUSD", "binance:BTC USDT"])
def test_a_malformed_instrument_is_exit_2(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([name, "--log-file", str(tmp_path / "log")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("liqtui: ") and err.count("\n") == 1


def test_an_instrument_the_exchange_does_not_list_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Checked against the (simulated) exchange's instrument table before the screen opens."""
    assert main(["--demo", "binance:NOPEUSDT", "--log-file", str(tmp_path / "log")]) == 2
    err = capsys.readouterr().err
    assert "binance:NOPEUSDT" in err and "not listed" in err
    assert [t for t in threading.enumerate() if t.name == "liqtui-sim"] == []


def test_the_demo_simulator_starts_and_stops_in_its_thread() -> None:
    simulator = DemoSimulator()
    url = simulator.start(timeout_s=60)
    assert url.startswith("http://127.0.0.1:")
    simulator.stop()
    assert [t for t in threading.enumerate() if t.name == "liqtui-sim"] == []


def test_demo_runs_the_whole_pipeline_and_the_map_is_warm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`liqtui --demo`, headless: the warm start fills the map, the feeds are live, q quits with 0."""
    seen: dict[str, Any] = {}

    async def drive(pilot: Pilot[int]) -> None:
        app = pilot.app
        assert isinstance(app, LiqtuiApp)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            view = app.query_one(LiqMap).view
            info = app.query_one(StatusLine).info
            if view is not None and info is not None and all(f.words == "live" for f in info.feeds):
                seen["mass"] = float(np.sum(view.long_usd) + np.sum(view.short_usd))
                seen["feeds"] = [f.words for f in info.feeds]
                break
        await pilot.press("q")

    original_run = LiqtuiApp.run

    def run_headless(self: LiqtuiApp, **kwargs: Any) -> int | None:
        seen["mouse"] = kwargs.get("mouse")
        return original_run(self, headless=True, size=(120, 40), auto_pilot=drive)

    monkeypatch.setattr(LiqtuiApp, "run", run_headless)
    assert main(["--demo", "--no-mouse", "--log-file", str(tmp_path / "log")]) == 0
    assert seen.get("mouse") is False
    assert seen.get("feeds") == ["live", "live", "live"]
    assert seen["mass"] > 0, "the map should hold estimated positions (the warm start fills it)"
    assert [t for t in threading.enumerate() if t.name == "liqtui-sim"] == []
