"""Binance USD-M REST under `/binance`: instruments, mark price, open interest (now and history) and klines.

Error bodies are Binance's: HTTP 400 with {"code":-1121,"msg":"Invalid symbol."} and friends.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from liqtui.sim.contract import SimInstrument
from liqtui.sim.wire.base import (
    BadParam,
    candle_taker_buy_quote,
    candle_turnover,
    fmt_fixed,
    int_param,
    json_response,
    now_ms,
    oi_quote,
    step_decimals,
)
from liqtui.sim.wire.binance import BinanceHub

PERIODS_MS = {
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
}
"""`openInterestHist` periods."""

KLINE_INTERVALS_MS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}
CIRCULATING_SUPPLY = "19800000.00"
"""`CMCCirculatingSupply`: a fixed plausible figure; liqtui does not read it."""
DELIVERY_DATE_PERPETUAL = 4133404800000
TRADE_LOTS = 20
"""Where the market does not count trades, a candle's trade count is its volume over this many size increments."""


def error(code: int, msg: str, status: int = 400) -> web.Response:
    """A Binance REST error body."""
    return json_response({"code": code, "msg": msg}, status)


def invalid_symbol() -> web.Response:
    return error(-1121, "Invalid symbol.")


def mandatory(name: str) -> web.Response:
    return error(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def not_valid(name: str) -> web.Response:
    return error(-1130, f"Data sent for parameter '{name}' is not valid.")


def time_range(request: web.Request, step_ms: int, limit: int) -> tuple[int, int]:
    """[start, end] in ms for a history query: Binance counts `limit` rows forward from `startTime` alone."""
    start = int_param(request, "startTime", low=0)
    end = int_param(request, "endTime", low=0)
    if start is not None and end is None:
        end = start + step_ms * limit - 1
    return (0 if start is None else start), (now_ms() if end is None else end)


class BinanceRest:
    """The REST handlers, bound to the Binance hub (its instruments and market)."""

    def __init__(self, hub: BinanceHub) -> None:
        self.hub = hub

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/binance/fapi/v1/exchangeInfo", self.exchange_info),
            web.get("/binance/fapi/v1/premiumIndex", self.premium_index),
            web.get("/binance/fapi/v1/openInterest", self.open_interest),
            web.get("/binance/futures/data/openInterestHist", self.open_interest_hist),
            web.get("/binance/fapi/v1/klines", self.klines),
        ]

    def _symbol(self, request: web.Request) -> str | web.Response:
        symbol = request.query.get("symbol")
        if not symbol:
            return mandatory("symbol")
        return symbol if self.hub.listed(symbol) else invalid_symbol()

    async def exchange_info(self, request: web.Request) -> web.Response:
        now = now_ms()
        return json_response(
            {
                "timezone": "UTC",
                "serverTime": now,
                "futuresType": "U_MARGINED",
                "rateLimits": [
                    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
                    {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                ],
                "exchangeFilters": [],
                "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
                "symbols": [self._symbol_info(inst) for inst in self.hub.listed_instruments()],
            }
        )

    @staticmethod
    def _symbol_info(inst: SimInstrument) -> dict[str, Any]:
        px_dec, qty_dec = step_decimals(inst.tick_size), step_decimals(inst.qty_step)
        tick, step = fmt_fixed(inst.tick_size, px_dec), fmt_fixed(inst.qty_step, qty_dec)
        return {
            "symbol": inst.symbol,
            "pair": inst.symbol,
            "contractType": "PERPETUAL",
            "deliveryDate": DELIVERY_DATE_PERPETUAL,
            "onboardDate": 1569398400000,
            "status": "TRADING",
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": inst.asset,
            "quoteAsset": "USDT",
            "marginAsset": "USDT",
            "pricePrecision": px_dec,
            "quantityPrecision": qty_dec,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": [],
            "triggerProtect": "0.0500",
            "liquidationFee": "0.012500",
            "marketTakeBound": "0.05",
            "maxMoveOrderLimit": 10000,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "4529764", "tickSize": tick},
                {"filterType": "LOT_SIZE", "minQty": step, "maxQty": "1000", "stepSize": step},
                {"filterType": "MARKET_LOT_SIZE", "minQty": step, "maxQty": "120", "stepSize": step},
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                {"filterType": "MIN_NOTIONAL", "notional": "5"},
                {
                    "filterType": "PERCENT_PRICE",
                    "multiplierUp": "1.0500",
                    "multiplierDown": "0.9500",
                    "multiplierDecimal": "4",
                },
            ],
            "orderTypes": [
                "LIMIT",
                "MARKET",
                "STOP",
                "STOP_MARKET",
                "TAKE_PROFIT",
                "TAKE_PROFIT_MARKET",
                "TRAILING_STOP_MARKET",
            ],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
            "permissionSet": ["GRID", "COPY"],
        }

    def _premium(self, symbol: str, now: int) -> dict[str, Any]:
        state = self.hub.market.state(self.hub.key(symbol))
        return {
            "symbol": symbol,
            "markPrice": fmt_fixed(state.mark_px, 8),
            "indexPrice": fmt_fixed(state.index_px, 8),
            "estimatedSettlePrice": fmt_fixed(state.index_px, 8),
            "lastFundingRate": fmt_fixed(state.funding_rate, 8),
            "interestRate": "0.00010000",
            "nextFundingTime": state.next_funding_ms,
            "time": now,
        }

    async def premium_index(self, request: web.Request) -> web.Response:
        now = now_ms()
        symbol = request.query.get("symbol")
        if symbol is None:
            return json_response([self._premium(inst.symbol, now) for inst in self.hub.listed_instruments()])
        if not self.hub.listed(symbol):
            return invalid_symbol()
        return json_response(self._premium(symbol, now))

    async def open_interest(self, request: web.Request) -> web.Response:
        symbol = self._symbol(request)
        if isinstance(symbol, web.Response):
            return symbol
        state = self.hub.market.state(self.hub.key(symbol))
        return json_response(
            {"openInterest": self.hub.formats[symbol].qty(state.oi_base), "symbol": symbol, "time": now_ms()}
        )

    async def open_interest_hist(self, request: web.Request) -> web.Response:
        symbol = self._symbol(request)
        if isinstance(symbol, web.Response):
            return symbol
        period = request.query.get("period")
        if not period:
            return mandatory("period")
        period_ms = PERIODS_MS.get(period)
        if period_ms is None:
            return not_valid("period")
        try:
            limit = int_param(request, "limit", 30, low=1, high=500)
            assert limit is not None
            start, end = time_range(request, period_ms, limit)
        except BadParam as bad:
            return not_valid(bad.name)
        rows = self.hub.market.oi_history(self.hub.key(symbol), period_ms, start, end, limit)
        state = self.hub.market.state(self.hub.key(symbol))
        return json_response(
            [
                {
                    "symbol": symbol,
                    "sumOpenInterest": fmt_fixed(float(row["oi_base"]), 8),
                    "sumOpenInterestValue": fmt_fixed(oi_quote(row, state.mark_px), 8),
                    "CMCCirculatingSupply": CIRCULATING_SUPPLY,
                    "timestamp": int(row["ts_ms"]),
                }
                for row in rows
            ]
        )

    async def klines(self, request: web.Request) -> web.Response:
        symbol = self._symbol(request)
        if isinstance(symbol, web.Response):
            return symbol
        interval = request.query.get("interval")
        if not interval:
            return mandatory("interval")
        interval_ms = KLINE_INTERVALS_MS.get(interval)
        if interval_ms is None:
            return error(-1120, "Invalid interval.")
        try:
            limit = int_param(request, "limit", 500, low=1, high=1500)
            assert limit is not None
            start, end = time_range(request, interval_ms, limit)
        except BadParam as bad:
            return not_valid(bad.name)
        fmt = self.hub.formats[symbol]
        qty_step = self.hub.instruments[symbol].qty_step
        candles = self.hub.market.klines(self.hub.key(symbol), interval_ms, start, end, limit)
        rows: list[list[Any]] = []
        for candle in candles:
            volume = float(candle["volume_base"])
            taker_buy = float(candle["taker_buy_base"])
            taker_buy = 0.0 if math.isnan(taker_buy) else taker_buy
            if "trade_count" in candle.dtype.names:
                trades = int(candle["trade_count"])
            else:
                trades = math.ceil(volume / (TRADE_LOTS * qty_step))
            open_ms = int(candle["open_ms"])
            rows.append(
                [
                    open_ms,
                    fmt.px(float(candle["open"])),
                    fmt.px(float(candle["high"])),
                    fmt.px(float(candle["low"])),
                    fmt.px(float(candle["close"])),
                    fmt.qty(volume),
                    open_ms + interval_ms - 1,
                    fmt_fixed(candle_turnover(candle), 5),
                    trades,
                    fmt.qty(taker_buy),
                    fmt_fixed(candle_taker_buy_quote(candle), 5),
                    "0",
                ]
            )
        return json_response(rows)
