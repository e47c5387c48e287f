"""A local exchange WebSocket server for tests: Binance's combined streams, Coinbase Exchange's feed
or Kraken's v1 API on a free port of 127.0.0.1, accepting each exchange's subscription and sending
frames shaped as its documentation shows them (see the adapters in
`cryptoviz.scraper.sources.streams`), priced from the real minute history moved to the present.

"Now" maps to a minute inside the file (`history_days` after its start, as `LocalCoinGecko` does);
between two minutes the price moves linearly from one close to the next. Each connection gets one
frame per subscribed pair every `frame_interval_s`, dated now.

Switches: `drop()` (every open connection cut without a close frame), `silence()` / `resume()` (no
frame at all, heartbeats included, while the connection stays up and answers pings), `no_ticks()`
(no data frame, while Kraken's heartbeat goes on once a second; `resume()` ends it), `garbage(n)`
(the next n frames are bad: not JSON, not UTF-8, a wrong shape, a negative price, an unknown pair, a
price that is no number), `garbage_only(True)` (every frame bad), `refuse()` / `accept()` (the
handshake is answered 503), `reset()` (all off). Counters: `handshakes` (every attempt, refused
ones too), `connections`, `paths`, `subscribes`, `frames_sent`.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlparse

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from cryptoviz.scraper.sources.replay import HistoryRow, read_history
from cryptoviz.scraper.sources.streams import binance, coinbase, kraken
from cryptoviz.testing.coingecko import DAY_MS, MINUTE_MS, Series
from cryptoviz.testing.exchange_frames import (
    KRAKEN_FIRST_CHANNEL,
    binance_frame,
    coinbase_heartbeat,
    coinbase_ticker,
    kraken_ticker,
    kraken_trade,
    num,
)

EXCHANGES = ("binance", "coinbase", "kraken")
GARBAGE = ("not_json", "not_utf8", "wrong_shape", "negative_price", "unknown_pair", "bad_price")
UNKNOWN_PAIR = {"binance": "FOOUSDT", "coinbase": "FOO-USD", "kraken": "FOO/USD"}
SUBSCRIBE_WITHIN_S = 5.0  # Coinbase disconnects a client that has not subscribed by then


class LocalExchange:
    def __init__(
        self,
        exchange: str,
        files: Iterable[str],
        symbols: Iterable[str] | None = None,
        frame_interval_s: float = 0.05,
        history_days: float = 29.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if exchange not in EXCHANGES:
            raise ValueError(f"exchange: one of {', '.join(EXCHANGES)}")
        self.exchange = exchange
        by_symbol: dict[str, list[HistoryRow]] = {}
        for row in read_history(files, symbols):
            by_symbol.setdefault(row.symbol, []).append(row)
        self.series = {sym: Series(rows) for sym, rows in by_symbol.items()}
        first = min(s.ms[0] for s in self.series.values())
        self.clock = clock
        self.shift_ms = int(clock() * 1000) // MINUTE_MS * MINUTE_MS - (first + int(history_days * DAY_MS))
        self.frame_interval_s = frame_interval_s
        self.connections = 0
        self.handshakes = 0
        self.paths: list[str] = []
        self.subscribes: list[Any] = []
        self.frames_sent = 0
        self._silent = False
        self._tickless = False
        self._refusing = False
        self._garbage_left = 0
        self._garbage_always = False
        self._field_added = False
        self._garbage_kinds = itertools.cycle(GARBAGE)
        self._ids = itertools.count(1)
        self._open: set[ServerConnection] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"local-{exchange}", daemon=True)
        self._thread.start()
        self._server: Server = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        self.url = f"ws://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    # -- switches -------------------------------------------------------------------------------
    def drop(self) -> None:
        def cut() -> None:
            for ws in list(self._open):
                ws.transport.abort()

        self._loop.call_soon_threadsafe(cut)

    def silence(self) -> None:
        self._silent = True

    def no_ticks(self) -> None:
        self._tickless = True

    def resume(self) -> None:
        self._silent = self._tickless = False

    def garbage(self, n: int) -> None:
        self._garbage_left += n

    def garbage_only(self, on: bool = True) -> None:
        self._garbage_always = on

    def add_field(self, on: bool = True) -> None:
        """Data frames with a field the exchange's documented shape does not list (as when an
        exchange adds one): still valid, but no longer in the shape the typed decoders know."""
        self._field_added = on

    def refuse(self) -> None:
        self._refusing = True

    def accept(self) -> None:
        self._refusing = False

    def reset(self) -> None:
        """Every switch off: frames flow, handshakes are accepted, no garbage."""
        self._silent = self._tickless = self._refusing = self._garbage_always = self._field_added = False
        self._garbage_left = 0

    def close(self) -> None:
        async def shutdown() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    # -- prices ---------------------------------------------------------------------------------
    def price(self, symbol: str, now_s: float) -> float:
        """The price at real time `now_s`: between two minute closes, the line from one to the next."""
        series = self.series[symbol]
        file_ms = now_s * 1000 - self.shift_ms
        i = max(series.index_at(int(file_ms)), 0)
        if i + 1 >= len(series.ms):
            return series.price[i]
        frac = min(max((file_ms - series.ms[i]) / (series.ms[i + 1] - series.ms[i]), 0.0), 1.0)
        return series.price[i] + frac * (series.price[i + 1] - series.price[i])

    # -- serving --------------------------------------------------------------------------------
    async def _start(self) -> Server:
        return await serve(self._handle, "127.0.0.1", 0, process_request=self._process_request)

    def _process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        self.handshakes += 1
        if self._refusing:
            return ws.respond(503, "Service Unavailable\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        self._open.add(ws)
        path = ws.request.path if ws.request is not None else ""
        self.paths.append(path)
        try:
            if self.exchange == "binance":
                await self._binance(ws, path)
            elif self.exchange == "coinbase":
                await self._coinbase(ws)
            else:
                await self._kraken(ws)
        except ConnectionClosed:
            pass
        finally:
            self._open.discard(ws)

    async def _subscribe_message(self, ws: ServerConnection) -> dict | None:
        try:
            async with asyncio.timeout(SUBSCRIBE_WITHIN_S):
                raw = await ws.recv()
            body = orjson.loads(raw)
        except (TimeoutError, orjson.JSONDecodeError):
            return None
        self.subscribes.append(body)
        return body if isinstance(body, dict) else None

    async def _pace(
        self, ws: ServerConnection, frames: Callable[[float], list[str]], idle: str | None
    ) -> None:
        """Every frame_interval_s: the frames for now (or garbage in their place); `idle`, when given,
        about once a second while there is nothing else to send (Kraken's heartbeat)."""
        last_sent = time.monotonic()
        while True:
            if not self._silent:
                out = [] if self._tickless else frames(self.clock())
                if not out and idle is not None and time.monotonic() - last_sent >= 1.0:
                    out = [idle]
                for frame in out:
                    await ws.send(self._maybe_garbage(self._maybe_field_added(frame)))
                    self.frames_sent += 1
                    last_sent = time.monotonic()
            await asyncio.sleep(self.frame_interval_s)

    def _maybe_field_added(self, frame: str) -> str:
        if not self._field_added:
            return frame
        body = orjson.loads(frame)
        # Kraken's data frame is [channelID, payload, channel, pair]; Binance's wraps the event in "data"
        fields = body[1] if isinstance(body, list) else body.get("data", body)
        if isinstance(fields, dict):
            fields["added_by_the_exchange"] = 1
        return orjson.dumps(body).decode()

    def _maybe_garbage(self, frame: str) -> str | bytes:
        if not self._garbage_always and self._garbage_left <= 0:
            return frame
        self._garbage_left = max(0, self._garbage_left - 1)
        return self.bad_frame(next(self._garbage_kinds))

    def bad_frame(self, kind: str) -> str | bytes:
        """One bad frame of a kind in GARBAGE, in the exchange's shape where it has one."""
        now = self.clock()
        if kind == "not_json":
            return "}{ not json"
        if kind == "not_utf8":
            return b"\xff\xfe\x00garbage"
        if kind == "wrong_shape":
            return '{"unexpected": true}'
        pairs = {"binance": binance.PAIRS, "coinbase": coinbase.PAIRS}.get(self.exchange, kraken.PAIRS)
        symbol = min(s for s in self.series if s in pairs)
        if kind == "negative_price":
            return self.frame(symbol, -1.0, now)
        if kind == "unknown_pair":
            return self.frame(symbol, 1.0, now, pair=UNKNOWN_PAIR[self.exchange])
        return self.frame(symbol, 1.0, now, text="not-a-price")

    # -- each exchange's frames -----------------------------------------------------------------
    def frame(
        self, symbol: str, price: float, now: float, pair: str | None = None, text: str | None = None
    ) -> str:
        """One data frame of `symbol` at `price` (written as `text` when given), dated `now`."""
        ms, ident = int(now * 1000), next(self._ids)
        body: object
        if self.exchange == "binance":
            body = binance_frame(pair or binance.PAIRS[symbol], "trade", text or num(price), ms, ident)
        elif self.exchange == "coinbase":
            body = coinbase_ticker(pair or coinbase.PAIRS[symbol], text or num(price), ms, ident)
        else:
            body = kraken_ticker(KRAKEN_FIRST_CHANNEL, pair or kraken.PAIRS[symbol], text or num(price, 5))
        return orjson.dumps(body).decode()

    async def _binance(self, ws: ServerConnection, path: str) -> None:
        """Streams named in the path; a stream of a pair without history sends nothing."""
        names = parse_qs(urlparse(path).query).get("streams", [""])[0].split("/")
        by_pair = {pair.lower(): sym for sym, pair in binance.PAIRS.items() if sym in self.series}
        wanted = [(by_pair[p], kind) for p, _, kind in (n.partition("@") for n in names) if p in by_pair]

        def frames(now: float) -> list[str]:
            ms = int(now * 1000)
            return [
                orjson.dumps(
                    binance_frame(binance.PAIRS[s], kind, num(self.price(s, now)), ms, next(self._ids))
                ).decode()
                for s, kind in wanted
            ]

        await self._pace(ws, frames, None)

    async def _coinbase(self, ws: ServerConnection) -> None:
        """A subscribe message naming a product without history is answered with an error per such
        product and otherwise ignored, its valid products too, as the feed does; the client may
        send another within SUBSCRIBE_WITHIN_S."""
        by_pair = {pair: sym for sym, pair in coinbase.PAIRS.items() if sym in self.series}
        while True:
            body = await self._subscribe_message(ws)
            if body is None or body.get("type") != "subscribe":
                error = {"type": "error", "message": "Failed to subscribe", "reason": "no subscribe in time"}
                await ws.send(orjson.dumps(error).decode())
                return
            products = [p for p in body.get("product_ids", []) if isinstance(p, str)]
            channels = [c if isinstance(c, str) else c.get("name") for c in body.get("channels", [])]
            invalid = [p for p in products if p not in by_pair]
            if not invalid:
                break
            for p in invalid:
                error = {
                    "type": "error",
                    "message": "Failed to subscribe",
                    "reason": f"{p} is not a valid product",
                }
                await ws.send(orjson.dumps(error).decode())
        known = products
        listing = {"type": "subscriptions", "channels": [{"name": c, "product_ids": known} for c in channels]}
        await ws.send(orjson.dumps(listing).decode())
        beat = [0.0]

        def frames(now: float) -> list[str]:
            ms = int(now * 1000)
            out = []
            if "ticker" in channels:
                out = [
                    orjson.dumps(coinbase_ticker(p, num(self.price(by_pair[p], now)), ms, next(self._ids)))
                    for p in known
                ]
            if "heartbeat" in channels and now - beat[0] >= 1.0:
                beat[0] = now
                out += [orjson.dumps(coinbase_heartbeat(p, ms, next(self._ids))) for p in known]
            return [f.decode() for f in out]

        await self._pace(ws, frames, None)

    async def _kraken(self, ws: ServerConnection) -> None:
        status = {
            "connectionID": 8628615390848610000,
            "event": "systemStatus",
            "status": "online",
            "version": "1.9.6",
        }
        await ws.send(orjson.dumps(status).decode())
        body = await self._subscribe_message(ws)
        channel_ids: dict[str, int] = {}
        by_pair = {pair: sym for sym, pair in kraken.PAIRS.items() if sym in self.series}
        name = (body or {}).get("subscription", {}).get("name", "ticker")
        for pair in (body or {}).get("pair", []):
            answer: dict[str, Any] = {
                "event": "subscriptionStatus",
                "pair": pair,
                "subscription": {"name": name},
            }
            if pair in by_pair:
                channel_ids[pair] = KRAKEN_FIRST_CHANNEL + len(channel_ids)
                answer |= {"channelID": channel_ids[pair], "channelName": name, "status": "subscribed"}
            else:
                answer |= {"status": "error", "errorMessage": f"Currency pair not supported {pair}"}
            await ws.send(orjson.dumps(answer).decode())

        def frames(now: float) -> list[str]:
            out: list[object] = []
            for pair, cid in channel_ids.items():
                price = num(self.price(by_pair[pair], now), 5)
                if name == "trade":
                    out.append(kraken_trade(cid, pair, price, now))
                else:
                    out.append(kraken_ticker(cid, pair, price))
            return [orjson.dumps(f).decode() for f in out]

        await self._pace(ws, frames, '{"event":"heartbeat"}')
