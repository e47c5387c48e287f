"""Total RSS and PSS of every process `cryptoviz up` starts (servers, services, the supervisor, with
their children, e.g. Spark's JVM and Python workers), under replay and idle after it.

Starts the whole stack in a temporary data folder on free ports, replaying 10 days of history at 4
historical hours per second; samples every process tree once a second; reports the peak under
replay and the peak over 20 s once the replay is done.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from cryptoviz import servers
from cryptoviz.testing.benchlog import emit_json
from cryptoviz.testing.procs import children, memory_mb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.e2e.conftest import LocalStack


def sample(stack: LocalStack) -> dict[str, tuple[float, float]]:
    out = {}
    for name, pid in stack.state().pids().items():
        per = [memory_mb(p) for p in [pid, *children(pid)]]
        out[name] = (sum(r for r, _ in per), sum(p for _, p in per))
    return out


def peak(into: dict[str, tuple[float, float]], stack: LocalStack) -> None:
    for name, (rss, pss) in sample(stack).items():
        old = into.get(name, (0.0, 0.0))
        into[name] = (max(old[0], rss), max(old[1], pss))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(Path(tmp), REPLAY_START="2026-01-10T00:00:00+00:00", REPLAY_WARMUP_HOURS="24")
        up = stack.cli("up", "--wait", "180")
        assert up.returncode == 0, up.stderr[-2000:]
        try:
            busy: dict[str, tuple[float, float]] = {}
            while (s := stack.statuses().get("scraper")) is None or s["state"] != "idle":
                peak(busy, stack)
                time.sleep(1)
            idle: dict[str, tuple[float, float]] = {}
            end = time.monotonic() + 20
            while time.monotonic() < end:
                peak(idle, stack)
                time.sleep(1)
        finally:
            pids = stack.pids()
            stack.cli("down")
            assert not [p for p in pids if servers.pid_alive(p)]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    for name, (rss, pss) in busy.items():
        print(
            f"  {name:<16} replay peak RSS {rss:7.1f} MB, PSS {pss:7.1f} MB; idle PSS {idle[name][1]:7.1f} MB"
        )
    rss_busy, pss_busy = sum(r for r, _ in busy.values()), sum(p for _, p in busy.values())
    pss_idle = sum(p for _, p in idle.values())
    print(
        f"total under replay: RSS {rss_busy:,.0f} MB (shared pages counted in each process), "
        f"PSS {pss_busy:,.0f} MB"
    )
    print(f"total idle: PSS {pss_idle:,.0f} MB; target: PSS under replay at most 1,500 MB")
    emit_json(
        {
            "bench": "stack_memory",
            "rss_mb": round(rss_busy),
            "pss_mb": round(pss_busy),
            "pss_idle_mb": round(pss_idle),
            "per_process_pss_mb": {k: round(v[1]) for k, v in busy.items()},
            "target_pss_mb": 1500,
        }
    )


if __name__ == "__main__":
    main()
