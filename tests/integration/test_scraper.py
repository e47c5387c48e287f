"""The scraper against a local HTTP server with recorded-shape answers and the real broker and Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from cryptoviz import bus, contracts, names
from cryptoviz.contracts.topics import RAW
from cryptoviz.schema import decode
from cryptoviz.scraper.loop import ReplayScraper
from cryptoviz.scraper.publisher import Publisher
from cryptoviz.scraper.sources.replay import history_to_quotes, read_history
from cryptoviz.service import Stop
from cryptoviz.settings import HISTORY_2024_2026
from cryptoviz.telemetry import Telemetry
from cryptoviz.testing.doubles import ScriptedHTTP
from cryptoviz.testing.harness import wait_for

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures"


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 60) -> list:
    cons = bus.consumer(bootstrap, topic, group_id=None, consumer_timeout_ms=1000)
    out: list = []
    deadline = time.monotonic() + timeout
    while len(out) < expected and time.monotonic() < deadline:
        for records in cons.poll(timeout_ms=500, max_records=50000).values():
            out.extend(records)
    time.sleep(0.5)
    for records in cons.poll(timeout_ms=500).values():  # anything beyond what was expected is a failure
        out.extend(records)
    cons.close()
    return out


def test_scraper_service_survives_429_and_500_then_publishes_each_coin_once(real, redis_client):
    bootstrap = real.bootstrap
    # fresh topic names are not configurable on purpose: the contract's topics are the ones read here
    bus.ensure_topics(bootstrap, partitions=4)
    before = {t: n for t, n in bus.topic_message_counts(bootstrap).items()}
    markets = (FIX / "coingecko_markets.json").read_bytes()
    http = ScriptedHTTP(
        {
            "/api/v3/coins/markets": [
                (429, {"Retry-After": "1"}, b'{"status":{"error_code":429,"error_message":"rate limited"}}'),
                (500, {}, b"oops"),
                (200, {}, markets),  # then the same answer forever: stale, never republished
            ],
        }
    )
    env = (
        os.environ
        | real.env()
        | {
            "SCRAPER_SOURCE": "live",
            "SCRAPE_INTERVAL_S": "0.3",
            "COINGECKO_API_KEY": "demo-key-of-the-test",  # 30 calls a minute: the few here fit
            "BACKFILL_DAYS": "0",  # this server answers /coins/markets only: no warm start
            "STREAM_SOURCES": "",  # the polls alone: no exchange stream
            "COINGECKO_BASE_URL": f"{http.url}/api/v3",
            "HEARTBEAT_INTERVAL_S": "0.5",
        }
    )
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scraper" / "main.py")], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        raw = read_topic(bootstrap, names.TOPIC_RAW, before[names.TOPIC_RAW] + 7, timeout=60)
        streaming = read_topic(bootstrap, names.TOPIC_STREAMING, before[names.TOPIC_STREAMING] + 7)
        wait_for(lambda: len(http.requests) >= 5, 30, "five requests to the local API", every=0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        http.close()
    assert proc.returncode == 0, err
    for everything in (raw, streaming):  # the topics are shared with other tests: keep this source's quotes
        records = [r for r in everything if r.value and b'"source":"coingecko"' in r.value]
        assert sorted(r.key.decode() for r in records) == sorted(
            ["BTC", "ETH", "XRP", "USDT", "BNB", "SOL", "DOGE"]
        )
        for r in records:
            assert decode(r.value).symbol == r.key.decode()
    assert "kind=rate_limited" in err and "kind=server_error" in err
    latest = redis_client.hgetall(names.QUOTES_LATEST)
    assert contracts.decode_latest(latest[b"BTC"]).price_usd == 64123.5
    status = [json.loads(redis_client.get(k)) for k in redis_client.smembers(names.STATUS_INDEX)]
    scraper = next(s for s in status if s["service"] == "scraper")
    assert scraper["state"] == "stopped"
    assert scraper["counters"]["errors.coingecko.rate_limited"] == 1
    assert scraper["counters"]["errors.coingecko.server_error"] == 1
    assert scraper["counters"]["quotes_published"] == 7
    assert scraper["counters"]["stale.coingecko"] >= 7


def test_replay_publishes_the_hourly_history_and_every_row_arrives_once(real, topic_factory):
    bootstrap = real.bootstrap
    topics = (topic_factory("raw", 4), topic_factory("stream", 4))
    every = read_history([HISTORY_2024_2026])
    assert len(every) == 70084
    rows = every[-10_000:]  # the last 10,000 rows: every hour of every coin in them, as replayed
    telemetry = Telemetry("scraper", None)
    publisher = Publisher(
        bus.producer(bootstrap), None, telemetry, topics=tuple(replace(RAW, name=t) for t in topics)
    )
    far_future = rows[-1].ts.replace(year=2100)
    sent = ReplayScraper(
        history_to_quotes(rows), publisher, telemetry, speed=1e9, warmup_until=far_future
    ).run(Stop())
    publisher.close()
    assert sent == len(rows) == 10_000
    for topic in topics:
        records = read_topic(bootstrap, topic, sent, timeout=120)
        keys = {(r.key.decode(), orjson.loads(r.value)["source_ts"]) for r in records}
        assert len(records) == sent and len(keys) == sent


def test_a_publish_to_a_dead_broker_gives_up_when_asked_to_stop():
    """With the broker gone, publish() raises PublishError once the stop is set (not after the
    producer's delivery timeout), and close() returns with the producer's I/O thread ended."""
    import signal
    import threading
    from datetime import UTC, datetime

    from cryptoviz.schema import make_quote
    from cryptoviz.scraper.publisher import PublishError
    from cryptoviz.servers import stop_pid
    from cryptoviz.service import Stop
    from cryptoviz.testing.harness import RealServers

    with RealServers() as own:
        bus.ensure_topics(own.bootstrap, partitions=2)
        stop = Stop()
        producer = bus.producer(own.bootstrap, client_id="dead-broker")
        publisher = Publisher(producer, None, Telemetry("test", None), stop=stop)
        quote = make_quote("BTC", 100.0, datetime(2025, 1, 1, tzinfo=UTC))
        assert publisher.write([quote]) == 1
        assert stop_pid(own.broker().pid, grace_s=0, sig=signal.SIGKILL)
        threading.Timer(1.0, stop.set).start()
        with pytest.raises(PublishError, match="stopping"):
            publisher.write([quote] * 50)
        publisher.close()
        for thread in [t for t in threading.enumerate() if t.name == "dead-broker-network-thread"]:
            thread.join(timeout=10)  # ends at once when closed; without the close it never does
            assert not thread.is_alive(), "the producer's I/O thread is left retrying the dead broker"


def test_once_stopping_a_write_sends_nothing(real, topic_factory):
    """A write that was waiting for acks when the stop came left its messages with the producer,
    whose close delivers them: a write after the stop must not send them (or anything) again."""
    from datetime import UTC, datetime

    from cryptoviz.schema import make_quote
    from cryptoviz.scraper.publisher import PublishError

    topic = topic_factory("stopping", 1)
    stop = Stop()
    publisher = Publisher(
        bus.producer(real.bootstrap),
        None,
        Telemetry("scraper", None),
        topics=(replace(RAW, name=topic),),
        stop=stop,
    )
    first = make_quote("BTC", 100.0, datetime(2025, 1, 1, tzinfo=UTC))
    assert publisher.write([first]) == 1
    stop.set()
    with pytest.raises(PublishError, match="not sent"):
        publisher.write([make_quote("BTC", 101.0, datetime(2025, 1, 1, 0, 1, tzinfo=UTC))])
    publisher.close()
    assert bus.topic_message_counts(real.bootstrap, (topic,)) == {topic: 1}


def test_a_quotes_ingest_time_is_when_it_leaves_the_scraper(real, topic_factory):
    """A replay builds an hour's batch, then waits until the hour is due: the ingest time sent is
    the publish's, not the batch's, so quote -> prediction measures the platform, not the pacing."""
    from datetime import UTC, datetime, timedelta

    from cryptoviz.schema import make_quote

    topic = topic_factory("ingest", 1)
    built = datetime.now(UTC) - timedelta(minutes=59)
    quotes = [make_quote("BTC", 100.0 + i, built - timedelta(hours=i), ingest_ts=built) for i in range(3)]
    publisher = Publisher(
        bus.producer(real.bootstrap), None, Telemetry("scraper", None), topics=(replace(RAW, name=topic),)
    )
    before = datetime.now(UTC)
    publisher.write(quotes)
    after = datetime.now(UTC)
    publisher.close()
    got = [decode(r.value) for r in read_topic(real.bootstrap, topic, 3)]
    assert len(got) == 3
    before = before.replace(microsecond=before.microsecond // 1000 * 1000)  # sent to the millisecond
    assert all(before <= q.ingest_ts <= after for q in got)
    assert sorted(q.source_ts for q in got) == sorted(q.source_ts for q in quotes)
