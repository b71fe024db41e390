"""Every fault `POST /sim/faults` offers, injected into a running simulator and seen by a connected client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import orjson
import pytest
from websockets.exceptions import ConnectionClosed


def topic(name: str) -> Any:
    return lambda frame: isinstance(frame, dict) and frame.get("topic") == name


async def test_drop_closes_that_exchanges_sockets_without_a_close_frame(sim_server: Any) -> None:
    async with (
        sim_server.connect("/binance/market/ws/btcusdt@markPrice@1s") as binance,
        sim_server.connect("/okx/ws/v5/public") as okx,
    ):
        await okx.send({"op": "subscribe", "args": [{"channel": "mark-price", "instId": "BTC-USDT-SWAP"}]})
        await okx.until(lambda f: "data" in f)
        status, done = await sim_server.fault(kind="drop", exchange="binance")
        assert status == 200 and done["exchanges"] == {"binance": {"connections_dropped": 1}}
        assert (await binance.closed())[0] == 1006
        assert await okx.until(lambda f: "data" in f)


async def test_stall_sends_nothing_then_resumes(sim_server: Any) -> None:
    async with sim_server.connect("/bybit/v5/public/linear") as client:
        await client.send({"op": "subscribe", "args": ["tickers.BTCUSDT"]})
        await client.until(topic("tickers.BTCUSDT"))
        assert (await sim_server.fault(kind="stall", exchange="bybit", seconds=1.0))[0] == 200
        await asyncio.sleep(0.1)  # frames already on their way may still land
        await client.collect(0.05)
        await client.send({"op": "ping", "req_id": "during"})
        assert await client.collect(0.7) == []
        after = [json.loads(text) for text in await client.collect(0.8)]
        assert [f for f in after if f.get("topic") == "tickers.BTCUSDT"]
        assert not [f for f in after if f.get("req_id") == "during"]  # the stall swallowed the pong


async def test_malformed_frames_arrive_and_data_continues(sim_server: Any) -> None:
    async with sim_server.connect("/okx/ws/v5/public") as client:
        await client.send({"op": "subscribe", "args": [{"channel": "mark-price", "instId": "BTC-USDT-SWAP"}]})
        await client.until(lambda f: isinstance(f, dict) and "data" in f)
        status, done = await sim_server.fault(kind="malformed", exchange="okx")
        assert status == 200 and done["exchanges"]["okx"]["connections"] == 1
        frames = await client.collect(0.8)
    unreadable = []
    for text in frames:
        try:
            frame = orjson.loads(text)
        except orjson.JSONDecodeError:
            unreadable.append(text)
            continue
        if not isinstance(frame, dict) or not isinstance(frame.get("arg"), dict) or frame["arg"] == {}:
            unreadable.append(text)
    assert len(unreadable) >= 3
    last = orjson.loads(frames[-1])
    assert last["arg"] == {"channel": "mark-price", "instId": "BTC-USDT-SWAP"}


async def test_oversized_frame_closes_a_default_client_with_1009(sim_server: Any) -> None:
    async with (
        sim_server.connect("/bybit/v5/public/linear") as small,
        sim_server.connect("/bybit/v5/public/linear", max_size=4 << 20) as large,
    ):
        status, done = await sim_server.fault(kind="oversized", exchange="bybit")
        assert status == 200 and done["exchanges"]["bybit"]["frame_bytes"] > 1 << 20
        with pytest.raises(ConnectionClosed) as closed:
            await small.recv(timeout=5)
        assert closed.value.sent is not None and closed.value.sent.code == 1009
        assert len(await large.recv(timeout=5)) > 1 << 20


async def test_reject_refuses_a_symbol_on_sockets_and_rest(sim_server: Any) -> None:
    async with (
        sim_server.connect("/bybit/v5/public/linear") as bybit,
        sim_server.connect("/okx/ws/v5/public") as okx,
        sim_server.connect("/binance/market/stream?streams=btcusdt@markPrice@1s/ethusdt@markPrice@1s") as binance,
    ):
        await bybit.send({"op": "subscribe", "args": ["tickers.BTCUSDT", "tickers.ETHUSDT"]})
        await bybit.until(topic("tickers.ETHUSDT"))
        await okx.send({"op": "subscribe", "args": [{"channel": "mark-price", "instId": "BTC-USDT-SWAP"}]})
        await okx.until(lambda f: "data" in f)

        status, done = await sim_server.fault(kind="reject", symbol="BTCUSDT")
        assert status == 200 and set(done["exchanges"]) == {"binance", "bybit"}
        assert (await sim_server.fault(kind="reject", exchange="okx", symbol="BTC-USDT-SWAP"))[0] == 200

        refusal = await bybit.until(lambda f: f.get("success") is False)
        assert refusal["ret_msg"] == "Invalid symbol :[tickers.BTCUSDT]"
        error = await okx.until(lambda f: f.get("event") == "error")
        assert error["code"] == "60018" and "BTC-USDT-SWAP" in error["msg"]
        await asyncio.sleep(0.2)
        await bybit.collect(0.05)
        await binance.collect(0.05)
        bybit_after = [json.loads(t) for t in await bybit.collect(1.1)]
        binance_after = [json.loads(t) for t in await binance.collect(0.1)]
        assert {f["topic"] for f in bybit_after} == {"tickers.ETHUSDT"}
        assert {f["stream"] for f in binance_after} <= {"ethusdt@markPrice@1s"}

        await bybit.send({"op": "subscribe", "args": ["tickers.BTCUSDT"]})
        assert (await bybit.until(lambda f: f.get("op") == "subscribe"))["success"] is False
    assert (await sim_server.get("/binance/fapi/v1/premiumIndex?symbol=BTCUSDT"))[1]["code"] == -1121
    assert (await sim_server.get("/bybit/v5/market/tickers?category=linear&symbol=BTCUSDT"))[1]["retCode"] == 10001
    assert (await sim_server.get("/okx/api/v5/public/mark-price?instType=SWAP&instId=BTC-USDT-SWAP"))[1][
        "code"
    ] == "51001"
    _, info = await sim_server.get("/binance/fapi/v1/exchangeInfo")
    assert "BTCUSDT" not in {s["symbol"] for s in info["symbols"]}


async def test_binance_daily_close(sim_server: Any) -> None:
    async with sim_server.connect("/binance/market/ws/btcusdt@markPrice@1s") as client:
        status, done = await sim_server.fault(kind="close_24h")
        assert status == 200 and done["exchanges"] == {"binance": {"connections_closed": 1}}
        assert (await client.closed())[0] == 1000


async def test_okx_upgrade_notice_then_close(sim_server: Any) -> None:
    async with sim_server.connect("/okx/ws/v5/public") as client:
        await client.send({"op": "subscribe", "args": [{"channel": "mark-price", "instId": "ETH-USDT-SWAP"}]})
        await client.until(lambda f: "data" in f)
        status, done = await sim_server.fault(kind="notice_64008", seconds=0.5)
        assert status == 200 and done["exchanges"]["okx"]["connections_noticed"] == 1
        notice = await client.until(lambda f: f.get("event") == "notice")
        assert notice["code"] == "64008" and "service upgrade" in notice["msg"]
        code, waited = await client.closed(timeout=3)
        assert code is not None and code != 1006 and waited >= 0.3


async def test_rest_outage_answers_503_for_a_while(sim_server: Any) -> None:
    path = "/okx/api/v5/public/mark-price?instType=SWAP"
    status, _ = await sim_server.fault(kind="rest_outage", exchange="okx", seconds=0.6)
    assert status == 200
    assert (await sim_server.get(path))[0] == 503
    assert (await sim_server.get("/bybit/v5/market/tickers?category=linear"))[0] == 200
    async with sim_server.connect("/okx/ws/v5/public") as client:  # websockets still connect
        await client.send("ping")
        assert await client.recv() == "pong"
    await asyncio.sleep(0.7)
    assert (await sim_server.get(path))[0] == 200


async def test_restart_goes_away_and_comes_back_on_the_same_port(sim_server: Any) -> None:
    port = sim_server.port
    async with sim_server.connect("/binance/market/ws/btcusdt@markPrice@1s") as client:
        status, done = await sim_server.fault(kind="restart", seconds=0.8)
        assert status == 200 and done["kind"] == "restart"
        assert (await client.closed())[0] == 1006
    with pytest.raises(aiohttp.ClientConnectionError):
        await sim_server.get("/sim/status")
    async with asyncio.timeout(5):
        while True:
            await asyncio.sleep(0.2)
            try:
                status, body = await sim_server.get("/sim/status")
                break
            except aiohttp.ClientConnectionError:
                continue
    assert status == 200 and sim_server.port == port and body["url"].endswith(f":{port}")
    async with sim_server.connect("/binance/market/ws/btcusdt@markPrice@1s") as client:
        assert (await client.recv_json(timeout=3))["e"] == "markPriceUpdate"
