"""Clients built from settings, so no service wires a connection by hand."""

from __future__ import annotations

import redis

from cryptoviz.settings import RedisSettings, load


def redis_client(settings: RedisSettings | None = None, **kw: object) -> redis.Redis:
    s = settings or load(RedisSettings)
    password = s.redis_password.get_secret_value() if s.redis_password else None
    opts: dict = {"socket_timeout": 5, "socket_connect_timeout": 3, "health_check_interval": 30} | kw
    return redis.Redis(host=s.redis_host, port=s.redis_port, db=s.redis_db, password=password, **opts)
