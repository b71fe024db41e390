"""OKX v5 REST under `/okx`: instruments, open interest, mark price, position tiers, candles and liquidation orders.

Every answer is HTTP 200 in OKX's envelope {"code":"0","msg":"","data":[...]}; errors set `code` (50014 missing
parameter, 50015 one of two required, 51000 bad parameter, 51001 unknown instrument) with an empty `data`.
Sizes are contracts; numbers and timestamps are strings; candles come newest first.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from liqtui.sim.contract import SimInstrument
from liqtui.sim.wire.base import BadParam, candle_turnover, fmt_trim, int_param, json_response, now_ms
from liqtui.sim.wire.okx import OkxHub, inst_family, okx_reports

BARS_MS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1H": 3_600_000,
    "2H": 7_200_000,
    "4H": 14_400_000,
    "6H": 21_600_000,
    "12H": 43_200_000,
    "1D": 86_400_000,
    "1W": 604_800_000,
}
LIQUIDATION_HISTORY_MS = 7 * 86_400_000
"""How far back `liquidation-orders` reaches (about a week, by third-party accounts)."""
INSTRUMENT_MISSING = "Instrument ID, Instrument ID code, or Spread ID doesn't exist."
MAX_ORDER_CONTRACTS = "100000000"


def envelope(data: list[Any], code: str = "0", msg: str = "") -> web.Response:
    return json_response({"code": code, "msg": msg, "data": data})


def empty_param(name: str) -> web.Response:
    return envelope([], "50014", f"Parameter {name} can not be empty.")


def param_error(name: str) -> web.Response:
    return envelope([], "51000", f"Parameter {name} error")


def unknown_instrument() -> web.Response:
    return envelope([], "51001", INSTRUMENT_MISSING)


class OkxRest:
    """The REST handlers, bound to the OKX hub (its instruments and market)."""

    def __init__(self, hub: OkxHub) -> None:
        self.hub = hub

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/okx/api/v5/public/instruments", self.instruments),
            web.get("/okx/api/v5/public/open-interest", self.open_interest),
            web.get("/okx/api/v5/public/mark-price", self.mark_price),
            web.get("/okx/api/v5/public/position-tiers", self.position_tiers),
            web.get("/okx/api/v5/market/candles", self.candles),
            web.get("/okx/api/v5/market/history-candles", self.history_candles),
            web.get("/okx/api/v5/rubik/stat/contracts/open-interest-history", self.open_interest_history),
            web.get("/okx/api/v5/public/liquidation-orders", self.liquidation_orders),
        ]

    def _selected(self, request: web.Request) -> list[SimInstrument] | web.Response:
        """The SWAP instruments an `instType` (+ optional `instId`) query selects."""
        inst_type = request.query.get("instType")
        if not inst_type:
            return empty_param("instType")
        if inst_type != "SWAP":
            return []  # the simulator lists perpetual swaps only
        inst_id = request.query.get("instId")
        if inst_id is None:
            return self.hub.listed_instruments()
        if not self.hub.listed(inst_id):
            return unknown_instrument()
        return [self.hub.instruments[inst_id]]

    async def instruments(self, request: web.Request) -> web.Response:
        selected = self._selected(request)
        if isinstance(selected, web.Response):
            return selected
        return envelope([self._instrument(inst) for inst in selected])

    def _instrument(self, inst: SimInstrument) -> dict[str, Any]:
        family = inst_family(inst.symbol)
        lot = fmt_trim(inst.qty_step, 8)
        return {
            "instType": "SWAP",
            "instId": inst.symbol,
            "uly": family,
            "instFamily": family,
            "baseCcy": "",
            "quoteCcy": "",
            "settleCcy": "USDT",
            "ctVal": fmt_trim(inst.contract_size_base, 10),
            "ctMult": "1",
            "ctValCcy": inst.asset,
            "optType": "",
            "stk": "",
            "listTime": "1611916828000",
            "expTime": "",
            "lever": fmt_trim(inst.max_leverage, 0),
            "tickSz": fmt_trim(inst.tick_size, 10),
            "lotSz": lot,
            "minSz": lot,
            "ctType": "linear",
            "alias": "",
            "state": "live",
            "ruleType": "normal",
            "maxLmtSz": MAX_ORDER_CONTRACTS,
            "maxMktSz": "12000",
            "maxLmtAmt": "20000000",
            "maxMktAmt": "2000000",
            "maxTwapSz": MAX_ORDER_CONTRACTS,
            "maxIcebergSz": MAX_ORDER_CONTRACTS,
            "maxTriggerSz": MAX_ORDER_CONTRACTS,
            "maxStopSz": "12000",
            "openType": "",
        }

    async def open_interest(self, request: web.Request) -> web.Response:
        selected = self._selected(request)
        if isinstance(selected, web.Response):
            return selected
        now = now_ms()
        rows = []
        for inst in selected:
            state = self.hub.market.state(self.hub.key(inst.symbol))
            rows.append(
                {
                    "instType": "SWAP",
                    "instId": inst.symbol,
                    "oi": self.hub.contracts(inst.symbol, state.oi_base),
                    "oiCcy": fmt_trim(state.oi_base, 8),
                    "oiUsd": fmt_trim(state.oi_base * state.mark_px, 4),
                    "ts": str(now),
                }
            )
        return envelope(rows)

    async def mark_price(self, request: web.Request) -> web.Response:
        selected = self._selected(request)
        if isinstance(selected, web.Response):
            return selected
        now = now_ms()
        return envelope(
            [
                {
                    "instType": "SWAP",
                    "instId": inst.symbol,
                    "markPx": self.hub.formats[inst.symbol].px(
                        self.hub.market.state(self.hub.key(inst.symbol)).mark_px
                    ),
                    "ts": str(now),
                }
                for inst in selected
            ]
        )

    async def position_tiers(self, request: web.Request) -> web.Response:
        inst_type = request.query.get("instType")
        if not inst_type:
            return empty_param("instType")
        td_mode = request.query.get("tdMode")
        if not td_mode:
            return empty_param("tdMode")
        if td_mode not in ("cross", "isolated"):
            return param_error("tdMode")
        families_text = request.query.get("instFamily") or request.query.get("uly")
        if not families_text:
            return envelope([], "50015", "Either parameter uly or instFamily is required.")
        families = families_text.split(",")
        if len(families) > 5:
            return param_error("instFamily")
        by_family = {inst_family(inst.symbol): inst for inst in self.hub.listed_instruments()}
        rows: list[dict[str, str]] = []
        for family in families:
            inst = by_family.get(family)
            if inst is None:
                return param_error("instFamily")
            for number, tier in enumerate(inst.tiers, start=1):
                rows.append(
                    {
                        "uly": family,
                        "instFamily": family,
                        "instId": "",
                        "tier": str(number),
                        "minSz": fmt_trim(tier.floor, 4),
                        "maxSz": fmt_trim(tier.cap, 4),
                        "mmr": fmt_trim(tier.mmr, 6),
                        "imr": fmt_trim(1.0 / tier.max_leverage, 6),
                        "maxLever": fmt_trim(tier.max_leverage, 2),
                        "optMgnFactor": "",
                        "quoteMaxLoan": "",
                        "baseMaxLoan": "",
                    }
                )
        return envelope(rows)

    async def open_interest_history(self, request: web.Request) -> web.Response:
        """Per-instrument open interest every `period`, newest first, as rows `[ts, oi, oiCcy, oiUsd]`; at most 100
        rows, `end` (exclusive of newer rows) pages back in time."""
        inst_id = request.query.get("instId")
        if not inst_id:
            return empty_param("instId")
        if not self.hub.listed(inst_id):
            return unknown_instrument()
        period_ms = BARS_MS.get(request.query.get("period", "5m"))
        if period_ms is None:
            return param_error("period")
        try:
            limit = int_param(request, "limit", 100, low=1, high=100)
            begin = int_param(request, "begin", None, low=0)
            end = int_param(request, "end", None, low=0)
        except BadParam as bad:
            return param_error(bad.name)
        assert limit is not None
        key = self.hub.key(inst_id)
        history = self.hub.market.oi_history(key, period_ms, begin or 0, end if end is not None else now_ms(), limit)
        mark_px = self.hub.market.state(key).mark_px
        rows = [
            [
                str(int(row["ts_ms"])),
                self.hub.contracts(inst_id, float(row["oi_base"])),
                fmt_trim(float(row["oi_base"]), 8),
                fmt_trim(float(row["oi_base"]) * mark_px, 4),
            ]
            for row in history[::-1]
        ]
        return envelope(rows)

    async def liquidation_orders(self, request: web.Request) -> web.Response:
        """Filled liquidation orders of one instrument family, newest first: the ones the `liquidation-orders`
        channel reports (a share of all), from the last week. `after` pages back in time (rows older than it),
        `before` forward; at most 100 rows. The simulator has no resting liquidation orders, so `state=unfilled`
        (the default) answers no rows."""
        inst_type = request.query.get("instType")
        if not inst_type:
            return empty_param("instType")
        family = request.query.get("instFamily") or request.query.get("uly")
        if inst_type == "SWAP" and not family:
            return envelope([], "50015", "Either parameter uly or instFamily is required.")
        state = request.query.get("state", "unfilled")
        if state not in ("unfilled", "filled"):
            return param_error("state")
        try:
            limit = int_param(request, "limit", 100, low=1, high=100)
            before = int_param(request, "before", None, low=0)
            after = int_param(request, "after", None, low=0)
        except BadParam as bad:
            return param_error(bad.name)
        assert limit is not None
        inst_id = f"{family}-SWAP"
        if inst_type != "SWAP" or state != "filled" or not self.hub.listed(inst_id):
            return envelope([])
        now = now_ms()
        start = max(now - LIQUIDATION_HISTORY_MS, (before or 0) + 1)
        end = now if after is None else after - 1
        rows = self.hub.market.liquidation_history(self.hub.key(inst_id), start, end)
        config = self.hub.config
        rows = rows[okx_reports(rows["ts_ms"], rows["qty_base"], config.okx_liquidation_share, config.seed)]
        if not len(rows):
            return envelope([])
        details = [
            self.hub.liquidation_detail(
                inst_id,
                is_long=bool(row["side"] > 0),
                qty_base=float(row["qty_base"]),
                bankruptcy_px=float(row["bankruptcy_px"]),
                ts_ms=int(row["ts_ms"]),
            )
            for row in rows[::-1][:limit]
        ]
        return envelope(
            [
                {
                    "details": details,
                    "instFamily": family,
                    "instId": inst_id,
                    "instType": "SWAP",
                    "totalLoss": "0",
                    "uly": family,
                }
            ]
        )

    async def candles(self, request: web.Request) -> web.Response:
        return self._candles(request, max_limit=300)

    async def history_candles(self, request: web.Request) -> web.Response:
        return self._candles(request, max_limit=100)

    def _candles(self, request: web.Request, *, max_limit: int) -> web.Response:
        inst_id = request.query.get("instId")
        if not inst_id:
            return empty_param("instId")
        if not self.hub.listed(inst_id):
            return unknown_instrument()
        bar_ms = BARS_MS.get(request.query.get("bar", "1m"))
        if bar_ms is None:
            return param_error("bar")
        try:
            limit = int_param(request, "limit", 100, low=1, high=max_limit)
            after = int_param(request, "after", None, low=0)
            before = int_param(request, "before", None, low=0)
        except BadParam as bad:
            return param_error(bad.name)
        assert limit is not None
        now = now_ms()
        # `after`: rows older than it; `before`: rows newer than it (both exclusive, both by open time).
        start = 0 if before is None else before + 1
        end = now if after is None else after - 1
        inst = self.hub.instruments[inst_id]
        fmt = self.hub.formats[inst_id]
        candles = self.hub.market.klines(self.hub.key(inst_id), bar_ms, start, end, limit)
        rows = []
        for c in candles[::-1]:
            open_ms, volume = int(c["open_ms"]), float(c["volume_base"])
            rows.append(
                [
                    str(open_ms),
                    fmt.px(float(c["open"])),
                    fmt.px(float(c["high"])),
                    fmt.px(float(c["low"])),
                    fmt.px(float(c["close"])),
                    fmt_trim(volume / inst.contract_size_base, fmt.qty_decimals),
                    fmt_trim(volume, 8),
                    fmt_trim(candle_turnover(c), 4),
                    "0" if open_ms + bar_ms > now else "1",
                ]
            )
        return envelope(rows)
