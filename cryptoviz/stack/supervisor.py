"""Keeps the local stack's services running, as compose's `restart: unless-stopped` does.

`cryptoviz up` starts it last (`python -m cryptoviz.stack.supervisor DATA_DIR`); `cryptoviz down` stops it
first. Once a second it looks at every service in `stack.json`: one that exited is started again
after a backoff (1 s, doubling, at most 60 s; a run that lasted 60 s resets it). Each restart is
recorded with the service (`restarts`, `restart_times`, the last error line of its log), three
within five minutes are a crash loop, and the supervisor's heartbeat says so on the status page. A
service that `cryptoviz restart` holds is left alone.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptoviz import clients, logs, metrics, servers
from cryptoviz.contracts.stack_state import ServiceEntry, StackState
from cryptoviz.retry import Backoff
from cryptoviz.service import Stop
from cryptoviz.stack.probes import CRASH_LOOP_WINDOW_S, in_crash_loop
from cryptoviz.telemetry import Telemetry

log = logs.get("supervisor")

BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 60.0
STABLE_AFTER_S = 60.0  # a run this long means the service recovered: the backoff starts over
ERROR_WORDS = ("error", "exception", "traceback", "invalid", "failed", "fatal")


_BACKOFF = Backoff(BACKOFF_BASE_S, BACKOFF_CAP_S)


def backoff_s(failures: int) -> float:
    """Deterministic (no jitter): one supervisor, nothing to spread out."""
    return _BACKOFF.ceiling(failures)


def last_error_line(log_path: str | None, max_bytes: int = 64 * 1024) -> str | None:
    """The last line of a log that reads like an error (else its last line), at most 300 characters."""
    if not log_path or not Path(log_path).exists():
        return None
    with open(log_path, "rb") as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - max_bytes))
        lines = [ln.strip() for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    if not lines:
        return None
    errors = [ln for ln in lines if any(w in ln.lower() for w in ERROR_WORDS)]
    return (errors or lines)[-1][:300]


class StackLike(Protocol):
    """What the supervisor needs of cryptoviz.stack.Stack (and a test double provides)."""

    def edit(self) -> AbstractContextManager[StackState]: ...

    def start_service(self, name: str, state: StackState) -> None: ...


@dataclass
class Watch:
    """The supervisor's view of one service between ticks."""

    started: float  # monotonic time of the run being watched
    failures: int = 0  # consecutive runs that ended before STABLE_AFTER_S
    due: float | None = None  # when it is started again, once found exited


class Supervisor:
    def __init__(
        self,
        stack: StackLike,
        alive: Callable[[int], bool] = servers.pid_alive,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.stack = stack
        self.alive = alive
        self.clock = clock
        self.wall = wall
        self.watches: dict[str, Watch] = {}

    def tick(self) -> list[str]:
        """One look at every service; returns the names started again."""
        started = []
        with self.stack.edit() as state:
            for name, info in list(state.services.items()):
                if self._check(name, info, state):
                    started.append(name)
        return started

    def _check(self, name: str, info: ServiceEntry, state: StackState) -> bool:
        now = self.clock()
        watch = self.watches.setdefault(name, Watch(started=now))
        if info.held:  # `cryptoviz restart` is at it
            watch.due = None
            return False
        if self.alive(info.pid):
            watch.due = None
            if watch.failures and now - watch.started >= STABLE_AFTER_S:
                watch.failures = 0
            return False
        if watch.due is None:  # found exited: record it, start again after the backoff
            watch.failures += 1
            watch.due = now + backoff_s(watch.failures)
            info.last_error = last_error_line(info.log_path)
            info.last_exit_ts = self.wall()
            log.warning(
                "service_exited",
                service=name,
                pid=info.pid,
                restart_in_s=round(watch.due - now, 1),
                last_error=info.last_error,
            )
            return False
        if now < watch.due:
            return False
        self.stack.start_service(name, state)
        info = state.services[name]
        info.restarts += 1
        wall = self.wall()
        info.restart_times = [t for t in info.restart_times if wall - t <= CRASH_LOOP_WINDOW_S]
        info.restart_times.append(wall)
        watch.due, watch.started = None, now
        log.info("service_restarted", service=name, pid=info.pid, restarts=info.restarts)
        return True

    def report(self, state: StackState, telemetry: Telemetry) -> None:
        """The heartbeat: restarts per service, and which services are in a crash loop."""
        now = self.wall()
        looping = []
        for name, info in state.services.items():
            telemetry.counters[f"restarts.{name}"] = info.restarts
            if in_crash_loop(info.restart_times, now):
                looping.append(name)
                telemetry.gauge(f"last_error.{name}", info.last_error)
        telemetry.state = f"crash loop: {', '.join(looping)}" if looping else "supervising"


def run(data_dir: Path, stop: Stop) -> int:
    from cryptoviz.stack import Stack

    stack = Stack(data_dir)
    supervisor = Supervisor(stack)
    telemetry = Telemetry("supervisor", clients.redis_client(socket_timeout=2), 2.0)
    metrics.start(telemetry)
    log.info("started", data_dir=str(data_dir))
    while not stop:
        supervisor.tick()
        supervisor.report(stack.read_state(), telemetry)
        telemetry.maybe_publish()
        stop.wait(1.0)
    telemetry.publish("stopped")
    log.info("stopped", signal=stop.signal)
    return 0


def _main(stop: Stop) -> int:
    if len(sys.argv) != 2:
        print("usage: python -m cryptoviz.stack.supervisor DATA_DIR", file=sys.stderr)
        return 2
    return run(Path(sys.argv[1]), stop)


if __name__ == "__main__":
    from cryptoviz.service import run as run_service

    run_service("supervisor", _main)
