"""Exchange streams against a local WebSocket server serving real minute history moved to the present
(`cryptoviz.testing.exchange_ws`), each exchange's frames as it documents them: subscription,
throttling to one quote per coin per interval, reconnecting after a drop and after a silent stall,
garbage counted by reason without a crash, and failover from one exchange to the next and back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from itertools import groupby, pairwise

import orjson
import pytest

from cryptoviz.retry import Backoff
from cryptoviz.schema import Quote
from cryptoviz.scraper.sources.streams import adapter
from cryptoviz.scraper.sources.streams.connection import LIVE, StreamConnection, StreamRunner
from cryptoviz.scraper.sources.streams.failover import Failover, FailoverSink
from cryptoviz.scraper.sources.streams.limits import ConnectLimit
from cryptoviz.settings import MINUTES_2026
from cryptoviz.testing.exchange_ws import LocalExchange
from cryptoviz.testing.harness import wait_for

HISTORY = ["BTC", "ETH", "SOL", "XRP", "BNB"]  # the minute file's coins
COINS = [*HISTORY, "DOGE"]  # DOGE: listed by every exchange here, but without history on the server
LISTED = {"binance": set(HISTORY), "coinbase": set(HISTORY) - {"BNB"}, "kraken": set(HISTORY) - {"BNB"}}
FAST = Backoff(base_s=0.1, cap_s=0.5)


@pytest.fixture(scope="module")
def exchanges() -> Iterator[dict[str, LocalExchange]]:
    servers = {name: LocalExchange(name, [MINUTES_2026], HISTORY, frame_interval_s=0.02) for name in LISTED}
    yield servers
    for server in servers.values():
        server.close()


@pytest.fixture
def local(exchanges: dict[str, LocalExchange]) -> Iterator[dict[str, LocalExchange]]:
    for server in exchanges.values():
        server.reset()
    yield exchanges
    for server in exchanges.values():
        server.reset()


def stream(
    server: LocalExchange, sink, quote_interval_ms: float = 100, stall_s: float = 1.0
) -> StreamConnection:
    return StreamConnection(
        adapter(server.exchange),
        server.url,
        COINS,
        sink,
        quote_interval_ms=quote_interval_ms,
        stall_s=stall_s,
        backoff=FAST,
    )


def by_coin(quotes: list[Quote]) -> dict[str, list[Quote]]:
    out: dict[str, list[Quote]] = {}
    for q in list(quotes):
        out.setdefault(q.symbol, []).append(q)
    return out


def strictly_later(quotes: list[Quote]) -> bool:
    """Each coin's quotes in strictly increasing event time: no duplicate, no step back."""
    return all(all(a.source_ts < b.source_ts for a, b in pairwise(qs)) for qs in by_coin(quotes).values())


@pytest.mark.parametrize("name", ["binance", "coinbase", "kraken"])
def test_each_exchange_is_subscribed_and_quotes_every_coin_it_lists(local, name):
    server, quotes = local[name], []
    conn = stream(server, quotes.append)
    with StreamRunner([conn]):
        wait_for(lambda: set(by_coin(quotes)) >= LISTED[name], 20, f"a quote of every coin {name} lists")
        if name != "binance":  # Binance's streams are named in the URL; the others subscribe by message
            wait_for(
                lambda: conn.stats.unlisted == {"DOGE"}, 10, "DOGE refused: the server has no history of it"
            )
    if name == "binance":
        assert "dogeusdt@trade" in server.paths[-1] and "btcusdt@trade" in server.paths[-1]
    elif name == "coinbase":  # the feed ignored the subscription naming DOGE: asked again without it
        asked = [orjson.loads(adapter(name).subscribe(coins)[0]) for coins in (COINS, HISTORY)]
        assert server.subscribes[-2:] == asked
        assert conn.stats.resubscribes == 1
    else:
        assert server.subscribes[-1] == orjson.loads(adapter(name).subscribe(COINS)[0])
        assert conn.stats.resubscribes == 0
    assert {q.source for q in quotes} == {name}
    assert all(q.source_ts.utcoffset() == timedelta(0) for q in quotes)  # UTC, zone-aware
    assert conn.stats.rejects == {} and conn.stats.connects == 1 and conn.stats.quotes >= len(quotes)
    assert conn.stats.untyped == 0  # the documented shape: every frame read by the typed decoder
    assert strictly_later(quotes)


@pytest.mark.parametrize("name", ["binance", "coinbase", "kraken"])
def test_frames_with_a_field_the_exchange_added_are_still_read_and_counted(local, name):
    server, quotes = local[name], []
    conn = stream(server, quotes.append)
    with StreamRunner([conn]):
        wait_for(lambda: conn.stats.state == LIVE, 20, "live")
        server.add_field()
        wait_for(lambda: conn.stats.untyped > 0, 20, "a frame with the added field")
        before = len(quotes)
        wait_for(lambda: len(quotes) > before + 2, 20, "quotes from such frames")
    assert conn.stats.rejects == {} and conn.stats.connects == 1


def test_at_most_one_quote_per_coin_per_interval_the_latest(local):
    server, quotes = local["binance"], []
    interval_s = 0.25
    conn = stream(server, quotes.append, quote_interval_ms=interval_s * 1000)
    started = time.monotonic()
    with StreamRunner([conn]):
        wait_for(
            lambda: min((len(v) for v in by_coin(quotes).values()), default=0) >= 8, 30, "8 quotes a coin"
        )
        counts = {coin: len(qs) for coin, qs in by_coin(quotes).items()}  # taken before the time
        elapsed = time.monotonic() - started
        ticks = conn.stats.ticks
    assert max(counts.values()) <= elapsed / interval_s + 1  # never more than one an interval
    assert ticks >= 2 * sum(counts.values())  # frames came 50 a second a coin; few became quotes
    assert strictly_later(quotes)


def test_reconnects_after_the_server_drops_the_connection(local):
    server, quotes = local["coinbase"], []
    conn = stream(server, quotes.append)
    with StreamRunner([conn]):
        wait_for(lambda: conn.stats.state == LIVE, 20, "live")
        server.drop()
        wait_for(lambda: conn.stats.reconnects >= 1, 20, "a reconnect after the drop")
        before = len(quotes)
        wait_for(lambda: conn.stats.state == LIVE and len(quotes) > before + 4, 20, "quotes again")
    assert conn.stats.connects >= 2 and conn.stats.last_error is not None
    assert len(server.subscribes) >= 2  # subscribed again on the new connection
    # ...without DOGE, which the first connection's subscription was refused for
    assert server.subscribes[-1] == orjson.loads(adapter("coinbase").subscribe(HISTORY)[0])
    assert conn.stats.resubscribes == 1
    assert strictly_later(quotes)


def test_reconnects_keep_the_exchange_connection_limit(local):
    """Every handshake refused: the backoff alone would try again every 0.1-0.5 s; with a limit of 3
    attempts in 10 minutes the fourth waits for the window, counted, and a stop ends the wait."""
    server, quotes = local["binance"], []
    server.refuse()
    handshakes, connections = server.handshakes, server.connections
    limit = ConnectLimit(3, 600.0)
    conn = StreamConnection(
        adapter("binance"), server.url, COINS, quotes.append, backoff=FAST, connect_limit=limit
    )
    runner = StreamRunner([conn]).start()
    try:
        wait_for(lambda: conn.stats.limit_waits == 1, 20, "a reconnect waiting for the connection limit")
        assert server.handshakes - handshakes == 3 and conn.stats.state == "down"
    finally:
        runner.stop()
    assert not runner._thread.is_alive(), "the stop ended the wait"
    assert server.handshakes - handshakes == 3 and server.connections == connections and not quotes


def test_a_silent_stall_is_detected_and_reconnected(local):
    server, quotes = local["kraken"], []
    conn = stream(server, quotes.append, stall_s=1.0)
    with StreamRunner([conn]):
        wait_for(lambda: conn.stats.state == LIVE, 20, "live")
        server.silence()  # the connection stays up and answers pings; no frame comes
        wait_for(lambda: conn.stats.stalls >= 1, 20, "the stall detected")
        assert conn.stats.state != LIVE and conn.stats.last_error == "stalled"
        server.resume()
        before = len(quotes)
        wait_for(lambda: conn.stats.state == LIVE and len(quotes) > before, 20, "live again")
    assert conn.stats.connects >= 2 and conn.stats.reconnects >= 1


def test_a_feed_whose_ticks_stop_while_its_heartbeats_go_on_is_reconnected(local):
    """Kraken sends a heartbeat a second while it has no data: a connection kept alive by them,
    its data gone, is taken for stalled after TICKLESS_STALLS stall times, and connected again."""
    server, quotes = local["kraken"], []
    conn = stream(server, quotes.append, stall_s=2.0)  # twice the heartbeat's interval
    with StreamRunner([conn]):
        wait_for(lambda: conn.stats.state == LIVE, 20, "live")
        beats = conn.stats.controls
        server.no_ticks()
        wait_for(lambda: conn.stats.stalls >= 1, 30, "the tickless connection taken for stalled")
        assert conn.stats.controls > beats, "heartbeats came meanwhile"
        server.resume()
        before = len(quotes)
        wait_for(lambda: conn.stats.state == LIVE and len(quotes) > before, 20, "live again")
    assert conn.stats.connects >= 2


def test_garbage_frames_are_counted_by_reason_and_the_stream_goes_on(local):
    server, quotes = local["binance"], []
    conn = stream(server, quotes.append)
    with StreamRunner([conn]):
        wait_for(lambda: conn.stats.state == LIVE, 20, "live")
        server.garbage(12)  # two of each kind
        wait_for(lambda: sum(conn.stats.rejects.values()) >= 12, 20, "every bad frame counted")
        before = len(quotes)
        wait_for(lambda: len(quotes) > before + 4, 20, "quotes after the garbage")
        assert conn.stats.state == LIVE and conn.stats.connects == 1
    assert conn.stats.rejects == {
        "bad_json": 4,  # not JSON, not UTF-8
        "unexpected_frame": 2,
        "price_not_positive": 2,  # the contract's reason
        "unknown_pair": 2,
        "bad_price": 2,
    }


def test_a_stream_of_only_garbage_counts_as_stalled(local):
    server, quotes = local["coinbase"], []
    conn = stream(server, quotes.append, stall_s=1.0)
    with StreamRunner([conn]):
        wait_for(lambda: conn.stats.state == LIVE, 20, "live")
        server.garbage_only(True)
        wait_for(lambda: conn.stats.stalls >= 1, 20, "the garbage stream seen as stalled")
        server.garbage_only(False)
        wait_for(lambda: conn.stats.state == LIVE, 20, "live again")
    assert sum(conn.stats.rejects.values()) > 0


def test_failover_to_the_next_source_and_back(local):
    """BTC from Binance; Binance goes silent, then Coinbase supplies it; Binance answers again and
    takes it back; Binance drops and refuses connections, Coinbase again; and back. Every coin's
    quotes stay in strictly increasing event time across the handovers."""
    primary, secondary = local["binance"], local["coinbase"]
    passed: list[Quote] = []
    holder: dict[str, FailoverSink] = {}
    conns = [stream(s, lambda q: holder["sink"](q)) for s in (primary, secondary)]
    runner = StreamRunner(conns)
    holder["sink"] = FailoverSink(
        Failover(("binance", "coinbase")), runner.views, passed.append, time.monotonic
    )

    def btc_from(source: str, after: int) -> bool:
        return any(q.symbol == "BTC" and q.source == source for q in passed[after:])

    with runner:
        wait_for(lambda: btc_from("binance", 0), 20, "BTC from binance")
        primary.silence()
        mark = len(passed)
        wait_for(lambda: btc_from("coinbase", mark), 20, "BTC from coinbase while binance is silent")
        primary.resume()
        mark = len(passed)
        wait_for(lambda: btc_from("binance", mark), 20, "BTC given back to binance")
        primary.refuse()
        primary.drop()
        mark = len(passed)
        wait_for(lambda: btc_from("coinbase", mark), 20, "BTC from coinbase while binance is down")
        primary.accept()
        mark = len(passed)
        wait_for(lambda: btc_from("binance", mark), 20, "BTC back to binance")
    btc = [q.source for q in passed if q.symbol == "BTC"]
    assert [k for k, _ in groupby(btc)] == ["binance", "coinbase", "binance", "coinbase", "binance"]
    assert {q.source for q in passed if q.symbol == "BNB"} == {"binance"}  # coinbase lists no BNB
    assert strictly_later(passed)
    assert holder["sink"].counts["handovers"] >= 4
