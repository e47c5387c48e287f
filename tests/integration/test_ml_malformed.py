"""No message stops the ML processor: every kind of malformed message, and an unexpected error while
handling one (a corrupt snapshot in Redis), goes to the dead-letter topic once with its reason; the
process keeps its PID, its heartbeat, and predicts the good quotes around them. Own broker and Redis."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import cast

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from cryptoviz import bus, names, servers
from cryptoviz.ml.processor import Processor
from cryptoviz.ml.store import RedisStore
from cryptoviz.models.engine import ModelConfig
from cryptoviz.retry import Backoff
from cryptoviz.schema import Quote, encode, make_quote
from cryptoviz.telemetry import Telemetry
from cryptoviz.testing.harness import RealServers
from cryptoviz.testing.malformed import malformed

from .test_ml_processor import start, wait_for

pytestmark = pytest.mark.alone  # its SIGTERM has a 10 s budget
T0 = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def own() -> Iterator[RealServers]:
    with RealServers() as servers:
        yield servers


def dead_letters(bootstrap: str) -> list[dict]:
    cons = KafkaConsumer(
        names.TOPIC_DEAD_LETTER,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=3000,
    )
    out = [orjson.loads(rec.value) for rec in cons]
    cons.close()
    return out


def publish_good_quotes_among_bad(
    bootstrap: str, bad: list[tuple[bytes, bytes, str]]
) -> tuple[int, list[Quote]]:
    """48 hours of BTC and SOL with the bad messages among them, then three ETH quotes (whose corrupt
    snapshot raises); returns how many good BTC and SOL quotes were sent, and the ETH quotes."""
    prod = bus.producer(bootstrap)
    good = 0
    for hour in range(48):
        ts = T0 + timedelta(hours=hour)
        for sym, price in (("BTC", 40000 + 10 * hour), ("SOL", 100 + hour)):
            prod.send(names.TOPIC_STREAMING, key=sym, value=encode(make_quote(sym, price, ts)))
            good += 1
        if hour < len(bad):  # the bad ones among the good ones
            key, value, _ = bad[hour]
            prod.send(names.TOPIC_STREAMING, key=key, value=value)
    for key, value, _ in bad[48:]:
        prod.send(names.TOPIC_STREAMING, key=key, value=value)
    eth = [make_quote("ETH", 2000.0 + i, T0 + timedelta(hours=i)) for i in range(3)]
    for q in eth:
        prod.send(names.TOPIC_STREAMING, key=b"ETH", value=encode(q))
    prod.flush()
    prod.close()
    return good, eth


def test_malformed_messages_and_an_internal_error_are_dead_lettered_once_and_nothing_stops(own):
    bootstrap = own.bootstrap
    bus.ensure_topics(bootstrap, partitions=4)
    client = own.redis_client()
    client.set(names.ml_state_key("ETH"), b"{corrupt snapshot")  # loading it raises: an internal error
    bad = malformed()
    good, eth = publish_good_quotes_among_bad(bootstrap, bad)

    proc = start(own, COINS="BTC,ETH,SOL", ML_CONSUMER_GROUP="malformed")
    try:
        expected = Counter(reason for _, _, reason in bad) + Counter(
            {"internal_error:ContractError": len(eth)}
        )
        wait_for(
            lambda: len(dead_letters(bootstrap)) >= expected.total(), 90, "every bad message dead-lettered"
        )
        letters = dead_letters(bootstrap)
        assert Counter(d["reason"] for d in letters) == expected, "each once, with its reason"
        assert {d["origin"] for d in letters} == {"ml-processor"}
        assert len({(d["partition"], d["offset"]) for d in letters}) == len(letters)

        def ticks() -> int:
            total = 0
            for sym in ("BTC", "SOL"):
                raw = client.get(names.ml_state_key(sym))
                total += orjson.loads(raw)["model"]["ticks"] if raw else 0
            return total

        wait_for(lambda: ticks() == good, 60, "every good quote applied")
        assert client.exists(names.ml_summary_key("BTC")) and client.exists(names.ml_summary_key("SOL"))
        assert proc.poll() is None, "the processor is still the same process"

        def status() -> dict:
            docs = [orjson.loads(client.get(k) or b"{}") for k in client.smembers(names.STATUS_INDEX)]
            return max(
                (d for d in docs if d.get("service") == "ml-processor"), key=lambda d: d["heartbeat_ts"]
            )

        internal = "dead_letter.internal_error:ContractError"
        wait_for(lambda: status()["counters"].get(internal) == len(eth), 30, "the internal errors counted")
        assert time.time() - status()["heartbeat_ts"] < 5, "a fresh heartbeat"
    finally:
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert time.monotonic() - started < 10, "SIGTERM ends the processor within 10 s"


def test_a_batch_whose_dead_letters_the_broker_refuses_is_read_again_and_nothing_is_committed(own):
    """The dead-letter producer's broker is killed: the batch holding a malformed
    message is neither stored nor committed, it is counted and read again; once the dead-letter
    topic takes it, the batch goes through whole, its bad message dead-lettered once."""
    bootstrap = own.bootstrap
    bus.ensure_topics(bootstrap, partitions=4)
    topic = "ml-dlq-refused"
    bus.ensure_topics(bootstrap, (topic,), partitions=1)
    prod = bus.producer(bootstrap)
    key, value, reason = malformed()[0]
    prod.send(topic, key=key, value=value)  # first: every batch read from the start holds it
    for hour in range(6):
        prod.send(
            topic, key="BTC", value=encode(make_quote("BTC", 40000.0 + hour, T0 + timedelta(hours=hour)))
        )
    prod.flush()
    prod.close()
    client = own.redis_client(db=1)  # not the other test's snapshots
    consumer = bus.consumer(bootstrap, group_id="dlq-refused", client_id="dlq-refused")
    doomed = servers.start_broker(own.root / "doomed-broker", servers.free_port())
    nowhere = bus.DeadLetterProducer(bus.producer(doomed.address, max_block_ms=300), origin="ml-processor")
    assert servers.stop_pid(doomed.pid, grace_s=0, sig=signal.SIGKILL)
    telemetry = Telemetry("ml-processor", client, instance="dlq-refused")
    store = RedisStore(client, 3600)
    processor = Processor(consumer, nowhere, store, telemetry, ModelConfig(), symbols={"BTC"})
    processor.backoff = Backoff(base_s=0.01, cap_s=0.01)
    consumer.subscribe([topic])
    try:
        wait_for(lambda: processor.step() == 0 and processor.dlq_failures > 0, 60, "the refused batch")
        assert telemetry.counters["errors.dead_letter_not_acknowledged"] >= 1
        assert client.get(names.ml_state_key("BTC")) is None  # nothing stored
        assert consumer.committed(TopicPartition(topic, 0)) is None  # nothing committed
        assert consumer.position(TopicPartition(topic, 0)) == 0  # to be read again

        processor.dead_letters = bus.DeadLetterProducer(
            bus.producer(bootstrap, client_id="dlq-accepted"), "ml-processor"
        )
        wait_for(
            lambda: processor.step() >= 0 and consumer.committed(TopicPartition(topic, 0)) == 7,
            60,
            "the batch read again, whole, and committed",
        )
        assert processor.dlq_failures == 0
        assert client.get(names.ml_state_key("BTC")) is not None
        letters = [d for d in dead_letters(bootstrap) if d.get("topic") == topic]
        assert [d["reason"] for d in letters] == [reason]
    finally:
        nowhere.close(0)
        if processor.dead_letters is not nowhere:
            cast(bus.DeadLetterProducer, processor.dead_letters).close(1)
        consumer.close(autocommit=False, timeout_ms=1000)
