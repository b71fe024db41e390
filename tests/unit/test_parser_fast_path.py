"""The parsers' typed fast path (msgspec) against their general path (orjson): whichever path reads a frame, the
kind, the reason and the rows are the same.

- Every golden frame (real, written from the docs, the simulator's references), in order and then again (the
  second time the symbols are known, so the fast path takes what it can), through a parser with the fast path and
  one without (`fast=False`).
- Generated valid frames of every kind the fast path reads: the same rows, and the fast path took them.
- Frames it must refuse (unknown symbol, zero price, NaN, wrong types, a bad row after good ones): it appends
  nothing and the general path classifies them as before.
- Mutated golden frames: both paths agree, except for the fast path's documented leniencies, which are pinned by
  tests of their own (see `liqtui.feeds.common`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from liqtui.feeds.base import FrameKind
from liqtui.feeds.binance import BinanceParser
from liqtui.feeds.bybit import BybitParser
from liqtui.feeds.common import MAX_TS_MS, ParserBase
from liqtui.feeds.okx import SEED_CONTRACT_SIZES, OkxParser
from liqtui.model.events import EventBatch, liquidations_array, marks_array, open_interest_array, trades_array
from liqtui.model.types import ContractKind, Exchange, Instrument

DATA = Path(__file__).parents[1] / "data"
PARSERS: dict[str, type[BinanceParser | BybitParser | OkxParser]] = {
    "binance": BinanceParser,
    "bybit": BybitParser,
    "okx": OkxParser,
}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def golden_frames(exchange: str) -> list[str]:
    """The exchange's frames from the repository's fixtures: real, the simulator's references, from the docs."""
    records = _records(DATA / "real-frames.jsonl") + _records(DATA / "sim-reference-frames.jsonl")
    frames = [str(r["frame"]) for r in records if r["exchange"] == exchange]
    return frames + [str(r["frame"]) for r in _records(DATA / "frames" / f"{exchange}.jsonl")]


def counting(parser: ParserBase) -> list[bool]:
    """Record what the parser's fast path answers for each frame (True: it appended the frame's events)."""
    answers: list[bool] = []
    fast_path = parser._parse_fast  # type: ignore[attr-defined]

    def recorded(frame: str | bytes, batch: EventBatch) -> bool:
        took = bool(fast_path(frame, batch))
        answers.append(took)
        return took

    parser._parse_fast = recorded  # type: ignore[attr-defined]
    return answers


def exact_rows(batch: EventBatch) -> dict[str, Any]:
    """The batch as the store receives it: each symbol's rows as the bytes of their numpy rows (so -0.0 and 0.0,
    or a float and a near float, differ), the funding rates and notices as they are."""
    return {
        "trades": {s: trades_array(r).tobytes() for s, r in batch.trades.items()},
        "liquidations": {s: liquidations_array(r).tobytes() for s, r in batch.liquidations.items()},
        "marks": {s: marks_array(r).tobytes() for s, r in batch.marks.items()},
        "open_interest": {s: open_interest_array(r).tobytes() for s, r in batch.open_interest.items()},
        "funding_rate": {s: float(v).hex() for s, v in batch.funding_rate.items()},
        "notices": list(batch.notices),
    }


def parse_both(fast: ParserBase, general: ParserBase, frame: str | bytes) -> tuple[FrameKind, EventBatch]:
    """Parse the frame with both parsers and check they agree on the kind, the reason and the rows."""
    fast_batch, general_batch = EventBatch(), EventBatch()
    kind = fast.parse(frame, fast_batch)  # type: ignore[attr-defined]
    general_kind = general.parse(frame, general_batch)  # type: ignore[attr-defined]
    assert kind is general_kind, (frame, fast.reason, general.reason)
    assert fast.reason == general.reason, frame
    assert exact_rows(fast_batch) == exact_rows(general_batch), frame
    # Rows compare equal as Python values too (an int price from the general path equals the fast path's float).
    assert dict(fast_batch.trades) == dict(general_batch.trades), frame
    assert dict(fast_batch.open_interest) == dict(general_batch.open_interest), frame
    return kind, fast_batch


def pair(exchange: str) -> tuple[ParserBase, ParserBase]:
    return PARSERS[exchange](), PARSERS[exchange](fast=False)


def _inst_ids(node: Any) -> set[str]:
    """Every `instId` value inside a decoded frame."""
    if isinstance(node, list):
        return set().union(*map(_inst_ids, node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = {node["instId"]} if isinstance(node.get("instId"), str) else set()
    return found.union(*map(_inst_ids, node.values()))


def okx_table(frames: list[str]) -> list[Instrument]:
    """An instrument table listing every linear swap the frames name, with a contract size for each."""
    inst_ids = {i for frame in frames if frame != "pong" for i in _inst_ids(json.loads(frame))}
    inst_ids = {i for i in inst_ids if i.endswith(("-USDT-SWAP", "-USDC-SWAP"))}
    return [
        Instrument(Exchange.OKX, inst_id, inst_id.split("-")[0], "USDT", ContractKind.LINEAR_PERPETUAL, 0.1, 0.01)
        for inst_id in sorted(inst_ids)
    ]


# ------------------------------------------------------------------------------------------ golden frames


@pytest.mark.parametrize("exchange", sorted(PARSERS))
def test_golden_frames_read_the_same_on_both_paths(exchange: str) -> None:
    frames = golden_frames(exchange)
    fast, general = pair(exchange)
    answers = counting(fast)
    for frame in frames + frames + [frame.encode() for frame in frames]:
        parse_both(fast, general, frame)
    # The fast path must have had work: every hot kind appears in the fixtures of each exchange.
    assert sum(answers) >= 6, answers
    if isinstance(fast, BybitParser) and isinstance(general, BybitParser):
        assert fast._single_oi == general._single_oi


def test_okx_golden_frames_with_an_instrument_table_read_the_same_on_both_paths() -> None:
    frames = golden_frames("okx")
    fast, general = pair("okx")
    table = okx_table(frames)
    assert len(table) >= 5
    fast.set_instruments(table)
    general.set_instruments(table)
    answers = counting(fast)
    for frame in frames + frames:
        parse_both(fast, general, frame)
    assert sum(answers) >= 8, answers


# --------------------------------------------------------------------------------- generated valid frames

timestamps = st.integers(min_value=1, max_value=MAX_TS_MS - 1)
amounts = st.floats(min_value=1e-8, max_value=1e9, allow_nan=False, allow_infinity=False)
decimal_styles: list[Callable[[float], str]] = [
    repr,
    lambda x: f"{x:.2f}",
    lambda x: f"{x:.8f}",
    lambda x: f"{x:.12g}",
    lambda x: str(int(x)),
    lambda x: f"{x:.17g}",
]


@st.composite
def decimals(draw: st.DrawFn) -> str:
    """A positive amount as an exchange writes it (as a decimal string; some styles may round it to zero)."""
    return draw(st.sampled_from(decimal_styles))(draw(amounts))


def is_positive(text: str) -> bool:
    return float(text) > 0.0


def check_taken(exchange: str, frames: list[str], *, warm_up: list[str]) -> None:
    """Both paths read the frames alike; the fast path took every frame whose numbers are all positive."""
    fast, general = pair(exchange)
    for frame in warm_up:
        parse_both(fast, general, frame)
    answers = counting(fast)
    for frame in frames:
        kind, _ = parse_both(fast, general, frame)
        if kind is FrameKind.DATA:
            assert answers[-1], f"the fast path refused a valid frame: {frame}"


def binance_agg_trade(symbol: str, ts_ms: int, px: str, qty: str, buyer_maker: bool) -> str:
    data = {"e": "aggTrade", "E": ts_ms + 1, "a": 5, "s": symbol, "p": px, "q": qty, "nq": qty, "f": 1, "l": 2}
    data |= {"T": ts_ms, "m": buyer_maker, "st": 1}
    return json.dumps({"stream": f"{symbol.lower()}@aggTrade", "data": data}, ensure_ascii=False)


binance_symbols = st.sampled_from(["BTCUSDT", "ETHUSDT", "1000PEPEUSDT", "币安人生USDT"])


@FUZZ
@given(
    symbol=binance_symbols,
    trades=st.lists(st.tuples(timestamps, decimals(), decimals(), st.booleans()), min_size=1, max_size=4),
    marks=st.lists(
        st.tuples(timestamps, decimals(), st.none() | st.floats(min_value=-0.05, max_value=0.05).map(repr)),
        max_size=3,
    ),
    orders=st.lists(
        st.tuples(
            timestamps,
            st.sampled_from(["SELL", "BUY"]),
            st.fixed_dictionaries({"p": decimals(), "q": decimals()}, optional={"ap": decimals(), "z": decimals()}),
            st.sampled_from([None, ("o", 1), ("data", 1), ("o", 2), ("data", 2)]),
        ),
        max_size=3,
    ),
)
def test_binance_generated_frames_read_the_same_and_take_the_fast_path(
    symbol: str,
    trades: list[tuple[int, str, str, bool]],
    marks: list[tuple[int, str, str | None]],
    orders: list[tuple[int, str, dict[str, str], tuple[str, int] | None]],
) -> None:
    frames = [binance_agg_trade(symbol, *trade) for trade in trades]
    for ts_ms, px, rate in marks:
        data: dict[str, Any] = {"e": "markPriceUpdate", "E": ts_ms, "s": symbol, "p": px, "T": 1, "st": 1}
        if rate is not None:
            data["r"] = rate
        frames.append(json.dumps({"stream": f"{symbol.lower()}@markPrice@1s", "data": data}, ensure_ascii=False))
    for ts_ms, side, prices, symbol_type in orders:
        order: dict[str, Any] = {"s": symbol, "S": side, "o": "LIMIT", "T": ts_ms, **prices}
        payload: dict[str, Any] = {"e": "forceOrder", "E": ts_ms + 3, "o": order}
        if symbol_type is not None:
            (order if symbol_type[0] == "o" else payload)["st"] = symbol_type[1]
        frames.append(json.dumps({"stream": "!forceOrder@arr", "data": payload}, ensure_ascii=False))
    warm_up = binance_agg_trade(symbol, 1, "1", "1", True)
    check_taken("binance", frames, warm_up=[warm_up])


bybit_symbols = st.sampled_from(["BTCUSDT", "ETHUSDC", "BTCPERP", "1000PEPEUSDT"])
bybit_rows = st.lists(st.tuples(timestamps, decimals(), decimals(), st.sampled_from(["Buy", "Sell"])), max_size=4)
ticker_fields = st.fixed_dictionaries(
    {},
    optional={
        "markPrice": decimals() | st.just("0"),
        "singleOpenInterest": decimals() | st.just("0"),
        "openInterest": decimals(),
        "fundingRate": st.floats(min_value=-0.05, max_value=0.05).map(repr),
        "bid1Price": decimals(),
        "nextFundingTime": st.just("1786320000000"),
    },
)


def bybit_rows_frame(topic: str, rows: list[tuple[int, str, str, str]], symbol: str) -> str:
    items = [{"T": t, "s": symbol, "S": side, "v": v, "p": p, "L": "PlusTick", "BT": False} for t, p, v, side in rows]
    return json.dumps({"topic": f"{topic}.{symbol}", "type": "snapshot", "ts": 5, "data": items})


@FUZZ
@given(
    symbol=bybit_symbols,
    trades=st.lists(bybit_rows, min_size=1, max_size=3),
    tickers=st.lists(st.tuples(st.sampled_from(["snapshot", "delta"]), timestamps, ticker_fields), max_size=6),
    liquidations=st.lists(bybit_rows, max_size=3),
)
def test_bybit_generated_frames_read_the_same_and_take_the_fast_path(
    symbol: str,
    trades: list[list[tuple[int, str, str, str]]],
    tickers: list[tuple[str, int, dict[str, str]]],
    liquidations: list[list[tuple[int, str, str, str]]],
) -> None:
    frames = [bybit_rows_frame("publicTrade", rows, symbol) for rows in trades]
    for message_type, ts_ms, fields in tickers:
        data = {"symbol": symbol, **fields}
        frames.append(json.dumps({"topic": f"tickers.{symbol}", "type": message_type, "data": data, "ts": ts_ms}))
    frames += [bybit_rows_frame("allLiquidation", rows, symbol) for rows in liquidations]
    warm_up = [
        bybit_rows_frame("publicTrade", [], symbol),
        json.dumps({"topic": f"tickers.{symbol}", "type": "snapshot", "data": {"symbol": symbol}, "ts": 1}),
    ]
    check_taken("bybit", frames, warm_up=warm_up)


def okx_frame(channel: str, inst_id: str, rows: list[dict[str, Any]]) -> str:
    return json.dumps({"arg": {"channel": channel, "instId": inst_id}, "data": rows})


@FUZZ
@given(
    inst_id=st.sampled_from(sorted(SEED_CONTRACT_SIZES)),
    trades=st.lists(
        st.lists(st.tuples(timestamps, decimals(), decimals(), st.sampled_from(["buy", "sell"])), max_size=3),
        min_size=1,
        max_size=3,
    ),
    marks=st.lists(st.lists(st.tuples(timestamps, decimals()), max_size=2), max_size=2),
    open_interest=st.lists(st.lists(st.tuples(timestamps, decimals() | st.just("0")), max_size=2), max_size=2),
)
def test_okx_generated_frames_read_the_same_and_take_the_fast_path(
    inst_id: str,
    trades: list[list[tuple[int, str, str, str]]],
    marks: list[list[tuple[int, str]]],
    open_interest: list[list[tuple[int, str]]],
) -> None:
    frames = [
        okx_frame(
            "trades",
            inst_id,
            [
                {"instId": inst_id, "tradeId": "1", "px": px, "sz": sz, "side": side, "ts": str(ts), "count": "1"}
                for ts, px, sz, side in rows
            ],
        )
        for rows in trades
    ]
    frames += [
        okx_frame("mark-price", inst_id, [{"instId": inst_id, "markPx": px, "ts": str(ts)} for ts, px in rows])
        for rows in marks
    ]
    frames += [
        okx_frame("open-interest", inst_id, [{"oi": "1", "oiCcy": oi, "ts": str(ts)} for ts, oi in rows])
        for rows in open_interest
    ]
    warm_up = okx_frame("mark-price", inst_id, [])
    check_taken("okx", frames, warm_up=[warm_up])


@FUZZ
@given(st.sampled_from(decimal_styles), amounts)
def test_msgspec_reads_decimal_strings_to_the_same_float_as_orjson(style: Callable[[float], str], x: float) -> None:
    text = style(x)
    assert msgspec.json.decode(json.dumps(text), type=float, strict=False) == orjson.loads(text)


# ---------------------------------------------------------------------------------------------- refusals


def binance_warm() -> list[str]:
    return [binance_agg_trade("BTCUSDT", 1, "1", "1", True)]


def bybit_warm() -> list[str]:
    return [
        bybit_rows_frame("publicTrade", [], "BTCUSDT"),
        bybit_rows_frame("allLiquidation", [], "BTCUSDT"),
        json.dumps({"topic": "tickers.BTCUSDT", "type": "snapshot", "data": {"symbol": "BTCUSDT"}, "ts": 1}),
    ]


def okx_warm() -> list[str]:
    return [okx_frame("mark-price", "BTC-USDT-SWAP", [])]


def agg(**changes: Any) -> str:
    data = {"e": "aggTrade", "E": 7, "s": "BTCUSDT", "p": "83434.40", "q": "0.016", "T": 1791391081874, "m": True}
    return json.dumps({"stream": "btcusdt@aggTrade", "data": {**data, **changes}})


def mark(**changes: Any) -> str:
    """A mark price frame; a field changed to None is left out."""
    data = {"e": "markPriceUpdate", "E": 1790526539000, "s": "BTCUSDT", "p": "84551.1", "r": "0.0001", **changes}
    return json.dumps({"stream": "btcusdt@markPrice@1s", "data": {k: v for k, v in data.items() if v is not None}})


def force_order(**changes: Any) -> str:
    order = {"s": "BTCUSDT", "S": "SELL", "q": "0.19", "p": "82338.3", "ap": "82651.9", "z": "0.19", "T": 5}
    return json.dumps({"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": 6, "o": {**order, **changes}}})


def bybit_trade(*rows: dict[str, Any], topic: str = "publicTrade.BTCUSDT") -> str:
    base = {"T": 1786310819680, "s": "BTCUSDT", "S": "Sell", "v": "0.004", "p": "65114.20"}
    return json.dumps({"topic": topic, "type": "snapshot", "ts": 5, "data": [{**base, **row} for row in rows]})


def ticker(message_type: str = "delta", ts: Any = 1786310817583, **fields: Any) -> str:
    data = {"symbol": "BTCUSDT", **fields}
    return json.dumps({"topic": "tickers.BTCUSDT", "type": message_type, "data": data, "ts": ts})


def okx_trade(inst_id: str = "BTC-USDT-SWAP", **changes: Any) -> str:
    row = {"instId": inst_id, "tradeId": "9", "px": "48938.5", "sz": "5", "side": "buy", "ts": "1640131236050"}
    return okx_frame("trades", inst_id, [{**row, **changes}])


REFUSED: list[tuple[str, str, str, FrameKind]] = [
    # (exchange, what, frame, the general path's kind)
    ("binance", "a symbol not yet seen", agg(s="ETHUSDT"), FrameKind.DATA),
    ("binance", "a COIN-M symbol", agg(s="BTCUSD_PERP"), FrameKind.SKIPPED),
    ("binance", "a zero price", agg(p="0"), FrameKind.BAD),
    ("binance", "a NaN price", agg(p="NaN"), FrameKind.BAD),
    ("binance", "an infinite quantity", agg(q="inf"), FrameKind.BAD),
    ("binance", "a negative quantity", agg(q="-0.5"), FrameKind.BAD),
    ("binance", "a price that is an object", agg(p={"x": 1}), FrameKind.BAD),
    ("binance", "a price that is a boolean", agg(p=True), FrameKind.BAD),
    ("binance", "a time that is a string", agg(T="1791391081874"), FrameKind.BAD),
    ("binance", "a time of 0", agg(T=0), FrameKind.BAD),
    ("binance", "a maker flag that is the string true", agg(m="true"), FrameKind.DATA),
    ("binance", "a maker flag that is the string false", agg(m="false"), FrameKind.DATA),
    ("binance", "a maker flag that is 0", agg(m=0), FrameKind.DATA),
    ("binance", "a time that is a float", agg(T=1791391081874.0), FrameKind.DATA),
    ("binance", "a mark of 0", mark(p="0"), FrameKind.SKIPPED),
    ("binance", "a NaN funding rate", mark(r="nan"), FrameKind.BAD),
    ("binance", "a funding rate of 2", mark(r="2"), FrameKind.BAD),
    ("binance", "an empty funding rate", mark(r=""), FrameKind.DATA),
    ("binance", "a COIN-M liquidation", force_order(st=2), FrameKind.SKIPPED),
    ("binance", "a liquidation of side HOLD", force_order(S="HOLD"), FrameKind.BAD),
    ("binance", "a liquidation with a string time", force_order(T="5"), FrameKind.BAD),
    ("binance", "a raw /ws payload", json.dumps(json.loads(agg())["data"]), FrameKind.DATA),
    ("binance", "a subscription reply", '{"result":null,"id":1}', FrameKind.ACK),
    ("bybit", "a lowercase side", bybit_trade({"S": "buy"}), FrameKind.BAD),
    ("bybit", "a NaN price", bybit_trade({"p": "nan"}), FrameKind.BAD),
    ("bybit", "a zero quantity", bybit_trade({"v": "0"}), FrameKind.BAD),
    ("bybit", "a time that is a string", bybit_trade({"T": "1786310819680"}), FrameKind.BAD),
    ("bybit", "a bad row after a good one", bybit_trade({}, {"p": "-1"}), FrameKind.BAD),
    ("bybit", "an inverse symbol", bybit_trade({}, topic="publicTrade.BTCUSD"), FrameKind.SKIPPED),
    ("bybit", "a topic not yet seen", bybit_trade({}, topic="publicTrade.ETHUSDT"), FrameKind.DATA),
    ("bybit", "a ticker of type partial", ticker("partial", markPrice="1"), FrameKind.BAD),
    ("bybit", "a ticker time that is a string", ticker(ts="1786310817583", markPrice="1"), FrameKind.BAD),
    ("bybit", "a NaN mark", ticker(markPrice="nan"), FrameKind.BAD),
    ("bybit", "a funding rate of 1.5", ticker(fundingRate="1.5"), FrameKind.BAD),
    ("bybit", "an empty mark", ticker(markPrice=""), FrameKind.DATA),
    ("bybit", "a negative open interest", ticker(openInterest="-3"), FrameKind.BAD),
    ("bybit", "a liquidation side Long", bybit_trade({"S": "Long"}, topic="allLiquidation.BTCUSDT"), FrameKind.BAD),
    ("bybit", "a liquidation of an inverse symbol", bybit_trade({}, topic="allLiquidation.XRPUSD"), FrameKind.SKIPPED),
    ("bybit", "a pong", '{"success":true,"ret_msg":"pong","conn_id":"c","op":"ping"}', FrameKind.PONG),
    ("okx", "a contract size not known", okx_trade("CELO-USDT-SWAP"), FrameKind.UNRESOLVED),
    ("okx", "an inverse swap", okx_trade("BTC-USD-SWAP"), FrameKind.SKIPPED),
    ("okx", "a NaN price", okx_trade(px="nan"), FrameKind.BAD),
    ("okx", "a zero size", okx_trade(sz="0"), FrameKind.BAD),
    ("okx", "a capitalized side", okx_trade(side="Buy"), FrameKind.BAD),
    ("okx", "a time that is not a number", okx_trade(ts="soon"), FrameKind.BAD),
    ("okx", "a time with spaces", okx_trade(ts=" 1640131236050 "), FrameKind.DATA),
    ("okx", "a size that is 0 in base units", okx_trade(sz="5e-324"), FrameKind.BAD),
    ("okx", "a size that overflows in base units", okx_trade("DOGE-USDT-SWAP", sz="1e308"), FrameKind.BAD),
    ("okx", "a mark of an instId not yet seen", okx_frame("mark-price", "ETH-USDT-SWAP", []), FrameKind.DATA),
    ("okx", "a mark of 0", okx_frame("mark-price", "BTC-USDT-SWAP", [{"markPx": "0", "ts": "5"}]), FrameKind.BAD),
    (
        "okx",
        "open interest of -1",
        okx_frame("open-interest", "BTC-USDT-SWAP", [{"oiCcy": "-1", "ts": "5"}]),
        FrameKind.BAD,
    ),
    ("okx", "open interest without oiCcy", okx_frame("open-interest", "BTC-USDT-SWAP", [{"ts": "5"}]), FrameKind.BAD),
    ("okx", "the heartbeat answer", "pong", FrameKind.PONG),
]
WARM_UP = {"binance": binance_warm, "bybit": bybit_warm, "okx": okx_warm}


@pytest.mark.parametrize(("exchange", "what", "frame", "kind"), REFUSED, ids=[f"{e}: {w}" for e, w, _, _ in REFUSED])
def test_frames_the_fast_path_refuses_get_the_general_paths_classification(
    exchange: str, what: str, frame: str, kind: FrameKind
) -> None:
    fast, general = pair(exchange)
    for warm_up in WARM_UP[exchange]():
        parse_both(fast, general, warm_up)
    batch = EventBatch()
    assert fast._parse_fast(frame, batch) is False, what  # type: ignore[attr-defined]
    assert not batch, f"the fast path appended part of a frame it refused ({what})"
    got, _ = parse_both(fast, general, frame)
    assert got is kind, (what, fast.reason)


def test_the_fast_path_takes_the_warm_symbols_frames() -> None:
    # The refusal table's frames are refused for their defect alone: the same frames, sound, are taken.
    for exchange, sound in [
        ("binance", [agg(), mark(), mark(r=None), force_order(), force_order(ap="0", z="0")]),
        (
            "bybit",
            [
                bybit_trade({}),
                ticker(markPrice="1", singleOpenInterest="2"),
                bybit_trade(topic="allLiquidation.BTCUSDT"),
            ],
        ),
        ("okx", [okx_trade(), okx_frame("mark-price", "BTC-USDT-SWAP", [{"markPx": "5", "ts": "5"}])]),
    ]:
        fast, general = pair(exchange)
        for warm_up in WARM_UP[exchange]():
            parse_both(fast, general, warm_up)
        answers = counting(fast)
        for frame in sound:
            assert parse_both(fast, general, frame)[0] is FrameKind.DATA
        assert all(answers) and len(answers) == len(sound), (exchange, answers)


def test_a_frame_over_the_size_limit_is_bad_before_either_path() -> None:
    for exchange, parser_type in PARSERS.items():
        parser = parser_type(max_frame_bytes=50)
        frame = agg() if exchange == "binance" else bybit_trade({}) if exchange == "bybit" else okx_trade()
        assert parser.parse(frame, EventBatch()) is FrameKind.BAD
        assert "50 byte limit" in parser.reason


# ------------------------------------------------------------------------------- the documented leniencies


@pytest.mark.parametrize(
    ("exchange", "frame", "symbol"),
    [
        ("binance", agg(p=83434.4), "BTCUSDT"),
        ("bybit", bybit_trade({"v": 0.004}), "BTCUSDT"),
        ("okx", okx_trade(px=48938.5), "BTC-USDT-SWAP"),
    ],
)
def test_known_difference_a_json_number_where_the_exchange_sends_a_decimal_string_is_read_by_value(
    exchange: str, frame: str, symbol: str
) -> None:
    # The general path calls it BAD (orjson reads decimal strings); the typed fields take a number as it is.
    fast, general = pair(exchange)
    for warm_up in WARM_UP[exchange]():
        parse_both(fast, general, warm_up)
    fast_batch = EventBatch()
    assert general.parse(frame, EventBatch()) is FrameKind.BAD
    assert fast.parse(frame, fast_batch) is FrameKind.DATA
    ((_, px, qty_base, _),) = fast_batch.trades[symbol]
    assert math.isfinite(px) and px > 0.0 and qty_base > 0.0


def test_known_difference_an_okx_time_with_an_exponent_is_read_by_value() -> None:
    fast, general = pair("okx")
    frame = okx_trade(ts="1.640131236050e12")
    assert general.parse(frame, EventBatch()) is FrameKind.BAD
    batch = EventBatch()
    assert fast.parse(frame, batch) is FrameKind.DATA
    assert batch.trades["BTC-USDT-SWAP"][0][0] == 1640131236050


def test_known_difference_a_number_beyond_a_double_in_a_skipped_field_is_not_read() -> None:
    # orjson refuses the whole frame; msgspec skips fields the fast path does not read without converting them.
    frame = agg(a=10**400)
    fast, general = pair("binance")
    for warm_up in binance_warm():
        parse_both(fast, general, warm_up)
    assert general.parse(frame, EventBatch()) is FrameKind.BAD
    assert fast.parse(frame, EventBatch()) is FrameKind.DATA


# ---------------------------------------------------------------------------------------- mutated frames


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*path, index))
    return found


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        doc = doc[step]
    return doc


def _lenient_only(original: Any, value: Any) -> bool:
    """True when the mutation is one of the fast path's documented leniencies (see the tests above)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and isinstance(original, str):
        return True  # a JSON number where the exchange sends a decimal string
    if isinstance(value, str):
        try:
            lax = msgspec.json.decode(json.dumps(value), type=int, strict=False)
        except msgspec.ValidationError:
            return False
        try:
            return int(value) != lax
        except ValueError:
            return True  # an OKX time with an exponent or a fraction of zeros
    return False


ODD_VALUES = st.one_of(
    st.sampled_from(["NaN", "nan", "inf", "-inf", "1e999", "", "0", "-0", "-1", "true", "null", "1e3", " 5", "5."]),
    st.sampled_from([None, True, False, 0, -1, 0.0, 1.5, 10**20, "Buy", "buy", "SELL", "snapshot", [], {}]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([(e, f) for e in sorted(PARSERS) for f in golden_frames(e) if f != "pong"]), st.data())
def test_mutated_golden_frames_read_the_same_on_both_paths(sample: tuple[str, str], data: st.DataObject) -> None:
    exchange, frame = sample
    doc = json.loads(frame)
    path = data.draw(st.sampled_from(_paths(doc)[1:] or [()]))
    value = data.draw(ODD_VALUES)
    delete = data.draw(st.booleans())
    if path and delete and isinstance(_at(doc, path[:-1]), dict):
        del _at(doc, path[:-1])[path[-1]]
    elif path:
        assume(not _lenient_only(_at(doc, path), value))
        _at(doc, path[:-1])[path[-1]] = value
    else:
        doc = value
    mutated = json.dumps(doc, ensure_ascii=data.draw(st.booleans()))
    fast, general = pair(exchange)
    # Both learn the symbols from the original first, so the mutated frame meets the fast path.
    parse_both(fast, general, frame)
    parse_both(fast, general, frame)
    parse_both(fast, general, mutated)
