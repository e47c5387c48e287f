"""Publish quotes: both topics keyed by symbol (acks=all, per-key order), then the latest-quote hash.
`Publisher` is the scraper's `interfaces.Sink` of quotes (`QuoteSink`). Its topics
(`contracts.topics`) share one codec: each quote is encoded once, and the same bytes go to every
topic; `quotes:latest` holds each symbol's last quote in the compact form the dashboard reads by the
thousand (`contracts.encode_latest`), and its table of them all (`scraper.latest`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TypeAlias

import msgspec
import redis
from kafka import KafkaProducer
from kafka.errors import KafkaError

from cryptoviz import bus, logs
from cryptoviz.contracts.topics import RAW, STREAMING, Topic
from cryptoviz.interfaces import NotDelivered, Sink
from cryptoviz.retry import Backoff, Stopped, retry
from cryptoviz.schema import Quote, utcnow
from cryptoviz.scraper import latest
from cryptoviz.service import Stop
from cryptoviz.telemetry import Telemetry

log = logs.get("publisher")


QuoteSink: TypeAlias = Sink[Sequence[Quote], int]


class PublishError(NotDelivered):
    """The broker did not take a batch after every retry (or the service is stopping): the caller
    must not move on."""


class _Unacknowledged(Exception):
    """Some messages of an attempt were not acknowledged (they stay pending)."""


CLOSE_TIMEOUT_S = 3.0


class Publisher:
    def __init__(
        self,
        producer: KafkaProducer,
        client: redis.Redis | None,
        telemetry: Telemetry,
        attempts: int = 5,
        topics: tuple[Topic[Quote, ...], ...] = (RAW, STREAMING),
        stop: Stop | None = None,
    ) -> None:
        if not topics or any(t.encode is not topics[0].encode for t in topics):
            raise ValueError(f"a publisher's topics share one codec: {[t.name for t in topics]}")
        self.producer = producer
        self.client = client
        self.telemetry = telemetry
        self.attempts = attempts
        self.topics = topics
        self.encode = topics[0].encode
        self.stop = stop if stop is not None else Stop()  # set: a publish waiting for the broker gives up
        self.backoff = Backoff(base_s=1.0, cap_s=10.0)

    def write(self, quotes: Sequence[Quote]) -> int:
        """Send every quote to every topic and wait for the broker's acks; then update Redis. A
        quote's ingest time is when it leaves the scraper: stamped here, whatever its source set
        (a replay builds an hour's batch, then waits for the hour to be due).

        Once the service is stopping nothing more is sent (PublishError at once): a write that was
        waiting for acks when the stop came left its messages with the producer, whose close
        delivers them if the broker answers; sending them again would publish them twice."""
        if not quotes:
            return 0
        if self.stop:
            raise PublishError(f"stopping: {len(quotes)} quotes not sent")
        now = utcnow()
        stamped = [msgspec.structs.replace(q, ingest_ts=now) for q in quotes]
        payloads = [(q.symbol, self.encode(q)) for q in stamped]
        t0 = time.perf_counter()
        pending = [(topic.name, key, value) for topic in self.topics for key, value in payloads]

        def attempt() -> None:  # sends what is pending; what the broker did not take stays pending
            nonlocal pending
            failed, last = self._send(pending)
            if failed:
                pending = failed
                raise _Unacknowledged(f"{len(failed)} not acknowledged: {last!r}")

        def failed(attempt: int, exc: Exception, delay: float) -> None:
            self.telemetry.incr("errors.publish", len(pending))
            log.warning("publish_retry", failed=len(pending), attempt=attempt, error=str(exc))

        try:
            retry(
                attempt,
                retry_on=(_Unacknowledged,),
                backoff=self.backoff,
                wait=self.stop.wait,
                attempts=self.attempts,
                on_failure=failed,
            )
        except Stopped:
            raise PublishError(f"stopping with {len(pending)} messages not acknowledged") from None
        except _Unacknowledged:
            self.telemetry.incr("errors.publish", len(pending))
            raise PublishError(
                f"{len(pending)} messages not acknowledged after {self.attempts} attempts"
            ) from None
        latency_ms = (time.perf_counter() - t0) * 1000
        self.telemetry.incr("quotes_published", len(quotes))
        self.telemetry.gauge("publish_latency_ms", round(latency_ms, 2))
        self.telemetry.observe("publish", latency_ms / 1000)
        for q in quotes:
            self.telemetry.incr(f"quotes_out.{q.source}")
        self._store_latest(stamped)
        return len(quotes)

    def _send(self, pending: list[tuple[str, str, bytes]]) -> tuple[list, KafkaError | None]:
        """Send and wait for the acks; the items the broker did not take, and the last error. The
        wait is cut in steps, so a stop is seen while the broker is down (send itself blocks at
        most the producer's max_block_ms)."""
        failed: list = []
        last: KafkaError | None = None
        futures = []
        for i, item in enumerate(pending):
            try:
                futures.append((item, self.producer.send(item[0], key=item[1], value=item[2])))
            except KafkaError as exc:  # no metadata within max_block_ms: the broker is away, and
                failed.extend(pending[i:])  # each further send would block as long: retry them all
                last = exc
                break
        if not bus.wait_for_acks(self.producer, (fut for _, fut in futures), lambda: bool(self.stop)):
            raise PublishError(f"stopping with {len(pending)} messages not acknowledged")
        for item, fut in futures:
            try:
                fut.get(timeout=0)
            except KafkaError as exc:
                failed.append(item)
                last = exc
        return failed, last

    def _store_latest(self, quotes: list[Quote]) -> None:
        if self.client is None:
            return
        try:
            latest.write(self.client, quotes)
        except redis.RedisError as exc:
            self.telemetry.incr("errors.redis")
            log.warning("latest_quotes_not_stored", error=exc)

    def close(self) -> None:
        """Deliver what is pending within CLOSE_TIMEOUT_S, then close; with the broker down what is
        still unacknowledged is given up (counted and logged), never an exception at shutdown."""
        if bus.close_producer(self.producer, CLOSE_TIMEOUT_S) is not None:
            self.telemetry.incr("errors.unacknowledged_at_close")
