"""REST fetches per exchange: instrument tables, maintenance tiers, and the warm-start history.

The warm start asks for 5-minute candles and 5-minute open-interest history (the finest period every exchange's
open-interest history offers), enough to cover `hours`, and on OKX, the only one that publishes it, the
liquidation history. Bodies are parsed by the exchange modules' pure functions; anything unusable becomes one
`FeedError` sentence with the exchange's own words.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from liqtui.errors import FeedError
from liqtui.feeds import binance, bybit, okx
from liqtui.feeds.rest import RestClient
from liqtui.model.margin import MarginTier
from liqtui.model.types import KLINE_DTYPE, OPEN_INTEREST_DTYPE, Exchange, Instrument

__all__ = [
    "KLINE_DTYPE",
    "OPEN_INTEREST_DTYPE",
    "fetch_instruments",
    "fetch_klines",
    "fetch_liquidation_history",
    "fetch_open_interest_history",
    "fetch_tiers",
]

FIVE_MINUTES_MS = 5 * 60 * 1000
MAX_PAGES = 20
"""A bound on any paginated fetch, so a misbehaving server cannot keep the warm start busy forever."""


def _bars(hours: float) -> int:
    return max(1, math.ceil(hours * 12))


async def _get_parsed(
    client: RestClient, path: str, params: dict[str, Any], parse: Callable[[bytes], Any], attempts: int | None = None
) -> Any:
    _, body, status = await client.get(path, params, attempts=attempts)
    if status >= 400:
        raise FeedError(f"{client.exchange.value} REST {path} answered HTTP {status}: {_words(body)}")
    try:
        return parse(body)
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise FeedError(f"{client.exchange.value} REST {path} sent a body liqtui cannot read: {error}") from error


def _words(body: bytes) -> str:
    """The exchange's own error text, shortened, as plain text."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", errors="replace")
    if isinstance(data, dict):
        for key in ("msg", "retMsg", "message"):
            if data.get(key):
                return str(data[key])[:200]
    return str(data)[:200]


def _cursor(body: bytes) -> str:
    """Bybit's `result.nextPageCursor` ("" on the last page)."""
    data = orjson.loads(body)
    result = data.get("result") if isinstance(data, dict) else None
    return str(result.get("nextPageCursor") or "") if isinstance(result, dict) else ""


async def fetch_instruments(client: RestClient, attempts: int | None = None) -> list[Instrument]:
    """The exchange's linear perpetuals and everything else it lists (kinds tell them apart)."""
    exchange = client.exchange
    if exchange is Exchange.BINANCE:
        result: list[Instrument] = await _get_parsed(
            client, "/fapi/v1/exchangeInfo", {}, binance.parse_instruments, attempts
        )
        return result
    if exchange is Exchange.OKX:
        result = await _get_parsed(
            client, "/api/v5/public/instruments", {"instType": "SWAP"}, okx.parse_instruments, attempts
        )
        return result
    instruments: list[Instrument] = []
    cursor = ""
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"category": "linear", "limit": 1000}
        if cursor:
            params["cursor"] = cursor
        page, cursor = await _get_parsed(
            client,
            "/v5/market/instruments-info",
            params,
            lambda body: (bybit.parse_instruments(body), _cursor(body)),
            attempts,
        )
        instruments.extend(page)
        if not cursor:
            break
    return instruments


async def fetch_klines(client: RestClient, symbol: str, hours: float) -> npt.NDArray[Any]:
    """5-minute candles covering the last `hours`, oldest first (with taker buy volume on Binance only)."""
    bars = _bars(hours)
    exchange = client.exchange
    if exchange is Exchange.BINANCE:
        params: dict[str, Any] = {"symbol": symbol, "interval": "5m", "limit": min(1500, bars)}
        rows: npt.NDArray[Any] = await _get_parsed(client, "/fapi/v1/klines", params, binance.parse_klines)
        return rows
    if exchange is Exchange.BYBIT:
        params = {"category": "linear", "symbol": symbol, "interval": "5", "limit": min(1000, bars)}
        rows = await _get_parsed(client, "/v5/market/kline", params, bybit.parse_klines)
        return rows
    params = {"instId": symbol, "bar": "5m", "limit": min(300, bars)}
    rows = await _get_parsed(client, "/api/v5/market/candles", params, okx.parse_klines)
    return rows


async def fetch_open_interest_history(client: RestClient, symbol: str, hours: float) -> npt.NDArray[Any]:
    """5-minute single-sided open interest (base units) covering the last `hours`, oldest first."""
    bars = _bars(hours)
    exchange = client.exchange
    if exchange is Exchange.BINANCE:
        params: dict[str, Any] = {"symbol": symbol, "period": "5m", "limit": min(500, bars)}
        rows: npt.NDArray[Any] = await _get_parsed(
            client, "/futures/data/openInterestHist", params, binance.parse_open_interest_history
        )
        return rows
    if exchange is Exchange.OKX:
        # At most 100 rows a request, newest first: page back in time with `end`.
        pages, _ = await _paged(
            client,
            "/api/v5/rubik/stat/contracts/open-interest-history",
            {"instId": symbol, "period": "5m"},
            okx.parse_open_interest_history,
            page_rows=100,
            rows=bars,
            follow=lambda page, _body: {"end": int(page["ts_ms"].min()) - 1},
        )
        return pages
    # Bybit: at most 200 rows a request, paged with the body's cursor.
    pages, _ = await _paged(
        client,
        "/v5/market/open-interest",
        {"category": "linear", "symbol": symbol, "intervalTime": "5min"},
        bybit.parse_open_interest_history,
        page_rows=200,
        rows=bars,
        follow=lambda _page, body: {"cursor": cursor} if (cursor := _cursor(body)) else None,
    )
    return pages


async def fetch_liquidation_history(
    client: RestClient, symbol: str, hours: float, contract_size_base: float, now_ms: int
) -> tuple[npt.NDArray[Any], int | None]:
    """OKX's reported liquidations of `symbol` over the last `hours` (`LIQUIDATION_DTYPE`, oldest first), and the
    time after which they are complete, None when nothing is known to be.

    The liquidation channel's history (`GET /api/v5/public/liquidation-orders`), 100 rows a page, paged back
    with `after`. OKX keeps about a week of it (exchanges.md §3.3), far more than a warm start asks for: when a
    page comes back short before the hours asked for were reached, there were no older reports in them, so the
    whole span is complete, and an empty history says no liquidation was reported in it (a quiet market's
    silence is evidence). When the page budget runs out first, only the stretch the fetched rows span is.
    """
    if client.exchange is not Exchange.OKX:
        raise FeedError(f"{client.exchange.value} publishes no liquidation history")
    start_ms = now_ms - int(hours * 3_600_000)

    def follow(page: npt.NDArray[Any], _body: bytes) -> dict[str, Any] | None:
        oldest, newest = int(page["ts_ms"][0]), int(page["ts_ms"][-1])
        # `after` is exclusive: ask again from the oldest time, so rows sharing it are not skipped (duplicates go);
        # a page all at one time could only come back again.
        return {"after": oldest + 1} if start_ms < oldest < newest else None

    rows, exhausted = await _paged(
        client,
        "/api/v5/public/liquidation-orders",
        {"instType": "SWAP", "instFamily": symbol.removesuffix("-SWAP"), "state": "filled"},
        lambda body: okx.parse_liquidation_history(body, symbol, contract_size_base),
        page_rows=100,
        rows=MAX_PAGES * 100,
        follow=follow,
    )
    reached_start = exhausted or (rows.size > 0 and int(rows["ts_ms"][0]) <= start_ms)
    rows = rows[rows["ts_ms"] > start_ms]
    if reached_start:
        return rows, start_ms
    return rows, int(rows["ts_ms"][0]) - 1


async def _paged(
    client: RestClient,
    path: str,
    params: dict[str, Any],
    parse: Callable[[bytes], npt.NDArray[Any]],
    *,
    page_rows: int,
    rows: int,
    follow: Callable[[npt.NDArray[Any], bytes], dict[str, Any] | None],
) -> tuple[npt.NDArray[Any], bool]:
    """History rows fetched page by page until `rows` are in or a page comes back empty or last, and whether
    the server ran out of them (the last page held fewer rows than asked for).

    `follow(page, body)` gives the next request's extra parameters, or None on the last page. The rows are
    sorted by time without the rows two pages both carried.
    """

    def read(body: bytes) -> tuple[npt.NDArray[Any], dict[str, Any] | None]:
        page = parse(body)
        # An empty page is the last one; `follow` only ever sees rows.
        return page, follow(page, body) if len(page) else None

    pages: list[npt.NDArray[Any]] = []
    extra: dict[str, Any] | None = {}
    fetched = 0
    exhausted = False
    for _ in range(MAX_PAGES):
        limit = min(page_rows, rows - fetched)
        page, extra = await _get_parsed(client, path, {**params, **(extra or {}), "limit": limit}, read)
        pages.append(page)
        fetched += len(page)
        exhausted = len(page) < limit
        if extra is None or fetched >= rows:
            break
    return np.unique(np.concatenate(pages)), exhausted


async def fetch_tiers(client: RestClient, symbol: str) -> tuple[MarginTier, ...]:
    """The instrument's maintenance tiers where the exchange publishes them without a key."""
    exchange = client.exchange
    if exchange is Exchange.BINANCE:
        raise FeedError("Binance publishes maintenance tiers only to signed requests; the default table applies")
    if exchange is Exchange.BYBIT:
        params: dict[str, Any] = {"category": "linear", "symbol": symbol}
        tables: dict[str, tuple[MarginTier, ...]] = await _get_parsed(
            client, "/v5/market/risk-limit", params, bybit.parse_margin_tiers
        )
    else:
        family = symbol.removesuffix("-SWAP")
        params = {"instType": "SWAP", "tdMode": "isolated", "instFamily": family}
        tables = await _get_parsed(client, "/api/v5/public/position-tiers", params, okx.parse_margin_tiers)
    # OKX keys its tiers by instrument family (BTC-USDT), shared by the family's swap.
    tiers = tables.get(symbol) or tables.get(symbol.removesuffix("-SWAP"))
    if not tiers:
        raise FeedError(f"{exchange.value} sent no maintenance tiers for {symbol}")
    return tiers
