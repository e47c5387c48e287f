"""In-memory implementations of the real interfaces (`cryptoviz.interfaces`, `ml.store.StateStore`)
for unit tests of the loops' logic, in the manner of quix-streams' list sink and bytewax's testing
module: a clock moved by hand, a list sink, a list consumer, dead letters kept in a list, a state
store in a dict, an HTTP API that plays a script. They stand in for the interfaces, never for Kafka,
Redis or S3 themselves: those are tested against the real servers (`testing.harness`)."""

from __future__ import annotations

import http.server
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import redis
from kafka import TopicPartition

from cryptoviz import contracts, names
from cryptoviz.contracts import MLState
from cryptoviz.interfaces import NotDelivered, Offsets, Record
from cryptoviz.ml.store import MLBatch, documents

T = TypeVar("T")


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class ListSink(Generic[T]):
    """A sink that keeps what it is given; its first `fail_times` writes raise NotDelivered."""

    def __init__(self, fail_times: int = 0) -> None:
        self.items: list[T] = []
        self.fail_times = fail_times

    def write(self, batch: Sequence[T]) -> int:
        if self.fail_times:
            self.fail_times -= 1
            raise NotDelivered("the sink said no")
        self.items.extend(batch)
        return len(batch)


@dataclass(frozen=True)
class ListRecord:
    """A consumed record (the fields of kafka-python's ConsumerRecord that `interfaces.Record` names)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class ListConsumer:
    """`interfaces.Consumer` over records given up front, assigned every partition they name. Poll
    hands out up to max_records from the position on, partition by partition; seek and commit move
    the position and the committed offsets as a broker would."""

    def __init__(self, records: Iterable[ListRecord]) -> None:
        self.logs: dict[TopicPartition, list[ListRecord]] = defaultdict(list)
        for rec in records:
            self.logs[TopicPartition(rec.topic, rec.partition)].append(rec)
        self.positions = {tp: 0 for tp in self.logs}
        self.committed: dict[TopicPartition, int] = {}

    def append(self, record: ListRecord) -> None:
        tp = TopicPartition(record.topic, record.partition)
        self.logs[tp].append(record)
        self.positions.setdefault(tp, 0)

    def poll(
        self, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[ListRecord]]:
        del timeout_ms  # all there is, is there at once
        budget = max_records or 500
        batch: dict[TopicPartition, list[ListRecord]] = {}
        for tp, log in self.logs.items():
            taken = log[self.positions[tp] : self.positions[tp] + budget]
            if taken:
                batch[tp] = taken
                self.positions[tp] += len(taken)
                budget -= len(taken)
            if budget <= 0:
                break
        return batch

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.positions[partition] = offset

    def commit(self, offsets: Offsets, timeout_ms: int | None = None) -> None:
        self.committed.update({tp: meta.offset for tp, meta in offsets.items()})

    def assignment(self) -> set[TopicPartition]:
        return set(self.logs)

    def highwater(self, partition: TopicPartition) -> int | None:
        return len(self.logs[partition])

    def position(self, partition: TopicPartition, timeout_ms: int | None = None) -> int:
        return self.positions[partition]


class ListDeadLetters:
    """`interfaces.DeadLetters` kept in a list, (record, reason) each; `refuse` of the next
    deliveries raise NotDelivered (what a broker that does not acknowledge does)."""

    def __init__(self, refuse: int = 0) -> None:
        self.delivered: list[tuple[Record, str]] = []
        self.queued: list[tuple[Record, str]] = []
        self.refuse = refuse

    def send(self, record: Record, reason: str, detail: str) -> None:
        self.queued.append((record, reason))

    def deliver(self, stopping: Callable[[], bool]) -> bool:
        queued, self.queued = self.queued, []
        if queued and self.refuse:
            self.refuse -= 1
            raise NotDelivered("the dead-letter topic did not acknowledge")
        self.delivered.extend(queued)
        return True


class MemoryStore:
    """`ml.store.StateStore` in a dict of encoded values: what the Redis store would hold (the same
    keys and contracts), without a TTL. Its first `fail_writes` writes raise what redis-py raises
    when the server is away."""

    def __init__(self, ttl_s: int = 3600, fail_writes: int = 0) -> None:
        self.values: dict[str, bytes] = {}
        self.ttl_s = ttl_s
        self.writes = 0
        self.fail_writes = fail_writes

    def load(self, symbol: str) -> MLState | None:
        raw = self.values.get(names.ml_state_key(symbol))
        return contracts.decode_state(raw) if raw else None

    def write(self, batch: MLBatch) -> None:
        if self.fail_writes:
            self.fail_writes -= 1
            raise redis.ConnectionError("the store is away")
        self.values.update({key: value for key, value, _ in documents(batch, self.ttl_s)})
        self.writes += 1


def send_json(handler: http.server.BaseHTTPRequestHandler, status: int, headers: dict, body: bytes) -> None:
    """One JSON answer of a local test server: the status, the headers, the body with its length."""
    handler.send_response(status)
    for k, v in {"Content-Type": "application/json", **headers}.items():
        handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class ScriptedHTTP:
    """A local HTTP server answering each path from a script of (status, headers, body); the last repeats."""

    def __init__(self, routes: dict[str, list[tuple[int, dict, bytes]]]) -> None:

        self.routes = {path: list(script) for path, script in routes.items()}
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                outer.requests.append(self.path)
                script = outer.routes.get(path)
                if not script:
                    status, headers, body = 404, dict[str, str](), b'{"error":"not found"}'
                else:
                    status, headers, body = script.pop(0) if len(script) > 1 else script[0]
                send_json(self, status, headers, body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
