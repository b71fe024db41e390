"""REST bodies through the exchange parsers: `parse_rest` dispatch and the module-level history functions.

The bodies (`tests/data/frames/rest/*.json`) are written from the exchanges' documented response examples.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from liqtui.errors import FeedError
from liqtui.feeds import binance, bybit, okx
from liqtui.feeds.base import FrameKind
from liqtui.feeds.binance import BinanceParser
from liqtui.feeds.bybit import BybitParser
from liqtui.feeds.okx import OkxParser
from liqtui.model.events import EventBatch
from liqtui.model.margin import MarginTier
from liqtui.model.types import KLINE_DTYPE, OPEN_INTEREST_DTYPE, ContractKind, Exchange, Side

REST = Path(__file__).parents[1] / "data" / "frames" / "rest"


def sample(exchange: str, name: str) -> tuple[str, bytes]:
    """(url, body) of one stored REST sample."""
    entry: dict[str, Any] = json.loads((REST / f"{exchange}.json").read_text())[name]
    return entry["url"], json.dumps(entry["body"]).encode()


def body(exchange: str, name: str) -> bytes:
    return sample(exchange, name)[1]


# ----------------------------------------------------------------------------------------------- Binance


def test_binance_instruments_classify_contract_kinds() -> None:
    instruments = {i.symbol: i for i in binance.parse_instruments(body("binance", "exchangeInfo"))}
    assert {s: i.kind for s, i in instruments.items()} == {
        "BTCUSDT": ContractKind.LINEAR_PERPETUAL,
        "ETHUSDT_261225": ContractKind.LINEAR_DATED,
        "XAUUSDT": ContractKind.LINEAR_PERPETUAL,
        "BTCUSD_PERP": ContractKind.INVERSE,
    }
    btc = instruments["BTCUSDT"]
    assert (btc.exchange, btc.base, btc.quote, btc.tick_size, btc.contract_size_base) == (
        Exchange.BINANCE,
        "BTC",
        "USDT",
        0.1,
        1.0,
    )


def test_binance_parse_rest_applies_the_instrument_table() -> None:
    url, text = sample("binance", "exchangeInfo")
    doc = json.loads(text)
    # A table that (absurdly) lists BTCUSDT as a quarterly: from then on its frames are skipped.
    doc["symbols"][0]["contractType"] = "CURRENT_QUARTER"
    parser = BinanceParser()
    _, oi = sample("binance", "openInterest")
    assert parser.parse_rest("https://fapi.binance.com/fapi/v1/openInterest", oi, EventBatch()) is FrameKind.DATA
    assert parser.parse_rest(url, json.dumps(doc), EventBatch()) is FrameKind.DATA
    assert parser.parse_rest("https://fapi.binance.com/fapi/v1/openInterest", oi, EventBatch()) is FrameKind.SKIPPED
    assert "BTCUSDT" in parser.reason


def test_binance_current_open_interest_and_premium_index() -> None:
    parser = BinanceParser()
    batch = EventBatch()
    assert parser.parse_rest(*sample("binance", "openInterest"), batch) is FrameKind.DATA
    assert batch.open_interest["BTCUSDT"] == [(1589437530011, 10659.509)]

    batch = EventBatch()
    assert parser.parse_rest(*sample("binance", "premiumIndex"), batch) is FrameKind.DATA
    assert batch.marks["BTCUSDT"] == [(1597370495002, 11793.63104562)]
    assert batch.funding_rate == {"BTCUSDT": 0.00038246}

    batch = EventBatch()
    assert parser.parse_rest(*sample("binance", "premiumIndexAll"), batch) is FrameKind.DATA
    assert set(batch.marks) == {"BTCUSDT"}


def test_binance_open_interest_history() -> None:
    history = binance.parse_open_interest_history(body("binance", "openInterestHist"))
    assert history.dtype == OPEN_INTEREST_DTYPE
    assert history.tolist() == [
        (1583127900000, 20403.637),
        (1583128200000, 20401.367),
        (1583128500000, 20398.123),
    ]
    batch = EventBatch()
    assert BinanceParser().parse_rest(*sample("binance", "openInterestHist"), batch) is FrameKind.DATA
    assert batch.open_interest["BTCUSDT"] == history.tolist()


def test_binance_klines_keep_taker_buy_volume() -> None:
    candles = binance.parse_klines(body("binance", "klines"))
    assert candles.dtype == KLINE_DTYPE
    assert candles["open_ms"].tolist() == [1499040000000, 1499040300000]
    assert candles[0].tolist() == (1499040000000, 0.0163479, 0.8, 0.015758, 0.015771, 148976.11427815, 1756.87402397)
    assert candles["taker_buy_base"][1] == 400.0
    assert BinanceParser().parse_rest(*sample("binance", "klines"), EventBatch()) is FrameKind.DATA


def test_binance_leverage_brackets_sorted_with_maintenance_amounts() -> None:
    tiers = binance.parse_margin_tiers(body("binance", "leverageBracket"))
    assert tiers == {
        "BTCUSDT": (
            MarginTier(floor=0.0, cap=50000.0, mmr=0.004, max_leverage=125.0, maintenance_amount=0.0),
            MarginTier(floor=50000.0, cap=600000.0, mmr=0.005, max_leverage=100.0, maintenance_amount=50.0),
            MarginTier(floor=600000.0, cap=3000000.0, mmr=0.0065, max_leverage=75.0, maintenance_amount=950.0),
        )
    }


def test_binance_error_body_is_a_notice_and_a_feed_error() -> None:
    url, text = sample("binance", "error")
    batch = EventBatch()
    assert BinanceParser().parse_rest(url, text, batch) is FrameKind.NOTICE
    (notice,) = batch.notices
    assert (notice.code, notice.symbol) == ("error", "NOPEUSDT")
    assert "Invalid symbol." in notice.text and "-1121" in notice.text
    with pytest.raises(FeedError, match="-1121"):
        binance.parse_open_interest_history(text)


# ------------------------------------------------------------------------------------------------- Bybit


def test_bybit_instruments_and_pagination() -> None:
    instruments = {i.symbol: i for i in bybit.parse_instruments(body("bybit", "instruments"))}
    assert {s: i.kind for s, i in instruments.items()} == {
        "BTCUSDT": ContractKind.LINEAR_PERPETUAL,
        "BTCPERP": ContractKind.LINEAR_PERPETUAL,
        "BTC-26DEC25": ContractKind.LINEAR_DATED,
    }
    assert (instruments["BTCUSDT"].tick_size, instruments["BTCUSDT"].max_leverage) == (0.1, 100.0)

    parser = BybitParser()
    assert parser.parse_rest(*sample("bybit", "instruments"), EventBatch()) is FrameKind.DATA
    assert parser.parse_rest(*sample("bybit", "instrumentsPage2"), EventBatch()) is FrameKind.DATA
    trade = '{"topic":"publicTrade.%s","ts":1,"data":[{"T":1,"s":"%s","S":"Buy","v":"1","p":"2"}]}'
    # Page 2 added ETHUSDT without dropping page 1's BTCUSDT.
    assert parser.parse(trade % ("BTCUSDT", "BTCUSDT"), EventBatch()) is FrameKind.DATA
    assert parser.parse(trade % ("ETHUSDT", "ETHUSDT"), EventBatch()) is FrameKind.DATA


def test_bybit_tickers_give_mark_single_sided_oi_and_funding() -> None:
    batch = EventBatch()
    assert BybitParser().parse_rest(*sample("bybit", "tickers"), batch) is FrameKind.DATA
    assert dict(batch.marks) == {"BTCUSDT": [(1786310817600, 65117.44)], "ETHUSDT": [(1786310817600, 3210.22)]}
    assert dict(batch.open_interest) == {
        "BTCUSDT": [(1786310817600, 29945.866)],
        "ETHUSDT": [(1786310817600, 412345.67)],
    }
    assert batch.funding_rate == {"BTCUSDT": 0.0001, "ETHUSDT": -0.00005}


def test_bybit_open_interest_history_is_single_sided_and_oldest_first() -> None:
    history = bybit.parse_open_interest_history(body("bybit", "openInterest"))
    assert history.tolist() == [(1789458300000, 26300.0), (1789458600000, 26332.321)]
    # Rows without singleOpenInterest are the documented sum of both sides: halved.
    both = bybit.parse_open_interest_history(body("bybit", "openInterestBothSides"))
    assert both.tolist() == [(1669571100000, 230567146.0), (1669571400000, 230567192.0)]

    batch = EventBatch()
    assert BybitParser().parse_rest(*sample("bybit", "openInterest"), batch) is FrameKind.DATA
    assert batch.open_interest["BTCUSDT"] == history.tolist()


def test_bybit_klines_oldest_first_without_taker_split() -> None:
    candles = bybit.parse_klines(body("bybit", "kline"))
    assert candles["open_ms"].tolist() == [1670601600000, 1670605200000, 1670608800000]
    assert candles["close"].tolist() == [17071.5, 17071.0, 17055.5]
    assert candles["volume_base"].tolist() == [6356.0, 4177.0, 268611.0]
    assert np.isnan(candles["taker_buy_base"]).all()


def test_bybit_risk_limits_floor_is_the_cap_below() -> None:
    tiers = bybit.parse_margin_tiers(body("bybit", "riskLimit"))
    assert tiers == {
        "BTCUSDT": (
            MarginTier(floor=0.0, cap=2000000.0, mmr=0.005, max_leverage=100.0, maintenance_amount=0.0),
            MarginTier(floor=2000000.0, cap=4000000.0, mmr=0.01, max_leverage=50.0, maintenance_amount=20000.0),
        ),
        "ETHUSDT": (MarginTier(floor=0.0, cap=1000000.0, mmr=0.005, max_leverage=100.0),),
    }
    # The docs' inverse example writes rates in percent (initial 1 at 100x): read as 0.5 % = 0.005.
    (percent,) = bybit.parse_margin_tiers(body("bybit", "riskLimitPercent"))["BTCUSD"]
    assert percent.mmr == pytest.approx(0.005)


def test_bybit_error_body() -> None:
    url, text = sample("bybit", "error")
    batch = EventBatch()
    assert BybitParser().parse_rest(url, text, batch) is FrameKind.NOTICE
    assert batch.notices[0].symbol == "NOPEUSDT"
    assert "params error" in batch.notices[0].text
    with pytest.raises(FeedError, match="10001"):
        bybit.parse_klines(text)


# --------------------------------------------------------------------------------------------------- OKX


def test_okx_instruments_contract_size_is_ct_val_times_ct_mult() -> None:
    instruments = {i.symbol: i for i in okx.parse_instruments(body("okx", "instruments"))}
    assert {s: (i.kind, i.contract_size_base) for s, i in instruments.items()} == {
        "BTC-USDT-SWAP": (ContractKind.LINEAR_PERPETUAL, 0.01),
        "ETH-USDT-SWAP": (ContractKind.LINEAR_PERPETUAL, 0.1),
        "CELO-USDT-SWAP": (ContractKind.LINEAR_PERPETUAL, 5.0),
        "BTC-USD-SWAP": (ContractKind.INVERSE, 1.0),
    }
    assert (instruments["BTC-USDT-SWAP"].base, instruments["BTC-USDT-SWAP"].quote) == ("BTC", "USDT")


def test_okx_parse_rest_instruments_replace_the_seed_sizes() -> None:
    parser = OkxParser()
    assert parser.parse_rest(*sample("okx", "instruments"), EventBatch()) is FrameKind.DATA
    assert parser.contract_sizes == {"BTC-USDT-SWAP": 0.01, "ETH-USDT-SWAP": 0.1, "CELO-USDT-SWAP": 5.0}
    trade = (
        '{"arg":{"channel":"trades","instId":"CELO-USDT-SWAP"},"data":[{"px":"0.1","sz":"3","side":"sell","ts":"7"}]}'
    )
    batch = EventBatch()
    assert parser.parse(trade, batch) is FrameKind.DATA
    assert batch.trades["CELO-USDT-SWAP"] == [(7, 0.1, 15.0, False)]


def test_okx_current_open_interest_and_mark() -> None:
    batch = EventBatch()
    assert OkxParser().parse_rest(*sample("okx", "openInterest"), batch) is FrameKind.DATA
    assert dict(batch.open_interest) == {"BTC-USDT-SWAP": [(1597026383085, 50.0)]}
    batch = EventBatch()
    assert OkxParser().parse_rest(*sample("okx", "markPrice"), batch) is FrameKind.DATA
    assert dict(batch.marks) == {"BTC-USDT-SWAP": [(1597026383085, 82650.3)]}


def test_okx_open_interest_history_reads_oi_ccy_oldest_first() -> None:
    history = okx.parse_open_interest_history(body("okx", "openInterestHistory"))
    assert history.tolist() == [(1701417000000, 7310.0), (1701417300000, 7313.0), (1701417600000, 7313.7757500501)]
    batch = EventBatch()
    assert OkxParser().parse_rest(*sample("okx", "openInterestHistory"), batch) is FrameKind.DATA
    assert batch.open_interest["BTC-USDT-SWAP"] == history.tolist()


def test_okx_candles_oldest_first_volume_in_base_currency() -> None:
    candles = okx.parse_klines(body("okx", "candles"))
    assert candles["open_ms"].tolist() == [1597026083085, 1597026383085]
    assert candles["volume_base"].tolist() == [249124.03, 84224.1]
    assert all(math.isnan(v) for v in candles["taker_buy_base"].tolist())


def test_okx_position_tiers_in_contracts_keyed_by_swap() -> None:
    assert okx.parse_margin_tiers(body("okx", "positionTiers")) == {
        "BTC-USDT-SWAP": (
            MarginTier(floor=0.0, cap=1000.0, mmr=0.004, max_leverage=100.0),
            MarginTier(floor=1000.0, cap=4000.0, mmr=0.008, max_leverage=50.0),
        )
    }


def _liquidation_orders(*details: dict[str, str], inst_id: str = "BTC-USDT-SWAP") -> bytes:
    entry = {"details": list(details), "instFamily": "BTC-USDT", "instId": inst_id, "instType": "SWAP"}
    return json.dumps({"code": "0", "msg": "", "data": [entry]}).encode()


def _detail(ts: int, pos_side: str, side: str, sz: str = "8.55", px: str = "82655.7") -> dict[str, str]:
    return {"bkLoss": "0", "bkPx": px, "ccy": "", "posSide": pos_side, "side": side, "sz": sz, "ts": str(ts)}


def test_okx_liquidation_history_is_oldest_first_in_base_units_with_the_liquidated_side() -> None:
    text = _liquidation_orders(
        _detail(1791565600771, "long", "sell"),  # newest first, as OKX sends them
        _detail(1791565500000, "net", "buy", sz="2", px="83000"),  # one-way mode: a buy closes a short
        _detail(1791565400000, "short", "buy", sz="1"),
    )
    rows = okx.parse_liquidation_history(text, "BTC-USDT-SWAP", 0.01)
    assert rows["ts_ms"].tolist() == [1791565400000, 1791565500000, 1791565600771]
    assert rows["side"].tolist() == [Side.SHORT.value, Side.SHORT.value, Side.LONG.value]
    assert rows["qty_base"].tolist() == pytest.approx([0.01, 0.02, 0.0855])
    assert rows["px"].tolist() == [82655.7, 83000.0, 82655.7]
    assert okx.parse_liquidation_history(text, "ETH-USDT-SWAP", 0.01).size == 0  # another instrument's rows


@pytest.mark.parametrize(
    "text",
    [
        _liquidation_orders(_detail(1791565600771, "net", "hold")),
        _liquidation_orders(_detail(1791565600771, "long", "sell", sz="-1")),
        _liquidation_orders(_detail(1791565600771, "long", "sell", px="NaN")),
        b'{"code":"50015","msg":"Either parameter uly or instFamily is required.","data":[]}',
        b'{"code":"0","data":[{"instId":"BTC-USDT-SWAP"}]}',
    ],
)
def test_okx_liquidation_history_refuses_an_error_or_a_malformed_row(text: bytes) -> None:
    with pytest.raises(FeedError, match=r"(?i)okx"):
        okx.parse_liquidation_history(text, "BTC-USDT-SWAP", 0.01)


def test_okx_error_body() -> None:
    url, text = sample("okx", "error")
    batch = EventBatch()
    assert OkxParser().parse_rest(url, text, batch) is FrameKind.NOTICE
    assert batch.notices[0].symbol == "NOPE-USDT-SWAP"
    assert "Instrument ID does not exist" in batch.notices[0].text
    with pytest.raises(FeedError, match="51001"):
        okx.parse_instruments(text)


# ------------------------------------------------------------------------------------------------ common


@pytest.mark.parametrize("parser_type", [BinanceParser, BybitParser, OkxParser])
def test_unknown_paths_are_skipped_and_malformed_bodies_are_bad(parser_type: type[BinanceParser]) -> None:
    parser = parser_type()
    assert parser.parse_rest("http://127.0.0.1:1/x/api/v9/nothing", b"{}", EventBatch()) is FrameKind.SKIPPED
    assert "nothing" in parser.reason
    known = {
        BinanceParser: "http://127.0.0.1:1/binance/fapi/v1/klines",
        BybitParser: "http://127.0.0.1:1/bybit/v5/market/kline",
        OkxParser: "http://127.0.0.1:1/okx/api/v5/market/candles",
    }[parser_type]
    for bad in (b"<html>502 Bad Gateway</html>", b"[[1,2]]", b'{"retCode":0,"result":{"list":[["x"]]}}', b""):
        assert parser.parse_rest(known, bad, EventBatch()) is FrameKind.BAD, bad
        assert parser.reason


@pytest.mark.parametrize(
    "function",
    [
        binance.parse_klines,
        bybit.parse_klines,
        okx.parse_klines,
        binance.parse_open_interest_history,
        bybit.parse_margin_tiers,
        okx.parse_margin_tiers,
        binance.parse_instruments,
        okx.parse_instruments,
    ],
)
def test_module_functions_raise_feed_error_on_garbage(function: Any) -> None:
    for garbage in (b"not json", b"null", b'{"code":"0","data":[["1"]]}', b'[{"x":1}]'):
        with pytest.raises(FeedError):
            function(garbage)
