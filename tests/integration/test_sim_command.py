"""`liqtui sim` as a user runs it: a real subprocess, its first line, its status page, SIGTERM, the exit code."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

FIRST_LINE = "liqtui sim listening on http://"


@contextlib.asynccontextmanager
async def liqtui_sim(*args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m liqtui sim ARGS`, killed if the test leaves it running."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "liqtui",
        "sim",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def quick_scenario(tmp_path: Path) -> str:
    path = tmp_path / "quick.toml"
    path.write_text("history_hours = 0.25\n")
    return str(path)


async def test_sim_serves_until_sigterm_and_exits_0(tmp_path: Path) -> None:
    async with liqtui_sim("--port", "0", "--seed", "3", "--scenario", quick_scenario(tmp_path)) as process:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert line.startswith(FIRST_LINE) and line.endswith("\n")
        url = line.strip().rsplit(" ", 1)[1]
        host, port = url.removeprefix("http://").rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
        async with (
            aiohttp.ClientSession(trust_env=False) as session,
            session.get(url + "/sim/status", timeout=aiohttp.ClientTimeout(total=5)) as response,
        ):
            assert response.status == 200
            assert "binance:BTCUSDT" in (await response.json())["instruments"]
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0


async def test_bad_scenario_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("histori_hours = 1\n")
    async with liqtui_sim("--scenario", str(bad)) as process:
        out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2 and out == b""
    message = err.decode().strip()
    assert "\n" not in message and "histori_hours" in message


async def test_port_in_use_is_one_sentence_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with liqtui_sim("--port", str(port), "--scenario", quick_scenario(tmp_path)) as process:
            out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1 and out == b""
    message = err.decode().strip()
    assert "\n" not in message and "already in use" in message
