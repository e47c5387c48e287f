"""Container healthcheck: `python -m cryptoviz.health SERVICE` exits 0 when a fresh heartbeat exists."""

from __future__ import annotations

import sys
import time

import orjson
import redis

from cryptoviz import names
from cryptoviz.settings import RedisSettings, StackSettings, load


def fresh_instances(client: redis.Redis, service: str, max_age_s: float) -> list[dict]:
    docs = []
    for key in client.scan_iter(match=names.status_key(service, "*"), count=200):
        raw = client.get(key)
        if raw:
            doc = orjson.loads(raw)
            if time.time() - doc["heartbeat_ts"] <= max_age_s and doc.get("state") != "stopped":
                docs.append(doc)
    return docs


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m cryptoviz.health SERVICE", file=sys.stderr)
        return 2
    settings = load(RedisSettings)
    max_age = 3 * load(StackSettings).heartbeat_interval_s + 5
    try:
        client = redis.Redis.from_url(settings.url, socket_timeout=2)
        ok = bool(fresh_instances(client, argv[0], max_age))
    except redis.RedisError as exc:
        print(f"redis: {exc}", file=sys.stderr)
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    from cryptoviz.service import run

    run("health", lambda stop: main(sys.argv[1:]))
