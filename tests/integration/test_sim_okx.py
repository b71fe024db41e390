"""OKX's websocket protocol on the simulator: per-arg acks and errors, text ping/pong, the 30 s idle rules, and
`liquidation-orders` reporting only some liquidations, not always in time order."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest

BTC = "BTC-USDT-SWAP"


def event(name: str) -> Any:
    return lambda frame: isinstance(frame, dict) and frame.get("event") == name


def channel(name: str) -> Any:
    return lambda frame: isinstance(frame, dict) and "data" in frame and frame["arg"]["channel"] == name


async def test_subscribe_ack_ping_pong_and_unsubscribe(sim_server: Any) -> None:
    arg = {"channel": "mark-price", "instId": BTC}
    async with sim_server.connect("/okx/ws/v5/public") as client:
        await client.send({"id": "7", "op": "subscribe", "args": [arg]})
        ack = await client.recv_json()
        conn_id = ack.pop("connId")
        assert ack == {"id": "7", "event": "subscribe", "arg": arg} and isinstance(conn_id, str)
        first = await client.until(channel("mark-price"))
        assert first["data"][0]["instId"] == BTC and isinstance(first["data"][0]["ts"], str)

        await client.send("ping")
        assert await client.until(lambda f: f == "pong") == "pong"

        await client.send({"op": "unsubscribe", "args": [arg]})
        assert await client.until(event("unsubscribe")) == {"event": "unsubscribe", "arg": arg, "connId": conn_id}
        assert not [text for text in await client.collect(0.6) if "mark-price" in text]


async def test_unknown_instrument_and_bad_request_errors_while_others_stream(sim_server: Any) -> None:
    async with sim_server.connect("/okx/ws/v5/public") as client:
        await client.send(
            {
                "op": "subscribe",
                "args": [
                    {"channel": "mark-price", "instId": "NOPE-USDT-SWAP"},
                    {"channel": "trades", "instId": BTC},
                    {"channel": "mark-price", "instId": BTC},
                ],
            }
        )
        error = await client.until(event("error"))
        assert error["code"] == "60018" and "NOPE-USDT-SWAP doesn't exist" in error["msg"]
        assert isinstance(error["connId"], str)
        await client.send("{bad")
        bad = await client.until(event("error"))
        assert bad["code"] == "60012" and bad["msg"].startswith("Invalid request")
        frames = [json.loads(text) for text in await client.collect(1.2)]
    marks = [f for f in frames if f.get("arg", {}).get("channel") == "mark-price" and "data" in f]
    assert len(marks) >= 3 and {f["data"][0]["instId"] for f in marks} == {BTC}
    times = [int(f["data"][0]["ts"]) for f in marks]
    assert all(later - earlier >= 200 for earlier, later in itertools.pairwise(times))


@pytest.mark.sim_config(okx_idle_s=1.0, okx_liquidation_share=0.0)
async def test_no_subscription_or_no_push_closes_and_pings_keep_it_open(sim_server: Any) -> None:
    quiet = {"op": "subscribe", "args": [{"channel": "liquidation-orders", "instType": "SWAP"}]}

    async def keep_pinging(client: Any) -> None:
        for _ in range(7):
            await client.send("ping")
            await asyncio.sleep(0.3)

    async with (
        sim_server.connect("/okx/ws/v5/public") as unsubscribed,
        sim_server.connect("/okx/ws/v5/public") as silent,
        sim_server.connect("/okx/ws/v5/public") as pinging,
    ):
        await silent.send(quiet)
        await pinging.send(quiet)
        (code_a, waited_a), (code_b, waited_b), _ = await asyncio.gather(
            unsubscribed.closed(timeout=3), silent.closed(timeout=3), keep_pinging(pinging)
        )
        assert code_a == code_b == 4004
        assert waited_a >= 0.9 and waited_b >= 0.9
        await pinging.send("ping")
        assert await pinging.until(lambda f: f == "pong") == "pong"


async def pushed_through_shocks(sim_server: Any) -> tuple[int, list[Any]]:
    """The market time before, and the `liquidation-orders` frames pushed over 2.5 s, of a 5 % drop then a 10 %
    rise of BTC."""
    async with sim_server.connect("/okx/ws/v5/public") as client:
        await client.send({"op": "subscribe", "args": [{"channel": "liquidation-orders", "instType": "SWAP"}]})
        await client.until(event("subscribe"))
        start_ms = sim_server.market.now_ms
        sim_server.market.shock("BTC", -0.05)
        await asyncio.sleep(1.0)
        sim_server.market.shock("BTC", 0.10)
        return start_ms, [json.loads(text) for text in await client.collect(2.5)]


@pytest.mark.sim_config(okx_liquidation_delay_share=0.3, okx_liquidation_max_delay_ms=600)
async def test_liquidations_are_a_share_and_not_in_time_order(sim_server: Any) -> None:
    start_ms, frames = await pushed_through_shocks(sim_server)
    times = [
        int(detail["ts"])
        for frame in frames
        for entry in frame["data"]
        if entry["instId"] == BTC
        for detail in entry["details"]
    ]
    recorded = [liq for key, liq in sim_server.recorded if key == f"okx:{BTC}" and liq.ts_ms > start_ms]
    assert 0 < len(times) < len(recorded)
    assert times != sorted(times)


async def test_the_liquidation_history_serves_what_the_channel_reports(sim_server: Any) -> None:
    """`GET /api/v5/public/liquidation-orders`: the same share the channel reports (the same liquidations),
    newest first, paged back with `after`; OKX's parameter rules."""
    start_ms, frames = await pushed_through_shocks(sim_server)
    pushed = {
        (int(detail["ts"]), detail["sz"])
        for frame in frames
        for entry in frame["data"]
        if entry["instId"] == BTC
        for detail in entry["details"]
    }
    path = "/okx/api/v5/public/liquidation-orders?instType=SWAP&instFamily=BTC-USDT&state=filled&limit=100"
    served: list[dict[str, str]] = []
    after = ""
    for _ in range(50):
        status, doc = await sim_server.get(path + after)
        assert status == 200 and doc["code"] == "0"
        if not doc["data"]:
            break
        [entry] = doc["data"]
        assert entry["instId"] == BTC and entry["instFamily"] == "BTC-USDT"
        details = entry["details"]
        times = [int(d["ts"]) for d in details]
        assert times == sorted(times, reverse=True) and len(details) <= 100
        served.extend(details)
        # `after` is exclusive: ask again from the oldest time, so rows that share it are not skipped.
        after = f"&after={times[-1] + 1}"
        if times[-1] <= start_ms:
            break
    recent = {(int(d["ts"]), d["sz"]) for d in served if int(d["ts"]) > start_ms}
    everything = [liq for key, liq in sim_server.recorded if key == f"okx:{BTC}" and liq.ts_ms > start_ms]
    assert pushed and pushed <= recent
    assert len(pushed) <= len(recent) < len(everything)
    assert all(
        d["posSide"] in ("long", "short") and d["side"] == {"long": "sell", "short": "buy"}[d["posSide"]]
        for d in served
    )
    # OKX's rules: instType always, instFamily (or uly) for swaps, and only filled orders have a history here.
    for query, code in (
        ("instFamily=BTC-USDT&state=filled", "50014"),
        ("instType=SWAP&state=filled", "50015"),
        ("instType=SWAP&instFamily=BTC-USDT&state=filled&limit=101", "51000"),
        ("instType=SWAP&instFamily=BTC-USDT&state=done", "51000"),
    ):
        status, doc = await sim_server.get(f"/okx/api/v5/public/liquidation-orders?{query}")
        assert (status, doc["code"], doc["data"]) == (200, code, []), query
    for query in ("instType=SWAP&instFamily=BTC-USDT", "instType=SWAP&uly=NOPE-USDT&state=filled"):
        status, doc = await sim_server.get(f"/okx/api/v5/public/liquidation-orders?{query}")
        assert (status, doc["code"], doc["data"]) == (200, "0", []), query  # unfilled: none resting
