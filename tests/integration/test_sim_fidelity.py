"""Every kind of frame the simulator sends has the key set and value types of the real 2026 frames, and each
exchange's liquidation side convention matches the side of the position the real market liquidated.

References: the 2026 frames of `tests/data/real-frames.jsonl` (captured live), and for what that file has only in
older layouts, `tests/data/sim-reference-frames.jsonl` (the real frames quoted in exchanges.md).
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from liqtui.model.types import Side

DATA = Path(__file__).parent.parent / "data"
NUMERIC = re.compile(r"-?\d+(\.\d+)?")


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys, and the kind of every leaf (numeric strings apart from other text)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, str):
        if value == "":
            return "empty string"
        return "numeric string" if NUMERIC.fullmatch(value) else "text"
    return type(value).__name__


def reference(exchange: str, kind: str, marker: str) -> Any:
    """The reference frame of `kind` whose text contains `marker` (which picks the 2026 layout)."""
    for name in ("real-frames.jsonl", "sim-reference-frames.jsonl"):
        for line in (DATA / name).read_text().splitlines():
            row = json.loads(line)
            if row["exchange"] == exchange and row["kind"] == kind and marker in row["frame"]:
                return json.loads(row["frame"])
    raise AssertionError(f"no reference frame {exchange} {kind} {marker}")


def decimals(step: float) -> int:
    text = f"{step:.10f}".rstrip("0")
    return len(text.partition(".")[2])


def sides_of(sim: Any, key: str, ts_ms: int, qty_text: str, *, qty_decimals: int, per_unit: float = 1.0) -> set[Side]:
    """Sides of the market's liquidations of `key` at `ts_ms` whose size writes as `qty_text`."""
    return {
        liq.side
        for k, liq in sim.recorded
        if k == key and liq.ts_ms == ts_ms and f"{liq.qty_base / per_unit:.{qty_decimals}f}" == qty_text
    }


async def shock_both_ways(sim: Any) -> None:
    """Knock the BTC price down, then up: long liquidations, then short ones."""
    sim.market.shock("BTC", -0.05)
    await asyncio.sleep(1.2)
    sim.market.shock("BTC", 0.10)


async def test_binance_frames_match_2026_layout_and_sell_liquidates_a_long(sim_server: Any) -> None:
    streams = "btcusdt@aggTrade/btcusdt@markPrice@1s/btcusdt@markPrice/btcusdt@forceOrder/!forceOrder@arr"
    async with sim_server.connect(f"/binance/market/stream?streams={streams}") as client:
        await client.until(lambda f: f["stream"] == "btcusdt@markPrice@1s")
        shock = asyncio.create_task(shock_both_ways(sim_server))
        frames = [json.loads(text) for text in await client.collect(4.0)]
        await shock
    by_stream: dict[str, list[Any]] = {}
    for frame in frames:
        by_stream.setdefault(frame["stream"], []).append(frame)
    assert set(by_stream) == set(streams.split("/"))

    expected = {
        "btcusdt@aggTrade": reference("binance", "aggTrade", '"nq"'),
        "btcusdt@markPrice@1s": reference("binance", "markPriceUpdate", '"ap"'),
        "btcusdt@markPrice": reference("binance", "markPriceUpdate", '"ap"'),
        "btcusdt@forceOrder": reference("binance", "forceOrder", '"ps"'),
        "!forceOrder@arr": reference("binance", "forceOrder", '"ps"'),
    }
    for stream, ref in expected.items():
        for frame in by_stream[stream]:
            assert shape(frame["data"]) == shape(ref["data"]), stream

    instrument = sim_server.market.instruments["binance:BTCUSDT"]
    qty_decimals = decimals(instrument.qty_step)
    seen = set()
    for frame in by_stream["btcusdt@forceOrder"]:
        order = frame["data"]["o"]
        sides = sides_of(sim_server, "binance:BTCUSDT", order["T"], order["z"], qty_decimals=qty_decimals)
        expected_side = Side.LONG if order["S"] == "SELL" else Side.SHORT
        assert expected_side in sides, order
        seen.add(order["S"])
    assert seen == {"SELL", "BUY"}


async def test_bybit_frames_match_2026_layout_and_buy_is_a_long(sim_server: Any) -> None:
    topics = ["tickers.BTCUSDT", "publicTrade.BTCUSDT", "allLiquidation.BTCUSDT"]
    async with sim_server.connect("/bybit/v5/public/linear") as client:
        await client.send({"op": "subscribe", "args": topics, "req_id": "fidelity"})
        snapshot = await client.until(lambda f: f.get("type") == "snapshot" and f.get("topic") == topics[0])
        shock = asyncio.create_task(shock_both_ways(sim_server))
        frames = [json.loads(text) for text in await client.collect(4.0)]
        await shock

    ref_snapshot = reference("bybit", "tickers-snapshot", "singleOpenInterest")
    assert shape(snapshot) == shape(ref_snapshot)
    snapshot_fields = set(ref_snapshot["data"])
    deltas = [f for f in frames if f.get("topic") == topics[0]]
    assert deltas and all(f["type"] == "delta" for f in deltas)
    for delta in deltas:
        assert set(delta) == set(reference("bybit", "tickers-delta", "delta"))
        assert isinstance(delta["cs"], int) and isinstance(delta["ts"], int)
        assert "symbol" in delta["data"] and set(delta["data"]) <= snapshot_fields
        assert all(isinstance(value, str) for value in delta["data"].values())
        if "openInterest" in delta["data"]:
            # Both sides, and always with the single side beside it.
            both, single = float(delta["data"]["openInterest"]), float(delta["data"]["singleOpenInterest"])
            assert both == pytest.approx(2 * single, abs=0.002)

    trades = [f for f in frames if f.get("topic") == topics[1]]
    assert trades
    for frame in trades:
        assert shape(frame) == shape(reference("bybit", "publicTrade", '"RPI"'))

    liquidations = [f for f in frames if f.get("topic") == topics[2]]
    assert liquidations
    instrument = sim_server.market.instruments["bybit:BTCUSDT"]
    qty_decimals = decimals(instrument.qty_step)
    seen = set()
    for frame in liquidations:
        assert shape(frame) == shape(reference("bybit", "allLiquidation", "1791565601482"))
        for entry in frame["data"]:
            sides = sides_of(sim_server, "bybit:BTCUSDT", entry["T"], entry["v"], qty_decimals=qty_decimals)
            assert (Side.LONG if entry["S"] == "Buy" else Side.SHORT) in sides, entry
            seen.add(entry["S"])
    assert seen == {"Buy", "Sell"}


@pytest.mark.sim_config(okx_liquidation_share=1.0, okx_liquidation_delay_share=0.0, okx_liquidation_net_share=0.3)
async def test_okx_frames_match_2026_layout_and_pos_side(sim_server: Any) -> None:
    inst = "BTC-USDT-SWAP"
    args = [
        {"channel": "mark-price", "instId": inst},
        {"channel": "trades", "instId": inst},
        {"channel": "open-interest", "instId": inst},
        {"channel": "liquidation-orders", "instType": "SWAP"},
    ]
    async with sim_server.connect("/okx/ws/v5/public") as client:
        await client.send({"op": "subscribe", "args": args})
        acks = [await client.until(lambda f: f.get("event") == "subscribe") for _ in args]
        shock = asyncio.create_task(shock_both_ways(sim_server))
        frames = [json.loads(text) for text in await client.collect(4.0)]
        await shock
    assert [ack["arg"] for ack in acks] == args

    by_channel: dict[str, list[Any]] = {}
    for frame in frames:
        by_channel.setdefault(frame["arg"]["channel"], []).append(frame)
    assert set(by_channel) == {arg["channel"] for arg in args}
    expected = {
        "mark-price": reference("okx", "mark-price", "SWAP"),
        "trades": reference("okx", "trades", "seqId"),
        "open-interest": reference("okx", "open-interest", "oiUsd"),
        "liquidation-orders": reference("okx", "liquidation-orders", "82655.7"),
    }
    for channel, ref in expected.items():
        for frame in by_channel[channel]:
            assert shape(frame) == shape(ref), channel

    instrument = sim_server.market.instruments[f"okx:{inst}"]
    contract = instrument.contract_size_base
    seen = set()
    for frame in by_channel["liquidation-orders"]:
        for entry in frame["data"]:
            if entry["instId"] != inst:
                continue
            for detail in entry["details"]:
                sz_decimals = len(detail["sz"].partition(".")[2])
                sides = sides_of(
                    sim_server,
                    f"okx:{inst}",
                    int(detail["ts"]),
                    detail["sz"],
                    qty_decimals=sz_decimals,
                    per_unit=contract,
                )
                if detail["posSide"] == "net":
                    side = Side.LONG if detail["side"] == "sell" else Side.SHORT
                else:
                    side = Side.LONG if detail["posSide"] == "long" else Side.SHORT
                    assert detail["side"] == ("sell" if side is Side.LONG else "buy")
                assert side in sides, detail
                seen.add(detail["posSide"])
    assert seen == {"long", "short", "net"}
