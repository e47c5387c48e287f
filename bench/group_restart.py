"""How long a restarted consumer group waits for its partitions on the local broker (Tansu, in
memory): two members share a 4-partition topic, both stop at once (as `docker compose restart
ml-processor` stops both processors), two new members join, and the clock runs until they own every
partition again. Once per way of stopping:

- `leave`: kafka-python's close, which sends LeaveGroup;
- `expire`: `bus.close_consumer`, which does not; the broker drops the member after its session
  timeout (6 s, as the ML processor's `KAFKA_SESSION_TIMEOUT_MS`).

A round that is not done after CAP_S counts as stalled and ends the rounds of that way (its
members' group is stuck; the next round would measure the same stall).

Usage: python bench/group_restart.py [ROUNDS]   (default 6)
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
import uuid

from cryptoviz import bus
from cryptoviz.testing.benchlog import emit_json
from cryptoviz.testing.harness import RealServers
from cryptoviz.testing.members import GroupMember, stop_all

PARTITIONS = 4
CAP_S = 90.0


def until_owned(members: list[GroupMember]) -> float | None:
    """Seconds until the members own every partition between them; None after CAP_S."""
    started = time.monotonic()
    while time.monotonic() - started < CAP_S:
        owned = [len(m.assigned()) for m in members]
        if sum(owned) == PARTITIONS and all(owned):
            return time.monotonic() - started
        time.sleep(0.1)
    return None


def rounds(bootstrap: str, topic: str, leave: bool, n: int) -> list[float | None]:
    way = "leave" if leave else "expire"
    group = f"restart-{way}-{uuid.uuid4().hex[:6]}"
    members = [GroupMember(bootstrap, topic, group, leave) for _ in range(2)]
    if until_owned(members) is None:
        raise SystemExit("the first two members were never given the partitions")
    waits: list[float | None] = []
    for i in range(n):
        time.sleep(3)  # a few heartbeats in the formed group, as a running service has
        stop_all(members)
        members = [GroupMember(bootstrap, topic, group, leave) for _ in range(2)]
        waits.append(until_owned(members))
        shown = "stalled" if waits[-1] is None else f"{waits[-1]:.1f} s"
        print(f"{way:6} round {i + 1}: partitions owned again after {shown}")
        if waits[-1] is None:
            break
    stop_all(members)
    return waits


def summary(waits: list[float | None]) -> dict:
    done = [w for w in waits if w is not None]
    return {
        "rounds": len(waits),
        "stalled": len(waits) - len(done),
        "median_s": round(statistics.median(done), 1) if done else None,
        "max_s": round(max(done), 1) if done else None,
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    results = {}
    with RealServers() as real:
        for leave in (False, True):
            topic = f"restart-{uuid.uuid4().hex[:6]}"
            bus.ensure_topics(real.bootstrap, (topic,), partitions=PARTITIONS)
            results["leave" if leave else "expire"] = summary(rounds(real.bootstrap, topic, leave, n))
    machine = f"machine: {platform.machine()} python {platform.python_version()}"
    print(f"{machine}; a stall is a round over {CAP_S:.0f} s")
    for way, r in results.items():
        print(f"{way:6}: {r}")
    emit_json({"bench": "group_restart", "results": results})


if __name__ == "__main__":
    main()
