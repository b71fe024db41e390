"""Saving and reloading an estimator's state (design §4 "Warm start"), so a restart finds the map as it was.

A state file is an `.npz` holding every numpy array and plain scalar the estimator keeps, plus a JSON header: the
file format, the liqtui version, the instrument and the estimator settings that decide array shapes. Saving writes
a temporary file in the same directory, syncs it and renames it over the old one, so a crash (even SIGKILL) leaves
either the previous state or the new one, never half of each.

Loading trusts nothing: a file from another format, instrument or bin layout, a truncated or corrupt file, an array
of the wrong shape or type, or a scalar of the wrong kind is set aside (renamed `*.bad-<time>`) with a warning,
and the estimator starts fresh from the warm start. It never raises for a bad file.

The state is taken generically from the estimator's attributes (arrays and scalars), so the estimator can evolve
without a hand-kept list here; what is not state (its settings and tuning) is named in `NOT_STATE`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from liqtui import __version__
from liqtui.model.bins import LogGrid
from liqtui.model.estimator import Estimator, EstimatorSettings
from liqtui.model.margin import MarginTier
from liqtui.model.score import ScoreKeeper

log = logging.getLogger("liqtui.persist")

FORMAT_VERSION = 1
"""Bumped whenever the meaning of saved arrays changes; files of another format are set aside."""

NOT_STATE = frozenset({"config", "tuning"})
"""Estimator attributes that come from the settings, not from the data."""

_SCALARS = (bool, int, float, str, type(None))


def _layout(config: EstimatorSettings) -> dict[str, Any]:
    """The settings the saved state was built under: a change to any of them starts a fresh estimate."""
    return {
        "bin_bps": float(config.bin_bps),
        "range_pct": float(config.range_pct),
        "leverage": [float(x) for x in config.leverage],
        "leverage_weights": [float(x) for x in config.leverage_weights],
        "default_mmr": float(config.default_mmr),
        "half_life_hours": float(config.half_life_hours),
        "learn_leverage": bool(config.learn_leverage),
    }


def save_state(path: Path, estimator: Estimator) -> None:
    """Write the estimator's state to `path` atomically (temporary file, fsync, rename)."""
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    scalars: dict[str, Any] = {}
    for name, value in vars(estimator).items():
        if name in NOT_STATE:
            continue
        if isinstance(value, np.ndarray):
            arrays[f"array:{name}"] = value
        elif isinstance(value, _SCALARS):
            if isinstance(value, float) and not math.isfinite(value):
                scalars[name] = {"float": repr(value)}
            else:
                scalars[name] = value
        elif isinstance(value, LogGrid):
            scalars[name] = {"grid": [value.bin_log, value.first, value.size]}
        elif isinstance(value, ScoreKeeper):
            arrays[f"score:{name}"] = value.as_array()
        elif name == "tiers":
            arrays["tiers"] = np.array(
                [[t.floor, t.cap, t.mmr, t.max_leverage, t.maintenance_amount] for t in value], dtype=np.float64
            )
        else:
            raise TypeError(f"estimator attribute {name!r} of type {type(value).__name__} cannot be saved")
    header = {
        "format": FORMAT_VERSION,
        "liqtui": __version__,
        "instrument": estimator.instrument_key,
        "layout": _layout(estimator.config),
        "scalars": scalars,
        "saved_at": time.time(),
    }
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            np.savez(file, **arrays)  # type: ignore[arg-type]  # numpy stubs type **kwds as allow_pickle
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def state_directory(base: Path, *, sim_url: str | None, demo: bool) -> Path | None:
    """Where one source's estimator state lives: live exchanges and each simulator apart, so a map of the
    simulated market never seeds a live one. The in-process demo builds a new market each run: nothing to keep."""
    if demo:
        return None
    if sim_url:
        parts = urlsplit(sim_url)
        return base / f"sim-{parts.hostname or 'localhost'}-{parts.port or 80}"
    return base / "live"


class _Refused(ValueError):
    """Why a state file is not trusted."""


def load_state(path: Path, config: EstimatorSettings, **estimator_args: Any) -> Estimator | None:
    """The estimator saved at `path`, or None (no file, or a file set aside as untrustworthy)."""
    if not path.exists():
        return None
    try:
        return _load(path, config, estimator_args)
    except (_Refused, OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as error:
        aside = path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%dT%H%M%S')}")
        try:
            path.replace(aside)
        except OSError as rename_error:
            log.warning("cannot set aside %s: %s", path, rename_error)
        log.warning("estimator state %s not used (%s); moved to %s, starting fresh", path, error, aside.name)
        return None


def _load(path: Path, config: EstimatorSettings, estimator_args: dict[str, Any]) -> Estimator:
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(bytes(data["header"]).decode())
        if header.get("format") != FORMAT_VERSION:
            raise _Refused(f"format {header.get('format')!r}, this liqtui reads format {FORMAT_VERSION}")
        if header.get("layout") != _layout(config):
            raise _Refused("saved under other estimator settings")
        key = header["instrument"]
        tiers = tuple(MarginTier(*map(float, row)) for row in data["tiers"]) if "tiers" in data.files else None
        estimator = Estimator(
            key,
            config,
            tiers=tiers or estimator_args.get("tiers"),
            contract_size_base=estimator_args.get("contract_size_base", 1.0),
        )
        current = vars(estimator)
        for name in data.files:
            kind, _, attribute = name.partition(":")
            if kind == "array":
                _restore_array(estimator, current, attribute, data[name])
            elif kind == "score":
                if not isinstance(current.get(attribute), ScoreKeeper):
                    raise _Refused(f"unknown score {attribute!r}")
                setattr(estimator, attribute, ScoreKeeper.from_array(data[name]))
        for name, value in header["scalars"].items():
            _restore_scalar(estimator, current, name, value)
    return estimator


def _restore_array(estimator: Estimator, current: dict[str, Any], name: str, saved: np.ndarray[Any, Any]) -> None:
    fresh = current.get(name)
    if not isinstance(fresh, np.ndarray):
        raise _Refused(f"unknown array {name!r}")
    if fresh.shape != saved.shape or fresh.dtype != saved.dtype:
        raise _Refused(f"array {name!r} is {saved.dtype}{saved.shape}, expected {fresh.dtype}{fresh.shape}")
    if saved.dtype.kind == "f" and np.isnan(saved).any():
        raise _Refused(f"array {name!r} holds NaN")
    setattr(estimator, name, saved.copy())


def _restore_scalar(estimator: Estimator, current: dict[str, Any], name: str, value: Any) -> None:
    if name not in current or name in NOT_STATE:
        raise _Refused(f"unknown value {name!r}")
    fresh = current[name]
    if isinstance(value, dict) and "grid" in value:
        bin_log, first, size = value["grid"]
        setattr(estimator, name, LogGrid(bin_log=float(bin_log), first=int(first), size=int(size)))
        return
    if isinstance(value, dict) and "float" in value:
        value = float(value["float"])
    # A value must keep its kind; None and numbers may stand for one another (a price not seen yet).
    numeric = (int, float)
    same_kind = (
        fresh is None
        or value is None
        or type(fresh) is type(value)
        or (isinstance(fresh, numeric) and isinstance(value, numeric) and not isinstance(value, bool))
    )
    if not same_kind:
        raise _Refused(f"value {name!r} is a {type(value).__name__}, expected {type(fresh).__name__}")
    setattr(estimator, name, value)
