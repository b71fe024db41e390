"""Binance's websocket protocol on the simulator: control messages and their errors, raw and combined routes, the
server's heartbeat, the message rate limit, the silent legacy path, and forceOrder's one-per-second throttle."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import aiohttp
import pytest


def reply(request_id: int) -> Any:
    return lambda frame: isinstance(frame, dict) and frame.get("id") == request_id


def event(kind: str) -> Any:
    return lambda frame: isinstance(frame, dict) and frame.get("e") == kind


async def test_subscribe_list_combined_property_and_unsubscribe(sim_server: Any) -> None:
    streams = ["btcusdt@aggTrade", "btcusdt@markPrice@1s"]
    async with sim_server.connect("/binance/market/ws") as client:
        await client.send({"method": "SUBSCRIBE", "params": streams, "id": 1})
        assert await client.until(reply(1)) == {"result": None, "id": 1}
        raw = await client.until(event("markPriceUpdate"))
        assert raw["s"] == "BTCUSDT" and "stream" not in raw

        await client.send({"method": "LIST_SUBSCRIPTIONS", "id": 2})
        assert await client.until(reply(2)) == {"result": streams, "id": 2}
        await client.send({"method": "SET_PROPERTY", "params": ["combined", True], "id": 3})
        assert await client.until(reply(3)) == {"result": None, "id": 3}
        await client.send({"method": "GET_PROPERTY", "params": ["combined"], "id": 4})
        assert await client.until(reply(4)) == {"result": True, "id": 4}
        wrapped = await client.until(lambda f: isinstance(f, dict) and "stream" in f)
        assert wrapped["stream"] in streams and wrapped["data"]["s"] == "BTCUSDT"

        await client.send({"method": "UNSUBSCRIBE", "params": ["btcusdt@markPrice@1s"], "id": 5})
        assert await client.until(reply(5)) == {"result": None, "id": 5}
        after = [json.loads(text) for text in await client.collect(1.3)]
        assert not [f for f in after if f.get("stream") == "btcusdt@markPrice@1s"]


async def test_control_errors_are_the_live_servers(sim_server: Any) -> None:
    async with sim_server.connect("/binance/market/stream") as client:
        await client.send("{not json")
        bad_json = await client.recv_json()
        assert bad_json["id"] is None and bad_json["error"]["code"] == 3
        assert bad_json["error"]["msg"].startswith("Invalid JSON: ")

        await client.send({"method": "SUBSCRIB", "params": [], "id": 7})
        unknown = await client.until(reply(7))
        assert unknown["error"]["code"] == 2 and unknown["error"]["msg"].startswith("Invalid request: ")

        await client.send({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": -1})
        bad_id = await client.recv_json()
        assert bad_id["error"]["code"] == 2 and bad_id["id"] is None

        await client.send({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 8})
        assert (await client.until(reply(8)))["error"] == {"code": 1, "msg": "Invalid value type: expected Boolean"}
        await client.send({"method": "GET_PROPERTY", "params": ["colour"], "id": 9})
        assert (await client.until(reply(9)))["error"] == {"code": 0, "msg": "Unknown property"}

        await client.send({"method": "LIST_SUBSCRIPTIONS", "id": 10})
        assert await client.until(reply(10)) == {"result": [], "id": 10}


async def test_more_than_ten_messages_a_second_disconnects(sim_server: Any) -> None:
    async with sim_server.connect("/binance/market/stream") as client:
        for request_id in range(12):
            await client.send({"method": "LIST_SUBSCRIPTIONS", "id": request_id})
        code, _ = await client.closed(timeout=3)
    assert code == 1006


@pytest.mark.sim_config(binance_ping_s=0.3, binance_pong_timeout_s=1.0)
async def test_server_pings_and_drops_a_client_that_stops_answering(sim_server: Any) -> None:
    url = sim_server.ws_url("/binance/market/ws/btcusdt@markPrice@1s")
    async with sim_server.session.ws_connect(url, autoping=False) as ws:
        for _ in range(2):
            async with asyncio.timeout(2):
                while (msg := await ws.receive()).type is not aiohttp.WSMsgType.PING:
                    assert msg.type is aiohttp.WSMsgType.TEXT
            await ws.pong(msg.data)
        # Stop answering: the connection goes within the pong timeout (plus a ping interval).
        async with asyncio.timeout(3):
            while (msg := await ws.receive()).type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.PING):
                pass
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR)


async def test_legacy_unrouted_path_acknowledges_and_sends_no_market_data(sim_server: Any) -> None:
    async with (
        sim_server.connect("/binance/ws") as legacy,
        sim_server.connect("/binance/ws/btcusdt@aggTrade") as legacy_url,
        sim_server.connect("/binance/market/ws/btcusdt@markPrice@1s") as routed,
    ):
        await legacy.send({"method": "SUBSCRIBE", "params": ["btcusdt@markPrice@1s", "!forceOrder@arr"], "id": 1})
        assert await legacy.recv_json() == {"result": None, "id": 1}
        silent, silent_url, served = await asyncio.gather(
            legacy.collect(1.5), legacy_url.collect(1.5), routed.collect(1.5)
        )
    assert silent == [] and silent_url == []
    assert any(json.loads(frame)["e"] == "markPriceUpdate" for frame in served)


async def test_unknown_symbol_is_acknowledged_and_silent_while_others_stream(sim_server: Any) -> None:
    async with sim_server.connect("/binance/market/stream") as client:
        await client.send({"method": "SUBSCRIBE", "params": ["nopeusdt@markPrice@1s", "btcusdt@markPrice@1s"], "id": 1})
        assert await client.until(reply(1)) == {"result": None, "id": 1}
        frames = [json.loads(text) for text in await client.collect(2.1)]
    assert {f["stream"] for f in frames} == {"btcusdt@markPrice@1s"}
    assert len(frames) >= 2


async def test_force_orders_at_most_one_per_symbol_per_second_latest_kept(sim_server: Any) -> None:
    async with sim_server.connect("/binance/market/stream?streams=!forceOrder@arr/btcusdt@forceOrder") as client:
        await client.send({"method": "LIST_SUBSCRIPTIONS", "id": 1})
        await client.until(reply(1))
        start_ms = sim_server.market.now_ms
        for move in (-0.05, -0.03, 0.12):
            sim_server.market.shock("BTC", move)
            await asyncio.sleep(1.0)
        frames = [json.loads(text) for text in await client.collect(1.2)]
    by_stream: dict[str, list[dict[str, Any]]] = {}
    for frame in frames:
        by_stream.setdefault(frame["stream"], []).append(frame["data"])
    btc = [data for data in by_stream["!forceOrder@arr"] if data["o"]["s"] == "BTCUSDT"]
    assert len(btc) >= 3
    assert by_stream["btcusdt@forceOrder"] == btc
    for stream_events in by_stream.values():
        per_symbol: dict[str, list[int]] = {}
        for data in stream_events:
            per_symbol.setdefault(data["o"]["s"], []).append(data["E"])
        for times in per_symbol.values():
            assert all(later - earlier >= 1000 for earlier, later in itertools.pairwise(times))
    recorded = [liq for key, liq in sim_server.recorded if key == "binance:BTCUSDT" and liq.ts_ms > start_ms]
    assert len(btc) < len(recorded)  # under-counts by design
    for data in btc:
        # The latest liquidation up to the push is the one pushed: none came after it.
        newer = [liq for liq in recorded if data["o"]["T"] < liq.ts_ms <= data["E"]]
        assert newer == []
