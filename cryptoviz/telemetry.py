"""Heartbeat and counters that every service publishes to Redis for the status page."""

from __future__ import annotations

import os
import socket
import time
from collections import Counter

import redis

from cryptoviz import contracts, logs, names
from cryptoviz.contracts import Heartbeat

log = logs.get("telemetry")

# seconds: a Redis round trip to a slow Spark micro-batch
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Histogram:
    """Fixed-bucket counts of observed durations, kept by Telemetry and read by the metrics collector."""

    def __init__(self, buckets: tuple[float, ...] = BUCKETS) -> None:
        self.bounds = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        i = 0
        while i < len(self.bounds) and seconds > self.bounds[i]:
            i += 1
        self.counts[i] += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return out


STATUS_TTL_S = 7 * 24 * 3600  # a dead service's last status stays visible (as "down") for a week
# The index's members whose status key has expired (instances gone for good), taken out.
_PRUNE_INDEX = """
local gone = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', key) == 0 then redis.call('SREM', KEYS[1], key); gone = gone + 1 end
end
return gone
"""


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
        self._pruned = False

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
            if not self._pruned:  # once an instance: every start adds one, its key expires in time
                pipe.eval(_PRUNE_INDEX, 1, names.STATUS_INDEX)
            pipe.execute()
            self._pruned = True
            return True
        except redis.RedisError as exc:
            self.counters["errors.telemetry_redis"] += 1
            log.warning("heartbeat_failed", service=self.service, error=exc)
            return False

    def maybe_publish(self) -> None:
        if time.monotonic() - self._last_publish >= self.interval_s:
            self.publish()
