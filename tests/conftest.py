"""Session-scoped real servers (never mocks, never skipped) and small factories on top of them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from cryptoviz import logs
from cryptoviz.testing.harness import RealServers

logs.setup("INFO")

# markers by folder, and by fixture for a test outside tests/integration that uses the real servers
FOLDER_MARKS = {"integration": ("integration",), "e2e": ("e2e", "integration"), "compose": ("compose",)}
SERVER_FIXTURES = {"real", "bootstrap", "redis_client", "topic_factory"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        parts = Path(str(item.fspath)).relative_to(root).parts
        for name in FOLDER_MARKS.get(parts[0], ()) if len(parts) > 1 else ():
            item.add_marker(name)
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker("integration")


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
