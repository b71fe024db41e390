"""The parser for each exchange, by name: what the runners, the replay and the benchmarks construct."""

from __future__ import annotations

from liqtui.feeds.base import Parser
from liqtui.feeds.binance import BinanceParser
from liqtui.feeds.bybit import BybitParser
from liqtui.feeds.okx import OkxParser
from liqtui.model.types import Exchange


def parser_for(exchange: Exchange) -> Parser:
    """A new parser for the exchange's wire format (parsers hold state: each connection needs its own)."""
    if exchange is Exchange.BINANCE:
        return BinanceParser()
    if exchange is Exchange.BYBIT:
        return BybitParser()
    if exchange is Exchange.OKX:
        return OkxParser()
    raise ValueError(f"no parser for exchange {exchange!r}")
