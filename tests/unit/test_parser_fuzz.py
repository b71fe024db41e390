"""Fuzzing the exchange parsers with hypothesis.

1. Whatever arrives (mutated real frames, random bytes and text, deep nesting, huge numbers, NaN strings),
   `parse` and `parse_rest` return a FrameKind and never raise, and whatever they appended to the batch converts
   to the store's numpy rows with finite, positive values.
2. Valid random trades and liquidations written in each exchange's wire format read back exactly.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqtui.feeds.base import FrameKind
from liqtui.feeds.binance import BinanceParser
from liqtui.feeds.bybit import BybitParser
from liqtui.feeds.okx import SEED_CONTRACT_SIZES, OkxParser
from liqtui.model.events import (
    EventBatch,
    Notice,
    liquidations_array,
    marks_array,
    open_interest_array,
    trades_array,
)
from liqtui.model.types import Side

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DATA = Path(__file__).parents[1] / "data" / "frames"
REAL_FRAMES = Path("/work/shared/fixtures/real-frames.jsonl")
PARSER_TYPES: list[type[BinanceParser | BybitParser | OkxParser]] = [BinanceParser, BybitParser, OkxParser]


def _frames() -> list[str]:
    lines: list[str] = []
    for path in [REAL_FRAMES, *sorted(DATA.glob("*.jsonl"))]:
        if path.exists():
            lines += path.read_text().splitlines()
    return [json.loads(line)["frame"] for line in lines if line.strip()]


FRAMES = _frames()
REST_SAMPLES = [
    (entry["url"], json.dumps(entry["body"]))
    for path in sorted((DATA / "rest").glob("*.json"))
    for name, entry in json.loads(path.read_text()).items()
    if not name.startswith("_")
]

ODD_STRINGS = [
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e999",
    "-1e999",
    "1e-400",
    "-0",
    "0",
    "",
    " ",
    "0x10",
    "1_000",
    "+5",
    ".5",
    "5.",
    "９",
    "null",
    "true",
    "[1]",
    '{"a":1}',
    "1" * 400,
    "9" * 5000,
    "-1",
    "18446744073709551616",
    "\u0000",
    "\ud800",
    "é",
]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(ODD_STRINGS)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=8,
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a decoded JSON document."""
    found = [path]
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*path, index))
    return found


def _mutate(doc: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if action == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


def assert_batch_sane(batch: EventBatch) -> None:
    """What a parser appended converts to the store's rows, with finite, positive values."""
    for symbol, rows in batch.trades.items():
        assert isinstance(symbol, str)
        arr = trades_array(rows)
        assert np.all(np.isfinite(arr["px"])) and np.all(arr["px"] > 0) and np.all(arr["qty_base"] > 0)
        assert np.all(arr["ts_ms"] > 0)
    for symbol, rows in batch.liquidations.items():
        assert isinstance(symbol, str)
        arr = liquidations_array(rows)
        assert np.all(np.isfinite(arr["px"])) and np.all(arr["px"] > 0) and np.all(arr["qty_base"] > 0)
        assert set(arr["side"].tolist()) <= {int(Side.LONG), int(Side.SHORT)}
    for symbol, rows in batch.marks.items():
        assert isinstance(symbol, str)
        arr = marks_array(rows)
        assert np.all(np.isfinite(arr["px"])) and np.all(arr["px"] > 0)
    for symbol, rows in batch.open_interest.items():
        assert isinstance(symbol, str)
        arr = open_interest_array(rows)
        assert np.all(np.isfinite(arr["oi_base"])) and np.all(arr["oi_base"] >= 0)
    assert all(isinstance(rate, float) and math.isfinite(rate) for rate in batch.funding_rate.values())
    assert all(isinstance(n, Notice) and isinstance(n.text, str) for n in batch.notices)


def parse_everywhere(frame: str | bytes) -> None:
    """Every parser classifies the frame without raising, and keeps its batch sane."""
    for parser_type in PARSER_TYPES:
        parser = parser_type()
        batch = EventBatch()
        kind = parser.parse(frame, batch)
        assert isinstance(kind, FrameKind)
        if kind in (FrameKind.BAD, FrameKind.SKIPPED, FrameKind.UNRESOLVED):
            assert parser.reason
        assert_batch_sane(batch)


# ------------------------------------------------------------------------------------- never raises


@FUZZ
@given(st.sampled_from(FRAMES), st.data())
def test_mutated_frames_never_raise(frame: str, data: st.DataObject) -> None:
    doc = json.loads(frame) if frame != "pong" else "pong"
    path = data.draw(st.sampled_from(_paths(doc)))
    action = data.draw(st.sampled_from(["replace", "delete"] if path else ["replace"]))
    mutated = _mutate(doc, path, action, data.draw(json_values))
    parse_everywhere(json.dumps(mutated, ensure_ascii=data.draw(st.booleans())))


ABSURD_NUMBERS = [
    "-1",
    "0",
    "-0",
    "0.0",
    "-5.5",
    "NaN",
    "inf",
    "-inf",
    "1e999",
    "1e-400",
    "",
    "9" * 30,
    "1e300",
    0,
    -1,
    -5.5,
    0.0,
    10**20,
    2**63,
    1e300,
    -1e300,
    None,
    True,
    False,
    "1640131236050.5",
]


def _numeric_paths(doc: Any) -> list[tuple[Any, ...]]:
    """Paths to the numbers of a document, whether sent as JSON numbers or as decimal strings."""

    def numeric(value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if isinstance(value, int | float):
            return True
        try:
            float(value)
        except (TypeError, ValueError):
            return False
        return True

    found = []
    for path in _paths(doc):
        node = doc
        for step in path:
            node = node[step]
        if path and numeric(node):
            found.append(path)
    return found


NUMERIC_FRAMES = [frame for frame in FRAMES if frame != "pong" and _numeric_paths(json.loads(frame))]


@FUZZ
@given(st.sampled_from(NUMERIC_FRAMES), st.data())
def test_absurd_numbers_never_reach_the_batch(frame: str, data: st.DataObject) -> None:
    doc = json.loads(frame)
    path = data.draw(st.sampled_from(_numeric_paths(doc)))
    parse_everywhere(json.dumps(_mutate(doc, path, "replace", data.draw(st.sampled_from(ABSURD_NUMBERS)))))


@FUZZ
@given(st.sampled_from(FRAMES), st.data())
def test_truncated_and_spliced_frames_never_raise(frame: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(frame)))
    parse_everywhere(frame[:cut])
    insert = data.draw(st.text(max_size=8))
    parse_everywhere(frame[:cut] + insert + frame[cut:])
    parse_everywhere(frame.encode()[: data.draw(st.integers(min_value=0, max_value=len(frame.encode())))])


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_random_bytes_and_text_never_raise(frame: str | bytes) -> None:
    parse_everywhere(frame)


@FUZZ
@given(st.integers(min_value=1, max_value=3000), st.sampled_from(['{"data":', '{"topic":"x","data":', "[", '{"a":']))
def test_deep_nesting_never_raises(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    parse_everywhere(opener * depth + "1" + closer * depth)
    parse_everywhere(json.dumps({"stream": "btcusdt@aggTrade", "data": json.loads("[" * 500 + "]" * 500)}))


@FUZZ
@given(st.sampled_from(REST_SAMPLES), st.data())
def test_mutated_rest_bodies_never_raise(sample: tuple[str, str], data: st.DataObject) -> None:
    url, body = sample
    doc = json.loads(body)
    path = data.draw(st.sampled_from(_paths(doc)))
    mutated = json.dumps(
        _mutate(
            doc,
            path,
            data.draw(st.sampled_from(["replace", "delete"]) if path else st.just("replace")),
            data.draw(json_values),
        )
    )
    cut = data.draw(st.integers(min_value=0, max_value=len(mutated)))
    for parser_type in PARSER_TYPES:
        for text in (mutated, mutated[:cut]):
            parser = parser_type()
            batch = EventBatch()
            assert isinstance(parser.parse_rest(url, text, batch), FrameKind)
            assert_batch_sane(batch)


def test_oversized_frames_are_bad_without_decoding() -> None:
    for parser_type in PARSER_TYPES:
        parser = parser_type(max_frame_bytes=100)
        assert parser.parse(" " * 100 + "1", EventBatch()) is FrameKind.BAD
        assert "100 byte limit" in parser.reason
        # 1 MiB by default: a valid JSON document just over it is still refused.
        parser = parser_type()
        frame = json.dumps({"pad": "x" * (1 << 20)})
        assert parser.parse(frame, EventBatch()) is FrameKind.BAD
        assert parser.parse(frame.encode(), EventBatch()) is FrameKind.BAD


# ------------------------------------------------------------------------------------------ round trip

timestamps = st.integers(min_value=1, max_value=99_999_999_999_999)
positive = st.floats(min_value=1e-8, max_value=1e9, allow_nan=False, allow_infinity=False).filter(lambda x: x > 0)
linear_symbols = st.sampled_from(["BTCUSDT", "ETHUSDT", "1000PEPEUSDT", "币安人生USDT", "SOLUSDC"])


def _text(value: float) -> str:
    # repr is the shortest text that reads back to the same float; the exchanges send decimals such as "83434.40".
    return repr(value)


@FUZZ
@given(
    symbol=linear_symbols,
    ts_ms=timestamps,
    px=positive,
    qty_base=positive,
    buyer_maker=st.booleans(),
    combined=st.booleans(),
)
def test_binance_agg_trades_round_trip(
    *, symbol: str, ts_ms: int, px: float, qty_base: float, buyer_maker: bool, combined: bool
) -> None:
    payload = {
        "e": "aggTrade",
        "E": ts_ms + 5,
        "a": 7,
        "s": symbol,
        "p": _text(px),
        "q": _text(qty_base),
        "f": 1,
        "l": 2,
        "T": ts_ms,
        "m": buyer_maker,
        "st": 1,
    }
    frame = {"stream": f"{symbol.lower()}@aggTrade", "data": payload} if combined else payload
    batch = EventBatch()
    assert BinanceParser().parse(json.dumps(frame, ensure_ascii=False), batch) is FrameKind.DATA
    assert batch.trades[symbol] == [(ts_ms, px, qty_base, not buyer_maker)]


@FUZZ
@given(linear_symbols, timestamps, positive, positive, st.sampled_from(["SELL", "BUY"]))
def test_binance_liquidations_round_trip(symbol: str, ts_ms: int, px: float, qty_base: float, order_side: str) -> None:
    order = {
        "s": symbol,
        "S": order_side,
        "o": "LIMIT",
        "f": "IOC",
        "q": _text(qty_base * 2),
        "p": _text(px * 0.99),
        "ap": _text(px),
        "X": "FILLED",
        "l": _text(qty_base),
        "z": _text(qty_base),
        "T": ts_ms,
        "st": 1,
    }
    frame = json.dumps({"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": ts_ms + 1, "o": order}})
    batch = EventBatch()
    assert BinanceParser().parse(frame, batch) is FrameKind.DATA
    side = int(Side.LONG) if order_side == "SELL" else int(Side.SHORT)
    assert batch.liquidations[symbol] == [(ts_ms, px, qty_base, side)]


bybit_rows = st.lists(
    st.tuples(timestamps, positive, positive, st.sampled_from(["Buy", "Sell"])), min_size=1, max_size=6
)


@FUZZ
@given(st.sampled_from(["BTCUSDT", "ETHUSDT", "BTCPERP", "SOLUSDC"]), bybit_rows)
def test_bybit_trades_and_liquidations_round_trip(symbol: str, rows: list[tuple[int, float, float, str]]) -> None:
    items = [{"T": t, "s": symbol, "S": s, "v": _text(v), "p": _text(p)} for t, p, v, s in rows]
    parser = BybitParser()
    trades = json.dumps({"topic": f"publicTrade.{symbol}", "type": "snapshot", "ts": 1, "data": items})
    liquidations = json.dumps({"topic": f"allLiquidation.{symbol}", "type": "snapshot", "ts": 1, "data": items})
    batch = EventBatch()
    assert parser.parse(trades, batch) is FrameKind.DATA
    assert parser.parse(trades, batch) is FrameKind.DATA  # the second time through the cached topic
    assert parser.parse(liquidations, batch) is FrameKind.DATA
    expected_trades = [(t, p, v, s == "Buy") for t, p, v, s in rows]
    assert batch.trades[symbol] == expected_trades * 2
    # S is the position side on allLiquidation: Buy is a liquidated long.
    assert batch.liquidations[symbol] == [
        (t, p, v, int(Side.LONG if s == "Buy" else Side.SHORT)) for t, p, v, s in rows
    ]


okx_contracts = st.integers(min_value=1, max_value=10**7).map(lambda n: n / 100)


@FUZZ
@given(
    st.sampled_from(sorted(SEED_CONTRACT_SIZES)), timestamps, positive, okx_contracts, st.sampled_from(["buy", "sell"])
)
def test_okx_trades_round_trip_in_base_units(inst_id: str, ts_ms: int, px: float, contracts: float, side: str) -> None:
    frame = json.dumps(
        {
            "arg": {"channel": "trades", "instId": inst_id},
            "data": [
                {
                    "instId": inst_id,
                    "tradeId": "1",
                    "px": _text(px),
                    "sz": _text(contracts),
                    "side": side,
                    "ts": str(ts_ms),
                }
            ],
        }
    )
    batch = EventBatch()
    assert OkxParser().parse(frame, batch) is FrameKind.DATA
    assert batch.trades[inst_id] == [(ts_ms, px, contracts * SEED_CONTRACT_SIZES[inst_id], side == "buy")]


@FUZZ
@given(
    st.sampled_from(sorted(SEED_CONTRACT_SIZES)),
    st.lists(
        st.tuples(
            timestamps,
            positive,
            okx_contracts,
            st.sampled_from([("long", "sell"), ("short", "buy"), ("net", "sell"), ("net", "buy")]),
        ),
        min_size=1,
        max_size=5,
    ),
)
def test_okx_liquidations_round_trip(inst_id: str, rows: list[tuple[int, float, float, tuple[str, str]]]) -> None:
    details = [
        {"bkLoss": "0", "bkPx": _text(px), "ccy": "", "posSide": pos, "side": side, "sz": _text(sz), "ts": str(ts)}
        for ts, px, sz, (pos, side) in rows
    ]
    frame = json.dumps(
        {
            "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
            "data": [{"details": details, "instId": inst_id, "instType": "SWAP"}],
        }
    )
    batch = EventBatch()
    assert OkxParser().parse(frame, batch) is FrameKind.DATA
    size = SEED_CONTRACT_SIZES[inst_id]
    # long and net+sell are liquidated longs; short and net+buy are liquidated shorts.
    assert batch.liquidations[inst_id] == [
        (ts, px, sz * size, int(Side.LONG if side == "sell" else Side.SHORT)) for ts, px, sz, (_, side) in rows
    ]
