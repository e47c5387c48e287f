"""Session-scoped real servers (never mocks, never skipped) and small factories on top of them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from cryptoviz import logs
from cryptoviz.testing.harness import RealServers

logs.setup("INFO")


@pytest.fixture(scope="session")
def real() -> Iterator[RealServers]:
    with RealServers() as servers:
        yield servers


@pytest.fixture(scope="session")
def bootstrap(real: RealServers) -> str:
    return real.bootstrap


@pytest.fixture
def redis_client(real: RealServers) -> Iterator[redis.Redis]:
    client = real.redis_client()
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def topic_factory(bootstrap: str):
    """Fresh, uniquely named topics so tests sharing the broker never see each other's messages."""
    from cryptoviz import bus

    def make(prefix: str = "t", partitions: int = 2) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        bus.ensure_topics(bootstrap, (name,), partitions=partitions)
        return name

    return make
