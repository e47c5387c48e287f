"""Clients built from settings, so no service wires a connection by hand."""

from __future__ import annotations

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from cryptoviz.settings import RedisSettings, load


def redis_client(settings: RedisSettings | None = None, **kw: object) -> redis.Redis:
    """A client whose own retries are short (redis-py 8 retries 10 times by default, about 5 s per
    call with Redis down): the services retry at their level, where a stop signal is honoured."""
    s = settings or load(RedisSettings)
    password = s.redis_password.get_secret_value() if s.redis_password else None
    opts: dict = {"socket_timeout": 5, "socket_connect_timeout": 3, "health_check_interval": 30}
    opts["retry"] = Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2)
    opts |= kw
    return redis.Redis(host=s.redis_host, port=s.redis_port, db=s.redis_db, password=password, **opts)
