"""Estimator state saved and reloaded (issue 6 item 2): exact round trips, atomic writes, bad files set aside."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from synthetic import market_rows

from liqtui.config import default_config
from liqtui.model import persist
from liqtui.model.estimator import Estimator
from liqtui.model.persist import load_state, save_state

CONFIG = default_config().estimator
KEY = "binance:BTCUSDT"


def fed(seed: int = 1, minutes: int = 90) -> Estimator:
    estimator = Estimator(KEY, CONFIG)
    trades, marks, oi = market_rows(seed, minutes)
    estimator.update(trades=trades, marks=marks, open_interest=oi)
    return estimator


def same_picture(a: Estimator, b: Estimator) -> None:
    va, vb = a.map_view(10.0), b.map_view(10.0)
    for field in ("px_low", "px_high", "long_usd", "short_usd", "realized_long_usd", "realized_short_usd"):
        np.testing.assert_array_equal(getattr(va, field), getattr(vb, field), err_msg=field)
    assert va.mark_px == vb.mark_px and a.version == b.version
    assert a.clusters() == b.clusters()
    assert a.score() == b.score()
    assert a.leverage_shares == b.leverage_shares


def test_a_saved_estimator_reloads_exactly_and_goes_on_identically(tmp_path: Path) -> None:
    original = fed()
    assert original.map_view(10.0).long_usd.sum() > 0
    path = tmp_path / "state.npz"
    save_state(path, original)
    reloaded = load_state(path, CONFIG)
    assert reloaded is not None
    same_picture(original, reloaded)
    trades, marks, oi = market_rows(2, 30, start_ms=original.ts_ms + 1000, px=original.mark_px or 84_000.0)
    for estimator in (original, reloaded):
        estimator.update(trades=trades, marks=marks, open_interest=oi)
    same_picture(original, reloaded)


def test_saving_replaces_the_file_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.npz"
    first = fed(seed=3)
    save_state(path, first)
    before = path.read_bytes()

    def broken_savez(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(persist.np, "savez", broken_savez)
    with pytest.raises(OSError):
        save_state(path, fed(seed=4))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["state.npz"]  # no temporary file left behind


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.write_bytes(b"not an npz at all"), id="garbage"),
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), id="truncated"),
        pytest.param(lambda p: p.write_bytes(b""), id="empty"),
    ],
)
def test_a_corrupt_file_is_set_aside_never_trusted(tmp_path: Path, damage, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "state.npz"
    save_state(path, fed())
    damage(path)
    assert load_state(path, CONFIG) is None
    assert not path.exists()
    assert len(list(tmp_path.glob("state.npz.bad-*"))) == 1
    assert "not used" in caplog.text


def test_a_file_from_another_format_or_other_settings_is_set_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.npz"
    save_state(path, fed())
    assert load_state(path, replace(CONFIG, bin_bps=5.0)) is None
    save_state(path, fed())
    monkeypatch.setattr(persist, "FORMAT_VERSION", persist.FORMAT_VERSION + 1)
    assert load_state(path, CONFIG) is None
    assert len(list(tmp_path.glob("state.npz.bad-*"))) >= 1


def test_no_file_is_simply_no_state(tmp_path: Path) -> None:
    assert load_state(tmp_path / "missing.npz", CONFIG) is None


def test_sigkill_while_saving_leaves_a_readable_state(tmp_path: Path) -> None:
    """A process killed at any moment leaves the previous state or the new one, never a broken file."""
    path = tmp_path / "state.npz"
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        sys.path[:0] = [{str(Path(__file__).parent)!r}, {str(Path(__file__).parent.parent)!r}]
        from test_persist import fed
        from liqtui.model.persist import save_state
        estimator = fed()
        print("ready", flush=True)
        while True:
            save_state(Path({str(path)!r}), estimator)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 20
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(10)
    reloaded = load_state(path, CONFIG)
    assert reloaded is not None
    same_picture(fed(), reloaded)
