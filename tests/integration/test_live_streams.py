"""The live platform on exchange streams, as a user with internet meets it: the real scraper against
local Binance, Coinbase and Kraken WebSocket servers and a local CoinGecko, all serving the real
minute history moved to the present, the real ML processor beside it, the real broker and Redis,
then the lake job over what was published. The warm start's history first, then each coin's price
from the first live stream (CoinGecko adding market cap and volume); Binance going silent hands its
coins to Coinbase, and they come back when it answers again; the models predict from the streamed
quotes, and the lake holds every published quote once."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from itertools import groupby, pairwise
from pathlib import Path

import orjson
import pytest

from cryptoviz import bus, names
from cryptoviz.settings import MINUTES_2026
from cryptoviz.testing.coingecko import LocalCoinGecko
from cryptoviz.testing.exchange_ws import EXCHANGES, LocalExchange
from cryptoviz.testing.harness import RealServers, wait_for

from .test_live import heartbeat, lake_rows, scraper_counter, start, stop

COINS = ["BTC", "ETH", "SOL", "XRP", "BNB"]  # the minute file's coins; Coinbase and Kraken list no BNB
STREAMED = {"binance", "coinbase", "kraken"}


@pytest.fixture
def real() -> Iterator[RealServers]:
    with RealServers() as servers:
        yield servers


@pytest.fixture
def local() -> Iterator[tuple[LocalCoinGecko, dict[str, LocalExchange]]]:
    gecko = LocalCoinGecko([MINUTES_2026], COINS)
    exchanges = {
        name: LocalExchange(name, [MINUTES_2026], COINS, frame_interval_s=0.05) for name in EXCHANGES
    }
    yield gecko, exchanges
    for server in exchanges.values():
        server.close()
    gecko.close()


def topic_records(bootstrap: str, topic: str) -> list[tuple[str, dict]]:
    """(key, quote) of every message of the topic, in each partition's order; each quote carries
    where it was read (`_at`: partition/offset) for the failure messages."""
    expected = bus.topic_message_counts(bootstrap)[topic]
    consumer = bus.consumer(bootstrap, topic, group_id=None)
    out: list[tuple[str, dict]] = []

    def read() -> bool:
        for records in consumer.poll(timeout_ms=500, max_records=50_000).values():
            out.extend(
                (r.key.decode(), orjson.loads(r.value) | {"_at": f"{r.partition}/{r.offset}"})
                for r in records
            )
        return len(out) >= expected

    wait_for(read, timeout=60, what=f"the {expected} messages of {topic}", every=0)
    consumer.close()
    return out


def gauges(client) -> dict:
    return heartbeat(client, "scraper").get("gauges", {})


def supplies(client, source: str, coin: str) -> bool:
    g = gauges(client)
    return g.get(f"stream.{source}.state") == "live" and coin in str(g.get(f"stream.{source}.coins", ""))


def scraper_env(real: RealServers, gecko: LocalCoinGecko, exchanges: dict[str, LocalExchange]) -> dict:
    env = real.env() | {
        "COINS": ",".join(COINS),
        "HEARTBEAT_INTERVAL_S": "0.5",
        "METRICS_PORT": "",
        "SCRAPER_SOURCE": "live",
        "COINGECKO_BASE_URL": gecko.url,
        "COINGECKO_API_KEY": "demo-key-of-the-test",
        "SCRAPE_INTERVAL_S": "2",
        "BACKFILL_DAYS": "2",
        "STREAM_SOURCES": "binance,coinbase,kraken",
        "STREAM_QUOTE_INTERVAL_MS": "250",
        "STREAM_STALL_S": "2",
    }
    return env | {f"{name.upper()}_WS_URL": server.url for name, server in exchanges.items()}


def ml_index(client) -> dict[str, float]:
    """Each coin's latest prediction: the event time (epoch s) of the quote it was made at."""
    return {m.decode(): score for m, score in client.zrange(names.ML_INDEX, 0, -1, withscores=True)}


def predicted_since(client, since: float) -> dict[str, float] | None:
    """The ML index once every coin has a prediction at a quote dated after `since`."""
    index = ml_index(client)
    return index if all(index.get(c, 0.0) > since for c in COINS) else None


@pytest.mark.spark
def test_live_mode_on_the_streams_fails_over_and_feeds_the_models_and_the_lake(real, local, tmp_path):
    gecko, exchanges = local
    client = real.redis_client()
    ml = start("ml-processor", real.env() | {"COINS": ",".join(COINS), "METRICS_PORT": ""})
    scraper = start("scraper", scraper_env(real, gecko, exchanges))
    try:
        wait_for(lambda: supplies(client, "binance", "BTC"), 60, "binance supplying BTC")
        wait_for(
            lambda: all(supplies(client, "binance", c) for c in COINS), 30, "binance supplying every coin"
        )
        live_at = time.time()
        g = gauges(client)
        assert g["stream.coinbase.state"] == g["stream.kraken.state"] == "live"  # standing by
        assert g["stream.binance.frames_per_s"] > 0 and g["stream.binance.last_frame_age_s"] < 5
        wait_for(lambda: gecko.calls["coins/markets"] >= 2, 30, "CoinGecko polled beside the streams")
        fail_over_and_back(client, exchanges["binance"])
        predicted = wait_for(lambda: predicted_since(client, live_at), 60, "predictions from the streams")
    finally:
        err = stop(scraper)
    assert "Traceback" not in err and "stream_internal_error" not in err, err[-3000:]
    beat = heartbeat(client, "scraper")
    assert beat["counters"]["stream_handovers"] >= 2 and beat["counters"].get("stream_dropped", 0) == 0
    assert beat["counters"]["stream_frames.binance"] > 0 and "stream.kraken.quotes_per_s" in beat["gauges"]
    evidence = delivery_evidence(beat, err)
    raw = check_topic(real.bootstrap, names.TOPIC_RAW, evidence)
    check_topic(real.bootstrap, names.TOPIC_STREAMING, evidence)
    try:
        check_models(client, raw, predicted)
    finally:
        stop(ml)
    check_lake(real, tmp_path / "lake", raw)


def fail_over_and_back(client, binance: LocalExchange) -> None:
    """Binance silent: Coinbase supplies its coins; Binance back: they return to it."""
    binance.silence()
    wait_for(lambda: supplies(client, "coinbase", "BTC"), 30, "BTC from coinbase while binance is silent")
    assert gauges(client)["stream.binance.state"] in ("stalled", "connecting", "down")
    moved = scraper_counter(client, "quotes_out.coinbase")
    wait_for(lambda: scraper_counter(client, "quotes_out.coinbase") > moved + 4, 30, "coinbase's quotes out")
    binance.resume()
    wait_for(lambda: supplies(client, "binance", "BTC"), 60, "BTC given back to binance")
    back = scraper_counter(client, "quotes_out.binance")
    wait_for(lambda: scraper_counter(client, "quotes_out.binance") > back + 4, 30, "binance's quotes again")


def epoch(quote: dict) -> float:
    return datetime.fromisoformat(quote["source_ts"]).timestamp()


def check_models(client, published: dict[str, list[dict]], predicted: dict[str, float]) -> None:
    """The predictions seen while the streams ran were made at streamed quotes; once the processor
    has read to the topic's end, each coin's latest is at its last published quote."""
    for coin, seq in published.items():
        streamed = {round(epoch(q), 6) for q in seq if q["source"] in STREAMED}
        assert round(predicted[coin], 6) in streamed, f"{coin}: a prediction at no streamed quote"
        assert client.exists(names.ml_view_key(coin)), f"{coin}: no ML view"
    last = {coin: round(epoch(seq[-1]), 6) for coin, seq in published.items()}
    wait_for(
        lambda: {c: round(t, 6) for c, t in ml_index(client).items() if c in last} == last,
        60,
        "every coin's prediction at its last published quote",
    )


def check_lake(real: RealServers, lake: Path, published: dict[str, list[dict]]) -> None:
    """The lake job over the topic: every published quote once, nothing else."""
    rows = lake_rows(real, lake)
    assert len(rows) == len(set(rows)), "a quote twice in the lake"
    quotes = {
        (q["symbol"], datetime.fromisoformat(q["source_ts"])) for seq in published.values() for q in seq
    }
    assert set(rows) == quotes, (
        f"{len(set(rows) - quotes)} rows never published, {len(quotes - set(rows))} lost"
    )


def delivery_evidence(beat: dict, err: str) -> str:
    """What the scraper said of its deliveries (the counters of retries and of quotes left out as
    not newer, its warnings and errors), for a failure message about the topic's order."""
    counters = {
        k: v for k, v in beat["counters"].items() if k.startswith(("errors.", "not_newer", "stream_"))
    }
    said = [line for line in err.splitlines() if " WARNING " in line or " ERROR " in line]
    return f"counters {counters}; warnings and errors: {said[-20:]}"


def check_topic(bootstrap: str, topic: str, evidence: str = "") -> dict[str, list[dict]]:
    """The topic's quotes by coin, in order, once checked: keyed by coin, the warm start's history
    then the streams', event times strictly increasing, and BTC's handed to Coinbase and back."""
    by_coin: dict[str, list[dict]] = defaultdict(list)
    for key, q in topic_records(bootstrap, topic):
        assert key == q["symbol"], f"{topic}: keyed {key}, quote of {q['symbol']}"
        by_coin[key].append(q)
    assert sorted(by_coin) == sorted(COINS)
    for coin, seq in by_coin.items():
        sources = [q["source"] for q in seq]
        first_streamed = next(i for i, s in enumerate(sources) if s in STREAMED)
        # the warm start's history, then the live quotes: no history after the first stream quote
        assert set(sources[:first_streamed]) == {"backfill"} and "backfill" not in sources[first_streamed:], (
            coin
        )
        back = [(a, b) for a, b in pairwise(seq) if epoch(a) >= epoch(b)]
        assert not back, (
            f"{topic} {coin}: {len(back)} duplicates or steps back in event time, "
            f"the first: {back[0]}; {evidence}"
        )
        streamed = [q for q in seq if q["source"] in STREAMED]
        assert len(streamed) > 10, coin
        assert any(q["volume_24h_usd"] for q in streamed), f"{coin}: CoinGecko's 24 h volume on stream quotes"
    btc = [k for k, _ in groupby(q["source"] for q in by_coin["BTC"] if q["source"] in STREAMED)]
    assert btc[:3] == ["binance", "coinbase", "binance"], f"{topic}: BTC's sources {btc}"
    return by_coin
