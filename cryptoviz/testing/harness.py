"""Real servers for tests and benchmarks: `RealServers` starts the real binaries (those of
`cryptoviz.servers`) in a temporary folder on free ports and stops them by PID; `wait_for` polls a
condition (never a bare sleep)."""

from __future__ import annotations

import secrets
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
from redis import Redis

from cryptoviz import names, servers


def wait_for(cond, timeout: float, what: str, every: float = 0.5, show: Callable[[], str] | None = None):
    """Poll `cond` until it returns something truthy, and return that; after `timeout` seconds an
    AssertionError naming `what`, the last value and what `show` says of the state then."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(every)
    state = f"; {show()}" if show is not None else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r}){state}")


def wait_for_snapshots_at(client: Redis, symbols: Iterable[str], event_ts: float, timeout: float) -> dict:
    """Until every symbol's model snapshot in Redis includes the tick at `event_ts` (the processor
    writes a snapshot at most every ML_SNAPSHOT_INTERVAL_S, so it follows the predictions); the
    snapshots' models by symbol. Read before, a snapshot may hold fewer scored predictions."""
    wanted = list(symbols)

    def current() -> dict | None:
        raws = client.mget([names.ml_state_key(s) for s in wanted])
        models = {s: orjson.loads(raw)["model"] for s, raw in zip(wanted, raws, strict=True) if raw}
        at = len(models) == len(wanted) and all(m.get("last_t") == event_ts for m in models.values())
        return models if at else None

    return wait_for(current, timeout, "every symbol's model snapshot at the last tick")


class RealServers:
    """Start each server on first use; stop all of them (by PID) on close. Used as a context
    manager in the main thread, it turns SIGTERM (a `timeout`, a cancelled job) into SystemExit
    while it is open, so the servers are stopped rather than left running beside the next run."""

    def __init__(self, root: Path | None = None) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="cryptoviz-test-")
            root = Path(self._tmp.name)
        self.root = Path(root)
        self.started: list[servers.Server] = []
        self._redis: servers.Server | None = None
        self._broker: servers.Server | None = None
        self._s3: servers.Server | None = None
        self.s3_access_key = "test" + secrets.token_hex(6)
        self.s3_secret_key = secrets.token_hex(16)
        self.s3_buckets = ["lake", "tansu"]
        self._sigterm: Any = None  # the SIGTERM handler before __enter__, when it replaced it

    def redis(self) -> servers.Server:
        if self._redis is None:
            self._redis = servers.start_redis(self.root / "redis", servers.free_port())
            self.started.append(self._redis)
        return self._redis

    def redis_client(self, **kw: Any) -> Redis:
        server = self.redis()
        return Redis(host=server.host, port=server.port, **kw)

    def broker(self) -> servers.Server:
        if self._broker is None:
            self._broker = servers.start_broker(self.root / "broker", servers.free_port())
            self.started.append(self._broker)
        return self._broker

    def start_durable_broker(self, port: int | None = None) -> servers.Server:
        """A broker whose messages live in the S3 server, so they survive a broker restart."""
        s3 = self.s3()
        server = servers.start_broker(
            self.root / "broker-durable",
            port or servers.free_port(),
            storage="s3://tansu/",
            s3={
                "endpoint": s3.extra["endpoint"],
                "access_key": self.s3_access_key,
                "secret_key": self.s3_secret_key,
            },
        )
        self.started.append(server)
        return server

    @property
    def bootstrap(self) -> str:
        return self.broker().address

    def s3(self) -> servers.Server:
        if self._s3 is None:
            self._s3 = servers.start_s3(
                self.root / "s3", servers.free_port(), self.s3_access_key, self.s3_secret_key, self.s3_buckets
            )
            self.started.append(self._s3)
        return self._s3

    def s3_env(self) -> dict[str, str]:
        return {
            "S3_ENDPOINT_URL": self.s3().extra["endpoint"],
            "S3_ACCESS_KEY": self.s3_access_key,
            "S3_SECRET_KEY": self.s3_secret_key,
        }

    def env(self) -> dict[str, str]:
        """Environment variables that point a service at these servers."""
        r = self.redis()
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "REDIS_HOST": r.host,
            "REDIS_PORT": str(r.port),
            "CRYPTOVIZ_DATA_DIR": str(self.root / "data"),
            "METRICS_HOST": "127.0.0.1",
            "METRICS_PORT": "0",  # any free port: a test may run several instances; the heartbeat has the URL
        }

    def close(self) -> None:
        for server in reversed(self.started):
            servers.stop_pid(server.pid, grace_s=2)
        self.started.clear()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> RealServers:
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGTERM)
            if previous == signal.SIG_DFL:  # a handler of the caller's own stays
                signal.signal(signal.SIGTERM, _exit_on_sigterm)
                self._sigterm = previous
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.close()
        finally:
            if self._sigterm is not None:
                signal.signal(signal.SIGTERM, self._sigterm)
                self._sigterm = None


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
