"""Container healthcheck: `python -m cryptoviz.health SERVICE` exits 0 when a fresh heartbeat exists."""

from __future__ import annotations

import sys

import orjson
import redis

from cryptoviz import names
from cryptoviz.clients import redis_client
from cryptoviz.readers import service_state
from cryptoviz.settings import RedisSettings, load


def fresh_instances(client: redis.Redis, service: str) -> list[dict]:
    docs = []
    for key in client.scan_iter(match=names.status_key(service, "*"), count=200):
        raw = client.get(key)
        if raw and service_state(doc := orjson.loads(raw)) == "up":
            docs.append(doc)
    return docs


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
