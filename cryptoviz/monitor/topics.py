"""What Redpanda Console shows, read by the monitor and written to Redis for the topics page:
every topic's partitions with log start and end offsets, consumer groups with their lag per
partition, and the newest messages of each topic, decoded (dead letters with their reasons).

The end offsets come from fetches (bus.offset_bounds): the local broker answers ListOffsets
"latest" wrongly. The messages are read without a consumer group: nothing is committed.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from cryptoviz import bus
from cryptoviz.contracts import ContractError, TopicsReport
from cryptoviz.contracts.topics import DEAD_LETTER

PREVIEW_CHARS = 2000


def decode_value(raw: bytes | None) -> Any:
    """The value as JSON when it is JSON, else as text (cut at PREVIEW_CHARS)."""
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:PREVIEW_CHARS].decode("utf-8", "replace")


def latest_messages(
    cons: KafkaConsumer, topic: str, bounds: dict[int, tuple[int, int]], n: int, wait_s: float = 5.0
) -> list[dict[str, Any]]:
    """The newest `n` messages of `topic` over all partitions, newest first."""
    tps = {p: TopicPartition(topic, p) for p, (start, end) in bounds.items() if end > start}
    if not tps or n <= 0:
        return []
    cons.assign(list(tps.values()))
    for p, tp in tps.items():
        start, end = bounds[p]
        cons.seek(tp, max(start, end - n))
    got: list[Any] = []
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and any(cons.position(tp) < bounds[p][1] for p, tp in tps.items()):
        for records in cons.poll(timeout_ms=200, max_records=500).values():
            got.extend(r for r in records if r.offset < bounds[r.partition][1])  # as of the offsets shown
    got.sort(key=lambda r: (r.timestamp, r.partition, r.offset), reverse=True)
    out = []
    for r in got[:n]:
        value = decode_value(r.value)
        row = {
            "partition": r.partition,
            "offset": r.offset,
            "ts": r.timestamp / 1000,
            "key": r.key.decode("utf-8", "replace") if r.key else None,
            "value": value,
        }
        if topic == DEAD_LETTER.name and r.value:
            row.update(_why(r.value))
        out.append(row)
    return out


def _why(raw: bytes) -> dict[str, str]:
    """A dead letter's reason and origin; nothing for a message that is not one (older, foreign)."""
    try:
        letter = DEAD_LETTER.decode(raw)
    except ContractError:
        return {}
    return {"reason": letter.reason, "origin": letter.origin}


def group_lag(admin: KafkaAdminClient, ends: dict[str, dict[int, tuple[int, int]]]) -> list[dict[str, Any]]:
    """Every consumer group with its committed offsets and lag per partition (end - committed)."""
    out = []
    for group in sorted(admin.list_groups(), key=lambda g: g["group_id"]):
        gid = group["group_id"]
        committed = admin.list_group_offsets({gid: None}).get(gid, {})
        parts = []
        for tp, meta in sorted(committed.items(), key=lambda kv: (kv[0].topic, kv[0].partition)):
            end = ends.get(tp.topic, {}).get(tp.partition, (0, meta.offset))[1]
            parts.append(
                {
                    "topic": tp.topic,
                    "partition": tp.partition,
                    "committed": meta.offset,
                    "end": end,
                    "lag": max(0, end - meta.offset),
                }
            )
        out.append(
            {
                "group": gid,
                "state": group.get("group_state") or "",
                "partitions": parts,
                "lag": sum(p["lag"] for p in parts),
            }
        )
    return out


def inspect(bootstrap: str, latest_n: int = 20) -> TopicsReport:
    """One look at the broker: topics, groups, newest messages."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="cryptoviz-monitor")
    cons = bus.bounds_consumer(bootstrap, client_id="cryptoviz-monitor")
    try:
        topics = sorted(t for t in admin.list_topics() if not t.startswith("_"))
        bounds = {t: bus.offset_bounds(bootstrap, t, cons) for t in topics}
        report: TopicsReport = {
            "ts": time.time(),
            "topics": [
                {
                    "name": t,
                    "partitions": [
                        {"partition": p, "start": s, "end": e} for p, (s, e) in sorted(bounds[t].items())
                    ],
                    "messages": sum(e - s for s, e in bounds[t].values()),
                }
                for t in topics
            ],
            "groups": group_lag(admin, bounds),
            "latest": {t: latest_messages(cons, t, bounds[t], latest_n) for t in topics},
        }
        return report
    finally:
        cons.close()
        admin.close()
