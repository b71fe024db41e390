"""Bybit's websocket protocol on the simulator: acks and pongs, ticker snapshot then changed-fields-only deltas,
500 ms liquidation batches, unknown-symbol refusal while other symbols stream, and the idle cut."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest


def topic(name: str) -> Any:
    return lambda frame: isinstance(frame, dict) and frame.get("topic") == name


def op(name: str) -> Any:
    return lambda frame: isinstance(frame, dict) and frame.get("op") == name


async def test_subscribe_snapshot_ping_and_unsubscribe(sim_server: Any) -> None:
    async with sim_server.connect("/bybit/v5/public/linear") as client:
        await client.send({"op": "subscribe", "args": ["tickers.BTCUSDT"], "req_id": "a1"})
        ack = await client.recv_json()
        conn_id = ack.pop("conn_id")
        assert isinstance(conn_id, str) and conn_id
        assert ack == {"success": True, "ret_msg": "", "req_id": "a1", "op": "subscribe"}
        first = await client.until(topic("tickers.BTCUSDT"))
        assert first["type"] == "snapshot" and first["data"]["symbol"] == "BTCUSDT"

        await client.send({"op": "ping", "req_id": "p1"})
        pong = await client.until(op("ping"))
        assert pong == {"success": True, "ret_msg": "pong", "conn_id": conn_id, "req_id": "p1", "op": "ping"}

        await client.send({"op": "unsubscribe", "args": ["tickers.BTCUSDT"]})
        assert (await client.until(op("unsubscribe")))["success"] is True
        assert not [text for text in await client.collect(0.6) if "tickers.BTCUSDT" in text]


async def test_ticker_deltas_carry_only_changed_fields(sim_server: Any) -> None:
    async with sim_server.connect("/bybit/v5/public/linear") as client:
        await client.send({"op": "subscribe", "args": ["tickers.ETHUSDT"]})
        snapshot = await client.until(topic("tickers.ETHUSDT"))
        frames = [json.loads(text) for text in await client.collect(2.0)]
    merged = dict(snapshot["data"])
    deltas = [f for f in frames if f.get("topic") == "tickers.ETHUSDT"]
    assert len(deltas) >= 10
    for delta in deltas:
        assert delta["type"] == "delta"
        changed = {name: value for name, value in delta["data"].items() if name != "symbol"}
        assert changed
        assert all(merged[name] != value for name, value in changed.items())
        merged.update(changed)
    times = [delta["ts"] for delta in deltas]
    assert all(later - earlier >= 100 for earlier, later in itertools.pairwise(times))
    assert float(merged["openInterest"]) == pytest.approx(2 * float(merged["singleOpenInterest"]), abs=0.002)


async def test_liquidations_come_in_500ms_batches_and_all_of_them(sim_server: Any) -> None:
    async with sim_server.connect("/bybit/v5/public/linear") as client:
        await client.send({"op": "subscribe", "args": ["allLiquidation.BTCUSDT"]})
        await client.until(op("subscribe"))
        sim_server.market.shock("BTC", -0.05)
        await asyncio.sleep(1.0)
        sim_server.market.shock("BTC", 0.10)
        frames = [json.loads(text) for text in await client.collect(2.0)]
    assert len(frames) >= 2
    times = [frame["ts"] for frame in frames]
    assert all(later - earlier >= 500 for earlier, later in itertools.pairwise(times))
    assert max(len(frame["data"]) for frame in frames) > 1
    sent = sorted((entry["T"], entry["v"]) for frame in frames[1:] for entry in frame["data"])
    recorded = sorted(
        (liq.ts_ms, f"{liq.qty_base:.3f}")
        for key, liq in sim_server.recorded
        if key == "bybit:BTCUSDT" and frames[0]["ts"] < liq.ts_ms <= frames[-1]["ts"]
    )
    assert sent == recorded  # every liquidation, exactly once


async def test_unknown_symbol_and_topic_refused_while_others_stream(sim_server: Any) -> None:
    async with sim_server.connect("/bybit/v5/public/linear") as client:
        await client.send({"op": "subscribe", "args": ["tickers.NOPEUSDT", "tickers.BTCUSDT"], "req_id": "x"})
        refused = await client.until(op("subscribe"))
        assert refused["success"] is False and refused["ret_msg"] == "Invalid symbol :[tickers.NOPEUSDT]"
        await client.send({"op": "subscribe", "args": ["orderbook.1.BTCUSDT"]})
        no_handler = await client.until(op("subscribe"))
        assert no_handler["success"] is False and "orderbook.1.BTCUSDT" in no_handler["ret_msg"]
        frames = [json.loads(text) for text in await client.collect(1.0)]
    tickers = [f for f in frames if f.get("topic") == "tickers.BTCUSDT"]
    assert len(tickers) >= 5
    assert not [f for f in frames if "NOPEUSDT" in json.dumps(f)]


@pytest.mark.sim_config(bybit_idle_s=1.0)
async def test_idle_socket_is_cut_and_a_pinging_one_is_not(sim_server: Any) -> None:
    async def keep_pinging(client: Any) -> None:
        for _ in range(7):
            await client.send({"op": "ping"})
            await asyncio.sleep(0.3)

    async with (
        sim_server.connect("/bybit/v5/public/linear") as idle,
        sim_server.connect("/bybit/v5/public/linear") as pinging,
    ):
        (code, waited), _ = await asyncio.gather(idle.closed(timeout=3), keep_pinging(pinging))
        assert code == 1006 and waited >= 0.9
        await pinging.send({"op": "ping", "req_id": "still"})
        assert (await pinging.until(lambda f: f.get("req_id") == "still"))["ret_msg"] == "pong"
