"""When a service counts as up, stale or down, from its heartbeat: the one rule, used by
`cryptoviz status`, the supervisor's view, the dashboard's status page and the container
healthcheck (`python -m cryptoviz.health SERVICE` exits 0 when a fresh heartbeat exists)."""

from __future__ import annotations

import sys
import time
from typing import cast

import redis

from cryptoviz import contracts, names
from cryptoviz.clients import redis_client
from cryptoviz.contracts import Heartbeat
from cryptoviz.settings import RedisSettings, load

STALE_AFTER_BEATS = 3  # heartbeats missed before a service is stale...
STALE_GRACE_S = 5.0  # ...plus this much, for a slow Redis write or a long batch
DOWN_AFTER_BEATS = 12  # missed before it is down (gone, not slow)
DOWN_GRACE_S = 30.0


def service_state(doc: Heartbeat, now: float | None = None) -> str:
    """up, stale (missed heartbeats), down (stopped or long silent)."""
    age = (now or time.time()) - doc["heartbeat_ts"]
    interval = doc.get("interval_s", 5)
    if doc.get("state") == "stopped" or age > DOWN_AFTER_BEATS * interval + DOWN_GRACE_S:
        return "down"
    if age > STALE_AFTER_BEATS * interval + STALE_GRACE_S:
        return "stale"
    return "up"


def current_instances(docs: list[Heartbeat], now: float | None = None) -> tuple[list[Heartbeat], int]:
    """The heartbeats that describe the platform now, and how many were left out: an instance that
    is down while a later-started instance of the same service is not (a restarted process, a
    replaced container) has been replaced, and is no longer counted as a service that is down."""
    now = now or time.time()
    alive_since: dict[str, float] = {}
    for doc in docs:
        if service_state(doc, now) != "down":
            started = doc.get("started_ts", 0.0)
            alive_since[doc["service"]] = max(alive_since.get(doc["service"], started), started)
    kept = [
        d
        for d in docs
        if service_state(d, now) != "down"
        or d["service"] not in alive_since
        or d.get("started_ts", 0.0) >= alive_since[d["service"]]
    ]
    return kept, len(docs) - len(kept)


def instances(client: redis.Redis, service: str) -> list[Heartbeat]:
    """Every heartbeat of `service` still in Redis, whatever its state."""
    docs = []
    for key in client.scan_iter(match=names.status_key(service, "*"), count=200):
        raw = client.get(key)
        if not raw:
            continue
        try:
            docs.append(contracts.decode_heartbeat(cast(bytes, raw)))
        except contracts.ContractError:
            continue
    return docs


def fresh_instances(client: redis.Redis, service: str) -> list[Heartbeat]:
    return [doc for doc in instances(client, service) if service_state(doc) == "up"]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m cryptoviz.health SERVICE", file=sys.stderr)
        return 2
    try:
        ok = bool(fresh_instances(redis_client(load(RedisSettings), socket_timeout=2), argv[0]))
    except redis.RedisError as exc:
        print(f"redis: {exc}", file=sys.stderr)
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    from cryptoviz.service import run

    run("health", lambda stop: main(sys.argv[1:]))
