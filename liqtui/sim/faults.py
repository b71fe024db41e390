"""Faults the simulator injects on demand (design §7.4 `POST /sim/faults`): what can be asked, and what is in force.

`parse_fault_request` turns a request body into a `FaultRequest` or says in one sentence what is wrong with it.
`FaultState` holds the faults that last (stalls, REST outages, rejected symbols); the hubs and the REST middleware
consult it on every frame and request. One-shot faults (drop, malformed, ...) are carried out by the server.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any

from liqtui.model.types import Exchange


class FaultKind(enum.StrEnum):
    """The faults `POST /sim/faults` knows."""

    DROP = "drop"
    """Drop open websockets without a close frame."""
    STALL = "stall"
    """Keep websockets open but send nothing for `seconds`."""
    MALFORMED = "malformed"
    """Send a few broken frames on every websocket, then carry on."""
    OVERSIZED = "oversized"
    """Send one frame larger than 1 MiB on every websocket."""
    REJECT = "reject"
    """Refuse `symbol` from now on, on websockets and REST."""
    CLOSE_24H = "close_24h"
    """Binance's daily close of every connection."""
    NOTICE_64008 = "notice_64008"
    """OKX's service-upgrade notice, then the close `seconds` later."""
    REST_OUTAGE = "rest_outage"
    """REST answers 503 for `seconds`."""
    RESTART = "restart"
    """The whole server goes away and comes back on the same port after `seconds`."""


DEFAULT_SECONDS: dict[FaultKind, float] = {
    FaultKind.STALL: 10.0,
    FaultKind.REST_OUTAGE: 10.0,
    FaultKind.RESTART: 2.0,
}
"""`seconds` when the request does not say (the 64008 close delay defaults to the wire settings' 60 s)."""

ONLY_EXCHANGE: dict[FaultKind, Exchange] = {
    FaultKind.CLOSE_24H: Exchange.BINANCE,
    FaultKind.NOTICE_64008: Exchange.OKX,
}
"""Faults that exist on one exchange only."""

MAX_SECONDS = 3600.0


class FaultRequestError(ValueError):
    """A `POST /sim/faults` body that asks for something unknown or malformed; the message is one sentence."""


@dataclass(frozen=True, slots=True)
class FaultRequest:
    """One fault to inject, validated."""

    kind: FaultKind
    exchanges: tuple[Exchange, ...]
    """The exchanges it applies to: the one named, or all three (or the only one the fault exists on)."""
    seconds: float | None
    """How long (stall, outage), or how long until the close or the comeback (64008, restart)."""
    symbol: str | None
    """The exchange's own symbol (reject)."""


def parse_fault_request(body: Any) -> FaultRequest:
    """Validate a fault request body, e.g. {"kind": "stall", "exchange": "bybit", "seconds": 5}."""
    if not isinstance(body, dict):
        raise FaultRequestError('The body must be a JSON object such as {"kind": "drop"}.')
    unknown = set(body) - {"kind", "exchange", "seconds", "symbol"}
    if unknown:
        raise FaultRequestError(f"Unknown field(s) {sorted(unknown)}: use kind, exchange, seconds and symbol.")
    kinds = ", ".join(k.value for k in FaultKind)
    kind_text = body.get("kind")
    if not isinstance(kind_text, str) or kind_text not in {k.value for k in FaultKind}:
        raise FaultRequestError(f"Unknown fault kind {kind_text!r}: use one of {kinds}.")
    kind = FaultKind(kind_text)

    exchange_name = body.get("exchange")
    if exchange_name is None:
        only = ONLY_EXCHANGE.get(kind)
        exchanges = (only,) if only is not None else tuple(Exchange)
    else:
        try:
            exchange = Exchange(exchange_name)
        except ValueError:
            names = ", ".join(e.value for e in Exchange)
            raise FaultRequestError(f"Unknown exchange {exchange_name!r}: use one of {names}.") from None
        only = ONLY_EXCHANGE.get(kind)
        if only is not None and exchange is not only:
            raise FaultRequestError(f"{kind.value} exists on {only.value} only, not on {exchange.value}.")
        exchanges = (exchange,)

    seconds = body.get("seconds")
    if seconds is not None:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= MAX_SECONDS:
            raise FaultRequestError(f"seconds must be a number from 0 to {MAX_SECONDS:.0f}, not {seconds!r}.")
        seconds = float(seconds)
    else:
        seconds = DEFAULT_SECONDS.get(kind)

    symbol = body.get("symbol")
    if kind is FaultKind.REJECT:
        if not isinstance(symbol, str) or not symbol:
            raise FaultRequestError('reject needs the exchange\'s own symbol, e.g. {"symbol": "BTCUSDT"}.')
    elif symbol is not None:
        raise FaultRequestError(f"{kind.value} takes no symbol.")
    return FaultRequest(kind=kind, exchanges=exchanges, seconds=seconds, symbol=symbol)


@dataclass
class FaultState:
    """The faults in force, consulted on every frame and request. Times are `time.monotonic()` seconds."""

    stall_until: dict[Exchange, float] = field(default_factory=dict)
    outage_until: dict[Exchange, float] = field(default_factory=dict)
    rejected: dict[Exchange, set[str]] = field(default_factory=dict)

    def stalled(self, exchange: Exchange) -> bool:
        """Whether `exchange`'s websockets are silent now."""
        until = self.stall_until.get(exchange)
        return until is not None and time.monotonic() < until

    def rest_down(self, exchange: Exchange) -> bool:
        """Whether `exchange`'s REST answers 503 now."""
        until = self.outage_until.get(exchange)
        return until is not None and time.monotonic() < until

    def is_rejected(self, exchange: Exchange, symbol: str) -> bool:
        """Whether `exchange` refuses `symbol`."""
        rejected = self.rejected.get(exchange)
        return rejected is not None and symbol in rejected

    def stall(self, exchange: Exchange, seconds: float) -> None:
        self.stall_until[exchange] = time.monotonic() + seconds

    def outage(self, exchange: Exchange, seconds: float) -> None:
        self.outage_until[exchange] = time.monotonic() + seconds

    def reject(self, exchange: Exchange, symbol: str) -> None:
        self.rejected.setdefault(exchange, set()).add(symbol)

    def in_force(self) -> list[dict[str, Any]]:
        """The lasting faults still in force, for `/sim/status`."""
        mono = time.monotonic()
        faults: list[dict[str, Any]] = []
        for exchange, until in sorted(self.stall_until.items()):
            if until > mono:
                faults.append({"kind": "stall", "exchange": exchange.value, "remaining_s": round(until - mono, 3)})
        for exchange, until in sorted(self.outage_until.items()):
            if until > mono:
                faults.append(
                    {"kind": "rest_outage", "exchange": exchange.value, "remaining_s": round(until - mono, 3)}
                )
        for exchange, symbols in sorted(self.rejected.items()):
            faults.extend({"kind": "reject", "exchange": exchange.value, "symbol": s} for s in sorted(symbols))
        return faults
