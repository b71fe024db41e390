"""The three exchanges' wire formats, served by `liqtui.sim.server`: one hub per exchange for its websocket
(`binance`, `bybit`, `okx`) and one REST module each (`binance_rest`, `bybit_rest`, `okx_rest`); `base` holds what
they share (settings, the connection and its send queue, number formatting)."""

from __future__ import annotations

from liqtui.sim.wire.base import ExchangeHub, WireConfig, WsConnection

__all__ = ["ExchangeHub", "WireConfig", "WsConnection"]
