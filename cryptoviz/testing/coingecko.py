"""A local CoinGecko for tests and benches: real minute history moved to the present, served in the
shapes CoinGecko's v3 documentation gives, on a free port of 127.0.0.1.

"Now" maps to a minute inside the file (by default 29 days after its start, so that up to 29 days of
history lie behind it) and advances one file minute per real minute, so that no quote is dated after
the clock. Endpoints:

- `/api/v3/ping`: `{"gecko_says": "(V3) To the Moon!"}`
- `/api/v3/coins/markets?vs_currency=usd&ids=...`: a list of objects with `id`, `symbol`,
  `current_price`, `market_cap` (null: the file has none), `total_volume` (the last 24 h of quote
  volume), `price_change_percentage_24h` and `last_updated` (ISO, `Z`)
- `/api/v3/coins/{id}/market_chart?vs_currency=usd&days=N`: `prices`, `market_caps`,
  `total_volumes` as `[ms, value]`, 5-minute points for one day, hourly points for 2-90 days, the
  latest minute last

Switches: `down()` / `up()` (every call answers 503 while down), `storm(n, retry_after_s)` (the
next n calls answer 429 with Retry-After). `calls` counts the answered requests by endpoint.
"""

from __future__ import annotations

import bisect
import http.server
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

from cryptoviz.coins import BY_COINGECKO_ID
from cryptoviz.scraper.sources.replay import HistoryRow, read_history
from cryptoviz.testing.doubles import send_json

MINUTE_MS = 60_000
DAY_MS = 86_400_000


class Series:
    """One coin's minutes: times (ms, file time), closes and cumulative quote volumes, sorted."""

    def __init__(self, rows: list[HistoryRow]) -> None:
        self.ms = [int(r.ts.timestamp() * 1000) for r in rows]
        self.price = [r.price for r in rows]
        self.cum_volume = [0.0]  # quote volume up to each minute, for any window's sum
        for r in rows:
            self.cum_volume.append(self.cum_volume[-1] + r.quote_volume)

    def index_at(self, ms: int) -> int:
        """The last minute at or before `ms` (-1: none)."""
        return bisect.bisect_right(self.ms, ms) - 1

    def volume_24h(self, i: int) -> float:
        lo = bisect.bisect_right(self.ms, self.ms[i] - DAY_MS)
        return self.cum_volume[i + 1] - self.cum_volume[lo]


class LocalCoinGecko:
    def __init__(
        self,
        files: Iterable[str],
        symbols: Iterable[str] | None = None,
        history_days: float = 29.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        by_symbol: dict[str, list[HistoryRow]] = {}
        for row in read_history(files, symbols):
            by_symbol.setdefault(row.symbol, []).append(row)
        self.series = {sym: Series(rows) for sym, rows in by_symbol.items()}
        first = min(s.ms[0] for s in self.series.values())
        self.clock = clock
        now_ms = int(clock() * 1000) // MINUTE_MS * MINUTE_MS
        # file time = real time - shift: real now is `history_days` into the file
        self.shift_ms = now_ms - (first + int(history_days * DAY_MS))
        self.calls: Counter[str] = Counter()
        self._down = False
        self._storm: list[float] = []  # Retry-After of each 429 still to answer
        self._lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v3"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # -- switches -------------------------------------------------------------------------------
    def down(self) -> None:
        self._down = True

    def up(self) -> None:
        self._down = False

    def storm(self, n: int, retry_after_s: float = 1.0) -> None:
        with self._lock:
            self._storm.extend([retry_after_s] * n)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- answers --------------------------------------------------------------------------------
    def file_now_ms(self) -> int:
        return int(self.clock() * 1000) - self.shift_ms

    def real_time(self, file_ms: int) -> datetime:
        return datetime.fromtimestamp((file_ms + self.shift_ms) / 1000, UTC)

    def markets(self, ids: list[str]) -> list[dict]:
        out = []
        now = self.file_now_ms()
        for ident in ids:
            coin = BY_COINGECKO_ID.get(ident)
            series = self.series.get(coin.symbol) if coin else None
            i = series.index_at(now) if series else -1
            if coin is None or series is None or i < 0:
                continue
            before = series.index_at(series.ms[i] - DAY_MS)
            change = (series.price[i] / series.price[before] - 1) * 100 if before >= 0 else None
            updated = self.real_time(series.ms[i])
            out.append(
                {
                    "id": ident,
                    "symbol": coin.symbol.lower(),
                    "name": ident.title(),
                    "current_price": series.price[i],
                    "market_cap": None,
                    "total_volume": series.volume_24h(i),
                    "price_change_percentage_24h": change,
                    "last_updated": updated.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                }
            )
        return out

    def market_chart(self, symbol: str, days: float) -> dict:
        series = self.series[symbol]
        now = self.file_now_ms()
        last = series.index_at(now)
        step = 5 * MINUTE_MS if days <= 1 else 60 * MINUTE_MS
        since = now - int(days * DAY_MS)
        first = series.index_at(since) + 1
        picked = [i for i in range(first, last) if (series.ms[i] + self.shift_ms) % step == 0]
        if last >= 0:
            picked.append(last)
        points = [(series.ms[i] + self.shift_ms, i) for i in picked]
        return {
            "prices": [[ms, series.price[i]] for ms, i in points],
            "market_caps": [[ms, None] for ms, _ in points],
            "total_volumes": [[ms, series.volume_24h(i)] for ms, i in points],
        }

    def _answer(self, url: str) -> tuple[int, dict[str, str], object]:
        parsed = urlparse(url)
        path = parsed.path.removeprefix("/api/v3")
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        endpoint = "market_chart" if path.endswith("/market_chart") else path.strip("/")
        with self._lock:
            self.calls[endpoint] += 1
            storm = self._storm.pop(0) if self._storm else None
        if self._down:
            return 503, {}, {"error": "service unavailable"}
        if storm is not None:
            body = {"status": {"error_code": 429, "error_message": "You've exceeded the Rate Limit."}}
            return 429, {"Retry-After": f"{storm:g}"}, body
        if path == "/ping":
            return 200, {}, {"gecko_says": "(V3) To the Moon!"}
        if path == "/coins/markets":
            return 200, {}, self.markets(query.get("ids", "").split(","))
        if endpoint == "market_chart":
            coin = BY_COINGECKO_ID.get(path.split("/")[2])
            if coin is None or coin.symbol not in self.series:
                return 404, {}, {"error": "coin not found"}
            return 200, {}, self.market_chart(coin.symbol, float(query.get("days", "1")))
        return 404, {}, {"error": "not found"}

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, headers, body = outer._answer(self.path)
                send_json(self, status, headers, json.dumps(body).encode())

            def log_message(self, *args: object) -> None:
                pass

        return Handler
