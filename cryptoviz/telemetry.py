"""Heartbeat and counters that every service publishes to Redis for the status page."""

from __future__ import annotations

import os
import socket
import time
from collections import Counter

import redis

from cryptoviz import contracts, logs, names
from cryptoviz.contracts import Heartbeat
from cryptoviz.metrics import Histogram

log = logs.get("telemetry")

STATUS_TTL_S = 7 * 24 * 3600  # a dead service's last status stays visible (as "down") for a week


class Telemetry:
    """Counters, gauges and a state string, published as one JSON document per interval."""

    def __init__(
        self,
        service: str,
        client: redis.Redis | None,
        interval_s: float = 5.0,
        instance: str | None = None,
    ) -> None:
        self.service = service
        self.instance = instance or f"{socket.gethostname()}-{os.getpid()}"
        self.key = names.status_key(service, self.instance)
        self.client = client
        self.interval_s = interval_s
        self.counters: Counter[str] = Counter()
        self.gauges: dict[str, float | str | None] = {}
        self.state = "starting"
        self.started = time.time()
        self.histograms: dict[str, Histogram] = {}
        self._last_publish = 0.0

    def incr(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def gauge(self, name: str, value: float | str | None) -> None:
        self.gauges[name] = value

    def observe(self, name: str, seconds: float) -> None:
        """A duration into the histogram `name` (Prometheus: cryptoviz_<name>_seconds)."""
        histogram = self.histograms.get(name)
        if histogram is None:
            histogram = self.histograms[name] = Histogram()
        histogram.observe(seconds)

    def document(self) -> Heartbeat:
        return {
            "service": self.service,
            "instance": self.instance,
            "state": self.state,
            "heartbeat_ts": time.time(),
            "started_ts": self.started,
            "interval_s": self.interval_s,
            "counters": dict(self.counters),
            "gauges": self.gauges,
        }

    def publish(self, state: str | None = None) -> bool:
        """Write the status document now; a Redis failure is logged and counted, never raised."""
        if state is not None:
            self.state = state
        self._last_publish = time.monotonic()
        if self.client is None:
            return False
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.set(self.key, contracts.encode(self.document()), ex=STATUS_TTL_S)
            pipe.sadd(names.STATUS_INDEX, self.key)
            pipe.execute()
            return True
        except redis.RedisError as exc:
            self.counters["errors.telemetry_redis"] += 1
            log.warning("heartbeat_failed", service=self.service, error=exc)
            return False

    def maybe_publish(self) -> None:
        if time.monotonic() - self._last_publish >= self.interval_s:
            self.publish()
