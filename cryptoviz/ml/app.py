"""The ML processor service: settings -> consumer group -> models -> Redis (the entry point calls `main`)."""

from __future__ import annotations

import time

from cryptoviz import bus, clients, logs, metrics, names
from cryptoviz.ml.group import subscribe
from cryptoviz.ml.processor import Processor
from cryptoviz.ml.store import RedisStore
from cryptoviz.models import book, kernel
from cryptoviz.models.engine import ModelConfig
from cryptoviz.service import Stop
from cryptoviz.settings import (
    CoinSettings,
    ContractSettings,
    KafkaSettings,
    MLSettings,
    RedisSettings,
    StackSettings,
    load,
)
from cryptoviz.telemetry import Telemetry

log = logs.get(names.ML_PROCESSOR)

DLQ_CLOSE_TIMEOUT_S = 3.0
CLOSE_TIMEOUT_MS = 2000


def main(stop: Stop) -> int:
    ml = load(MLSettings)
    kafka = load(KafkaSettings)
    coins = load(CoinSettings).coins
    rds = clients.redis_client(load(RedisSettings))
    telemetry = Telemetry(names.ML_PROCESSOR, rds, load(StackSettings).heartbeat_interval_s)
    metrics.start(telemetry)
    telemetry.publish("starting")
    bus.ensure_topics(kafka.kafka_bootstrap_servers, partitions=kafka.kafka_topic_partitions)
    consumer = bus.consumer(
        kafka.kafka_bootstrap_servers,
        group_id=ml.ml_consumer_group,
        client_id=f"{kafka.kafka_client_id}-ml",
        session_timeout_ms=kafka.kafka_session_timeout_ms,
        heartbeat_interval_ms=max(500, kafka.kafka_session_timeout_ms // 6),
        fetch_max_wait_ms=ml.ml_busy_fetch_wait_ms,
        max_partition_fetch_bytes=kafka.kafka_max_partition_fetch_bytes,
    )

    telemetry.gauge("fetch_wait_ms", ml.ml_busy_fetch_wait_ms)

    def fetch_wait(busy: bool) -> None:
        """A short fetch wait while polls bring quotes, the longer one after a poll that brought none;
        where kafka-python does not let it change, counted, and said once."""
        wait_ms = ml.ml_busy_fetch_wait_ms if busy else kafka.kafka_fetch_max_wait_ms
        if bus.set_fetch_wait(consumer, wait_ms):
            telemetry.gauge("fetch_wait_ms", wait_ms)
            return
        if not telemetry.counters.get("errors.fetch_wait_not_changed"):
            log.warning("fetch_wait_not_changed", wait_ms=wait_ms, reason="kafka-python keeps it elsewhere")
        telemetry.incr("errors.fetch_wait_not_changed")

    dlq = bus.DeadLetterProducer(
        bus.producer(kafka.kafka_bootstrap_servers, client_id=f"{kafka.kafka_client_id}-ml-dlq"),
        origin=names.ML_PROCESSOR,
    )
    processor = Processor(
        consumer,
        dlq,
        RedisStore(rds, ml.ml_prediction_ttl_s),
        telemetry,
        ModelConfig.from_settings(ml),
        symbols=set(coins),
        max_records=ml.ml_max_poll_records,
        max_future_s=load(ContractSettings).max_future_s,
        snapshot_interval_s=ml.ml_snapshot_interval_s,
        idle_wait_s=ml.ml_idle_wait_ms / 1000,
        view_interval_s=ml.ml_view_interval_ms / 1000,
        on_busy=fetch_wait,
    )
    log.info("model_core_ready", build=kernel.build, seconds=round(book.warm(), 2))
    subscribe(processor, consumer)
    log.info("started", group=ml.ml_consumer_group, symbols=",".join(coins))
    try:
        processor.run(stop)
    finally:
        stopping = time.monotonic()
        if dlq.close(DLQ_CLOSE_TIMEOUT_S) is not None:
            telemetry.incr("errors.dead_letters_unacknowledged_at_close")
        # bounded, as the broker may be the server that is down; the group drops this member after
        # its session timeout (bus.close_consumer says why it does not leave at once)
        bus.close_consumer(consumer, CLOSE_TIMEOUT_MS)
        telemetry.publish("stopped")
        log.info(
            "stopped",
            ticks=telemetry.counters["ticks_in"],
            scored=telemetry.counters["scored"],
            shutdown_s=round(time.monotonic() - stopping, 2),
        )
    return 0
