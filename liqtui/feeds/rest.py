"""`RestClient`: GET requests to one exchange's public REST API, polite and persistent.

- 429 (rate limited) and 418 (Binance's ban after ignoring 429s): wait at least `Retry-After`, back off, retry.
- 5xx, timeouts and connection errors: back off and retry, up to `attempts`.
- 451 (a restricted region) cannot get better by retrying: one clear `FeedError` at once.
- Other 4xx (an invalid symbol, say): the body is returned, since it carries the exchange's own words, which the
  parser turns into a notice.

Every body received is handed to the recorder with its full URL, so a recording replays REST as well as websockets.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import aiohttp

from liqtui.errors import FeedError
from liqtui.model.types import Exchange

if TYPE_CHECKING:
    from liqtui.model.store import FeedStatus
    from liqtui.record import Recorder

log = logging.getLogger("liqtui.rest")

RETRY_STATUSES = frozenset({418, 429, 500, 502, 503, 504})


class RestClient:
    """One exchange's REST base URL, with retries, backoff, status reporting and recording."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        exchange: Exchange,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        attempts: int = 4,
        min_delay_s: float = 0.5,
        max_delay_s: float = 30.0,
        recorder: Recorder | None = None,
        status: FeedStatus | None = None,
    ) -> None:
        self.session = session
        self.exchange = exchange
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.attempts = attempts
        self.min_delay_s = min_delay_s
        self.max_delay_s = max_delay_s
        self.recorder = recorder
        self.status = status
        self._rng = random.Random()

    def url(self, path: str, params: Mapping[str, str | int | float] | None = None) -> str:
        """The full URL of a request, as recorded."""
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.base_url}{path}{query}"

    async def get(
        self, path: str, params: Mapping[str, str | int | float] | None = None, *, attempts: int | None = None
    ) -> tuple[str, bytes, int]:
        """GET `path` and return (full URL, body, HTTP status); raise `FeedError` once retrying has failed."""
        url = self.url(path, params)
        tries = attempts or self.attempts
        problem = ""
        for attempt in range(tries):
            retry_after = 0.0
            try:
                async with self.session.get(url, timeout=self.timeout) as response:
                    body = await response.read()
                    status = response.status
                    retry_after = _retry_after_s(response.headers.get("Retry-After"))
            except (aiohttp.ClientError, TimeoutError) as error:
                problem = _describe(error)
            else:
                if status == 451:
                    raise FeedError(
                        f"{self.exchange.value} refuses requests from this region (HTTP 451 for {path}); "
                        "its public data is not available here."
                    )
                if status not in RETRY_STATUSES:
                    if self.recorder is not None:
                        self.recorder.write(self.exchange.value, url, body.decode("utf-8", errors="replace"))
                    self._note("")
                    return url, body, status
                problem = f"HTTP {status}" + (" (rate limited)" if status in (418, 429) else "")
            self._note(f"{self.exchange.value} REST {path}: {problem}")
            if attempt + 1 < tries:
                window = min(self.max_delay_s, self.min_delay_s * 2.0**attempt)
                delay = max(retry_after, window / 2 + self._rng.uniform(0, window / 2))
                log.warning("%s REST %s: %s; retrying in %.1f s", self.exchange.value, path, problem, delay)
                await asyncio.sleep(delay)
        raise FeedError(f"{self.exchange.value} REST {path} failed {tries} times; last: {problem}.")

    def _note(self, problem: str) -> None:
        if self.status is not None:
            self.status.rest_error = problem


def _retry_after_s(value: str | None) -> float:
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        return 0.0


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"cannot connect ({error.os_error.strerror or error.os_error})"
    return f"{type(error).__name__}: {error}"
