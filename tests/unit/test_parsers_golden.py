"""Golden frames through the exchange parsers (cryptofeed style): real frames captured from the exchanges
(`../shared/fixtures/real-frames.jsonl`) and frames written from the docs (`tests/data/frames/*.jsonl`).

Each exchange has one explicit "side semantics" test: which *position* a liquidation frame says was liquidated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from liqtui.feeds.base import FrameKind, Parser
from liqtui.feeds.binance import BinanceParser
from liqtui.feeds.bybit import BybitParser
from liqtui.feeds.okx import OkxParser
from liqtui.model.events import EventBatch, Notice
from liqtui.model.store import MarketStore
from liqtui.model.types import ContractKind, Exchange, Instrument, Side

REAL_FRAMES = Path("/work/shared/fixtures/real-frames.jsonl")
DOC_FRAMES = Path(__file__).parents[1] / "data" / "frames"

PARSERS = {"binance": BinanceParser, "bybit": BybitParser, "okx": OkxParser}

LONG = int(Side.LONG)
SHORT = int(Side.SHORT)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def real_frames() -> list[dict[str, Any]]:
    if not REAL_FRAMES.exists():
        pytest.skip(f"{REAL_FRAMES} is not on this machine")
    return _lines(REAL_FRAMES)


def real(exchange: str, *fragments: str) -> str:
    """The first real frame of an exchange whose text contains every fragment."""
    found = [r["frame"] for r in real_frames() if r["exchange"] == exchange and all(f in r["frame"] for f in fragments)]
    assert len(found) >= 1, f"no real {exchange} frame contains {fragments}"
    return str(found[0])


def parse(parser: Parser, frame: str) -> tuple[FrameKind, EventBatch]:
    batch = EventBatch()
    return parser.parse(frame, batch), batch


# ------------------------------------------------------------------------------------------- every frame


def test_every_real_frame_parses_and_none_is_bad() -> None:
    parsers = {name: cls() for name, cls in PARSERS.items()}
    kinds: dict[str, FrameKind] = {}
    for record in real_frames():
        parser = parsers[record["exchange"]]
        kind = parser.parse(record["frame"], EventBatch())
        assert kind is not FrameKind.BAD, (record["kind"], parser.reason, record["frame"])
        if kind in (FrameKind.SKIPPED, FrameKind.UNRESOLVED):
            assert parser.reason, f"{kind.name} without a reason: {record['frame']}"
        kinds[record["frame"]] = kind
    assert FrameKind.DATA in kinds.values()


@pytest.mark.parametrize(
    ("exchange", "fragment", "reason_names"),
    [
        ("binance", "BTCBUSD_210129", "BTCBUSD_210129"),
        ("bybit", '"topic":"publicTrade.BTCUSD"', "BTCUSD"),
        ("bybit", '"topic":"tickers.BTCUSD"', "BTCUSD"),
        ("bybit", '"topic":"tickers.BTCUSDU23"', "BTCUSDU23"),
        ("bybit", "liquidation.XRPUSD", "XRPUSD"),
        ("okx", "FIL-USD-220325", "FIL-USD-220325"),
        ("okx", "FIL-USDT-220325", "FIL-USDT-220325"),
        ("okx", "XRP-USD-230929", "XRP-USD-230929"),
    ],
)
def test_real_frames_of_dated_inverse_and_coin_m_contracts_are_skipped_with_a_reason(
    exchange: str, fragment: str, reason_names: str
) -> None:
    for record in real_frames():
        if record["exchange"] != exchange or fragment not in record["frame"]:
            continue
        parser = PARSERS[exchange]()
        kind, batch = parse(parser, record["frame"])
        assert kind is FrameKind.SKIPPED
        assert reason_names in parser.reason
        assert not batch.symbols()


@pytest.mark.parametrize("exchange", sorted(PARSERS))
def test_frames_written_from_the_docs_get_their_kind(exchange: str) -> None:
    for record in _lines(DOC_FRAMES / f"{exchange}.jsonl"):
        parser = PARSERS[exchange]()
        kind, batch = parse(parser, record["frame"])
        assert kind.name == record["kind"], (record["name"], parser.reason)
        if kind in (FrameKind.ACK, FrameKind.PONG, FrameKind.SKIPPED):
            assert not batch, record["name"]
        if kind is FrameKind.NOTICE:
            assert len(batch.notices) == 1, record["name"]


# ----------------------------------------------------------------------------------------------- Binance


def test_binance_side_semantics_sell_order_liquidates_a_long_and_buy_a_short() -> None:
    kind, batch = parse(BinanceParser(), real("binance", "!forceOrder@arr", '"s":"BTCUSDT"', '"S":"SELL"'))
    assert kind is FrameKind.DATA
    assert batch.liquidations["BTCUSDT"] == [(1791565602120, 82651.9, 0.19, LONG)]

    kind, batch = parse(BinanceParser(), real("binance", "btcusdt@forceOrder", '"S":"BUY"'))
    assert kind is FrameKind.DATA
    assert batch.liquidations["BTCUSDT"] == [(1584059031421, 4706.04, 0.014, SHORT)]


def test_binance_liquidation_uses_average_fill_and_filled_quantity() -> None:
    # q 116.5 and z 116.5 agree here; p 3.80300 (the order's limit) must not be used when ap is there.
    kind, batch = parse(BinanceParser(), real("binance", "ILVUSDT"))
    assert kind is FrameKind.DATA
    ((ts_ms, px, qty_base, side),) = batch.liquidations["ILVUSDT"]
    assert (ts_ms, px, qty_base, side) == (1791391082119, 3.85642, 116.5, LONG)
    assert px * qty_base == pytest.approx(449.27293)


@pytest.mark.parametrize(
    ("order", "px", "qty_base"),
    [
        ({"ap": "0", "p": "9910", "z": "0.014", "q": "0.020"}, 9910.0, 0.014),
        ({"p": "9910", "z": "0.014", "q": "0.020"}, 9910.0, 0.014),
        ({"ap": "9905.5", "p": "9910", "q": "0.020"}, 9905.5, 0.020),
        ({"ap": "9905.5", "p": "9910", "z": "0", "q": "0.020"}, 9905.5, 0.020),
    ],
)
def test_binance_liquidation_falls_back_to_order_price_and_quantity(
    order: dict[str, str], px: float, qty_base: float
) -> None:
    frame = json.dumps({"e": "forceOrder", "E": 2, "o": {"s": "BTCUSDT", "S": "BUY", "T": 1568014460893, **order}})
    kind, batch = parse(BinanceParser(), frame)
    assert kind is FrameKind.DATA
    assert batch.liquidations["BTCUSDT"] == [(1568014460893, px, qty_base, SHORT)]


def test_binance_agg_trade_maker_flag_means_the_taker_sold() -> None:
    kind, batch = parse(BinanceParser(), real("binance", "btcusdt@aggTrade", "3478018549"))
    assert kind is FrameKind.DATA
    assert batch.trades["BTCUSDT"] == [(1791391081874, 83434.4, 0.016, False)]

    kind, batch = parse(BinanceParser(), real("binance", "btcusdt@aggTrade", '"m":false'))
    assert kind is FrameKind.DATA
    assert batch.trades["BTCUSDT"] == [(1568693103463, 10223.74, 0.236, True)]


def test_binance_mark_price_uses_event_time_and_reads_funding() -> None:
    kind, batch = parse(BinanceParser(), real("binance", "markPrice@1s", "84551.10762319"))
    assert kind is FrameKind.DATA
    # T is the next funding time, not the observation time.
    assert batch.marks["BTCUSDT"] == [(1790526539000, 84551.10762319)]
    assert batch.funding_rate == {"BTCUSDT": 8.01e-06}


def test_binance_raw_and_combined_frames_read_the_same() -> None:
    payload = json.loads(real("binance", "btcusdt@aggTrade", "3478018549"))["data"]
    _, raw = parse(BinanceParser(), json.dumps(payload))
    _, combined = parse(BinanceParser(), json.dumps({"stream": "btcusdt@aggTrade", "data": payload}))
    assert raw.trades == combined.trades
    assert raw.trades["BTCUSDT"]


def test_binance_mark_price_array_keeps_usd_m_and_skips_coin_m_elements() -> None:
    frame = next(r["frame"] for r in _lines(DOC_FRAMES / "binance.jsonl") if "USD-M and a COIN-M" in r["name"])
    kind, batch = parse(BinanceParser(), frame)
    assert kind is FrameKind.DATA
    assert dict(batch.marks) == {"BTCUSDT": [(1790526539000, 84551.10762319)]}


@pytest.mark.parametrize("where", ["inside", "beside"])
def test_binance_coin_m_symbol_type_is_read_inside_and_beside_the_order(where: str) -> None:
    order: dict[str, Any] = {"s": "BTCUSDT", "S": "SELL", "q": "1", "p": "1", "ap": "1", "z": "1", "T": 5}
    data: dict[str, Any] = {"e": "forceOrder", "E": 6, "o": order}
    (order if where == "inside" else data)["st"] = 2
    parser = BinanceParser()
    kind, batch = parse(parser, json.dumps({"stream": "!forceOrder@arr", "data": data}))
    assert kind is FrameKind.SKIPPED
    assert "st 2" in parser.reason
    assert not batch


def test_binance_control_replies() -> None:
    assert parse(BinanceParser(), '{"result":null,"id":1}')[0] is FrameKind.ACK
    kind, batch = parse(BinanceParser(), '{"code":2,"msg":"Invalid request: unknown variant","id":4}')
    assert kind is FrameKind.NOTICE
    assert batch.notices == [Notice(code="error", text="Invalid request: unknown variant")]


@pytest.mark.parametrize("request_id", ["1", "null"])
def test_binance_wrapped_error_reply_is_an_error_notice(request_id: str) -> None:
    # The live server's shape (and the simulator's): the error object inside "error"; "id" is null when the
    # request was not JSON.
    frame = '{"error":{"code":2,"msg":"Invalid request: unknown variant `SUBSCRIB`"},"id":' + request_id + "}"
    for raw in (frame, frame.encode()):
        kind, batch = parse(BinanceParser(), raw)
        assert kind is FrameKind.NOTICE
        assert batch.notices == [Notice(code="error", text="Invalid request: unknown variant `SUBSCRIB`")]
        assert not batch.trades and not batch.marks


def test_binance_error_key_without_a_message_is_bad() -> None:
    for frame in ('{"error":"Invalid request","id":1}', '{"error":{"code":2},"id":1}', '{"error":null}'):
        parser = BinanceParser()
        kind, batch = parse(parser, frame)
        assert kind is FrameKind.BAD, frame
        assert parser.reason and not batch.notices


def test_binance_instrument_table_overrides_the_naming_rule() -> None:
    parser = BinanceParser()
    frame = real("binance", "btcusdt@aggTrade", "3478018549")
    assert parse(parser, frame)[0] is FrameKind.DATA
    parser.set_instruments([Instrument(Exchange.BINANCE, "BTCUSDT", "BTC", "USDT", ContractKind.OTHER, 0.1)])
    assert parse(parser, frame)[0] is FrameKind.SKIPPED


# ------------------------------------------------------------------------------------------------- Bybit


def test_bybit_side_semantics_buy_is_a_liquidated_long() -> None:
    kind, batch = parse(BybitParser(), real("bybit", "allLiquidation.BTCUSDT"))
    assert kind is FrameKind.DATA
    assert batch.liquidations["BTCUSDT"] == [
        (1791565600992, 82396.9, 0.006, LONG),
        (1791565601058, 82394.3, 0.038, LONG),
    ]
    kind, batch = parse(BybitParser(), real("bybit", "allLiquidation.PIPPINUSDT"))
    assert kind is FrameKind.DATA
    assert batch.liquidations["PIPPINUSDT"] == [(1740480207110, 0.02456, 2846.0, SHORT)]


def test_bybit_deprecated_liquidation_topic_side_is_the_position_too() -> None:
    kind, batch = parse(BybitParser(), real("bybit", "liquidation.GALAUSDT"))
    assert kind is FrameKind.DATA
    assert batch.liquidations["GALAUSDT"] == [(1673251091822, 0.03803, 1637.0, LONG)]


def test_bybit_public_trade_side_is_the_taker() -> None:
    kind, batch = parse(BybitParser(), real("bybit", "publicTrade.LTCUSDT"))
    assert kind is FrameKind.DATA
    assert batch.trades["LTCUSDT"] == [(1680688979983, 94.53, 0.4, True)]

    frame = next(r["frame"] for r in _lines(DOC_FRAMES / "bybit.jsonl") if r["name"] == "publicTrade 2026")
    kind, batch = parse(BybitParser(), frame)
    assert batch.trades["BTCUSDT"] == [(1786310819680, 65114.2, 0.004, False)]


def test_bybit_ticker_snapshot_emits_mark_single_sided_oi_and_funding() -> None:
    frame = next(r["frame"] for r in _lines(DOC_FRAMES / "bybit.jsonl") if "singleOpenInterest" in r["name"])
    kind, batch = parse(BybitParser(), frame)
    assert kind is FrameKind.DATA
    assert batch.marks["BTCUSDT"] == [(1786310817583, 65117.44)]
    # openInterest 59891.732 is both sides; singleOpenInterest is the one side liqtui maps.
    assert batch.open_interest["BTCUSDT"] == [(1786310817583, 29945.866)]
    assert batch.funding_rate == {"BTCUSDT": 0.0001}


def test_bybit_ticker_without_single_field_uses_open_interest_as_it_is() -> None:
    kind, batch = parse(BybitParser(), real("bybit", '"topic":"tickers.BTCUSDT"'))
    assert kind is FrameKind.DATA
    assert batch.open_interest["BTCUSDT"] == [(1680673821770, 52774.528)]
    assert batch.marks["BTCUSDT"] == [(1680673821770, 28552.81)]


def _ticker(message_type: str, ts_ms: int, **fields: str) -> str:
    return json.dumps(
        {"topic": "tickers.BTCUSDT", "type": message_type, "data": {"symbol": "BTCUSDT", **fields}, "ts": ts_ms}
    )


def test_bybit_ticker_deltas_merge_into_the_last_snapshot() -> None:
    parser = BybitParser()
    snapshot = _ticker(
        "snapshot", 1, markPrice="100.0", openInterest="20", singleOpenInterest="10", fundingRate="0.0001"
    )
    assert parse(parser, snapshot)[1].open_interest["BTCUSDT"] == [(1, 10.0)]

    # A delta without markPrice emits no mark; without OI fields, no OI.
    kind, batch = parse(parser, _ticker("delta", 2, bid1Price="99.9"))
    assert kind is FrameKind.DATA
    assert not batch.marks and not batch.open_interest and not batch.funding_rate

    # A delta with singleOpenInterest updates OI; one with markPrice emits a mark.
    _, batch = parse(parser, _ticker("delta", 3, singleOpenInterest="12.5", openInterest="25"))
    assert batch.open_interest["BTCUSDT"] == [(3, 12.5)]
    assert not batch.marks
    _, batch = parse(parser, _ticker("delta", 4, markPrice="101.5"))
    assert batch.marks["BTCUSDT"] == [(4, 101.5)]

    # A delta carrying only openInterest still reports the merged single side.
    _, batch = parse(parser, _ticker("delta", 5, openInterest="30"))
    assert batch.open_interest["BTCUSDT"] == [(5, 12.5)]


def test_bybit_ticker_snapshot_resets_the_merged_state() -> None:
    parser = BybitParser()
    parse(parser, _ticker("snapshot", 1, markPrice="100.0", openInterest="20", singleOpenInterest="10"))
    # After a reconnect the new snapshot has an older layout (no single field): its state replaces the old one.
    _, batch = parse(parser, _ticker("snapshot", 2, markPrice="100.0", openInterest="40"))
    assert batch.open_interest["BTCUSDT"] == [(2, 40.0)]
    _, batch = parse(parser, _ticker("delta", 3, openInterest="42"))
    assert batch.open_interest["BTCUSDT"] == [(3, 42.0)]


def test_bybit_control_replies() -> None:
    assert parse(BybitParser(), '{"success":true,"ret_msg":"","op":"subscribe","conn_id":"c"}')[0] is FrameKind.ACK
    assert parse(BybitParser(), '{"success":true,"ret_msg":"pong","op":"ping","conn_id":"c"}')[0] is FrameKind.PONG
    for ret_msg, symbol in [
        ("error:handler not found,topic:tickers.NOPEUSDT", "NOPEUSDT"),
        ("Invalid symbol :[allLiquidation.NOPEUSDT]", "NOPEUSDT"),
        ("Invalid symbol :[NOTACOINUSDT]", "NOTACOINUSDT"),
        ("Params Error", None),
    ]:
        frame = json.dumps({"success": False, "ret_msg": ret_msg, "op": "subscribe", "conn_id": "c"})
        kind, batch = parse(BybitParser(), frame)
        assert kind is FrameKind.NOTICE
        assert batch.notices == [Notice(code="rejected", text=ret_msg, symbol=symbol)]
    # One refusal naming several topics: a notice per symbol, each once.
    ret_msg = "Invalid symbol :[tickers.AUSDT,allLiquidation.AUSDT,publicTrade.BUSDT]"
    kind, batch = parse(BybitParser(), json.dumps({"success": False, "ret_msg": ret_msg, "op": "subscribe"}))
    assert kind is FrameKind.NOTICE
    assert [n.symbol for n in batch.notices] == ["AUSDT", "BUSDT"]


@pytest.mark.parametrize(
    ("ret_msg", "symbols"),
    [
        ("Invalid symbol :[tickers.A,tickers.B]", ["A", "B"]),
        ("Invalid symbol :[tickers.AUSDT, publicTrade.BUSDT, allLiquidation.CUSDT]", ["AUSDT", "BUSDT", "CUSDT"]),
    ],
)
def test_bybit_refusal_of_several_topics_rejects_each_symbol_in_the_store(ret_msg: str, symbols: list[str]) -> None:
    frame = json.dumps({"success": False, "ret_msg": ret_msg, "conn_id": "c", "req_id": "", "op": "subscribe"})
    kind, batch = parse(BybitParser(), frame)
    assert kind is FrameKind.NOTICE
    assert batch.notices == [Notice(code="rejected", text=ret_msg, symbol=symbol) for symbol in symbols]
    store = MarketStore()
    store.apply(Exchange.BYBIT, batch)
    assert store.status(Exchange.BYBIT).rejected == dict.fromkeys(symbols, ret_msg)


def test_bybit_linear_perpetual_naming_and_instrument_table() -> None:
    parser = BybitParser()
    trade = '{"topic":"publicTrade.%s","ts":1,"data":[{"T":1,"s":"%s","S":"Buy","v":"1","p":"2"}]}'
    for symbol, kind in [
        ("BTCUSDT", "DATA"),
        ("ETHUSDC", "DATA"),
        ("BTCPERP", "DATA"),
        ("BTCUSD", "SKIPPED"),
        ("BTCUSDU23", "SKIPPED"),
        ("BTC-26DEC25", "SKIPPED"),
    ]:
        assert parse(parser, trade % (symbol, symbol))[0].name == kind, symbol
    parser.set_instruments([Instrument(Exchange.BYBIT, "BTCUSDT", "BTC", "USDT", ContractKind.LINEAR_DATED, 0.1)])
    assert parse(parser, trade % ("BTCUSDT", "BTCUSDT"))[0] is FrameKind.SKIPPED


# --------------------------------------------------------------------------------------------------- OKX


def test_okx_side_semantics_long_position_and_net_sell_are_liquidated_longs() -> None:
    kind, batch = parse(OkxParser(), real("okx", "liquidation-orders", "BTC-USDT-SWAP"))
    assert kind is FrameKind.DATA
    assert batch.liquidations["BTC-USDT-SWAP"] == [(1791565600771, 82655.7, pytest.approx(0.0855), LONG)]

    def liquidation(pos_side: str, side: str) -> str:
        detail = {"bkPx": "2210.5", "posSide": pos_side, "side": side, "sz": "12", "ts": "1791565600771"}
        return json.dumps(
            {
                "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
                "data": [{"details": [detail], "instId": "ETH-USDT-SWAP", "instType": "SWAP"}],
            }
        )

    for pos_side, side, expected in [
        ("net", "sell", LONG),
        ("net", "buy", SHORT),
        ("long", "sell", LONG),
        ("short", "buy", SHORT),
        ("", "sell", LONG),
    ]:
        kind, batch = parse(OkxParser(), liquidation(pos_side, side))
        assert kind is FrameKind.DATA
        ((_, px, qty_base, liquidated),) = batch.liquidations["ETH-USDT-SWAP"]
        assert (px, qty_base, liquidated) == (2210.5, pytest.approx(1.2), expected), (pos_side, side)


def test_okx_contracts_are_converted_to_base_units() -> None:
    # 8.55 contracts x ctVal 0.01 BTC = 0.0855 BTC; notional 0.0855 x 82,655.7 = 7,067.06 USDT.
    kind, batch = parse(OkxParser(), real("okx", "liquidation-orders", "BTC-USDT-SWAP"))
    assert kind is FrameKind.DATA
    ((_, px, qty_base, _),) = batch.liquidations["BTC-USDT-SWAP"]
    assert qty_base == pytest.approx(0.0855)
    assert px * qty_base == pytest.approx(7067.06, abs=0.005)

    kind, batch = parse(OkxParser(), real("okx", '"channel":"trades"', "BTC-USDT-SWAP"))
    assert kind is FrameKind.DATA
    assert batch.trades["BTC-USDT-SWAP"] == [(1640131236050, 48938.5, pytest.approx(0.05), True)]


def test_okx_unknown_contract_size_is_unresolved_until_the_table_is_set() -> None:
    parser = OkxParser()
    frame = real("okx", "CELO-USDT-SWAP")
    kind, batch = parse(parser, frame)
    assert kind is FrameKind.UNRESOLVED
    assert "CELO-USDT-SWAP" in parser.reason
    assert not batch.liquidations

    table = [Instrument(Exchange.OKX, "CELO-USDT-SWAP", "CELO", "USDT", ContractKind.LINEAR_PERPETUAL, 1e-5, 10.0)]
    parser.set_instruments(table)
    kind, batch = parse(parser, frame)
    assert kind is FrameKind.DATA
    assert batch.liquidations["CELO-USDT-SWAP"] == [(1791565462608, 0.09583, 199790.0, SHORT)]
    # The table replaced the seed: BTC-USDT-SWAP is not in it, so its size is unknown now.
    assert parse(parser, real("okx", "liquidation-orders", "BTC-USDT-SWAP"))[0] is FrameKind.UNRESOLVED


def test_okx_mark_price_and_open_interest_need_no_contract_size() -> None:
    kind, batch = parse(OkxParser(), real("okx", "mark-price", "WNCG-USDT-SWAP"))
    assert kind is FrameKind.DATA
    assert batch.marks["WNCG-USDT-SWAP"] == [(1640131259180, 2.1729)]
    kind, batch = parse(OkxParser(), real("okx", "open-interest", "WNCG-USDT-SWAP"))
    assert kind is FrameKind.DATA
    assert batch.open_interest["WNCG-USDT-SWAP"] == [(1640131258756, 644195.0)]


def test_okx_open_interest_is_read_in_base_units_from_oi_ccy() -> None:
    frame = next(r["frame"] for r in _lines(DOC_FRAMES / "okx.jsonl") if r["name"] == "open interest with oiUsd")
    _, batch = parse(OkxParser(), frame)
    assert batch.open_interest["BTC-USDT-SWAP"] == [(1791565600900, 22161.1301)]


def test_okx_control_events() -> None:
    assert parse(OkxParser(), "pong")[0] is FrameKind.PONG
    assert OkxParser().parse(b"pong", EventBatch()) is FrameKind.PONG
    kind, batch = parse(OkxParser(), real("okx", '"event":"subscribe"'))
    assert kind is FrameKind.ACK and not batch
    kind, batch = parse(
        OkxParser(), '{"event":"notice","code":"64008","msg":"The connection will soon be closed.","connId":"a"}'
    )
    assert kind is FrameKind.NOTICE
    assert batch.notices == [Notice(code="disconnect_soon", text="The connection will soon be closed.")]
    msg = "Wrong URL or channel:trades,instId:NOPE-USDT-SWAP doesn't exist. Please use the correct URL."
    kind, batch = parse(OkxParser(), json.dumps({"event": "error", "code": "60018", "msg": msg, "connId": "a"}))
    assert kind is FrameKind.NOTICE
    assert batch.notices == [Notice(code="rejected", text=msg, symbol="NOPE-USDT-SWAP")]
    error_with_arg = {"event": "error", "code": "60012", "msg": "Invalid request", "arg": {"instId": "X-USDT-SWAP"}}
    _, batch = parse(OkxParser(), json.dumps(error_with_arg))
    assert batch.notices[0].symbol == "X-USDT-SWAP"
