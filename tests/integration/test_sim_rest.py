"""The simulator's REST endpoints, per exchange: shapes, ordering, limits, pagination and the real error bodies."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

SYMBOLS = {"BTCUSDT", "ETHUSDT", "SOLUSDT"}


async def test_binance_instruments_mark_and_open_interest(sim_server: Any) -> None:
    status, info = await sim_server.get("/binance/fapi/v1/exchangeInfo")
    assert status == 200
    assert {s["symbol"] for s in info["symbols"]} == SYMBOLS
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    assert btc["contractType"] == "PERPETUAL" and btc["quoteAsset"] == "USDT"
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert float(filters["PRICE_FILTER"]["tickSize"]) == sim_server.market.instruments["binance:BTCUSDT"].tick_size

    status, premium = await sim_server.get("/binance/fapi/v1/premiumIndex?symbol=BTCUSDT")
    assert status == 200 and premium["symbol"] == "BTCUSDT" and float(premium["markPrice"]) > 0
    assert isinstance(premium["nextFundingTime"], int)
    status, everyone = await sim_server.get("/binance/fapi/v1/premiumIndex")
    assert status == 200 and {row["symbol"] for row in everyone} == SYMBOLS

    status, oi = await sim_server.get("/binance/fapi/v1/openInterest?symbol=ETHUSDT")
    assert status == 200 and set(oi) == {"openInterest", "symbol", "time"}
    state = sim_server.market.state("binance:ETHUSDT")
    assert float(oi["openInterest"]) == pytest.approx(state.oi_base, rel=0.05)

    assert await sim_server.get("/binance/fapi/v1/openInterest?symbol=NOPEUSDT") == (
        400,
        {"code": -1121, "msg": "Invalid symbol."},
    )
    status, missing = await sim_server.get("/binance/fapi/v1/openInterest")
    assert status == 400 and missing["code"] == -1102


async def test_binance_open_interest_history_and_klines(sim_server: Any) -> None:
    status, rows = await sim_server.get("/binance/futures/data/openInterestHist?symbol=BTCUSDT&period=5m&limit=4")
    assert status == 200 and len(rows) == 4
    assert set(rows[0]) == {"symbol", "sumOpenInterest", "sumOpenInterestValue", "CMCCirculatingSupply", "timestamp"}
    stamps = [row["timestamp"] for row in rows]
    assert stamps == sorted(stamps) and all(b - a == 300_000 for a, b in itertools.pairwise(stamps))
    first = stamps[0] - 300_000
    status, forward = await sim_server.get(
        f"/binance/futures/data/openInterestHist?symbol=BTCUSDT&period=5m&limit=2&startTime={first}"
    )
    assert status == 200 and [row["timestamp"] for row in forward] == [first, stamps[0]]
    assert (await sim_server.get("/binance/futures/data/openInterestHist?symbol=BTCUSDT&period=7m"))[1]["code"] == -1130
    status, body = await sim_server.get("/binance/futures/data/openInterestHist?symbol=BTCUSDT&period=5m&limit=501")
    assert status == 400 and body["code"] == -1130

    status, klines = await sim_server.get("/binance/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=30")
    assert status == 200 and len(klines) == 30
    opens = [row[0] for row in klines]
    assert opens == sorted(opens)
    for row in klines:
        assert len(row) == 12 and row[6] == row[0] + 59_999
        assert float(row[3]) <= float(row[1]) <= float(row[2]) and 0 <= float(row[9]) <= float(row[5])
    assert (await sim_server.get("/binance/fapi/v1/klines?symbol=BTCUSDT&interval=7m")) == (
        400,
        {"code": -1120, "msg": "Invalid interval."},
    )


async def test_bybit_instruments_paginate(sim_server: Any) -> None:
    symbols: list[str] = []
    cursor = ""
    pages = 0
    while True:
        status, body = await sim_server.get(f"/bybit/v5/market/instruments-info?category=linear&cursor={cursor}")
        assert status == 200 and body["retCode"] == 0 and body["retMsg"] == "OK"
        assert set(body) == {"retCode", "retMsg", "result", "retExtInfo", "time"}
        page = body["result"]["list"]
        assert len(page) <= 2  # the test server's page size
        symbols += [row["symbol"] for row in page]
        pages += 1
        cursor = body["result"]["nextPageCursor"]
        if not cursor:
            break
    assert pages == 2 and sorted(symbols) == sorted(SYMBOLS)
    bad = (await sim_server.get("/bybit/v5/market/instruments-info?category=linear&cursor=%%%"))[1]
    assert bad["retCode"] == 10001


async def test_bybit_tickers_open_interest_klines_and_risk_limits(sim_server: Any) -> None:
    _, tickers = await sim_server.get("/bybit/v5/market/tickers?category=linear&symbol=BTCUSDT")
    row = tickers["result"]["list"][0]
    assert float(row["openInterest"]) == pytest.approx(2 * float(row["singleOpenInterest"]), abs=0.002)
    _, unknown = await sim_server.get("/bybit/v5/market/tickers?category=linear&symbol=NOPEUSDT")
    assert unknown["retCode"] == 10001 and unknown["result"] == {}

    path = "/bybit/v5/market/open-interest?category=linear&symbol=BTCUSDT&intervalTime=5min&limit=2"
    _, first = await sim_server.get(path)
    page = first["result"]["list"]
    stamps = [int(item["timestamp"]) for item in page]
    assert stamps == sorted(stamps, reverse=True) and len(stamps) == 2
    assert float(page[0]["openInterest"]) == pytest.approx(2 * float(page[0]["singleOpenInterest"]), abs=0.002)
    _, second = await sim_server.get(f"{path}&cursor={first['result']['nextPageCursor']}")
    assert int(second["result"]["list"][0]["timestamp"]) == stamps[-1] - 300_000

    _, kline = await sim_server.get("/bybit/v5/market/kline?category=linear&symbol=BTCUSDT&interval=1&limit=5")
    rows = kline["result"]["list"]
    assert len(rows) == 5 and all(len(r) == 7 and all(isinstance(v, str) for v in r) for r in rows)
    assert [int(r[0]) for r in rows] == sorted((int(r[0]) for r in rows), reverse=True)

    _, risk = await sim_server.get("/bybit/v5/market/risk-limit?category=linear&symbol=BTCUSDT")
    tiers = risk["result"]["list"]
    assert tiers and tiers[0]["isLowestRisk"] == 1 and 0 < float(tiers[0]["maintenanceMargin"]) < 0.1
    _, wrong = await sim_server.get("/bybit/v5/market/kline?category=spot&symbol=BTCUSDT&interval=1")
    assert wrong["retCode"] == 10001


async def test_okx_instruments_values_tiers_and_candles(sim_server: Any) -> None:
    _, instruments = await sim_server.get("/okx/api/v5/public/instruments?instType=SWAP")
    assert instruments["code"] == "0" and instruments["msg"] == ""
    btc = next(row for row in instruments["data"] if row["instId"] == "BTC-USDT-SWAP")
    assert (btc["ctVal"], btc["ctMult"], btc["ctType"], btc["state"]) == ("0.01", "1", "linear", "live")
    assert (await sim_server.get("/okx/api/v5/public/instruments"))[1]["code"] == "50014"
    _, missing = await sim_server.get("/okx/api/v5/public/instruments?instType=SWAP&instId=NOPE-USDT-SWAP")
    assert missing["code"] == "51001" and missing["data"] == []

    _, oi = await sim_server.get("/okx/api/v5/public/open-interest?instType=SWAP&instId=BTC-USDT-SWAP")
    row = oi["data"][0]
    assert float(row["oiCcy"]) == pytest.approx(float(row["oi"]) * 0.01, rel=1e-3) and isinstance(row["ts"], str)
    _, mark = await sim_server.get("/okx/api/v5/public/mark-price?instType=SWAP")
    assert {row["instId"] for row in mark["data"]} == {"BTC-USDT-SWAP", "ETH-USDT-SWAP", "SOL-USDT-SWAP"}

    tiers_path = "/okx/api/v5/public/position-tiers?instType=SWAP&tdMode=isolated"
    assert (await sim_server.get(tiers_path))[1]["code"] == "50015"
    _, tiers = await sim_server.get(f"{tiers_path}&instFamily=BTC-USDT,ETH-USDT")
    assert {row["instFamily"] for row in tiers["data"]} == {"BTC-USDT", "ETH-USDT"}
    assert all(float(row["mmr"]) < float(row["imr"]) for row in tiers["data"])

    _, candles = await sim_server.get("/okx/api/v5/market/candles?instId=BTC-USDT-SWAP&bar=1m&limit=5")
    rows = candles["data"]
    opens = [int(r[0]) for r in rows]
    assert len(rows) == 5 and opens == sorted(opens, reverse=True) and rows[0][8] == "0" and rows[1][8] == "1"
    _, older = await sim_server.get(
        f"/okx/api/v5/market/history-candles?instId=BTC-USDT-SWAP&after={opens[-1]}&limit=3"
    )
    assert [int(r[0]) for r in older["data"]] == [opens[-1] - 60_000 * n for n in (1, 2, 3)]
    assert (await sim_server.get("/okx/api/v5/market/history-candles?instId=BTC-USDT-SWAP&limit=101"))[1][
        "code"
    ] == "51000"


async def test_okx_open_interest_history_pages_back_in_time(sim_server: Any) -> None:
    """Per-instrument OI history: rows [ts, oi contracts, oiCcy, oiUsd], newest first, `end` pages backwards."""
    base = "/okx/api/v5/rubik/stat/contracts/open-interest-history?instId=BTC-USDT-SWAP&period=5m"
    status, body = await sim_server.get(base + "&limit=5")
    assert status == 200 and body["code"] == "0"
    rows = body["data"]
    assert len(rows) == 5 and all(len(row) == 4 and all(isinstance(v, str) for v in row) for row in rows)
    stamps = [int(row[0]) for row in rows]
    assert stamps == sorted(stamps, reverse=True) and stamps[0] - stamps[1] == 300_000
    ct_val = 0.01
    for _, oi, oi_ccy, _ in rows:
        assert abs(float(oi) * ct_val - float(oi_ccy)) <= 1e-6 * float(oi_ccy) + 1e-8
    status, older = await sim_server.get(base + f"&limit=5&end={stamps[-1] - 1}")
    assert status == 200 and int(older["data"][0][0]) == stamps[-1] - 300_000
    status, unknown = await sim_server.get(base.replace("BTC-USDT-SWAP", "NOPE-USDT-SWAP"))
    assert unknown["code"] != "0"
