"""The whole liqtui app measured from outside, as a user's terminal sees it (issue 7).

    python benchmarks/app.py [--seconds 30] [--warmup 5] [--presses 20] [--starts 3] [--no-demo] [--no-naive]

Every app runs in a pseudo-terminal of 200x60 (`pty.fork`, `TERM=xterm-256color`, `LANG=C.UTF-8`, the window
size set with TIOCSWINSZ and COLUMNS/LINES) with its own empty XDG config and state directories. The benchmark
reads the pty's master end all the time in a thread, counts the bytes, and feeds them to a small VT emulator
(`Screen`: cursor moves, erases and text, which is all Textual writes; on a recording of the app it gives the
very screen `tmux capture-pane` shows) so that it knows what was on the screen when each chunk arrived.
Phases, in one run (about 2.5 minutes with the defaults):

1. The simulator as its own process: this file's `serve-sim` mode is `liqtui sim --seed 1` plus two commands
   on its stdin, `shock ASSET FRACTION` (calls `Market.shock` in the server's loop: the price jumps, and the
   leveraged positions it crosses are liquidated, whose market orders push it on: a cascade) and `stats`
   (trades, liquidations and liquidated notional so far, counted where the server advances the market).
2. `liqtui --sim URL --no-mouse`, started `--starts` times with an empty state directory, then once more on the
   state the last one saved when it quit: from the fork to the arrival of the chunk after which the screen
   shows a filled map (the plotext frame, at least `MIN_BARS` bar glyphs between its 1 and 0 ticks, and the
   mark label above it).
3. That last app, after `--warmup` s: `--seconds` s of steady state, the bytes it wrote to the terminal and the
   CPU (utime + stime from /proc, its whole process tree) of the app and, apart, of the simulator.
4. Switch latency: `--presses` keys (`2`, `3`, `1`, `]`, `[`, `e` ...) at random 0.3-0.7 s gaps, each from the
   write to the pty to the arrival of the chunk after which the screen shows the new selection: the status
   line names it, and the map's mark label shows that instrument's price (within 20 % of the price on its tab,
   which tells the assets apart; for `e`, the same asset on another exchange, the map must also differ from
   the one before the key). The expected selection comes from `liqtui.ui.state.Selection`.
5. The same presses during cascades: every 3 s the simulator shocks BTC, ETH or SOL by 4 % (down, then up).
   CPU, bytes and the market's liquidations are counted over both switching phases.
6. `liqtui --demo` (the simulator in the app's process): first map, and the steady window of app + simulator.
7. `benchmarks/naive_app.py`: plotext 6 `bar()` of 200 bins redrawn whole at 2 Hz through `Text.from_ansi`,
   filling the 200x60 screen, over the same steady window: the baseline of the ratios.

The terminal answers none of Textual's queries (no synchronized output, no kitty keyboard protocol), so the app
writes plain cursor moves, colours and text. liqtui is compiled to bytecode first and the apps may read it
(an installed package has it; where PYTHONDONTWRITEBYTECODE is set, every start would otherwise compile liqtui
from source, about 0.7 s more). Prints markdown tables, then notes.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import fcntl
import math
import os
import pty
import random
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from liqtui.config import default_config
from liqtui.ui.state import Selection

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
COLUMNS, LINES = 200, 60
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
BAR_GLYPHS = frozenset("▁▂▃▄▅▆▇█")
MIN_BARS = 10
"""Bar glyphs the map must show to count as filled (a notice or an empty frame shows none)."""
SWITCH_TIMEOUT_S = 5.0
START_TIMEOUT_S = 60.0
DEMO_START_TIMEOUT_S = 180.0
PRESS_KEYS = ("2", "3", "1", "]", "]", "[", "e", "e", "3", "e", "1", "]")
"""The keys pressed in turn: watchlist numbers, next/previous, and the exchange cycle (with its aggregate)."""
SHOCKS = (("BTC", -0.04), ("ETH", -0.04), ("SOL", -0.04), ("BTC", 0.04), ("ETH", 0.04), ("SOL", 0.04))
SHOCK_EVERY_S = 3.0
PRICE_MATCH = 0.2
"""How near the map's mark label must be to the price on the target's tab, read just before the key: enough to
tell BTC, ETH and SOL apart (they differ twentyfold), wide enough for a 4 % shock landing in between."""


# ------------------------------------------------------------------------------------------------------------
# The screen


_CSI = re.compile(r"\x1b\[([?>=<]?)([0-9;:]*)([ -/]*)([@-~])")
_OSC = re.compile(r"\x1b\](.*?)(?:\x07|\x1b\\)", re.DOTALL)
_TEXT = re.compile(r"[^\x00-\x1f\x7f\x1b]+")
_WIDE_FROM = "\u1100"
"""Below this code point no character is wide (box drawing and blocks included), so runs are copied whole."""


class Screen:
    """A small VT emulator: enough of xterm for what Textual writes (CUP, SGR, erases, private modes, text).

    Colours are ignored: the benchmark only needs the characters on screen. Sequences it does not know are
    counted in `unknown` (a run that shows any would need the emulator extended).
    """

    def __init__(self, columns: int, lines: int) -> None:
        self.columns = columns
        self.lines = lines
        self.cells = [[" "] * columns for _ in range(lines)]
        self.x = 0
        self.y = 0
        self.alternate = False
        """Whether the app switched to the alternate screen (Textual does so as its screen opens)."""
        self.unknown: dict[str, int] = {}
        self._pending = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def row(self, y: int) -> str:
        return "".join(self.cells[y])

    def rows(self) -> list[str]:
        return ["".join(cells) for cells in self.cells]

    def feed(self, data: bytes) -> None:
        text = self._pending + self._decoder.decode(data)
        self._pending = ""
        pos, end = 0, len(text)
        while pos < end:
            char = text[pos]
            if char == "\x1b":
                if pos + 1 >= end:
                    self._pending = text[pos:]
                    return
                kind = text[pos + 1]
                if kind == "[":
                    match = _CSI.match(text, pos)
                    if match is None:
                        if _is_incomplete_csi(text, pos):
                            self._pending = text[pos:]
                            return
                        self._count_unknown(text[pos : pos + 2])
                        pos += 2
                        continue
                    self._csi(*match.groups())
                    pos = match.end()
                elif kind == "]":
                    match = _OSC.match(text, pos)
                    if match is None:
                        self._pending = text[pos:]
                        return
                    pos = match.end()
                else:
                    pos += 2  # ESC 7, ESC 8, ESC = ...: nothing that moves text
            elif char == "\r":
                self.x = 0
                pos += 1
            elif char == "\n":
                self._line_feed()
                pos += 1
            elif char == "\b":
                self.x = max(0, self.x - 1)
                pos += 1
            elif char < " " or char == "\x7f":
                pos += 1
            else:
                match = _TEXT.match(text, pos)
                assert match is not None
                self._write(match.group())
                pos = match.end()

    def _count_unknown(self, sequence: str) -> None:
        self.unknown[sequence] = self.unknown.get(sequence, 0) + 1

    def _line_feed(self) -> None:
        if self.y + 1 < self.lines:
            self.y += 1
        else:
            self.cells.pop(0)
            self.cells.append([" "] * self.columns)

    def _write(self, run: str) -> None:
        row = self.cells[self.y]
        if max(run) < _WIDE_FROM:
            room = self.columns - self.x
            if room <= 0:  # autowrap is off in Textual (DECAWM reset): the last column is overwritten
                row[-1] = run[-1]
                return
            piece = run[:room]
            row[self.x : self.x + len(piece)] = piece
            self.x = min(self.columns, self.x + len(piece))
            return
        for char in run:
            wide = unicodedata.east_asian_width(char) in ("W", "F")
            if unicodedata.combining(char):
                continue
            if self.x >= self.columns:
                self.x = self.columns - 1
            row[self.x] = char
            self.x += 1
            if wide and self.x < self.columns:
                row[self.x] = ""
                self.x += 1

    def _csi(self, private: str, params: str, intermediate: str, final: str) -> None:
        if private or intermediate:
            if private == "?" and final in "hl" and "1049" in params.split(";"):
                self._erase_all()
                self.x = self.y = 0
                self.alternate = final == "h"
            elif not ((private in "?>=<" and final in "hlpmcnu") or intermediate == "$"):
                self._count_unknown(f"CSI {private}{intermediate}{final}")
            return
        numbers = [int(p) if p.isdigit() else 0 for p in params.split(";")] if params else []

        def arg(index: int, default: int = 1) -> int:
            value = numbers[index] if index < len(numbers) else 0
            return value or default

        if final in "Hf":
            self.y = min(self.lines, arg(0)) - 1
            self.x = min(self.columns, arg(1)) - 1
        elif final == "m":
            pass
        elif final == "A":
            self.y = max(0, self.y - arg(0))
        elif final == "B":
            self.y = min(self.lines - 1, self.y + arg(0))
        elif final == "C":
            self.x = min(self.columns - 1, self.x + arg(0))
        elif final == "D":
            self.x = max(0, self.x - arg(0))
        elif final == "G":
            self.x = min(self.columns, arg(0)) - 1
        elif final == "d":
            self.y = min(self.lines, arg(0)) - 1
        elif final == "K":
            mode = numbers[0] if numbers else 0
            row = self.cells[self.y]
            start, stop = {0: (self.x, self.columns), 1: (0, self.x + 1), 2: (0, self.columns)}.get(mode, (0, 0))
            row[start:stop] = [" "] * (stop - start)
        elif final == "J":
            mode = numbers[0] if numbers else 0
            if mode in (2, 3):
                self._erase_all()
            elif mode == 0:
                self.cells[self.y][self.x :] = [" "] * (self.columns - self.x)
                for y in range(self.y + 1, self.lines):
                    self.cells[y] = [" "] * self.columns
        elif final == "X":
            count = min(arg(0), self.columns - self.x)
            self.cells[self.y][self.x : self.x + count] = [" "] * count
        else:
            self._count_unknown(f"CSI {final}")

    def _erase_all(self) -> None:
        self.cells = [[" "] * self.columns for _ in range(self.lines)]


def _is_incomplete_csi(text: str, pos: int) -> bool:
    """True when text[pos:] is the start of a CSI sequence cut by the end of the chunk."""
    return re.fullmatch(r"\x1b\[[?>=<]?[0-9;:]*[ -/]*", text[pos:]) is not None


# ------------------------------------------------------------------------------------------------------------
# Reading liqtui's screen


@dataclass(frozen=True, slots=True)
class MapOnScreen:
    """The liquidation map as the screen shows it."""

    bars: int
    """Bar glyphs between the 1 and 0 ticks."""
    mark_px: float | None
    """The price in the mark label above the chart."""
    digest: int
    """A hash of the chart's rows, to tell one picture from another."""


_MARK_LABEL = re.compile(r"mark ([\d,]+(?:\.\d+)?)")
_TAB = re.compile(r"(\d) (\w+) (bin|byb|okx) ([\d,]+(?:\.\d+)?)")
_FEED_RATE = re.compile(r"(binance|bybit|okx) live \S+ ([\d.]+)(k?)/s")


def read_map(rows: Sequence[str]) -> MapOnScreen | None:
    """The map on screen, or None when no chart frame is drawn (before the screen opens, or a notice)."""
    one = next((y for y, row in enumerate(rows) if " 1┤" in row), None)
    if one is None or one < 2:
        return None
    top_row = rows[one - 1]
    left = top_row.find("┌")
    right = top_row.find("┐", left + 1)
    if left < 0 or right < 0:
        return None
    zero = next((y for y in range(one + 1, len(rows)) if " 0┤" in rows[y]), None)
    if zero is None:
        return None
    bars = sum(1 for y in range(one, zero) for char in rows[y][left + 1 : right] if char in BAR_GLYPHS)
    label = _MARK_LABEL.search(rows[one - 2][: right + 1])
    mark_px = float(label.group(1).replace(",", "")) if label else None
    bottom = next((y for y in range(zero, len(rows)) if "└" in rows[y]), zero)
    digest = hash(tuple(row[: right + 1] for row in rows[one - 2 : bottom + 1]))
    return MapOnScreen(bars, mark_px, digest)


def map_is_filled(rows: Sequence[str]) -> bool:
    shown = read_map(rows)
    return shown is not None and shown.mark_px is not None and shown.bars >= MIN_BARS


def tab_prices(rows: Sequence[str]) -> dict[int, float]:
    """The price on each watchlist tab (number -> price), from the top line."""
    return {int(m.group(1)): float(m.group(4).replace(",", "")) for m in _TAB.finditer(rows[0])}


def status_shows(rows: Sequence[str], title: str) -> bool:
    """Whether the status line names `title` (`binance:ETHUSDT`, `BTC all exchanges`) as what is on screen."""
    needle = f" {title}  ±"
    return any(row.startswith(needle) for row in rows[-8:])


def feed_rate(rows: Sequence[str]) -> float:
    """Messages per second over every exchange, as the status line shows them."""
    total = 0.0
    for row in rows[-8:]:
        for match in _FEED_RATE.finditer(row):
            total += float(match.group(2)) * (1000 if match.group(3) else 1)
    return total


# ------------------------------------------------------------------------------------------------------------
# Processes


def _proc_stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, from /proc."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and its descendants, in seconds."""
    total = 0
    for member in process_tree(pid):
        try:
            fields = _proc_stat(member)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def main_thread_cpu_seconds(pid: int) -> float:
    """User + system CPU of the main thread of `pid` alone (the app's loop; `--demo` runs its simulator in
    another thread)."""
    try:
        fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mib(pid: int) -> float:
    try:
        return int(_proc_stat(pid)[21]) * PAGE_BYTES / 2**20
    except OSError:
        return math.nan


@dataclass
class Watch:
    """A condition on the screen, checked after every chunk; `at`: when the chunk that met it arrived."""

    predicate: Callable[[Screen], bool]
    done: threading.Event = field(default_factory=threading.Event)
    at: float | None = None
    bytes_read: int = 0
    """The terminal's byte count when the condition was met."""

    def wait(self, timeout_s: float) -> float | None:
        self.done.wait(timeout_s)
        return self.at


class Terminal:
    """A program in a 200x60 pseudo-terminal, its output read and put on a `Screen` as it arrives."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], columns: int = COLUMNS, lines: int = LINES):
        self.screen = Screen(columns, lines)
        self.bytes_read = 0
        self.spawned_at = 0.0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._watches: list[Watch] = []
        full_env = dict(env, TERM="xterm-256color", COLUMNS=str(columns), LINES=str(lines), LANG="C.UTF-8")
        full_env.pop("NO_COLOR", None)
        size = struct.pack("HHHH", lines, columns, 0, 0)
        self.spawned_at = time.monotonic()
        pid, fd = pty.fork()
        if pid == 0:  # the child: its terminal gets its size before the program can ask for it
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, size)
                os.chdir(ROOT)
                os.execve(argv[0], list(argv), full_env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.exit_status: int | None = None
        self._reader = threading.Thread(target=self._read, name=f"pty-{pid}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.5)
                if not ready:
                    if self._closing.is_set():  # the program is gone but something still holds its terminal
                        return
                    continue
                data = os.read(self.fd, 65536)
            except OSError:  # EIO: the program closed the terminal
                return
            now = time.monotonic()
            if not data:
                return
            with self._lock:
                self.bytes_read += len(data)
                self.screen.feed(data)
                met = [watch for watch in self._watches if watch.predicate(self.screen)]
                for watch in met:
                    watch.at = now
                    watch.bytes_read = self.bytes_read
                    self._watches.remove(watch)
                    watch.done.set()

    def watch(self, predicate: Callable[[Screen], bool]) -> Watch:
        """Start watching for `predicate`; met at once if the screen already shows it."""
        watch = Watch(predicate)
        with self._lock:
            if predicate(self.screen):
                watch.at = time.monotonic()
                watch.bytes_read = self.bytes_read
                watch.done.set()
            else:
                self._watches.append(watch)
        return watch

    def rows(self) -> list[str]:
        with self._lock:
            return self.screen.rows()

    def counters(self) -> tuple[float, int, float]:
        """(monotonic time, bytes read so far, CPU seconds of the program)."""
        with self._lock:
            read = self.bytes_read
        return time.monotonic(), read, cpu_seconds(self.pid)

    def press(self, key: str) -> float:
        """Type `key`; returns the time just before the write."""
        at = time.monotonic()
        os.write(self.fd, key.encode())
        return at

    def _exited(self) -> bool:
        if self.exit_status is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.exit_status = os.waitstatus_to_exitcode(status)
        return self.exit_status is not None

    def close(self, quit_key: str = "q", timeout_s: float = 8.0) -> float | None:
        """Quit with `quit_key`, else end the program (its process group); returns the time `q` took."""
        started = time.monotonic()
        quit_s = None
        with contextlib.suppress(OSError):  # the program may have closed its terminal already
            os.write(self.fd, quit_key.encode())
        deadline = started + timeout_s
        while time.monotonic() < deadline and not self._exited():
            time.sleep(0.02)
        if self._exited():
            quit_s = time.monotonic() - started
        else:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.pid, sig)
                except ProcessLookupError:
                    break
                end = time.monotonic() + 3.0
                while time.monotonic() < end and not self._exited():
                    time.sleep(0.02)
                if self._exited():
                    break
        self._closing.set()
        self._reader.join(2.0)
        os.close(self.fd)
        return quit_s


class SimProcess:
    """The simulated exchange as its own process (this file's `serve-sim` mode), with shocks on its stdin."""

    def __init__(self, seed: int, speed: float | None, scenario: str | None) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), "serve-sim", "--seed", str(seed)]
        if speed is not None:
            command += ["--speed", str(speed)]
        if scenario:
            command += ["--scenario", scenario]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("liqtui sim listening on "):
            self.stop()
            raise SystemExit(f"the simulator did not start: {line!r}")
        self.url = line.rsplit(" ", 1)[1]

    @property
    def pid(self) -> int:
        return self.process.pid

    def shock(self, asset: str, fraction: float) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"shock {asset} {fraction}\n")
        self.process.stdin.flush()

    def stats(self) -> tuple[int, int, float]:
        """Trades, liquidations and liquidated notional (USD) the market made since it started serving."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        words = self.process.stdout.readline().split()
        return int(words[1]), int(words[2]), float(words[3])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


# ------------------------------------------------------------------------------------------------------------
# Measurements


@dataclass
class Steady:
    """One measured window."""

    seconds: float
    bytes_per_s: float
    cpu_pct: float
    sim_cpu_pct: float | None = None
    msgs_per_s: float | None = None
    rss_mib: float | None = None
    main_thread_cpu_pct: float | None = None
    """The app's main thread alone: its event loop (feeds, estimator, Textual), without the other threads."""
    liquidations_per_s: float | None = None
    """Liquidations per second in the simulated market (all instruments), when it runs as its own process."""
    liquidated_usd_per_s: float | None = None


@dataclass
class Start:
    """One start: from fork to the screen opening, and to the first filled map."""

    screen_s: float | None
    map_s: float | None


class Window:
    """Counters at the start of a window; `close()` gives the rates over it."""

    def __init__(self, term: Terminal, sim: SimProcess | None = None) -> None:
        self.term, self.sim = term, sim
        self.sim_cpu0 = cpu_seconds(sim.pid) if sim else 0.0
        self.market0 = sim.stats() if sim else (0, 0, 0.0)
        self.t0, self.bytes0, self.cpu0 = term.counters()
        self.main0 = main_thread_cpu_seconds(term.pid)
        self.rates: list[float] = []

    def sample_rate(self) -> None:
        """Note the message rate the status line shows now (averaged over the window)."""
        self.rates.append(feed_rate(self.term.rows()))

    def close(self) -> Steady:
        t1, bytes1, cpu1 = self.term.counters()
        sim = self.sim
        wall = t1 - self.t0
        self.sample_rate()
        steady = Steady(
            seconds=wall,
            bytes_per_s=(bytes1 - self.bytes0) / wall,
            cpu_pct=100 * (cpu1 - self.cpu0) / wall,
            msgs_per_s=statistics.mean(self.rates),
            rss_mib=rss_mib(self.term.pid),
            main_thread_cpu_pct=100 * (main_thread_cpu_seconds(self.term.pid) - self.main0) / wall,
        )
        if sim is not None:
            market1 = sim.stats()
            steady.sim_cpu_pct = 100 * (cpu_seconds(sim.pid) - self.sim_cpu0) / wall
            steady.liquidations_per_s = (market1[1] - self.market0[1]) / wall
            steady.liquidated_usd_per_s = (market1[2] - self.market0[2]) / wall
        return steady


def measure_window(term: Terminal, seconds: float, sim: SimProcess | None = None) -> Steady:
    window = Window(term, sim)
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(1.0, left))
        window.sample_rate()
    return window.close()


def start_app(argv: Sequence[str], env: dict[str, str], timeout_s: float) -> tuple[Terminal, Start]:
    """Spawn the app and wait for its first filled map."""
    term = Terminal(argv, env)
    screen_watch = term.watch(lambda screen: screen.alternate)
    map_watch = term.watch(lambda screen: screen.alternate and map_is_filled(screen.rows()))
    map_at = map_watch.wait(timeout_s)
    screen_at = screen_watch.wait(0.0)
    start = Start(
        screen_s=None if screen_at is None else screen_at - term.spawned_at,
        map_s=None if map_at is None else map_at - term.spawned_at,
    )
    return term, start


@dataclass
class Switch:
    key: str
    title: str
    latency_s: float | None
    bytes_written: int
    """Bytes written from the key to the new map on screen (its repaint, and any data update meanwhile)."""
    cpu_s: float
    """The app's CPU from the key to the new map (in clock ticks of 10 ms: meaningful as a mean over many)."""
    missed_screen: list[str] | None = None
    """What the screen showed when the new map did not come within SWITCH_TIMEOUT_S."""


def expected_after(selection: Selection, key: str) -> Selection:
    """The selection a key leads to, by the app's own pure key logic."""
    if key.isdigit():
        return selection.select(int(key) - 1)
    if key in "[]":
        return selection.step(1 if key == "]" else -1)
    if key == "e":
        return selection.cycle_exchange()
    raise ValueError(f"no expectation for key {key!r}")


def press_switches(
    term: Terminal,
    watchlist: Sequence[str],
    presses: int,
    rng: random.Random,
    between: Callable[[], None] | None = None,
) -> list[Switch]:
    """Press switch keys in turn; each timed from the write to the screen showing the new map."""
    selection = Selection.start(watchlist, 30.0)
    # Start from the first instrument, whatever an earlier phase left on screen.
    if not status_shows(term.rows(), selection.title):
        first = term.watch(lambda screen: status_shows(screen.rows(), selection.title))
        term.press("1")
        first.wait(SWITCH_TIMEOUT_S)
        time.sleep(0.5)
    results = []
    keys = iter(PRESS_KEYS * (presses + 1))
    for _ in range(presses):
        # A key that leaves the selection as it is (`2` on the second instrument) redraws nothing: skip it.
        key = next(keys)
        while (target := expected_after(selection, key)) == selection:
            key = next(keys)
        rows = term.rows()
        prices = tab_prices(rows)
        before = read_map(rows)
        target_px = prices.get(target.index + 1)
        same_asset = target.asset == selection.asset
        before_digest = before.digest if before else None

        def shows_target(
            screen: Screen,
            target: Selection = target,
            target_px: float | None = target_px,
            same_asset: bool = same_asset,
            before_digest: int | None = before_digest,
        ) -> bool:
            rows = screen.rows()
            if not status_shows(rows, target.title):
                return False
            shown = read_map(rows)
            if shown is None or shown.mark_px is None or shown.bars < MIN_BARS:
                return False
            if target_px is not None and abs(shown.mark_px / target_px - 1) > PRICE_MATCH:
                return False
            return not same_asset or shown.digest != before_digest

        watch = term.watch(shows_target)
        bytes_before = term.bytes_read
        cpu_before = cpu_seconds(term.pid)
        pressed_at = term.press(key)
        arrived = watch.wait(SWITCH_TIMEOUT_S)
        cpu_s = cpu_seconds(term.pid) - cpu_before
        if arrived is None:
            results.append(Switch(key, target.title, None, 0, cpu_s, missed_screen=term.rows()))
        else:
            results.append(Switch(key, target.title, arrived - pressed_at, watch.bytes_read - bytes_before, cpu_s))
        selection = target
        if between is not None:
            between()
        time.sleep(rng.uniform(0.3, 0.7))
    return results


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def latency_words(switches: Sequence[Switch]) -> str:
    times = [s.latency_s * 1000 for s in switches if s.latency_s is not None]
    missed = len(switches) - len(times)
    if not times:
        return "n/a"
    words = f"{statistics.median(times):.0f} / {percentile(times, 0.9):.0f} / {max(times):.0f}"
    return words + (f" ({missed} missed)" if missed else "")


# ------------------------------------------------------------------------------------------------------------
# The run


@dataclass
class Results:
    starts_cold: list[Start] = field(default_factory=list)
    start_warm: Start | None = None
    start_demo: Start | None = None
    steady_sim: Steady | None = None
    steady_demo: Steady | None = None
    steady_naive: Steady | None = None
    cascade: Steady | None = None
    calm_switching: Steady | None = None
    switches_calm: list[Switch] = field(default_factory=list)
    switches_cascade: list[Switch] = field(default_factory=list)
    quit_s: list[float] = field(default_factory=list)
    unknown_sequences: dict[str, int] = field(default_factory=dict)
    load_before: float = math.nan
    own_cpu_pct: float = math.nan
    """The benchmark's own CPU (reading the terminals, the emulator) over the run, % of one core."""


def app_env(tmp: Path, name: str) -> dict[str, str]:
    """The environment of one app run: its own empty config, and state in `tmp/name`."""
    env = dict(os.environ)
    # PYTHONDONTWRITEBYTECODE (set in some sandboxes) would make every start compile liqtui from source, about
    # 0.7 s that an installed package never pays: `run` compiles it once, and the apps read the bytecode.
    for variable in ("LIQTUI_CONFIG", "TMUX", "NO_COLOR", "TEXTUAL", "PYTHONDONTWRITEBYTECODE"):
        env.pop(variable, None)
    env["XDG_CONFIG_HOME"] = str(tmp / "config")
    env["XDG_STATE_HOME"] = str(tmp / name)
    return env


def liqtui_argv(*args: str, log_file: Path) -> list[str]:
    return [sys.executable, "-m", "liqtui", *args, "--no-mouse", "--log-file", str(log_file)]


def run(args: argparse.Namespace) -> Results:
    watchlist = default_config().watchlist
    results = Results()
    rng = random.Random(args.seed)
    results.load_before = os.getloadavg()[0]
    own_cpu0, wall0 = time.process_time(), time.monotonic()
    compile_env = dict(os.environ)
    compile_env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "liqtui")],
        env=compile_env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with tempfile.TemporaryDirectory(prefix="liqtui-bench-app-") as tmp_name:
        tmp = Path(tmp_name)
        log_file = tmp / "liqtui.log"
        print("simulator: starting (its own process) ...", file=sys.stderr, flush=True)
        sim = SimProcess(args.seed, args.speed, args.scenario)
        term: Terminal | None = None
        try:
            for n in range(args.starts):
                term, start = start_app(
                    liqtui_argv("--sim", sim.url, log_file=log_file),
                    app_env(tmp, f"state-{n}"),
                    START_TIMEOUT_S,
                )
                results.starts_cold.append(start)
                print(
                    f"cold start {n + 1}: screen {start.screen_s} s, first map {start.map_s} s",
                    file=sys.stderr,
                )
                time.sleep(0.5)
                quit_s = term.close()
                if quit_s is not None:
                    results.quit_s.append(quit_s)
                results.unknown_sequences |= term.screen.unknown
                term = None
            # The last cold start saved its state on quitting: this start reloads it.
            term, results.start_warm = start_app(
                liqtui_argv("--sim", sim.url, log_file=log_file),
                app_env(tmp, f"state-{args.starts - 1}"),
                START_TIMEOUT_S,
            )
            print(f"warm start: first map {results.start_warm.map_s} s; steady window ...", file=sys.stderr)
            time.sleep(args.warmup)
            results.steady_sim = measure_window(term, args.seconds, sim)
            print(f"steady: {results.steady_sim}; switches ...", file=sys.stderr)
            window = Window(term, sim)
            results.switches_calm = press_switches(term, watchlist, args.presses, rng, window.sample_rate)
            results.calm_switching = window.close()

            shocks = iter(SHOCKS * 100)
            last_shock = [0.0]

            def shock_now() -> None:
                asset, fraction = next(shocks)
                sim.shock(asset, fraction)
                last_shock[0] = time.monotonic()

            def maybe_shock() -> None:
                if time.monotonic() - last_shock[0] >= SHOCK_EVERY_S:
                    shock_now()

            print("cascades: shocking the market, switches ...", file=sys.stderr)
            shock_now()
            time.sleep(1.0)  # the first layer of liquidations is under way
            window = Window(term, sim)

            def between() -> None:
                maybe_shock()
                window.sample_rate()

            results.switches_cascade = press_switches(term, watchlist, args.presses, rng, between)
            results.cascade = window.close()
            quit_s = term.close()
            if quit_s is not None:
                results.quit_s.append(quit_s)
            results.unknown_sequences |= term.screen.unknown
            term = None
        finally:
            if term is not None:
                term.close()
            sim.stop()

        if not args.no_demo:
            print("demo: liqtui --demo ...", file=sys.stderr, flush=True)
            term, results.start_demo = start_app(
                liqtui_argv("--demo", log_file=log_file), app_env(tmp, "demo"), DEMO_START_TIMEOUT_S
            )
            try:
                time.sleep(args.warmup)
                results.steady_demo = measure_window(term, args.seconds)
            finally:
                term.close()
            results.unknown_sequences |= term.screen.unknown
        if not args.no_naive:
            print("naive: benchmarks/naive_app.py ...", file=sys.stderr, flush=True)
            term = Terminal([sys.executable, str(HERE / "naive_app.py")], app_env(tmp, "naive"))
            try:
                time.sleep(args.warmup)
                results.steady_naive = measure_window(term, args.seconds)
            finally:
                term.close()
            results.unknown_sequences |= term.screen.unknown
    results.own_cpu_pct = 100 * (time.process_time() - own_cpu0) / (time.monotonic() - wall0)
    return results


# ------------------------------------------------------------------------------------------------------------
# The report


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None or math.isnan(value) else format(value, spec)


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or base is None or value <= 0:
        return "n/a"
    return f"{base / value:.1f}"


def _starts(starts: Sequence[Start]) -> str:
    times = [s.map_s for s in starts if s.map_s is not None]
    if not times:
        return "n/a"
    return " / ".join(f"{t:.2f}" for t in times)


def _of(steady: Steady | None, name: str) -> float | None:
    """A figure of a window that may not have run."""
    value = None if steady is None else getattr(steady, name)
    assert value is None or isinstance(value, float)
    return value


def _pct(steady: Steady | None) -> str:
    return _fmt(_of(steady, "cpu_pct"), ".1f")


def _kbs(steady: Steady | None) -> str:
    value = _of(steady, "bytes_per_s")
    return _fmt(None if value is None else value / 1000, ".1f")


def _median_bytes(switches: Sequence[Switch]) -> str:
    sizes = [s.bytes_written for s in switches if s.latency_s is not None]
    return f"{statistics.median(sizes) / 1000:.1f}" if sizes else "n/a"


def report(results: Results, args: argparse.Namespace) -> str:
    """The markdown tables and the notes under them."""
    alone, demo, naive = results.steady_sim, results.steady_demo, results.steady_naive
    calm, cascade = results.calm_switching, results.cascade
    naive_cpu, naive_bytes = _of(naive, "cpu_pct"), _of(naive, "bytes_per_s")
    sim_cpu = alone.sim_cpu_pct if alone else None
    load_after = os.getloadavg()[0]

    def fig(steady: Steady | None, name: str, spec: str = ".0f") -> str:
        return _fmt(_of(steady, name), spec)

    lines = [
        f"## liqtui in a {COLUMNS}x{LINES} terminal (`benchmarks/app.py`, {os.cpu_count()} cores, "
        f"load average {results.load_before:.2f} before and {load_after:.2f} after the run)",
        "",
        f"Steady state on the demo market (speed {args.speed or 1:g}, nothing pressed): {args.seconds:g} s "
        f"after {args.warmup:g} s of warm-up.",
        "",
        "| figure | app alone (`--sim`) | its simulator | app + sim (`--demo`) | naive plotext redraw, 2 Hz | target |",
        "|---|---|---|---|---|---|",
        f"| CPU, % of one core | {_pct(alone)} | {_fmt(sim_cpu, '.1f')} | {_pct(demo)} | {_pct(naive)} | ≤ 8 |",
        f"| of which the main thread (event loop) | {fig(alone, 'main_thread_cpu_pct', '.1f')} | - "
        f"| {fig(demo, 'main_thread_cpu_pct', '.1f')} | {fig(naive, 'main_thread_cpu_pct', '.1f')} | |",
        f"| written to the terminal, KB/s | {_kbs(alone)} | - | {_kbs(demo)} | {_kbs(naive)} | ≤ 40 |",
        f"| CPU, naive / this | {_ratio(_of(alone, 'cpu_pct'), naive_cpu)} | - "
        f"| {_ratio(_of(demo, 'cpu_pct'), naive_cpu)} | 1 | |",
        f"| bytes, naive / this | {_ratio(_of(alone, 'bytes_per_s'), naive_bytes)} | - "
        f"| {_ratio(_of(demo, 'bytes_per_s'), naive_bytes)} | 1 | |",
        f"| messages/s taken in (status line) | {fig(alone, 'msgs_per_s')} | - | {fig(demo, 'msgs_per_s')} | - | |",
        f"| resident memory, MiB | {fig(alone, 'rss_mib')} | - | {fig(demo, 'rss_mib')} | {fig(naive, 'rss_mib')} | |",
        "",
        f"Switching (`--sim`): {len(results.switches_calm)} keys in a calm market, then "
        f"{len(results.switches_cascade)} while the simulator shocks an asset by 4 % every "
        f"{SHOCK_EVERY_S:g} s.",
        "",
        "| figure | calm | during cascades | target |",
        "|---|---|---|---|",
        f"| key → new map on screen, ms (median / p90 / max) | {latency_words(results.switches_calm)} "
        f"| {latency_words(results.switches_cascade)} | ≤ 100 |",
        f"| bytes written per switch, KB (median) | {_median_bytes(results.switches_calm)} "
        f"| {_median_bytes(results.switches_cascade)} | |",
        f"| app CPU from key to new map, ms (mean) | {_mean_cpu(results.switches_calm)} "
        f"| {_mean_cpu(results.switches_cascade)} | |",
        f"| app CPU while switching, % of one core | {_pct(calm)} | {_pct(cascade)} | |",
        f"| written while switching, KB/s | {_kbs(calm)} | {_kbs(cascade)} | |",
        f"| simulator CPU, % of one core | {fig(calm, 'sim_cpu_pct', '.1f')} "
        f"| {fig(cascade, 'sim_cpu_pct', '.1f')} | |",
        f"| liquidations/s in the market (liquidated $/s) | {_liquidations(calm)} | {_liquidations(cascade)} | |",
        f"| messages/s taken in (status line) | {fig(calm, 'msgs_per_s')} | {fig(cascade, 'msgs_per_s')} | |",
        "",
        "| start → first filled map, s | runs | median | target |",
        "|---|---|---|---|",
        f"| `--sim`, empty state directory | {_starts(results.starts_cold)} "
        f"| {_median_start(results.starts_cold)} | ≤ 1.5 |",
        f"| `--sim`, state saved by the previous run | {_starts(_present(results.start_warm))} "
        f"| {_median_start(_present(results.start_warm))} | ≤ 1.5 |",
        f"| `--demo` (the simulator builds its history first) | {_starts(_present(results.start_demo))} "
        f"| {_median_start(_present(results.start_demo))} | |",
        "",
    ]
    screens = [s.screen_s for s in results.starts_cold if s.screen_s is not None]
    if screens:
        lines.append(
            f"- The screen opened (alternate screen) {' / '.join(f'{s:.2f}' for s in screens)} s after the "
            "fork in the cold runs: interpreter, imports, configuration, Textual's start."
        )
    lines.append(f"- The benchmark itself (pty readers, emulator) used {results.own_cpu_pct:.1f} % of one core.")
    if results.quit_s:
        lines.append(f"- `q` to the process gone: {' / '.join(f'{s:.2f}' for s in results.quit_s)} s.")
    for label, switches in (("calm", results.switches_calm), ("cascades", results.switches_cascade)):
        by_key: dict[str, list[float]] = {}
        for switch in switches:
            if switch.latency_s is not None:
                by_key.setdefault(switch.key, []).append(switch.latency_s * 1000)
        words = ", ".join(f"`{key}` {statistics.median(v):.0f} (n={len(v)})" for key, v in sorted(by_key.items()))
        lines.append(f"- Median switch latency by key, {label}, ms: {words}.")
    if results.unknown_sequences:
        lines.append(f"- Escape sequences the emulator did not know: {results.unknown_sequences}.")
    return "\n".join(lines)


def _mean_cpu(switches: Sequence[Switch]) -> str:
    times = [s.cpu_s * 1000 for s in switches if s.latency_s is not None]
    return f"{statistics.mean(times):.0f}" if times else "n/a"


def _liquidations(steady: Steady | None) -> str:
    if steady is None or steady.liquidations_per_s is None or steady.liquidated_usd_per_s is None:
        return "n/a"
    return f"{steady.liquidations_per_s:.1f} (${steady.liquidated_usd_per_s / 1000:,.0f}K)"


def _present(start: Start | None) -> list[Start]:
    return [start] if start is not None else []


def _median_start(starts: Sequence[Start]) -> str:
    times = [s.map_s for s in starts if s.map_s is not None]
    return f"{statistics.median(times):.2f}" if times else "n/a"


# ------------------------------------------------------------------------------------------------------------
# The simulator with shocks (`serve-sim`)


def serve_sim(seed: int, speed: float | None, scenario: str | None) -> int:
    """`liqtui sim` on a free loopback port, plus `shock ASSET FRACTION` and `stats` lines on stdin.

    Ends on SIGTERM, or when stdin closes (the benchmark is gone).
    """
    import asyncio
    from dataclasses import replace

    from liqtui.sim.contract import MarketStep
    from liqtui.sim.market import Market
    from liqtui.sim.server import SimServer, build_market
    from liqtui.sim.wire.base import WireConfig

    async def main() -> None:
        market = build_market(scenario, seed, speed)
        assert isinstance(market, Market)
        counts = [0, 0, 0.0]  # trades, liquidations, liquidated notional in USD since the start
        advance = market.advance

        def counted_advance(now_ms: int) -> MarketStep:
            step = advance(now_ms)
            counts[0] += sum(len(trades) for trades in step.trades.values())
            for liquidations in step.liquidations.values():
                counts[1] += len(liquidations)
                counts[2] += sum(liq.qty_base * liq.fill_px for liq in liquidations)
            return step

        # The server calls `market.advance` once per tick; counting there tells how strong a cascade was.
        setattr(market, "advance", counted_advance)  # noqa: B010 - an instance attribute over the method
        server = SimServer(market, replace(WireConfig(), seed=seed))
        await server.start("127.0.0.1", 0)
        print(f"liqtui sim listening on {server.url}", flush=True)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)

        def read_commands() -> None:
            for line in sys.stdin:
                words = line.split()
                if len(words) == 3 and words[0] == "shock":
                    loop.call_soon_threadsafe(market.shock, words[1], float(words[2]))
                elif words == ["stats"]:
                    print(f"stats {counts[0]} {counts[1]} {counts[2]:.0f}", flush=True)
            loop.call_soon_threadsafe(stop.set)  # stdin closed: the benchmark is gone

        threading.Thread(target=read_commands, name="commands", daemon=True).start()
        await stop.wait()
        await server.stop()

    asyncio.run(main())
    return 0


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve-sim":
        parser = argparse.ArgumentParser(prog="app.py serve-sim")
        parser.add_argument("serve_sim")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--speed", type=float, default=None)
        parser.add_argument("--scenario", default=None)
        sim_args = parser.parse_args()
        raise SystemExit(serve_sim(sim_args.seed, sim_args.speed, sim_args.scenario))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="steady window per app (default 30)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before a steady window (default 5)")
    parser.add_argument("--presses", type=int, default=20, help="switch keys per phase (default 20)")
    parser.add_argument("--starts", type=int, default=3, help="cold starts before the measured one (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="the simulator's seed (default 1)")
    parser.add_argument("--speed", type=float, default=None, help="the simulator's speed (default: its own, 1)")
    parser.add_argument("--scenario", default=None, help="a simulator scenario file for the --sim phases")
    parser.add_argument("--no-demo", action="store_true", help="skip the --demo phase")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    args = parser.parse_args()
    # SIGTERM ends the run like Ctrl-C does: through the `finally`s that stop the apps and the simulator.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    started = time.monotonic()
    results = run(args)
    print(report(results, args))
    print(f"\n(benchmark took {time.monotonic() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
