"""The simulator's own endpoints: `/sim/truth`, `/sim/status`, and what `/sim/faults` refuses."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest


async def test_truth_lists_open_positions_by_liquidation_price(sim_server: Any) -> None:
    status, truth = await sim_server.get("/sim/truth?instrument=bybit:BTCUSDT")
    assert status == 200
    assert truth["instrument"] == "bybit:BTCUSDT" and isinstance(truth["ts_ms"], int)
    mark = truth["mark_px"]
    assert truth["long"] and truth["short"]
    # Positions still open are liquidated beyond the mark: longs below it, shorts above it.
    assert max(px for px, _ in truth["long"]) <= mark * 1.001
    assert min(px for px, _ in truth["short"]) >= mark * 0.999
    assert all(notional > 0 for _, notional in truth["long"] + truth["short"])

    assert (await sim_server.get("/sim/truth?instrument=binance:NOPEUSDT"))[0] == 404
    assert (await sim_server.get("/sim/truth"))[0] == 400


async def test_status_lists_instruments_connections_subscriptions_and_faults(sim_server: Any) -> None:
    async with sim_server.connect("/bybit/v5/public/linear") as client:
        await client.send({"op": "subscribe", "args": ["tickers.SOLUSDT", "publicTrade.SOLUSDT"]})
        await client.until(lambda f: f.get("topic") == "tickers.SOLUSDT")
        await sim_server.fault(kind="stall", exchange="okx", seconds=5)
        await sim_server.fault(kind="reject", exchange="binance", symbol="SOLUSDT")
        status, body = await sim_server.get("/sim/status")
    assert status == 200 and body["url"] == sim_server.url
    assert len(body["instruments"]) == 9 and "okx:SOL-USDT-SWAP" in body["instruments"]
    [bybit] = body["connections"]["bybit"]
    assert bybit["subscriptions"] == ["tickers.SOLUSDT", "publicTrade.SOLUSDT"]
    assert body["connections"]["binance"] == [] and body["frames_sent"]["bybit"] >= 2
    kinds = {(fault["kind"], fault["exchange"]) for fault in body["faults"]}
    assert kinds == {("stall", "okx"), ("reject", "binance")}


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "flood"},
        {"kind": "stall", "seconds": -1},
        {"kind": "stall", "exchange": "kraken"},
        {"kind": "reject"},
        {"kind": "reject", "symbol": "NOPEUSDT"},
        {"kind": "close_24h", "exchange": "okx"},
        {"kind": "drop", "symbol": "BTCUSDT"},
        {"kind": "drop", "colour": "red"},
        ["drop"],
    ],
)
async def test_fault_requests_that_make_no_sense_are_refused(sim_server: Any, body: Any) -> None:
    async with sim_server.session.post(sim_server.url + "/sim/faults", data=orjson.dumps(body)) as response:
        assert response.status == 400
        error = await response.json()
    assert isinstance(error["error"], str) and error["error"].endswith(".")
    _, status = await sim_server.get("/sim/status")
    assert status["faults"] == []


async def test_fault_body_must_be_json(sim_server: Any) -> None:
    async with sim_server.session.post(sim_server.url + "/sim/faults", data=b"drop please") as response:
        assert response.status == 400


ODD_MESSAGES = [
    "",
    "null",
    "[]",
    '"SUBSCRIBE"',
    "1e999",
    '{"method": ["SUBSCRIBE"], "id": 1}',
    '{"method": "SUBSCRIBE", "params": [{"a": 1}, null], "id": 2}',
    '{"method": "SET_PROPERTY", "params": [["combined"], true], "id": 3}',
    '{"op": {"x": 1}, "args": [[1]]}',
    '{"op": "subscribe", "args": [{"channel": ["trades"]}, {"channel": "trades", "instId": {"x": 1}}]}',
    '{"op": "subscribe", "args": [null, 5, "tickers."]}',
    '{"op": "unsubscribe", "args": [{"channel": "liquidation-orders", "instType": [1]}]}',
    '{"op": "ping", "req_id": 5}',
    "\u0000\u00ff",
]


@pytest.mark.parametrize(
    ("path", "alive"),
    [
        ("/binance/market/stream", '{"method": "LIST_SUBSCRIPTIONS", "id": 99}'),
        ("/bybit/v5/public/linear", '{"op": "ping", "req_id": "alive"}'),
        ("/okx/ws/v5/public", "ping"),
    ],
)
async def test_odd_client_messages_never_kill_the_socket(sim_server: Any, path: str, alive: str) -> None:
    async with sim_server.connect(path) as client:
        for index, message in enumerate(ODD_MESSAGES):
            await client.send(message)
            if index % 8 == 7:
                await asyncio.sleep(1.0)  # Binance's 10 messages a second
        await asyncio.sleep(1.0)
        replies = await client.collect(0.3)
        await client.send(alive)
        last = await client.until(
            lambda f: (
                f == "pong"
                or (isinstance(f, dict) and f.get("id") == 99)
                or (isinstance(f, dict) and f.get("req_id") == "alive")
            )
        )
    assert last and len(replies) >= len(ODD_MESSAGES) - 3
