"""Recordings (design §7.5) and `liqtui replay` (design §7.2) through the real parsers and store.

The expected summary is computed here, independently of liqtui's parsers, with a few lines of arithmetic per
exchange over the real frames of `tests/data/real-frames.jsonl` (a copy of the shared fixture file).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import pytest

from liqtui.cli import main
from liqtui.errors import RecordingError
from liqtui.feeds.okx import SEED_CONTRACT_SIZES
from liqtui.record import Recorder
from liqtui.replay import replay

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "real-frames.jsonl"

WS_URLS = {
    "binance": "wss://fstream.binance.com/market/stream?streams=btcusdt@aggTrade/btcusdt@markPrice@1s",
    "bybit": "wss://stream.bybit.com/v5/public/linear",
    "okx": "wss://ws.okx.com/ws/v5/public",
}

OKX_INSTRUMENTS_URL = "https://www.okx.com/api/v5/public/instruments?instType=SWAP"

OKX_CONTRACT_SIZES = {
    "BTC-USDT-SWAP": 0.01,
    "CELO-USDT-SWAP": 10.0,
    "LA-USDT-SWAP": 1.0,
    "WNCG-USDT-SWAP": 1.0,
}
"""ctVal of the OKX swaps in the fixtures (ctMult 1), as the recording's instrument table gives them."""


def _okx_instruments_body() -> str:
    """An OKX `GET /api/v5/public/instruments?instType=SWAP` answer listing the fixtures' swaps."""
    rows = []
    for inst_id, ct_val in OKX_CONTRACT_SIZES.items():
        base = inst_id.split("-")[0]
        rows.append(
            {
                "instType": "SWAP",
                "instId": inst_id,
                "uly": f"{base}-USDT",
                "instFamily": f"{base}-USDT",
                "baseCcy": "",
                "quoteCcy": "",
                "settleCcy": "USDT",
                "ctVal": str(ct_val),
                "ctMult": "1",
                "ctValCcy": base,
                "ctType": "linear",
                "lotSz": "0.01",
                "minSz": "0.01",
                "tickSz": "0.00001",
                "lever": "50",
                "state": "live",
                "listTime": "1611916800000",
                "expTime": "",
            }
        )
    return json.dumps({"code": "0", "msg": "", "data": rows})


def _fixture_frames() -> list[tuple[str, str]]:
    """(exchange, frame text) of every real frame, in file order."""
    frames = []
    for line in FIXTURES.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            frames.append((item["exchange"], item["frame"]))
    return frames


def _records(*, with_okx_table: bool = True) -> list[dict[str, Any]]:
    """The fixture frames as recording records, one millisecond apart; the OKX table first if asked."""
    records: list[dict[str, Any]] = []
    recv_ns = 1_790_000_000_000_000_000
    if with_okx_table:
        body = _okx_instruments_body()
        records.append({"recv_ns": recv_ns, "exchange": "okx", "url": OKX_INSTRUMENTS_URL, "frame": body})
    for exchange, frame in _fixture_frames():
        recv_ns += 1_000_000
        records.append({"recv_ns": recv_ns, "exchange": exchange, "url": WS_URLS[exchange], "frame": frame})
    return records


def _write(path: Path, records: list[dict[str, Any]], extra_lines: dict[int, str] | None = None) -> Path:
    """Write records as JSON Lines (gzip if named .gz); `extra_lines` inserts raw lines by index."""
    lines = [json.dumps(r) for r in records]
    for index, text in sorted((extra_lines or {}).items(), reverse=True):
        lines.insert(index, text)
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


# ------------------------------------------------------------------------------ the independent arithmetic


def _empty_entry() -> dict[str, Any]:
    side = {"count": 0, "qty": 0.0, "notional": 0.0}
    return {
        "mark_price": None,
        "open_interest": None,
        "trades": {"count": 0, "buy_qty": 0.0, "sell_qty": 0.0},
        "liquidations": {"long": dict(side), "short": dict(side)},
    }


class _Expected:
    """What a replay of the real frames must report, by the exchanges' documented rules (exchanges.md)."""

    def __init__(self, okx_sizes: dict[str, float]) -> None:
        self.okx_sizes = okx_sizes
        self.instruments: dict[str, dict[str, Any]] = {}
        self.skipped = 0
        self.unresolved = 0

    def entry(self, key: str) -> dict[str, Any]:
        return self.instruments.setdefault(key, _empty_entry())

    def trade(self, key: str, qty: float, taker_buy: bool) -> None:
        trades = self.entry(key)["trades"]
        trades["count"] += 1
        trades["buy_qty" if taker_buy else "sell_qty"] += qty

    def liquidation(self, key: str, side: str, px: float, qty: float) -> None:
        totals = self.entry(key)["liquidations"][side]
        totals["count"] += 1
        totals["qty"] += qty
        totals["notional"] += px * qty

    def add(self, exchange: str, frame: str) -> None:
        msg = json.loads(frame)
        getattr(self, exchange)(msg)

    def binance(self, msg: dict[str, Any]) -> None:
        data = msg.get("data", msg)
        order = data.get("o", data)
        symbol = order["s"]
        # USD-M perpetuals only: dated and COIN-M symbols carry a "_", COIN-M is also marked st 2.
        if "_" in symbol or order.get("st", data.get("st")) == 2:
            self.skipped += 1
            return
        key = f"binance:{symbol}"
        if data["e"] == "aggTrade":
            self.trade(key, float(data["q"]), taker_buy=not data["m"])  # m: the buyer was the maker
        elif data["e"] == "markPriceUpdate":
            self.entry(key)["mark_price"] = float(data["p"])
        elif data["e"] == "forceOrder":
            # S is the liquidation ORDER's side: SELL closes a long. Notional z × ap.
            side = "long" if order["S"] == "SELL" else "short"
            self.liquidation(key, side, float(order["ap"]), float(order["z"]))

    def bybit(self, msg: dict[str, Any]) -> None:
        channel, symbol = msg["topic"].split(".", 1)
        if not symbol.endswith("USDT"):  # inverse BTCUSD, dated BTCUSDU23
            self.skipped += 1
            return
        key = f"bybit:{symbol}"
        data = msg["data"]
        if channel == "publicTrade":
            for row in data:
                self.trade(key, float(row["v"]), taker_buy=row["S"] == "Buy")  # S: the taker's side
        elif channel == "tickers":
            if "markPrice" in data:
                self.entry(key)["mark_price"] = float(data["markPrice"])
            oi = data.get("singleOpenInterest") or data.get("openInterest")
            if oi is not None:
                self.entry(key)["open_interest"] = float(oi)
        elif channel == "allLiquidation":
            for row in data:
                # S is the POSITION's side: Buy means a long was liquidated. Notional v × p.
                self.liquidation(key, "long" if row["S"] == "Buy" else "short", float(row["p"]), float(row["v"]))
        elif channel == "liquidation":
            side = "long" if data["side"] == "Buy" else "short"
            self.liquidation(key, side, float(data["price"]), float(data["size"]))

    def okx(self, msg: dict[str, Any]) -> None:
        if "event" in msg:
            return  # a subscription ack: neither data nor skipped
        channel = msg["arg"]["channel"]
        kept = skipped = unresolved = False
        for row in msg["data"]:
            inst_id = row["instId"]
            key = f"okx:{inst_id}"
            if not inst_id.endswith("-USDT-SWAP"):  # futures, inverse swaps
                skipped = True
            elif channel == "mark-price":
                self.entry(key)["mark_price"] = float(row["markPx"])
            elif channel == "open-interest":
                self.entry(key)["open_interest"] = float(row["oiCcy"])  # coin, = oi × ctVal
            elif inst_id not in self.okx_sizes:
                unresolved = True  # contracts cannot become base units without the contract's size
            elif channel == "trades":
                self.trade(key, float(row["sz"]) * self.okx_sizes[inst_id], taker_buy=row["side"] == "buy")
            elif channel == "liquidation-orders":
                for detail in row["details"]:
                    # posSide long/short, or with net positions the order side: sell closes a long.
                    pos_side = detail["posSide"]
                    if pos_side not in ("long", "short"):
                        pos_side = "long" if detail["side"] == "sell" else "short"
                    qty = float(detail["sz"]) * self.okx_sizes[inst_id]
                    self.liquidation(key, pos_side, float(detail["bkPx"]), qty)
            kept = kept or not skipped
        if unresolved:
            self.unresolved += 1
        elif skipped and not kept:
            self.skipped += 1


def _expected(records: list[dict[str, Any]], *, okx_sizes: dict[str, float]) -> dict[str, Any]:
    expected = _Expected(okx_sizes)
    for record in records:
        if record["url"].startswith("wss://"):
            expected.add(record["exchange"], record["frame"])
    return {
        "frames": len(records),
        "bad_frames": 0,
        "skipped_frames": expected.skipped,
        "unresolved_frames": expected.unresolved,
        "instruments": expected.instruments,
    }


def _assert_same(actual: Any, expected: Any, where: str = "summary") -> None:
    """Equal structure and keys; floats equal to 1e-9 relative (sums may be added in another order)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        assert set(actual) == set(expected), f"{where}: keys {sorted(actual)} != {sorted(expected)}"
        for key in expected:
            _assert_same(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, float):
        assert isinstance(actual, (int, float)) and not isinstance(actual, bool), where
        assert math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12), f"{where}: {actual} != {expected}"
    else:
        assert actual == expected and type(actual) is type(expected), f"{where}: {actual!r} != {expected!r}"


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _summary(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, out, err = _run(["replay", str(path), "--summary"], capsys)
    assert (code, err) == (0, "")
    parsed: dict[str, Any] = json.loads(out)
    return parsed


# ---------------------------------------------------------------------------------------------- the tests


def test_summary_of_real_frames_equals_independent_arithmetic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = _records()
    expected = _expected(records, okx_sizes=OKX_CONTRACT_SIZES)
    # The fixtures do carry liquidations of both sides on all three exchanges, and skipped frames.
    assert expected["skipped_frames"] > 0
    assert {"binance:BTCUSDT", "bybit:BTCUSDT", "okx:BTC-USDT-SWAP"} <= set(expected["instruments"])
    summary = _summary(_write(tmp_path / "rec.jsonl", records), capsys)
    _assert_same(summary, expected)


def test_summary_shape_is_the_documented_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = _summary(_write(tmp_path / "rec.jsonl", _records()), capsys)
    assert {"frames", "bad_frames", "skipped_frames", "instruments"} <= set(summary)
    for key, entry in summary["instruments"].items():
        assert key.split(":", 1)[0] in ("binance", "bybit", "okx")
        assert set(entry) == {"mark_price", "open_interest", "trades", "liquidations"}
        assert set(entry["trades"]) == {"count", "buy_qty", "sell_qty"}
        assert set(entry["liquidations"]) == {"long", "short"}
        for side in entry["liquidations"].values():
            assert set(side) == {"count", "qty", "notional"}


def test_okx_contracts_without_an_instrument_table_are_unresolved_not_guessed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = _records(with_okx_table=False)
    # Without the table the parser knows only the sizes OKX publishes for its largest swaps.
    expected = _expected(records, okx_sizes=SEED_CONTRACT_SIZES)
    assert expected["unresolved_frames"] > 0
    summary = _summary(_write(tmp_path / "rec.jsonl", records), capsys)
    _assert_same(summary, expected)
    assert "okx:CELO-USDT-SWAP" not in summary["instruments"]
    assert "okx:BTC-USDT-SWAP" in summary["instruments"]
    assert "okx:WNCG-USDT-SWAP" in summary["instruments"]  # a mark price needs no contract size


def test_gzip_recordings_replay_the_same_whatever_their_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = _records()
    plain = _summary(_write(tmp_path / "rec.jsonl", records), capsys)
    gzipped = _summary(_write(tmp_path / "rec.jsonl.gz", records), capsys)
    assert gzip.decompress((tmp_path / "rec.jsonl.gz").read_bytes())  # it really is gzip
    # A gzip file without the .gz name is told by its magic bytes.
    (tmp_path / "rec-gz-noext").write_bytes((tmp_path / "rec.jsonl.gz").read_bytes())
    renamed = _summary(tmp_path / "rec-gz-noext", capsys)
    assert plain == gzipped == renamed
    _assert_same(plain, _expected(records, okx_sizes=OKX_CONTRACT_SIZES))


@pytest.mark.parametrize("name", ["session.jsonl", "session.jsonl.gz"])
def test_recorder_output_replays_to_the_same_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    records = _records()
    path = tmp_path / name
    with Recorder(path, flush_lines=7) as recorder:
        for record in records:
            frame = record["frame"]
            # The live feed may hand over bytes: they are recorded as the same text.
            recorder.write(
                record["exchange"],
                record["url"],
                frame.encode() if len(frame) % 2 else frame,
                recv_ns=record["recv_ns"],
            )
    assert recorder.closed and recorder.frames == len(records)
    raw = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
    assert [json.loads(line) for line in raw.decode().splitlines()] == records
    _assert_same(_summary(path, capsys), _expected(records, okx_sizes=OKX_CONTRACT_SIZES))


def test_recorder_writes_in_batches_not_per_frame(tmp_path: Path) -> None:
    path = tmp_path / "batched.jsonl"
    recorder = Recorder(path, flush_lines=5)
    for i in range(4):
        recorder.write("bybit", WS_URLS["bybit"], f'{{"n":{i}}}', recv_ns=i)
    assert path.read_bytes() == b""  # still buffered
    recorder.write("bybit", WS_URLS["bybit"], '{"n":4}', recv_ns=4)
    assert len(path.read_bytes().splitlines()) == 5  # the fifth line flushed all five at once
    recorder.write("bybit", WS_URLS["bybit"], '{"n":5}', recv_ns=5)
    recorder.flush()
    assert len(path.read_bytes().splitlines()) == 6
    recorder.close()
    recorder.close()
    with pytest.raises(ValueError, match="closed"):
        recorder.write("bybit", WS_URLS["bybit"], "{}")


def test_garbage_lines_inside_a_recording_are_bad_frames_not_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = _records()
    garbage = {
        3: "this is not json",
        8: '{"recv_ns": "soon", "exchange": "bybit", "url": "wss://x", "frame": "{}"}',
        9: '{"recv_ns": 1, "exchange": "kraken", "url": "wss://x", "frame": "{}"}',
        12: "[1, 2, 3]",
        15: '{"recv_ns": 1, "exchange": ["okx"], "url": "wss://x", "frame": "{}"}',
    }
    path = _write(tmp_path / "rec.jsonl", records, garbage)
    # One good record whose frame is garbage: the parser's BAD, counted the same way.
    with path.open("a", encoding="utf-8") as file:
        bad = {
            "recv_ns": 2_000_000_000_000_000_000,
            "exchange": "bybit",
            "url": WS_URLS["bybit"],
            "frame": "{",
        }
        file.write(json.dumps(bad) + "\n\n")
    expected = _expected(records, okx_sizes=OKX_CONTRACT_SIZES)
    expected["frames"] += len(garbage) + 1
    expected["bad_frames"] = len(garbage) + 1
    _assert_same(_summary(path, capsys), expected)


def _assert_refused(path: Path, capsys: pytest.CaptureFixture[str], *words: str) -> None:
    code, out, err = _run(["replay", str(path), "--summary"], capsys)
    assert code == 2
    assert out == ""
    message = err.strip()
    assert message.startswith("liqtui: ") and "\n" not in message and "Traceback" not in message
    assert message.endswith(".")
    for word in words:
        assert word in message


def test_a_missing_file_is_refused_in_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _assert_refused(tmp_path / "nope.jsonl", capsys, "does not exist", "nope.jsonl")


def test_a_directory_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _assert_refused(tmp_path, capsys, "directory")


def test_a_binary_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64)
    _assert_refused(path, capsys, "binary")


def test_text_that_is_not_json_lines_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("liqtui notes\n\nfirst line\nsecond line\n" * 30, encoding="utf-8")
    _assert_refused(path, capsys, "not a liqtui recording")


@pytest.mark.parametrize(
    "lines",
    [
        ['{"exchange": "okx", "kind": "trades", "frame": "{}"}'] * 25,  # the fixture format, no recv_ns/url
        ["[1, 2, 3]", '"a string"', "42", "null"] * 6,
        ['{"recv_ns": 1.5, "exchange": "okx", "url": "wss://x", "frame": "{}"}'] * 3,
    ],
)
def test_json_that_is_not_records_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[str]
) -> None:
    path = tmp_path / "other.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _assert_refused(path, capsys, "not a liqtui recording")


def test_a_corrupt_gzip_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.jsonl.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage that is not deflate data" * 4)
    _assert_refused(path, capsys, "gzip", "broken.jsonl.gz")


def test_an_unreadable_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "secret.jsonl", _records())
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who can read any file (root)")
        _assert_refused(path, capsys, "Cannot read")
    finally:
        path.chmod(0o600)


def test_a_path_through_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "plain-file").write_text("x", encoding="utf-8")
    _assert_refused(tmp_path / "plain-file" / "rec.jsonl", capsys, "Cannot read", "rec.jsonl")


def test_an_empty_recording_is_a_session_without_frames(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.jsonl.gz"
    Recorder(path).close()
    assert _summary(path, capsys) == {
        "frames": 0,
        "bad_frames": 0,
        "skipped_frames": 0,
        "unresolved_frames": 0,
        "instruments": {},
    }


def test_a_cut_off_gzip_recording_replays_what_it_has(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = _records()
    path = tmp_path / "killed.jsonl.gz"
    recorder = Recorder(path, flush_lines=1000)
    for record in records:
        recorder.write(record["exchange"], record["url"], record["frame"], recv_ns=record["recv_ns"])
    recorder.flush()  # on disk, but the gzip end marker is never written: the process "was killed"
    code, out, err = _run(["replay", str(path), "--summary"], capsys)
    recorder.close()
    assert code == 0
    assert "ends abruptly" in err
    _assert_same(json.loads(out), _expected(records, okx_sizes=OKX_CONTRACT_SIZES))


def test_without_summary_a_readable_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["replay", str(_write(tmp_path / "rec.jsonl", _records()))], capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith(f"{len(_records())} frames: 0 bad")
    row = next(line for line in lines if line.startswith("binance:BTCUSDT "))
    assert "84,551.1076" in row  # the last Binance BTCUSDT mark price in the fixtures


def test_speed_keeps_the_recorded_pacing(tmp_path: Path) -> None:
    records = _records()[:6]
    for i, record in enumerate(records):
        record["recv_ns"] = 1_000_000_000 + i * 200_000_000  # 200 ms apart: 1 s in all
    path = _write(tmp_path / "paced.jsonl", records)
    waits: list[float] = []
    result = replay(path, speed=4.0, sleep=waits.append)
    assert result.frames == 6
    # At 4x, record i is due 50 ms × i after the start; the fake sleep does not pass time, so each wait is the
    # whole offset (less the few microseconds the replay itself took).
    assert len(waits) == 5
    for i, wait in enumerate(waits, start=1):
        assert 0.05 * i - 0.02 < wait <= 0.05 * i

    started = time.monotonic()
    replay(path, speed=8.0)
    assert time.monotonic() - started >= 0.12  # 1 s recorded at 8x is 125 ms


def test_replay_refuses_through_the_api_too(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="does not exist"):
        replay(tmp_path / "missing.jsonl")
