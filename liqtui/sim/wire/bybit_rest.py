"""Bybit v5 REST under `/bybit`: instruments (paginated), tickers, open interest, klines and risk limits.

Every answer is HTTP 200 in Bybit's envelope, {"retCode":0,"retMsg":"OK","result":{...},"retExtInfo":{},
"time":...}; errors set `retCode` (10001 for bad parameters and unknown symbols). Lists that page carry an opaque
`nextPageCursor` ("" on the last page).
"""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from liqtui.sim.contract import SimInstrument
from liqtui.sim.wire.base import (
    BadParam,
    candle_turnover,
    fmt_fixed,
    fmt_trim,
    int_param,
    json_response,
    now_ms,
    step_decimals,
)
from liqtui.sim.wire.bybit import BybitHub

OI_INTERVALS_MS = {
    "5min": 300_000,
    "15min": 900_000,
    "30min": 1_800_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}
KLINE_INTERVALS_MS = {
    "1": 60_000,
    "3": 180_000,
    "5": 300_000,
    "15": 900_000,
    "30": 1_800_000,
    "60": 3_600_000,
    "120": 7_200_000,
    "240": 14_400_000,
    "360": 21_600_000,
    "720": 43_200_000,
    "D": 86_400_000,
    "W": 604_800_000,
}
RISK_LIMIT_SYMBOLS_PER_PAGE = 15


def envelope(result: Any, code: int = 0, msg: str = "OK") -> web.Response:
    return json_response({"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now_ms()})


def params_error(detail: str) -> web.Response:
    return envelope({}, 10001, f"params error: {detail}")


def not_supported_symbol() -> web.Response:
    return envelope({}, 10001, "Not supported symbols")


def encode_cursor(value: int) -> str:
    """An opaque page cursor (Bybit's are opaque too)."""
    return base64.urlsafe_b64encode(f"c{value}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("c"):
            raise ValueError(cursor)
        return int(text[1:])
    except ValueError:
        raise BadParam("cursor", "invalid") from None


class BybitRest:
    """The REST handlers, bound to the Bybit hub (its instruments, tickers and market)."""

    def __init__(self, hub: BybitHub) -> None:
        self.hub = hub

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/bybit/v5/market/instruments-info", self.instruments_info),
            web.get("/bybit/v5/market/tickers", self.tickers),
            web.get("/bybit/v5/market/open-interest", self.open_interest),
            web.get("/bybit/v5/market/kline", self.kline),
            web.get("/bybit/v5/market/risk-limit", self.risk_limit),
        ]

    def _page_rows(self, limit: int) -> int:
        return max(1, min(limit, self.hub.config.bybit_page_rows))

    @staticmethod
    def _category(request: web.Request) -> web.Response | None:
        if request.query.get("category") != "linear":
            # The simulator lists USDT perpetuals only.
            return envelope({}, 10001, "Illegal category")
        return None

    def _symbols(self, request: web.Request) -> list[SimInstrument] | web.Response:
        """The listed instruments, or the one `symbol` names."""
        symbol = request.query.get("symbol")
        if symbol is None:
            return self.hub.listed_instruments()
        if not self.hub.listed(symbol):
            return not_supported_symbol()
        return [self.hub.instruments[symbol]]

    async def instruments_info(self, request: web.Request) -> web.Response:
        if (bad := self._category(request)) is not None:
            return bad
        listed = self._symbols(request)
        if isinstance(listed, web.Response):
            return envelope({"category": "linear", "list": [], "nextPageCursor": ""})
        try:
            limit = int_param(request, "limit", 500, low=1, high=1000)
            assert limit is not None
            offset = decode_cursor(request.query["cursor"]) if request.query.get("cursor") else 0
        except BadParam as problem:
            return params_error(f"{problem.name} {problem.problem}")
        rows = self._page_rows(limit)
        page = listed[offset : offset + rows]
        more = offset + rows < len(listed)
        return envelope(
            {
                "category": "linear",
                "list": [self._instrument(inst) for inst in page],
                "nextPageCursor": encode_cursor(offset + rows) if more else "",
            }
        )

    @staticmethod
    def _instrument(inst: SimInstrument) -> dict[str, Any]:
        tick = fmt_fixed(inst.tick_size, step_decimals(inst.tick_size))
        step = fmt_fixed(inst.qty_step, step_decimals(inst.qty_step))
        return {
            "symbol": inst.symbol,
            "contractType": "LinearPerpetual",
            "status": "Trading",
            "baseCoin": inst.asset,
            "quoteCoin": "USDT",
            "launchTime": "1585526400000",
            "deliveryTime": "0",
            "deliveryFeeRate": "",
            "priceScale": str(step_decimals(inst.tick_size)),
            "leverageFilter": {
                "minLeverage": "1",
                "maxLeverage": fmt_fixed(inst.max_leverage, 2),
                "leverageStep": "0.01",
            },
            "priceFilter": {"minPrice": tick, "maxPrice": "1999999.80", "tickSize": tick},
            "lotSizeFilter": {
                "maxOrderQty": "1190.000",
                "minOrderQty": step,
                "qtyStep": step,
                "postOnlyMaxOrderQty": "1190.000",
                "maxMktOrderQty": "500.000",
                "minNotionalValue": "5",
            },
            "unifiedMarginTrade": True,
            "fundingInterval": 480,
            "settleCoin": "USDT",
            "copyTrading": "both",
            "upperFundingRate": "0.005",
            "lowerFundingRate": "-0.005",
            "isPreListing": False,
            "preListingInfo": None,
            "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
            "displayName": "",
        }

    async def tickers(self, request: web.Request) -> web.Response:
        if (bad := self._category(request)) is not None:
            return bad
        listed = self._symbols(request)
        if isinstance(listed, web.Response):
            return listed
        rows = []
        for inst in listed:
            fields = self.hub.ticker_fields(inst.symbol)
            rows.append(
                {
                    name: value
                    for name, value in fields.items()
                    if name not in ("tickDirection", "preOpenPrice", "preQty", "curPreListingPhase")
                }
                | {
                    "predictedDeliveryPrice": "",
                    "basisRate": "",
                    "deliveryFeeRate": "",
                    "deliveryTime": "0",
                    "basis": "",
                }
            )
        return envelope({"category": "linear", "list": rows})

    async def open_interest(self, request: web.Request) -> web.Response:
        if (bad := self._category(request)) is not None:
            return bad
        symbol = request.query.get("symbol")
        if not symbol:
            return params_error("symbol is required")
        if not self.hub.listed(symbol):
            return not_supported_symbol()
        interval_ms = OI_INTERVALS_MS.get(request.query.get("intervalTime", ""))
        if interval_ms is None:
            return params_error("intervalTime invalid")
        try:
            limit = int_param(request, "limit", 50, low=1, high=200)
            assert limit is not None
            start = int_param(request, "startTime", 0, low=0)
            end = int_param(request, "endTime", None, low=0)
            if request.query.get("cursor"):
                end = decode_cursor(request.query["cursor"])
        except BadParam as problem:
            return params_error(f"{problem.name} {problem.problem}")
        assert start is not None
        end = now_ms() if end is None else end
        rows = self._page_rows(limit)
        history = self.hub.market.oi_history(self.hub.key(symbol), interval_ms, start, end, rows)
        fmt = self.hub.formats[symbol]
        # Bybit lists newest first; the next page holds what is older than this page's oldest row.
        listing = [
            {
                "openInterest": fmt.qty(2.0 * float(row["oi_base"])),
                "singleOpenInterest": fmt.qty(float(row["oi_base"])),
                "timestamp": str(int(row["ts_ms"])),
            }
            for row in history[::-1]
        ]
        oldest = int(history["ts_ms"][0]) if len(history) else start
        more = len(history) == rows and oldest - 1 >= start
        return envelope(
            {
                "symbol": symbol,
                "category": "linear",
                "list": listing,
                "nextPageCursor": encode_cursor(oldest - 1) if more else "",
            }
        )

    async def kline(self, request: web.Request) -> web.Response:
        if (bad := self._category(request)) is not None:
            return bad
        symbol = request.query.get("symbol")
        if not symbol:
            return params_error("symbol is required")
        if not self.hub.listed(symbol):
            return not_supported_symbol()
        interval_ms = KLINE_INTERVALS_MS.get(request.query.get("interval", ""))
        if interval_ms is None:
            return params_error("interval invalid")
        try:
            limit = int_param(request, "limit", 200, low=1, high=1000)
            start = int_param(request, "start", None, low=0)
            end = int_param(request, "end", None, low=0)
        except BadParam as problem:
            return params_error(f"{problem.name} {problem.problem}")
        assert limit is not None
        if start is not None and end is None:
            end = start + interval_ms * limit - 1
        candles = self.hub.market.klines(
            self.hub.key(symbol), interval_ms, start or 0, now_ms() if end is None else end, limit
        )
        fmt = self.hub.formats[symbol]
        rows = [
            [
                str(int(c["open_ms"])),
                fmt.px(float(c["open"])),
                fmt.px(float(c["high"])),
                fmt.px(float(c["low"])),
                fmt.px(float(c["close"])),
                fmt.qty(float(c["volume_base"])),
                fmt_fixed(candle_turnover(c), 4),
            ]
            for c in candles[::-1]
        ]
        return envelope({"category": "linear", "symbol": symbol, "list": rows})

    async def risk_limit(self, request: web.Request) -> web.Response:
        if (bad := self._category(request)) is not None:
            return bad
        listed = self._symbols(request)
        if isinstance(listed, web.Response):
            return listed
        try:
            offset = decode_cursor(request.query["cursor"]) if request.query.get("cursor") else 0
        except BadParam as problem:
            return params_error(f"{problem.name} {problem.problem}")
        per_page = self._page_rows(RISK_LIMIT_SYMBOLS_PER_PAGE)
        page = listed[offset : offset + per_page]
        rows: list[dict[str, Any]] = []
        for inst in page:
            for number, tier in enumerate(inst.tiers, start=1):
                rows.append(
                    {
                        "id": number,
                        "symbol": inst.symbol,
                        "riskLimitValue": fmt_trim(tier.cap, 2),
                        "maintenanceMargin": fmt_trim(tier.mmr, 6),
                        "initialMargin": fmt_trim(1.0 / tier.max_leverage, 6),
                        "isLowestRisk": 1 if number == 1 else 0,
                        "maxLeverage": fmt_fixed(tier.max_leverage, 2),
                        "mmDeduction": fmt_trim(tier.maintenance_amount, 4) if tier.maintenance_amount else "",
                    }
                )
        more = offset + per_page < len(listed)
        return envelope(
            {"category": "linear", "list": rows, "nextPageCursor": encode_cursor(offset + per_page) if more else ""}
        )
