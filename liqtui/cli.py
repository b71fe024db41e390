"""The `liqtui` command (design §7.1): the app, and the `snapshot`, `replay` and `sim` subcommands.

Each subcommand's work lives in its own module, imported only when that subcommand runs, so `liqtui --help` and the
headless commands never import Textual. Errors are one sentence on stderr; exit codes are 0 ok, 2 usage or
configuration error, 1 anything else.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from liqtui import __version__
from liqtui.errors import LiqtuiError

SUBCOMMANDS = ("snapshot", "replay", "sim")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535; 0 picks a free one)")
    return value


def _add_source(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--demo", action="store_true", help="run against the simulated exchange, in-process")
    source.add_argument("--sim", metavar="URL", help="point every exchange at a running `liqtui sim` (http://H:P)")


def build_app_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liqtui",
        description="A live crypto liquidation map for the terminal. "
        "Subcommands: snapshot, replay, sim (`liqtui SUBCOMMAND --help`).",
        epilog="Instruments are named exchange:SYMBOL, e.g. binance:BTCUSDT, bybit:ETHUSDT, okx:BTC-USDT-SWAP.",
    )
    parser.add_argument("--version", action="version", version=f"liqtui {__version__}")
    parser.add_argument("instruments", nargs="*", metavar="INSTRUMENT", help="instruments to watch")
    _add_source(parser)
    parser.add_argument("--config", metavar="PATH", help="configuration file (default: see README)")
    parser.add_argument("--record", metavar="FILE", help="record every frame received (JSON Lines, .gz to gzip)")
    parser.add_argument("--no-mouse", action="store_true", help="do not capture the mouse (better over SSH)")
    parser.add_argument("--log-file", metavar="PATH", help="write the log here (default: the XDG state dir)")
    return parser


def build_subcommand_parser(name: str) -> argparse.ArgumentParser:
    if name == "snapshot":
        parser = argparse.ArgumentParser(prog="liqtui snapshot", description="Print the liquidation map once.")
        parser.add_argument("instrument", metavar="INSTRUMENT")
        _add_source(parser)
        parser.add_argument("--seconds", type=_positive_float, default=5.0, help="collect for N seconds")
        parser.add_argument("--json", action="store_true", help="print JSON (design §7.3) instead of a table")
        parser.add_argument("--config", metavar="PATH", help="configuration file")
        return parser
    if name == "replay":
        parser = argparse.ArgumentParser(
            prog="liqtui replay", description="Feed a recording through the parsers and the store."
        )
        parser.add_argument("file", metavar="FILE")
        parser.add_argument("--speed", type=_positive_float, default=None, help="replay at X times recorded pace")
        parser.add_argument("--summary", action="store_true", help="print a JSON summary (design §7.2)")
        return parser
    if name == "sim":
        parser = argparse.ArgumentParser(prog="liqtui sim", description="Run the simulated exchange standalone.")
        parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
        parser.add_argument("--port", type=_port, default=0, help="port to bind (default 0: a free port)")
        parser.add_argument("--seed", type=int, default=None, help="seed for a reproducible market")
        parser.add_argument("--speed", type=_positive_float, default=1.0, help="market pace multiplier")
        parser.add_argument("--scenario", metavar="FILE", help="scenario file (TOML, see README)")
        return parser
    raise AssertionError(name)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list and args_list[0] in SUBCOMMANDS:
            name = args_list[0]
            args = build_subcommand_parser(name).parse_args(args_list[1:])
            if name == "replay":
                from liqtui.replay import run_replay_command

                return run_replay_command(args)
            if name == "sim":
                from liqtui.sim.server import run_sim_command

                return run_sim_command(args)
            from liqtui.snapshot import run_snapshot_command

            return run_snapshot_command(args)
        args = build_app_parser().parse_args(args_list)
        from liqtui.ui.run import run_app_command

        return run_app_command(args)
    except LiqtuiError as error:
        print(f"liqtui: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
