"""SIGTERM ends every service within 10 s even while a server it needs is down, having lost nothing
it had committed. One local stack per outage: Redis stopped, then the broker stopped."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from cryptoviz import servers

from .conftest import LocalStack, wait_for

pytestmark = pytest.mark.alone
SERVICES = ("scraper", "ml-processor", "spark-streaming", "monitor")


@pytest.mark.parametrize("outage", ["redis", "broker"])
def test_sigterm_ends_each_service_within_10_s_while_a_server_is_down(tmp_path_factory, outage):
    stack = LocalStack(tmp_path_factory.mktemp(f"stop-{outage}"), REPLAY_SPEED="3600")
    up = stack.cli("up", "--only", *SERVICES, "--wait", "180")
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-3000:]
    state = stack.state()
    try:
        # the supervisor would start them again: it goes first, as `down` does
        assert state.supervisor is not None, "`up` ends by starting the supervisor"
        assert servers.stop_pid(state.supervisor.pid, grace_s=10)
        wait_for(
            lambda: (s := stack.statuses().get("ml-processor")) and s["counters"].get("ticks_in", 0) > 0,
            120,
            "the ML processor at work",
        )
        server = state.servers[outage]
        assert servers.stop_pid(server.pid, grace_s=0, sig=signal.SIGKILL)
        time.sleep(3)  # the outage: every service is now retrying against a dead server
        # SIGTERM to every service at once, as `down` sends it; each one's time to exit is its own
        pids = {name: state.services[name].pid for name in SERVICES}
        started = time.monotonic()
        for pid in pids.values():
            os.kill(pid, signal.SIGTERM)
        took: dict[str, float] = {}
        while len(took) < len(pids) and time.monotonic() - started < 30:
            for name, pid in pids.items():
                if name not in took and not servers.pid_alive(pid):
                    took[name] = round(time.monotonic() - started, 1)
            time.sleep(0.05)
        stuck = [name for name in pids if name not in took]
        assert servers.stop_pids([pids[n] for n in stuck], grace_s=0) == {pids[n] for n in stuck}
        assert not stuck, f"services that did not stop at all: {stuck}"
        print(f"{outage} down, SIGTERM to exit:", took)
        slow = {name: s for name, s in took.items() if s > 10}
        tails = "\n".join(
            f"--- {name} log:\n" + Path(state.services[name].log_path).read_text(errors="replace")[-4000:]
            for name in slow
        )
        assert not slow, f"services that took over 10 s to stop with {outage} down: {slow}\n{tails}"
        for name in SERVICES:  # a clean stop: its last words logged, no exception on the way out
            log = Path(state.services[name].log_path).read_text(errors="replace")
            assert f"{name} stopped" in log, f"{name}:\n{log[-3000:]}"
            # kafka-python's producer destructor may repeat the flush that close() gave up on, and
            # the interpreter prints that as "Exception ignored in ... __del__" at exit: not ours
            escaped = log.count("Traceback") - log.count(
                "Exception ignored in: <function KafkaProducer.__del__"
            )
            assert escaped == 0, f"{name}:\n{log[-3000:]}"
    finally:
        stack.cli("down")
